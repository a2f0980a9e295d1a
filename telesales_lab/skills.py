"""Skill scores 0-100 per rep: QA assessments and call behaviour, shrunk toward the team.

For each rep and each of the seven skills of :data:`telesales_lab.schema.SKILLS`, over
the ``[skills] lookback_months`` months ending with the month:

1. **Assessments.** QA scores (0-100), each weighted by recency (an assessment
   ``half_life_days`` old counts half), after subtracting the drift of assessors that
   :func:`telesales_lab.calibration.assessor_drift` flags. Their weighted mean has the
   variance ``sigma_w^2 / n_eff``, where ``sigma_w^2`` is the pooled spread of scores
   around each rep's own mean and ``n_eff`` the effective number of assessments.
2. **Call behaviour.** A rate or mean per rep, from the same window:

   ==================  =======================================================
   objection_handling  share of calls with an objection that still ended positive
   closing             sales / (sales + interested): closing once interest is there
   questioning         share of connected calls with no objection raised
   communication       mean customer feedback score (1-5)
   listening           mean customer feedback score (1-5)
   product_knowledge   share of the rep's orders not cancelled
   teamwork            (assessments only)
   ==================  =======================================================

   Each metric is put on the 0-100 scale by a measurement model fitted across reps:
   ``metric = a + b * skill + error``, with ``b = cov(metric, assessment mean) /
   var(skill)`` (the errors-in-variables correction), so ``(metric - a) / b`` measures
   the skill with variance ``(sampling variance + misfit) / b^2``. A metric that does
   not correlate with the assessments (one-sided p >= 0.05 across reps) is not used,
   and no metric counts for more than ``max_call_weight`` assessments.
3. **Shrinkage.** The prior is the mean of the rep's peers (the same team for reps; the
   same role across the centre for team leads and above), with the between-rep variance
   ``tau^2`` estimated by the method of moments. The score is the precision-weighted
   mean of prior, assessments and calls (a normal posterior); the interval is its 95%
   normal interval. A rep with eight calls and one scorecard therefore stays close to
   the team's mean, however lucky the calls.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy import stats

from . import i18n
from .periods import in_month, month_bounds, parse_month, require_data
from .policy import resolve_policy
from .schema import CONNECTED_OUTCOMES, POSITIVE_OUTCOMES, SKILLS

i18n.register({
    "ci_low": ("CI low", "置信下限"),
    "ci_high": ("CI high", "置信上限"),
    "n_evidence": ("evidence", "证据量"),
    "prior_mean": ("peer mean", "同组均值"),
    "assessment_mean": ("assessment mean", "评估均分"),
    "n_assessments": ("assessments", "评估次数"),
    "call_metric": ("call metric", "通话指标"),
    "call_score": ("call-based score", "通话折算分"),
    "n_calls": ("calls", "通话数"),
    "call_value": ("call metric value", "通话指标值"),
    "call_weight": ("call evidence weight", "通话证据权重"),
})

#: How each skill is read from call behaviour: (metric name, kind); None = assessments only.
CALL_METRICS = {
    "objection_handling": "objection_overcome_rate",
    "closing": "close_rate",
    "questioning": "no_objection_rate",
    "communication": "feedback_mean",
    "listening": "feedback_mean",
    "product_knowledge": "order_kept_rate",
    "teamwork": None,
}
_Z95 = 1.959963984540054
_MIN_CALIBRATION_N = 20  # a rep's metric takes part in fitting the measurement model from this many events
_TAU2_FLOOR = 1.0


# ----------------------------------------------------------------------------- remembered on the data set
def remember(data, key: tuple, compute):
    """``compute()``, kept on the loaded data set under ``key`` (the object itself, not a copy).

    A notebook asks for the same month's numbers many times (ranking, trends, awards,
    promotion), and each month needs the months before it; what a data set's tables give is
    therefore computed once and kept on it. The memory is dropped when a table of the data
    set is replaced (the tables are never modified in place). An object that takes no
    attributes gets no memory.
    """
    cache = getattr(data, "_telesales_memo", None)
    tables = getattr(data, "tables", None)
    snapshot = dict(tables) if isinstance(tables, dict) else {}
    if cache is not None:
        seen = cache.get("__tables__", {})
        if len(seen) != len(snapshot) or any(snapshot.get(k) is not v for k, v in seen.items()):
            cache.clear()  # a table was replaced: nothing remembered holds any more
    if cache is None:
        cache = {}
        try:
            object.__setattr__(data, "_telesales_memo", cache)
        except (AttributeError, TypeError):
            return compute()
    cache["__tables__"] = snapshot
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def memo(data, name: str, month: str, policy: dict, sections: tuple[str, ...], compute) -> pd.DataFrame:
    """``compute()``, remembered on the loaded data set for the month and the policy sections used.

    The key is the function's name, the month and the policy sections the result depends
    on, so a result computed under another policy is never reused. A copy is returned each
    time, so callers may modify what they get.
    """
    key = (name, str(parse_month(month)), json.dumps({k: policy[k] for k in sections}, sort_keys=True))
    return remember(data, key, compute).copy()


def _month_ordinals(times: pd.Series) -> np.ndarray:
    """Months since 1970-01 of each timestamp (``pd.Period(...).ordinal``); missing: -2**63."""
    return times.to_numpy("datetime64[ns]").astype("datetime64[M]").astype("int64")


_NO_MONTH = np.iinfo("int64").min


def _flags(column: pd.Series, values) -> np.ndarray:
    """Whether each value of a (categorical) column is one of ``values``; missing: False."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        hit = np.asarray(column.cat.categories.astype("string").isin(list(values)), dtype=bool)
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, hit[np.maximum(codes, 0)], False)
    return column.astype("string").isin(list(values)).fillna(False).to_numpy(bool)


def _month_rep_sums(month: np.ndarray, rep: pd.Series, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Sums of ``columns`` per month and rep in one pass (rows without a month or rep left out).

    Returns ``month`` (ordinal), ``rep_id`` (string), ``first_row`` (position of the
    group's first row) and one column per entry of ``columns``: boolean columns are
    counted, others summed as float64 (only whole numbers here, so the sums are exact).
    """
    codes, reps = pd.factorize(rep, sort=True)
    n_reps = max(len(reps), 1)
    ok = (codes >= 0) & (month != _NO_MONTH)
    rows = np.flatnonzero(ok)
    key = month[ok] * n_reps + codes[ok]  # sorted by month, then rep_id
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    out = {"month": uniq // n_reps,
           "rep_id": pd.Series(np.asarray(reps, dtype=object)[uniq % n_reps]).astype("string"),
           "first_row": rows[first]}
    for name, values in columns.items():
        v = np.asarray(values)[ok]
        if v.dtype == bool:
            out[name] = np.bincount(inv[v], minlength=len(uniq)).astype("int64")
        else:
            out[name] = np.bincount(inv, weights=v.astype("float64"), minlength=len(uniq))
    return pd.DataFrame(out)


def call_months(data) -> set[pd.Period]:
    """The months that have calls (remembered on the data set)."""
    def compute():
        m = _month_ordinals(data.calls["started_at"])
        return {pd.Period(ordinal=int(o), freq="M") for o in np.unique(m[m != _NO_MONTH])}

    return remember(data, ("call_months",), compute)


def call_month_stats(data) -> pd.DataFrame:
    """Calls per month and rep, and the counts behind the call metrics (remembered).

    One pass over the calls table for every month at once: ``month`` (ordinal),
    ``rep_id``, ``first_row``, ``n_calls``, ``obj_n`` / ``obj_k`` (calls with an objection /
    those ending positive), ``close_n`` / ``close_k`` (sale or interested / sale), ``q_n`` /
    ``q_k`` (connected / connected without objection).
    """
    def compute():
        c = data.calls
        connected = _flags(c["outcome"], CONNECTED_OUTCOMES)
        positive = _flags(c["outcome"], POSITIVE_OUTCOMES)
        sale = _flags(c["outcome"], ("sale",))
        interested = _flags(c["outcome"], ("interested",))
        objection = c["objection"].notna().to_numpy(bool)
        return _month_rep_sums(_month_ordinals(c["started_at"]), c["rep_id"], {
            "n_calls": np.ones(len(c), bool), "obj_n": objection, "obj_k": objection & positive,
            "close_n": sale | interested, "close_k": sale, "q_n": connected, "q_k": connected & ~objection})

    return remember(data, ("call_month_stats",), compute)


def order_month_stats(data) -> pd.DataFrame:
    """Orders per month (of ``ordered_at``) and rep: ``ord_n`` all, ``ord_k`` not cancelled (remembered)."""
    def compute():
        o = data.orders
        return _month_rep_sums(_month_ordinals(o["ordered_at"]), o["rep_id"], {
            "ord_n": np.ones(len(o), bool), "ord_k": (o["status"] != "cancelled").to_numpy(bool)})

    return remember(data, ("order_month_stats",), compute)


def feedback_month_stats(data) -> pd.DataFrame:
    """Feedback per month (of ``received_at``) and rep (remembered).

    ``n`` responses, ``n_scored`` with a score, ``sx`` / ``sxx`` the sum of scores and of
    their squares (whole numbers, so exact in any order).
    """
    def compute():
        fb = data.feedback
        s = fb["score"].astype("float64").to_numpy()
        scored = ~np.isnan(s)
        s0 = np.where(scored, s, 0.0)
        return _month_rep_sums(_month_ordinals(fb["received_at"]), fb["rep_id"], {
            "n": np.ones(len(fb), bool), "n_scored": scored, "sx": s0, "sxx": s0 * s0})

    return remember(data, ("feedback_month_stats",), compute)


def _months_between(stats_: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    m = stats_["month"].to_numpy()
    return stats_[(m >= first) & (m <= last)]


def _window(month: str, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    p = parse_month(month)
    _, end = month_bounds(p)
    return (p - (months - 1)).start_time, end


def _assessment_stats(data, month: str, policy: dict, start, end) -> tuple[pd.DataFrame, float]:
    """Per rep and skill: recency-weighted, drift-corrected mean and its effective n."""
    cfg = policy["skills"]
    a = data.assessments
    keep = ((a["assessed_on"] >= start) & (a["assessed_on"] < end)).to_numpy(bool)
    a = a.loc[keep, ["rep_id", "skill", "assessed_on", "score", "assessor_id"]]
    score = a["score"].astype("float64")
    if cfg["correct_drift"] and len(a):
        from .calibration import drift_corrections

        corr = drift_corrections(data, month, policy)
        if len(corr):
            score = score - a["assessor_id"].astype("string").map(corr).astype("float64").fillna(0.0).to_numpy()
    age = (end - a["assessed_on"]).dt.total_seconds() / 86_400.0
    w = np.power(0.5, age / float(cfg["half_life_days"]))
    f = pd.DataFrame({"rep_id": a["rep_id"].astype("string"), "skill": a["skill"].astype("string"),
                      "x": score, "w": w, "wx": w * score, "w2": w * w, "xx": score * score})
    g = f.groupby(["rep_id", "skill"], observed=True).agg(
        n=("x", "size"), sx=("x", "sum"), sxx=("xx", "sum"), sw=("w", "sum"), swx=("wx", "sum"), sw2=("w2", "sum"))
    # pooled within-(rep, skill) variance of single scores
    ss_within = (g["sxx"] - g["sx"] ** 2 / g["n"]).sum()
    dof = int((g["n"] - 1).sum())
    sigma2 = float(ss_within / dof) if dof > 0 else 100.0
    out = pd.DataFrame({
        "n_assessments": g["n"].astype("int64"),
        "assessment_mean": g["swx"] / g["sw"],
        "n_eff": g["sw"] ** 2 / g["sw2"],
    })
    out["v_a"] = sigma2 / out["n_eff"]
    return out.reset_index(), sigma2


def _call_metrics(data, first: int, last: int) -> pd.DataFrame:
    """Per rep and metric over the months ``first..last`` (ordinals): the value, its count,
    and its sampling variance."""
    cols = ["obj_n", "obj_k", "close_n", "close_k", "q_n", "q_k"]
    g = _months_between(call_month_stats(data), first, last).groupby("rep_id", observed=True)[cols].sum()
    og = _months_between(order_month_stats(data), first, last).groupby("rep_id", observed=True)[
        ["ord_n", "ord_k"]].sum()

    parts = []
    for metric, (n_col, k_col, src) in {
        "objection_overcome_rate": ("obj_n", "obj_k", g),
        "close_rate": ("close_n", "close_k", g),
        "no_objection_rate": ("q_n", "q_k", g),
        "order_kept_rate": ("ord_n", "ord_k", og),
    }.items():
        n = src[n_col].astype(float)
        k = src[k_col].astype(float)
        pooled = k.sum() / n.sum() if n.sum() > 0 else np.nan
        parts.append(pd.DataFrame({
            "rep_id": src.index, "metric": metric, "n_calls": n.to_numpy(),
            "value": (k / n.where(n > 0)).to_numpy(),
            # binomial sampling variance at the centre's rate (a rep's own 0/8 or 8/8 would claim zero)
            "s2": (pooled * (1 - pooled) / n.where(n > 0)).to_numpy(),
        }))

    fg = _months_between(feedback_month_stats(data), first, last).groupby("rep_id", observed=True)[
        ["n", "sx", "sxx"]].sum()
    dof = (fg["n"] - 1).sum()
    within = float((fg["sxx"] - fg["sx"] ** 2 / fg["n"]).sum() / dof) if dof > 0 else np.nan
    parts.append(pd.DataFrame({"rep_id": fg.index, "metric": "feedback_mean", "n_calls": fg["n"].astype(float).to_numpy(),
                               "value": (fg["sx"] / fg["n"]).to_numpy(), "s2": (within / fg["n"]).to_numpy()}))
    out = pd.concat(parts, ignore_index=True)
    out["rep_id"] = out["rep_id"].astype("string")
    return out[out["n_calls"] > 0].reset_index(drop=True)


def _people(data, first: int, last: int, assess: pd.DataFrame) -> pd.DataFrame:
    """Who is scored (anyone assessed or calling in the months ``first..last``) and their prior group."""
    window = _months_between(call_month_stats(data), first, last)
    # callers in the order the calls table first lists them (as ``unique`` would give them)
    callers = window.groupby("rep_id", observed=True)["first_row"].min().sort_values(kind="stable")
    ids = pd.Index(callers.index.astype("string")).union(pd.Index(assess["rep_id"].unique()))
    reps = data.reps.assign(rep_id=data.reps["rep_id"].astype("string")).set_index("rep_id")
    reps = reps.reindex(ids)
    role = reps["role"].astype("string")
    group = ("team:" + reps["team"].astype("string")).where(role == "rep", "role:" + role)
    return pd.DataFrame({"rep_id": ids.astype("string"), "team": reps["team"].astype("string").to_numpy(),
                         "role": role.to_numpy(), "group": group.to_numpy()})


def _fit_measurement(m: pd.DataFrame, var_theta: float, sigma2: float, max_weight: float) -> dict | None:
    """Fit ``metric = a + b * skill`` across reps; None when the metric carries no signal."""
    fit = m[(m["n_calls"] >= _MIN_CALIBRATION_N) & m["assessment_mean"].notna() & m["call_value"].notna()]
    if len(fit) < 5 or var_theta <= 0:
        return None
    x, y = fit["assessment_mean"].to_numpy(float), fit["call_value"].to_numpy(float)
    if np.std(y) == 0 or np.std(x) == 0:
        return None
    r, p_two = stats.pearsonr(x, y)
    if not (r > 0 and p_two / 2 < 0.05):
        return None
    b = float(np.cov(x, y, ddof=1)[0, 1] / var_theta)
    a = float(y.mean() - b * x.mean())
    misfit = max(float(np.var(y, ddof=1) - b * b * var_theta - fit["s2"].mean()), 0.0)
    return {"a": a, "b": b, "misfit": misfit, "r": float(r), "floor": sigma2 / max_weight if max_weight > 0 else np.inf}


def skill_evidence(data, month: str, policy=None) -> pd.DataFrame:
    """Every rep's skill scores with the evidence behind them.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``; the window is the ``[skills] lookback_months`` months ending with it.
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per rep and skill (sorted by rep_id, then the order of
        :data:`~telesales_lab.schema.SKILLS`):

        - ``rep_id``, ``team``, ``role``, ``skill``
        - ``prior_mean``: the peers' mean (team for reps, role for leads and above)
        - ``assessment_mean``, ``n_assessments``: drift-corrected, recency-weighted
        - ``call_metric``: the metric's name (see the module docs); ``call_value`` its value
        - ``call_score``: the metric on the 0-100 skill scale; ``n_calls`` events used
        - ``call_weight``: share of the score's precision that comes from call behaviour
        - ``score``, ``ci_low``, ``ci_high``, ``n_evidence`` (assessments + calls used)
    """
    policy = resolve_policy(policy)
    return memo(data, "skill_evidence", month, policy, ("skills", "calibration"),
                lambda: _skill_evidence(data, month, policy))


def _skill_evidence(data, month: str, policy: dict) -> pd.DataFrame:
    cfg = policy["skills"]
    start, end = _window(month, int(cfg["lookback_months"]))
    p = parse_month(month)
    if p not in call_months(data) and not in_month(data.assessments["assessed_on"], p).any():
        require_data(data.calls["started_at"], p)  # raises, naming the months with data
    assess, sigma2 = _assessment_stats(data, month, policy, start, end)
    first = p.ordinal - (int(cfg["lookback_months"]) - 1)
    metrics = _call_metrics(data, first, p.ordinal)
    people = _people(data, first, p.ordinal, assess)

    # one long frame: every person x every skill, with its evidence
    f = people.merge(pd.DataFrame({"skill": pd.array(SKILLS, dtype="string")}), how="cross")
    f = f.merge(assess, on=["rep_id", "skill"], how="left")
    f["call_metric"] = f["skill"].map(CALL_METRICS).astype("string")
    f = f.merge(metrics.rename(columns={"metric": "call_metric", "value": "call_value"}),
                on=["rep_id", "call_metric"], how="left")
    f["n_calls"] = f["n_calls"].fillna(0.0)
    has_a = f["assessment_mean"].notna().to_numpy(bool)
    fa = f[has_a]

    # prior: the peers' mean; between-rep variance pooled over groups (method of moments)
    grp = fa.groupby(["skill", "group"], observed=True)["assessment_mean"].agg(["mean", "size"])
    f = f.join(grp, on=["skill", "group"])
    grand = fa.groupby("skill", observed=True)["assessment_mean"].mean()
    f["prior_mean"] = f["mean"].where(f["size"] >= 2, f["skill"].map(grand))
    f["prior_mean"] = f["prior_mean"].fillna(f["skill"].map(grand)).fillna(50.0)
    fa = f[has_a]
    dev2 = (fa["assessment_mean"] - fa["prior_mean"]) ** 2
    per = pd.DataFrame({"skill": fa["skill"], "dev2": dev2, "v_a": fa["v_a"], "group": fa["group"],
                        "x": fa["assessment_mean"]}).groupby("skill", observed=True).agg(
        ss=("dev2", "sum"), n=("dev2", "size"), groups=("group", "nunique"), v_a=("v_a", "mean"), var_x=("x", "var"))
    per["tau2"] = (per["ss"] / (per["n"] - per["groups"]).clip(lower=1) - per["v_a"]).clip(lower=_TAU2_FLOOR)
    per["var_theta"] = (per["var_x"] - per["v_a"]).clip(lower=_TAU2_FLOOR).fillna(per["tau2"])
    tau2 = f["skill"].map(per["tau2"]).fillna(100.0)

    # call behaviour on the skill scale, through a measurement model fitted per skill
    f["call_score"] = np.nan
    prec_c = np.zeros(len(f))
    used = np.zeros(len(f), bool)
    for skill, metric in CALL_METRICS.items():  # seven skills, each fitted on rep aggregates
        if metric is None or skill not in per.index:
            continue
        rows = (f["skill"] == skill).to_numpy(bool)
        model = _fit_measurement(f[rows], float(per.loc[skill, "var_theta"]), sigma2, float(cfg["max_call_weight"]))
        if model is None:
            continue
        ok = rows & f["call_value"].notna().to_numpy(bool) & f["s2"].notna().to_numpy(bool)
        f.loc[ok, "call_score"] = (f.loc[ok, "call_value"] - model["a"]) / model["b"]
        v_c = ((f.loc[ok, "s2"] + model["misfit"]) / model["b"] ** 2).clip(lower=model["floor"])
        prec_c[ok] = 1.0 / v_c.to_numpy(float)
        used |= rows
    f.loc[~used, "n_calls"] = 0.0  # a metric shown but not used counts as no evidence

    prec_a = np.where(has_a, 1.0 / f["v_a"].to_numpy(float), 0.0)
    prec = 1.0 / tau2.to_numpy(float) + prec_a + prec_c
    mean = (f["prior_mean"].to_numpy(float) / tau2.to_numpy(float)
            + prec_a * f["assessment_mean"].fillna(0.0).to_numpy(float)
            + prec_c * f["call_score"].fillna(0.0).to_numpy(float)) / prec
    sd = np.sqrt(1.0 / prec)
    f["score"] = np.clip(mean, 0.0, 100.0)
    f["ci_low"] = np.clip(mean - _Z95 * sd, 0.0, 100.0)
    f["ci_high"] = np.clip(mean + _Z95 * sd, 0.0, 100.0)
    f["call_weight"] = prec_c / prec
    f["n_assessments"] = f["n_assessments"].fillna(0).astype("int64")
    f["n_calls"] = f["n_calls"].astype("int64")
    f["n_evidence"] = f["n_assessments"] + f["n_calls"]
    f["skill"] = pd.Categorical(f["skill"], categories=list(SKILLS))
    f = f.sort_values(["rep_id", "skill"], kind="stable").reset_index(drop=True)
    cols = ["rep_id", "team", "role", "skill", "prior_mean", "assessment_mean", "n_assessments", "call_metric",
            "call_value", "call_score", "n_calls", "call_weight", "score", "ci_low", "ci_high", "n_evidence"]
    return f[cols]


def score_skills(data, month: str, policy=None) -> pd.DataFrame:
    """Skill scores 0-100 for every rep assessed or calling in the window.

    Parameters
    ----------
    data : Dataset
        A loaded data set.
    month : str
        ``YYYY-MM``; evidence comes from the ``[skills] lookback_months`` months ending
        with it.
    policy : dict or path, optional
        The policy (``[skills]`` and ``[calibration]``); defaults if None.

    Returns
    -------
    DataFrame
        One row per rep and skill (all seven :data:`~telesales_lab.schema.SKILLS`),
        sorted by rep_id and skill:

        - ``rep_id``, ``skill``
        - ``score``: 0-100, the posterior mean (peers' mean, assessments, call behaviour)
        - ``ci_low``, ``ci_high``: 95% interval
        - ``n_evidence``: assessments plus calls (or feedback responses, or orders) used
    """
    ev = skill_evidence(data, month, policy)
    return ev[["rep_id", "skill", "score", "ci_low", "ci_high", "n_evidence"]]


def team_profile(evidence: pd.DataFrame) -> pd.DataFrame:
    """Team means of the reps' skill scores (from :func:`skill_evidence`; role ``rep`` only).

    Returns
    -------
    DataFrame
        One row per team and skill: ``team, skill, score, n_reps``, plus the rows of team
        ``overall`` (every rep), sorted by team and skill.
    """
    reps = evidence[evidence["role"] == "rep"]
    by_team = reps.groupby(["team", "skill"], observed=True)["score"].agg(score="mean", n_reps="size").reset_index()
    overall = reps.groupby("skill", observed=True)["score"].agg(score="mean", n_reps="size").reset_index()
    out = pd.concat([by_team, overall.assign(team="overall")], ignore_index=True)
    out["team"] = out["team"].astype("string")
    out["skill"] = pd.Categorical(out["skill"].astype("string"), categories=list(SKILLS))
    return out.sort_values(["team", "skill"], kind="stable").reset_index(drop=True)[["team", "skill", "score", "n_reps"]]


def skill_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Wide view of :func:`score_skills`: one row per rep, one column per skill."""
    wide = scores.pivot_table(index="rep_id", columns="skill", values="score", observed=True)
    return wide.reindex(columns=list(SKILLS)).reset_index().rename_axis(columns=None)
