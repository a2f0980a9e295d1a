"""Script policy by customer class: one script for everyone, or one per class where credible.

A trainer may be tempted to pick the best script separately for A, B and C customers. With
three classes and a few scripts, some class will always seem to prefer another script by
chance. So a per-class policy is recommended only where the data show a credible
*interaction*: the scripts' rep-adjusted effects differ between classes.

Method
------
1. The ranking's fits (:class:`telesales_lab.analysis.ranking.ScriptRanker`) per scenario and
   per scenario x class, on the same sufficient statistics (classes at the start of the
   window, as the ranking uses them).
2. **Interaction test** per scenario: the scripts ranked in every class, their log-odds
   contrasts against a common reference script in each class (``theta_c`` with the
   rep-clustered covariance ``V_c`` of the fit), and the Wald test of homogeneity
   ``sum_c (theta_c - theta_bar)' V_c^-1 (theta_c - theta_bar)`` with ``theta_bar`` the
   precision-weighted mean; ``chi2 / df`` is referred to an F distribution with
   ``df = (C - 1)(J - 1)`` and the smallest class's ``G - 1`` (reps informative for the fit)
   degrees of freedom, as the ranking's t tests are, because the covariances are clustered by
   rep. The p-values of the scenarios are adjusted together (Holm by default).
3. **Recommendation**: where the adjusted p-value is below ``alpha`` *and* the per-class
   policy's expected gain (below) has an interval above 0, the script with the highest
   adjusted sale rate in each class; otherwise the scenario's overall best script for every
   class (the ranking's rank 1). A credible interaction whose gain could still be nothing
   (say, a class that prefers another script but makes few calls) keeps one script.
4. **Expected gain** of the per-class policy over the single best script: the classes'
   differences ``rate_c(best_c) - rate_c(best overall)``, weighted by their shares of the
   scenario's connected calls, with a 95% interval from the fits' posterior draws (classes
   are fitted on disjoint calls, so their draws are independent). It is shown wherever the
   interaction is credible; without a credible interaction it is not estimated (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from telesales_lab.analysis.inference import adjust_pvalues, check_padjust

__all__ = ["POLICY_COLUMNS", "script_policy", "script_policy_by_class"]

POLICY_COLUMNS = ("scenario", "customer_class", "recommended_script", "single_script", "per_class", "share",
                  "rate_recommended", "rate_single", "chi2", "df", "p_value", "p_adj", "gain", "gain_low",
                  "gain_high")


def _full(fit):
    """Log-odds vector and covariance of a group fit over all its scripts (reference has 0, 0)."""
    J = fit.J
    V = np.zeros((J, J))
    V[1:, 1:] = fit.V
    return np.asarray(fit.beta, float), V


def _homogeneity(fits, scripts):
    """Wald chi-square, df of the contrasts of ``scripts[1:]`` vs ``scripts[0]`` equal across fits."""
    thetas, precs = [], []
    for fit in fits:
        b, V = _full(fit)
        idx = [fit.scripts.index(s) for s in scripts]
        L = np.zeros((len(scripts) - 1, fit.J))
        for k, j in enumerate(idx[1:]):
            L[k, j] += 1
            L[k, idx[0]] -= 1
        th = L @ b
        cov = L @ V @ L.T
        if not np.all(np.isfinite(cov)):
            return np.nan, 0
        thetas.append(th)
        precs.append(np.linalg.pinv(cov))
    P = sum(precs)
    bar = np.linalg.pinv(P) @ sum(p @ t for p, t in zip(precs, thetas))
    chi2 = float(sum((t - bar) @ p @ (t - bar) for p, t in zip(precs, thetas)))
    return chi2, (len(fits) - 1) * (len(scripts) - 1)


def script_policy(cells: pd.DataFrame, alpha: float = 0.05, padjust: str = "holm", min_connected: int = 100,
                  min_reps: int = 3, n_draws: int = 4000, random_state: int = 0) -> pd.DataFrame:
    """Per-class or single-script policy from sufficient statistics split by customer class.

    Parameters
    ----------
    cells : DataFrame
        :func:`telesales_lab.analysis.ranking.script_cells` with ``by="customer_class"``.
    alpha, padjust
        Level and multiplicity correction (over scenarios) of the interaction tests.
    min_connected, min_reps, n_draws, random_state
        As for :class:`~telesales_lab.analysis.ranking.ScriptRanker`.

    Returns
    -------
    DataFrame
        One row per scenario and customer class with a ranked script:
        ``scenario, customer_class, recommended_script, single_script, per_class, share,
        rate_recommended, rate_single, chi2, df, p_value, p_adj, gain, gain_low, gain_high``:
        the script to use for the class and the scenario's single best script;
        ``per_class`` whether the interaction is credible (``p_adj < alpha``); ``share`` the
        class's share of the scenario's connected calls; the class's adjusted sale rates with
        either script; the scenario's interaction test (repeated on its rows; NaN where
        fewer than two classes or scripts can be compared: no evidence); ``gain`` the
        expected sale-rate gain per connected call of the per-class policy (each class's best)
        over the single script, with its 95% interval (NaN without a credible interaction).
    """
    from telesales_lab.analysis.ranking import ScriptRanker

    check_padjust(padjust)
    if "customer_class" not in cells.columns:
        from telesales_lab.exceptions import ParameterError

        raise ParameterError("cells lack column 'customer_class'; build them with script_cells(by='customer_class')")
    opts = dict(alpha=alpha, padjust=padjust, min_connected=min_connected, min_reps=min_reps, n_draws=n_draws,
                random_state=random_state)
    by_class = ScriptRanker(**opts).fit(cells)
    keys = ["scenario", "rep_id", "script_id"]
    sums = [c for c in ("calls", "connected", "sales", "revenue", "revenue_sq", "calls_month") if c in cells]
    overall = ScriptRanker(**opts).fit(cells.groupby(keys, observed=True, as_index=False)[sums].sum())
    return _policy(by_class, overall, alpha, padjust, n_draws)


def _policy(by_class, overall, alpha, padjust, n_draws) -> pd.DataFrame:
    """:func:`script_policy` from the fitted rankings by scenario x class and by scenario."""
    rows, tests = [], []
    for (scen,), fit_all in overall.groups_.items():
        if fit_all.J == 0:
            continue
        single = fit_all.scripts[int(np.argmax(fit_all.rate))]
        fits = {k[1]: f for k, f in by_class.groups_.items() if k[0] == scen and f.J >= 1}
        common = [s for s in fit_all.scripts if all(s in f.scripts for f in fits.values())]
        usable = {c: f for c, f in fits.items() if f.J >= 2}
        chi2, df = (np.nan, 0)
        if len(usable) >= 2 and len(common) >= 2 and all(set(common) <= set(f.scripts) for f in usable.values()):
            chi2, df = _homogeneity(list(usable.values()), common)
        # F reference with the fewest reps' degrees of freedom of the classes: the covariances
        # are rep-clustered, and a chi-square would be too liberal with a few dozen reps
        ddf = min((f.df for f in usable.values()), default=np.inf)
        ok = df > 0 and np.isfinite(chi2)
        p = float(stats.f.sf(chi2 / df, df, ddf) if np.isfinite(ddf) else stats.chi2.sf(chi2, df)) if ok else np.nan
        conn = {c: float(f.totals["connected"].sum()) for c, f in fits.items()}
        total = sum(conn.values())
        for c, f in sorted(fits.items()):
            best = f.scripts[int(np.argmax(f.rate))] if f.J else None
            rate = dict(zip(f.scripts, f.rate)) if f.J else {}
            rows.append({"scenario": scen, "customer_class": c, "best_in_class": best, "single_script": single,
                         "share": conn[c] / total if total else np.nan,
                         "rate_best": rate.get(best, np.nan), "rate_single": rate.get(single, np.nan),
                         "chi2": chi2, "df": df if df else np.nan, "p_value": p, "_fit": f})
        tests.append((scen, p))
    if not rows:
        return pd.DataFrame(columns=list(POLICY_COLUMNS))
    out = pd.DataFrame(rows)
    scen_p = pd.Series(dict(tests))
    adj = pd.Series(adjust_pvalues(scen_p.to_numpy(float), padjust), index=scen_p.index)
    out["p_adj"] = out["scenario"].map(adj)
    out["gain"] = out["gain_low"] = out["gain_high"] = np.nan
    for scen, g in out.groupby("scenario", sort=False):
        if not (g["p_adj"] < alpha).all():
            continue
        total = np.zeros(n_draws)
        point = 0.0
        ok = True
        for _, r in g.iterrows():
            f = r["_fit"]
            d = f.draws()
            if d is None or r["single_script"] not in f.scripts:
                ok = False
                break
            jb, js = f.scripts.index(r["best_in_class"]), f.scripts.index(r["single_script"])
            total = total + r["share"] * (d[:, jb] - d[:, js])
            point += r["share"] * (f.rate[jb] - f.rate[js])
        if ok:
            lo, hi = np.quantile(total, [0.025, 0.975])
            out.loc[g.index, ["gain", "gain_low", "gain_high"]] = [point, lo, hi]
    # per class only where the interaction is credible and the per-class policy credibly gains
    out["per_class"] = (out["p_adj"] < alpha) & (out["gain_low"] > 0)
    out["recommended_script"] = np.where(out["per_class"], out["best_in_class"], out["single_script"])
    out["rate_recommended"] = np.where(out["per_class"], out["rate_best"], out["rate_single"])
    out = out[list(POLICY_COLUMNS)].sort_values(["scenario", "customer_class"]).reset_index(drop=True)
    for c in ("scenario", "customer_class", "recommended_script", "single_script"):
        out[c] = out[c].astype("string")
    out["df"] = pd.array(out["df"], dtype="Float64").astype("Int64")
    return out


def script_policy_by_class(data, month: str, window_months: int = 3, *, alpha: float = 0.05, padjust: str = "holm",
                           min_connected: int = 100, min_reps: int = 3, n_draws: int = 4000,
                           random_state: int = 0) -> pd.DataFrame:
    """:func:`script_policy` on the ``window_months`` months of calls ending with ``month``.

    The two rankings it compares (by scenario x class and by scenario) are the data set's
    (:func:`telesales_lab.analysis.ranking.analyse_scripts`, kept in ``data.cache``): a page
    that ranked the same window with the same thresholds has fitted them already. The
    scenario ranking fitted on the calls equals the one :func:`script_policy` fits on the
    class cells summed over the classes (the same counts per rep and script).
    """
    from telesales_lab.analysis.ranking.ranker import ScriptRanker, _fitted

    check_padjust(padjust)
    opts = dict(alpha=alpha, padjust=padjust, min_connected=min_connected, min_reps=min_reps, n_draws=n_draws,
                random_state=random_state)
    by_class = _fitted(data, month, "customer_class", window_months, ScriptRanker(**opts))
    overall = _fitted(data, month, None, window_months, ScriptRanker(**opts))
    return _policy(by_class, overall, alpha, padjust, n_draws)
