"""Careless and hostile input files: refused with file, column, rows and rule, or accepted."""

from __future__ import annotations

import pytest
from conftest import tiny_tables, write_tables

from telesales_lab.cli import main
from telesales_lab.data.load import load_dataset
from telesales_lab.exceptions import DataValidationError


def _problems(folder) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, cache=False)
    return [str(p) for p in info.value.problems]


def _broken(tmp_path, table, column, row, value):
    tables = tiny_tables()
    tables[table].loc[row, column] = value
    return write_tables(tmp_path / "bad", tables)


# ----------------------------------------------------------------------------- line endings
@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"])
def test_mac_excel_csv_with_bare_cr_line_ends_loads(tmp_path, ending, capsys):
    """Excel's "CSV (Macintosh)" ends lines with CR alone; it loads like the others."""
    folder = write_tables(tmp_path / "d", tiny_tables())
    for name in ("calls", "customers"):
        path = folder / f"{name}.csv"
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        path.write_bytes(text.replace("\n", ending).encode("utf-8"))
    data = load_dataset(folder, cache=False)
    assert data.calls["call_id"].tolist() == ["C1", "C2", "C3", "C4"]
    assert data.customers["name"].tolist() == ["陈静", "刘洋", "赵磊"]
    assert main(["validate", str(folder)]) == 0
    assert "valid" in capsys.readouterr().out


def test_bare_cr_file_with_a_bad_value_names_the_line(tmp_path):
    tables = tiny_tables()
    tables["calls"].loc[2, "duration_s"] = "abc"
    folder = write_tables(tmp_path / "d", tables)
    path = folder / "calls.csv"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    lines = _problems(folder)
    assert any("calls.csv: column 'duration_s': not a number [rows 4]" in line for line in lines), lines


# ----------------------------------------------------------------------------- values
def test_time_without_a_date_is_refused(tmp_path):
    lines = _problems(_broken(tmp_path, "calls", "started_at", 1, "10:00:00"))
    assert any(line.startswith("calls.csv: column 'started_at': not a valid date and time")
               and "[rows 3]" in line and "'10:00:00'" in line for line in lines), lines


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
@pytest.mark.parametrize("table, column, value", [
    ("orders", "amount", "1e400"), ("calls", "duration_s", "inf"), ("orders", "profit", "-inf"),
    ("assessments", "score", "Infinity"),
])
def test_infinite_numbers_are_refused(tmp_path, fmt, table, column, value):
    tables = tiny_tables()
    tables[table].loc[0, column] = value
    folder = write_tables(tmp_path / "bad", tables, fmt=fmt)
    lines = _problems(folder)
    row = 2 if fmt != "parquet" else 1
    assert any(f"{table}.{fmt}: column '{column}': not a finite number [rows {row}]" in line
               for line in lines), lines


def test_infinite_numbers_refused_by_validate_with_exit_2(tmp_path, capsys):
    folder = _broken(tmp_path, "orders", "amount", 0, "1e400")
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "orders.csv: column 'amount': not a finite number [rows 2]" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["2026/10/01 09:30", "20261001", "2026-10-01T09:30:00+08:00"])
def test_dates_in_other_spellings_still_load(tmp_path, value):
    data = load_dataset(_broken(tmp_path, "calls", "started_at", 0, value), cache=False)
    assert data.calls["started_at"].iloc[0].strftime("%Y-%m-%d") in ("2026-10-01", "2026-10-01")


# ----------------------------------------------------------------------------- ids
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("bad", ["R\x001", "R\x1b[31m1", "R\u00851", "R\x7f"])
def test_control_characters_in_ids_are_refused(tmp_path, fmt, bad):
    tables = tiny_tables()
    tables["reps"].loc[1, "rep_id"] = bad
    tables["calls"].loc[2, "rep_id"] = bad
    tables["feedback"].loc[1, "rep_id"] = bad
    tables["assessments"].loc[2, "rep_id"] = bad
    folder = write_tables(tmp_path / "bad", tables, fmt=fmt)
    lines = _problems(folder)
    row = 3 if fmt == "csv" else 2
    assert any(f"reps.{fmt}: column 'rep_id': must not contain control characters" in line
               and f"[rows {row}]" in line for line in lines), lines
