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
   from the closed-form generating function of that sum at the roots of unity (an exact
   discrete Fourier inversion at the rep's total, vectorised over reps). Unlike the
   unconditional logit with a dummy per rep it has no incidental-parameter bias when each
   rep makes only a few dozen calls per scenario (the demo's case: the unconditional fit
   overstates log-odds ratios by ~5% there, and its Wald tests are too liberal). It equals
   :class:`statsmodels ConditionalLogit <statsmodels.discrete.conditional_models.ConditionalLogit>`
   on the call-level rows.
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

import math
import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit
from telesales_lab.data.policy import resolve_policy
from telesales_lab.exceptions import ParameterError
from telesales_lab.analysis.inference import adjust_pvalues, check_padjust, wilson_interval
from telesales_lab.analysis.ranking.cells import PAIRWISE_COLUMNS, RANK_COLUMNS, _check_int, _check_open01, script_cells
from telesales_lab.analysis.ranking.clogit import _RIDGE_SD, _fit_conditional, _floored_cov, _profile_alpha


#: Values of the (draws x reps x scripts) rate array computed at a time in :meth:`_GroupFit.draws`.
_DRAW_BLOCK = 200_000


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
        mat = None  # the matrices of the scripts last checked
        while True:
            if len(scripts) >= 2:
                mat = _matrix(cells_g, scripts, ("connected", "sales"))
                ok = _identified(mat[1]["connected"], mat[1]["sales"], scripts)
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
        self.rep_ids, m = mat if len(scripts) >= 2 else _matrix(cells_g, scripts, ("connected", "sales"))
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
        # blocks of draws small enough to stay in the processor's cache, computed in one buffer;
        # expit(a + b) = 1 / (1 + exp(-a) exp(-b)): one exponential per draw and rep (and per
        # draw and variant), not per draw, rep and variant (reps at 0 % or 100 % have
        # exp(-a) = inf or 0, so exactly 0 or 1)
        step = max(1, int(_DRAW_BLOCK // max(len(self.w) * J, 1)))
        buf = np.empty((min(step, S), J, len(self.w)))  # (draws, variants, reps): reps innermost
        neg_alpha = -self.alpha_r[None, :]
        for s0 in range(0, S, step):
            sl = slice(s0, min(S, s0 + step))
            # -a for every draw and rep (reps at 0 % or 100 % have A = 0 and sd = 0: their -a is -+inf)
            na = neg_alpha - db[sl] @ self.A.T
            na -= e[sl] * sd
            p = buf[: sl.stop - sl.start]
            with np.errstate(over="ignore"):
                np.exp(na, out=na)
                np.multiply(na[:, None, :], np.exp(-(self.beta + db[sl]))[:, :, None], out=p)
            p += 1.0
            np.reciprocal(p, out=p)
            out[sl] = (p @ self.w) / W
        self._draws = out
        return out

    # -- outputs
    def ranking(self):
        tot = self.totals
        st = self.settings
        alpha = st["alpha"]
        low, high = wilson_interval(tot["sales"], tot["connected"], 1 - alpha)
        conn, sales = tot["connected"].to_numpy(), tot["sales"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(conn > 0, sales / np.where(conn > 0, conn, 1), np.nan)
        K = len(tot)
        adj, adj_lo, adj_hi, pb, loss = (np.full(K, np.nan) for _ in range(5))
        rank = np.zeros(K, np.int64)
        ranked = np.zeros(K, bool)
        verdict = np.full(K, "insufficient_data", dtype=object)
        if self.J:
            pos = pd.Index(tot["script_id"]).get_indexer(self.scripts)
            se = np.sqrt(np.maximum(np.diag(self.rate_cov), 0))
            q = stats.t.isf(alpha / 2, self.df) if np.isfinite(self.df) else stats.norm.isf(alpha / 2)
            r = self.rate
            with np.errstate(invalid="ignore", divide="ignore"):
                inside = (r > 0) & (r < 1)
                lse = se / (r * (1 - r))
                lo = np.where(inside, expit(logit(np.clip(r, 1e-300, 1 - 1e-16)) - q * lse),
                              np.clip(r - q * se, 0, 1))
                hi = np.where(inside, expit(logit(np.clip(r, 1e-300, 1 - 1e-16)) + q * lse),
                              np.clip(r + q * se, 0, 1))
            adj[pos], adj_lo[pos], adj_hi[pos] = r, lo, hi
            d = self.draws()
            if d is not None:
                pb[pos] = np.bincount(d.argmax(1), minlength=self.J) / len(d)
                loss[pos] = (d.max(1, keepdims=True) - d).mean(0)
            rk = pd.Series(np.round(-self.beta, 9)).rank(method="min").astype("int64").to_numpy()
            rank[pos], ranked[pos] = rk, True
            verdict[pos] = "inconclusive"
            if self.J >= 2 and d is not None:
                pw = self.pairwise()
                top = np.flatnonzero(rk == 1)
                if len(top) == 1:
                    t = self.scripts[top[0]]
                    mine = pw[(pw["script_a"] == t) | (pw["script_b"] == t)]
                    wins = ((mine["script_a"] == t) & (mine["diff"] > 0)).to_numpy()
                    if (len(mine) == self.J - 1 and mine["significant"].all() and wins.all()
                            and pb[pos[top[0]]] >= st["prob_threshold"]):
                        verdict[pos[top[0]]] = "best"
        return pd.DataFrame({
            "script_id": tot["script_id"], "calls": tot["calls"], "connected": tot["connected"],
            "sales": tot["sales"], "sale_rate": rate, "ci_low": low, "ci_high": high,
            "adj_effect": adj, "adj_ci_low": adj_lo, "adj_ci_high": adj_hi, "prob_best": pb,
            "expected_loss": loss, "rank": pd.arrays.IntegerArray(rank, ~ranked), "verdict": verdict,
        })

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

    Every threshold left at None is read from the policy's ``[ranking]`` section (shipped:
    ``min_connected = 100``, ``min_reps = 3``, ``min_prob_best = 0.95``, ``alpha = 0.05``,
    ``padjust = "holm"``, ``n_draws = 4000``, ``floor = 0.10``); a value given here wins.

    Parameters
    ----------
    alpha : float, optional
        Level of the pairwise tests (after correction) and of every interval.
    padjust : {"holm", "bh"}, optional
        Multiplicity correction over the pairs of a group.
    min_connected : int, optional
        Connected calls a variant needs to be ranked.
    min_reps : int, optional
        Distinct reps with connected calls a variant needs to be ranked.
    prob_threshold : float, optional
        ``prob_best`` the top variant also needs for the verdict ``best`` (``min_prob_best``).
    n_draws : int, optional
        Posterior draws for ``prob_best``, ``expected_loss`` and the allocation.
    floor : float, optional
        Smallest share of next month's calls any variant gets in the allocation.
    random_state : int, default 0
        Seed of the posterior draws.
    policy : dict, path or None
        The policy (see :func:`telesales_lab.data.policy.resolve_policy`); None: the shipped one.

    Attributes
    ----------
    ranking_ : DataFrame
        The ranking table (:data:`RANK_COLUMNS`).
    pairwise_ : DataFrame
        Pairwise comparisons (see :func:`pairwise_comparisons`).
    groups_ : dict
        The fitted group objects, keyed by ``(scenario,)`` or ``(scenario, customer_class)``.
    """

    def __init__(self, alpha=None, padjust=None, min_connected=None, min_reps=None, prob_threshold=None,
                 n_draws=None, floor=None, random_state=0, policy=None):
        self.alpha = alpha
        self.padjust = padjust
        self.min_connected = min_connected
        self.min_reps = min_reps
        self.prob_threshold = prob_threshold
        self.n_draws = n_draws
        self.floor = floor
        self.random_state = random_state
        self.policy = policy

    def _settings(self):
        given = {"alpha": self.alpha, "padjust": self.padjust, "min_connected": self.min_connected,
                 "min_reps": self.min_reps, "prob_threshold": self.prob_threshold, "n_draws": self.n_draws,
                 "floor": self.floor}
        v = ranking_settings(self.policy) | {k: x for k, x in given.items() if x is not None}
        floor = v["floor"]
        if isinstance(floor, bool) or not isinstance(floor, (int, float, np.floating)) or not 0 <= floor < 1:
            raise ParameterError(f"floor == {floor!r}, must be a number in [0, 1)")
        return {
            "alpha": _check_open01("alpha", v["alpha"]),
            "padjust": check_padjust(v["padjust"]),
            "min_connected": _check_int("min_connected", v["min_connected"], 1),
            "min_reps": _check_int("min_reps", v["min_reps"], 1),
            "prob_threshold": _check_open01("prob_threshold", v["prob_threshold"]),
            "n_draws": _check_int("n_draws", v["n_draws"], 100),
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

    # ---- what a fit leaves behind, to keep in a data set's cache
    def _state(self) -> dict:
        """Everything the fit computed, as frames, arrays and plain values (the posterior
        draws and pairwise tests of every group included), for :meth:`_restore`."""
        groups = {}
        for key, fit in self.groups_.items():
            fit.draws() if fit.J else None
            groups[key] = dict(vars(fit))
        return {"settings": self.settings_, "by": self.by_, "keys": self.keys_, "ranking": self.ranking_,
                "pairwise": self.pairwise_, "groups": groups}

    def _restore(self, state: dict):
        """Take the fitted attributes from a :meth:`_state` (the copies a cache hands out); returns ``self``."""
        self.settings_, self.by_, self.keys_ = state["settings"], state["by"], state["keys"]
        self.ranking_, self.pairwise_ = state["ranking"], state["pairwise"]
        self.groups_ = {}
        for key, attrs in state["groups"].items():
            fit = _GroupFit.__new__(_GroupFit)
            vars(fit).update(attrs)
            self.groups_[key] = fit
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
def ranking_settings(policy=None) -> dict:
    """The ranking's thresholds from the policy's ``[ranking]`` section, under the
    :class:`ScriptRanker` parameter names (``min_prob_best`` is ``prob_threshold``)."""
    rk = resolve_policy(policy)["ranking"]
    return {"alpha": rk["alpha"], "padjust": rk["padjust"], "min_connected": rk["min_connected"],
            "min_reps": rk["min_reps"], "prob_threshold": rk["min_prob_best"], "n_draws": rk["n_draws"],
            "floor": rk["floor"]}


#: ``padjust`` -> the correction's name in the method text.
_CORRECTION = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def method_text(lang: str = "en", settings: dict | None = None, policy=None) -> str:
    """The ranking's method in words, with the thresholds actually used.

    Parameters
    ----------
    lang : {"en", "zh"}
    settings : dict, optional
        A fitted ranker's ``settings_`` (what it used, options included); else the policy's.
    policy : dict, path or None
        Read when ``settings`` is None.
    """
    from telesales_lab.labels import t

    s = settings if settings is not None else ranking_settings(policy)
    return t("ranking.method_text", lang).format(
        min_connected=s["min_connected"], min_reps=s["min_reps"], min_prob_best=s["prob_threshold"],
        correction=_CORRECTION[s["padjust"]])


def _ranker(**options):
    return ScriptRanker(**options)


def analyse_scripts(data, month: str, by: str | None = None, window_months: int = 1, **options) -> ScriptRanker:
    """Build the sufficient statistics and fit a :class:`ScriptRanker` once (for notebooks).

    ``options`` are the :class:`ScriptRanker` parameters. The returned object has
    ``ranking_``, ``pairwise_``, ``allocation()`` and ``calls_needed()``.
    """
    ranker = _ranker(**options)
    return _fitted(data, month, by, window_months, ranker)


def _fitted(data, month, by, window_months, ranker: ScriptRanker) -> ScriptRanker:
    """``ranker`` fitted to ``script_cells(data, month, by, window_months)``; the fit is kept in
    ``data.cache`` under the settings it used, so every page asking for the same ranking (the
    plan, the allocation, the script policy by class) reuses it."""
    from telesales_lab.analysis.ranking.cells import _WINDOW_TABLES, _check_by, _check_window
    from telesales_lab.data.cache import cached
    from telesales_lab.data.periods import parse_month

    st = ranker._settings()  # refuse bad options before touching the data
    by, window_months, p = _check_by(by), _check_window(window_months), parse_month(month)
    tables, policy = _WINDOW_TABLES, None
    if by is not None:  # the classes read the customers under the [customers] policy
        tables, policy = _WINDOW_TABLES + ("customers",), resolve_policy(None)
    state = cached(data, "script_ranking_fit", tables,
                   lambda: ranker.fit(script_cells(data, month, by=by, window_months=window_months))._state(),
                   month=p, policy=policy, sections=("customers",) if by else (),
                   params=(by, window_months, tuple(sorted(st.items()))))
    return ranker._restore(state)


def rank_cells(cells: pd.DataFrame, **options) -> pd.DataFrame:
    """The ranking table from precomputed sufficient statistics (see :func:`script_cells`)."""
    return _ranker(**options).fit(cells).ranking_


def rank_scripts(data, month: str, by: str | None = None, window_months: int = 1, *, padjust: str | None = None,
                 alpha: float | None = None, min_connected: int | None = None, min_reps: int | None = None,
                 prob_threshold: float | None = None, n_draws: int | None = None, random_state: int = 0,
                 policy=None) -> pd.DataFrame:
    """Rank the script variants of every scenario (and customer class), adjusted for the reps.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.data.load.load_dataset`.
    month : str
        ``YYYY-MM``: the last month of the window.
    by : {None, "customer_class"}
        Rank within scenario x customer class as well.
    window_months : int, default 1
        Months of calls, ending with ``month``.
    padjust : {"holm", "bh"}, optional
        Multiplicity correction of the pairwise tests within a group.
    alpha, min_connected, min_reps, prob_threshold, n_draws, random_state
        See :class:`ScriptRanker`; None reads the policy's ``[ranking]`` section.
    policy : dict, path or None
        The policy; None: the shipped one.

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
                           n_draws=n_draws, random_state=random_state, policy=policy).ranking_


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
                         padjust: str | None = None, alpha: float | None = None, min_connected: int | None = None,
                         min_reps: int | None = None, policy=None) -> pd.DataFrame:
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
        Cochran-Mantel-Haenszel test, as a cross-check. Thresholds left at None come from
        the policy's ``[ranking]`` section.
    """
    return analyse_scripts(data, month, by=by, window_months=window_months, padjust=padjust, alpha=alpha,
                           min_connected=min_connected, min_reps=min_reps, policy=policy).pairwise_


def thompson_allocation(data, month: str, by: str | None = None, window_months: int = 1, *,
                        floor: float | None = None, random_state: int = 0, **options) -> pd.DataFrame:
    """Next month's share of calls per variant: Thompson sampling with a floor.

    ``share = floor + (1 - K * floor) * prob_best`` for the K variants with a call in the
    window (``prob_best`` = share of posterior draws in which the variant is best; 0 for
    variants with insufficient data, which thus get exactly the floor and keep being tried).
    If ``K * floor >= 1`` every variant gets ``1/K``. ``floor`` and the ``options``
    (:class:`ScriptRanker` parameters, ``policy``) left at None come from the policy's
    ``[ranking]`` section.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] script_id, prob_best, share``; shares sum to 1 per group.
    """
    return analyse_scripts(data, month, by=by, window_months=window_months, floor=floor,
                           random_state=random_state, **options).allocation()


def calls_needed(data, month: str, by: str | None = None, window_months: int = 1, *, alpha: float | None = None,
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


def assignment_plan(data, month: str, window_months: int = 1, *, floor: float | None = None, calls_per_rep=None,
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
    # the ranking's own cells: their calls_month are the dials of ``month`` whatever the window
    cells = script_cells(data, month, window_months=window_months)
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
