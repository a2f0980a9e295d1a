"""Lead scoring: which customers to call this month, in what order, when and with what script.

:func:`score_leads` gives every customer who could be called in a month (acquired before its
end: leads never called and customers with history) the calibrated probability that a
connected call with them this month ends in a sale.

How the score is made
---------------------
* **Rows.** One row per customer and month: the customer's features as they stood at the
  start of the month, and what happened on the month's connected calls with them (``sales``
  of ``connected``). A row stands for its connected calls (weights ``sales`` and
  ``connected - sales``), so the model estimates the per-call sale probability from
  sufficient statistics, never from a million call rows.
* **Features**, built automatically (:func:`lead_features`):

  - every column of the customers table, extra columns an import keeps included (text as a
    category, numbers as numbers, dates as days before the month; ``customer_id``, ``name``
    and ``phone`` never; id-like text with a value for nearly every customer is dropped);
  - ``tenure_days`` (days from ``acquired_on`` to the month's start, 0 if acquired during
    the month) and ``age_years`` (from ``birthday``);
  - the call and order history **strictly before the month**: dials, connected calls,
    positive outcomes, sales, objections, past conversion, the same for the last three
    months, days since the last call / connected call / positive outcome / sale / order,
    the last call's outcome and objection, orders and amount, the customer class at the
    start of the month, and the centre's conversion in the month before.

  Nothing from the month itself or later enters a feature, and never a call's duration: it is
  known only after the call.
* **Model.** scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with
  native categorical support, fitted on the months before the scored month only. It is
  calibrated on a later slice: the boosting model is fitted on the earlier training months,
  and on the latest ones (those holding at least a fifth of the training calls; at least
  one month, and at least one month left for the fit) an isotonic map (a sigmoid when the
  slice has fewer than 1,000 sales or non-sales: isotonic steps at the ends of a small slice
  say 0 or 1) from its scores to those months' outcomes makes them probabilities. With only
  one training month the calibration is the boosting model's own.
* **Fallback.** With too little history (fewer than ``min_train_months`` months with connected
  calls before the month, or fewer than ``min_train_sales`` sales in them) the score is the
  **segment rate model**: the past conversion of the customer's segment (the level of the one
  customer attribute whose past rates predicted best), shrunk toward the overall rate by
  ``prior_calls`` pseudo-calls. The output says so in its ``model`` column and in ``reason``.
  With no connected call at all before the month there is no evidence and no score (empty).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from telesales_lab import labels
from telesales_lab.data.cache import cached
from telesales_lab.data.keys import positions
from telesales_lab.data.monthly import _flags
from telesales_lab.data.periods import parse_month
from telesales_lab.data.policy import resolve_policy
from telesales_lab.data.schema import CONNECTED_OUTCOMES, CUSTOMER_CLASSES, POSITIVE_OUTCOMES, is_kept_order
from telesales_lab.exceptions import ParameterError

_NS_DAY = 86_400 * 10**9
_NONE = np.iinfo("int64").min
#: columns of the customers table never used as features (personal data, the id, and the dates
#: that become tenure_days / age_years)
_NOT_FEATURES = ("customer_id", "name", "phone", "acquired_on", "birthday")
#: tables the features read (the class at the start of a month reads calls, customers, orders)
_TABLES = ("customers", "calls", "orders", "scripts")
_SECTIONS = ("customers",)
_CHUNK_ROWS = 16_384  # rows per block when evaluating the trees one by one
_MAX_LEVELS = 250  # native categorical support takes at most 255 levels
_RECENT_MONTHS = 3
#: Trees of the boosting model (learning rate 0.1, 15 leaves each).
BOOSTING_TREES = 50
#: The boosting model's settings (benchmarks/leads_uci.py fits the same model). 50 trees: in
#: out-of-time backtests more trees fit the training months' noise (150 ranked and calibrated
#: worse on two demos and the latest UCI months, and were level over all UCI months; see
#: docs/leads.md), and every tree costs again in each prediction and reason.
BOOSTING_PARAMS = {"learning_rate": 0.1, "max_iter": BOOSTING_TREES, "max_leaf_nodes": 15, "min_samples_leaf": 40,
                   "l2_regularization": 1.0, "early_stopping": False}
_HOUR_BANDS = ((0, 9, "0-9"), (9, 12, "9-12"), (12, 14, "12-14"), (14, 17, "14-17"), (17, 24, "17-24"))

MODEL_BOOSTING = "gradient_boosting"
MODEL_RATE = "segment_rate"
MODEL_NONE = "no_evidence"

#: built-in history features (their labels: [context.leads] of the catalogs)
HISTORY_FEATURES = (
    "tenure_days",
    "age_years",
    "customer_class",
    "hist_dials",
    "hist_connected",
    "hist_positive",
    "hist_sales",
    "hist_objections",
    "hist_conversion",
    "hist_positive_rate",
    "recent_dials",
    "recent_connected",
    "recent_sales",
    "days_since_call",
    "days_since_connected",
    "days_since_positive",
    "days_since_sale",
    "last_outcome",
    "last_objection",
    "hist_orders",
    "hist_amount",
    "days_since_order",
    "centre_conversion_last_month",
)


# ----------------------------------------------------------------------------- history panel
def _month_index(times: pd.Series) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``); -1 where the time is missing."""
    t = pd.DatetimeIndex(times)
    out = (t.year.to_numpy("float64") * 12 + t.month.to_numpy("float64") - 1)
    return np.where(np.isnan(out), -1, out).astype("int64")


def _period_index(p: pd.Period) -> int:
    return p.year * 12 + p.month - 1


def _ns(times: pd.Series) -> np.ndarray:
    v = pd.DatetimeIndex(times).asi8.copy()
    v[pd.isna(times).to_numpy()] = _NONE
    return v


def _panel(data) -> dict:
    """Per customer and month, what the calls and orders of that month held, and the running
    totals up to and including it (kept in ``data.cache``).

    ``rows`` is sorted by customer code and month: ``code, month`` and, per month,
    ``dials, connected, positive, sales, objections, orders, amount`` with their running
    totals ``cum_*``, the latest time of a call / connected call / positive outcome / sale /
    order up to then (``last_*``, int64 ns, ``_NONE`` if none), the last call's outcome,
    objection, scenario and the rep of the last connected call.
    """
    def compute():
        from telesales_lab.analysis.customers import _calls_by_customer, _customer_rows

        cust_ids = pd.Index(data.customers["customer_id"].astype("string"))
        calls = data.calls
        by_customer = _calls_by_customer(data)  # each call's customer as a code (shared with the classes)
        rows_of = _customer_rows(data)  # those codes and each order's customer as customers' rows (shared too)
        seen = rows_of["calls"]
        code = np.where(by_customer["code"] >= 0, seen[np.maximum(by_customer["code"], 0)], -1)
        month = _month_index(calls["started_at"])
        t = _ns(calls["started_at"])
        connected = _flags(calls["outcome"], CONNECTED_OUTCOMES)
        positive = _flags(calls["outcome"], POSITIVE_OUTCOMES)
        sale = _flags(calls["outcome"], ("sale",))
        scen = data.scripts.set_index("script_id")["scenario"].astype("string")
        # the text columns as codes into their distinct values (NaN: missing), decoded at the end
        texts = {}

        def coded(values: pd.Series, name: str) -> np.ndarray:
            c, levels = pd.factorize(values)
            texts[name] = np.asarray(pd.Index(levels).astype("string").to_numpy(object))
            return np.where(c >= 0, c, np.nan)

        # each call's scenario as a code: the scenario of each distinct script, looked up once
        script_code, scripts = pd.factorize(calls["script_id"])
        scen_code, scen_levels = pd.factorize(pd.Index(scripts).astype("string").map(scen))
        texts["scenario"] = np.asarray(pd.Index(scen_levels).astype("string").to_numpy(object))
        scen_code = np.r_[scen_code, -1]  # a call without a script: no scenario
        scenario = scen_code[np.where(script_code >= 0, script_code, len(scen_code) - 1)]
        scenario = np.where(scenario >= 0, scenario, np.nan)
        # the calls sorted by customer, month and time (stable), then each customer-month's
        # sums, latest times and last values from the group boundaries (no per-group Python)
        keep = np.flatnonzero((code >= 0) & (month >= 0))
        order = keep[np.lexsort((t[keep], month[keep], code[keep]))]
        c_, m_ = code[order], month[order]
        first = np.r_[True, (c_[1:] != c_[:-1]) | (m_[1:] != m_[:-1])] if len(order) else np.zeros(0, bool)
        starts = np.flatnonzero(first)
        ends = np.r_[starts[1:], len(order)] - 1
        t_ = t[order]

        def total(flags):
            return np.add.reduceat(flags[order].astype("int64"), starts) if len(starts) else np.zeros(0, "int64")

        def latest(flags):
            v = np.where(flags[order], t_, _NONE) if flags is not None else t_
            return np.maximum.reduceat(v, starts) if len(starts) else np.zeros(0, "int64")

        def last_known(values):  # the group's last value that is not missing (NaN where none)
            v = values[order]
            pos = np.where(np.isnan(v), -1, np.arange(len(v)))
            at = np.maximum.reduceat(pos, starts) if len(starts) else np.zeros(0, "int64")
            return np.where(at >= 0, v[np.maximum(at, 0)], np.nan)

        objection = coded(calls["objection"], "objection")
        per = pd.DataFrame({
            "dials": ends - starts + 1, "connected": total(connected), "positive": total(positive),
            "sales": total(sale), "objections": total(calls["objection"].notna().to_numpy()),
            "t_call": latest(None), "t_conn": latest(connected), "t_pos": latest(positive), "t_sale": latest(sale),
            "outcome": last_known(coded(calls["outcome"], "outcome")),
            # the last call's objection, missing or not
            "objection": objection[order][ends] if len(ends) else np.zeros(0),
            "scenario": last_known(scenario),
            # last connected call's rep in the month
            "rep_conn": last_known(coded(calls["rep_id"].where(connected), "rep_conn")),
        }, index=pd.MultiIndex.from_arrays([c_[starts], m_[starts]], names=["code", "month"]))

        orders = data.orders
        ok = is_kept_order(orders["status"])
        o = pd.DataFrame({"code": rows_of["orders"],
                          "month": _month_index(orders["ordered_at"]), "amount": orders["amount"].to_numpy(float),
                          "t": _ns(orders["ordered_at"])})[ok]
        o = o[(o["code"] >= 0) & (o["month"] >= 0)]
        og = o.groupby(["code", "month"]).agg(orders=("amount", "size"), amount=("amount", "sum"),
                                              t_order=("t", "max"))
        rows = per.join(og, how="outer").reset_index()
        for c in ("dials", "connected", "positive", "sales", "objections", "orders"):
            rows[c] = rows[c].fillna(0).astype("int64")
        rows["amount"] = rows["amount"].fillna(0.0)
        for c in ("t_call", "t_conn", "t_pos", "t_sale", "t_order"):
            rows[c] = rows[c].fillna(_NONE).astype("int64")
        rows = rows.sort_values(["code", "month"], kind="stable").reset_index(drop=True)
        by = rows.groupby("code", sort=False)
        for c in ("dials", "connected", "positive", "sales", "objections", "orders", "amount"):
            rows["cum_" + c] = by[c].cumsum()
        for c in ("t_call", "t_conn", "t_pos", "t_sale", "t_order"):
            rows["last_" + c[2:]] = by[c].cummax()
        # per row, the latest row of the same customer up to it where a condition holds (-1 if
        # none): rows are sorted by customer, so a running maximum that forgets earlier customers
        n = len(rows)
        cust = rows["code"].to_numpy()
        begins = np.maximum.accumulate(np.where(np.r_[True, cust[1:] != cust[:-1]] if n else np.zeros(0, bool),
                                                np.arange(n), 0))

        def latest_row(holds: np.ndarray) -> np.ndarray:
            at = np.maximum.accumulate(np.where(holds, np.arange(n), -1))
            return np.where(at >= begins, at, -1)

        def value_at(v: np.ndarray, at: np.ndarray) -> np.ndarray:
            return np.where(at >= 0, v[np.maximum(at, 0)], np.nan)

        # the last call's outcome and objection: those of the last month with calls
        last_call = latest_row(rows["dials"].to_numpy() > 0)
        for c in ("outcome", "objection"):
            rows["last_" + c] = value_at(rows[c].to_numpy(float), last_call)
        for c in ("scenario", "rep_conn"):  # the latest known value
            v = rows[c].to_numpy(float)
            rows["last_" + c] = value_at(v, latest_row(~np.isnan(v)))
        for c, levels in texts.items():  # back to text
            for col in (c, "last_" + c):
                rows[col] = _decoded(rows[col].to_numpy(float), levels)
        cmonth = rows.groupby("month")[["connected", "sales"]].sum()
        return {"ids": cust_ids, "rows": rows, "key": rows["code"].to_numpy() * 100_000 + rows["month"].to_numpy(),
                "centre": cmonth}

    return cached(data, "leads_panel", ("customers", "calls", "orders", "scripts"), compute)


def _decoded(codes: np.ndarray, levels: np.ndarray):
    """Float codes into ``levels`` (NaN: missing) as text, the way pandas keeps a column of
    strings: through Arrow's dictionary decoding where pandas keeps text in Arrow."""
    ok = ~np.isnan(codes)
    out = np.full(len(codes), pd.NA, dtype=object)
    arrow, dtype = _text_dtype()
    if not arrow or not len(levels):
        out[ok] = levels[codes[ok].astype("int64")]
        return out
    import pyarrow as pa

    idx = pa.array(np.where(ok, codes, 0).astype("int64"), mask=~ok)
    text = pa.DictionaryArray.from_arrays(idx, pa.array(list(levels), type=pa.large_string())).cast(pa.large_string())
    return pd.Series(text.to_pandas(), copy=False).astype(dtype).array


def _text_dtype():
    """(whether pandas keeps a column of strings in Arrow, that dtype)."""
    dtype = pd.DataFrame({"t": np.array(["a", pd.NA], dtype=object)})["t"].dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow", dtype


def _positions(ids: pd.Index, values) -> np.ndarray:
    """Each value's position in the unique ids (-1 where absent or missing):
    :func:`telesales_lab.data.keys.positions`, as indices."""
    return positions(values, ids).astype(np.intp, copy=False)


def _before(panel: dict, codes: np.ndarray, month: int) -> np.ndarray:
    """Row of ``panel["rows"]`` holding each customer's running totals up to the month
    before ``month`` (-1 where the customer has no history before it)."""
    key = panel["key"]
    idx = np.searchsorted(key, codes.astype("int64") * 100_000 + month, side="left") - 1
    ok = idx >= 0
    ok[ok] = panel["rows"]["code"].to_numpy()[idx[ok]] == codes[ok]
    return np.where(ok, idx, -1)


def _take(values: np.ndarray, idx: np.ndarray, fill):
    out = values[np.maximum(idx, 0)]
    if out.dtype.kind in "iub" and not isinstance(fill, (int, np.integer)):
        out = out.astype("float64")
    out = out.copy() if out.dtype.kind != "O" else out.astype(object)
    out[idx < 0] = fill
    return out


def _taken(values: pd.Series, idx: np.ndarray) -> pd.Series:
    """``values`` at positions ``idx`` as text (missing where ``idx`` is -1), taken without
    making a Python string of every value."""
    out = values.iloc[np.maximum(idx, 0)].astype("string").reset_index(drop=True) if len(values) else \
        pd.Series(pd.NA, index=range(len(idx)), dtype="string")
    return out.mask(pd.Series(idx < 0))


# ----------------------------------------------------------------------------- features
def _customer_columns(customers: pd.DataFrame) -> dict[str, str]:
    """Feature columns of the customers table -> ``"category"``, ``"number"`` or ``"date"``."""
    kinds = {}
    n = max(len(customers), 1)
    for col in customers.columns:
        if col in _NOT_FEATURES:
            continue
        s = customers[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            kinds[col] = "number"
        elif pd.api.types.is_datetime64_any_dtype(s):
            kinds[col] = "date"
        else:
            text = s.astype("string")
            distinct = pd.Series(text.dropna().unique(), dtype="string")  # each value checked once
            if distinct.empty:
                continue
            num = pd.to_numeric(distinct, errors="coerce")
            if num.notna().all():
                kinds[col] = "number"
                continue
            levels = len(distinct)
            if levels > 0.5 * n and levels > _MAX_LEVELS:  # id-like: one value per customer
                continue
            kinds[col] = "category"
    return kinds


def _categorical(values, levels: list[str] | None = None) -> pd.Categorical:
    """``values`` as a category of ``levels`` (default the most common ones); other values and
    missing ones are missing. Each distinct value is looked up once, not each row."""
    s = pd.Series(values, dtype="string")
    if levels is None:
        counts = s.value_counts()
        levels = sorted(counts.index[:_MAX_LEVELS].tolist())
    codes, distinct = pd.factorize(s)
    level_of = pd.Index(levels, dtype="string").get_indexer(pd.Index(distinct, dtype="string"))
    codes = np.where(codes >= 0, level_of[np.maximum(codes, 0)] if len(level_of) else -1, -1)
    return pd.Categorical.from_codes(codes, categories=levels)


def lead_features(data, month: str | pd.Period, customer_ids=None, policy=None) -> pd.DataFrame:
    """The features of each customer as they stood at the start of ``month``.

    Parameters
    ----------
    data : Dataset
    month : str or Period
        ``YYYY-MM``. Only calls and orders before its first day are used.
    customer_ids : array-like, optional
        Whose features; default every customer acquired before the month's end.
    policy : dict or path, optional
        For the customer class at the start of the month.

    Returns
    -------
    DataFrame
        ``customer_id`` and one column per feature (see the module docstring): the customers
        table's own feature columns (categories as ``category`` dtype, numbers as float), then
        ``tenure_days``, ``age_years`` (if ``birthday`` exists), ``customer_class``,
        ``hist_*``, ``recent_*``, ``days_since_*``, ``last_outcome``, ``last_objection``,
        ``centre_conversion_last_month``. Missing history is NaN (no evidence), not 0, for
        the rates and days; counts of nothing are 0.
    """
    p = month if isinstance(month, pd.Period) else parse_month(month)
    start = p.start_time
    cust = data.customers
    if customer_ids is None:
        cust = cust[(cust["acquired_on"] < (p + 1).start_time).to_numpy(bool)]
    else:
        at = _positions(cust["customer_id"], customer_ids) if cust["customer_id"].is_unique else None
        cust = cust.iloc[at] if at is not None and (at >= 0).all() else \
            cust.set_index("customer_id", drop=False).loc[pd.Index(customer_ids, dtype="string")]
    cust = cust.reset_index(drop=True)
    out = pd.DataFrame({"customer_id": cust["customer_id"].astype("string")})
    kinds = cached(data, "leads_customer_columns", ("customers",), lambda: _customer_columns(data.customers))
    for col, kind in kinds.items():
        s = cust[col]
        if kind == "number":
            out[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif kind == "date":
            days = (start - s).dt.total_seconds() / 86_400.0
            out[col] = days.where(days > 0)  # a date not yet reached is not known at the start
        else:
            out[col] = _categorical(s.astype("string"), _levels(data, col))
    tenure = ((start - cust["acquired_on"]).dt.total_seconds() / 86_400.0).clip(lower=0)
    out["tenure_days"] = tenure.astype("float64").to_numpy()
    if "birthday" in cust and cust["birthday"].notna().any():
        out["age_years"] = ((start - cust["birthday"]).dt.days / 365.25).astype("float64").to_numpy()
    classes = _class_at_start(data, p, policy)
    if classes.index.is_unique:  # each customer's class, looked up by position
        out["customer_class"] = _categorical(_taken(classes, _positions(classes.index, out["customer_id"])),
                                             list(CUSTOMER_CLASSES))
    else:
        out["customer_class"] = pd.Categorical(classes.reindex(out["customer_id"]).to_numpy(),
                                               categories=list(CUSTOMER_CLASSES))

    panel = _panel(data)
    rows = panel["rows"]
    codes = _positions(panel["ids"], out["customer_id"])
    m = _period_index(p)
    now = _before(panel, codes, m)
    old = _before(panel, codes, m - _RECENT_MONTHS)
    for c in ("dials", "connected", "positive", "sales", "objections", "orders"):
        out["hist_" + c] = _take(rows["cum_" + c].to_numpy(), now, 0).astype("float64")
    out["hist_amount"] = _take(rows["cum_amount"].to_numpy(), now, 0.0)
    conn = out["hist_connected"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["hist_conversion"] = np.where(conn > 0, out["hist_sales"].to_numpy() / conn, np.nan)
        out["hist_positive_rate"] = np.where(conn > 0, out["hist_positive"].to_numpy() / conn, np.nan)
    for c in ("dials", "connected", "sales"):
        cum = rows["cum_" + c].to_numpy()
        out["recent_" + c] = (_take(cum, now, 0) - _take(cum, old, 0)).astype("float64")
    start_ns = start.value
    for c, name in (("call", "call"), ("conn", "connected"), ("pos", "positive"), ("sale", "sale"),
                    ("order", "order")):
        last = _take(rows["last_" + c].to_numpy(), now, _NONE)
        out["days_since_" + name] = np.where(last == _NONE, np.nan, (start_ns - last) / _NS_DAY)
    out["last_outcome"] = _categorical(_taken(rows["last_outcome"], now),
                                       ["no_answer", "rejected", "callback", "interested", "sale"])
    out["last_objection"] = _categorical(_taken(rows["last_objection"], now),
                                         _levels_of(rows["objection"]))
    centre = panel["centre"]
    prev = centre.loc[centre.index < m]
    rate = np.nan
    if len(prev) and prev.index[-1] == m - 1 and prev["connected"].iloc[-1] > 0:
        rate = prev["sales"].iloc[-1] / prev["connected"].iloc[-1]
    out["centre_conversion_last_month"] = rate
    return out


def _levels(data, col: str) -> list[str]:
    """Category levels of a customers column, fixed for the data set (the same in every month)."""
    def compute():
        s = data.customers[col].astype("string").dropna()
        return sorted(s.value_counts().index[:_MAX_LEVELS].tolist())

    return cached(data, "leads_levels", ("customers",), compute, params=(col,))


def _levels_of(values: pd.Series) -> list[str]:
    return sorted(pd.Series(values, dtype="string").dropna().unique().tolist())


def _class_at_start(data, p: pd.Period, policy) -> pd.Series:
    from telesales_lab.analysis.customers import class_at_start

    try:
        return class_at_start(data, str(p), policy)
    except ParameterError:
        return pd.Series(dtype="string")


# ----------------------------------------------------------------------------- training rows
def _outcome_rows(data, p: pd.Period) -> pd.DataFrame:
    """``customer_id, connected, sales`` for the customers with connected calls in month ``p``."""
    panel = _panel(data)
    rows = panel["rows"]
    sel = (rows["month"].to_numpy() == _period_index(p)) & (rows["connected"].to_numpy() > 0)
    r = rows.loc[sel, ["code", "connected", "sales"]]
    return pd.DataFrame({"customer_id": panel["ids"][r["code"].to_numpy()].astype("string"),
                         "connected": r["connected"].to_numpy(), "sales": r["sales"].to_numpy()})


def _training_months(data, p: pd.Period, max_months: int | None) -> list[pd.Period]:
    rows = _panel(data)["rows"]
    m = _period_index(p)
    have = rows.loc[(rows["month"] < m) & (rows["connected"] > 0), "month"].unique()
    months = sorted(int(x) for x in have)
    if max_months is not None:
        months = months[-max_months:]
    return [pd.Period(year=x // 12, month=x % 12 + 1, freq="M") for x in months]


def _month_rows(data, q: pd.Period, policy) -> pd.DataFrame:
    """The customers with connected calls in month ``q``: their :func:`lead_features` at the
    month's start plus ``connected, sales`` (kept in ``data.cache``: the training frames of
    later months and the evaluation of ``q`` share it)."""
    pol = resolve_policy(policy)

    def compute():
        y = _outcome_rows(data, q)
        x = lead_features(data, q, y["customer_id"], pol)
        return x.assign(connected=y["connected"].to_numpy(), sales=y["sales"].to_numpy())

    return cached(data, "leads_month_rows", _TABLES, compute, month=q, policy=pol, sections=_SECTIONS)


def training_frame(data, month: str | pd.Period, max_months: int | None = None, policy=None) -> pd.DataFrame:
    """Customer-months before ``month`` with connected calls: features at each month's start
    plus ``train_month, connected, sales``.

    Returns
    -------
    DataFrame
        ``train_month`` (Period), ``customer_id``, the :func:`lead_features` columns,
        ``connected``, ``sales``.
    """
    p = month if isinstance(month, pd.Period) else parse_month(month)
    pol = resolve_policy(policy)

    def compute():
        parts = [_month_rows(data, q, pol).assign(train_month=q)  # one vectorised pass per month
                 for q in _training_months(data, p, max_months)]
        if not parts:
            return pd.DataFrame()
        frame = pd.concat(parts, ignore_index=True)
        for col in parts[0].columns:  # keep the category dtype with the same levels
            if isinstance(parts[0][col].dtype, pd.CategoricalDtype) and frame[col].dtype != parts[0][col].dtype:
                frame[col] = pd.Categorical(frame[col].astype("string"), categories=parts[0][col].cat.categories)
        return frame

    return cached(data, "leads_training_frame", _TABLES, compute, month=p, policy=pol, sections=_SECTIONS,
                  params=(max_months,))


def _binary_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer-month as up to two weighted rows: sales (label 1) and the rest (label 0).
    Returns the row of ``frame`` behind each, the labels and the weights."""
    pos = frame["sales"].to_numpy(float)
    neg = frame["connected"].to_numpy(float) - pos
    rows = np.r_[np.flatnonzero(pos > 0), np.flatnonzero(neg > 0)]
    y = np.r_[np.ones(int((pos > 0).sum())), np.zeros(int((neg > 0).sum()))]
    w = np.r_[pos[pos > 0], neg[neg > 0]]
    return rows, y, w


# ----------------------------------------------------------------------------- the models
def _one_thread():
    """Fit and predict the boosting model in one thread: its data are small, so spreading a
    fit or a prediction over threads buys little time and costs processor time in threads
    waiting for each other. The results do not depend on the number of threads."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _category_ranks(values: pd.Series, levels: list) -> np.ndarray:
    """Each value's rank among ``levels`` sorted (NaN where missing or not a level)."""
    cat = pd.Categorical(values, categories=levels) if not (
        isinstance(values.dtype, pd.CategoricalDtype) and list(values.cat.categories) == list(levels)) \
        else values.array
    rank = np.empty(len(levels), dtype="float64")
    rank[sorted(range(len(levels)), key=lambda i: str(levels[i]))] = np.arange(len(levels), dtype="float64")
    codes = np.asarray(cat.codes)
    return np.where(codes >= 0, rank[np.maximum(codes, 0)], np.nan)


def _weighted_bin_edges(col: np.ndarray, max_bins: int, sample_weight: np.ndarray) -> np.ndarray:
    """The bin edges scikit-learn's ``_find_binning_thresholds`` gives a column with weights,
    every weighted percentile taken from one sort of the column (it sorts once per percentile)."""
    from sklearn.ensemble._hist_gradient_boosting.binning import _find_binning_thresholds
    from sklearn.ensemble._hist_gradient_boosting.common import ALMOST_INF
    from sklearn.utils.stats import _weighted_percentile

    keep = ~np.isnan(col)
    values, w = col[keep], sample_weight[keep]
    values, w = values[w != 0], w[w != 0]
    order = np.argsort(values)
    values, w = values[order], w[order]
    distinct_values = int((values[1:] != values[:-1]).sum()) + 1 if len(values) else 0  # sorted: no second sort
    if distinct_values <= max_bins:  # edges between the distinct values: no percentiles
        return _find_binning_thresholds(col, max_bins, sample_weight=sample_weight)
    percentiles = np.linspace(0, 100, num=max_bins + 1)[1:-1]
    edges = np.asarray(_weighted_percentile(values, w, percentiles, average=True), dtype=np.float64)
    distinct = np.unique(edges)
    if distinct.shape[0] != edges.shape[0]:
        edges = distinct
    np.clip(edges, a_min=None, a_max=ALMOST_INF, out=edges)
    return edges


@functools.cache
def _booster_classes():
    """scikit-learn's ``HistGradientBoostingClassifier`` and its bin mapper with one change: the
    weighted bin edges of each number column come from :func:`_weighted_bin_edges` (the same
    edges, from one sort per column). Made on first use, as scikit-learn is imported lazily."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper

    class Mapper(_BinMapper):
        def fit(self, X, y=None, sample_weight=None):
            if sample_weight is None or (self.subsample is not None and X.shape[0] > self.subsample):
                return super().fit(X, y, sample_weight)  # unweighted edges: already one sort per column
            X = np.asarray(X, dtype=np.float64)
            numbers = [j for j in range(X.shape[1])
                       if self.is_categorical is None or not self.is_categorical[j]]
            try:
                edges = {j: _weighted_bin_edges(X[:, j], self.n_bins - 1, np.asarray(sample_weight, float))
                         for j in numbers}
            except TypeError:  # a scikit-learn without vectorised weighted percentiles
                return super().fit(X, y, sample_weight)
            plain = X.copy()
            plain[:, numbers] = 0.0  # one value: no edges to look for
            super().fit(plain, y, sample_weight)
            for j, e in edges.items():
                self.bin_thresholds_[j] = e
                self.n_bins_non_missing_[j] = e.shape[0] + 1
            return self

    class Booster(HistGradientBoostingClassifier):
        def _bin_data(self, X, *args, **kwargs):
            if kwargs.get("is_training_data") and type(self._bin_mapper) is _BinMapper:
                self._bin_mapper = Mapper(**self._bin_mapper.get_params())
            return super()._bin_data(X, *args, **kwargs)

    return Booster, Mapper


class _LeafPaths:
    """A fitted tree's leaves and what their paths test: ``tests[node, c]`` says whether the
    path from the root to ``node`` splits on column ``c`` of the model's preprocessed input."""

    def __init__(self, tree, n_columns: int):
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

        self.tree = nodes = tree.nodes
        self.raw_bitsets = tree.raw_left_cat_bitsets
        self.tests = np.zeros((len(nodes), n_columns), dtype=bool)
        self.order = []  # the split nodes, each after its parent
        stack = [0]
        while stack:  # root to leaves: a child's path is its parent's plus the parent's split
            i = stack.pop()
            if nodes["is_leaf"][i]:
                continue
            self.order.append(i)
            for child in (int(nodes["left"][i]), int(nodes["right"][i])):
                self.tests[child] = self.tests[i]
                self.tests[child, int(nodes["feature_idx"][i])] = True
                stack.append(child)
        self.tests_any = self.tests.any(axis=0)
        self.tests_col = np.ascontiguousarray(self.tests.T)  # per column: which nodes' paths test it
        self.values = np.ascontiguousarray(nodes["value"])
        ids = nodes.copy()
        ids["value"] = np.arange(len(nodes), dtype=ids["value"].dtype)  # each leaf gives its own index
        self._ids = TreePredictor(ids, tree.binned_left_cat_bitsets, tree.raw_left_cat_bitsets)

    def leaf_of(self, x: np.ndarray, known_bitsets, f_idx_map) -> np.ndarray:
        """Each row's leaf (its node index), routed by the tree's own prediction code."""
        return self._ids.predict(x, known_bitsets, f_idx_map, 1).astype(np.intp)

    def goes_left(self, i: int, v: float, known_bitsets, f_idx_map) -> bool:
        """Whether value ``v`` of node ``i``'s column goes left there (the rule of
        scikit-learn's prediction from raw data: missing values, unknown or out-of-range
        categories go where the split sends missing values)."""
        node = self.tree[i]
        missing = bool(node["missing_go_to_left"])
        if np.isnan(v):
            return missing
        if node["is_categorical"]:
            if v < 0:
                return missing
            k = int(v)
            if (int(self.raw_bitsets[node["bitset_idx"], k // 32]) >> (k % 32)) & 1:
                return True
            if (int(known_bitsets[f_idx_map[node["feature_idx"]], k // 32]) >> (k % 32)) & 1:
                return False
            return missing
        return bool(v <= node["num_threshold"])

    def leaving(self, c: int, v: float, known_bitsets, f_idx_map) -> np.ndarray:
        """Per node: whether a row that reaches it would take another path if its column ``c``
        held ``v`` (some split on ``c`` on the way sends ``v`` the other way). A row whose leaf
        is not leaving keeps its leaf when ``c`` is set to ``v``."""
        nodes = self.tree
        out = np.zeros(len(nodes), dtype=bool)
        for i in self.order:
            left, right = int(nodes["left"][i]), int(nodes["right"][i])
            out[left] = out[right] = out[i]
            if nodes["feature_idx"][i] == c:
                go_left = self.goes_left(i, v, known_bitsets, f_idx_map)
                out[left] |= not go_left
                out[right] |= go_left
        return out


def _tree_sum(values: np.ndarray) -> np.ndarray:
    """Per column of ``values`` (rows: the baseline, then each tree's value), the sum added
    from top to bottom, as scikit-learn's ``decision_function`` adds the trees to the baseline
    one by one: bit for bit the same numbers. Whole rows at a time (contiguous), not a
    cumulative sum across each column's values."""
    total = values[0].copy()
    for row in values[1:]:
        total += row
    return total


class LeadModel:
    """The calibrated boosting model, or the segment rate fallback, fitted on earlier months.

    Parameters
    ----------
    min_train_months : int
        Months with connected calls needed before the scored month for the boosting model.
    min_train_sales : int
        Sales needed in those months.
    max_train_months : int or None
        Use at most this many of the latest months (None: all).
    prior_calls : float
        Pseudo-calls shrinking a segment's rate toward the overall rate (rate model).
    random_state : int
    """

    def __init__(self, min_train_months: int = 2, min_train_sales: int = 50, max_train_months: int | None = None,
                 prior_calls: float = 20.0, random_state: int = 0):
        self.min_train_months = min_train_months
        self.min_train_sales = min_train_sales
        self.max_train_months = max_train_months
        self.prior_calls = prior_calls
        self.random_state = random_state

    def fit(self, data, month: str | pd.Period, policy=None) -> LeadModel:
        """Fit on the months before ``month`` only."""
        for name, v, low in (("min_train_months", self.min_train_months, 1),
                             ("min_train_sales", self.min_train_sales, 1)):
            if not isinstance(v, (int, np.integer)) or v < low:
                raise ParameterError(f"{name} == {v!r}, must be a whole number >= {low}")
        if not (isinstance(self.prior_calls, (int, float)) and self.prior_calls >= 0):
            raise ParameterError(f"prior_calls == {self.prior_calls!r}, must be a number >= 0")
        self.month_ = month if isinstance(month, pd.Period) else parse_month(month)
        train = training_frame(data, self.month_, self.max_train_months, policy)
        self.train_months_ = sorted(train["train_month"].unique()) if len(train) else []
        self.train_sales_ = int(train["sales"].sum()) if len(train) else 0
        self.train_connected_ = int(train["connected"].sum()) if len(train) else 0
        self.features_ = [c for c in train.columns if c not in ("customer_id", "connected", "sales", "train_month")]
        if self.train_connected_ == 0:
            self.kind_ = MODEL_NONE
            return self
        self.segment_ = _choose_segment(train, self.features_, self.prior_calls)
        if (len(self.train_months_) < self.min_train_months or self.train_sales_ < self.min_train_sales
                or self.train_sales_ == self.train_connected_):
            self.kind_ = MODEL_RATE
            return self
        self.kind_ = MODEL_BOOSTING
        self._fit_boosting(train)
        return self

    def _fit_boosting(self, train: pd.DataFrame) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        # the calibration slice: the latest training months holding at least a fifth of the
        # training calls (a tiny last month would set every probability to its own level)
        per = train.groupby("train_month")["connected"].sum().sort_index()
        share = per[::-1].cumsum() / per.sum()
        first_cal = share.index[min(int((share < 0.2).sum()), len(per) - 2)] if len(per) >= 2 else per.index[-1]
        is_last = (train["train_month"] >= first_cal).to_numpy()
        self.calibration_months_ = sorted(train.loc[is_last, "train_month"].unique())
        cal = train[is_last]
        base = train[~is_last] if len(self.train_months_) >= 2 else train
        # a feature with one value (or none) in the fitted months says nothing: no tree can
        # split on it, so leaving it out gives the same trees without binning it and carrying
        # it through every iteration (a month's history features before any history); with
        # none varied, the model is a constant, fitted on the features with a value
        self.features_ = [f for f in self.features_ if base[f].nunique(dropna=False) > 1] or \
            [f for f in self.features_ if base[f].notna().any()]
        self.categories_ = {f: list(base[f].cat.categories) for f in self.features_
                            if isinstance(base[f].dtype, pd.CategoricalDtype)}
        rows, y, w = _binary_rows(base)
        booster, mapper = _booster_classes()
        self.model_ = booster(**BOOSTING_PARAMS, categorical_features=[f in self.categories_ for f in self.features_],
                              random_state=self.random_state)
        with _one_thread():
            self.model_.fit(self.matrix(base)[rows], y, sample_weight=w)
        # the fitted model is a plain scikit-learn estimator: the subclasses only changed how
        # the bin edges were computed, not what they are
        self.model_.__class__ = HistGradientBoostingClassifier
        if type(self.model_._bin_mapper) is mapper:
            self.model_._bin_mapper.__class__ = mapper.__mro__[1]
        self.calibration_ = "none"
        if len(self.train_months_) >= 2:
            rows, yc, wc = _binary_rows(cal)
            z = self._logit(cal)[rows]  # one prediction per customer-month
            n_pos, n_neg = wc[yc == 1].sum(), wc[yc == 0].sum()
            if min(n_pos, n_neg) >= 1000:
                from sklearn.isotonic import IsotonicRegression

                self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                self.calibrator_.fit(z, yc, sample_weight=wc)
                self.calibration_ = "isotonic"
            elif min(n_pos, n_neg) > 0:
                from sklearn.linear_model import LogisticRegression

                self.calibrator_ = LogisticRegression(C=1e6).fit(z.reshape(-1, 1), yc, sample_weight=wc)
                self.calibration_ = "sigmoid"

    def matrix(self, x: pd.DataFrame) -> np.ndarray:
        """The model's input: the features as float columns, each category as its rank among
        the category's levels in sorted order (the codes scikit-learn's own encoding of the
        category values gives, so the model is the same), missing as NaN."""
        out = np.empty((len(x), len(self.features_)), dtype="float64")
        for j, f in enumerate(self.features_):
            if f in self.categories_:
                out[:, j] = _category_ranks(x[f], self.categories_[f])
            else:
                out[:, j] = x[f].to_numpy("float64", na_value=np.nan)
        return out

    def _logit(self, x: pd.DataFrame | np.ndarray) -> np.ndarray:
        m = x if isinstance(x, np.ndarray) else self.matrix(x)
        with _one_thread():
            return self.model_.decision_function(m)

    def _logits_at_reference(self, m: np.ndarray, columns: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The log-odds of the rows of ``m``, and of the same rows with each of ``columns`` set
        to its reference value (:meth:`_logits_changed`)."""
        return self._logits_changed(m, [(j, None) for j in columns])

    def _logits_changed(self, m: np.ndarray, changes: list[tuple[int, np.ndarray | None]]
                        ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The log-odds of the rows of ``m``, and of the same rows with one column changed, for
        each ``(column, rows)`` of ``changes``: the column set to its reference value (``rows``
        None) or to its own values taken from ``rows`` (a permutation of the rows).

        Each tree is evaluated once on ``m``, giving every row's leaf. A row's value in a tree
        can change with column ``j`` only if its value of ``j`` changes and the path to its leaf
        tests ``j`` (for the reference value: some split on ``j`` on that path sends the
        reference the other way), so each change re-evaluates just those rows in just those
        trees; the sums run tree by tree in the model's own order, so every number equals
        ``decision_function`` of the changed rows exactly. Falls back to one
        ``decision_function`` per change where the fitted model does not expose its trees in
        the expected form."""
        est = self.model_
        ref = self._reference_row() if any(rows is None for _, rows in changes) else np.full(m.shape[1], np.nan)
        try:
            trees = [t for (t,) in est._predictors]
            kb, fmap = est._bin_mapper.make_known_categories_bitsets()
            baseline = est._baseline_prediction
            cat = np.zeros(m.shape[1], dtype=bool) if est.is_categorical_ is None else \
                np.asarray(est.is_categorical_, dtype=bool)  # None: no category feature
            paths = [_LeafPaths(t, m.shape[1]) for t in trees]
        except (AttributeError, ValueError, TypeError, KeyError, IndexError):
            trees = None
        if trees is None or baseline.shape != (1, 1) or cat.shape != (m.shape[1],):
            base = self._logit(m)
            out = []
            for j, rows in changes:
                x = m.copy()
                x[:, j] = ref[j] if rows is None else m[rows, j]
                out.append(self._logit(x))
            return base, out
        with _one_thread():
            x = est._preprocess_X(m, reset=False)  # categories first, then the numbers
            x_ref = est._preprocess_X(ref.reshape(1, -1), reset=False)[0]
        where = np.argsort(np.r_[np.flatnonzero(cat), np.flatnonzero(~cat)], kind="stable")  # column -> its place in x
        b = baseline[0, 0]
        n, n_trees = len(m), len(trees)
        total = np.empty(n)
        totals = [np.empty(n) for _ in changes]
        leave = {}  # change -> per tree, the leaves whose rows move when the column is set to the reference
        for lo in range(0, n, _CHUNK_ROWS):  # a block of rows at a time: every tree's leaves of it fit in memory
            xs = x[lo:lo + _CHUNK_ROWS]
            nc = len(xs)
            leaf = np.empty((n_trees, nc), dtype=np.intp)
            by_tree = np.empty((n_trees + 1, nc))  # the baseline, then each tree's value of each row
            by_tree[0] = b
            for i, (path, tree) in enumerate(zip(paths, trees)):
                leaf[i] = path.leaf_of(xs, kb, fmap)
                by_tree[i + 1] = path.values[leaf[i]]
            total[lo:lo + nc] = _tree_sum(by_tree)
            for k, (j, rows) in enumerate(changes):
                c = where[j]
                new = np.full(nc, x_ref[c]) if rows is None else x[rows[lo:lo + nc], c]
                old = xs[:, c]
                moved = (old != new) & ~(np.isnan(old) & np.isnan(new))  # rows whose value of j changes
                out = total[lo:lo + nc].copy()
                if not moved.any():
                    totals[k][lo:lo + nc] = out
                    continue
                if rows is None and k not in leave:
                    leave[k] = [path.leaving(c, x_ref[c], kb, fmap) if path.tests_any[c] else None for path in paths]
                leaving = leave.get(k)
                xf = None
                hit = np.zeros(nc, dtype=bool)
                swaps = []  # (tree, rows, their new values) where a row's value in a tree changes
                for i, (path, tree) in enumerate(zip(paths, trees)):
                    if not path.tests_any[c]:
                        continue
                    if rows is None:  # only leaves whose path some split on j sends the reference elsewhere
                        sel = moved & leaving[i][leaf[i]]
                    else:
                        sel = moved & path.tests_col[c][leaf[i]]
                    r = np.flatnonzero(sel)
                    if not len(r):
                        continue
                    if 2 * len(r) > nc:  # most rows: evaluate the changed block as it is
                        if xf is None:
                            xf = xs.copy()
                            xf[:, c] = new
                        v = tree.predict(xf, kb, fmap, 1)[r]
                    else:
                        xr = np.take(xs, r, axis=0)  # a copy (take: faster than indexing rows)
                        xr[:, c] = new[r]
                        v = tree.predict(xr, kb, fmap, 1)
                    differs = v != by_tree[i + 1, r]
                    if differs.any():
                        swaps.append((i, r[differs], v[differs]))
                        hit[r[differs]] = True
                if swaps:
                    at = np.cumsum(hit) - 1  # row -> its place among the rows hit
                    h = np.flatnonzero(hit)
                    vals = np.take(by_tree, h, axis=1)  # (baseline, trees) x the rows hit
                    for i, r, v in swaps:
                        vals[i + 1, at[r]] = v
                    out[h] = _tree_sum(vals)
                totals[k][lo:lo + nc] = out
        return total, totals

    def _reference_row(self) -> np.ndarray:
        """The reference values in the model's input form (NaN where there is none)."""
        ref = pd.DataFrame({f: (pd.Categorical([self.reference_[f]], categories=self.categories_[f])
                                if f in self.categories_ else [self.reference_[f]]) for f in self.features_})
        return self.matrix(ref)[0]

    def _calibrate(self, z: np.ndarray) -> np.ndarray:
        if self.calibration_ == "isotonic":
            return self.calibrator_.predict(z)
        if self.calibration_ == "sigmoid":
            return self.calibrator_.predict_proba(z.reshape(-1, 1))[:, 1]
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated sale probability per row of :func:`lead_features`; NaN without evidence."""
        if self.kind_ == MODEL_NONE:
            return np.full(len(features), np.nan)
        if self.kind_ == MODEL_RATE:
            return _segment_predict(self.segment_, features)
        return self._calibrate(self._logit(features))

    def contributions(self, features: pd.DataFrame, top: int = 8) -> pd.DataFrame:
        """Each feature's contribution to each row's log-odds: the change when the feature is
        set to its reference (the training median, or the most common level), for the ``top``
        features of largest mean absolute contribution among ``2 * top`` checked by the
        model's split gain. Returns a frame rows x features (log-odds points); its
        ``attrs["logit"]`` holds the rows' own log-odds."""
        feats = self._candidate_features(2 * top)
        base, at_ref = self._logits_at_reference(self.matrix(features), [self.features_.index(f) for f in feats])
        out = pd.DataFrame({f: base - z for f, z in zip(feats, at_ref)}, index=features.index)
        keep = out.abs().mean().sort_values(ascending=False).index[:top]
        out = out[keep]
        out.attrs["logit"] = base  # the rows' own log-odds (decision_function)
        return out

    def _candidate_features(self, k: int) -> list[str]:
        if not hasattr(self, "reference_"):
            raise ParameterError("contributions need a fitted boosting model")
        return self.order_[:k]


def _choose_segment(train: pd.DataFrame, features: list[str], prior: float) -> dict:
    """The customer attribute whose past rates predicted best: each category feature of the
    customers table (and the class) scored by the weighted log loss on the last training
    month of rates from the months before it (or in-sample with one month)."""
    cands = [f for f in features if isinstance(train[f].dtype, pd.CategoricalDtype)
             and f not in ("last_outcome", "last_objection")]
    months = sorted(train["train_month"].unique())
    fit = train[train["train_month"] < months[-1]] if len(months) >= 2 else train
    test = train[train["train_month"] == months[-1]]
    best, best_loss = None, np.inf
    for f in cands:
        seg = _segment_table(fit, f, prior)
        p = np.clip(_segment_predict(seg, test), 1e-6, 1 - 1e-6)
        s, c = test["sales"].to_numpy(float), test["connected"].to_numpy(float)
        loss = -(s * np.log(p) + (c - s) * np.log(1 - p)).sum() / c.sum()
        if loss < best_loss - 1e-12:
            best, best_loss = f, loss
    return _segment_table(train, best, prior)


def _segment_table(train: pd.DataFrame, column: str | None, prior: float) -> dict:
    overall = train["sales"].sum() / train["connected"].sum()
    if column is None:
        return {"column": None, "rates": pd.Series(dtype=float), "overall": float(overall)}
    col = train[column]
    # a category column (the only kind _choose_segment tries): by the level codes, then named
    # and ordered by the levels' text
    g = train[["connected", "sales"]].groupby(np.asarray(col.cat.codes)).sum()
    g = g[g.index >= 0]
    g.index = pd.Index(col.cat.categories.astype("string")[g.index.to_numpy()], dtype="string", name=column)
    g = g.sort_index()
    rates = (g["sales"] + prior * overall) / (g["connected"] + prior)
    return {"column": column, "rates": rates, "overall": float(overall)}


def _segment_predict(seg: dict, features: pd.DataFrame) -> np.ndarray:
    if seg["column"] is None:
        return np.full(len(features), seg["overall"])
    col = features[seg["column"]]
    if isinstance(col.dtype, pd.CategoricalDtype):  # each level's rate once, then by the codes
        rate = pd.Series(col.cat.categories.astype("string")).map(seg["rates"]).astype("float64") \
            .fillna(seg["overall"]).to_numpy()
        codes = np.asarray(col.cat.codes)
        return np.where(codes >= 0, rate[np.maximum(codes, 0)] if len(rate) else seg["overall"], seg["overall"])
    return col.astype("string").map(seg["rates"]).astype("float64").fillna(seg["overall"]).to_numpy()


def fit_lead_model(data, month: str, policy=None, **options) -> LeadModel:
    """:class:`LeadModel` fitted on the months before ``month``, with the reference values and
    feature order its ``reason`` texts use."""
    model = LeadModel(**options).fit(data, month, policy)
    if model.kind_ == MODEL_BOOSTING:
        train = training_frame(data, model.month_, model.max_train_months, policy)
        ref = {}
        for f in model.features_:
            s = train[f]
            if isinstance(s.dtype, pd.CategoricalDtype):
                counts = s.value_counts()
                ref[f] = counts.index[0] if len(counts) else None
            else:
                ref[f] = float(s.median()) if s.notna().any() else np.nan
        model.reference_ = ref
        # features by how much the model uses them: permutation-free proxy, the spread of the
        # log-odds change when each feature is set to its reference on a sample of training rows
        sample = model.matrix(train.sample(min(len(train), 2000), random_state=model.random_state))
        base, at_ref = model._logits_at_reference(sample, list(range(len(model.features_))))
        spread = {f: float(np.abs(base - z).mean()) for f, z in zip(model.features_, at_ref)}
        model.order_ = sorted(spread, key=lambda f: -spread[f])
        model.usage_ = pd.Series(spread).sort_values(ascending=False)
    return model


# ----------------------------------------------------------------------------- the lead table
def score_leads(data, month: str, policy=None, lang: str = "en", model: LeadModel | None = None,
                **options) -> pd.DataFrame:
    """Score every customer who could be called in ``month``.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``: the month to call in. The model sees only the months before it.
    policy : dict or path, optional
        For the customer classes.
    lang : {"en", "zh"}
        Language of ``reason`` and ``best_window``.
    model : LeadModel, optional
        A model already fitted for this month (:func:`fit_lead_model`).
    **options
        :class:`LeadModel` options (``min_train_months``, ``min_train_sales``, ...).

    Returns
    -------
    DataFrame
        One row per customer acquired before the month's end, best first:

        - ``customer_id``
        - ``score``: calibrated probability that a connected call this month ends in a sale
          (empty where there is no evidence)
        - ``decile``: 1 = the best-scored tenth; tied scores share a decile
        - ``expected_value``: score x expected order value (the customer's past order amounts
          shrunk toward their class's mean by 3 pseudo-orders); empty without any orders
        - ``best_window``: weekday and hour band with the best contact rate (Wilson lower
          bound, at least 30 dials) for customers of the same class, from calls before the
          month; empty where contact rates cannot be measured
        - ``scenario``: the scenario of the customer's last call, or for leads never called
          the scenario most first calls use
        - ``suggested_script``: the script ranked ``best`` for that scenario and class
          (:func:`telesales_lab.script_ranking.rank_scripts`, three months before the month);
          empty where the ranking has no verdict
        - ``reason``: the two largest contributions to the score, in words
        - ``model``: ``gradient_boosting``, ``segment_rate`` (too little history: the fallback)
          or ``no_evidence``
    """
    labels.check_lang(lang)
    p = parse_month(month)
    if model is None:
        model = fit_lead_model(data, str(p), policy, **options)
    feats = lead_features(data, p, policy=policy)
    contrib = None
    if model.kind_ == MODEL_BOOSTING:  # the contributions evaluate the model on the rows anyway
        contrib = model.contributions(feats)
        score = model._calibrate(contrib.attrs["logit"])
    else:
        score = model.predict(feats)
    out = pd.DataFrame({"customer_id": feats["customer_id"], "score": score})
    out["decile"] = _deciles(out["score"])
    out["expected_value"] = out["score"] * _expected_order_value(data, p, feats)
    out["best_window"] = _best_window(data, p, feats, lang)
    out["scenario"] = _scenario(data, p, feats)
    out["suggested_script"] = _suggested_script(data, p, feats, out["scenario"], policy)
    out["reason"] = _reasons(model, feats, lang, contrib)
    out["model"] = model.kind_
    out = out.sort_values("score", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    out.attrs["model"] = model.kind_
    out.attrs["train_months"] = [str(m) for m in getattr(model, "train_months_", [])]
    return out


def model_note(model: LeadModel, lang: str = "en") -> str:
    """One sentence saying which model scored the month and on what."""
    months = getattr(model, "train_months_", [])
    span = f"{months[0]}..{months[-1]}" if months else "-"
    if lang == "zh":
        if model.kind_ == MODEL_BOOSTING:
            cal = {"isotonic": "保序回归", "sigmoid": "Sigmoid", "none": "未另行"}[model.calibration_]
            return f"模型：梯度提升（{cal}校准），训练月份 {span}，{model.train_sales_:,} 次成交 / {model.train_connected_:,} 次接通。"
        if model.kind_ == MODEL_RATE:
            return (f"历史数据不足（{len(months)} 个月，{model.train_sales_:,} 次成交），未用模型：得分为客户所在分群"
                    f"（{model.segment_['column'] or '全体'}）的历史成交率。")
        return "本月之前没有接通的通话：无依据，不打分。"
    if model.kind_ == MODEL_BOOSTING:
        return (f"model: gradient boosting ({model.calibration_} calibration), trained on {span}, "
                f"{model.train_sales_:,} sales in {model.train_connected_:,} connected calls.")
    if model.kind_ == MODEL_RATE:
        return (f"too little history for the model ({len(months)} month(s), {model.train_sales_:,} sales): the score "
                f"is the past conversion of the customer's segment ({model.segment_['column'] or 'all customers'}), "
                f"the simple rate model.")
    return "no connected calls before the month: no evidence, no scores."


def _deciles(score: pd.Series) -> pd.Series:
    n = int(score.notna().sum())
    rank = score.rank(method="min", ascending=False)
    return np.ceil(rank / max(n, 1) * 10).clip(1, 10).astype("Int64")


def _expected_order_value(data, p: pd.Period, feats: pd.DataFrame, prior_orders: float = 3.0) -> np.ndarray:
    orders = data.orders
    ok = is_kept_order(orders["status"]) & (orders["ordered_at"] < p.start_time).to_numpy(bool)
    if not ok.any():
        return np.full(len(feats), np.nan)
    n, amount = feats["hist_orders"].to_numpy(float), feats["hist_amount"].to_numpy(float)
    overall = orders.loc[ok, "amount"].mean()
    cls = feats["customer_class"].astype("string")
    with_orders = n > 0
    by_class = pd.Series(amount[with_orders]).groupby(cls[with_orders].to_numpy()).sum() / \
        pd.Series(n[with_orders]).groupby(cls[with_orders].to_numpy()).sum()
    prior = cls.map(by_class).astype("float64").fillna(overall).to_numpy()
    return (amount + prior_orders * prior) / (n + prior_orders)


def _hour_band(hours: np.ndarray) -> np.ndarray:
    out = np.empty(len(hours), dtype=object)
    for lo, hi, label in _HOUR_BANDS:
        out[(hours >= lo) & (hours < hi)] = label
    return out


def _best_window(data, p: pd.Period, feats: pd.DataFrame, lang: str, min_dials: int = 30) -> pd.Series:
    from telesales_lab.analysis.inference import wilson_interval

    empty = pd.Series(pd.NA, index=feats.index, dtype="string")
    calls = data.calls
    past = calls[(calls["started_at"] < p.start_time).to_numpy(bool)]
    connected = _flags(past["outcome"], CONNECTED_OUTCOMES)
    t = past["started_at"]
    if past.empty or connected.all() or (t.dt.hour == 0).all() and (t.dt.minute == 0).all():
        return empty  # no unanswered dials or no time of day: contact rates cannot be measured
    # each call's class, weekday and hour band as codes in the order of their names (a class
    # looked up once per customer, not per call), so the groups come out as grouping the names
    ids, who = pd.factorize(past["customer_id"].astype("string"))
    their = _class_at_start(data, p, None).reindex(pd.Index(who, dtype="string")).fillna("C").to_numpy(object)
    their = np.r_[their, np.array(["C"], dtype=object)]  # a call without a customer: class C
    classes = np.array(sorted(set(their.tolist())), dtype=object)
    cls = np.searchsorted(classes, their)[np.where(ids >= 0, ids, len(their) - 1)]
    bands = np.array(sorted(label for _, _, label in _HOUR_BANDS), dtype=object)
    band = np.searchsorted(bands, _hour_band(np.arange(24)))[t.dt.hour.to_numpy()]
    frame = pd.DataFrame({"customer_class": cls, "weekday": t.dt.day_of_week.to_numpy(), "band": band,
                          "connected": connected.astype(int)})
    g = frame.groupby(["customer_class", "weekday", "band"])["connected"].agg(["size", "sum"]).reset_index()
    g["customer_class"] = classes[g["customer_class"].to_numpy()]
    g["band"] = bands[g["band"].to_numpy()]
    g = g[g["size"] >= min_dials]
    if g.empty:
        return empty
    g["low"] = wilson_interval(g["sum"].to_numpy(), g["size"].to_numpy())[0]
    best = g.sort_values("low", ascending=False, kind="stable").drop_duplicates("customer_class")
    hours = labels.t("hours", lang, "leads")
    label = [f"{labels.t(f'weekday_{w}', lang)} {b}{hours}" for w, b in zip(best["weekday"], best["band"])]
    lookup = pd.Series(label, index=best["customer_class"].to_numpy())
    cls_now = feats["customer_class"].astype("string").fillna("C")
    return cls_now.map(lookup).astype("string")


def _scenario(data, p: pd.Period, feats: pd.DataFrame) -> pd.Series:
    panel = _panel(data)
    rows = panel["rows"]
    idx = _before(panel, _positions(panel["ids"], feats["customer_id"]), _period_index(p))
    last = _taken(rows["last_scenario"], idx).set_axis(feats.index)
    # leads never called: the scenario most customers' first call used (before the month)
    calls = data.calls
    past = calls[(calls["started_at"] < p.start_time).to_numpy(bool)]
    if not past.empty:
        first = past.sort_values("started_at", kind="stable").drop_duplicates("customer_id")
        scen = data.scripts.set_index("script_id")["scenario"].astype("string")
        counts = first["script_id"].astype("string").map(scen).value_counts()
        if len(counts) and (len(counts) == 1 or counts.iloc[0] > counts.iloc[1]):
            last = last.fillna(counts.index[0])
    return last


def _suggested_script(data, p: pd.Period, feats: pd.DataFrame, scenario: pd.Series, policy) -> pd.Series:
    from telesales_lab.analysis.ranking import rank_scripts

    empty = pd.Series(pd.NA, index=feats.index, dtype="string")
    try:
        ranking = rank_scripts(data, str(p - 1), by="customer_class", window_months=3)
    except ParameterError:
        return empty
    best = ranking[ranking["verdict"].astype("string") == "best"]
    if best.empty:
        return empty
    key = pd.Series(best["script_id"].astype("string").to_numpy(),
                    index=pd.MultiIndex.from_arrays([best["scenario"].astype("string"),
                                                     best["customer_class"].astype("string")]))
    cls = feats["customer_class"].astype("string").fillna("C")
    want = pd.MultiIndex.from_arrays([scenario.astype("string"), cls])
    return pd.Series(key.reindex(want).to_numpy(), index=feats.index, dtype="string")


def _label(feature: str, lang: str) -> str:
    return labels.t(feature, lang, "leads")


def _shown(values: pd.Series, lang: str) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or pd.api.types.is_string_dtype(values):
        s = values.astype("string")
        if lang != "en":  # category words in the reader's language (callback -> 约回访); ids stay
            words = {v: labels.t(v, lang) for v in s.dropna().unique() if labels.has(v)}
            if words:
                s = s.map(lambda v: words.get(v, v) if isinstance(v, str) else v).astype("string")
        return s.fillna(labels.t("none", lang, "leads")).to_numpy(object)
    # numbers for people (59,433 and 0.25), each distinct value formatted once
    distinct, at = np.unique(values.to_numpy(float), return_inverse=True)  # NaN once, last
    none = labels.t("none", lang, "leads")
    # (+ 0.0: np.unique keeps one of -0.0 and 0.0 for both, and a zero reads 0.00, not -0.00)
    text = np.array([none if np.isnan(x) else f"{x + 0.0:.2f}" if abs(x) < 1 else f"{x:,.0f}" for x in distinct],
                    dtype=object)
    return text[at.reshape(-1)]


def _reasons(model: LeadModel, feats: pd.DataFrame, lang: str, contrib: pd.DataFrame | None = None) -> pd.Series:
    """The two largest contributions per customer, as words."""
    if model.kind_ == MODEL_NONE:
        return pd.Series(labels.t(MODEL_NONE, lang, "leads"), index=feats.index, dtype="string")
    if model.kind_ == MODEL_RATE:
        col = model.segment_["column"]
        if col is None:
            return pd.Series(labels.t(MODEL_RATE, lang, "leads"), index=feats.index, dtype="string")
        shown = _shown(feats[col], lang)
        sep = "：" if lang == "zh" else ": "
        head = labels.t(MODEL_RATE, lang, "leads")
        return pd.Series([f"{head}; {_label(col, lang)}{sep}{v}" for v in shown], index=feats.index, dtype="string")
    if contrib is None:
        contrib = model.contributions(feats)
    vals = contrib.to_numpy()
    order = np.argsort(-np.abs(vals), axis=1)[:, :2]
    names = contrib.columns.to_numpy()
    sep = "：" if lang == "zh" else ": "
    parts = []
    for k in range(order.shape[1]):
        f = names[order[:, k]]
        v = vals[np.arange(len(vals)), order[:, k]]
        shown = np.empty(len(f), dtype=object)
        for name in np.unique(f):  # a few features, not rows
            sel = f == name
            shown[sel] = _shown(feats.loc[sel, name], lang)
        words = np.array([_label(x, lang) for x in names])[order[:, k]]
        way = np.where(v >= 0, labels.t("raises", lang, "leads"), labels.t("lowers", lang, "leads"))
        if lang == "zh":
            parts.append(pd.Series(words, dtype=object) + sep + pd.Series(shown, dtype=object).astype(str)
                         + "（" + pd.Series(way, dtype=object) + "）")
        else:
            parts.append(pd.Series(words, dtype=object) + sep + pd.Series(shown, dtype=object).astype(str)
                         + " (" + pd.Series(way, dtype=object) + ")")
    joint = "；" if lang == "zh" else "; "
    reason = parts[0] if len(parts) == 1 else parts[0] + joint + parts[1]  # one, with a one-feature model
    return pd.Series(reason.to_numpy(), index=feats.index, dtype="string")
