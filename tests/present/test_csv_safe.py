"""CSV for spreadsheets: no cell starts a formula (OWASP CSV injection); raw CSV for scripts."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from conftest import tiny_tables, write_tables

from telesales_lab.cli import main
from telesales_lab.present.csv_safe import spreadsheet_safe, write_csv

EVIL = "=cmd|' /C calc'!A0"


def test_formula_starts_are_prefixed_with_a_quote_and_numbers_kept():
    frame = pd.DataFrame({
        "name": pd.array([EVIL, "+1", "-2", "@SUM(A1)", "\tx", "\ry", "ok", None], dtype="string"),
        "kind": pd.Categorical(["=a", "b", "b", "b", "b", "b", "b", "b"]),
        "obj": ["-x", 1, None, "a=b", "", " =c", "x", "y"],
        "rate": [-0.5, 1, 2, 3, 4, 5, 6, 7],
    })
    safe = spreadsheet_safe(frame)
    assert safe["name"].tolist()[:7] == ["'" + EVIL, "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\ry", "ok"]
    assert pd.isna(safe["name"].iloc[7])
    assert safe["kind"].tolist()[:2] == ["'=a", "b"]
    assert safe["obj"].tolist()[:6] == ["'-x", 1, None, "a=b", "", " =c"]
    assert safe["rate"].tolist() == frame["rate"].tolist() and safe["rate"].dtype == "float64"
    assert frame["name"].iloc[0] == EVIL  # the input is not changed


def test_raw_mode_writes_values_as_they_are():
    frame = pd.DataFrame({"name": [EVIL]})
    out = io.StringIO()
    write_csv(frame, out, raw=True)
    assert next(csv.DictReader(io.StringIO(out.getvalue())))["name"] == EVIL
    out = io.StringIO()
    write_csv(frame, out)
    assert next(csv.DictReader(io.StringIO(out.getvalue())))["name"] == "'" + EVIL


@pytest.mark.parametrize("fmt, shown", [("csv", "'" + EVIL), ("csv-raw", EVIL)])
def test_funnel_csv_is_safe_for_spreadsheets_by_default(tmp_path, capsys, fmt, shown):
    tables = tiny_tables()
    tables["reps"]["team"] = EVIL  # a team name typed into the CRM by a hostile hand
    folder = write_tables(tmp_path / "d", tables)
    assert main(["funnel", str(folder), "--month", "2026-10", "--by", "team", "--format", fmt]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    cells = {v for row in rows for v in row.values()}
    assert shown in cells
    if fmt == "csv":
        assert not any(v[:1] in ("=", "+", "-", "@", "\t", "\r") for v in cells if v and not _number(v))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
