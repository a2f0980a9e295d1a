"""Sufficient statistics for script ranking: the window's calls summed per scenario x [customer class] x rep x script,
and the checks of the ranking's parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.data.schema import is_connected, is_kept_order
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.cache import cached
from telesales_lab.data.keys import positions as _positions
from telesales_lab.data.periods import in_month, in_window, parse_month, require_data


#: Columns of the ranking table (``customer_class`` follows ``scenario`` with ``by="customer_class"``).
RANK_COLUMNS = ("scenario", "script_id", "calls", "connected", "sales", "sale_rate", "ci_low", "ci_high",
                "adj_effect", "adj_ci_low", "adj_ci_high", "prob_best", "expected_loss", "rank", "verdict")


VERDICTS = ("best", "inconclusive", "insufficient_data")


BY = (None, "customer_class")


PAIRWISE_COLUMNS = ("script_a", "script_b", "shared_reps", "diff", "diff_ci_low", "diff_ci_high",
                    "odds_ratio", "or_ci_low", "or_ci_high", "p_value", "p_adj", "significant",
                    "mh_odds_ratio", "mh_p_value")


_CELL_SUMS = ("calls", "connected", "sales", "revenue", "revenue_sq")


#: Generic column words other modules label too: registered for this module's tables only
#: (``translate_columns(frame, lang, context=CONTEXT)``), so no global label is overridden.
CONTEXT = "script_ranking"


# ----------------------------------------------------------------------------- checks
def _check_by(by):
    if by not in BY:
        raise ParameterError(f"by == {by!r}, must be None or 'customer_class'")
    return by


def _check_window(window_months):
    if isinstance(window_months, bool) or not isinstance(window_months, (int, np.integer)) or window_months < 1:
        raise ParameterError(f"window_months == {window_months!r}, must be a whole number >= 1")
    return int(window_months)


def _check_open01(name, value):
    if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) or not 0 < float(value) < 1:
        raise ParameterError(f"{name} == {value!r}, must be a number strictly between 0 and 1")
    return float(value)


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name} == {value!r}, must be a whole number >= {low}")
    return int(value)


# ----------------------------------------------------------------------------- sufficient statistics
#: Tables the window's calls are read from (the key of every result built on them).
_WINDOW_TABLES = ("calls", "orders", "scripts")


def _window_calls(data, month, window_months: int, columns=(), scenario: bool = True) -> pd.DataFrame:
    """The window's calls: rep, script, [scenario,] connected, sale, revenue and in_month flags.

    Revenue is the amount of the non-cancelled orders linked to the call by ``orders.call_id``,
    counted on connected calls only (revenue per *connected* call). Id columns keep the
    loaded (Arrow) string dtype: converting a million ids to Python objects is the slow part.
    ``columns`` adds columns of the calls table (``customer_id``, ``transcript``) or
    ``rep_code``, ``script_code``: the ids as categoricals with their sorted distinct values
    (numbered once per window, so that sums per rep and script group small integers).

    The frame is built once per data set, month and window (kept in ``data.cache``): the
    ranking, the classes' ranking, the sample-ratio check and the phrases read the same calls.
    """
    p = parse_month(month) if not isinstance(month, pd.Period) else month
    full = cached(data, "window_calls", _WINDOW_TABLES, lambda: _read_window(data, p, window_months),
                  month=p, params=(window_months,))
    keep = ["rep_id", "script_id", "connected", "sale", "revenue", "in_month"] + (["scenario"] if scenario else [])
    return full[keep + [c for c in columns if c not in keep]]


#: Columns of the calls table the window's frame carries besides its own.
_WINDOW_EXTRA = ("customer_id", "transcript")


def _read_window(data, p, window_months: int) -> pd.DataFrame:
    calls = data.calls
    require_data(calls["started_at"], p, "calls")
    mask = in_window(calls["started_at"], p, window_months).to_numpy(bool)
    extra = [c for c in _WINDOW_EXTRA if c in calls.columns]
    sub = calls.loc[mask, ["rep_id", "script_id", "call_id", "outcome", "started_at"] + extra]
    outcome = sub["outcome"]
    connected = is_connected(outcome)
    out = pd.DataFrame({
        "rep_id": sub["rep_id"].astype("string").reset_index(drop=True),
        "script_id": sub["script_id"].astype("string").reset_index(drop=True),
        "connected": connected,
        "sale": (outcome == "sale").to_numpy(bool),
    })
    orders = data.orders
    ok = orders["call_id"].notna().to_numpy(bool) & is_kept_order(orders["status"])
    per_call = orders.loc[ok].groupby("call_id", sort=False, observed=True)["amount"].sum()
    rev = np.zeros(len(sub))
    conn_at = np.flatnonzero(connected)  # revenue is counted on connected calls: look those up only
    if len(per_call) and len(conn_at):
        pos = _positions(sub["call_id"].iloc[conn_at], per_call.index)
        rev[conn_at] = np.where(pos >= 0, per_call.to_numpy(float)[np.maximum(pos, 0)], 0.0)
    out["revenue"] = rev
    out["in_month"] = in_month(sub["started_at"], p).to_numpy(bool)
    scen = data.scripts.set_index("script_id")["scenario"]
    pos = _positions(out["script_id"], scen.index)
    # the scenario of each call taken from the scripts' (Arrow) strings, not a million Python objects
    scen_text = pd.Series(scen.to_numpy(object), dtype="string").array
    out["scenario"] = pd.Series(scen_text.take(np.maximum(pos, 0)))
    codes, uniq = pd.factorize(out["rep_id"], sort=True)
    out["rep_code"] = pd.Categorical.from_codes(codes, pd.Index(uniq, dtype="string"))
    if (pos >= 0).all():  # script codes from the positions in the scripts table, numbered as the sorted ids
        used = np.flatnonzero(np.bincount(pos, minlength=len(scen)))
        ids = np.asarray(scen.index.astype(str), dtype=object)[used]
        order = np.argsort(ids, kind="stable")
        code_of = np.full(len(scen), -1, np.int64)
        code_of[used[order]] = np.arange(len(used))
        out["script_code"] = pd.Categorical.from_codes(code_of[pos], pd.Index(ids[order], dtype="string"))
    else:
        codes, uniq = pd.factorize(out["script_id"], sort=True)
        out["script_code"] = pd.Categorical.from_codes(codes, pd.Index(uniq, dtype="string"))
    for c in extra:
        out[c] = sub[c].reset_index(drop=True)
    return out


def _class_of(data, month, customer_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each call's customer class at the start of ``month`` as a code into the sorted classes
    (customers acquired after the month: C; a class left empty: -1), and the classes."""
    from telesales_lab.analysis.customers import class_at_start  # lazy: the customers module reads the policy

    cmap = class_at_start(data, str(month))
    values = np.append(np.asarray(cmap.to_numpy(object), dtype=object), "C")
    vcodes, classes = pd.factorize(values, sort=True)  # the customers' classes, numbered once
    if len(values) == 1:  # no customer had been acquired before the month: all are new
        return np.zeros(len(customer_ids), np.int64), np.asarray(classes, dtype=object)
    pos = _positions(customer_ids, cmap.index)
    return np.where(pos >= 0, vcodes[np.maximum(pos, 0)], vcodes[-1]), np.asarray(classes, dtype=object)


def script_cells(data, month: str, by: str | None = None, window_months: int = 1) -> pd.DataFrame:
    """Sufficient statistics per scenario, [customer class], rep and script.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.data.load.load_dataset`.
    month : str
        ``YYYY-MM``, the last month of the window.
    by : {None, "customer_class"}
        Also split by the customer's class at the start of the window (from
        :func:`telesales_lab.analysis.customers.class_at_start`, so the window's own sales do not
        decide the class; customers new in the window are C).
    window_months : int, default 1
        Months of calls ending with ``month``.

    Returns
    -------
    DataFrame
        ``scenario, [customer_class,] rep_id, script_id, calls, connected, sales, revenue,
        revenue_sq, calls_month``: dials, connected calls, sales, the revenue of the connected
        calls (non-cancelled orders linked by ``orders.call_id``), the sum of its squares
        (per call) and the dials in ``month`` itself. One row per combination with a dial.

    Raises
    ------
    ParameterError
        Malformed month, a month without calls, or a bad ``by``/``window_months``.
    """
    by = _check_by(by)
    window_months = _check_window(window_months)
    p = parse_month(month)
    if by is None:
        return cached(data, "script_cells", _WINDOW_TABLES, lambda: _script_cells(data, p, by, window_months),
                      month=p, params=(by, window_months))
    # the classes come from the customers, orders and calls, under the policy's [customers] section
    from telesales_lab.data.policy import resolve_policy

    return cached(data, "script_cells", _WINDOW_TABLES + ("customers",),
                  lambda: _script_cells(data, p, by, window_months), month=p, policy=resolve_policy(None),
                  sections=("customers",), params=(by, window_months))


def _script_cells(data, p, by, window_months):
    extra = ("rep_code", "script_code") + (("customer_id",) if by else ())
    calls = _window_calls(data, p, window_months, columns=extra, scenario=False)
    keys = ([by] if by else []) + ["rep_id", "script_id"]
    # one integer per [class x] rep x script: the sums group small integers, not a million ids
    rep, script = calls["rep_code"].array, calls["script_code"].array
    key = rep.codes.astype(np.int64) * len(script.categories) + script.codes
    labels = {"rep_id": rep.categories, "script_id": script.categories}
    known = (rep.codes >= 0) & (script.codes >= 0)  # a call without a rep or script id is in no cell
    if by:
        ccodes, labels[by] = _class_of(data, p - (window_months - 1), calls["customer_id"])
        key += ccodes.astype(np.int64) * (len(rep.categories) * len(script.categories))
        known &= ccodes >= 0
    frame = pd.DataFrame({"calls": np.ones(len(calls), np.int64), "connected": calls["connected"].to_numpy(),
                          "sales": calls["sale"].to_numpy(), "revenue": calls["revenue"].to_numpy(),
                          "revenue_sq": calls["revenue"].to_numpy() ** 2,
                          "calls_month": calls["in_month"].to_numpy().astype(np.int64)})
    cols = list(_CELL_SUMS) + ["calls_month"]
    if not known.all():
        frame, key = frame[known], key[known]
    sums = frame.groupby(key, sort=False)[cols].sum()
    k = sums.index.to_numpy(np.int64)
    k, s_code = np.divmod(k, len(script.categories))
    k, r_code = np.divmod(k, len(rep.categories))
    codes = {"rep_id": r_code, "script_id": s_code, by: k}
    cells = pd.DataFrame({c: np.asarray(labels[c], dtype=object)[codes[c]] for c in keys})
    for c in cols:
        cells[c] = sums[c].to_numpy()
    scen = data.scripts.set_index("script_id")["scenario"]
    pos = _positions(cells["script_id"], scen.index)
    cells.insert(0, "scenario", pd.Series(scen.to_numpy(object)[np.maximum(pos, 0)], dtype="string"))
    for c in ("calls", "connected", "sales", "calls_month"):
        cells[c] = cells[c].astype(np.int64)
    keys = ["scenario"] + keys
    for c in keys:
        cells[c] = cells[c].astype("string")
    return cells.sort_values(keys, kind="stable").reset_index(drop=True)
