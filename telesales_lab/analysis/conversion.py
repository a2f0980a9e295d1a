"""Conversion by call and customer attributes, with Wilson intervals and plain notes.

Imported data sets (see :mod:`telesales_lab.data.importer`) keep the columns a trainer
analyses as extra columns on calls and customers: the contact channel, the attempt
number, the previous campaign's outcome, the customer's job or age band... This
module answers "which of them go with more sales?" for any such column, and for the
timing keys derived from ``started_at`` (weekday, month of year, hour):

- :func:`conversion_by` sums the connected calls and sales per group once (sufficient
  statistics) and adds the Wilson score interval of each group's conversion rate;
- :func:`conversion_notes` turns such a table into sentences on when and how often to
  call, computed from the table (nothing is hard-coded);
- :func:`conversion_chart` plots it.

Conversion here is ``sales / connected calls`` as in :mod:`telesales_lab.analysis.outcomes`.
These are associations, not effects: who was called when, and how often, was chosen
by the campaign, not at random.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t, translate_columns
from telesales_lab.analysis.inference import wilson_interval
from telesales_lab.data.schema import CONNECTED_OUTCOMES, PERSONAL_COLUMNS
from telesales_lab.data.bands import _LEADING_NUMBER, _natural_key, band_labels


#: Keys derived from ``calls.started_at``.
TIME_KEYS = ("weekday", "month_of_year", "month", "hour")


#: The value columns of :func:`conversion_by`, in order.
CONVERSION_COLUMNS = ("calls", "sales", "conversion_rate", "ci_low", "ci_high", "share_of_calls", "lift")


#: Kinds of note :func:`conversion_notes` can add to the comparison of groups.
NOTE_KINDS = ("timing", "attempts", "segment", "channel", "duration")


def attribute_calls(data) -> pd.DataFrame:
    """The connected calls with their customers' attributes and time keys.

    Parameters
    ----------
    data : Dataset or None
        From :func:`telesales_lab.data.load.load_dataset`; None (no data, see
        :func:`telesales_lab.data.importer.import_or_skip`) gives None.

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
