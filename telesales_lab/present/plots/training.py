"""Charts of the training plan: team skill gaps, coach load and module effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab import labels
from telesales_lab.data.schema import SKILLS
from telesales_lab.present.plots.base import figure


# ----------------------------------------------------------------------------- plots


def plot_team_gaps(team_frame: pd.DataFrame, lang: str = "en"):
    """Heatmap of team x skill: share of the team's reps with a credible gap.

    Parameters
    ----------
    team_frame : DataFrame
        From :func:`team_plan`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels.check_lang(lang)
    grid = team_frame.pivot_table(index="team", columns="skill", values="share_gap", aggfunc="first",
                                  observed=True).reindex(columns=list(SKILLS))
    from telesales_lab.present.tables import natural_sorted

    grid = grid.reindex(natural_sorted(grid.index))  # 一组, 二组, 三组
    fig, ax = figure(9, 0.9 + 0.45 * max(len(grid), 1))
    image = ax.imshow(grid.to_numpy(float), aspect="auto", cmap="Reds", vmin=0, vmax=1)
    ax.set_xticks(range(len(SKILLS)), [labels.t(sk, lang) for sk in SKILLS], rotation=30, ha="right")
    ax.set_yticks(range(len(grid)), list(grid.index))
    for (r, c), v in np.ndenumerate(grid.to_numpy(float)):
        if np.isfinite(v):
            ax.text(c, r, f"{v:.0%}", ha="center", va="center", fontsize=8, color="white" if v > 0.5 else "black",
                    in_layout=False)  # inside its cell: the layout need not measure it
    fig.colorbar(image, ax=ax, format=lambda v, _: f"{v:.0%}")
    ax.set_title(labels.t("training.team_gaps", lang))
    return fig


def plot_coach_load(load: pd.DataFrame, lang: str = "en", top: int = 30):
    """Bars of coachees per coach against the cap: the ``top`` busiest coaches, said in the title
    when there are more (the table and the workbook list every coach).

    Parameters
    ----------
    load : DataFrame
        From :func:`coach_load`.
    top : int, default 30
        At most this many coaches (the most coachees first).

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels.check_lang(lang)
    busy = load[load["n_coachees"] > 0]
    shown = busy.sort_values("n_coachees", ascending=False, kind="stable").head(top)  # the ones near the cap
    fig, ax = figure(9, 0.9 + 0.3 * max(len(shown), 1))
    y = np.arange(len(shown))
    ax.barh(y, shown["n_coachees"].to_numpy(float), color="#4C72B0")
    ax.set_yticks(y, [f"{c} ({tm})" for c, tm in zip(shown["coach_id"], shown["team"])])
    ax.invert_yaxis()
    if len(load):
        ax.axvline(float(load["cap"].iloc[0]), color="#C44E52", ls="--", label=labels.t("cap", lang))
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(labels.t("n_coachees", lang))
    ax.xaxis.get_major_locator().set_params(integer=True)
    title = labels.t("training.coach_load", lang)
    if len(shown) < len(busy):
        title += " · " + labels.t("chart.top_coaches", lang).format(n=len(shown), total=len(busy))
    ax.set_title(title)
    return fig


#: Fewer trained reps than this: the module's effect is drawn as "too few to tell".
MIN_TRAINED = 5


def plot_effects(effects: pd.DataFrame, lang: str = "en", min_trained: int = MIN_TRAINED):
    """Forest plot: each module's effect on its skill with its interval.

    Effects from fewer than ``min_trained`` trained reps are drawn grey, without an interval,
    and labelled "too few to tell".

    Parameters
    ----------
    effects : DataFrame
        From :func:`training_effect`.
    min_trained : int, default 5

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels.check_lang(lang)
    shown = effects.dropna(subset=["effect"])
    fig, ax = figure(8, 0.9 + 0.4 * max(len(shown), 1))
    y = np.arange(len(shown))
    eff = shown["effect"].to_numpy(float)
    lo = np.nan_to_num(eff - shown["ci_low"].to_numpy(float))
    hi = np.nan_to_num(shown["ci_high"].to_numpy(float) - eff)
    few = (shown["n_trained"].to_numpy(float) < min_trained) if "n_trained" in shown else np.zeros(len(shown), bool)
    ok = ~few
    ax.errorbar(eff[ok], y[ok], xerr=np.vstack([lo[ok], hi[ok]]), fmt="o", color="#4C72B0", ecolor="#555", capsize=3)
    if few.any():
        ax.plot(eff[few], y[few], "o", mfc="none", color="#AAAAAA")
        for yy, ee in zip(y[few], eff[few]):
            ax.annotate(labels.t("chart.too_few", lang), (ee, yy), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8, color="#777777")
    ax.axvline(0, color="#999", lw=1)
    ax.set_yticks(y, [f"{m} · {labels.t(str(sk), lang)}" for m, sk in zip(shown["module_id"], shown["skill"])])
    ax.invert_yaxis()
    ax.set_xlabel(labels.t("effect", lang))
    ax.set_title(labels.t("training.effects", lang))
    return fig
