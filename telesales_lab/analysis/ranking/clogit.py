"""Conditional logistic regression fitted exactly on aggregated counts (one stratum per rep).

A rep's contribution is the multivariate Fisher non-central hypergeometric likelihood of its sales split
across the variants given its total; see :mod:`telesales_lab.analysis.ranking` for the method.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln


_RIDGE_SD = 3.0  # prior sd of centred log-odds effects, used only when the MLE does not exist


# ----------------------------------------------------------------------------- intervals
# ----------------------------------------------------------------------------- the conditional logit
def _profile_alpha(n, y, beta):
    """Each interior rep's intercept given the script effects: sum_j n_j expit(a + b_j) = y.

    Bracketed Newton, vectorised over reps, on ``log sum_j n_j expit(a + b_j) = log y`` for reps
    selling on at most half their calls and on ``log sum_j n_j expit(-a - b_j) = log(N - y)``
    for the others: both sides are nearly linear in ``a`` where the rates are small (large), so
    a few steps reach the root to machine precision (Newton on the counts themselves
    overshoots there and falls back to bisection). ``n``, ``y`` are (R, J); reps with no sale
    get -inf, reps with only sales +inf, reps with no calls NaN.
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
    low = 2 * YY <= NN
    target = np.log(np.where(low, YY, NN - YY))
    for _ in range(200):
        p = expit(x[:, None] + beta)
        q = expit(-(x[:, None] + beta))
        f = (nn * p).sum(1)  # expected sales at x
        g = (nn * q).sum(1)  # expected non-sales
        d = (nn * p * q).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # increasing in x and 0 at the root; the Newton step is -h / h'
            h = np.where(low, np.log(f) - target, target - np.log(g))
            xn = x - h / np.where(low, d / f, d / g)
        lo = np.where(h < 0, x, lo)
        hi = np.where(h > 0, x, hi)
        outside = ~((xn >= lo) & (xn <= hi))  # a step of 0 at the root stays
        xn = np.where(outside, 0.5 * (lo + hi), xn)
        done = np.max(np.abs(xn - x)) < 1e-12
        x = xn
        if done:
            break
    a[inner] = x
    return a


#: Reps per block of :func:`_cond_terms` (reps sorted by their calls, so a block's spectra are about
#: as long as its reps need).
_BLOCK_REPS = 64


def _cond_plan(n, y):
    """What :func:`_cond_terms` needs that depends on the counts only, not on the effects.

    Each rep's sum of binomial counts ranges over ``0..N_r``, so a discrete Fourier transform
    of length ``M_r = N_r + 1`` represents its distribution exactly; the inverse transform is
    needed at the rep's total ``S_r`` only. Per block of reps (sorted by ``N_r``): the
    frequencies ``z = exp(-2 pi i k / M_r)`` of the half spectrum (``k <= M_r / 2``) and the
    inverse-transform weights at ``S_r`` (0 beyond a rep's own half spectrum).
    """
    R = n.shape[0]
    N = n.sum(1).astype(np.int64)
    S = y.sum(1).astype(np.int64)
    order = np.argsort(N, kind="stable")
    blocks = []
    for start in range(0, R, _BLOCK_REPS):
        idx = order[start:start + _BLOCK_REPS]
        M = N[idx] + 1
        K = M // 2 + 1
        k = np.arange(int(K.max()))
        w = np.where(k == 0, 1.0, 2.0) * np.ones((len(idx), 1))
        w[(M[:, None] % 2 == 0) & (k == M[:, None] // 2)] = 1.0  # the Nyquist term of an even length
        w[k >= K[:, None]] = 0.0
        theta = 2 * np.pi * k / M[:, None]
        cos, sin = np.cos(theta), np.sin(theta)
        omc = 2 * np.sin(theta / 2) ** 2  # 1 - cos, without cancellation at low frequencies
        phase = np.exp(1j * theta * S[idx, None]) * (w / M[:, None])
        blocks.append((idx, cos[:, None, :], sin[:, None, :], omc[:, None, :], phase))
    return {"blocks": blocks}


def _log_binom_pmf(k, n, q):
    """``log P(Binomial(n, q) = k)``."""
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + k * np.log(q) + (n - k) * np.log1p(-q)


def _hypergeometric(n, y):
    """Scores ``y - E[K | S]`` and the summed ``Cov(K | S)`` of reps when all effects are equal:
    ``E[K_j | S] = S n_j / N`` and ``Cov(K_j, K_l | S) = S (N - S) / (N^2 (N - 1)) (N n_j [j = l] - n_j n_l)``."""
    N, S = n.sum(1), y.sum(1)
    scores = y - (S / N)[:, None] * n
    c = S * (N - S) / (N ** 2 * (N - 1))
    info = np.diag((c * N) @ n) - (n * c[:, None]).T @ n
    return scores, info


def _cond_terms(n, y, beta, need_cov=True, plan=None):
    """Conditional log-likelihood, per-rep scores and summed information of informative reps.

    A rep's conditional likelihood of its sales split (y_1..y_J) given its total S is the
    profile binomial likelihood at the rep's fitted intercept minus ``log P(sum_j K_j = S)``
    with independent ``K_j ~ Binomial(n_j, q_j)``, ``q_j = expit(a + b_j)`` (an identity valid
    for any intercept; the fitted one puts S at the mean, so the inverse transform is
    accurate). The score is ``y - E[K | S]`` and the information ``Cov(K | S)``.

    Everything comes from the closed-form spectrum of the sum, the product of the binomials'
    generating functions ``P(z) = prod_j (1 - q_j + q_j z)^{n_j}``, at the ``M_r`` roots of
    unity, inverted at ``S`` only: with ``u_j = q_j z / (1 - q_j + q_j z)``,
    ``E[K_j 1{sum=S}] = n_j [P u_j]_S``, ``E[K_j (K_j - 1) 1{sum=S}] = n_j (n_j - 1) [P u_j^2]_S``
    and ``E[K_j K_l 1{sum=S}] = n_j n_l [P u_j u_l]_S`` (``[.]_S`` the inverse transform at
    S). ``plan`` is :func:`_cond_plan` of ``n`` and ``y`` (computed here when not given).
    """
    R, J = n.shape
    if plan is None:
        plan = _cond_plan(n, y)
    a = _profile_alpha(n, y, beta)
    eta = a[:, None] + beta
    q = expit(eta)
    ll_prof = (y * eta - n * np.logaddexp(0.0, eta)).sum()
    if not np.any(beta):  # equal effects: K given its total S is multivariate hypergeometric
        return ll_prof - _log_binom_pmf(y.sum(1), n.sum(1), q[:, 0]).sum(), *_hypergeometric(n, y), a
    scores = np.zeros((R, J))
    info = np.zeros((J, J))
    logps = 0.0
    for idx, cos, sin, omc, phase in plan["blocks"]:
        nb, qb = n[idx], q[idx, :, None]
        pq = qb * (1 - qb)
        # each binomial's factor b = 1 - q + q z at z = cos - i sin (reps, scripts, frequencies), in
        # polar form: |b|^2 = 1 - 2 q (1 - q) (1 - cos)
        x = 2 * pq * omc
        arg = np.arctan2(-qb * sin, 1 - qb * omc)
        Y = np.exp(np.einsum("rj,rjk->rk", nb, 0.5 * np.log1p(-x))) * phase  # spectrum times inverse weights
        Y *= np.exp(1j * np.einsum("rj,rjk->rk", nb, arg))
        # u = q z / b = q z conj(b) / |b|^2
        x = 1 - x
        u = np.empty(x.shape, complex)
        u.real = qb * (cos + qb * omc) / x
        u.imag = -pq * sin / x
        ps = np.maximum(Y.real.sum(1), 1e-300)
        logps += np.log(ps).sum()
        uY = u * Y[:, None, :]
        m1 = nb * uY.real.sum(2) / ps[:, None]
        scores[idx] = y[idx] - m1
        if need_cov:
            # E[K_j K_l | S] (j != l) and E[K_j (K_j - 1) | S] from the same sums
            cross = np.einsum("rjk,rlk->rjl", uY, u).real / ps[:, None, None]
            cov = cross * nb[:, :, None] * nb[:, None, :]
            jj = np.arange(J)
            cov[:, jj, jj] = nb * (nb - 1) * cross[:, jj, jj] + m1
            cov -= m1[:, :, None] * m1[:, None, :]
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
