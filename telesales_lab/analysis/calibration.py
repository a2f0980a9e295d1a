"""QA calibration: do assessors agree, and does any of them drift from the rest?

Two questions about the ``assessments`` table, answered from the targets (one rep, one
skill, one month) that several assessors scored:

* **agreement**: the intraclass correlation (Shrout & Fleiss 1979) per panel of
  assessors who scored the same targets — :func:`icc` computes all six forms from the
  two-way ANOVA mean squares;
* **drift**: each assessor's systematic offset, estimated in a two-way fixed-effects
  model ``score = target + assessor + noise`` (targets absorbed, so only comparisons on
  shared targets count) and compared with the mean offset of the other, undrifting
  assessors. :func:`assessor_drift` flags an assessor when the offset is both
  statistically clear (``|z| >= drift_z`` and a Holm-adjusted p-value below ``alpha``)
  and large enough to matter
  (``|drift| >= min_drift`` points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from telesales_lab.exceptions import ParameterError
from telesales_lab.analysis.inference import adjust_pvalues
from telesales_lab.data.cache import cached
from telesales_lab.data.periods import month_bounds, parse_month
from telesales_lab.data.policy import resolve_policy

#: tables that the drift fit reads (its cache key)
_DRIFT_TABLES = ("assessments",)


_TARGET = ["rep_id", "skill", "month"]



# F and normal tail functions from scipy.special, the functions scipy.stats.f and
# scipy.stats.norm evaluate (so the numbers are the same), without importing scipy.stats
# (about a second per process for three formulas).
def _f_ppf(q: float, dfn: float, dfd: float) -> float:
    """``scipy._f_ppf(q, dfn, dfd)`` for ``0 < q < 1``: NaN unless both degrees of freedom are > 0."""
    if not (dfn > 0 and dfd > 0):
        return np.float64(np.nan)
    return special.fdtri(dfn, dfd, q)


def _f_sf(x: float, dfn: float, dfd: float) -> float:
    """``scipy._f_sf(x, dfn, dfd)``: 1 at or below 0, 0 at infinity, NaN for bad input."""
    if not (dfn > 0 and dfd > 0) or np.isnan(x):
        return np.float64(np.nan)
    if x <= 0:
        return np.float64(1.0)
    if np.isinf(x):
        return np.float64(0.0)
    return special.fdtrc(dfn, dfd, x)

def icc(frame: pd.DataFrame, targets: str, raters: str, ratings: str, alpha: float = 0.05) -> pd.DataFrame:
    """Intraclass correlations of a complete targets x raters design (Shrout & Fleiss 1979).

    Parameters
    ----------
    frame : DataFrame
        Long format, one rating per row.
    targets, raters, ratings : str
        Columns naming the rated target, the rater and the rating.
    alpha : float, default 0.05
        For the ``1 - alpha`` confidence intervals.

    Returns
    -------
    DataFrame
        Six rows, one per form, columns:

        - ``type``: ICC1, ICC2, ICC3 (single rater) and ICC1k, ICC2k, ICC3k (mean of k)
        - ``icc``: the coefficient
        - ``f``, ``df1``, ``df2``, ``p_value``: the F test of icc = 0
        - ``ci_low``, ``ci_high``: confidence interval (F-distribution method)
        - ``n_targets``, ``n_raters``

    Raises
    ------
    ParameterError
        If the design is not complete (every rater rates every target once) or has
        fewer than 2 targets or raters.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha == {alpha!r}, must be in (0, 1)")
    wide = frame.pivot_table(index=targets, columns=raters, values=ratings, aggfunc="count", observed=True)
    if wide.isna().any().any() or (wide != 1).any().any():
        raise ParameterError(f"icc needs every rater ('{raters}') to rate every target ('{targets}') "
                             "exactly once; keep the complete part of the design")
    x = frame.pivot_table(index=targets, columns=raters, values=ratings, aggfunc="first",
                          observed=True).to_numpy(float)
    n, k = x.shape
    if n < 2 or k < 2:
        raise ParameterError(f"icc needs >= 2 targets and >= 2 raters, got {n} and {k}")
    return _icc_of_matrix(x, alpha)


def _icc_of_matrix(x: np.ndarray, alpha: float) -> pd.DataFrame:
    """:func:`icc` of a complete targets x raters matrix (rows: targets, columns: raters)."""
    n, k = x.shape
    grand = x.mean()
    ss_total = ((x - grand) ** 2).sum()
    ss_b = k * ((x.mean(axis=1) - grand) ** 2).sum()  # between targets
    ss_j = n * ((x.mean(axis=0) - grand) ** 2).sum()  # between raters
    ss_e = ss_total - ss_b - ss_j
    msb = ss_b / (n - 1)
    msw = (ss_j + ss_e) / (n * (k - 1))
    msj = ss_j / (k - 1)
    mse = ss_e / ((n - 1) * (k - 1))

    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb

    df1, dfw, dfe = n - 1, n * (k - 1), (n - 1) * (k - 1)
    f1, f3 = msb / msw, msb / mse
    q = 1 - alpha / 2
    # ICC1 and ICC3: exact F-based intervals (Shrout & Fleiss 1979, table 4)
    f1l, f1u = f1 / _f_ppf(q, df1, dfw), f1 * _f_ppf(q, dfw, df1)
    f3l, f3u = f3 / _f_ppf(q, df1, dfe), f3 * _f_ppf(q, dfe, df1)
    l1, u1 = (f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)
    l3, u3 = (f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)
    # ICC2: Satterthwaite approximation (Shrout & Fleiss 1979, eq. 13)
    fj = msj / mse
    vn = dfe * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = df1 * k ** 2 * icc2 ** 2 * fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fs, ft = _f_ppf(q, df1, v), _f_ppf(q, v, df1)
    l2 = n * (msb - fs * mse) / (fs * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (ft * msb - mse) / (k * msj + (k * n - k - n) * mse + n * ft * msb)

    def k_of(r):
        return r * k / (1 + r * (k - 1))

    return pd.DataFrame({
        "type": ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"],
        "icc": [icc1, icc2, icc3, icc1k, icc2k, icc3k],
        "f": [f1, f3, f3, f1, f3, f3],
        "df1": [df1] * 6,
        "df2": [dfw, dfe, dfe, dfw, dfe, dfe],
        "p_value": [_f_sf(f1, df1, dfw), _f_sf(f3, df1, dfe), _f_sf(f3, df1, dfe),
                    _f_sf(f1, df1, dfw), _f_sf(f3, df1, dfe), _f_sf(f3, df1, dfe)],
        "ci_low": [l1, l2, l3, 1 - 1 / f1l, k_of(l2), 1 - 1 / f3l],
        "ci_high": [u1, u2, u3, 1 - 1 / f1u, k_of(u2), 1 - 1 / f3u],
        "n_targets": [n] * 6,
        "n_raters": [k] * 6,
    })


def _window_ratings(data, month: str, months: int) -> pd.DataFrame:
    """Assessments with an assessor in the ``months`` months ending with ``month``."""
    p = parse_month(month)
    _, end = month_bounds(p)
    start = (p - (months - 1)).start_time
    a = data.assessments
    keep = (a["assessed_on"] >= start) & (a["assessed_on"] < end) & a["assessor_id"].notna()
    a = a.loc[keep.to_numpy(bool), ["rep_id", "skill", "assessed_on", "score", "assessor_id"]]
    return pd.DataFrame({
        "rep_id": a["rep_id"].astype("string"),
        "skill": a["skill"].astype("string"),
        "month": a["assessed_on"].dt.to_period("M").astype("string"),
        "assessor_id": a["assessor_id"].astype("string"),
        "score": a["score"].astype("float64"),
    }).reset_index(drop=True)


def _shared(r: pd.DataFrame) -> pd.DataFrame:
    """Ratings of targets scored by more than one assessor (an assessor's repeats averaged)."""
    r = r.groupby(_TARGET + ["assessor_id"], observed=True, as_index=False)["score"].mean()
    n = r.groupby(_TARGET, observed=True)["score"].transform("size")
    return r[n >= 2].reset_index(drop=True)


def assessor_drift(data, month: str, policy=None) -> pd.DataFrame:
    """Each assessor's systematic offset from the other assessors, and a drift flag.

    Uses the assessments of the ``[calibration] lookback_months`` months ending with
    ``month``. A target is one rep, one skill, one month; only targets scored by two or
    more assessors inform the comparison.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    policy : dict or path, optional
        ``[calibration] drift_z``, ``min_drift``, ``min_shared``, ``lookback_months``.

    Returns
    -------
    DataFrame
        One row per assessor, sorted by |z| descending:

        - ``assessor_id``
        - ``n_ratings``: ratings given in the window
        - ``n_shared``: ratings on targets another assessor also scored
        - ``mean_diff``: mean of (own score - the other assessors' mean on the same target)
        - ``drift``: fixed-effects offset against the precision-weighted mean offset of the
          unflagged others
        - ``se``, ``z``: its standard error and ``drift / se``
        - ``p_value``: two-sided, Holm-adjusted over the assessors judged (a centre with
          many assessors would otherwise flag someone by chance)
        - ``flagged``: ``|z| >= drift_z``, ``p_value < alpha`` and ``|drift| >= min_drift``,
          with at least ``min_shared`` shared ratings; empty drift/se/z/p_value when there
          are too few
    """
    policy = resolve_policy(policy)
    # the skill scores of every month correct for drift: one fit per month and policy
    return cached(data, "assessor_drift", _DRIFT_TABLES, lambda: _assessor_drift(data, month, policy["calibration"]),
                  month=month, policy=policy, sections=("calibration",))


def _assessor_drift(data, month: str, cfg: dict) -> pd.DataFrame:
    r = _window_ratings(data, month, int(cfg["lookback_months"]))
    counts = r.groupby("assessor_id", observed=True).size().rename("n_ratings")
    s = _shared(r)
    out = pd.DataFrame({"assessor_id": counts.index.astype("string"), "n_ratings": counts.to_numpy()})
    cols = ["assessor_id", "n_ratings", "n_shared", "mean_diff", "drift", "se", "z", "p_value", "flagged"]
    if s.empty:
        out = out.assign(n_shared=0, mean_diff=np.nan, drift=np.nan, se=np.nan, z=np.nan, p_value=np.nan,
                         flagged=False)
        return out[cols]

    tgt = s.groupby(_TARGET, observed=True)["score"]
    tsum, tn = tgt.transform("sum"), tgt.transform("size")
    s["diff"] = s["score"] - (tsum - s["score"]) / (tn - 1)
    raw = s.groupby("assessor_id", observed=True)["diff"].agg(["size", "mean"])

    drift, se = _fixed_effects_drift(s, cfg)
    out = out.join(raw.rename(columns={"size": "n_shared", "mean": "mean_diff"}), on="assessor_id")
    out = out.join(pd.DataFrame({"drift": drift, "se": se}), on="assessor_id")
    out["n_shared"] = out["n_shared"].fillna(0).astype("int64")
    few = out["n_shared"] < cfg["min_shared"]
    out.loc[few, ["drift", "se"]] = np.nan
    out["z"] = out["drift"] / out["se"]
    judged = out["z"].notna().to_numpy(bool)
    out["p_value"] = np.where(judged, _holm(out["z"].to_numpy(float), judged), np.nan)
    out["flagged"] = ((out["z"].abs() >= cfg["drift_z"]) & (out["drift"].abs() >= cfg["min_drift"])
                      & (out["p_value"] < cfg["alpha"])).fillna(False).astype(bool)
    out = out.assign(_o=-out["z"].abs().fillna(-1)).sort_values(["_o", "assessor_id"], kind="stable")
    return out[cols].reset_index(drop=True)


def _fixed_effects_drift(s: pd.DataFrame, cfg: dict) -> tuple[pd.Series, pd.Series]:
    """Assessor offsets from ``score = target + assessor + e`` on shared targets.

    Offsets are identified only up to a constant within each connected group of
    assessors, so each is reported against the other unflagged assessors of its group:
    their weighted mean offset, each weighted by the precision of its comparison with
    this assessor (so a well-linked neighbour counts more than one reached through a
    long chain of shared targets); the standard error is that of this contrast, from the
    model's covariance. The first pass uses the weighted median instead, so that one
    drifter does not drag its neighbours' reference; flagged assessors then leave the
    reference set and the contrasts are recomputed until the flags stop changing.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    assessors = pd.Index(sorted(s["assessor_id"].unique()))
    a_idx = assessors.get_indexer(s["assessor_id"])
    t_idx = s.groupby(_TARGET, observed=True).ngroup().to_numpy()
    n_t, n_a = t_idx.max() + 1, len(assessors)
    # within-target demeaning absorbs the target effects
    x = np.zeros((len(s), n_a))
    x[np.arange(len(s)), a_idx] = 1.0
    t_n = np.bincount(t_idx, minlength=n_t).astype(float)
    # ratings per target and assessor (whole numbers: the same as summing the rows of x)
    xm = np.bincount(t_idx * n_a + a_idx, minlength=n_t * n_a).astype(float).reshape(n_t, n_a)
    xd = x - (xm / t_n[:, None])[t_idx]
    y = s["score"].to_numpy(float)
    yd = y - (np.bincount(t_idx, weights=y, minlength=n_t) / t_n)[t_idx]
    xtx = xd.T @ xd
    xtx_pinv = np.linalg.pinv(xtx)
    beta = xtx_pinv @ (xd.T @ yd)
    resid = yd - xd @ beta

    # groups of assessors linked by shared targets
    link = coo_matrix((np.ones(len(s)), (a_idx, t_idx)), shape=(n_a, n_t)).tocsr()
    n_comp, comp = connected_components(link @ link.T, directed=False)
    dof = len(s) - n_t - (n_a - n_comp)
    sigma2 = float(resid @ resid) / dof if dof > 0 else np.nan

    cov = sigma2 * xtx_pinv
    enough = np.bincount(a_idx, minlength=n_a) >= cfg["min_shared"]

    def contrasts(flagged: np.ndarray, robust: bool) -> tuple[np.ndarray, np.ndarray]:
        drift = np.full(n_a, np.nan)
        se = np.full(n_a, np.nan)
        for a in range(n_a):  # one contrast per assessor, not per rating
            ref = np.flatnonzero((comp == comp[a]) & (np.arange(n_a) != a) & ~flagged)
            if len(ref) == 0:
                continue
            # others weighted by how precisely they are compared with this assessor
            var_ab = cov[a, a] + cov[ref, ref] - 2 * cov[a, ref]
            w = 1.0 / np.maximum(var_ab, 1e-12)
            w = w / w.sum()
            level = _weighted_median(beta[ref], w) if robust else float(w @ beta[ref])
            drift[a] = beta[a] - level
            c = np.zeros(n_a)
            c[a] = 1.0
            c[ref] -= w
            se[a] = np.sqrt(max(float(c @ cov @ c), 0.0))
        return drift, se

    def flags(drift: np.ndarray, se: np.ndarray) -> np.ndarray:
        z = drift / se
        return (np.abs(z) >= cfg["drift_z"]) & (np.abs(drift) >= cfg["min_drift"]) & enough & (
            _holm(z, enough) < cfg["alpha"])

    # a robust first pass (weighted median) finds the clear drifters; then each assessor is
    # compared with the weighted mean of the others not flagged, whose standard error is exact
    flagged = flags(*contrasts(np.zeros(n_a, bool), robust=True))
    for _ in range(n_a + 1):  # a few passes at most, until the flags stop changing
        drift, se = contrasts(flagged, robust=False)
        new = flags(drift, se)
        if (new == flagged).all():
            break
        flagged = new
    return pd.Series(drift, index=assessors), pd.Series(se, index=assessors)


def _holm(z: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """Holm-adjusted two-sided p-values of ``z`` over the judged assessors (others: 1)."""
    out = np.ones(len(z))
    ok = judged & np.isfinite(z)
    if ok.any():
        out[ok] = adjust_pvalues(2 * special.ndtr(-np.abs(z[ok])), "holm")
    return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, 0.5 * cum[-1])])


def drift_corrections(data, month: str, policy=None) -> pd.Series:
    """Points to subtract from each flagged assessor's scores (Series by assessor_id)."""
    d = assessor_drift(data, month, policy)
    d = d[d["flagged"]]
    return pd.Series(d["drift"].to_numpy(float), index=pd.Index(d["assessor_id"], name="assessor_id"),
                     name="drift")


def _panels(s: pd.DataFrame) -> pd.Series:
    """The panel of each row's target: its assessors joined by "+" (``s`` sorted by target,
    then assessor)."""
    target = s["target"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, target[1:] != target[:-1]]) if len(s) else np.array([], int)
    size = np.diff(np.append(starts, len(s)))
    ids = s["assessor_id"].astype("string").to_numpy(dtype=object)
    panel = ids[starts].copy()
    for j in range(1, int(size.max()) if len(size) else 1):  # a few assessors per target
        more = size > j
        panel[more] = panel[more] + "+" + ids[starts[more] + j]
    return pd.Series(np.repeat(panel, size), index=s.index, dtype="string")


def agreement(data, month: str, policy=None) -> pd.DataFrame:
    """Agreement of each panel of assessors that scored the same targets.

    A panel is a set of assessors; its targets are the (rep, skill, month) that exactly
    this set scored. ICC(2,1) is the reliability of one assessor's score, ICC(2,k) of the
    panel's mean score, both treating assessors as random (absolute agreement: an
    assessor who scores everyone high lowers them).

    Parameters
    ----------
    data : Dataset
    month : str
    policy : dict or path, optional
        ``[calibration] lookback_months``.

    Returns
    -------
    DataFrame
        One row per panel with at least 3 targets, sorted by panel:
        ``panel`` (assessor ids joined by "+"), ``n_targets``, ``n_raters``, ``icc2_1``,
        ``ci_low``, ``ci_high`` (for ICC(2,1)), ``icc2_k``, ``mean_spread`` (mean of
        each target's max - min score).
    """
    policy = resolve_policy(policy)
    r = _window_ratings(data, month, int(policy["calibration"]["lookback_months"]))
    s = _shared(r)
    cols = ["panel", "n_targets", "n_raters", "icc2_1", "ci_low", "ci_high", "icc2_k", "mean_spread"]
    if s.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols}).astype({"panel": "string"})
    s["target"] = s["rep_id"] + "|" + s["skill"] + "|" + s["month"]
    # each target once per assessor (``_shared`` averaged repeats), assessors in order within it
    s = s.sort_values(["target", "assessor_id"], kind="stable").reset_index(drop=True)
    s["panel"] = _panels(s)
    rows = []
    for name, g in s.groupby("panel", observed=True, sort=True):  # one per panel of assessors
        n_targets = g["target"].nunique()
        if n_targets < 3:
            continue
        # the panel's complete targets x assessors matrix, as icc's pivot lays it out
        x = g["score"].to_numpy(float).reshape(n_targets, -1)
        res = _icc_of_matrix(x, 0.05).set_index("type")
        spread = pd.Series(x.max(axis=1) - x.min(axis=1)).mean()
        rows.append({"panel": name, "n_targets": n_targets, "n_raters": int(res.loc["ICC2", "n_raters"]),
                     "icc2_1": res.loc["ICC2", "icc"], "ci_low": res.loc["ICC2", "ci_low"],
                     "ci_high": res.loc["ICC2", "ci_high"], "icc2_k": res.loc["ICC2k", "icc"],
                     "mean_spread": spread})
    out = pd.DataFrame(rows, columns=cols)
    out["panel"] = out["panel"].astype("string")
    return out
