"""The monthly KPI evaluation: five weighted dimensions, grades, ranks, awards, promotion.

Each evaluated person (``[kpi] roles``, hired by the month's end, with at least one call
in the month) gets five dimension scores on 0-100, computed as the policy says:

* **sales**: revenue, profit and order count of the month's non-cancelled orders
  credited to the rep, each scaled (``percentile``: share of colleagues below,
  ``(rank - 1) / (n - 1) * 100``, ties sharing the lower rank; or ``minmax``), then
  weighted (``[kpi.sales.weights]``);
* **development**: new customers (first ever non-cancelled order placed in the month)
  and revenue growth against the previous month, the symmetric change
  ``(m - p) / ((m + p) / 2)`` (0 when both are 0), scaled and weighted likewise;
* **satisfaction**: mean feedback score mapped from 1-5 to 0-100 after shrinking toward
  the centre's mean by ``prior_feedback`` pseudo-responses, and the share of the month's
  complaints resolved within ``resolve_within_days`` (100 without complaints);
* **skills**: the mean of the listed skill scores (:func:`telesales_lab.analysis.skills.score_skills`);
* **teamwork**: the teamwork skill score, optionally blended with the team's result
  (revenue per evaluated member, as a percentile among teams).

``total`` is the weighted sum (``[kpi.weights]``, normalised), ``grade`` the highest band
of ``[grades]`` reached, ``rank`` 1 for the highest total, equal totals sharing a rank
(competition ranking: 1, 2, 2, 4; never broken by id). With ``scope = "team"`` the
scaling is done within each team, but ranks are always across everyone evaluated.

Unknown is not a number. A dimension without data is left out rather than filled in:
sales and development when the data set has no orders at all (a call log), or when the
scaling has nobody to compare with (one person in the group); satisfaction for a rep
without feedback in the month; skills and teamwork for a rep without skill evidence.
The total is then the weighted mean of the dimensions that are known, their weights
scaled up in proportion, and ``dimensions_used`` names them, rep by rep. A rep with no
known dimension has no total, grade or rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.exceptions import ParameterError
from telesales_lab.data.cache import cached, cached_months
from telesales_lab.data.periods import month_bounds, parse_month, require_data
from telesales_lab.data.policy import DIMENSIONS, grade_at_least, grade_of, resolve_policy
from telesales_lab.data.schema import SKILLS, is_kept_order, is_person
from telesales_lab.data.monthly import (_month_ordinals, _month_rep_sums, call_month_stats, call_months,
                                        feedback_month_stats, first_order_rows)
from telesales_lab.analysis.skills import score_skills, skill_evidence_months

#: tables that an evaluation reads (its cache key)
_EVALUATION_TABLES = ("assessments", "calls", "feedback", "orders", "reps")


COLUMNS = ["rep_id", "team", "sales", "development", "satisfaction", "skills", "teamwork", "total", "grade", "rank"]
PERIODS = ("month", "quarter", "year")


# ----------------------------------------------------------------------------- scaling
def _scale(values: pd.Series, groups: pd.Series | None, method: str) -> pd.Series:
    """0-100 within each group: percentile ((rank_min - 1) / (n - 1)) or min-max."""
    v = values.astype("float64")
    g = groups if groups is not None else pd.Series(0, index=v.index)
    # one person alone in a group has nobody to be compared with: unknown, not the middle
    n = v.groupby(g).transform("count")
    if method == "percentile":
        r = v.groupby(g).rank(method="min")
        out = (r - 1) / (n - 1).where(n > 1) * 100.0
        return out.where(n > 1)
    lo, hi = v.groupby(g).transform("min"), v.groupby(g).transform("max")
    span = hi - lo
    return ((v - lo) / span.where(span > 0) * 100.0).fillna(50.0).where((n > 1) & v.notna())


def _weighted(parts: dict[str, pd.Series], weights: dict[str, float]) -> pd.Series:
    """Weighted sum of the parts; where some part is unknown (NaN), the weighted mean of the
    known ones (their weights scaled up in proportion); NaN where none is known."""
    keys = [k for k in weights if weights[k] > 0]
    if not keys:
        return sum(weights[k] * parts[k] for k in weights)
    plain = sum(weights[k] * parts[k] for k in keys)
    known_w = sum(weights[k] * parts[k].notna() for k in keys)
    partial = sum(weights[k] * parts[k].fillna(0.0) for k in keys) / known_w.where(known_w > 0)
    return plain.where(plain.notna(), partial)


def _used(parts: dict[str, pd.Series], weights: dict[str, float]) -> pd.Series:
    """Names of the parts with a weight and a value, joined by ", " (empty: none)."""
    keys = [k for k in weights if weights[k] > 0]
    index = next(iter(parts.values())).index
    names = pd.Series("", index=index, dtype="object")
    for k in keys:
        known = parts[k].notna()
        names = names.where(~known, names + np.where(names == "", "", ", ") + k)
    return names.astype("string")


def competition_rank(values: pd.Series, groups=None) -> pd.Series:
    """Competition ranking, highest first (1, 2, 2, 4): equal values share the best rank of
    their tie; never broken by id. Missing values get no rank (<NA>)."""
    v = values.astype("float64")
    r = v.groupby(groups).rank(method="min", ascending=False) if groups is not None else v.rank(
        method="min", ascending=False)
    return r.astype("Int64")


def _symmetric_change(now: pd.Series, before: pd.Series) -> pd.Series:
    mid = (now + before) / 2.0
    return ((now - before) / mid.where(mid > 0)).fillna(0.0)


# ----------------------------------------------------------------------------- raw metrics
def _sales_month_stats(data) -> dict[str, pd.DataFrame]:
    """Non-cancelled orders per month and rep, in one pass for every month (remembered).

    ``sales``: ``month`` (ordinal), ``rep_id``, ``revenue``, ``profit``, ``orders``;
    ``new``: ``month``, ``rep_id``, ``new_customers`` (customers whose first ever
    non-cancelled order, ties broken by the lowest order_id, the rep took in the month).
    Each group's amounts are summed in the table's row order, as a groupby of one month's
    orders would sum them, so the totals are the same to the last bit.
    """
    def compute():
        o = data.orders
        ok = is_kept_order(o["status"])
        o = o.loc[ok, ["order_id", "customer_id", "rep_id", "ordered_at", "amount", "profit"]]
        keys = [pd.Series(_month_ordinals(o["ordered_at"]), index=o.index, name="month"),
                o["rep_id"].astype("string")]
        sales = o.groupby(keys, observed=True).agg(revenue=("amount", "sum"), profit=("profit", "sum"),
                                                   orders=("amount", "size")).reset_index()
        first = data.orders[["ordered_at", "rep_id"]].iloc[first_order_rows(data)]  # each customer's first order
        fkeys = [pd.Series(_month_ordinals(first["ordered_at"]), index=first.index, name="month"),
                 first["rep_id"].astype("string")]
        new = first.groupby(fkeys, observed=True).size().rename("new_customers").reset_index()
        return {"sales": sales, "new": new}

    return cached(data, "sales_month_stats", ("orders",), compute)


def _feedback_month_stats(data, resolve_within_days: float) -> pd.DataFrame:
    """Feedback per month and rep (:func:`telesales_lab.analysis.skills.feedback_month_stats`) with
    ``complaints`` and ``on_time``, those resolved within ``resolve_within_days`` (remembered)."""
    def compute():
        fb = data.feedback
        complaint = fb["complaint"].fillna(False).to_numpy(bool)
        limit = pd.to_timedelta(float(resolve_within_days), unit="D")
        on_time = (complaint & (fb["resolved_at"].notna() & (fb["resolved_at"] - fb["received_at"] <= limit))
                   .to_numpy(bool))
        t = _month_rep_sums(_month_ordinals(fb["received_at"]), fb["rep_id"],
                            {"complaints": complaint, "on_time": on_time})
        return feedback_month_stats(data).merge(t[["month", "rep_id", "complaints", "on_time"]],
                                                on=["month", "rep_id"], how="left", validate="one_to_one")

    return cached(data, "feedback_on_time", ("feedback",), compute, params=(float(resolve_within_days),))


def _evaluated(data, months: list[pd.Period], policy: dict) -> pd.DataFrame:
    """People evaluated in each month: role in the policy, a person (not a placeholder
    agent), hired by its end, calling in it.

    Stacked month by month (``month`` ordinal), each month in the order of the reps table:
    ``month, rep_id, team, role, n_calls``.
    """
    reps = data.reps
    stats_ = call_month_stats(data)
    n_calls = pd.Series(stats_["n_calls"].to_numpy(),
                        index=pd.MultiIndex.from_arrays([stats_["month"], stats_["rep_id"]]))
    # placeholder agents (is_person false) are kept in funnels and totals, never evaluated
    role_ok = reps["role"].astype("string").isin(policy["kpi"]["roles"]).to_numpy(bool) & is_person(reps)
    frames = []
    for p in months:  # the reps table, once per month
        keep = role_ok & (reps["hired_on"] < (p + 1).start_time).to_numpy(bool)
        out = pd.DataFrame({"month": p.ordinal, "rep_id": reps.loc[keep, "rep_id"].astype("string").to_numpy(),
                            "team": reps.loc[keep, "team"].astype("string").to_numpy(),
                            "role": reps.loc[keep, "role"].astype("string").to_numpy()})
        out["n_calls"] = n_calls.reindex(pd.MultiIndex.from_arrays([out["month"], out["rep_id"]])).fillna(0).to_numpy(
            dtype="int64")
        frames.append(out[out["n_calls"] > 0])
    return pd.concat(frames, ignore_index=True)


def _order_values(data, people: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, dict[str, str]]]:
    """Each evaluated person's non-cancelled orders in the month (``revenue``, ``profit``,
    ``orders``, ``new_customers``) and the month before (``previous_revenue``), 0 when none.

    Also, per month, the columns that a one-month evaluation gives as whole numbers
    (``orders``, ``new_customers``: when no person, and no rep with orders the month
    before or new customers, lacks a row of the month's orders), so each month's table keeps
    the dtypes it always had.
    """
    stats_ = _sales_month_stats(data)
    sales, new = stats_["sales"], stats_["new"]
    key = pd.MultiIndex.from_arrays([people["month"], people["rep_id"]])
    s = sales.set_index(["month", "rep_id"])
    nw = new.set_index(["month", "rep_id"])["new_customers"]
    prev_key = pd.MultiIndex.from_arrays([people["month"] - 1, people["rep_id"]])
    o = pd.DataFrame({
        "revenue": s["revenue"].reindex(key).fillna(0.0).to_numpy(),
        "profit": s["profit"].reindex(key).fillna(0.0).to_numpy(),
        "orders": s["orders"].reindex(key).fillna(0.0).to_numpy(dtype="float64"),
        "new_customers": nw.reindex(key).fillna(0.0).to_numpy(dtype="float64"),
        "previous_revenue": s["revenue"].reindex(prev_key).fillna(0.0).to_numpy(),
    }, index=people.index)
    dtypes = {}
    for m in pd.unique(people["month"]):  # the reindexing a month's own order table went through
        cur = set(sales.loc[sales["month"].to_numpy() == m, "rep_id"])
        prev = set(sales.loc[sales["month"].to_numpy() == m - 1, "rep_id"])
        got_new = set(new.loc[new["month"].to_numpy() == m, "rep_id"])
        every = cur | prev | got_new
        covered = set(people.loc[people["month"].to_numpy() == m, "rep_id"]) <= every
        dtypes[int(m)] = {c: "int64" for c, whole in (("orders", every == cur), ("new_customers", every <= got_new))
                          if whole and covered}
    return o, dtypes


def _feedback_values(data, people: pd.DataFrame, policy: dict) -> pd.DataFrame:
    """Each evaluated person's feedback in the month: ``n_feedback``, ``feedback`` (0-100,
    shrunk toward the month's mean), ``complaints``, ``complaint_score``; missing without
    feedback. ``centre_feedback`` is the month's mean on the 0-100 scale."""
    cfg = policy["kpi"]["satisfaction"]
    fb = _feedback_month_stats(data, float(cfg["resolve_within_days"]))
    fb = fb[fb["month"].isin(pd.unique(people["month"]))]
    # each month's mean score (whole-number scores: the sum is exact, as a mean over rows gives it)
    totals = fb.groupby("month")[["n", "n_scored", "sx"]].sum()
    centre = {}
    for m in pd.unique(people["month"]):
        if m not in totals.index or totals.loc[m, "n"] == 0:
            centre[int(m)] = 3.0
        else:
            n_scored = int(totals.loc[m, "n_scored"])
            centre[int(m)] = float(totals.loc[m, "sx"]) / n_scored if n_scored else np.nan
    k = float(cfg["prior_feedback"])
    fb_centre = fb["month"].map(centre)
    g = pd.DataFrame({"n_feedback": fb["n"], "complaints": fb["complaints"]})
    g["feedback"] = ((fb["sx"] + k * fb_centre) / (fb["n"] + k) - 1.0) / 4.0 * 100.0
    g["complaint_score"] = (fb["on_time"] / fb["complaints"].where(fb["complaints"] > 0) * 100.0).fillna(100.0)
    g.index = pd.MultiIndex.from_arrays([fb["month"], fb["rep_id"]])
    out = g.reindex(pd.MultiIndex.from_arrays([people["month"], people["rep_id"]]))
    out.index = people.index
    out["centre_feedback"] = (people["month"].map(centre) - 1.0) / 4.0 * 100.0
    return out


# ----------------------------------------------------------------------------- evaluation
def evaluation_detail(data, month: str, policy=None, skills: pd.DataFrame | None = None) -> pd.DataFrame:
    """The monthly evaluation with the raw metrics behind each dimension.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    policy : dict or path, optional
    skills : DataFrame, optional
        :func:`telesales_lab.analysis.skills.score_skills` for the month, if already computed.

    Returns
    -------
    DataFrame
        The columns of :func:`evaluate`, then ``dimensions_used`` (the dimensions the
        total is made of, e.g. ``"sales, development, skills"``), ``role``, ``n_calls``, ``revenue``,
        ``profit``, ``orders``, ``new_customers``, ``growth``, ``n_feedback``,
        ``feedback`` (0-100), ``complaints``, ``complaint_score``, ``teamwork_skill``,
        ``team_result``.
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    if skills is not None:  # the caller's own scores: nothing to remember
        return _evaluation_details(data, [p], policy, {p: skills})[p]
    return evaluation_details(data, [p], policy)[p]


def evaluation_details(data, months: list[pd.Period], policy: dict) -> dict[pd.Period, pd.DataFrame]:
    """:func:`evaluation_detail` of each of ``months`` (a resolved policy), kept in
    ``data.cache``; the months not kept yet are evaluated together, in one pass."""
    return cached_months(data, "evaluation_detail", _EVALUATION_TABLES, months,
                         lambda missing: _evaluation_details(data, missing, policy),
                         policy=policy, sections=("kpi", "grades", "skills", "calibration"))


def _evaluation_details(data, months: list[pd.Period], policy: dict,
                        skills: dict[pd.Period, pd.DataFrame] | None = None) -> dict[pd.Period, pd.DataFrame]:
    """The evaluation of each of ``months``, computed together on the remembered per-month
    sums: every score is scaled, averaged and ranked within its own month (grouping by
    month), so each month comes out exactly as if evaluated alone."""
    have = call_months(data)
    for p in months:
        if p not in have:
            require_data(data.calls["started_at"], p)  # raises, naming the months with data
    kpi = policy["kpi"]
    people = _evaluated(data, months, policy)
    counts = people["month"].value_counts()
    for p in months:
        if counts.get(p.ordinal, 0) == 0:
            raise ParameterError(f"no one to evaluate in month {p}: nobody with role "
                                 f"{'|'.join(kpi['roles'])} made calls in it")
    month = people["month"]
    groups = [month, people["team"]] if kpi["scope"] == "team" else [month]

    o, dtypes = _order_values(data, people)
    if len(data.orders) == 0:
        # a data set without orders (a call log) has no sales results to show: unknown, not 0
        o[["revenue", "profit", "orders", "new_customers", "previous_revenue"]] = np.nan
        dtypes = {m: {} for m in dtypes}
    people = pd.concat([people, o[["revenue", "profit", "orders", "new_customers"]]], axis=1)
    people["growth"] = _symmetric_change(o["revenue"], o["previous_revenue"]).where(o["revenue"].notna())

    sales_cfg = kpi["sales"]
    people["sales"] = _weighted({k: _scale(people[k], groups, sales_cfg["scale"]) for k in sales_cfg["weights"]},
                                sales_cfg["weights"])
    dev_cfg = kpi["development"]
    people["development"] = _weighted({k: _scale(people[k], groups, dev_cfg["scale"]) for k in dev_cfg["weights"]},
                                      dev_cfg["weights"])

    f = _feedback_values(data, people, policy)
    people["n_feedback"] = f["n_feedback"].fillna(0).astype("int64")
    # no feedback for a rep: satisfaction unknown (the centre's mean is not the rep's result)
    people["feedback"] = f["feedback"].where(people["n_feedback"] > 0)
    people["complaints"] = f["complaints"].fillna(0).astype("int64")
    people["complaint_score"] = f["complaint_score"].where(people["n_feedback"] > 0)
    sat_cfg = kpi["satisfaction"]
    parts = {"feedback": people["feedback"], "complaints": people["complaint_score"]}
    if sat_cfg["scale"] != "absolute":
        parts = {k: _scale(v, groups, sat_cfg["scale"]) for k, v in parts.items()}
    people["satisfaction"] = _weighted(parts, sat_cfg["weights"])

    if skills is None:
        skills = {p: e[["rep_id", "skill", "score"]] for p, e in skill_evidence_months(data, months, policy).items()}
    scores = pd.concat([s[["rep_id", "skill", "score"]].assign(month=p.ordinal) for p, s in skills.items()],
                       ignore_index=True)
    wide = scores.pivot_table(index=["month", "rep_id"], columns="skill", values="score", observed=True)
    wide = wide.reindex(index=pd.MultiIndex.from_arrays([month, people["rep_id"]]), columns=list(SKILLS))
    wide.index = people.index
    people["skills"] = wide[kpi["skills"]["skills"]].mean(axis=1)
    people["teamwork_skill"] = wide["teamwork"]
    team_rev = people.groupby(["month", "team"])["revenue"].mean()
    team_pct = _scale(team_rev, [team_rev.index.get_level_values("month")], "percentile")
    people["team_result"] = team_pct.reindex(pd.MultiIndex.from_arrays([month, people["team"]])).to_numpy(
        dtype="float64")
    tw = kpi["teamwork"]["weights"]
    people["teamwork"] = _weighted({"skill": people["teamwork_skill"], "team_result": people["team_result"]}, tw)
    # a rep without skill evidence has no skills score: the dimension is left out of their total

    w = kpi["weights"]
    people["total"] = _weighted({d: people[d] for d in DIMENSIONS}, w)
    people["dimensions_used"] = _used({d: people[d] for d in DIMENSIONS}, w)
    for d in DIMENSIONS + ("total",):
        people[d] = people[d].clip(0.0, 100.0)
    people["grade"] = grade_of(people["total"], policy["grades"])
    people = people.sort_values(["month", "total", "rep_id"], ascending=[True, False, True], kind="stable",
                                na_position="last")
    people["rank"] = competition_rank(people["total"], people["month"])
    extra = ["dimensions_used", "role", "n_calls", "revenue", "profit", "orders", "new_customers", "growth",
             "n_feedback", "feedback", "complaints", "complaint_score", "teamwork_skill", "team_result"]
    month_of = people["month"].to_numpy()
    out = {}
    for p in months:
        e = people[month_of == p.ordinal][COLUMNS + extra].reset_index(drop=True)
        out[p] = e.astype(dtypes[p.ordinal]) if dtypes[p.ordinal] else e
    return out


def _mean_of(values: pd.Series) -> float:
    """``values.mean()`` on a fresh copy: the same arithmetic a frame of one month gets."""
    return pd.Series(values.to_numpy(dtype="float64", copy=True)).mean()


def evaluate(data, month: str, policy=None) -> pd.DataFrame:
    """The monthly KPI evaluation of every evaluated rep.

    Parameters
    ----------
    data : Dataset
        A loaded data set.
    month : str
        ``YYYY-MM``.
    policy : dict or path, optional
        Weights, scaling, grade bands and roles; the shipped defaults if None.

    Returns
    -------
    DataFrame
        One row per evaluated rep, sorted by rank:

        - ``rep_id``, ``team``
        - ``sales``, ``development``, ``satisfaction``, ``skills``, ``teamwork``: 0-100
        - ``total``: the weighted sum of the five (``[kpi.weights]``); of the known ones,
          their weights scaled up in proportion, when a dimension has no data (NaN)
        - ``grade``: the band of ``[grades]`` the total reaches
        - ``rank``: 1 = highest total; equal totals share a rank (1, 2, 2, 4)

    Raises
    ------
    PolicyError
        For a bad policy. ParameterError if nobody can be evaluated in the month.
    """
    return evaluation_detail(data, month, policy)[COLUMNS]


def translate(frame: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Display copy of an evaluation table with ``lang`` column labels.

    Like :func:`telesales_lab.labels.translate_columns`, except that ``sales`` is labelled as
    the sales-results dimension (elsewhere, e.g. in the funnel, it is a count of sales).
    """
    from telesales_lab.labels import translate_columns

    return translate_columns(frame, lang, context="evaluation")


def team_summary(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Team means of an evaluation (:func:`evaluate` or :func:`evaluate_period`).

    Returns
    -------
    DataFrame
        One row per team, best mean total first: ``team, n_reps, sales, development,
        satisfaction, skills, teamwork, total, best_rep_id`` (the team's best rank).
    """
    g = evaluation.groupby("team", observed=True)
    out = g[list(DIMENSIONS) + ["total"]].mean()
    out.insert(0, "n_reps", g.size())
    out["best_rep_id"] = evaluation.sort_values("rank").groupby("team", observed=True)["rep_id"].first()
    out = out.reset_index().sort_values(["total", "team"], ascending=[False, True], kind="stable")
    out["team"] = out["team"].astype("string")
    out["best_rep_id"] = out["best_rep_id"].astype("string")
    return out.reset_index(drop=True)


def kpi_trend(data, month: str, months: int = 6, policy=None) -> pd.DataFrame:
    """Team means of the monthly evaluation over the ``months`` months ending with ``month``.

    Months without calls are skipped.

    Returns
    -------
    DataFrame
        One row per month and team, plus one per month with team ``overall`` (everyone
        evaluated): ``month, team, n_reps, sales, development, satisfaction, skills,
        teamwork, total``, sorted by month and team.
    """
    if int(months) < 1:
        raise ParameterError(f"months == {months!r}, must be >= 1")
    policy = resolve_policy(policy)
    end = parse_month(month)
    have = call_months(data)
    if end not in have:
        require_data(data.calls["started_at"], end)  # raises, naming the months with data
    wanted = [m for m in pd.period_range(end - (int(months) - 1), end, freq="M") if m in have]
    monthly = _monthly(data, wanted, policy)
    cols = list(DIMENSIONS) + ["total"]
    teams = monthly.groupby(["month", "team"], observed=True)
    by_team = teams[cols].mean().join(teams.size().rename("n_reps")).reset_index()
    allm = monthly.groupby("month", observed=True)
    overall = allm[cols].mean().join(allm.size().rename("n_reps")).reset_index().assign(team="overall")
    out = pd.concat([by_team, overall], ignore_index=True)
    out = out.sort_values(["month", "team"], kind="stable").reset_index(drop=True)
    out["month"] = out["month"].astype("string")
    out["team"] = out["team"].astype("string")
    return out[["month", "team", "n_reps"] + cols]


# ----------------------------------------------------------------------------- periods
def _period_months(data, period: str, end_month: str) -> list[pd.Period]:
    if period not in PERIODS:
        raise ParameterError(f"period == {period!r}, must be one of {'|'.join(PERIODS)}")
    end = parse_month(end_month)
    if period == "month":
        first = end
    elif period == "quarter":
        first = pd.Period(year=end.year, month=3 * ((end.month - 1) // 3) + 1, freq="M")
    else:
        first = pd.Period(year=end.year, month=1, freq="M")
    have = call_months(data)
    months = [m for m in pd.period_range(first, end, freq="M") if m in have]
    if end not in have:
        require_data(data.calls["started_at"], end)  # raises, naming the months with data
    return months


def _prefetch_skills(data, months: list[pd.Period], policy: dict) -> None:
    """Compute (and remember) the skill scores of the months not remembered yet in one pass,
    so the monthly evaluations that follow find them; months without data are left to
    raise where they did before."""
    try:
        skill_evidence_months(data, [m for m in months if m in call_months(data)], policy)
    except ParameterError:
        pass


def _evaluable(data, months: list[pd.Period], policy: dict) -> list[pd.Period]:
    """The months (of ``months``) with calls and someone to evaluate in them."""
    have = call_months(data)
    months = [m for m in months if m in have]
    if not months:
        return []
    found = set(_evaluated(data, months, policy)["month"])
    return [m for m in months if m.ordinal in found]


def _monthly(data, months: list[pd.Period], policy: dict) -> pd.DataFrame:
    """:func:`evaluation_detail` of each month (those with someone to evaluate), stacked with
    a ``month`` column."""
    ok = _evaluable(data, months, policy)
    if not ok:
        raise ParameterError(f"no one to evaluate in {months[0]}..{months[-1]}")
    evaluations = evaluation_details(data, ok, policy)  # the months not remembered yet, in one pass
    return pd.concat([evaluations[m].assign(month=str(m)) for m in ok], ignore_index=True)


def evaluate_period(data, period: str = "quarter", end_month: str | None = None, policy=None) -> pd.DataFrame:
    """The evaluation of a quarter or a year: the mean of its monthly scores.

    Parameters
    ----------
    data : Dataset
    period : {"month", "quarter", "year"}
        The calendar quarter or year containing ``end_month``, from its first month up to
        ``end_month`` (months without calls are skipped).
    end_month : str
        ``YYYY-MM``.
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per person evaluated in at least one month of the period, by rank:
        ``rep_id, team, period, n_months, sales, development, satisfaction, skills,
        teamwork, total, grade, rank, n_calls, min_calls, dimensions_used``; the scores are the means over
        the months the rep was evaluated, ``total`` the weighted sum of those means (= the
        mean of the monthly totals), ``period`` e.g. ``2026Q4`` or ``2026``, ``n_calls``
        the calls in the period and ``min_calls`` the fewest in one of its months.
    """
    if end_month is None:
        raise ParameterError("end_month is required, e.g. end_month='2026-10'")
    policy = resolve_policy(policy)
    months = _period_months(data, period, end_month)
    monthly = _monthly(data, months, policy)
    return _period_table(monthly, period, parse_month(end_month), policy)


def _period_label(period: str, end: pd.Period) -> str:
    if period == "quarter":
        return f"{end.year}Q{(end.month - 1) // 3 + 1}"
    if period == "year":
        return str(end.year)
    return str(end)


def _period_table(monthly: pd.DataFrame, period: str, end: pd.Period, policy: dict) -> pd.DataFrame:
    g = monthly.groupby("rep_id", observed=True)
    out = g[list(DIMENSIONS)].mean()
    out["team"] = g["team"].last()
    out["n_months"] = g.size()
    out["n_calls"] = g["n_calls"].sum()
    out["min_calls"] = g["n_calls"].min()
    out = out.reset_index()
    w = policy["kpi"]["weights"]
    out["total"] = _weighted({d: out[d] for d in DIMENSIONS}, w)
    out["dimensions_used"] = _used({d: out[d] for d in DIMENSIONS}, w)
    out["grade"] = grade_of(out["total"], policy["grades"])
    out["period"] = _period_label(period, end)
    out = out.sort_values(["total", "rep_id"], ascending=[False, True], kind="stable", na_position="last")
    out["rank"] = competition_rank(out["total"])
    out.attrs["n_period_months"] = int(monthly["month"].nunique())
    cols = ["rep_id", "team", "period", "n_months", *DIMENSIONS, "total", "grade", "rank"]
    return out[cols + ["n_calls", "min_calls", "dimensions_used"]].reset_index(drop=True)


# ----------------------------------------------------------------------------- awards
def _open_complaints(data, months: list[pd.Period]) -> pd.Series:
    start, _ = month_bounds(months[0])
    _, end = month_bounds(months[-1])
    fb = data.feedback
    received = (fb["received_at"] >= start) & (fb["received_at"] < end)
    open_ = received & fb["complaint"].fillna(False) & ~(fb["resolved_at"] < end).fillna(False)
    sel = fb.loc[open_.to_numpy(bool)]
    return sel.groupby(sel["rep_id"].astype("string"), observed=True).size()


def award_candidates(data, month: str, period: str = "month", policy=None) -> pd.DataFrame:
    """The best rep of the month, quarter or year, per team and overall.

    A rep is eligible when, in every month of the period that they were evaluated, they
    made at least ``[awards] min_calls_per_month`` calls, they were evaluated in every
    month of the period that has data, their period grade is ``min_grade`` or better,
    and at most ``max_open_complaints`` complaints received in the period are still open
    at its end.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``: the month, or the last month of the quarter / year so far.
    period : {"month", "quarter", "year"}
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per scope (each team, then ``overall``): ``period, scope, rep_id, team,
        total, grade, margin, n_eligible``. ``margin`` is the lead in total points over
        the next eligible rep of the scope (0 when several share the top total: then
        ``rep_id`` lists each of them, separated by ``"; "``); ``rep_id`` is empty when
        nobody is eligible.
    """
    policy = resolve_policy(policy)
    if period not in PERIODS:
        raise ParameterError(f"period == {period!r}, must be one of {'|'.join(PERIODS)}")
    p = parse_month(month)
    # remembered per month, period and policy: the KPI page and the coaching packs ask for it
    return cached(data, "award_candidates", _EVALUATION_TABLES, lambda: _award_candidates(data, p, period, policy),
                  month=p, policy=policy, sections=tuple(sorted(policy)), params=(period,))


def _award_candidates(data, p: pd.Period, period: str, policy: dict) -> pd.DataFrame:
    month = str(p)
    months = _period_months(data, period, month)
    table = _period_table(_monthly(data, months, policy), period, parse_month(month), policy)
    rules = policy["awards"]
    open_c = _open_complaints(data, months)
    n_months = len(months)
    eligible = (
        (table["min_calls"] >= rules["min_calls_per_month"]).to_numpy(bool)
        & (table["n_months"] == n_months).to_numpy(bool)
        & grade_at_least(table["grade"], rules["min_grade"], policy["grades"]).to_numpy(bool)
        & (table["rep_id"].map(open_c).fillna(0) <= rules["max_open_complaints"]).to_numpy(bool)
    )
    # the few columns the candidates show: each team's slice below copies only these
    ok = table.loc[eligible, ["rep_id", "team", "total", "grade", "rank"]].sort_values("rank", kind="stable")
    label = _period_label(period, parse_month(month))
    rows = []
    scopes = [(t, ok[ok["team"] == t]) for t in sorted(table["team"].unique())] + [("overall", ok)]
    for scope, cand in scopes:  # a few teams, not reps
        if cand.empty:
            rows.append({"period": label, "scope": scope, "rep_id": pd.NA,
                         "team": scope if scope != "overall" else pd.NA,
                         "total": np.nan, "grade": pd.NA, "margin": np.nan, "n_eligible": 0})
            continue
        best = cand.iloc[0]
        # equal totals share the award: every rep of the top tie is named, none chosen by id
        top = cand[cand["total"] == best["total"]]
        rest = cand[cand["total"] < best["total"]]
        margin = best["total"] - rest.iloc[0]["total"] if len(rest) else np.nan
        if len(top) > 1:
            margin = 0.0
        teams = pd.unique(top["team"].astype("string"))
        rows.append({"period": label, "scope": scope, "rep_id": "; ".join(top["rep_id"].astype(str)),
                     "team": teams[0] if len(teams) == 1 else "; ".join(str(t) for t in teams),
                     "total": best["total"], "grade": best["grade"], "margin": margin, "n_eligible": len(cand)})
    out = pd.DataFrame(rows)
    for c in ("period", "scope", "rep_id", "team", "grade"):
        out[c] = out[c].astype("string")
    out["n_eligible"] = out["n_eligible"].astype("int64")
    return out


# ----------------------------------------------------------------------------- promotion
_NEXT_ROLE = {"rep": "team_lead", "team_lead": "supervisor"}


def promotion_readiness(data, month: str, policy=None) -> pd.DataFrame:
    """Who is ready for the next step of the career path: rep -> team lead -> supervisor.

    Rules per step in ``[promotion.<next role>]``: at least ``min_tenure_months`` since
    hiring (to the month's end); a grade of ``min_grade`` or better in each of the last
    ``grade_streak`` months (ending with ``month``; people are compared with others of
    their own role); and every skill score at least ``min_skill``.

    Returns
    -------
    DataFrame
        One row per rep and team lead evaluated in ``month``, ready first:
        ``rep_id, team, role, next_role, tenure_months, grade, grade_streak, min_skill,
        weakest_skill, meets_tenure, meets_grades, meets_skills, ready``.
        ``grade_streak`` counts consecutive months at ``min_grade`` or better, up to the
        rule's length.
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    # remembered per month and policy: the KPI page, the training page's career table and
    # the coaching packs all ask for it
    return cached(data, "promotion_readiness", _EVALUATION_TABLES, lambda: _promotion_readiness(data, p, policy),
                  month=p, policy=policy, sections=tuple(sorted(policy)))


def _promotion_readiness(data, p: pd.Period, policy: dict) -> pd.DataFrame:
    month = str(p)
    _, end = month_bounds(p)
    have = call_months(data)
    longest = max(int(policy["promotion"][nxt]["grade_streak"]) for nxt in _NEXT_ROLE.values())
    run = []  # the months of the longest streak, newest first, up to the first without calls
    for m in (p - i for i in range(longest)):
        if m not in have:
            break
        run.append(m)
    _prefetch_skills(data, run, policy)
    skills = score_skills(data, month, policy)
    low = skills.sort_values(["rep_id", "score"], kind="stable").drop_duplicates("rep_id").set_index("rep_id")
    frames = []
    for role, nxt in _NEXT_ROLE.items():  # two steps of the career path
        rules = policy["promotion"][nxt]
        pol = {**policy, "kpi": {**policy["kpi"], "roles": [role]}}
        months = [p - i for i in range(int(rules["grade_streak"]))]
        ok = _evaluable(data, months, pol)
        run = months[:next((i for i, m in enumerate(months) if m not in ok), len(months))]  # newest first, no gap
        evaluations = evaluation_details(data, run, resolve_policy(pol)) if run else {}
        grades = [evaluations[m].set_index("rep_id")["grade"].rename(str(m)) for m in run]
        if not grades:
            continue
        g = pd.concat(grades, axis=1)
        ok = pd.DataFrame({c: grade_at_least(g[c], rules["min_grade"], policy["grades"]).to_numpy()
                           for c in g.columns}, index=g.index)
        streak = ok.cumprod(axis=1).sum(axis=1).astype("int64")
        current = g.iloc[:, 0].dropna()
        reps = data.reps.assign(rep_id=data.reps["rep_id"].astype("string")).set_index("rep_id")
        hired = reps["hired_on"].reindex(current.index)
        tenure = ((end.year - hired.dt.year) * 12 + (end.month - hired.dt.month)
                  - (hired.dt.day > 1).astype(int)).clip(lower=0)
        f = pd.DataFrame({
            "rep_id": current.index.astype("string"),
            "team": reps["team"].reindex(current.index).astype("string").to_numpy(),
            "role": role, "next_role": nxt,
            "tenure_months": tenure.to_numpy().astype("int64"),
            "grade": current.to_numpy(),
            "grade_streak": streak.reindex(current.index).to_numpy(),
            "min_skill": low["score"].reindex(current.index).to_numpy(float),
            "weakest_skill": low["skill"].astype("string").reindex(current.index).to_numpy(),
        })
        f["meets_tenure"] = f["tenure_months"] >= rules["min_tenure_months"]
        f["meets_grades"] = f["grade_streak"] >= int(rules["grade_streak"])
        f["meets_skills"] = f["min_skill"] >= rules["min_skill"]
        f["ready"] = f["meets_tenure"] & f["meets_grades"] & f["meets_skills"]
        frames.append(f)
    if not frames:
        raise ParameterError(f"no reps or team leads to assess for promotion in month {month}")
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["ready", "role", "grade_streak", "min_skill", "rep_id"],
                          ascending=[False, True, False, False, True], kind="stable").reset_index(drop=True)
    for c in ("role", "next_role", "grade", "weakest_skill"):
        out[c] = out[c].astype("string")
    return out
