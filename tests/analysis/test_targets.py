"""Targets: the table's rules, attainment against hand sums, the team split, the forecast and its backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables, write_tables
from telesales_lab.analysis import targets as T
from telesales_lab.data.load import Dataset, load_dataset
from telesales_lab.exceptions import DataValidationError, ParameterError


@pytest.fixture(scope="module")
def demo(demo_folder):
    """The demo as ``make demo`` writes it, with its raw CSV tables and truth."""
    folder, truth = demo_folder()
    raw = {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
           for name in ("reps", "orders", "calls", "targets")}
    return load_dataset(folder, cache=False), raw, truth


def _hand_revenue(raw, start, end):
    """Non-cancelled order amounts per rep with start <= ordered_at < end, from the CSV text."""
    o = raw["orders"]
    t = pd.to_datetime(o["ordered_at"])
    sel = (o["status"] != "cancelled") & (t >= start) & (t < end)
    return o[sel].assign(amount=o.loc[sel, "amount"].astype(float)).groupby("rep_id")["amount"].sum()


def _hand_sales(raw, start, end):
    c = raw["calls"]
    t = pd.to_datetime(c["started_at"])
    return c[(c["outcome"] == "sale") & (t >= start) & (t < end)].groupby("rep_id").size()


# ----------------------------------------------------------------------------- attainment
@pytest.mark.parametrize("as_of, end", [(None, "2026-11-01"), ("2026-10-15", "2026-10-16")])
def test_attainment_equals_hand_sums(demo, as_of, end):
    data, raw, _ = demo
    out = T.targets(data, "2026-10", as_of=as_of)
    assert list(out.columns) == T.COLUMNS
    reps = out[out["rep_id"].notna()]
    tg = raw["targets"]
    tg = tg[(tg["month"] == "2026-10") & (tg["rep_id"] != "")]
    for metric, hand in (("revenue", _hand_revenue(raw, "2026-10-01", end)),
                         ("sales", _hand_sales(raw, "2026-10-01", end))):
        got = reps[reps["metric"] == metric].set_index("rep_id")
        want_target = tg[tg["metric"] == metric].set_index("rep_id")["target"].astype(float)
        assert len(got) == len(want_target)
        np.testing.assert_allclose(got["target"], want_target.reindex(got.index), rtol=0, atol=0)
        actual = hand.reindex(got.index).fillna(0.0).astype(float)
        np.testing.assert_allclose(got["actual"], actual, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(got["attainment"], actual / want_target.reindex(got.index), rtol=1e-12)
    # team rows add their reps
    teams = out[out["rep_id"].isna() & (out["metric"] == "revenue")].set_index("team")
    by_team = reps[reps["metric"] == "revenue"].groupby("team")[["target", "actual", "forecast"]].sum()
    np.testing.assert_allclose(teams[["target", "actual", "forecast"]], by_team.reindex(teams.index), rtol=1e-12)


def test_planted_under_and_over_achievers(demo):
    data, _, truth = demo
    planted = truth["targets"]
    out = T.targets(data, "2026-10").query("metric == 'revenue'").set_index("rep_id")
    for rep, fact in planted["planted"].items():
        assert out.loc[rep, "target"] == fact["target"]
        assert out.loc[rep, "attainment"] == pytest.approx(fact["attainment"], rel=1e-12)
    # a complete month: the forecast is the actual, the status the outcome
    assert (out.loc[planted["under_achiever_ids"], "status"] == "at_risk").all()
    assert (out.loc[planted["over_achiever_ids"], "status"] == "ahead").all()
    reps = out[out.index.notna()]
    ranked = reps["attainment"].rank()
    assert ranked[planted["under_achiever_ids"]].max() <= 3
    assert ranked[planted["over_achiever_ids"]].min() >= len(reps) - 2
    # seen mid-month: the planted under-achievers are forecast to miss (most already at risk, none
    # ahead), the over-achievers to make it (none at risk); a wide band may still say on_track
    mid = T.targets(data, "2026-10", as_of="2026-10-20").query("metric == 'revenue'").set_index("rep_id")
    under, over = mid.loc[planted["under_achiever_ids"]], mid.loc[planted["over_achiever_ids"]]
    assert (under["forecast"] < under["target"]).all() and (under["status"] != "ahead").all()
    assert (under["status"] == "at_risk").sum() >= len(under) - 1
    assert (over["forecast"] > over["target"]).all() and (over["status"] != "at_risk").all()


def test_forecast_interval_contains_forecast_and_respects_actual(demo):
    data, _, _ = demo
    out = T.targets_detail(data, "2026-10", as_of="2026-10-12")
    assert (out["forecast_low"] <= out["forecast"] + 1e-9).all()
    assert (out["forecast"] <= out["forecast_high"] + 1e-9).all()
    assert (out["forecast_low"] >= out["actual"] - 1e-9).all()  # these metrics cannot fall
    assert set(out["status"]) <= set(T.STATUSES)
    # status follows the interval
    ahead = out["forecast_low"] >= out["target"]
    risk = out["forecast_high"] < out["target"]
    assert (out.loc[ahead, "status"] == "ahead").all() and (out.loc[risk, "status"] == "at_risk").all()
    assert (out.loc[~ahead & ~risk, "status"] == "on_track").all()
    # the forecast is the actual plus the rate over the rest of the month's day weights
    reps = out[out["level"] == "rep"]
    np.testing.assert_allclose(reps["forecast"], reps["actual"] + reps["rate"] * reps["weight_rest"], rtol=1e-12)


# ----------------------------------------------------------------------------- the team split
def test_team_target_split_by_last_quarter_and_equally(demo):
    data, raw, _ = demo
    split = T.rep_targets(data, "2026-10").query("metric == 'new_customers'")
    assert (split["source"] == "team_split").all()
    sums = split.groupby("team").agg(target=("target", "sum"), team_target=("team_target", "first"),
                                     share=("share", "sum"))
    np.testing.assert_allclose(sums["target"], sums["team_target"], rtol=1e-12)
    np.testing.assert_allclose(sums["share"], 1.0, rtol=1e-12)
    # by hand for one team: each rep's new customers in July-September
    team = split["team"].iloc[0]
    members = split[split["team"] == team].set_index("rep_id")
    o = raw["orders"][raw["orders"]["status"] != "cancelled"].copy()
    o["t"] = pd.to_datetime(o["ordered_at"])
    first = o.sort_values(["t", "order_id"], kind="stable").drop_duplicates("customer_id")
    q = first[(first["t"] >= "2026-07-01") & (first["t"] < "2026-10-01")].groupby("rep_id").size()
    result = q.reindex(members.index).fillna(0.0)
    n, zero = len(result), result == 0
    want = np.where(zero, 1 / n, (1 - zero.sum() / n) * result / result.sum())
    np.testing.assert_allclose(members["share"], want, rtol=1e-12)
    equal = T.rep_targets(data, "2026-10", policy={"targets": {"split": "equal"}}).query(
        "metric == 'new_customers' and team == @team")
    np.testing.assert_allclose(equal["target"], equal["team_target"] / len(equal), rtol=1e-12)


def test_team_rows_use_their_own_target_when_split(demo):
    data, _, _ = demo
    out = T.targets_detail(data, "2026-10").query("metric == 'new_customers'")
    teams = out[out["level"] == "team"]
    assert (teams["source"] == "team").all()
    reps = out[out["level"] == "rep"].groupby("team")["target"].sum()
    np.testing.assert_allclose(teams.set_index("team")["target"], reps.reindex(teams["team"]), rtol=1e-12)


# ----------------------------------------------------------------------------- no targets / bad input
def test_without_targets_the_result_is_empty_and_says_so(tmp_path):
    data = load_dataset(write_tables(tmp_path / "d", tiny_tables()), cache=False)
    assert T.targets(data, "2026-10").empty
    assert list(T.targets(data, "2026-10").columns) == T.COLUMNS
    assert T.no_targets_message(data, "2026-10") == "no targets set: the data set has no targets table"


def test_month_without_targets_names_the_months_covered(demo):
    data, _, _ = demo
    assert T.no_targets_message(data, "2026-10") is None
    assert T.no_targets_message(data, "2025-01") == "no targets set for 2025-01; the targets table covers 2026-06 to 2026-10"


def test_as_of_outside_the_month_is_refused(demo):
    data, _, _ = demo
    with pytest.raises(ParameterError, match=r"as_of == '2026-11-02', must be a day of the month 2026-10"):
        T.targets(data, "2026-10", as_of="2026-11-02")
    with pytest.raises(ParameterError, match=r"as_of == 'soon', must be a date YYYY-MM-DD"):
        T.targets(data, "2026-10", as_of="soon")


def _bad_targets() -> pd.DataFrame:
    return pd.DataFrame({
        "month": ["2026-10", "2026-13", "2026-10", "2026-10", "2026-10", "2026-10", "2026-10"],
        "rep_id": ["R1", "R2", "", "R9", "R1", "R2", ""],
        "team": ["", "", "", "", "", "华东一组", "火星组"],
        "metric": ["revenue", "orders", "sales", "won", "revenue", "sales", "orders"],
        "target": ["1000", "0", "5", "3", "2", "4", "7"],
    })


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_bad_targets_name_file_column_row_and_rule(tmp_path, fmt):
    tables = tiny_tables()
    tables["targets"] = _bad_targets()
    folder = write_tables(tmp_path / "d", tables, fmt=fmt)
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder, cache=False)
    lines = [str(p) for p in info.value.problems]
    name = f"targets.{fmt}"
    first = 2 if fmt in ("csv", "xlsx") else 1  # the row a person sees: header = line 1 in text and Excel
    want = [
        f"{name}: column 'rep_id|team': give exactly one of rep_id or team in each row [rows {first + 2}, {first + 5}]",
        f"{name}: column 'month|rep_id|team|metric': the same month, rep_id, team, metric appears in more than one row "
        f"[rows {first}, {first + 4}]",
        f"{name}: column 'month': must be YYYY-MM (e.g. 2026-10) [rows {first + 1}] e.g. '2026-13'",
        f"{name}: column 'rep_id': must reference an existing reps.rep_id [rows {first + 3}] e.g. 'R9'",
        f"{name}: column 'team': must reference an existing reps.team [rows {first + 6}] e.g. '火星组'",
        f"{name}: column 'metric': unknown value: must be one of "
        f"revenue|profit|orders|new_customers|connected_calls|sales [rows {first + 3}] e.g. 'won'",
        f"{name}: column 'target': must be > 0 [rows {first + 1}] e.g. '0'",
    ]
    assert sorted(lines) == sorted(want)


def test_valid_targets_load_from_every_format(tmp_path):
    tables = tiny_tables()
    tables["targets"] = pd.DataFrame({"month": ["2026-10", "2026-10"], "rep_id": ["R1", ""],
                                      "team": ["", "华东一组"], "metric": ["Revenue", "orders"],
                                      "target": ["1000", "3"]})
    for fmt in ("csv", "parquet", "xlsx", "workbook"):
        data = load_dataset(write_tables(tmp_path / fmt, tables, fmt=fmt), cache=False)
        t = data.targets
        assert list(t["metric"].astype(str)) == ["revenue", "orders"], fmt
        assert t["target"].tolist() == [1000.0, 3.0], fmt
        assert t["rep_id"].isna().tolist() == [False, True], fmt


# ----------------------------------------------------------------------------- backtest
def test_backtest_beats_run_rate_and_intervals_cover_near_nominal(demo):
    data, _, _ = demo
    bt = T.backtest(data, days=(10, 20), metrics=("revenue", "sales"))
    assert sorted(bt["month"].unique()) == ["2026-08", "2026-09", "2026-10"]
    summary = T.backtest_summary(bt).set_index(["day", "metric", "method"])
    for day in (10, 20):
        for metric in ("revenue", "sales"):
            model = summary.loc[(day, metric, "model")]
            assert model["mape"] < summary.loc[(day, metric, "run_rate"), "mape"], (day, metric)
            assert model["mape"] < summary.loc[(day, metric, "workday_run_rate"), "mape"], (day, metric)
            assert 0.70 <= model["coverage"] <= 0.90, (day, metric, model["coverage"])  # nominal 0.80
    # the forecast does not look past its day: the data cut at that day gives the same numbers
    cut = bt[(bt["month"] == "2026-09") & (bt["day"] == 10) & (bt["metric"] == "revenue")]
    tables = dict(data.tables)
    tables["calls"] = tables["calls"][tables["calls"]["started_at"] < "2026-09-11"]
    tables["orders"] = tables["orders"][tables["orders"]["ordered_at"] < "2026-09-11"]
    early = Dataset(data.source, tables, data.files)
    again = T.backtest(early, months=["2026-09"], days=(10,), metrics=("revenue",))
    np.testing.assert_allclose(again["forecast"], cut["forecast"], rtol=1e-12)
    np.testing.assert_allclose(again["forecast_high"], cut["forecast_high"], rtol=1e-12)


def test_daily_sums_equal_a_plain_groupby_of_calls_and_orders(demo):
    """Each rep's daily dials, connected calls, sales, orders, revenue and new customers,
    against pandas groupbys of the raw tables."""
    data = demo[0] if isinstance(demo, tuple) else demo
    got = T.daily_sums(data).set_index(["day", "rep_id"])
    c = data.calls.assign(day=data.calls["started_at"].dt.normalize(),
                          conn=data.calls["outcome"].astype(str) != "no_answer",
                          sale=data.calls["outcome"].astype(str) == "sale")
    calls = c.groupby(["day", "rep_id"]).agg(dials=("call_id", "size"), connected_calls=("conn", "sum"),
                                              sales=("sale", "sum"))
    o = data.orders[data.orders["status"].astype(str) != "cancelled"]
    orders = o.assign(day=o["ordered_at"].dt.normalize()).groupby(["day", "rep_id"]).agg(
        orders=("order_id", "size"), revenue=("amount", "sum"))
    first = o.sort_values(["ordered_at", "order_id"]).drop_duplicates("customer_id")
    new = first.assign(day=first["ordered_at"].dt.normalize()).groupby(["day", "rep_id"]).size()
    assert len(got) == len(calls.index.union(orders.index))
    for col in ("dials", "connected_calls", "sales"):
        want = calls[col].reindex(got.index).fillna(0).to_numpy(float)
        np.testing.assert_array_equal(got[col].to_numpy(float), want, err_msg=col)
    for col in ("orders", "revenue"):
        want = orders[col].reindex(got.index).fillna(0).to_numpy(float)
        np.testing.assert_allclose(got[col].to_numpy(float), want, rtol=1e-12, err_msg=col)
    np.testing.assert_array_equal(got["new_customers"].to_numpy(float), new.reindex(got.index).fillna(0).to_numpy(float))
