"""The loader's fast path (typed Arrow read, then the pandera schema) gives exactly what the
full path (text read, coercion, pandera) gives, and hands every file it cannot vouch for
over to the full path, which alone writes problem reports."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import tiny_tables, write_tables

from telesales_lab.data import load
from telesales_lab.data.demo import generate_demo
from telesales_lab.exceptions import DataValidationError
from telesales_lab.data.schema import TABLE_ORDER


def _both(folder):
    """(fast, full) loads of one folder, no cache."""
    fast = load.load_dataset(folder, cache=False)
    load.FAST_PATH = False
    try:
        full = load.load_dataset(folder, cache=False)
    finally:
        load.FAST_PATH = True
    return fast, full


def _assert_same(fast, full):
    assert list(fast.tables) == list(full.tables)
    for name in full.tables:
        pd.testing.assert_frame_equal(fast.tables[name], full.tables[name], check_exact=True)


def _typed(folder, table):
    return load.read_csv_typed(table, folder / f"{table}.csv")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    tables, _ = generate_demo(seed=3, n_calls=20_000, n_customers=2000)
    return write_tables(tmp_path_factory.mktemp("demo"), tables)


def test_demo_data_takes_the_fast_path_and_matches_the_full_path(demo_dir, monkeypatch):
    fast, full = _both(demo_dir)
    _assert_same(fast, full)
    assert len(fast.calls) == 20_000

    def refuse(*args, **kwargs):
        raise AssertionError("the full path was taken for a valid UTF-8 CSV file")

    monkeypatch.setattr(load, "read_csv_text", refuse)
    again = load.load_dataset(demo_dir, cache=False)  # would fail if any table fell back
    _assert_same(again, full)


def test_the_fast_path_result_passes_the_pandera_schema(demo_dir):
    from telesales_lab.data.schema import TABLES, primary_key, table_schema

    data = load.load_dataset(demo_dir, cache=False)
    parents = {}
    for table in TABLE_ORDER:
        frame = data.tables[table].copy()
        key = primary_key(table)
        if key:
            parents[f"{table}.{key}"] = frame[key]
        for name, spec in TABLES[table].items():
            if spec.kind == "category":  # the schema checks categories as text, before the cast
                frame[name] = frame[name].astype("string")
        table_schema(table, parents).validate(frame, lazy=True)


@pytest.mark.parametrize("case", [
    "spaces_and_capitals", "other_date_spellings", "whole_number_as_float", "bom", "gb18030",
    "line_break_in_quoted_text", "extra_and_missing_optional_columns", "word_booleans",
])
def test_unusual_but_valid_files_load_the_same_either_way(tmp_path, case):
    tables = tiny_tables()
    encoding = "utf-8"
    if case == "spaces_and_capitals":
        tables["calls"]["outcome"] = [" Sale", "NO_ANSWER ", "interested", "Rejected"]
        tables["calls"]["rep_id"] = [" R1", "R1 ", "R2", "L1"]
        tables["scripts"]["text"] = ["  您好，限时优惠 ", ""]
    elif case == "other_date_spellings":
        tables["reps"]["hired_on"] = ["2024/01/15", "2025-3-1", "2020-06-01"]
    elif case == "whole_number_as_float":
        tables["feedback"]["score"] = ["5.0", "2"]
    elif case == "bom":
        encoding = "utf-8-sig"
    elif case == "gb18030":
        encoding = "gb18030"
    elif case == "line_break_in_quoted_text":
        tables["scripts"]["text"] = ["第一行\n第二行", "a, \"quoted\" b"]
    elif case == "extra_and_missing_optional_columns":
        tables["calls"]["campaign"] = ["q4", "", "q4", "q4"]
        tables["calls"] = tables["calls"].drop(columns="objection")
        tables["feedback"] = tables["feedback"].drop(columns=["call_id", "resolved_at"])
    elif case == "word_booleans":
        tables["feedback"]["complaint"] = ["否", "Yes"]
    fast, full = _both(write_tables(tmp_path / case, tables, encoding=encoding))
    _assert_same(fast, full)


@pytest.mark.parametrize("table, column, value", [
    ("calls", "duration_s", "nan"),           # a number to Arrow, not to the full path
    ("calls", "duration_s", "-1"),            # bound
    ("assessments", "score", "inf"),          # upper bound
    ("calls", "outcome", "won"),              # vocabulary
    ("calls", "rep_id", ""),                  # required value
    ("calls", "customer_id", "K9"),           # reference
    ("calls", "call_id", "C2"),               # duplicate id
    ("reps", "manager_id", "L9"),             # reference to the same table
    ("feedback", "complaint", "maybe"),       # does not parse
    ("calls", "started_at", "2026-10-01T09:30:00+08:00"),  # a zone offset: the full path decides
])
def test_the_fast_path_declines_what_it_cannot_vouch_for(tmp_path, table, column, value):
    tables = tiny_tables()
    tables[table].loc[0, column] = value
    folder = write_tables(tmp_path / "d", tables)
    typed = _typed(folder, table)
    if typed is not None:  # it parsed: then the schema must refuse it
        from telesales_lab.data.schema import primary_key

        parents = {"reps.rep_id": _typed(folder, "reps")["rep_id"],
                   "customers.customer_id": _typed(folder, "customers")["customer_id"]}
        assert not load._passes_schema(table, typed, parents, primary_key(table))
    fast, full = None, None
    try:
        fast = load.load_dataset(folder, cache=False)
    except DataValidationError as exc:
        fast = [str(p) for p in exc.problems]
    load.FAST_PATH = False
    try:
        full = load.load_dataset(folder, cache=False)
    except DataValidationError as exc:
        full = [str(p) for p in exc.problems]
    finally:
        load.FAST_PATH = True
    if isinstance(full, list):
        assert fast == full, "the same report, word for word"
    else:
        _assert_same(fast, full)


def test_a_problem_in_one_table_is_reported_exactly_as_before(tmp_path, monkeypatch):
    tables = tiny_tables()
    tables["calls"].loc[2, "outcome"] = "won"
    folder = write_tables(tmp_path / "d", tables)
    with pytest.raises(DataValidationError, match=r"calls.csv: column 'outcome': unknown value: must be one of "
                                                  r"no_answer\|service\|rejected\|callback\|interested\|sale \[rows 4\] e.g. 'won'"):
        load.load_dataset(folder, cache=False)


def test_a_year_outside_the_datetime_range_is_a_problem_not_a_crash(tmp_path):
    tables = tiny_tables()
    tables["customers"]["birthday"] = ["1600-01-01", "", "2300-05-05"]
    folder = write_tables(tmp_path / "d", tables)
    with pytest.raises(DataValidationError, match=r"customers.csv: column 'birthday': not a valid date "
                                                  r"\(YYYY-MM-DD\) \[rows 2, 4\] e.g. '1600-01-01', '2300-05-05'"):
        load.load_dataset(folder, cache=False)


def test_offsets_mixed_with_plain_times_become_utc(tmp_path):
    tables = tiny_tables()
    tables["calls"]["started_at"] = ["2026-10-01T09:30:00+08:00", "2026-10-01 10:00:00",
                                     "2026-10-02 14:15:00", "2026-10-03T11:00:00Z"]
    data = load.load_dataset(write_tables(tmp_path / "d", tables), cache=False)
    assert data.calls["started_at"].tolist() == [
        pd.Timestamp("2026-10-01 01:30"), pd.Timestamp("2026-10-01 10:00"),
        pd.Timestamp("2026-10-02 14:15"), pd.Timestamp("2026-10-03 11:00")]


@pytest.mark.parametrize("children, ok", [
    (["C2", None, "C2"], True),         # few children against many ids: the reversed look-up
    (["C2", None, "C10"], False),
    (["C1"] * 30 + ["C10"], False),      # many children: the direct look-up
    (["C1"] * 30 + ["C9", None], True),
])
def test_references_checked_both_ways(children, ok):
    from telesales_lab.data.schema import _arrow_strings, _references

    known = _arrow_strings([f"C{i}" for i in range(10)])
    ids = pd.Series(children, dtype="string")
    mask = _references(ids, known)
    assert bool(mask.all()) is ok
    expected = ids.isna() | ids.isin([f"C{i}" for i in range(10)])
    assert mask.tolist() == expected.tolist()
