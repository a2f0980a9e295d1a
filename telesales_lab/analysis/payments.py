"""Collections: signed orders the customer has not paid, to chase.

An order is listed when its status is still ``signed`` (not ``paid``, not ``cancelled``) and
it was signed at least ``[collections] days`` days before the end of the month (or
``as_of``). ``status`` is ``escalate`` from ``[collections] escalate_days`` days open,
``overdue`` before that.

The orders table holds each order's status as exported, not the day it was paid; so a past
month's list shows the orders that are *still* unpaid, not those that were unpaid then.
Customer ids only: names and phone numbers never appear.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.analysis.targets import parse_as_of
from telesales_lab.data.periods import parse_month
from telesales_lab.data.policy import resolve_policy

#: Columns of :func:`collections`.
COLUMNS = ["order_id", "customer_id", "rep_id", "signed_on", "amount", "days_open", "status"]
STATUSES = ("overdue", "escalate")


def collections(data, month: str, as_of=None, policy=None) -> pd.DataFrame:
    """Signed orders still unpaid ``[collections] days`` after signing.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``: the list as of the month's last day.
    as_of : date or str, optional
        Another day to count from (a day of the month).
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per order, longest open first (then largest amount):

        - ``order_id``, ``customer_id`` (id only), ``rep_id``
        - ``signed_on``: the day the order was signed (``ordered_at``)
        - ``amount``
        - ``days_open``: whole days from signing to the month's end (or ``as_of``)
        - ``status``: ``overdue`` | ``escalate``
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    day = p.end_time.normalize() if as_of is None else parse_as_of(as_of, p)
    cfg = policy["collections"]
    o = data.orders
    signed_on = o["ordered_at"].to_numpy("datetime64[ns]").astype("datetime64[D]")
    days_open = (np.datetime64(day.date(), "D") - signed_on).astype("int64")
    sel = ((o["status"] == "signed").to_numpy(bool) & (days_open >= cfg["days"]))
    out = pd.DataFrame({
        "order_id": o.loc[sel, "order_id"].astype("string").to_numpy(),
        "customer_id": o.loc[sel, "customer_id"].astype("string").to_numpy(),
        "rep_id": o.loc[sel, "rep_id"].astype("string").to_numpy(),
        "signed_on": signed_on[sel].astype("datetime64[ns]"),
        "amount": o.loc[sel, "amount"].to_numpy(float),
        "days_open": days_open[sel],
    })
    out["status"] = pd.array(np.where(out["days_open"] >= cfg["escalate_days"], "escalate", "overdue"),
                             dtype="string")
    for c in ("order_id", "customer_id", "rep_id"):
        out[c] = out[c].astype("string")
    out = out.sort_values(["days_open", "amount"], ascending=[False, False], kind="stable")
    return out[COLUMNS].reset_index(drop=True)


def collections_by_rep(table: pd.DataFrame, reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Open collections per rep (the team view).

    Returns
    -------
    DataFrame
        One row per rep with any: ``rep_id``, ``team`` (when ``reps`` is given),
        ``orders``, ``amount``, ``escalate`` (orders at the escalation stage),
        ``oldest_days``; largest amount first.
    """
    g = table.groupby("rep_id", observed=True)
    out = g.agg(orders=("order_id", "size"), amount=("amount", "sum"),
                escalate=("status", lambda s: int((s == "escalate").sum())),
                oldest_days=("days_open", "max")).reset_index()
    if reps is not None:
        team = pd.Series(reps["team"].astype("string").to_numpy(), index=reps["rep_id"].astype("string").to_numpy())
        out.insert(1, "team", out["rep_id"].map(team).astype("string"))
    return out.sort_values("amount", ascending=False, kind="stable").reset_index(drop=True)
