"""Per-month sufficient statistics of calls, orders and feedback, computed once per data set
(kept in ``data.cache``, see :mod:`telesales_lab.data.cache`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.data.cache import cached
from telesales_lab.data.schema import CONNECTED_OUTCOMES, POSITIVE_OUTCOMES, is_kept_order


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
    low = int(key.min()) if len(key) else 0
    span = int(key.max()) - low + 1 if len(key) else 0
    if span <= 8 * len(key) + 1_000_000:  # the usual case: a dense range of keys, no sort needed
        present = np.bincount(key - low, minlength=span) > 0
        uniq = np.flatnonzero(present) + low
        inv = (np.cumsum(present) - 1)[key - low]
        first = np.full(len(uniq), len(key), dtype=np.int64)
        np.minimum.at(first, inv, np.arange(len(key)))
    else:  # months far apart (a typo'd year): sort instead of a huge dense range
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


def call_months(data) -> frozenset[pd.Period]:
    """The months that have calls (kept in ``data.cache``)."""
    return _calls_by_month(data)[1]


def call_month_stats(data) -> pd.DataFrame:
    """Calls per month and rep, and the counts behind the call metrics (kept in ``data.cache``; callers get a copy).

    One pass over the calls table for every month at once: ``month`` (ordinal),
    ``rep_id``, ``first_row``, ``n_calls``, ``obj_n`` / ``obj_k`` (calls with an objection /
    those ending positive), ``close_n`` / ``close_k`` (sale or interested / sale), ``q_n`` /
    ``q_k`` (connected / connected without objection).
    """
    return _calls_by_month(data)[0]


def _calls_by_month(data) -> tuple[pd.DataFrame, frozenset[pd.Period]]:
    def compute():
        c = data.calls
        month = _month_ordinals(c["started_at"])
        have = frozenset(pd.Period(ordinal=int(o), freq="M") for o in pd.unique(month[month != _NO_MONTH]))
        connected = _flags(c["outcome"], CONNECTED_OUTCOMES)
        positive = _flags(c["outcome"], POSITIVE_OUTCOMES)
        sale = _flags(c["outcome"], ("sale",))
        interested = _flags(c["outcome"], ("interested",))
        objection = c["objection"].notna().to_numpy(bool)
        stats_ = _month_rep_sums(month, c["rep_id"], {
            "n_calls": np.ones(len(c), bool), "obj_n": objection, "obj_k": objection & positive,
            "close_n": sale | interested, "close_k": sale, "q_n": connected, "q_k": connected & ~objection})
        return stats_, have

    return cached(data, "calls_by_month", ("calls",), compute)


def order_month_stats(data) -> pd.DataFrame:
    """Orders per month (of ``ordered_at``) and rep: ``ord_n`` all, ``ord_k`` not cancelled (remembered)."""
    def compute():
        o = data.orders
        return _month_rep_sums(_month_ordinals(o["ordered_at"]), o["rep_id"], {
            "ord_n": np.ones(len(o), bool), "ord_k": is_kept_order(o["status"])})

    return cached(data, "order_month_stats", ("orders",), compute)


def first_order_rows(data) -> np.ndarray:
    """Positions in ``data.orders`` of each customer's first non-cancelled order, kept in
    ``data.cache``, in no particular order.

    The first order is the earliest ``ordered_at`` (a missing time last), ties broken by the
    lowest ``order_id`` (a missing id last), then by table order: the rows that
    ``sort_values(["ordered_at", "order_id"], kind="stable").drop_duplicates("customer_id")``
    keeps. Orders without a customer count as one customer, as that drop does. The
    customers and times are sorted as whole numbers; only a customer whose earliest time is
    shared by several orders has its order ids compared.
    """
    def compute():
        o = data.orders
        rows = np.flatnonzero(np.asarray(is_kept_order(o["status"]), dtype=bool))
        if not len(rows):
            return rows.astype(np.int64)
        customer, _ = pd.factorize(o["customer_id"].take(rows), use_na_sentinel=False)
        when = o["ordered_at"].to_numpy("datetime64[ns]")[rows]
        t = np.where(np.isnat(when), np.iinfo(np.int64).max, when.view(np.int64))
        order = np.lexsort((t, customer))  # by customer, then time; ties keep table order
        c, ts = customer[order], t[order]
        head = np.r_[True, c[1:] != c[:-1]]
        group = np.cumsum(head) - 1
        starts = np.flatnonzero(head)
        pick = order[starts]
        at_first = ts == ts[starts][group]  # the orders at their customer's earliest time
        shared = at_first & (np.bincount(group, weights=at_first)[group] > 1)
        if shared.any():  # the lowest order id among those (a few customers, not all)
            ids = o["order_id"].take(rows[order[shared]]).reset_index(drop=True)
            tied = pd.DataFrame({"group": group[shared], "order_id": ids, "row": order[shared]})
            tied = tied.sort_values(["group", "order_id"], kind="stable").drop_duplicates("group")
            pick[tied["group"].to_numpy()] = tied["row"].to_numpy()
        return rows[pick]

    return cached(data, "first_order_rows", ("orders",), compute)


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

    return cached(data, "feedback_month_stats", ("feedback",), compute)
