"""Plots of skill scores, the KPI evaluation and QA calibration, in English or Chinese.

Each helper takes the tidy frame of an analysis function plus ``lang`` and returns a
:class:`matplotlib.figure.Figure`; nothing is shown or saved here. Call
:func:`telesales_lab.present.plots.setup` first so Chinese labels have a font.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.labels import check_lang, t
from telesales_lab.data.schema import SKILLS
from telesales_lab.present.plots.base import figure, require






def grade_chart(evaluation: pd.DataFrame, grades, lang: str = "en"):
    """Stacked bars: reps per grade in each team (from :func:`~telesales_lab.analysis.evaluation.evaluate`).

    ``grades`` is the policy's ``[grades]`` table (best band first) or a list of names.
    """
    check_lang(lang)
    require(evaluation, ["team", "grade"], "grade_chart")
    names = list(grades)
    counts = (evaluation.groupby(["team", "grade"], observed=True).size().unstack("grade")
              .reindex(columns=names).fillna(0))
    fig, ax = figure(height=4.0)
    bottom = np.zeros(len(counts))
    colours = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000"]
    for i, g in enumerate(names):
        ax.bar(counts.index.astype(str), counts[g].to_numpy(), bottom=bottom, label=g,
               color=colours[min(i, len(colours) - 1)])
        bottom += counts[g].to_numpy()
    ax.set_ylabel(t("kpi.count", lang))
    ax.set_xlabel(t("team", lang))
    ax.set_title(t("kpi.grades", lang))
    ax.legend(title=t("grade", lang), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _lookback() -> int:
    from telesales_lab.data.policy import resolve_policy

    return int(resolve_policy(None)["skills"]["lookback_months"])


def skill_heatmap(evidence: pd.DataFrame, lang: str = "en"):
    """Reps x skills heatmap of scores, reps grouped by team (from :func:`~telesales_lab.analysis.skills.skill_evidence`)."""
    check_lang(lang)
    require(evidence, ["rep_id", "team", "skill", "score"], "skill_heatmap")
    if evidence["score"].isna().all():  # no skill evidence at all: a sentence, not an empty chart
        from telesales_lab.present.notes import note

        return note("notes.no_skill_evidence", lang, months=_lookback())
    wide = evidence.pivot_table(index=["team", "rep_id"], columns="skill", values="score", observed=True)
    wide = wide.reindex(columns=list(SKILLS)).sort_index()
    fig, ax = figure(width=8.0, height=max(3.0, 0.16 * len(wide) + 1.5))
    im = ax.imshow(wide.to_numpy(float), aspect="auto", cmap="RdYlGn", vmin=20, vmax=100)
    ax.set_xticks(range(len(SKILLS)), [t(s, lang) for s in SKILLS], rotation=30, ha="right")
    ax.set_yticks(range(len(wide)), [f"{team} {rep}" for team, rep in wide.index], fontsize=6)
    ax.set_title(t("kpi.skill_profiles", lang))
    fig.colorbar(im, ax=ax, label=t("score", lang))
    return fig


class HeatmapTable(str):
    """An HTML heatmap: a string that notebooks display as HTML (``_repr_html_``)."""

    def _repr_html_(self) -> str:
        return str(self)


#: Score range of the skill colour scale (red at the low end, green at the top).
SCORE_RANGE = (20.0, 100.0)
#: Background of a cell without evidence.
NO_EVIDENCE = "#e6e6e6"
# colours print as on screen (browsers leave backgrounds out of print by default)
_PRINT_COLOURS = "print-color-adjust:exact;-webkit-print-color-adjust:exact"


def _score_cells(values: np.ndarray) -> np.ndarray:
    """``<td>`` of each score: the value on its ``RdYlGn`` colour over :data:`SCORE_RANGE`
    (white text on the dark ends); an empty grey cell where there is no score."""
    from matplotlib import colormaps

    lo, hi = SCORE_RANGE
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    rgba = colormaps["RdYlGn"](np.clip((np.where(ok, v, lo) - lo) / (hi - lo), 0.0, 1.0))
    rgb = np.round(rgba[..., :3] * 255).astype(int)
    dark = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) < 0.45
    out = np.empty(v.shape, dtype=object)
    for idx in np.ndindex(v.shape):  # a few hundred cells per team
        if ok[idx]:
            r, g, b = rgb[idx]
            out[idx] = (f'<td style="background:#{r:02x}{g:02x}{b:02x}'
                        f'{";color:#fff" if dark[idx] else ""}">{v[idx]:.0f}</td>')
        else:
            out[idx] = f'<td style="background:{NO_EVIDENCE}"></td>'
    return out


def _heat_key(lang: str) -> str:
    """The colour key: swatches at 20, 40 ... 100 and the grey of "no evidence"."""
    from html import escape

    swatches = "".join(_score_cells(np.linspace(*SCORE_RANGE, 5))).replace("<td", "<span").replace("</td>", "</span>")
    return (f'<p class="tl-heat-key">{escape(t("score", lang))}{"：" if lang == "zh" else ": "}{swatches} '
            f'<span style="background:{NO_EVIDENCE}">&nbsp;&nbsp;&nbsp;</span> '
            f'{escape(t("table.no_evidence", lang))}</p>')


def skill_heatmaps(evidence: pd.DataFrame, lang: str = "en", reps: pd.DataFrame | None = None) -> list:
    """One reps x skills heatmap per team, readable at any head count (60+ reps: one per team).

    Each heatmap is an HTML table: a row per rep, labelled with the rep's name and id (``reps``:
    ``data.reps``), a column per skill, the score in each cell on the ``RdYlGn`` colour of
    :data:`SCORE_RANGE` (a skill without evidence is an empty grey cell); a colour key opens
    the first. Teams come in natural order (一组, 二组, 三组). Being text, the heatmaps stay
    sharp at any zoom, fit the page, break between rows across printed pages and need no
    plotting (a few milliseconds for hundreds of reps).

    Returns
    -------
    list of HeatmapTable
        HTML, one per team; a notebook shows each with ``display``.
    """
    from html import escape

    from telesales_lab.present.tables import natural_sorted

    check_lang(lang)
    require(evidence, ["rep_id", "team", "skill", "score"], "skill_heatmaps")
    names = {} if reps is None else dict(zip(reps["rep_id"].astype(str), reps["name"].astype(str)))
    wide = evidence.pivot_table(index=["team", "rep_id"], columns="skill", values="score", observed=True)
    wide = wide.reindex(columns=list(SKILLS))
    head = f'<th>{escape(t("rep", lang))}</th>' + "".join(f"<th>{escape(t(s, lang))}</th>" for s in SKILLS)
    title = escape(t("kpi.skill_profiles", lang))
    out = []
    for k, team in enumerate(natural_sorted(wide.index.get_level_values("team").unique())):
        part = wide.loc[team].sort_index()
        labels = [escape(f"{names.get(str(r), '')} {r}".strip()) for r in part.index]
        rows = "".join(f"<tr><th>{label}</th>{''.join(cells)}</tr>"
                       for label, cells in zip(labels, _score_cells(part.to_numpy(float)).tolist()))
        out.append(HeatmapTable(
            f'<div class="tl-heat" style="{_PRINT_COLOURS}">{_heat_key(lang) if k == 0 else ""}'
            f'<table class="tl-table tl-heat"><caption>{title} · {escape(str(team))}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"))
    return out


def team_radar(profile: pd.DataFrame, lang: str = "en"):
    """Radar chart of each team's mean skill scores (from :func:`~telesales_lab.analysis.skills.team_profile`)."""
    check_lang(lang)
    require(profile, ["team", "skill", "score"], "team_radar")
    if profile["score"].isna().all():
        from telesales_lab.present.notes import note

        return note("notes.no_skill_evidence", lang, months=_lookback())
    wide = profile.pivot_table(index="team", columns="skill", values="score", observed=True)
    wide = wide.reindex(columns=list(SKILLS))
    angles = np.linspace(0, 2 * np.pi, len(SKILLS), endpoint=False)
    closed = np.r_[angles, angles[:1]]
    fig, ax = figure(width=7.5, height=6.0, polar=True)
    for team, row in wide.iterrows():  # a handful of teams
        values = row.to_numpy(float)
        overall = team == "overall"
        ax.plot(closed, np.r_[values, values[:1]], lw=2.5 if overall else 1.2,
                ls="--" if overall else "-", color="black" if overall else None,
                label=t("overall", lang) if overall else str(team))
    ax.set_xticks(angles, [t(s, lang) for s in SKILLS])
    lo = np.floor(np.nanmin(wide.to_numpy(float)) / 10) * 10 - 5
    ax.set_ylim(max(lo, 0), 100)
    ax.set_rlabel_position(180.0 / len(SKILLS))  # radial labels between two skills
    ax.set_title(t("kpi.team_profiles", lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.05), fontsize=8)
    return fig


def kpi_trend_chart(trend: pd.DataFrame, lang: str = "en", column: str = "total"):
    """Lines of a dimension's team means by month (from :func:`~telesales_lab.analysis.evaluation.kpi_trend`)."""
    check_lang(lang)
    require(trend, ["month", "team", column], "kpi_trend_chart")
    wide = trend.pivot_table(index="month", columns="team", values=column, observed=True).sort_index()
    # tall enough for the legend beside the axes (one line per team): the figure holds all of it
    fig, ax = figure(height=max(4.0, 0.17 * len(wide.columns) + 0.8))
    for team in wide.columns:
        overall = team == "overall"
        ax.plot(wide.index.astype(str), wide[team].to_numpy(float), marker="o",
                lw=2.5 if overall else 1.2, ls="--" if overall else "-", color="black" if overall else None,
                label=t("overall", lang) if overall else str(team))
    label = t("kpi.sales" if column == "sales" else column, lang)
    ax.set_ylabel(label)
    ax.set_xlabel(t("month", lang))
    ax.set_title(f"{t('kpi.trend', lang)}: {label}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def drift_chart(drift: pd.DataFrame, lang: str = "en"):
    """Each assessor's drift with its 95% interval; flagged assessors in red
    (from :func:`~telesales_lab.analysis.calibration.assessor_drift`)."""
    check_lang(lang)
    require(drift, ["assessor_id", "drift", "se", "flagged"], "drift_chart")
    d = drift.dropna(subset=["drift"]).sort_values("drift")
    fig, ax = figure(width=8.0, height=max(2.5, 0.35 * len(d) + 1.2))
    y = np.arange(len(d))
    colours = np.where(d["flagged"].to_numpy(bool), "#d73027", "#4575b4")
    ax.errorbar(d["drift"], y, xerr=1.96 * d["se"], fmt="none", ecolor="grey", capsize=3)
    ax.scatter(d["drift"], y, c=colours, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, d["assessor_id"].astype(str))
    ax.set_xlabel(t("drift", lang))
    ax.set_title(t("kpi.calibration", lang))
    return fig
