"""Script experiments: a registry of planned tests, daily always-valid monitoring, and plans.

A trainer writes a new script variant, tries it on part of the floor and wants to know when
to stop. Each experiment is an entry of ``experiments.toml`` (:func:`load_registry`), kept
beside the policy. :func:`monitor_experiments` sums the calls per day, rep and variant and
runs the rep-blocked confidence sequence of :mod:`telesales_lab.sequential` on every day
since the start, so the verdict may be read every day without inflating false winners;
the first day a rule is met ends the experiment with that decision. :func:`plan_experiment`
turns an entry into the calls needed, the expected duration at the current call volume and
a rep-blocked assignment (the ranking's plan).

The registry (``experiments.toml``) is read by :mod:`telesales_lab.data.registry`.

Decisions
---------
``continue``; ``stop_winner`` (the interval excludes 0: the better variant wins);
``stop_no_difference`` (the interval lies inside +- mde); ``non_inferior`` (with a
margin: the interval's low end is above -margin); ``inferior`` (with a margin: its high
end is below -margin); ``sample_ratio_mismatch`` (the dials are not split as intended,
by the sequential test; this halts the verdict, as a broken assignment makes the
comparison suspect). With more than two variants each is compared with the control at
``alpha / (K - 1)`` (Bonferroni).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from telesales_lab.analysis.sequential import (
    confidence_sequence,
    information_for,
    mh_risk_difference,
    normal_mixture_bound,
    normal_mixture_rho,
    srm_p_value,
    stratified_mean_difference,
)
from telesales_lab.data.registry import Experiment, example_registry_path, load_registry
from telesales_lab.data.cache import cached
from telesales_lab.data.schema import is_connected, is_kept_order
from telesales_lab.exceptions import ParameterError, RegistryError
from telesales_lab.labels import check_lang, t

__all__ = ["Experiment", "load_registry", "monitor_experiments", "experiments_table", "experiment_history",
           "plan_experiment", "plan_assignment", "EXPERIMENT_COLUMNS", "DECISIONS", "METRICS",
           "example_registry_path"]

DECISIONS = ("continue", "stop_winner", "stop_no_difference", "non_inferior", "inferior", "sample_ratio_mismatch")
EXPERIMENT_COLUMNS = ("experiment_id", "variant", "calls", "connected", "sales", "rate", "effect", "ci_low",
                      "ci_high", "p_always_valid", "decision", "reason")
HISTORY_COLUMNS = ("experiment_id", "variant", "date", "connected", "effect", "ci_low", "ci_high",
                   "p_always_valid", "srm_p_value")
PLAN_COLUMNS = ("experiment_id", "scenario", "control", "variants", "metric", "baseline", "mde", "margin", "alpha",
                "power", "n_per_arm_fixed", "n_per_arm", "connected_per_day", "expected_days", "start",
                "expected_end", "planned_end")
#: Level of the sequential sample-ratio test (as the ranking's srm_check threshold).
SRM_ALPHA = 0.001

#: Column words and decisions labelled for this module's tables (``[context.experiments]`` of the catalogs).
CONTEXT = "experiments"
_REASONS = ("wait", "not_started", "running", "running_end", "winner", "no_difference", "non_inferior", "inferior",
            "srm", "control_row")


def _revenue_per_call(data) -> pd.Series:
    """Kept orders' amount summed per call id (index: the call id as text), once per data set."""
    def compute():
        orders = data.orders
        ok = orders["call_id"].notna().to_numpy(bool) & is_kept_order(orders["status"])
        return orders.loc[ok].groupby(orders.loc[ok, "call_id"].astype(str))["amount"].sum()

    return cached(data, "revenue_per_call_id", ("orders",), compute)


def _say(name: str, lang: str, **values) -> str:
    return t(f"experiments.reason.{name}", lang).format(**values)


def check_against_data(experiments, data) -> None:
    """Refuse entries whose scripts are unknown or belong to another scenario (one line each)."""
    scen = data.scripts.set_index(data.scripts["script_id"].astype(str))["scenario"].astype(str)
    problems = []
    for x in experiments:
        for v in x.variants:
            if v not in scen.index:
                problems.append(f"{x.source}: experiment '{x.id}': key 'variants': script '{v}' is not in the "
                                f"data set's scripts table")
            elif scen[v] != x.scenario:
                problems.append(f"{x.source}: experiment '{x.id}': key 'variants': script '{v}' belongs to "
                                f"scenario '{scen[v]}', not '{x.scenario}'")
    if problems:
        raise RegistryError(f"{len(problems)} problem(s) between the experiment registry and the data:\n"
                            + "\n".join(f"  {p}" for p in problems))


# ----------------------------------------------------------------------------- daily sums
def _as_of(data, as_of) -> _dt.date:
    if as_of is None:
        last = data.calls["started_at"].max()
        if pd.isna(last):
            raise ParameterError("the data set has no calls")
        return last.date()
    if isinstance(as_of, _dt.datetime):
        return as_of.date()
    if isinstance(as_of, _dt.date):
        return as_of
    try:
        return _dt.date.fromisoformat(str(as_of).strip())
    except ValueError:
        raise ParameterError(f"as_of == {as_of!r}, must be a date YYYY-MM-DD") from None


def _day_cells(data) -> dict:
    """Dials, connected calls and sales per day, rep and script with a call (kept in
    ``data.cache``): every experiment's daily sums and plan are sums of these cells.

    Returns
    -------
    dict
        ``first_day`` (date of day 0), ``reps`` and ``scripts`` (ids, sorted; the cells hold
        codes into them) and arrays over the cells: ``day``, ``rep``, ``script``, ``calls``,
        ``connected``, ``sales``.
    """
    def compute():
        calls = data.calls
        started = calls["started_at"].to_numpy("datetime64[ns]")
        rep, reps = pd.factorize(calls["rep_id"], sort=True)
        script, scripts = pd.factorize(calls["script_id"].astype("string"), sort=True)
        ok = ~np.isnat(started) & (rep >= 0) & (script >= 0)
        days = started.astype("datetime64[D]")
        first = days[ok].min() if ok.any() else np.datetime64("1970-01-01", "D")
        day = (days - first).astype(np.int64)
        R, S = max(len(reps), 1), max(len(scripts), 1)
        flat = ((day * R + rep) * S + script)[ok]
        span = int(flat.max()) + 1 if len(flat) else 0
        if span <= 4 * len(flat) + 1_000_000:  # the cells as np.unique numbers them, without sorting the calls
            present = np.bincount(flat, minlength=span) > 0
            cells = np.flatnonzero(present)
            which = (np.cumsum(present) - 1)[flat]
        else:
            cells, which = np.unique(flat, return_inverse=True)
        outcome = calls["outcome"]

        def total(flags):
            return np.bincount(which, weights=flags[ok], minlength=len(cells)).astype(np.int64)

        return {"first_day": pd.Timestamp(first).date(), "reps": np.asarray(reps, dtype=str),
                "scripts": np.asarray(scripts, dtype=str), "day": cells // (R * S),
                "rep": (cells // S) % R, "script": cells % S,
                "calls": np.bincount(which, minlength=len(cells)).astype(np.int64),
                "connected": total(is_connected(outcome)), "sales": total((outcome == "sale").to_numpy(bool))}

    return cached(data, "experiment_day_cells", ("calls",), compute)


def _day_window(cells: dict, first: _dt.date, n_days: int, scripts) -> np.ndarray:
    """Which cells fall on the ``n_days`` days from ``first`` and on one of ``scripts``."""
    lo = (first - cells["first_day"]).days
    codes = np.flatnonzero(np.isin(cells["scripts"], np.asarray(list(scripts), dtype=str)))
    return (cells["day"] >= lo) & (cells["day"] < lo + n_days) & np.isin(cells["script"], codes)


def daily_sums(data, x: Experiment, as_of: _dt.date) -> dict:
    """Sums per day, rep and variant of the experiment's calls from its start to
    ``min(as_of, planned_end)``.

    Returns
    -------
    dict
        ``days`` (dates, D), ``reps`` (ids, R) and arrays of shape (D, R, K) (K = variants,
        the control first): ``calls``, ``connected``, ``sales``, ``revenue``, ``revenue_sq``
        (revenue of the connected calls from non-cancelled orders linked by ``call_id``).
    """
    end = min(as_of, x.planned_end)
    order = (x.control,) + x.treatments
    n_days = max((end - x.start).days + 1, 0)
    if x.customer_classes is None and x.metric != "revenue_per_call":
        return _daily_sums_from_cells(data, x, order, n_days)
    calls = data.calls
    t0 = pd.Timestamp(x.start)
    t1 = pd.Timestamp(end) + pd.Timedelta(days=1)
    started = calls["started_at"]
    mask = ((started >= t0) & (started < t1)).to_numpy(bool, copy=True)
    mask[mask] = calls.loc[mask, "script_id"].isin(order).to_numpy(bool)  # test the ids of the window only
    sub = calls.loc[mask, ["call_id", "rep_id", "customer_id", "script_id", "started_at", "outcome"]]
    if x.customer_classes is not None and len(sub):
        from telesales_lab.analysis.customers import class_at_start  # lazy: the customers module reads the policy

        month = str(pd.Period(x.start, freq="M"))
        try:
            cmap = class_at_start(data, month)
        except ParameterError:
            cmap = pd.Series(dtype="string")
        cls = sub["customer_id"].astype("string").map(cmap.astype("string")).fillna("C")
        sub = sub[cls.isin(x.customer_classes).to_numpy(bool)]
    rep, reps = pd.factorize(sub["rep_id"], sort=True)
    reps = np.asarray(reps, dtype=str)
    R, K = len(reps), len(order)
    shape = (n_days, R, K)
    out = {"days": [x.start + _dt.timedelta(days=d) for d in range(n_days)], "reps": reps, "variants": order}
    if len(sub) == 0 or n_days == 0:
        for k in ("calls", "connected", "sales", "revenue", "revenue_sq"):
            out[k] = np.zeros(shape)
        return out
    day = ((sub["started_at"] - t0).dt.days).to_numpy(np.int64)
    var = pd.Index(order).get_indexer(sub["script_id"])
    flat = (day * R + rep) * K + var
    size = n_days * R * K
    connected = is_connected(sub["outcome"])
    sale = (sub["outcome"] == "sale").to_numpy(bool)
    out["calls"] = np.bincount(flat, minlength=size).reshape(shape).astype(float)
    out["connected"] = np.bincount(flat, weights=connected, minlength=size).reshape(shape)
    out["sales"] = np.bincount(flat, weights=sale, minlength=size).reshape(shape)
    rev = np.zeros(len(sub))
    if x.metric == "revenue_per_call":
        per_call = _revenue_per_call(data)
        pos = per_call.index.get_indexer(sub["call_id"].astype(str))
        rev = np.where((pos >= 0) & connected, per_call.to_numpy(float)[np.maximum(pos, 0)], 0.0)
    out["revenue"] = np.bincount(flat, weights=rev, minlength=size).reshape(shape)
    out["revenue_sq"] = np.bincount(flat, weights=rev ** 2, minlength=size).reshape(shape)
    return out


def _daily_sums_from_cells(data, x: Experiment, order: tuple, n_days: int) -> dict:
    """:func:`daily_sums` of an experiment on all customers and on the sale rate, from the
    data set's per-day cells (:func:`_day_cells`): the same sums, without reading the calls."""
    cells = _day_cells(data)
    m = _day_window(cells, x.start, n_days, order)
    lo = (x.start - cells["first_day"]).days
    rep_codes, ri = np.unique(cells["rep"][m], return_inverse=True)
    R, K = len(rep_codes), len(order)
    shape = (n_days, R, K)
    var_of = pd.Index(list(order)).get_indexer(cells["scripts"])  # script code -> variant
    flat = ((cells["day"][m] - lo) * R + ri) * K + var_of[cells["script"][m]]
    size = n_days * R * K
    out = {"days": [x.start + _dt.timedelta(days=d) for d in range(n_days)], "reps": cells["reps"][rep_codes],
           "variants": order}
    for k in ("calls", "connected", "sales"):
        out[k] = np.bincount(flat, weights=cells[k][m].astype(float), minlength=size).reshape(shape)
    out["revenue"] = np.zeros(shape)  # a sale-rate experiment sums no revenue
    out["revenue_sq"] = np.zeros(shape)
    return out


# ----------------------------------------------------------------------------- monitoring
@dataclass
class ExperimentResult:
    """The monitoring of one experiment: per-day history and the decision per variant."""

    experiment: Experiment
    as_of: _dt.date
    days: list
    sums: dict
    effect: np.ndarray          # (K-1, D)
    low: np.ndarray
    high: np.ndarray
    p: np.ndarray
    srm_p: np.ndarray           # (D,)
    decision: list              # per treatment
    decided_day: list           # per treatment: index of the day or None
    reason_args: list

    @property
    def finished(self) -> bool:
        return bool(self.decision) and all(d != "continue" for d in self.decision)

    @property
    def ended_on(self):
        if not self.finished:
            return None
        return max(self.days[i] for i in self.decided_day)


def decision_rule(low, high, mde: float, margin: float | None = None) -> np.ndarray:
    """The decision each look's always-valid interval allows (arrays of any shape).

    Without a margin: ``stop_winner`` when the interval excludes 0, ``stop_no_difference``
    when it lies inside ``(-mde, mde)``. With a non-inferiority margin: ``stop_winner`` when
    it lies above 0, ``non_inferior`` when above ``-margin``, ``inferior`` when below
    ``-margin``. Otherwise ``continue`` (also where the interval is NaN).
    """
    low, high = np.asarray(low, float), np.asarray(high, float)
    rule = np.full(low.shape, "continue", dtype=object)
    with np.errstate(invalid="ignore"):
        if margin is not None:
            rule[low > -margin] = "non_inferior"
            rule[high < -margin] = "inferior"
            rule[low > 0] = "stop_winner"
        else:
            rule[(low > -mde) & (high < mde)] = "stop_no_difference"
            rule[(low > 0) | (high < 0)] = "stop_winner"
    return rule


def _analyse(x: Experiment, s: dict, as_of: _dt.date) -> ExperimentResult:
    K = len(x.variants)
    alpha = x.alpha / max(K - 1, 1)
    cum = {k: np.cumsum(s[k], axis=0) for k in ("calls", "connected", "sales", "revenue", "revenue_sq")}
    D = len(s["days"])
    effect = np.full((K - 1, D), np.nan)
    low, high, p = (np.full((K - 1, D), np.nan) for _ in range(3))
    # tune the boundary at the information a fixed-horizon test of the mde would need
    v_opt = information_for(x.mde, x.alpha, x.power)
    srm_p = srm_p_value(cum["calls"].sum(1), np.asarray(x.shares)) if D else np.zeros(0)
    decisions, decided, args = [], [], []
    srm_day = np.flatnonzero(srm_p < SRM_ALPHA)
    srm_day = int(srm_day[0]) if len(srm_day) else None
    for j in range(1, K):
        nA, nB = cum["connected"][:, :, 0], cum["connected"][:, :, j]
        if x.metric == "sale_rate":
            est, var, _ = mh_risk_difference(nA, cum["sales"][:, :, 0], nB, cum["sales"][:, :, j])
        else:
            est, var, _ = stratified_mean_difference(nA, cum["revenue"][:, :, 0], cum["revenue_sq"][:, :, 0],
                                                     nB, cum["revenue"][:, :, j], cum["revenue_sq"][:, :, j])
        ready = np.minimum(nA.sum(1), nB.sum(1)) >= x.min_connected
        start = int(np.argmax(ready)) if ready.any() else D
        lo, hi, pv = confidence_sequence(est, var, alpha, v_opt, start=start) if D else (est, est, est)
        effect[j - 1], low[j - 1], high[j - 1], p[j - 1] = est, lo, hi, pv
        rule = decision_rule(lo, hi, x.mde, x.margin)
        hit = np.flatnonzero(rule != "continue")
        first = int(hit[0]) if len(hit) else None
        if srm_day is not None and (first is None or srm_day <= first):
            decisions.append("sample_ratio_mismatch")
            decided.append(srm_day)
        elif first is not None:
            decisions.append(str(rule[first]))
            decided.append(first)
        else:
            decisions.append("continue")
            decided.append(None)
        args.append({"start": start})
    return ExperimentResult(x, as_of, s["days"], s, effect, low, high, p, srm_p, decisions, decided, args)


def monitor_experiments(data, registry, as_of=None) -> list[ExperimentResult]:
    """Monitor every experiment of ``registry`` day by day up to ``as_of``.

    Parameters
    ----------
    data : Dataset
    registry : path or list of Experiment
        An ``experiments.toml`` file or the result of :func:`load_registry`.
    as_of : date or "YYYY-MM-DD", optional
        Last day to look at (default: the day of the last call in the data).

    Returns
    -------
    list of ExperimentResult
    """
    experiments = load_registry(registry) if isinstance(registry, (str, Path)) else list(registry)
    check_against_data(experiments, data)
    day = _as_of(data, as_of)
    return [_analyse(x, daily_sums(data, x, day), day) for x in experiments]


def _fmt_effect(x: Experiment, v: float, lang: str, signed: bool = True) -> str:
    if x.metric == "sale_rate":
        return t("experiments.points" if signed else "experiments.points_abs", lang).format(v=100 * v)
    return t("experiments.yuan" if signed else "experiments.yuan_abs", lang).format(v=v)


def _reason(res: ExperimentResult, j: int, lang: str) -> str:
    x = res.experiment
    dec = res.decision[j]
    D = len(res.days)
    level = f"{1 - x.alpha / max(len(x.variants) - 1, 1):.0%}"
    if D == 0:
        return _say("not_started", lang, date=x.start.isoformat())
    d = res.decided_day[j] if res.decided_day[j] is not None else D - 1
    lo, hi, est = res.low[j, d], res.high[j, d], res.effect[j, d]
    fmt = {"low": _fmt_effect(x, lo, lang) if np.isfinite(lo) else "-",
           "high": _fmt_effect(x, hi, lang) if np.isfinite(hi) else "-",
           "effect": _fmt_effect(x, est, lang) if np.isfinite(est) else "-",
           "level": level, "date": res.days[d].isoformat() if D else "", "variant": x.treatments[j],
           "control": x.control}
    if dec == "sample_ratio_mismatch":
        cum = res.sums["calls"][: d + 1].sum((0, 1))
        tot = cum.sum()
        obs = "/".join(f"{c / tot:.0%}" for c in cum) if tot else "-"
        intended = "/".join(f"{s:.0%}" for s in x.shares)
        return _say("srm", lang, observed=obs, intended=intended, p=f"{res.srm_p[d]:.2g}", date=fmt["date"])
    if dec == "stop_winner":
        win, lose = (x.treatments[j], x.control) if lo > 0 else (x.control, x.treatments[j])
        gap = _fmt_effect(x, abs(est), lang, signed=False)
        return _say("winner", lang, winner=win, loser=lose, gap=gap, **fmt)
    if dec == "stop_no_difference":
        return _say("no_difference", lang, mde=_fmt_effect(x, x.mde, lang, signed=False), **fmt)
    if dec in ("non_inferior", "inferior"):
        return _say(dec, lang, margin=_fmt_effect(x, x.margin, lang, signed=False), **fmt)
    start = res.reason_args[j]["start"]
    if start >= D:
        have = int(min(res.sums["connected"][:, :, 0].sum(), res.sums["connected"][:, :, j + 1].sum()))
        return _say("wait", lang, days=D, need=x.min_connected, have=have)
    if res.as_of > x.planned_end:
        return _say("running_end", lang, **(fmt | {"date": x.planned_end.isoformat()}))
    return _say("running", lang, **fmt)


def _overall(res: ExperimentResult) -> tuple[str, int | None]:
    decs = res.decision
    if "sample_ratio_mismatch" in decs:
        return "sample_ratio_mismatch", res.decided_day[decs.index("sample_ratio_mismatch")]
    if any(d == "continue" for d in decs) or not decs:
        return "continue", None
    last = max(res.decided_day)
    for d in ("stop_winner", "inferior", "non_inferior", "stop_no_difference"):
        if d in decs:
            return d, last
    return decs[0], last


def experiments_table(results, lang: str = "en") -> pd.DataFrame:
    """One row per experiment and variant: the state as of the last day, or at the decision.

    Returns
    -------
    DataFrame
        ``experiment_id, variant, calls, connected, sales, rate, effect, ci_low, ci_high,
        p_always_valid, decision, reason``: dials, connected calls and sales (up to the day of
        the decision when there is one); ``rate`` the raw sale rate per connected call (revenue
        per connected call for revenue experiments); ``effect`` the rep-adjusted difference
        from the control (rate as a fraction, revenue in yuan); ``ci_low``/``ci_high`` its
        always-valid interval (Bonferroni over the variants); ``p_always_valid`` of "no
        difference"; ``decision`` one of :data:`DECISIONS`; ``reason`` in words (``lang``).
        The control's row carries the experiment's overall decision.
    """
    check_lang(lang)
    rows = []
    for res in results:
        x = res.experiment
        D = len(res.days)
        overall, oday = _overall(res)
        for k, v in enumerate((x.control,) + x.treatments):
            if k == 0:
                day = oday if oday is not None else D - 1
            else:
                dd = res.decided_day[k - 1]
                day = dd if dd is not None else D - 1
            if D == 0 or day < 0:
                calls = conn = sales = 0.0
                rev = 0.0
            else:
                calls = res.sums["calls"][: day + 1, :, k].sum()
                conn = res.sums["connected"][: day + 1, :, k].sum()
                sales = res.sums["sales"][: day + 1, :, k].sum()
                rev = res.sums["revenue"][: day + 1, :, k].sum()
            num = sales if x.metric == "sale_rate" else rev
            row = {"experiment_id": x.id, "variant": v, "calls": int(calls), "connected": int(conn),
                   "sales": int(sales), "rate": num / conn if conn else np.nan}
            if k == 0:
                if overall == "sample_ratio_mismatch":
                    reason = _reason(res, res.decision.index(overall), lang)
                elif len(x.treatments) == 1:
                    reason = _reason(res, 0, lang)
                else:
                    reason = _say("control_row", lang)
                row |= {"effect": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_always_valid": np.nan,
                        "decision": overall, "reason": reason}
            else:
                ok = D > 0 and day >= 0
                row |= {"effect": res.effect[k - 1, day] if ok else np.nan,
                        "ci_low": res.low[k - 1, day] if ok else np.nan,
                        "ci_high": res.high[k - 1, day] if ok else np.nan,
                        "p_always_valid": res.p[k - 1, day] if ok else np.nan,
                        "decision": res.decision[k - 1], "reason": _reason(res, k - 1, lang)}
            rows.append(row)
    out = pd.DataFrame(rows, columns=list(EXPERIMENT_COLUMNS))
    for c in ("experiment_id", "variant", "decision", "reason"):
        out[c] = out[c].astype("string")
    for c in ("calls", "connected", "sales"):
        out[c] = out[c].astype("int64")
    return out


def experiment_history(results) -> pd.DataFrame:
    """The always-valid interval of every comparison on every day (for the plots).

    Returns
    -------
    DataFrame
        ``experiment_id, variant, date, connected, effect, ci_low, ci_high, p_always_valid,
        srm_p_value``: one row per experiment, non-control variant and day from the start
        to the day of the decision (or the last day); ``connected`` counts both arms.
    """
    frames = []
    for res in results:
        x = res.experiment
        D = len(res.days)
        if not D:
            continue
        both = np.cumsum(res.sums["connected"].sum(1), axis=0)
        for j, v in enumerate(x.treatments):
            last = res.decided_day[j] if res.decided_day[j] is not None else D - 1
            sl = slice(0, last + 1)
            frames.append(pd.DataFrame({
                "experiment_id": x.id, "variant": v, "date": pd.to_datetime(res.days[sl]),
                "connected": (both[sl, 0] + both[sl, j + 1]).astype("int64"),
                "effect": res.effect[j, sl], "ci_low": res.low[j, sl], "ci_high": res.high[j, sl],
                "p_always_valid": res.p[j, sl], "srm_p_value": res.srm_p[sl]}))
    if not frames:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    for c in ("experiment_id", "variant"):
        out[c] = out[c].astype("string")
    return out


# ----------------------------------------------------------------------------- planning
def sequential_n_per_arm(mde: float, alpha: float, power: float, variance_per_call: float, k: int = 2) -> float:
    """Connected calls per arm after which the daily-watched test detects ``mde`` with ``power``.

    The smallest ``n`` with ``z_power * se(n) + halfwidth(n) <= mde``: at a true effect of
    ``mde`` the estimate then clears zero by the interval's half-width with probability
    ``power`` (``se(n)^2 = 2 * variance_per_call / n``, half-width from the boundary tuned at
    the fixed-horizon information).
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri

    a = alpha / max(k - 1, 1)
    rho = normal_mixture_rho(information_for(mde, alpha, power), a)

    def gap(n):
        v = n / (2 * variance_per_call)
        return ndtri(power) / math.sqrt(v) + normal_mixture_bound(v, a, rho) / v - mde

    hi = 10.0
    while gap(hi) > 0:
        hi *= 2
        if hi > 1e12:
            return math.nan
    return brentq(gap, 1.0, hi) if gap(1.0) > 0 else 1.0


def plan_experiment(data, registry, as_of=None) -> pd.DataFrame:
    """Calls needed and expected duration of every experiment at the current call volume.

    The baseline is the control's sale rate per connected call (revenue: the variance of
    revenue per connected call) in the 4 weeks before ``as_of``, or before the start if that
    is later; with no such calls it is unknown and the plan says so (NaN). The volume is the
    scenario's connected calls per calendar day in those 4 weeks (of the experiment's
    customer classes), split by the intended shares.

    Returns
    -------
    DataFrame
        ``experiment_id, scenario, control, variants, metric, baseline, mde, margin, alpha,
        power, n_per_arm_fixed, n_per_arm, connected_per_day, expected_days, start,
        expected_end, planned_end``: ``n_per_arm_fixed`` connected calls per arm for one
        look at the end (the ranking's ``NormalIndPower`` on Cohen's h), ``n_per_arm`` for
        the daily-watched test (:func:`sequential_n_per_arm`); ``expected_days`` at the
        current volume (the arm with the smallest share sets the pace), counted from the start.
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    experiments = load_registry(registry) if isinstance(registry, (str, Path)) else list(registry)
    check_against_data(experiments, data)
    day = _as_of(data, as_of)
    calls = data.calls
    scen = data.scripts.set_index(data.scripts["script_id"].astype(str))["scenario"].astype(str)
    cells = _day_cells(data)
    rows = []
    for x in experiments:
        ref_end = max(day, x.start - _dt.timedelta(days=1)) if day < x.start else day
        ref_start = ref_end - _dt.timedelta(days=27)
        # the 4 weeks' connected calls and sales of the scenario and of the control, from the day cells
        in_scen = _day_window(cells, ref_start, 28, scen.index[scen == x.scenario])
        ctl = _day_window(cells, ref_start, 28, [x.control])
        per_day = cells["connected"][in_scen].sum() / 28.0
        if not cells["connected"][ctl].any():
            ctl = in_scen  # a new control: the scenario's rate
        k = len(x.variants)
        a = x.alpha / max(k - 1, 1)
        if x.metric == "sale_rate":
            n_ctl = cells["connected"][ctl].sum()
            base = float(cells["sales"][ctl].sum() / n_ctl) if n_ctl else math.nan
            var_call = base * (1 - base)
            if np.isfinite(base) and 0 < base < 1:
                target = min(max(base + x.mde, 1e-6), 1 - 1e-6)
                h = abs(float(proportion_effectsize(target, base)))
                fixed = float(NormalIndPower().solve_power(effect_size=h, alpha=a, power=x.power, ratio=1.0))
            else:
                fixed = math.nan
        else:
            t0, t1 = pd.Timestamp(ref_start), pd.Timestamp(ref_end) + pd.Timedelta(days=1)
            m = ((calls["started_at"] >= t0) & (calls["started_at"] < t1)).to_numpy(bool)
            sub = calls.loc[m, ["script_id", "outcome", "call_id"]]
            conn = is_connected(sub["outcome"])
            ctl = (sub["script_id"].astype(str) == x.control).to_numpy(bool) & conn
            if not ctl.any():
                ctl = sub["script_id"].astype(str).map(scen).eq(x.scenario).to_numpy(bool) & conn
            rev = _revenue_per_call(data).reindex(sub["call_id"].astype(str).to_numpy()[ctl]).fillna(0.0).to_numpy()
            base = float(rev.mean()) if len(rev) else math.nan
            var_call = float(rev.var(ddof=1)) if len(rev) > 1 else math.nan
            fixed = 2 * var_call * information_for(x.mde, a, x.power) if np.isfinite(var_call) else math.nan
        seq = (sequential_n_per_arm(x.mde, x.alpha, x.power, var_call, k)
               if np.isfinite(var_call) and var_call > 0 else math.nan)
        share = min(x.shares)
        pace = per_day * share
        days = math.ceil(seq / pace) if np.isfinite(seq) and pace > 0 else math.nan
        rows.append({
            "experiment_id": x.id, "scenario": x.scenario, "control": x.control, "variants": ", ".join(x.variants),
            "metric": x.metric, "baseline": base, "mde": x.mde, "margin": x.margin if x.margin else np.nan,
            "alpha": x.alpha, "power": x.power,
            "n_per_arm_fixed": math.ceil(fixed) if np.isfinite(fixed) else np.nan,
            "n_per_arm": math.ceil(seq) if np.isfinite(seq) else np.nan,
            "connected_per_day": per_day, "expected_days": days, "start": x.start.isoformat(),
            "expected_end": (x.start + _dt.timedelta(days=days)).isoformat()
            if np.isfinite(days) else pd.NA,
            "planned_end": x.planned_end.isoformat()})
    out = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    for c in ("n_per_arm_fixed", "n_per_arm", "expected_days"):
        out[c] = pd.array(out[c], dtype="Float64").round().astype("Int64")
    for c in ("experiment_id", "scenario", "control", "variants", "metric", "start", "expected_end", "planned_end"):
        out[c] = out[c].astype("string")
    return out


def plan_assignment(data, registry, month: str | None = None, calls_per_rep=None) -> pd.DataFrame:
    """Rep-blocked assignment for every experiment: each rep active in the scenario uses every variant.

    The ranking's plan (:func:`telesales_lab.script_ranking.assignment_plan`'s arithmetic):
    each rep's dials in the scenario in ``month`` (default: the month of the last call), or
    ``calls_per_rep``, split across the variants by the registry's shares with largest
    remainders. Experiments assigned ``by customer`` get the same table as a guide to the
    volume each rep will see.

    Returns
    -------
    DataFrame
        ``experiment_id, scenario, rep_id, script_id, share, planned_calls``.
    """
    from telesales_lab.analysis.ranking.ranker import _plan
    from telesales_lab.analysis.ranking.cells import script_cells

    experiments = load_registry(registry) if isinstance(registry, (str, Path)) else list(registry)
    check_against_data(experiments, data)
    if month is None:
        month = str(data.calls["started_at"].max().to_period("M"))
    cells = script_cells(data, month, window_months=1)
    frames = []
    for x in experiments:
        alloc = pd.DataFrame({"scenario": x.scenario, "script_id": list(x.variants), "share": list(x.shares)})
        plan = _plan(alloc, cells[cells["scenario"] == x.scenario], calls_per_rep)
        plan.insert(0, "experiment_id", x.id)
        frames.append(plan)
    cols = ["experiment_id", "scenario", "rep_id", "script_id", "share", "planned_calls"]
    out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    for c in ("experiment_id", "scenario", "rep_id", "script_id"):
        out[c] = out[c].astype("string")
    return out


# ----------------------------------------------------------------------------- for the report and the packs
CARD_COLUMNS = ("experiment_id", "hypothesis", "scenario", "variants", "status", "decision", "reason", "start",
                "planned_end", "ended_on", "connected_min_arm", "n_per_arm", "progress")


def default_registry(data):
    """``experiments.toml`` beside the data set, or None when there is none."""
    path = Path(data.source) / "experiments.toml"
    return path if path.is_file() else None


def experiment_cards(results, plan: pd.DataFrame | None = None, lang: str = "en") -> pd.DataFrame:
    """One row per experiment for the report's cards: status, decision in words, progress.

    Parameters
    ----------
    results : list of ExperimentResult
        From :func:`monitor_experiments`.
    plan : DataFrame, optional
        From :func:`plan_experiment` (for the calls needed); without it progress is NaN.

    Returns
    -------
    DataFrame
        ``experiment_id, hypothesis, scenario, variants, status, decision, reason, start,
        planned_end, ended_on, connected_min_arm, n_per_arm, progress``: ``status`` is
        ``running``, ``finished`` (a decision was reached; ``ended_on`` its day) or
        ``not_started``; ``connected_min_arm`` the connected calls of the arm with the fewest
        (up to the decision); ``progress`` = that / ``n_per_arm`` (the daily-watched test's
        planned calls per arm).
    """
    check_lang(lang)
    table = experiments_table(results, lang)
    need = plan.set_index("experiment_id")["n_per_arm"] if plan is not None and len(plan) else pd.Series(dtype=float)
    rows = []
    for res in results:
        x = res.experiment
        mine = table[table["experiment_id"] == x.id]
        control = mine.iloc[0]
        status = ("not_started" if not res.days else "finished" if control["decision"] != "continue"
                  else "running")
        n_arm = need.get(x.id, np.nan)
        n_arm = float(n_arm) if pd.notna(n_arm) else np.nan
        low = float(mine["connected"].min())
        ended = None
        if control["decision"] == "sample_ratio_mismatch":
            ended = res.days[res.decided_day[res.decision.index("sample_ratio_mismatch")]]
        elif res.finished:
            ended = res.ended_on
        hypothesis = x.hypothesis_zh if lang == "zh" and x.hypothesis_zh else x.hypothesis
        rows.append({"experiment_id": x.id, "hypothesis": hypothesis, "scenario": x.scenario,
                     "variants": ", ".join(x.variants), "status": status, "decision": control["decision"],
                     "reason": control["reason"] if len(x.treatments) == 1 else "; ".join(mine["reason"].iloc[1:]),
                     "start": x.start.isoformat(), "planned_end": x.planned_end.isoformat(),
                     "ended_on": ended.isoformat() if ended else pd.NA, "connected_min_arm": low,
                     "n_per_arm": n_arm, "progress": low / n_arm if n_arm and n_arm == n_arm else np.nan})
    out = pd.DataFrame(rows, columns=list(CARD_COLUMNS))
    for c in ("experiment_id", "hypothesis", "scenario", "variants", "status", "decision", "reason", "start",
              "planned_end", "ended_on"):
        out[c] = out[c].astype("string")
    return out


def rep_assignments(data, month: str, registry=None, lang: str = "en") -> pd.DataFrame:
    """Each rep's running experiments at the end of ``month`` and the scripts to use.

    An experiment counts for a rep when it is still running (no decision) on the last day of
    ``month`` with data, its planned end is not past, and the rep called in its scenario in
    ``month``: with a rep-blocked assignment every such rep uses every variant, in the
    registry's shares.

    Returns
    -------
    DataFrame
        ``rep_id, experiment_id, scenario, scripts, planned_end, line``: ``scripts`` such as
        ``UP-B 50%, UP-A 50%``; ``line`` the sentence for the coaching pack (``lang``). Empty
        without a registry.
    """
    from telesales_lab.data.periods import parse_month

    check_lang(lang)
    cols = ["rep_id", "experiment_id", "scenario", "scripts", "planned_end", "line"]
    registry = registry if registry is not None else default_registry(data)
    if registry is None:
        return pd.DataFrame(columns=cols).astype("string")
    p = parse_month(month)
    cells = _day_cells(data)  # the month's reps and scripts from the per-day cells, not the calls
    start = p.start_time.date()
    in_month = _day_window(cells, start, p.days_in_month, cells["scripts"])
    if not in_month.any():
        return pd.DataFrame(columns=cols).astype("string")
    as_of = cells["first_day"] + _dt.timedelta(days=int(cells["day"][in_month].max()))  # the last day with calls
    results = monitor_experiments(data, registry, as_of=as_of)
    scen = data.scripts.set_index(data.scripts["script_id"].astype(str))["scenario"].astype(str)
    rep_scen = pd.DataFrame({"rep_id": cells["reps"][cells["rep"][in_month]],
                             "scenario": pd.Series(cells["scripts"][cells["script"][in_month]]).map(scen).to_numpy()
                             }).drop_duplicates()
    rows = []
    for res in results:
        x = res.experiment
        if not res.days or res.finished or "sample_ratio_mismatch" in res.decision or as_of > x.planned_end:
            continue
        scripts = t("experiments.script_sep", lang).join(f"{v} {s:.0%}" for v, s in zip(x.variants, x.shares))
        line = t("experiments.coaching_line", lang).format(
            experiment=x.id, scenario=t(x.scenario, lang, "script_ranking"), scripts=scripts,
            end=x.planned_end.isoformat())
        for rep in sorted(rep_scen.loc[rep_scen["scenario"] == x.scenario, "rep_id"]):
            rows.append({"rep_id": rep, "experiment_id": x.id, "scenario": x.scenario, "scripts": scripts,
                         "planned_end": x.planned_end.isoformat(), "line": line})
    return pd.DataFrame(rows, columns=cols).astype("string")
