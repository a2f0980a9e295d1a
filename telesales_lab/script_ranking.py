"""Fair ranking of call-script variants: adjusted for the reps who used them, with honest verdicts.

Reps are not randomised to scripts: strong reps often keep to a favourite variant, and good
reps make any script look good. So every variant is compared *within reps*.

Method
------
1. **Sufficient statistics first.** The calls of the window are summed once per
   ``scenario × [customer_class] × rep × script`` (:func:`script_cells`): dials, connected
   calls, sales, revenue and squared revenue of the connected calls. Every model below runs
   on that small table, so a month of a million calls ranks in seconds.
2. **Raw rates**: sale rate per connected call with Wilson score intervals.
3. **Rep-adjusted effect**: a *conditional* logistic regression of sale on script with one
   stratum per rep (the rep effects are conditioned away, as in matched case-control
   studies). It is fitted exactly on the aggregated counts: a rep's contribution is the
   multivariate Fisher non-central hypergeometric likelihood of its sales split across the
   variants given its total, computed as the profile binomial likelihood minus
   ``log P(sum of the rep's binomial counts = its sales)`` at the rep's fitted intercept,
   with batched FFT convolutions over reps. Unlike the unconditional logit with a dummy per
   rep it has no incidental-parameter bias when each rep makes only a few dozen calls per
   scenario (the demo's case: the unconditional fit overstates log-odds ratios by ~5% there,
   and its Wald tests are too liberal). It equals :class:`statsmodels ConditionalLogit
   <statsmodels.discrete.conditional_models.ConditionalLogit>` on the call-level rows.
4. **Uncertainty**: calls are clustered within reps, so the covariance of the script
   log-odds is the rep-clustered sandwich (CR1, ``G/(G-1)``) *floored by the model-based
   one in every direction* (generalised eigenvalues of the sandwich relative to the inverse
   information are raised to at least 1). The result is never narrower than the binomial
   model nor than the clustered sandwich, and is invariant to the choice of reference
   variant. Tests and intervals use Student t with ``G - 1`` degrees of freedom, ``G`` =
   reps informative for the comparison (calls on two or more variants, sales and non-sales).
5. **Reported adjusted effect** (``adj_effect``): the *standardised sale rate* — the sale
   rate expected if every rep of the group had made all their connected calls with this
   variant, ``sum_r w_r expit(a_r + b_j) / sum_r w_r`` with ``w_r`` the rep's connected
   calls in the group and ``a_r`` the rep's fitted intercept (marginal standardisation over
   this period's rep mix). It is on the same scale as the raw rate, so the two can be read
   side by side; it is monotone in the log-odds effect, so rank 1 is the best adjusted
   estimate. Its interval is the delta method (on the logit of the rate) over the script
   log-odds and the reps' intercepts. Reps without any sale (or with only sales) in the
   group add their observed 0 (1) to every variant; their level uncertainty is counted with
   a Jeffreys ``(y + 1/2) / (n + 1)`` binomial variance.
6. **Probability of being best and expected loss**: draws from the approximate posterior
   (multivariate t around the estimate with the floored covariance, plus the reps'
   intercept noise), turned into standardised rates; ``prob_best`` is the share of draws in
   which a variant is highest, ``expected_loss`` the mean of ``max - this`` (sale-rate
   points lost by choosing it). Draws use a fixed ``random_state``; variants and reps are
   ordered by their counts before drawing, so renaming ids does not change any number.
7. **Pairwise comparisons** of every pair of variants in a group: Wald t tests on the
   log-odds ratio, p-values adjusted by Holm (default) or Benjamini-Hochberg over the
   group's pairs, with a Mantel-Haenszel odds ratio stratified by rep as a cross-check.
8. **Verdicts**: ``insufficient_data`` below ``min_connected`` connected calls or
   ``min_reps`` reps using it (or when no rep used it beside another variant);
   ``best`` only for the top variant when it beats *every* other variant of the group after
   the multiplicity correction *and* ``prob_best >= prob_threshold``; ``inconclusive``
   otherwise. Declaring a winner requires rejecting at least one true null hypothesis when
   variants are equal, so the false-winner rate is at most ``alpha``.

Also here: revenue per connected call (raw and rep-adjusted), a sample-ratio-mismatch check,
the further calls needed to separate the top two, Thompson-sampling allocation with a floor,
a rep-blocked assignment plan for next month and rep-adjusted phrase analysis with character
n-grams (works for Chinese without a tokenizer).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import fft as _fft
from scipy import stats
from scipy.special import expit, gammaln, logit

from .exceptions import ParameterError
from .i18n import check_lang, register, t
from .inference import adjust_pvalues, check_padjust, wilson_interval
from .periods import in_month, in_window, parse_month, require_data

__all__ = [
    "RANK_COLUMNS", "VERDICTS", "ScriptRanker", "script_cells", "analyse_scripts", "rank_scripts",
    "rank_cells", "raw_vs_adjusted", "pairwise_comparisons", "revenue_per_call", "srm_check", "calls_needed",
    "thompson_allocation", "assignment_plan", "phrase_analysis", "wilson_interval", "adjust_pvalues",
    "plot_intervals", "plot_allocation", "plot_phrases",
]

#: Columns of the ranking table (``customer_class`` follows ``scenario`` with ``by="customer_class"``).
RANK_COLUMNS = ("scenario", "script_id", "calls", "connected", "sales", "sale_rate", "ci_low", "ci_high",
                "adj_effect", "adj_ci_low", "adj_ci_high", "prob_best", "expected_loss", "rank", "verdict")
VERDICTS = ("best", "inconclusive", "insufficient_data")
BY = (None, "customer_class")
PAIRWISE_COLUMNS = ("script_a", "script_b", "shared_reps", "diff", "diff_ci_low", "diff_ci_high",
                    "odds_ratio", "or_ci_low", "or_ci_high", "p_value", "p_adj", "significant",
                    "mh_odds_ratio", "mh_p_value")
_CELL_SUMS = ("calls", "connected", "sales", "revenue", "revenue_sq")
_RIDGE_SD = 3.0  # prior sd of centred log-odds effects, used only when the MLE does not exist

register({
    "sale_rate": ("sale rate", "成交率"),
    "adj_effect": ("adjusted sale rate", "调整后成交率"),
    "adj_ci_low": ("adjusted CI low", "调整后下限"),
    "adj_ci_high": ("adjusted CI high", "调整后上限"),
    "prob_best": ("probability best", "最优概率"),
    "expected_loss": ("expected loss", "预期损失"),
    "verdict": ("verdict", "结论"),
    "script_a": ("script A", "话术A"),
    "script_b": ("script B", "话术B"),
    "shared_reps": ("reps using both", "共同使用坐席数"),
    "diff": ("difference (A - B)", "差值（A-B）"),
    "diff_ci_low": ("difference CI low", "差值下限"),
    "diff_ci_high": ("difference CI high", "差值上限"),
    "odds_ratio": ("odds ratio", "优势比"),
    "or_ci_low": ("OR CI low", "优势比下限"),
    "or_ci_high": ("OR CI high", "优势比上限"),
    "p_adj": ("adjusted p-value", "校正P值"),
    "significant": ("significant", "显著"),
    "mh_odds_ratio": ("Mantel-Haenszel OR", "MH优势比"),
    "mh_p_value": ("Mantel-Haenszel p", "MH检验P值"),
    "revenue_per_connected": ("revenue per connected call", "每接通收入"),
    "adj_revenue_per_connected": ("adjusted revenue per connected call", "调整后每接通收入"),
    "observed_share": ("observed share", "实际占比"),
    "intended_share": ("intended share", "计划占比"),
    "expected_calls": ("expected calls", "预期通话数"),
    "chi2": ("chi-square", "卡方"),
    "srm": ("sample ratio mismatch", "样本比例失衡"),
    "rate_a": ("rate A", "A成交率"),
    "rate_b": ("rate B", "B成交率"),
    "effect_size": ("effect size (h)", "效应量h"),
    "n_per_arm": ("connected calls needed per arm", "每组所需接通数"),
    "connected_a": ("connected A", "A接通数"),
    "connected_b": ("connected B", "B接通数"),
    "further_a": ("further calls A", "A还需接通"),
    "further_b": ("further calls B", "B还需接通"),
    "planned_calls": ("planned calls", "计划通话数"),
    "phrase": ("phrase", "短语"),
    "calls_with": ("connected calls with phrase", "含短语接通数"),
    "sales_with": ("sales with phrase", "含短语成交数"),
    "sale_rate_with": ("sale rate with", "含短语成交率"),
    "sale_rate_without": ("sale rate without", "不含短语成交率"),
    "log_odds_ratio": ("log odds ratio (rep-adjusted)", "对数优势比（坐席调整）"),
})
#: Generic column words other modules label too: registered for this module's tables only
#: (``translate_columns(frame, lang, context=CONTEXT)``), so no global label is overridden.
CONTEXT = "script_ranking"
register({
    "calls": ("calls", "通话数"),
    "connected": ("connected", "接通数"),
    "sales": ("sales", "成交数"),
    "ci_low": ("CI low", "置信下限"),
    "ci_high": ("CI high", "置信上限"),
    "rank": ("rank", "排名"),
    "p_value": ("p-value", "P值"),
    "revenue": ("revenue", "收入"),
    "alpha": ("alpha", "显著性水平"),
    "power": ("power", "检验效能"),
    "share": ("share", "分配比例"),
    "z": ("z", "z值"),
    "best": ("best", "最优"),
    "inconclusive": ("inconclusive", "尚无定论"),
    "insufficient_data": ("insufficient data", "数据不足"),
    "source": ("source", "来源"),
    "cold_call": ("cold call", "陌生电话"),
    "follow_up": ("follow-up", "跟进回访"),
    "renewal": ("renewal", "续约"),
    "upsell": ("upsell", "增购升级"),
}, context=CONTEXT)
register({  # notebook headings and sheet names
    "ranking.title": ("Script ranking", "话术排名"),
    "ranking.ranking": ("Ranking: raw and rep-adjusted sale rates, verdicts", "排名：原始与坐席调整后成交率及结论"),
    "ranking.raw_vs_adjusted": ("Raw against adjusted", "原始与调整后对比"),
    "ranking.pairwise": ("Pairwise comparisons", "两两比较"),
    "ranking.revenue": ("Revenue per connected call", "每接通收入"),
    "ranking.by_class": ("Ranking by customer class", "按客户等级排名"),
    "ranking.srm": ("Sample ratio check", "样本比例检查"),
    "ranking.calls_needed": ("Calls needed to separate the top two", "区分前两名所需通话"),
    "ranking.allocation": ("Next month: allocation", "下月话术分配"),
    "ranking.plan": ("Next month: assignment plan by rep", "下月坐席分配计划"),
    "ranking.phrases": ("Phrases that go with a sale", "与成交相关的短语"),
    "ranking.method": ("How to read this", "阅读说明"),
    "ranking.method_text": (
        "Reps choose their scripts, and good reps make any script look good, so the raw sale rate "
        "(per connected call, with a Wilson interval) can mislead. The **adjusted sale rate** compares "
        "variants *within each rep* (conditional logistic regression with one stratum per rep) and reports "
        "the rate expected if every rep had used the variant, with an interval that treats calls as "
        "clustered within reps. **Probability best** and **expected loss** come from the posterior of the "
        "adjusted rates. A variant is called **best** only when it beats every other variant of its scenario "
        "after the Holm correction and is best with probability at least 95%; otherwise the verdict is "
        "**inconclusive**, or **insufficient data** below 100 connected calls or 3 reps.",
        "坐席会自行选择话术，而优秀坐席用任何话术成交率都高，因此原始成交率（每接通，Wilson区间）可能误导。"
        "**调整后成交率**在每位坐席内部比较各话术（按坐席分层的条件logistic回归），给出所有坐席都使用该话术时的预期成交率，"
        "其区间考虑了同一坐席通话之间的相关性。**最优概率**与**预期损失**来自调整后成交率的后验分布。"
        "只有当某话术在Holm校正后显著优于同场景的所有其他话术、且最优概率不低于95%时才判为**最优**；"
        "否则为**尚无定论**；接通少于100次或使用坐席少于3人时为**数据不足**。"),
    "raw_rank": ("raw rank", "原始排名"),
    "rank_change": ("rank change (raw - adjusted)", "排名变化（原始-调整）"),
    "script_ranking": ("script ranking", "话术排名"),
    "script_pairwise": ("script pairwise", "话术两两比较"),
    "script_revenue": ("script revenue", "话术收入"),
    "script_ranking_class": ("script ranking by class", "分客户等级话术排名"),
    "script_srm": ("script sample ratio", "话术样本比例"),
    "script_calls_needed": ("script calls needed", "话术所需通话"),
    "script_allocation": ("script allocation", "话术分配"),
    "script_plan": ("script assignment plan", "话术分配计划"),
    "script_phrases": ("script phrases", "话术短语"),
    "transcript_phrases": ("transcript phrases", "通话记录短语"),
})


# ----------------------------------------------------------------------------- checks
def _check_by(by):
    if by not in BY:
        raise ParameterError(f"by == {by!r}, must be None or 'customer_class'")
    return by


def _check_window(window_months):
    if isinstance(window_months, bool) or not isinstance(window_months, (int, np.integer)) or window_months < 1:
        raise ParameterError(f"window_months == {window_months!r}, must be a whole number >= 1")
    return int(window_months)


def _check_open01(name, value):
    if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) or not 0 < float(value) < 1:
        raise ParameterError(f"{name} == {value!r}, must be a number strictly between 0 and 1")
    return float(value)


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name} == {value!r}, must be a whole number >= {low}")
    return int(value)


# ----------------------------------------------------------------------------- sufficient statistics
def _positions(keys: pd.Series, index_values) -> np.ndarray:
    """Position of each key in ``index_values`` (-1 if absent), through Arrow's hash lookup."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(pd.Series(keys).astype("string"))
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    pos = pc.index_in(arr, value_set=pa.array(pd.Series(index_values, dtype="string"), type=pa.string()))
    return np.asarray(pos.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _window_calls(data, month, window_months: int, columns=(), scenario: bool = True) -> pd.DataFrame:
    """The window's calls: rep, script, [scenario,] connected, sale, revenue and in_month flags.

    Revenue is the amount of the non-cancelled orders linked to the call by ``orders.call_id``,
    counted on connected calls only (revenue per *connected* call). Id columns keep the
    loaded (Arrow) string dtype: converting a million ids to Python objects is the slow part.
    """
    p = parse_month(month) if not isinstance(month, pd.Period) else month
    calls = data.calls
    require_data(calls["started_at"], p, "calls")
    mask = in_window(calls["started_at"], p, window_months).to_numpy(bool)
    need = ["rep_id", "script_id", "call_id", "outcome", "started_at"] + [c for c in columns if c not in
                                                                           ("rep_id", "script_id")]
    sub = calls.loc[mask, need]
    outcome = sub["outcome"]
    connected = (outcome != "no_answer").to_numpy(bool)
    out = pd.DataFrame({
        "rep_id": sub["rep_id"].astype("string").reset_index(drop=True),
        "script_id": sub["script_id"].astype("string").reset_index(drop=True),
        "connected": connected,
        "sale": (outcome == "sale").to_numpy(bool),
    })
    orders = data.orders
    ok = orders["call_id"].notna().to_numpy(bool) & (orders["status"] != "cancelled").to_numpy(bool)
    per_call = orders.loc[ok].groupby("call_id", sort=False, observed=True)["amount"].sum()
    rev = np.zeros(len(sub))
    if len(per_call):
        pos = _positions(sub["call_id"], per_call.index)
        rev = np.where(pos >= 0, per_call.to_numpy(float)[np.maximum(pos, 0)], 0.0)
    out["revenue"] = np.where(connected, rev, 0.0)
    out["in_month"] = in_month(sub["started_at"], p).to_numpy(bool)
    if scenario:
        scen = data.scripts.set_index("script_id")["scenario"]
        pos = _positions(out["script_id"], scen.index)
        out["scenario"] = pd.Series(scen.to_numpy(object)[np.maximum(pos, 0)], dtype="string")
    for c in columns:
        out[c] = sub[c].reset_index(drop=True)
    return out


def _class_of(data, month, customer_ids: pd.Series) -> np.ndarray:
    from .customers import class_at_start  # lazy: the customers module reads the policy

    cmap = class_at_start(data, str(month))
    pos = _positions(customer_ids, cmap.index)
    values = np.asarray(cmap.to_numpy(object), dtype=object)
    return np.where(pos >= 0, values[np.maximum(pos, 0)], "C")  # acquired after the month: C


def script_cells(data, month: str, by: str | None = None, window_months: int = 1) -> pd.DataFrame:
    """Sufficient statistics per scenario, [customer class], rep and script.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.io.load_dataset`.
    month : str
        ``YYYY-MM``, the last month of the window.
    by : {None, "customer_class"}
        Also split by the customer's class at the start of the window (from
        :func:`telesales_lab.customers.class_at_start`, so the window's own sales do not
        decide the class; customers new in the window are C).
    window_months : int, default 1
        Months of calls ending with ``month``.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] rep_id, script_id, calls, connected, sales, revenue,
        revenue_sq, calls_month``: dials, connected calls, sales, the revenue of the connected
        calls (non-cancelled orders linked by ``orders.call_id``), the sum of its squares
        (per call) and the dials in ``month`` itself. One row per combination with a dial.

    Raises
    ------
    ParameterError
        Malformed month, a month without calls, or a bad ``by``/``window_months``.
    """
    by = _check_by(by)
    window_months = _check_window(window_months)
    p = parse_month(month)
    calls = _window_calls(data, p, window_months, columns=("customer_id",) if by else (), scenario=False)
    keys = ([by] if by else []) + ["rep_id", "script_id"]
    if by:
        calls[by] = pd.Series(_class_of(data, p - (window_months - 1), calls["customer_id"]), dtype="string")
    calls["calls"] = np.int64(1)
    calls["revenue_sq"] = calls["revenue"].to_numpy() ** 2
    calls["calls_month"] = calls["in_month"].astype(np.int64)
    calls = calls.rename(columns={"sale": "sales"})
    cols = list(_CELL_SUMS) + ["calls_month"]
    cells = calls.groupby(keys, sort=False, observed=True)[cols].sum().reset_index()
    scen = data.scripts.set_index("script_id")["scenario"]
    pos = _positions(cells["script_id"], scen.index)
    cells.insert(0, "scenario", pd.Series(scen.to_numpy(object)[np.maximum(pos, 0)], dtype="string"))
    for c in ("calls", "connected", "sales", "calls_month"):
        cells[c] = cells[c].astype(np.int64)
    keys = ["scenario"] + keys
    for c in keys:
        cells[c] = cells[c].astype("string")
    return cells.sort_values(keys, kind="stable").reset_index(drop=True)


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


def _binom_pmf(k, n, q):
    """Binomial pmf, rows = (n, q) pairs, columns = k (0 where k > n)."""
    n_ = n[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = (gammaln(n_ + 1) - gammaln(k + 1) - gammaln(np.maximum(n_ - k, 0) + 1)
                + k * np.log(q)[:, None] + (n_ - k) * np.log1p(-q)[:, None])
    out = np.exp(logp)
    out[~(k <= n_)] = 0.0
    return np.nan_to_num(out, nan=0.0)


def _cond_terms(n, y, beta, need_cov=True):
    """Conditional log-likelihood, per-rep scores and summed information of informative reps.

    A rep's conditional likelihood of its sales split (y_1..y_J) given its total S is the
    profile binomial likelihood at the rep's fitted intercept minus ``log P(sum_j K_j = S)``
    with independent ``K_j ~ Binomial(n_j, expit(a + b_j))`` (an identity valid for any
    intercept; the fitted one puts S at the mean, so the FFT convolutions are accurate).
    The score is ``y - E[K | S]`` and the information ``Cov(K | S)``.
    """
    R, J = n.shape
    a = _profile_alpha(n, y, beta)
    eta = a[:, None] + beta
    q = expit(eta)
    S = y.sum(1).astype(np.int64)
    ll_prof = (y * eta - n * np.logaddexp(0.0, eta)).sum()
    nmax = n.max(0).astype(np.int64)
    M = _fft.next_fast_len(int(n.sum(1).max()) + 1, real=True)
    scores = np.zeros((R, J))
    info = np.zeros((J, J))
    logps = 0.0
    chunk = max(1, int(4_000_000 // (M * max(J, 1) * 3)))
    for start in range(0, R, chunk):
        sl = slice(start, min(R, start + chunk))
        r = np.arange(sl.stop - sl.start)
        nr, qr, Sr = n[sl], q[sl], S[sl]
        F, G, Q = [], [], []
        for j in range(J):
            k = np.arange(nmax[j] + 1)
            pmf = _binom_pmf(k, nr[:, j], qr[:, j])
            F.append(_fft.rfft(pmf, M, axis=1))
            G.append(_fft.rfft(pmf * k, M, axis=1))
            if need_cov:
                Q.append(_fft.rfft(pmf * (k * k), M, axis=1))

        # the inverse transform evaluated at each rep's own total S only
        K = M // 2 + 1
        w = np.full(K, 2.0)
        w[0] = 1.0
        if M % 2 == 0:
            w[-1] = 1.0
        phase = np.exp(2j * np.pi * np.outer(Sr, np.arange(K)) / M) * (w / M)
        pr, pi = np.ascontiguousarray(phase.real), np.ascontiguousarray(phase.imag)

        def at_s(spec):
            return np.einsum("rk,rk->r", spec.real, pr) - np.einsum("rk,rk->r", spec.imag, pi)

        total = np.ones_like(F[0])
        for f in F:
            total = total * f
        ps = np.maximum(at_s(total), 1e-300)
        logps += np.log(ps).sum()
        m1 = np.empty((len(r), J))
        m2 = np.empty((len(r), J))
        loo = []
        for j in range(J):
            rest = np.ones_like(F[0])
            for l_ in range(J):
                if l_ != j:
                    rest = rest * F[l_]
            loo.append(rest)
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
                    rest = np.ones_like(F[0])
                    for m_ in range(J):
                        if m_ not in (j, l_):
                            rest = rest * F[m_]
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

    def evaluate(b, need_cov=True):
        ll, sc, info, _ = _cond_terms(n, y, b, need_cov)
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


# ----------------------------------------------------------------------------- one group
def _group_rows(cells_g, settings):
    """Per-script totals of one group with eligibility (sorted by script id)."""
    codes, uniq = pd.factorize(cells_g["script_id"], sort=True)
    k = len(uniq)

    def total(col):
        return np.bincount(codes, weights=cells_g[col].to_numpy(float), minlength=k).astype(np.int64)

    tot = pd.DataFrame({"script_id": np.asarray(uniq, dtype=object), "calls": total("calls"),
                        "connected": total("connected"), "sales": total("sales"),
                        "reps": np.bincount(codes, weights=(cells_g["connected"].to_numpy() > 0).astype(float),
                                            minlength=k).astype(np.int64)})
    tot["eligible"] = (tot["connected"] >= settings["min_connected"]) & (tot["reps"] >= settings["min_reps"])
    return tot


def _order(frame, count_cols, id_col):
    """Rows sorted by counts (descending), then id: an order that survives renaming ids."""
    return frame.sort_values(list(count_cols) + [id_col], ascending=[False] * len(count_cols) + [True],
                             kind="stable").reset_index(drop=True)


def _matrix(cells_g, scripts, value):
    """(reps x scripts) matrices of ``value`` columns for the given script order.

    Reps (with a connected call on one of the scripts) are ordered by their connected calls
    and sales, then id, so that renaming ids leaves the order (and the draws) unchanged.
    """
    si_all = pd.Index(scripts).get_indexer(cells_g["script_id"])
    keep = (si_all >= 0) & (cells_g["connected"].to_numpy() > 0)
    sub = cells_g.loc[keep]
    si = si_all[keep]
    rcodes, reps = pd.factorize(sub["rep_id"])
    out = {}
    for v in set(value) | {"connected", "sales"}:
        m = np.zeros((len(reps), len(scripts)))
        np.add.at(m, (rcodes, si), sub[v].to_numpy(float))
        out[v] = m
    n, y = out["connected"], out["sales"]
    # order by totals, then the whole per-script profile, then id: reps tied on everything
    # are exchangeable, so renaming ids cannot change any number
    keys = [np.asarray(reps, dtype=str)]
    keys += [-y[:, j] for j in range(len(scripts))[::-1]] + [-n[:, j] for j in range(len(scripts))[::-1]]
    order = np.lexsort(keys + [-y.sum(1), -n.sum(1)])
    return np.asarray(reps, dtype=object)[order], {v: out[v][order] for v in value}


def _identified(n, y, scripts):
    """Scripts linked to the first (reference) one through reps informative for a comparison."""
    S, N = y.sum(1), n.sum(1)
    used = n > 0
    inf = (S > 0) & (S < N) & (used.sum(1) >= 2)
    B = used[inf].astype(float)
    link = (B.T @ B) > 0
    comp = np.zeros(len(scripts), bool)
    comp[0] = True
    for _ in range(len(scripts)):
        new = (link[comp].any(0)) | comp
        if (new == comp).all():
            break
        comp = new
    return comp


class _GroupFit:
    """Everything fitted for one scenario (x class): rates, covariance, draws."""

    def __init__(self, key, cells_g, settings, seed):
        self.key = key
        self.settings = settings
        tot = _group_rows(cells_g, settings)
        elig = _order(tot[tot["eligible"]], ("connected", "sales"), "script_id")
        scripts = list(elig["script_id"])
        while True:
            if len(scripts) >= 2:
                _, m = _matrix(cells_g, scripts, ("connected", "sales"))
                ok = _identified(m["connected"], m["sales"], scripts)
                if not ok.all():
                    scripts = [s for s, k in zip(scripts, ok) if k]
                    continue
            break
        tot["identified"] = tot["script_id"].isin(scripts)
        self.totals = tot
        self.scripts = scripts
        self.J = len(scripts)
        self.seed = seed
        self.penalised = False
        if self.J == 0:
            return
        self.rep_ids, m = _matrix(cells_g, scripts, ("connected", "sales"))
        n, y = m["connected"], m["sales"]
        self.n, self.y = n, y
        self._fit(n, y)

    # -- estimation
    def _fit(self, n, y):
        J = self.J
        N, Y = n.sum(1), y.sum(1)
        self.w = N.copy()  # standardise over the group's rep mix (connected calls)
        if J >= 2:
            inf = (Y > 0) & (Y < N) & ((n > 0).sum(1) >= 2)
            ni, yi = n[inf], y[inf]
            per_script_y = yi.sum(0)
            ridge = 0.0
            if ((per_script_y == 0) | (per_script_y == ni.sum(0))).any():
                ridge = 1.0 / _RIDGE_SD ** 2
            beta, sc, H, conv = _fit_conditional(ni, yi, ridge)
            if not conv and not ridge:
                ridge = 1.0 / _RIDGE_SD ** 2
                beta, sc, H, conv = _fit_conditional(ni, yi, ridge)
            self.penalised = bool(ridge)
            G = int(inf.sum())
            Hf = H[1:, 1:]
            v_model = np.linalg.pinv(Hf)
            s = sc[:, 1:]
            meat = s.T @ s * (G / (G - 1) if G > 1 else np.inf)
            v_robust = v_model @ meat @ v_model if G > 1 else np.full_like(v_model, np.inf)
            V = _floored_cov(v_model, v_robust) if G > 1 else np.full_like(v_model, np.inf)
            self.G = G
            self.df = max(G - 1, 1)
            self.beta = beta
            self.V = V
            self.v_model = v_model
        else:
            self.G = int(((Y > 0) & (Y < N)).sum())
            self.df = np.inf
            self.beta = np.zeros(1)
            self.V = np.zeros((0, 0))
            self.v_model = np.zeros((0, 0))
        self.alpha_r = _profile_alpha(n, y, self.beta)
        self._rates()

    def _rates(self):
        """Standardised rates and their covariance (delta method)."""
        n, w, a, b = self.n, self.w, self.alpha_r, self.beta
        W = w.sum()
        p = expit(a[:, None] + b)  # +-inf intercepts give exactly 0 / 1
        self.rate = (w[:, None] * p).sum(0) / W
        v = p * (1 - p)
        I_r = (n * v).sum(1)
        inner = I_r > 0
        A = np.zeros_like(n)
        A[inner] = -(n[inner] * v[inner]) / I_r[inner, None]
        J = self.J
        # d rate_j / d b_k (free k = 1..J-1), through the profiled intercepts
        grad = np.zeros((J, J))
        for j in range(J):
            grad[j] = (w * v[:, j]) @ (A + np.eye(J)[j]) / W
        Gf = grad[:, 1:]
        cov = Gf @ self.V @ Gf.T if J >= 2 else np.zeros((J, J))
        c = w[:, None] * v / W
        cov = cov + (c[inner] / I_r[inner, None]).T @ c[inner]
        # reps at 0 % or 100 %: Jeffreys binomial variance on the level of every variant
        edge = ~inner & (n.sum(1) > 0)
        if edge.any():
            N_e = n.sum(1)[edge]
            pj = (self.y.sum(1)[edge] + 0.5) / (N_e + 1)
            cov = cov + ((w[edge] / W) ** 2 * pj * (1 - pj) / N_e).sum()
        self.rate_cov = cov
        self.A = A
        self.I_r = I_r

    # -- posterior draws
    def draws(self):
        if hasattr(self, "_draws"):
            return self._draws
        st = self.settings
        rng = np.random.default_rng(self.seed)
        S, J = st["n_draws"], self.J
        if J == 1:
            self._draws = np.ones((S, 1)) * self.rate
            return self._draws
        Vf = self.V
        if not np.all(np.isfinite(Vf)):
            self._draws = None
            return None
        evals, evecs = np.linalg.eigh((Vf + Vf.T) / 2)
        root = evecs * np.sqrt(np.maximum(evals, 0))
        z = rng.standard_normal((S, J - 1)) @ root.T
        chi = rng.chisquare(self.df, size=(S, 1)) if np.isfinite(self.df) else None
        scale = np.sqrt(self.df / chi) if chi is not None else 1.0
        db = np.zeros((S, J))
        db[:, 1:] = z * scale
        e = rng.standard_normal((S, len(self.w)))
        inner = self.I_r > 0
        sd = np.zeros(len(self.w))
        sd[inner] = 1 / np.sqrt(self.I_r[inner])
        out = np.empty((S, J))
        W = self.w.sum()
        step = max(1, int(2_000_000 // max(len(self.w) * J, 1)))
        for s0 in range(0, S, step):
            sl = slice(s0, min(S, s0 + step))
            a = self.alpha_r[None, :] + db[sl] @ self.A.T + e[sl] * sd
            a = np.where(inner[None, :], a, self.alpha_r[None, :])
            p = expit(a[:, :, None] + (self.beta + db[sl])[:, None, :])
            out[sl] = np.einsum("r,srj->sj", self.w, p) / W
        self._draws = out
        return out

    # -- outputs
    def ranking(self):
        tot = self.totals
        st = self.settings
        alpha = st["alpha"]
        low, high = wilson_interval(tot["sales"], tot["connected"], 1 - alpha)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(tot["connected"] > 0, tot["sales"] / tot["connected"].where(tot["connected"] > 0, 1),
                            np.nan)
        out = pd.DataFrame({
            "script_id": tot["script_id"], "calls": tot["calls"], "connected": tot["connected"],
            "sales": tot["sales"], "sale_rate": rate, "ci_low": low, "ci_high": high,
        })
        out["adj_effect"] = np.nan
        out["adj_ci_low"] = np.nan
        out["adj_ci_high"] = np.nan
        out["prob_best"] = np.nan
        out["expected_loss"] = np.nan
        out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
        out["verdict"] = "insufficient_data"
        if self.J == 0:
            return out
        pos = pd.Index(out["script_id"]).get_indexer(self.scripts)
        se = np.sqrt(np.maximum(np.diag(self.rate_cov), 0))
        q = stats.t.isf(alpha / 2, self.df) if np.isfinite(self.df) else stats.norm.isf(alpha / 2)
        r = self.rate
        with np.errstate(invalid="ignore", divide="ignore"):
            inside = (r > 0) & (r < 1)
            lse = se / (r * (1 - r))
            lo = np.where(inside, expit(logit(np.clip(r, 1e-300, 1 - 1e-16)) - q * lse), np.clip(r - q * se, 0, 1))
            hi = np.where(inside, expit(logit(np.clip(r, 1e-300, 1 - 1e-16)) + q * lse), np.clip(r + q * se, 0, 1))
        out.loc[pos, "adj_effect"] = r
        out.loc[pos, "adj_ci_low"] = lo
        out.loc[pos, "adj_ci_high"] = hi
        d = self.draws()
        if d is not None:
            best = d.argmax(1)
            pb = np.bincount(best, minlength=self.J) / len(d)
            loss = (d.max(1, keepdims=True) - d).mean(0)
            out.loc[pos, "prob_best"] = pb
            out.loc[pos, "expected_loss"] = loss
        rk = pd.Series(np.round(-self.beta, 9)).rank(method="min").astype("int64").to_numpy()
        out.loc[pos, "rank"] = rk
        out.loc[pos, "verdict"] = "inconclusive"
        if self.J >= 2 and d is not None:
            pw = self.pairwise()
            top = np.flatnonzero(rk == 1)
            if len(top) == 1:
                t = self.scripts[top[0]]
                mine = pw[(pw["script_a"] == t) | (pw["script_b"] == t)]
                wins = ((mine["script_a"] == t) & (mine["diff"] > 0)).to_numpy()
                if (len(mine) == self.J - 1 and mine["significant"].all() and wins.all()
                        and out.loc[pos[top[0]], "prob_best"] >= st["prob_threshold"]):
                    out.loc[pos[top[0]], "verdict"] = "best"
        return out

    def pairwise(self):
        if hasattr(self, "_pairwise"):
            return self._pairwise
        J, st = self.J, self.settings
        if J < 2:
            self._pairwise = pd.DataFrame(columns=list(PAIRWISE_COLUMNS))
            return self._pairwise
        order = np.argsort(-self.beta, kind="stable")
        Vfull = np.zeros((J, J))
        Vfull[1:, 1:] = self.V
        q = stats.t.isf(st["alpha"] / 2, self.df)
        rows = []
        for ia in range(J):
            for ib in range(ia + 1, J):
                a, b = order[ia], order[ib]
                lor = self.beta[a] - self.beta[b]
                var = Vfull[a, a] + Vfull[b, b] - 2 * Vfull[a, b]
                se = math.sqrt(max(var, 0.0))
                tval = lor / se if se > 0 else np.inf
                pval = 2 * stats.t.sf(abs(tval), self.df) if np.isfinite(se) else 1.0
                diff = self.rate[a] - self.rate[b]
                dvar = self.rate_cov[a, a] + self.rate_cov[b, b] - 2 * self.rate_cov[a, b]
                dse = math.sqrt(max(dvar, 0.0))
                shared = int(((self.n[:, a] > 0) & (self.n[:, b] > 0)).sum())
                mh_or, mh_p = _mantel_haenszel(self.n[:, [a, b]], self.y[:, [a, b]])
                rows.append({
                    "script_a": self.scripts[a], "script_b": self.scripts[b], "shared_reps": shared,
                    "diff": diff, "diff_ci_low": diff - q * dse, "diff_ci_high": diff + q * dse,
                    "odds_ratio": math.exp(lor), "or_ci_low": math.exp(lor - q * se) if np.isfinite(se) else 0.0,
                    "or_ci_high": math.exp(lor + q * se) if np.isfinite(se) else np.inf,
                    "p_value": pval, "mh_odds_ratio": mh_or, "mh_p_value": mh_p,
                })
        pw = pd.DataFrame(rows)
        pw["p_adj"] = adjust_pvalues(pw["p_value"].to_numpy(float), st["padjust"])
        pw["significant"] = pw["p_adj"] < st["alpha"]
        self._pairwise = pw[list(PAIRWISE_COLUMNS)]
        return self._pairwise


def _mantel_haenszel(n, y):
    """Mantel-Haenszel odds ratio (column 0 vs 1) stratified by rep, and the CMH test p-value."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    both = (n > 0).all(1)
    if both.sum() < 1:
        return np.nan, np.nan
    t = np.zeros((2, 2, int(both.sum())))
    t[0, 0], t[0, 1] = y[both, 0], n[both, 0] - y[both, 0]
    t[1, 0], t[1, 1] = y[both, 1], n[both, 1] - y[both, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        st = StratifiedTable(t)
        try:
            odds = float(st.oddsratio_pooled)
        except (ZeroDivisionError, FloatingPointError):
            odds = np.nan
        try:
            p = float(st.test_null_odds(correction=False).pvalue)
        except (ZeroDivisionError, FloatingPointError, ValueError):
            p = np.nan
    return odds, p


# ----------------------------------------------------------------------------- the scorer
class ScriptRanker:
    """Rank script variants per group from the sufficient statistics of :func:`script_cells`.

    Parameters
    ----------
    alpha : float, default 0.05
        Level of the pairwise tests (after correction) and of every interval.
    padjust : {"holm", "bh"}, default "holm"
        Multiplicity correction over the pairs of a group.
    min_connected : int, default 100
        Connected calls a variant needs to be ranked.
    min_reps : int, default 3
        Distinct reps with connected calls a variant needs to be ranked.
    prob_threshold : float, default 0.95
        ``prob_best`` the top variant also needs for the verdict ``best``.
    n_draws : int, default 4000
        Posterior draws for ``prob_best``, ``expected_loss`` and the allocation.
    floor : float, default 0.10
        Smallest share of next month's calls any variant gets in the allocation.
    random_state : int, default 0
        Seed of the posterior draws.

    Attributes
    ----------
    ranking_ : DataFrame
        The ranking table (:data:`RANK_COLUMNS`).
    pairwise_ : DataFrame
        Pairwise comparisons (see :func:`pairwise_comparisons`).
    groups_ : dict
        The fitted group objects, keyed by ``(scenario,)`` or ``(scenario, customer_class)``.
    """

    def __init__(self, alpha=0.05, padjust="holm", min_connected=100, min_reps=3, prob_threshold=0.95,
                 n_draws=4000, floor=0.10, random_state=0):
        self.alpha = alpha
        self.padjust = padjust
        self.min_connected = min_connected
        self.min_reps = min_reps
        self.prob_threshold = prob_threshold
        self.n_draws = n_draws
        self.floor = floor
        self.random_state = random_state

    def _settings(self):
        floor = self.floor
        if isinstance(floor, bool) or not isinstance(floor, (int, float, np.floating)) or not 0 <= floor < 1:
            raise ParameterError(f"floor == {floor!r}, must be a number in [0, 1)")
        return {
            "alpha": _check_open01("alpha", self.alpha),
            "padjust": check_padjust(self.padjust),
            "min_connected": _check_int("min_connected", self.min_connected, 1),
            "min_reps": _check_int("min_reps", self.min_reps, 1),
            "prob_threshold": _check_open01("prob_threshold", self.prob_threshold),
            "n_draws": _check_int("n_draws", self.n_draws, 100),
            "floor": float(floor),
            "random_state": _check_int("random_state", self.random_state, 0),
        }

    def fit(self, cells: pd.DataFrame):
        """Fit every group of ``cells`` (from :func:`script_cells`); returns ``self``."""
        st = self._settings()
        need = {"scenario", "rep_id", "script_id", "calls", "connected", "sales"}
        missing = need - set(cells.columns)
        if missing:
            raise ParameterError(f"cells lack column(s) {sorted(missing)}; build them with script_cells()")
        self.by_ = "customer_class" if "customer_class" in cells.columns else None
        keys = ["scenario"] + ([self.by_] if self.by_ else [])
        self.keys_ = keys
        seeds = np.random.SeedSequence(st["random_state"])
        self.groups_ = {}
        frames, pairs = [], []
        grouped = list(cells.groupby(keys, sort=True, observed=True))
        for (key, g), seed in zip(grouped, seeds.spawn(len(grouped))):
            key = key if isinstance(key, tuple) else (key,)
            fit = _GroupFit(key, g, st, seed)
            self.groups_[key] = fit
            r = fit.ranking()
            pw = fit.pairwise()
            for k, v in zip(keys, key):
                r.insert(keys.index(k), k, v)
                if len(pw):
                    pw = pw.copy()
                    pw.insert(keys.index(k), k, v)
            frames.append(r)
            if len(pw):
                pairs.append(pw)
        cols = keys + list(RANK_COLUMNS[1:])
        ranking = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
        ranking = ranking[cols]
        ranking["_r"] = ranking["rank"].fillna(10 ** 9)
        ranking = ranking.sort_values(keys + ["_r", "script_id"], kind="stable").drop(columns="_r")
        self.ranking_ = _types(ranking.reset_index(drop=True), keys)
        pcols = keys + list(PAIRWISE_COLUMNS)
        pairwise = pd.concat(pairs, ignore_index=True)[pcols] if pairs else pd.DataFrame(columns=pcols)
        self.pairwise_ = _types(pairwise, keys)
        self.settings_ = st
        return self

    # ---- next month
    def allocation(self) -> pd.DataFrame:
        """Thompson-sampling shares per variant with a floor (see :func:`thompson_allocation`)."""
        floor = self.settings_["floor"]
        rows = []
        for key, fit in self.groups_.items():
            tot = fit.totals
            scripts = list(tot["script_id"])
            K = len(scripts)
            pb = np.full(K, np.nan)  # insufficient data: no posterior, the floor only
            d = fit.draws() if fit.J else None
            if d is not None:
                pos = pd.Index(scripts).get_indexer(fit.scripts)
                pb[pos] = np.bincount(d.argmax(1), minlength=fit.J) / len(d)
                weight = np.nan_to_num(pb)
            else:
                weight = np.full(K, 1.0 / K)  # nothing to go on yet: explore evenly
            if K * floor >= 1:
                share = np.full(K, 1.0 / K)
            else:
                share = floor + (1 - K * floor) * weight
            for s, p_, sh in zip(scripts, pb, share):
                rows.append(dict(zip(self.keys_, key)) | {"script_id": s, "prob_best": p_, "share": sh})
        out = pd.DataFrame(rows, columns=self.keys_ + ["script_id", "prob_best", "share"])
        return _types(out, self.keys_)

    def calls_needed(self, alpha=None, power=0.8) -> pd.DataFrame:
        """Further connected calls per arm to separate the top two (see :func:`calls_needed`)."""
        from statsmodels.stats.power import NormalIndPower
        from statsmodels.stats.proportion import proportion_effectsize

        alpha = self.settings_["alpha"] if alpha is None else _check_open01("alpha", alpha)
        power = _check_open01("power", power)
        rows = []
        for key, fit in self.groups_.items():
            if fit.J < 2:
                continue
            order = np.argsort(-fit.beta, kind="stable")
            a, b = order[0], order[1]
            ra, rb = float(fit.rate[a]), float(fit.rate[b])
            h = float(proportion_effectsize(ra, rb))
            if abs(h) < 1e-12:
                need = np.nan
            else:
                need = float(NormalIndPower().solve_power(effect_size=abs(h), alpha=alpha, power=power, ratio=1.0,
                                                          alternative="two-sided"))
            ca = int(fit.n[:, a].sum())
            cb = int(fit.n[:, b].sum())
            n_arm = math.ceil(need) if np.isfinite(need) else np.nan
            rows.append(dict(zip(self.keys_, key)) | {
                "script_a": fit.scripts[a], "script_b": fit.scripts[b], "rate_a": ra, "rate_b": rb,
                "effect_size": h, "alpha": alpha, "power": power, "n_per_arm": n_arm,
                "connected_a": ca, "connected_b": cb,
                "further_a": max(0, n_arm - ca) if np.isfinite(need) else np.nan,
                "further_b": max(0, n_arm - cb) if np.isfinite(need) else np.nan,
            })
        cols = self.keys_ + ["script_a", "script_b", "rate_a", "rate_b", "effect_size", "alpha", "power",
                             "n_per_arm", "connected_a", "connected_b", "further_a", "further_b"]
        out = pd.DataFrame(rows, columns=cols)
        for c in ("n_per_arm", "further_a", "further_b"):
            out[c] = pd.array(out[c], dtype="Float64").round().astype("Int64")
        return _types(out, self.keys_)


def _types(frame, keys):
    for k in keys + [c for c in ("script_id", "script_a", "script_b", "verdict", "rep_id") if c in frame]:
        frame[k] = frame[k].astype("string")
    if "rank" in frame:
        frame["rank"] = frame["rank"].astype("Int64")
    for c in ("calls", "connected", "sales"):
        if c in frame:
            frame[c] = frame[c].astype("int64")
    return frame


# ----------------------------------------------------------------------------- public functions
def _ranker(alpha=0.05, padjust="holm", min_connected=100, min_reps=3, prob_threshold=0.95, n_draws=4000,
            floor=0.10, random_state=0):
    return ScriptRanker(alpha=alpha, padjust=padjust, min_connected=min_connected, min_reps=min_reps,
                        prob_threshold=prob_threshold, n_draws=n_draws, floor=floor, random_state=random_state)


def analyse_scripts(data, month: str, by: str | None = None, window_months: int = 1, **options) -> ScriptRanker:
    """Build the sufficient statistics and fit a :class:`ScriptRanker` once (for notebooks).

    ``options`` are the :class:`ScriptRanker` parameters. The returned object has
    ``ranking_``, ``pairwise_``, ``allocation()`` and ``calls_needed()``.
    """
    ranker = _ranker(**options)
    ranker._settings()  # refuse bad options before touching the data
    return ranker.fit(script_cells(data, month, by=by, window_months=window_months))


def rank_cells(cells: pd.DataFrame, **options) -> pd.DataFrame:
    """The ranking table from precomputed sufficient statistics (see :func:`script_cells`)."""
    return _ranker(**options).fit(cells).ranking_


def rank_scripts(data, month: str, by: str | None = None, window_months: int = 1, *, padjust: str = "holm",
                 alpha: float = 0.05, min_connected: int = 100, min_reps: int = 3, prob_threshold: float = 0.95,
                 n_draws: int = 4000, random_state: int = 0) -> pd.DataFrame:
    """Rank the script variants of every scenario (and customer class), adjusted for the reps.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.io.load_dataset`.
    month : str
        ``YYYY-MM``: the last month of the window.
    by : {None, "customer_class"}
        Rank within scenario x customer class as well.
    window_months : int, default 1
        Months of calls, ending with ``month``.
    padjust : {"holm", "bh"}
        Multiplicity correction of the pairwise tests within a group.
    alpha, min_connected, min_reps, prob_threshold, n_draws, random_state
        See :class:`ScriptRanker`.

    Returns
    -------
    DataFrame
        One row per scenario, [customer class] and script with a call in the window,
        sorted by scenario, [class] and rank:

        - ``scenario``, [``customer_class``], ``script_id``
        - ``calls``, ``connected``, ``sales``: dials, connected calls, sales
        - ``sale_rate``: sales / connected; ``ci_low``, ``ci_high``: Wilson interval
        - ``adj_effect``: rep-adjusted standardised sale rate (rate if every rep of the group
          had used this variant); ``adj_ci_low``, ``adj_ci_high``: its interval
        - ``prob_best``: posterior probability of the highest adjusted rate
        - ``expected_loss``: expected sale-rate points lost by choosing it
        - ``rank``: 1 = best adjusted estimate (empty for insufficient data)
        - ``verdict``: ``best``, ``inconclusive`` or ``insufficient_data``

    Raises
    ------
    ParameterError
        Malformed month or month without calls, bad ``by``, ``window_months``, ``padjust``
        or thresholds.
    """
    return analyse_scripts(data, month, by=by, window_months=window_months, padjust=padjust, alpha=alpha,
                           min_connected=min_connected, min_reps=min_reps, prob_threshold=prob_threshold,
                           n_draws=n_draws, random_state=random_state).ranking_


def raw_vs_adjusted(ranking: pd.DataFrame) -> pd.DataFrame:
    """Raw and adjusted estimates side by side, with the rank each gives.

    Parameters
    ----------
    ranking : DataFrame
        From :func:`rank_scripts`.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] script_id, connected, sale_rate, raw_rank, adj_effect,
        rank, rank_change``: ``raw_rank`` orders the ranked variants by their raw rate,
        ``rank_change = raw_rank - rank`` (positive: the rep adjustment moves it up).
        Variants with insufficient data are left out.
    """
    keys = ["scenario"] + (["customer_class"] if "customer_class" in ranking else [])
    out = ranking[ranking["rank"].notna()].copy()
    out["raw_rank"] = out.groupby(keys)["sale_rate"].rank(ascending=False, method="min").astype("Int64")
    out["rank_change"] = (out["raw_rank"] - out["rank"]).astype("Int64")
    cols = keys + ["script_id", "connected", "sale_rate", "raw_rank", "adj_effect", "rank", "rank_change"]
    return out[cols].reset_index(drop=True)


def pairwise_comparisons(data, month: str, by: str | None = None, window_months: int = 1, *,
                         padjust: str = "holm", alpha: float = 0.05, min_connected: int = 100,
                         min_reps: int = 3) -> pd.DataFrame:
    """Every pair of ranked variants within a scenario (x class), on the rep-adjusted model.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] script_a, script_b, shared_reps, diff, diff_ci_low,
        diff_ci_high, odds_ratio, or_ci_low, or_ci_high, p_value, p_adj, significant,
        mh_odds_ratio, mh_p_value``. ``script_a`` is ranked above ``script_b``; ``diff`` is
        the difference of adjusted rates (A - B) with its interval; ``odds_ratio`` the
        rep-adjusted (conditional) odds ratio A/B with its interval (intervals not
        multiplicity-adjusted); ``p_value`` its Wald t test, ``p_adj`` corrected over the
        group's pairs (Holm or BH), ``significant`` = ``p_adj < alpha``; ``shared_reps`` reps
        who used both; ``mh_*`` the Mantel-Haenszel odds ratio stratified by rep and the
        Cochran-Mantel-Haenszel test, as a cross-check.
    """
    return analyse_scripts(data, month, by=by, window_months=window_months, padjust=padjust, alpha=alpha,
                           min_connected=min_connected, min_reps=min_reps).pairwise_


def thompson_allocation(data, month: str, by: str | None = None, window_months: int = 1, *,
                        floor: float = 0.10, random_state: int = 0, **options) -> pd.DataFrame:
    """Next month's share of calls per variant: Thompson sampling with a floor.

    ``share = floor + (1 - K * floor) * prob_best`` for the K variants with a call in the
    window (``prob_best`` = share of posterior draws in which the variant is best; 0 for
    variants with insufficient data, which thus get exactly the floor and keep being tried).
    If ``K * floor >= 1`` every variant gets ``1/K``.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] script_id, prob_best, share``; shares sum to 1 per group.
    """
    return analyse_scripts(data, month, by=by, window_months=window_months, floor=floor,
                           random_state=random_state, **options).allocation()


def calls_needed(data, month: str, by: str | None = None, window_months: int = 1, *, alpha: float = 0.05,
                 power: float = 0.8, **options) -> pd.DataFrame:
    """Further connected calls needed to separate the top two variants of each group.

    The standard two-proportion sample size (Cohen's h via ``proportion_effectsize``,
    ``NormalIndPower``, two-sided) for the top two *adjusted* rates taken as true, for one
    comparison at level ``alpha`` (a Holm-corrected family may need more). It assumes a
    clean, rep-blocked split (see :func:`assignment_plan`) and is a planning figure.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] script_a, script_b, rate_a, rate_b, effect_size, alpha,
        power, n_per_arm, connected_a, connected_b, further_a, further_b``: connected calls
        needed per arm in total, those made already, and the further ones per arm
        (0 when already enough; empty when the two rates are equal).
    """
    ranker = analyse_scripts(data, month, by=by, window_months=window_months, alpha=alpha, **options)
    return ranker.calls_needed(power=power)


def assignment_plan(data, month: str, window_months: int = 1, *, floor: float = 0.10, calls_per_rep=None,
                    random_state: int = 0, **options) -> pd.DataFrame:
    """A rep-blocked assignment plan for next month: every active rep uses every variant.

    Each rep active in a scenario in ``month`` gets every variant of the scenario in the
    shares of :func:`thompson_allocation` (by scenario), so the next comparison is within
    every rep and no longer confounded by who chose what. Planned calls are the rep's dials
    in the scenario in ``month`` (or ``calls_per_rep``) split by largest remainders.

    Returns
    -------
    DataFrame
        ``scenario, rep_id, script_id, share, planned_calls``.
    """
    ranker = analyse_scripts(data, month, by=None, window_months=window_months, floor=floor,
                             random_state=random_state, **options)
    cells = script_cells(data, month, window_months=1)
    return _plan(ranker.allocation(), cells, calls_per_rep)


def _plan(alloc, cells, calls_per_rep=None):
    if calls_per_rep is not None:
        calls_per_rep = _check_int("calls_per_rep", calls_per_rep, 1)
    reps = cells.groupby(["scenario", "rep_id"], observed=True)["calls_month"].sum().reset_index()
    reps = reps[reps["calls_month"] > 0]
    plan = reps.merge(alloc[["scenario", "script_id", "share"]], on="scenario", how="inner")
    total = plan["calls_month"] if calls_per_rep is None else calls_per_rep
    raw = plan["share"].to_numpy(float) * np.asarray(total, dtype=float)
    base = np.floor(raw + 1e-9)
    plan["_frac"] = raw - base
    plan["_base"] = base
    plan["_short"] = plan.groupby(["scenario", "rep_id"])["_base"].transform("sum")
    plan["_short"] = np.asarray(total, dtype=float) - plan["_short"]
    plan["_order"] = plan.sort_values(["_frac", "share", "script_id"], ascending=[False, False, True]) \
        .groupby(["scenario", "rep_id"]).cumcount()
    plan["planned_calls"] = (plan["_base"] + (plan["_order"] < plan["_short"])).astype("int64")
    out = plan[["scenario", "rep_id", "script_id", "share", "planned_calls"]]
    out = out.sort_values(["scenario", "rep_id", "script_id"]).reset_index(drop=True)
    return _types(out, ["scenario"])


def revenue_per_call(data, month: str, by: str | None = None, window_months: int = 1, *,
                     alpha: float = 0.05, min_connected: int = 100, min_reps: int = 3) -> pd.DataFrame:
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
        ci_low, ci_high, adj_revenue_per_connected, adj_ci_low, adj_ci_high, rank``.
    """
    alpha = _check_open01("alpha", alpha)
    min_connected = _check_int("min_connected", min_connected, 1)
    min_reps = _check_int("min_reps", min_reps, 1)
    cells = script_cells(data, month, by=by, window_months=window_months)
    return _revenue_from_cells(cells, alpha, min_connected, min_reps)


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


# ----------------------------------------------------------------------------- sample ratio mismatch
def _read_split(intended_split, scenarios_scripts: pd.DataFrame) -> pd.DataFrame:
    """Intended shares as a frame ``scenario, script_id, intended_share``."""
    if isinstance(intended_split, (str, Path)) and str(intended_split) == "equal":
        out = scenarios_scripts.copy()
        out["intended_share"] = 1.0 / out.groupby("scenario")["script_id"].transform("size")
        return out
    if isinstance(intended_split, (str, Path)):
        path = Path(intended_split)
        if not path.is_file():
            raise ParameterError(f"intended_split file {path} does not exist")
        if path.suffix == ".json":
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ParameterError(f"{path}: not valid JSON ({exc})") from None
            intended_split = obj.get("intended_split", obj)
        else:
            frame = pd.read_csv(path, dtype={"scenario": "string", "script_id": "string"})
            need = {"scenario", "script_id", "share"}
            if not need <= set(frame.columns):
                raise ParameterError(f"{path}: needs columns scenario, script_id, share "
                                     f"(has {', '.join(map(str, frame.columns))})")
            intended_split = {sc: dict(zip(g["script_id"], g["share"])) for sc, g in frame.groupby("scenario")}
    if not isinstance(intended_split, dict):
        raise ParameterError("intended_split must be 'equal', a dict {scenario: {script_id: share}}, "
                             "or a .csv (scenario, script_id, share) / .json file")
    rows = []
    for sc, shares in intended_split.items():
        if not isinstance(shares, dict):
            raise ParameterError(f"intended_split[{sc!r}] == {shares!r}, must be a dict {{script_id: share}}")
        for sid, sh in shares.items():
            try:
                sh = float(sh)
            except (TypeError, ValueError):
                raise ParameterError(f"intended_split[{sc!r}][{sid!r}] == {sh!r}, must be a number") from None
            if not sh >= 0:
                raise ParameterError(f"intended_split[{sc!r}][{sid!r}] == {sh!r}, must be >= 0")
            rows.append((str(sc), str(sid), sh))
    out = pd.DataFrame(rows, columns=["scenario", "script_id", "intended_share"])
    tot = out.groupby("scenario")["intended_share"].transform("sum")
    if (tot <= 0).any():
        raise ParameterError("intended_split: every scenario needs a positive total share")
    out["intended_share"] = out["intended_share"] / tot
    return out


def srm_check(data, month: str, intended_split="equal", window_months: int = 1, *,
              threshold: float = 0.001) -> pd.DataFrame:
    """Sample-ratio-mismatch check: are the dials split across variants as intended?

    A chi-square goodness-of-fit test (``scipy.stats.chisquare``) of each scenario's dials
    per variant against the intended shares. A tiny p-value (below ``threshold``, the usual
    0.001) means assignment did not follow the plan (reps choosing, a broken dialer rule),
    so raw comparisons are suspect.

    Parameters
    ----------
    intended_split : "equal", dict, or path
        ``"equal"`` (every variant of a scenario equally), ``{scenario: {script_id: share}}``
        (shares are normalised; only the listed scenarios are checked), a CSV with columns
        ``scenario, script_id, share``, or a JSON file with that dict (optionally under a key
        ``intended_split``).

    Returns
    -------
    DataFrame
        ``scenario, script_id, calls, observed_share, intended_share, expected_calls, chi2,
        p_value, srm``: ``chi2``/``p_value`` are the scenario's test (repeated on its rows),
        ``srm`` is ``p_value < threshold``.
    """
    window_months = _check_window(window_months)
    threshold = _check_open01("threshold", threshold)
    calls = _window_calls(data, parse_month(month), window_months)
    dials = calls.groupby(["scenario", "script_id"], observed=True).size().rename("calls").reset_index()
    split = _read_split(intended_split, dials[["scenario", "script_id"]])
    out = split.merge(dials, on=["scenario", "script_id"], how="left")
    out["calls"] = out["calls"].fillna(0).astype("int64")
    extra = dials.merge(split, on=["scenario", "script_id"], how="left")
    extra = extra[extra["intended_share"].isna() & extra["scenario"].isin(split["scenario"])]
    if len(extra):
        extra = extra.assign(intended_share=0.0)
        out = pd.concat([out, extra[out.columns]], ignore_index=True)
    rows = []
    for sc, g in out.groupby("scenario", sort=True):
        g = g.sort_values("script_id").copy()
        total = g["calls"].sum()
        g["observed_share"] = g["calls"] / total if total else np.nan
        g["expected_calls"] = g["intended_share"] * total
        if total and (g["expected_calls"] > 0).all() and len(g) > 1:
            chi2, p = stats.chisquare(g["calls"].to_numpy(float), g["expected_calls"].to_numpy(float))
        elif total and ((g["expected_calls"] == 0) & (g["calls"] > 0)).any():
            chi2, p = np.inf, 0.0  # calls on a variant meant to get none
        else:
            chi2, p = np.nan, np.nan
        g["chi2"], g["p_value"] = float(chi2), float(p)
        rows.append(g)
    cols = ["scenario", "script_id", "calls", "observed_share", "intended_share", "expected_calls", "chi2",
            "p_value", "srm"]
    if not rows:
        return pd.DataFrame(columns=cols)
    res = pd.concat(rows, ignore_index=True)
    res["srm"] = res["p_value"] < threshold
    return _types(res[cols], ["scenario"])


# ----------------------------------------------------------------------------- phrases
_AGENT_TURN = re.compile(r"(?:坐席|销售|客服|业务员|agent|rep|sales)\s*[:：]\s*(.*?)(?=(?:\S{1,6}\s*[:：])|$)",
                         re.IGNORECASE | re.DOTALL)
_LABEL = re.compile(r"\S{1,6}\s*[:：]")


def _agent_text(texts: pd.Series) -> pd.Series:
    """The rep's turns of labelled transcripts (``坐席：... 客户：...``); unlabelled text as is."""
    t = texts.astype("string").fillna("")
    turns = t.str.findall(_AGENT_TURN)
    joined = turns.map(lambda x: "\n".join(p.strip() for p in x) if isinstance(x, list) else "")
    labelled = t.str.contains(_LABEL, regex=True).fillna(False).to_numpy(bool)
    return pd.Series(np.where(labelled & (joined.str.len() > 0).to_numpy(bool), joined, t), index=texts.index)


def phrase_analysis(data, month: str, source: str = "transcript", window_months: int = 1, *,
                    ngram_range=(2, 4), min_calls: int = 30, top: int = 15, agent_only: bool = True,
                    max_calls: int = 50_000, random_state: int = 0) -> pd.DataFrame:
    """Which phrases go with a sale: character n-grams, adjusted for the rep, per scenario.

    Documents are the connected calls: for ``source="transcript"`` the call's transcript
    (only the rep's turns when the transcript labels speakers, ``agent_only``), for
    ``source="script"`` the text of the script used. Character n-grams
    (``CountVectorizer(analyzer="char", ngram_range)``) need no tokenizer, so Chinese works.
    Each phrase's association with a sale is a Mantel-Haenszel odds ratio of calls with vs
    without the phrase, stratified by rep (Robins-Breslow-Greenland variance, ``z`` its
    Wald statistic), so reps who both say a phrase and sell well do not make it look good.
    For scripts the phrases go with whole variants: read them with the ranking.

    Parameters
    ----------
    min_calls : int, default 30
        Connected calls needed with and without a phrase.
    top : int, default 15
        Phrases kept per scenario and direction (most positive ``z`` and most negative).
    max_calls : int, default 50000
        Calls with text sampled per scenario (fixed ``random_state``) to bound the time.

    Returns
    -------
    DataFrame
        ``scenario, source, phrase, calls_with, sales_with, sale_rate_with,
        sale_rate_without, log_odds_ratio, z``, sorted by scenario and ``z`` (descending).
        Empty when the data have no text.
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    if source not in ("transcript", "script"):
        raise ParameterError(f"source == {source!r}, must be transcript|script")
    window_months = _check_window(window_months)
    min_calls = _check_int("min_calls", min_calls, 1)
    top = _check_int("top", top, 1)
    max_calls = _check_int("max_calls", max_calls, 100)
    lo_n, hi_n = ngram_range
    if not (isinstance(lo_n, int) and isinstance(hi_n, int) and 1 <= lo_n <= hi_n):
        raise ParameterError(f"ngram_range == {ngram_range!r}, must be (low, high) with 1 <= low <= high")
    cols = ["scenario", "source", "phrase", "calls_with", "sales_with", "sale_rate_with", "sale_rate_without",
            "log_odds_ratio", "z"]
    p = parse_month(month)
    calls = _window_calls(data, p, window_months, columns=("transcript",) if source == "transcript" else ())
    calls = calls[calls["connected"].to_numpy(bool)]
    if source == "script":
        text_map = data.scripts.set_index("script_id")["text"]
        calls = calls.assign(text=calls["script_id"].map(text_map).astype("string"))
    else:
        calls = calls.assign(text=calls["transcript"].astype("string"))
    calls = calls[calls["text"].notna().to_numpy(bool) & (calls["text"].str.len() > 0).fillna(False).to_numpy(bool)]
    out = []
    rng = np.random.default_rng(random_state)
    for sc, g in calls.groupby("scenario", sort=True, observed=True):
        if len(g) > max_calls:
            g = g.iloc[np.sort(rng.choice(len(g), max_calls, replace=False))]
        texts = g["text"]
        if source == "transcript" and agent_only:
            texts = _agent_text(texts)
        docs = texts.fillna("").to_numpy(object)
        codes, uniq = pd.factorize(docs)  # vectorise each distinct text once (a script's, a template's)
        vec = CountVectorizer(analyzer="char", ngram_range=(lo_n, hi_n), binary=True, lowercase=False)
        try:
            Xu = vec.fit_transform(np.asarray(uniq, dtype=object))
        except ValueError:  # no text at all
            continue
        names = vec.get_feature_names_out()
        ok = np.array([_is_phrase(x) for x in names], bool)  # over the vocabulary, not calls
        Xu, names = Xu[:, np.flatnonzero(ok)], names[ok]
        expand = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), len(uniq)))
        X = (expand @ Xu).tocsc().astype(float)
        res, cols_kept = _phrase_mh(X, g["rep_id"].to_numpy(str), g["sale"].to_numpy(bool), names, min_calls)
        if res is None or not len(res):
            continue
        res = _merge_phrases(res, X[:, cols_kept], docs, rng)
        res = res.sort_values(["z", "phrase"], ascending=[False, True], kind="stable")
        pos = res[res["z"] > 0].head(top)
        neg = res[res["z"] < 0].tail(top)
        res = pd.concat([pos, neg])
        res.insert(0, "source", source)
        res.insert(0, "scenario", sc)
        out.append(res)
    if not out:
        return pd.DataFrame(columns=cols)
    res = pd.concat(out, ignore_index=True)[cols]
    for c in ("scenario", "source", "phrase"):
        res[c] = res[c].astype("string")
    return res.reset_index(drop=True)


def _phrase_mh(X, rep, sale, names, min_calls):
    """Mantel-Haenszel log odds ratio per phrase (column of X), stratified by rep; RBG variance."""
    import scipy.sparse as sp

    n_calls = X.shape[0]
    with_n = np.asarray(X.sum(0)).ravel()
    keep = (with_n >= min_calls) & (n_calls - with_n >= min_calls)
    if not keep.any():
        return None, None
    X = X[:, np.flatnonzero(keep)]
    names = np.asarray(names)[keep]
    reps, ri = np.unique(rep, return_inverse=True)
    Rm = sp.csr_matrix((np.ones(n_calls), (ri, np.arange(n_calls))), shape=(len(reps), n_calls))
    Rs = sp.csr_matrix((sale.astype(float), (ri, np.arange(n_calls))), shape=(len(reps), n_calls))
    n1 = np.asarray((Rm @ X).todense())  # calls with the phrase, per rep
    a = np.asarray((Rs @ X).todense())  # sales with the phrase
    n_r = np.bincount(ri, minlength=len(reps)).astype(float)[:, None]
    y_r = np.bincount(ri, weights=sale.astype(float), minlength=len(reps))[:, None]
    b = n1 - a  # with, no sale
    c = y_r - a  # without, sale
    d = (n_r - n1) - c  # without, no sale
    T = n_r
    with np.errstate(invalid="ignore", divide="ignore"):
        P, Q = (a + d) / T, (b + c) / T
        Rr, Sr = a * d / T, b * c / T
        R, S = Rr.sum(0), Sr.sum(0)
        lor = np.log(R / S)
        var = ((P * Rr).sum(0) / (2 * R ** 2) + ((P * Sr + Q * Rr).sum(0)) / (2 * R * S)
               + (Q * Sr).sum(0) / (2 * S ** 2))
        z = lor / np.sqrt(var)
        rate_with = a.sum(0) / n1.sum(0)
        rate_without = c.sum(0) / (n_r.sum() - n1.sum(0))
    res = pd.DataFrame({"phrase": names, "calls_with": n1.sum(0).astype(np.int64),
                        "sales_with": a.sum(0).astype(np.int64), "sale_rate_with": rate_with,
                        "sale_rate_without": rate_without, "log_odds_ratio": lor, "z": z})
    finite = np.isfinite(res["z"]).to_numpy()
    return res[finite].reset_index(drop=True), np.flatnonzero(keep)[finite]


_WORD = re.compile(r"\w", re.UNICODE)


def _is_phrase(gram: str) -> bool:
    """An n-gram worth showing: no line break, not only punctuation, not starting or ending in a space."""
    return "\n" not in gram and gram == gram.strip() and len(_WORD.findall(gram)) >= min(2, len(gram))


def _merge_phrases(res, X, docs, rng):
    """One row per distinct set of calls: overlapping n-grams found in exactly the same calls
    are joined into the longest phrase they cover in a call's text (e.g. a whole script line).
    """
    proj = X.T @ rng.standard_normal((X.shape[0], 2))  # equal columns <=> equal signatures
    sig = pd.Series(list(map(tuple, np.round(proj, 9))))
    res = res.assign(_g=pd.factorize(sig)[0], _len=res["phrase"].str.len().to_numpy())
    rows = []
    for g_id, grp in res.groupby("_g", sort=False):  # distinct phrase sets, not calls
        grams = grp["phrase"].tolist()
        longest = max(grams, key=lambda x: (len(x), x))
        col = int(grp.index[grp["phrase"] == longest][0])
        doc = str(docs[X[:, col].indices[0]]) if X[:, col].nnz else longest
        covered = np.zeros(len(doc) + 1, bool)
        for gram in grams:
            start = doc.find(gram)
            while start >= 0:
                covered[start:start + len(gram)] = True
                start = doc.find(gram, start + 1)
        at = doc.find(longest)
        if at < 0:
            phrase = longest
        else:
            lo = at
            while lo > 0 and covered[lo - 1] and doc[lo - 1] != "\n":
                lo -= 1
            hi = at + len(longest)
            while hi < len(doc) and covered[hi] and doc[hi] != "\n":
                hi += 1
            phrase = doc[lo:hi].strip() or longest
        row = grp.iloc[0].copy()
        row["phrase"] = phrase
        rows.append(row)
    out = pd.DataFrame(rows).drop(columns=["_g", "_len"])
    out = out[out["phrase"].str.strip().str.len() > 0]
    return out.drop_duplicates("phrase").reset_index(drop=True)


# ----------------------------------------------------------------------------- plots
register({
    "plot.intervals": ("Sale rate per variant: raw and adjusted for the reps", "各话术成交率：原始与坐席调整后"),
    "plot.raw": ("raw (Wilson interval)", "原始（Wilson区间）"),
    "plot.adjusted": ("adjusted for reps", "坐席调整后"),
    "plot.allocation": ("Next month's share of calls (Thompson sampling, with floor)",
                        "下月话术分配比例（汤普森抽样，含下限）"),
    "plot.phrases": ("Phrases that go with a sale (rep-adjusted z)", "与成交相关的短语（坐席调整z值）"),
})

_VERDICT_COLOURS = {"best": "#1a7f37", "inconclusive": "#0969da", "insufficient_data": "#8c959f"}


def _row_labels(frame, lang):
    keys = ["scenario"] + (["customer_class"] if "customer_class" in frame else [])
    parts = [frame[k].astype(str).map(lambda v: t(v, lang, CONTEXT)) for k in keys] + [frame["script_id"].astype(str)]
    out = parts[0]
    for p in parts[1:]:
        out = out + " · " + p
    return out.tolist()


def plot_intervals(ranking: pd.DataFrame, lang: str = "en"):
    """Forest plot: raw rate (Wilson interval) and adjusted rate (interval) for every variant.

    Parameters
    ----------
    ranking : DataFrame
        From :func:`rank_scripts`.
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
        Adjusted estimates are coloured by verdict; raw ones are grey, just above.
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    missing = [c for c in RANK_COLUMNS if c not in ranking]
    if missing:
        raise ParameterError(f"ranking frame lacks column(s) {', '.join(missing)}; pass rank_scripts()'s table")
    labels = _row_labels(ranking, lang)
    y = np.arange(len(ranking))[::-1].astype(float)
    fig = Figure(figsize=(9, 0.42 * len(ranking) + 1.6), layout="constrained")
    ax = fig.subplots()
    raw = ranking["sale_rate"].to_numpy(float)
    ax.errorbar(raw, y + 0.18, xerr=[raw - ranking["ci_low"], ranking["ci_high"] - raw], fmt="o", ms=4,
                color="#8c959f", capsize=2, label=t("plot.raw", lang))
    adj = ranking["adj_effect"].to_numpy(float)
    ok = np.isfinite(adj)
    for verdict, colour in _VERDICT_COLOURS.items():
        sel = ok & (ranking["verdict"] == verdict).to_numpy()
        if sel.any():
            ax.errorbar(adj[sel], y[sel] - 0.18,
                        xerr=[adj[sel] - ranking["adj_ci_low"].to_numpy(float)[sel],
                              ranking["adj_ci_high"].to_numpy(float)[sel] - adj[sel]],
                        fmt="s", ms=5, color=colour, capsize=2,
                        label=f"{t('plot.adjusted', lang)}: {t(verdict, lang, CONTEXT)}")
    ax.set_yticks(y, labels)
    ax.set_xlabel(t("sale_rate", lang, CONTEXT))
    ax.set_title(t("plot.intervals", lang))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_allocation(allocation: pd.DataFrame, lang: str = "en"):
    """Stacked bars: next month's share of calls per variant in each scenario (x class).

    Parameters
    ----------
    allocation : DataFrame
        From :func:`thompson_allocation`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    if not {"scenario", "script_id", "share"} <= set(allocation.columns):
        raise ParameterError("allocation frame needs columns scenario, script_id, share; pass "
                             "thompson_allocation()'s table")
    keys = ["scenario"] + (["customer_class"] if "customer_class" in allocation else [])
    groups = list(allocation.groupby(keys, sort=True))
    fig = Figure(figsize=(9, 0.55 * len(groups) + 1.6), layout="constrained")
    ax = fig.subplots()
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for i, (key, g) in enumerate(groups):
        left = 0.0
        for k, row in enumerate(g.sort_values("share", ascending=False).itertuples()):  # a few variants
            ax.barh(len(groups) - 1 - i, row.share, left=left, color=cmap(k % 10), edgecolor="white")
            if row.share >= 0.06:
                ax.text(left + row.share / 2, len(groups) - 1 - i, f"{row.script_id}\n{row.share:.0%}",
                        ha="center", va="center", fontsize="x-small", color="white")
            left += row.share
    names = [" · ".join(t(str(v), lang, CONTEXT) for v in (key if isinstance(key, tuple) else (key,))) for key, _ in groups]
    ax.set_yticks(np.arange(len(groups))[::-1], names)
    ax.set_xlim(0, 1)
    ax.set_xlabel(t("share", lang, CONTEXT))
    ax.set_title(t("plot.allocation", lang))
    return fig


def plot_phrases(phrases: pd.DataFrame, lang: str = "en", top: int = 5):
    """Horizontal bars of the rep-adjusted z of the strongest phrases per scenario.

    Parameters
    ----------
    phrases : DataFrame
        From :func:`phrase_analysis`.
    top : int
        Phrases per scenario and direction.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    if not {"scenario", "phrase", "z"} <= set(phrases.columns):
        raise ParameterError("phrases frame needs columns scenario, phrase, z; pass phrase_analysis()'s table")
    parts = []
    for _, g in phrases.groupby("scenario", sort=True):
        g = g.sort_values("z", ascending=False)
        parts.append(pd.concat([g[g["z"] > 0].head(top), g[g["z"] < 0].tail(top)]))
    sel = pd.concat(parts) if parts else phrases.head(0)
    fig = Figure(figsize=(9, 0.32 * max(len(sel), 1) + 1.6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(sel))[::-1]
    short = sel["phrase"].astype(str).map(lambda p: p if len(p) <= 24 else p[:23] + "…")
    ax.barh(y, sel["z"], color=np.where(sel["z"] > 0, "#1a7f37", "#cf222e"))
    ax.set_yticks(y, [f"{t(s, lang, CONTEXT)} · {p}" for s, p in zip(sel["scenario"], short)], fontsize="small")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("z")
    ax.set_title(t("plot.phrases", lang))
    return fig
