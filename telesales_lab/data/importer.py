"""Importing dialer and CRM exports into a canonical data set through a TOML mapping.

A *mapping* says how one flat export (a CSV or Excel file per call, possibly split over
several files with the same columns) becomes the canonical tables of
:mod:`telesales_lab.data.schema`: which source column feeds which canonical column, how
source codes translate into the vocabularies (``成交`` → ``sale``), how dates are
written, which constants fill what the export lacks, and how ids are made where the
export has none. Reps, customers and scripts are built from the distinct ids of the
calls; orders from the calls that ended in a sale (when the mapping says where the
amounts are); feedback and assessments are written empty, with their headers.

The result is built in a temporary folder, loaded back with
:func:`telesales_lab.data.load.load_dataset` (so it is known to pass ``telesales-lab
validate``) and only then moved into place: a mistake writes nothing.

Every mistake in a mapping is a :class:`~telesales_lab.exceptions.MappingError` whose
message names the mapping key (``[calls.columns] outcome``), the source column and,
where rows are at fault, their line numbers and example values.

The mapping format is documented in the README ("Importing your own exports").
"""

from __future__ import annotations

import calendar
import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from telesales_lab import __version__
from telesales_lab.exceptions import DataValidationError, MappingError, ParameterError
from telesales_lab.data.schema import NAME_PLACEHOLDER, TABLES

#: Encodings a source file may be declared in.
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
#: Placeholder written to ``customers.phone`` when the export has no phone number:
#: obviously not a number, so nobody mistakes it for one.
PHONE_PLACEHOLDER = "N/A"
#: Written next to the imported tables; an existing folder is only replaced if it has one.
MANIFEST = "import_manifest.json"
#: Tables a mapping may describe (feedback and assessments are always written empty).
MAPPED_TABLES = ("calls", "reps", "customers", "scripts", "orders")
#: Tables built from the distinct ids of the calls: table -> id column.
DERIVED = {"reps": "rep_id", "customers": "customer_id", "scripts": "script_id"}
#: Order columns taken from the call that made the sale (not mappable).
_ORDER_FROM_CALL = ("customer_id", "rep_id", "call_id")

_SOURCE_KEYS = {
    "separator": "field separator, e.g. ',' or ';' or '\\t'",
    "encoding": "|".join(ENCODINGS),
    "quote": "quote character, e.g. '\"'",
    "sheet": "sheet name, for .xlsx sources",
    "missing": "list of cell values that mean 'empty', e.g. ['-', 'NULL']",
    "header_row": "line number of the header (1 = the first line); the lines above it are skipped",
    "skip_rows": "junk lines above the header to skip (header_row = skip_rows + 1)",
    "filter": "keep only some rows: { column = \"...\", keep = [...] } or { column = \"...\", drop = [...] }",
}
_KINDS = ("column", "constant", "id", "start", "month")
_MODIFIERS = {
    "column": ("column", "values", "default", "keep_unmapped", "format", "time", "time_format", "bands", "labels",
               "missing", "fallback", "year"),
    "constant": ("constant",),
    "id": ("id", "prefix"),
    "start": ("start", "end", "format"),
    "month": ("month", "year", "first_year", "day", "weekday", "time", "time_format"),
}
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_SHOWN = 5
_HASH_KEY = "telesales-lab-id"  # 16 characters: the SipHash key of generated ids

_MONTHS: dict[str, int] = {}
for _i in range(1, 13):
    for _name in (calendar.month_abbr[_i], calendar.month_name[_i]):
        _MONTHS[_name.lower()] = _i
    _MONTHS[str(_i)] = _i
    _MONTHS[f"{_i:02d}"] = _i
    _MONTHS[f"{_i}月"] = _i
    _MONTHS["一二三四五六七八九十"[_i - 1] + "月" if _i <= 10 else ("十一月", "十二月")[_i - 11]] = _i
_MONTHS["sept"] = 9
_WEEKDAYS: dict[str, int] = {}
for _i in range(7):
    _WEEKDAYS[calendar.day_abbr[_i].lower()] = _i
    _WEEKDAYS[calendar.day_name[_i].lower()] = _i
    _WEEKDAYS[str(_i + 1)] = _i  # ISO: 1 = Monday
    for _prefix in ("周", "星期", "礼拜"):
        _WEEKDAYS[_prefix + "一二三四五六日"[_i]] = _i
_WEEKDAYS.update({"星期天": 6, "周天": 6, "礼拜天": 6})



# ----------------------------------------------------------------------------- the source
@dataclass
class _Source:
    """The concatenated source rows as text, with where each row came from."""

    frame: pd.DataFrame          # string columns, empty cells missing
    files: np.ndarray            # file name of each row
    lines: np.ndarray            # line number of each row in its file (header = 1)

    def where(self, mask) -> str:
        """``"rows 5, 9 (+3 more) of export.csv"`` for the rows in ``mask``."""
        pos = np.flatnonzero(np.asarray(mask, dtype=bool))
        shown = pos[:_MAX_SHOWN]
        files = pd.unique(self.files[shown])
        if len(files) == 1:
            text = f"rows {', '.join(str(int(r)) for r in self.lines[shown])} of {files[0]}"
        else:
            text = "rows " + ", ".join(f"{self.files[p]}:{int(self.lines[p])}" for p in shown)
        if len(pos) > len(shown):
            text += f" (+{len(pos) - len(shown)} more)"
        return text


class _Context:
    """The mapping being applied: its file name (for messages) and parsed TOML."""

    def __init__(self, path: Path, doc: dict):
        self.path = path
        self.doc = doc

    def fail(self, key: str, message: str) -> MappingError:
        return MappingError(f"{self.path.name}: {key}: {message}")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _load_mapping(path: Path) -> _Context:
    if not path.is_file():
        raise MappingError(f"mapping file {path} does not exist")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path.name}: not a valid TOML file: {exc}") from None
    ctx = _Context(path, doc)
    sections = MAPPED_TABLES + ("targets",)
    for key in doc:
        if key != "source" and key not in sections:
            raise ctx.fail(f"[{key}]", "unknown section; the sections are [source], "
                           + ", ".join(f"[{t}]" for t in sections) + _suggest(key, ("source",) + sections))
    _check_targets_section(ctx)
    for key in doc.get("source", {}):
        if key not in _SOURCE_KEYS:
            raise ctx.fail(f"[source] {key}", f"unknown key; the keys are {', '.join(_SOURCE_KEYS)}"
                           + _suggest(key, _SOURCE_KEYS))
    if "calls" not in doc:
        raise ctx.fail("[calls]", "missing: the mapping must say how the calls are read")
    for table in MAPPED_TABLES:
        section = doc.get(table, {})
        if not isinstance(section, dict):
            raise ctx.fail(f"[{table}]", "must be a table of settings")
        allowed = ("columns", "extra") + (("outcome",) if table == "orders" else ()) + (
            ("not_people",) if table == "reps" else ())
        for key, value in section.items():
            if key not in allowed:
                raise ctx.fail(f"[{table}] {key}", f"unknown key; the keys are {', '.join(allowed)}"
                               + _suggest(key, allowed))
            if key in ("columns", "extra") and not isinstance(value, dict):
                raise ctx.fail(f"[{table}.{key}]", "must be a table of column = source")
        canonical = TABLES[table]
        for name in section.get("columns", {}):
            if name not in canonical:
                raise ctx.fail(f"[{table}.columns] {name}",
                               f"unknown column of {table}; its columns are {', '.join(canonical)}"
                               + _suggest(name, canonical)
                               + f" (put extra columns under [{table}.extra])")
        for name in section.get("extra", {}):
            if not _SNAKE.match(name):
                raise ctx.fail(f"[{table}.extra] {name}",
                               "extra column names must be snake_case (lower-case letters, digits, _)")
            if name in canonical:
                raise ctx.fail(f"[{table}.extra] {name}",
                               f"'{name}' is a canonical column of {table}: map it under [{table}.columns]")
    return ctx


_TARGETS_KEYS = ("columns",)


def _check_targets_section(ctx: _Context) -> None:
    """``[targets]``: how the columns of a separate targets export (``--targets FILE``) are read."""
    section = ctx.doc.get("targets")
    if section is None:
        return
    if not isinstance(section, dict):
        raise ctx.fail("[targets]", "must be a table of settings")
    for key in section:
        if key not in _TARGETS_KEYS:
            raise ctx.fail(f"[targets] {key}", f"unknown key; the keys are {', '.join(_TARGETS_KEYS)}"
                           + _suggest(key, _TARGETS_KEYS))
    columns = section.get("columns")
    if not isinstance(columns, dict):
        raise ctx.fail("[targets.columns]", "missing: map month, metric, target and rep_id or team")
    canonical = TABLES["targets"]
    for name in columns:
        if name not in canonical:
            raise ctx.fail(f"[targets.columns] {name}", f"unknown column of targets; its columns are "
                           f"{', '.join(canonical)}" + _suggest(name, canonical))
    for name in ("month", "metric", "target"):
        if name not in columns:
            raise ctx.fail(f"[targets.columns] {name}", f"missing: targets need a {name}")
    if "rep_id" not in columns and "team" not in columns:
        raise ctx.fail("[targets.columns]", "map rep_id, team or both (each row names one of them)")


def _build_targets(ctx: _Context, path: Path) -> pd.DataFrame:
    """The targets table from its own export, read through the mapping's [targets] section."""
    section = ctx.doc.get("targets")
    if section is None:
        raise ctx.fail("[targets]", f"missing: {path.name} was given as the targets export, but the mapping "
                       "does not say how to read it; add [targets.columns] (month, rep_id or team, metric, target)")
    if not path.is_file():
        raise ParameterError(f"targets file {path} does not exist")
    src = _read_sources([path], ctx, calls_export=False)
    out = {}
    for name, spec in section["columns"].items():
        key = f"[targets.columns] {name}"
        colspec = TABLES["targets"][name]
        values = _evaluate(spec, key, src, ctx, colspec.kind)
        if name == "month" and pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m").astype("string")  # e.g. format = "%Y年%m月"
        if colspec.kind == "category":
            _check_vocabulary(values, "targets", name, key, spec, src, ctx)
        out[name] = values
    frame = pd.DataFrame(out)
    return frame[[c for c in TABLES["targets"] if c in frame]].reset_index(drop=True)


def _header_row(ctx: _Context) -> int:
    """The 1-based line of the header: ``header_row``, or ``skip_rows + 1`` (default 1)."""
    src = ctx.doc.get("source", {})
    if "header_row" in src and "skip_rows" in src:
        raise ctx.fail("[source] header_row", "give header_row or skip_rows, not both")
    if "skip_rows" in src:
        value, key, low = src["skip_rows"], "skip_rows", 0
    else:
        value, key, low = src.get("header_row", 1), "header_row", 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ctx.fail(f"[source] {key}", f"{key} == {value!r}, must be a whole number >= {low}")
    return value + 1 if key == "skip_rows" else value


def _read_one(path: Path, ctx: _Context, header_line: int = 1) -> pd.DataFrame:
    src = ctx.doc.get("source", {})
    skip = header_line - 1
    if path.suffix.lower() == ".xlsx":
        try:
            frame = pd.read_excel(path, sheet_name=src.get("sheet", 0), dtype=str, engine="openpyxl",
                                  skiprows=skip)
        except Exception as exc:  # openpyxl raises many types for a broken file or a missing sheet
            raise ctx.fail("[source] sheet", f"cannot read {path.name}: {exc}") from None
        return frame
    encoding = src.get("encoding", "utf-8")
    if encoding not in ENCODINGS:
        raise ctx.fail("[source] encoding", f"encoding == {encoding!r}, must be one of {'|'.join(ENCODINGS)}")
    separator = src.get("separator", ",")
    quote = src.get("quote", '"')
    for key, value in (("separator", separator), ("quote", quote)):
        if not isinstance(value, str) or len(value) != 1:
            raise ctx.fail(f"[source] {key}", f"{key} == {value!r}, must be one character")
    try:
        return pd.read_csv(path, sep=separator, quotechar=quote, encoding=encoding, dtype=str,
                           keep_default_na=False, na_filter=False, skipinitialspace=False, skiprows=skip,
                           skip_blank_lines=False)
    except UnicodeDecodeError as exc:
        raw = path.read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = "gb18030" if encoding != "gb18030" else "utf-8"
        raise ctx.fail("[source] encoding",
                       f"{path.name} is not {encoding}: undecodable bytes at line {line}; "
                       f"try encoding = \"{hint}\"") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ctx.fail("[source] separator", f"cannot read {path.name} as CSV with "
                       f"separator {separator!r}: {exc}") from None


def _read_sources(paths: list[Path], ctx: _Context, calls_export: bool = True) -> _Source:
    """The source rows as text; ``header_row``/``skip_rows`` and the row filter apply to the
    calls export (``calls_export``), not to a separate targets export."""
    header_line = _header_row(ctx) if calls_export else 1
    if not paths:
        raise ParameterError("no SOURCE file given")
    frames, files, lines = [], [], []
    columns = None
    for path in paths:
        if not path.is_file():
            raise ParameterError(f"source file {path} does not exist")
        frame = _read_one(path, ctx, header_line)
        frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
        if columns is None:
            columns = list(frame.columns)
        elif set(frame.columns) != set(columns):
            missing = sorted(set(columns) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(columns))
            raise MappingError(f"{path.name}: its columns differ from {paths[0].name}'s "
                               f"(missing: {missing or 'none'}; extra: {extra or 'none'}); "
                               "import exports of one layout together")
        frames.append(frame[columns])
        files.append(np.full(len(frame), path.name, dtype=object))
        first = header_line + 1
        lines.append(np.arange(first, len(frame) + first, dtype=np.int64))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    missing_words = ctx.doc.get("source", {}).get("missing", [])
    if not isinstance(missing_words, list):
        raise ctx.fail("[source] missing", "must be a list of strings, e.g. ['-', 'NULL']")
    out = {}
    for col in frame.columns:
        s = frame[col].astype("string").str.strip()
        bad = (s == "") | s.isin([str(w) for w in missing_words])
        out[col] = s.mask(bad)
    text = pd.DataFrame(out, index=frame.index)
    files, lines = np.concatenate(files), np.concatenate(lines)
    # rows with every cell empty (a spreadsheet's blank line after each record) are no rows
    keep = text.notna().any(axis=1).to_numpy(bool).copy() if len(text.columns) else np.ones(len(text), bool)
    if calls_export:
        keep &= _filter_rows(text, files, lines, ctx)
    text = text[keep].reset_index(drop=True)
    return _Source(text, files[keep], lines[keep])


def _filter_rows(text: pd.DataFrame, files, lines, ctx: _Context) -> np.ndarray:
    """The ``[source] filter``: rows whose column value is (keep) or is not (drop) listed."""
    spec = ctx.doc.get("source", {}).get("filter")
    if spec is None:
        return np.ones(len(text), dtype=bool)
    key = "[source] filter"
    if not isinstance(spec, dict) or "column" not in spec or (("keep" in spec) == ("drop" in spec)) \
            or set(spec) - {"column", "keep", "drop"}:
        raise ctx.fail(key, "must be { column = \"...\", keep = [...] } or { column = \"...\", drop = [...] }")
    column = spec["column"]
    if column not in text.columns:
        raise ctx.fail(key, f"source column '{column}' is not in the source" + _suggest(column, text.columns))
    words = spec.get("keep", spec.get("drop"))
    if not isinstance(words, list) or not words:
        raise ctx.fail(key, "keep / drop must be a non-empty list of values, e.g. [\"已完成\"]")
    hit = text[column].isin([str(w).strip() for w in words]).fillna(False).to_numpy(bool)
    return hit if "keep" in spec else ~hit


# ----------------------------------------------------------------------------- column specs
def _normalise_spec(spec, key: str, ctx: _Context) -> dict:
    """A spec as a dict with exactly one kind key; unknown keys are errors."""
    if isinstance(spec, str):
        return {"column": spec}
    if not isinstance(spec, dict):
        raise ctx.fail(key, f"must be a source column name or a table such as "
                       f"{{ column = \"...\" }}, not {spec!r}")
    kinds = [k for k in _KINDS if k in spec]
    if len(kinds) != 1:
        raise ctx.fail(key, "give exactly one of " + ", ".join(f"'{k}'" for k in _KINDS)
                       + (f" (got {', '.join(kinds)})" if kinds else f" (got {', '.join(spec) or 'nothing'})"))
    kind = kinds[0]
    allowed = _MODIFIERS[kind]
    for k in spec:
        if k not in allowed:
            raise ctx.fail(key, f"unknown key '{k}' for a '{kind}' mapping; its keys are "
                           f"{', '.join(allowed)}" + _suggest(k, allowed))
    return spec


def _source_column(src: _Source, name, key: str, ctx: _Context, what: str = "column") -> pd.Series:
    if not isinstance(name, str):
        raise ctx.fail(key, f"{what} == {name!r}, must be the name of a source column")
    if name not in src.frame.columns:
        shown = ", ".join(list(src.frame.columns)[:30])
        raise ctx.fail(key, f"source column '{name}' is not in {src.files[0] if len(src.files) else 'the source'}"
                       + _suggest(name, src.frame.columns) + f" (its columns: {shown})")
    return src.frame[name]


def _examples(values: pd.Series, mask, n: int = 3) -> str:
    shown = pd.unique(values[np.asarray(mask, dtype=bool)].astype(str))[:n]
    return ", ".join(repr(v) for v in shown)


def _parse_dates(text: pd.Series, fmt: str | None, key: str, column: str, src: _Source,
                 ctx: _Context) -> pd.Series:
    if fmt is not None:
        if not isinstance(fmt, str):
            raise ctx.fail(key, f"format == {fmt!r}, must be a strftime pattern such as \"%Y-%m-%d\"")
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        retry = parsed.isna() & text.notna()
        if retry.any():
            parsed = parsed.copy()
            parsed[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce")
    bad = (parsed.isna() & text.notna()).to_numpy(bool)
    if bad.any():
        rule = f"does not match format {fmt!r}" if fmt else "is not a date (give its format, e.g. format = \"%Y/%m/%d\")"
        raise ctx.fail(key, f"source column '{column}' {rule} in {int(bad.sum())} row(s): "
                       f"{src.where(bad)}; e.g. {_examples(text, bad)}")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed.astype("datetime64[ns]")


def _map_values(text: pd.Series, spec: dict, key: str, column: str, src: _Source, ctx: _Context) -> pd.Series:
    values = spec["values"]
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ctx.fail(key, "values must be a table of source value = \"canonical value\"")
    table = {str(k).strip(): v.strip() for k, v in values.items()}
    mapped = text.map(table)
    unmapped = (mapped.isna() & text.notna()).to_numpy(bool)
    if unmapped.any():
        if "default" in spec:
            mapped = mapped.mask(unmapped, str(spec["default"]))
        elif spec.get("keep_unmapped", False):
            mapped = mapped.mask(unmapped, text)
        else:
            counts = text[unmapped].value_counts()
            shown = ", ".join(f"{v!r} ({n} rows)" for v, n in counts.head(_MAX_SHOWN).items())
            more = f" and {len(counts) - _MAX_SHOWN} more" if len(counts) > _MAX_SHOWN else ""
            raise ctx.fail(key, f"source column '{column}' has values with no entry in values: "
                           f"{shown}{more}, first at {src.where(unmapped)}; add them to values, or set "
                           "default = \"...\" or keep_unmapped = true")
    return mapped.astype("string").mask(mapped == "")


def _band_labels(edges: list, labels, key: str, ctx: _Context) -> list[str]:
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != len(edges) + 1:
            raise ctx.fail(key, f"labels must be a list of {len(edges) + 1} names (one more than bands)")
        return [str(x) for x in labels]
    from telesales_lab.data.bands import band_labels

    return band_labels(edges)


def _bands(text: pd.Series, spec: dict, key: str, column: str, src: _Source, ctx: _Context) -> pd.Series:
    edges = spec["bands"]
    if (not isinstance(edges, list) or not edges or not all(isinstance(e, (int, float)) for e in edges)
            or any(b <= a for a, b in zip(edges[:-1], edges[1:]))):
        raise ctx.fail(key, f"bands == {edges!r}, must be a list of increasing numbers (band edges)")
    labels = _band_labels(edges, spec.get("labels"), key, ctx)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = (numbers.isna() & text.notna()).to_numpy(bool)
    if bad.any():
        raise ctx.fail(key, f"source column '{column}' is not a number in {int(bad.sum())} row(s): "
                       f"{src.where(bad)}; e.g. {_examples(text, bad)}")
    # band i holds edges[i-1] <= value < edges[i]
    index = np.searchsorted(np.asarray(edges, dtype=float), numbers.to_numpy(float, na_value=np.nan), side="right")
    out = pd.Series(np.asarray(labels, dtype=object)[index], index=text.index).astype("string")
    return out.mask(numbers.isna())


def _lookup(text: pd.Series, words: dict[str, int], key: str, column: str, what: str,
            src: _Source, ctx: _Context) -> pd.Series:
    numbers = text.str.lower().map(words)
    bad = (numbers.isna() & text.notna()).to_numpy(bool)
    if bad.any():
        raise ctx.fail(key, f"source column '{column}' is not a {what} in {int(bad.sum())} row(s): "
                       f"{src.where(bad)}; e.g. {_examples(text, bad)}")
    empty = text.isna().to_numpy(bool)
    if empty.any():
        raise ctx.fail(key, f"source column '{column}' is empty in {int(empty.sum())} row(s): {src.where(empty)}")
    return numbers.astype("int64")


def _date_parts(spec: dict, key: str, src: _Source, ctx: _Context) -> pd.Series:
    """Dates from a month column plus a year (column, constant or row order) and a day."""
    month = _lookup(_source_column(src, spec["month"], key, ctx, "month"), _MONTHS, key,
                    spec["month"], "month (1-12, jan, January, 一月)", src, ctx)
    if ("year" in spec) == ("first_year" in spec):
        raise ctx.fail(key, "give either year (a source column or a number) or first_year "
                       "(infer the year from the row order)")
    if "first_year" in spec:
        first = spec["first_year"]
        if not isinstance(first, int):
            raise ctx.fail(key, f"first_year == {first!r}, must be a whole number such as 2008")
        # rows are in date order: each time the month goes back (dec -> mar), a year has passed
        wraps = (month.diff() < 0).astype("int64")
        year = first + wraps.cumsum()
    elif isinstance(spec["year"], int):
        year = pd.Series(spec["year"], index=src.frame.index, dtype="int64")
    else:
        text = _source_column(src, spec["year"], key, ctx, "year")
        year = _lookup(text, {str(y): y for y in range(1900, 2201)}, key, spec["year"], "year", src, ctx)
    if ("day" in spec) == ("weekday" in spec):
        raise ctx.fail(key, "give either day (a source column, or a number as placeholder) or weekday "
                       "(infer the day from the weekday sequence in row order)")
    if "day" in spec and isinstance(spec["day"], int):
        day = pd.Series(spec["day"], index=src.frame.index, dtype="int64")
    elif "day" in spec:
        text = _source_column(src, spec["day"], key, ctx, "day")
        day = _lookup(text, {str(d): d for d in range(1, 32)} | {f"{d:02d}": d for d in range(1, 10)},
                      key, spec["day"], "day of the month", src, ctx)
    else:
        weekday = _lookup(_source_column(src, spec["weekday"], key, ctx, "weekday"), _WEEKDAYS, key,
                          spec["weekday"], "weekday (mon, Monday, 周一, 1-7)", src, ctx)
        day = _walk_weekdays(year, month, weekday, spec["weekday"], key, src, ctx)
    days_in = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1})).dt.days_in_month
    bad = ((day > days_in) | (day < 1)).to_numpy(bool)
    if bad.any():
        raise ctx.fail(key, f"day is past the end of its month in {int(bad.sum())} row(s): {src.where(bad)}")
    dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}))
    if "time" in spec:
        text = _source_column(src, spec["time"], key, ctx, "time")
        clock = _parse_dates("2000-01-01 " + text, "%Y-%m-%d " + spec.get("time_format", "%H:%M:%S"),
                             key, spec["time"], src, ctx)
        dates = dates + (clock - pd.Timestamp("2000-01-01")).fillna(pd.Timedelta(0))
    return dates.astype("datetime64[ns]")


def _walk_weekdays(year: pd.Series, month: pd.Series, weekday: pd.Series, column: str, key: str,
                   src: _Source, ctx: _Context) -> pd.Series:
    """Day of the month from the weekday sequence of rows in date order.

    Consecutive rows with the same year, month and weekday are one day. The first day
    of a month is the month's first date on that weekday; each later day is the next
    date on its weekday after the day before it.
    """
    y, m, w = year.to_numpy(), month.to_numpy(), weekday.to_numpy()
    new_run = np.ones(len(y), dtype=bool)
    new_run[1:] = (y[1:] != y[:-1]) | (m[1:] != m[:-1]) | (w[1:] != w[:-1])
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ry, rm, rw = y[starts], m[starts], w[starts]
    new_month = np.ones(len(starts), dtype=bool)
    new_month[1:] = (ry[1:] != ry[:-1]) | (rm[1:] != rm[:-1])
    first_weekday = pd.to_datetime(pd.DataFrame({"year": ry, "month": rm, "day": 1})).dt.day_of_week.to_numpy()
    step = np.empty(len(starts), dtype=np.int64)
    step[new_month] = 1 + (rw[new_month] - first_weekday[new_month]) % 7
    prev_w = np.roll(rw, 1)
    step[~new_month] = (rw[~new_month] - prev_w[~new_month]) % 7  # 1..6: runs differ in weekday
    block = np.cumsum(new_month)
    run_day = pd.Series(step).groupby(block).cumsum().to_numpy()
    days_in = np.array([calendar.monthrange(int(a), int(b))[1] for a, b in zip(ry, rm)])
    over = run_day > days_in
    if over.any():
        rows = np.isin(run_id, np.flatnonzero(over))
        first = np.flatnonzero(over)[0]
        raise ctx.fail(key, f"the weekdays in source column '{column}' run past the end of "
                       f"{int(ry[first])}-{int(rm[first]):02d} ({src.where(rows)}): the rows are not in "
                       "date order, so the day cannot be inferred; give day instead")
    return pd.Series(run_day[run_id], index=year.index, dtype="int64")


def _hex16(values: np.ndarray) -> np.ndarray:
    """uint64 values as 16 lower-case hex digits each, without a Python loop per value."""
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = (values[:, None] >> shifts) & np.uint64(0xF)
    ascii_codes = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles.astype(np.intp)]
    return np.ascontiguousarray(ascii_codes).view("S16").ravel().astype(str)


def _hash_ids(src: _Source, columns, key: str, prefix: str, ctx: _Context) -> pd.Series:
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise ctx.fail(key, f"id == {columns!r}, must be \"row\" or a list of source column names")
    parts = pd.DataFrame({c: _source_column(src, c, key, ctx) for c in columns})
    hashed = pd.util.hash_pandas_object(parts.fillna("\x00"), index=False, hash_key=_HASH_KEY)
    text = pd.Series(_hex16(hashed.to_numpy(np.uint64)), index=parts.index, dtype="string")
    return (prefix + text).mask(parts.isna().all(axis=1))


def _evaluate(spec, key: str, src: _Source, ctx: _Context, kind: str = "text") -> pd.Series:
    """One output column (aligned with the source rows) from its mapping spec."""
    spec = _normalise_spec(spec, key, ctx)
    index = src.frame.index
    if "constant" in spec:
        value = spec["constant"]
        if kind in ("date", "datetime"):
            text = pd.Series(str(value), index=index, dtype="string")
            return _parse_dates(text, None, key, "(constant)", src, ctx)
        return pd.Series(str(value), index=index, dtype="string")
    if "id" in spec:
        prefix = spec.get("prefix", "")
        if not isinstance(prefix, str):
            raise ctx.fail(key, f"prefix == {prefix!r}, must be text")
        if spec["id"] == "row":
            return prefix + pd.Series(np.arange(1, len(index) + 1), index=index).astype("string")
        return _hash_ids(src, spec["id"], key, prefix, ctx)
    if "start" in spec:
        if "end" not in spec:
            raise ctx.fail(key, "a duration needs both start and end source columns")
        fmt = spec.get("format", "%H:%M:%S")
        start = _parse_dates(_source_column(src, spec["start"], key, ctx, "start"), fmt, key, spec["start"], src, ctx)
        end = _parse_dates(_source_column(src, spec["end"], key, ctx, "end"), fmt, key, spec["end"], src, ctx)
        seconds = (end - start).dt.total_seconds()
        if not any(c in fmt for c in ("%Y", "%y", "%d", "%m", "%j")):
            seconds = seconds.mask(seconds < 0, seconds + 86_400)  # times only: the call ran past midnight
        negative = (seconds < 0).to_numpy(bool)
        if negative.any():
            raise ctx.fail(key, f"end '{spec['end']}' is before start '{spec['start']}' in "
                           f"{int(negative.sum())} row(s): {src.where(negative)}")
        return seconds.astype("float64")
    if "month" in spec:
        return _date_parts(spec, key, src, ctx)
    column = spec["column"]
    text = _source_column(src, column, key, ctx)
    if "missing" in spec:  # this column's own markers of "empty" (e.g. customer_id "0")
        words = spec["missing"]
        if not isinstance(words, list) or not all(isinstance(w, (str, int, float)) for w in words):
            raise ctx.fail(key, f"missing == {words!r}, must be a list of values, e.g. [\"0\", \"-\"]")
        text = text.mask(text.isin([str(w).strip() for w in words]).fillna(False))
    if "fallback" in spec:  # where the column is empty, another mapping gives the value
        fallback = spec["fallback"]
        if isinstance(fallback, dict) and "fallback" in fallback:
            raise ctx.fail(key, "a fallback cannot have a fallback of its own")
        rest = {k: v for k, v in spec.items() if k != "fallback"}
        value = _evaluate(rest, key, src, ctx, kind)
        other = _evaluate(fallback, f"{key} fallback", src, ctx, kind)
        return value.where(value.notna(), other)
    if "year" in spec:  # month and day only: the year is an explicit placeholder
        year = spec["year"]
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
            raise ctx.fail(key, f"year == {year!r}, must be a whole number such as 2026 (the year the "
                           "month-day dates are placed in)")
        if "format" not in spec or any(c in str(spec["format"]) for c in ("%Y", "%y")):
            raise ctx.fail(key, "year goes with a format without a year, e.g. format = \"%m-%d\"")
        both = str(year) + "-" + text
        fmt = "%Y-" + spec["format"]
        if "time" in spec:
            clock = _source_column(src, spec["time"], key, ctx, "time")
            both, fmt = both + " " + clock, fmt + " " + spec.get("time_format", "%H:%M:%S")
        return _parse_dates(both, fmt, key, column, src, ctx)
    if "values" in spec:
        text = _map_values(text, spec, key, column, src, ctx)
    elif "default" in spec or "keep_unmapped" in spec:
        raise ctx.fail(key, "default and keep_unmapped only apply with values = { ... }")
    if "bands" in spec:
        return _bands(text, spec, key, column, src, ctx)
    if "time" in spec:
        clock = _source_column(src, spec["time"], key, ctx, "time")
        fmt = spec.get("format", "%Y-%m-%d") + " " + spec.get("time_format", "%H:%M:%S")
        both = text + " " + clock
        return _parse_dates(both, fmt, key, f"{column}' + '{spec['time']}", src, ctx)
    if kind in ("date", "datetime") or "format" in spec:
        return _parse_dates(text, spec.get("format"), key, column, src, ctx)
    if kind == "category":
        return text.str.lower()
    return text


# ----------------------------------------------------------------------------- tables
def _check_vocabulary(values: pd.Series, table: str, name: str, key: str, spec, src: _Source,
                      ctx: _Context, rows=None) -> None:
    """Values (aligned with the source rows) must be in the column's vocabulary.

    ``rows`` optionally limits the check to a boolean mask of source rows.
    """
    allowed = TABLES[table][name].categories
    bad = (values.notna() & ~values.isin(allowed)).to_numpy(bool)
    if rows is not None:
        bad = bad & rows
    if bad.any():
        spec = _normalise_spec(spec, key, ctx)
        what = next(f"{k} {spec[k]!r}" for k in _KINDS if k in spec)
        raise ctx.fail(key, f"{what} gives {_examples(values, bad)}, not one of {'|'.join(allowed)} "
                       f"({int(bad.sum())} row(s): {src.where(bad)}); map them with values = {{ ... }}")


def _check_required(values: pd.Series, table: str, name: str, key: str, spec, src: _Source,
                    ctx: _Context) -> None:
    colspec = TABLES[table][name]
    empty = values.isna().to_numpy(bool)
    if not colspec.nullable and empty.any():
        spec = _normalise_spec(spec, key, ctx)
        what = next(f"{k} {spec[k]!r}" for k in _KINDS if k in spec)
        raise ctx.fail(key, f"{name} must not be empty, but {what} gives no value in "
                       f"{int(empty.sum())} row(s): {src.where(empty)}")


def _build_calls(src: _Source, ctx: _Context) -> pd.DataFrame:
    section = ctx.doc["calls"]
    specs = dict(section.get("columns", {}))
    specs.setdefault("call_id", {"id": "row", "prefix": "C"})
    out = {}
    for name, colspec in TABLES["calls"].items():
        key = f"[calls.columns] {name}"
        if name not in specs:
            if colspec.required:
                raise ctx.fail(key, f"missing: calls need a {name} (a source column, or a constant)")
            continue
        values = _evaluate(specs[name], key, src, ctx, colspec.kind)
        if colspec.kind == "category":
            _check_vocabulary(values, "calls", name, key, specs[name], src, ctx)
        _check_required(values, "calls", name, key, specs[name], src, ctx)
        if colspec.unique:
            dup = values.duplicated(keep=False).to_numpy(bool)
            if dup.any():
                raise ctx.fail(key, f"{name} must be unique, but {int(dup.sum())} rows share a value "
                               f"({src.where(dup)}; e.g. {_examples(values, dup)}); use more columns "
                               "in id = [...] or id = \"row\"")
        out[name] = values
    for name, spec in section.get("extra", {}).items():
        out[name] = _evaluate(spec, f"[calls.extra] {name}", src, ctx)
    return pd.DataFrame(out, index=src.frame.index)


def _placeholders(table: str, ids: pd.Series, first_call: pd.Series) -> dict[str, pd.Series]:
    """Values for required columns a mapping leaves out (documented in the README)."""
    day = first_call.dt.normalize()
    return {
        "reps": {"name": ids, "team": pd.Series("unassigned", index=ids.index, dtype="string"),
                 "role": pd.Series("rep", index=ids.index, dtype="string"), "hired_on": day},
        "customers": {"name": pd.Series(NAME_PLACEHOLDER, index=ids.index, dtype="string"),
                      "phone": pd.Series(PHONE_PLACEHOLDER, index=ids.index, dtype="string"),
                      "acquired_on": day},
        "scripts": {"name": ids, "scenario": pd.Series("unknown", index=ids.index, dtype="string")},
    }[table]


def _build_derived(table: str, calls: pd.DataFrame, src: _Source, ctx: _Context) -> pd.DataFrame:
    """One row per distinct id of the calls; other columns from the id's first row that has them."""
    id_col = DERIVED[table]
    section = ctx.doc.get(table, {})
    specs = dict(section.get("columns", {}))
    if id_col in specs:
        raise ctx.fail(f"[{table}.columns] {id_col}", f"the {table} are the distinct values of "
                       f"[calls.columns] {id_col}; map {id_col} there")
    columns = {}
    for name, spec in specs.items():
        key = f"[{table}.columns] {name}"
        colspec = TABLES[table][name]
        columns[name] = _evaluate(spec, key, src, ctx, colspec.kind)
        if colspec.kind == "category":
            _check_vocabulary(columns[name], table, name, key, spec, src, ctx)
    for name, spec in section.get("extra", {}).items():
        columns[name] = _evaluate(spec, f"[{table}.extra] {name}", src, ctx)
    frame = pd.DataFrame({id_col: calls[id_col], "_first_call": calls["started_at"], **columns})
    grouped = frame.groupby(id_col, sort=False)
    firsts = grouped.first()  # first non-empty value of each column per id
    firsts["_first_call"] = grouped["_first_call"].min()
    ids = pd.Series(firsts.index, index=firsts.index, dtype="string")
    defaults = _placeholders(table, ids, firsts["_first_call"])
    out = {id_col: ids}
    for name, colspec in TABLES[table].items():
        if name == id_col:
            continue
        if name in firsts:
            values = firsts[name]
            out[name] = values.fillna(defaults[name]) if name in defaults else values
        elif name in defaults:
            out[name] = defaults[name]
    for name in section.get("extra", {}):
        out[name] = firsts[name]
    if table == "reps":
        out["is_person"] = pd.Series(~ids.isin(_not_people(ctx)).to_numpy(bool), index=ids.index, dtype="boolean")
    return pd.DataFrame(out).reset_index(drop=True)


def _not_people(ctx: _Context) -> list[str]:
    """Rep ids that are placeholders, not people: a constant rep_id (one rep standing for the
    whole centre), a fallback constant for calls without an agent, and ``[reps] not_people``."""
    out = []
    spec = ctx.doc["calls"].get("columns", {}).get("rep_id")
    if isinstance(spec, dict):
        if "constant" in spec:
            out.append(str(spec["constant"]))
        fallback = spec.get("fallback")
        if isinstance(fallback, dict) and "constant" in fallback:
            out.append(str(fallback["constant"]))
    listed = ctx.doc.get("reps", {}).get("not_people", [])
    if not isinstance(listed, list) or not all(isinstance(x, (str, int)) for x in listed):
        raise ctx.fail("[reps] not_people", f"not_people == {listed!r}, must be a list of rep ids, "
                       "e.g. [\"NO_SERVER\"]")
    return out + [str(x) for x in listed]


def _build_orders(calls: pd.DataFrame, src: _Source, ctx: _Context) -> pd.DataFrame:
    columns = list(TABLES["orders"])
    if "orders" not in ctx.doc:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    section = ctx.doc["orders"]
    outcome = section.get("outcome", "sale")
    if outcome not in TABLES["calls"]["outcome"].categories:
        raise ctx.fail("[orders] outcome", f"outcome == {outcome!r}, must be one of "
                       + "|".join(TABLES["calls"]["outcome"].categories))
    specs = dict(section.get("columns", {}))
    for name in _ORDER_FROM_CALL:
        if name in specs:
            raise ctx.fail(f"[orders.columns] {name}", f"an order's {name} is its call's; remove this key")
    specs.setdefault("status", {"constant": "signed"})
    is_sale = (calls["outcome"] == outcome).fillna(False).to_numpy(bool)
    out = {
        "order_id": "O" + calls["call_id"],
        "customer_id": calls["customer_id"],
        "rep_id": calls["rep_id"],
        "ordered_at": calls["started_at"],
        "call_id": calls["call_id"],
    }
    for name, colspec in TABLES["orders"].items():
        key = f"[orders.columns] {name}"
        if name in _ORDER_FROM_CALL:
            continue
        if name not in specs:
            if name in out:
                continue
            raise ctx.fail(key, f"missing: orders need a {name} (a source column, or a constant)")
        values = _evaluate(specs[name], key, src, ctx, colspec.kind)
        if colspec.kind == "category":
            _check_vocabulary(values, "orders", name, key, specs[name], src, ctx, is_sale)
        empty = values.isna().to_numpy(bool) & is_sale
        if not colspec.nullable and empty.any():
            raise ctx.fail(key, f"{name} is empty in {int(empty.sum())} of the {int(is_sale.sum())} "
                           f"{outcome} row(s): {src.where(empty)}")
        if colspec.kind in ("float", "int"):
            bad = (pd.to_numeric(values, errors="coerce").isna() & values.notna()).to_numpy(bool) & is_sale
            if bad.any():
                raise ctx.fail(key, f"not a number in {int(bad.sum())} {outcome} row(s): {src.where(bad)}; "
                               f"e.g. {_examples(values, bad)}")
        out[name] = values
    for name, spec in section.get("extra", {}).items():
        out[name] = _evaluate(spec, f"[orders.extra] {name}", src, ctx)
    frame = pd.DataFrame(out, index=calls.index)
    return frame.loc[is_sale, columns + list(section.get("extra", {}))].reset_index(drop=True)


def build_tables(sources, mapping_path, targets=None) -> dict[str, pd.DataFrame]:
    """Apply a mapping to source exports, in memory.

    Parameters
    ----------
    sources : list of path
        CSV (or ``.xlsx``) exports with one layout, read in the order given.
    mapping_path : path
        The TOML mapping.
    targets : path, optional
        A separate export of the sales targets, read through the mapping's ``[targets]``
        section (with the ``[source]`` settings).

    Returns
    -------
    dict of str to DataFrame
        The canonical tables ``reps``, ``customers``, ``scripts``, ``calls``,
        ``orders``, ``feedback`` and ``assessments`` (the last two, and orders when
        the mapping has no ``[orders]`` section, empty with their columns), plus the
        mapping's extra columns; ``targets`` too when a targets export is given. Not yet validated: :func:`import_sources` does that.

    Raises
    ------
    MappingError
        The mapping does not fit the sources; the message names the mapping key and
        the source column.
    """
    ctx = _load_mapping(Path(mapping_path))
    src = _read_sources([Path(s) for s in sources], ctx)
    if len(src.frame) == 0:
        raise MappingError(f"{', '.join(Path(s).name for s in sources)}: no rows to import")
    calls = _build_calls(src, ctx)
    tables = {t: _build_derived(t, calls, src, ctx) for t in DERIVED}
    tables["calls"] = calls.reset_index(drop=True)
    tables["orders"] = _build_orders(calls, src, ctx)
    for table in ("feedback", "assessments"):
        tables[table] = pd.DataFrame({c: pd.Series(dtype="string") for c in TABLES[table]})
    out = {t: tables[t] for t in ("reps", "customers", "scripts", "calls", "orders", "feedback", "assessments")}
    if targets is not None:
        out["targets"] = _build_targets(ctx, Path(targets))
    return out


# ----------------------------------------------------------------------------- writing
def _as_written(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Dates as ``YYYY-MM-DD``, date-times as ``YYYY-MM-DD HH:MM:SS``, numbers as they are."""
    out = frame.copy()
    for name in out.columns:
        kind = TABLES[table][name].kind if name in TABLES[table] else None
        if pd.api.types.is_datetime64_any_dtype(out[name]):
            fmt = "%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M:%S"
            out[name] = out[name].dt.strftime(fmt)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file, must be a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ParameterError(f"--out {out} already holds files that an import did not write "
                             f"(no {MANIFEST}); choose a new or empty folder")


def import_sources(sources, mapping_path, out_dir, targets=None) -> pd.DataFrame:
    """Import exports through a mapping into a validated data set folder.

    The tables are written as UTF-8 CSV files into a temporary folder beside
    ``out_dir``, loaded back with :func:`telesales_lab.data.load.load_dataset` and only then
    moved to ``out_dir`` (replacing an earlier import there). On any problem nothing
    is written.

    Parameters
    ----------
    sources : list of path
        Exports with one layout (CSV, or ``.xlsx``), concatenated in the order given.
    mapping_path : path
        TOML mapping (see the README, "Importing your own exports").
    out_dir : path
        Folder to write; it must be new, empty, or an earlier import (it holds an
        ``import_manifest.json``).
    targets : path, optional
        The sales targets export, read through the mapping's ``[targets]`` section.

    Returns
    -------
    DataFrame
        One row per table written: ``table``, ``rows``, ``file``.

    Raises
    ------
    MappingError
        The mapping does not fit the sources, or the mapped tables do not validate.
    ParameterError
        A source file is missing, or ``out_dir`` holds other files.
    """
    out = Path(out_dir)
    sources = [Path(s) for s in (sources if isinstance(sources, (list, tuple)) else [sources])]
    _check_out_dir(out)
    tables = build_tables(sources, mapping_path, targets)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.import-"))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the data folder should not be
    try:
        from telesales_lab.data.load import load_dataset, write_table

        for table, frame in tables.items():
            write_table(_as_written(frame, table), tmp / f"{table}.csv")
        try:
            load_dataset(tmp, cache=False)
        except DataValidationError as exc:
            raise MappingError(f"{Path(mapping_path).name}: the mapped tables do not validate; "
                               f"nothing was written. Check the mapping keys of these columns:\n"
                               + "\n".join(f"  {p}" for p in exc.problems)) from None
        summary = pd.DataFrame({
            "table": list(tables),
            "rows": [len(f) for f in tables.values()],
            "file": [str(out / f"{t}.csv") for t in tables],
        })
        manifest = {
            "telesales_lab_version": __version__,
            "mapping": str(Path(mapping_path).resolve()),
            "mapping_sha256": _sha256(Path(mapping_path)),
            "sources": [{"path": str(p.resolve()), "sha256": _sha256(p)} for p in sources],
            "rows": dict(zip(summary["table"], summary["rows"].astype(int).tolist())),
        }
        if targets is not None:
            manifest["targets_source"] = {"path": str(Path(targets).resolve()), "sha256": _sha256(Path(targets))}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _manifest_matches(out: Path, sources: list[Path], mapping: Path, targets: Path | None = None) -> bool:
    try:
        info = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    want_targets = _sha256(targets) if targets is not None else None
    return (info.get("telesales_lab_version") == __version__
            and (info.get("targets_source") or {}).get("sha256") == want_targets
            and info.get("mapping_sha256") == _sha256(mapping)
            and [s.get("sha256") for s in info.get("sources", [])] == [_sha256(p) for p in sources])


def import_or_skip(sources, mapping_path, out_dir, targets=None):
    """Import for a notebook: reuse an up-to-date import, or skip when a source is absent.

    Parameters
    ----------
    sources : path or list of path
    mapping_path : path
    out_dir, targets : path
        As for :func:`import_sources`. When ``out_dir`` already holds an import of the
        same sources (by SHA-256) through the same mapping, it is loaded as it is.

    Returns
    -------
    Dataset or None
        The imported data set, or None (after printing why) when a source file is
        absent, so that a notebook run where the data is not available ends cleanly:
        the functions of :mod:`telesales_lab.analysis.conversion` pass None through.
    """
    from telesales_lab.data.load import load_dataset

    sources = [Path(s) for s in (sources if isinstance(sources, (list, tuple)) else [sources])]
    absent = [str(p) for p in sources if not p.is_file()]
    if absent:
        print(f"Skipped: {', '.join(absent)} not found, so there is nothing to analyse here. "
              "Point the source parameter at the export (for the UCI Bank Marketing data, "
              "../shared/datasets/uci-bank-marketing/bank-additional-full.csv from the repository root).")
        return None
    out = Path(out_dir)
    targets = Path(targets) if targets is not None else None
    if not _manifest_matches(out, sources, Path(mapping_path), targets):
        import_sources(sources, mapping_path, out, targets)
    return load_dataset(out)
