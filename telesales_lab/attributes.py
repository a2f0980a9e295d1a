"""Conversion by call and customer attributes, with Wilson intervals and plain notes.

Imported data sets (see :mod:`telesales_lab.importer`) keep the columns a trainer
analyses as extra columns on calls and customers: the contact channel, the attempt
number, the previous campaign's outcome, the customer's job or age band... This
module answers "which of them go with more sales?" for any such column, and for the
timing keys derived from ``started_at`` (weekday, month of year, hour):

- :func:`conversion_by` sums the connected calls and sales per group once (sufficient
  statistics) and adds the Wilson score interval of each group's conversion rate;
- :func:`conversion_notes` turns such a table into sentences on when and how often to
  call, computed from the table (nothing is hard-coded);
- :func:`conversion_chart` plots it.

Conversion here is ``sales / connected calls`` as in :mod:`telesales_lab.outcomes`.
These are associations, not effects: who was called when, and how often, was chosen
by the campaign, not at random.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .exceptions import ParameterError
from .i18n import check_lang, register, t, translate_columns
from .inference import wilson_interval
from .schema import CONNECTED_OUTCOMES, PERSONAL_COLUMNS

#: Keys derived from ``calls.started_at``.
TIME_KEYS = ("weekday", "month_of_year", "month", "hour")
#: The value columns of :func:`conversion_by`, in order.
CONVERSION_COLUMNS = ("calls", "sales", "conversion_rate", "ci_low", "ci_high", "share_of_calls", "lift")
#: Kinds of note :func:`conversion_notes` can add to the comparison of groups.
NOTE_KINDS = ("timing", "attempts", "segment", "channel", "duration")
_LEADING_NUMBER = re.compile(r"^\s*(<)?\s*(-?\d+(?:\.\d+)?)")


def _natural_key(label) -> tuple:
    """Sort key putting band labels in order: ``<25``, ``25-34``, ..., ``65+``; text after."""
    if pd.isna(label):
        return (2, 0.0, "")
    match = _LEADING_NUMBER.match(str(label))
    if match is None:
        return (1, 0.0, str(label))
    return (0, float(match.group(2)) - (0.5 if match.group(1) else 0.0), str(label))


def band_labels(edges) -> list[str]:
    """Labels of the bands cut at ``edges``: ``<a``, ``a-b``, ..., ``z+``.

    Band ``i`` holds ``edges[i-1] <= value < edges[i]``. With whole-number edges the
    labels are inclusive (``25-34``; a one-value band is just ``3``), otherwise
    half-open (``2.5-<5``).
    """
    edges = [float(e) for e in edges]
    whole = all(e.is_integer() for e in edges)
    fmt = (lambda v: f"{int(v)}") if whole else (lambda v: f"{v:g}")
    out = [f"<{fmt(edges[0])}"]
    for lo, hi in zip(edges[:-1], edges[1:]):
        if whole:
            out.append(fmt(lo) if hi - 1 == lo else f"{fmt(lo)}-{fmt(hi - 1)}")
        else:
            out.append(f"{fmt(lo)}-<{fmt(hi)}")
    out.append(f"{fmt(edges[-1])}+")
    return out


def attribute_calls(data) -> pd.DataFrame:
    """The connected calls with their customers' attributes and time keys.

    Parameters
    ----------
    data : Dataset or None
        From :func:`telesales_lab.io.load_dataset`; None (no data, see
        :func:`telesales_lab.importer.import_or_skip`) gives None.

    Returns
    -------
    DataFrame or None
        One row per connected call (outcome other than ``no_answer``): every column of
        ``calls`` (extra columns included), every column of ``customers`` except the
        personal ones (name, phone) and those calls already has, and ``sale`` (bool),
        ``weekday`` (0 = Monday), ``month_of_year`` (1-12), ``month`` (``YYYY-MM``) and
        ``hour`` (0-23).
    """
    if data is None:
        return None
    calls = data.calls
    calls = calls[calls["outcome"].isin(CONNECTED_OUTCOMES).to_numpy(bool)].reset_index(drop=True)
    customers = data.customers
    personal = set(PERSONAL_COLUMNS.get("customers", ()))
    extra = [c for c in customers.columns if c not in personal and c not in calls.columns]
    out = calls.copy()
    if extra:
        attrs = customers.set_index("customer_id")[extra]
        out = out.join(attrs, on="customer_id")
    out["sale"] = (out["outcome"] == "sale").to_numpy(bool)
    started = out["started_at"]
    out["weekday"] = started.dt.day_of_week.astype("int64")
    out["month_of_year"] = started.dt.month.astype("int64")
    out["month"] = started.dt.strftime("%Y-%m").astype("string")
    out["hour"] = started.dt.hour.astype("int64")
    return out


def conversion_by(data, by: str, bins=None, confidence: float = 0.95) -> pd.DataFrame:
    """Conversion rate of connected calls per value of one attribute.

    Parameters
    ----------
    data : Dataset or DataFrame or None
        A data set, or the frame of :func:`attribute_calls` (faster when tabulating
        many attributes); None gives None.
    by : str
        A column of calls or customers (extra columns included), or one of
        ``weekday``, ``month_of_year``, ``month``, ``hour``.
    bins : list of numbers, optional
        Cut a numeric column into bands at these edges (see :func:`band_labels`),
        e.g. ``[2, 3, 4, 5, 6, 8, 11]`` for attempt numbers.
    confidence : float, default 0.95
        Level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per group with connected calls, in the group's natural order (bands
        and numbers ascending, text alphabetically; missing last), columns ``<by>,
        calls, sales, conversion_rate, ci_low, ci_high, share_of_calls, lift``:
        ``calls`` connected calls, ``conversion_rate = sales / calls``, ``ci_low`` and
        ``ci_high`` its Wilson interval, ``share_of_calls`` the group's share of all
        connected calls and ``lift`` its rate over the overall rate.

    Raises
    ------
    ParameterError
        If ``by`` is not a column, ``bins`` are not increasing numbers, a binned column
        is not numeric, or ``confidence`` is not in (0, 1).
    """
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence == {confidence!r}, must be in (0, 1)")
    if data is None:
        return None
    calls = data if isinstance(data, pd.DataFrame) else attribute_calls(data)
    if by not in calls.columns or by in ("sale",):
        usable = [c for c in calls.columns if c not in ("call_id", "customer_id", "started_at", "sale")]
        raise ParameterError(f"by == {by!r}, must be a column of the calls or customers: {', '.join(usable)}")
    key = calls[by]
    order = None
    if bins is not None:
        edges = list(bins) if isinstance(bins, (list, tuple, np.ndarray)) else None
        if (not edges or not all(isinstance(e, (int, float, np.number)) for e in edges)
                or any(b <= a for a, b in zip(edges[:-1], edges[1:]))):
            raise ParameterError(f"bins == {bins!r}, must be a list of increasing numbers")
        numbers = pd.to_numeric(key, errors="coerce")
        bad = numbers.isna() & key.notna()
        if bad.any():
            raise ParameterError(f"by == {by!r} cannot be cut into bins: it is not a number in "
                                 f"{int(bad.sum())} calls, e.g. {key[bad].iloc[0]!r}")
        order = band_labels(edges)
        index = np.searchsorted(np.asarray(edges, dtype=float), numbers.to_numpy(float, na_value=np.nan),
                                side="right")
        key = pd.Series(pd.Categorical(np.asarray(order, dtype=object)[index], categories=order, ordered=True),
                        index=calls.index).where(numbers.notna())
    elif not isinstance(key.dtype, pd.CategoricalDtype) and not pd.api.types.is_bool_dtype(key):
        numbers = pd.to_numeric(key, errors="coerce")
        if key.notna().any() and (numbers.notna() == key.notna()).all():
            key = numbers  # text that is all numbers (e.g. attempt read from CSV) sorts as numbers
            if (numbers.dropna() % 1 == 0).all():
                key = numbers.astype("Int64")
    sums = (pd.DataFrame({by: key, "sale": calls["sale"].to_numpy(bool)})
            .groupby(by, observed=True, dropna=False, sort=True)["sale"].agg(["size", "sum"]))
    n = sums["size"].to_numpy(float)
    k = sums["sum"].to_numpy(float)
    low, high = wilson_interval(k, n, confidence)
    overall = k.sum() / n.sum() if n.sum() else np.nan
    out = pd.DataFrame({
        by: sums.index,
        "calls": n.astype("int64"),
        "sales": k.astype("int64"),
        "conversion_rate": k / n,
        "ci_low": low,
        "ci_high": high,
        "share_of_calls": n / n.sum(),
        "lift": (k / n) / overall if overall else np.nan,
    })
    if order is not None:
        out[by] = pd.Categorical(out[by].astype(object), categories=order, ordered=True)
    elif pd.api.types.is_string_dtype(out[by]) or out[by].dtype == object:
        out = out.iloc[sorted(range(len(out)), key=lambda i: _natural_key(out[by].iloc[i]))]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------- notes
def _group_label(key: str, value, lang: str) -> str:
    if pd.isna(value):
        return t("attributes.missing", lang)
    if key == "weekday":
        return t(f"weekday_{int(value)}", lang)
    if key == "month_of_year":
        return t(f"month_{int(value)}", lang)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)  # a row of mixed types turns whole-number keys into floats
    return t(str(value), lang)


def _pct(v: float) -> str:
    return f"{v:.1%}"


def conversion_notes(table: pd.DataFrame, kind: str | None = None, lang: str = "en",
                     min_calls: int = 30, attempt_ratio: float = 0.5) -> list[str]:
    """Sentences a trainer can act on, computed from a :func:`conversion_by` table.

    Parameters
    ----------
    table : DataFrame or None
        From :func:`conversion_by`; None gives no notes.
    kind : {"timing", "attempts", "segment", "duration"}, optional
        Adds the advice for that kind of attribute: *timing* (weekday, month, hour:
        when to call), *attempts* (attempt number, in order: how often to call),
        *segment* (customer attribute: whom to call first), *channel* (how to
        reach the customer), *duration* (call length:
        an outcome of the call, not a lever). None gives the comparison only.
    lang : {"en", "zh"}
    min_calls : int, default 30
        Groups with fewer connected calls are left out of best/worst comparisons.
    attempt_ratio : float, default 0.5
        For ``kind="attempts"``: suggest a cap at the last attempt before the first one
        whose upper interval bound is below this fraction of the first attempt's rate.

    Returns
    -------
    list of str
    """
    check_lang(lang)
    if table is None:
        return []
    if kind is not None and kind not in NOTE_KINDS:
        raise ParameterError(f"kind == {kind!r}, must be one of {'|'.join(NOTE_KINDS)} or None")
    missing = [c for c in CONVERSION_COLUMNS if c not in table.columns]
    if missing:
        raise ParameterError(f"table lacks column(s) {', '.join(missing)}: pass a conversion_by() result")
    key = next(c for c in table.columns if c not in CONVERSION_COLUMNS)
    name = t(key, lang)
    overall = table["sales"].sum() / table["calls"].sum()
    ok = table[table["calls"] >= min_calls].reset_index(drop=True)
    notes = []
    if len(ok) < 2:
        return [t("attributes.too_few", lang).format(name=name, min_calls=min_calls)]
    best = ok.loc[ok["conversion_rate"].idxmax()]
    worst = ok.loc[ok["conversion_rate"].idxmin()]

    def describe(row) -> str:
        return t("attributes.group", lang).format(
            group=_group_label(key, row[key], lang), rate=_pct(row["conversion_rate"]),
            low=_pct(row["ci_low"]), high=_pct(row["ci_high"]), n=f"{int(row['calls']):,}")

    notes.append(t("attributes.best_worst", lang).format(
        name=name, best=describe(best), worst=describe(worst), overall=_pct(overall)))
    clear = best["ci_low"] > worst["ci_high"]
    notes.append(t("attributes.clear" if clear else "attributes.overlap", lang))
    above = ok[ok["ci_low"] > overall]
    below = ok[ok["ci_high"] < overall]
    if len(above):
        notes.append(t("attributes.above", lang).format(
            overall=_pct(overall), groups=", ".join(_group_label(key, v, lang) for v in above[key])))
    if len(below):
        notes.append(t("attributes.below", lang).format(
            overall=_pct(overall), groups=", ".join(_group_label(key, v, lang) for v in below[key])))
    if kind == "timing":
        if len(above):
            share = above["share_of_calls"].sum()
            notes.append(t("attributes.timing_shift", lang).format(
                groups=", ".join(_group_label(key, v, lang) for v in above[key]), share=_pct(share)))
            typical = 1 / len(table)
            if share < typical * len(above) / 2:
                notes.append(t("attributes.low_volume", lang).format(share=_pct(share)))
        else:
            notes.append(t("attributes.timing_flat", lang).format(name=name))
    elif kind == "attempts":
        first = ok.iloc[0]
        limit = attempt_ratio * first["conversion_rate"]
        drop = ok.index[(ok["ci_high"] < limit).to_numpy(bool)]
        if len(drop) and drop[0] > 0:
            at = ok.loc[drop[0]]
            match = _LEADING_NUMBER.match(str(at[key]))
            cap = (f"{float(match.group(2)) - 1:g}" if match and not match.group(1)
                   else _group_label(key, ok.loc[drop[0] - 1][key], lang))
            notes.append(t("attributes.attempt_cap", lang).format(
                at=_group_label(key, at[key], lang), high=_pct(at["ci_high"]),
                ratio=f"{attempt_ratio:.0%}", first=_pct(first["conversion_rate"]),
                first_group=_group_label(key, first[key], lang), cap=cap))
        else:
            notes.append(t("attributes.attempt_flat", lang).format(
                ratio=f"{attempt_ratio:.0%}", first_group=_group_label(key, first[key], lang),
                last=_group_label(key, ok.iloc[-1][key], lang)))
    elif kind == "segment" and len(above):
        notes.append(t("attributes.segment_first", lang).format(
            groups=", ".join(_group_label(key, v, lang) for v in above[key])))
    elif kind == "channel" and len(above):
        notes.append(t("attributes.channel_first", lang).format(
            groups=", ".join(_group_label(key, v, lang) for v in above[key])))
    elif kind == "duration":
        notes.append(t("attributes.duration", lang).format(best=_group_label(key, best[key], lang),
                                                          worst=_group_label(key, worst[key], lang)))
    return notes


def labelled(table: pd.DataFrame | None, lang: str = "en") -> pd.DataFrame | None:
    """A :func:`conversion_by` table for display: group labels and headers in ``lang``.

    Returns
    -------
    DataFrame or None
        The same rows; the group column holds display labels (``Mon``, ``周一``...)
        and the headers are translated; None gives None.
    """
    check_lang(lang)
    if table is None:
        return None
    key = next(c for c in table.columns if c not in CONVERSION_COLUMNS)
    out = table.copy()
    out[key] = [_group_label(key, v, lang) for v in table[key]]
    return translate_columns(out, lang) if lang != "en" else out


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


# labels other modules may register too: only fill them in where missing
register({k: v for k, v in {
    "calls": ("calls", "通话数"),
    "sales": ("sales", "成交量"),
    "hour": ("hour", "时段"),
    "conversion_rate": ("conversion rate", "成交率"),
    **{f"weekday_{i}": (en, zh) for i, (en, zh) in enumerate(zip(
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), ("周一", "周二", "周三", "周四", "周五", "周六", "周日")))},
}.items() if t(k, "zh") == k})
register({
    "ci_low": ("CI low", "置信下限"),
    "ci_high": ("CI high", "置信上限"),
    "share_of_calls": ("share of calls", "通话占比"),
    "lift": ("lift", "提升倍数"),
    "month_of_year": ("month", "月份"),
    **{f"month_{i}": (name, f"{i}月") for i, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)},
    "attributes.missing": ("(missing)", "（缺失）"),
    "attributes.overall": ("overall rate", "总体成交率"),
    "attributes.chart_title": ("Conversion by {name} (95% Wilson interval; calls above bars)",
                               "按{name}的成交率（95% Wilson 区间；柱上为通话数）"),
    "attributes.too_few": ("{name}: fewer than two groups have {min_calls} or more connected calls; "
                           "nothing to compare.",
                           "{name}：通话数不少于 {min_calls} 的分组不足两个，无法比较。"),
    "attributes.group": ("{group} at {rate} (95% CI {low}-{high}, {n} calls)",
                         "{group} 为 {rate}（95% 区间 {low}-{high}，{n} 通）"),
    "attributes.best_worst": ("By {name}: highest {best}; lowest {worst}; overall {overall}.",
                              "按{name}：最高 {best}；最低 {worst}；总体 {overall}。"),
    "attributes.clear": ("The two intervals do not overlap: the difference is larger than chance would make it.",
                         "两个区间不重叠：差异超出了偶然波动的范围。"),
    "attributes.overlap": ("The two intervals overlap: the difference could be chance; do not act on it yet.",
                           "两个区间重叠：差异可能只是偶然，暂不宜据此调整。"),
    "attributes.above": ("Clearly above the overall {overall} (whole interval above it): {groups}.",
                         "明显高于总体 {overall}（整个区间都在其上）：{groups}。"),
    "attributes.below": ("Clearly below the overall {overall} (whole interval below it): {groups}.",
                         "明显低于总体 {overall}（整个区间都在其下）：{groups}。"),
    "attributes.timing_shift": ("When to call: schedule more of the calling in {groups} (now {share} of "
                                "the calls).",
                                "何时拨打：把更多拨打安排在 {groups}，目前只占通话的 {share}。"),
    "attributes.low_volume": ("Caution: these high-converting periods carry few calls ({share} together); "
                              "part of their edge may come from who was called then (e.g. callbacks to "
                              "warm leads), so test a shift on a sample before moving the whole team.",
                              "注意：这些高成交时段的通话量很少（合计 {share}），部分优势可能来自当时拨打的对象"
                              "（如回访意向客户），应先小范围试点，再整体调整排班。"),
    "attributes.timing_flat": ("When to call: no {name} is clearly above the overall rate; the timing "
                               "of calls can follow staffing.",
                               "何时拨打：没有哪个{name}明显高于总体，拨打时间可按人手安排。"),
    "attributes.attempt_cap": ("How often to call: on attempt {at}, conversion is at most {high} "
                               "(upper 95% bound), below {ratio} of the {first} on attempt {first_group}. "
                               "Consider capping attempts at {cap} per customer and giving the time to "
                               "fresh leads.",
                               "拨打频次：第 {at} 次拨打的成交率至多 {high}（95% 上限），低于第 {first_group} 次"
                               " {first} 的 {ratio}。建议每位客户最多拨打 {cap} 次，把时间留给新线索。"),
    "attributes.attempt_flat": ("How often to call: up to attempt {last} no attempt is clearly below "
                                "{ratio} of attempt {first_group}'s rate; no cap is indicated by these data.",
                                "拨打频次：直到第 {last} 次，没有哪一次明显低于第 {first_group} 次成交率的 "
                                "{ratio}，数据不支持设定上限。"),
    "attributes.segment_first": ("Whom to call first: {groups} convert clearly above average; put "
                                 "them at the front of the calling list.",
                                 "优先拨打：{groups} 的成交率明显高于平均，应排在拨打名单前列。"),
    "attributes.channel_first": ("How to call: {groups} convert clearly above average; where a "
                                 "customer can be reached several ways, use it first.",
                                 "如何拨打：{groups} 的成交率明显高于平均；客户有多种联系方式时应优先使用。"),
    "attributes.duration": ("Call length: {best} calls convert most and {worst} calls least, but a "
                            "call's length is known only after it ends (customers who are not "
                            "interested hang up early). Use it for coaching (keep qualified customers "
                            "talking with questions), not to choose whom or when to call, and do not "
                            "push reps to shorten calls.",
                            "通话时长：{best} 的通话成交率最高，{worst} 最低；但时长要到通话结束才知道"
                            "（无意向的客户会早早挂断）。它适合用于辅导（用提问让有意向的客户多谈），"
                            "不能用来决定打给谁或何时打，也不应催坐席缩短通话。"),
    # headings of the Bank Marketing notebook (06_bank_marketing)
    "bank.title": ("Telemarketing conversion by attribute: UCI Bank Marketing",
                   "按属性看电话营销成交率：UCI 银行营销数据"),
    "bank.about": ("41,188 real calls of a Portuguese bank's term-deposit campaigns (May 2008 - Nov 2010; "
                   "Moro, Cortez & Rita 2014, CC BY 4.0). Each row is the last call to a customer in a "
                   "campaign; all are connected calls. Conversion = subscriptions / calls, with 95% Wilson "
                   "intervals. These are associations, not effects: the bank chose whom to call when.",
                   "葡萄牙某银行定期存款营销的 41,188 通真实通话（2008年5月至2010年11月；Moro、Cortez 与 Rita 2014，"
                   "CC BY 4.0）。每行是一次营销中对某客户的最后一通电话，均已接通。成交率 = 认购数 / 通话数，附 95% "
                   "Wilson 区间。以下均为相关而非因果：打给谁、何时打是银行选择的。"),
    "bank.attempt": ("How often: conversion by attempt number", "拨打频次：按第几次拨打的成交率"),
    "bank.attempt_caveat": ("Attempt = contacts to the customer in this campaign, this call included. "
                            "The row is the last contact, so a high attempt number also means the earlier "
                            "attempts did not close.",
                            "拨打次数 = 本次营销中对该客户的联系次数（含本次）。每行是最后一次联系，"
                            "所以次数高也意味着此前几次都未成交。"),
    "bank.weekday": ("When: conversion by weekday", "何时拨打：按星期的成交率"),
    "bank.month_of_year": ("When: conversion by month of the year", "何时拨打：按月份的成交率"),
    "bank.month": ("Conversion month by month", "逐月成交率"),
    "bank.channel": ("How: conversion by contact channel", "如何拨打：按联系方式的成交率"),
    "bank.previous": ("Whom: conversion by the previous campaign's outcome", "打给谁：按上次营销结果的成交率"),
    "bank.segment": ("Whom: conversion by customer segment", "打给谁：按客户群的成交率"),
    "bank.duration": ("Call length: conversion by call duration", "通话时长：按通话时长的成交率"),
    # the Bank Marketing attributes
    "contact_channel": ("contact channel", "联系方式"),
    "attempt": ("attempt", "拨打次数"),
    "previous_outcome": ("previous campaign outcome", "上次营销结果"),
    "duration_band": ("call duration", "通话时长"),
    "age_band": ("age band", "年龄段"),
    "job": ("job", "职业"),
    "marital": ("marital status", "婚姻状况"),
    "education": ("education", "教育程度"),
    "credit_default": ("credit in default", "信用违约"),
    "housing_loan": ("housing loan", "房贷"),
    "personal_loan": ("personal loan", "个人贷款"),
    "cellular": ("cellular", "手机"),
    "telephone": ("landline", "固话"),
    "nonexistent": ("not contacted before", "此前未联系"),
    "failure": ("earlier campaign failed", "上次未成功"),
    "success": ("earlier campaign succeeded", "上次成功"),
})
