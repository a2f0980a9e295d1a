"""Skill scores 0-100 per rep: QA assessments and call behaviour, shrunk toward the team.

For each rep and each of the seven skills of :data:`telesales_lab.data.schema.SKILLS`, over
the ``[skills] lookback_months`` months ending with the month:

1. **Assessments.** QA scores (0-100), each weighted by recency (an assessment
   ``half_life_days`` old counts half), after subtracting the drift of assessors that
   :func:`telesales_lab.analysis.calibration.assessor_drift` flags. Their weighted mean has the
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
   normal interval. A skill with no evidence at all (no assessment, no call metric used)
   has no score (NaN), not the prior. A rep with eight calls and one scorecard therefore stays close to
   the team's mean, however lucky the calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.data.cache import cached_months
from telesales_lab.data.periods import in_month, parse_month, require_data
from telesales_lab.data.policy import resolve_policy
from telesales_lab.data.schema import SKILLS, person_ids
from telesales_lab.data.monthly import _month_ordinals, call_month_stats, call_months, feedback_month_stats, order_month_stats

#: tables that skill evidence reads (its cache key)
_SKILL_TABLES = ("assessments", "calls", "feedback", "orders", "reps")


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


def _window_rows(months_of_rows: np.ndarray, months: list[pd.Period], lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions in each target month's window (the ``lookback`` months ending with
    it), stacked target by target, and the target of each (ordinal). A row appears once per
    window it falls in, in its table's order within each window."""
    parts = [np.flatnonzero((months_of_rows >= p.ordinal - (lookback - 1)) & (months_of_rows <= p.ordinal))
             for p in months]
    rows = np.concatenate(parts) if parts else np.array([], dtype=np.int64)
    target = np.repeat(np.array([p.ordinal for p in months], dtype=np.int64), [len(x) for x in parts])
    return rows, target


def _stacked(frame: pd.DataFrame, months: list[pd.Period], lookback: int) -> pd.DataFrame:
    """A per-month table (``month`` column) repeated for each target month's window, with a
    leading ``target`` column."""
    rows, target = _window_rows(frame["month"].to_numpy(), months, lookback)
    out = frame.iloc[rows].reset_index(drop=True)
    out.insert(0, "target", target)
    return out


def _sum_of(values: pd.Series) -> float:
    """``values.sum()`` on a fresh copy: the same summation a frame of one month gets."""
    return pd.Series(values.to_numpy(dtype="float64", copy=True)).sum()


def _assessment_stats(data, months: list[pd.Period], policy: dict) -> tuple[pd.DataFrame, dict[int, float]]:
    """Per target month, rep and skill: recency-weighted, drift-corrected mean and its effective n.

    Returns the stacked stats (``month`` = target ordinal, ``rep_id``, ``skill``,
    ``n_assessments``, ``assessment_mean``, ``n_eff``, ``v_a``) and each target month's
    pooled within-(rep, skill) variance of single scores.
    """
    cfg = policy["skills"]
    lookback = int(cfg["lookback_months"])
    a = data.assessments
    rows, target = _window_rows(_month_ordinals(a["assessed_on"]), months, lookback)
    a = a.iloc[rows][["rep_id", "skill", "assessed_on", "score", "assessor_id"]]
    score = a["score"].to_numpy(dtype="float64", copy=True)
    end = np.empty(len(a), dtype="datetime64[ns]")
    for p in months:  # each month's own drift corrections and window end
        block = target == p.ordinal
        end[block] = np.datetime64((p + 1).start_time, "ns")
        if cfg["correct_drift"] and block.any():
            from telesales_lab.analysis.calibration import drift_corrections

            corr = drift_corrections(data, str(p), policy)
            if len(corr):
                score[block] = score[block] - a["assessor_id"].iloc[np.flatnonzero(block)].astype("string").map(
                    corr).astype("float64").fillna(0.0).to_numpy()
    age = pd.Series(end - a["assessed_on"].to_numpy("datetime64[ns]")).dt.total_seconds().to_numpy() / 86_400.0
    w = np.power(0.5, age / float(cfg["half_life_days"]))
    f = pd.DataFrame({"month": target, "rep_id": a["rep_id"].astype("string").array,
                      "skill": a["skill"].astype("string").array, "x": score, "w": w, "wx": w * score,
                      "w2": w * w, "xx": score * score})
    g = f.groupby(["month", "rep_id", "skill"], observed=True).agg(
        n=("x", "size"), sx=("x", "sum"), sxx=("xx", "sum"), sw=("w", "sum"), swx=("wx", "sum"), sw2=("w2", "sum"))
    # pooled within-(rep, skill) variance of single scores, month by month
    within = g["sxx"] - g["sx"] ** 2 / g["n"]
    g_month = g.index.get_level_values("month").to_numpy()
    sigma2 = {}
    for p in months:
        sel = g_month == p.ordinal
        dof = int((g["n"][sel] - 1).sum())
        sigma2[p.ordinal] = float(_sum_of(within[sel]) / dof) if dof > 0 else 100.0
    out = pd.DataFrame({
        "n_assessments": g["n"].astype("int64"),
        "assessment_mean": g["swx"] / g["sw"],
        "n_eff": g["sw"] ** 2 / g["sw2"],
    })
    out["v_a"] = pd.Series(g_month, index=out.index).map(sigma2) / out["n_eff"]
    return out.reset_index(), sigma2


def _call_metrics(data, months: list[pd.Period], lookback: int) -> pd.DataFrame:
    """Per target month (``month``), rep and metric over the month's window: the value, its
    count, and its sampling variance."""
    cols = ["obj_n", "obj_k", "close_n", "close_k", "q_n", "q_k"]
    g = _stacked(call_month_stats(data), months, lookback).groupby(["target", "rep_id"], observed=True)[cols].sum()
    og = _stacked(order_month_stats(data), months, lookback).groupby(["target", "rep_id"], observed=True)[
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
        target = src.index.get_level_values("target").to_numpy()
        _, at = np.unique(target, return_inverse=True)
        n_sum, k_sum = np.bincount(at, weights=n.to_numpy()), np.bincount(at, weights=k.to_numpy())  # whole: exact
        pooled = (k_sum / np.where(n_sum > 0, n_sum, 1.0))[at]
        pooled[n_sum[at] <= 0] = np.nan
        parts.append(pd.DataFrame({
            "month": target, "rep_id": src.index.get_level_values("rep_id"), "metric": metric,
            "n_calls": n.to_numpy(), "value": (k / n.where(n > 0)).to_numpy(),
            # binomial sampling variance at the centre's rate (a rep's own 0/8 or 8/8 would claim zero)
            "s2": pooled * (1 - pooled) / n.where(n > 0).to_numpy(),
        }))

    fg = _stacked(feedback_month_stats(data), months, lookback).groupby(["target", "rep_id"], observed=True)[
        ["n", "sx", "sxx"]].sum()
    target = fg.index.get_level_values("target").to_numpy()
    spread = fg["sxx"] - fg["sx"] ** 2 / fg["n"]
    within = np.full(len(fg), np.nan)
    for p in months:  # the pooled within-rep variance of feedback scores, month by month
        sel = target == p.ordinal
        dof = (fg["n"][sel] - 1).sum()
        within[sel] = float(_sum_of(spread[sel]) / dof) if dof > 0 else np.nan
    parts.append(pd.DataFrame({"month": target, "rep_id": fg.index.get_level_values("rep_id"),
                               "metric": "feedback_mean", "n_calls": fg["n"].astype(float).to_numpy(),
                               "value": (fg["sx"] / fg["n"]).to_numpy(), "s2": within / fg["n"].to_numpy()}))
    out = pd.concat(parts, ignore_index=True)
    out["rep_id"] = out["rep_id"].astype("string")
    return out[out["n_calls"] > 0].reset_index(drop=True)


def _people(data, months: list[pd.Period], lookback: int, assess: pd.DataFrame) -> pd.DataFrame:
    """Who is scored in each target month (``month``): any person (not a placeholder agent)
    assessed or calling in its window, with their prior group."""
    window = _stacked(call_month_stats(data), months, lookback)
    # callers in the order the calls table first lists them (as ``unique`` would give them)
    callers = window.groupby(["target", "rep_id"], observed=True)["first_row"].min()
    reps = data.reps.assign(rep_id=data.reps["rep_id"].astype("string")).set_index("rep_id")
    people = person_ids(data.reps)  # placeholder agents are never scored
    a_month = assess["month"].to_numpy()
    c_month = callers.index.get_level_values("target").to_numpy()
    frames = []
    for p in months:  # a union of two small id lists per month
        mine = callers[c_month == p.ordinal].droplevel("target").sort_values(kind="stable")
        ids = pd.Index(mine.index.astype("string")).union(pd.Index(assess.loc[a_month == p.ordinal, "rep_id"].unique()))
        ids = ids[ids.isin(people)]
        r = reps.reindex(ids)
        role = r["role"].astype("string")
        group = ("team:" + r["team"].astype("string")).where(role == "rep", "role:" + role)
        frames.append(pd.DataFrame({"month": p.ordinal, "rep_id": ids.astype("string"),
                                    "team": r["team"].astype("string").to_numpy(), "role": role.to_numpy(),
                                    "group": group.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def _pearson(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value for non-constant ``x``, ``y`` (n >= 3).

    The arithmetic of ``scipy.stats.pearsonr`` (centred, scaled by the largest deviation,
    then normalised; under the null hypothesis r follows Beta(n/2 - 1, n/2 - 1) on (-1, 1)),
    with the one special function it needs, so that scipy.stats is not imported.
    """
    from scipy import special  # lazily: the classes and care list share this module's sums, not scipy

    n = float(len(x))
    xm, ym = x - x.mean(axis=-1, keepdims=True), y - y.mean(axis=-1, keepdims=True)
    xmax, ymax = np.max(np.abs(xm), axis=-1, keepdims=True), np.max(np.abs(ym), axis=-1, keepdims=True)
    normxm = xmax * np.linalg.norm(xm / xmax, axis=-1, keepdims=True)
    normym = ymax * np.linalg.norm(ym / ymax, axis=-1, keepdims=True)
    r = float(np.clip(np.vecdot(xm / normxm, ym / normym, axis=-1), -1.0, 1.0))
    ab = n / 2 - 1
    return r, float(2 * special.betaincc(ab, ab, (abs(r) + 1) / 2))


def _fit_measurement(m: pd.DataFrame, var_theta: float, sigma2: float, max_weight: float) -> dict | None:
    """Fit ``metric = a + b * skill`` across reps; None when the metric carries no signal."""
    fit = m[(m["n_calls"] >= _MIN_CALIBRATION_N) & m["assessment_mean"].notna() & m["call_value"].notna()]
    if len(fit) < 5 or var_theta <= 0:
        return None
    x, y = fit["assessment_mean"].to_numpy(float), fit["call_value"].to_numpy(float)
    if np.std(y) == 0 or np.std(x) == 0:
        return None
    r, p_two = _pearson(x, y)
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
        :data:`~telesales_lab.data.schema.SKILLS`):

        - ``rep_id``, ``team``, ``role``, ``skill``
        - ``prior_mean``: what the score is pooled toward: the mean assessment of the
          rep's peers (the same team for reps, the same role across the centre for team
          leads and above; the centre's mean where a group has fewer than two people
          assessed); NaN when nobody was assessed in the skill
        - ``assessment_mean``, ``n_assessments``: drift-corrected, recency-weighted
        - ``call_metric``: the metric's name (see the module docs); ``call_value`` its value
        - ``call_score``: the metric on the 0-100 skill scale; ``n_calls`` events used
        - ``call_weight``: share of the score's precision that comes from call behaviour
        - ``score``, ``ci_low``, ``ci_high``: the posterior mean, shrunk toward
          ``prior_mean``, and its 95% interval; NaN (no evidence) when ``n_evidence`` is 0
        - ``n_evidence``: assessments + calls used
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    return skill_evidence_months(data, [p], policy)[p]


def skill_evidence_months(data, months: list[pd.Period], policy: dict) -> dict[pd.Period, pd.DataFrame]:
    """:func:`skill_evidence` of each of ``months`` (a resolved policy), kept in
    ``data.cache``; the months not kept yet are computed together, in one pass."""
    return cached_months(data, "skill_evidence", _SKILL_TABLES, months,
                         lambda missing: _skill_evidence(data, missing, policy),
                         policy=policy, sections=("skills", "calibration"))


def _skill_evidence(data, months: list[pd.Period], policy: dict) -> dict[pd.Period, pd.DataFrame]:
    """:func:`skill_evidence` of several months, computed together (each month from its
    own window, exactly as if computed alone)."""
    cfg = policy["skills"]
    lookback = int(cfg["lookback_months"])
    have = call_months(data)
    for p in months:
        if p not in have and not in_month(data.assessments["assessed_on"], p).any():
            require_data(data.calls["started_at"], p)  # raises, naming the months with data
    assess, sigma2 = _assessment_stats(data, months, policy)
    metrics = _call_metrics(data, months, lookback)
    people = _people(data, months, lookback, assess)

    # one long frame: every month x person x skill, with its evidence
    f = people.merge(pd.DataFrame({"skill": pd.array(SKILLS, dtype="string")}), how="cross")
    f = f.merge(assess, on=["month", "rep_id", "skill"], how="left")
    f["call_metric"] = f["skill"].map(CALL_METRICS).astype("string")
    f = f.merge(metrics.rename(columns={"metric": "call_metric", "value": "call_value"}),
                on=["month", "rep_id", "call_metric"], how="left")
    f["n_calls"] = f["n_calls"].fillna(0.0)
    has_a = f["assessment_mean"].notna().to_numpy(bool)
    fa = f[has_a]
    month_skill = pd.MultiIndex.from_arrays([f["month"], f["skill"]])

    # prior: the peers' mean; between-rep variance pooled over groups (method of moments)
    grp = fa.groupby(["month", "skill", "group"], observed=True)["assessment_mean"].agg(["mean", "size"])
    f = f.join(grp, on=["month", "skill", "group"])
    grand = pd.Series(fa.groupby(["month", "skill"], observed=True)["assessment_mean"].mean()
                      .reindex(month_skill).to_numpy(), index=f.index)
    f["prior_mean"] = f["mean"].where(f["size"] >= 2, grand)
    f["prior_mean"] = f["prior_mean"].fillna(grand).fillna(50.0)
    fa = f[has_a]
    dev2 = (fa["assessment_mean"] - fa["prior_mean"]) ** 2
    per = pd.DataFrame({"month": fa["month"], "skill": fa["skill"], "dev2": dev2, "v_a": fa["v_a"],
                        "group": fa["group"], "x": fa["assessment_mean"]}).groupby(["month", "skill"], observed=True).agg(
        ss=("dev2", "sum"), n=("dev2", "size"), groups=("group", "nunique"), v_a=("v_a", "mean"), var_x=("x", "var"))
    per["tau2"] = (per["ss"] / (per["n"] - per["groups"]).clip(lower=1) - per["v_a"]).clip(lower=_TAU2_FLOOR)
    per["var_theta"] = (per["var_x"] - per["v_a"]).clip(lower=_TAU2_FLOOR).fillna(per["tau2"])
    tau2 = pd.Series(per["tau2"].reindex(month_skill).to_numpy(), index=f.index).fillna(100.0)

    # call behaviour on the skill scale, through a measurement model fitted per month and skill
    f["call_score"] = np.nan
    prec_c = np.zeros(len(f))
    used = np.zeros(len(f), bool)
    f_month = f["month"].to_numpy()
    for p in months:
        this = f_month == p.ordinal
        for skill, metric in CALL_METRICS.items():  # seven skills, each fitted on rep aggregates
            if metric is None or (p.ordinal, skill) not in per.index:
                continue
            rows = this & (f["skill"] == skill).to_numpy(bool)
            model = _fit_measurement(f[rows], float(per.loc[(p.ordinal, skill), "var_theta"]), sigma2[p.ordinal],
                                     float(cfg["max_call_weight"]))
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
    f["n_assessments"] = f["n_assessments"].fillna(0).astype("int64")
    f["n_calls"] = f["n_calls"].astype("int64")
    f["n_evidence"] = f["n_assessments"] + f["n_calls"]
    # no evidence at all is no score: the prior alone would print the peers' mean as a result
    known = (f["n_evidence"] > 0).to_numpy(bool)
    f["score"] = np.where(known, np.clip(mean, 0.0, 100.0), np.nan)
    f["ci_low"] = np.where(known, np.clip(mean - _Z95 * sd, 0.0, 100.0), np.nan)
    f["ci_high"] = np.where(known, np.clip(mean + _Z95 * sd, 0.0, 100.0), np.nan)
    f["call_weight"] = np.where(known, prec_c / prec, np.nan)
    # the prior is a peers' mean only where some peer (or the centre) was assessed in the skill
    f["prior_mean"] = f["prior_mean"].where(grand.notna())
    f["skill"] = pd.Categorical(f["skill"], categories=list(SKILLS))
    f = f.sort_values(["month", "rep_id", "skill"], kind="stable")
    cols = ["rep_id", "team", "role", "skill", "prior_mean", "assessment_mean", "n_assessments", "call_metric",
            "call_value", "call_score", "n_calls", "call_weight", "score", "ci_low", "ci_high", "n_evidence"]
    f_month = f["month"].to_numpy()
    return {p: f[f_month == p.ordinal][cols].reset_index(drop=True) for p in months}


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
        One row per rep and skill (all seven :data:`~telesales_lab.data.schema.SKILLS`),
        sorted by rep_id and skill:

        - ``rep_id``, ``skill``
        - ``score``: 0-100, the posterior mean of assessments and call behaviour, shrunk
          toward the peers' mean assessment (team for reps, role for leads); NaN when the
          rep has no evidence in the skill (the peers' mean is not the rep's score)
        - ``ci_low``, ``ci_high``: 95% interval (NaN without evidence)
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
        ``overall`` (every rep), sorted by team and skill. ``n_reps`` counts the reps with a
        score (evidence) in the skill; ``score`` is NaN where none has one.
    """
    reps = evidence[evidence["role"] == "rep"]
    by_team = reps.groupby(["team", "skill"], observed=True)["score"].agg(score="mean", n_reps="count").reset_index()
    overall = reps.groupby("skill", observed=True)["score"].agg(score="mean", n_reps="count").reset_index()
    out = pd.concat([by_team, overall.assign(team="overall")], ignore_index=True)
    out["team"] = out["team"].astype("string")
    out["skill"] = pd.Categorical(out["skill"].astype("string"), categories=list(SKILLS))
    return out.sort_values(["team", "skill"], kind="stable").reset_index(drop=True)[["team", "skill", "score", "n_reps"]]


def skill_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Wide view of :func:`score_skills`: one row per rep, one column per skill."""
    wide = scores.pivot_table(index="rep_id", columns="skill", values="score", observed=True)
    return wide.reindex(columns=list(SKILLS)).reset_index().rename_axis(columns=None)
