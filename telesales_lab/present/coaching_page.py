"""The coaching page: a rep's pack as tables for people, two SVG charts and one HTML page per rep.
"""

from __future__ import annotations

import os
from pathlib import Path
import numpy as np
import pandas as pd
from telesales_lab import labels
from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t
from telesales_lab.present.slugs import slug, unique_slugs
from telesales_lab.analysis.coaching import SECTIONS, _check_active, _context, _pct, pack_summary


# ----------------------------------------------------------------------------- display
_VOCAB_COLUMNS = ("stage", "metric", "skill", "method", "outcome", "objection", "scenario", "status")
_MONEY_COLUMNS = ("target", "actual", "forecast", "forecast_low", "forecast_high", "amount", "bonus",
                  "gap_to_next_tier", "gap_money")


_RATE_METRICS = ("contact_rate", "positive_rate", "conversion_rate", "objection_save_rate")


def heading(section: str, lang: str = "en") -> str:
    """The translated heading of a pack section."""
    return t(f"coaching.{section}", lang)


def _fmt_num(v: pd.Series) -> np.ndarray:
    return np.array(["-" if pd.isna(x) else f"{x:,.1f}" for x in v.astype(float)], dtype=object)


def _fmt_pct(v: pd.Series) -> np.ndarray:
    return np.array([_pct(x) for x in v.astype(float)], dtype=object)


def _display(frame: pd.DataFrame, section: str, lang: str) -> pd.DataFrame:
    """Format a section (one rep's rows or every rep's) as text for display."""
    f = frame.copy()
    if section in ("targets", "bonus", "collections"):
        for col in [c for c in _MONEY_COLUMNS if c in f]:
            f[col] = _fmt_num(f[col])
        for col in [c for c in ("attainment",) if c in f]:
            f[col] = _fmt_pct(f[col])
        if "multiplier" in f:
            f["multiplier"] = np.array(["-" if pd.isna(x) else f"{x:.2f}" for x in f["multiplier"].astype(float)],
                                       dtype=object)
        if "signed_on" in f:
            f["signed_on"] = pd.to_datetime(f["signed_on"]).dt.strftime("%Y-%m-%d")
        if "gates_failed" in f:
            from telesales_lab.analysis.bonus import translate_gates

            f["gates_failed"] = translate_gates(f["gates_failed"], lang)
    if section in ("kpis", "goals"):
        rate = f["metric"].isin(_RATE_METRICS).to_numpy(bool)
        for col in [c for c in ("rep_value", "team_average", "difference", "current", "target") if c in f]:
            f[col] = np.where(rate, _fmt_pct(f[col]), _fmt_num(f[col]))
    for col in ("rep_value", "team_average", "score", "ci_low", "ci_high", "team_mean", "target", "gap",
                "duration_s", "revenue"):
        if col in f and pd.api.types.is_numeric_dtype(f[col]):
            f[col] = _fmt_num(f[col])
    if "started_at" in f:
        f["started_at"] = pd.to_datetime(f["started_at"]).dt.strftime("%Y-%m-%d %H:%M")
    if "due_on" in f:
        f["due_on"] = pd.to_datetime(f["due_on"]).dt.strftime("%Y-%m-%d")
    for col in _VOCAB_COLUMNS:
        if col in f:
            words = f[col].astype("string")
            f[col] = words.map({w: t(w, lang, "coaching") for w in words.dropna().unique()})
    return f.astype("string").fillna("")


def table(pack: dict, section: str, lang: str | None = None) -> pd.DataFrame:
    """A pack section for display: numbers rounded, vocabulary and headers translated.

    The notebook shows these frames and :func:`render_html` / :func:`build_packs` put the
    same text on the page.

    Returns
    -------
    DataFrame
        The section's frame (columns as in :func:`coaching_pack`), as text.
    """
    if section not in SECTIONS:
        raise ParameterError(f"section == {section!r}, must be one of {'|'.join(SECTIONS)}")
    lang = lang or pack["lang"]
    return labels.translate_columns(_display(pack[section], section, lang), lang, "coaching")


class Chart(str):
    """An SVG chart: a string that notebooks display as an image (``_repr_svg_``)."""

    def _repr_svg_(self) -> str:
        return str(self)


#: Fonts of the chart text: the page's (the bundled CJK font of the plots first, then the usual Chinese faces).
_FONTS = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"


def _text_width(text: str, size: float) -> float:
    """About how wide ``text`` is at ``size`` px: a full em per CJK character, 0.6 em per other
    (a little more than Noto Sans's average Latin advance, so legend keys never overlap)."""
    return size * sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in text)


def _label(x: float, y: float, text: str, size: float = 12, anchor: str = "start", fill: str = "#222") -> str:
    """A line of SVG text (escaped) with its baseline at ``y``, anchored at ``x``."""
    from html import escape

    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" fill="{fill}">'
            f"{escape(str(text), quote=False)}</text>")


def _nice_top(value: float) -> tuple[float, float]:
    """An axis end and tick step (1, 2, 2.5 or 5 times a power of ten) covering ``value``."""
    if not np.isfinite(value) or value <= 0:
        return 1.0, 0.2
    raw = value / 5
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return float(step * np.ceil(value / step)), float(step)


def _bar_chart(labels, series, *, title: str, xmax: float | None = None, intervals=None, markers=None,
               line=None, extra_keys=()) -> Chart:
    """A horizontal bar chart as inline SVG.

    ``series`` is ``[(name, values, colour), ...]`` (one or two; ``colour`` may be a
    list, one per bar); ``intervals`` is ``(low, high)`` drawn as error bars on the first
    series; ``markers`` is ``(name, values, colour)`` drawn as diamonds; ``line`` is
    ``(name, x, colour)``, a dashed vertical reference line; ``extra_keys`` adds legend
    entries ``(name, colour)``. Written directly as SVG, its labels as text in the page's fonts
    (so Chinese shows wherever the page's own text does), so that a chart costs well under a
    millisecond and a few kB, not a plotting library's layout pass.
    """
    from html import escape

    n, k = len(labels), len(series)
    vals = [np.asarray(v, dtype=float) for _, v, _ in series]
    if xmax is None:
        peak = max([np.nanmax(v) if np.isfinite(v).any() else 0.0 for v in vals] + [0.0])
        top, step = _nice_top(peak)
    else:
        top, step = float(xmax), float(xmax) / 5
    left, right, head, row_h, foot = 150, 40, 34, 26 if k == 1 else 34, 46
    width, plot_w = 720, 720 - 150 - 40
    height = head + n * row_h + foot
    bottom = head + n * row_h

    def x(v):
        return left + plot_w * min(max(float(v), 0.0), top) / top

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" font-family="{_FONTS}"><title>{escape(title)}</title>',
           _label(width / 2, 20, title, 14, "middle")]
    for v in np.arange(0.0, top + step / 2, step):  # grid and axis ticks
        gx = x(v)
        out.append(f'<line x1="{gx:.1f}" y1="{head - 4}" x2="{gx:.1f}" y2="{bottom}" stroke="#e5e5e5"/>')
        out.append(_label(gx, bottom + 14, f"{v:,.0f}" if step >= 1 else f"{v:,.1f}", 10, "middle", "#555"))
    bar_h = (row_h - 8) / k
    for i, name in enumerate(labels):
        y0 = head + i * row_h + 4
        out.append(_label(left - 6, y0 + (row_h - 8) / 2 + 4, name, 12, "end"))
        for j, (sname, _, colour) in enumerate(series):
            v = vals[j][i]
            fill = colour if isinstance(colour, str) else colour[i]
            if np.isfinite(v):
                out.append(f'<rect x="{left}" y="{y0 + j * bar_h:.1f}" width="{x(v) - left:.1f}" '
                           f'height="{bar_h - 1:.1f}" fill="{fill}"><title>{escape(sname)}: {v:,.1f}</title></rect>')
        if intervals is not None and np.isfinite(intervals[0][i]) and np.isfinite(intervals[1][i]):
            lo, hi, cy = x(intervals[0][i]), x(intervals[1][i]), y0 + bar_h / 2
            out.append(f'<path d="M{lo:.1f} {cy:.1f}H{hi:.1f}M{lo:.1f} {cy - 4:.1f}V{cy + 4:.1f}'
                       f'M{hi:.1f} {cy - 4:.1f}V{cy + 4:.1f}" stroke="#222" stroke-width="1.5" fill="none"/>')
        if markers is not None and np.isfinite(markers[1][i]):
            mx, cy = x(markers[1][i]), y0 + bar_h / 2
            out.append(f'<path d="M{mx:.1f} {cy - 5:.1f}L{mx + 5:.1f} {cy:.1f}L{mx:.1f} {cy + 5:.1f}'
                       f'L{mx - 5:.1f} {cy:.1f}Z" fill="{markers[2]}"/>')
    if line is not None and np.isfinite(line[1]):
        lx = x(line[1])
        out.append(f'<line x1="{lx:.1f}" y1="{head - 4}" x2="{lx:.1f}" y2="{bottom}" '
                   f'stroke="{line[2]}" stroke-width="2" stroke-dasharray="6 4"/>')
    keys = [(name, colour if isinstance(colour, str) else "#4C72B0", "rect") for name, _, colour in series]
    keys += [(name, colour, "rect") for name, colour in extra_keys]
    if markers is not None:
        keys.append((markers[0], markers[2], "diamond"))
    if line is not None:
        keys.append((line[0], line[2], "line"))
    lx, ly = left, height - 12
    for name, colour, shape in keys:  # legend
        if shape == "rect":
            out.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="10" fill="{colour}"/>')
        elif shape == "diamond":
            out.append(f'<path d="M{lx + 6} {ly - 10}L{lx + 11} {ly - 4}L{lx + 6} {ly + 2}L{lx + 1} {ly - 4}Z" '
                       f'fill="{colour}"/>')
        else:
            out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 12}" y2="{ly - 4}" stroke="{colour}" '
                       f'stroke-width="2" stroke-dasharray="4 2"/>')
        out.append(_label(lx + 16, ly, name, 11))
        lx += 16 + _text_width(str(name), 11) + 18
    out.append("</svg>")
    return Chart("".join(out))


def plot_skills(pack: dict, lang: str | None = None) -> Chart:
    """The rep's skill scores (red: a credible gap) with intervals, the team mean
    (diamonds) and the target (dashed line), as an SVG chart.

    Returns
    -------
    Chart
        SVG text; a notebook displays it as an image.
    """
    sk = pack["skills"]
    return _skills_chart({c: sk[c].to_numpy() for c in _SKILL_CHART}, lang or pack["lang"])


_SKILL_CHART = ("skill", "score", "ci_low", "ci_high", "team_mean", "target", "gap")


def _skills_chart(a: dict, lang: str) -> Chart:
    score = a["score"].astype(float)
    gap = a["gap"].astype(float) > 0
    target = float(a["target"][0]) if len(score) else np.nan
    return _bar_chart(
        [t(str(s), lang) for s in a["skill"]], [(t("score", lang), score, np.where(gap, "#C44E52", "#4C72B0").tolist())],
        title=heading("skills", lang), xmax=100.0,
        intervals=(a["ci_low"].astype(float), a["ci_high"].astype(float)),
        markers=(t("team_mean", lang), a["team_mean"].astype(float), "#DD8452"),
        line=(t("target", lang), target, "#55A868"), extra_keys=[(t("gap", lang), "#C44E52")])


def plot_funnel(pack: dict, lang: str | None = None) -> Chart:
    """The rep's funnel stages beside the team's average per rep, as an SVG chart.

    Returns
    -------
    Chart
        SVG text; a notebook displays it as an image.
    """
    fu = pack["funnel"]
    return _funnel_chart({c: fu[c].to_numpy() for c in _FUNNEL_CHART}, lang or pack["lang"])


_FUNNEL_CHART = ("stage", "rep_value", "team_average")


def _funnel_chart(a: dict, lang: str) -> Chart:
    return _bar_chart([t(str(s), lang) for s in a["stage"]],
                      [(t("coaching.rep_label", lang), a["rep_value"].astype(float), "#4C72B0"),
                       (t("coaching.team_label", lang), a["team_average"].astype(float), "#BBBBBB")],
                      title=heading("funnel", lang))


def _escape(col: pd.Series) -> pd.Series:
    return (col.astype("string").fillna("").str.replace("&", "&amp;", regex=False)
            .str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
            .str.replace('"', "&quot;", regex=False))


def _rows_html(frame: pd.DataFrame) -> pd.Series:
    """``<tr>`` markup of every row of a display frame, built column-wise."""
    row = pd.Series("<tr>", index=frame.index, dtype="string")
    for col in frame.columns:
        row = row + "<td>" + _escape(frame[col]) + "</td>"
    return row + "</tr>"


def _head_html(columns) -> str:
    from html import escape

    return '<table class="dataframe"><thead><tr>' + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + \
        "</tr></thead><tbody>"


def _html_table(frame: pd.DataFrame) -> str | None:
    """A display frame as an HTML table (None when it has no rows)."""
    if frame.empty:
        return None
    return _head_html(frame.columns) + "".join(_rows_html(frame)) + "</tbody></table>"


_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<title>{{ title }} · {{ pack.name or pack.rep_id }} · {{ pack.month }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.88em;max-width:100%}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3} h2{margin-top:1.2em;border-bottom:1px solid #ddd;font-size:1.2em}
.note{color:#666;font-size:.85em} svg{max-width:100%;height:auto}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts>div{flex:1 1 420px;max-width:100%}
{{ css | safe }}
@media print{body{font-size:9pt} h2{margin-top:.6em;font-size:11pt} .charts>div{flex:1 1 45%}
 svg{max-height:62mm}}
</style></head><body>
<nav class="tl-nav"><a href="../index.html">{{ back }}</a>
<strong>{{ contents }}</strong><ol>{% for s in toc %}<li><a href="#{{ s }}">{{ headings[s] }}</a></li>{% endfor %}</ol></nav>
<h1>{{ title }}: {{ pack.name or pack.rep_id }} <span class="note">{{ pack.rep_id }} · {{ pack.team }} · {{ pack.month }}</span></h1>
{% if pack.status %}<p class="tl-headline">{{ pack.status }}</p>{% endif %}
<p class="note">{{ note }}</p>
<h2 id="summary">{{ headings.summary }}</h2>
<p>{{ pack.summary }}</p>
<h2 id="agenda">{{ headings.agenda }}</h2>
<ol>{% for item in agenda %}<li>{{ item }}</li>{% endfor %}</ol>
<div class="charts">{% for s in sections if plots.get(s) %}<div>{{ plots[s] | safe }}</div>{% endfor %}</div>
{% for s in sections %}<h2 id="{{ s }}">{{ headings[s] }}</h2>
{% if not tables[s] %}<p class="note">{{ nothing }}</p>{% else %}{{ tables[s] | safe }}{% endif %}
{% endfor %}
<h2 id="notes">{{ headings.notes }}</h2>
<div class="tl-space"></div>
<h2 id="commitments">{{ headings.commitments }}</h2>
<div class="tl-space"></div>
<p class="note">{{ signatures }}</p>
</body></html>
"""


def _environment():
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_TEMPLATE)


def render_html(pack: dict, lang: str | None = None) -> str:
    """The pack as one self-contained HTML page (tables and inline SVG charts).

    Returns
    -------
    str
        HTML with the sections, tables (:func:`table`) and charts (:func:`plot_funnel`,
        :func:`plot_skills`) the coaching notebook shows -- the very page
        :func:`build_packs` writes for the rep.
    """
    lang = lang or pack["lang"]
    tables = {s: _html_table(table(pack, s, lang)) for s in SECTIONS}
    charts = {"funnel": plot_funnel(pack, lang), "skills": plot_skills(pack, lang)}
    head = {**pack, "name": pack.get("name") or "", "status": pack.get("status") or ""}
    return _page(head, tables, charts, lang, _environment())


def _page(head: dict, tables: dict, charts: dict, lang: str, template) -> str:
    from telesales_lab.present.page_style import CSS

    headings = {s: heading(s, lang) for s in SECTIONS + ("summary",)}
    headings.update({k: t(f"coaching.{k}", lang) for k in ("agenda", "notes", "commitments")})
    agenda = [t(f"coaching.agenda_{i}", lang) for i in range(1, 5)]
    return template.render(
        pack=head, sections=SECTIONS, tables=tables, plots=charts, title=t("coaching.title", lang),
        note=t("coaching.note", lang), nothing=t("coaching.none", lang), html_lang="zh-CN" if lang == "zh" else "en",
        headings=headings, css=CSS, back=t("report.back", lang), contents=t("report.contents", lang),
        toc=("summary", "agenda") + SECTIONS + ("notes", "commitments"), agenda=agenda,
        signatures=t("coaching.signatures", lang))


def _all_tables(ctx: dict, lang: str) -> dict:
    """``{section: {rep_id: table HTML}}`` for every rep at once: each section is
    formatted and turned into rows of markup in one vectorised pass, then joined per rep."""
    out = {}
    for name, frame in ctx["sections"].items():
        disp = _display(frame, name, lang)
        cols = [c for c in disp.columns if c != "rep_id" or name == "plan"]
        head = _head_html(labels.translate_columns(disp[cols].iloc[:0], lang, "coaching").columns)
        rows = _rows_html(disp[cols]).to_numpy(dtype=object)
        groups = pd.Series(frame["rep_id"].to_numpy()).groupby(frame["rep_id"].to_numpy(), sort=False).indices
        out[name] = {rep: head + "".join(rows[pos]) + "</tbody></table>" for rep, pos in groups.items()}  # one join per rep
    return out


def _status(data, month: str, policy, lang: str) -> dict:
    """``{rep_id: sentence}`` for reps who are award candidates or ready for promotion this month."""
    from telesales_lab.analysis import evaluation
    from telesales_lab.exceptions import ParameterError

    out: dict = {}
    try:
        awards = evaluation.award_candidates(data, month, "month", policy)
        ready = evaluation.promotion_readiness(data, month, policy)
    except ParameterError:  # no evaluation this month: no status to show
        return out
    for rep_id, scope in zip(awards["rep_id"], awards["scope"]):
        if pd.notna(rep_id):
            out[str(rep_id)] = t("coaching.award", lang).format(scope=t(str(scope), lang))
    for rep_id, role in zip(ready.loc[ready["ready"].astype(bool), "rep_id"],
                            ready.loc[ready["ready"].astype(bool), "next_role"]):
        line = t("coaching.promotion", lang).format(role=t(str(role), lang))
        out[str(rep_id)] = f"{out[str(rep_id)]} {line}" if str(rep_id) in out else line
    return out


def _all_arrays(frame: pd.DataFrame, columns) -> dict:
    """``{rep_id: {column: that rep's values}}`` by positions, without a frame per rep."""
    cols = {c: frame[c].to_numpy() for c in columns}
    return {rep: {c: v[pos] for c, v in cols.items()}
            for rep, pos in frame.groupby("rep_id", sort=False).indices.items()}


def pack_filename(rep_id: str) -> str:
    """``<slug>.html``: the rep id when it is a safe file name, else a readable stem and a
    short hash (:func:`telesales_lab.present.slugs.slug`)."""
    return slug(rep_id) + ".html"


def pack_filenames(rep_ids) -> dict[str, str]:
    """``{rep_id: file name}`` for a whole team list, unique even where case is ignored
    (:func:`telesales_lab.present.slugs.unique_slugs`); the report's index uses the same map."""
    return {rep: s + ".html" for rep, s in unique_slugs(rep_ids).items()}


def build_packs(data, month: str, out_dir, lang: str = "en", rep_ids=None, progress=None,
                policy=None, atomic: bool = True) -> list[Path]:
    """Write a coaching pack per active rep as ``<out_dir>/<slug>.html`` (:func:`pack_filenames`).

    The month's aggregates are computed once for everyone; each page is then rendered
    from that rep's slice without starting a kernel.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    out_dir : path
        Folder to write into (created). The monthly report passes
        ``reports/YYYY-MM/coaching``.
    lang : {"en", "zh"}
    rep_ids : list of str, optional
        Only these reps (each must be active); default every active rep
        (:func:`active_reps`).
    progress : callable or tqdm-like, optional
        Called as ``progress(done, total, rep_id)`` after each page, or ``progress.update(1)``
        if it has an ``update`` method.
    policy : dict, path or None
    atomic : bool, default True
        Write each page beside its place and move it there, so a page is never seen half
        written. The monthly report, which builds its whole folder aside and swaps it in at
        once, writes them in place (a rename per page saved).

    Returns
    -------
    list of Path
        The pages written, in rep order.
    """
    check_lang(lang)
    ctx = _context(data, month, policy, lang)
    if rep_ids is None:
        rep_ids = ctx["active"]
    else:
        rep_ids = [str(r) for r in rep_ids]
        for r in rep_ids:
            _check_active(ctx, data, r, month)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template = _environment()
    names = pack_filenames(data.reps["rep_id"])
    status = _status(data, month, policy, lang)
    tables = _all_tables(ctx, lang)
    skills = _all_arrays(ctx["sections"]["skills"], _SKILL_CHART)
    funnels = _all_arrays(ctx["sections"]["funnel"], _FUNNEL_CHART)
    no_skills = {c: np.array([]) for c in _SKILL_CHART}
    written = []
    people = ctx["reps"].loc[list(rep_ids)].to_dict("index")  # one record per rep, not a Series each
    for i, rep_id in enumerate(rep_ids, 1):  # one page per rep from the shared, pre-rendered parts
        rep = people[rep_id]
        head = {"rep_id": rep_id, "team": rep["team"], "month": ctx["month"],
                "name": "" if pd.isna(rep.get("name")) else str(rep.get("name")), "status": status.get(rep_id, ""),
                "summary": pack_summary(ctx, rep_id)}
        charts = {"funnel": _funnel_chart(funnels[rep_id], lang),
                  "skills": _skills_chart(skills.get(rep_id, no_skills), lang)}
        html = _page(head, {s: tables[s].get(rep_id) for s in SECTIONS}, charts, lang, template)
        path = out / names.get(str(rep_id)) or pack_filename(rep_id)
        if atomic:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, path)
        else:
            path.write_text(html, encoding="utf-8")
        written.append(path)
        if progress is not None:
            if hasattr(progress, "update"):
                progress.update(1)
            else:
                progress(i, len(rep_ids), rep_id)
    return written
