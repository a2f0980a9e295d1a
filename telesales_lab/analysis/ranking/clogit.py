"""Conditional logistic regression fitted exactly on aggregated counts (one stratum per rep).

A rep's contribution is the multivariate Fisher non-central hypergeometric likelihood of its sales split
across the variants given its total; see :mod:`telesales_lab.analysis.ranking` for the method.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as _fft
from scipy.special import expit, gammaln


_RIDGE_SD = 3.0  # prior sd of centred log-odds effects, used only when the MLE does not exist


# ----------------------------------------------------------------------------- intervals
# ----------------------------------------------------------------------------- the conditional logit
def _profile_alpha(n, y, beta):
    """Each interior rep's intercept given the script effects: sum_j n_j expit(a + b_j) = y.

    Bracketed Newton, vectorised over reps. ``n``, ``y`` are (R, J); reps with no sale get
    -inf, reps with only sales +inf, reps with no calls NaN.
    """
    N = n.sum(1)
    Y = y.sum(1)
    a = np.full(len(N), np.nan)
    a[(Y == 0) & (N > 0)] = -np.inf
    a[(Y == N) & (N > 0)] = np.inf
    inner = (Y > 0) & (Y < N)
    if not inner.any():
        return a
    nn, YY, NN = n[inner], Y[inner], N[inner]
    used = nn > 0
    bmax = np.where(used, beta, -np.inf).max(1)
    bmin = np.where(used, beta, np.inf).min(1)
    lg = np.log(YY / (NN - YY))
    lo, hi = lg - bmax, lg - bmin  # sum_j n_j expit(.) <= y at lo, >= y at hi
    x = lg - (nn * beta).sum(1) / NN
    for _ in range(200):
        p = expit(x[:, None] + beta)
        h = (nn * p).sum(1) - YY
        d = (nn * p * (1 - p)).sum(1)
        lo = np.where(h < 0, x, lo)
        hi = np.where(h > 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = x - h / d
        outside = ~((xn > lo) & (xn < hi))
        xn = np.where(outside, 0.5 * (lo + hi), xn)
        done = np.max(np.abs(xn - x)) < 1e-12
        x = xn
        if done:
            break
    a[inner] = x
    return a


def _log_binom_coef(k, n):
    """``log C(n, k)``, rows = n, columns = k (meaningless where k > n: see :func:`_binom_pmf`)."""
    n_ = n[:, None]
    return gammaln(n_ + 1) - gammaln(k + 1) - gammaln(np.maximum(n_ - k, 0) + 1)


def _binom_pmf(k, n, q, log_coef=None):
    """Binomial pmf, rows = (n, q) pairs, columns = k (0 where k > n).

    ``log_coef`` is :func:`_log_binom_coef` of the same ``k`` and ``n`` (it depends on the
    counts only, so a fit computes it once for all its iterations).
    """
    n_ = n[:, None]
    if log_coef is None:
        log_coef = _log_binom_coef(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = log_coef + k * np.log(q)[:, None] + (n_ - k) * np.log1p(-q)[:, None]
    out = np.exp(logp)
    out[~(k <= n_)] = 0.0
    return np.nan_to_num(out, nan=0.0)


def _cond_plan(n, y):
    """What :func:`_cond_terms` needs that depends on the counts only, not on the effects:
    each block of reps' log binomial coefficients and the inverse-transform weights at their
    totals. A fit computes it once and evaluates its iterations with it."""
    R, J = n.shape
    S = y.sum(1).astype(np.int64)
    nmax = n.max(0).astype(np.int64)
    M = _fft.next_fast_len(int(n.sum(1).max()) + 1, real=True)
    ks = [np.arange(nmax[j] + 1) for j in range(J)]
    K = M // 2 + 1
    w = np.full(K, 2.0)
    w[0] = 1.0
    if M % 2 == 0:
        w[-1] = 1.0
    chunk = max(1, int(4_000_000 // (M * max(J, 1) * 3)))
    blocks = []
    for start in range(0, R, chunk):
        sl = slice(start, min(R, start + chunk))
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = [_log_binom_coef(ks[j], n[sl][:, j]) for j in range(J)]
        # the inverse transform evaluated at each rep's own total S only
        phase = np.exp(2j * np.pi * np.outer(S[sl], np.arange(K)) / M) * (w / M)
        blocks.append((sl, coef, np.ascontiguousarray(phase.real), np.ascontiguousarray(phase.imag)))
    return {"S": S, "M": M, "ks": ks, "blocks": blocks}


def _cond_terms(n, y, beta, need_cov=True, plan=None):
    """Conditional log-likelihood, per-rep scores and summed information of informative reps.

    A rep's conditional likelihood of its sales split (y_1..y_J) given its total S is the
    profile binomial likelihood at the rep's fitted intercept minus ``log P(sum_j K_j = S)``
    with independent ``K_j ~ Binomial(n_j, expit(a + b_j))`` (an identity valid for any
    intercept; the fitted one puts S at the mean, so the FFT convolutions are accurate).
    The score is ``y - E[K | S]`` and the information ``Cov(K | S)``. ``plan`` is
    :func:`_cond_plan` of ``n`` and ``y`` (computed here when not given).
    """
    R, J = n.shape
    if plan is None:
        plan = _cond_plan(n, y)
    a = _profile_alpha(n, y, beta)
    eta = a[:, None] + beta
    q = expit(eta)
    ll_prof = (y * eta - n * np.logaddexp(0.0, eta)).sum()
    M, ks = plan["M"], plan["ks"]
    scores = np.zeros((R, J))
    info = np.zeros((J, J))
    logps = 0.0
    for sl, coef, pr, pi in plan["blocks"]:
        r = np.arange(sl.stop - sl.start)
        nr, qr = n[sl], q[sl]
        F, G, Q = [], [], []
        for j in range(J):
            k = ks[j]
            pmf = _binom_pmf(k, nr[:, j], qr[:, j], coef[j])
            F.append(_fft.rfft(pmf, M, axis=1))
            G.append(_fft.rfft(pmf * k, M, axis=1))
            if need_cov:
                Q.append(_fft.rfft(pmf * (k * k), M, axis=1))

        def at_s(spec):
            return np.einsum("rk,rk->r", spec.real, pr) - np.einsum("rk,rk->r", spec.imag, pi)

        # products of the spectra always taken in script order, from 1: prefix[j] = F_0 ... F_{j-1}
        prefix = [np.ones_like(F[0])]
        for f in F:
            prefix.append(prefix[-1] * f)

        def product_without(*skip):
            """The product of the spectra but ``skip`` (ascending), in script order."""
            rest = prefix[skip[0]]
            for m_ in range(skip[0] + 1, J):
                if m_ not in skip:
                    rest = rest * F[m_]
            return rest

        ps = np.maximum(at_s(prefix[J]), 1e-300)
        logps += np.log(ps).sum()
        m1 = np.empty((len(r), J))
        m2 = np.empty((len(r), J))
        for j in range(J):
            rest = product_without(j)
            m1[:, j] = at_s(G[j] * rest) / ps
            if need_cov:
                m2[:, j] = at_s(Q[j] * rest) / ps
        scores[sl] = y[sl] - m1
        if need_cov:
            cov = np.zeros((len(r), J, J))
            idx = np.arange(J)
            cov[:, idx, idx] = m2 - m1 ** 2
            for j in range(J):
                for l_ in range(j + 1, J):
                    rest = product_without(j, l_)
                    c = at_s(G[j] * G[l_] * rest) / ps - m1[:, j] * m1[:, l_]
                    cov[:, j, l_] = c
                    cov[:, l_, j] = c
            info += cov.sum(0)
    return ll_prof - logps, scores, info, a


def _fit_conditional(n, y, ridge: float = 0.0, max_iter: int = 100, tol: float = 1e-10):
    """Conditional logit of sale on script, stratified by rep, on counts (R, J); b_0 = 0.

    Returns beta (J,), the per-rep scores (R, J) and the information (J, J) at the
    estimate, and whether Newton converged. ``ridge`` adds a Gaussian penalty
    ``ridge/2 * sum (b_j - mean b)^2`` (reference-free), used when the MLE does not exist.
    """
    J = n.shape[1]
    beta = np.zeros(J)
    centre = np.eye(J) - 1.0 / J
    plan = _cond_plan(n, y)  # what the iterations share

    def evaluate(b, need_cov=True):
        ll, sc, info, _ = _cond_terms(n, y, b, need_cov, plan)
        if ridge:
            ll = ll - 0.5 * ridge * ((b - b.mean()) ** 2).sum()
        return ll, sc, info

    ll, sc, info = evaluate(beta)
    converged = False
    for _ in range(max_iter):
        g = sc.sum(0) - (ridge * (beta - beta.mean()) if ridge else 0.0)
        H = info + (ridge * centre if ridge else 0.0)
        try:
            step = np.zeros(J)
            step[1:] = np.linalg.solve(H[1:, 1:], g[1:])
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while True:
            cand = beta + t * step
            ll_c, sc_c, info_c = evaluate(cand)
            if ll_c >= ll - 1e-9 * (1 + abs(ll)) or t < 1e-6:
                break
            t /= 2
        beta, ll, sc, info = cand, ll_c, sc_c, info_c
        if np.max(np.abs(t * step)) < tol:
            converged = True
            break
        if np.max(np.abs(beta)) > 25:
            break
    H = info + (ridge * centre if ridge else 0.0)
    return beta, sc, H, converged and np.max(np.abs(beta)) <= 25


def _floored_cov(v_model, v_robust):
    """The covariance that dominates both: generalised eigenvalues of robust vs model raised to >= 1."""
    try:
        L = np.linalg.cholesky(v_model)
    except np.linalg.LinAlgError:
        return v_robust
    Li = np.linalg.inv(L)
    m = Li @ v_robust @ Li.T
    m = (m + m.T) / 2
    lam, vec = np.linalg.eigh(m)
    return L @ (vec * np.maximum(lam, 1.0)) @ vec.T @ L.T
