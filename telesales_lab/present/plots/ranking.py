"""Charts of the script ranking: raw and adjusted intervals, next month's allocation, phrases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t
from telesales_lab.analysis.ranking.cells import CONTEXT, RANK_COLUMNS


_VERDICT_COLOURS = {"best": "#1a7f37", "inconclusive": "#0969da", "insufficient_data": "#8c959f"}


def _row_labels(frame, lang):
    keys = ["scenario"] + (["customer_class"] if "customer_class" in frame else [])
    parts = [frame[k].astype(str).map(lambda v: t(v, lang, CONTEXT)) for k in keys] + [frame["script_id"].astype(str)]
    out = parts[0]
    for p in parts[1:]:
        out = out + " · " + p
    return out.tolist()


def plot_intervals(ranking: pd.DataFrame, lang: str = "en"):
    """Forest plot: raw rate (Wilson interval) and adjusted rate (interval) for every variant.

    Parameters
    ----------
    ranking : DataFrame
        From :func:`rank_scripts`.
    lang : {"en", "zh"}

    Returns
    -------
    matplotlib.figure.Figure
        Adjusted estimates are coloured by verdict; raw ones are grey, just above.
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    missing = [c for c in RANK_COLUMNS if c not in ranking]
    if missing:
        raise ParameterError(f"ranking frame lacks column(s) {', '.join(missing)}; pass rank_scripts()'s table")
    labels = _row_labels(ranking, lang)
    y = np.arange(len(ranking))[::-1].astype(float)
    fig = Figure(figsize=(9, 0.42 * len(ranking) + 1.6), layout="constrained")
    ax = fig.subplots()
    raw = ranking["sale_rate"].to_numpy(float)
    ax.errorbar(raw, y + 0.18, xerr=[raw - ranking["ci_low"], ranking["ci_high"] - raw], fmt="o", ms=4,
                color="#8c959f", capsize=2, label=t("plot.raw", lang))
    adj = ranking["adj_effect"].to_numpy(float)
    ok = np.isfinite(adj)
    for verdict, colour in _VERDICT_COLOURS.items():
        sel = ok & (ranking["verdict"] == verdict).to_numpy()
        if sel.any():
            ax.errorbar(adj[sel], y[sel] - 0.18,
                        xerr=[adj[sel] - ranking["adj_ci_low"].to_numpy(float)[sel],
                              ranking["adj_ci_high"].to_numpy(float)[sel] - adj[sel]],
                        fmt="s", ms=5, color=colour, capsize=2,
                        label=f"{t('plot.adjusted', lang)}: {t(verdict, lang, CONTEXT)}")
    ax.set_yticks(y, labels)
    ax.set_xlabel(t("sale_rate", lang, CONTEXT))
    ax.set_title(t("plot.intervals", lang))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_allocation(allocation: pd.DataFrame, lang: str = "en"):
    """Stacked bars: next month's share of calls per variant in each scenario (x class).

    Parameters
    ----------
    allocation : DataFrame
        From :func:`thompson_allocation`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    if not {"scenario", "script_id", "share"} <= set(allocation.columns):
        raise ParameterError("allocation frame needs columns scenario, script_id, share; pass "
                             "thompson_allocation()'s table")
    keys = ["scenario"] + (["customer_class"] if "customer_class" in allocation else [])
    groups = list(allocation.groupby(keys, sort=True))
    fig = Figure(figsize=(9, 0.55 * len(groups) + 1.6), layout="constrained")
    ax = fig.subplots()
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for i, (key, g) in enumerate(groups):
        left = 0.0
        for k, row in enumerate(g.sort_values("share", ascending=False).itertuples()):  # a few variants
            ax.barh(len(groups) - 1 - i, row.share, left=left, color=cmap(k % 10), edgecolor="white")
            if row.share >= 0.06:
                ax.text(left + row.share / 2, len(groups) - 1 - i, f"{row.script_id}\n{row.share:.0%}",
                        ha="center", va="center", fontsize="x-small", color="white")
            left += row.share
    names = [" · ".join(t(str(v), lang, CONTEXT) for v in (key if isinstance(key, tuple) else (key,))) for key, _ in groups]
    ax.set_yticks(np.arange(len(groups))[::-1], names)
    ax.set_xlim(0, 1)
    ax.set_xlabel(t("share", lang, CONTEXT))
    ax.set_title(t("plot.allocation", lang))
    return fig


def plot_phrases(phrases: pd.DataFrame, lang: str = "en", top: int = 5):
    """Horizontal bars of the rep-adjusted z of the strongest phrases per scenario.

    Parameters
    ----------
    phrases : DataFrame
        From :func:`phrase_analysis`.
    top : int
        Phrases per scenario and direction.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    if not {"scenario", "phrase", "z"} <= set(phrases.columns):
        raise ParameterError("phrases frame needs columns scenario, phrase, z; pass phrase_analysis()'s table")
    parts = []
    for _, g in phrases.groupby("scenario", sort=True):
        g = g.sort_values("z", ascending=False)
        parts.append(pd.concat([g[g["z"] > 0].head(top), g[g["z"] < 0].tail(top)]))
    sel = pd.concat(parts) if parts else phrases.head(0)
    fig = Figure(figsize=(9, 0.32 * max(len(sel), 1) + 1.6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(sel))[::-1]
    short = sel["phrase"].astype(str).map(lambda p: p if len(p) <= 24 else p[:23] + "…")
    ax.barh(y, sel["z"], color=np.where(sel["z"] > 0, "#1a7f37", "#cf222e"))
    ax.set_yticks(y, [f"{t(s, lang, CONTEXT)} · {p}" for s, p in zip(sel["scenario"], short)], fontsize="small")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("z")
    ax.set_title(t("plot.phrases", lang))
    return fig
