"""Per-month sufficient statistics of calls, orders and feedback, and results remembered on a data set.
"""

from __future__ import annotations

import json
import numpy as np
import pandas as pd
from telesales_lab.data.periods import parse_month
from telesales_lab.data.schema import CONNECTED_OUTCOMES, POSITIVE_OUTCOMES, is_kept_order


# ----------------------------------------------------------------------------- remembered on the data set
def _cache(data) -> dict | None:
    """The memory kept on a data set, emptied if one of its tables was replaced since; None
    for an object that takes no attributes."""
    cache = getattr(data, "_telesales_memo", None)
    tables = getattr(data, "tables", None)
    if isinstance(tables, dict):
        snapshot = dict(tables)
    else:  # another object with the tables as attributes
        snapshot = {k: v for k, v in getattr(data, "__dict__", {}).items() if k != "_telesales_memo"}
    if cache is None:
        cache = {}
        try:
            object.__setattr__(data, "_telesales_memo", cache)
        except (AttributeError, TypeError):
            return None
    seen = cache.get("__tables__")
    if seen is None or len(seen) != len(snapshot) or any(snapshot.get(k) is not v for k, v in seen.items()):
        cache.clear()  # a table was replaced: nothing remembered holds any more
        cache["__tables__"] = snapshot
    return cache


def remember(data, key: tuple, compute):
    """``compute()``, kept on the loaded data set under ``key`` (the object itself, not a copy).

    A notebook asks for the same month's numbers many times (ranking, trends, awards,
    promotion), and each month needs the months before it; what a data set's tables give is
    therefore computed once and kept on it. The memory is dropped when a table of the data
    set is replaced (the tables are never modified in place). An object that takes no
    attributes gets no memory.
    """
    cache = _cache(data)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _policy_key(policy: dict, sections: tuple[str, ...]) -> str:
    return json.dumps({k: policy[k] for k in sections}, sort_keys=True)


def memo(data, name: str, month: str, policy: dict, sections: tuple[str, ...], compute) -> pd.DataFrame:
    """``compute()``, remembered on the loaded data set for the month and the policy sections used.

    The key is the function's name, the month and the policy sections the result depends
    on, so a result computed under another policy is never reused. A copy is returned each
    time, so callers may modify what they get.
    """
    key = (name, str(parse_month(month)), _policy_key(policy, sections))
    return remember(data, key, compute).copy()


def memo_months(data, name: str, months: list[pd.Period], policy: dict, sections: tuple[str, ...],
                compute) -> dict[pd.Period, pd.DataFrame]:
    """:func:`memo` for several months at once: ``compute(missing)`` returns a dict with the
    result of each month not remembered yet, computed together; a copy of each month's
    result is returned."""
    keys = {m: (name, str(m), _policy_key(policy, sections)) for m in months}
    cache = _cache(data)
    if cache is None:
        fresh = compute(list(months))
        return {m: fresh[m] for m in months}
    missing = [m for m in months if keys[m] not in cache]
    if missing:
        fresh = compute(missing)
        for m in missing:
            cache[keys[m]] = fresh[m]
    return {m: cache[keys[m]].copy() for m in months}


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
    """The months that have calls (remembered on the data set)."""
    return _calls_by_month(data)[1]


def call_month_stats(data) -> pd.DataFrame:
    """Calls per month and rep, and the counts behind the call metrics (remembered).

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

    return remember(data, ("calls_by_month",), compute)


def order_month_stats(data) -> pd.DataFrame:
    """Orders per month (of ``ordered_at``) and rep: ``ord_n`` all, ``ord_k`` not cancelled (remembered)."""
    def compute():
        o = data.orders
        return _month_rep_sums(_month_ordinals(o["ordered_at"]), o["rep_id"], {
            "ord_n": np.ones(len(o), bool), "ord_k": is_kept_order(o["status"])})

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
