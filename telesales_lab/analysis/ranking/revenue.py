"""Revenue per connected call by script variant, raw and rep-adjusted (a linear model with rep fixed effects).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from telesales_lab.analysis.ranking.cells import _check_int, _check_open01, script_cells
from telesales_lab.analysis.ranking.clogit import _floored_cov
from telesales_lab.analysis.ranking.ranker import _matrix, _order, _types, ranking_settings


def revenue_per_call(data, month: str, by: str | None = None, window_months: int = 1, *,
                     alpha: float | None = None, min_connected: int | None = None, min_reps: int | None = None,
                     policy=None) -> pd.DataFrame:
    """Revenue per connected call per variant: raw and adjusted for the rep mix.

    The adjusted figure comes from a linear model of each connected call's revenue with a
    fixed effect per rep and one per variant (fitted exactly on the per-cell sums and sums
    of squares), standardised like ``adj_effect``: the mean revenue per connected call if
    every rep of the group had used the variant. Its covariance is the rep-clustered
    sandwich floored by the model-based one; intervals use t with G - 1 degrees of freedom.
    The raw interval is the plain t interval over calls.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] script_id, connected, revenue, revenue_per_connected,
        ci_low, ci_high, adj_revenue_per_connected, adj_ci_low, adj_ci_high, rank``. Where
        the data set has no orders at all, the revenue columns are NaN and nothing is ranked
        (unknown, not 0). ``alpha``, ``min_connected`` and ``min_reps`` left at None come from
        the policy's ``[ranking]`` section.
    """
    rk = ranking_settings(policy)
    alpha = rk["alpha"] if alpha is None else alpha
    min_connected = rk["min_connected"] if min_connected is None else min_connected
    min_reps = rk["min_reps"] if min_reps is None else min_reps
    alpha = _check_open01("alpha", alpha)
    min_connected = _check_int("min_connected", min_connected, 1)
    min_reps = _check_int("min_reps", min_reps, 1)
    cells = script_cells(data, month, by=by, window_months=window_months)
    out = _revenue_from_cells(cells, alpha, min_connected, min_reps)
    if len(data.orders) == 0:  # a call log without orders: revenue is unknown, not 0
        money = ["revenue", "revenue_per_connected", "ci_low", "ci_high", "adj_revenue_per_connected",
                 "adj_ci_low", "adj_ci_high"]
        out[money] = np.nan
        out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    return out


def _revenue_from_cells(cells, alpha, min_connected, min_reps):
    keys = ["scenario"] + (["customer_class"] if "customer_class" in cells else [])
    rows = []
    for key, g in cells.groupby(keys, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        tot = g.groupby("script_id", sort=True, observed=True).agg(
            connected=("connected", "sum"), revenue=("revenue", "sum"), revenue_sq=("revenue_sq", "sum"),
            reps=("connected", lambda s: int((s > 0).sum()))).reset_index()
        n = tot["connected"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = tot["revenue"].to_numpy(float) / n
            var = (tot["revenue_sq"].to_numpy(float) - n * mean ** 2) / (n - 1)
            se = np.sqrt(np.maximum(var, 0) / n)
            q = stats.t.isf(alpha / 2, np.maximum(n - 1, 1))
        out = pd.DataFrame({"script_id": tot["script_id"], "connected": tot["connected"].astype("int64"),
                            "revenue": tot["revenue"].to_numpy(float), "revenue_per_connected": mean,
                            "ci_low": np.where(n > 1, mean - q * se, np.nan),
                            "ci_high": np.where(n > 1, mean + q * se, np.nan)})
        out["adj_revenue_per_connected"] = np.nan
        out["adj_ci_low"] = np.nan
        out["adj_ci_high"] = np.nan
        out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
        elig = tot[(tot["connected"] >= min_connected) & (tot["reps"] >= min_reps)]
        elig = _order(elig, ("connected", "revenue"), "script_id")
        scripts = list(elig["script_id"])
        if scripts:
            _, m = _matrix(g, scripts, ("connected", "revenue", "revenue_sq"))
            ok = _identified_linear(m["connected"]) if len(scripts) > 1 else np.ones(1, bool)
            scripts = [s for s, k in zip(scripts, ok) if k]
            _, m = _matrix(g, scripts, ("connected", "revenue", "revenue_sq"))
            est, lo, hi = _fe_linear(m["connected"], m["revenue"], m["revenue_sq"], alpha)
            pos = pd.Index(out["script_id"]).get_indexer(scripts)
            out.loc[pos, "adj_revenue_per_connected"] = est
            out.loc[pos, "adj_ci_low"] = lo
            out.loc[pos, "adj_ci_high"] = hi
            out.loc[pos, "rank"] = pd.Series(-est).rank(method="min").astype("int64").to_numpy()
        for k, v in zip(keys, key):
            out.insert(keys.index(k), k, v)
        rows.append(out)
    cols = keys + ["script_id", "connected", "revenue", "revenue_per_connected", "ci_low", "ci_high",
                   "adj_revenue_per_connected", "adj_ci_low", "adj_ci_high", "rank"]
    out = pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)
    out["_r"] = out["rank"].fillna(10 ** 9)
    out = out.sort_values(keys + ["_r", "script_id"], kind="stable").drop(columns="_r").reset_index(drop=True)
    return _types(out, keys)


def _identified_linear(n):
    used = n > 0
    multi = used.sum(1) >= 2
    B = used[multi].astype(float)
    link = (B.T @ B) > 0
    comp = np.zeros(n.shape[1], bool)
    comp[0] = True
    for _ in range(n.shape[1]):
        new = link[comp].any(0) | comp
        if (new == comp).all():
            break
        comp = new
    return comp


def _fe_linear(n, s, ss, alpha):
    """Two-way fixed-effects mean (rep + script) from cell counts, sums and sums of squares.

    Returns the standardised means ``mean_r(a_r) + b_j`` (weights: connected calls) and
    their t intervals (rep-clustered sandwich floored by the model-based covariance).
    """
    R, J = n.shape
    N = n.sum(1)
    live = N > 0
    n, s, ss, N = n[live], s[live], ss[live], N[live]
    R = len(N)
    H = np.diag(n.sum(0)) - (n.T / N) @ n
    g = s.sum(0) - (n.T / N) @ s.sum(1)
    b = np.zeros(J)
    if J > 1:
        b[1:] = np.linalg.solve(H[1:, 1:], g[1:])
    a = (s.sum(1) - n @ b) / N
    fit = a[:, None] + b
    rss_cell = ss - 2 * fit * s + n * fit ** 2
    rss = max(float(rss_cell.sum()), 0.0)
    dof = max(int(N.sum()) - R - (J - 1), 1)
    sigma2 = rss / dof
    W = N.sum()
    level = (N * a).sum() / W
    est = level + b
    multi = (n > 0).sum(1) >= 2
    G = int(multi.sum())
    # d est_j / d b_k (free k), through a_r = (s_r - n_r b) / N_r
    dlevel = -(n.sum(0)) / W
    grad = np.eye(J) + dlevel[None, :]
    cov = np.zeros((J, J))
    if J > 1:
        vm = sigma2 * np.linalg.inv(H[1:, 1:])
        u = (s - n * fit)[:, 1:]
        meat = u.T @ u * (G / (G - 1) if G > 1 else np.inf)
        Hi = np.linalg.inv(H[1:, 1:])
        vr = Hi @ meat @ Hi
        V = _floored_cov(vm, vr) if G > 1 else np.full_like(vm, np.inf)
        cov = grad[:, 1:] @ V @ grad[:, 1:].T
    # level noise: each rep's own residual variance (heteroskedasticity-robust)
    rss_rep = np.maximum(rss_cell.sum(1), 0)
    cov = cov + ((N / W) ** 2 * rss_rep / N ** 2).sum()
    se = np.sqrt(np.maximum(np.diag(cov), 0))
    q = stats.t.isf(alpha / 2, max(G - 1, 1)) if J > 1 else stats.norm.isf(alpha / 2)
    return est, est - q * se, est + q * se
