"""Call outcomes: the dial-to-sale funnel, its change, objections and follow-up speed.

The funnel of a group of calls::

    dials -> connected (outcome != no_answer) -> positive (callback | interested | sale) -> sales

with ``contact_rate = connected / dials``, ``positive_rate = positive / connected``,
``conversion_rate = sales / connected``, ``aht_s`` the mean duration of the connected
calls and ``revenue`` the amount of the orders (not cancelled) linked to the calls by
``orders.call_id``.

Every count is additive, so each table is built from sufficient statistics: the month's
calls are selected once, the base key (rep, script, customer, hour, weekday) is factorised,
the team, scenario or customer class is looked up for each *distinct* id only, and the
counts, connected durations and linked revenue are summed per group with
``numpy.bincount``. Rates are divided last, from the sums. No Python runs per call.

The per-call arrays of a month (outcome flags, connected duration, linked revenue,
objection codes, hour and weekday) and each base key's codes are computed once per data set
and month and kept in ``data.cache``: every table of the month (funnels by team, rep,
script and class, the change against last month, objections, the heatmap, the trend) is
then a ``bincount`` over them. The sums are taken over the same calls in the same order
as before, so they are the same to the last bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.exceptions import ParameterError
from telesales_lab.data.cache import cached
from telesales_lab.data.periods import in_month, parse_month, previous_month, require_data
from telesales_lab.data.schema import CONNECTED_OUTCOMES, CUSTOMER_CLASSES, OBJECTIONS, OUTCOMES, POSITIVE_OUTCOMES, is_kept_order

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
#: The per-call key each ``by`` is factorised on before mapping ids to groups.
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


# ----------------------------------------------------------------------------- helpers
def _check_by(by, allowed: dict, parameter: str = "by", none_ok: bool = False) -> str | None:
    if by is None and none_ok:
        return None
    if not isinstance(by, str) or by not in allowed:
        names = "|".join(allowed) + ("|None" if none_ok else "")
        raise ParameterError(f"{parameter} == {by!r}, must be one of {names}")
    return allowed[by]


def _month_calls(data, month, require: bool = True) -> _Calls:
    """The calls of ``month`` (an error naming the months with calls if it has none and ``require``)."""
    p = parse_month(str(month))
    calls = _Calls(data, p)
    if require and calls.n == 0:
        require_data(data.calls["started_at"], p, "calls")
    return calls


def _ratio(num, den) -> np.ndarray:
    """``num / den`` as floats, NaN where ``den`` is 0."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _lookup(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent), hashing only ``index``."""
    if len(index) == 0 or len(values) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(values.array)
        value_set = pa.array(pd.Series(index).array).cast(arr.type)
        pos = pc.index_in(arr, value_set=value_set)
        return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return pd.Index(index).get_indexer(values).astype(np.int64)


def _linked_revenue(data) -> pd.Series:
    """Amount of the non-cancelled orders per linked call_id."""
    def compute():
        orders = data.orders
        keep = orders["call_id"].notna().to_numpy(bool) & is_kept_order(orders["status"])
        return orders.loc[keep].groupby("call_id", sort=False)["amount"].sum()

    return cached(data, "linked_revenue", ("orders",), compute)


def _outcome_codes(outcome: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if not isinstance(outcome.dtype, pd.CategoricalDtype):
        outcome = outcome.astype(pd.CategoricalDtype(list(OUTCOMES)))
    return outcome.cat.codes.to_numpy(), pd.Index(outcome.cat.categories.astype(str))


#: Tables the month's per-call arrays are computed from (``orders``: the linked revenue).
_CALL_TABLES = ("calls", "orders")


def _month_rows(data, month) -> np.ndarray:
    """Positions (in the calls table) of the calls started in ``month``, kept in ``data.cache``."""
    p = parse_month(str(month))
    return cached(data, "outcome_rows", ("calls",),
                  lambda: np.flatnonzero(in_month(data.calls["started_at"], p).to_numpy(bool)), month=p)


def _call_arrays(data, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Outcome flags, connected duration, linked revenue and objection code of the calls at ``rows``."""
    calls = data.calls
    codes, cats = _outcome_codes(calls["outcome"].take(rows).reset_index(drop=True))
    valid = codes >= 0
    idx = np.where(valid, codes, len(cats))
    connected = np.append(cats.isin(CONNECTED_OUTCOMES), False)[idx]
    positive = np.append(cats.isin(POSITIVE_OUTCOMES), False)[idx]
    sale = np.append(cats == "sale", False)[idx]
    duration = calls["duration_s"].take(rows).to_numpy(float)
    per_call = _linked_revenue(data)
    pos = _lookup(calls["call_id"].take(rows).reset_index(drop=True), per_call.index)
    amounts = np.append(per_call.to_numpy(float), 0.0)
    revenue = amounts[np.where(pos >= 0, pos, len(per_call))]
    if len(data.orders) == 0:
        # a call log without orders: the amount of its sales is unknown, not 0
        revenue = np.where(sale, np.nan, revenue)
    ns = calls["started_at"].take(rows).to_numpy("datetime64[ns]")
    return {
        "connected": connected, "positive": positive, "sale": sale,
        "connected_duration": np.where(connected, duration, 0.0),
        "revenue": revenue,
        "objection": _objection_codes(calls["objection"].take(rows).reset_index(drop=True)),
        "hour": (ns.astype("datetime64[h]").astype(np.int64) % 24).astype(np.int64),
        "weekday": ((ns.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int64),  # 1970-01-01: Thu
    }


def _objection_codes(obj: pd.Series) -> np.ndarray:
    """Index into OBJECTIONS per call, -1 where no objection was raised."""
    if isinstance(obj.dtype, pd.CategoricalDtype) and list(obj.cat.categories) == list(OBJECTIONS):
        return obj.cat.codes.to_numpy().astype(np.int64)
    return pd.Categorical(obj.astype("string"), categories=list(OBJECTIONS)).codes.astype(np.int64)


class _Calls:
    """The calls started in a month; each derived column is looked up once, on demand.

    Values are NumPy arrays (flags, numbers) or pandas Series with a fresh 0..n-1 index
    (ids), so 1M calls never pass through Python objects. The arrays and key codes come from
    ``data.cache``, so every table of the month shares them.
    """

    def __init__(self, data, month):
        self.data = data
        self.month = parse_month(str(month))
        self.rows = _month_rows(data, self.month)
        self.n = len(self.rows)
        self._cache: dict = {}

    def col(self, name: str) -> pd.Series:
        if name not in self._cache:
            self._cache[name] = self.data.calls[name].take(self.rows).reset_index(drop=True)
        return self._cache[name]

    def _arrays(self) -> dict[str, np.ndarray]:
        if "_arrays" not in self._cache:
            self._cache["_arrays"] = cached(self.data, "outcome_call_arrays", _CALL_TABLES,
                                            lambda: _call_arrays(self.data, self.rows), month=self.month)
        return self._cache["_arrays"]

    @property
    def connected(self) -> np.ndarray:
        return self._arrays()["connected"]

    @property
    def positive(self) -> np.ndarray:
        return self._arrays()["positive"]

    @property
    def sale(self) -> np.ndarray:
        return self._arrays()["sale"]

    @property
    def connected_duration(self) -> np.ndarray:
        return self._arrays()["connected_duration"]

    @property
    def revenue(self) -> np.ndarray:
        return self._arrays()["revenue"]

    def key(self, name: str):
        """A base key per call: an id column, or hour / weekday."""
        if name in ("hour", "weekday"):
            return self._arrays()[name]
        return self.col(name)

    def factorized(self, name: str) -> tuple[np.ndarray, pd.Index]:
        """Codes (0..k-1, in order of first appearance; missing is a group) and values of an id column."""
        def compute():
            codes, uniques = pd.factorize(self.col(name), use_na_sentinel=False)
            return codes.astype(np.int64), pd.Index(uniques)

        return cached(self.data, "outcome_key_codes", ("calls",), compute, month=self.month, params=(name,))

    def objection_codes(self) -> np.ndarray:
        """Index into OBJECTIONS per call, -1 where no objection was raised."""
        return self._arrays()["objection"]


def _team_map(data) -> pd.Series:
    return data.reps.set_index("rep_id")["team"]


def _scenario_map(data) -> pd.Series:
    return data.scripts.set_index("script_id")["scenario"]


def _class_map(data, month) -> pd.Series:
    """Customer class per customer_id, from the customers module (policy thresholds)."""
    from telesales_lab.analysis.customers import class_at_start  # lazy: keeps `import outcomes` light

    return class_at_start(data, str(month))


def _mapped(uniques, by: str, data, month) -> pd.Series:
    """The ``by`` group of each base id (a few thousand values at most)."""
    ids = pd.Series(uniques)
    if by == "team":
        return ids.map(_team_map(data)).astype("string")
    if by == "scenario":
        return ids.map(_scenario_map(data)).astype("string")
    if by == "customer_class":
        # customers acquired after the month have no class yet: prospects count as C
        return ids.map(_class_map(data, month)).astype("string").fillna(CUSTOMER_CLASSES[-1])
    raise AssertionError(by)


def _groups(calls: _Calls, by: str | None, data, month) -> tuple[np.ndarray, pd.Index]:
    """Group number of every call and the group values (key column values)."""
    if by is None:
        return np.zeros(calls.n, dtype=np.int64), pd.Index([0])
    base = _BASE[by]
    if base in ("hour", "weekday"):
        codes, uniques = pd.factorize(calls.key(base), use_na_sentinel=False)
        codes = codes.astype(np.int64)
    else:
        codes, uniques = calls.factorized(base)
    if by in ("team", "scenario", "customer_class"):
        group_of_base, groups = pd.factorize(_mapped(uniques, by, data, month), use_na_sentinel=False)
        return group_of_base.astype(np.int64)[codes], pd.Index(groups)
    return codes, pd.Index(uniques)


def _sums(calls: _Calls, codes: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Sufficient statistics per group number 0..k-1."""
    def count(weights=None):
        return np.bincount(codes, weights=weights, minlength=k)[:k]

    return {
        "dials": count().astype(np.int64),
        "connected": np.rint(count(calls.connected)).astype(np.int64),
        "positive": np.rint(count(calls.positive)).astype(np.int64),
        "sales": np.rint(count(calls.sale)).astype(np.int64),
        "connected_duration_s": count(calls.connected_duration),
        "revenue": count(calls.revenue),
    }


def _frame(keys: dict, sums: dict) -> pd.DataFrame:
    """The funnel columns from key columns and the sums (NaN where a denominator is 0)."""
    out = pd.DataFrame(dict(keys))
    for col in ("dials", "connected", "positive", "sales"):
        out[col] = np.asarray(sums[col]).astype(np.int64)
    out["contact_rate"] = _ratio(sums["connected"], sums["dials"])
    out["positive_rate"] = _ratio(sums["positive"], sums["connected"])
    out["conversion_rate"] = _ratio(sums["sales"], sums["connected"])
    out["aht_s"] = _ratio(sums["connected_duration_s"], sums["connected"])
    out["revenue"] = np.asarray(sums["revenue"], dtype=float)
    return out


def _key_values(groups: pd.Index, by: str):
    if by in ("hour", "weekday"):
        return np.asarray(groups, dtype=np.int64)
    return pd.array(groups, dtype="string")


def _by_sums(data, month, by: str | None, require: bool = True) -> pd.DataFrame:
    """Key column (none for ``by=None``) and the sufficient statistics per group."""
    calls = _month_calls(data, month, require=require)
    codes, groups = _groups(calls, by, data, month)
    sums = _sums(calls, codes, len(groups))
    if by is None:
        return pd.DataFrame(sums)
    return pd.DataFrame({FUNNEL_BY[by]: _key_values(groups, by), **sums})


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


# ----------------------------------------------------------------------------- public API
def month_calls(data, month: str, *, customer_class: bool = True) -> pd.DataFrame:
    """The month's calls with the columns every outcome table is derived from.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.data.load.load_dataset`.
    month : str
        ``YYYY-MM``.
    customer_class : bool, default True
        False leaves the ``customer_class`` column out (it needs every customer's class at
        the start of the month, which callers that do not group by class need not pay for).

    Returns
    -------
    DataFrame
        One row per call started in the month, in the order of the calls table, columns
        ``call_id, rep_id, customer_id, script_id, started_at, duration_s, outcome,
        objection, scenario, team, hour, weekday, customer_class, connected, positive,
        sale, revenue``. ``hour`` is 0-23; ``weekday`` is 0 = Monday .. 6 = Sunday;
        ``customer_class`` is "A", "B" or "C" at the start of the month, from
        :func:`telesales_lab.analysis.customers.class_at_start` (so a month's sales do not lift
        their own customers into A; customers new in the month count as C); ``connected``/``positive``/``sale`` are
        booleans; ``revenue`` is the amount of the non-cancelled orders linked to the call.

    Raises
    ------
    ParameterError
        If the month is malformed or has no calls.
    """
    calls = _month_calls(data, month)
    out = pd.DataFrame({c: calls.col(c) for c in
                        ("call_id", "rep_id", "customer_id", "script_id", "started_at", "duration_s",
                         "outcome", "objection")})
    for by in ("scenario", "team"):
        codes, groups = _groups(calls, by, data, month)
        out[by] = pd.Series(pd.array(groups, dtype="string")).take(codes).reset_index(drop=True)
    out["hour"] = calls.key("hour")
    out["weekday"] = calls.key("weekday")
    if customer_class:
        codes, groups = _groups(calls, "customer_class", data, month)
        out["customer_class"] = pd.Series(pd.array(groups, dtype="string")).take(codes).reset_index(drop=True)
    out["connected"] = calls.connected
    out["positive"] = calls.positive
    out["sale"] = calls.sale
    out["revenue"] = calls.revenue
    return out


def funnel(data, month: str, by: str = "rep") -> pd.DataFrame:
    """The month's call funnel per group.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    by : {"rep", "team", "script", "scenario", "customer_class", "hour", "weekday"}
        Grouping; the key column is ``rep_id``, ``team``, ``script_id``, ``scenario``,
        ``customer_class``, ``hour`` (0-23) or ``weekday`` (0 = Monday .. 6 = Sunday).

    Returns
    -------
    DataFrame
        One row per group that has calls in the month, sorted by the key, columns
        ``<key>, dials, connected, positive, sales, contact_rate, positive_rate,
        conversion_rate, aht_s, revenue``:

        - ``dials``: calls; ``connected``: outcome other than no_answer;
          ``positive``: callback, interested or sale; ``sales``: sale;
        - ``contact_rate = connected / dials``, ``positive_rate = positive / connected``,
          ``conversion_rate = sales / connected`` (NaN where the denominator is 0);
        - ``aht_s``: mean ``duration_s`` of the connected calls;
        - ``revenue``: amount of the orders, not cancelled, linked to these calls by
          ``orders.call_id``; NaN (unknown, not 0) for a group with sales when the data
          set has no orders at all (a call log without order amounts).

        No total row: see :func:`funnel_total`.

    Raises
    ------
    ParameterError
        If ``by`` is not one of the values above, or the month is malformed or has no calls.
    """
    key = _check_by(by, FUNNEL_BY)
    sums = _by_sums(data, month, by)
    return _sorted(_frame({key: sums[key]}, sums), [key])


def funnel_total(data, month: str) -> pd.DataFrame:
    """The month's funnel over all its calls.

    Returns
    -------
    DataFrame
        One row, columns ``month, dials, connected, positive, sales, contact_rate,
        positive_rate, conversion_rate, aht_s, revenue`` (as in :func:`funnel`).
    """
    sums = _by_sums(data, month, None)
    return _frame({"month": pd.array([str(parse_month(str(month)))], dtype="string")}, sums)


def monthly_trend(data, end_month: str, months: int = 6) -> pd.DataFrame:
    """Funnel totals per month for the ``months`` months ending with ``end_month``.

    Returns
    -------
    DataFrame
        One row per month, oldest first (months without calls have 0 dials and NaN
        rates), columns ``month, dials, connected, positive, sales, contact_rate,
        positive_rate, conversion_rate, aht_s, revenue`` (as in :func:`funnel`).

    Raises
    ------
    ParameterError
        If ``end_month`` is malformed or has no calls, or ``months`` < 1.
    """
    end = parse_month(str(end_month))
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError(f"months == {months!r}, must be a whole number >= 1")
    periods = pd.period_range(end - (int(months) - 1), end, freq="M")
    # each month's sums over its own calls (kept per month: the funnels of the month and of
    # the month before are computed from the same arrays)
    sums = pd.concat([_by_sums(data, p, None, require=p == end) for p in periods], ignore_index=True)
    return _frame({"month": pd.array([str(p) for p in periods], dtype="string")}, sums)


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
        Tidy: one row per group and metric, sorted by key then metric in funnel order,
        columns ``[<key>,] metric, current, previous, change, relative_change``:

        - ``metric``: ``dials, connected, positive, sales, contact_rate, positive_rate,
          conversion_rate, aht_s`` or ``revenue``;
        - ``current``, ``previous``: its value in ``month`` and in the month before
          (a group without calls in a month has 0 counts and NaN rates there);
        - ``change = current - previous``; ``relative_change = change / previous``
          (NaN when ``previous`` is 0 or NaN).
    """
    key = _check_by(by, FUNNEL_BY, none_ok=True)
    keys = [key] if key else []
    cur = _by_sums(data, month, by)
    prev = _by_sums(data, str(previous_month(str(month))), by, require=False)
    if keys:
        both = cur.merge(prev, on=keys, how="outer", suffixes=("", "_prev"))
    else:
        both = pd.concat([cur, prev.add_suffix("_prev")], axis=1)
    both = both.fillna({c: 0 for c in _SUMS} | {f"{c}_prev": 0 for c in _SUMS})
    key_cols = {k: both[k].to_numpy() for k in keys}
    now = _frame(key_cols, {c: both[c].to_numpy() for c in _SUMS})
    before = _frame(key_cols, {c: both[f"{c}_prev"].to_numpy() for c in _SUMS})
    metrics = list(FUNNEL_COLUMNS)
    n = len(now)
    out = pd.DataFrame({k: np.repeat(now[k].to_numpy(), len(metrics)) for k in keys})
    out["metric"] = np.tile(metrics, n)
    out["current"] = now[metrics].to_numpy(float).reshape(-1)
    out["previous"] = before[metrics].to_numpy(float).reshape(-1)
    out["change"] = out["current"] - out["previous"]
    out["relative_change"] = _ratio(out["change"], out["previous"].fillna(0))
    if keys:
        out[key] = _key_values(pd.Index(out[key]), by)
        order = np.lexsort((np.tile(np.arange(len(metrics)), n), _sort_rank(out[key])))
        out = out.iloc[order]
    out["metric"] = out["metric"].astype("string")
    return out.reset_index(drop=True)


def _sort_rank(values) -> np.ndarray:
    """Rank of each value in sorted order (missing last), for lexsort."""
    codes, uniques = pd.factorize(pd.Series(values), sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes)


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
        had any objection, sorted by key then objection in the order of
        :data:`telesales_lab.data.schema.OBJECTIONS`, columns ``[<key>,] objection, calls,
        share, positive, recovery_rate``: ``calls`` with that objection, ``share`` of the
        group's calls with any objection, ``positive`` how many of them still ended
        callback, interested or sale, ``recovery_rate = positive / calls`` (NaN when 0).
    """
    key = _check_by(by, FUNNEL_BY, none_ok=True)
    calls = _month_calls(data, month)
    codes, groups = _groups(calls, by, data, month)
    obj = calls.objection_codes()
    has = obj >= 0
    m = len(OBJECTIONS)
    cell = codes[has] * m + obj[has]
    size = len(groups) * m
    counts = np.bincount(cell, minlength=size)[:size].reshape(-1, m)
    positive = np.rint(np.bincount(cell, weights=calls.positive[has], minlength=size)[:size]).reshape(-1, m)
    keep = counts.sum(axis=1) > 0
    if by is None:
        keep[:] = True  # one group; list every type even in a month without objections
    counts, positive = counts[keep], positive[keep].astype(np.int64)
    out = pd.DataFrame({"objection": pd.array(np.tile(OBJECTIONS, len(counts)), dtype="string")})
    if key:
        out.insert(0, key, np.repeat(np.asarray(_key_values(groups, by))[keep], m))
        out[key] = _key_values(pd.Index(out[key]), by)
    out["calls"] = counts.reshape(-1).astype(np.int64)
    totals = np.repeat(counts.sum(axis=1), m)
    out["share"] = _ratio(out["calls"], totals)
    out["positive"] = positive.reshape(-1)
    out["recovery_rate"] = _ratio(out["positive"], out["calls"])
    if key:
        order = np.lexsort((np.tile(np.arange(m), len(counts)), _sort_rank(out[key])))
        out = out.iloc[order].reset_index(drop=True)
    return out


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
        One row per group (one row in all for ``by=None``), sorted by key, columns
        ``[<key>,] connected, with_objection, objection_rate, positive, recovery_rate``:
        ``with_objection`` calls where the customer raised one, ``objection_rate =
        with_objection / connected``, ``positive`` of those that still ended callback,
        interested or sale, ``recovery_rate = positive / with_objection``.
    """
    key = _check_by(by, FUNNEL_BY, none_ok=True)
    calls = _month_calls(data, month)
    codes, groups = _groups(calls, by, data, month)
    has = calls.objection_codes() >= 0
    k = len(groups)

    def count(weights):
        return np.rint(np.bincount(codes, weights=weights, minlength=k)[:k]).astype(np.int64)

    out = pd.DataFrame({key: _key_values(groups, by)}) if key else pd.DataFrame(index=range(k))
    out["connected"] = count(calls.connected)
    out["with_objection"] = count(has)
    out["objection_rate"] = _ratio(out["with_objection"], out["connected"])
    out["positive"] = count(has & calls.positive)
    out["recovery_rate"] = _ratio(out["positive"], out["with_objection"])
    return _sorted(out, [key] if key else [])


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
    return cached(data, "followup_speed", ("calls", "orders", "reps"), lambda: _followup_speed(data, p), month=p)


def _followup_speed(data, p: pd.Period) -> pd.DataFrame:
    end = (p + 1).start_time
    orders = data.orders
    keep = is_kept_order(orders["status"]) & (orders["ordered_at"] < end).to_numpy(bool)
    orders = orders.loc[keep, ["order_id", "customer_id", "ordered_at"]]
    calls = data.calls
    codes, cats = _outcome_codes(calls["outcome"])
    is_positive = np.append(cats.isin(POSITIVE_OUTCOMES), False)[np.where(codes >= 0, codes, len(cats))]
    rows = np.flatnonzero((calls["started_at"] < end).to_numpy(bool) & is_positive)  # only these are read
    positive = pd.DataFrame({c: calls[c].take(rows).reset_index(drop=True)
                             for c in ("call_id", "rep_id", "customer_id", "started_at")})
    if orders.empty or positive.empty:
        return _typed_followup(pd.DataFrame({c: [] for c in _FOLLOWUP_COLUMNS}))
    left = positive.astype({"customer_id": "string"}).sort_values("started_at", kind="stable")
    right = orders.astype({"customer_id": "string"}).sort_values("ordered_at", kind="stable")
    # the customer as one integer code on both sides (equal ids, equal codes; a missing id is a
    # code of its own, as merges match missing keys), so the merge does not hash id texts
    customer, _ = pd.factorize(pd.concat([left["customer_id"], right["customer_id"]], ignore_index=True),
                               use_na_sentinel=False)
    left = left.assign(_customer=customer[:len(left)])
    right = right.drop(columns="customer_id").assign(_customer=customer[len(left):])
    # each positive call -> the customer's first order at or after it
    matched = pd.merge_asof(left, right, left_on="started_at", right_on="ordered_at",
                            by="_customer", direction="forward", allow_exact_matches=True)
    matched = matched.loc[(matched["order_id"].notna() & in_month(matched["ordered_at"], p)).to_numpy(bool)]
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


_FOLLOWUP_COLUMNS = ("order_id", "customer_id", "rep_id", "team", "call_id",
                     "first_positive_at", "ordered_at", "days")


def _typed_followup(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({
        "order_id": "string", "customer_id": "string", "rep_id": "string", "team": "string",
        "call_id": "string", "first_positive_at": "datetime64[ns]", "ordered_at": "datetime64[ns]",
        "days": "float64",
    })[list(_FOLLOWUP_COLUMNS)]


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
        :func:`followup_speed` (quartiles by linear interpolation; ``within_7d_share``:
        share of orders placed within 7 days of the first positive call).
    """
    key = _check_by(by, FOLLOWUP_BY, none_ok=True)
    speed = followup_speed(data, month)
    keys = [key] if key else []
    speed = speed.assign(within_7d=(speed["days"] <= 7.0).astype(float), _all=0)
    grouped = speed.groupby(keys or ["_all"], observed=True, sort=True, dropna=False)["days"]
    out = pd.DataFrame({
        "orders": grouped.size(),
        "median_days": grouped.median(),
        "q25_days": grouped.quantile(0.25),
        "q75_days": grouped.quantile(0.75),
        "mean_days": grouped.mean(),
        "within_7d_share": speed.groupby(keys or ["_all"], observed=True, sort=True, dropna=False)["within_7d"].mean(),
    })
    if keys:
        out = out.reset_index()
        out[key] = out[key].astype("string")
    else:
        out = out.reset_index(drop=True)
        if out.empty:
            out = pd.DataFrame({"orders": [0]} | {c: [np.nan] for c in
                               ("median_days", "q25_days", "q75_days", "mean_days", "within_7d_share")})
    out["orders"] = out["orders"].astype("int64")
    return out[keys + ["orders", "median_days", "q25_days", "q75_days", "mean_days", "within_7d_share"]]


def heatmap(data, month: str) -> pd.DataFrame:
    """The funnel per hour of day and weekday, for a heatmap of contact and conversion.

    Returns
    -------
    DataFrame
        One row per (hour, weekday) with calls in the month, sorted by hour then
        weekday, columns ``hour, weekday, dials, connected, positive, sales,
        contact_rate, positive_rate, conversion_rate, aht_s, revenue`` (``weekday``
        0 = Monday .. 6 = Sunday; the rest as in :func:`funnel`).
    """
    calls = _month_calls(data, month)
    cell = calls.key("hour") * 7 + calls.key("weekday")
    sums = _sums(calls, cell, 24 * 7)
    out = _frame({"hour": np.arange(24 * 7) // 7, "weekday": np.arange(24 * 7) % 7}, sums)
    return out.loc[out["dials"] > 0].reset_index(drop=True)


# ----------------------------------------------------------------------------- labels
