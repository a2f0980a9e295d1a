"""The demo generator: determinism, a valid data model, and the planted truth it promises."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from telesales_lab.data.demo import generate_demo, write_demo
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.schema import CONNECTED_OUTCOMES, OBJECTIONS, ORDER_STATUSES, OUTCOMES, ROLES, SKILLS, TABLES, TRAINING_AREAS, TRAINING_METHODS

SMALL = dict(n_calls=20_000, n_customers=1_000)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def small():
    return generate_demo(seed=3, **SMALL)


@pytest.fixture(scope="module")
def default():
    """The demo exactly as ``make demo`` writes it."""
    return generate_demo()


def _sale_rate(calls: pd.DataFrame) -> pd.Series:
    connected = calls[calls["outcome"].isin(CONNECTED_OUTCOMES)]
    return connected["outcome"].eq("sale").groupby(connected["script_id"]).mean()


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_tables_and_truth(small):
    tables, truth = small
    again, truth_again = generate_demo(seed=3, **SMALL)
    assert tables.keys() == again.keys()
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], again[name], obj=name)
    assert truth == truth_again


def test_different_seed_gives_different_data(small):
    tables, truth = small
    other, other_truth = generate_demo(seed=4, **SMALL)
    assert not tables["calls"].equals(other["calls"])
    assert not tables["customers"]["phone"].equals(other["customers"]["phone"])
    assert truth["rep_skills"] != other_truth["rep_skills"]


# ----------------------------------------------------------------------------- data model
def test_every_table_has_exactly_the_canonical_columns(small):
    tables, _ = small
    assert set(tables) == set(TABLES)
    for name, frame in tables.items():
        # the canonical columns in order; of the optional ones, only reps.is_person is left out
        assert list(frame.columns) == [c for c in TABLES[name] if c != "is_person"], name


def test_ids_are_unique_and_references_exist(small):
    t, _ = small
    for table, key in (("reps", "rep_id"), ("customers", "customer_id"), ("scripts", "script_id"),
                       ("calls", "call_id"), ("orders", "order_id"), ("feedback", "feedback_id"),
                       ("training_catalog", "module_id")):
        assert t[table][key].notna().all() and t[table][key].is_unique, table
    reps, customers, calls = set(t["reps"]["rep_id"]), set(t["customers"]["customer_id"]), set(t["calls"]["call_id"])
    assert set(t["reps"]["manager_id"].dropna()) <= reps
    assert set(t["calls"]["rep_id"]) <= reps
    assert set(t["calls"]["customer_id"]) <= customers
    assert set(t["calls"]["script_id"]) <= set(t["scripts"]["script_id"])
    for table in ("orders", "feedback"):
        assert set(t[table]["rep_id"]) <= reps
        assert set(t[table]["customer_id"]) <= customers
        assert set(t[table]["call_id"].dropna()) <= calls
    assert set(t["assessments"]["rep_id"]) | set(t["assessments"]["assessor_id"]) <= reps
    assert set(t["training_log"]["rep_id"]) <= reps
    assert set(t["training_log"]["module_id"]) <= set(t["training_catalog"]["module_id"])


def test_categories_ranges_and_formats(small):
    t, _ = small
    reps, calls, orders, fb, asm = t["reps"], t["calls"], t["orders"], t["feedback"], t["assessments"]
    assert set(reps["role"]) == set(ROLES)
    assert set(calls["outcome"]) == set(OUTCOMES) - {"service"}  # the neutral outcome is not generated
    assert set(calls["objection"].dropna()) == set(OBJECTIONS)
    assert set(orders["status"]) == set(ORDER_STATUSES)
    assert set(asm["skill"]) == set(SKILLS)
    cat = t["training_catalog"]
    assert set(cat["skill"]) == set(SKILLS)
    assert set(cat["area"]) == set(TRAINING_AREAS)
    assert set(cat["method"]) <= set(TRAINING_METHODS)
    assert (cat["hours"] >= 0).all()

    assert (calls["duration_s"] >= 0).all()
    assert calls.loc[calls["outcome"] == "no_answer", "duration_s"].le(20).all()
    assert calls.loc[calls["outcome"] == "no_answer", "objection"].isna().all()
    assert calls.loc[calls["outcome"] == "no_answer", "transcript"].isna().all()
    assert (orders["amount"] >= 0).all()
    assert fb["score"].between(1, 5).all()
    assert asm["score"].between(0, 100).all()
    assert set(fb["complaint"]) <= {"true", "false"}
    assert set(t["training_log"]["completed"]) <= {"true", "false"}
    assert fb.loc[fb["complaint"] == "false", "resolved_at"].isna().all()

    for table, column, pattern in (("reps", "hired_on", DATE), ("customers", "acquired_on", DATE),
                                   ("calls", "started_at", DATETIME), ("orders", "ordered_at", DATETIME),
                                   ("feedback", "received_at", DATETIME), ("assessments", "assessed_on", DATE),
                                   ("training_log", "date", DATE)):
        assert t[table][column].str.match(pattern).all(), f"{table}.{column}"
    assert t["customers"]["birthday"].dropna().str.match(DATE).all()
    assert fb["resolved_at"].dropna().str.match(DATETIME).all()

    phones = t["customers"]["phone"]
    assert phones.str.fullmatch(r"1\d{10}").all() and phones.is_unique


def test_times_are_consistent(small):
    t, truth = small
    calls = t["calls"].assign(started=lambda d: pd.to_datetime(d["started_at"]))
    assert calls["started"].min() >= pd.Timestamp(truth["window"]["start"])
    assert calls["started"].max() < pd.Timestamp(truth["window"]["end"]) + pd.Timedelta(days=1)
    assert calls["started"].dt.hour.between(9, 19).all()
    assert (calls["started"].dt.day_of_week < 6).all()
    hired = t["reps"].set_index("rep_id")["hired_on"].map(pd.Timestamp)
    assert (calls["started"] >= calls["rep_id"].map(hired)).all()
    acquired = pd.to_datetime(t["customers"].set_index("customer_id")["acquired_on"])
    first_call = calls.groupby("customer_id")["started"].min()
    assert (acquired.reindex(first_call.index) <= first_call).all()
    first_order = pd.to_datetime(t["orders"].groupby("customer_id")["ordered_at"].min())
    assert (acquired.reindex(first_order.index) <= first_order).all()
    order_hired = pd.to_datetime(t["orders"]["rep_id"].map(hired))
    assert (order_hired <= pd.to_datetime(t["orders"]["ordered_at"])).all()

    orders = t["orders"].merge(calls[["call_id", "started"]], on="call_id", how="left")
    with_call = orders["call_id"].notna()
    assert (pd.to_datetime(orders.loc[with_call, "ordered_at"]) >= orders.loc[with_call, "started"]).all()
    fb = t["feedback"].dropna(subset=["resolved_at"])
    assert (pd.to_datetime(fb["resolved_at"]) > pd.to_datetime(fb["received_at"])).all()


def test_chain_of_command(small):
    t, truth = small
    reps = t["reps"].set_index("rep_id")
    role_of_boss = reps["manager_id"].map(reps["role"])
    assert reps.loc[reps["role"] == "manager", "manager_id"].isna().all()
    assert (role_of_boss[reps["role"] == "rep"] == "team_lead").all()
    assert (role_of_boss[reps["role"] == "team_lead"] == "supervisor").all()
    assert (role_of_boss[reps["role"] == "supervisor"] == "manager").all()
    n_teams = truth["params"]["n_teams"]
    assert (reps["role"] == "team_lead").sum() == n_teams
    assert (reps["role"] == "rep").sum() == n_teams * truth["params"]["reps_per_team"]
    for team, info in truth["teams"].items():
        assert reps.loc[info["lead_id"], "team"] == team
        assert (reps.loc[info["rep_ids"], "manager_id"] == info["lead_id"]).all()


def test_written_demo_round_trips_and_loads(tmp_path):
    from telesales_lab.data.load import load_dataset

    out = tmp_path / "demo"
    truth = write_demo(out, seed=5, n_calls=5_000, n_customers=500)
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.csv" for t in TABLES]
                                                           + ["truth.json", "experiments.toml"])
    assert json.loads((out / "truth.json").read_text(encoding="utf-8")) == truth
    assert "华" in (out / "reps.csv").read_text(encoding="utf-8")  # UTF-8, not escaped
    raw = pd.read_csv(out / "reps.csv", dtype=str, keep_default_na=False)
    assert (raw["manager_id"] == "").sum() == 1  # the manager: an empty cell, not "nan"
    data = load_dataset(out, cache=False)
    assert len(data.tables["calls"]) == 5_000

    # writing again over an existing folder replaces the tables and leaves other files alone
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    again = write_demo(out, seed=6, n_calls=5_000, n_customers=500)
    assert again["seed"] == 6 and json.loads((out / "truth.json").read_text(encoding="utf-8"))["seed"] == 6
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_calls=10), r"n_calls == 10, must be a whole number >= 1000"),
    (dict(months=1), r"months == 1"),
    (dict(n_teams=1, reps_per_team=3), r"n_teams \* reps_per_team == 3"),
    (dict(end_month="2026/10"), r"must be YYYY-MM"),
])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        generate_demo(**kwargs)


# ----------------------------------------------------------------------------- planted truth
def test_cold_call_is_confounded_raw_rate_ranks_worst_script_first(default):
    t, truth = default
    scenario = truth["confounded_scenario"]
    best, worst = truth["best_script"][scenario], truth["worst_script"][scenario]
    effects = truth["script_effects"]
    assert effects[best] > effects[worst]
    rate = _sale_rate(t["calls"])
    assert rate[worst] > rate[best] + 0.03  # raw comparison gets it backwards

    # ...because strong sellers use the worst script: within each rep the best one wins
    calls = t["calls"][t["calls"]["outcome"].isin(CONNECTED_OUTCOMES)]
    calls = calls[calls["script_id"].isin([best, worst])]
    by_rep = calls.assign(sale=calls["outcome"].eq("sale")).groupby(["rep_id", "script_id"])["sale"]
    table = by_rep.agg(["sum", "size"]).unstack("script_id").dropna()
    # Mantel-Haenszel odds ratio of best vs worst, stratified by rep
    a, n1 = table[("sum", best)], table[("size", best)]
    c, n0 = table[("sum", worst)], table[("size", worst)]
    n = n1 + n0
    mh = ((a * (n0 - c)) / n).sum() / ((c * (n1 - a)) / n).sum()
    assert mh > 1.2


def test_null_and_randomised_scenarios(default):
    t, truth = default
    calls = t["calls"]
    scen = calls["script_id"].map(t["scripts"].set_index("script_id")["scenario"])
    null = truth["null_scenario"]
    assert truth["best_script"][null] is None
    null_ids = [s for s, sc in zip(t["scripts"]["script_id"], t["scripts"]["scenario"]) if sc == null]
    assert len({truth["script_effects"][s] for s in null_ids}) == 1
    # follow-up's split is equal, but for the planted short-script experiment: until the last month
    # half of FU-A's calls use FU-S
    assert truth["experiments"]["EXP-FU-SHORT"]["variants"] == ["FU-A", "FU-S"]
    last = calls["started_at"] >= truth["window"]["end_month"] + "-01"
    shares = calls.loc[(scen == null) & last, "script_id"].value_counts(normalize=True)
    assert "FU-S" not in shares and shares.between(1 / 3 - 0.03, 1 / 3 + 0.03).all()
    early = calls.loc[(scen == null) & ~last, "script_id"].value_counts(normalize=True)
    assert abs(early["FU-S"] - early["FU-A"]) < 0.03 and abs(early["FU-A"] + early["FU-S"] - 1 / 3) < 0.03
    for scenario, split in truth["intended_split"].items():
        shares = calls.loc[scen == scenario, "script_id"].value_counts(normalize=True)
        for script, share in split.items():
            assert abs(shares[script] - share) < 0.03, (scenario, script)
    rate = _sale_rate(calls)
    assert rate[truth["best_script"]["renewal"]] > rate[truth["worst_script"]["renewal"]]


def test_winning_phrases_mark_the_best_scripts(default):
    t, truth = default
    text = t["scripts"].set_index("script_id")["text"]
    scen = t["scripts"].set_index("script_id")["scenario"]
    for scenario, phrase in truth["winning_phrases"].items():
        holders = text[text.str.contains(phrase)].index.tolist()
        assert holders == [truth["best_script"][scenario]], scenario
        assert (scen[holders] == scenario).all()
    assert t["calls"]["transcript"].dropna().str.contains("量身定制").any()


def test_newcomer_has_few_lucky_calls(default):
    t, truth = default
    nc = truth["newcomer_rep_id"]
    calls = t["calls"][t["calls"]["rep_id"] == nc]
    assert len(calls) < 15
    connected = calls["outcome"].isin(CONNECTED_OUTCOMES)
    assert connected.sum() == 8 and calls["outcome"].eq("sale").sum() == 6
    month = truth["window"]["end"][:7]
    assert calls["started_at"].str.startswith(month).all()
    rep = t["reps"].set_index("rep_id").loc[nc]
    assert rep["role"] == "rep" and rep["hired_on"].startswith(month)
    assert t["assessments"].loc[t["assessments"]["rep_id"] == nc, "assessed_on"].nunique() <= 1
    assert len(t["assessments"].query("rep_id == @nc")) <= len(SKILLS)


def test_weak_skills_are_planted_and_visible(default):
    t, truth = default
    skills = pd.DataFrame(truth["rep_skills"]).T
    weak = truth["weak_skills"]
    assert 4 <= len(weak) <= 6
    for rep, skill in weak.items():
        assert skills.loc[rep, skill] <= skills.loc[rep].mean() - 25, rep
    others = skills.drop(index=list(weak))
    assert (others.sub(others.mean(axis=1), axis=0) > -25).all().all()  # nobody else has such a gap
    leads = t["reps"].loc[t["reps"]["role"] == "team_lead", "rep_id"]
    assert (skills.loc[leads] >= 75).mean(axis=1).min() >= 0.7

    calls = t["calls"][t["calls"]["outcome"].isin(CONNECTED_OUTCOMES)]
    sale = calls["outcome"].eq("sale")
    with_obj = calls["objection"].notna()
    obj_rate = sale[with_obj].groupby(calls.loc[with_obj, "rep_id"]).mean()
    won = calls["outcome"].isin(["sale", "interested"])
    conversion = sale[won].groupby(calls.loc[won, "rep_id"]).mean()
    for rep, skill in weak.items():
        if skill == "objection_handling":
            assert obj_rate[rep] < obj_rate.median()
        if skill == "closing":
            assert conversion[rep] < conversion.quantile(0.25)


def test_drifting_assessor_scores_high(default):
    t, truth = default
    a = t["assessments"]
    drift = a["assessor_id"] == truth["drifting_assessor_id"]
    assert drift.any()
    assert a.loc[drift, "score"].mean() > a.loc[~drift, "score"].mean()
    # on the same people and dates, the drifting assessor is higher by about the planted bias
    pair = a.pivot_table(index=["rep_id", "assessed_on", "skill"], columns="assessor_id", values="score")
    col = truth["drifting_assessor_id"]
    both = pair[pair[col].notna() & (pair.notna().sum(axis=1) == 2)]
    other = both.drop(columns=col).max(axis=1)
    assert abs((both[col] - other).mean() - truth["drifting_assessor_bias"]) < 3


def test_training_effect_shows_in_later_assessments(default):
    t, truth = default
    te = truth["training_effect"]
    assert te["skill"] in SKILLS and te["effect"] > 0
    assert set(te["trained_rep_ids"]).isdisjoint(te["control_rep_ids"])
    log = t["training_log"]
    assert set(log.loc[log["module_id"] == te["module_id"], "rep_id"]) == set(te["trained_rep_ids"])
    a = t["assessments"]
    a = a[(a["skill"] == te["skill"]) & (a["assessor_id"] != truth["drifting_assessor_id"])]
    trained_on = pd.Series(te["trained_on"])
    mid = trained_on.min()
    post = a["assessed_on"] > trained_on.max()
    pre = a["assessed_on"] < mid

    def gain(ids):
        rows = a["rep_id"].isin(ids)
        return a.loc[rows & post, "score"].mean() - a.loc[rows & pre, "score"].mean()

    did = gain(te["trained_rep_ids"]) - gain(te["control_rep_ids"])
    assert te["effect"] - 4 < did < te["effect"] + 4


def test_customer_tiers_drive_value_and_lapsed_customers_are_lapsed(default):
    t, truth = default
    tier = pd.Series(truth["customer_tier"])
    assert set(tier.index) == set(t["customers"]["customer_id"])
    share = tier.value_counts(normalize=True)
    assert abs(share["A"] - 0.15) < 0.03 and abs(share["C"] - 0.5) < 0.03
    orders = t["orders"].assign(tier=lambda d: d["customer_id"].map(tier))
    median = orders.groupby("tier")["amount"].median()
    assert median["A"] > median["B"] > median["C"]
    per_customer = orders.groupby("customer_id").size().reindex(tier.index, fill_value=0)
    freq = per_customer.groupby(tier).mean()
    assert freq["A"] > freq["B"] > freq["C"]
    assert orders["call_id"].isna().mean() > 0.2  # a real purchase history without calls
    assert orders["status"].eq("cancelled").mean() < 0.1

    lapsed = truth["lapsed_customer_ids"]
    assert 2 <= len(lapsed) <= 10 and (tier[lapsed] == "A").all()
    last = pd.to_datetime(orders.groupby("customer_id")["ordered_at"].max())
    cutoff = pd.Timestamp(truth["window"]["end"]) - pd.DateOffset(months=6)
    assert (last[lapsed] < cutoff).all()
    assert not t["calls"]["customer_id"].isin(lapsed).any()


def test_upcoming_birthdays_and_hour_structure(default):
    t, truth = default
    soon = truth["upcoming_birthday_customer_ids"]
    assert len(soon) > 0
    bday = pd.to_datetime(t["customers"].set_index("customer_id").loc[soon, "birthday"])
    end = pd.Timestamp(truth["window"]["end"])
    nxt = (end + pd.Timedelta(days=1))
    assert bday.dt.month.isin([nxt.month, (nxt + pd.Timedelta(days=29)).month]).all()

    calls = t["calls"]
    hour = pd.to_datetime(calls["started_at"]).dt.hour
    connect = calls["outcome"].ne("no_answer").groupby(hour).mean()
    assert connect[19] - connect[12] > 0.15  # lunch is a bad time, the evening a good one
