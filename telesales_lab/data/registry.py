"""The experiment registry: ``experiments.toml``, kept beside the policy, read and checked.

Each ``[[experiment]]`` table is one planned script experiment;
:func:`load_registry` checks every key and reports every problem at once (file, experiment,
key, rule), so a typo never silently changes a test. The analysis is in
:mod:`telesales_lab.analysis.experiments`.

.. code-block:: toml

    version = 1

    [[experiment]]
    id = "EXP-RN-LOYALTY"               # letters, digits, - _ . ; unique
    hypothesis = "The loyalty offer renews more customers"
    # hypothesis_zh = "老客户专享优惠能续约更多客户"   # optional: shown on Chinese pages
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

"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from telesales_lab.exceptions import RegistryError

__all__ = ["Experiment", "load_registry", "example_registry_path", "METRICS", "ASSIGNMENTS", "CLASSES"]

METRICS = ("sale_rate", "revenue_per_call")
ASSIGNMENTS = ("rep_blocked", "customer")
CLASSES = ("A", "B", "C")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_KEYS = ("id", "hypothesis", "hypothesis_zh", "scenario", "customer_classes", "variants", "control", "start",
         "planned_end", "metric", "mde", "margin", "alpha", "power", "assignment", "shares", "min_connected")
_REQUIRED = ("id", "hypothesis", "scenario", "variants", "control", "start", "planned_end", "metric", "mde")


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
    hypothesis_zh: str | None = None
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
    for key in ("id", "hypothesis", "hypothesis_zh", "scenario"):
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
                      min_connected=int(min_conn), hypothesis_zh=text.get("hypothesis_zh"), source=label), []
