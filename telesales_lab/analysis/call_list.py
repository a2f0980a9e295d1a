"""Tomorrow's call lists: one list per rep for a working day.

:func:`call_list` merges, for the day ``date``, with what was known before it:

1. ``callback``: customers whose last connected call ended ``callback`` (they asked to be
   called back);
2. ``collection``: orders still ``signed`` (not paid) ``[collections] days`` or more after
   they were signed (the rule of :func:`telesales_lab.analysis.payments.collections`; only
   where the data has such orders);
3. ``lapsed_a`` and ``revisit_due``: the care rules of the policy
   (:func:`telesales_lab.customers.care_list` of the month before), revisits due by the day;
4. ``birthday``: a birthday within ``birthday_days`` from the day;
5. ``new_lead``: customers never called, best expected value first
   (:func:`telesales_lab.leads.score_leads`; by score where no order value is known).

Rules:

* A customer is listed once, under the first of these reasons that applies.
* A customer called (any dial) in the last ``recency_days`` days is left out, unless a
  callback is due.
* A customer stays with the rep who last spoke to them (last connected call) when that rep
  has a list today (``keep_with_last_rep``); what does not fit in that rep's capacity waits
  for another day rather than moving to a stranger. Everyone else (new leads, customers of reps
  without a list) fills the remaining places, best first, one place per rep in turn.
* Each rep's daily capacity is ``capacity`` if given, else their median dials per working day
  over the ``capacity_days`` days before (reps without calls then get no list).
* Phones are masked (:func:`telesales_lab.privacy.mask_phone`); a dialer matches on
  ``customer_id``. No names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab import labels
from telesales_lab.analysis.payments import collections
from telesales_lab.data.schema import is_connected
from telesales_lab.exceptions import ParameterError

CARE_ITEMS = ("callback", "collection", "lapsed_a", "revisit_due", "birthday", "new_lead")
COLUMNS = ("rep_id", "order", "customer_id", "masked_phone", "window", "scenario", "script_id", "reason",
           "care_item")


def _day(date: str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(date)
    except (ValueError, TypeError):
        day = None
    if day is None or pd.isna(day) or not isinstance(date, str) or len(date.strip()) != 10:
        raise ParameterError(f"date == {date!r}, must be YYYY-MM-DD (e.g. 2026-11-02)")
    return day.normalize()


def rep_capacity(data, date: str, capacity: int | None = None, capacity_days: int = 28) -> pd.DataFrame:
    """Each rep's places on the list for ``date``.

    Returns
    -------
    DataFrame
        ``rep_id, capacity``: reps (role rep or team_lead) with calls in the ``capacity_days``
        days before ``date``; capacity = ``capacity`` or their median dials per day they
        called, rounded.
    """
    day = _day(date)
    if capacity is not None and (not isinstance(capacity, (int, np.integer)) or capacity < 1):
        raise ParameterError(f"capacity == {capacity!r}, must be a whole number >= 1")
    calls = data.calls
    recent = calls[((calls["started_at"] < day) & (calls["started_at"] >= day - pd.Timedelta(days=capacity_days)))
                   .to_numpy(bool)]
    callers = data.reps.loc[data.reps["role"].astype("string").isin(["rep", "team_lead"]), "rep_id"].astype("string")
    recent = recent[recent["rep_id"].astype("string").isin(callers).to_numpy()]
    per_day = recent.groupby([recent["rep_id"].astype("string"), recent["started_at"].dt.normalize()]).size()
    if per_day.empty:
        return pd.DataFrame({"rep_id": pd.Series(dtype="string"), "capacity": pd.Series(dtype="int64")})
    median = per_day.groupby(level=0).median()
    cap = np.full(len(median), capacity) if capacity is not None else np.maximum(np.round(median.to_numpy()), 1)
    return pd.DataFrame({"rep_id": median.index.astype("string"), "capacity": cap.astype("int64")})


def _last_connected(past: pd.DataFrame) -> pd.DataFrame:
    """Each customer's last connected call among ``past``."""
    conn = past[is_connected(past["outcome"])]
    return conn.sort_values("started_at", kind="stable").drop_duplicates("customer_id", keep="last")


def _candidates(data, day: pd.Timestamp, leads: pd.DataFrame, policy, birthday_days: int,
                past: pd.DataFrame, last_conn: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, care_item`` for every reason that applies (a customer may appear twice).

    ``past``: the calls before ``day``; ``last_conn``: each customer's last connected call among
    them (:func:`_last_connected`).
    """
    from telesales_lab.analysis.customers import care_list

    parts = []
    cb = last_conn.loc[last_conn["outcome"].astype("string") == "callback", "customer_id"].astype("string")
    parts.append(pd.DataFrame({"customer_id": cb.to_numpy(), "care_item": "callback"}))

    # the open collections of `telesales-lab collections` as of the day, customers in order order
    orders = data.orders
    due_orders = collections(data, str(day.to_period("M")), as_of=day, policy=policy)["order_id"]
    open_ = orders[orders["order_id"].astype("string").isin(due_orders).to_numpy(bool)]
    parts.append(pd.DataFrame({"customer_id": open_["customer_id"].astype("string").unique(),
                               "care_item": "collection"}))

    month = day.to_period("M")
    try:
        care = care_list(data, str(month - 1), policy)
    except ParameterError:
        care = pd.DataFrame(columns=["customer_id", "reason", "due_on"])
    due = care[(care["reason"] == "lapsed_a") | ((care["reason"] == "revisit_due") & (care["due_on"] <= day))]
    parts.append(pd.DataFrame({"customer_id": due["customer_id"].astype("string").to_numpy(),
                               "care_item": due["reason"].astype("string").to_numpy()}))
    cust = data.customers
    if "birthday" in cust:
        from telesales_lab.analysis.customers import _next_birthday

        nxt = _next_birthday(cust["birthday"], day - pd.Timedelta(days=1))
        soon = nxt.notna() & (nxt <= day + pd.Timedelta(days=birthday_days)) & (cust["acquired_on"] < day)
        parts.append(pd.DataFrame({"customer_id": cust.loc[soon, "customer_id"].astype("string").to_numpy(),
                                   "care_item": "birthday"}))

    never = ~leads["customer_id"].isin(pd.unique(past["customer_id"].astype("string")))  # each id once: fast
    parts.append(pd.DataFrame({"customer_id": leads.loc[never, "customer_id"].to_numpy(), "care_item": "new_lead"}))
    return pd.concat(parts, ignore_index=True)


def call_list(data, date: str, capacity: int | None = None, policy=None, lang: str = "en",
              recency_days: int = 7, keep_with_last_rep: bool = True, birthday_days: int = 7,
              capacity_days: int = 28, random_state: int = 0,
              leads: pd.DataFrame | None = None) -> pd.DataFrame:
    """One call list per rep for the working day ``date`` (see the module docstring).

    Parameters
    ----------
    data : Dataset
    date : str
        ``YYYY-MM-DD``: the day to call. Only what happened before it is used.
    capacity : int, optional
        Places per rep; default each rep's median dials per day over the ``capacity_days``
        days before.
    policy : dict or path, optional
        The care rules (revisit cadence, lapsed customers) and customer classes.
    lang : {"en", "zh"}
        Language of ``reason`` and ``window``.
    recency_days : int
        Leave out customers called in this many days before ``date``, unless a callback is due.
    keep_with_last_rep : bool
        Keep a customer with the rep who last spoke to them.
    random_state : int
        Order in which reps take turns for the shared places (never by id).
    leads : DataFrame, optional
        :func:`telesales_lab.leads.score_leads` of the day's month, if already computed.

    Returns
    -------
    DataFrame
        ``rep_id, order, customer_id, masked_phone, window, scenario, script_id, reason,
        care_item``: one row per customer listed (no customer twice), each rep's list in
        ``order`` 1..n (its capacity at most). ``attrs["capacity"]`` holds ``rep_id, capacity,
        listed, waiting`` (customers kept for the rep but over capacity today).
    """
    from telesales_lab.analysis.leads import score_leads
    from telesales_lab.data.privacy import mask_phone

    day = _day(date)
    for name, v in (("recency_days", recency_days), ("birthday_days", birthday_days),
                    ("capacity_days", capacity_days)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise ParameterError(f"{name} == {v!r}, must be a whole number >= 0")
    caps = rep_capacity(data, date, capacity, capacity_days)
    if caps.empty:
        raise ParameterError(f"no rep made calls in the {capacity_days} days before {day.date()}: "
                             "nobody to give a list to (pass a date within the data)")
    if leads is None:
        leads = score_leads(data, str(day.to_period("M")), policy=policy, lang=lang)
    calls = data.calls
    past = calls[(calls["started_at"] < day).to_numpy(bool)]
    last = _last_connected(past)
    cand = _candidates(data, day, leads, policy, birthday_days, past, last)
    cand["priority"] = cand["care_item"].map({c: i for i, c in enumerate(CARE_ITEMS)})
    cand = cand.sort_values("priority", kind="stable").drop_duplicates("customer_id", keep="first")

    recent = pd.unique(past.loc[past["started_at"] >= day - pd.Timedelta(days=recency_days), "customer_id"]
                       .astype("string"))
    cand = cand[~cand["customer_id"].isin(recent) | (cand["care_item"] == "callback")]

    info = leads.set_index("customer_id")
    value = info["expected_value"].where(info["expected_value"].notna(), info["score"])
    cand = cand.join(value.rename("value"), on="customer_id")
    # best first within a reason; customers without any score after those with one (ties keep
    # the order of the reasons' sources, never the id)
    cand = cand.sort_values(["priority", "value"], ascending=[True, False], kind="stable", na_position="last")

    last_rep = pd.Series(last["rep_id"].astype("string").to_numpy(),
                         index=last["customer_id"].astype("string").to_numpy())
    cand["owner"] = cand["customer_id"].map(last_rep) if keep_with_last_rep else pd.NA
    cand.loc[~cand["owner"].isin(caps["rep_id"]), "owner"] = pd.NA
    cap = caps.set_index("rep_id")["capacity"]

    owned = cand[cand["owner"].notna()].copy()
    owned["slot"] = owned.groupby("owner", sort=False).cumcount()
    fits = owned["slot"].to_numpy() < owned["owner"].map(cap).to_numpy()
    kept = owned[fits].assign(rep_id=lambda f: f["owner"])
    waiting = owned[~fits].groupby("owner").size()

    # shared places: every rep's free places, taken in turns (first free place of each rep,
    # then the second ...), reps in a seeded random order
    free = (cap - kept.groupby("rep_id").size().reindex(cap.index, fill_value=0)).clip(lower=0)
    turn = pd.Series(np.random.default_rng(random_state).permutation(len(cap)), index=cap.index)
    reps = np.repeat(cap.index.to_numpy(), free.to_numpy())
    k = np.concatenate([np.arange(n) for n in free.to_numpy()]) if len(reps) else np.array([], int)
    slots = pd.DataFrame({"rep_id": reps, "k": k, "turn": turn.reindex(reps).to_numpy()})
    slots = slots.sort_values(["k", "turn"], kind="stable")
    pool = cand[cand["owner"].isna()].head(len(slots)).copy()
    pool["rep_id"] = slots["rep_id"].to_numpy()[: len(pool)]

    out = pd.concat([kept, pool], ignore_index=True)
    out = out.sort_values(["rep_id", "priority", "value"], ascending=[True, True, False], kind="stable",
                          na_position="last")
    out["order"] = out.groupby("rep_id", sort=False).cumcount() + 1
    phones = data.customers.set_index(data.customers["customer_id"].astype("string"))["phone"]
    out["masked_phone"] = mask_phone(out["customer_id"].map(phones).astype("string").reset_index(drop=True)).to_numpy()
    out = out.join(info[["best_window", "scenario", "suggested_script", "reason"]], on="customer_id")
    out = out.rename(columns={"best_window": "window", "suggested_script": "script_id"})
    result = out[list(COLUMNS)].reset_index(drop=True)
    for c in ("rep_id", "customer_id", "masked_phone", "window", "scenario", "script_id", "reason", "care_item"):
        result[c] = result[c].astype("string")
    listed = result.groupby("rep_id").size()
    result.attrs["capacity"] = pd.DataFrame({
        "rep_id": cap.index, "capacity": cap.to_numpy(),
        "listed": listed.reindex(cap.index, fill_value=0).to_numpy(),
        "waiting": waiting.reindex(cap.index, fill_value=0).to_numpy()})
    return result


def write_call_lists(frame: pd.DataFrame, path, lang: str = "en") -> None:
    """Write the lists as an Excel workbook for people: an ``all`` sheet, then one sheet per rep.

    Written to a temporary file first and moved into place, so a failure leaves nothing
    partial.
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    shown = frame.copy()
    if lang == "zh":
        shown["care_item"] = shown["care_item"].map(lambda v: labels.t(v, "zh", "call_list"))
        shown = shown.rename(columns={c: labels.t(c, "zh", "call_list") for c in shown.columns})
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=path.parent if path.parent.exists() else None)
    os.close(fd)
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            shown.to_excel(xw, sheet_name="全部" if lang == "zh" else "all", index=False)
            rep_col = shown.columns[0]
            for rep, part in shown.groupby(rep_col, sort=True):
                part.to_excel(xw, sheet_name=str(rep)[:31], index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
