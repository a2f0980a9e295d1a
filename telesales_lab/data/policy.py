"""The policy file: KPI weights, grade bands, class thresholds, award and promotion rules.

A policy is a TOML file. The package ships the defaults
(``telesales_lab/defaults/policy.toml``); a user copies them (``telesales-lab policy --init
FILE``), edits the copy and passes it with ``--policy FILE``. :func:`load_policy` merges the
user's file over the defaults, key by key, and checks every value, so that a typo or a
negative weight is refused with a message naming the file, the key and the rule instead of
silently changing a bonus.
"""

from __future__ import annotations

import copy
import math
import os
import stat
import tomllib
from pathlib import Path

from telesales_lab.config import POLICY_ENV, default_file, default_label
from telesales_lab.exceptions import PolicyError
from telesales_lab.data.schema import CUSTOMER_CLASSES, ROLES, SKILLS, TARGET_METRICS

#: Tables whose values are weights: numeric, >= 0, not all 0; normalised to sum to 1.
WEIGHT_TABLES = (
    "kpi.weights",
    "kpi.sales.weights",
    "kpi.development.weights",
    "kpi.satisfaction.weights",
    "kpi.teamwork.weights",
    "customers.weights",
)
#: Tables a user's file replaces as a whole (their keys are the user's own names).
REPLACED_TABLES = ("grades",)
#: The five dimensions of the monthly evaluation.
DIMENSIONS = ("sales", "development", "satisfaction", "skills", "teamwork")
SCALES = ("percentile", "minmax")


def default_policy_path() -> Path:
    """Path of the shipped default policy file."""
    return default_file("policy.toml")


def default_policy_text() -> str:
    """The shipped default policy file, comments included (for ``policy --init``)."""
    return default_policy_path().read_text(encoding="utf-8")


#: A policy file larger than this is refused (the shipped one is about 5 kB).
MAX_POLICY_BYTES = 1 << 20

#: The allowed range of every numeric key: ``(lowest, highest, whole number)``. A ``*``
#: stands for any key of that table (weights, grade bands) or any element of a list.
#: docs/policy.md lists the same ranges for people.
RANGES: dict[str, tuple[float, float, bool]] = {
    "kpi.weights.*": (0, 1000, False),
    "kpi.sales.weights.*": (0, 1000, False),
    "kpi.development.weights.*": (0, 1000, False),
    "kpi.satisfaction.prior_feedback": (0, 100, False),
    "kpi.satisfaction.resolve_within_days": (0, 366, False),
    "kpi.satisfaction.weights.*": (0, 1000, False),
    "kpi.teamwork.weights.*": (0, 1000, False),
    "grades.*": (0, 100, False),
    "awards.min_calls_per_month": (0, 100_000, True),
    "awards.max_open_complaints": (0, 100_000, True),
    "promotion.*.min_tenure_months": (0, 600, False),
    "promotion.*.grade_streak": (1, 120, True),
    "promotion.*.min_skill": (0, 100, False),
    "skills.lookback_months": (1, 120, True),
    "skills.half_life_days": (1, 3650, False),
    "skills.max_call_weight": (0, 1000, False),
    "training.target": (0, 100, False),
    "training.min_gap": (0, 100, False),
    "training.top_n": (1, 7, True),
    "training.classroom_share": (0, 1, False),
    "training.classroom_min_reps": (1, 10_000, True),
    "training.senior_tenure_months": (0, 600, False),
    "training.coach_min_score": (0, 100, False),
    "training.coach_margin": (0, 100, False),
    "training.coach_cap": (0, 1000, True),
    "training.due_weeks.*": (0, 104, False),
    "training.calendar_months": (1, 36, True),
    "training.effect_level": (0.5, 0.999, False),
    "training.effect_min_trained": (1, 10_000, True),
    "calibration.lookback_months": (1, 120, True),
    "calibration.drift_z": (0, 100, False),
    "calibration.min_drift": (0, 100, False),
    "calibration.alpha": (1e-9, 1, False),
    "calibration.min_shared": (2, 100_000, True),
    "customers.lookback_months": (1, 120, True),
    "customers.a_min_score": (0, 100, False),
    "customers.b_min_score": (0, 100, False),
    "customers.potential_prior_calls": (0, 10_000, False),
    "customers.weights.*": (0, 1000, False),
    "care.horizon_days": (0, 366, False),
    "care.lapsed_a_months": (1, 120, True),
    "care.revisit_days.*": (1, 3660, False),
    "targets.history_months": (1, 24, True),
    "targets.level": (0.5, 0.99, False),
    "bonus.threshold": (0, 10, False),
    "bonus.cap": (0, 100, False),
    "bonus.max_unresolved_complaints": (0, 100_000, True),
    "bonus.base.*": (0, 1e9, False),
    "bonus.tiers.*.from": (0, 10, False),
    "bonus.tiers.*.to": (0, math.inf, False),  # the last tier runs on: its end is infinity
    "bonus.tiers.*.multiplier": (0, 100, False),
    "bonus.tiers.*.accelerator": (0, 100, False),
    "ranking.min_connected": (1, 10_000_000, True),
    "ranking.min_reps": (1, 100_000, True),
    "ranking.min_prob_best": (0, 1, False),
    "ranking.alpha": (0, 1, False),
    "ranking.n_draws": (100, 1_000_000, True),
    "ranking.floor": (0, 1, False),
    "collections.days": (0, 3660, True),
    "collections.escalate_days": (0, 3660, True),
}


def _read_bytes(path: Path, label: str) -> bytes:
    """The file's bytes: a regular file of at most :data:`MAX_POLICY_BYTES` only.

    Opened without blocking and checked with ``fstat`` on the open file, so a FIFO cannot
    hang the read, ``/dev/zero`` cannot fill the memory, and the file checked is the one read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise PolicyError(f"{label}: policy file does not exist") from None
    except OSError as exc:
        raise PolicyError(f"{label}: cannot read the policy file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PolicyError(f"{label}: not a regular file (a folder, pipe or device); "
                              "give the path of a TOML file")
        if info.st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"{label}: {info.st_size:,} bytes, a policy file must be at most "
                              f"{MAX_POLICY_BYTES:,} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise PolicyError(f"{label}: cannot read the policy file ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_POLICY_BYTES:  # grew while being read
        raise PolicyError(f"{label}: a policy file must be at most {MAX_POLICY_BYTES:,} bytes")
    return raw


def _read_toml(path: Path, label: str) -> dict:
    raw = _read_bytes(path, label)
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PolicyError(f"{label}: not UTF-8 text; save the policy file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{label}: not valid TOML ({exc})") from None
    except RecursionError:
        raise PolicyError(f"{label}: arrays or tables nested too deeply to be a policy file") from None


def _range_of(dotted: str) -> tuple[float, float, bool] | None:
    parts = dotted.split(".")
    for pattern, rng in RANGES.items():
        pat = pattern.split(".")
        if len(pat) == len(parts) and all(p == "*" or p == q for p, q in zip(pat, parts)):
            return rng
    return None


def _check_ranges(node, dotted: str, label: str) -> None:
    """Every numeric value (and every number in a list) within its :data:`RANGES` entry."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_ranges(value, f"{dotted}.{key}" if dotted else str(key), label)
        return
    if isinstance(node, list):
        for value in node:
            if _is_number(value):
                _check_value(value, f"{dotted}.*", label, shown=node)
            elif isinstance(value, dict):  # an array of tables ([[bonus.tiers]]), named #1, #2 ...
                number = node.index(value) + 1
                for key, item in value.items():
                    if _is_number(item) and _range_of(f"{dotted}.*.{key}") is not None:
                        _check_value(item, f"{dotted}.*.{key}", label, shown=item,
                                     where=(f"{dotted} #{number}", key))
        return
    if _is_number(node):
        _check_value(node, dotted, label, shown=node)


def _check_value(value, dotted: str, label: str, shown, where=None) -> None:
    table, _, key = dotted.rpartition(".")
    if dotted.endswith(".*"):
        table, _, key = dotted[:-2].rpartition(".")
    if where is not None:
        table, key = where
    rng = _range_of(dotted)
    if rng is None:  # a numeric key this module does not know: the range table is incomplete
        raise PolicyError(f"{label}: {_where(table, key)} = {shown!r}: no allowed range is known for "
                          "this key")
    lo, hi, integer = rng
    if not math.isfinite(value) and not value == hi == math.inf:
        _fail(label, table, key, shown, "must be a finite number")
    if integer and value != int(value):
        _fail(label, table, key, shown, "must be a whole number")
    if value < 0 and ".weights." in dotted:
        _fail(label, table, key, shown, "weight must not be negative")
    if not lo <= value <= hi:
        _fail(label, table, key, shown, f"must be between {lo:g} and {hi:g}")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v) -> str:
    if isinstance(v, bool):
        return "true/false"
    if _is_number(v):
        return "a number"
    if isinstance(v, str):
        return "text in quotes"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _where(table: str, key: str) -> str:
    return f"[{table}] {key}" if table else key


def _merge(default: dict, user: dict, table: str, label: str) -> dict:
    """Merge ``user`` over ``default``; refuse unknown keys and wrong types."""
    out = copy.deepcopy(default)
    for key, value in user.items():
        dotted = f"{table}.{key}" if table else key
        if key not in default:
            allowed = ", ".join(default) or "(none)"
            raise PolicyError(f"{label}: {_where(table, key)}: unknown key; allowed here: {allowed}")
        base = default[key]
        if isinstance(base, dict):
            if not isinstance(value, dict):
                raise PolicyError(f"{label}: {_where(table, key)} = {value!r}: must be a table [{dotted}]")
            if dotted in REPLACED_TABLES:
                out[key] = copy.deepcopy(value)
            else:
                out[key] = _merge(base, value, dotted, label)
            continue
        if isinstance(base, list) and base and isinstance(base[0], dict):
            # an array of tables ([[bonus.tiers]]): the user's list replaces the defaults
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise PolicyError(f"{label}: {_where(table, key)} = {value!r}: must be a list of tables "
                                  f"([[{dotted}]] blocks)")
            out[key] = copy.deepcopy(value)
            continue
        if _is_number(base):
            ok = _is_number(value)
        else:
            ok = isinstance(value, type(base)) and isinstance(value, bool) == isinstance(base, bool)
        if not ok:
            rule = "must be a number" if _is_number(base) else f"must be {_kind(base)}"
            raise PolicyError(f"{label}: {_where(table, key)} = {value!r}: {rule}")
        if isinstance(base, list):
            if base and _is_number(base[0]):
                if not all(_is_number(v) for v in value):
                    raise PolicyError(f"{label}: {_where(table, key)} = {value!r}: must be a list of numbers")
            elif not all(isinstance(v, str) for v in value):
                raise PolicyError(f"{label}: {_where(table, key)} = {value!r}: must be a list of text in quotes")
        out[key] = copy.deepcopy(value)
    return out


def _get(policy: dict, dotted: str) -> dict:
    node = policy
    for part in dotted.split("."):
        node = node[part]
    return node


def _fail(label: str, table: str, key: str, value, rule: str):
    raise PolicyError(f"{label}: {_where(table, key)} = {value!r}: {rule}")


def _check_weights(policy: dict, label: str) -> None:
    for table in WEIGHT_TABLES:
        weights = _get(policy, table)
        for key, value in weights.items():
            if not _is_number(value) or not math.isfinite(value):
                _fail(label, table, key, value, "weight must be a number")
            if value < 0:
                _fail(label, table, key, value, "weight must not be negative")
            lo, hi, _ = _range_of(f"{table}.{key}") or (0, math.inf, False)
            if value > hi:
                _fail(label, table, key, value, f"must be between {lo:g} and {hi:g}")
        total = float(sum(weights.values()))
        if total <= 0:
            raise PolicyError(f"{label}: [{table}]: weights sum to 0; give at least one a positive weight")
        if abs(total - 1) > 1e-9:
            for key in weights:
                weights[key] = float(weights[key]) / total
        else:
            for key in weights:
                weights[key] = float(weights[key])


def _check_range(label, table, key, value, lo=None, hi=None, integer=False):
    if integer and (not isinstance(value, int) or isinstance(value, bool)):
        _fail(label, table, key, value, "must be a whole number")
    if not _is_number(value):
        _fail(label, table, key, value, "must be a number")
    if not math.isfinite(value):
        _fail(label, table, key, value, "must be a finite number")
    if lo is not None and value < lo:
        _fail(label, table, key, value, f"must be >= {lo:g}")
    if hi is not None and value > hi:
        _fail(label, table, key, value, f"must be <= {hi:g}")


def _check_rules(policy: dict, label: str) -> None:
    kpi = policy["kpi"]
    if not kpi["roles"]:
        _fail(label, "kpi", "roles", kpi["roles"], "list at least one role")
    for role in kpi["roles"]:
        if role not in ROLES:
            _fail(label, "kpi", "roles", kpi["roles"], f"'{role}' is not one of {'|'.join(ROLES)}")
    if kpi["scope"] not in ("centre", "team"):
        _fail(label, "kpi", "scope", kpi["scope"], "must be centre or team")
    for dim in ("sales", "development"):
        if kpi[dim]["scale"] not in SCALES:
            _fail(label, f"kpi.{dim}", "scale", kpi[dim]["scale"], f"must be one of {'|'.join(SCALES)}")
    sat = kpi["satisfaction"]
    if sat["scale"] not in ("absolute",) + SCALES:
        _fail(label, "kpi.satisfaction", "scale", sat["scale"], "must be one of absolute|percentile|minmax")
    _check_range(label, "kpi.satisfaction", "prior_feedback", sat["prior_feedback"], lo=0)
    _check_range(label, "kpi.satisfaction", "resolve_within_days", sat["resolve_within_days"], lo=0)
    skills = kpi["skills"]["skills"]
    if not skills:
        _fail(label, "kpi.skills", "skills", skills, "list at least one skill")
    for s in skills:
        if s not in SKILLS:
            _fail(label, "kpi.skills", "skills", skills, f"'{s}' is not one of {'|'.join(SKILLS)}")

    grades = policy["grades"]
    if not grades:
        raise PolicyError(f"{label}: [grades]: list at least one grade band, e.g. A = 80.0 and D = 0.0")
    for name, lo in grades.items():
        _check_range(label, "grades", name, lo, lo=0, hi=100)
    if min(grades.values()) != 0:
        raise PolicyError(f"{label}: [grades]: the lowest band must start at 0 so every total gets a grade")
    if len(set(grades.values())) != len(grades):
        raise PolicyError(f"{label}: [grades]: two bands share the same minimum {grades}")
    # keep bands best first
    policy["grades"] = {k: float(v) for k, v in sorted(grades.items(), key=lambda kv: -kv[1])}

    awards = policy["awards"]
    _check_range(label, "awards", "min_calls_per_month", awards["min_calls_per_month"], lo=0)
    _check_range(label, "awards", "max_open_complaints", awards["max_open_complaints"], lo=0)
    if awards["min_grade"] not in grades:
        _fail(label, "awards", "min_grade", awards["min_grade"], f"must be one of the grades {'|'.join(grades)}")
    for step, rules in policy["promotion"].items():
        table = f"promotion.{step}"
        _check_range(label, table, "min_tenure_months", rules["min_tenure_months"], lo=0)
        _check_range(label, table, "grade_streak", rules["grade_streak"], lo=1, integer=True)
        _check_range(label, table, "min_skill", rules["min_skill"], lo=0, hi=100)
        if rules["min_grade"] not in grades:
            _fail(label, table, "min_grade", rules["min_grade"], f"must be one of the grades {'|'.join(grades)}")

    sk = policy["skills"]
    _check_range(label, "skills", "lookback_months", sk["lookback_months"], lo=1, integer=True)
    _check_range(label, "skills", "half_life_days", sk["half_life_days"], lo=1)
    _check_range(label, "skills", "max_call_weight", sk["max_call_weight"], lo=0)
    cal = policy["calibration"]
    _check_range(label, "calibration", "lookback_months", cal["lookback_months"], lo=1, integer=True)
    _check_range(label, "calibration", "drift_z", cal["drift_z"], lo=0)
    _check_range(label, "calibration", "min_drift", cal["min_drift"], lo=0)
    _check_range(label, "calibration", "alpha", cal["alpha"], lo=1e-9, hi=1)
    _check_range(label, "calibration", "min_shared", cal["min_shared"], lo=2, integer=True)

    cu = policy["customers"]
    _check_range(label, "customers", "lookback_months", cu["lookback_months"], lo=1, integer=True)
    _check_range(label, "customers", "a_min_score", cu["a_min_score"], lo=0, hi=100)
    _check_range(label, "customers", "b_min_score", cu["b_min_score"], lo=0, hi=100)
    _check_range(label, "customers", "potential_prior_calls", cu["potential_prior_calls"], lo=0)
    if cu["b_min_score"] > cu["a_min_score"]:
        _fail(label, "customers", "b_min_score", cu["b_min_score"],
              f"must not exceed a_min_score = {cu['a_min_score']!r}")
    care = policy["care"]
    _check_range(label, "care", "horizon_days", care["horizon_days"], lo=0, hi=366)
    _check_range(label, "care", "lapsed_a_months", care["lapsed_a_months"], lo=1, integer=True)
    for cls in CUSTOMER_CLASSES:
        _check_range(label, "care.revisit_days", cls, care["revisit_days"][cls], lo=1)
    _check_ranking(policy["ranking"], label)


#: Multiplicity corrections of the script ranking (the keys of analysis.inference.PADJUST).
RANKING_PADJUST = ("holm", "bh")


def _check_open(label, table, key, value, lo: float, hi: float):
    """A number strictly between ``lo`` and ``hi``."""
    _check_range(label, table, key, value)
    if not lo < value < hi:
        _fail(label, table, key, value, f"must be strictly between {lo:g} and {hi:g}")


def _check_ranking(rk: dict, label: str) -> None:
    _check_range(label, "ranking", "min_connected", rk["min_connected"], lo=1, integer=True)
    _check_range(label, "ranking", "min_reps", rk["min_reps"], lo=1, integer=True)
    _check_open(label, "ranking", "min_prob_best", rk["min_prob_best"], 0, 1)
    _check_open(label, "ranking", "alpha", rk["alpha"], 0, 1)
    if rk["padjust"] not in RANKING_PADJUST:
        _fail(label, "ranking", "padjust", rk["padjust"], f"must be one of {'|'.join(RANKING_PADJUST)}")
    _check_range(label, "ranking", "n_draws", rk["n_draws"], lo=100, integer=True)
    _check_range(label, "ranking", "floor", rk["floor"], lo=0)
    if not rk["floor"] < 1:
        _fail(label, "ranking", "floor", rk["floor"], "must be >= 0 and < 1")


_TIER_KEYS = ("from", "to", "multiplier", "accelerator")


def _check_targets_bonus(policy: dict, label: str) -> None:
    """[targets], [bonus] and [collections]; tiers are refused when unsorted, overlapping,
    leaving gaps or negative, naming the tier and the rule."""
    tg = policy["targets"]
    if tg["split"] not in ("last_quarter", "equal"):
        _fail(label, "targets", "split", tg["split"], "must be last_quarter or equal")
    for role in tg["split_roles"]:
        if role not in ROLES:
            _fail(label, "targets", "split_roles", tg["split_roles"], f"'{role}' is not one of {'|'.join(ROLES)}")
    if not tg["split_roles"]:
        _fail(label, "targets", "split_roles", tg["split_roles"], "list at least one role")
    _check_range(label, "targets", "history_months", tg["history_months"], lo=1, hi=24, integer=True)
    _check_range(label, "targets", "level", tg["level"], lo=0.5, hi=0.99)

    bonus = policy["bonus"]
    if bonus["metric"] not in TARGET_METRICS:
        _fail(label, "bonus", "metric", bonus["metric"], f"must be one of {'|'.join(TARGET_METRICS)}")
    _check_range(label, "bonus", "threshold", bonus["threshold"], lo=0)
    _check_range(label, "bonus", "cap", bonus["cap"], lo=0)
    _check_range(label, "bonus", "max_unresolved_complaints", bonus["max_unresolved_complaints"], lo=0,
                 integer=True)
    if bonus["min_grade"] not in policy["grades"]:
        _fail(label, "bonus", "min_grade", bonus["min_grade"], f"must be one of the grades {'|'.join(policy['grades'])}")
    for role, amount in bonus["base"].items():
        _check_range(label, "bonus.base", role, amount, lo=0)
    tiers = bonus["tiers"]
    if not tiers:
        raise PolicyError(f"{label}: [[bonus.tiers]]: list at least one tier")
    clean = []
    for i, tier in enumerate(tiers, start=1):
        where = f"bonus.tiers #{i}"
        unknown = [k for k in tier if k not in _TIER_KEYS]
        if unknown:
            _fail(label, where, unknown[0], tier[unknown[0]], f"unknown key; allowed here: {', '.join(_TIER_KEYS)}")
        for key in ("from", "multiplier"):
            if key not in tier:
                raise PolicyError(f"{label}: [{where}]: '{key}' is missing")
        if "to" not in tier and i < len(tiers):
            raise PolicyError(f"{label}: [{where}]: 'to' is missing; only the last tier may leave it out")
        for key in _TIER_KEYS:
            if key in tier and not (key == "to" and tier[key] == math.inf):  # inf: open-ended
                _check_range(label, where, key, tier[key])
                if tier[key] < 0:
                    _fail(label, where, key, tier[key], "must not be negative")
        t = {"from": float(tier["from"]), "to": float(tier["to"]) if "to" in tier else math.inf,
             "multiplier": float(tier["multiplier"]), "accelerator": float(tier.get("accelerator", 0.0))}
        if t["to"] <= t["from"]:
            _fail(label, where, "to", tier["to"], f"must be above from = {tier['from']!r}")
        if clean:
            prev = clean[-1]
            if t["from"] < prev["from"]:
                _fail(label, where, "from", tier["from"],
                      f"tiers must be sorted by 'from'; the tier before starts at {prev['from']:g}")
            if t["from"] < prev["to"]:
                _fail(label, where, "from", tier["from"],
                      f"overlaps the tier before, which runs to {prev['to']:g}")
            if t["from"] > prev["to"]:
                _fail(label, where, "from", tier["from"],
                      f"leaves a gap: the tier before ends at {prev['to']:g}")
        clean.append(t)
    bonus["tiers"] = clean

    col = policy["collections"]
    _check_range(label, "collections", "days", col["days"], lo=0, integer=True)
    _check_range(label, "collections", "escalate_days", col["escalate_days"], lo=0, integer=True)
    if col["escalate_days"] < col["days"]:
        _fail(label, "collections", "escalate_days", col["escalate_days"], f"must be >= days = {col['days']!r}")


def _build(user: dict, label: str) -> dict:
    defaults = _read_toml(default_policy_path(), default_label("policy.toml"))
    try:
        policy = _merge(defaults, user, "", label)
    except RecursionError:
        raise PolicyError(f"{label}: tables nested too deeply to be a policy") from None
    _check_weights(policy, label)
    _check_rules(policy, label)
    _check_targets_bonus(policy, label)
    # last: the checks above give their own messages for their rules; the ranges catch the rest
    _check_ranges(policy, "", label)
    return policy


def load_policy(path: str | os.PathLike | None = None) -> dict:
    """Load the shipped defaults, merged with a user's policy file.

    Parameters
    ----------
    path : path, optional
        A TOML policy file; its keys override the defaults one by one (``[grades]`` is
        replaced as a whole). None gives the defaults.

    Returns
    -------
    dict
        The full policy as nested dicts, every weight group normalised to sum to 1 and
        ``grades`` ordered best band first.

    Raises
    ------
    PolicyError
        Naming the file, the key and the rule: an unknown key, a value of the wrong type,
        a negative or non-numeric weight, a threshold out of range.
    """
    files = [default_policy_path()] + ([Path(path)] if path is not None else [])
    try:  # the same files, unchanged (name, size, modification time): the policy built before
        key = tuple((str(f.resolve()), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return copy.deepcopy(_LOADED[key])
    if path is None:
        policy = _build({}, default_label("policy.toml"))
    else:
        path = Path(path)
        policy = _build(_read_toml(path, str(path)), str(path))
    if key is not None:
        if len(_LOADED) >= 8:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = copy.deepcopy(policy)
    return policy


#: Policies built from files, by the files' names, sizes and modification times: a notebook asks
#: for the policy in many places (4 ms each to read, merge and check).
_LOADED: dict = {}


def resolve_policy(policy: dict | str | os.PathLike | None) -> dict:
    """Turn a function's ``policy`` argument into a full policy.

    None gives the defaults (or the file named by the environment variable
    ``TELESALES_POLICY``, which ``telesales-lab report --policy FILE`` sets for the report's
    notebooks), a path is loaded with :func:`load_policy`, and a dict (a
    full policy or just the keys to change, e.g. ``{"kpi": {"weights": {"sales": 1}}}``)
    is merged over the defaults with the same checks.
    """
    if policy is None:
        return load_policy(os.environ.get(POLICY_ENV) or None)
    if isinstance(policy, (str, os.PathLike)):
        return load_policy(policy)
    if isinstance(policy, dict):
        return _build(policy, "policy")
    raise PolicyError(f"policy == {type(policy).__name__}, must be a path to a TOML file, a dict or None")


def grade_of(totals, grades: dict):
    """Grade band of each total (``grades`` best first, as returned by :func:`load_policy`)."""
    import numpy as np
    import pandas as pd

    totals = pd.Series(totals, dtype="float64")
    names = list(grades)
    mins = np.array([grades[n] for n in names], dtype=float)
    # first band (best first) whose minimum is reached; small tolerance for float sums
    reached = totals.to_numpy()[:, None] >= mins[None, :] - 1e-9
    idx = reached.argmax(axis=1)
    out = pd.Series(np.asarray(names, dtype=object)[idx], index=totals.index, dtype="string")
    return out.mask(totals.isna())


def grade_at_least(grades_seen, min_grade: str, grades: dict):
    """Whether each grade is ``min_grade`` or better (missing grades are not)."""
    import pandas as pd

    rank = {name: i for i, name in enumerate(grades)}
    pos = pd.Series(grades_seen).map(rank)
    return pos.le(rank[min_grade]).fillna(False).astype(bool)
