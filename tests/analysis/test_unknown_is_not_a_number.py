"""Unknown is not a number: no evidence gives no score, missing dimensions are left out with
their weights spread, equal totals share a rank, revenue without order amounts is unknown, and
placeholder agents are counted but never evaluated, scored, planned or coached."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables, write_tables
from telesales_lab.analysis import evaluation, outcomes, skills, training
from telesales_lab.analysis.evaluation import competition_rank
from telesales_lab.cli import main
from telesales_lab.data.load import load_dataset, validate_dataset
from telesales_lab.data.policy import load_policy
from thin_data import thin_tables

MONTH = "2026-10"


@pytest.fixture(scope="module")
def call_log(tmp_path_factory):
    """Many reps, a placeholder agent, a teamless supervisor; no orders, feedback or assessments."""
    folder = tmp_path_factory.mktemp("log") / "data"
    write_tables(folder, thin_tables(reps="many+placeholder", months=2, orders="none", feedback="none",
                                     assessments="none", scripts_per_scenario=2))
    return load_dataset(folder, cache=False)


def test_no_evidence_is_no_score(call_log):
    ev = skills.skill_evidence(call_log, MONTH)
    assert (ev["n_evidence"] == 0).all()
    assert ev[["score", "ci_low", "ci_high", "prior_mean", "call_weight"]].isna().all().all()
    assert skills.team_profile(ev)["n_reps"].eq(0).all()


def test_missing_dimensions_are_left_out_not_filled(call_log):
    e = evaluation.evaluation_detail(call_log, MONTH)
    # no orders: sales and development unknown; no feedback, no skills: the rest too
    assert e[["sales", "development", "satisfaction", "skills", "teamwork", "total"]].isna().all().all()
    assert e["revenue"].isna().all() and e["rank"].isna().all() and e["grade"].isna().all()
    assert (e["dimensions_used"] == "").all()


def test_weights_spread_over_the_known_dimensions(tmp_path):
    folder = write_tables(tmp_path / "d", thin_tables(reps="many+placeholder", months=2, orders="some",
                                                      feedback="none", assessments="none"))
    e = evaluation.evaluation_detail(load_dataset(folder, cache=False), MONTH)
    w = load_policy()["kpi"]["weights"]
    expected = (w["sales"] * e["sales"] + w["development"] * e["development"]) / (w["sales"] + w["development"])
    np.testing.assert_allclose(e["total"], expected)
    assert (e["dimensions_used"] == "sales, development").all()
    assert e["satisfaction"].isna().all()  # no feedback: not the centre's 65


def test_one_person_has_nobody_to_be_compared_with(tmp_path):
    folder = write_tables(tmp_path / "d", thin_tables(reps="one", orders="some", feedback="some"))
    e = evaluation.evaluation_detail(load_dataset(folder, cache=False), MONTH)
    assert np.isnan(e.loc[0, "sales"]) and np.isnan(e.loc[0, "development"])  # a percentile of one: unknown
    assert e.loc[0, "dimensions_used"] == "satisfaction"
    assert e.loc[0, "total"] == pytest.approx(e.loc[0, "satisfaction"])


def test_equal_totals_share_a_rank():
    totals = pd.Series([70.0, 80.0, 80.0, np.nan, 60.0, 80.0])
    assert competition_rank(totals).tolist() == [4, 1, 1, pd.NA, 5, 1]
    # the ids play no part: reversing the order gives the same ranks to the same values
    assert competition_rank(totals[::-1]).sort_index().tolist() == [4, 1, 1, pd.NA, 5, 1]


def test_revenue_is_unknown_without_orders_and_zero_without_sales(call_log):
    f = outcomes.funnel(call_log, MONTH, by="rep")
    assert f.loc[f["sales"] > 0, "revenue"].isna().all()
    assert (f.loc[f["sales"] == 0, "revenue"] == 0).all()


def test_placeholder_agent_is_counted_but_never_evaluated(call_log):
    assert "NO_AGENT" in set(outcomes.funnel(call_log, MONTH, by="rep")["rep_id"])
    assert "NO_AGENT" not in set(skills.score_skills(call_log, MONTH)["rep_id"])
    assert "NO_AGENT" not in set(evaluation.evaluate(call_log, MONTH)["rep_id"])
    assert "NO_AGENT" not in set(training.coach_pool(call_log.reps, MONTH, training.training_settings()[1])["coach_id"])
    # team leads who call are evaluated by default; the policy keeps the reps-only option
    assert "R01" in set(evaluation.evaluate(call_log, MONTH)["rep_id"])
    assert "R01" not in set(evaluation.evaluate(call_log, MONTH, {"kpi": {"roles": ["rep"]}})["rep_id"])


def test_empty_team_only_above_team_lead(tmp_path):
    t = tiny_tables()
    t["reps"] = pd.concat([t["reps"], pd.DataFrame({"rep_id": ["M1"], "name": ["经理"], "team": [""],
                                                    "role": ["manager"], "hired_on": ["2019-01-01"]})])
    assert validate_dataset(write_tables(tmp_path / "ok", t)) == []
    t["reps"].iloc[0, t["reps"].columns.get_loc("team")] = ""
    problems = [str(p) for p in validate_dataset(write_tables(tmp_path / "bad", t))]
    assert problems == ["reps.csv: column 'team': must not be empty for a rep or team lead (only a supervisor "
                        "or manager may have no team) [rows 2]"]


def test_report_refuses_a_bad_policy_before_running(tmp_path, capsys):
    bad = tmp_path / "policy.toml"
    bad.write_text("[kpi.weights]\nsales = -1\n", encoding="utf-8")
    folder = write_tables(tmp_path / "d", tiny_tables())
    assert main(["report", str(folder), "--month", MONTH, "--out", str(tmp_path / "r"), "--policy", str(bad)]) == 2
    assert "sales = -1" in capsys.readouterr().err
    assert not (tmp_path / "r" / MONTH).exists()
