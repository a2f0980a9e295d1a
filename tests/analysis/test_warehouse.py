"""The DuckDB aggregation over monthly Parquet gives the pandas path's sums, group by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_tables

from telesales_lab.analysis import warehouse
from telesales_lab.data.demo import generate_demo
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.load import load_dataset
from telesales_lab.analysis.outcomes import funnel, month_calls

MONTHS = ["2026-08", "2026-09", "2026-10"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tables, _ = generate_demo(seed=11, n_calls=12_000, n_customers=1500, months=3)
    # a few customers acquired after the window have no class in any month: they count as C
    tables["customers"].loc[::30, "acquired_on"] = "2027-01-15"
    return load_dataset(write_tables(tmp_path_factory.mktemp("demo"), tables), cache=False)


def test_customers_without_a_class_are_counted_as_c(data, sums):
    from telesales_lab.analysis.customers import class_at_start

    classless = ~data.calls["customer_id"].isin(class_at_start(data, "2026-10").index)
    assert classless.sum() > 100, "the fixture has calls to customers without a class"
    assert set(sums["customer_class"]) == {"A", "B", "C"}


@pytest.fixture(scope="module")
def sums(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("warehouse")
    warehouse.export_parquet(data, root)
    return warehouse.aggregate(root)


def _reference(data) -> pd.DataFrame:
    """The same sums by a plain pandas groupby over each month's calls (outcomes.month_calls)."""
    frames = []
    for month in MONTHS:
        calls = month_calls(data, month)
        calls["month"] = month
        calls["dials"] = 1
        calls["connected_duration_s"] = np.where(calls["connected"], calls["duration_s"], 0.0)
        frames.append(calls)
    calls = pd.concat(frames, ignore_index=True)
    calls = calls.rename(columns={"sale": "sales"})
    for col in ("connected", "positive", "sales"):
        calls[col] = calls[col].astype(np.int64)
    keys = list(warehouse.AGGREGATE_KEYS)
    out = calls.groupby(keys, sort=True)[list(warehouse.AGGREGATE_SUMS)].sum().reset_index()
    for k in keys:
        out[k] = out[k].astype("string")
    return out


def test_duckdb_sums_equal_a_pandas_groupby_cell_by_cell(data, sums):
    expected = _reference(data)
    assert list(sums.columns) == list(warehouse.AGGREGATE_KEYS + warehouse.AGGREGATE_SUMS)
    assert len(sums) == len(expected) > 100
    pd.testing.assert_frame_equal(sums, expected, check_dtype=False, rtol=1e-9)
    assert sums["dials"].sum() == len(data.calls)  # every call lands in exactly one cell


@pytest.mark.parametrize("by, key", [("rep", "rep_id"), ("script", "script_id"),
                                     ("customer_class", "customer_class")])
def test_rolled_up_sums_give_the_outcomes_funnel(data, sums, by, key):
    for month in MONTHS:
        expected = funnel(data, month, by=by).reset_index(drop=True)
        got = warehouse.funnel_from_sums(sums[sums["month"] == month], [key])
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9)


def test_month_bounds_prune_partitions_and_are_checked(data, tmp_path):
    root = tmp_path / "wh"
    warehouse.export_parquet(data, root, months=["2026-10"])
    only = warehouse.aggregate(root, "2026-10", "2026-10")
    assert set(only["month"]) == {"2026-10"}
    expected = funnel(data, "2026-10", by="rep")
    assert only["dials"].sum() == expected["dials"].sum()
    assert only["revenue"].sum() == pytest.approx(expected["revenue"].sum())
    assert len(warehouse.aggregate(root, "2026-09", "2026-09")) == 0
    with pytest.raises(ParameterError, match=r"month == '2026-13x', must be YYYY-MM"):
        warehouse.aggregate_sql("2026-13x")
    with pytest.raises(ParameterError, match=r"first_month == '2026-10' is after last_month == '2026-09'"):
        warehouse.aggregate_sql("2026-10", "2026-09")


def test_appending_a_month_replaces_only_that_partition(data, tmp_path):
    root = tmp_path / "wh"
    warehouse.export_parquet(data, root, months=["2026-09"])
    first = warehouse.aggregate(root)
    warehouse.export_parquet(data, root, months=["2026-09", "2026-10"])  # 09 rewritten, 10 added
    both = warehouse.aggregate(root)
    pd.testing.assert_frame_equal(both[both["month"] == "2026-09"].reset_index(drop=True), first)
    assert set(both["month"]) == {"2026-09", "2026-10"}
    assert not list(root.rglob(".part-*")), "no temporary files are left behind"


def test_export_refuses_a_month_without_calls_and_aggregate_an_incomplete_folder(data, tmp_path):
    with pytest.raises(ParameterError, match=r"months == \['2027-01'\]: the data set has no calls in it"):
        warehouse.export_parquet(data, tmp_path / "wh", months=["2027-01"])
    with pytest.raises(ParameterError, match=r"by == \['team'\]: 'team' is not one of month\|rep_id"):
        warehouse.funnel_from_sums(pd.DataFrame(), ["team"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParameterError, match=r"calls: no month=YYYY-MM/part-0.parquet partitions"):
        warehouse.aggregate(tmp_path / "empty")


def test_the_sql_uses_no_engine_specific_functions():
    sql = warehouse.aggregate_sql("2026-09", "2026-10").lower()
    for word in ("strftime", "date_trunc", "group by all", "::", "read_parquet", "ilike", "qualify"):
        assert word not in sql, word
    assert "c.month >= '2026-09' and c.month <= '2026-10'" in sql


def test_the_same_sql_runs_on_another_engine(data, sums, tmp_path):
    """SQLite (standard library) runs the query unchanged on the exported partitions and
    gets DuckDB's sums: a check that the SQL is portable, as Spark SQL needs it to be."""
    import sqlite3

    root = tmp_path / "wh"
    warehouse.export_parquet(data, root)
    con = sqlite3.connect(":memory:")
    for part in warehouse.PARTS:
        frames = []
        for folder in sorted((root / part).glob("month=*")):
            frame = pd.read_parquet(folder / "part-0.parquet")
            frame = frame[[c for c in frame.columns if frame[c].dtype.kind != "M"]]  # times are not needed
            frame = frame.astype({c: object for c in frame.columns if frame[c].dtype.kind not in "fiub"})
            frame["month"] = folder.name.split("=", 1)[1]
            frames.append(frame)
        pd.concat(frames, ignore_index=True).to_sql(part, con, index=False)
    got = pd.read_sql_query(warehouse.aggregate_sql(), con)
    con.close()
    for k in warehouse.AGGREGATE_KEYS:
        got[k] = got[k].astype("string")
    pd.testing.assert_frame_equal(got, sums, check_dtype=False, rtol=1e-9)
