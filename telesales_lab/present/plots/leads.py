"""Charts of the leads page: cumulative lift, calibration, score distribution, what drives the score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.labels import check_lang, t
from telesales_lab.present.plots.base import figure, figure_row, require


def lift_chart(curves: pd.DataFrame, lang: str = "en"):
    """Share of sales reached against share of calls made, one line per scorer, random dashed.

    ``curves`` from :func:`telesales_lab.analysis.leads_eval.gains_curves`.
    """
    check_lang(lang)
    require(curves, ("scorer", "share_of_calls", "share_of_sales"), "lift")
    fig, ax = figure(6.5, 4.5)
    for scorer, part in curves.groupby("scorer", sort=False):
        ax.plot(part["share_of_calls"], part["share_of_sales"], label=t(scorer, lang, "leads_eval"))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label=t("random_order", lang, "leads_eval"))
    ax.axvline(0.5, color="lightgrey", linewidth=0.8)
    ax.set_xlabel(t("share_of_calls", lang, "leads_eval"))
    ax.set_ylabel(t("share_of_sales", lang, "leads_eval"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def calibration_chart(table: pd.DataFrame, lang: str = "en"):
    """Observed conversion (95 % interval) against the mean score per group; the diagonal is perfect.

    ``table`` from :func:`telesales_lab.analysis.leads_eval.calibration_bins`.
    """
    check_lang(lang)
    require(table, ("mean_score", "observed_rate", "ci_low", "ci_high"), "calibration")
    fig, ax = figure(5.5, 4.5)
    x, y = table["mean_score"].to_numpy(float), table["observed_rate"].to_numpy(float)
    err = np.clip(np.vstack([y - table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float) - y]), 0, None)
    ax.errorbar(x, y, yerr=err, fmt="o", capsize=3)
    top = float(max(np.nanmax(table["ci_high"]), np.nanmax(x), 0.05)) * 1.05
    ax.plot([0, top], [0, top], linestyle="--", color="grey")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(t("mean_score", lang, "leads_eval"))
    ax.set_ylabel(t("observed_rate", lang, "leads_eval"))
    return fig


def score_distribution_chart(leads: pd.DataFrame, groups: dict[str, pd.Series], lang: str = "en"):
    """Box plots of the score by each grouping (e.g. source and customer class), side by side.

    ``groups`` maps a column name to a Series indexed by customer_id.
    """
    check_lang(lang)
    require(leads, ("customer_id", "score"), "score distribution")
    fig, axes = figure_row(max(len(groups), 1), 6.0 * max(len(groups), 1), 4.5)
    for ax, (name, values) in zip(axes, groups.items()):
        key = leads["customer_id"].map(values).astype("string").fillna("?")
        data = pd.DataFrame({"key": key, "score": leads["score"]}).dropna(subset=["score"])
        order = sorted(data["key"].unique())
        ax.boxplot([data.loc[data["key"] == k, "score"].to_numpy() for k in order],
                   tick_labels=[t(k, lang) for k in order], showfliers=False)
        ax.set_title(t(name, lang, "leads"))
        ax.set_ylabel(t("score", lang, "leads"))
        ax.tick_params(axis="x", labelrotation=45)
    return fig


def importance_chart(table: pd.DataFrame, lang: str = "en", top: int = 12):
    """Drop in AUC when each feature is shuffled (permutation importance), largest first."""
    check_lang(lang)
    require(table, ("feature", "importance_mean", "importance_sd"), "importance")
    part = table.head(top).iloc[::-1]
    fig, ax = figure(7.0, 0.35 * len(part) + 1.5)
    ax.barh([t(f, lang, "leads") for f in part["feature"]], part["importance_mean"],
            xerr=part["importance_sd"], capsize=2)
    ax.set_xlabel(t("importance", lang, "leads_eval"))
    return fig
