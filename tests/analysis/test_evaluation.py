"""The policy file and the monthly KPI evaluation: weights, grades, periods, awards, promotion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from telesales_lab.cli import main
from telesales_lab.analysis.evaluation import award_candidates, evaluate, evaluate_period, evaluation_detail, promotion_readiness
from telesales_lab.exceptions import ParameterError, PolicyError
from telesales_lab.data.load import Dataset, load_dataset
from telesales_lab.data.policy import default_policy_text, load_policy, resolve_policy

MONTH = "2026-10"
DIMS = ["sales", "development", "satisfaction", "skills", "teamwork"]


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder(seed=7, n_calls=20_000)
    data = load_dataset(folder, cache=False)
    return folder, data, truth, evaluation_detail(data, MONTH)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _only(dim: str) -> dict:
    return {"kpi": {"weights": {d: (1.0 if d == dim else 0.0) for d in DIMS}}}


# ----------------------------------------------------------------------------- the policy file
def test_defaults_load_and_weights_sum_to_one():
    p = load_policy()
    assert set(p["kpi"]["weights"]) == set(DIMS)
    assert sum(p["kpi"]["weights"].values()) == pytest.approx(1.0)
    assert list(p["grades"].values()) == sorted(p["grades"].values(), reverse=True)
    assert min(p["grades"].values()) == 0


def test_user_file_merges_over_defaults_and_normalises(tmp_path):
    path = _write(tmp_path, "[kpi.weights]\nsales = 2\ndevelopment = 1\nsatisfaction = 1\nskills = 0\nteamwork = 0\n"
                            "[customers]\na_min_score = 75\n")
    p = load_policy(path)
    assert p["kpi"]["weights"] == {"sales": 0.5, "development": 0.25, "satisfaction": 0.25, "skills": 0.0,
                                   "teamwork": 0.0}
    assert p["customers"]["a_min_score"] == 75
    assert p["customers"]["b_min_score"] == load_policy()["customers"]["b_min_score"]  # untouched default


@pytest.mark.parametrize("text,message", [
    ("[kpi.weights]\nsalse = 1\n", r"policy.toml: \[kpi.weights\] salse: unknown key; allowed here: sales"),
    ("[kpi.weigths]\nsales = 1\n", r"policy.toml: \[kpi\] weigths: unknown key"),
    ("bonuses = 3\n", r"policy.toml: bonuses: unknown key"),
    ("[kpi.weights]\nsales = \"high\"\n", r"policy.toml: \[kpi.weights\] sales = 'high': must be a number"),
    ("[kpi.weights]\nsales = true\n", r"\[kpi.weights\] sales = True: must be a number"),
    ("[kpi.weights]\nsales = -0.2\n", r"\[kpi.weights\] sales = -0.2: weight must not be negative"),
    ("[kpi.weights]\nsales = 0\ndevelopment = 0\nsatisfaction = 0\nskills = 0\nteamwork = 0\n",
     r"\[kpi.weights\]: weights sum to 0"),
    ("[kpi.weights\nsales = 1\n", r"policy.toml: not valid TOML"),
    ("[kpi]\nroles = [\"rep\", \"boss\"]\n", r"\[kpi\] roles = .*'boss' is not one of rep\|team_lead"),
    ("[kpi.sales]\nscale = \"log\"\n", r"\[kpi.sales\] scale = 'log': must be one of percentile\|minmax"),
    ("[grades]\nA = 80\nB = 60\n", r"\[grades\]: the lowest band must start at 0"),
    ("[grades]\nS = 90\nA = 60\nF = 0\n", r"\[awards\] min_grade = 'B': must be one of the grades S\|A\|F"),
    ("[customers]\nlookback_months = 1.5\n", r"\[customers\] lookback_months = 1.5: must be a whole number"),
    ("kpi = 3\n", r"kpi = 3: must be a table"),
])
def test_bad_policy_files_are_refused_with_the_key_and_rule(tmp_path, text, message):
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, text))


def test_missing_and_non_utf8_policy_files(tmp_path):
    with pytest.raises(PolicyError, match=r"nope.toml: policy file does not exist"):
        load_policy(tmp_path / "nope.toml")
    bad = tmp_path / "gbk.toml"
    bad.write_bytes("# 权重\n".encode("gbk"))
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(bad)


def test_cli_policy_init_and_bad_policy_exit_2(demo, tmp_path, capsys):
    folder = demo[0]
    target = tmp_path / "mine.toml"
    assert main(["policy", "--init", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == default_policy_text()
    assert load_policy(target) == load_policy()
    assert main(["policy", "--init", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    bad = _write(tmp_path, "[kpi.weights]\nsales = -1\n")
    assert main(["evaluate", str(folder), "--month", MONTH, "--policy", str(bad), "--format", "csv"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "[kpi.weights] sales = -1: weight must not be negative" in captured.err
    assert "Traceback" not in captured.err
    assert main(["policy", "--check", str(bad)]) == 2


# ----------------------------------------------------------------------------- the evaluation
def test_contract_columns_ranks_and_totals(demo):
    _, data, _, detail = demo
    e = evaluate(data, MONTH)
    assert list(e.columns) == ["rep_id", "team", "sales", "development", "satisfaction", "skills", "teamwork",
                               "total", "grade", "rank"]
    assert list(e["rank"]) == list(range(1, len(e) + 1))
    assert e[DIMS + ["total"]].apply(lambda c: c.between(0, 100) | c.isna()).all().all()
    # unknown is not a number: satisfaction is missing exactly for reps without feedback
    d = detail
    assert (d["satisfaction"].isna() == (d["n_feedback"] == 0)).all()
    w = load_policy()["kpi"]["weights"]
    full = e[DIMS].notna().all(axis=1)
    np.testing.assert_allclose(e.loc[full, "total"], sum(w[d] * e.loc[full, d] for d in DIMS))
    # a rep missing a dimension: the others' weights scaled up in proportion
    part = ~full
    known = {d: e.loc[part, d].notna() for d in DIMS}
    expected = sum(w[d] * e.loc[part, d].fillna(0) for d in DIMS) / sum(w[d] * known[d] for d in DIMS)
    np.testing.assert_allclose(e.loc[part, "total"], expected)
    assert (d.loc[d["satisfaction"].isna(), "dimensions_used"] == "sales, development, skills, teamwork").all()
    assert e["total"].is_monotonic_decreasing
    # only people who called in the month; the newcomer is one of them
    reps = data.reps[data.reps["role"].isin(["rep", "team_lead"])]
    assert set(e["rep_id"]) <= set(reps["rep_id"])
    assert len(e) == reps["rep_id"].isin(data.calls.loc[data.calls["started_at"] >= "2026-10-01", "rep_id"]).sum()


def test_only_sales_weighted_rank_follows_sales(demo):
    _, data, _, _ = demo
    e = evaluate(data, MONTH, _only("sales"))
    np.testing.assert_allclose(e["total"], e["sales"])
    expected = e.sort_values(["sales", "rep_id"], ascending=[False, True])["rep_id"].tolist()
    assert e["rep_id"].tolist() == expected
    sat = evaluate(data, MONTH, _only("satisfaction"))
    assert sat["rep_id"].tolist() == sat.sort_values(["satisfaction", "rep_id"], ascending=[False, True],
                                                     na_position="last")["rep_id"].tolist()
    # equal totals share a rank (competition ranking), whatever their ids or sales
    from scipy.stats import rankdata

    known = sat["total"].notna()
    expected_rank = rankdata(-sat.loc[known, "total"].to_numpy(), method="min")
    assert sat.loc[known, "rank"].tolist() == expected_rank.tolist()
    assert sat.loc[~known, "rank"].isna().all()
    assert sat["rep_id"].tolist() != e["rep_id"].tolist()  # weights change the ranking


def test_sales_and_development_scores_by_hand(demo):
    _, data, _, detail = demo
    d = detail.set_index("rep_id")
    o = data.orders[data.orders["status"] != "cancelled"]
    cur = o[(o["ordered_at"] >= "2026-10-01") & (o["ordered_at"] < "2026-11-01")]
    prev = o[(o["ordered_at"] >= "2026-09-01") & (o["ordered_at"] < "2026-10-01")]
    ids = d.index
    rev = cur.groupby("rep_id")["amount"].sum().reindex(ids, fill_value=0.0)
    prof = cur.groupby("rep_id")["profit"].sum().reindex(ids, fill_value=0.0)
    cnt = cur.groupby("rep_id").size().reindex(ids, fill_value=0)
    n = len(ids)

    def pct(x):
        return (rankdata(x, method="min") - 1) / (n - 1) * 100

    np.testing.assert_allclose(d["sales"], 0.5 * pct(rev) + 0.3 * pct(prof) + 0.2 * pct(cnt), atol=1e-9)
    firsts = o.sort_values(["ordered_at", "order_id"]).drop_duplicates("customer_id")
    firsts = firsts[(firsts["ordered_at"] >= "2026-10-01") & (firsts["ordered_at"] < "2026-11-01")]
    new = firsts.groupby("rep_id").size().reindex(ids, fill_value=0)
    p = prev.groupby("rep_id")["amount"].sum().reindex(ids, fill_value=0.0)
    growth = np.where(rev + p > 0, (rev - p) / ((rev + p) / 2).where(rev + p > 0, 1), 0.0)
    np.testing.assert_allclose(d["growth"], growth)
    np.testing.assert_allclose(d["development"], 0.6 * pct(new) + 0.4 * pct(growth), atol=1e-9)


def test_satisfaction_by_hand(demo):
    _, data, _, detail = demo
    d = detail.set_index("rep_id")
    fb = data.feedback[(data.feedback["received_at"] >= "2026-10-01") & (data.feedback["received_at"] < "2026-11-01")]
    centre = fb["score"].astype(float).mean()
    g = fb.groupby("rep_id")["score"].agg(["sum", "size"]).reindex(d.index, fill_value=0)
    shrunk = (g["sum"] + 5 * centre) / (g["size"] + 5)
    feedback = (shrunk - 1) / 4 * 100
    comp = fb[fb["complaint"].astype(bool)]
    on_time = (comp["resolved_at"] - comp["received_at"]) <= pd.Timedelta(days=3)
    share = on_time.groupby(comp["rep_id"]).mean().reindex(d.index) * 100
    expected = (0.7 * feedback + 0.3 * share.fillna(100.0)).where(g["size"] > 0)  # no feedback: unknown
    np.testing.assert_allclose(d["satisfaction"], expected, atol=1e-9)


def test_grade_bands_as_configured(demo):
    _, data, _, _ = demo
    policy = {"grades": {"S": 85.0, "A": 60.0, "F": 0.0}, "awards": {"min_grade": "A"},
              "promotion": {"team_lead": {"min_grade": "A"}, "supervisor": {"min_grade": "S"}},
              "bonus": {"min_grade": "F"}}
    e = evaluate(data, MONTH, policy)
    expected = np.where(e["total"] >= 85, "S", np.where(e["total"] >= 60, "A", "F"))
    assert (e["grade"].to_numpy() == expected).all()


def test_roles_are_configurable(demo):
    _, data, truth, _ = demo
    e = evaluate(data, MONTH, {"kpi": {"roles": ["rep", "team_lead"]}})
    assert set(truth["team_lead_ids"]) <= set(e["rep_id"])


def test_row_order_of_the_input_does_not_matter(demo):
    _, data, _, _ = demo
    shuffled = {k: v.sample(frac=1.0, random_state=1).reset_index(drop=True) for k, v in data.tables.items()}
    a = evaluate(data, MONTH)
    b = evaluate(Dataset(data.source, shuffled, data.files), MONTH)
    pd.testing.assert_frame_equal(a, b)


def test_no_one_to_evaluate(demo):
    _, data, _, _ = demo
    with pytest.raises(ParameterError, match="no calls in month 2031-01"):
        evaluate(data, "2031-01")


# ----------------------------------------------------------------------------- periods, awards, promotion
def test_quarter_is_the_mean_of_its_months(demo):
    _, data, _, _ = demo
    q = evaluate_period(data, "quarter", "2026-09")
    assert set(q["period"]) == {"2026Q3"}
    months = [evaluation_detail(data, m).set_index("rep_id") for m in ("2026-07", "2026-08", "2026-09")]
    stacked = pd.concat(months)
    mean_sales = stacked.groupby(level=0)["sales"].mean()
    q = q.set_index("rep_id")
    np.testing.assert_allclose(q["sales"], mean_sales.reindex(q.index))
    assert (q["n_months"] == stacked.groupby(level=0).size().reindex(q.index)).all()
    assert list(q["rank"]) == list(range(1, len(q) + 1))
    with pytest.raises(ParameterError, match="period == 'week'"):
        evaluate_period(data, "week", "2026-09")


def test_award_candidates_are_the_best_eligible(demo):
    _, data, _, detail = demo
    policy = {"awards": {"min_calls_per_month": 20}}
    a = award_candidates(data, MONTH, "month", policy)
    assert list(a.columns) == ["period", "scope", "rep_id", "team", "total", "grade", "margin", "n_eligible"]
    assert a["scope"].iloc[-1] == "overall"
    rules = resolve_policy(policy)["awards"]
    elig = detail[(detail["n_calls"] >= rules["min_calls_per_month"]) & detail["grade"].isin(["A", "B"])]
    fb = data.feedback
    open_ = fb[(fb["received_at"] >= "2026-10-01") & (fb["received_at"] < "2026-11-01") & fb["complaint"].astype(bool)
               & fb["resolved_at"].isna()]
    elig = elig[~elig["rep_id"].isin(open_["rep_id"])]
    assert len(elig) >= 5
    best = elig.sort_values("rank").groupby("team").head(1).set_index("team")["rep_id"]
    teams = a[a["scope"] != "overall"].set_index("scope")
    for team, rep in best.items():
        assert teams.loc[team, "rep_id"] == rep
    assert a.iloc[-1]["rep_id"] == elig.sort_values("rank")["rep_id"].iloc[0]
    nobody = award_candidates(data, MONTH, "month", {"awards": {"min_calls_per_month": 10_000}})
    assert nobody["rep_id"].isna().all() and (nobody["n_eligible"] == 0).all()


def test_promotion_readiness_rules(demo):
    _, data, truth, _ = demo
    policy = resolve_policy(None)
    p = promotion_readiness(data, MONTH, policy)
    assert {"rep", "team_lead"} == set(p["role"])
    assert (p["ready"] == (p["meets_tenure"] & p["meets_grades"] & p["meets_skills"])).all()
    newcomer = p.set_index("rep_id").loc[truth["newcomer_rep_id"]]
    assert newcomer["tenure_months"] == 0 and not newcomer["ready"]
    rules = policy["promotion"]["team_lead"]
    reps = p[p["role"] == "rep"]
    assert (reps["meets_skills"] == (reps["min_skill"] >= rules["min_skill"])).all()
    assert reps["grade_streak"].between(0, rules["grade_streak"]).all()
    # a streak of 1 month at grade D or better: everyone evaluated meets it
    loose = promotion_readiness(data, MONTH, {"promotion": {"team_lead": {"grade_streak": 1, "min_grade": "D"}}})
    assert loose.loc[loose["role"] == "rep", "meets_grades"].all()


def test_evaluate_cli_csv(demo, capsys):
    folder = demo[0]
    assert main(["evaluate", str(folder), "--month", MONTH, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "rep_id,team,sales,development,satisfaction,skills,teamwork,total,grade,rank"
    assert main(["evaluate", str(folder), "--month", MONTH, "--period", "quarter", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("rep_id,team,period,n_months,")


def test_chinese_labels_and_plots(demo):
    from matplotlib.figure import Figure

    from telesales_lab.present.plots import kpi as plots
    from telesales_lab.analysis.calibration import assessor_drift
    from telesales_lab.analysis.evaluation import kpi_trend, translate
    from telesales_lab.analysis.skills import skill_evidence, team_profile

    _, data, _, _ = demo
    e = evaluate(data, MONTH)
    zh = translate(e, "zh")
    assert list(zh.columns)[:3] == ["坐席", "小组", "销售业绩"]
    assert translate(e, "en").columns.equals(e.columns)
    ev = skill_evidence(data, MONTH)
    trend = kpi_trend(data, MONTH, 2)
    assert set(trend["month"]) == {"2026-09", "2026-10"} and "overall" in set(trend["team"])
    overall = trend[trend["team"] == "overall"].set_index("month")
    assert overall.loc[MONTH, "total"] == pytest.approx(e["total"].mean())
    for fig in (plots.grade_chart(e, load_policy()["grades"], "zh"), plots.skill_heatmap(ev, "zh"),
                plots.team_radar(team_profile(ev), "zh"), plots.kpi_trend_chart(trend, "zh", "sales"),
                plots.drift_chart(assessor_drift(data, MONTH), "zh")):
        assert isinstance(fig, Figure) and fig.axes[0].get_title()
    assert plots.kpi_trend_chart(trend, "zh", "sales").axes[0].get_ylabel() == "销售业绩"
    with pytest.raises(ParameterError, match=r"grade_chart plot lacks column\(s\) grade"):
        plots.grade_chart(e.drop(columns="grade"), ["A"], "en")


# ----------------------------------------------------------------------------- months computed together, remembered
def test_months_evaluated_together_equal_each_month_alone(demo):
    from telesales_lab.analysis import evaluation

    _, data, _, _ = demo
    months = list(pd.period_range("2026-05", MONTH, freq="M"))
    for policy in (None, {"kpi": {"scope": "team", "roles": ["rep", "team_lead"], "sales": {"scale": "minmax"}}}):
        data.cache.clear()
        together = evaluation.evaluation_details(data, months, resolve_policy(policy))
        for m in months:  # bit for bit, dtypes included
            data.cache.clear()  # this month alone, from nothing remembered
            pd.testing.assert_frame_equal(together[m], evaluation_detail(data, str(m), policy), check_exact=True)


def test_trend_is_the_team_means_of_the_monthly_evaluations(demo):
    from telesales_lab.analysis.evaluation import kpi_trend

    _, data, _, _ = demo
    data.cache.clear()
    trend = kpi_trend(data, MONTH, 6)
    rows = []
    for m in pd.period_range("2026-05", MONTH, freq="M"):
        data.cache.clear()
        e = evaluation_detail(data, str(m))
        for team, g in list(e.groupby("team")) + [("overall", e)]:
            rows.append({"month": str(m), "team": team, "n_reps": len(g), "total": g["total"].mean(),
                         "skills": g["skills"].mean()})
    expected = pd.DataFrame(rows).sort_values(["month", "team"]).reset_index(drop=True)
    assert list(trend[["month", "team"]].itertuples(index=False)) == list(
        expected[["month", "team"]].itertuples(index=False))
    assert (trend["n_reps"].to_numpy() == expected["n_reps"].to_numpy()).all()
    np.testing.assert_allclose(trend["total"], expected["total"], rtol=1e-12)
    np.testing.assert_allclose(trend["skills"], expected["skills"], rtol=1e-12)


def test_remembered_results_are_keyed_on_the_policy(demo):
    _, data, _, _ = demo
    other = {"kpi": {"weights": {"sales": 1.0, "development": 0.0, "satisfaction": 0.0, "skills": 0.0,
                                 "teamwork": 0.0}}, "skills": {"lookback_months": 2}}
    data.cache.clear()
    a_other, a_default = evaluate(data, MONTH, other), evaluate(data, MONTH)
    shared = {"awards": award_candidates(data, MONTH, "year", other), "promotion": promotion_readiness(data, MONTH)}
    assert not a_other["total"].equals(a_default["total"])

    def alone(f, *args):
        data.cache.clear()  # nothing remembered from another policy
        return f(data, *args)

    pd.testing.assert_frame_equal(a_default, alone(evaluate, MONTH), check_exact=True)
    pd.testing.assert_frame_equal(a_other, alone(evaluate, MONTH, other), check_exact=True)
    pd.testing.assert_frame_equal(shared["awards"], alone(award_candidates, MONTH, "year", other), check_exact=True)
    pd.testing.assert_frame_equal(shared["promotion"], alone(promotion_readiness, MONTH), check_exact=True)


def test_each_month_is_evaluated_once_across_views(demo, monkeypatch):
    from telesales_lab.analysis import evaluation, skills
    from telesales_lab.analysis.evaluation import kpi_trend

    _, data, _, _ = demo
    evaluated, scored = [], []
    real_eval, real_skills = evaluation._evaluation_details, skills._skill_evidence

    def count_eval(d, months, policy, skills=None):
        evaluated.extend((str(m), tuple(policy["kpi"]["roles"])) for m in months)
        return real_eval(d, months, policy, skills)

    def count_skills(d, months, policy):
        scored.extend(str(m) for m in months)
        return real_skills(d, months, policy)

    monkeypatch.setattr(evaluation, "_evaluation_details", count_eval)
    monkeypatch.setattr(skills, "_skill_evidence", count_skills)
    data.cache.clear()
    kpi_trend(data, MONTH, 6)
    for period in ("month", "quarter", "year"):
        award_candidates(data, MONTH, period)
        evaluate_period(data, period, MONTH)
    promotion_readiness(data, MONTH)
    evaluate(data, MONTH)
    assert len(evaluated) == len(set(evaluated))  # no (month, roles) evaluated twice
    assert {m for m, roles in evaluated if roles == ("rep", "team_lead")} == {str(m) for m in pd.period_range("2026-05", MONTH,
                                                                                                  freq="M")}
    assert len(scored) == len(set(scored)) == 6  # each month's skills scored once, for every view


def test_a_replaced_table_makes_a_new_data_set_with_its_own_results(demo):
    _, data, _, _ = demo
    before = evaluate(data, MONTH)
    top = before["rep_id"].iloc[0]
    orders = data.orders
    changed = data.replace(orders=orders[orders["rep_id"] != top].reset_index(drop=True))
    kept = {k.name for k in changed.cache.keys()}
    assert "calls_by_month" in kept and not {"order_month_stats", "evaluation_detail"} & kept  # orders not read
    after = evaluate(changed, MONTH)
    pd.testing.assert_frame_equal(after, evaluate(Dataset(data.source, dict(changed.tables), data.files), MONTH),
                                  check_exact=True)
    assert after.set_index("rep_id").loc[top, "sales"] < before.set_index("rep_id").loc[top, "sales"]
    pd.testing.assert_frame_equal(evaluate(data, MONTH), before, check_exact=True)  # the old data set is unchanged


def test_awards_and_promotion_are_kept_and_handed_out_as_copies(demo):
    """The KPI page, the career table and the coaching packs share one computation of each;
    writing to a returned table does not change what the next caller gets, and a data set
    with other reps gets its own."""
    _, data, _, _ = demo
    data.cache.clear()
    first = promotion_readiness(data, MONTH)
    awards = award_candidates(data, MONTH, "month")
    misses = data.cache.misses
    again = promotion_readiness(data, MONTH)
    assert data.cache.misses == misses  # remembered, not recomputed
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    again["ready"] = ~again["ready"]
    awards["total"] = -1.0
    pd.testing.assert_frame_equal(first, promotion_readiness(data, MONTH), check_exact=True)
    assert (award_candidates(data, MONTH, "month")["total"].fillna(0) >= 0).all()
    with pytest.raises(ParameterError, match="period == 'week'"):
        award_candidates(data, MONTH, "week")
    hired_today = data.replace(reps=data.reps.assign(hired_on=pd.Timestamp("2026-10-31")))
    fresh = promotion_readiness(hired_today, MONTH)
    assert (fresh["tenure_months"] == 0).all() and not fresh["ready"].any()
