"""Tables for people: the analyses' tidy frames formatted for a page.

Analyses return raw tidy frames (the workbook and ``--format csv`` use them unchanged); this
module turns one into a :class:`pandas.io.formats.style.Styler` for a notebook page:

- no index column, and no "N rows x M columns" footer (a Styler has none);
- headers and category values in the page's language (``cold_call``, ``best``, ``True``, skills,
  roles ... through :func:`telesales_lab.labels.t`);
- numbers by kind: rates as %, money with thousands separators, counts as whole numbers,
  scores with one decimal, small quantities with two, p-values with three, and estimated
  probabilities (``prob_best``) as whole percents that never claim certainty (">99%", "<1%");
- a missing value shown as a word ("no evidence" / "无证据"), never ``None`` or ``nan``;
- rep names beside rep ids (staff names; customers never get a name);
- sorted by what matters and cut to the top rows, with "top N of M; full table in the
  workbook" under the table.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from telesales_lab.labels import has, t

#: Rows a page shows of a long table by default.
TOP_ROWS = 15

_RATE = re.compile(r"(^|_)(rate|share|prob|pct|effect|ci_low|ci_high|loss|diff|relative)(_|$)|_rate_|^within_")
_MONEY = re.compile(r"revenue|amount|order_value|(^|_)value$|spend")
_P = re.compile(r"^p_(value|adj)$|^(mh_)?p_value$")
_PROB = re.compile(r"^prob(_|$)|(^|_)probability$")
_ID = re.compile(r"(^|_)id$")
#: Columns whose values are shown as they are (a grade "A" is not the customer class "A").
AS_IS = frozenset({"grade", "best_grade", "worst_grade", "period"})
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}


def _zh_number(text: str) -> int | None:
    """The value of a Chinese numeral up to 99 (一, 十二, 二十三), or None."""
    if not text:
        return None
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = _ZH_DIGITS.get(head, None) if head else 1
        ones = _ZH_DIGITS.get(tail, None) if tail else 0
        return None if tens is None or ones is None else tens * 10 + ones
    if all(ch in _ZH_DIGITS for ch in text):
        value = 0
        for ch in text:
            value = value * 10 + _ZH_DIGITS[ch]
        return value
    return None


_NUM_PART = re.compile(r"(\d+|[零〇一二两三四五六七八九十]+)")


def natural_key(value) -> tuple:
    """Sort key that puts 一组, 二组, 三组 (and team 2 before team 10) in their natural order."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ((2, ""),)
    parts = []
    for piece in _NUM_PART.split(str(value)):
        if not piece:
            continue
        number = int(piece) if piece.isdigit() else _zh_number(piece)
        parts.append((0, number) if number is not None else (1, piece))
    return tuple(parts)


def natural_sorted(values) -> list:
    """``values`` sorted by :func:`natural_key`."""
    return sorted(values, key=natural_key)


def column_kind(name: str, values: pd.Series) -> str:
    """How a column is shown: rate, prob, money, p, count, score, small, bool, date or text."""
    name = str(name)
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    if not pd.api.types.is_numeric_dtype(values):
        if isinstance(values.dtype, pd.StringDtype):  # strings only: no need to look at each value
            return "text"
        present = values.dropna().tolist()  # an all-empty text column stays text
        if present and all(isinstance(v, (bool, np.bool_)) for v in present):
            return "bool"
        return "text"
    if _P.search(name):
        return "p"
    if _PROB.search(name):
        return "prob"
    finite = values.to_numpy(dtype=float, na_value=np.nan)  # a page's few rows: NumPy, not pandas
    finite = finite[np.isfinite(finite)]
    if _MONEY.search(name):
        return "money"
    if _RATE.search(name) and (finite.size == 0 or np.abs(finite).max() <= 1.0):
        return "rate"
    if pd.api.types.is_integer_dtype(values) or (finite.size and (finite == np.round(finite)).all()
                                                and not _RATE.search(name)):
        return "count"
    if finite.size and np.abs(finite).max() < 10:
        return "small"
    return "score"


def metric_kind(metric) -> str:
    """The kind of a metric named in a long table's ``metric`` column (``contact_rate`` -> rate)."""
    name = str(metric)
    if _MONEY.search(name):
        return "money"
    if _RATE.search(name):
        return "rate"
    if name in ("dials", "connected", "positive", "sales", "calls", "orders", "objections", "saved"):
        return "count"
    return "score"


def percent_estimate(p: float) -> str:
    """An estimated probability as a whole percent that never claims certainty: ">99%", "<1%",
    "87%"."""
    if p >= 0.995:
        return ">99%"
    if p <= 0.005:
        return "<1%"
    return f"{p:.0%}"


def _formatter(kind: str, lang: str, context: str | None, na: str):
    yes, no = t("table.yes", lang), t("table.no", lang)

    def missing(v) -> bool:
        try:
            return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v))
        except TypeError:
            return False

    def fmt(v):
        if missing(v):
            return na
        if kind == "rate":
            return f"{v:.1%}"
        if kind == "prob":
            return percent_estimate(v)
        if kind == "money":
            return f"{v:,.0f}" if abs(v) >= 100 or v == 0 else f"{v:,.2f}"
        if kind == "p":
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        if kind == "count":
            return f"{int(round(v)):,}"
        if kind == "small":
            return f"{v:,.2f}"
        if kind == "score":
            return f"{v:,.1f}"
        if kind == "bool":
            return yes if bool(v) else no
        if kind == "date":
            return f"{pd.Timestamp(v):%Y-%m-%d}"
        text = str(v)
        if kind == "as_is":
            return text
        return t(text, lang, context) if has(text, context) else text

    return fmt


def _with_names(frame: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """A ``rep_name`` column right after ``rep_id`` (staff names only)."""
    if reps is None or "rep_id" not in frame or "rep_name" in frame or "name" not in reps:
        return frame
    names = reps.drop_duplicates("rep_id").set_index("rep_id")["name"]
    out = frame.copy()
    out.insert(out.columns.get_loc("rep_id") + 1, "rep_name", out["rep_id"].map(names))
    return out


def shown(frame: pd.DataFrame, *, sort=None, ascending=False, top: int | None = TOP_ROWS,
          columns=None, reps=None) -> tuple[pd.DataFrame, int]:
    """The rows and columns a page shows of ``frame``, and how many rows the full table has.

    Parameters
    ----------
    frame : DataFrame
        A tidy result table (left unchanged).
    sort : str or list of str, optional
        Columns to sort by (what matters: a score, a rate, a count). ``team`` columns sort in
        natural order (一组, 二组, 三组). Ties keep the analysis' order, never the id's.
    ascending : bool or list of bool, default False
    top : int or None, default :data:`TOP_ROWS`
        Rows kept; None keeps all.
    columns : list of str, optional
        Columns shown (others stay in the workbook); ``rep_name`` is added after ``rep_id``.
    reps : DataFrame, optional
        ``data.reps`` (``rep_id``, ``name``), to show names beside rep ids.

    Returns
    -------
    (DataFrame, int)
        The shown frame (default index) and the full table's row count.
    """
    out = _with_names(frame, reps)
    if columns is not None:
        keep = [c for c in columns if c in out]
        if "rep_name" in out and "rep_id" in keep and "rep_name" not in keep:
            keep.insert(keep.index("rep_id") + 1, "rep_name")
        out = out[keep]
    if sort:
        by = [sort] if isinstance(sort, str) else list(sort)
        by = [c for c in by if c in out]
        if by:
            asc = list(ascending) if isinstance(ascending, (list, tuple)) else [ascending] * len(by)
            asc = [True if c == "team" else a for c, a in zip(by, asc)]
            out = out.sort_values(by, ascending=asc, kind="stable", na_position="last",
                                  key=lambda s: s.map(natural_key) if s.name == "team" else s)
    total = len(out)
    if top is not None and total > top:
        out = out.head(top)
    return out.reset_index(drop=True), total


def style(frame: pd.DataFrame, lang: str = "en", *, context: str | None = None, sort=None,
          ascending=False, top: int | None = TOP_ROWS, columns=None, reps=None, kinds: dict | None = None,
          caption: str | None = None, not_applicable=()):
    """``frame`` as a Styler for a page: see the module docstring for what it does.

    Parameters
    ----------
    frame : DataFrame
        A tidy result table from an analysis.
    lang : {"en", "zh"}
    context : str, optional
        Label context of the table (``"script_ranking"``, ``"evaluation"`` ...), for headers and
        values that mean something else there.
    sort, ascending, top, columns, reps
        See :func:`shown`.
    kinds : dict, optional
        Column -> kind (``rate``, ``prob``, ``money``, ``p``, ``count``, ``score``, ``small``, ``bool``,
        ``date``, ``text``) where the name does not tell.
    caption : str, optional
        A line above the table.
    not_applicable : list of str, optional
        Columns where a missing value means "does not apply" (shown as "–", like an empty id)
        rather than "no evidence".

    Returns
    -------
    pandas.io.formats.style.Styler
        Renders as HTML without index; a long table ends with "top N of M rows; full table in
        the workbook".
    """
    out, total = shown(frame, sort=sort, ascending=ascending, top=top, columns=columns, reps=reps)
    na = t("table.no_evidence", lang)
    explicit = dict(kinds or {})
    kinds = {c: explicit.get(c) or ("as_is" if c in AS_IS else column_kind(c, out[c])) for c in out.columns}
    long = "metric" in out  # a long table (metric, current, previous ...): each row in its metric's format
    cells = []
    for c in out.columns:
        # an id left empty (no coach for a classroom module) is "not applicable", not a missing estimate
        missing = "–" if _ID.search(str(c)) or c in not_applicable else na
        values = out[c].tolist()
        if long and c != "relative_change" and c not in explicit and pd.api.types.is_numeric_dtype(out[c]):
            cells.append([_formatter(metric_kind(m), lang, context, missing)(v) for m, v in zip(out["metric"], values)])
        else:  # formatted up front (to text), so a Styler renders the same in every pandas version
            fmt = _formatter(kinds[c], lang, context, missing)
            cells.append([fmt(v) for v in values])
    text = pd.DataFrame(dict(enumerate(cells)), index=out.index, dtype=object)  # one frame, not a column at a time
    text.columns = [t(str(c), lang, context) for c in out.columns]
    if text.columns.duplicated().any():
        text.columns = [f"{label} ({c})" if dup else label for label, c, dup in
                        zip(text.columns, out.columns, text.columns.duplicated(keep=False))]
    styler = text.style.format(escape="html").hide(axis="index")
    numeric = [i for i, c in enumerate(out.columns) if kinds[c] not in ("text", "as_is", "bool", "date")]
    styler = styler.set_table_styles([{"selector": f"td.col{i}, th.col{i}", "props": "text-align: right;"}
                                      for i in numeric], overwrite=False)
    styler = styler.set_table_attributes('class="tl-table"')
    notes = []
    if caption:
        notes.append(caption)
    if len(out) < total:
        notes.append(t("table.top_rows", lang).format(n=len(out), total=f"{total:,}"))
    if notes:
        styler = styler.set_caption(" · ".join(notes)).set_table_styles(
            [{"selector": "caption", "props": "caption-side: bottom; text-align: left; color: #555;"}],
            overwrite=False)
    return styler


def to_html(frame: pd.DataFrame, lang: str = "en", **options) -> str:
    """:func:`style` rendered to an HTML ``<table>`` (for pages built outside a notebook)."""
    return style(frame, lang, **options).to_html()


def translate_values(frame: pd.DataFrame, lang: str = "en", context: str | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with category values and yes/no in ``lang`` (numbers unchanged).

    For sheets and CSV files meant to be read in Chinese: ``cold_call`` becomes 陌生电话,
    ``True`` becomes 是. Values that are not catalog keys (ids, names) stay as they are.
    """
    if lang == "en":
        return frame
    from telesales_lab.labels import catalog

    out = frame.copy()
    yes, no = t("table.yes", lang), t("table.no", lang)
    cat = catalog("en")
    import pyarrow as pa
    import pyarrow.compute as pc

    key_set = pa.array(sorted(set(cat["labels"]) | set(cat["context"].get(context, {}))),  # what has() accepts
                       type=pa.string())
    for c in out.columns:
        col = out[c]
        kind = column_kind(c, col)
        if kind not in ("bool", "text") or (kind == "text" and c in AS_IS):
            continue
        present = col.notna().to_numpy(bool)  # missing values stay as they are
        new = col.astype(object).to_numpy(copy=True)
        if kind == "bool":
            new[present] = np.where(col[present].astype(bool).to_numpy(bool), yes, no)
        else:
            text = col.astype(str)
            listed = pc.is_in(pa.array(text.array), value_set=key_set)  # ids and names are no catalog keys
            hit = present & listed.to_numpy(zero_copy_only=False).astype(bool)
            if not hit.any():
                continue
            mapping = {v: t(v, lang, context) for v in pd.unique(text[hit])}
            new[hit] = text[hit].map(mapping).to_numpy(object)
        out[c] = pd.Series(new, index=out.index, dtype=object)
    return out
