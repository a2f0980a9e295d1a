"""Charts of the experiments page: the always-valid interval of a comparison, day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.labels import check_lang, t
from telesales_lab.present.plots.base import figure, require



def experiment_chart(history: pd.DataFrame, experiment, lang: str = "en"):
    """The effect and its always-valid interval over time for each variant of one experiment.

    Parameters
    ----------
    history : DataFrame
        :func:`telesales_lab.analysis.experiments.experiment_history` (any experiments; the
        rows of ``experiment.id`` are drawn).
    experiment : Experiment
        The registry entry (for its minimum detectable effect, margin, control and metric).
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
        Effect (points for sale rates, yuan for revenue) against the date; the shaded band is
        the interval, which only narrows; 0, +-mde (dashed) and -margin (dotted) are marked.
    """
    check_lang(lang)
    require(history, ("experiment_id", "variant", "date", "effect", "ci_low", "ci_high"), "experiment history")
    h = history[history["experiment_id"] == experiment.id]
    scale = 100.0 if experiment.metric == "sale_rate" else 1.0
    fig, ax = figure(9, 3.6)
    colours = ("#0969da", "#bf3989", "#1a7f37", "#9a6700")
    for k, (variant, g) in enumerate(h.groupby("variant", sort=False)):
        c = colours[k % len(colours)]
        g = g[np.isfinite(g["ci_low"].to_numpy(float))]  # from the first day with an interval
        if g.empty:
            continue
        d = pd.to_datetime(g["date"])
        ax.fill_between(d, g["ci_low"].to_numpy(float) * scale, g["ci_high"].to_numpy(float) * scale, color=c,
                        alpha=0.18, step="post", label=t("experiments.plot_interval", lang).format(variant=variant))
        ax.step(d, g["effect"].to_numpy(float) * scale, where="post", color=c,
                label=t("experiments.plot_effect", lang).format(variant=variant, control=experiment.control))
    ax.axhline(0, color="#57606a", lw=1)
    mde = experiment.mde * scale
    for y in (mde, -mde):
        ax.axhline(y, color="#57606a", lw=0.8, ls="--")
    if experiment.margin is not None:
        ax.axhline(-experiment.margin * scale, color="#cf222e", lw=1, ls=":",
                   label=t("experiments.plot_margin", lang))
    finite = h[["ci_low", "ci_high"]].to_numpy(float) * scale
    finite = finite[np.isfinite(finite)]
    if finite.size:
        span = max(abs(finite).max(), 2 * mde)
        ax.set_ylim(-min(span, 4 * mde), min(span, 4 * mde))
    if experiment.metric == "sale_rate":
        ax.set_ylabel(t("experiments.plot_points", lang))
    else:
        ax.set_ylabel(t("experiments.plot_yuan", lang))
    ax.set_title(t("experiments.plot_title", lang).format(experiment=experiment.id))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return fig
