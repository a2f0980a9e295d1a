"""Call outcomes: the dial-to-sale funnel, its change, objections and follow-up speed.

The funnel of a group of calls::

    dials -> connected (outcome != no_answer) -> positive (callback | interested | sale) -> sales

with ``contact_rate = connected / dials``, ``positive_rate = positive / connected``,
``conversion_rate = sales / connected``, ``aht_s`` the mean duration of the connected
calls and ``revenue`` the amount of the orders (not cancelled) linked to the calls by
``orders.call_id``.

Every count is additive, so each table is built from sufficient statistics: the calls
are summed once per base key (rep, script, customer, hour, weekday) and then rolled up
to teams, scenarios or customer classes. Rates are computed last, from the sums. No
Python runs per call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import ParameterError
from .i18n import register
from .periods import in_month, in_window, parse_month, previous_month, require_data
from .schema import CUSTOMER_CLASSES, OBJECTIONS, POSITIVE_OUTCOMES

#: ``by=`` values accepted by :func:`funnel` and the key column each gives.
FUNNEL_BY = {
    "rep": "rep_id",
    "team": "team",
    "script": "script_id",
    "scenario": "scenario",
    "customer_class": "customer_class",
    "hour": "hour",
    "weekday": "weekday",
}
#: The funnel's value columns, in order.
FUNNEL_COLUMNS = ("dials", "connected", "positive", "sales",
                  "contact_rate", "positive_rate", "conversion_rate", "aht_s", "revenue")
#: Additive sufficient statistics behind every funnel column.
_SUMS = ("dials", "connected", "positive", "sales", "connected_duration_s", "revenue")
#: Which base key each ``by`` is summed over before the roll-up.
_BASE = {
    "rep": "rep_id",
    "team": "rep_id",
    "script": "script_id",
    "scenario": "script_id",
    "customer_class": "customer_id",
    "hour": "hour",
    "weekday": "weekday",
}
#: ``by=`` values accepted by :func:`followup_summary`.
FOLLOWUP_BY = {"rep": "rep_id", "team": "team"}
#: Metrics of :func:`funnel_change`, in order.
CHANGE_METRICS = FUNNEL_COLUMNS


# ----------------------------------------------------------------------------- helpers
def _check_by(by, allowed: dict, parameter: str = "by", none_ok: bool = False) -> str | None:
    if by is None and none_ok:
        return None
    if by not in allowed:
        names = "|".join(allowed) + ("|None" if none_ok else "")
        raise ParameterError(f"{parameter} == {by!r}, must be one of {names}")
    return allowed[by]


def _calls_of(data, mask: pd.Series) -> pd.DataFrame:
    """The calls selected by ``mask`` with the flags and revenue every table needs."""
    calls = data.calls.loc[mask.to_numpy(bool)]
    outcome = calls["outcome"].astype("string")
    connected = (outcome != "no_answer").to_numpy(bool)
    positive = outcome.isin(POSITIVE_OUTCOMES).to_numpy(bool)
    sale = (outcome == "sale").to_numpy(bool)
    duration = calls["duration_s"].to_numpy(float)
    return pd.DataFrame({
        "call_id": calls["call_id"].to_numpy(),
        "rep_id": calls["rep_id"].to_numpy(),
        "customer_id": calls["customer_id"].to_numpy(),
        "script_id": calls["script_id"].to_numpy(),
        "started_at": calls["started_at"].to_numpy(),
        "duration_s": duration,
        "outcome": calls["outcome"].to_numpy(),
        "objection": calls["objection"].to_numpy(),
        "connected": connected,
        "positive": positive,
        "sale": sale,
        "connected_duration_s": np.where(connected, duration, 0.0),
        "revenue": _call_revenue(data, calls["call_id"]),
    }).astype({"rep_id": "string", "customer_id": "string", "script_id": "string",
               "call_id": "string", "outcome": calls["outcome"].dtype,
               "objection": calls["objection"].dtype})


def _month_mask(data, month, require: bool = True) -> pd.Series:
    parse_month(str(month))
    if require:
        require_data(data.calls["started_at"], month, "calls")
    return in_month(data.calls["started_at"], month)


def _call_revenue(data, call_ids: pd.Series) -> np.ndarray:
    """Amount of the non-cancelled orders linked to each call (0 when none)."""
    orders = data.orders
    linked = orders.loc[orders["call_id"].notna() & (orders["status"].astype("string") != "cancelled")]
    per_call = linked.groupby("call_id", sort=False)["amount"].sum()
    if per_call.empty:
        return np.zeros(len(call_ids))
    pos = per_call.index.get_indexer(call_ids)
    return np.where(pos >= 0, per_call.to_numpy(float)[pos], 0.0)


def _team_map(data) -> pd.Series:
    return data.reps.set_index("rep_id")["team"]


def _scenario_map(data) -> pd.Series:
    return data.scripts.set_index("script_id")["scenario"]


def _class_map(data, month) -> pd.Series:
    """Customer class per customer_id, from the customers module (policy thresholds)."""
    from .customers import customer_class_map  # lazy: customers imports heavier modules

    return customer_class_map(data, month)


def _add_time_keys(calls: pd.DataFrame, keys) -> pd.DataFrame:
    if "hour" in keys:
        calls["hour"] = calls["started_at"].dt.hour.astype("int64")
    if "weekday" in keys:
        calls["weekday"] = calls["started_at"].dt.dayofweek.astype("int64")
    return calls


def _sums(calls: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sufficient statistics per key: counts, connected duration and revenue."""
    frame = calls[keys + ["connected", "positive", "sale", "connected_duration_s", "revenue"]]
    grouped = frame.groupby(keys, observed=True, sort=False, dropna=False)
    out = grouped.agg(
        dials=("connected", "size"),
        connected=("connected", "sum"),
        positive=("positive", "sum"),
        sales=("sale", "sum"),
        connected_duration_s=("connected_duration_s", "sum"),
        revenue=("revenue", "sum"),
    )
    return out.reset_index()


def _roll_up(sums: pd.DataFrame, base: str, key: str, mapping: pd.Series) -> pd.DataFrame:
    """Sum the statistics of ``base`` ids into the groups ``mapping`` assigns them to."""
    sums = sums.copy()
    sums[key] = sums[base].map(mapping)
    out = sums.groupby(key, observed=True, sort=False, dropna=False)[list(_SUMS)].sum()
    return out.reset_index()


def _ratio(num, den) -> np.ndarray:
    """``num / den`` as floats, NaN where ``den`` is 0."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _rates(sums: pd.DataFrame, key_columns: list[str]) -> pd.DataFrame:
    """The funnel columns from the sums (NaN where a denominator is 0)."""
    out = pd.DataFrame({k: sums[k].to_numpy() for k in key_columns})
    for col in ("dials", "connected", "positive", "sales"):
        out[col] = sums[col].to_numpy().astype("int64")
    out["contact_rate"] = _ratio(sums["connected"], sums["dials"])
    out["positive_rate"] = _ratio(sums["positive"], sums["connected"])
    out["conversion_rate"] = _ratio(sums["sales"], sums["connected"])
    out["aht_s"] = _ratio(sums["connected_duration_s"], sums["connected"])
    out["revenue"] = sums["revenue"].to_numpy(float)
    return out


def _funnel_sums(data, month, by: str, require: bool = True) -> pd.DataFrame:
    """Sufficient statistics of the month's calls per ``by`` group (key column + _SUMS)."""
    key = FUNNEL_BY[by]
    base = _BASE[by]
    mask = _month_mask(data, month, require=require)
    calls = _calls_of(data, mask)
    _add_time_keys(calls, [base])
    sums = _sums(calls, [base])
    if by == "team":
        sums = _roll_up(sums, base, key, _team_map(data))
    elif by == "scenario":
        sums = _roll_up(sums, base, key, _scenario_map(data))
    elif by == "customer_class":
        if len(sums):
            sums = _roll_up(sums, base, key, _class_map(data, month))
        else:
            sums = sums.rename(columns={base: key})
    return sums[[key] + list(_SUMS)]


def _sort_key(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key, kind="stable", na_position="last").reset_index(drop=True)


def _key_dtype(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    key = FUNNEL_BY[by]
    if by in ("hour", "weekday"):
        frame[key] = frame[key].astype("int64")
    elif by == "customer_class":
        frame[key] = frame[key].astype("string")
    else:
        frame[key] = frame[key].astype("string")
    return frame


# ----------------------------------------------------------------------------- public API
def month_calls(data, month: str) -> pd.DataFrame:
    """The month's calls with the columns every outcome table is derived from.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.io.load_dataset`.
    month : str
        ``YYYY-MM``.

    Returns
    -------
    DataFrame
        One row per call started in the month, columns ``call_id, rep_id, customer_id,
        script_id, started_at, duration_s, outcome, objection, scenario, team, hour,
        weekday, customer_class, connected, positive, sale, revenue``. ``weekday`` is
        0 = Monday .. 6 = Sunday; ``customer_class`` comes from
        :func:`telesales_lab.customers.customer_class_map` for the month;
        ``connected``/``positive``/``sale`` are booleans; ``revenue`` is the amount of the
        non-cancelled orders linked to the call.

    Raises
    ------
    ParameterError
        If the month is malformed or has no calls.
    """
    calls = _calls_of(data, _month_mask(data, month))
    _add_time_keys(calls, ("hour", "weekday"))
    calls["scenario"] = calls["script_id"].map(_scenario_map(data)).astype("string")
    calls["team"] = calls["rep_id"].map(_team_map(data)).astype("string")
    calls["customer_class"] = calls["customer_id"].map(_class_map(data, month)).astype("string")
    columns = ["call_id", "rep_id", "customer_id", "script_id", "started_at", "duration_s",
               "outcome", "objection", "scenario", "team", "hour", "weekday", "customer_class",
               "connected", "positive", "sale", "revenue"]
    return calls[columns].reset_index(drop=True)


def funnel(data, month: str, by: str = "rep") -> pd.DataFrame:
    """The month's call funnel per group.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    by : {"rep", "team", "script", "scenario", "customer_class", "hour", "weekday"}
        Grouping; the key column is ``rep_id``, ``team``, ``script_id``, ``scenario``,
        ``customer_class``, ``hour`` (0-23) or ``weekday`` (0 = Monday).

    Returns
    -------
    DataFrame
        One row per group that has calls in the month, sorted by the key, columns
        ``<key>, dials, connected, positive, sales, contact_rate, positive_rate,
        conversion_rate, aht_s, revenue``. Rates and ``aht_s`` are NaN where their
        denominator is 0. No total row: see :func:`funnel_total`.

    Raises
    ------
    ParameterError
        If ``by`` is not one of the values above, or the month is malformed or has no calls.
    """
    key = _check_by(by, FUNNEL_BY)
    sums = _funnel_sums(data, month, by)
    out = _rates(sums, [key])
    return _sort_key(_key_dtype(out, by), key)


def funnel_total(data, month: str) -> pd.DataFrame:
    """The month's funnel over all calls.

    Returns
    -------
    DataFrame
        One row, columns ``month, dials, connected, positive, sales, contact_rate,
        positive_rate, conversion_rate, aht_s, revenue``.
    """
    sums = _total_sums(data, month, require=True)
    sums["month"] = str(parse_month(str(month)))
    return _rates(sums, ["month"])


def monthly_trend(data, end_month: str, months: int = 6) -> pd.DataFrame:
    """Funnel totals per month for the ``months`` months ending with ``end_month``.

    Returns
    -------
    DataFrame
        One row per month (oldest first; months without calls have 0 dials and NaN
        rates), columns ``month, dials, connected, positive, sales, contact_rate,
        positive_rate, conversion_rate, aht_s, revenue``.

    Raises
    ------
    ParameterError
        If ``end_month`` is malformed or has no calls, or ``months`` < 1.
    """
    end = parse_month(str(end_month))
    if not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError(f"months == {months!r}, must be a whole number >= 1")
    require_data(data.calls["started_at"], end, "calls")
    calls = _calls_of(data, in_window(data.calls["started_at"], end, int(months)))
    t = calls["started_at"]
    calls["month_no"] = (t.dt.year.astype("int64") * 12 + t.dt.month.astype("int64") - 1)
    sums = _sums(calls, ["month_no"]).set_index("month_no")
    periods = pd.period_range(end - (int(months) - 1), end, freq="M")
    numbers = pd.Index([p.year * 12 + p.month - 1 for p in periods], name="month_no")
    sums = sums.reindex(numbers, fill_value=0).reset_index(drop=True)
    sums["month"] = [str(p) for p in periods]
    return _rates(sums, ["month"])


def funnel_change(data, month: str, by: str | None = "rep") -> pd.DataFrame:
    """Each funnel metric this month against the previous month.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``; it must have calls. The previous month may have none.
    by : str or None
        As in :func:`funnel`; None compares the totals.

    Returns
    -------
    DataFrame
        Tidy: one row per group and metric, columns ``[<key>,] metric, current,
        previous, change, relative_change``. ``metric`` is one of ``dials, connected,
        positive, sales, contact_rate, positive_rate, conversion_rate, aht_s, revenue``;
        ``change = current - previous``; ``relative_change = change / previous`` (NaN
        when ``previous`` is 0 or missing). A group absent in one month counts 0 calls
        there (so its rates are NaN). Sorted by key, then metric in funnel order.
    """
    key = _check_by(by, FUNNEL_BY, none_ok=True)
    prev = previous_month(str(month))
    if key is None:
        cur_sums = _total_sums(data, month, require=True)
        prev_sums = _total_sums(data, str(prev), require=False)
        keys: list[str] = []
    else:
        cur_sums = _funnel_sums(data, month, by)
        prev_sums = _funnel_sums(data, str(prev), by, require=False)
        keys = [key]
    both = cur_sums.merge(prev_sums, on=keys, how="outer", suffixes=("", "_prev")) if keys else \
        pd.concat([cur_sums, prev_sums.add_suffix("_prev")], axis=1)
    cur = _rates(both[keys + list(_SUMS)].fillna({c: 0 for c in _SUMS}), keys)
    prv_sums = both[keys + [f"{c}_prev" for c in _SUMS]].rename(columns=lambda c: c.removesuffix("_prev"))
    prv = _rates(prv_sums.fillna({c: 0 for c in _SUMS}), keys)
    if keys:
        cur = _key_dtype(cur, by)
        prv = _key_dtype(prv, by)
    long_cur = cur.melt(id_vars=keys, value_vars=list(FUNNEL_COLUMNS), var_name="metric", value_name="current")
    long_prv = prv.melt(id_vars=keys, value_vars=list(FUNNEL_COLUMNS), var_name="metric", value_name="previous")
    out = long_cur.copy()
    out["current"] = out["current"].astype(float)
    out["previous"] = long_prv["previous"].astype(float).to_numpy()
    out["change"] = out["current"] - out["previous"]
    out["relative_change"] = _ratio(out["change"], out["previous"].fillna(0))
    out["metric"] = pd.Categorical(out["metric"], categories=list(FUNNEL_COLUMNS))
    out = out.sort_values(keys + ["metric"], kind="stable", na_position="last").reset_index(drop=True)
    out["metric"] = out["metric"].astype("string")
    return out


def _total_sums(data, month, require: bool) -> pd.DataFrame:
    calls = _calls_of(data, _month_mask(data, month, require=require))
    return pd.DataFrame({
        "dials": [len(calls)],
        "connected": [int(calls["connected"].sum())],
        "positive": [int(calls["positive"].sum())],
        "sales": [int(calls["sale"].sum())],
        "connected_duration_s": [float(calls["connected_duration_s"].sum())],
        "revenue": [float(calls["revenue"].sum())],
    })


def _objection_calls(data, month, by) -> tuple[pd.DataFrame, list[str]]:
    key = _check_by(by, FUNNEL_BY, none_ok=True)
    calls = _calls_of(data, _month_mask(data, month))
    keys: list[str] = []
    if key is not None:
        keys = [key]
        _add_time_keys(calls, [key])
        if by == "team":
            calls["team"] = calls["rep_id"].map(_team_map(data))
        elif by == "scenario":
            calls["scenario"] = calls["script_id"].map(_scenario_map(data))
        elif by == "customer_class":
            calls["customer_class"] = calls["customer_id"].map(_class_map(data, month))
    return calls, keys


def objection_mix(data, month: str, by: str | None = None) -> pd.DataFrame:
    """Which objections customers raised this month, and how often the call still went well.

    Parameters
    ----------
    data : Dataset
    month : str
    by : str or None
        None for all calls, or a grouping as in :func:`funnel`.

    Returns
    -------
    DataFrame
        One row per (group and) objection type, every type listed for every group that
        had any objection, columns ``[<key>,] objection, calls, share, positive,
        recovery_rate``: ``calls`` with that objection, ``share`` of the group's calls
        with any objection, ``positive`` how many of them still ended callback,
        interested or sale, ``recovery_rate = positive / calls`` (NaN when 0 calls).
    """
    calls, keys = _objection_calls(data, month, by)
    raised = calls.loc[calls["objection"].notna(), keys + ["objection", "positive"]]
    raised = raised.assign(objection=raised["objection"].astype("string"))
    counts = raised.groupby(keys + ["objection"], observed=True, sort=False, dropna=False).agg(
        calls=("positive", "size"), positive=("positive", "sum"))
    if keys:
        groups = pd.unique(raised[keys[0]]) if len(raised) else []
        full = pd.MultiIndex.from_product([groups, list(OBJECTIONS)], names=keys + ["objection"])
    else:
        full = pd.Index(list(OBJECTIONS), name="objection")
    counts = counts.reindex(full, fill_value=0).reset_index()
    totals = counts.groupby(keys, sort=False, dropna=False)["calls"].transform("sum") if keys \
        else pd.Series(counts["calls"].sum(), index=counts.index)
    counts["share"] = _ratio(counts["calls"], totals)
    counts["recovery_rate"] = _ratio(counts["positive"], counts["calls"])
    counts["calls"] = counts["calls"].astype("int64")
    counts["positive"] = counts["positive"].astype("int64")
    counts["objection"] = pd.Categorical(counts["objection"], categories=list(OBJECTIONS))
    if keys:
        counts = _key_dtype(counts, by)
    counts = counts.sort_values(keys + ["objection"], kind="stable").reset_index(drop=True)
    counts["objection"] = counts["objection"].astype("string")
    return counts[keys + ["objection", "calls", "share", "positive", "recovery_rate"]]


def objection_recovery(data, month: str, by: str | None = None) -> pd.DataFrame:
    """Share of the calls with an objection that still ended positive.

    Parameters
    ----------
    data : Dataset
    month : str
    by : str or None
        None for all calls, or a grouping as in :func:`funnel`.

    Returns
    -------
    DataFrame
        One row per group (one row in all for ``by=None``), columns ``[<key>,]
        connected, with_objection, objection_rate, positive, recovery_rate``:
        ``with_objection`` calls where the customer raised one, ``objection_rate =
        with_objection / connected``, ``positive`` of those that still ended callback,
        interested or sale, ``recovery_rate = positive / with_objection``.
    """
    calls, keys = _objection_calls(data, month, by)
    has = calls["objection"].notna().to_numpy(bool)
    frame = calls[keys].copy() if keys else pd.DataFrame(index=calls.index)
    frame["connected"] = calls["connected"].to_numpy(bool)
    frame["with_objection"] = has
    frame["positive"] = has & calls["positive"].to_numpy(bool)
    if keys:
        out = frame.groupby(keys, observed=True, sort=False, dropna=False).sum().reset_index()
    else:
        out = frame.sum().to_frame().T
    for col in ("connected", "with_objection", "positive"):
        out[col] = out[col].astype("int64")
    out["objection_rate"] = _ratio(out["with_objection"], out["connected"])
    out["recovery_rate"] = _ratio(out["positive"], out["with_objection"])
    if keys:
        out = _sort_key(_key_dtype(out, by), keys[0])
    return out[keys + ["connected", "with_objection", "objection_rate", "positive", "recovery_rate"]]


def followup_speed(data, month: str) -> pd.DataFrame:
    """Days from a customer's first positive call to the order, for the month's orders.

    For each order placed in the month (not cancelled), the *first positive call* is
    the customer's earliest call ending callback, interested or sale that started
    after their previous order (not cancelled) and no later than this order. Orders
    with no such call are left out.

    Returns
    -------
    DataFrame
        One row per order, sorted by ``ordered_at``, columns ``order_id, customer_id,
        rep_id, team, call_id, first_positive_at, ordered_at, days``: ``rep_id`` and
        ``team`` are those of the rep who made the first positive call (``call_id``),
        ``days`` is the time between the two in days (fractional, >= 0).

    Raises
    ------
    ParameterError
        If the month is malformed.
    """
    p = parse_month(str(month))
    end = (p + 1).start_time
    orders = data.orders
    orders = orders.loc[(orders["status"].astype("string") != "cancelled") & (orders["ordered_at"] < end),
                        ["order_id", "customer_id", "ordered_at"]]
    calls = data.calls
    positive = calls.loc[calls["outcome"].astype("string").isin(POSITIVE_OUTCOMES).to_numpy(bool)
                         & (calls["started_at"] < end).to_numpy(bool),
                         ["call_id", "rep_id", "customer_id", "started_at"]]
    columns = ["order_id", "customer_id", "rep_id", "team", "call_id", "first_positive_at", "ordered_at", "days"]
    if orders.empty or positive.empty:
        return _typed_followup(pd.DataFrame({c: [] for c in columns}))
    left = positive.astype({"customer_id": "string"}).sort_values("started_at", kind="stable")
    right = orders.astype({"customer_id": "string"}).sort_values("ordered_at", kind="stable")
    # each positive call -> the customer's first order at or after it
    matched = pd.merge_asof(left, right, left_on="started_at", right_on="ordered_at",
                            by="customer_id", direction="forward", allow_exact_matches=True)
    matched = matched.loc[matched["order_id"].notna() & in_month(matched["ordered_at"], p)]
    # calls are in time order, so the first row per order is its first positive call
    first = matched.drop_duplicates("order_id", keep="first")
    out = pd.DataFrame({
        "order_id": first["order_id"].to_numpy(),
        "customer_id": first["customer_id"].to_numpy(),
        "rep_id": first["rep_id"].to_numpy(),
        "team": first["rep_id"].map(_team_map(data)).to_numpy(),
        "call_id": first["call_id"].to_numpy(),
        "first_positive_at": first["started_at"].to_numpy(),
        "ordered_at": first["ordered_at"].to_numpy(),
    })
    out["days"] = (out["ordered_at"] - out["first_positive_at"]).dt.total_seconds() / 86400.0
    out = out.sort_values(["ordered_at", "order_id"], kind="stable").reset_index(drop=True)
    return _typed_followup(out)


def _typed_followup(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({
        "order_id": "string", "customer_id": "string", "rep_id": "string", "team": "string",
        "call_id": "string", "first_positive_at": "datetime64[ns]", "ordered_at": "datetime64[ns]",
        "days": "float64",
    })


def followup_summary(data, month: str, by: str | None = "rep") -> pd.DataFrame:
    """Follow-up speed per rep or team: how many days positive calls take to become orders.

    Parameters
    ----------
    data : Dataset
    month : str
    by : {"rep", "team"} or None
        None summarises all the month's orders in one row.

    Returns
    -------
    DataFrame
        One row per group, sorted by key, columns ``[<key>,] orders, median_days,
        q25_days, q75_days, mean_days, within_7d_share`` computed from
        :func:`followup_speed` (``within_7d_share``: share of orders placed within 7
        days of the first positive call).
    """
    key = _check_by(by, FOLLOWUP_BY, none_ok=True)
    speed = followup_speed(data, month)
    keys = [key] if key else []
    speed = speed.assign(within_7d=speed["days"] <= 7.0)
    if keys:
        grouped = speed.groupby(keys, observed=True, sort=True, dropna=False)
    else:
        grouped = speed.assign(_all=0).groupby("_all")
    out = grouped.agg(
        orders=("days", "size"),
        median_days=("days", "median"),
        q25_days=("days", lambda s: s.quantile(0.25)),
        q75_days=("days", lambda s: s.quantile(0.75)),
        mean_days=("days", "mean"),
        within_7d_share=("within_7d", "mean"),
    ).reset_index(drop=not keys)
    if not keys and out.empty:
        out = pd.DataFrame({"orders": [0], "median_days": [np.nan], "q25_days": [np.nan],
                            "q75_days": [np.nan], "mean_days": [np.nan], "within_7d_share": [np.nan]})
    out["orders"] = out["orders"].astype("int64")
    for col in ("median_days", "q25_days", "q75_days", "mean_days", "within_7d_share"):
        out[col] = out[col].astype(float)
    if keys:
        out[key] = out[key].astype("string")
    return out[keys + ["orders", "median_days", "q25_days", "q75_days", "mean_days", "within_7d_share"]]


def heatmap(data, month: str) -> pd.DataFrame:
    """Contact and conversion rates per hour of day and weekday.

    Returns
    -------
    DataFrame
        One row per (hour, weekday) with calls in the month, sorted, columns ``hour,
        weekday, dials, connected, positive, sales, contact_rate, positive_rate,
        conversion_rate, aht_s, revenue`` (``weekday`` 0 = Monday .. 6 = Sunday).
    """
    calls = _calls_of(data, _month_mask(data, month))
    _add_time_keys(calls, ("hour", "weekday"))
    sums = _sums(calls, ["hour", "weekday"])
    out = _rates(sums, ["hour", "weekday"])
    out["hour"] = out["hour"].astype("int64")
    out["weekday"] = out["weekday"].astype("int64")
    return out.sort_values(["hour", "weekday"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- labels
register({
    "dials": ("dials", "拨打量"),
    "connected": ("connected", "接通量"),
    "positive": ("positive", "积极结果"),
    "sales": ("sales", "成交量"),
    "contact_rate": ("contact rate", "接通率"),
    "positive_rate": ("positive rate", "积极率"),
    "conversion_rate": ("conversion rate", "成交率"),
    "aht_s": ("avg. handle time (s)", "平均通话时长（秒）"),
    "revenue": ("revenue", "营收"),
    "metric": ("metric", "指标"),
    "current": ("this month", "本月"),
    "previous": ("previous month", "上月"),
    "change": ("change", "变化"),
    "relative_change": ("relative change", "相对变化"),
    "objection": ("objection", "异议类型"),
    "calls": ("calls", "通话数"),
    "share": ("share", "占比"),
    "recovery_rate": ("recovery rate", "异议挽回率"),
    "with_objection": ("calls with objection", "有异议通话"),
    "objection_rate": ("objection rate", "异议率"),
    "order_id": ("order", "订单"),
    "first_positive_at": ("first positive call", "首次积极通话时间"),
    "ordered_at": ("ordered at", "下单时间"),
    "days": ("days", "天数"),
    "orders": ("orders", "订单数"),
    "median_days": ("median days", "中位天数"),
    "q25_days": ("25th pct. days", "25分位天数"),
    "q75_days": ("75th pct. days", "75分位天数"),
    "mean_days": ("mean days", "平均天数"),
    "within_7d_share": ("within 7 days", "7天内成单占比"),
    "weekday_0": ("Mon", "周一"),
    "weekday_1": ("Tue", "周二"),
    "weekday_2": ("Wed", "周三"),
    "weekday_3": ("Thu", "周四"),
    "weekday_4": ("Fri", "周五"),
    "weekday_5": ("Sat", "周六"),
    "weekday_6": ("Sun", "周日"),
    # headings of the call-outcome notebook and plots
    "outcomes.title": ("Call outcomes", "通话结果分析"),
    "outcomes.funnel_total": ("Funnel: whole month", "转化漏斗：全月"),
    "outcomes.funnel_rep": ("Funnel by rep", "各坐席转化漏斗"),
    "outcomes.funnel_team": ("Funnel by team", "各小组转化漏斗"),
    "outcomes.funnel_script": ("Funnel by script", "各话术转化漏斗"),
    "outcomes.funnel_scenario": ("Funnel by scenario", "各场景转化漏斗"),
    "outcomes.funnel_customer_class": ("Funnel by customer class", "各客户等级转化漏斗"),
    "outcomes.funnel_hour": ("Funnel by hour of day", "各时段转化漏斗"),
    "outcomes.funnel_weekday": ("Funnel by weekday", "各星期转化漏斗"),
    "outcomes.change": ("Change against the previous month", "与上月相比的变化"),
    "outcomes.trend": ("Monthly trend", "月度趋势"),
    "outcomes.heatmap": ("Hour of day × weekday", "时段 × 星期"),
    "outcomes.objection_mix": ("Objection mix", "异议构成"),
    "outcomes.objection_recovery": ("Calls with an objection that still ended positive",
                                    "提出异议后仍获积极结果的通话"),
    "outcomes.followup": ("Follow-up speed: days from first positive call to order",
                          "跟进速度：从首次积极通话到下单的天数"),
    "outcomes.stage": ("funnel stage", "漏斗阶段"),
    "outcomes.rate": ("rate", "比率"),
    "outcomes.count": ("count", "数量"),
})
