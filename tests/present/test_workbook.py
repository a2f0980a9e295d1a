"""The vectorised xlsx writer, read back with openpyxl and pandas (two independent readers)."""

from __future__ import annotations

import math
import zipfile
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from telesales_lab.present.workbook import column_letter, write_workbook


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "team": pd.array(["华东一组", "R&D <b>", None, "  padded  ", "bell\x07here"], dtype="string"),
        "dials": [10, 0, -3, 2**40, 7],
        "rate": [0.1, 1 / 3, np.nan, np.inf, 1e20],
        "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        "ok": pd.array([True, False, None, True, False], dtype="boolean"),
        "at": pd.to_datetime(["2026-10-01 09:30:15", None, "2026-10-31 23:59:59", "2026-10-02 00:00:00", "2026-10-03 00:00:00"]),
        "day": pd.to_datetime(["2026-10-01", "2026-10-02", None, "2026-10-04", "2026-10-05"]),
        "cls": pd.Categorical(["A", "B", "A", None, "C"]),
    })


def test_values_read_back_the_same_with_openpyxl(tmp_path):
    frame = _frame()
    path = write_workbook([("数据 & more", frame), ("second", frame.head(2))], tmp_path / "b.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["数据 & more", "second"]
    ws = book["数据 & more"]
    assert ws.freeze_panes == "A2"
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == tuple(frame.columns)
    assert all(cell.font.b for cell in ws[1])
    assert len(rows) == 1 + len(frame)
    team = [r[0] for r in rows[1:]]
    assert team == ["华东一组", "R&D <b>", None, "  padded  ", "bellhere"]  # control character dropped
    assert [r[1] for r in rows[1:]] == [10, 0, -3, 2**40, 7]
    rate = [r[2] for r in rows[1:]]
    assert rate[0] == 0.1 and rate[1] == 1 / 3 and rate[2] is None and rate[3] is None and rate[4] == 1e20
    assert [r[3] for r in rows[1:]] == [1, None, 3, 4, 5]
    assert [r[4] for r in rows[1:]] == [True, False, None, True, False]
    assert rows[1][5] == datetime(2026, 10, 1, 9, 30, 15) and rows[2][5] is None
    assert rows[3][5] == datetime(2026, 10, 31, 23, 59, 59)
    assert ws["F2"].number_format == "yyyy-mm-dd hh:mm:ss" and ws["G2"].number_format == "yyyy-mm-dd"
    assert [r[7] for r in rows[1:]] == ["A", "B", "A", None, "C"]
    assert len(list(book["second"].iter_rows())) == 3


def test_values_read_back_the_same_with_pandas(tmp_path):
    frame = _frame()
    write_workbook([("s", frame)], tmp_path / "b.xlsx")
    back = pd.read_excel(tmp_path / "b.xlsx", sheet_name="s")
    assert list(back.columns) == list(frame.columns)
    assert back["dials"].tolist() == frame["dials"].tolist()
    np.testing.assert_array_equal(back["rate"].to_numpy()[[0, 1, 4]], frame["rate"].to_numpy()[[0, 1, 4]])
    assert back["at"].isna().tolist() == frame["at"].isna().tolist()
    assert (back["at"] - frame["at"]).abs().max() < pd.Timedelta("1ms")


def test_empty_frames_long_text_and_many_columns(tmp_path):
    wide = pd.DataFrame({f"c{i}": [i] for i in range(30)})
    empty = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="string")})
    long = pd.DataFrame({"text": ["x" * 40_000]})
    path = write_workbook([("wide", wide), ("empty", empty), ("long", long)], tmp_path / "b.xlsx")
    book = load_workbook(path)
    assert [c.value for c in book["wide"][1]][-1] == "c29" and book["wide"]["AD2"].value == 29
    assert list(book["empty"].iter_rows(values_only=True)) == [("a", "b")]
    assert len(book["long"]["A2"].value) == 32_767  # Excel's limit for one cell
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert "xl/styles.xml" in z.namelist()


@pytest.mark.parametrize("index, letters", [(1, "A"), (26, "Z"), (27, "AA"), (52, "AZ"), (703, "AAA")])
def test_column_letters(index, letters):
    assert column_letter(index) == letters


def test_no_sheet_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one sheet"):
        write_workbook([], tmp_path / "b.xlsx")
    assert not (tmp_path / "b.xlsx").exists()


def test_random_numbers_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(500), rng.normal(0, 1e6, 500), 10.0 ** rng.integers(-300, 300, 100)])
    write_workbook([("n", pd.DataFrame({"x": values}))], tmp_path / "n.xlsx")
    back = [r[0] for r in load_workbook(tmp_path / "n.xlsx")["n"].iter_rows(min_row=2, values_only=True)]
    assert all(math.isclose(a, b, rel_tol=0, abs_tol=0) for a, b in zip(back, values))
    assert len(back) == len(values)


def test_writer_takes_sheets_in_any_order_and_leaves_nothing_when_discarded(tmp_path):
    from telesales_lab.present.workbook import WorkbookWriter

    book = WorkbookWriter(tmp_path / "b.xlsx")
    one, _ = book.add(pd.DataFrame({"x": [1]}))
    two, texts = book.add(pd.DataFrame({"y": ["a & b", "c", "a & b", None]}))
    texts = [t.decode() if isinstance(t, bytes) else t for t in texts]
    assert (one, two) == (1, 2) and '<t xml:space="preserve">y</t>' in texts[0]
    assert texts[1:] == ["a & b\nc\n"]  # each distinct value once, entities decoded
    with pytest.raises(ValueError, match="each of the 2 part"):
        book.close([("only", 1)])
    book.close([("late", two), ("early", one)])
    assert pd.ExcelFile(tmp_path / "b.xlsx").sheet_names == ["late", "early"]
    assert pd.read_excel(tmp_path / "b.xlsx", sheet_name="late")["y"].tolist()[:3] == ["a & b", "c", "a & b"]

    left = WorkbookWriter(tmp_path / "c.xlsx")
    left.add(pd.DataFrame({"x": [1]}))
    left.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.xlsx"]


def _reference_text(values: pd.Series) -> list:
    """Each value as the sheet must hold it: illegal characters dropped, cut to Excel's limit,
    then &, < and > as entities (done on every value, Python strings one at a time)."""
    import re

    from telesales_lab.present.workbook import _ILLEGAL, MAX_CHARS

    out = []
    for v in values:
        if v is None or v is pd.NA:
            out.append(None)
            continue
        v = re.sub(_ILLEGAL.pattern, "", v)[:MAX_CHARS]
        out.append(v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return out


_PIECES = ["华东一组", "，", "ｘ", "&", "<", ">", "\x07", "\x1f", "\t", "\n", "\ufffe", "\uffff", "\uffef", "\uefbf",
           "a", " ", "é", "😀"]


@pytest.mark.parametrize("seed", range(6))
def test_text_cells_match_the_value_by_value_reference(seed):
    """The text column's steps run only where its bytes need them; the cells are the same as
    every step done on every value, Chinese punctuation (EF BC ..), U+FFEF and chunked columns
    included."""
    import pyarrow as pa

    from telesales_lab.present.workbook import _values

    rng = np.random.default_rng(seed)
    clean = [p for p in _PIECES if p not in "&<>\x07\x1f\ufffe\uffff"]
    pieces = {1: _PIECES, 5: _PIECES, 2: clean + ["\ufffe", "\uffff"], 3: clean + ["&"]}.get(seed, clean)
    values = ["".join(rng.choice(pieces, size=rng.integers(0, 12))) for _ in range(300)]
    values += [None, "x" * 40_000 if seed == 3 else "y", ""]
    column = pd.Series(values, dtype="string[pyarrow]")
    if seed >= 4:  # a column of two chunks, as concatenating frames makes
        column = pd.concat([column.iloc[:100], column.iloc[100:]], ignore_index=True)
    text, opening = _values(column)
    assert opening.endswith('<t xml:space="preserve">')
    assert isinstance(text, pa.Array) and text.to_pylist() == _reference_text(column)
