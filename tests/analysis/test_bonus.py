"""Bonus statements against a hand calculation, bad tiers, collections, and the three commands."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables, write_tables
from telesales_lab.analysis import bonus as B
from telesales_lab.analysis.evaluation import evaluate
from telesales_lab.analysis.payments import COLUMNS as COLLECTION_COLUMNS
from telesales_lab.analysis.payments import collections, collections_by_rep
from telesales_lab.data.load import load_dataset
from telesales_lab.data.policy import resolve_policy
from telesales_lab.exceptions import PolicyError


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder()
    raw = {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
           for name in ("reps", "orders", "feedback", "customers")}
    return folder, load_dataset(folder, cache=False), raw, truth


def _hand_multiplier(a: float) -> float:
    """The shipped tiers written out by hand (defaults/policy.toml), cap 2.0, threshold 0.6."""
    if a < 0.6:
        return 0.0
    if a < 0.8:
        return 0.5
    if a < 1.0:
        return 0.8 + 1.0 * (a - 0.8)
    if a < 1.2:
        return 1.0 + 1.5 * (a - 1.0)
    return min(1.3 + 2.0 * (a - 1.2), 2.0)


def _hand_open_complaints(raw) -> pd.Series:
    fb = raw["feedback"]
    received = pd.to_datetime(fb["received_at"])
    resolved = pd.to_datetime(fb["resolved_at"].replace("", None))
    open_ = ((received >= "2026-10-01") & (received < "2026-11-01") & (fb["complaint"] == "true")
             & ~(resolved < "2026-11-01"))
    return fb[open_].groupby("rep_id").size()


def test_planted_statements_equal_a_hand_calculation(demo):
    _, data, raw, truth = demo
    planted = truth["targets"]
    statement = B.bonus_statement(data, "2026-10").set_index("rep_id")
    grades = evaluate(data, "2026-10").set_index("rep_id")["grade"]
    complaints = _hand_open_complaints(raw)
    order = {"A": 0, "B": 1, "C": 2, "D": 3}
    for rep, fact in planted["planted"].items():
        row = statement.loc[rep]
        a = fact["actual"] / fact["target"]
        assert row["attainment"] == pytest.approx(a, rel=1e-12)
        assert row["base"] == 3000.0  # every planted rep has the role rep
        assert row["multiplier"] == pytest.approx(_hand_multiplier(a), rel=1e-12)
        gates_ok = order[grades[rep]] <= order["C"] and complaints.get(rep, 0) <= 0
        assert row["bonus"] == pytest.approx(3000.0 * _hand_multiplier(a) if gates_ok else 0.0, rel=1e-12)
        assert pd.isna(row["gates_failed"]) == gates_ok
    # below the threshold nothing is paid; the planted over-achievers hit the cap
    for rep in planted["under_achiever_ids"]:
        assert statement.loc[rep, "multiplier"] == 0 and pd.isna(statement.loc[rep, "tier"])
        assert statement.loc[rep, "next_tier"] == "60-80%"
    for rep in planted["over_achiever_ids"]:
        assert statement.loc[rep, "tier"] == "120%+" and statement.loc[rep, "capped"]
        assert statement.loc[rep, "multiplier"] == 2.0


def test_every_statement_follows_the_tiers(demo):
    _, data, raw, _ = demo
    s = B.bonus_statement(data, "2026-10")
    want = s["attainment"].map(_hand_multiplier)
    np.testing.assert_allclose(s["multiplier"], want, rtol=1e-12, atol=1e-12)
    passed = s["gates_failed"].isna()
    np.testing.assert_allclose(s["bonus"], np.where(passed, s["base"] * want, 0.0), rtol=1e-12)
    # the gap to the next tier: the result still needed, and orders at the rep's average order
    has = s["next_tier_attainment"].notna()
    gap = s.loc[has, "next_tier_attainment"] * s.loc[has, "target"] - s.loc[has, "actual"]
    np.testing.assert_allclose(s.loc[has, "gap_to_next_tier"], gap.clip(lower=0), rtol=1e-12)
    need = np.ceil(s.loc[has, "gap_to_next_tier"] / s.loc[has, "average_order"] - 1e-9)
    np.testing.assert_array_equal(s.loc[has, "orders_needed"].astype(float), need)
    # the pay at the next tier, for a rep whose gates pass
    ok = has & passed
    np.testing.assert_allclose(s.loc[ok, "gap_money"],
                               s.loc[ok, "base"] * s.loc[ok, "next_tier_attainment"].map(_hand_multiplier)
                               - s.loc[ok, "bonus"], rtol=1e-12)
    # average order by hand: the rep's non-cancelled orders in August-October
    o = raw["orders"]
    t = pd.to_datetime(o["ordered_at"])
    sel = (o["status"] != "cancelled") & (t >= "2026-08-01") & (t < "2026-11-01")
    avg = o[sel].assign(amount=o.loc[sel, "amount"].astype(float)).groupby("rep_id")["amount"].mean()
    np.testing.assert_allclose(s.set_index("rep_id")["average_order"], avg.reindex(s["rep_id"]), rtol=1e-9)


def test_gates_name_their_reason(demo):
    _, data, _, _ = demo
    strict = B.bonus(data, "2026-10", policy={"bonus": {"min_grade": "A", "max_unresolved_complaints": 5}})
    failed = strict[strict["gates_failed"].notna()]
    assert len(failed) and (failed["bonus"] == 0).all()
    assert failed["gates_failed"].str.match(r"^grade (B|C|D|none) < A$").all()


@pytest.mark.parametrize("tiers, match", [
    ([{"from": 0.6, "to": 0.9, "multiplier": 0.5}, {"from": 0.8, "multiplier": 1.0}],
     r"\[bonus.tiers #2\] from = 0.8: overlaps the tier before, which runs to 0.9"),
    ([{"from": 0.8, "to": 1.0, "multiplier": 0.5}, {"from": 0.6, "multiplier": 1.0}],
     r"\[bonus.tiers #2\] from = 0.6: tiers must be sorted by 'from'; the tier before starts at 0.8"),
    ([{"from": 0.6, "to": 0.8, "multiplier": -0.5}, {"from": 0.8, "multiplier": 1.0}],
     r"\[bonus.tiers #1\] multiplier = -0.5: must not be negative"),
    ([{"from": 0.6, "to": 0.8, "multiplier": 0.5}, {"from": 0.9, "multiplier": 1.0}],
     r"\[bonus.tiers #2\] from = 0.9: leaves a gap: the tier before ends at 0.8"),
    ([{"from": 0.6, "to": 0.5, "multiplier": 0.5}], r"\[bonus.tiers #1\] to = 0.5: must be above from = 0.6"),
    ([{"from": 0.6, "multiplier": 0.5, "rate": 1}], r"\[bonus.tiers #1\] rate = 1: unknown key"),
    ([], r"\[\[bonus.tiers\]\]: list at least one tier"),
])
def test_bad_tiers_are_refused(tiers, match):
    with pytest.raises(PolicyError, match=match):
        resolve_policy({"bonus": {"tiers": tiers}})


def test_bad_bonus_settings_are_refused():
    with pytest.raises(PolicyError, match=r"\[bonus\] min_grade = 'Z': must be one of the grades A\|B\|C\|D"):
        resolve_policy({"bonus": {"min_grade": "Z"}})
    with pytest.raises(PolicyError, match=r"\[bonus.base\] rep = -1: must be >= 0"):
        resolve_policy({"bonus": {"base": {"rep": -1}}})
    with pytest.raises(PolicyError, match=r"\[bonus.base\] intern: unknown key"):
        resolve_policy({"bonus": {"base": {"intern": 1}}})
    with pytest.raises(PolicyError, match=r"\[targets\] split = 'largest': must be last_quarter or equal"):
        resolve_policy({"targets": {"split": "largest"}})


# ----------------------------------------------------------------------------- collections
def test_collections_are_signed_orders_open_past_the_limit(demo):
    _, data, raw, _ = demo
    out = collections(data, "2026-10")
    assert list(out.columns) == COLLECTION_COLUMNS
    o = raw["orders"]
    signed = pd.to_datetime(o["ordered_at"]).dt.normalize()
    days = (pd.Timestamp("2026-10-31") - signed).dt.days
    want = o[(o["status"] == "signed") & (days >= 30)]
    assert set(out["order_id"]) == set(want["order_id"])
    got = out.set_index("order_id")
    np.testing.assert_array_equal(got.loc[want["order_id"], "days_open"], days[want.index])
    assert ((got["days_open"] >= 60) == (got["status"] == "escalate")).all()
    assert out["days_open"].is_monotonic_decreasing
    # ids only: no customer's name or phone anywhere in the table
    text = out.to_csv()
    for column in ("name", "phone"):
        assert not any(v in text for v in raw["customers"][column].head(300))
    per_rep = collections_by_rep(out, data.reps)
    assert per_rep["orders"].sum() == len(out)
    np.testing.assert_allclose(per_rep["amount"].sum(), out["amount"].sum())


# ----------------------------------------------------------------------------- commands
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "telesales_lab.cli", *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8")


def test_commands_write_csv_with_the_documented_columns(demo):
    folder = demo[0]
    for cmd, header in (("targets", "rep_id,team,metric,target,actual,attainment,forecast,forecast_low,"
                                    "forecast_high,status"),
                        ("bonus", "rep_id,team,attainment,tier,base,multiplier,bonus,gates_failed"),
                        ("collections", "order_id,customer_id,rep_id,signed_on,amount,days_open,status")):
        r = _cli(cmd, folder, "--month", "2026-10", "--format", "csv")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0] == header
        assert len(r.stdout.splitlines()) > 10
    r = _cli("targets", folder, "--month", "2026-10", "--as-of", "2026-10-15", "--lang", "zh")
    assert r.returncode == 0 and "达成率" in r.stdout and "有风险" in r.stdout


def test_without_targets_the_commands_say_so(tmp_path):
    folder = write_tables(tmp_path / "d", tiny_tables())
    for cmd in ("targets", "bonus"):
        r = _cli(cmd, folder, "--month", "2026-10")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "no targets set: the data set has no targets table"
    r = _cli("collections", folder, "--month", "2026-10", "--format", "csv")
    assert r.returncode == 0 and r.stdout.splitlines()[0].startswith("order_id,")


def test_bad_policy_or_as_of_exit_2_without_traceback(demo, tmp_path):
    folder = demo[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("[[bonus.tiers]]\nfrom = 0.6\nto = 0.9\nmultiplier = 0.5\n"
                   "[[bonus.tiers]]\nfrom = 0.8\nmultiplier = 1.0\n", encoding="utf-8")
    r = _cli("bonus", folder, "--month", "2026-10", "--policy", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"error: {bad}: [bonus.tiers #2] from = 0.8: overlaps the tier before, which runs to 0.9"
    r = _cli("targets", folder, "--month", "2026-10", "--as-of", "2026-11-05")
    assert r.returncode == 2 and "must be a day of the month 2026-10" in r.stderr


# ----------------------------------------------------------------------------- the coaching pack
def test_coaching_pack_shows_targets_bonus_gap_and_collections(demo):
    from telesales_lab.analysis.coaching import coaching_pack
    from telesales_lab.present.coaching_page import render_html

    _, data, _, truth = demo
    statement = B.bonus_statement(data, "2026-10").set_index("rep_id")
    # a rep with a next tier to reach and gates passed
    rep = statement[statement["gates_failed"].isna() & (statement["orders_needed"] > 0)].index[0]
    for lang, words in (("en", "more sales at your average order"), ("zh", "再成交")):
        pack = coaching_pack(data, "2026-10", rep, lang=lang)
        targets = pack["targets"].set_index("metric")
        assert targets.loc["revenue", "attainment"] == pytest.approx(statement.loc[rep, "attainment"], rel=1e-12)
        takes = pack["bonus"]["what_it_takes"].iloc[0]
        assert str(int(statement.loc[rep, "orders_needed"])) in takes and words in takes
        assert pack["bonus"]["gap_money"].iloc[0] == pytest.approx(statement.loc[rep, "gap_money"])
        own = collections(data, "2026-10").query("rep_id == @rep")
        assert list(pack["collections"]["order_id"]) == list(own["order_id"])
        page = render_html(pack)
        assert takes.split(" (")[0].split("（")[0] in page
    under = truth["targets"]["under_achiever_ids"][0]
    assert "(at risk)" in coaching_pack(data, "2026-10", under)["summary"]


def test_coaching_pack_without_targets_still_renders(tmp_path):
    from telesales_lab.analysis.coaching import coaching_pack
    from telesales_lab.present.coaching_page import render_html

    data = load_dataset(write_tables(tmp_path / "d", tiny_tables()), cache=False)
    pack = coaching_pack(data, "2026-10", "R1")
    assert pack["targets"].empty and pack["bonus"].empty
    assert "Target (" not in pack["summary"]
    assert "nothing this month" in render_html(pack)
