"""Call outcomes: funnel, change, objections, follow-up speed, trend, heatmap, plots, CLI, notebook.

Numbers are pinned three ways: to counts made by hand on a tiny data set (written out
below, call by call), to a plain groupby/loop reference computed straight from the raw
tables of a generated data set, and to facts the demo generator planted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, tiny_tables, write_tables

from telesales_lab import cli
from telesales_lab.analysis import outcomes
from telesales_lab.analysis.customers import class_at_start
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.load import Dataset, load_dataset

MONTH = "2026-10"
FUNNEL_VALUES = ["dials", "connected", "positive", "sales", "contact_rate", "positive_rate",
                 "conversion_rate", "aht_s", "revenue"]
KEYS = {"rep": "rep_id", "team": "team", "script": "script_id", "scenario": "scenario",
        "customer_class": "customer_class", "hour": "hour", "weekday": "weekday"}


# ----------------------------------------------------------------------------- the hand-made data set
def hand_tables() -> dict[str, pd.DataFrame]:
    """tiny_tables plus a second team, a follow-up script, September calls and more orders.

    October calls (2026-10-01 is a Thursday):

    ====  ====  ====  ======  ================  ====  ==========  =========
    call  rep   cust  script  started           dur   outcome     objection
    ====  ====  ====  ======  ================  ====  ==========  =========
    C1    R1    K1    S1      Thu 10-01 09:30   120   sale        price
    C2    R1    K2    S2      Thu 10-01 10:00   0     no_answer
    C3    R2    K3    S1      Fri 10-02 14:15   300   interested
    C4    L1    K1    S2      Sat 10-03 11:00   45    rejected    trust
    C7    R3    K2    S3      Sun 10-04 16:30   60    rejected    price
    ====  ====  ====  ======  ================  ====  ==========  =========

    September: C5 R1 K2 S1 Tue 09-15 10:00 200 s callback (timing); C6 R2 K3 S2 Wed 09-16
    11:00 5 s no_answer. Orders: O1 K1 paid 1999.5 -> C1 (10-02 10:00); O2 K1 signed 100 ->
    C1 (10-05); O3 K3 cancelled 500 -> C3; O4 K2 paid 800, no call (10-10 10:00).
    Teams: R1, R2, L1 in 华东一组; R3 in 华南一组. Scripts S1, S2 cold_call; S3 follow_up.
    """
    t = tiny_tables()
    t["reps"] = pd.concat([t["reps"], pd.DataFrame({
        "rep_id": ["R3"], "name": ["周杰"], "team": ["华南一组"], "role": ["rep"], "hired_on": ["2025-06-01"],
    })], ignore_index=True)
    t["scripts"] = pd.concat([t["scripts"], pd.DataFrame({
        "script_id": ["S3"], "name": ["回访"], "scenario": ["follow_up"], "text": ["您好，回访"],
    })], ignore_index=True)
    t["calls"] = pd.concat([t["calls"], pd.DataFrame({
        "call_id": ["C5", "C6", "C7"],
        "rep_id": ["R1", "R2", "R3"],
        "customer_id": ["K2", "K3", "K2"],
        "script_id": ["S1", "S2", "S3"],
        "started_at": ["2026-09-15 10:00:00", "2026-09-16 11:00:00", "2026-10-04 16:30:00"],
        "duration_s": ["200", "5", "60"],
        "outcome": ["callback", "no_answer", "rejected"],
        "objection": ["timing", "", "price"],
    })], ignore_index=True)
    t["orders"] = pd.concat([t["orders"], pd.DataFrame({
        "order_id": ["O2", "O3", "O4"],
        "customer_id": ["K1", "K3", "K2"],
        "rep_id": ["R1", "R2", "R1"],
        "ordered_at": ["2026-10-05 09:00:00", "2026-10-06 09:00:00", "2026-10-10 10:00:00"],
        "amount": ["100", "500", "800"],
        "profit": ["20", "100", "150"],
        "status": ["signed", "cancelled", "paid"],
        "call_id": ["C1", "C3", ""],
    })], ignore_index=True)
    return t


@pytest.fixture
def hand(tmp_path) -> Dataset:
    return load_dataset(write_tables(tmp_path / "hand", hand_tables()))


def rows(frame: pd.DataFrame, key: str) -> dict:
    """{key value: (dials, connected, positive, sales, aht_s, revenue)} for compact comparisons."""
    return {k: (r.dials, r.connected, r.positive, r.sales, r.aht_s, r.revenue)
            for k, r in zip(frame[key], frame.itertuples())}


def same(a, b) -> bool:
    return all((x == y) or (isinstance(x, float) and math.isnan(x) and math.isnan(y)) or
               (isinstance(x, float) and abs(x - y) < 1e-9) for x, y in zip(a, b))


# ----------------------------------------------------------------------------- funnel by hand
HAND = {  # (dials, connected, positive, sales, aht_s, revenue), counted from the table above
    "rep": {"L1": (1, 1, 0, 0, 45.0, 0.0), "R1": (2, 1, 1, 1, 120.0, 2099.5),
            "R2": (1, 1, 1, 0, 300.0, 0.0), "R3": (1, 1, 0, 0, 60.0, 0.0)},
    "team": {"华东一组": (4, 3, 2, 1, 155.0, 2099.5), "华南一组": (1, 1, 0, 0, 60.0, 0.0)},
    "script": {"S1": (2, 2, 2, 1, 210.0, 2099.5), "S2": (2, 1, 0, 0, 45.0, 0.0), "S3": (1, 1, 0, 0, 60.0, 0.0)},
    "scenario": {"cold_call": (4, 3, 2, 1, 155.0, 2099.5), "follow_up": (1, 1, 0, 0, 60.0, 0.0)},
    "hour": {9: (1, 1, 1, 1, 120.0, 2099.5), 10: (1, 0, 0, 0, math.nan, 0.0), 11: (1, 1, 0, 0, 45.0, 0.0),
             14: (1, 1, 1, 0, 300.0, 0.0), 16: (1, 1, 0, 0, 60.0, 0.0)},
    "weekday": {3: (2, 1, 1, 1, 120.0, 2099.5), 4: (1, 1, 1, 0, 300.0, 0.0), 5: (1, 1, 0, 0, 45.0, 0.0),
                6: (1, 1, 0, 0, 60.0, 0.0)},
}


@pytest.mark.parametrize("by", list(HAND))
def test_funnel_matches_hand_counts(hand, by):
    frame = outcomes.funnel(hand, MONTH, by=by)
    key = KEYS[by]
    assert list(frame.columns) == [key] + FUNNEL_VALUES
    got = rows(frame, key)
    assert set(got) == set(HAND[by])
    for k, expected in HAND[by].items():
        assert same(got[k], expected), (by, k, got[k], expected)
    assert list(frame[key]) == sorted(HAND[by])  # sorted by key


def test_funnel_rates_by_hand(hand):
    r1 = outcomes.funnel(hand, MONTH, by="rep").set_index("rep_id").loc["R1"]
    assert r1["contact_rate"] == 0.5 and r1["positive_rate"] == 1.0 and r1["conversion_rate"] == 1.0
    team = outcomes.funnel(hand, MONTH, by="team").set_index("team").loc["华东一组"]
    assert team["contact_rate"] == pytest.approx(3 / 4)
    assert team["positive_rate"] == pytest.approx(2 / 3)
    assert team["conversion_rate"] == pytest.approx(1 / 3)
    hour10 = outcomes.funnel(hand, MONTH, by="hour").set_index("hour").loc[10]
    assert hour10["contact_rate"] == 0.0 and np.isnan(hour10["positive_rate"])  # 0 connected: NaN, not 0


def test_funnel_by_customer_class_uses_the_customers_module(hand):
    classes = class_at_start(hand, MONTH)  # as of the start of the month; new customers are C
    frame = outcomes.funnel(hand, MONTH, by="customer_class")
    # C1, C4 (K1); C2, C7 (K2); C3 (K3)
    expected: dict[str, list[int]] = {}
    for customer, n in (("K1", 2), ("K2", 2), ("K3", 1)):
        expected.setdefault(classes.get(customer, "C"), []).append(n)
    assert dict(zip(frame["customer_class"], frame["dials"])) == {k: sum(v) for k, v in expected.items()}
    assert set(frame["customer_class"]) <= {"A", "B", "C"}


def test_funnel_total_and_keys_add_up(hand):
    total = outcomes.funnel_total(hand, MONTH)
    assert list(total.columns) == ["month"] + FUNNEL_VALUES
    assert same(tuple(total.loc[0, ["dials", "connected", "positive", "sales", "aht_s", "revenue"]]),
                (5, 4, 2, 1, (120 + 300 + 45 + 60) / 4, 2099.5))
    for by in KEYS:
        frame = outcomes.funnel(hand, MONTH, by=by)
        for col in ("dials", "connected", "positive", "sales", "revenue"):
            assert frame[col].sum() == pytest.approx(total.loc[0, col]), (by, col)


def test_revenue_ignores_cancelled_and_sums_linked_orders(hand):
    by_rep = outcomes.funnel(hand, MONTH, by="rep").set_index("rep_id")
    assert by_rep.loc["R1", "revenue"] == 1999.5 + 100  # O1 + O2, both linked to C1
    assert by_rep.loc["R2", "revenue"] == 0.0  # O3 is cancelled


def test_bad_by_and_empty_month(hand):
    with pytest.raises(ParameterError, match=r"by == 'region', must be one of rep\|team\|script"):
        outcomes.funnel(hand, MONTH, by="region")
    with pytest.raises(ParameterError, match=r"no calls in month 2026-08; the data covers 2026-09 to 2026-10"):
        outcomes.funnel(hand, "2026-08")
    with pytest.raises(ParameterError, match=r"month == '2026-13', must be YYYY-MM"):
        outcomes.funnel(hand, "2026-13")


def test_month_calls_columns(hand):
    calls = outcomes.month_calls(hand, MONTH)
    assert list(calls.columns) == ["call_id", "rep_id", "customer_id", "script_id", "started_at", "duration_s",
                                   "outcome", "objection", "scenario", "team", "hour", "weekday",
                                   "customer_class", "connected", "positive", "sale", "revenue"]
    c = calls.set_index("call_id")
    assert list(c.index) == ["C1", "C2", "C3", "C4", "C7"]
    assert c.loc["C7", "team"] == "华南一组" and c.loc["C7", "scenario"] == "follow_up"
    assert (c.loc["C7", "hour"], c.loc["C7", "weekday"]) == (16, 6)
    assert list(c["connected"]) == [True, False, True, True, True]
    assert list(c["positive"]) == [True, False, True, False, False]
    assert list(c["sale"]) == [True, False, False, False, False]
    assert list(c["revenue"]) == [2099.5, 0.0, 0.0, 0.0, 0.0]
    classes = class_at_start(hand, MONTH)
    assert list(c["customer_class"]) == [classes.get(k, "C") for k in c["customer_id"]]


# ----------------------------------------------------------------------------- change, trend, heatmap
def test_funnel_change_by_hand(hand):
    change = outcomes.funnel_change(hand, MONTH, by="rep")
    assert list(change.columns) == ["rep_id", "metric", "current", "previous", "change", "relative_change"]
    assert list(change["metric"][:9]) == FUNNEL_VALUES
    c = change.set_index(["rep_id", "metric"])
    # R1: October C1, C2; September C5 (callback, 200 s)
    assert tuple(c.loc[("R1", "dials"), ["current", "previous", "change", "relative_change"]]) == (2, 1, 1, 1.0)
    assert tuple(c.loc[("R1", "contact_rate"), ["current", "previous", "change"]]) == (0.5, 1.0, -0.5)
    assert tuple(c.loc[("R1", "aht_s"), ["current", "previous", "change"]]) == (120.0, 200.0, -80.0)
    # R2: September only a no_answer: contact 0 -> 1, positive rate undefined before
    assert tuple(c.loc[("R2", "contact_rate"), ["current", "previous", "change"]]) == (1.0, 0.0, 1.0)
    assert np.isnan(c.loc[("R2", "positive_rate"), "previous"]) and np.isnan(c.loc[("R2", "positive_rate"), "change"])
    # L1 and R3 did not call in September: 0 dials, NaN relative change
    assert c.loc[("R3", "dials"), "previous"] == 0 and np.isnan(c.loc[("R3", "dials"), "relative_change"])
    total = outcomes.funnel_change(hand, MONTH, by=None).set_index("metric")
    assert list(total.index) == FUNNEL_VALUES
    assert tuple(total.loc["dials", ["current", "previous", "change"]]) == (5, 2, 3)
    assert total.loc["dials", "relative_change"] == 1.5


def test_funnel_change_without_previous_month(hand):
    change = outcomes.funnel_change(hand, "2026-09", by="team").set_index(["team", "metric"])
    assert change.loc[("华东一组", "dials"), "previous"] == 0
    assert np.isnan(change.loc[("华东一组", "contact_rate"), "previous"])


def test_monthly_trend_by_hand(hand):
    trend = outcomes.monthly_trend(hand, MONTH, months=3)
    assert list(trend.columns) == ["month"] + FUNNEL_VALUES
    assert list(trend["month"]) == ["2026-08", "2026-09", "2026-10"]
    assert list(trend["dials"]) == [0, 2, 5]
    assert list(trend["connected"]) == [0, 1, 4]
    assert trend.loc[1, "aht_s"] == 200.0 and trend.loc[2, "aht_s"] == 131.25
    assert np.isnan(trend.loc[0, "contact_rate"])
    with pytest.raises(ParameterError, match=r"months == 0, must be a whole number >= 1"):
        outcomes.monthly_trend(hand, MONTH, months=0)


def test_heatmap_by_hand(hand):
    grid = outcomes.heatmap(hand, MONTH)
    assert list(grid.columns) == ["hour", "weekday"] + FUNNEL_VALUES
    assert list(zip(grid["hour"], grid["weekday"], grid["dials"])) == [
        (9, 3, 1), (10, 3, 1), (11, 5, 1), (14, 4, 1), (16, 6, 1)]
    assert list(grid["contact_rate"]) == [1.0, 0.0, 1.0, 1.0, 1.0]


# ----------------------------------------------------------------------------- objections
def test_objection_mix_by_hand(hand):
    mix = outcomes.objection_mix(hand, MONTH)
    assert list(mix.columns) == ["objection", "calls", "share", "positive", "recovery_rate"]
    assert list(mix["objection"]) == ["price", "timing", "no_need", "competitor", "trust", "authority"]
    m = mix.set_index("objection")
    # price: C1 (sale) and C7 (rejected); trust: C4 (rejected)
    assert tuple(m.loc["price", ["calls", "positive"]]) == (2, 1)
    assert m.loc["price", "share"] == pytest.approx(2 / 3) and m.loc["price", "recovery_rate"] == 0.5
    assert tuple(m.loc["trust", ["calls", "share", "positive", "recovery_rate"]]) == (1, pytest.approx(1 / 3), 0, 0.0)
    assert m.loc["timing", "calls"] == 0 and np.isnan(m.loc["timing", "recovery_rate"])


def test_objection_mix_by_team(hand):
    mix = outcomes.objection_mix(hand, MONTH, by="team")
    assert list(mix.columns) == ["team", "objection", "calls", "share", "positive", "recovery_rate"]
    m = mix.set_index(["team", "objection"])
    assert tuple(m.loc[("华东一组", "price"), ["calls", "share", "positive"]]) == (1, 0.5, 1)
    assert tuple(m.loc[("华南一组", "price"), ["calls", "share", "positive"]]) == (1, 1.0, 0)
    assert len(mix) == 2 * 6


def test_objection_recovery_by_hand(hand):
    rec = outcomes.objection_recovery(hand, MONTH)
    assert list(rec.columns) == ["connected", "with_objection", "objection_rate", "positive", "recovery_rate"]
    assert tuple(rec.iloc[0]) == (4, 3, 0.75, 1, pytest.approx(1 / 3))
    by_rep = outcomes.objection_recovery(hand, MONTH, by="rep").set_index("rep_id")
    assert tuple(by_rep.loc["R1", ["connected", "with_objection", "positive"]]) == (1, 1, 1)
    assert np.isnan(by_rep.loc["R2", "recovery_rate"])


# ----------------------------------------------------------------------------- follow-up speed
def test_followup_speed_by_hand(hand):
    speed = outcomes.followup_speed(hand, MONTH)
    assert list(speed.columns) == ["order_id", "customer_id", "rep_id", "team", "call_id",
                                   "first_positive_at", "ordered_at", "days"]
    # O1: first positive call C1 (10-01 09:30) -> 10-02 10:00 = 1 day 30 min
    # O2: K1's previous order O1 came after C1 and no positive call since: left out
    # O3: cancelled; O4: K2's only positive call is C5 (09-15 10:00, by R1) -> 25 days
    assert list(speed["order_id"]) == ["O1", "O4"]
    assert list(speed["call_id"]) == ["C1", "C5"]
    assert list(speed["rep_id"]) == ["R1", "R1"]
    assert speed["days"].tolist() == pytest.approx([1 + 0.5 / 24, 25.0])
    summary = outcomes.followup_summary(hand, MONTH, by="rep")
    assert list(summary.columns) == ["rep_id", "orders", "median_days", "q25_days", "q75_days", "mean_days",
                                     "within_7d_share"]
    r1 = summary.set_index("rep_id").loc["R1"]
    assert r1["orders"] == 2 and r1["median_days"] == pytest.approx((1 + 0.5 / 24 + 25) / 2)
    assert r1["within_7d_share"] == 0.5
    overall = outcomes.followup_summary(hand, MONTH, by=None)
    assert list(overall.columns) == ["orders", "median_days", "q25_days", "q75_days", "mean_days", "within_7d_share"]
    assert overall.loc[0, "orders"] == 2
    with pytest.raises(ParameterError, match=r"by == 'script', must be one of rep\|team\|None"):
        outcomes.followup_summary(hand, MONTH, by="script")


def test_followup_speed_month_without_orders(hand):
    speed = outcomes.followup_speed(hand, "2026-09")
    assert speed.empty and list(speed.columns)[-1] == "days"
    assert outcomes.followup_summary(hand, "2026-09", by=None).loc[0, "orders"] == 0


# ----------------------------------------------------------------------------- generated data: reference
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from telesales_lab.data.demo import write_demo

    folder = tmp_path_factory.mktemp("outcomes-demo")
    truth = write_demo(folder, seed=11, n_calls=20_000, n_customers=1500)
    return load_dataset(folder, cache=False), truth, folder


def reference_funnel(data, month: str, by: str) -> pd.DataFrame:
    """The funnel the slow, obvious way: merges, dt accessors and one loop over groups."""
    calls = data.calls
    c = calls[calls["started_at"].dt.to_period("M") == pd.Period(month, "M")].copy()
    outcome = c["outcome"].astype(str)
    c["is_conn"] = outcome != "no_answer"
    c["is_pos"] = outcome.isin(["callback", "interested", "sale"])
    c["is_sale"] = outcome == "sale"
    orders = data.orders[data.orders["status"].astype(str) != "cancelled"].dropna(subset=["call_id"])
    rev = orders.groupby("call_id")["amount"].sum().rename("rev").reset_index()
    c = c.merge(rev, on="call_id", how="left")
    c["rev"] = c["rev"].fillna(0.0)
    c = c.merge(data.reps[["rep_id", "team"]], on="rep_id").merge(data.scripts[["script_id", "scenario"]],
                                                                   on="script_id")
    c["hour"] = c["started_at"].dt.hour
    c["weekday"] = c["started_at"].dt.day_of_week
    c["customer_class"] = c["customer_id"].map(class_at_start(data, month)).fillna("C")
    key = KEYS[by]
    out = []
    for value, g in c.groupby(key):
        conn = g[g["is_conn"]]
        n_conn = len(conn)
        out.append({
            key: value, "dials": len(g), "connected": n_conn, "positive": int(g["is_pos"].sum()),
            "sales": int(g["is_sale"].sum()), "contact_rate": n_conn / len(g),
            "positive_rate": g["is_pos"].sum() / n_conn if n_conn else np.nan,
            "conversion_rate": g["is_sale"].sum() / n_conn if n_conn else np.nan,
            "aht_s": conn["duration_s"].mean() if n_conn else np.nan, "revenue": g["rev"].sum(),
        })
    return pd.DataFrame(out).sort_values(key).reset_index(drop=True)


@pytest.mark.parametrize("by", list(KEYS))
def test_funnel_matches_reference_on_generated_data(demo, by):
    data, _, _ = demo
    got = outcomes.funnel(data, MONTH, by=by)
    want = reference_funnel(data, MONTH, by)
    key = KEYS[by]
    assert list(got[key].astype(object)) == list(want[key].astype(object))
    for col in FUNNEL_VALUES:
        np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float), rtol=1e-9, err_msg=col)


def test_funnel_change_matches_reference(demo):
    data, _, _ = demo
    change = outcomes.funnel_change(data, MONTH, by="script").set_index(["script_id", "metric"])
    now = reference_funnel(data, MONTH, "script").set_index("script_id")
    before = reference_funnel(data, "2026-09", "script").set_index("script_id")
    for script in now.index:
        for metric in ("dials", "conversion_rate", "aht_s", "revenue"):
            row = change.loc[(script, metric)]
            assert row["current"] == pytest.approx(now.loc[script, metric])
            assert row["previous"] == pytest.approx(before.loc[script, metric])
            assert row["change"] == pytest.approx(now.loc[script, metric] - before.loc[script, metric])


def test_objection_mix_matches_value_counts(demo):
    data, _, _ = demo
    c = data.calls[data.calls["started_at"].dt.to_period("M") == pd.Period(MONTH, "M")]
    raised = c[c["objection"].notna()]
    counts = raised["objection"].astype(str).value_counts()
    pos = raised[raised["outcome"].astype(str).isin(["callback", "interested", "sale"])]["objection"].astype(str)
    mix = outcomes.objection_mix(data, MONTH).set_index("objection")
    for objection, n in counts.items():
        assert mix.loc[objection, "calls"] == n
        assert mix.loc[objection, "share"] == pytest.approx(n / len(raised))
        assert mix.loc[objection, "positive"] == (pos == objection).sum()
    rec = outcomes.objection_recovery(data, MONTH)
    assert rec.loc[0, "recovery_rate"] == pytest.approx(len(pos) / len(raised))


def test_followup_speed_matches_loop_reference(demo):
    data, _, _ = demo
    p = pd.Period(MONTH, "M")
    end = (p + 1).start_time
    orders = data.orders[(data.orders["status"].astype(str) != "cancelled") & (data.orders["ordered_at"] < end)]
    calls = data.calls[data.calls["outcome"].astype(str).isin(["callback", "interested", "sale"])]
    calls_of = {k: g.sort_values("started_at") for k, g in calls.groupby("customer_id")}
    orders_of = {k: g for k, g in orders.groupby("customer_id")}
    expected = {}
    for order in orders[orders["ordered_at"] >= p.start_time].itertuples():
        mine = orders_of[order.customer_id]
        earlier = mine.loc[mine["ordered_at"] < order.ordered_at, "ordered_at"]
        since = earlier.max() if len(earlier) else pd.Timestamp.min
        g = calls_of.get(order.customer_id)
        if g is None:
            continue
        window = g[(g["started_at"] > since) & (g["started_at"] <= order.ordered_at)]
        if len(window):
            first = window.iloc[0]
            expected[order.order_id] = (first["call_id"], (order.ordered_at - first["started_at"]).total_seconds() / 86400)
    speed = outcomes.followup_speed(data, MONTH)
    assert len(speed) > 50
    got = {r.order_id: (r.call_id, r.days) for r in speed.itertuples()}
    assert set(got) == set(expected)
    for order_id, (call_id, days) in expected.items():
        assert got[order_id][0] == call_id
        assert got[order_id][1] == pytest.approx(days)
    assert (speed["days"] >= 0).all()


def test_shuffled_calls_give_the_same_funnel(demo):
    data, _, _ = demo
    shuffled = Dataset(data.source, {**data.tables,
                                     "calls": data.calls.sample(frac=1.0, random_state=3).reset_index(drop=True)})
    for by in ("rep", "customer_class", "hour"):
        pd.testing.assert_frame_equal(outcomes.funnel(data, MONTH, by=by), outcomes.funnel(shuffled, MONTH, by=by))


def test_kept_month_arrays_follow_the_tables(demo):
    """A month's tables share the per-call arrays kept in ``data.cache``: they equal those of a
    data set with an empty cache, and a data set with other orders gets its own revenue."""
    data, _, _ = demo
    warm = outcomes.funnel(data, MONTH, by="team")
    outcomes.funnel_change(data, MONTH, by="rep")
    outcomes.objection_mix(data, MONTH, by="script")
    fresh = Dataset(data.source, dict(data.tables))
    for by in ("team", "rep", "customer_class", "weekday"):
        pd.testing.assert_frame_equal(outcomes.funnel(data, MONTH, by=by), outcomes.funnel(fresh, MONTH, by=by))
    pd.testing.assert_frame_equal(outcomes.monthly_trend(data, MONTH, 3), outcomes.monthly_trend(fresh, MONTH, 3))
    halved = data.replace(orders=data.orders.assign(amount=data.orders["amount"] / 2))
    got = outcomes.funnel(halved, MONTH, by="team")
    assert warm["revenue"].sum() > 0
    np.testing.assert_allclose(got["revenue"].to_numpy(float), warm["revenue"].to_numpy(float) / 2)
    pd.testing.assert_frame_equal(got.drop(columns="revenue"), warm.drop(columns="revenue"))
    speed = outcomes.followup_speed(data, MONTH)
    speed["days"] = -1.0  # writing to the returned frame leaves the kept one alone
    assert (outcomes.followup_speed(data, MONTH)["days"] >= 0).all()


# ----------------------------------------------------------------------------- generated data: planted truth
def test_newcomer_row_matches_planted_counts(demo):
    data, truth, _ = demo
    row = outcomes.funnel(data, MONTH, by="rep").set_index("rep_id").loc[truth["newcomer_rep_id"]]
    assert (row["dials"], row["connected"], row["sales"]) == (
        truth["newcomer"]["calls"], truth["newcomer"]["connected"], truth["newcomer"]["sales"])


def test_objection_shares_recover_planted_shares(demo):
    data, truth, _ = demo
    mix = outcomes.objection_mix(data, MONTH).set_index("objection")
    n = mix["calls"].sum()
    for objection, share in truth["outcome_model"]["objection_type_shares"].items():
        sd = math.sqrt(share * (1 - share) / n)
        assert abs(mix.loc[objection, "share"] - share) < 4 * sd, objection


def test_contact_rates_follow_planted_hour_and_scenario_effects(demo):
    from scipy.stats import spearmanr

    data, truth, _ = demo
    model = truth["outcome_model"]
    hours = outcomes.funnel(data, MONTH, by="hour").set_index("hour")
    effects = pd.Series({int(h): e for h, e in model["connect_hour_effects"].items()})
    common = hours.index.intersection(effects.index)
    rho = spearmanr(hours.loc[common, "contact_rate"], effects.loc[common]).statistic
    assert rho > 0.7
    scen = outcomes.funnel(data, MONTH, by="scenario").set_index("scenario")["contact_rate"]
    planted = pd.Series(model["connect_scenario_effects"])
    # cold calls are planted 0.5 log-odds or more below every other scenario (the others lie
    # within 0.2 of each other, too close to order reliably from one month of calls)
    assert planted.idxmin() == "cold_call" == scen.idxmin()
    assert (scen.drop("cold_call") - scen["cold_call"]).min() > 0.05


# ----------------------------------------------------------------------------- plots and the font
def test_setup_registers_the_bundled_cjk_font():
    import matplotlib

    from telesales_lab.present import plots

    path = plots.font_path()
    assert path.is_file() and "mplfonts" in str(path)
    family = plots.setup("zh")
    assert plots.setup("zh") == family  # idempotent
    assert matplotlib.rcParams["font.sans-serif"][0] == family
    assert matplotlib.rcParams["font.sans-serif"].count(family) == 1
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    with pytest.raises(ParameterError, match=r"lang == 'fr', must be one of en\|zh"):
        plots.setup("fr")


def test_plots_draw_chinese_without_missing_glyphs(hand):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from telesales_lab.present import plots

    plots.setup("zh")
    figures = [
        plots.funnel_chart(outcomes.funnel(hand, MONTH, by="team"), "zh"),
        plots.stage_chart(outcomes.funnel_total(hand, MONTH), "zh"),
        plots.heatmap_chart(outcomes.heatmap(hand, MONTH), "zh"),
        plots.trend_chart(outcomes.monthly_trend(hand, MONTH, 3), "zh"),
        plots.objection_chart(outcomes.objection_mix(hand, MONTH), "zh"),
        plots.followup_chart(outcomes.followup_speed(hand, MONTH), "zh"),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fig in figures:
            FigureCanvasAgg(fig).draw()
    glyph_problems = [str(w.message) for w in caught
                      if "missing from font" in str(w.message) or "Glyph" in str(w.message)]
    assert glyph_problems == []
    titles = [fig._suptitle.get_text() for fig in figures if fig._suptitle is not None]
    titles += [ax.get_title() for fig in figures for ax in fig.axes]
    assert {"各小组转化漏斗", "漏斗阶段", "月度趋势"} <= set(titles)
    ticks = [t.get_text() for t in figures[1].axes[0].get_yticklabels()]
    assert ticks == ["拨打量", "接通量", "积极结果", "成交量"]
    assert [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()] == ["接通率", "积极率", "成交率"]


def test_missing_glyphs_would_be_caught():
    """The glyph check above can fail: without the CJK font, DejaVu Sans warns."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    fig.suptitle("转化漏斗", fontfamily="DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FigureCanvasAgg(fig).draw()
    assert any("missing from font" in str(w.message) or "Glyph" in str(w.message) for w in caught)


# ----------------------------------------------------------------------------- CLI
def test_cli_funnel_csv_columns(hand, capsys):
    code = cli.main(["funnel", str(hand.source), "--month", MONTH, "--by", "script", "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "script_id,dials,connected,positive,sales,contact_rate,positive_rate,conversion_rate,aht_s,revenue"
    assert lines[1].startswith("S1,2,2,2,1,1.0,1.0,0.5,210.0,2099.5")
    # zh affects the table format only
    assert cli.main(["funnel", str(hand.source), "--month", MONTH, "--by", "team", "--format", "csv",
                     "--lang", "zh"]) == 0
    assert capsys.readouterr().out.startswith("team,dials,connected")
    assert cli.main(["funnel", str(hand.source), "--month", MONTH, "--by", "team", "--lang", "zh"]) == 0
    table = capsys.readouterr().out
    assert "小组" in table and "接通率" in table and "华南一组" in table


def test_cli_empty_month_exits_2_without_traceback(hand):
    proc = subprocess.run([sys.executable, "-m", "telesales_lab.cli", "funnel", str(hand.source),
                           "--month", "2026-07", "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: no calls in month 2026-07; the data covers 2026-09 to 2026-10" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--month", MONTH, "--by", "region"], "argument --by: invalid choice: 'region'"),
    (["--month", "10/2026"], "error: month == '10/2026', must be YYYY-MM"),
])
def test_cli_funnel_user_errors_exit_2(hand, capsys, args, message):
    try:
        code = cli.main(["funnel", str(hand.source), *args, "--format", "csv"])
    except SystemExit as exc:  # argparse rejects a bad choice itself, with status 2
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


# ----------------------------------------------------------------------------- the notebook
@pytest.mark.slow
def test_notebook_runs_with_papermill(demo, tmp_path):
    import nbformat
    import papermill as pm

    data, _, folder = demo
    notebook = ROOT / "notebooks" / "01_call_outcomes.ipynb"
    stored = nbformat.read(notebook, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in stored.cells
               if c.cell_type == "code"), "store the notebook without outputs"
    assert [c for c in stored.cells if "parameters" in c.metadata.get("tags", [])]

    out_dir = tmp_path / "report"
    params = {"data_dir": str(folder), "month": MONTH, "lang": "zh", "output_dir": str(out_dir)}
    executed = tmp_path / "01_call_outcomes.ipynb"
    pm.execute_notebook(str(notebook), str(executed), parameters=params, kernel_name="python3",
                        cwd=str(notebook.parent), progress_bar=False)
    nb = nbformat.read(executed, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    for name, value in params.items():
        assert f"{name} = {json.dumps(value, ensure_ascii=False)}" in injected[0].source.replace("'", '"')
    assert nb.metadata["papermill"]["parameters"] == params

    tables = out_dir / "tables"
    written = {p.stem for p in tables.glob("*.parquet")}
    assert {"funnel_total", "funnel_team", "funnel_rep", "funnel_script", "funnel_customer_class",
            "funnel_change_total", "funnel_change_team", "monthly_trend", "hour_weekday", "objection_mix",
            "objection_recovery_team", "followup_team", "followup_rep", "followup_orders"} <= written
    saved = pd.read_parquet(tables / "funnel_team.parquet")
    pd.testing.assert_frame_equal(saved, outcomes.funnel(data, MONTH, by="team"), check_dtype=False)
    trend = pd.read_parquet(tables / "monthly_trend.parquet")
    assert list(trend["month"]) == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]

    text = executed.read_text(encoding="utf-8")
    assert "通话结果分析" in text and "各小组转化漏斗" in text  # headings follow lang="zh"
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 8
    customers = data.customers
    names = [n for n in customers["name"] if len(n) >= 3]  # two-character names can occur in ordinary words
    for value in list(customers["phone"]) + names:
        assert value not in text
