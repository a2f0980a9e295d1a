"""Customer classes A/B/C from purchase frequency, amount and potential value, and the care list.

A customer's class is read from three numbers over a lookback window of non-cancelled
orders ending with the month (``[customers] lookback_months`` of the policy):

* **frequency**: orders in the window;
* **monetary**: their total amount;
* **potential**: the customer's interest on the phone, 0-100: the share of the customer's
  connected calls in the window that ended positive (callback, interested, sale), shrunk
  toward the centre's rate by ``potential_prior_calls`` pseudo-calls, so a customer never
  called sits at the centre's rate.

Each number becomes a percentile: the share of customers (acquired by the month's end)
with a strictly smaller value, times 100, so customers with no orders score 0 on
frequency and monetary. The composite score is the weighted mean of the three
percentiles (``[customers.weights]``); class A from ``a_min_score``, B from
``b_min_score``, C below. Customers with no orders yet get a class like anyone else (C
unless their potential alone reaches a threshold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.data.periods import month_bounds, parse_month
from telesales_lab.data.policy import resolve_policy
from telesales_lab.data.schema import CONNECTED_OUTCOMES, CUSTOMER_CLASSES, POSITIVE_OUTCOMES, is_kept_order
from telesales_lab.data.cache import cached
from telesales_lab.data.keys import positions
from telesales_lab.data.monthly import _flags

#: tables that customer scores read (their cache key)
_SCORE_TABLES = ("calls", "customers", "orders")



def _percentile(values: pd.Series) -> pd.Series:
    """Share of values strictly below each value, x100 (ties share the lower rank)."""
    n = len(values)
    if n == 0:
        return values.astype("float64")
    return (values.rank(method="min") - 1.0) / n * 100.0


def _calls_by_customer(data) -> dict:
    """Each call's customer as a code into ``ids``, and whether it connected / ended
    positive (kept in ``data.cache``: grouping a million calls by customer id text is
    the slow part of the classes and the care list)."""
    def compute():
        calls = data.calls
        code, ids = pd.factorize(calls["customer_id"])
        if len(ids) < np.iinfo("int32").max:
            code = code.astype("int32")  # half the memory kept in the cache
        return {"code": code, "ids": pd.Index(ids, name="customer_id"),
                "connected": _flags(calls["outcome"], CONNECTED_OUTCOMES),
                "positive": _flags(calls["outcome"], POSITIVE_OUTCOMES)}

    return cached(data, "calls_by_customer", ("calls",), compute)


def _customer_rows(data) -> dict:
    """Each order's customer, and each customer of :func:`_calls_by_customer`, as a row of the
    customers table (-1: not in it), looked up once (kept in ``data.cache``)."""
    def compute():
        ids = data.customers["customer_id"]
        return {"orders": positions(data.orders["customer_id"], ids),
                "calls": positions(_calls_by_customer(data)["ids"], ids)}

    return cached(data, "customer_rows", ("calls", "customers", "orders"), compute)


def _scores(data, month: str, policy: dict) -> pd.DataFrame:
    """Frequency, monetary, recency, potential and the composite score per customer.

    Remembered on the data set for the month and the ``[customers]`` policy: the classes,
    the care list and the lapsed-customer check all start from it.
    """
    return cached(data, "customer_scores", _SCORE_TABLES, lambda: _compute_scores(data, month, policy),
                  month=month, policy=policy, sections=("customers",))


def _compute_scores(data, month: str, policy: dict) -> pd.DataFrame:
    cfg = policy["customers"]
    p = parse_month(month)
    _, end = month_bounds(p)
    start = (p - (cfg["lookback_months"] - 1)).start_time

    # customers, orders and calls meet on each customer's row in the customers table (its
    # position, looked up once for every month), not on the id text
    cust = data.customers
    at = _customer_rows(data)
    acquired = (cust["acquired_on"] < end).to_numpy(bool)
    known = pd.DataFrame({"customer_id": cust["customer_id"][acquired].reset_index(drop=True),
                          "row": np.flatnonzero(acquired)})

    orders = data.orders
    ok = is_kept_order(orders["status"]) & (orders["ordered_at"] < end).to_numpy(bool) & (at["orders"] >= 0)
    past = orders.loc[ok, ["ordered_at", "amount"]].reset_index(drop=True)
    past.insert(0, "row", at["orders"][ok])
    last = past.groupby("row")["ordered_at"].max()
    window = past[past["ordered_at"] >= start]
    agg = window.groupby("row").agg(frequency=("amount", "size"), monetary=("amount", "sum"))

    calls = data.calls
    cc = _calls_by_customer(data)
    in_win = ((calls["started_at"] >= start) & (calls["started_at"] < end)).to_numpy(bool) & (cc["code"] >= 0)
    n_ids = len(cc["ids"])
    called = np.bincount(cc["code"][in_win], minlength=n_ids) > 0
    ev = pd.DataFrame({"connected": np.bincount(cc["code"][in_win & cc["connected"]], minlength=n_ids),
                       "positive": np.bincount(cc["code"][in_win & cc["positive"]], minlength=n_ids)})[called]
    total_conn = float(ev["connected"].sum())  # customers called in the window, in the table or not
    base = float(ev["positive"].sum()) / total_conn if total_conn else 0.0
    k = float(cfg["potential_prior_calls"])
    rows = at["calls"][called]
    ev = ev[rows >= 0].set_axis(rows[rows >= 0])

    out = known.join(agg, on="row").join(ev, on="row").join(last.rename("last_order"), on="row") \
        .drop(columns="row")
    out["frequency"] = out["frequency"].fillna(0).astype("int64")
    out["monetary"] = out["monetary"].fillna(0.0).astype("float64")
    conn = out["connected"].fillna(0).astype("float64")
    pos = out["positive"].fillna(0).astype("float64")
    denom = conn + k
    out["potential"] = np.where(denom > 0, (pos + k * base) / denom.where(denom > 0, 1.0), base) * 100.0
    # whole days from the last non-cancelled order to the end of the month; NaN = never ordered
    out["recency_days"] = ((end - out["last_order"]).dt.total_seconds() / 86_400.0).apply(np.floor)
    w = cfg["weights"]
    out["class_score"] = (w["frequency"] * _percentile(out["frequency"])
                          + w["monetary"] * _percentile(out["monetary"])
                          + w["potential"] * _percentile(out["potential"]))
    return out


def classify_customers(data, month: str, policy=None) -> pd.DataFrame:
    """Class every customer acquired by the end of ``month`` as A, B or C.

    Parameters
    ----------
    data : Dataset
        A loaded data set (:func:`telesales_lab.data.load.load_dataset`).
    month : str
        ``YYYY-MM``; the lookback window ends with this month.
    policy : dict or path, optional
        The policy (``[customers]`` thresholds, weights, window); defaults if None.

    Returns
    -------
    DataFrame
        One row per customer, sorted by customer_id:

        - ``customer_id``
        - ``customer_class``: "A", "B" or "C"
        - ``frequency``: non-cancelled orders in the lookback window
        - ``monetary``: their total amount
        - ``recency_days``: whole days from the last non-cancelled order (any time before
          the month's end) to the month's end; empty if the customer never ordered
        - ``potential``: 0-100, the shrunk share of connected calls that ended positive
    """
    policy = resolve_policy(policy)
    s = _scores(data, month, policy)
    cfg = policy["customers"]
    cls = np.where(s["class_score"] >= cfg["a_min_score"], "A",
                   np.where(s["class_score"] >= cfg["b_min_score"], "B", "C"))
    out = pd.DataFrame({
        "customer_id": s["customer_id"].astype("string"),
        "customer_class": pd.Categorical(cls, categories=list(CUSTOMER_CLASSES)),
        "frequency": s["frequency"],
        "monetary": s["monetary"].round(2),
        "recency_days": s["recency_days"].astype("float64"),
        "potential": s["potential"].round(2),
    })
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def class_summary(classes: pd.DataFrame) -> pd.DataFrame:
    """Size and value of each class, from :func:`classify_customers`.

    Returns
    -------
    DataFrame
        One row per class A, B, C: ``customer_class, customers, share, frequency``
        (mean orders), ``monetary`` (total amount), ``monetary_share``, ``potential``
        (mean), ``never_ordered`` (customers without any order in the window).
    """
    g = classes.groupby("customer_class", observed=False)
    out = pd.DataFrame({
        "customers": g.size(),
        "frequency": g["frequency"].mean(),
        "monetary": g["monetary"].sum(),
        "potential": g["potential"].mean(),
        "never_ordered": g["frequency"].apply(lambda f: int((f == 0).sum())),
    }).reindex(list(CUSTOMER_CLASSES))
    out.insert(1, "share", out["customers"] / max(int(out["customers"].sum()), 1))
    total = float(out["monetary"].sum())
    out.insert(4, "monetary_share", out["monetary"] / total if total > 0 else np.nan)
    out.index.name = "customer_class"
    out = out.reset_index()
    out["customer_class"] = out["customer_class"].astype("string")
    return out


def care_summary(care: pd.DataFrame) -> pd.DataFrame:
    """Customers per reason and class in a :func:`care_list`.

    Returns
    -------
    DataFrame
        ``reason, customer_class, customers``, one row per reason and class present.
    """
    out = care.groupby(["reason", "customer_class"], observed=True).size().rename("customers").reset_index()
    out["reason"] = out["reason"].astype("string")
    return out


def customer_class_map(data, month: str, policy=None) -> pd.Series:
    """Class of every customer: Series indexed by customer_id, values "A", "B" or "C".

    Customers acquired after the month are absent (map them to "C" if needed).
    """
    frame = classify_customers(data, month, policy)
    return pd.Series(frame["customer_class"].astype("string").to_numpy(),
                     index=pd.Index(frame["customer_id"], name="customer_id"), name="customer_class")


def history_months(data, month: str) -> int:
    """Months of history up to ``month`` (inclusive): from the month of the first call or
    order, 0 when there is none. Classes look back ``[customers] lookback_months``; with less
    history they use what there is (the page says so)."""
    end = parse_month(month)
    firsts = [s.min() for s in (data.calls["started_at"], data.orders["ordered_at"]) if len(s)]
    firsts = [f for f in firsts if pd.notna(f)]
    if not firsts:
        return 0
    first = pd.Period(min(firsts), freq="M")
    return max(0, end.ordinal - first.ordinal + 1)


def class_at_start(data, month: str, policy=None) -> pd.Series:
    """Each customer's class at the start of ``month``: :func:`customer_class_map` of the
    month before, so that the class of a call never reflects that month's own orders and
    calls (a sale would otherwise lift its own customer into class A).

    Customers acquired during ``month`` are absent (they are new: count them as "C").
    """
    return customer_class_map(data, str(parse_month(month) - 1), policy)


def _next_birthday(birthday: pd.Series, after: pd.Timestamp) -> pd.Series:
    """The first anniversary strictly after ``after`` (29 February falls on 28 February)."""
    ok = birthday.notna()
    b = birthday[ok]
    out = pd.Series(pd.NaT, index=birthday.index, dtype="datetime64[ns]")
    if b.empty:
        return out
    month, day = b.dt.month.to_numpy(), b.dt.day.to_numpy()
    result = None
    for offset in (0, 1):  # this year's anniversary, else next year's
        year = np.full(len(b), after.year + offset)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        d = np.where((month == 2) & (day == 29) & ~leap, 28, day)
        when = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": d}))
        when.index = b.index
        result = when if result is None else result.where(result > after, when)
    out[ok] = result
    return out


def _lapsed_a(data, month: str, policy: dict, since: pd.Timestamp, past_orders: np.ndarray,
              last_order: np.ndarray) -> pd.Index:
    """Ids of customers of the customers table who bought like today's class A but have not
    ordered since ``since`` (in no particular order). ``past_orders``: which orders count (kept,
    before the month's end, of a listed customer); ``last_order``: each customers row's latest
    of them (int64 ns), as :func:`care_list` has them."""
    cfg = policy["customers"]
    now = _scores(data, month, policy)
    orders = data.orders
    row = _customer_rows(data)["orders"][past_orders]  # their customers as rows of the customers table
    past = pd.DataFrame({"row": row, "ordered_at": orders["ordered_at"].to_numpy()[past_orders],
                         "amount": orders["amount"].to_numpy(float)[past_orders]})
    last = pd.Series(last_order[row].view("datetime64[ns]"), index=past.index)
    gone = last < since
    # each lapsed customer's own window: lookback_months up to their last order
    own = past[gone & (past["ordered_at"] > last - pd.DateOffset(months=int(cfg["lookback_months"])))]
    agg = own.groupby("row").agg(frequency=("amount", "size"), monetary=("amount", "sum"))
    if agg.empty:
        return pd.Index([], dtype="string")
    agg.index = pd.Index(data.customers["customer_id"].to_numpy()[agg.index.to_numpy()], dtype="string",
                         name="customer_id")
    n = len(now)

    def pct(today: pd.Series, values: pd.Series) -> np.ndarray:
        return np.searchsorted(np.sort(today.to_numpy(float)), values.to_numpy(float), side="left") / n * 100.0

    pot = now.set_index("customer_id")["potential"].reindex(agg.index)
    w = cfg["weights"]
    score = (w["frequency"] * pct(now["frequency"], agg["frequency"])
             + w["monetary"] * pct(now["monetary"], agg["monetary"])
             + w["potential"] * pct(now["potential"], pot.fillna(now["potential"].median())))
    return agg.index[score >= cfg["a_min_score"]]


def care_list(data, month: str, policy=None) -> pd.DataFrame:
    """Customers the policy asks to contact after ``month``, by id only.

    Three reasons; a customer appears once per reason that applies:

    - ``revisit_due``: the last connected call (or the acquisition, if never reached) plus
      the class's cadence (``[care.revisit_days]``) falls no later than ``horizon_days``
      after the month's end (overdue revisits included);
    - ``birthday``: a birthday within ``horizon_days`` after the month's end;
    - ``lapsed_a``: no non-cancelled order in the last ``lapsed_a_months`` months (this
      month included), although in the ``lookback_months`` up to their last order they
      bought like a class A customer of today: their frequency and amount then, with
      their potential now, scored against today's customers, reach ``a_min_score``.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        ``customer_id, customer_class, reason, due_on, last_call_on, last_order_on``,
        sorted by reason, due date and customer. ``due_on`` is the revisit date, the
        birthday, or (lapsed) the first day of the lapse period. No names, no phones.
    """
    policy = resolve_policy(policy)
    care = policy["care"]
    p = parse_month(month)
    _, end = month_bounds(p)
    last_day = end - pd.Timedelta(days=1)
    horizon = last_day + pd.Timedelta(days=int(care["horizon_days"]))

    # each customer's class, last connected call and last order before the month's end, on the
    # rows of the customers table (the calls' and orders' customers looked up once, by number)
    customers = data.customers
    n = len(customers)
    none = np.iinfo("int64").min
    classes = classify_customers(data, month, policy)
    at = positions(classes["customer_id"], customers["customer_id"])
    known = at >= 0
    cls_codes = np.full(n, -1, dtype=np.int64)
    cls_codes[at[known]] = classes["customer_class"].cat.codes.to_numpy()[known]
    rows_of = _customer_rows(data)
    calls = data.calls
    cc = _calls_by_customer(data)
    reached = cc["connected"] & (calls["started_at"] < end).to_numpy(bool) & (cc["code"] >= 0)
    latest = np.full(len(cc["ids"]), none)
    np.maximum.at(latest, cc["code"][reached], calls["started_at"].to_numpy("datetime64[ns]").view("int64")[reached])
    last_call = np.full(n, none)
    listed = rows_of["calls"] >= 0
    last_call[rows_of["calls"][listed]] = latest[listed]
    orders = data.orders
    past_orders = np.asarray(is_kept_order(orders["status"]) & (orders["ordered_at"] < end).to_numpy(bool)
                             & (rows_of["orders"] >= 0), dtype=bool)
    last_order = np.full(n, none)
    np.maximum.at(last_order, rows_of["orders"][past_orders],
                  orders["ordered_at"].to_numpy("datetime64[ns]").view("int64")[past_orders])

    rows = np.flatnonzero((customers["acquired_on"] < end).to_numpy(bool))
    base = customers[["customer_id", "acquired_on", "birthday"]].iloc[rows].reset_index(drop=True)
    base["customer_class"] = pd.Categorical.from_codes(cls_codes[rows], categories=list(CUSTOMER_CLASSES))
    base["last_call"] = last_call[rows].view("datetime64[ns]")  # the int64 minimum is NaT: none
    base["last_order"] = last_order[rows].view("datetime64[ns]")
    cls = base["customer_class"].astype("string")
    cadence = cls.map({c: float(care["revisit_days"][c]) for c in CUSTOMER_CLASSES}).astype("float64")
    since = base["last_call"].fillna(base["acquired_on"]).dt.normalize()
    due = since + pd.to_timedelta(cadence, unit="D")
    parts = [base.assign(reason="revisit_due", due_on=due)[due <= horizon]]

    bday = _next_birthday(base["birthday"], last_day)
    parts.append(base.assign(reason="birthday", due_on=bday)[bday.notna() & (bday <= horizon)])

    since_lapse = (p - (int(care["lapsed_a_months"]) - 1)).start_time
    lapsed_ids = _lapsed_a(data, month, policy, since_lapse, past_orders, last_order)
    lapsed = base["customer_id"].isin(lapsed_ids).to_numpy(bool)
    parts.append(base.assign(reason="lapsed_a", due_on=since_lapse)[lapsed])

    out = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame({
        "customer_id": out["customer_id"].astype("string"),
        "customer_class": pd.Categorical(out["customer_class"].astype("string"), categories=list(CUSTOMER_CLASSES)),
        "reason": out["reason"].astype("string"),
        "due_on": out["due_on"].dt.normalize(),
        "last_call_on": out["last_call"].dt.normalize(),
        "last_order_on": out["last_order"].dt.normalize(),
    })
    order = {"lapsed_a": 0, "birthday": 1, "revisit_due": 2}
    out = out.assign(_r=out["reason"].map(order)).sort_values(["_r", "due_on", "customer_id"], kind="stable")
    return out.drop(columns="_r").reset_index(drop=True)
