"""Simulated script experiments: the error rates and speed of the daily-watched decision rule.

Each simulated experiment is a floor of reps with different sale rates, each making a
Poisson number of connected calls a day, a share of them with the new script. Many
experiments are drawn at once as arrays ``(experiments, days, reps, 2)`` and summed
cumulatively over days, then analysed exactly as :func:`telesales_lab.analysis.experiments.monitor_experiments`
analyses real data (Mantel-Haenszel difference blocked by rep, the normal-mixture confidence
sequence, :func:`telesales_lab.analysis.experiments.decision_rule`). Beside it, for comparison:

* the **naive daily check** a trainer would do: the same rep-blocked estimate with an ordinary
  fixed-horizon 95% interval, looked at every day, stopping at the first day it excludes 0;
* the **raw daily check**: the unblocked two-proportion z test on the pooled rates, daily;
* the **fixed-horizon test**: the rep-blocked estimate and its ordinary interval, looked at
  once, on the last planned day.

Used by ``tests/analysis/test_experiment_simulation.py`` (small, seeded) and
``benchmarks/experiments_sim.py`` (larger; its table is in ``docs/experiments.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from telesales_lab.analysis.experiments import decision_rule
from telesales_lab.analysis.sequential import confidence_sequence, information_for, mh_risk_difference

__all__ = ["Scenario", "simulate", "summarise", "SCENARIOS", "simulation_table"]


@dataclass(frozen=True)
class Scenario:
    """One simulated situation.

    ``effect`` is the true difference of sale rates (new - control) for every rep;
    ``confounding`` makes reps with a higher base rate use the new script more (their
    share of new-script calls is ``expit(confounding * z_rep)``, z the rep's standardised
    base rate); ``margin`` makes it a non-inferiority experiment.
    """

    name: str
    effect: float
    mde: float = 0.03
    margin: float | None = None
    confounding: float = 0.0
    days: int = 30
    planned_days: int = 30


def _draw(rng, sc: Scenario, n: int, reps: int, calls_per_rep_day: float):
    base = rng.uniform(0.10, 0.35, (n, reps))
    z = (base - base.mean(1, keepdims=True)) / base.std(1, keepdims=True)
    share = 1 / (1 + np.exp(-sc.confounding * z))  # 0.5 without confounding
    volume = rng.poisson(calls_per_rep_day, (n, sc.days, reps))
    n_new = rng.binomial(volume, share[:, None, :])
    n_ctl = volume - n_new
    p_new = np.clip(base + sc.effect, 0.0, 1.0)
    y_ctl = rng.binomial(n_ctl, base[:, None, :])
    y_new = rng.binomial(n_new, p_new[:, None, :])
    return [np.cumsum(a, axis=1) for a in (n_ctl, y_ctl, n_new, y_new)]


def simulate(sc: Scenario, n: int = 400, reps: int = 20, calls_per_rep_day: float = 10.0, alpha: float = 0.05,
             power: float = 0.8, min_connected: int = 100, random_state: int = 0) -> pd.DataFrame:
    """Simulate ``n`` experiments of scenario ``sc`` and decide each day.

    Returns
    -------
    DataFrame
        One row per simulated experiment: ``decision`` and ``day`` (1-based day of the
        decision; NaN if it continued to the end) of the always-valid rule; ``winner``
        ("new", "control" or empty) for ``stop_winner``; ``naive_day``/``naive_winner`` of
        the naive daily check (rep-blocked estimate, fixed 95% interval, every day);
        ``raw_day``/``raw_winner`` of the unblocked daily z test; ``fixed_winner`` of the
        fixed-horizon test on ``planned_days`` (empty when not significant).
    """
    rng = np.random.default_rng(random_state)
    n_ctl, y_ctl, n_new, y_new = _draw(rng, sc, n, reps, calls_per_rep_day)
    est, var, _ = mh_risk_difference(n_ctl, y_ctl, n_new, y_new)  # (n, days)
    ready = np.minimum(n_ctl.sum(-1), n_new.sum(-1)) >= min_connected
    start = np.where(ready.any(1), ready.argmax(1), sc.days)
    v_opt = information_for(sc.mde, alpha, power)
    lo, hi, _ = confidence_sequence(est, var, alpha, v_opt, start=start)
    rule = decision_rule(lo, hi, sc.mde, sc.margin)
    stopped = rule != "continue"
    first = np.where(stopped.any(1), stopped.argmax(1), -1)
    rows = np.arange(n)
    decision = np.where(first >= 0, rule[rows, np.maximum(first, 0)], "continue")
    at = np.maximum(first, 0)
    winner = np.where(decision == "stop_winner", np.where(lo[rows, at] > 0, "new", "control"), "")

    z = ndtri(1 - alpha / 2)
    se = np.sqrt(var)
    t = np.arange(sc.days)
    live = t[None, :] >= start[:, None]
    with np.errstate(invalid="ignore"):
        n_sig = live & (np.abs(est) > z * se)
        pa, pb = y_ctl.sum(-1) / n_ctl.sum(-1), y_new.sum(-1) / n_new.sum(-1)
        pool = (y_ctl.sum(-1) + y_new.sum(-1)) / (n_ctl.sum(-1) + n_new.sum(-1))
        raw_z = (pb - pa) / np.sqrt(pool * (1 - pool) * (1 / n_ctl.sum(-1) + 1 / n_new.sum(-1)))
        r_sig = live & (np.abs(raw_z) > z)

    def first_hit(sig, sign):
        hit = sig.any(1)
        day = sig.argmax(1)
        who = np.where(hit, np.where(sign[rows, day] > 0, "new", "control"), "")
        return np.where(hit, day + 1.0, np.nan), who

    naive_day, naive_winner = first_hit(n_sig, est)
    raw_day, raw_winner = first_hit(r_sig, raw_z)
    last = min(sc.planned_days, sc.days) - 1
    f_sig = np.abs(est[:, last]) > z * se[:, last]
    fixed_winner = np.where(f_sig, np.where(est[:, last] > 0, "new", "control"), "")
    return pd.DataFrame({
        "decision": decision, "day": np.where(first >= 0, first + 1.0, np.nan), "winner": winner,
        "naive_day": naive_day, "naive_winner": naive_winner, "raw_day": raw_day, "raw_winner": raw_winner,
        "fixed_winner": fixed_winner,
    })


def summarise(sc: Scenario, sims: pd.DataFrame) -> dict:
    """The rates a reader wants from :func:`simulate`'s rows.

    Returns
    -------
    dict
        ``scenario``, ``effect``, ``n``; ``false_winner`` (share stopping with a winner when
        the true effect is 0, or with the worse script as winner), ``right_winner`` (share
        stopping with the truly better script), ``non_inferior`` and ``inferior`` shares,
        ``no_difference`` share, ``median_day`` (median day of a decision among those
        decided; NaN if none), ``continuing``; ``naive_false_winner`` and
        ``raw_false_winner`` (same, for the naive and raw daily checks), ``naive_right_winner``,
        ``fixed_right_winner`` and ``fixed_false_winner`` (the one-look test on the planned day).
    """
    truth = "new" if sc.effect > 0 else "control" if sc.effect < 0 else None
    n = len(sims)

    def share(mask):
        return float(np.mean(mask)) if n else np.nan

    def wrong(col):
        w = sims[col]
        return share(w != "") if truth is None else share((w != "") & (w != truth))

    decided = sims["day"].dropna()
    return {
        "scenario": sc.name, "effect": sc.effect, "n": n,
        "false_winner": wrong("winner"),
        "right_winner": share(sims["winner"] == truth) if truth else np.nan,
        "non_inferior": share(sims["decision"] == "non_inferior"),
        "inferior": share(sims["decision"] == "inferior"),
        "no_difference": share(sims["decision"] == "stop_no_difference"),
        "continuing": share(sims["decision"] == "continue"),
        "median_day": float(decided.median()) if len(decided) else np.nan,
        "naive_false_winner": wrong("naive_winner"),
        "raw_false_winner": wrong("raw_winner"),
        "naive_right_winner": share(sims["naive_winner"] == truth) if truth else np.nan,
        "fixed_right_winner": share(sims["fixed_winner"] == truth) if truth else np.nan,
        "fixed_false_winner": wrong("fixed_winner"),
    }


#: The situations of the table in docs/experiments.md: 20 reps, 10 connected calls a rep a day
#: (about 100 per arm a day), base rates 10-35% by rep, minimum detectable effect 3 points
#: (80% power for the one-look test after 30 days).
SCENARIOS = (
    Scenario("null, daily looks for 30 days", effect=0.0),
    Scenario("effect = mde (+3 points), up to 60 days", effect=0.03, days=60),
    Scenario("effect = 2 x mde (+6 points), 30 days", effect=0.06),
    Scenario("non-inferior: 1 point worse, margin 4, up to 60 days", effect=-0.01, margin=0.04, days=60),
    Scenario("at the margin: 4 points worse, margin 4, 60 days", effect=-0.04, margin=0.04, days=60),
    Scenario("worse than the margin: 7 points worse, margin 4, 60 days", effect=-0.07, margin=0.04, days=60),
    Scenario("confounded null: strong reps use the new script, 30 days", effect=0.0, confounding=2.0),
    Scenario("confounded, effect = mde, up to 60 days", effect=0.03, confounding=2.0, days=60),
)


def simulation_table(n: int = 400, random_state: int = 0, scenarios=SCENARIOS) -> pd.DataFrame:
    """:func:`summarise` of every scenario, one row each (seeds spawned from ``random_state``)."""
    seeds = np.random.SeedSequence(random_state).spawn(len(scenarios))
    rows = []
    for sc, seed in zip(scenarios, seeds):
        rows.append(summarise(sc, simulate(sc, n=n, random_state=int(seed.generate_state(1)[0]))))
    return pd.DataFrame(rows)
