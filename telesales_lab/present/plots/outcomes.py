"""Plots for the notebooks and reports, in English or Chinese.

:func:`setup` makes matplotlib draw Chinese: it registers the Noto Sans CJK SC font that
the ``mplfonts`` package ships (no network, no system font) and puts it first in the
sans-serif list. Each plot helper takes the tidy frame of an analysis function plus
``lang`` and returns a :class:`matplotlib.figure.Figure` with translated titles and
labels; nothing is shown or saved here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t
from telesales_lab.present.plots.base import _key_of, _tick_labels, figure, figure_row, require


#: dials, connected, positive, sales (the rates take the last three)
_STAGE_COLORS = ["#4C72B0", "#55A868", "#DD8452", "#C44E52"]


def stage_chart(frame: pd.DataFrame, lang: str = "en"):
    """The month's funnel stages: dials, connected, positive and sales, each with its share
    of the dials.

    Parameters
    ----------
    frame : DataFrame
        From :func:`telesales_lab.analysis.outcomes.funnel_total` (or ``funnel`` by a group:
        its rows are added up).
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    from telesales_lab.analysis.outcomes import FUNNEL_COLUMNS

    check_lang(lang)
    require(frame, FUNNEL_COLUMNS, "funnel")
    fig, ax = figure(9, 3.2)
    stages = ["dials", "connected", "positive", "sales"]
    totals = frame[stages].sum().to_numpy(float)
    ax.barh(range(4), totals, color=_STAGE_COLORS)
    ax.set_yticks(range(4), [t(s, lang) for s in stages])
    ax.invert_yaxis()
    for i, v in enumerate(totals):
        share = f" ({v / totals[0]:.0%})" if totals[0] > 0 and i else ""
        ax.text(v, i, f" {v:,.0f}{share}", va="center", fontsize=9)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.set_xlabel(t("outcomes.count", lang))
    ax.margins(x=0.25)
    ax.set_title(t("outcomes.stage", lang))
    return fig


def funnel_chart(frame: pd.DataFrame, lang: str = "en", top: int = 30):
    """Contact, positive and conversion rate per group (the month's stages, the same for
    every grouping, are :func:`stage_chart`).

    Parameters
    ----------
    frame : DataFrame
        From :func:`telesales_lab.analysis.outcomes.funnel` (or ``funnel_total``: the month).
    lang : {"en", "zh"}
    top : int
        At most this many groups (the ones with most dials).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from telesales_lab.analysis.outcomes import FUNNEL_COLUMNS

    check_lang(lang)
    require(frame, FUNNEL_COLUMNS, "funnel")
    key = _key_of(frame, FUNNEL_COLUMNS)
    shown = frame.nlargest(top, "dials").sort_values(key) if key else frame
    fig, ax = figure(12, 4.2 if len(shown) > 8 else 3.6)
    labels = _tick_labels(shown[key], key, lang) if key else [str(v) for v in shown.get("month", [""] * len(shown))]
    x = np.arange(len(shown))
    width = 0.27
    for j, (col, color) in enumerate(zip(("contact_rate", "positive_rate", "conversion_rate"), _STAGE_COLORS[1:])):
        ax.bar(x + (j - 1) * width, shown[col].to_numpy(float), width, label=t(col, lang), color=color)
    ax.set_xticks(x, labels, rotation=60 if len(shown) > 8 else 0, ha="right" if len(shown) > 8 else "center")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylabel(t("outcomes.rate", lang))
    ax.set_xlabel(t(key, lang) if key else "")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    title = t(f"outcomes.funnel_{_by_of(key)}", lang) if key else t("outcomes.funnel_total", lang)
    if key and len(shown) < len(frame):  # say on the chart that it shows only the busiest groups
        title += " · " + t("chart.top_of", lang).format(n=len(shown), total=len(frame), what=t(key, lang))
    ax.set_title(title)
    return fig


def _by_of(key: str | None) -> str:
    from telesales_lab.analysis.outcomes import FUNNEL_BY

    for by, column in FUNNEL_BY.items():
        if column == key:
            return by
    return "total"


def heatmap_chart(frame: pd.DataFrame, lang: str = "en"):
    """Hour-of-day × weekday heatmaps of contact rate and conversion rate.

    Parameters
    ----------
    frame : DataFrame
        From :func:`telesales_lab.analysis.outcomes.heatmap` (columns ``hour, weekday,
        contact_rate, conversion_rate``).
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_lang(lang)
    require(frame, ("hour", "weekday", "contact_rate", "conversion_rate"), "heatmap")
    hours = np.arange(int(frame["hour"].min()), int(frame["hour"].max()) + 1) if len(frame) else np.arange(24)
    fig, axes = figure_row(2, 12, 5)
    for ax, metric, cmap in zip(axes, ("contact_rate", "conversion_rate"), ("Blues", "Greens")):
        grid = (frame.pivot_table(index="hour", columns="weekday", values=metric, aggfunc="first")
                .reindex(index=hours, columns=range(7)))
        image = ax.imshow(grid.to_numpy(float), aspect="auto", cmap=cmap, origin="upper")
        ax.set_xticks(range(7), [t(f"weekday_{d}", lang) for d in range(7)])
        ax.set_yticks(range(len(hours)), [f"{h:02d}:00" for h in hours])
        ax.set_xlabel(t("weekday", lang))
        ax.set_ylabel(t("hour", lang))
        ax.set_title(t(metric, lang))
        fig.colorbar(image, ax=ax, format=lambda v, _: f"{v:.0%}")
    fig.suptitle(t("outcomes.heatmap", lang))
    return fig


def trend_chart(frame: pd.DataFrame, lang: str = "en"):
    """Monthly trend: dials per month (bars) and the three funnel rates (lines).

    Parameters
    ----------
    frame : DataFrame
        From :func:`telesales_lab.analysis.outcomes.monthly_trend`.
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_lang(lang)
    require(frame, ("month", "dials", "contact_rate", "positive_rate", "conversion_rate"), "trend")
    fig, (ax_dials, ax_rates) = figure_row(2, 12, 4.5)
    x = np.arange(len(frame))
    months = frame["month"].astype(str).tolist()
    ax_dials.bar(x, frame["dials"].to_numpy(float), color="#4C72B0")
    ax_dials.set_xticks(x, months)
    ax_dials.set_title(t("dials", lang))
    ax_dials.set_xlabel(t("month", lang))
    for col, marker in (("contact_rate", "o"), ("positive_rate", "s"), ("conversion_rate", "^")):
        ax_rates.plot(x, frame[col].to_numpy(float), marker=marker, label=t(col, lang))
    ax_rates.set_xticks(x, months)
    ax_rates.set_ylim(0, 1)
    ax_rates.set_xlabel(t("month", lang))
    ax_rates.set_ylabel(t("outcomes.rate", lang))
    ax_rates.legend(fontsize=8)
    fig.suptitle(t("outcomes.trend", lang))
    return fig


def objection_chart(frame: pd.DataFrame, lang: str = "en"):
    """Objection mix: share of each objection type and how often the call still went well.

    Parameters
    ----------
    frame : DataFrame
        From :func:`telesales_lab.analysis.outcomes.objection_mix` with ``by=None`` (columns
        ``objection, calls, share, recovery_rate``). A grouped mix is summed over
        groups first.
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_lang(lang)
    require(frame, ("objection", "calls", "positive"), "objection mix")
    mix = frame.groupby("objection", sort=False)[["calls", "positive"]].sum()
    total = mix["calls"].sum()
    share = mix["calls"] / total if total else mix["calls"] * np.nan
    recovery = (mix["positive"] / mix["calls"].where(mix["calls"] > 0)).to_numpy(float)
    fig, (ax_share, ax_rec) = figure_row(2, 11, 4.5)
    labels = [t(str(o), lang) for o in mix.index]
    y = np.arange(len(mix))
    ax_share.barh(y, share.to_numpy(float), color="#8172B3")
    ax_share.set_yticks(y, labels)
    ax_share.invert_yaxis()
    ax_share.set_xlabel(t("share", lang))
    ax_share.set_title(t("share", lang))
    ax_share.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_rec.barh(y, np.nan_to_num(recovery), color="#55A868")
    ax_rec.set_yticks(y, labels)
    ax_rec.invert_yaxis()
    ax_rec.set_xlim(0, 1)
    ax_rec.set_xlabel(t("recovery_rate", lang))
    ax_rec.set_title(t("recovery_rate", lang))
    ax_rec.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    fig.suptitle(t("outcomes.objection_mix", lang))
    return fig


def followup_chart(frame: pd.DataFrame, lang: str = "en", max_days: float = 60.0):
    """Histogram of follow-up days (first positive call to order).

    Parameters
    ----------
    frame : DataFrame
        From :func:`telesales_lab.analysis.outcomes.followup_speed` (column ``days``).
    lang : {"en", "zh"}
    max_days : float
        Follow-ups this long or longer are shown as one hatched bar to the right.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_lang(lang)
    require(frame, ("days",), "follow-up")
    if max_days <= 0:
        raise ParameterError(f"max_days == {max_days!r}, must be > 0")
    fig, (ax,) = figure_row(1, 8, 4)
    days = frame["days"].to_numpy(float)
    days = days[~np.isnan(days)]
    width = max_days / 30
    ax.hist(days[days < max_days], bins=np.linspace(0, max_days, 31), color="#4C72B0")
    longer = int((days >= max_days).sum())
    if longer:  # one hatched bar for the long tail, labelled, instead of a misleading last bin
        ax.bar(max_days + width, longer, width=width, align="edge", color="#8C8C8C", hatch="//")
        ax.annotate(f"≥ {max_days:g}: {longer}", (max_days + 1.5 * width, longer), ha="center",
                    va="bottom", fontsize=8)
    if len(days):
        median = float(np.median(days))
        ax.axvline(min(median, max_days), color="#C44E52", linestyle="--",
                   label=f"{t('median_days', lang)}: {median:.1f}")
        ax.legend(fontsize=8)
    ax.set_xlabel(t("days", lang))
    ax.set_ylabel(t("orders", lang))
    ax.set_title(t("outcomes.followup", lang))
    return fig
