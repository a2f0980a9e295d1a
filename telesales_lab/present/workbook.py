"""Writing DataFrames to one ``.xlsx`` workbook, a sheet each, column by column.

openpyxl (and XlsxWriter) build every cell as a Python object, some 10-80 µs a cell: a
workbook of a few 100k cells, as a month at call-centre scale gives, would take longer than
the notebooks. Here each sheet's XML is built with vectorised string operations on whole
columns (one string per cell, joined once), the same SpreadsheetML that openpyxl's
write-only mode produces: inline strings, numbers, booleans and date serials with a date
style; missing values are empty cells. The header row is bold and frozen, and column
widths fit the first rows.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

MAX_ROWS = 1_048_576
MAX_CHARS = 32_767
# The characters themselves, not escapes: Arrow's RE2 then runs it over whole columns.
# _has_illegal looks for the same characters in a column's UTF-8 bytes (keep the two alike:
# test_text_cells_match_the_value_by_value_reference compares them).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")
_NS_PER_DAY = 86_400 * 10**9

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# cellXfs: 0 normal, 1 bold header, 2 date and time, 3 date
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>'
)


def column_letter(index: int) -> str:
    """1 -> ``A``, 27 -> ``AA``."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _values(column: pd.Series):
    """``(text of each value as an Arrow array, null where missing; XML of the cell's start)``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    s = column
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(None)
    missing = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s):
        flags = pa.array(s.fillna(False).to_numpy(bool), mask=missing)
        return pc.if_else(flags, "1", "0"), '" t="b"><v>'
    if pd.api.types.is_datetime64_any_dtype(s):
        ns = s.to_numpy(dtype="datetime64[ns]")
        serial = (ns - _EPOCH).astype("timedelta64[ns]").astype(np.int64) / _NS_PER_DAY
        whole_days = (ns[~missing] - ns[~missing].astype("datetime64[D]")).astype(np.int64)
        style = "3" if len(whole_days) and not whole_days.any() else "2"
        return pc.cast(pa.array(serial, mask=missing), pa.string()), f'" s="{style}"><v>'
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
        if pd.api.types.is_float_dtype(s):
            numbers = s.to_numpy(dtype=float, na_value=np.nan)
            missing = missing | ~np.isfinite(numbers)
        else:
            numbers = s.to_numpy(dtype=np.int64, na_value=0) if missing.any() else s.to_numpy()
        # Arrow writes the shortest text that reads back to the same number (0.1, 1e+20)
        return pc.cast(pa.array(numbers, mask=missing), pa.string()), '"><v>'
    text = pa.array(s.astype("string[pyarrow]"))  # Arrow's own strings: no Python object per value
    if isinstance(text, pa.ChunkedArray):  # a column made by concatenating frames
        text = text.combine_chunks()
    if pa.types.is_large_string(text.type):
        text = text.cast(pa.string())
    # each step only where the column's UTF-8 holds what it changes (one pass of NumPy over the
    # bytes, instead of a regular expression and three replacements over every value)
    raw = np.frombuffer(_buffer_text(text), dtype=np.uint8)
    if _has_illegal(raw):
        text = pc.replace_substring_regex(text, _ILLEGAL.pattern, "")
    if len(text) and _longest(text) > MAX_CHARS:  # UTF-8 bytes >= characters
        text = pc.utf8_slice_codeunits(text, 0, MAX_CHARS)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        if (raw == ord(char)).any():
            text = pc.replace_substring(text, char, entity)
    return text, '" t="inlineStr"><is><t xml:space="preserve">'


def _has_illegal(raw: np.ndarray) -> bool:
    """Whether UTF-8 bytes ``raw`` hold a character of :data:`_ILLEGAL`: a control character
    other than tab, new line and carriage return, or U+FFFE / U+FFFF (EF BF BE / EF BF BF)."""
    if ((raw < 0x20) & (raw != 0x09) & (raw != 0x0A) & (raw != 0x0D)).any():
        return True
    lead = np.flatnonzero(raw[:-2] == 0xEF)
    return bool(len(lead) and ((raw[lead + 1] == 0xBF) & (raw[lead + 2] >= 0xBE)).any())


def _longest(strings) -> int:
    """The most UTF-8 bytes of a value of an Arrow string array (not empty)."""
    return int(np.diff(_offsets(strings)).max())


_CLOSE = {'" t="inlineStr"><is><t xml:space="preserve">': "</t></is></c>"}


def _display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _widths(frame: pd.DataFrame, sample: int = 200) -> list[float]:
    """Each column's width: its widest header or value among the first ``sample`` rows (as
    ``astype(str)`` writes them), a character from U+2E80 on (Chinese, full-width forms)
    counting twice."""
    head = frame.head(sample)
    cells = head.to_numpy(dtype=object)  # one conversion, not a Series per column
    present = head.notna().to_numpy()
    out = []
    for j, col in enumerate(frame.columns):
        dtype = head.dtypes.iloc[j]
        # dates without their midnight, and narrow floats as they are (float32's 0.1, not
        # the float64 0.10000000149011612 an object array would hold)
        if pd.api.types.is_datetime64_any_dtype(dtype) or (dtype.kind == "f" and dtype.itemsize < 8):
            shown = head.iloc[:, j].dropna().astype(str).tolist()
        else:
            shown = [str(v) for v in cells[present[:, j], j]]
        width = max([_display_width(str(col))] + [_display_width(v) for v in shown])
        out.append(float(min(60, max(8, width + 2))))
    return out


def _sheet_parts(frame: pd.DataFrame, columns: list | None = None):
    """The worksheet XML of one frame as byte strings to write one after the other: a bold
    frozen header, then one row per record (the rows straight from Arrow's string buffer,
    never as one Python string per row). ``columns``: :func:`_values` of each column, when
    already made."""
    n_rows, n_cols = frame.shape
    if n_rows > MAX_ROWS - 1:
        raise ValueError(f"frame has {n_rows:,} rows, more than a sheet's {MAX_ROWS - 1:,}")
    letters = [column_letter(j) for j in range(1, n_cols + 1)]
    header = "".join(
        f'<c r="{L}1" s="1" t="inlineStr"><is><t xml:space="preserve">{escape(_ILLEGAL.sub("", str(c)))}</t></is></c>'
        for L, c in zip(letters, frame.columns))
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = pc.cast(pa.array(np.arange(2, n_rows + 2)), pa.string())
    cells = []
    for L, col, (values, opening) in zip(letters, frame.columns,
                                         columns if columns is not None else map(_values, (frame[c] for c in frame))):
        cell = pc.binary_join_element_wise(f'<c r="{L}', numbers, opening, values,
                                           _CLOSE.get(opening, "</v></c>"), "")
        cells.append(pc.fill_null(cell, ""))  # a missing value is no cell at all
    rows = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "")
    last = f"{letters[-1]}{n_rows + 1}" if n_cols else "A1"
    cols = "".join(f'<col min="{j}" max="{j}" width="{w}" customWidth="1"/>'
                   for j, w in enumerate(_widths(frame), start=1))
    yield (
        f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f'<dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f'<sheetData><row r="1">{header}</row>'
    ).encode()
    yield _buffer_text(rows)
    yield b"</sheetData></worksheet>"


def _offsets(strings) -> np.ndarray:
    """Where each value of an Arrow string array starts in its data buffer, and the end."""
    import pyarrow as pa

    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    return np.frombuffer(strings.buffers()[1], dtype=width)[strings.offset: strings.offset + len(strings) + 1]


def _buffer_text(strings) -> memoryview | bytes:
    """An Arrow string array without nulls as the UTF-8 of its values one after the other: the
    data buffer between the first and last offset, never one Python string per value (with
    nulls: what the buffer holds under them too, which Arrow leaves empty)."""
    if not len(strings) or strings.buffers()[2] is None:
        return b""
    offsets = _offsets(strings)
    return memoryview(strings.buffers()[2])[int(offsets[0]): int(offsets[-1])]


def write_workbook(sheets: list[tuple[str, pd.DataFrame]], path) -> Path:
    """Write ``[(sheet name, frame), ...]`` to ``path`` (atomically).

    Sheet names must already be valid and unique for Excel (at most 31 characters, none of
    ``[ ] : * ? / \\``, unique ignoring case); frames at most 1,048,575 rows.

    Returns
    -------
    Path
    """
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    book = WorkbookWriter(path)
    try:
        parts = [book.add(frame, text=False)[0] for _, frame in sheets]
        return book.close([(name, part) for (name, _), part in zip(sheets, parts)])
    finally:
        book.discard()


class WorkbookWriter:
    """A workbook written one sheet at a time, in any order.

    :meth:`add` writes a frame's sheet into the file as soon as the frame is ready;
    :meth:`close` names the sheets, puts them in order and moves the finished file to
    ``path`` in one step. Until then the file is ``.<name>.tmp`` beside it, which
    :meth:`discard` removes.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._book: zipfile.ZipFile | None = None
        self._parts = 0

    def add(self, frame: pd.DataFrame, text: bool = True) -> tuple[int, list[str | bytes] | None]:
        """Write ``frame``'s sheet; returns its part number (for :meth:`close`) and, with
        ``text``, its text: the header row's XML, then each column's distinct cell texts one a
        line, entities decoded (what a search of the sheet's XML can find, each value once), as
        UTF-8 bytes or, where entities were decoded, as ``str``."""
        import html

        import pyarrow.compute as pc

        if self._book is None:
            self._book = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._parts += 1
        columns = [_values(frame[c]) for c in frame.columns]
        parts = list(_sheet_parts(frame, columns))
        large = sum(len(p) for p in parts) > zipfile.ZIP64_LIMIT
        with self._book.open(f"xl/worksheets/sheet{self._parts}.xml", "w", force_zip64=large) as sheet:
            for part in parts:
                sheet.write(part)
        if not text:
            return self._parts, None
        texts = [bytes(parts[0])]
        for values, _ in columns:  # each distinct value and a new line, from Arrow's string buffer
            lines = pc.binary_join_element_wise(pc.unique(pc.drop_null(values)), "", "\n")
            texts.append(bytes(_buffer_text(lines)))
        return self._parts, [html.unescape(t.decode()) if b"&" in t else t for t in texts]

    def close(self, sheets: list[tuple[str, int]]) -> Path:
        """Finish the workbook with ``[(sheet name, part number), ...]`` in that order (every
        part added, each once) and move it to ``path``."""
        if not sheets:
            raise ValueError("a workbook needs at least one sheet")
        if sorted(part for _, part in sheets) != list(range(1, self._parts + 1)):
            raise ValueError(f"sheets {[part for _, part in sheets]} must name each of the {self._parts} "
                             "part(s) added, once")
        for name, content in self.package_parts(sheets):
            self._book.writestr(name, content)
        self._book.close()
        self._book = None
        os.replace(self.tmp, self.path)
        return self.path

    def package_parts(self, sheets: list[tuple[str, int]]) -> list[tuple[str, str]]:
        """The workbook's parts other than the sheets: ``[(part name, XML), ...]``."""
        types = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, self._parts + 1))
        content_types = (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{types}</Types>")
        root_rels = (
            f'{_XML}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        entries = "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                          for i, (name, _) in enumerate(sheets, start=1))
        workbook = (f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
                    f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{entries}</sheets></workbook>')
        n = len(sheets)
        rels = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{part}.xml"/>'
                       for i, (_, part) in enumerate(sheets, start=1))
        workbook_rels = (f'{_XML}<Relationships xmlns="{_PKG_REL}">{rels}'
                         f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
        return [("[Content_Types].xml", content_types), ("_rels/.rels", root_rels), ("xl/workbook.xml", workbook),
                ("xl/_rels/workbook.xml.rels", workbook_rels), ("xl/styles.xml", _STYLES)]

    def discard(self) -> None:
        """Drop an unfinished workbook (nothing is left behind; a finished one stays)."""
        if self._book is not None:
            self._book.close()
            self._book = None
        self.tmp.unlink(missing_ok=True)
