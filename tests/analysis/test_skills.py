"""Skill scores and QA calibration, pinned to planted truth and to independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from telesales_lab.analysis.calibration import agreement, assessor_drift, icc
from telesales_lab.cli import main
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.load import load_dataset
from telesales_lab.data.schema import SKILLS
from telesales_lab.analysis.skills import score_skills, skill_evidence

MONTH = "2026-10"


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder(seed=7, n_calls=20_000)
    data = load_dataset(folder, cache=False)
    return folder, data, truth, skill_evidence(data, MONTH)


# ----------------------------------------------------------------------------- ICC reference values
#: Shrout & Fleiss (1979), Psychological Bulletin 86(2), table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def _long(x: np.ndarray) -> pd.DataFrame:
    n, k = x.shape
    return pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                         "score": x.ravel().astype(float)})


def test_icc_matches_shrout_fleiss_table():
    res = icc(_long(SHROUT_FLEISS), "target", "rater", "score").set_index("type")
    # the published values (table 4), to their two decimals
    published = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
    for kind, value in published.items():
        assert res.loc[kind, "icc"] == pytest.approx(value, abs=0.005), kind


def test_icc_from_hand_computed_mean_squares():
    # the paper's ANOVA: BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02 (n = 6, k = 4)
    x = SHROUT_FLEISS.astype(float)
    n, k = x.shape
    g = x.mean()
    bms = k * ((x.mean(1) - g) ** 2).sum() / (n - 1)
    jms = n * ((x.mean(0) - g) ** 2).sum() / (k - 1)
    wms = ((x - x.mean(1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    ems = ((x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + g) ** 2).sum() / ((n - 1) * (k - 1))
    assert (round(bms, 2), round(wms, 2), round(jms, 2), round(ems, 2)) == (11.24, 6.26, 32.49, 1.02)
    res = icc(_long(SHROUT_FLEISS), "target", "rater", "score").set_index("type")
    assert res.loc["ICC2", "icc"] == pytest.approx((bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n))
    assert res.loc["ICC2k", "icc"] == pytest.approx((bms - ems) / (bms + (jms - ems) / n))
    assert res.loc["ICC1", "icc"] == pytest.approx((bms - wms) / (bms + (k - 1) * wms))
    assert res.loc["ICC3", "f"] == pytest.approx(bms / ems)
    assert res.loc["ICC3", "p_value"] == pytest.approx(stats.f.sf(bms / ems, n - 1, (n - 1) * (k - 1)))
    assert (res["ci_low"] < res["icc"]).all() and (res["icc"] < res["ci_high"]).all()


def test_icc_refuses_incomplete_designs():
    d = _long(SHROUT_FLEISS).iloc[1:]
    with pytest.raises(ParameterError, match="every rater .* exactly once"):
        icc(d, "target", "rater", "score")


# ----------------------------------------------------------------------------- drift
def test_drifting_assessor_flagged_and_nobody_else(demo):
    _, data, truth, _ = demo
    d = assessor_drift(data, MONTH)
    assert list(d.columns) == ["assessor_id", "n_ratings", "n_shared", "mean_diff", "drift", "se", "z", "p_value",
                               "flagged"]
    assert list(d.loc[d["flagged"], "assessor_id"]) == [truth["drifting_assessor_id"]]
    row = d.set_index("assessor_id").loc[truth["drifting_assessor_id"]]
    assert row["drift"] == pytest.approx(truth["drifting_assessor_bias"], abs=2.5)


@pytest.mark.parametrize("seed", [0, 7])
def test_only_the_drifter_is_flagged_among_68_assessors(seed):
    """A centre of 50 teams: 68 assessors, so a bare |z| >= 3 would now and then flag an honest one."""
    from types import SimpleNamespace

    from telesales_lab.data.demo import generate_demo

    tables, truth = generate_demo(seed=seed, n_teams=50, n_calls=20_000, n_customers=2000)
    a = tables["assessments"]
    data = SimpleNamespace(assessments=a.assign(assessed_on=pd.to_datetime(a["assessed_on"]),
                                                score=a["score"].astype(float)))
    d = assessor_drift(data, truth["window"]["end_month"])
    assert len(d) == 68
    assert list(d.loc[d["flagged"], "assessor_id"]) == [truth["drifting_assessor_id"]]
    assert d["p_value"].between(0, 1).all()


def test_drift_matches_a_statsmodels_fixed_effects_fit():
    # three assessors on shared targets; B scores 5 points high
    rng = np.random.default_rng(3)
    rows = []
    for t in range(60):
        truth = rng.normal(60, 10)
        for a, bias in (("A", 0.0), ("B", 5.0), ("C", 0.0)):
            if rng.random() < 0.8:
                rows.append({"rep_id": f"R{t}", "skill": "closing", "month": "2026-10", "assessor_id": a,
                             "score": truth + bias + rng.normal(0, 4)})
    s = pd.DataFrame(rows)
    from telesales_lab.analysis.calibration import _fixed_effects_drift, _shared

    shared = _shared(s)
    drift, se = _fixed_effects_drift(shared, {"drift_z": 3.0, "min_drift": 3.0, "min_shared": 5, "alpha": 0.05})
    fit = smf.ols("score ~ C(rep_id) + C(assessor_id, Treatment('A'))", data=shared).fit()
    tb, tc = "C(assessor_id, Treatment('A'))[T.B]", "C(assessor_id, Treatment('A'))[T.C]"
    b, c = fit.params[tb], fit.params[tc]
    v = fit.cov_params()
    # A and C are not flagged and only have each other as reference: plain OLS contrasts
    assert drift["C"] == pytest.approx(c, abs=1e-8)
    assert se["C"] == pytest.approx(fit.bse[tc], rel=1e-6)
    assert drift["A"] == pytest.approx(-c, abs=1e-8)
    assert se["A"] == pytest.approx(fit.bse[tc], rel=1e-6)
    # B (flagged) against the precision-weighted mean of A (at 0) and C
    var_ba, var_bc = v.loc[tb, tb], v.loc[tb, tb] + v.loc[tc, tc] - 2 * v.loc[tb, tc]
    w_c = (1 / var_bc) / (1 / var_ba + 1 / var_bc)
    assert drift["B"] == pytest.approx(b - w_c * c, abs=1e-8)
    contrast = np.array([1.0, -w_c])  # B - w_c * C, A being the reference level
    assert se["B"] == pytest.approx(np.sqrt(contrast @ v.loc[[tb, tc], [tb, tc]].to_numpy() @ contrast), rel=1e-6)
    assert drift["B"] == pytest.approx(5.0, abs=1.5)
    assert abs(drift["A"]) < 1.5 and abs(drift["C"]) < 1.5


def test_agreement_lower_for_the_drifting_panel(demo):
    _, data, truth, _ = demo
    a = agreement(data, MONTH)
    assert list(a.columns) == ["panel", "n_targets", "n_raters", "icc2_1", "ci_low", "ci_high", "icc2_k",
                               "mean_spread"]
    drifting = a["panel"].str.contains(truth["drifting_assessor_id"])
    assert drifting.any() and (~drifting).any()
    big = a["n_targets"] >= 100
    # absolute agreement suffers from a constant offset
    assert a.loc[drifting & big, "icc2_1"].max() < a.loc[~drifting & big, "icc2_1"].min()
    assert ((a["icc2_1"] > 0.3) & (a["icc2_1"] < 1)).loc[~drifting & big].all()


# ----------------------------------------------------------------------------- skill scores
def test_contract_columns_and_ranges(demo):
    _, data, _, _ = demo
    s = score_skills(data, MONTH)
    assert list(s.columns) == ["rep_id", "skill", "score", "ci_low", "ci_high", "n_evidence"]
    assert s.groupby("rep_id").size().eq(len(SKILLS)).all()
    assert set(s["skill"].astype(str)) == set(SKILLS)
    assert s[["score", "ci_low", "ci_high"]].apply(lambda c: c.between(0, 100)).all().all()
    assert ((s["ci_low"] <= s["score"]) & (s["score"] <= s["ci_high"])).all()
    assert (s["n_evidence"] >= 0).all()


def test_rank_correlation_with_planted_skills(demo):
    _, _, truth, ev = demo
    true = pd.DataFrame(truth["rep_skills"]).T
    reps = ev[ev["role"] == "rep"]
    for skill in SKILLS:
        g = reps[reps["skill"] == skill].set_index("rep_id")
        rho = stats.spearmanr(g["score"], true.loc[g.index, skill]).statistic
        assert rho > 0.8, (skill, rho)


def test_newcomer_tops_no_skill(demo):
    _, _, truth, ev = demo
    reps = ev[ev["role"] == "rep"]
    top = reps.loc[reps.groupby("skill", observed=True)["score"].idxmax(), "rep_id"]
    newcomer = truth["newcomer_rep_id"]
    assert newcomer not in set(top)
    mine = ev[ev["rep_id"] == newcomer].set_index("skill")
    assert truth["newcomer"]["calls"] <= 15  # the planted handful of lucky calls
    # little evidence: the widest intervals of the team
    width = (ev["ci_high"] - ev["ci_low"]).groupby(ev["rep_id"]).mean()
    assert width.loc[newcomer] == width.max()
    # shrunk: the newcomer's closing sits far below their raw 6-of-7 close rate
    assert mine.loc["closing", "call_value"] > 0.8
    assert mine.loc["closing", "score"] < reps.loc[reps["skill"] == "closing", "score"].quantile(0.9)


def test_planted_weak_skills_are_each_reps_lowest(demo):
    _, _, truth, ev = demo
    wide = ev.pivot_table(index="rep_id", columns="skill", values="score", observed=True)
    for rep, skill in truth["weak_skills"].items():
        lowest_two = wide.loc[rep].nsmallest(2).index
        assert skill in lowest_two, (rep, skill, wide.loc[rep].round(1).to_dict())


def test_scores_lie_between_the_peer_mean_and_the_evidence(demo):
    _, _, _, ev = demo
    # teamwork has no call metric: the posterior is a weighted mean of prior and assessments
    tw = ev[(ev["skill"] == "teamwork") & ev["assessment_mean"].notna()]
    lo = np.minimum(tw["prior_mean"], tw["assessment_mean"]) - 1e-9
    hi = np.maximum(tw["prior_mean"], tw["assessment_mean"]) + 1e-9
    assert tw["score"].between(lo, hi).all()
    assert (tw["call_weight"] == 0).all()
    # call evidence is used where it carries signal, never alone
    closing = ev[ev["skill"] == "closing"]
    assert closing["call_weight"].median() > 0.05 and closing["call_weight"].max() < 0.95


def test_shrinkage_by_hand_for_assessments_only():
    """One team, teamwork only: the score is the normal posterior computed here by hand."""
    rng = np.random.default_rng(11)
    reps = [f"R{i}" for i in range(12)]
    true = rng.normal(65, 10, len(reps))
    rows = []
    for i, r in enumerate(reps):
        n = 1 if i == 0 else 6
        for j in range(n):
            rows.append({"rep_id": r, "assessed_on": pd.Timestamp("2026-10-20"), "skill": "teamwork",
                         "score": float(true[i] + rng.normal(0, 6)), "assessor_id": "L1"})
    from types import SimpleNamespace

    empty_calls = pd.DataFrame({"rep_id": pd.Series(dtype="string"), "started_at": pd.Series(dtype="datetime64[ns]"),
                                "outcome": pd.Series(dtype="string"), "objection": pd.Series(dtype="string"),
                                "customer_id": pd.Series(dtype="string")})
    data = SimpleNamespace(
        assessments=pd.DataFrame(rows).astype({"rep_id": "string", "assessor_id": "string"}),
        calls=empty_calls,
        orders=pd.DataFrame({"rep_id": pd.Series(dtype="string"), "ordered_at": pd.Series(dtype="datetime64[ns]"),
                             "status": pd.Series(dtype="string")}),
        feedback=pd.DataFrame({"rep_id": pd.Series(dtype="string"), "received_at": pd.Series(dtype="datetime64[ns]"),
                               "score": pd.Series(dtype="float64")}),
        reps=pd.DataFrame({"rep_id": pd.Series(reps, dtype="string"), "team": "T1", "role": "rep"}),
    )
    ev = skill_evidence(data, MONTH, {"skills": {"correct_drift": False}})
    tw = ev[ev["skill"] == "teamwork"].set_index("rep_id")
    a = pd.DataFrame(rows).groupby("rep_id")
    means, counts = a["score"].mean(), a["score"].size()
    sigma2 = (a["score"].var(ddof=1) * (counts - 1)).sum() / (counts - 1).sum()
    v = sigma2 / counts
    prior = means.mean()
    tau2 = max(((means - prior) ** 2).sum() / (len(reps) - 1) - v.mean(), 1.0)
    post = (prior / tau2 + means / v) / (1 / tau2 + 1 / v)
    sd = np.sqrt(1 / (1 / tau2 + 1 / v))
    np.testing.assert_allclose(tw.loc[reps, "score"], post.loc[reps], rtol=1e-9)
    np.testing.assert_allclose(tw.loc[reps, "ci_high"] - tw.loc[reps, "score"], 1.959964 * sd.loc[reps], rtol=1e-5)
    # the rep with one assessment is pulled hardest toward the team mean
    pull = (tw["score"] - means).abs() / (means - prior).abs()
    assert pull.idxmax() == "R0"


def test_skills_cli_csv(demo, capsys):
    folder, _, _, _ = demo
    assert main(["skills", str(folder), "--month", MONTH, "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "rep_id,skill,score,ci_low,ci_high,n_evidence"
    assert len(out) > 60 * len(SKILLS)
    assert main(["skills", str(folder), "--month", "2031-01", "--format", "csv"]) == 2
    assert "no calls in month 2031-01" in capsys.readouterr().err


# ----------------------------------------------------------------------------- computed once, the same numbers
def test_holm_is_statsmodels_holm():
    from statsmodels.stats.multitest import multipletests

    from telesales_lab.analysis.calibration import _holm

    rng = np.random.default_rng(5)
    z = np.concatenate([rng.normal(0, 1.5, 40), [4.0, 4.0, -6.0, np.nan]])
    judged = rng.random(len(z)) < 0.8
    judged[-4:] = True
    got = _holm(z, judged)
    ok = judged & np.isfinite(z)
    expected = multipletests(2 * stats.norm.sf(np.abs(z[ok])), method="holm")[1]
    np.testing.assert_array_equal(got[ok], expected)
    assert (got[~ok] == 1).all()


def test_agreement_panels_match_icc_of_each_panel(demo):
    """Each panel's coefficients recomputed with the public icc() on its own ratings."""
    _, data, _, _ = demo
    a = agreement(data, MONTH).set_index("panel")
    r = data.assessments.dropna(subset=["assessor_id"])
    r = r[(r["assessed_on"] >= "2026-05-01") & (r["assessed_on"] < "2026-11-01")]
    r = r.assign(target=r["rep_id"].astype(str) + "|" + r["skill"].astype(str) + "|"
                 + r["assessed_on"].dt.strftime("%Y-%m"), assessor_id=r["assessor_id"].astype(str))
    r = r.groupby(["target", "assessor_id"], as_index=False)["score"].mean()
    panel = r.groupby("target")["assessor_id"].agg(lambda s: "+".join(sorted(s)))
    r = r.join(panel.rename("panel"), on="target")
    r = r[r["panel"].str.contains(r"\+", regex=True)]
    checked = 0
    for name, g in r.groupby("panel"):
        if g["target"].nunique() < 3:
            assert name not in a.index
            continue
        res = icc(g, "target", "assessor_id", "score").set_index("type")
        assert a.loc[name, "icc2_1"] == pytest.approx(res.loc["ICC2", "icc"], rel=1e-12)
        assert a.loc[name, "icc2_k"] == pytest.approx(res.loc["ICC2k", "icc"], rel=1e-12)
        assert a.loc[name, "ci_low"] == pytest.approx(res.loc["ICC2", "ci_low"], rel=1e-12)
        spread = g.groupby("target")["score"].agg(lambda v: v.max() - v.min()).mean()
        assert a.loc[name, "mean_spread"] == pytest.approx(spread, rel=1e-12)
        checked += 1
    assert checked == len(a) >= 3


def test_month_sums_match_a_plain_groupby(demo):
    from telesales_lab.data.monthly import call_month_stats, call_months, feedback_month_stats, order_month_stats

    _, data, _, _ = demo
    c = data.calls
    outcome = c["outcome"].astype(str)
    frame = pd.DataFrame({"month": c["started_at"].dt.to_period("M").map(lambda p: p.ordinal),
                          "rep_id": c["rep_id"].astype(str), "n_calls": 1,
                          "close_k": outcome == "sale", "close_n": outcome.isin(["sale", "interested"]),
                          "obj_n": c["objection"].notna(),
                          "obj_k": c["objection"].notna() & outcome.isin(["callback", "interested", "sale"]),
                          "q_n": outcome != "no_answer", "q_k": (outcome != "no_answer") & c["objection"].isna()})
    expected = frame.groupby(["month", "rep_id"]).sum()
    got = call_month_stats(data).set_index(["month", "rep_id"])
    got.index = got.index.set_levels(got.index.levels[1].astype(str), level=1)
    for col in expected.columns:
        assert (got[col].reindex(expected.index) == expected[col]).all(), col
    assert len(got) == len(expected)
    assert call_months(data) == set(c["started_at"].dt.to_period("M"))
    o = data.orders
    kept = (o["status"] != "cancelled").groupby([o["ordered_at"].dt.to_period("M").map(lambda p: p.ordinal),
                                                 o["rep_id"].astype(str)]).agg(["size", "sum"])
    og = order_month_stats(data).set_index(["month", "rep_id"])
    assert (og["ord_n"].to_numpy() == kept["size"].to_numpy()).all()
    assert (og["ord_k"].to_numpy() == kept["sum"].to_numpy()).all()
    fb = data.feedback
    s = fb["score"].astype(float)
    fs = s.groupby([fb["received_at"].dt.to_period("M").map(lambda p: p.ordinal), fb["rep_id"].astype(str)])
    fg = feedback_month_stats(data)
    assert (fg["sx"].to_numpy() == fs.sum().to_numpy()).all() and (fg["n"].to_numpy() == fs.size().to_numpy()).all()


def test_skills_of_several_months_equal_each_month_alone(demo):
    from telesales_lab.data.load import Dataset
    from telesales_lab.data.policy import resolve_policy
    from telesales_lab.analysis.skills import skill_evidence_months

    _, data, _, _ = demo
    months = list(pd.period_range("2026-05", MONTH, freq="M"))
    for policy in (None, {"skills": {"lookback_months": 2, "correct_drift": False}}):
        together = skill_evidence_months(Dataset(data.source, dict(data.tables)), months, resolve_policy(policy))
        for m in months:  # bit for bit: each month from its own window, drift and pooled variances
            alone = skill_evidence(Dataset(data.source, dict(data.tables)), str(m), policy)
            pd.testing.assert_frame_equal(together[m], alone, check_exact=True)


@pytest.mark.parametrize("far", [False, True])
def test_month_rep_sums_match_a_groupby(far):
    """Both ways of keying (dense month range, or sorting when a month lies far away)."""
    from telesales_lab.data.monthly import _NO_MONTH, _month_rep_sums

    rng = np.random.default_rng(1)
    n = 5000
    month = rng.integers(670, 676, n)
    if far:
        month[:3] = [100, -3_000_000, 5000]  # a key range too wide to count densely
    month[10] = _NO_MONTH
    rep = pd.Series(rng.choice(["R3", "R1", "R2", None], n), dtype="string")
    flag = rng.random(n) < 0.3
    x = rng.integers(1, 6, n).astype(float)
    got = _month_rep_sums(month, rep, {"k": flag, "x": x})
    ok = rep.notna().to_numpy() & (month != _NO_MONTH)
    f = pd.DataFrame({"month": month, "rep_id": rep.astype(str), "k": flag, "x": x, "row": np.arange(n)})[ok]
    expected = f.groupby(["month", "rep_id"]).agg(k=("k", "sum"), x=("x", "sum"), first_row=("row", "min"))
    assert list(zip(got["month"], got["rep_id"])) == list(expected.index)
    assert (got["k"].to_numpy() == expected["k"].to_numpy()).all()
    assert (got["x"].to_numpy() == expected["x"].to_numpy()).all()
    assert (got["first_row"].to_numpy() == expected["first_row"].to_numpy()).all()


def test_pearson_and_f_tails_match_scipy_stats_exactly():
    """The measurement fit's Pearson test and the ICC's F quantiles and tails use scipy.special
    directly; they must give scipy.stats' numbers to the last bit, edge cases included."""
    from telesales_lab.analysis.calibration import _f_ppf, _f_sf
    from telesales_lab.analysis.skills import _pearson

    rng = np.random.default_rng(11)
    for i in range(400):
        n = int(rng.integers(5, 200))
        x = rng.normal(size=n) * rng.uniform(0.1, 100) + rng.uniform(-50, 50)
        y = rng.uniform(-1, 1) * x + rng.normal(size=n)
        if i % 3 == 0:  # whole-number scores, as assessments are
            x, y = np.round(x), np.round(y)
        if np.std(x) == 0 or np.std(y) == 0:
            continue
        want = stats.pearsonr(x, y)
        assert _pearson(x, y) == (want.statistic, want.pvalue)
        q, d1, d2 = rng.uniform(0.5, 0.999), int(rng.integers(1, 60)), float(rng.uniform(0.5, 900))
        f = float(rng.exponential(3))
        assert _f_ppf(q, d1, d2) == stats.f.ppf(q, d1, d2)
        assert _f_sf(f, d1, d2) == stats.f.sf(f, d1, d2)
    for x, d1, d2 in ((0.0, 3, 4), (-1.0, 3, 4), (np.inf, 3, 4)):
        assert _f_sf(x, d1, d2) == stats.f.sf(x, d1, d2)
    for x, d1, d2 in ((np.nan, 3, 4), (1.0, 0, 4), (1.0, 3, np.nan)):
        assert np.isnan(_f_sf(x, d1, d2)) and np.isnan(stats.f.sf(x, d1, d2))
        assert np.isnan(_f_ppf(0.9, d1, d2)) == np.isnan(stats.f.ppf(0.9, d1, d2))
