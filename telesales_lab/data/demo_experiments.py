"""Planted script experiments for the demo data set, and their registry.

Four experiments run in the demo window (dates relative to its last month ``M``):

* ``EXP-RN-LOYALTY`` — renewal, ``RN-A`` (control) against ``RN-B`` from the first day of
  ``M - 2``; the demo already splits renewal calls 50/50 per call and ``RN-B`` sells better
  (+0.5 log-odds), so the planted decision is ``stop_winner`` with ``RN-B`` the winner.
* ``EXP-FU-TRIAL`` — follow-up, ``FU-B`` against ``FU-C`` over the whole window; equal true
  effects, so the planted decision is ``stop_no_difference`` (minimum detectable effect 5 points).
* ``EXP-FU-SHORT`` — follow-up, ``FU-A`` against a new short script ``FU-S`` from the start
  of the window to the end of ``M - 1``: a fair coin per call moves half of ``FU-A``'s calls
  in those months to ``FU-S``. The short script sells exactly as well (same true effect), so
  with a margin of 5 points the planted decision is ``non_inferior``. The last month is left
  as it was (three follow-up scripts).
* ``EXP-UP-OFFER`` — upsell, ``UP-B`` against ``UP-A`` from the first day of ``M``; still
  running at the end of the window (``continue``) in the default demo (60,000 calls): one
  month is too little for its 5-point minimum detectable effect, although ``UP-A`` is truly
  better. With many more calls a month (the 1M-call benchmark set) it stops within ``M`` with
  ``UP-A`` the winner.

The decisions in the truth are those the default demo reaches; the winners and "no winner"
facts hold at every size.

Moving calls between variants with equal true effects changes no outcome: only the
``script_id`` (and the script line quoted in the transcript) of the moved calls changes, so
every other planted fact of the demo is untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHORT_SCRIPT = ("FU-S", "follow_up", "简短回访", "您好，我是星辰科技的客户顾问，上次的资料您看了吗？有问题随时找我。",
                0.0, "上次的资料您看了吗？")
_MOVED_FROM = "FU-A"
_FROM_LINE = "上次给您发的产品资料您看过了吗？"

_REGISTRY = """\
# Script experiments of the demo data set (telesales-lab experiments DATA --registry FILE).
# Every key is described in docs/experiments.md; dates are YYYY-MM-DD.
version = 1

[[experiment]]
id = "EXP-RN-LOYALTY"
hypothesis = "Offering loyal customers the renewal discount renews more of them than the standard reminder"
hypothesis_zh = "向老客户提供续费优惠比标准续约提醒能续约更多客户"
scenario = "renewal"
variants = ["RN-A", "RN-B"]
control = "RN-A"
start = {rn_start}
planned_end = {rn_end}
metric = "sale_rate"
mde = 0.05
alpha = 0.05
power = 0.8
assignment = "rep_blocked"

[[experiment]]
id = "EXP-FU-TRIAL"
hypothesis = "Asking about the trial account sells better on a follow-up call than answering open questions"
hypothesis_zh = "回访时询问试用情况比答复遗留问题成交更好"
scenario = "follow_up"
variants = ["FU-B", "FU-C"]
control = "FU-B"
start = {fu_start}
planned_end = {fu_end}
metric = "sale_rate"
mde = 0.05
alpha = 0.05
power = 0.8
assignment = "rep_blocked"

[[experiment]]
id = "EXP-FU-SHORT"
hypothesis = "The short follow-up script sells at most 5 points worse than the material follow-up"
hypothesis_zh = "简短回访话术的成交率最多比资料回访低5个百分点"
scenario = "follow_up"
variants = ["FU-A", "FU-S"]
control = "FU-A"
start = {fu_start}
planned_end = {short_end}
metric = "sale_rate"
mde = 0.05
margin = 0.05
alpha = 0.05
power = 0.8
assignment = "rep_blocked"

[[experiment]]
id = "EXP-UP-OFFER"
hypothesis = "The time-limited upgrade offer sells more upgrades than the feature tour"
hypothesis_zh = "限时升级优惠比功能介绍能促成更多升级"
scenario = "upsell"
variants = ["UP-B", "UP-A"]
control = "UP-B"
start = {up_start}
planned_end = {up_end}
metric = "sale_rate"
mde = 0.05
alpha = 0.05
power = 0.8
assignment = "rep_blocked"
"""


def _dates(end_month: pd.Period, months: int) -> dict:
    first = (end_month - (months - 1)).start_time.date()
    return {
        "rn_start": (end_month - 2).start_time.date(), "rn_end": (end_month + 1).end_time.date(),
        "fu_start": first, "fu_end": end_month.end_time.date(), "short_end": (end_month - 1).end_time.date(),
        "up_start": end_month.start_time.date(), "up_end": (end_month + 2).end_time.date(),
    }


def registry_text(end_month: str = "2026-10", months: int = 6) -> str:
    """The demo's ``experiments.toml`` for a window of ``months`` ending with ``end_month``."""
    d = _dates(pd.Period(end_month, freq="M"), months)
    return _REGISTRY.format(**{k: v.isoformat() for k, v in d.items()})


def plant_experiments(rng, tables: dict, end_month: str, months: int) -> tuple[dict, dict]:
    """Move half of ``FU-A``'s calls to the short script and describe the planted experiments.

    Returns the tables (calls and scripts replaced) and the truth's ``experiments`` entry:
    ``{id: {"decision", "winner", "control", "variants", "log_odds_effect"}}``.
    """
    calls = tables["calls"]
    before = (calls["started_at"] < pd.Period(end_month, freq="M").start_time.strftime("%Y-%m-%d")).to_numpy(bool)
    moved = (calls["script_id"] == _MOVED_FROM).to_numpy(bool) & (rng.random(len(calls)) < 0.5) & before
    script = calls["script_id"].to_numpy(object).copy()
    script[moved] = SHORT_SCRIPT[0]
    calls = calls.copy()
    calls["script_id"] = pd.array(script.astype(str), dtype=calls["script_id"].dtype)
    text = calls["transcript"]
    has = moved & text.notna().to_numpy(bool)
    if has.any():
        new = text.to_numpy(object).copy()
        new[has] = pd.Series(new[has], dtype=object).str.replace(_FROM_LINE, SHORT_SCRIPT[5], n=1,
                                                                  regex=False).to_numpy(object)
        calls["transcript"] = pd.array(new, dtype=text.dtype)
    scripts = tables["scripts"]
    row = pd.DataFrame([dict(zip(("script_id", "scenario", "name", "text"), SHORT_SCRIPT[:4]))])[scripts.columns]
    at = int(np.flatnonzero(scripts["script_id"].to_numpy(str) == _MOVED_FROM)[0]) + 1
    scripts = pd.concat([scripts.iloc[:at], row, scripts.iloc[at:]], ignore_index=True)
    out = dict(tables, calls=calls, scripts=scripts)
    truth = {
        "EXP-RN-LOYALTY": {"decision": "stop_winner", "winner": "RN-B", "control": "RN-A",
                           "variants": ["RN-A", "RN-B"], "log_odds_effect": 0.5},
        "EXP-FU-TRIAL": {"decision": "stop_no_difference", "winner": None, "control": "FU-B",
                         "variants": ["FU-B", "FU-C"], "log_odds_effect": 0.0},
        "EXP-FU-SHORT": {"decision": "non_inferior", "winner": None, "control": "FU-A",
                         "variants": ["FU-A", "FU-S"], "log_odds_effect": 0.0, "moved_share": 0.5},
        "EXP-UP-OFFER": {"decision": "continue", "winner": None, "control": "UP-B",
                         "variants": ["UP-B", "UP-A"], "log_odds_effect": 0.3},
    }
    return out, truth
