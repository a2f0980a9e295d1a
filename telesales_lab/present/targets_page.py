"""The targets page for people: the answer first, tables formatted, words in the page's language.

The analyses (:mod:`telesales_lab.analysis.targets`, :mod:`~telesales_lab.analysis.bonus`,
:mod:`~telesales_lab.analysis.payments`) return raw numbers; here they become a sentence and
tables through :func:`telesales_lab.present.tables.style` (percentages, thousands separators,
translated statuses and headers, no index).
The same frames go to the workbook unformatted.
"""

from __future__ import annotations

import pandas as pd

from telesales_lab import labels
from telesales_lab.present import tables

_PERCENT = ("attainment", "next_tier_attainment")
_MONEY = ("target", "actual", "forecast", "forecast_low", "forecast_high", "base", "bonus", "amount",
          "gap_to_next_tier", "gap_money", "average_order", "next_tier_bonus", "uncapped_bonus")
#: In a long table (one row per metric) these follow the row's metric: money or a count.
_PER_METRIC = ("target", "actual", "forecast", "forecast_low", "forecast_high")


def answer(frame: pd.DataFrame, metric: str, lang: str = "en") -> str:
    """One sentence: how many reps are at risk of missing the ``metric`` target, which teams.

    Parameters
    ----------
    frame : DataFrame
        :func:`telesales_lab.analysis.targets.targets_detail` of the month. Cut at the
        month's last day, the sentence says who met and who missed the target.
    """
    labels.check_lang(lang)
    f = frame[frame["metric"] == metric]
    reps, teams = f[f["rep_id"].notna()], f[f["rep_id"].isna()]
    risky = sorted(teams.loc[teams["status"] == "at_risk", "team"].astype(str))
    as_of = pd.Timestamp(frame["as_of"].iloc[0]) if "as_of" in frame and len(frame) else None
    final = as_of is not None and as_of.day == as_of.days_in_month  # the month is over: met or missed
    return labels.t("targets.answer_final" if final else "targets.answer", lang).format(
        metric=labels.t(metric, lang, "targets"), n=len(reps), at_risk=int((reps["status"] == "at_risk").sum()),
        ahead=int((reps["status"] == "ahead").sum()),
        teams=("、" if lang == "zh" else ", ").join(risky) if risky else labels.t("targets.no_team", lang))


def styled(frame: pd.DataFrame, lang: str = "en", reps: pd.DataFrame | None = None):
    """A targets, bonus or collections frame for display (through :func:`tables.style`):
    percentages, money with thousands separators, targets of the ``sales`` metric as counts,
    statuses, metrics and gates in the page's language, rep names beside ids; a value that does
    not apply (no next tier) shows as "–", a forecast without evidence says so."""
    labels.check_lang(lang)
    f = frame
    if "gates_failed" in f:
        from telesales_lab.analysis.bonus import translate_gates

        f = f.assign(gates_failed=translate_gates(f["gates_failed"], lang))
    per_metric = set(_PER_METRIC) if "metric" in f else set()  # revenue as money, sales as counts
    kinds = {c: "rate" for c in _PERCENT if c in f}
    kinds.update({c: "money" for c in _MONEY if c in f and c not in per_metric})
    if "multiplier" in f:
        kinds["multiplier"] = "small"
    return tables.style(f, lang, context="targets", top=None, reps=reps, kinds=kinds,
                        not_applicable=[c for c in f.columns if not c.startswith("forecast")])
