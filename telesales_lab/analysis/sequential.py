"""Always-valid inference for experiments watched every day: confidence sequences, a
rep-stratified difference of rates, and a sequential sample-ratio test.

Why
---
A fixed-horizon test (a z test or a 95% interval) is valid for *one* look at a sample size
chosen in advance. Looking every day and stopping at the first "significant" day inflates
the false-winner rate far above alpha (about 25-30% over 30 daily looks at alpha = 0.05; the
tests and ``docs/experiments.md`` measure it). A *confidence sequence* covers the true
effect at every day simultaneously with probability ``1 - alpha``, so a trainer may look
every day and stop whenever it excludes zero.

Method
------
1. **Estimate, blocked by rep.** Calls are summed per day, rep and variant; at each day the
   cumulative sums give, per comparison, the Mantel-Haenszel risk difference stratified by
   rep (:func:`mh_risk_difference`), ``sum_r w_r (p_rB - p_rA) / sum_r w_r`` with
   ``w_r = n_rA n_rB / (n_rA + n_rB)``. It equals the treatment coefficient of an OLS fit
   with one intercept per rep, so a rep who makes more calls with one variant cannot move
   it; reps who used only one variant carry no weight. Its variance is Sato's (1989)
   estimator, consistent both with many small strata and with a few large ones. Revenue
   uses the same weights with the reps' pooled within-rep variance
   (:func:`stratified_mean_difference`).
2. **Always-valid interval.** With intrinsic time ``v = 1 / variance`` (the information) and
   ``s = v * (estimate - theta)``, the two-sided normal-mixture boundary of Howard, Ramdas,
   McAuliffe and Sekhon (2021, "Time-uniform, nonparametric, nonasymptotic confidence
   sequences", eq. (14) and Prop. 5) gives
   ``|s| <= sqrt((v + rho) * (log(1 + v / rho) + 2 log(1 / alpha)))``; ``rho`` is tuned so
   the boundary is tightest at the information ``v_opt`` the plan needs
   (:func:`normal_mixture_rho`, their eq. (15)). This is the mixture SPRT of Johari,
   Pekelis and Walsh (2017, "Always valid inference") with mixing variance ``tau^2 = 1/rho``;
   its always-valid p-value is ``min(1, 1 / max_s Lambda_s)`` with ``log Lambda`` from
   :func:`normal_log_mixture`. With an estimated variance this is an *asymptotic*
   confidence sequence (Waudby-Smith et al. 2023); the simulations check its error rates at
   this project's sizes. The numbers are pinned to the reference values of Howard's
   ``confseq`` package (its unit tests; the package itself needs a C++ build with Boost,
   so it is not a dependency).
3. **Sample ratio mismatch**, sequentially: the Dirichlet-multinomial Bayes factor of
   Lindon and Malek (2022, "Anytime-valid inference for multinomial count data"; the
   ``Multinomial`` test of ``savvi``, whose arithmetic the tests pin) of the dials per
   variant against the intended shares; an e-value, so it too may be checked every day
   (:func:`srm_log_evalue`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, ndtri

from telesales_lab.exceptions import ParameterError


def _open01(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < float(value) < 1:
        raise ParameterError(f"{name} == {value!r}, must be a number strictly between 0 and 1")
    return float(value)


# ----------------------------------------------------------------------------- the normal mixture
def normal_mixture_rho(v_opt: float, alpha: float) -> float:
    """Mixing precision ``rho`` that makes the two-sided boundary tightest at ``v_opt``.

    Howard et al. (2021), eq. (15): ``rho = v_opt / (2 log(1/alpha) + log(1 + 2 log(1/alpha)))``.
    """
    alpha = _open01("alpha", alpha)
    if not v_opt > 0:
        raise ParameterError(f"v_opt == {v_opt!r}, must be > 0")
    la = math.log(1 / alpha)
    return float(v_opt) / (2 * la + math.log(1 + 2 * la))


def normal_log_mixture(s, v, rho: float):
    """Log of the two-sided normal-mixture supermartingale at sum ``s`` and intrinsic time ``v``."""
    s, v = np.asarray(s, float), np.asarray(v, float)
    return 0.5 * np.log(rho / (v + rho)) + s ** 2 / (2 * (v + rho))


def normal_mixture_bound(v, alpha: float, rho: float):
    """Two-sided normal-mixture uniform boundary on ``|s|`` at intrinsic time ``v``."""
    v = np.asarray(v, float)
    return np.sqrt((v + rho) * (np.log1p(v / rho) + 2 * math.log(1 / alpha)))


def information_for(mde: float, alpha: float, power: float) -> float:
    """Information (1 / variance of the estimate) a fixed-horizon two-sided test needs to detect ``mde``."""
    return float(((ndtri(1 - alpha / 2) + ndtri(power)) / mde) ** 2)


def confidence_sequence(estimate, variance, alpha: float, v_opt: float, start=0):
    """Always-valid interval and p-value at every look, with running intersection.

    Parameters
    ----------
    estimate, variance : array of shape (..., T)
        The estimate and its variance after each of T looks (NaN before data).
    alpha : float
        Level; the sequence covers the true value at every look with probability ``1 - alpha``.
    v_opt : float
        Information at which the boundary is tuned (see :func:`normal_mixture_rho`).
    start : int or array of shape (...), default 0
        First look that counts (a burn-in; earlier looks give NaN and are not intersected).

    Returns
    -------
    low, high, p_value : arrays of shape (..., T)
        The running intersection of the intervals and the running minimum of the
        always-valid p-value of ``estimate == 0``; NaN before ``start`` or without
        information.
    """
    est = np.asarray(estimate, float)
    var = np.asarray(variance, float)
    rho = normal_mixture_rho(v_opt, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(var > 0, 1.0 / var, np.nan)
        half = normal_mixture_bound(v, alpha, rho) / v
        log_lr = normal_log_mixture(v * est, v, rho)
    t = np.arange(est.shape[-1])
    ok = np.isfinite(half) & np.isfinite(est) & (t >= np.asarray(start)[..., None])
    low = np.where(ok, est - half, -np.inf)
    high = np.where(ok, est + half, np.inf)
    low = np.maximum.accumulate(low, axis=-1)
    high = np.minimum.accumulate(high, axis=-1)
    p = np.minimum.accumulate(np.where(ok, np.minimum(1.0, np.exp(-log_lr)), 1.0), axis=-1)
    seen = np.maximum.accumulate(ok, axis=-1)
    low = np.where(seen, low, np.nan)
    high = np.where(seen, high, np.nan)
    p = np.where(seen, p, np.nan)
    return low, high, p


# ----------------------------------------------------------------------------- stratified estimates
def mh_risk_difference(n_a, y_a, n_b, y_b):
    """Mantel-Haenszel risk difference ``B - A`` stratified over the last axis, with Sato's variance.

    Parameters
    ----------
    n_a, y_a, n_b, y_b : arrays of shape (..., R)
        Trials and successes of arm A (control) and arm B per stratum (rep).

    Returns
    -------
    estimate, variance, weight : arrays of shape (...)
        ``sum w_r (y_b/n_b - y_a/n_a) / W`` with ``w_r = n_a n_b / (n_a + n_b)``, ``W = sum w_r``;
        Sato (1989): ``(estimate * sum P_r + sum Q_r) / W^2`` with
        ``P_r = (n_b^2 y_a - n_a^2 y_b + n_a n_b (n_a - n_b) / 2) / N_r^2`` and
        ``Q_r = (y_b (n_a - y_a) + y_a (n_b - y_b)) / (2 N_r)``; NaN where no stratum has both arms.
    """
    n_a, y_a, n_b, y_b = (np.asarray(x, float) for x in (n_a, y_a, n_b, y_b))
    N = n_a + n_b
    both = (n_a > 0) & (n_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Ns = np.where(both, N, 1.0)
        w = np.where(both, n_a * n_b / Ns, 0.0)
        num = np.where(both, (y_b * n_a - y_a * n_b) / Ns, 0.0)
        W = w.sum(-1)
        est = num.sum(-1) / W
        P = np.where(both, (n_b ** 2 * y_a - n_a ** 2 * y_b + n_a * n_b * (n_a - n_b) / 2) / Ns ** 2, 0.0).sum(-1)
        Q = np.where(both, (y_b * (n_a - y_a) + y_a * (n_b - y_b)) / (2 * Ns), 0.0).sum(-1)
        var = (est * P + Q) / W ** 2
    est = np.where(W > 0, est, np.nan)
    var = np.where(W > 0, np.maximum(var, 0.0), np.nan)
    return est, var, W


def stratified_mean_difference(n_a, s_a, ss_a, n_b, s_b, ss_b):
    """Difference of means ``B - A`` stratified over the last axis (same weights as
    :func:`mh_risk_difference`), with the variance from each stratum's pooled within-arm
    variance ``(SS_a + SS_b) / (N_r - 2)`` (strata with fewer than 3 values use the pooled
    variance of all strata).

    Returns
    -------
    estimate, variance, weight : arrays of shape (...)
    """
    n_a, s_a, ss_a, n_b, s_b, ss_b = (np.asarray(x, float) for x in (n_a, s_a, ss_a, n_b, s_b, ss_b))
    both = (n_a > 0) & (n_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        N = np.where(both, n_a + n_b, 1.0)
        w = np.where(both, n_a * n_b / N, 0.0)
        m_a = np.where(n_a > 0, s_a / np.where(n_a > 0, n_a, 1), 0.0)
        m_b = np.where(n_b > 0, s_b / np.where(n_b > 0, n_b, 1), 0.0)
        W = w.sum(-1)
        est = (w * (m_b - m_a)).sum(-1) / W
        within = np.where(both, (ss_a - n_a * m_a ** 2) + (ss_b - n_b * m_b ** 2), 0.0)
        dof = np.where(both, N - 2, 0.0)
        pooled = within.sum(-1, keepdims=True) / dof.sum(-1, keepdims=True)
        v_r = np.where(dof > 0, within / np.where(dof > 0, dof, 1), pooled)
        var = (w * np.maximum(v_r, 0)).sum(-1) / W ** 2
    est = np.where(W > 0, est, np.nan)
    var = np.where(W > 0, var, np.nan)
    return est, var, W


# ----------------------------------------------------------------------------- sample ratio mismatch
def srm_log_evalue(counts, shares, k: float = 100.0):
    """Log Bayes factor (an e-value) against the intended split, after each look.

    Parameters
    ----------
    counts : array of shape (..., T, K)
        *Cumulative* dials per variant after each look.
    shares : array of shape (K,)
        Intended shares (normalised here).
    k : float, default 100
        Concentration of the Dirichlet prior ``k * shares`` (savvi's default).

    Returns
    -------
    array of shape (..., T)
        ``log B(k theta + n) - log B(k theta) - sum n log theta`` (``B`` the multivariate beta
        function); ``exp(-max so far)`` is the always-valid p-value of "assigned as intended".
    """
    n = np.asarray(counts, float)
    theta = np.asarray(shares, float)
    theta = theta / theta.sum()
    a0 = k * theta

    def logbeta(a):
        return gammaln(a).sum(-1) - gammaln(a.sum(-1))

    with np.errstate(divide="ignore", invalid="ignore"):
        loglik0 = np.where(n > 0, n * np.log(theta), 0.0).sum(-1)
    return logbeta(a0 + n) - logbeta(a0) - loglik0


def srm_p_value(counts, shares, k: float = 100.0):
    """Running always-valid p-value of the sample-ratio test (see :func:`srm_log_evalue`)."""
    log_e = srm_log_evalue(counts, shares, k)
    return np.minimum(1.0, np.exp(-np.maximum.accumulate(log_e, axis=-1)))
