"""Loading and validation: every rule reports file, column, rows and rule, all at once."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import tiny_tables, write_tables

from telesales_lab.exceptions import DataValidationError
from telesales_lab.data.load import load_dataset, validate_dataset, write_table


def _problems(folder) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, cache=False)
    return [str(p) for p in info.value.problems]


def _broken(tmp_path, table, mutate):
    tables = tiny_tables()
    mutate(tables[table])
    return write_tables(tmp_path / "bad", tables)


def _only(lines, *needles):
    hits = [line for line in lines if all(n in line for n in needles)]
    assert hits, f"no problem mentions {needles}: {lines}"
    return hits[0]


# ----------------------------------------------------------------------------- a valid set
def test_valid_dataset_loads_with_canonical_dtypes(tiny_dir):
    data = load_dataset(tiny_dir)
    calls = data.calls
    assert str(calls["started_at"].dtype) == "datetime64[ns]"
    assert calls["duration_s"].dtype == "float64"
    assert list(calls["outcome"].cat.categories) == ["no_answer", "service", "rejected", "callback", "interested", "sale"]
    assert calls["objection"].isna().sum() == 2  # empty cells are missing, not ""
    assert data.feedback["complaint"].tolist() == [False, True]
    assert data.feedback["score"].dtype == "Int64"
    assert data.customers["name"].tolist() == ["陈静", "刘洋", "赵磊"]
    assert not data.has("training_log")
    assert validate_dataset(tiny_dir) == []


def test_extra_columns_are_kept_and_optional_columns_added(tmp_path):
    tables = tiny_tables()
    tables["calls"]["campaign"] = ["q4", "q4", "q4", "q4"]
    tables["calls"] = tables["calls"].drop(columns="objection")
    data = load_dataset(write_tables(tmp_path / "d", tables))
    assert data.calls["campaign"].tolist() == ["q4"] * 4
    assert data.calls["objection"].isna().all()


# ----------------------------------------------------------------------------- encodings
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_load_and_chinese_round_trips(tmp_path, encoding):
    folder = write_tables(tmp_path / encoding, tiny_tables(), encoding=encoding)
    if encoding == "utf-8-sig":
        assert (folder / "reps.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    data = load_dataset(folder, cache=False)
    assert data.reps.columns[0] == "rep_id"  # the BOM is not part of the first header
    assert data.reps["team"].iloc[0] == "华东一组"
    assert data.scripts["text"].tolist() == ["您好，限时优惠", "您好，为您量身定制"]


def test_undecodable_bytes_name_file_and_line(tmp_path):
    folder = write_tables(tmp_path / "d", tiny_tables())
    raw = (folder / "scripts.csv").read_bytes().replace("开场白乙".encode(), b"\xff\xfe\xfa")
    (folder / "scripts.csv").write_bytes(raw)
    line = _only(_problems(folder), "scripts.csv", "undecodable bytes")
    assert "line 3" in line


# ----------------------------------------------------------------------------- formats
@pytest.mark.parametrize("fmt", ["parquet", "xlsx", "workbook"])
def test_parquet_and_excel_round_trip(tmp_path, fmt):
    folder = write_tables(tmp_path / fmt, tiny_tables(), fmt=fmt)
    data = load_dataset(folder, cache=False)
    reference = load_dataset(write_tables(tmp_path / "csv", tiny_tables()), cache=False)
    for table in reference.tables:
        pd.testing.assert_frame_equal(data.tables[table], reference.tables[table], check_dtype=True)


def test_write_table_round_trips_typed_tables(tmp_path, tiny_dir):
    data = load_dataset(tiny_dir)
    for suffix in (".csv", ".parquet", ".xlsx"):
        out = tmp_path / f"rt{suffix[1:]}"
        for name, frame in data.tables.items():
            write_table(frame, out / f"{name}{suffix}")
        again = load_dataset(out, cache=False)
        for name in data.tables:
            pd.testing.assert_frame_equal(again.tables[name], data.tables[name])
        assert not list(out.glob(".*")), "no temporary files are left behind"


def test_typed_cache_is_reused_and_invalidated(tiny_dir):
    first = load_dataset(tiny_dir)
    second = load_dataset(tiny_dir)
    pd.testing.assert_frame_equal(first.calls, second.calls)
    calls = pd.read_csv(tiny_dir / "calls.csv", dtype=str, keep_default_na=False)
    calls.loc[0, "duration_s"] = "-1"
    calls.to_csv(tiny_dir / "calls.csv", index=False)
    with pytest.raises(DataValidationError, match=r"calls.csv: column 'duration_s': must be >= 0"):
        load_dataset(tiny_dir)


def test_an_unchanged_folder_loads_as_the_same_data_set_in_one_process(tiny_dir):
    """The report's notebooks share a kernel: loading the folder again gives the same immutable
    data set, results computed on it included; a changed file gives a fresh one."""
    from telesales_lab.analysis.outcomes import funnel

    first = load_dataset(tiny_dir)
    month = str(first.calls["started_at"].max().to_period("M"))
    result = funnel(first, month)
    again = load_dataset(tiny_dir)
    assert again is first
    pd.testing.assert_frame_equal(funnel(again, month), result)
    assert load_dataset(tiny_dir, cache=False) is not first  # asking for no cache reads the files
    scripts = pd.read_csv(tiny_dir / "scripts.csv", dtype=str, keep_default_na=False)
    scripts.loc[0, "name"] = scripts.loc[0, "name"] + " (v2)"
    scripts.to_csv(tiny_dir / "scripts.csv", index=False)
    changed = load_dataset(tiny_dir)
    assert changed is not first
    assert changed.scripts["name"].iloc[0].endswith("(v2)")


# ----------------------------------------------------------------------------- each rule
def test_missing_file(tmp_path):
    tables = tiny_tables()
    del tables["feedback"]
    lines = _problems(write_tables(tmp_path / "d", tables))
    _only(lines, "feedback.csv", "required table 'feedback' is missing")


def test_missing_column(tmp_path):
    folder = _broken(tmp_path, "reps", lambda f: f.pop("team"))
    assert _only(_problems(folder), "reps.csv") == "reps.csv: column 'team': required column is missing"


def test_unknown_category_value(tmp_path):
    def mutate(f):
        f.loc[1, "outcome"] = "won"
        f.loc[2, "objection"] = "weather"
    lines = _problems(_broken(tmp_path, "calls", mutate))
    assert _only(lines, "'outcome'") == (
        "calls.csv: column 'outcome': unknown value: must be one of "
        "no_answer|service|rejected|callback|interested|sale [rows 3] e.g. 'won'")
    assert "[rows 4]" in _only(lines, "'objection'", "unknown value")


def test_category_values_are_case_insensitive(tmp_path):
    folder = _broken(tmp_path, "calls", lambda f: f.__setitem__("outcome", ["Sale", "NO_ANSWER", "interested", "rejected"]))
    assert load_dataset(folder, cache=False).calls["outcome"].tolist()[:2] == ["sale", "no_answer"]


def test_unparseable_date_and_time(tmp_path):
    tables = tiny_tables()
    tables["calls"].loc[0, "started_at"] = "2026-13-45 10:00"
    tables["reps"].loc[2, "hired_on"] = "yesterday"
    lines = _problems(write_tables(tmp_path / "d", tables))
    assert _only(lines, "calls.csv", "started_at") == (
        "calls.csv: column 'started_at': not a valid date and time (YYYY-MM-DD HH:MM:SS) "
        "[rows 2] e.g. '2026-13-45 10:00'")
    assert "[rows 4]" in _only(lines, "reps.csv", "hired_on", "not a valid date")
    assert not any("must not be empty" in line for line in lines), "a parse failure is reported once"


def test_other_date_spellings_parse(tmp_path):
    folder = _broken(tmp_path, "reps", lambda f: f.__setitem__("hired_on", ["2024/01/15", "2025-3-1", "2020-06-01"]))
    assert load_dataset(folder, cache=False).reps["hired_on"].dt.year.tolist() == [2024, 2025, 2020]


@pytest.mark.parametrize("table, column, rule", [
    ("calls", "duration_s", "must be >= 0"),
    ("orders", "amount", "must be >= 0"),
])
def test_negative_duration_or_amount(tmp_path, table, column, rule):
    folder = _broken(tmp_path, table, lambda f: f.__setitem__(column, ["-3"] * len(f)))
    assert f"{table}.csv: column '{column}': {rule} [rows 2" in _only(_problems(folder), column)


def test_not_a_number(tmp_path):
    folder = _broken(tmp_path, "orders", lambda f: f.__setitem__("profit", ["lots"]))
    assert _only(_problems(folder), "profit") == "orders.csv: column 'profit': not a number [rows 2] e.g. 'lots'"


def test_duplicate_ids(tmp_path):
    folder = _broken(tmp_path, "calls", lambda f: f.__setitem__("call_id", ["C1", "C2", "C1", "C4"]))
    assert _only(_problems(folder), "call_id") == (
        "calls.csv: column 'call_id': duplicate id: each value must be unique [rows 2, 4] e.g. 'C1'")


@pytest.mark.parametrize("table, column, ref", [
    ("calls", "rep_id", "reps.rep_id"),
    ("calls", "customer_id", "customers.customer_id"),
    ("calls", "script_id", "scripts.script_id"),
    ("orders", "call_id", "calls.call_id"),
    ("feedback", "rep_id", "reps.rep_id"),
])
def test_dangling_references(tmp_path, table, column, ref):
    folder = _broken(tmp_path, table, lambda f: f.__setitem__(column, ["ZZ9"] * len(f)))
    line = _only(_problems(folder), f"{table}.csv", column)
    assert f"must reference an existing {ref} [rows 2" in line and "'ZZ9'" in line


@pytest.mark.parametrize("table, column, value, rule", [
    ("feedback", "score", "7", "must be between 1 and 5"),
    ("assessments", "score", "101", "must be between 0 and 100"),
    ("feedback", "score", "4.5", "not a whole number"),
    ("feedback", "complaint", "maybe", "not true/false"),
])
def test_scores_out_of_range(tmp_path, table, column, value, rule):
    folder = _broken(tmp_path, table, lambda f: f.loc.__setitem__((0, column), value))
    assert _only(_problems(folder), column) == f"{table}.csv: column '{column}': {rule} [rows 2] e.g. '{value}'"


def test_empty_required_value(tmp_path):
    folder = _broken(tmp_path, "calls", lambda f: f.loc.__setitem__((3, "rep_id"), ""))
    assert _only(_problems(folder), "rep_id") == "calls.csv: column 'rep_id': must not be empty [rows 5]"


def test_short_and_garbled_rows(tmp_path):
    folder = write_tables(tmp_path / "d", tiny_tables())
    with open(folder / "scripts.csv", "a", encoding="utf-8") as fh:
        fh.write("S3,短\n")
        fh.write("S4,多,cold_call,文本,多余,再多\n")
    lines = _problems(folder)
    assert "[rows 4]" in _only(lines, "scripts.csv", "fewer fields than the header's 4")
    assert "[rows 5]" in _only(lines, "scripts.csv", "more fields than the header's 4")


def test_every_problem_is_reported_at_once(tmp_path):
    tables = tiny_tables()
    tables["calls"].loc[0, "duration_s"] = "-1"
    tables["orders"].loc[0, "status"] = "refunded"
    tables["assessments"].loc[0, "skill"] = "charm"
    tables["customers"].loc[1, "customer_id"] = "K1"
    lines = _problems(write_tables(tmp_path / "d", tables))
    for needle in ("duration_s", "status", "skill", "customer_id"):
        _only(lines, needle)
    assert len(lines) == len(set(lines))


# ----------------------------------------------------------------------------- the CLI
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "telesales_lab.cli", *args],
                          capture_output=True, text=True, encoding="utf-8")


def test_cli_validate_ok(tiny_dir):
    run = _cli("validate", str(tiny_dir))
    assert run.returncode == 0, run.stderr
    assert "valid" in run.stdout


def test_cli_validate_bad_input_exits_2_without_traceback(tmp_path):
    tables = tiny_tables()
    tables["calls"].loc[0, "outcome"] = "won"
    tables["orders"].loc[0, "amount"] = "-5"
    run = _cli("validate", str(write_tables(tmp_path / "d", tables)))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0] == "error: 2 problem(s) found; nothing was written:"
    assert lines[1].strip().startswith("calls.csv: column 'outcome': unknown value")
    assert lines[2].strip().startswith("orders.csv: column 'amount': must be >= 0")


def test_cli_missing_folder_exits_2(tmp_path):
    run = _cli("validate", str(tmp_path / "nowhere"))
    assert run.returncode == 2 and "data folder does not exist" in run.stderr


def test_manager_must_be_a_known_person(tmp_path):
    folder = _broken(tmp_path, "reps", lambda f: f.__setitem__("manager_id", ["L1", "L9", ""]))
    assert _only(_problems(folder), "manager_id") == (
        "reps.csv: column 'manager_id': must reference an existing reps.rep_id [rows 3] e.g. 'L9'")


@pytest.mark.parametrize("kind", ["demo", "thin"])
def test_cached_copy_gives_back_the_same_tables(tmp_path, monkeypatch, kind):
    """The typed cache (Arrow IPC files) holds every table with its types: categories with their
    levels (also in a table with no rows, where Arrow keeps none), Arrow strings, timestamps and
    nullable numbers come back equal."""
    from thin_data import thin_tables

    from telesales_lab.data import load
    from telesales_lab.data.demo import write_demo

    folder = tmp_path / "demo"
    if kind == "demo":
        write_demo(folder, seed=3, n_teams=2, n_customers=300, n_calls=3000, months=2)
    else:  # no orders, feedback or assessments: empty tables
        write_tables(folder, thin_tables(assessments="none", feedback="none", orders="none"))
    monkeypatch.setenv("TELESALES_CACHE_DIR", str(tmp_path / "cache"))
    fresh = load_dataset(folder, cache=False)
    load_dataset(folder)  # writes the cache
    assert list((tmp_path / "cache").glob("*/*.arrow"))
    monkeypatch.setattr(load, "_LOADED", type(load._LOADED)())  # forget the process's own copy
    cached = load_dataset(folder)
    assert cached is not fresh
    for name, frame in fresh.tables.items():
        pd.testing.assert_frame_equal(cached.tables[name], frame, check_exact=True, obj=name)
