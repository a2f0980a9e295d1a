"""Sales targets: attainment, a month-end forecast with an interval, and team roll-ups.

Everything here works on **daily sums per rep** (:func:`daily_sums`), computed once per
data set and remembered: one row per (day, rep) with each target metric and the dials.

The metrics (the ``metric`` column of the ``targets`` table):

========================  =====================================================================
``revenue``               amount of the rep's orders placed that day, not cancelled
``profit``                profit of those orders
``orders``                number of those orders
``new_customers``         customers whose first ever non-cancelled order (ties: lowest order_id)
                          the rep took that day (as in the monthly evaluation)
``connected_calls``       the rep's calls that day whose outcome is not ``no_answer``
``sales``                 the rep's calls that day ending ``sale``
========================  =====================================================================

**Forecast.** For a month cut at ``as_of`` (inclusive), each rep's month-end value is the
month-to-date actual plus the expected rest of the month:

* *day weights* ``w_d``: how much of a metric a day usually carries, from the
  ``history_months`` before the month: the centre's weekday profile of that metric (Sunday
  light, Saturday partial in a Mon-Sat operation), times the team's *month shape* (its usual
  share in days 1-10, 11-20 and 21-end, against what the weekday profile predicts; shrunk
  toward 1 by three days' worth of volume). A plain Mon-Fri run rate is the special case of
  weights 1 on work days and 0 otherwise;
* the rep's *rate* per unit of weight: a precision-weighted blend of the rep's own rate in
  the history months (``r_h``) and this month so far, ``(X + k r_h) / (W + k)``. ``k = s² / τ²``
  compares the rep's day-to-day spread ``s²`` (per unit weight, from the rep's own daily
  sums) with how much a rep's rate moves between months (``τ² = c² r_h²``, ``c²`` pooled
  over all reps: the month-to-month variance of a rep's rate beyond what daily noise
  explains). Early in the month the history dominates; by the 20th the month's own pace
  does. Reps without history take their team's median rate and spread;
* forecast = ``X + rate × W_rest``; its variance ``s² W_rest + W_rest² s² / (k + W)`` (the
  rest of the month's own noise and the rate's uncertainty); the interval is the normal one
  at ``[targets] level``, never below the month-to-date actual for metrics that cannot fall.

``status`` compares the interval with the target: ``ahead`` when even ``forecast_low``
reaches it, ``at_risk`` when even ``forecast_high`` falls short, ``on_track`` otherwise.
Team rows add their reps (variances added: reps' months are treated as independent).

**Team targets.** Where only the team has a target for a month and metric, it is split over
the team's reps (roles ``[targets] split_roles``, hired by the month's end) by
``[targets] split``: ``last_quarter`` (each rep's share of the team's result in the three
months before; a rep with no result there gets an equal share ``1/n``, the others share
the rest by their results; a team with no result splits equally) or ``equal``.

:func:`backtest` replays the forecast at given days of past months and compares it with
the month-end actual; :func:`backtest_summary` gives its mean absolute percentage error and
interval coverage beside the plain and work-day run rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from telesales_lab.data.cache import cached
from telesales_lab.data.monthly import first_order_rows
from telesales_lab.data.periods import parse_month
from telesales_lab.data.policy import resolve_policy
from telesales_lab.data.schema import TARGET_METRICS, is_connected, is_kept_order
from telesales_lab.exceptions import ParameterError

#: Columns of :func:`targets`.
COLUMNS = ["rep_id", "team", "metric", "target", "actual", "attainment", "forecast", "forecast_low",
           "forecast_high", "status"]
STATUSES = ("ahead", "on_track", "at_risk")
#: Metrics that cannot go down during a month (the interval is floored at the actual).
_MONOTONE = ("revenue", "orders", "new_customers", "connected_calls", "sales")
_BINS = (0, 10, 20)  # month-shape periods start after these day numbers (1-10, 11-20, 21-end)
_NO_TARGETS = "no targets set"


# ----------------------------------------------------------------------------- daily sums
def daily_sums(data) -> pd.DataFrame:
    """Each rep's daily results (remembered on the data set).

    Returns
    -------
    DataFrame
        One row per (day, rep) with any call or order: ``day`` (datetime64, midnight),
        ``rep_id``, ``revenue``, ``profit``, ``orders``, ``new_customers``,
        ``connected_calls``, ``sales``, ``dials`` (floats; 0 where the rep had none).
    """
    def compute():
        o = data.orders
        ok = is_kept_order(o["status"])
        o = o.loc[ok, ["order_id", "customer_id", "rep_id", "ordered_at", "amount", "profit"]]
        o_day = o["ordered_at"].to_numpy("datetime64[ns]").astype("datetime64[D]")
        parts = [pd.DataFrame({"day": o_day, "rep_id": o["rep_id"].astype("string").to_numpy(),
                               "revenue": o["amount"].to_numpy(float), "profit": o["profit"].to_numpy(float),
                               "orders": 1.0})]
        first = data.orders[["ordered_at", "rep_id"]].iloc[first_order_rows(data)]  # each customer's first order
        parts.append(pd.DataFrame({"day": first["ordered_at"].to_numpy("datetime64[ns]").astype("datetime64[D]"),
                                   "rep_id": first["rep_id"].astype("string").to_numpy(), "new_customers": 1.0}))
        parts = [p.groupby(["day", "rep_id"], sort=False, observed=True).sum(min_count=0).reset_index()
                 for p in parts]
        parts.append(_daily_call_counts(data.calls))
        # one row per (day, rep) and part: each metric comes from one part, so the sums below
        # add one number to NaNs and are the part's own sums
        frame = pd.concat(parts, ignore_index=True)
        frame["day"] = frame["day"].astype("datetime64[ns]")
        cols = list(TARGET_METRICS) + ["dials"]
        out = frame.groupby(["day", "rep_id"], sort=True, observed=True)[cols].sum(min_count=0).reset_index()
        out[cols] = out[cols].fillna(0.0)
        return out

    return cached(data, "daily_sums", ("orders", "calls"), compute)


def _daily_call_counts(c: pd.DataFrame) -> pd.DataFrame:
    """Dials, connected calls and sales per (day, rep) with any call: integer codes counted
    with ``numpy.bincount`` (a million calls never grouped by their rep id text)."""
    day = c["started_at"].to_numpy("datetime64[ns]").astype("datetime64[D]")
    rep, reps = pd.factorize(c["rep_id"].astype("string"))
    ok = (rep >= 0) & ~np.isnat(day)
    d = day[ok].astype("int64")
    weights = {"connected_calls": is_connected(c["outcome"])[ok].astype(float),
               "sales": (c["outcome"] == "sale").to_numpy(bool)[ok].astype(float)}
    if not len(d):
        return pd.DataFrame({"day": np.zeros(0, "datetime64[ns]"), "rep_id": np.zeros(0, object),
                             **{k: np.zeros(0) for k in weights}, "dials": np.zeros(0)})
    first = int(d.min())
    key = (d - first) * len(reps) + rep[ok]
    cells, inv = np.unique(key, return_inverse=True)
    out = {"day": (cells // len(reps) + first).astype("datetime64[D]").astype("datetime64[ns]"),
           "rep_id": np.asarray(reps, dtype=object)[cells % len(reps)]}
    for name, w in weights.items():
        out[name] = np.bincount(inv, weights=w, minlength=len(cells))
    out["dials"] = np.bincount(inv, minlength=len(cells)).astype(float)
    return pd.DataFrame(out)


def _cube(daily: pd.DataFrame, rep_ids: np.ndarray, start: pd.Timestamp, n_days: int,
          metrics) -> np.ndarray:
    """``[metric, rep, day]`` array of daily sums from ``start`` for ``n_days`` days (0 where none)."""
    out = np.zeros((len(metrics), len(rep_ids), n_days))
    if not len(daily) or not len(rep_ids):
        return out
    day = ((daily["day"].to_numpy("datetime64[D]") - np.datetime64(start.date(), "D"))
           .astype("int64"))
    rep = pd.Index(rep_ids).get_indexer(daily["rep_id"])
    keep = (day >= 0) & (day < n_days) & (rep >= 0)
    values = daily[list(metrics)].to_numpy(float)[keep]
    out[:, rep[keep], day[keep]] = values.T
    return out


# ----------------------------------------------------------------------------- team split
def rep_targets(data, month: str, policy=None) -> pd.DataFrame:
    """Every rep's target for the month, team targets split over their reps.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    policy : dict or path, optional
        ``[targets] split`` and ``split_roles`` decide the split.

    Returns
    -------
    DataFrame
        One row per rep and metric: ``rep_id, team, metric, target, source`` (``rep``: set
        for the rep; ``team_split``: the rep's part of the team target), ``share`` (of the
        team target; missing for ``rep``), ``team_target`` (the team's own target, when one
        is set). Empty when the data set has no targets for the month.
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    cols = ["rep_id", "team", "metric", "target", "source", "share", "team_target"]
    if not data.has("targets"):
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("target", "share", "team_target") else "string")
                             for c in cols})
    t = data.targets
    t = t[(t["month"].astype("string") == str(p)).to_numpy(bool)]
    reps = data.reps
    team_of = pd.Series(reps["team"].astype("string").to_numpy(), index=reps["rep_id"].astype("string").to_numpy())
    own = t[t["rep_id"].notna().to_numpy(bool)]
    rows = pd.DataFrame({"rep_id": own["rep_id"].astype("string").to_numpy(),
                         "metric": own["metric"].astype("string").to_numpy(),
                         "target": own["target"].to_numpy(float)})
    rows["team"] = rows["rep_id"].map(team_of).astype("string")
    rows["source"], rows["share"] = "rep", np.nan
    team_t = t[t["team"].notna().to_numpy(bool)]
    team_t = pd.DataFrame({"team": team_t["team"].astype("string").to_numpy(),
                           "metric": team_t["metric"].astype("string").to_numpy(),
                           "team_target": team_t["target"].to_numpy(float)})
    covered = set(zip(rows["team"], rows["metric"]))
    split = team_t[[(tm, m) not in covered for tm, m in zip(team_t["team"], team_t["metric"])]]
    parts = [rows]
    if len(split):
        cfg = policy["targets"]
        hired = reps["hired_on"] < (p + 1).start_time
        members = reps[(reps["role"].astype("string").isin(cfg["split_roles"]) & hired).to_numpy(bool)]
        members = pd.DataFrame({"rep_id": members["rep_id"].astype("string").to_numpy(),
                                "team": members["team"].astype("string").to_numpy()})
        m = split.merge(members, on="team", how="inner")
        if len(m):
            start = (p - 3).start_time
            daily = daily_sums(data)
            window = daily[((daily["day"] >= start) & (daily["day"] < p.start_time)).to_numpy(bool)]
            past = window.groupby("rep_id")[list(TARGET_METRICS)].sum()
            result = np.array([past[metric].get(r, 0.0) if metric in past else 0.0
                               for r, metric in zip(m["rep_id"], m["metric"])]) if len(past) else np.zeros(len(m))
            m["result"] = result
            g = m.groupby(["team", "metric"])
            n = g["rep_id"].transform("size").to_numpy(float)
            total = g["result"].transform("sum").to_numpy(float)
            zero = m["result"].to_numpy() <= 0
            n_zero = m.assign(z=zero).groupby(["team", "metric"])["z"].transform("sum").to_numpy(float)
            if cfg["split"] == "equal":
                share = 1.0 / n
            else:
                by_result = (1.0 - n_zero / n) * m["result"].to_numpy() / np.where(total > 0, total, 1.0)
                share = np.where(total <= 0, 1.0 / n, np.where(zero, 1.0 / n, by_result))
            m["share"] = share
            m["target"] = m["team_target"].to_numpy() * share
            m["source"] = "team_split"
            parts.append(m.drop(columns=["result", "team_target"]))
    out = pd.concat(parts, ignore_index=True)
    out = out.merge(team_t, on=["team", "metric"], how="left")
    out = out.sort_values(["metric", "team", "rep_id"], kind="stable").reset_index(drop=True)
    for c in ("rep_id", "team", "metric", "source"):
        out[c] = out[c].astype("string")
    return out[cols]


# ----------------------------------------------------------------------------- the forecast model
def _default_as_of(data, p: pd.Period) -> pd.Timestamp:
    """The month's last day, or the last day with data if the data ends earlier."""
    daily = daily_sums(data)
    last = daily["day"].max() if len(daily) else p.start_time
    return min(p.end_time.normalize(), max(last, p.start_time))


def parse_as_of(as_of, p: pd.Period) -> pd.Timestamp:
    """``as_of`` as a day of the month ``p``; anything else is a ParameterError."""
    try:
        t = pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError):
        raise ParameterError(f"as_of == {as_of!r}, must be a date YYYY-MM-DD") from None
    if not (p.start_time <= t <= p.end_time):
        raise ParameterError(f"as_of == {as_of!r}, must be a day of the month {p} "
                             f"({p.start_time.date()} to {p.end_time.date()})")
    return t


def _weights(hist: np.ndarray, hist_days: pd.DatetimeIndex, team_codes: np.ndarray, n_teams: int,
             days: pd.DatetimeIndex) -> np.ndarray:
    """Day weights ``[team, day]`` of one metric for the month's ``days``.

    ``hist`` is ``[rep, history day]``. The centre's weekday profile (each weekday's mean
    daily total, relative to the busiest weekday) times the team's month shape.
    """
    wd_hist = hist_days.day_of_week.to_numpy()
    centre = hist.sum(axis=0)
    prof = np.array([centre[wd_hist == k].mean() if (wd_hist == k).any() else np.nan for k in range(7)])
    if not np.isfinite(prof).any() or np.nanmax(prof) <= 0:
        prof = np.where(np.arange(7) < 5, 1.0, 0.0)  # no history: Mon-Fri
    prof = np.nan_to_num(prof / np.nanmax(prof), nan=0.0)
    prof = np.maximum(prof, 0.01)  # a day with occasional results never has weight 0
    # the team's month shape: observed over expected in days 1-10, 11-20, 21-end, shrunk toward 1
    team_hist = np.zeros((n_teams, hist.shape[1]))
    np.add.at(team_hist, team_codes, hist)
    exp_day = prof[wd_hist]
    bin_hist = np.searchsorted(_BINS, hist_days.day.to_numpy(), side="left") - 1
    shape = np.ones((n_teams, len(_BINS)))
    months = hist_days.to_period("M").to_numpy()
    total = team_hist.sum(axis=1)
    scale = total / max(exp_day.sum(), 1e-12)  # a team's volume per unit weight
    for b in range(len(_BINS)):
        sel = bin_hist == b
        if not sel.any():
            continue
        obs = team_hist[:, sel].sum(axis=1)
        exp = scale * exp_day[sel].sum()
        per_day = exp / max(sel.sum() / max(len(set(months)), 1), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            shape[:, b] = (obs + 3 * per_day) / (exp + 3 * per_day)
    shape = np.where(np.isfinite(shape), shape, 1.0)
    bins_month = np.searchsorted(_BINS, days.day.to_numpy(), side="left") - 1
    return prof[days.day_of_week.to_numpy()][None, :] * shape[:, bins_month]


def _model(data, month: pd.Period, as_of: pd.Timestamp, rep_ids: np.ndarray, teams: np.ndarray,
           metrics, policy: dict, daily: pd.DataFrame | None = None,
           hired_on: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Forecast arrays ``[metric, unit]``: ``actual``, ``forecast``, ``sd``, ``rate``, ``w_rest`` ...

    The units are reps (``daily`` and ``hired_on`` from the data set), or any other units
    given their own daily sums (``rep_id`` naming the unit) and start dates: teams.
    """
    cfg = policy["targets"]
    n_hist_m = int(cfg["history_months"])
    daily = daily_sums(data) if daily is None else daily
    days = pd.date_range(month.start_time, month.end_time.normalize(), freq="D")
    h_start = (month - n_hist_m).start_time
    hist_days = pd.date_range(h_start, month.start_time - pd.Timedelta(days=1), freq="D")
    cube = _cube(daily, rep_ids, month.start_time, len(days), metrics)
    hist = _cube(daily, rep_ids, h_start, len(hist_days), metrics)
    team_index = pd.Index(pd.unique(teams))
    team_codes = team_index.get_indexer(teams)
    if hired_on is None:
        hired = data.reps.set_index(data.reps["rep_id"].astype("string"))["hired_on"]
        hired_on = hired.reindex(rep_ids).to_numpy("datetime64[ns]")
    # days a rep was on the books (history days before hire carry no information)
    avail_h = hist_days.to_numpy()[None, :] >= hired_on[:, None]
    avail_m = days.to_numpy()[None, :] >= hired_on[:, None]
    cut = int((as_of - month.start_time).days) + 1  # days 1..cut are known
    known = np.arange(len(days)) < cut
    z = special.ndtri(0.5 + cfg["level"] / 2)  # scipy.stats.norm.ppf

    out = {k: np.full((len(metrics), len(rep_ids)), np.nan) for k in
           ("actual", "forecast", "sd", "low", "high", "rate", "w_known", "w_rest", "final")}
    for i, metric in enumerate(metrics):  # six metrics at most; everything inside is [rep, day]
        w_month = _weights(hist[i], hist_days, team_codes, len(team_index), days)[team_codes]
        w_hist = _weights(hist[i], hist_days, team_codes, len(team_index), hist_days)[team_codes]
        x, xh = cube[i], hist[i]
        w_k = (w_month * (known & avail_m)).sum(axis=1)
        w_r = (w_month * (~known & avail_m)).sum(axis=1)
        x_k = (x * known).sum(axis=1)
        wh = w_hist * avail_h
        W_h = wh.sum(axis=1)
        X_h = (xh * avail_h).sum(axis=1)
        n_h = avail_h.sum(axis=1)
        r_h = np.where(W_h > 0, X_h / np.where(W_h > 0, W_h, 1), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            resid = np.where(avail_h, (xh - r_h[:, None] * w_hist) ** 2 / w_hist, 0.0)
            s2 = np.where(n_h > 1, resid.sum(axis=1) / np.maximum(n_h - 1, 1), np.nan)
        has_hist = (n_h >= 10) & np.isfinite(r_h)
        # reps without enough history: the team's median rate and dispersion (s² / rate)
        disp = np.where(has_hist & (r_h > 0), s2 / np.where(r_h > 0, r_h, 1), np.nan)
        frame = pd.DataFrame({"team": team_codes, "r": np.where(has_hist, r_h, np.nan), "d": disp})
        team_r = frame.groupby("team")["r"].transform("median").to_numpy()
        team_d = frame.groupby("team")["d"].transform("median").to_numpy()
        centre_r, centre_d = np.nanmedian(frame["r"]) if frame["r"].notna().any() else 0.0, (
            np.nanmedian(frame["d"]) if frame["d"].notna().any() else 1.0)
        team_r = np.where(np.isfinite(team_r), team_r, centre_r)
        team_d = np.where(np.isfinite(team_d), team_d, centre_d)
        prior_r = np.where(has_hist, r_h, team_r)
        s2 = np.where(has_hist & (s2 > 0), s2, team_d * np.maximum(np.where(has_hist, r_h, team_r), 1e-9))
        # good and bad days come in runs (a campaign, a slow week): sums over ten days vary more
        # than independent days would make them; the pooled ratio widens the daily spread
        s2 = s2 * _run_factor(xh, w_hist, avail_h, hist_days, s2, has_hist)
        # month-to-month movement of a rep's rate, pooled: c² = E[(r_m - r_h)² - s²/W_m] / r_h²
        c2 = _between_month_c2(xh, w_hist, avail_h, hist_days, r_h, s2, has_hist)
        # how far this month's rate may sit from the prior: the month-to-month movement, plus the
        # prior's own error (a mean of a few months, each with its daily noise); reps starting
        # from the team median carry the spread of rates between the team's reps
        n_m = max(len(pd.unique(hist_days.to_period("M"))), 1)
        spread = pd.Series(np.where(has_hist, r_h, np.nan)).groupby(team_codes).transform("var").to_numpy()
        spread = np.where(np.isfinite(spread), spread, np.nanvar(np.where(has_hist, r_h, np.nan))
                          if has_hist.sum() > 1 else prior_r ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            tau2 = np.where(has_hist, c2 * prior_r ** 2 * (1 + 1 / n_m) + s2 / np.where(W_h > 0, W_h, np.inf),
                            c2 * prior_r ** 2 + spread)
        tau2 = np.maximum(tau2, 1e-12)
        k = s2 / tau2
        rate = (x_k + k * prior_r) / (w_k + k)
        var = s2 * w_r + w_r ** 2 * s2 / (k + w_k)
        forecast = x_k + rate * w_r
        sd = np.sqrt(np.maximum(var, 0.0))
        low, high = forecast - z * sd, forecast + z * sd
        if metric in _MONOTONE:
            low = np.maximum(low, x_k)
        out["actual"][i], out["forecast"][i], out["sd"][i] = x_k, forecast, sd
        out["low"][i], out["high"][i], out["rate"][i] = low, high, rate
        out["w_known"][i], out["w_rest"][i] = w_k, w_r
        out["final"][i] = (x * avail_m).sum(axis=1)  # the month's end (for backtests only)
        out.setdefault("plain", np.full_like(out["actual"], np.nan))
        out.setdefault("workday", np.full_like(out["actual"], np.nan))
        out["plain"][i] = x_k / cut * len(days)
        bus = np.is_busday(days.to_numpy().astype("datetime64[D]"))
        n_bus_known = max(int(bus[:cut].sum()), 1)
        out["workday"][i] = x_k / n_bus_known * bus.sum()
    return out


def _team_sd(data, month: pd.Period, as_of: pd.Timestamp, rows: pd.DataFrame, metrics, policy: dict) -> pd.Series:
    """The forecast's spread of each team's total, modelling the team as one unit.

    The team's daily sums are those of its reps in ``rows`` (the reps with a target of the
    metric); its start date is its first member's hiring. Returns a Series indexed by
    (metric, team).
    """
    daily = daily_sums(data)
    daily = daily[(daily["day"] >= (month - int(policy["targets"]["history_months"])).start_time).to_numpy(bool)
                  & (daily["day"] < (month + 1).start_time).to_numpy(bool)]
    rep_codes = pd.Index(pd.unique(rows["rep_id"])).get_indexer(daily["rep_id"])
    daily = daily[rep_codes >= 0]  # the reps with targets, in the weeks the model reads
    hired = data.reps.set_index(data.reps["rep_id"].astype("string"))["hired_on"]
    out = []
    for metric in metrics:  # a few metrics
        members = rows[rows["metric"] == metric][["rep_id", "team"]]
        team_of = pd.Series(members["team"].to_numpy(), index=members["rep_id"].to_numpy())
        unit = daily["rep_id"].map(team_of)
        d = (daily[[metric]].assign(day=daily["day"], rep_id=unit)[unit.notna().to_numpy(bool)]
             .groupby(["day", "rep_id"], as_index=False)[[metric]].sum())
        teams = np.asarray(pd.unique(members["team"]), dtype=object)
        start = hired.reindex(members["rep_id"]).groupby(members["team"].to_numpy()).min()
        mdl = _model(data, month, as_of, teams, teams, [metric], policy, daily=d,
                     hired_on=start.reindex(teams).to_numpy("datetime64[ns]"))
        out.append(pd.Series(mdl["sd"][0], index=pd.MultiIndex.from_arrays([[metric] * len(teams), teams])))
    return pd.concat(out) if out else pd.Series(dtype=float)


def _run_factor(xh, w_hist, avail_h, hist_days, s2, has_hist) -> float:
    """Variance of ten-day sums over what independent days predict, pooled (at least 1).

    In each history month, the sums over days 1-10, 11-20 and 21-end are compared with that
    month's own rate; their squared deviations are set against ``s² W_b (1 - W_b / W_m)``,
    their expectation were the days independent.
    """
    months = hist_days.to_period("M")
    m_code, uniq = pd.factorize(months)
    block = np.searchsorted(_BINS, hist_days.day.to_numpy(), side="left") - 1
    group = m_code * len(_BINS) + block
    n_groups = len(uniq) * len(_BINS)
    if not has_hist.any() or not len(uniq):
        return 1.0
    w = w_hist * avail_h
    X = np.zeros((xh.shape[0], n_groups))
    W = np.zeros((xh.shape[0], n_groups))
    np.add.at(X.T, group, (xh * avail_h).T)
    np.add.at(W.T, group, w.T)
    Xm = X.reshape(-1, len(uniq), len(_BINS)).sum(axis=2)
    Wm = W.reshape(-1, len(uniq), len(_BINS)).sum(axis=2)
    full = (has_hist[:, None] & avail_h.reshape(len(avail_h), -1).all(axis=1)[:, None]) & (Wm > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_m = np.where(full, Xm / Wm, np.nan)
        resid = X.reshape(-1, len(uniq), len(_BINS)) - r_m[:, :, None] * W.reshape(-1, len(uniq), len(_BINS))
        expect = s2[:, None, None] * W.reshape(-1, len(uniq), len(_BINS)) * (
            1 - W.reshape(-1, len(uniq), len(_BINS)) / Wm[:, :, None])
    ok = full[:, :, None] & np.isfinite(resid) & (expect > 0)
    if not ok.any():
        return 1.0
    return float(max(np.sum(resid[ok] ** 2) / np.sum(expect[ok]), 1.0))


def _between_month_c2(xh, w_hist, avail_h, hist_days, r_h, s2, has_hist) -> float:
    """Pooled squared coefficient of variation of a rep's monthly rate beyond daily noise."""
    months = hist_days.to_period("M")
    codes, uniq = pd.factorize(months)
    if len(uniq) < 2:
        return 0.05
    nums, dens = [], []
    for m in range(len(uniq)):  # the history months (three by default)
        sel = codes == m
        W = (w_hist[:, sel] * avail_h[:, sel]).sum(axis=1)
        X = (xh[:, sel] * avail_h[:, sel]).sum(axis=1)
        full = has_hist & avail_h[:, sel].all(axis=1) & (W > 0) & (r_h > 0)
        r_m = X[full] / W[full]
        nums.append((r_m - r_h[full]) ** 2 - s2[full] / W[full] * (1 - W[full] / (w_hist * avail_h).sum(axis=1)[full]))
        dens.append(r_h[full] ** 2)
    num, den = np.concatenate(nums), np.concatenate(dens)
    if not len(num) or den.sum() <= 0:
        return 0.05
    # the rep's deviations from their own history mean: correct for the mean's own degree of freedom
    n_m = len(uniq)
    return float(max(num.sum() / den.sum() * n_m / (n_m - 1), 1e-4))


# ----------------------------------------------------------------------------- public API
def targets_detail(data, month: str, as_of=None, policy=None) -> pd.DataFrame:
    """Attainment and forecast of every target of the month, with the working behind them.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    as_of : date or str, optional
        Cut the month at the end of this day, as a lead sees it on that day. Default: the
        month's last day, or the last day with data if the data ends earlier.
    policy : dict or path, optional
        ``[targets]``: the split rule, history length and interval level.

    Returns
    -------
    DataFrame
        The columns of :func:`targets` (rep rows, then each team's row with an empty
        ``rep_id``), plus ``level`` (``rep`` or ``team``), ``as_of``, ``source`` (``rep``,
        ``team_split`` or, on team rows, ``team`` / ``sum_of_reps``), ``share``,
        ``rate`` (expected result per unit of day weight), ``weight_known``,
        ``weight_rest`` (day weights elapsed and still to come), ``sd`` (of the forecast).
        Empty (with these columns) when no targets are set for the month.
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    as_of = _default_as_of(data, p) if as_of is None else parse_as_of(as_of, p)
    # the targets page, the bonus statement and the coaching packs all ask for the month's detail
    return cached(data, "targets_detail", ("targets", "reps", "orders", "calls"),
                  lambda: _targets_detail(data, p, as_of, policy), month=p, policy=policy, sections=("targets",),
                  params=(str(as_of),))


def _targets_detail(data, p: pd.Period, as_of, policy: dict) -> pd.DataFrame:
    rt = rep_targets(data, str(p), policy)
    extra = ["level", "as_of", "source", "share", "rate", "weight_known", "weight_rest", "sd"]
    if rt.empty:
        return _empty(COLUMNS + extra)
    metrics = [m for m in TARGET_METRICS if m in set(rt["metric"])]
    reps = data.reps
    team_of = pd.Series(reps["team"].astype("string").to_numpy(), index=reps["rep_id"].astype("string").to_numpy())
    rep_ids = pd.unique(rt["rep_id"].to_numpy())
    teams = team_of.reindex(rep_ids).to_numpy()
    model = _model(data, p, as_of, rep_ids, teams, metrics, policy)
    mi = pd.Index(metrics).get_indexer(rt["metric"])
    ri = pd.Index(rep_ids).get_indexer(rt["rep_id"])
    rows = rt.copy()
    for name, key in (("actual", "actual"), ("forecast", "forecast"), ("forecast_low", "low"),
                      ("forecast_high", "high"), ("rate", "rate"), ("weight_known", "w_known"),
                      ("weight_rest", "w_rest"), ("sd", "sd")):
        rows[name] = model[key][mi, ri]
    rows["level"] = "rep"
    # team rows: the team's own target or the sum of its reps'; results added up
    g = rows.groupby(["team", "metric"], sort=True)
    team = g.agg(target_sum=("target", "sum"), actual=("actual", "sum"), forecast=("forecast", "sum"),
                 var=("sd", lambda s: float((s ** 2).sum())), team_target=("team_target", "first")).reset_index()
    z = special.ndtri(0.5 + policy["targets"]["level"] / 2)
    # reps of a team share good and bad months: the team's own month-to-month movement, from
    # the team's daily sums, sets the band where it is wider than the reps' bands added up
    own_sd = _team_sd(data, p, as_of, rows, metrics, policy)
    team_sd = own_sd.reindex(pd.MultiIndex.from_frame(team[["metric", "team"]])).to_numpy(float)
    team["sd"] = np.sqrt(np.fmax(team["var"].to_numpy(float), np.nan_to_num(team_sd) ** 2))
    team["forecast_low"] = team["forecast"] - z * team["sd"]
    team["forecast_low"] = np.where(team["metric"].isin(_MONOTONE), np.maximum(team["forecast_low"], team["actual"]),
                                    team["forecast_low"])
    team["forecast_high"] = team["forecast"] + z * team["sd"]
    own = team["team_target"].notna()
    team["target"] = np.where(own, team["team_target"], team["target_sum"])
    team["source"] = np.where(own, "team", "sum_of_reps")
    team["rep_id"], team["level"], team["share"] = pd.NA, "team", np.nan
    team["rate"] = team["weight_known"] = team["weight_rest"] = np.nan
    out = pd.concat([rows, team[rows.columns.intersection(team.columns)]], ignore_index=True)
    out["attainment"] = out["actual"] / out["target"]
    low, high = out["forecast_low"].to_numpy(float), out["forecast_high"].to_numpy(float)
    target = out["target"].to_numpy(float)
    out["status"] = np.where(low >= target, "ahead", np.where(high < target, "at_risk", "on_track"))
    out["as_of"] = as_of
    order = {"rep": 0, "team": 1}
    out = out.assign(_l=out["level"].map(order),
                     _m=out["metric"].map({m: i for i, m in enumerate(TARGET_METRICS)}))
    out = out.sort_values(["_m", "team", "_l", "rep_id"], kind="stable").drop(columns=["_l", "_m"])
    for c in ("rep_id", "team", "metric", "status", "level", "source"):
        out[c] = out[c].astype("string")
    return out[COLUMNS + extra].reset_index(drop=True)


def targets(data, month: str, as_of=None, policy=None) -> pd.DataFrame:
    """Attainment, month-end forecast and status of every rep's and team's target.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    as_of : date or str, optional
        Cut the month at the end of this day (``"2026-10-15"``). Default: the month's end,
        or the last day with data.
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per rep and metric, then one per team and metric (``rep_id`` empty),
        by metric and team:

        - ``rep_id``, ``team``, ``metric``
        - ``target``: the rep's target, their part of a split team target, or the team's
        - ``actual``: the result from the month's first day to ``as_of``
        - ``attainment``: actual / target
        - ``forecast``, ``forecast_low``, ``forecast_high``: the month-end projection and
          its interval (``[targets] level``)
        - ``status``: ``ahead`` | ``on_track`` | ``at_risk``

        Empty when no targets are set for the month (:func:`no_targets_message` says so).
    """
    return targets_detail(data, month, as_of, policy)[COLUMNS]


def no_targets_message(data, month: str) -> str | None:
    """"no targets set" (with why), or None when the month has targets."""
    if not data.has("targets"):
        return f"{_NO_TARGETS}: the data set has no targets table"
    t = data.targets
    if not (t["month"].astype("string") == str(parse_month(month))).any():
        have = sorted(pd.unique(t["month"].astype("string").dropna()))
        span = f"{have[0]} to {have[-1]}" if have else "no months"
        return f"{_NO_TARGETS} for {parse_month(month)}; the targets table covers {span}"
    return None


def _empty(cols) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})


# ----------------------------------------------------------------------------- backtest
def backtest(data, months=None, days=(10, 20), metrics=("revenue", "sales"), policy=None) -> pd.DataFrame:
    """Replay the forecast at given days of past months against the month-end actual.

    Every rep (role in ``[targets] split_roles``, hired before the month) is forecast,
    whether or not they had a target: the forecast does not use targets.

    Parameters
    ----------
    data : Dataset
    months : list of str, optional
        Months to replay; default every month with ``history_months`` full months of data
        before it, the last month of the data excluded unless it is complete.
    days : tuple of int
        Days of the month to cut at.
    metrics : tuple of str
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per month, day, metric and rep: ``month, day, metric, rep_id, team,
        actual_to_date, final, forecast, forecast_low, forecast_high, run_rate``
        (actual / calendar days elapsed x days in the month), ``workday_run_rate``
        (actual / Mon-Fri days elapsed x Mon-Fri days in the month), ``covered``.
    """
    policy = resolve_policy(policy)
    for m in metrics:
        if m not in TARGET_METRICS:
            raise ParameterError(f"metric == {m!r}, must be one of {'|'.join(TARGET_METRICS)}")
    daily = daily_sums(data)
    if months is None:
        calling = daily.loc[(daily["dials"] > 0).to_numpy(bool), "day"]  # orders go back further than calls
        first = calling.min().to_period("M")
        last_day = calling.max()
        last = last_day.to_period("M")
        if last_day < last.end_time.normalize() - pd.Timedelta(days=1):
            last = last - 1
        months = [str(first + policy["targets"]["history_months"] + k)
                  for k in range(max((last - first).n - policy["targets"]["history_months"] + 1, 0))]
    reps = data.reps
    roles = reps["role"].astype("string").isin(policy["targets"]["split_roles"]).to_numpy(bool)
    frames = []
    for month in months:  # a handful of months x two days
        p = parse_month(month)
        keep = roles & (reps["hired_on"] < p.start_time).to_numpy(bool)
        rep_ids = reps.loc[keep, "rep_id"].astype("string").to_numpy()
        teams = reps.loc[keep, "team"].astype("string").to_numpy()
        for d in days:
            as_of = p.start_time + pd.Timedelta(days=int(d) - 1)
            mdl = _model(data, p, as_of, rep_ids, teams, list(metrics), policy)
            for i, metric in enumerate(metrics):
                frames.append(pd.DataFrame({
                    "month": str(p), "day": int(d), "metric": metric, "rep_id": rep_ids, "team": teams,
                    "actual_to_date": mdl["actual"][i], "final": mdl["final"][i], "forecast": mdl["forecast"][i],
                    "forecast_low": mdl["low"][i], "forecast_high": mdl["high"][i],
                    "run_rate": mdl["plain"][i], "workday_run_rate": mdl["workday"][i]}))
    out = pd.concat(frames, ignore_index=True) if frames else _empty(
        ["month", "day", "metric", "rep_id", "team", "actual_to_date", "final", "forecast", "forecast_low",
         "forecast_high", "run_rate", "workday_run_rate"])
    out["covered"] = (out["final"] >= out["forecast_low"] - 1e-9) & (out["final"] <= out["forecast_high"] + 1e-9)
    return out


def backtest_summary(bt: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute percentage error and interval coverage of a :func:`backtest`.

    Returns
    -------
    DataFrame
        One row per day, metric and method (``model``, ``run_rate``, ``workday_run_rate``):
        ``day, metric, method, n`` (reps with a month-end result above 0), ``mape``
        (mean of |forecast - final| / final), ``median_ape``, ``coverage`` (share of
        finals inside the interval; model only).
    """
    bt = bt[bt["final"] > 0]
    rows = []
    for (day, metric), g in bt.groupby(["day", "metric"], sort=True):
        for method in ("forecast", "run_rate", "workday_run_rate"):
            ape = (g[method] - g["final"]).abs() / g["final"]
            rows.append({"day": day, "metric": metric, "method": "model" if method == "forecast" else method,
                         "n": len(g), "mape": ape.mean(), "median_ape": ape.median(),
                         "coverage": g["covered"].mean() if method == "forecast" else np.nan})
    return pd.DataFrame(rows)
