"""Loading a data set folder: find the files, read them, coerce, validate, cache.

Reading is done in three steps, so that every problem is reported at once:

1. *read* each file as text (CSV in UTF-8, UTF-8 with BOM or GB18030; Excel; Parquet),
   keeping the row number a person would see for every record;
2. *coerce* each column to its canonical dtype (:mod:`telesales_lab.data.schema`), noting
   the values that do not parse;
3. *validate* the typed frames with pandera: vocabularies, ranges, empty cells,
   duplicate ids and references between tables.

A valid data set is cached as typed Arrow IPC files (uncompressed, read through a memory
map: 0.07 s of CPU for a million calls, against 0.3-0.5 s for Parquet, and every report kernel
reads it), keyed on the input files' names, sizes and modification times, so later steps
(other notebooks, other commands) do not parse the CSV files again.

A CSV file is first tried on a *fast path* (:func:`read_csv_typed`): one multithreaded
Arrow read straight into the canonical types, then the same pandera schema. A valid file
(the usual case) is done there, several times faster than the three steps above. A file
the fast path cannot parse (a value that does not parse, an unusual encoding or layout)
or that the schema refuses goes down the three steps, which alone write problem reports
with row numbers, so every message is exactly the same either way and the pandera schema
is the one authority on the rules.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import itertools
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from telesales_lab import __version__
from telesales_lab.config import cache_dir
from telesales_lab.data.cache import Cache
from telesales_lab.exceptions import DataValidationError, ParameterError, Problem
from telesales_lab.data.schema import (FALSE_WORDS, REQUIRED_TABLES, TABLE_ORDER, TABLES, TRUE_WORDS, frame_checks,
                                       primary_key, table_schema)

SUFFIXES = (".csv", ".parquet", ".xlsx")
MAX_ROWS_SHOWN = 5
_CACHE_FORMAT = 5  # 2: transcripts masked before caching; 3: the outcome vocabulary gained "service";
# 4: Arrow IPC files instead of Parquet; 5: with each category column's levels
#: Try :func:`read_csv_typed` first for CSV files (False: always the full path; for
#: comparisons and benchmarks).
FAST_PATH = True


_VERSIONS = itertools.count(1)


class Dataset:
    """A loaded, validated data set: one typed DataFrame per table. It cannot change.

    ``data.calls`` (or ``data.tables["calls"]``) gives a lazy copy of the table (pandas
    Copy-on-Write: nothing is copied until it is written to, and then only that copy
    changes), so editing what you got never changes the data set or what was computed from
    it. To change a table, make a new data set: ``data.replace(orders=frame)``.

    Parameters
    ----------
    source : Path
        The folder it was loaded from.
    tables : dict of str to DataFrame
        Canonical tables; optional tables that were absent are missing from the dict.
    files : dict of str to str, optional
        The file (or ``workbook.xlsx[sheet]``) each table came from.

    Attributes
    ----------
    source : Path
    tables : mapping of str to DataFrame
        Read-only; each lookup gives a lazy copy.
    files : mapping of str to str
        Read-only.
    cache : telesales_lab.data.cache.Cache
        Results computed from this data set, keyed on the tables (and their versions),
        month and policy sections they depend on.
    """

    __slots__ = ("source", "files", "cache", "_tables", "_versions")

    def __init__(self, source: Path, tables: dict[str, pd.DataFrame], files: dict[str, str] | None = None):
        # a lazy copy of each frame: the caller's own object may still be edited
        self._init(source, {t: f.copy(deep=False) for t, f in tables.items()},
                   {t: next(_VERSIONS) for t in tables}, files or {}, Cache())

    def _init(self, source, tables, versions, files, cache) -> None:
        for name, value in (("source", source), ("_tables", tables), ("_versions", versions),
                            ("files", MappingProxyType(dict(files))), ("cache", cache)):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> pd.DataFrame:
        try:
            tables = object.__getattribute__(self, "_tables")
        except AttributeError:  # not initialised yet
            raise AttributeError(name) from None
        if name in tables:
            return self._table(name)
        if name in TABLES:
            raise AttributeError(f"data set {self.source} has no '{name}' table")
        raise AttributeError(name)

    def __setattr__(self, name: str, value) -> None:
        hint = f": data.replace({name}=frame) makes a new data set" if name in TABLES else ""
        raise AttributeError(f"a Dataset cannot change; cannot set '{name}'{hint}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Dataset cannot change; cannot delete '{name}'")

    def __reduce__(self):
        return (Dataset, (self.source, dict(self._tables), dict(self.files)))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t} {len(f):,}" for t, f in self._tables.items())
        return f"<Dataset {self.source}: {sizes}>"

    def _table(self, name: str) -> pd.DataFrame:
        self.cache.read(name)
        return self._tables[name].copy(deep=False)

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        """The tables by name (read-only; each lookup gives a lazy copy)."""
        return _Tables(self)

    def has(self, table: str) -> bool:
        """Whether the (optional) table is present."""
        self.cache.read(table)
        return table in self._tables

    def version(self, table: str) -> int | None:
        """A number identifying this table's contents (None: absent). A replaced table gets
        a new number; a table carried into a new data set keeps its number."""
        return self._versions.get(table)

    def replace(self, **tables: pd.DataFrame | None) -> Dataset:
        """A new data set with some tables replaced (None: drop an optional table).

        The other tables are shared (they cannot change) and keep their versions, so the
        new data set's cache starts with the results that read none of the replaced tables.
        The new frames are not validated again.

        Raises
        ------
        ParameterError
            A name that is not a table, or a required table set to None.
        """
        new, versions = dict(self._tables), dict(self._versions)
        for name, frame in tables.items():
            if name not in TABLES:
                raise ParameterError(f"replace({name}=...): '{name}' is not a table; tables are "
                                     f"{', '.join(TABLE_ORDER)}")
            if frame is None:
                if name in REQUIRED_TABLES:
                    raise ParameterError(f"replace({name}=None): '{name}' is a required table")
                new.pop(name, None)
                versions.pop(name, None)
            else:
                new[name] = frame.copy(deep=False)
                versions[name] = next(_VERSIONS)
        out = object.__new__(Dataset)
        out._init(self.source, new, versions, self.files, self.cache.carry_over(versions))
        return out


class _Tables(Mapping):
    """The read-only mapping ``Dataset.tables``."""

    __slots__ = ("_data",)

    def __init__(self, data: Dataset):
        self._data = data

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._data._tables:
            raise KeyError(name)
        return self._data._table(name)

    def __contains__(self, name) -> bool:
        return self._data.has(name)

    def __iter__(self):
        return iter(self._data._tables)

    def __len__(self) -> int:
        return len(self._data._tables)

    def __setitem__(self, name, value) -> None:
        raise TypeError(f"the tables of a data set are read-only: data.replace({name}=frame) makes a new data set")

    def __delitem__(self, name) -> None:
        raise TypeError(f"the tables of a data set are read-only: data.replace({name}=None) makes a new data set")


# ----------------------------------------------------------------------------- finding files
def _find_sources(data_dir: Path) -> tuple[dict[str, tuple[Path, str | None]], list[Problem]]:
    """Map each table to ``(path, sheet or None)``."""
    problems: list[Problem] = []
    found: dict[str, tuple[Path, str | None]] = {}
    for table in TABLE_ORDER:
        hits = [data_dir / f"{table}{s}" for s in SUFFIXES if (data_dir / f"{table}{s}").is_file()]
        if len(hits) > 1:
            problems.append(Problem(", ".join(p.name for p in hits), None,
                                    f"more than one file for table '{table}'; keep one"))
        if hits:
            found[table] = (hits[0], None)
    workbooks = [p for p in sorted(data_dir.glob("*.xlsx"))
                 if p.stem not in TABLES and not p.name.startswith("~$")]
    for book in workbooks:
        from openpyxl import load_workbook

        try:
            sheets = load_workbook(book, read_only=True).sheetnames
        except Exception as exc:  # openpyxl raises many types for a broken file
            problems.append(Problem(book.name, None, f"not a readable Excel workbook ({exc})"))
            continue
        for sheet in sheets:
            if sheet in TABLES and sheet not in found:
                found[sheet] = (book, sheet)
    for table in REQUIRED_TABLES:
        if table not in found:
            problems.append(Problem(f"{table}.csv|.parquet|.xlsx", None,
                                    f"required table '{table}' is missing from {data_dir}"))
    return found, problems


def _label(path: Path, sheet: str | None) -> str:
    return path.name if sheet is None else f"{path.name}[{sheet}]"


# ----------------------------------------------------------------------------- reading
def _decode(raw: bytes, label: str) -> tuple[str | None, Problem | None]:
    """Decode CSV bytes as UTF-8 (with or without BOM), else GB18030."""
    if raw.startswith(b"\xef\xbb\xbf"):
        encodings = ("utf-8-sig",)
    else:
        encodings = ("utf-8", "gb18030")
    first_error = None
    for enc in encodings:
        try:
            return raw.decode(enc), None
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
    line = raw.count(b"\n", 0, first_error.start) + 1
    return None, Problem(label, None,
                         f"undecodable bytes at line {line} (byte {first_error.start}): "
                         "save the file as UTF-8 or GB18030", rows=(line,), n_rows=1)


def read_csv_text(path: Path, label: str | None = None) -> tuple[pd.DataFrame | None, np.ndarray, list[Problem]]:
    """Read a CSV file with every column as text.

    Returns
    -------
    frame : DataFrame or None
        Text columns, empty cells as missing; None if the file cannot be read at all.
    rows : ndarray of int
        The line number of each record (header = line 1).
    problems : list of Problem
        Undecodable bytes, an empty or duplicated header, short or long rows.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    label = label or path.name
    text, problem = _decode(path.read_bytes(), label)
    if problem:
        return None, np.array([], dtype=np.int64), [problem]
    if "\n" not in text and "\r" in text:
        # Excel's "CSV (Macintosh)" ends lines with a bare CR
        text = text.replace("\r", "\n")
    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(first)), [])]
    except csv.Error as exc:
        return None, np.array([], dtype=np.int64), [
            Problem(label, None, f"the header row cannot be read as CSV ({exc})", rows=(1,), n_rows=1)]
    if not header or all(h == "" for h in header):
        return None, np.array([], dtype=np.int64), [Problem(label, None, "the file has no header row")]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        return None, np.array([], dtype=np.int64), [
            Problem(label, d, "column name appears more than once in the header") for d in dupes]
    data = text.encode("utf-8")

    def read(threads: bool):
        bad: list[tuple[int | None, int, int, str]] = []

        def on_bad(row):
            bad.append((row.number, row.expected_columns, row.actual_columns, row.text))
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=threads, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_bad, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        return table, bad

    try:
        table, bad = read(threads=True)
        if bad and any(b[0] is None for b in bad):
            table, bad = read(threads=False)  # only the single-threaded reader knows line numbers
    except pa.ArrowInvalid as exc:
        return None, np.array([], dtype=np.int64), [Problem(label, None, f"unreadable CSV: {exc}")]
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    n_lines = len(frame) + len(bad) + 1
    bad_lines = np.array([b[0] for b in bad if b[0] is not None], dtype=np.int64)
    # the line numbers 2..n_lines without the skipped ones (a mask: setdiff1d would hash them all)
    keep = np.ones(n_lines - 1, dtype=bool)
    keep[bad_lines[(bad_lines >= 2) & (bad_lines <= n_lines)] - 2] = False
    rows = np.arange(2, n_lines + 1, dtype=np.int64)[keep][: len(frame)]
    problems = []
    short = [b for b in bad if b[2] < b[1]]
    long = [b for b in bad if b[2] > b[1]]
    for kind, group in (("fewer", short), ("more", long)):
        if group:
            lines = tuple(int(b[0]) for b in group[:MAX_ROWS_SHOWN] if b[0] is not None)
            problems.append(Problem(
                label, None,
                f"row has {kind} fields than the header's {len(header)} (short, garbled or unquoted comma)",
                rows=lines, n_rows=len(group), examples=tuple(b[3][:40] for b in group[:2])))
    return frame, rows, problems


def _read_table(path: Path, sheet: str | None) -> tuple[pd.DataFrame | None, np.ndarray, list[Problem]]:
    label = _label(path, sheet)
    if path.suffix == ".csv":
        return read_csv_text(path, label)
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            rows = np.arange(1, len(frame) + 1)
        else:
            frame = pd.read_excel(path, sheet_name=sheet or 0, dtype=object, engine="openpyxl")
            rows = np.arange(2, len(frame) + 2)
    except Exception as exc:  # pyarrow/openpyxl raise many types for a broken file
        return None, np.array([], dtype=np.int64), [Problem(label, None, f"unreadable file: {exc}")]
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True), rows, []


# ----------------------------------------------------------------------------- fast path
_HEADER_PROBE = 1 << 16


def _csv_header(head: bytes) -> list[str] | None:
    """The stripped header of a UTF-8 CSV file, or None if the fast path should not try it."""
    head = head[:_HEADER_PROBE]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if b"\n" not in head:
        return None  # empty, header only without a newline, or an enormous header
    try:
        first = head.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(first)), [])]
    except csv.Error:
        return None
    if not header or any(h == "" for h in header) or len(set(header)) != len(header):
        return None
    return header


def _arrow_type(kind: str):
    import pyarrow as pa

    return {
        "id": pa.string(), "text": pa.string(), "category": pa.string(),
        "date": pa.timestamp("ns"), "datetime": pa.timestamp("ns"),
        "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
    }[kind]


def _spellings(words) -> list[str]:
    return sorted({v for w in words for v in (w, w.upper(), w.capitalize())})


def _clean_text(column):
    """Strip and blank-to-missing, with the kernels pandas' ``.str.strip()`` uses."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)


def _category_codes(column, categories: tuple[str, ...]) -> np.ndarray | None:
    """int8 codes into ``categories`` (-1 for missing), or None if a value is not one of them.

    Values are compared stripped and lower-cased, as :func:`coerce_table` does; the work is
    done on each chunk's dictionary of distinct values, not on every row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    vocab = pa.array(list(categories), type=pa.string())
    parts = []
    for chunk in column.chunks:
        encoded = pc.dictionary_encode(chunk) if not pa.types.is_dictionary(chunk.type) else chunk
        words = pc.utf8_lower(_clean_text(encoded.dictionary))
        lookup = pc.index_in(words, value_set=vocab)
        if pc.sum(pc.and_(words.is_valid(), lookup.is_null())).as_py():
            return None  # an unknown value: let the full path name it
        codes = pc.take(lookup.fill_null(-1), encoded.indices).fill_null(-1)
        parts.append(codes.to_numpy(zero_copy_only=False))
    return np.concatenate(parts).astype(np.int8) if parts else np.array([], dtype=np.int8)


def _parsed_like_full_path(column) -> bool:
    """Whether Arrow's parse agrees with :func:`coerce_table`: Arrow reads the text "nan"
    as a number, the full path calls it "not a number"."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return not (pa.types.is_floating(column.type) and pc.sum(pc.is_nan(column)).as_py())


def read_csv_typed(table: str, path: Path) -> pd.DataFrame | None:
    """The fast path: read a CSV file straight into the canonical types.

    One multithreaded Arrow read with the canonical type of each column (timestamps,
    numbers, booleans from :data:`~telesales_lab.data.schema.TRUE_WORDS` /
    :data:`~telesales_lab.data.schema.FALSE_WORDS`, text), ids and text stripped, category
    columns coded into their vocabulary. The rules (empty cells, bounds, uniqueness,
    references) are then checked by the same pandera schema as on the full path.

    Parameters
    ----------
    table : str
        A key of :data:`telesales_lab.data.schema.TABLES`.
    path : Path
        The ``.csv`` file.

    Returns
    -------
    DataFrame or None
        The table exactly as the full path (read as text, :func:`coerce_table`, category
        casts) types it; None when the file is not UTF-8, its header is unusual, a value
        does not parse or a category value is not in the vocabulary. The caller then
        takes the full path, which reports each problem with file, column, rows and rule.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    specs = TABLES[table]
    raw = path.read_bytes()
    if b"\r" in raw and b"\n" not in raw:
        return None  # bare CR line ends: the full path reads them
    header = _csv_header(raw)
    if header is None or any(name not in header for name, spec in specs.items() if spec.required):
        return None
    types = {h: (_arrow_type(specs[h].kind) if h in specs else pa.string()) for h in header}
    try:
        read = pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            # without a quote there is no line break inside a value, and Arrow can cut the
            # file into blocks at any line break: about twice as fast
            parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in raw),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, null_values=[""],
                true_values=_spellings(TRUE_WORDS), false_values=_spellings(FALSE_WORDS),
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # a value that does not parse, a short row, bytes that are not UTF-8 ...
    n = read.num_rows
    out: dict[str, pd.Series] = {}
    for name, spec in specs.items():
        if name not in header:  # an optional column, added empty as the full path does
            if spec.kind == "category":
                out[name] = pd.Series(pd.Categorical.from_codes(np.full(n, -1, np.int8), dtype=spec.dtype))
            else:
                out[name] = pd.Series(pd.array([pd.NA] * n, dtype=_empty_dtype(spec)))
            continue
        column = read.column(name)
        if spec.kind == "category":
            codes = _category_codes(column, spec.categories)
            if codes is None:
                return None
            out[name] = pd.Series(pd.Categorical.from_codes(codes, dtype=spec.dtype))
            continue
        if spec.kind in ("id", "text"):
            column = _clean_text(column)
        if not _parsed_like_full_path(column):
            return None
        out[name] = pd.Series(_to_pandas(column, spec.kind), copy=False)
    for name in header:
        if name not in specs:
            out[name] = pd.Series(_to_pandas(read.column(name), "text"), copy=False)
    return pd.DataFrame(out)


def _to_pandas(column, kind: str):
    import pyarrow as pa

    if kind in ("id", "text"):
        return pd.array(column, dtype=pd.StringDtype())
    if kind == "int":
        return pd.array(column, dtype="Int64")
    if kind == "bool":
        return pd.array(column, dtype="boolean")
    if kind in ("date", "datetime"):
        return column.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]")
    return column.to_numpy()





# ----------------------------------------------------------------------------- coercion
def _as_text(s: pd.Series) -> pd.Series:
    """Text view of a raw column; empty and blank cells become missing."""
    if pd.api.types.is_float_dtype(s) and s.dropna().mod(1).eq(0).all():
        s = s.astype("Int64")  # Excel and Parquet ids like 1001.0 read back as 1001
    out = s.astype("string").str.strip()
    return out.mask(out == "")


#: A date in the text: 2026-10-01, 2026/10/1, 10/01/2026, 01.10.2026, 20261001, 2026年10月1日.
#: A bare time (10:00:00) has none, and pandas would give it today's date.
_HAS_DATE = r"\d{1,4}\s*[-/.年]\s*\d{1,2}|\d{8}"


def _parse_datetime(text: pd.Series) -> pd.Series:
    # utc=True: times with a zone offset become UTC (as before), and a column mixing offsets
    # and plain times no longer stops pandas ("Mixed timezones detected")
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    retry = parsed.isna() & text.notna()
    if retry.any():  # e.g. 2026/10/01 or 10/01/2026 09:30 from a spreadsheet
        parsed = parsed.copy()
        parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=True)
    parsed = parsed.dt.tz_convert(None)
    dated = text.str.contains(_HAS_DATE, regex=True).fillna(False).to_numpy(bool)
    if not dated.all():
        parsed = parsed.where(dated)
    # a year outside 1677-2262 does not fit the canonical datetime64[ns]: not a valid date
    outside = parsed.notna() & ((parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max))
    return parsed.mask(outside).astype("datetime64[ns]")


def _coerce_column(raw: pd.Series, kind: str) -> tuple[pd.Series, pd.Series, str]:
    """Return (typed column, mask of unparseable values, rule text)."""
    if kind in ("date", "datetime") and pd.api.types.is_datetime64_any_dtype(raw):
        out = raw.dt.tz_convert(None) if getattr(raw.dt, "tz", None) is not None else raw
        return out.astype("datetime64[ns]"), pd.Series(False, index=raw.index), ""
    text = _as_text(raw)
    present = text.notna()
    if kind in ("id", "text"):
        return text, pd.Series(False, index=raw.index), ""
    if kind == "category":
        return text.str.lower(), pd.Series(False, index=raw.index), ""
    if kind in ("date", "datetime"):
        typed = _parse_datetime(text)
        what = "date (YYYY-MM-DD)" if kind == "date" else "date and time (YYYY-MM-DD HH:MM:SS)"
        return typed, present & typed.isna(), f"not a valid {what}"
    if kind in ("int", "float"):
        typed = pd.to_numeric(text, errors="coerce")
        bad = present & typed.isna()
        if kind == "int":
            fractional = typed.notna() & (typed % 1 != 0)
            return typed.where(~fractional).astype("Int64"), bad | fractional, "not a whole number"
        typed = typed.astype("float64")
        infinite = np.isinf(typed.to_numpy())  # 1e400 and "inf" parse as infinity
        if infinite.any():
            return typed.mask(infinite), bad | infinite, "not a finite number"
        return typed, bad, "not a number"
    if kind == "bool":
        low = text.str.lower()
        typed = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        typed[low.isin(TRUE_WORDS).fillna(False).to_numpy(bool)] = True
        typed[low.isin(FALSE_WORDS).fillna(False).to_numpy(bool)] = False
        return typed, present & typed.isna(), "not true/false"
    raise ValueError(f"unknown column kind {kind!r}")


def _rows_of(rows: np.ndarray, positions) -> tuple[tuple[int, ...], int]:
    pos = np.asarray(sorted(set(int(p) for p in positions)), dtype=np.int64)
    return tuple(int(r) for r in rows[pos[:MAX_ROWS_SHOWN]]), len(pos)


def coerce_table(table: str, frame: pd.DataFrame, rows: np.ndarray, label: str
                 ) -> tuple[pd.DataFrame, list[Problem], dict[str, np.ndarray]]:
    """Coerce a raw frame to the canonical dtypes of ``table``.

    Missing optional columns are added, empty; extra columns are kept as they are.
    Returns the typed frame, the parse problems, and per column the positions that
    failed to parse (so validation does not report them twice as empty).
    """
    problems: list[Problem] = []
    failed: dict[str, np.ndarray] = {}
    out = {}
    for name, spec in TABLES[table].items():
        if name not in frame.columns:
            if spec.required:
                continue  # pandera reports it
            out[name] = pd.Series(pd.array([pd.NA] * len(frame), dtype=_empty_dtype(spec)), index=frame.index)
            continue
        typed, bad, rule = _coerce_column(frame[name], spec.kind)
        out[name] = typed
        if bad.any():
            pos = np.flatnonzero(bad.to_numpy(bool))
            shown, n = _rows_of(rows, pos)
            examples = tuple(str(v) for v in pd.unique(frame[name].iloc[pos[:50]]))[:3]
            problems.append(Problem(label, name, rule, shown, n, examples))
            failed[name] = pos
    typed = pd.DataFrame(out, index=frame.index)
    extra = [c for c in frame.columns if c not in TABLES[table]]
    if extra:
        typed = pd.concat([typed, frame[extra]], axis=1)
    return typed, problems, failed


def _empty_dtype(spec):
    return "string" if spec.kind == "category" else spec.dtype


# ----------------------------------------------------------------------------- validation
_CHECK_RULES = {
    "column_in_dataframe": "required column is missing",
    "not_nullable": "must not be empty",
    "field_uniqueness": "duplicate id: each value must be unique",
}


def _schema_problems(exc, label: str, rows: np.ndarray, failed: dict[str, np.ndarray],
                     raw: pd.DataFrame) -> list[Problem]:
    cases = exc.failure_cases
    problems = []
    multi = {rule: columns for columns, rule, _ in frame_checks(exc.schema.name or "")}
    several = cases["check"].isin(list(multi)).to_numpy(bool)
    for check, group in cases[several].groupby("check", sort=False):  # one problem per row, not per column
        index = np.unique(pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).to_numpy())
        shown, n = _rows_of(rows, index) if len(index) else ((), 0)
        problems.append(Problem(label, multi[check], str(check), shown, n))
    cases = cases[~several]
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        column = None if pd.isna(column) else str(column)
        if check == "column_in_dataframe":
            column = str(group["failure_case"].iloc[0])
        rule = _CHECK_RULES.get(check, str(check))
        if rule.startswith("dtype("):
            continue  # a parse failure, already reported by coerce_table
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).to_numpy()
        if check == "not_nullable" and column in failed:
            index = np.setdiff1d(index, failed[column])
            if len(index) == 0:
                continue
        shown, n = _rows_of(rows, index) if len(index) else ((), 0)
        examples = ()
        if check not in ("not_nullable", "column_in_dataframe"):
            # show the values as written in the file, not as parsed (101, not 101.0)
            values = raw[column].iloc[index[:50]] if column in raw and len(index) else group["failure_case"]
            examples = tuple(str(v) for v in pd.unique(values.astype(str)))[:3]
        if rule.startswith("must be one of "):
            rule = "unknown value: " + rule
        problems.append(Problem(label, column, rule, shown, n, examples))
    return problems


def _validate(table: str, typed: pd.DataFrame, raw: pd.DataFrame, label: str, rows: np.ndarray,
              failed: dict[str, np.ndarray], parents: dict[str, pd.Series]) -> list[Problem]:
    import pandera.errors

    try:
        table_schema(table, parents).validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return _schema_problems(exc, label, rows, failed, raw)
    return []


def _finish(table: str, typed: pd.DataFrame) -> pd.DataFrame:
    """Cast validated category columns to their categorical dtypes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, spec in TABLES[table].items():
        if spec.kind == "category" and name in typed:
            # via Arrow: pandas' astype("category") on Arrow strings hashes in Python
            values = pa.array(typed[name].to_numpy(dtype=object, na_value=None), type=pa.string())
            codes = pc.index_in(values, value_set=pa.array(list(spec.categories)))
            codes = codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)
            typed[name] = pd.Categorical.from_codes(codes, dtype=spec.dtype)
    return typed.reset_index(drop=True)


def _passes_schema(table: str, typed: pd.DataFrame, parents: dict[str, pd.Series], key_col) -> bool:
    """Whether a fast-path table keeps every rule of the pandera schema.

    A table that does not is read again on the full path, which reports its problems
    with row numbers; so the schema is the one authority on the rules either way.
    """
    import pandera.errors

    if key_col:  # a table's own ids are known before its rows are checked (reps.manager_id)
        parents[f"{table}.{key_col}"] = typed[key_col]
    try:
        table_schema(table, parents).validate(typed, lazy=False)
    except (pandera.errors.SchemaError, pandera.errors.SchemaErrors):
        return False
    return True


def _add_parents(parents: dict[str, pd.Series], table: str, frame: pd.DataFrame) -> None:
    """Non-key columns other tables refer to (``targets.team`` names a ``reps.team``)."""
    for specs in TABLES.values():
        for spec in specs.values():
            ref = spec.references
            if ref and ref.startswith(f"{table}.") and ref not in parents:
                column = ref.split(".", 1)[1]
                if column in frame:
                    parents[ref] = frame[column].drop_duplicates()


# ----------------------------------------------------------------------------- cache
def _cache_key(sources: dict[str, tuple[Path, str | None]]) -> str:
    h = hashlib.sha256(f"{__version__}/{_CACHE_FORMAT}".encode())
    for table in sorted(sources):
        path, sheet = sources[table]
        st = path.stat()
        h.update(f"{table}|{path.resolve()}|{sheet}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _read_cache(key: str) -> dict | None:
    folder = cache_dir() / key
    meta = folder / "meta.json"
    if not meta.is_file():
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        tables = {t: _read_ipc(folder / f"{t}.arrow", info["categories"][t]) for t in info["tables"]}
    except Exception:  # a damaged cache is ignored and rebuilt
        return None
    return {"tables": tables, "files": info["files"]}


def _read_ipc(path: Path, categories: dict) -> pd.DataFrame:
    """A cached table, its category columns with the levels they were written with (Arrow
    keeps no levels for a column without values, such as a table with no rows)."""
    import pyarrow.feather as feather

    frame = feather.read_table(path, memory_map=True).to_pandas()
    for col, (levels, ordered) in categories.items():
        dtype = pd.CategoricalDtype(levels, ordered=ordered)
        if frame[col].dtype != dtype:
            frame[col] = pd.Categorical(frame[col], dtype=dtype)
    return frame


def _categories(frame: pd.DataFrame) -> dict:
    """Each category column's levels and order, for :func:`_read_ipc`."""
    return {col: [frame[col].cat.categories.tolist(), bool(frame[col].cat.ordered)]
            for col in frame.columns if isinstance(frame[col].dtype, pd.CategoricalDtype)}


def _write_cache(key: str, tables: dict[str, pd.DataFrame], files: dict[str, str]) -> None:
    root = cache_dir()
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        for t, frame in tables.items():
            frame.to_feather(tmp / f"{t}.arrow", compression="uncompressed")
        categories = {t: _categories(frame) for t, frame in tables.items()}
        (tmp / "meta.json").write_text(json.dumps({"tables": list(tables), "files": files, "categories": categories}),
                                       encoding="utf-8")
        os.replace(tmp, root / key) if not (root / key).exists() else shutil.rmtree(tmp)
    except (OSError, ValueError, TypeError, NotImplementedError):  # Arrow's errors derive from these
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)  # a cache that cannot be written only costs speed


# ----------------------------------------------------------------------------- public API
def load_dataset(data_dir: str | os.PathLike, *, cache: bool = True) -> Dataset:
    """Load, coerce and validate a data set folder.

    Parameters
    ----------
    data_dir : path
        Folder with one file per table (``.csv``, ``.parquet`` or ``.xlsx``), or a
        workbook with one sheet per table.
    cache : bool, default True
        Reuse (and write) the typed copy (Arrow IPC) of a data set already validated.

    Returns
    -------
    Dataset

    Raises
    ------
    DataValidationError
        Listing every problem found, one per file, column and rule.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataValidationError([Problem(str(data_dir), None, "data folder does not exist")])
    sources, problems = _find_sources(data_dir)
    key = _cache_key(sources) if not problems else None
    if cache and key:
        memo = (key, str(data_dir.resolve()), str(cache_dir()))
        if memo in _LOADED:
            _LOADED.move_to_end(memo)
            return _LOADED[memo]
        hit = _read_cache(key)
        if hit is not None:
            return _remember(memo, Dataset(data_dir, hit["tables"], hit["files"]))

    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    parents: dict[str, pd.Series] = {}
    for table in TABLE_ORDER:
        if table not in sources:
            continue
        path, sheet = sources[table]
        label = _label(path, sheet)
        files[table] = label
        key_col = primary_key(table)
        if FAST_PATH and path.suffix == ".csv":
            fast = read_csv_typed(table, path)
            if fast is not None and _passes_schema(table, fast, parents, key_col):
                tables[table] = fast
                _add_parents(parents, table, fast)
                continue
        frame, rows, read_problems = _read_table(path, sheet)
        problems += read_problems
        if frame is None:
            continue
        typed, coerce_problems, failed = coerce_table(table, frame, rows, label)
        if key_col and key_col in typed:  # before validation: reps.manager_id refers to reps
            parents[f"{table}.{key_col}"] = typed[key_col]
        table_problems = coerce_problems + _validate(table, typed, frame, label, rows, failed, parents)
        problems += table_problems
        if not (read_problems or table_problems):
            tables[table] = _finish(table, typed)
            _add_parents(parents, table, tables[table])
    if problems:
        raise DataValidationError(problems)
    _mask_transcripts(tables)
    if cache and key:
        _write_cache(key, tables, files)
        return _remember(memo, Dataset(data_dir, tables, files))
    return Dataset(data_dir, tables, files)


#: The data sets this process loaded, newest last (at most :data:`_LOADED_MAX`), keyed on their
#: files' names, sizes and times: loading an unchanged folder again gives the same immutable
#: :class:`Dataset`, with the results already computed on it (the report's notebooks share one
#: kernel and so one load). A changed file gives a new key and a fresh load.
_LOADED: OrderedDict = OrderedDict()
_LOADED_MAX = 2


def _remember(memo: tuple, data: Dataset) -> Dataset:
    _LOADED[memo] = data
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)
    return data


def _mask_transcripts(tables: dict[str, pd.DataFrame]) -> None:
    """Mask the customers' names and phone numbers in ``calls.transcript`` (in place).

    Done once, when the data set is loaded for analysis, so no analysis, page, workbook or
    cached copy ever holds them (:class:`telesales_lab.data.privacy.TranscriptMasker`).
    """
    calls, customers = tables.get("calls"), tables.get("customers")
    if calls is None or customers is None or "transcript" not in calls or not calls["transcript"].notna().any():
        return
    from telesales_lab.data.privacy import TranscriptMasker

    calls["transcript"] = TranscriptMasker(customers).mask(calls["transcript"])


def validate_dataset(data_dir: str | os.PathLike) -> list[Problem]:
    """Every problem in a data set folder, or an empty list when it is valid."""
    try:
        load_dataset(data_dir, cache=False)
    except DataValidationError as exc:
        return exc.problems
    return []


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table to ``.csv`` (UTF-8), ``.parquet`` or ``.xlsx``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False, encoding="utf-8")
        elif path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif path.suffix == ".xlsx":
            frame.to_excel(tmp, index=False, engine="openpyxl")
        else:
            raise ValueError(f"path suffix == {path.suffix!r}, must be one of {SUFFIXES}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
