"""Script experiments: a registry of planned tests, daily always-valid monitoring, and plans.

A trainer writes a new script variant, tries it on part of the floor and wants to know when
to stop. Each experiment is an entry of ``experiments.toml`` (:func:`load_registry`), kept
beside the policy. :func:`monitor_experiments` sums the calls per day, rep and variant and
runs the rep-blocked confidence sequence of :mod:`telesales_lab.sequential` on every day
since the start, so the verdict may be read every day without inflating false winners;
the first day a rule is met ends the experiment with that decision. :func:`plan_experiment`
turns an entry into the calls needed, the expected duration at the current call volume and
a rep-blocked assignment (the ranking's plan).

The registry
------------
.. code-block:: toml

    version = 1

    [[experiment]]
    id = "EXP-RN-LOYALTY"               # letters, digits, - _ . ; unique
    hypothesis = "The loyalty offer renews more customers"
    scenario = "renewal"
    variants = ["RN-A", "RN-B"]         # script ids of the scenario, two or more
    control = "RN-A"                    # one of the variants
    start = 2026-08-01                  # first day of calls that count
    planned_end = 2026-11-30            # last day
    metric = "sale_rate"                # sale per connected call | revenue_per_call (per connected call)
    mde = 0.05                          # minimum detectable effect (rate points as a fraction; yuan for revenue)
    # margin = 0.02                     # non-inferiority margin: the variant may be at most this much worse
    alpha = 0.05
    power = 0.8
    assignment = "rep_blocked"          # rep_blocked (every rep uses every variant) | customer
    # customer_classes = ["A", "B"]     # only calls to customers of these classes (class at the start)
    # shares = { RN-A = 0.5, RN-B = 0.5 }   # intended split; default equal
    # min_connected = 100               # connected calls each arm needs before any decision

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
import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import ParameterError, RegistryError
from .i18n import check_lang, register, t
from .sequential import (
    confidence_sequence,
    information_for,
    mh_risk_difference,
    normal_mixture_bound,
    normal_mixture_rho,
    srm_p_value,
    stratified_mean_difference,
)

__all__ = ["Experiment", "load_registry", "monitor_experiments", "experiments_table", "experiment_history",
           "plan_experiment", "plan_assignment", "EXPERIMENT_COLUMNS", "DECISIONS", "METRICS",
           "example_registry_path"]

DECISIONS = ("continue", "stop_winner", "stop_no_difference", "non_inferior", "inferior", "sample_ratio_mismatch")
METRICS = ("sale_rate", "revenue_per_call")
ASSIGNMENTS = ("rep_blocked", "customer")
CLASSES = ("A", "B", "C")
EXPERIMENT_COLUMNS = ("experiment_id", "variant", "calls", "connected", "sales", "rate", "effect", "ci_low",
                      "ci_high", "p_always_valid", "decision", "reason")
HISTORY_COLUMNS = ("experiment_id", "variant", "date", "connected", "effect", "ci_low", "ci_high",
                   "p_always_valid", "srm_p_value")
PLAN_COLUMNS = ("experiment_id", "scenario", "control", "variants", "metric", "baseline", "mde", "margin", "alpha",
                "power", "n_per_arm_fixed", "n_per_arm", "connected_per_day", "expected_days", "start",
                "expected_end", "planned_end")
#: Level of the sequential sample-ratio test (as the ranking's srm_check threshold).
SRM_ALPHA = 0.001
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_KEYS = ("id", "hypothesis", "scenario", "customer_classes", "variants", "control", "start", "planned_end",
         "metric", "mde", "margin", "alpha", "power", "assignment", "shares", "min_connected")
_REQUIRED = ("id", "hypothesis", "scenario", "variants", "control", "start", "planned_end", "metric", "mde")

#: Column words labelled for this module's tables only (``translate_columns(frame, lang, CONTEXT)``).
CONTEXT = "experiments"
register({
    "experiment_id": ("experiment", "实验"),
    "variant": ("variant", "话术版本"),
    "effect": ("effect vs control", "相对对照的差异"),
    "p_always_valid": ("always-valid p-value", "随时有效P值"),
    "decision": ("decision", "决定"),
    "reason": ("reason", "理由"),
    "continue": ("continue", "继续"),
    "stop_winner": ("stop: winner", "停止：有胜出者"),
    "stop_no_difference": ("stop: no difference", "停止：无差异"),
    "non_inferior": ("non-inferior", "不劣于对照"),
    "inferior": ("inferior", "劣于对照"),
    "sample_ratio_mismatch": ("sample ratio mismatch", "样本比例失衡"),
    "n_per_arm_fixed": ("connected calls per arm (one look)", "每组所需接通数（单次检验）"),
    "n_per_arm": ("connected calls per arm (daily looks)", "每组所需接通数（每日查看）"),
    "connected_per_day": ("connected calls per day", "每日接通数"),
    "expected_days": ("expected days", "预计天数"),
    "expected_end": ("expected end", "预计结束日期"),
    "planned_end": ("planned end", "计划结束日期"),
    "baseline": ("baseline", "基线"),
    "mde": ("minimum detectable effect", "最小可检测效应"),
    "margin": ("non-inferiority margin", "非劣效界值"),
    "control": ("control", "对照"),
    "variants": ("variants", "版本"),
    "metric": ("metric", "指标"),
    "start": ("start", "开始日期"),
    "date": ("date", "日期"),
    "srm_p_value": ("sample-ratio p-value", "样本比例P值"),

    "calls": ("calls", "通话数"),
    "connected": ("connected", "接通数"),
    "sales": ("sales", "成交数"),
    "rate": ("sale rate", "成交率"),
    "ci_low": ("always-valid CI low", "随时有效区间下限"),
    "ci_high": ("always-valid CI high", "随时有效区间上限"),
    "alpha": ("alpha", "显著性水平"),
    "power": ("power", "检验效能"),
    "share": ("share", "分配比例"),
    "planned_calls": ("planned calls", "计划通话数"),
}, context=CONTEXT)
_REASONS = {
    "wait": ("{days} days of data; each arm needs {need} connected calls before a decision (fewest so far: {have})",
             "已有{days}天数据；每组需至少{need}次接通才作判断（目前最少{have}次）"),
    "not_started": ("starts on {date}", "将于{date}开始"),
    "running": ("{effect} so far (always-valid {level} interval {low} to {high}); not yet decided",
                "目前差异{effect}（随时有效{level}区间{low}至{high}）；尚无定论"),
    "running_end": ("planned end {date} passed without a decision: {effect} (interval {low} to {high}); "
                    "extend it or close it as inconclusive",
                    "已过计划结束日期{date}仍无定论：差异{effect}（区间{low}至{high}）；请延长或以无定论结束"),
    "winner": ("{winner} beats {loser} by {gap} (always-valid {level} interval {low} to {high}); decided on {date}",
               "{winner}优于{loser}，高{gap}（随时有效{level}区间{low}至{high}）；于{date}得出结论"),
    "no_difference": ("no difference of {mde} or more: the interval {low} to {high} lies inside +-{mde}; "
                      "decided on {date}",
                      "不存在{mde}及以上的差异：区间{low}至{high}落在±{mde}之内；于{date}得出结论"),
    "non_inferior": ("{variant} is at most {margin} worse than {control} (interval {low} to {high}, above "
                     "-{margin}); decided on {date}",
                     "{variant}最多比{control}差{margin}（区间{low}至{high}，高于-{margin}）；于{date}得出结论"),
    "inferior": ("{variant} is more than {margin} worse than {control} (interval {low} to {high}); decided on {date}",
                 "{variant}比{control}差{margin}以上（区间{low}至{high}）；于{date}得出结论"),
    "srm": ("dials are not split as intended ({observed} against {intended}; sequential p = {p}) since {date}: "
            "fix the assignment before reading any result",
            "自{date}起拨打量未按计划分配（实际{observed}，计划{intended}；序贯P值{p}）：先修正分配再看结果"),
    "control_row": ("control", "对照组"),
}
_POINTS = ("{v:+.1f} points", "{v:+.1f}个百分点")
_POINTS_ABS = ("{v:.1f} points", "{v:.1f}个百分点")
_YUAN = ("{v:+,.0f} yuan per connected call", "每接通{v:+,.0f}元")
_YUAN_ABS = ("{v:,.0f} yuan", "{v:,.0f}元")


# ----------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Experiment:
    """One validated entry of the registry (see the module docstring for the keys)."""

    id: str
    hypothesis: str
    scenario: str
    variants: tuple[str, ...]
    control: str
    start: _dt.date
    planned_end: _dt.date
    metric: str
    mde: float
    margin: float | None = None
    alpha: float = 0.05
    power: float = 0.8
    assignment: str = "rep_blocked"
    customer_classes: tuple[str, ...] | None = None
    shares: tuple[float, ...] = ()
    min_connected: int = 100
    source: str = field(default="", compare=False)

    @property
    def treatments(self) -> tuple[str, ...]:
        return tuple(v for v in self.variants if v != self.control)


def example_registry_path() -> Path:
    """Path of the shipped example registry (the demo's planted experiments)."""
    from importlib import resources

    return Path(str(resources.files("telesales_lab") / "defaults" / "experiments.toml"))


def _kind(v) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, _dt.date):
        return "a date"
    return type(v).__name__


def load_registry(path) -> list[Experiment]:
    """Read and check an experiment registry; every problem is reported at once.

    Parameters
    ----------
    path : path
        The ``experiments.toml`` file.

    Returns
    -------
    list of Experiment
        In the file's order.

    Raises
    ------
    RegistryError
        Unreadable or invalid TOML, or any broken rule; one line per problem naming the
        file, the experiment id (or its position), the key and the rule.
    """
    path = Path(path)
    label = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"{path}: experiment registry does not exist") from None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the experiment registry ({exc.strerror})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise RegistryError(f"{label}: not UTF-8 text; save the registry as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{label}: not valid TOML ({exc})") from None
    problems: list[str] = []
    for key in doc:
        if key not in ("version", "experiment"):
            hint = difflib.get_close_matches(key, ["version", "experiment"], n=1)
            problems.append(f"{label}: unknown top-level key '{key}'" + (f" (did you mean '{hint[0]}'?)" if hint
                                                                          else "; use [[experiment]] tables"))
    if "version" in doc and doc["version"] != 1:
        problems.append(f"{label}: key 'version' == {doc['version']!r}: must be 1")
    entries = doc.get("experiment", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append(f"{label}: 'experiment' must be [[experiment]] tables")
        entries = []
    out, seen = [], {}
    for i, entry in enumerate(entries, start=1):
        exp, errs = _check_entry(entry, i, label)
        problems += errs
        if exp is not None:
            if exp.id in seen:
                problems.append(f"{label}: experiment '{exp.id}': key 'id': duplicate of experiment number "
                                f"{seen[exp.id]}; ids must be unique")
            seen.setdefault(exp.id, i)
            out.append(exp)
    if problems:
        raise RegistryError(f"{len(problems)} problem(s) in the experiment registry {label}:\n"
                            + "\n".join(f"  {p}" for p in problems))
    return out


def _check_entry(e: dict, i: int, label: str) -> tuple[Experiment | None, list[str]]:
    eid = e.get("id")
    who = f"experiment '{eid}'" if isinstance(eid, str) and eid else f"experiment number {i}"
    errs: list[str] = []

    def bad(key, rule):
        v = e.get(key)
        shown = "" if key not in e else f" == {v.isoformat()}" if isinstance(v, _dt.date) else f" == {v!r}"
        errs.append(f"{label}: {who}: key '{key}'{shown}: {rule}")

    for key in e:
        if key not in _KEYS:
            hint = difflib.get_close_matches(key, _KEYS, n=1)
            errs.append(f"{label}: {who}: unknown key '{key}'" + (f" (did you mean '{hint[0]}'?)" if hint else
                                                                   f"; allowed: {', '.join(_KEYS)}"))
    for key in _REQUIRED:
        if key not in e:
            errs.append(f"{label}: {who}: key '{key}' is missing: it is required")
    text = {}
    for key in ("id", "hypothesis", "scenario"):
        if key in e:
            v = e[key]
            if not isinstance(v, str) or not v.strip():
                bad(key, f"must be non-empty text (got {_kind(v)})")
            else:
                text[key] = v.strip()
    if "id" in text and not _ID.match(text["id"]):
        bad("id", "must start with a letter or digit and hold only letters, digits, '-', '_' and '.'")
    variants: list[str] = []
    if "variants" in e:
        v = e["variants"]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            bad("variants", "must be a list of script ids (text)")
        elif len(v) < 2:
            bad("variants", "must list at least two script ids (the control and a variant)")
        elif len(set(v)) != len(v):
            bad("variants", "lists a script id twice")
        else:
            variants = [x.strip() for x in v]
    control = e.get("control")
    if "control" in e:
        if not isinstance(control, str):
            bad("control", "must be one script id (text)")
        elif variants and control not in variants:
            bad("control", f"must be one of the variants ({', '.join(variants)})")
    dates = {}
    for key in ("start", "planned_end"):
        if key in e:
            v = e[key]
            if isinstance(v, _dt.datetime):
                v = v.date()
            if isinstance(v, str):
                try:
                    v = _dt.date.fromisoformat(v.strip())
                except ValueError:
                    bad(key, "must be a date YYYY-MM-DD")
                    continue
            if not isinstance(v, _dt.date):
                bad(key, f"must be a date YYYY-MM-DD (got {_kind(v)})")
                continue
            dates[key] = v
    if len(dates) == 2 and dates["planned_end"] < dates["start"]:
        bad("planned_end", f"must not be before start ({dates['start']})")
    metric = e.get("metric")
    if "metric" in e and metric not in METRICS:
        bad("metric", f"must be one of {'|'.join(METRICS)}")

    def number(key, low, high, default=None, open_high=True):
        if key not in e:
            return default
        v = e[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            bad(key, f"must be a number (got {_kind(v)})")
            return None
        ok = low < v and (v < high if open_high else v <= high)
        if not ok:
            rng = f"in ({low}, {high})" if open_high else f"in ({low}, {high}]"
            bad(key, f"must be {rng}")
            return None
        return float(v)

    rate = metric == "sale_rate"
    mde = number("mde", 0, 1 if rate else math.inf)
    margin = number("margin", 0, 1 if rate else math.inf)
    alpha = number("alpha", 0, 1, 0.05)
    power = number("power", 0, 1, 0.8)
    if alpha is not None and alpha > 0.5:
        bad("alpha", "must be at most 0.5 (it is the error rate you accept, e.g. 0.05)")
    assignment = e.get("assignment", "rep_blocked")
    if assignment not in ASSIGNMENTS:
        bad("assignment", f"must be one of {'|'.join(ASSIGNMENTS)}")
    classes = e.get("customer_classes")
    if classes is not None:
        if (not isinstance(classes, list) or not classes or not all(c in CLASSES for c in classes)
                or len(set(classes)) != len(classes)):
            bad("customer_classes", f"must be a non-empty list of distinct classes from {', '.join(CLASSES)}")
            classes = None
        else:
            classes = tuple(classes)
    shares: tuple[float, ...] = ()
    if "shares" in e:
        s = e["shares"]
        if not isinstance(s, dict):
            bad("shares", "must be a table {script_id = share}")
        elif variants and set(s) != set(variants):
            bad("shares", f"must give a share for exactly the variants ({', '.join(variants)})")
        elif not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in s.values()):
            bad("shares", "every share must be a number > 0")
        elif variants:
            tot = float(sum(s.values()))
            shares = tuple(float(s[v]) / tot for v in variants)
    min_conn = e.get("min_connected", 100)
    if isinstance(min_conn, bool) or not isinstance(min_conn, int) or min_conn < 1:
        bad("min_connected", "must be a whole number >= 1")
    if errs:
        return None, errs
    if not shares:
        shares = tuple(1.0 / len(variants) for _ in variants)
    return Experiment(id=text["id"], hypothesis=text["hypothesis"], scenario=text["scenario"],
                      variants=tuple(variants), control=control, start=dates["start"],
                      planned_end=dates["planned_end"], metric=metric, mde=mde, margin=margin, alpha=alpha,
                      power=power, assignment=assignment, customer_classes=classes, shares=shares,
                      min_connected=int(min_conn), source=label), []


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
    calls = data.calls
    t0 = pd.Timestamp(x.start)
    t1 = pd.Timestamp(end) + pd.Timedelta(days=1)
    started = calls["started_at"]
    script = calls["script_id"].astype("string")
    mask = ((started >= t0) & (started < t1) & script.isin(order)).to_numpy(bool)
    sub = calls.loc[mask, ["call_id", "rep_id", "customer_id", "script_id", "started_at", "outcome"]]
    if x.customer_classes is not None and len(sub):
        from .customers import class_at_start  # lazy: the customers module reads the policy

        month = str(pd.Period(x.start, freq="M"))
        try:
            cmap = class_at_start(data, month)
        except ParameterError:
            cmap = pd.Series(dtype="string")
        cls = sub["customer_id"].astype("string").map(cmap.astype("string")).fillna("C")
        sub = sub[cls.isin(x.customer_classes).to_numpy(bool)]
    reps = np.sort(sub["rep_id"].astype(str).unique())
    R, K = len(reps), len(order)
    shape = (n_days, R, K)
    out = {"days": [x.start + _dt.timedelta(days=d) for d in range(n_days)], "reps": reps, "variants": order}
    if len(sub) == 0 or n_days == 0:
        for k in ("calls", "connected", "sales", "revenue", "revenue_sq"):
            out[k] = np.zeros(shape)
        return out
    day = ((sub["started_at"] - t0).dt.days).to_numpy(np.int64)
    rep = np.searchsorted(reps, sub["rep_id"].astype(str).to_numpy())
    var = pd.Index(order).get_indexer(sub["script_id"].astype(str))
    flat = (day * R + rep) * K + var
    size = n_days * R * K
    connected = (sub["outcome"] != "no_answer").to_numpy(bool)
    sale = (sub["outcome"] == "sale").to_numpy(bool)
    out["calls"] = np.bincount(flat, minlength=size).reshape(shape).astype(float)
    out["connected"] = np.bincount(flat, weights=connected, minlength=size).reshape(shape)
    out["sales"] = np.bincount(flat, weights=sale, minlength=size).reshape(shape)
    rev = np.zeros(len(sub))
    if x.metric == "revenue_per_call":
        orders = data.orders
        ok = orders["call_id"].notna().to_numpy(bool) & (orders["status"] != "cancelled").to_numpy(bool)
        per_call = orders.loc[ok].groupby(orders.loc[ok, "call_id"].astype(str))["amount"].sum()
        pos = per_call.index.get_indexer(sub["call_id"].astype(str))
        rev = np.where((pos >= 0) & connected, per_call.to_numpy(float)[np.maximum(pos, 0)], 0.0)
    out["revenue"] = np.bincount(flat, weights=rev, minlength=size).reshape(shape)
    out["revenue_sq"] = np.bincount(flat, weights=rev ** 2, minlength=size).reshape(shape)
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
    i = 0 if lang == "en" else 1
    if x.metric == "sale_rate":
        return (_POINTS if signed else _POINTS_ABS)[i].format(v=100 * v)
    return (_YUAN if signed else _YUAN_ABS)[i].format(v=v)


def _reason(res: ExperimentResult, j: int, lang: str) -> str:
    x = res.experiment
    i = 0 if lang == "en" else 1
    dec = res.decision[j]
    D = len(res.days)
    level = f"{1 - x.alpha / max(len(x.variants) - 1, 1):.0%}"
    if D == 0:
        return _REASONS["not_started"][i].format(date=x.start.isoformat())
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
        return _REASONS["srm"][i].format(observed=obs, intended=intended, p=f"{res.srm_p[d]:.2g}", date=fmt["date"])
    if dec == "stop_winner":
        win, lose = (x.treatments[j], x.control) if lo > 0 else (x.control, x.treatments[j])
        gap = _fmt_effect(x, abs(est), lang, signed=False)
        return _REASONS["winner"][i].format(winner=win, loser=lose, gap=gap, **fmt)
    if dec == "stop_no_difference":
        return _REASONS["no_difference"][i].format(mde=_fmt_effect(x, x.mde, lang, signed=False), **fmt)
    if dec in ("non_inferior", "inferior"):
        return _REASONS[dec][i].format(margin=_fmt_effect(x, x.margin, lang, signed=False), **fmt)
    start = res.reason_args[j]["start"]
    if start >= D:
        have = int(min(res.sums["connected"][:, :, 0].sum(), res.sums["connected"][:, :, j + 1].sum()))
        return _REASONS["wait"][i].format(days=D, need=x.min_connected, have=have)
    if res.as_of > x.planned_end:
        return _REASONS["running_end"][i].format(**(fmt | {"date": x.planned_end.isoformat()}))
    return _REASONS["running"][i].format(**fmt)


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
                    reason = _REASONS["control_row"][0 if lang == "en" else 1]
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
    rows = []
    for x in experiments:
        ref_end = max(day, x.start - _dt.timedelta(days=1)) if day < x.start else day
        ref_start = ref_end - _dt.timedelta(days=27)
        t0, t1 = pd.Timestamp(ref_start), pd.Timestamp(ref_end) + pd.Timedelta(days=1)
        m = ((calls["started_at"] >= t0) & (calls["started_at"] < t1)).to_numpy(bool)
        sub = calls.loc[m, ["script_id", "outcome", "call_id"]]
        in_scen = sub["script_id"].astype(str).map(scen).eq(x.scenario).to_numpy(bool)
        conn = (sub["outcome"] != "no_answer").to_numpy(bool)
        per_day = (in_scen & conn).sum() / 28.0
        ctl = (sub["script_id"].astype(str) == x.control).to_numpy(bool) & conn
        if not ctl.any():
            ctl = in_scen & conn  # a new control: the scenario's rate
        k = len(x.variants)
        a = x.alpha / max(k - 1, 1)
        if x.metric == "sale_rate":
            base = float((sub["outcome"].to_numpy()[ctl] == "sale").mean()) if ctl.any() else math.nan
            var_call = base * (1 - base)
            if np.isfinite(base) and 0 < base < 1:
                target = min(max(base + x.mde, 1e-6), 1 - 1e-6)
                h = abs(float(proportion_effectsize(target, base)))
                fixed = float(NormalIndPower().solve_power(effect_size=h, alpha=a, power=x.power, ratio=1.0))
            else:
                fixed = math.nan
        else:
            orders = data.orders
            ok = orders["call_id"].notna().to_numpy(bool) & (orders["status"] != "cancelled").to_numpy(bool)
            per_call = orders.loc[ok].groupby(orders.loc[ok, "call_id"].astype(str))["amount"].sum()
            rev = per_call.reindex(sub["call_id"].astype(str).to_numpy()[ctl]).fillna(0.0).to_numpy()
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
    from .script_ranking import _plan, script_cells

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
