"""Training plans, coach assignment, the classroom calendar and training effects.

Numbers are pinned to hand calculations (gaps, due dates, a two-period difference in
differences), to statsmodels' formula interface (fixed-effects regression), and to the
demo's planted truth (weak skills, the trained module's effect).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from telesales_lab.analysis import training
from telesales_lab.exceptions import DataValidationError, ParameterError, PolicyError
from telesales_lab.data.load import Dataset, load_dataset
from telesales_lab.data.schema import SKILLS, TRAINING_AREAS, TRAINING_METHODS
from telesales_lab.present import plots

#: The policy option for teams that plan and coach reps only (team leads are planned by default).
REPS_ONLY = {"training": {"planned_roles": ["rep"]}}
MONTH = "2026-10"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def demo(demo_folder):
    """A small demo data set on disk, its loaded tables and its planted truth."""
    folder, truth = demo_folder(n_calls=20_000, n_customers=1_000)
    return folder, load_dataset(folder, cache=False), truth


@pytest.fixture(scope="module")
def demo_scores(demo):
    from telesales_lab.analysis.skills import score_skills

    return score_skills(demo[1], MONTH)


@pytest.fixture(scope="module")
def demo_plan(demo, demo_scores):
    return training.plan(demo[1], MONTH, scores=demo_scores)


def _reps(rows) -> pd.DataFrame:
    """A typed reps table from ``(rep_id, team, role, hired_on)`` tuples."""
    f = pd.DataFrame(rows, columns=["rep_id", "team", "role", "hired_on"])
    f["name"] = f["rep_id"]
    f["hired_on"] = pd.to_datetime(f["hired_on"])
    return f.astype({"rep_id": "string", "team": "string", "role": "string", "name": "string"})


def _scores(rows) -> pd.DataFrame:
    """Skill scores from ``(rep_id, skill, score, half_width)`` tuples."""
    f = pd.DataFrame(rows, columns=["rep_id", "skill", "score", "half"])
    f["ci_low"] = f["score"] - f["half"]
    f["ci_high"] = f["score"] + f["half"]
    f["n_evidence"] = 10
    return f.drop(columns="half")


def _data(reps: pd.DataFrame, **tables) -> Dataset:
    return Dataset(Path("hand-made"), {"reps": reps, **tables}, {"reps": "reps.csv"})


# ----------------------------------------------------------------------------- catalog
def test_default_catalog_covers_every_skill_area_and_method():
    cat = training.load_catalog()
    assert set(cat["skill"]) == set(SKILLS)
    assert set(cat["area"]) == set(TRAINING_AREAS)
    assert set(cat["method"]) == set(TRAINING_METHODS)
    # every skill can be taken by every method
    pairs = set(zip(cat["skill"], cat["method"]))
    assert all((s, m) in pairs for s in SKILLS for m in TRAINING_METHODS)
    assert cat["module_id"].is_unique
    assert cat["title_zh"].notna().all() and (cat["hours"] > 0).all()


def test_data_set_catalog_overrides_the_default(demo):
    cat = training.load_catalog(demo[1])
    assert list(cat["module_id"]) == sorted(demo[1].training_catalog["module_id"])


def test_broken_catalog_file_is_refused_with_row_and_rule(tmp_path):
    path = tmp_path / "catalog.csv"
    text = training.default_catalog_path().read_text(encoding="utf-8").splitlines()
    assert ",listening," in text[5]
    text[5] = text[5].replace(",listening,", ",juggling,")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"catalog.csv: column 'skill'.*\[rows 6\].*juggling"):
        training.load_catalog(path=path)


# ----------------------------------------------------------------------------- settings
def test_training_settings_refuse_unknown_keys_and_bad_values():
    with pytest.raises(PolicyError, match=r"\[training\] coach_kap: unknown key"):
        training.training_settings({"training": {"coach_kap": 2}})
    with pytest.raises(PolicyError, match=r"\[training\] classroom_share = 1.5: must be between 0 and 1"):
        training.training_settings({"training": {"classroom_share": 1.5}})
    with pytest.raises(PolicyError, match=r"\[training\] online_skills .*'juggling' is not one of"):
        training.training_settings({"training": {"online_skills": ["juggling"]}})
    _, st = training.training_settings({"training": {"coach_cap": 1}})
    from telesales_lab.data.policy import load_policy

    assert st["coach_cap"] == 1 and st["target"] == load_policy()["training"]["target"]
    assert set(load_policy()["training"]) == set(training.SETTINGS)


# ----------------------------------------------------------------------------- plans on hand-made scores
HAND_REPS = _reps([
    ("L1", "T1", "team_lead", "2019-01-01"),
    ("S1", "T1", "rep", "2020-01-01"),     # senior rep (tenure > 24 months)
    ("A", "T1", "rep", "2026-01-01"),
    ("B", "T1", "rep", "2026-01-01"),
    ("C", "T1", "rep", "2026-01-01"),
])


def _hand_scores(listening=None, **kw):
    base = {r: {s: 75.0 for s in SKILLS} for r in ("L1", "S1", "A", "B", "C")}
    for (rep, skill), value in kw.get("set", {}).items():
        base[rep][skill] = value
    return _scores([(r, s, v, 4.0) for r, sk in base.items() for s, v in sk.items()])


def test_gaps_match_a_hand_calculation():
    sc = _hand_scores(set={("A", "listening"): 50.0, ("B", "listening"): 57.0, ("C", "closing"): 58.0})
    gaps = training.skill_gaps(_data(HAND_REPS), MONTH, scores=sc, policy=REPS_ONLY)
    g = gaps.set_index(["rep_id", "skill"])
    # planned reps (role rep, the policy's reps-only option): S1, A, B, C; team mean of listening = (75 + 50 + 57 + 75) / 4
    mean_listening = (75 + 50 + 57 + 75) / 4
    assert g.loc[("A", "listening"), "team_mean"] == pytest.approx(mean_listening)
    # A: target gap 60 - 50 = 10 (ci_high 54 < 60); team gap 64.25 - 50 = 14.25 (ci_high 54 < 64.25)
    assert g.loc[("A", "listening"), "gap"] == pytest.approx(round(mean_listening - 50, 1))
    # B: ci_high 61 >= target 60, so only the team gap counts: 64.25 - 57 = 7.25
    assert g.loc[("B", "listening"), "gap"] == pytest.approx(round(mean_listening - 57, 1))
    # C closing 58, ci_high 62: above the target's reach; team mean (75*3+58)/4 = 70.75 > 62 -> 12.75
    assert g.loc[("C", "closing"), "gap"] == pytest.approx(round((75 * 3 + 58) / 4 - 58, 1))
    # nothing else is a gap, and team leads get no rows
    assert gaps["has_gap"].sum() == 3
    assert "L1" not in set(gaps["rep_id"])


def test_a_gap_within_the_interval_is_not_credible():
    sc = _hand_scores(set={("A", "listening"): 68.0})  # 7 below the others, but ci 64..72 vs mean 73.25
    sc.loc[(sc["rep_id"] == "A") & (sc["skill"] == "listening"), "ci_high"] = 74.0
    gaps = training.skill_gaps(_data(HAND_REPS), MONTH, scores=sc)
    assert not gaps["has_gap"].any()


def test_methods_due_dates_and_coach_rules():
    sc = _hand_scores(set={("A", "listening"): 50.0, ("A", "product_knowledge"): 45.0,
                           ("A", "closing"): 48.0, ("A", "questioning"): 52.0})
    data = _data(HAND_REPS)
    p = training.plan(data, MONTH, scores=sc, policy={"training": {"classroom_min_reps": 2}})
    a = p[p["rep_id"] == "A"].set_index("skill")
    assert list(p["rep_id"].unique()) == ["A"]
    assert list(a.sort_values("priority").index) == ["product_knowledge", "closing", "listening"]  # top 3 by gap
    assert a.loc["product_knowledge", "method"] == "online"
    assert a.loc["closing", "method"] == "practice"
    assert a.loc["listening", "method"] == "coaching"
    assert a.loc["listening", "coach_id"] in {"L1", "S1"}
    assert a[["coach_id"]].drop("listening").isna().all().all()
    # the shipped catalog has a module for every (skill, method)
    assert a.loc["listening", "module_id"] == "LIS-CO" and a.loc["closing", "module_id"] == "CLO-PR"
    # due: 2, 4, 6 weeks after 2026-10-31
    due = a.set_index("priority")["due_on"]
    assert list(due.sort_index()) == list(pd.to_datetime(["2026-11-14", "2026-11-28", "2026-12-12"]))


def test_shared_gap_goes_to_classroom():
    sc = _hand_scores(set={("A", "listening"): 40.0, ("B", "listening"): 42.0, ("C", "listening"): 41.0})
    p = training.plan(_data(HAND_REPS), MONTH, scores=sc)
    # 3 of the 4 planned reps share the gap (75% >= 50%, >= 3 reps)
    assert (p["method"] == "classroom").all() and len(p) == 3
    assert set(p["module_id"]) == {"LIS-CR"}


def test_no_coach_strong_enough_falls_back_to_practice():
    sc = _hand_scores(set={("A", "listening"): 50.0, ("L1", "listening"): 58.0, ("S1", "listening"): 58.0})
    p = training.plan(_data(HAND_REPS), MONTH, scores=sc, policy=REPS_ONLY)
    row = p[(p["rep_id"] == "A") & (p["skill"] == "listening")].iloc[0]
    assert row["method"] == "practice" and pd.isna(row["coach_id"])


def test_team_leads_are_planned_by_default_and_coached_by_a_supervisor_or_stronger_lead():
    reps = _reps([("L1", "T", "team_lead", "2015-01-01"), ("L2", "U", "team_lead", "2015-01-01"),
                  ("S1", None, "supervisor", "2010-01-01"), ("A", "T", "rep", "2026-01-01"),
                  ("B", "T", "rep", "2015-01-01")])
    rows = [(r, s, 80.0, 3.0) for r in ("L1", "L2", "S1", "A", "B") for s in SKILLS]
    sc = _scores(rows).set_index(["rep_id", "skill"])
    sc.loc[("L1", "listening"), ["score", "ci_low", "ci_high"]] = [45.0, 42.0, 48.0]
    sc.loc[("B", "listening"), ["score", "ci_low", "ci_high"]] = [99.0, 97.0, 100.0]  # a senior rep, strongest
    sc = sc.reset_index()
    p = training.plan(_data(reps), MONTH, scores=sc)
    row = p[(p["rep_id"] == "L1") & (p["skill"] == "listening")].iloc[0]
    assert row["method"] == "coaching"
    assert row["coach_id"] in {"S1", "L2"}  # never a rep, whatever the rep's score
    # the reps-only option keeps team leads out of the plans
    assert "L1" not in set(training.plan(_data(reps), MONTH, scores=sc, policy=REPS_ONLY)["rep_id"])


def test_assignment_covers_more_gaps_than_greedy():
    """Greedy (largest gap takes the strongest free coach) would leave B uncoached."""
    reps = _reps([("X", "T", "team_lead", "2015-01-01"), ("Y", "T", "team_lead", "2015-01-01"),
                  ("A", "T", "rep", "2026-01-01"), ("B", "T", "rep", "2026-01-01"),
                  ("C", "T", "rep", "2026-01-01"), ("D", "T", "rep", "2026-01-01")])
    rows = []
    for r in "XYABCD":
        for s in SKILLS:
            rows.append((r, s, 80.0, 3.0))
    sc = _scores(rows).set_index(["rep_id", "skill"])
    sc.loc[("A", "listening"), ["score", "ci_low", "ci_high"]] = [40.0, 37.0, 43.0]   # coachable by X and Y
    sc.loc[("B", "listening"), ["score", "ci_low", "ci_high"]] = [58.0, 55.0, 61.0]   # only X is 10+ above
    sc.loc[("X", "listening"), ["score", "ci_low", "ci_high"]] = [95.0, 92.0, 98.0]
    sc.loc[("Y", "listening"), ["score", "ci_low", "ci_high"]] = [66.0, 63.0, 69.0]
    sc = sc.reset_index()
    p = training.plan(_data(reps), MONTH, scores=sc,
                      policy={"training": {"coach_cap": 1, "coach_min_score": 65.0}})
    coach = p.set_index("rep_id")["coach_id"]
    assert set(p["rep_id"]) == {"A", "B"}  # B: team mean 64.5 - 58 = 6.5 > its ci_high's reach
    assert coach["A"] == "Y" and coach["B"] == "X"


def test_coach_load_is_spread_and_capped():
    reps = _reps([("X", "T", "team_lead", "2015-01-01"), ("Y", "T", "team_lead", "2015-01-01")]
                 + [(f"R{i}", "T", "rep", "2026-01-01") for i in range(10)])
    rows = [(r, s, 80.0, 3.0) for r in ["X", "Y"] + [f"R{i}" for i in range(10)] for s in SKILLS]
    sc = _scores(rows).set_index(["rep_id", "skill"])
    for i in range(4):  # 4 of 10 reps: below the 50% classroom share
        sc.loc[(f"R{i}", "communication"), ["score", "ci_low", "ci_high"]] = [50.0 + i, 47.0 + i, 53.0 + i]
    sc = sc.reset_index()
    data = _data(reps)
    p = training.plan(data, MONTH, scores=sc)
    assert (p["method"] == "coaching").sum() == 4
    assert p["coach_id"].value_counts().to_dict() == {"X": 2, "Y": 2}
    capped = training.plan(data, MONTH, scores=sc, policy={"training": {"coach_cap": 1}})
    assert capped["coach_id"].value_counts().max() == 1
    assert (capped["method"] == "coaching").sum() == 2 and (capped["method"] == "practice").sum() == 2
    load = training.coach_load(data, MONTH, scores=sc, policy={"training": {"coach_cap": 1}})
    assert list(load.columns) == ["coach_id", "team", "role", "n_coachees", "cap"]
    assert (load["n_coachees"] <= load["cap"]).all() and load["n_coachees"].sum() == 2


def test_unknown_or_unplanned_rep_is_a_parameter_error():
    sc = _hand_scores()
    with pytest.raises(ParameterError, match=r"rep_id == 'ZZ': no such rep"):
        training.plan(_data(HAND_REPS), MONTH, rep_id="ZZ", scores=sc)
    with pytest.raises(ParameterError, match=r"rep_id == 'L1' is a team_lead"):
        training.plan(_data(HAND_REPS), MONTH, rep_id="L1", scores=sc, policy=REPS_ONLY)


# ----------------------------------------------------------------------------- plans on the demo
def test_planted_weak_skills_top_those_reps_plans(demo, demo_plan):
    weak = demo[2]["weak_skills"]
    assert len(weak) >= 4
    for rep, skill in weak.items():
        mine = demo_plan[demo_plan["rep_id"] == rep]
        assert skill in set(mine["skill"]), (rep, skill, mine)
        assert mine.loc[mine["skill"] == skill, "priority"].iloc[0] == 1, (rep, skill, mine)


def test_demo_plan_columns_and_invariants(demo, demo_scores, demo_plan):
    data = demo[1]
    p = demo_plan
    assert list(p.columns) == training.PLAN_COLUMNS
    _, st = training.training_settings(None)
    assert p.groupby("rep_id")["priority"].max().max() <= st["top_n"]
    assert set(p["method"]) <= set(TRAINING_METHODS)
    assert p["module_id"].notna().all()
    # every coach: named only for coaching, never the rep, a lead or senior rep, stronger by the margin
    coached = p[p["method"] == "coaching"]
    assert len(coached) > 0
    assert p.loc[p["method"] != "coaching", "coach_id"].isna().all()
    assert coached["coach_id"].notna().all()
    assert (coached["coach_id"] != coached["rep_id"]).all()
    s = demo_scores.astype({"rep_id": "string", "skill": "string"}).set_index(["rep_id", "skill"])["score"]
    rep_score = s.reindex(pd.MultiIndex.from_arrays([coached["rep_id"], coached["skill"]])).to_numpy()
    coach_score = s.reindex(pd.MultiIndex.from_arrays([coached["coach_id"], coached["skill"]])).to_numpy()
    assert (coach_score - rep_score >= st["coach_margin"]).all()
    assert (coach_score >= st["coach_min_score"]).all()
    reps = data.reps.set_index("rep_id")
    role = reps["role"].astype(str).reindex(coached["coach_id"])
    tenure_days = (pd.Timestamp("2026-10-31") - reps["hired_on"].reindex(coached["coach_id"])).dt.days
    assert ((role == "team_lead") | ((role == "rep") & (tenure_days >= 24 * 365.25 / 12))).all()
    # same team by default
    assert (reps["team"].reindex(coached["coach_id"]).to_numpy() == reps["team"].reindex(coached["rep_id"]).to_numpy()).all()
    # coach load respects the cap
    assert coached["coach_id"].value_counts().max() <= st["coach_cap"]


def test_tighter_cap_is_respected_on_the_demo(demo, demo_scores):
    p = training.plan(demo[1], MONTH, scores=demo_scores, policy={"training": {"coach_cap": 1}})
    assert p["coach_id"].value_counts().max() == 1


def test_team_plan_counts_match_the_gaps(demo, demo_scores):
    tp = training.team_plan(demo[1], MONTH, scores=demo_scores)
    gaps = training.skill_gaps(demo[1], MONTH, scores=demo_scores)
    assert tp["n_gap"].sum() == gaps["has_gap"].sum()
    assert tp["n_reps"].sum() == len(gaps)
    _, st = training.training_settings(None)
    expect = (tp["share_gap"] >= st["classroom_share"]) & (tp["n_gap"] >= st["classroom_min_reps"])
    assert (tp["classroom"] == expect).all()


def test_annual_calendar_rotates_the_four_areas(demo, demo_scores):
    cal = training.annual_calendar(demo[1], MONTH, scores=demo_scores)
    assert list(cal["session_month"]) == [str(pd.Period("2026-11", "M") + i) for i in range(12)]
    assert cal["area"].value_counts().to_dict() == {a: 3 for a in TRAINING_AREAS}
    cat = training.load_catalog(demo[1]).set_index("module_id")
    assert (cat.loc[cal["module_id"], "area"].to_numpy() == cal["area"].to_numpy()).all()
    # the first session belongs to the area with the most reps in need
    gaps = training.skill_gaps(demo[1], MONTH, scores=demo_scores)
    need = gaps[gaps["has_gap"]].groupby("skill").size()
    per_area = cat.drop_duplicates(["area", "skill"]).groupby("area")["skill"].apply(
        lambda s: need.reindex(s).fillna(0).sum())
    assert cal["area"].iloc[0] == per_area.idxmax()


def test_career_readiness_adds_what_is_missing(demo):
    from telesales_lab.analysis.evaluation import promotion_readiness

    cr = training.career_readiness(demo[1], MONTH)
    pr = promotion_readiness(demo[1], MONTH)
    assert list(cr["rep_id"]) == list(pr["rep_id"])
    assert (cr["ready"] == (cr["missing"] == "")).all()
    short = cr[cr["missing"].str.contains("skills")]
    assert short["module_id"].notna().all()


# ----------------------------------------------------------------------------- training effect
def _panel(effects: dict, n_trained=12, n_control=18, months=6, seed=0, noise=4.0):
    """Simulated assessments: module -> true effect, trained halfway through the window."""
    rng = np.random.default_rng(seed)
    mods = list(effects)
    reps, log, rows = [], [], []
    start = pd.Timestamp("2026-01-25")
    ids = [f"T{m}{i:02d}" for m in range(len(mods)) for i in range(n_trained)] + [f"C{i:02d}" for i in range(n_control)]
    for r in ids:
        reps.append((r, "T", "rep", "2024-01-01"))
        level = rng.normal(65, 8)
        trained = r.startswith("T")
        mod = mods[int(r[1])] if trained else None
        on = start + pd.DateOffset(months=months // 2) - pd.Timedelta(days=int(rng.integers(0, 10)))
        if trained:
            log.append((r, mod, on, True))
        for k in range(months):
            day = start + pd.DateOffset(months=k)
            for s in SKILLS:
                effect = effects[mod] if trained and s == "closing" and day >= on else 0.0
                rows.append((r, day, s, level + 1.5 * k + effect + rng.normal(0, noise), "L1"))
    reps.append(("L1", "T", "team_lead", "2015-01-01"))
    ass = pd.DataFrame(rows, columns=["rep_id", "assessed_on", "skill", "score", "assessor_id"])
    log = pd.DataFrame(log, columns=["rep_id", "module_id", "date", "completed"])
    log["completed"] = log["completed"].astype("boolean")
    cat = pd.DataFrame({"module_id": mods, "title": mods, "title_zh": mods, "skill": "closing",
                        "method": "practice", "hours": 1.0, "area": "sales_technique"})
    return _data(_reps(reps), assessments=ass.astype({"rep_id": "string", "skill": "string"}),
                 training_log=log.astype({"rep_id": "string", "module_id": "string"}), training_catalog=cat)


def test_training_effect_recovers_a_planted_effect_and_a_null():
    data = _panel({"GOOD": 6.0, "NULL": 0.0})
    eff = training.training_effect(data).set_index("module_id")
    assert list(eff.columns) == training.EFFECT_COLUMNS[1:]
    good, null = eff.loc["GOOD"], eff.loc["NULL"]
    assert good["ci_low"] <= 6.0 <= good["ci_high"] and good["ci_low"] > 0
    assert good["effect"] == pytest.approx(6.0, abs=2.0)
    assert null["ci_low"] <= 0.0 <= null["ci_high"]
    assert good["n_trained"] == 12 and good["n_control"] == 18
    assert good["n_assessments"] == (12 * 2 + 18) * 6


def test_training_effect_equals_the_hand_difference_in_differences():
    """Two assessments per rep (before, after), one module: the estimate is
    mean change of the trained minus mean change of the controls."""
    rng = np.random.default_rng(5)
    reps, rows, log = [("L1", "T", "team_lead", "2015-01-01")], [], []
    for i in range(10):
        r, trained = f"R{i}", i < 4
        reps.append((r, "T", "rep", "2024-01-01"))
        before, after = rng.normal(60, 5), rng.normal(63, 5) + (5 if trained else 0)
        rows += [(r, pd.Timestamp("2026-03-10"), "closing", before), (r, pd.Timestamp("2026-05-10"), "closing", after)]
        if trained:
            log.append((r, "M", pd.Timestamp("2026-04-01"), True))
    ass = pd.DataFrame(rows, columns=["rep_id", "assessed_on", "skill", "score"]).astype(
        {"rep_id": "string", "skill": "string"})
    log = pd.DataFrame(log, columns=["rep_id", "module_id", "date", "completed"]).astype(
        {"rep_id": "string", "module_id": "string", "completed": "boolean"})
    cat = pd.DataFrame({"module_id": ["M"], "title": ["M"], "title_zh": ["M"], "skill": ["closing"],
                        "method": ["practice"], "hours": [1.0], "area": ["sales_technique"]})
    data = _data(_reps(reps), assessments=ass, training_log=log, training_catalog=cat)
    got = training.training_effect(data, policy={"training": {"effect_min_trained": 2}}).iloc[0]
    wide = ass.pivot(index="rep_id", columns="assessed_on", values="score")
    change = wide.iloc[:, 1] - wide.iloc[:, 0]
    trained = change.index.isin([f"R{i}" for i in range(4)])
    assert got["effect"] == pytest.approx(change[trained].mean() - change[~trained].mean(), abs=1e-9)

    # the same coefficient from statsmodels' formula interface with rep and month dummies
    import statsmodels.formula.api as smf

    frame = ass.assign(post=((ass["assessed_on"] >= "2026-04-01") & ass["rep_id"].isin(
        [f"R{i}" for i in range(4)])).astype(float), month=ass["assessed_on"].dt.month.astype(str))
    fit = smf.ols("score ~ post + C(rep_id) + C(month)", frame.astype({"rep_id": str})).fit()
    assert got["effect"] == pytest.approx(fit.params["post"], abs=1e-9)


def test_training_effect_recovers_the_demo_truth(demo):
    te = demo[2]["training_effect"]
    eff = training.training_effect(demo[1]).set_index("module_id")
    row = eff.loc[te["module_id"]]
    assert row["skill"] == te["skill"]
    assert row["ci_low"] <= te["effect"] <= row["ci_high"]
    assert row["ci_low"] > 0
    assert row["n_trained"] == len(te["trained_rep_ids"])
    # the other modules have no planted effect: each interval given covers 0
    others = eff.drop(te["module_id"]).dropna(subset=["ci_low"])
    assert len(others) >= 1
    assert ((others["ci_low"] <= 0) & (others["ci_high"] >= 0)).all(), others


def test_training_effect_without_a_log_is_empty_and_unknown_module_is_refused(demo):
    tables = {k: v for k, v in demo[1].tables.items() if k != "training_log"}
    data = Dataset(demo[0], tables, demo[1].files)
    empty = training.training_effect(data)
    assert empty.empty and list(empty.columns) == training.EFFECT_COLUMNS
    with pytest.raises(ParameterError, match=r"module_id == 'NOPE': not in the training catalog"):
        training.training_effect(demo[1], module_id="NOPE")


# ----------------------------------------------------------------------------- CLI
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "telesales_lab.cli", *args], capture_output=True, text=True,
                          encoding="utf-8")


def test_plan_cli_prints_exactly_the_plan_columns(demo, demo_plan, capsys):
    from telesales_lab.cli import main

    rep = next(iter(demo[2]["weak_skills"]))
    assert main(["plan", str(demo[0]), "--month", MONTH, "--rep", rep, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(training.PLAN_COLUMNS)
    got = pd.read_csv(pd.io.common.StringIO(out), dtype=str, keep_default_na=False)
    want = demo_plan[demo_plan["rep_id"] == rep]
    assert list(got["skill"]) == list(want["skill"])
    assert list(got["due_on"]) == list(want["due_on"].dt.strftime("%Y-%m-%d"))


def test_plan_cli_unknown_rep_exits_2_without_traceback(demo):
    out = _cli("plan", str(demo[0]), "--month", MONTH, "--rep", "R999", "--format", "csv")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "rep_id == 'R999'" in out.stderr and "Traceback" not in out.stderr


def test_training_effect_cli(demo, capsys):
    from telesales_lab.cli import main

    assert main(["training-effect", str(demo[0]), "--format", "csv"]) == 0
    got = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(got.columns) == training.EFFECT_COLUMNS
    assert demo[2]["training_effect"]["module_id"] in set(got["module_id"])


def test_plots_draw_one_mark_per_row(demo, demo_scores, demo_plan):
    team = training.team_plan(demo[1], MONTH, scores=demo_scores)
    fig = plots.plot_team_gaps(team, "zh")
    assert fig.axes[0].images[0].get_array().shape == (team["team"].nunique(), len(SKILLS))
    load = training.coach_load(demo[1], MONTH, plan_frame=demo_plan)
    fig = plots.plot_coach_load(load, "en")
    busy = int((load["n_coachees"] > 0).sum())
    assert len(fig.axes[0].patches) == min(busy, 30)
    if busy > 30:  # the chart says that it shows the busiest coaches only
        assert fig.axes[0].get_title().endswith(f"top 30 of {busy} coaches by coachees")
    fig = plots.plot_coach_load(load, "zh", top=5)
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    top5 = load[load["n_coachees"] > 0].head(5)
    assert shown == [f"{c} ({tm})" for c, tm in zip(top5["coach_id"], top5["team"])]
    assert fig.axes[0].get_title().endswith(f"按辅导人数前 5 名（共 {busy} 名辅导人）")
    eff = training.training_effect(demo[1])
    fig = plots.plot_effects(eff, "en")
    assert len(fig.axes[0].get_yticklabels()) == eff["effect"].notna().sum()


def test_cluster_robust_fit_matches_statsmodels_exactly():
    """The training effects' least squares with rep-clustered errors is statsmodels' OLS with
    ``cov_type="cluster"``, number for number (rank-deficient designs included)."""
    import statsmodels.api as sm
    from scipy import special, stats

    rng = np.random.default_rng(5)
    for i in range(200):
        n, k, g = int(rng.integers(20, 300)), int(rng.integers(1, 6)), int(rng.integers(2, 30))
        X = rng.normal(size=(n, k))
        if i % 3 == 0:
            X[:, 0] = (rng.uniform(size=n) < 0.3).astype(float)
        if i % 7 == 0 and k > 1:
            X[:, -1] = X[:, 0]  # collinear: the pseudo-inverse drops a direction
        groups = pd.factorize(rng.integers(0, g, size=n))[0]
        y = X @ rng.normal(size=k) + rng.normal(size=n)
        want = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        params, bse = training._ols_cluster(y, X, groups)
        np.testing.assert_array_equal(params, want.params)
        np.testing.assert_array_equal(bse, want.bse)
        df, q, t = len(np.unique(groups)) - 1, rng.uniform(0.5, 0.99), abs(rng.normal() * 3)
        assert special.stdtrit(df, q) == stats.t.ppf(q, df=df)
        assert special.stdtr(df, -t) == stats.t.sf(t, df=df)


def test_the_months_plans_are_remembered_and_equal_those_from_given_scores(demo, demo_scores):
    data = demo[1]
    first = training.plan(data, MONTH)
    assert first.equals(training.plan(data, MONTH, scores=demo_scores))  # the page's and the packs' plans agree
    assert training.plan(data, MONTH).equals(first)
    assert [key.name for key in data.cache.keys()].count("training_plan") == 1
    first.loc[0, "skill"] = "changed"  # a caller's edit stays the caller's
    assert not training.plan(data, MONTH).equals(first)
    # another language or policy is another plan
    assert not training.plan(data, MONTH, lang="zh").equals(training.plan(data, MONTH))
    capped = {"training": {"coach_cap": 1}}
    assert training.plan(data, MONTH, policy=capped).equals(training.plan(data, MONTH, policy=capped, scores=demo_scores))
    assert [key.name for key in data.cache.keys()].count("training_plan") == 3
