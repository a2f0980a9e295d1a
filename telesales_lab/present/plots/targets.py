"""Charts of the targets page: attainment bars with the forecast band, at-risk first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab import labels
from telesales_lab.present.plots.base import figure

#: Colours of the statuses (also the page's legend).
STATUS_COLOURS = {"at_risk": "#c0392b", "on_track": "#e1a325", "ahead": "#2e8b57"}
_ORDER = {"at_risk": 0, "on_track": 1, "ahead": 2}


def attainment_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows at risk first, then on track, then ahead; within each, lowest forecast attainment first."""
    f = frame.assign(_s=frame["status"].map(_ORDER), _f=frame["forecast"] / frame["target"])
    return f.sort_values(["_s", "_f"], kind="stable").drop(columns=["_s", "_f"])


def attainment_chart(frame: pd.DataFrame, lang: str = "en", label: str = "rep_id", title: str | None = None):
    """Bullet chart: each row's attainment so far (bar), forecast (tick) and band, against 100 %.

    Parameters
    ----------
    frame : DataFrame
        Rows of :func:`telesales_lab.analysis.targets.targets` for one metric (reps or
        teams), in the order to show (see :func:`attainment_order`).
    label : str
        The column naming each row (``rep_id`` or ``team``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels.check_lang(lang)
    f = frame.reset_index(drop=True)
    n = max(len(f), 1)
    fig, ax = figure(9, 0.9 + 0.28 * n)
    y = np.arange(len(f))[::-1]
    target = f["target"].to_numpy(float)
    att = f["actual"].to_numpy(float) / target
    fc = f["forecast"].to_numpy(float) / target
    lo, hi = f["forecast_low"].to_numpy(float) / target, f["forecast_high"].to_numpy(float) / target
    colours = [STATUS_COLOURS.get(s, "#888") for s in f["status"]]
    ax.barh(y, hi - lo, left=lo, height=0.7, color=colours, alpha=0.22, label=labels.t("targets.band", lang))
    ax.barh(y, att, height=0.35, color=colours, label=labels.t("targets.so_far", lang))
    ax.scatter(fc, y, marker="|", s=160, color="#222", zorder=3, label=labels.t("targets.forecast_tick", lang))
    ax.axvline(1.0, color="#222", linewidth=1)
    ax.set_yticks(y, [str(v) for v in f[label]])
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlim(0, max(1.2, float(np.nanmax(np.r_[hi, att, 1.0])) * 1.05))
    ax.set_xlabel(labels.t("targets.of_target", lang))
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig
