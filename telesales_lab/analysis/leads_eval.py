"""Out-of-time evaluation of the lead score, against two simple baselines.

For a month: fit the lead model on the months before it (:func:`telesales_lab.leads.fit_lead_model`),
score the customers who were reached in the month, and compare with what happened on their
connected calls. Each customer counts with the weight of their connected calls (``sales`` of
them positive, the rest negative), so every figure is per connected call, as the score is.

The measures (:func:`ranking_metrics`):

* ``auc``: area under the ROC curve; tied scores count half (a diagonal segment);
* ``alift``: area under the cumulative lift curve of Moro, Cortez & Rita (2014): the share of
  all sales reached (y) against the share of calls made (x) when calling in score order; 0.5
  is random, ``1 - rate / 2`` is perfect;
* ``top_half_share``: the share of sales reached by calling the better-scored half of the calls;
* ``brier``: mean squared difference between the probability and the outcome (only for
  scores that are probabilities; the recency baseline has none, so it is empty).

Tied scores are never ordered by id: the curves run straight through a group of tied scores.

The baselines:

* ``segment_rate``: the past conversion of the customer's segment (the customer attribute whose
  past rates predicted best; shrunk toward the overall rate);
* ``recency``: days since the customer's last positive outcome (callback, interested or sale)
  before the month, fewer is better; customers never positive tie at the bottom.

:func:`backtest` repeats this month by month (a rolling window: each month is scored by a model
that saw only the months before it) and adds the pooled figures over all scored months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.analysis.leads import (
    _month_rows,
    _outcome_rows,
    _segment_predict,
    _training_months,
    fit_lead_model,
)
from telesales_lab.data.monthly import _flags
from telesales_lab.data.periods import in_month, parse_month
from telesales_lab.exceptions import ParameterError

SCORERS = ("lead_score", "segment_rate", "recency")


# ----------------------------------------------------------------------------- measures
def _curve(score, positives, negatives) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative weight of calls, positives and negatives at each distinct score, best first
    (a 0 prepended)."""
    s = np.asarray(score, float)
    pos, neg = np.asarray(positives, float), np.asarray(negatives, float)
    order = np.argsort(-s, kind="stable")
    s, pos, neg = s[order], pos[order], neg[order]
    cut = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last row of each tied group
    cp, cn = np.cumsum(pos)[cut], np.cumsum(neg)[cut]
    return np.r_[0.0, cp + cn], np.r_[0.0, cp], np.r_[0.0, cn]


def ranking_metrics(score, positives, negatives) -> dict:
    """AUC, ALIFT, share of sales in the top half and Brier score of one scorer.

    Parameters
    ----------
    score : array-like
        One score per row, larger = more likely; a row with a missing score is left out.
    positives, negatives : array-like
        Weight of positive (sale) and negative outcomes per row (e.g. a customer's sales
        and connected calls without a sale).

    Returns
    -------
    dict
        ``auc, alift, top_half_share, brier`` (NaN where undefined: no sales or no non-sales;
        ``brier`` only where every score is in [0, 1]).
    """
    s = np.asarray(score, float)
    pos, neg = np.asarray(positives, float), np.asarray(negatives, float)
    ok = ~np.isnan(s)
    s, pos, neg = s[ok], pos[ok], neg[ok]
    out = dict(auc=np.nan, alift=np.nan, top_half_share=np.nan, brier=np.nan)
    P, N = pos.sum(), neg.sum()
    if P <= 0 or N <= 0:
        return out
    calls, cp, cn = _curve(s, pos, neg)
    x, y = calls / (P + N), cp / P
    out["auc"] = float(np.trapezoid(cp / P, cn / N))
    out["alift"] = float(np.trapezoid(y, x))
    out["top_half_share"] = float(np.interp(0.5, x, y))
    finite = s[np.isfinite(s)]
    if len(finite) == len(s) and finite.min() >= 0 and finite.max() <= 1:
        out["brier"] = float(((pos * (1 - s) ** 2) + (neg * s ** 2)).sum() / (P + N))
    return out


def calibration_bins(score, positives, negatives, bins: int = 10) -> pd.DataFrame:
    """Calibration table: calls in ``bins`` groups of about equal size by score.

    Returns
    -------
    DataFrame
        ``bin`` (1 = lowest scores), ``connected``, ``sales``, ``mean_score`` (weighted),
        ``observed_rate``, ``ci_low``, ``ci_high`` (95 % Wilson interval of the observed rate).
        Tied scores stay in one bin, so a bin may be larger than the others.
    """
    from telesales_lab.analysis.inference import wilson_interval

    s = np.asarray(score, float)
    pos, neg = np.asarray(positives, float), np.asarray(negatives, float)
    ok = ~np.isnan(s)
    s, pos, neg = s[ok], pos[ok], neg[ok]
    w = pos + neg
    frame = pd.DataFrame({"s": s, "pos": pos, "w": w}).sort_values("s", kind="stable")
    # the weighted rank of each distinct score's group, mid-group, cut into bins
    g = frame.groupby("s", sort=True)[["pos", "w"]].sum()
    mid = (g["w"].cumsum() - g["w"] / 2) / max(g["w"].sum(), 1e-300)
    g["bin"] = np.minimum((mid * bins).astype(int) + 1, bins)
    g["sw"] = g.index.to_numpy() * g["w"]
    t = g.groupby("bin").agg(connected=("w", "sum"), sales=("pos", "sum"), sw=("sw", "sum")).reset_index()
    t["mean_score"] = t["sw"] / t["connected"]
    t["observed_rate"] = t["sales"] / t["connected"]
    lo, hi = wilson_interval(t["sales"].to_numpy(), t["connected"].to_numpy())
    t["ci_low"], t["ci_high"] = lo, hi
    return t[["bin", "connected", "sales", "mean_score", "observed_rate", "ci_low", "ci_high"]]


# ----------------------------------------------------------------------------- one month
def month_scores(data, month: str, policy=None, model=None, **options) -> pd.DataFrame:
    """Each customer reached in ``month`` with what happened and the three scores.

    Returns
    -------
    DataFrame
        ``month, customer_id, connected, sales, lead_score, segment_rate, recency`` (recency =
        minus the days since the last positive outcome; -inf where never positive; the lead
        score is empty if the model had no evidence). ``attrs["model"]`` holds the model.
    """
    p = parse_month(month)
    if _outcome_rows(data, p).empty:
        raise ParameterError(f"no connected calls in month {month}: nothing to evaluate")
    if model is None:
        model = fit_lead_model(data, str(p), policy, **options)
    y = _month_rows(data, p, policy)  # the month's customers with their features at its start
    x = y.drop(columns=["connected", "sales"])
    out = pd.DataFrame({"month": str(p), "customer_id": y["customer_id"].to_numpy(),
                        "connected": y["connected"].to_numpy(), "sales": y["sales"].to_numpy()})
    out["lead_score"] = model.predict(x)
    out["segment_rate"] = _segment_predict(model.segment_, x) if hasattr(model, "segment_") else np.nan
    out["recency"] = -x["days_since_positive"].fillna(np.inf).to_numpy()
    out.attrs["model"] = model
    out.attrs["features"] = x
    return out


def _table(scores: pd.DataFrame, month_label: str, model_kind: str) -> pd.DataFrame:
    rows = []
    pos = scores["sales"].to_numpy(float)
    neg = scores["connected"].to_numpy(float) - pos
    for scorer in SCORERS:
        m = ranking_metrics(scores[scorer].to_numpy(float), pos, neg)
        rows.append({"month": month_label, "scorer": scorer, "model": model_kind if scorer == "lead_score" else scorer,
                     "customers": len(scores), "connected": int(pos.sum() + neg.sum()), "sales": int(pos.sum()),
                     "rate": pos.sum() / max(pos.sum() + neg.sum(), 1), **m})
    return pd.DataFrame(rows)


def evaluate_leads(data, month: str, policy=None, **options) -> pd.DataFrame:
    """Out-of-time evaluation of one month: fit on the months before, score the month.

    Returns
    -------
    DataFrame
        One row per scorer (``lead_score``, ``segment_rate``, ``recency``): ``month, scorer,
        model`` (for the lead score: ``gradient_boosting``, or ``segment_rate`` where history
        was too thin and the fallback scored), ``customers, connected, sales, rate, auc, alift,
        top_half_share, brier``.
    """
    s = month_scores(data, month, policy, **options)
    return _table(s, str(parse_month(month)), s.attrs["model"].kind_)


def backtest(data, end_month: str, months: int = 6, policy=None, **options) -> pd.DataFrame:
    """Rolling-window backtest: :func:`evaluate_leads` for each of the ``months`` latest months
    with connected calls up to ``end_month`` (each with at least one month before it), and the
    pooled figures over all of them (``month = "all"``: the calls of every scored month ranked
    together, each by the model of its own month).

    Returns
    -------
    DataFrame
        The :func:`evaluate_leads` columns, one block per month, then the pooled block.
    """
    if not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError(f"months == {months!r}, must be a whole number >= 1")
    end = parse_month(end_month)
    have = _training_months(data, end + 1, None)
    have = [m for m in have if m <= end][1:]  # the first month has nothing before it
    if not have:
        raise ParameterError(f"no month up to {end_month} has connected calls and a month with "
                             "connected calls before it: nothing to backtest")
    parts, tables = [], []
    for m in have[-months:]:
        s = month_scores(data, str(m), policy, **options)
        parts.append(s)
        tables.append(_table(s, str(m), s.attrs["model"].kind_))
    pooled = pd.concat(parts, ignore_index=True)
    kinds = sorted({p.attrs["model"].kind_ for p in parts})
    tables.append(_table(pooled, "all", "+".join(kinds)))
    out = pd.concat(tables, ignore_index=True)
    out.attrs["scores"] = pooled
    return out


def calibration_table(data, month: str, policy=None, bins: int = 10, **options) -> pd.DataFrame:
    """:func:`calibration_bins` of the lead score on ``month``, out of time."""
    s = month_scores(data, month, policy, **options)
    pos = s["sales"].to_numpy(float)
    return calibration_bins(s["lead_score"].to_numpy(float), pos, s["connected"].to_numpy(float) - pos, bins)


# ----------------------------------------------------------------------------- for the leads page
def gains_curves(scores: pd.DataFrame) -> pd.DataFrame:
    """The cumulative lift curve of each scorer in a :func:`month_scores` frame.

    Returns
    -------
    DataFrame
        ``scorer, share_of_calls, share_of_sales`` (one point per distinct score, from (0, 0)).
    """
    pos = scores["sales"].to_numpy(float)
    neg = scores["connected"].to_numpy(float) - pos
    parts = []
    for scorer in SCORERS:
        s = scores[scorer].to_numpy(float)
        ok = ~np.isnan(s)
        if not ok.any() or pos[ok].sum() <= 0:
            continue
        calls, cp, _ = _curve(s[ok], pos[ok], neg[ok])
        parts.append(pd.DataFrame({"scorer": scorer, "share_of_calls": calls / calls[-1],
                                   "share_of_sales": cp / cp[-1]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["scorer", "share_of_calls", "share_of_sales"])


def permutation_importance_table(scores: pd.DataFrame, n_repeats: int = 5, random_state: int = 0) -> pd.DataFrame:
    """What drives the score, out of time: the drop in weighted AUC on the scored month when one
    feature's values are shuffled (:func:`sklearn.inspection.permutation_importance`).

    Parameters
    ----------
    scores : DataFrame
        From :func:`month_scores` (its ``attrs`` hold the model and the features).

    Returns
    -------
    DataFrame
        ``feature, importance_mean, importance_sd``, largest first; empty where the month was
        not scored by the boosting model.
    """
    from telesales_lab.analysis.leads import MODEL_BOOSTING, _binary_rows

    model = scores.attrs["model"]
    cols = ["feature", "importance_mean", "importance_sd"]
    if model.kind_ != MODEL_BOOSTING:
        return pd.DataFrame(columns=cols)
    x = scores.attrs["features"].assign(connected=scores["connected"].to_numpy(), sales=scores["sales"].to_numpy())
    rows, y, w = _binary_rows(x)
    if len(np.unique(y)) < 2:
        return pd.DataFrame(columns=cols)
    imp = _permutation_importances(model, model.matrix(x)[rows], y, w, n_repeats, random_state)
    out = pd.DataFrame({"feature": model.features_, "importance_mean": np.mean(imp, axis=1),
                        "importance_sd": np.std(imp, axis=1)})
    return out.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)


def _permutation_importances(model, x: np.ndarray, y: np.ndarray, w: np.ndarray, n_repeats: int,
                             random_state: int) -> np.ndarray:
    """Drop in weighted AUC per feature (rows) and repeat (columns) when the feature's values are
    shuffled: what :func:`sklearn.inspection.permutation_importance` with ``scoring="roc_auc"``
    gives (the same shuffles from the same seed, the same log-odds), with each shuffled feature
    re-evaluated only in the trees that split on it."""
    from sklearn.metrics import roc_auc_score
    from sklearn.utils import check_random_state

    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max + 1)
    rng = check_random_state(seed)  # every feature is shuffled with the same permutations
    shuffle, rows, perms = np.arange(len(x)), np.arange(len(x)), []
    for _ in range(n_repeats):  # each repeat shuffles the already shuffled column again
        rng.shuffle(shuffle)
        rows = rows[shuffle]
        perms.append(rows)
    changes = [(j, p) for j in range(x.shape[1]) for p in perms]
    base, changed = model._logits_changed(x, changes)
    baseline = roc_auc_score(y, base, sample_weight=w)
    scores = np.array([roc_auc_score(y, z, sample_weight=w) for z in changed]).reshape(x.shape[1], n_repeats)
    return baseline - scores


def reached_customers(data, month: str | pd.Period) -> pd.Index:
    """The customers the centre's calls reached in ``month`` (any outcome but ``no_answer``),
    each once, in the order of their first such call: whom the centre chose to reach, for
    :func:`top_n_card`."""
    calls = data.calls
    keep = in_month(calls["started_at"], month).to_numpy(bool) & ~_flags(calls["outcome"], ("no_answer",))
    return pd.Index(calls["customer_id"][keep], name="customer_id").unique()


def top_n_card(leads: pd.DataFrame, current: pd.Series) -> dict:
    """The numbers of the leads page's summary card.

    Parameters
    ----------
    leads : DataFrame
        :func:`telesales_lab.analysis.leads.score_leads` for the coming month.
    current : Series
        Ids of the customers the centre reached in the month just ended (its current order of
        calling: whom it chose to reach).

    Returns
    -------
    dict
        ``n`` (as many leads as customers reached), ``expected_top`` (expected sales from one
        connected call with each of the ``n`` best-scored), ``expected_current`` (the same for
        the customers reached last month, scored for the coming month), ``scored``.
    """
    s = leads["score"].dropna().sort_values(ascending=False, kind="stable")
    reached = pd.Index(current).unique()
    n = int(min(len(reached), len(s)))
    cur = leads.set_index("customer_id")["score"].reindex(reached).dropna()
    return {"n": n, "expected_top": float(s.head(n).sum()), "expected_current": float(cur.head(n).sum()),
            "scored": int(len(s))}
