"""Script ranking: planted truth, independent computations, invariances, verdict honesty, CLI."""

from __future__ import annotations

import io
import itertools
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import comb, expit

from telesales_lab.analysis import ranking as sr
from telesales_lab.analysis.ranking.cells import _window_calls
from telesales_lab.analysis.ranking.ranker import _plan
from telesales_lab.analysis.ranking.revenue import _revenue_from_cells
from telesales_lab.cli import main
from telesales_lab.data.load import Dataset, load_dataset
from telesales_lab.data.periods import parse_month
from telesales_lab.exceptions import ParameterError

MONTH = "2026-10"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def demo(demo_folder):
    """A small demo data set (20k calls over 6 months) and its planted truth."""
    folder, truth = demo_folder(seed=7, n_calls=20_000)
    return folder, load_dataset(folder, cache=False), truth


def _cells(seed, R=20, J=3, calls=60, base=-1.5, effects=None, confounding=2.0, scenario="s"):
    """Synthetic sufficient statistics: strong reps prefer the first variants (confounded choice)."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0, 0.8, R)
    pref = np.exp(confounding * np.outer(skill, np.linspace(1, -1, J)))
    pref /= pref.sum(1, keepdims=True)
    dials = np.array([rng.multinomial(n, p) for n, p in zip(rng.poisson(calls, R), pref)])  # reps, not calls
    conn = rng.binomial(dials, 0.5)
    eff = np.zeros(J) if effects is None else np.asarray(effects, float)
    sales = rng.binomial(conn, expit(base + skill[:, None] + eff))
    return pd.DataFrame({
        "scenario": scenario,
        "rep_id": np.repeat([f"R{r:02d}" for r in range(R)], J),
        "script_id": np.tile([f"S{j}" for j in range(J)], R),
        "calls": dials.ravel(), "connected": conn.ravel(), "sales": sales.ravel(),
        "revenue": 0.0, "revenue_sq": 0.0,
    })


def _rows(cells):
    """Disaggregate cells into one row per connected call (sale 0/1)."""
    reps = np.repeat(cells["rep_id"].to_numpy(), cells["connected"].to_numpy())
    scripts = np.repeat(cells["script_id"].to_numpy(), cells["connected"].to_numpy())
    sale = np.concatenate([np.r_[np.ones(y), np.zeros(n - y)] for n, y in
                           zip(cells["connected"], cells["sales"])])  # cells, not calls
    return pd.DataFrame({"rep": reps, "script": scripts, "sale": sale})


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- planted truth
def test_confounded_scenario_raw_and_adjusted_disagree_and_adjusted_is_right(demo):
    _, data, truth = demo
    scen = truth["confounded_scenario"]
    r = sr.rank_scripts(data, MONTH, window_months=6)
    cc = r[r["scenario"] == scen]
    raw_top = cc.loc[cc["sale_rate"].idxmax(), "script_id"]
    adj_top = cc.loc[cc["rank"] == 1, "script_id"].tolist()
    assert adj_top == [truth["best_script"][scen]]
    assert raw_top != adj_top[0]
    assert raw_top == truth["worst_script"][scen]  # strong reps favour the worst variant
    # the adjusted order follows the planted log-odds effects
    order = cc.sort_values("rank")["script_id"].tolist()
    assert order == sorted(order, key=lambda s: -truth["script_effects"][s])


def test_randomised_scenarios_find_the_planted_best(demo):
    _, data, truth = demo
    r = sr.rank_scripts(data, MONTH, window_months=6)
    for scen in ("renewal", "upsell"):
        top = r[(r["scenario"] == scen) & (r["rank"] == 1)]
        assert top["script_id"].tolist() == [truth["best_script"][scen]]
        assert top["verdict"].tolist() == ["best"]  # a clear effect over 6 months is found


def test_null_scenario_never_gets_a_winner(demo):
    _, data, truth = demo
    null = truth["null_scenario"]
    assert truth["best_script"][null] is None
    runs = [(m, 1, None) for m in ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", MONTH)]
    runs += [(MONTH, 6, None), (MONTH, 1, "customer_class"), (MONTH, 6, "customer_class")]
    for month, window, by in runs:
        r = sr.rank_scripts(data, month, by=by, window_months=window, n_draws=1000)
        assert not (r.loc[r["scenario"] == null, "verdict"] == "best").any(), (month, window, by)


def test_false_winner_rate_at_most_alpha_over_50_null_simulations():
    winners = 0
    for seed in range(50):
        r = sr.rank_cells(_cells(seed, R=20, calls=60), min_connected=50, n_draws=1000)
        winners += int((r["verdict"] == "best").any())
    assert winners / 50 <= 0.05


def test_a_real_difference_is_found_under_confounding():
    """Not a test that cannot fail: with a clear effect the verdict does come."""
    found, raw_wrong = 0, 0
    for seed in range(10):
        cells = _cells(seed, R=30, calls=120, effects=(0.0, 0.0, 0.9), confounding=2.5)
        r = sr.rank_cells(cells, n_draws=1000)
        found += int(r.loc[r["verdict"] == "best", "script_id"].tolist() == ["S2"])
        raw_wrong += int(r.loc[r["sale_rate"].idxmax(), "script_id"] != "S2")
    assert found >= 8
    assert raw_wrong >= 1  # the confounding does fool the raw rate at times


# ----------------------------------------------------------------------------- independent computations
def test_wilson_interval_matches_statsmodels(demo):
    from statsmodels.stats.proportion import proportion_confint

    _, data, _ = demo
    r = sr.rank_scripts(data, MONTH)
    low, high = proportion_confint(r["sales"], r["connected"], alpha=0.05, method="wilson")
    np.testing.assert_allclose(r["ci_low"], low, rtol=1e-12)
    np.testing.assert_allclose(r["ci_high"], high, rtol=1e-12)
    np.testing.assert_allclose(r["sale_rate"], r["sales"] / r["connected"])


def test_demo_counts_match_the_raw_calls(demo):
    folder, data, _ = demo
    calls = pd.read_csv(folder / "calls.csv")
    scen = pd.read_csv(folder / "scripts.csv").set_index("script_id")["scenario"]
    calls = calls[calls["started_at"].str.startswith(MONTH)]
    expect = calls.groupby("script_id").agg(calls=("call_id", "size"),
                                            connected=("outcome", lambda s: (s != "no_answer").sum()),
                                            sales=("outcome", lambda s: (s == "sale").sum()))
    r = sr.rank_scripts(data, MONTH).set_index("script_id")
    pd.testing.assert_frame_equal(r[["calls", "connected", "sales"]].sort_index(), expect.sort_index(),
                                  check_dtype=False, check_names=False, check_index_type=False)
    assert (r["scenario"] == scen.reindex(r.index)).all()


def test_conditional_logit_matches_statsmodels_on_call_rows():
    from statsmodels.discrete.conditional_models import ConditionalLogit

    cells = _cells(11, R=12, calls=50, effects=(0.0, 0.6, 0.2))
    fit = sr.ScriptRanker(min_connected=10).fit(cells).groups_[("s",)]
    rows = _rows(cells)
    X = pd.DataFrame({s: (rows["script"] == s).astype(float) for s in fit.scripts[1:]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels notes the reps without within-rep variation
        ref = ConditionalLogit(rows["sale"], X, groups=rows["rep"]).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(fit.beta[1:], ref.params.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(fit.v_model, ref.cov_params().to_numpy(), rtol=1e-6)


def test_clustered_covariance_matches_brute_force_enumeration():
    """Scores and information by enumerating every split of each rep's sales (hand derivation)."""
    rng = np.random.default_rng(5)
    R, J = 9, 3
    n = rng.integers(2, 10, (R, J))
    n[0, 2] = 0
    y = rng.binomial(n, expit(-0.3 + rng.normal(0, 0.7, R)[:, None] + np.array([0.0, 0.7, 0.2])))
    cells = pd.DataFrame({"scenario": "s", "rep_id": np.repeat([f"r{i}" for i in range(R)], J),
                          "script_id": np.tile(["a", "b", "c"], R), "calls": n.ravel(), "connected": n.ravel(),
                          "sales": y.ravel()})
    fit = sr.ScriptRanker(min_connected=5, min_reps=2).fit(cells).groups_[("s",)]
    order = [["a", "b", "c"].index(s) for s in fit.scripts]
    nn, yy, b = n[:, order], y[:, order], fit.beta
    scores, info = [], np.zeros((J, J))
    for r in range(R):  # reps: a handful
        S = yy[r].sum()
        if S in (0, nn[r].sum()) or (nn[r] > 0).sum() < 2:
            continue
        ks = np.array([k for k in itertools.product(*[range(m + 1) for m in nn[r]]) if sum(k) == S])
        w = np.prod(comb(nn[r], ks), 1) * np.exp(ks @ b)
        w /= w.sum()
        e = w @ ks
        scores.append(yy[r] - e)
        info += (ks - e).T @ ((ks - e) * w[:, None])
    scores = np.array(scores)
    G = len(scores)
    np.testing.assert_allclose(scores.sum(0), 0, atol=1e-8)  # the estimate solves the score equations
    vm = np.linalg.inv(info[1:, 1:])
    vr = vm @ (scores[:, 1:].T @ scores[:, 1:] * G / (G - 1)) @ vm
    L = np.linalg.cholesky(vm)
    Li = np.linalg.inv(L)
    lam, Q = np.linalg.eigh(Li @ vr @ Li.T)
    V = L @ Q @ np.diag(np.maximum(lam, 1)) @ Q.T @ L.T
    np.testing.assert_allclose(fit.v_model, vm, rtol=1e-9)
    np.testing.assert_allclose(fit.V, V, rtol=1e-9)
    # the floored covariance dominates both
    assert np.linalg.eigvalsh(fit.V - vm).min() > -1e-12
    assert np.linalg.eigvalsh(fit.V - vr).min() > -1e-12


@pytest.mark.parametrize("beta", [(0.0, 0.5, -0.3), (0.0, 0.0, 0.0)])
def test_conditional_moments_match_direct_convolution_for_large_reps(beta):
    """Scores and information of reps with hundreds of calls (long spectra, odd and even lengths,
    sale rates near 1/2 where the generating function has its zero near z = -1) against the
    conditional distribution built by convolving scipy's binomial pmfs in real space; with
    equal effects (the hypergeometric closed form) as well."""
    from telesales_lab.analysis.ranking.clogit import _cond_terms

    rng = np.random.default_rng(3)
    R, J = 7, 3
    n = rng.integers(40, 400, (R, J))
    n[1, 1] = 0  # a rep without one variant
    n[2] = [1, 1, 2]  # a tiny one beside the long ones
    n[3] = [200, 201, 200]  # N + 1 even: the Nyquist term
    beta = np.asarray(beta)
    y = rng.binomial(n, expit(np.r_[0.0, 0.1, 0.0, -0.05, -1.0, -2.0, 1.0][:, None] + np.array([0.0, 0.5, -0.3])))
    y[2] = [1, 0, 1]
    ll, scores, info, a = _cond_terms(n.astype(float), y.astype(float), beta)
    ref_ll = (y * (a[:, None] + beta) - n * np.logaddexp(0, a[:, None] + beta)).sum()
    ref_info = np.zeros((J, J))
    for r in range(R):
        S = y[r].sum()
        pmf = [stats.binom.pmf(np.arange(n[r, j] + 1), n[r, j], expit(a[r] + beta[j])) for j in range(J)]
        # joint of (K_0, K_1) with K_2 = S - K_0 - K_1
        k0, k1 = np.meshgrid(np.arange(n[r, 0] + 1), np.arange(n[r, 1] + 1), indexing="ij")
        k2 = S - k0 - k1
        ok = (k2 >= 0) & (k2 <= n[r, 2])
        w = pmf[0][k0] * pmf[1][k1] * np.where(ok, pmf[2][np.clip(k2, 0, n[r, 2])], 0.0)
        ref_ll -= np.log(w.sum())
        w /= w.sum()
        ks = np.stack([k0[ok], k1[ok], k2[ok]], 1).astype(float)
        e = w[ok] @ ks
        np.testing.assert_allclose(scores[r], y[r] - e, rtol=1e-9, atol=1e-9)
        ref_info += (ks - e).T @ ((ks - e) * w[ok][:, None])
    np.testing.assert_allclose(info, ref_info, rtol=1e-9)
    np.testing.assert_allclose(ll, ref_ll, rtol=1e-12)


def test_profiled_intercepts_solve_their_equation_at_extreme_rates():
    """sum_j n_j expit(a + b_j) = y to machine precision for reps selling on 1 call in 900, on
    all calls but one, on half, with spread effects; reps with no sale / only sales get -inf / +inf."""
    from telesales_lab.analysis.ranking.clogit import _profile_alpha

    n = np.array([[300, 300, 300], [300, 300, 300], [5, 0, 7], [400, 1, 2], [2, 2, 2], [3, 4, 0], [3, 4, 0]], float)
    y = np.array([[1, 0, 0], [300, 299, 300], [2, 0, 4], [200, 1, 0], [1, 1, 1], [0, 0, 0], [3, 4, 0]], float)
    beta = np.array([0.0, 2.5, -3.0])
    a = _profile_alpha(n, y, beta)
    assert a[5] == -np.inf and a[6] == np.inf
    fitted = (n[:5] * expit(a[:5, None] + beta)).sum(1)
    np.testing.assert_allclose(fitted, y[:5].sum(1), rtol=1e-13)
    # the same root whatever the starting effects' scale
    np.testing.assert_allclose(_profile_alpha(n, y, beta * 0.0)[:5], np.log(y[:5].sum(1) / (n[:5].sum(1) - y[:5].sum(1))),
                               rtol=1e-13)


def test_adjusted_rate_is_the_average_prediction_over_the_rep_mix():
    """adj_effect = mean over connected calls of expit(rep intercept + script effect), the
    intercepts refitted by a statsmodels GLM with the script effects as offset."""
    import statsmodels.api as sm

    cells = _cells(21, R=10, calls=40, effects=(0.0, 0.5, -0.3))
    ranker = sr.ScriptRanker(min_connected=10).fit(cells)
    fit = ranker.groups_[("s",)]
    rows = _rows(cells)
    offset = rows["script"].map(dict(zip(fit.scripts, fit.beta))).to_numpy()
    D = pd.get_dummies(rows["rep"]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reps with no sale have an intercept of -inf
        glm = sm.GLM(rows["sale"], D, family=sm.families.Binomial(), offset=offset).fit(tol=1e-12)
    a = D.to_numpy() @ glm.params.to_numpy()
    expect = {s: expit(a + b).mean() for s, b in zip(fit.scripts, fit.beta)}
    got = ranker.ranking_.set_index("script_id")["adj_effect"]
    for s, v in expect.items():
        assert got[s] == pytest.approx(v, abs=1e-7)


def test_holm_and_bh_match_hand_and_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.20])
    # Holm by hand: sorted .01 .03 .04 .20 times 4 3 2 1 -> .04 .09 .08 .20, running max -> .04 .09 .09 .20
    np.testing.assert_allclose(sr.adjust_pvalues(p, "holm"), [0.04, 0.09, 0.09, 0.20])
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(0, 0.2, 7)
        np.testing.assert_allclose(sr.adjust_pvalues(q, "holm"), multipletests(q, method="holm")[1])
        np.testing.assert_allclose(sr.adjust_pvalues(q, "bh"), multipletests(q, method="fdr_bh")[1])


def test_pairwise_tests_and_mantel_haenszel_cross_check(demo):
    from statsmodels.stats.contingency_tables import StratifiedTable

    _, data, _ = demo
    ranker = sr.analyse_scripts(data, MONTH, window_months=6)
    pw = ranker.pairwise_
    assert (pw.groupby("scenario").size() == pd.Series({"cold_call": 3, "follow_up": 6, "renewal": 1,
                                                        "upsell": 1})).all()
    for scen, g in pw.groupby("scenario"):
        np.testing.assert_allclose(g["p_adj"], sr.adjust_pvalues(g["p_value"], "holm"))
    # the Mantel-Haenszel odds ratio stratified by rep falls inside the conditional logit's interval
    assert ((pw["or_ci_low"] < pw["mh_odds_ratio"]) & (pw["mh_odds_ratio"] < pw["or_ci_high"])).all()
    # the MH column is statsmodels' StratifiedTable on the per-rep 2x2 tables
    cells = sr.script_cells(data, MONTH, window_months=6)
    c = cells[cells["scenario"] == "renewal"].pivot_table(index="rep_id", columns="script_id",
                                                          values=["connected", "sales"], fill_value=0)
    c = c[(c[("connected", "RN-A")] > 0) & (c[("connected", "RN-B")] > 0)]  # reps who used both
    tables = np.stack([[c[("sales", "RN-B")], c[("connected", "RN-B")] - c[("sales", "RN-B")]],
                       [c[("sales", "RN-A")], c[("connected", "RN-A")] - c[("sales", "RN-A")]]]).astype(float)
    row = pw[pw["scenario"] == "renewal"].iloc[0]
    assert row["script_a"] == "RN-B"
    assert row["mh_odds_ratio"] == pytest.approx(StratifiedTable(tables).oddsratio_pooled)


def test_calls_needed_matches_the_two_proportion_formula(demo):
    _, data, _ = demo
    need = sr.calls_needed(data, MONTH, alpha=0.05, power=0.8)
    ranking = sr.rank_scripts(data, MONTH).set_index(["scenario", "script_id"])
    for row in need.itertuples():
        pa = ranking.loc[(row.scenario, row.script_a), "adj_effect"]
        pb = ranking.loc[(row.scenario, row.script_b), "adj_effect"]
        h = 2 * np.arcsin(np.sqrt(pa)) - 2 * np.arcsin(np.sqrt(pb))
        # arcsine transform: Var(2 asin sqrt(p_hat)) = 1/n, so the difference of two arms has 2/n
        n = 2 * ((stats.norm.isf(0.025) + stats.norm.isf(0.2)) / h) ** 2
        assert row.n_per_arm == pytest.approx(n, abs=1.0)
        assert row.further_a == max(0, row.n_per_arm - row.connected_a)
        assert row.further_b == max(0, row.n_per_arm - row.connected_b)
        assert ranking.loc[(row.scenario, row.script_a), "rank"] == 1
        assert ranking.loc[(row.scenario, row.script_b), "rank"] == 2


def test_revenue_adjusted_mean_matches_two_way_ols():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(2)
    rows = pd.DataFrame({"rep": rng.choice([f"r{i}" for i in range(8)], 600),
                         "script": rng.choice(["a", "b", "c"], 600)})
    rep_eff = rows["rep"].str[1:].astype(int) * 50.0
    rows["rev"] = np.maximum(0, 200 + rep_eff + rows["script"].map({"a": 0, "b": 80, "c": 30})
                             + rng.normal(0, 120, 600))
    rows["rev"] *= rng.random(600) < 0.6
    cells = rows.groupby(["rep", "script"]).agg(connected=("rev", "size"), revenue=("rev", "sum"),
                                               revenue_sq=("rev", lambda v: (v ** 2).sum())).reset_index()
    cells = cells.rename(columns={"rep": "rep_id", "script": "script_id"}).assign(
        scenario="s", calls=lambda f: f["connected"], sales=0)
    got = _revenue_from_cells(cells, 0.05, 10, 3).set_index("script_id")
    ols = smf.ols("rev ~ C(rep) + C(script)", data=rows).fit()
    for s in ("a", "b", "c"):
        pred = ols.predict(rows.assign(script=s)).mean()  # every call made with script s
        assert got.loc[s, "adj_revenue_per_connected"] == pytest.approx(pred, rel=1e-9)
        raw = rows.loc[rows["script"] == s, "rev"]
        lo, hi = stats.t.interval(0.95, len(raw) - 1, loc=raw.mean(), scale=stats.sem(raw))
        assert got.loc[s, "ci_low"] == pytest.approx(lo) and got.loc[s, "ci_high"] == pytest.approx(hi)
    assert (got["adj_ci_low"] < got["adj_revenue_per_connected"]).all()


def test_srm_check_against_scipy_and_a_planted_mismatch(demo):
    _, data, truth = demo
    split = {"renewal": truth["intended_split"]["renewal"]}
    res = sr.srm_check(data, MONTH, split)
    counts = res["calls"].to_numpy(float)
    chi2, p = stats.chisquare(counts, counts.sum() * np.array([0.5, 0.5]))
    assert res["chi2"].iloc[0] == pytest.approx(chi2) and res["p_value"].iloc[0] == pytest.approx(p)
    assert not res["srm"].any()  # the demo randomises renewal 50/50
    skewed = sr.srm_check(data, MONTH, {"renewal": {"RN-A": 0.8, "RN-B": 0.2}})
    assert skewed["srm"].all()
    eq = sr.srm_check(data, MONTH, "equal")
    assert eq.loc[eq["scenario"] == truth["confounded_scenario"], "srm"].all()  # reps choose: not as planned


# ----------------------------------------------------------------------------- invariances
def _renamed(data, rng):
    """The data set with rows shuffled and rep and script ids renamed consistently."""
    t = {k: v.copy() for k, v in data.tables.items()}
    reps = t["reps"]["rep_id"].to_numpy(str)
    rep_map = dict(zip(reps, [f"X{i:03d}" for i in rng.permutation(len(reps))]))
    scripts = t["scripts"]["script_id"].to_numpy(str)
    script_map = dict(zip(scripts, [f"V{i:02d}" for i in rng.permutation(len(scripts))]))
    for name, frame in t.items():
        for col in ("rep_id", "manager_id", "assessor_id"):
            if col in frame:
                frame[col] = frame[col].map(rep_map).astype("string")
        if "script_id" in frame:
            frame["script_id"] = frame["script_id"].map(script_map).astype("string")
        t[name] = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    return Dataset(data.source, t, data.files), rep_map, script_map


@pytest.mark.parametrize("by", [None, "customer_class"])
def test_shuffling_rows_and_renaming_ids_leaves_results_unchanged(demo, by):
    _, data, _ = demo
    renamed, rep_map, script_map = _renamed(data, np.random.default_rng(1))
    back = {v: k for k, v in script_map.items()}
    keys = ["scenario"] + ([by] if by else []) + ["script_id"]
    fit_a = sr.analyse_scripts(data, MONTH, by=by, window_months=3)
    fit_b = sr.analyse_scripts(renamed, MONTH, by=by, window_months=3)
    a, b = fit_a.ranking_, fit_b.ranking_.copy()
    b["script_id"] = b["script_id"].map(back).astype("string")
    a, b = a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
    pa, pb = fit_a.pairwise_, fit_b.pairwise_.copy()
    for c in ("script_a", "script_b"):
        pb[c] = pb[c].map(back).astype("string")
    pk = keys[:-1] + ["script_a", "script_b"]
    pd.testing.assert_frame_equal(pa.sort_values(pk).reset_index(drop=True),
                                  pb.sort_values(pk).reset_index(drop=True), check_exact=False, rtol=1e-7)


def test_plan_is_invariant_and_blocked_by_rep(demo):
    _, data, _ = demo
    plan = sr.assignment_plan(data, MONTH)
    alloc = sr.thompson_allocation(data, MONTH)
    cells = sr.script_cells(data, MONTH)
    dials = cells.groupby(["scenario", "rep_id"])["calls"].sum()
    got = plan.groupby(["scenario", "rep_id"])["planned_calls"].sum()
    pd.testing.assert_series_equal(got.sort_index(), dials.sort_index(), check_names=False, check_dtype=False)
    n_variants = alloc.groupby("scenario").size()
    per_rep = plan.groupby(["scenario", "rep_id"]).size()
    assert (per_rep == n_variants.reindex(per_rep.index.get_level_values(0)).to_numpy()).all()
    renamed, rep_map, script_map = _renamed(data, np.random.default_rng(4))
    p2 = sr.assignment_plan(renamed, MONTH)
    p2["rep_id"] = p2["rep_id"].map({v: k for k, v in rep_map.items()})
    p2["script_id"] = p2["script_id"].map({v: k for k, v in script_map.items()})
    k = ["scenario", "rep_id", "script_id"]
    pd.testing.assert_frame_equal(plan.sort_values(k).reset_index(drop=True),
                                  p2.sort_values(k).reset_index(drop=True), check_dtype=False)


# ----------------------------------------------------------------------------- next month, verdict rules
def test_allocation_has_a_floor_and_follows_prob_best(demo):
    _, data, _ = demo
    alloc = sr.thompson_allocation(data, MONTH, floor=0.1)
    ranking = sr.rank_scripts(data, MONTH).set_index(["scenario", "script_id"])
    np.testing.assert_allclose(alloc.groupby("scenario")["share"].sum(), 1.0)
    assert (alloc["share"] >= 0.1 - 1e-12).all()
    for row in alloc.itertuples():
        k = (alloc["scenario"] == row.scenario).sum()
        ranked = ranking.loc[(row.scenario, row.script_id), "prob_best"]
        if np.isnan(ranked):  # insufficient data: the floor only
            assert np.isnan(row.prob_best) and row.share == pytest.approx(0.1)
        else:
            assert row.share == pytest.approx(0.1 + (1 - k * 0.1) * row.prob_best)
            assert row.prob_best == ranked
    equal = sr.thompson_allocation(data, MONTH, floor=0.4)
    assert np.allclose(equal.loc[equal["scenario"] == "cold_call", "share"], 1 / 3)


def test_prob_best_and_expected_loss_are_consistent(demo):
    _, data, _ = demo
    r = sr.rank_scripts(data, MONTH, window_months=6)
    np.testing.assert_allclose(r.groupby("scenario")["prob_best"].sum(), 1.0)
    assert (r["expected_loss"] >= 0).all()
    for _, g in r.groupby("scenario"):
        g = g.sort_values("rank")
        # the best estimate has the smallest expected loss, and the adjusted estimate is inside its interval
        assert g["expected_loss"].iloc[0] == g["expected_loss"].min()
        assert (g["adj_ci_low"] < g["adj_effect"]).all() and (g["adj_effect"] < g["adj_ci_high"]).all()


def test_insufficient_data_below_the_minimum_sample(demo, tiny_dir):
    _, data, _ = demo
    r = sr.rank_scripts(data, MONTH, min_connected=300)
    small = r["connected"] < 300
    assert (r.loc[small, "verdict"] == "insufficient_data").all()
    assert r.loc[small, ["adj_effect", "prob_best", "rank"]].isna().all().all()
    assert (r.loc[~small, "verdict"] != "insufficient_data").all()
    many_reps = sr.rank_scripts(data, MONTH, min_reps=1000)
    assert (many_reps["verdict"] == "insufficient_data").all()
    tiny = sr.rank_scripts(load_dataset(tiny_dir), MONTH)
    assert list(tiny["verdict"]) == ["insufficient_data"] * 2
    assert list(tiny["script_id"]) == ["S1", "S2"]
    assert list(tiny["connected"]) == [2, 1] and list(tiny["sales"]) == [1, 0]  # by hand from the fixture


def test_equal_variants_with_identical_data_are_tied_not_ranked():
    cells = _cells(3, R=15, J=2, calls=80)
    twin = cells[cells["script_id"] == "S0"].assign(script_id="S1")
    cells = pd.concat([cells[cells["script_id"] == "S0"], twin], ignore_index=True)
    r = sr.rank_cells(cells, min_connected=10)
    assert list(r["rank"]) == [1, 1]
    assert (r["verdict"] == "inconclusive").all()
    np.testing.assert_allclose(r["adj_effect"].iloc[0], r["adj_effect"].iloc[1])


def test_a_variant_without_any_sale_does_not_break_the_fit():
    cells = _cells(8, R=15, calls=80, effects=(0, 0, 0.5))
    cells.loc[cells["script_id"] == "S1", "sales"] = 0
    r = sr.rank_cells(cells, min_connected=10)
    assert r.loc[r["script_id"] == "S1", "rank"].item() == 3
    assert np.isfinite(r["adj_effect"]).all() and np.isfinite(r["adj_ci_high"]).all()


# ----------------------------------------------------------------------------- phrases
def test_phrases_find_the_winning_lines_and_match_statsmodels(demo):
    from statsmodels.stats.contingency_tables import StratifiedTable

    _, data, truth = demo
    ph = sr.phrase_analysis(data, MONTH, source="script", window_months=6)
    for scen, phrase in truth["winning_phrases"].items():
        top = ph[ph["scenario"] == scen].iloc[0]
        assert phrase in top["phrase"] and top["z"] > 0
    assert truth["null_scenario"] not in truth["winning_phrases"]
    tr = sr.phrase_analysis(data, MONTH, source="transcript", window_months=6)
    assert len(tr) and not tr["phrase"].str.contains("怎么付款").any()  # the customer's words are left out
    # the MH log odds ratio of one phrase equals statsmodels' on the per-rep tables
    row = ph[ph["scenario"] == "renewal"].iloc[0]
    calls = _window_calls(data, parse_month(MONTH), 6)
    calls = calls[(calls["scenario"] == "renewal") & calls["connected"]]
    text = calls["script_id"].map(data.scripts.set_index("script_id")["text"])
    has = text.str.contains(row["phrase"], regex=False).to_numpy(bool)
    tabs = []
    for rep, g in calls.assign(has=has).groupby("rep_id"):  # reps, not calls
        a = (g["has"] & g["sale"]).sum()
        b = (g["has"] & ~g["sale"]).sum()
        c = (~g["has"] & g["sale"]).sum()
        d = (~g["has"] & ~g["sale"]).sum()
        tabs.append([[a, b], [c, d]])
    st = StratifiedTable(np.array(tabs, float).transpose(1, 2, 0))
    assert row["log_odds_ratio"] == pytest.approx(st.logodds_pooled)
    assert row["z"] == pytest.approx(st.logodds_pooled / st.logodds_pooled_se)
    assert row["calls_with"] == has.sum()


# ----------------------------------------------------------------------------- parameters and CLI
@pytest.mark.parametrize("kwargs, match", [
    ({"by": "team"}, "by == 'team'"),
    ({"window_months": 0}, "window_months == 0"),
    ({"padjust": "bonferroni"}, "padjust == 'bonferroni'"),
    ({"alpha": 1.5}, "alpha == 1.5"),
    ({"min_connected": 0}, "min_connected == 0"),
    ({"month": "2026-13"}, "month == '2026-13'"),
    ({"month": "2030-01"}, "no calls in month 2030-01"),
])
def test_bad_parameters_are_refused(demo, kwargs, match):
    _, data, _ = demo
    kwargs = {"month": MONTH} | kwargs
    with pytest.raises(ParameterError, match=match):
        sr.rank_scripts(data, **kwargs)


def test_cli_csv_has_exactly_the_columns(demo):
    folder, _, _ = demo
    code, out, err = _run(["rank-scripts", str(folder), "--month", MONTH, "--format", "csv"])
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == list(sr.RANK_COLUMNS)
    assert set(frame["verdict"]) <= set(sr.VERDICTS)
    code, out, err = _run(["rank-scripts", str(folder), "--month", MONTH, "--by", "customer_class",
                           "--window-months", "2", "--padjust", "bh", "--format", "csv"])
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == ["scenario", "customer_class"] + list(sr.RANK_COLUMNS[1:])
    assert set(frame["customer_class"]) <= {"A", "B", "C"}
    code, out, err = _run(["rank-scripts", str(folder), "--month", MONTH, "--table", "pairwise", "--format", "csv"])
    assert code == 0 and list(pd.read_csv(io.StringIO(out)).columns) == ["scenario"] + list(sr.PAIRWISE_COLUMNS)


@pytest.mark.parametrize("args, match", [
    (["--month", "2026-13"], "must be YYYY-MM"),
    (["--month", "2030-01"], "no calls in month"),
    (["--month", MONTH, "--alpha", "1.5"], "alpha == 1.5"),
    (["--month", MONTH, "--table", "srm", "--intended-split", "nope.csv"], "does not exist"),
])
def test_cli_bad_values_exit_2_without_traceback(demo, args, match):
    folder, _, _ = demo
    code, out, err = _run(["rank-scripts", str(folder)] + args + ["--format", "csv"])
    assert code == 2
    assert match in err and "Traceback" not in err and out == ""


def test_cli_argparse_errors_exit_2(demo):
    folder, _, _ = demo
    for extra in (["--by", "team"], ["--window-months", "0"], ["--padjust", "none"]):
        err = io.StringIO()
        with redirect_stderr(err), pytest.raises(SystemExit) as exc:
            main(["rank-scripts", str(folder), "--month", MONTH] + extra)
        assert exc.value.code == 2 and "Traceback" not in err.getvalue()


def test_chinese_headers(demo):
    from telesales_lab.labels import translate_columns

    _, data, _ = demo
    zh = translate_columns(sr.rank_scripts(data, MONTH), "zh")
    assert {"场景", "话术", "调整后成交率", "最优概率", "结论"} <= set(zh.columns)


def test_a_ranking_is_fitted_once_per_data_set_and_pages_reuse_it(demo_folder):
    # a fresh data set: its cache starts empty
    folder, _ = demo_folder(seed=7, n_calls=20_000)
    data = load_dataset(folder, cache=False)

    def fits():
        n = data.cache.summary().set_index("name")["n_results"]
        return int(n.get("script_ranking_fit", 0))

    ranker = sr.analyse_scripts(data, MONTH, window_months=3, padjust="holm")
    assert fits() == 1
    plan = sr.assignment_plan(data, MONTH, window_months=3, padjust="holm")
    sr.rank_scripts(data, MONTH, window_months=3)  # the policy's thresholds: the same fit
    assert fits() == 1
    # the plan splits the month's dials whatever the window: the same as on the month's own cells
    pd.testing.assert_frame_equal(plan, _plan(ranker.allocation(), sr.script_cells(data, MONTH, window_months=1)))
    # a refit from the cells gives the same tables as the kept one
    fresh = sr.ScriptRanker(padjust="holm").fit(sr.script_cells(data, MONTH, window_months=3))
    pd.testing.assert_frame_equal(ranker.ranking_, fresh.ranking_, check_exact=True)
    pd.testing.assert_frame_equal(ranker.pairwise_, fresh.pairwise_, check_exact=True)
    pd.testing.assert_frame_equal(ranker.allocation(), fresh.allocation(), check_exact=True)
    # other thresholds are another fit
    sr.rank_scripts(data, MONTH, window_months=3, min_reps=4)
    assert fits() == 2


def test_srm_counts_the_window_dials(demo):
    _, data, _ = demo
    srm = sr.srm_check(data, MONTH, window_months=3)
    calls = _window_calls(data, parse_month(MONTH), 3)
    dials = calls.groupby(["scenario", "script_id"]).size()
    got = srm.set_index(["scenario", "script_id"])["calls"]
    pd.testing.assert_series_equal(got.sort_index(), dials.sort_index(), check_names=False, check_dtype=False)
