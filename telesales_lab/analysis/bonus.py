"""Performance bonus from target attainment, with gates, and the gap to the next tier.

The policy's ``[bonus]`` section sets it (see ``defaults/policy.toml``):

* ``metric``: the target whose attainment pays (default ``revenue``);
* ``base``: the monthly bonus at a multiplier of 1, per role;
* ``tiers``: from ``from`` (inclusive) to ``to`` (exclusive) the multiplier is
  ``multiplier + accelerator x (attainment - from)``; accelerators above 100 % make each
  extra point pay more; the multiplier never exceeds ``cap``;
* ``threshold``: attainment below which nothing is paid, whatever the tiers say;
* gates: the month's evaluation grade must be ``min_grade`` or better, and at most
  ``max_unresolved_complaints`` complaints received in the month may still be open at its
  end. A failed gate pays 0 and is named in ``gates_failed``.

``bonus = base x multiplier`` when no gate fails. Every number of a statement is a column
of :func:`bonus_statement`, so a rep can follow it from their target and result to the
amount.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from telesales_lab.analysis.evaluation import evaluate
from telesales_lab.analysis.targets import daily_sums, targets_detail
from telesales_lab.data.periods import parse_month
from telesales_lab.data.policy import grade_at_least, resolve_policy
from telesales_lab.exceptions import ParameterError

#: Columns of :func:`bonus`.
COLUMNS = ["rep_id", "team", "attainment", "tier", "base", "multiplier", "bonus", "gates_failed"]


def tier_label(tier: dict) -> str:
    """``"80-100%"`` or ``"120%+"``."""
    lo = f"{tier['from'] * 100:g}"
    return f"{lo}%+" if math.isinf(tier["to"]) else f"{lo}-{tier['to'] * 100:g}%"


def multiplier_at(attainment, bonus_policy: dict) -> tuple[np.ndarray, np.ndarray]:
    """The multiplier (capped) and tier index (-1: none) at each attainment.

    Parameters
    ----------
    attainment : array of float
        1.0 = 100 %. NaN gives NaN and -1.
    bonus_policy : dict
        The policy's checked ``[bonus]`` section.
    """
    a = np.asarray(attainment, dtype=float)
    tiers = bonus_policy["tiers"]
    lo = np.array([t["from"] for t in tiers])
    hi = np.array([t["to"] for t in tiers])
    inside = (a[:, None] >= lo[None, :]) & (a[:, None] < hi[None, :])
    idx = np.where(inside.any(axis=1), inside.argmax(axis=1), -1)
    idx = np.where(a >= bonus_policy["threshold"], idx, -1)
    base_m = np.array([t["multiplier"] for t in tiers])
    acc = np.array([t["accelerator"] for t in tiers])
    safe = np.maximum(idx, 0)
    raw = base_m[safe] + acc[safe] * (a - lo[safe])
    mult = np.where(idx >= 0, np.minimum(raw, bonus_policy["cap"]), 0.0)
    mult = np.where(np.isnan(a), np.nan, mult)
    return mult, idx


def _unresolved_complaints(data, month: pd.Period) -> pd.Series:
    """Complaints received in the month and still open at its end, per rep."""
    start, end = month.start_time, (month + 1).start_time
    fb = data.feedback
    open_ = ((fb["received_at"] >= start) & (fb["received_at"] < end) & fb["complaint"].fillna(False)
             & ~(fb["resolved_at"] < end).fillna(False)).to_numpy(bool)
    sel = fb.loc[open_]
    return sel.groupby(sel["rep_id"].astype("string"), observed=True).size()


def _average_order(data, month: pd.Period, rep_ids, metric: str) -> np.ndarray:
    """Each rep's mean order in the metric's unit, over the month and the two months before."""
    if metric not in ("revenue", "profit"):
        return np.ones(len(rep_ids))
    daily = daily_sums(data)
    sel = ((daily["day"] >= (month - 2).start_time) & (daily["day"] < (month + 1).start_time)).to_numpy(bool)
    sums = daily.loc[sel].groupby("rep_id")[[metric, "orders"]].sum()
    sums = sums.reindex(pd.Index(rep_ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (sums[metric] / sums["orders"]).to_numpy(float)
    return np.where(np.isfinite(out) & (out > 0), out, np.nan)


def bonus_statement(data, month: str, policy=None) -> pd.DataFrame:
    """Each rep's bonus statement for the month, every step shown.

    Reps (any role) with a target of ``[bonus] metric`` for the month, their own or their
    part of a team target, get a statement. The month is taken whole (to its last day, or
    to the last day with data).

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    policy : dict or path, optional

    Returns
    -------
    DataFrame
        One row per rep: the columns of :func:`bonus` and ``role``, ``metric``,
        ``target``, ``actual`` (attainment = actual / target), ``tier_from``,
        ``tier_multiplier``, ``accelerator`` (of the tier reached), ``uncapped``
        (the tier's formula before the cap), ``capped`` (bool), ``grade``,
        ``unresolved_complaints``, ``next_tier`` / ``next_tier_attainment`` /
        ``next_tier_bonus`` (the next tier up and its pay, if any), ``gap_to_next_tier``
        (result still needed to reach it, in the metric's unit) and ``gap_money`` (extra
        bonus it pays). Empty when no targets of the metric are set.
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    cfg = policy["bonus"]
    detail = targets_detail(data, str(p), policy=policy)
    rows = detail[(detail["level"] == "rep") & (detail["metric"] == cfg["metric"])].copy()
    extra = ["role", "metric", "target", "actual", "tier_from", "tier_multiplier", "accelerator", "uncapped",
             "capped", "grade", "unresolved_complaints", "next_tier", "next_tier_attainment", "next_tier_bonus",
             "gap_to_next_tier", "gap_money", "average_order", "orders_needed"]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS + extra})
    reps = data.reps.set_index(data.reps["rep_id"].astype("string"))
    rows["role"] = reps["role"].astype("string").reindex(rows["rep_id"]).to_numpy()
    rows["base"] = rows["role"].map(cfg["base"]).astype(float)
    a = rows["attainment"].to_numpy(float)
    mult, idx = multiplier_at(a, cfg)
    tiers = cfg["tiers"]
    has = idx >= 0
    safe = np.maximum(idx, 0)
    t_from = np.array([t["from"] for t in tiers])[safe]
    t_mult = np.array([t["multiplier"] for t in tiers])[safe]
    t_acc = np.array([t["accelerator"] for t in tiers])[safe]
    rows["tier"] = pd.array(np.where(has, [tier_label(tiers[i]) for i in safe], None), dtype="string")
    rows["tier_from"] = np.where(has, t_from, np.nan)
    rows["tier_multiplier"] = np.where(has, t_mult, np.nan)
    rows["accelerator"] = np.where(has, t_acc, np.nan)
    rows["uncapped"] = np.where(has, t_mult + t_acc * (a - t_from), np.nan)
    rows["capped"] = has & (rows["uncapped"].to_numpy() > cfg["cap"])
    rows["multiplier"] = mult

    # gates
    try:
        grades = evaluate(data, str(p), policy).set_index("rep_id")["grade"]
    except ParameterError:  # nobody could be evaluated this month
        grades = pd.Series(dtype="string")
    grade = grades.reindex(rows["rep_id"]).astype("string")
    rows["grade"] = grade.to_numpy()
    ok_grade = grade_at_least(grade.to_numpy(), cfg["min_grade"], policy["grades"]).to_numpy(bool)
    complaints = _unresolved_complaints(data, p).reindex(rows["rep_id"]).fillna(0).astype("int64").to_numpy()
    rows["unresolved_complaints"] = complaints
    ok_complaints = complaints <= cfg["max_unresolved_complaints"]
    failed = []
    for g, gok, c, cok in zip(grade, ok_grade, complaints, ok_complaints):  # one short text per rep
        parts = []
        if not gok:
            parts.append(f"grade {g} < {cfg['min_grade']}" if pd.notna(g) else "grade none < " + cfg["min_grade"])
        if not cok:
            parts.append(f"open complaints {c} > {cfg['max_unresolved_complaints']}")
        failed.append("; ".join(parts) if parts else pd.NA)
    rows["gates_failed"] = pd.array(failed, dtype="string")
    passed = ok_grade & ok_complaints
    rows["bonus"] = np.where(passed, rows["base"].to_numpy() * mult, 0.0)
    rows.loc[rows["attainment"].isna(), "bonus"] = np.nan

    # the next tier up: what it takes and what it pays
    starts = np.array([t["from"] for t in tiers] + [math.inf])
    starts = np.maximum(starts, cfg["threshold"])
    nxt = np.searchsorted(starts, a, side="right")  # first tier start above the attainment
    nxt = np.where(np.isnan(a), len(tiers), nxt)
    has_next = nxt < len(tiers)
    nxt_a = np.where(has_next, starts[np.minimum(nxt, len(tiers))], np.nan)
    nxt_mult, _ = multiplier_at(np.where(has_next, nxt_a, np.nan), cfg)
    nxt_bonus = rows["base"].to_numpy() * nxt_mult
    rows["next_tier"] = pd.array([tier_label(tiers[i]) if h else None for i, h in zip(nxt, has_next)],
                                 dtype="string")
    rows["next_tier_attainment"] = nxt_a
    rows["next_tier_bonus"] = np.where(has_next & passed, nxt_bonus, np.nan)
    rows["gap_to_next_tier"] = np.where(has_next, np.maximum(nxt_a * rows["target"] - rows["actual"], 0.0), np.nan)
    rows["gap_money"] = np.where(has_next & passed, nxt_bonus - rows["bonus"].to_numpy(), np.nan)
    # "N more sales at your average order": the rep's mean order over this month and the two before
    per_order = _average_order(data, p, rows["rep_id"].to_numpy(), cfg["metric"])
    rows["average_order"] = per_order
    with np.errstate(invalid="ignore", divide="ignore"):
        need = np.ceil(rows["gap_to_next_tier"].to_numpy() / per_order - 1e-9)
    rows["orders_needed"] = pd.array(np.where(np.isfinite(need), need, np.nan), dtype="Float64").astype("Int64")
    rows["metric"] = cfg["metric"]
    rows = rows.sort_values(["team", "rep_id"], kind="stable").reset_index(drop=True)
    return rows[COLUMNS + extra]


def translate_gates(gates: pd.Series, lang: str = "en") -> pd.Series:
    """``gates_failed`` texts in ``lang`` (for display; the data keeps the English words)."""
    from telesales_lab.labels import t

    if lang == "en":
        return gates
    out = gates.astype("string")
    for word, key in (("open complaints", "gate_complaints"), ("grade none", "gate_no_grade"), ("grade", "gate_grade")):
        out = out.str.replace(word, t(key, lang, "targets"), regex=False)
    return out


def bonus(data, month: str, policy=None) -> pd.DataFrame:
    """The month's bonus per rep.

    Returns
    -------
    DataFrame
        One row per rep with a target of ``[bonus] metric``, by team:

        - ``rep_id``, ``team``
        - ``attainment``: actual / target of the metric (1.0 = 100 %)
        - ``tier``: the tier reached (``"80-100%"``), empty below the threshold or the tiers
        - ``base``: the role's base bonus
        - ``multiplier``: the tier's multiplier at this attainment, capped
        - ``bonus``: base x multiplier, 0 if a gate failed
        - ``gates_failed``: which gates failed and why, ``; ``-separated, empty when none:
          ``grade D < C`` (``grade none < C``: not evaluated this month),
          ``open complaints 2 > 0``

        See :func:`bonus_statement` for every step.
    """
    return bonus_statement(data, month, policy)[COLUMNS]
