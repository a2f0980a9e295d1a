"""Conversion by customer attribute: the table and chart a notebook shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t
from telesales_lab.analysis.conversion import CONVERSION_COLUMNS, _group_label, conversion_notes, labelled


def show(table: pd.DataFrame | None, kind: str | None = None, lang: str = "en", min_calls: int = 30) -> None:
    """Display a :func:`conversion_by` table in a notebook: the table, its chart, its notes.

    Shows :func:`labelled`, :func:`conversion_chart` and prints
    :func:`conversion_notes` (``kind``, ``lang`` and ``min_calls`` as there). None
    (no data) shows nothing.
    """
    check_lang(lang)
    if table is None:
        return
    from IPython.display import display

    display(labelled(table, lang))
    display(conversion_chart(table, lang))
    print("\n".join(conversion_notes(table, kind=kind, lang=lang, min_calls=min_calls)))


# ----------------------------------------------------------------------------- plot
def conversion_chart(table: pd.DataFrame, lang: str = "en", title: str | None = None):
    """Conversion rate per group with its interval, the overall rate dashed.

    Parameters
    ----------
    table : DataFrame or None
        From :func:`conversion_by`; None gives None (nothing drawn).
    lang : {"en", "zh"}
    title : str, optional
        Defaults to "Conversion by <attribute>".

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    check_lang(lang)
    if table is None:
        return None
    missing = [c for c in CONVERSION_COLUMNS if c not in table.columns]
    if missing:
        raise ParameterError(f"table lacks column(s) {', '.join(missing)}: pass a conversion_by() result")
    key = next(c for c in table.columns if c not in CONVERSION_COLUMNS)
    labels = [_group_label(key, v, lang) for v in table[key]]
    rate = table["conversion_rate"].to_numpy(float)
    err = np.clip(np.vstack([rate - table["ci_low"].to_numpy(float),
                             table["ci_high"].to_numpy(float) - rate]), 0, None)
    fig = Figure(figsize=(max(6.0, 0.55 * len(table) + 3), 4.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(table))
    ax.bar(x, rate, color="#55A868", alpha=0.8)
    ax.errorbar(x, rate, yerr=err, fmt="none", ecolor="#333333", capsize=3, lw=1)
    overall = table["sales"].sum() / table["calls"].sum()
    ax.axhline(overall, color="#C44E52", ls="--", lw=1, label=t("attributes.overall", lang))
    for xi, top, n in zip(x, table["ci_high"].to_numpy(float), table["calls"].to_numpy()):
        ax.text(xi, top, f"{n:,}", ha="center", va="bottom", fontsize=7, color="#555555")
    rotate = len(table) > 8 or max((len(s) for s in labels), default=0) > 8
    ax.set_xticks(x, labels, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_ylabel(t("conversion_rate", lang))
    ax.set_xlabel(t(key, lang))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylim(0, min(1.0, np.nanmax(table["ci_high"].to_numpy(float)) * 1.15 + 0.01))
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or t("attributes.chart_title", lang).format(name=t(key, lang)))
    return fig
