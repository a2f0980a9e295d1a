"""Do the customer classes predict value? An out-of-time check of three ways to rank customers.

For each month M, every customer acquired before M is ranked as it stood at the start of M,
and the ranking is compared with the revenue the customer brought in the ``horizon`` months
from M on (non-cancelled orders, M included):

* ``composite``: the policy's class (:func:`telesales_lab.analysis.customers.class_at_start`);
* ``rfm``: a plain RFM split of the same lookback window: recency, frequency and monetary
  each scored 1-5 by quintile (ties share a score; a customer without orders scores 0 on all
  three), summed, and cut into the top 15 % (A), the next 35 % (B) and the rest (C);
* ``lead_score``: the lead score's expected value for M (``score`` where no order value is
  known), from :func:`telesales_lab.analysis.leads.score_leads` (optional: it fits a model).

The rank statistic is Kendall's tau-b between the ranking (A > B > C, or the score) and the
next revenue (scipy's ``kendalltau``, ties handled by tau-b), with the share of the next
revenue brought by the customers ranked A (the top 15 % of the lead score); the higher both
are, the better the ranking tells staff whom to look after first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.data.periods import parse_month
from telesales_lab.data.policy import resolve_policy
from telesales_lab.data.schema import is_kept_order
from telesales_lab.exceptions import ParameterError

RANKINGS = ("composite", "rfm", "lead_score")
_ORDINAL = {"A": 2, "B": 1, "C": 0}


def _quintile(values: pd.Series) -> np.ndarray:
    """1-5 by quintile of the customers with a value above 0 (ties share the lower score)."""
    out = np.zeros(len(values))
    v = values.to_numpy(float)
    some = v > 0
    if some.any():
        r = pd.Series(v[some]).rank(method="min", pct=True).to_numpy()
        out[some] = np.ceil(r * 5).clip(1, 5)
    return out


def rfm_classes(data, month: str, policy=None) -> pd.DataFrame:
    """The plain RFM split at the start of ``month`` (over the policy's lookback window).

    Returns
    -------
    DataFrame
        ``customer_id, recency_score, frequency_score, monetary_score, rfm_score,
        customer_class`` (A: top 15 % of rfm_score, B: next 35 %, C: the rest; customers tied
        at a cut share the better class).
    """
    policy = resolve_policy(policy)
    p = parse_month(month)
    start = p.start_time
    lookback = int(policy["customers"]["lookback_months"])
    cust = data.customers.loc[(data.customers["acquired_on"] < start).to_numpy(bool), ["customer_id"]]
    orders = data.orders
    kept = orders[is_kept_order(orders["status"]) & (orders["ordered_at"] < start).to_numpy(bool)]
    window = kept[kept["ordered_at"] >= (p - lookback).start_time]
    g = window.groupby("customer_id", observed=True)["amount"].agg(["size", "sum"])
    last = kept.groupby("customer_id", observed=True)["ordered_at"].max()
    out = cust.join(g, on="customer_id").join(last.rename("last"), on="customer_id")
    days = (start - out["last"]).dt.days.astype("float64")
    recency = (days.max() + 1 - days).fillna(0) if days.notna().any() else days.fillna(0)
    out["recency_score"] = _quintile(recency)
    out["frequency_score"] = _quintile(out["size"].fillna(0))
    out["monetary_score"] = _quintile(out["sum"].fillna(0))
    out["rfm_score"] = out[["recency_score", "frequency_score", "monetary_score"]].sum(axis=1)
    top = out["rfm_score"].rank(method="min", ascending=False, pct=True)
    out["customer_class"] = np.where(top <= 0.15, "A", np.where(top <= 0.50, "B", "C"))
    return out[["customer_id", "recency_score", "frequency_score", "monetary_score", "rfm_score",
                "customer_class"]].reset_index(drop=True)


def next_revenue(data, month: str, horizon: int = 3) -> pd.Series:
    """Non-cancelled order amount per customer in the ``horizon`` months from ``month`` on."""
    p = parse_month(month)
    orders = data.orders
    sel = (is_kept_order(orders["status"]) & (orders["ordered_at"] >= p.start_time).to_numpy(bool)
           & (orders["ordered_at"] < (p + horizon).start_time).to_numpy(bool))
    return orders[sel].groupby("customer_id", observed=True)["amount"].sum()


def class_value(data, months, horizon: int = 3, policy=None, lead_score: bool = True) -> pd.DataFrame:
    """Out-of-time check of the composite classes, an RFM split and the lead score.

    Parameters
    ----------
    data : Dataset
    months : list of str
        Months M (``YYYY-MM``) to rank at; each needs orders data for M..M+horizon-1.
    horizon : int
        Months of revenue after the ranking (default 3: the next quarter).
    policy : dict or path, optional
        The ``[customers]`` rules of the composite classes (and the RFM lookback).
    lead_score : bool
        Include the lead score (fits one model per month).

    Returns
    -------
    DataFrame
        One row per month and ranking: ``month, ranking, customers, kendall_tau, top_share``
        (share of the next revenue brought by the customers ranked A / the top 15 %),
        ``a_share`` (share of customers ranked A), ``next_revenue``.
    """
    from scipy.stats import kendalltau

    from telesales_lab.analysis.customers import class_at_start

    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParameterError(f"horizon == {horizon!r}, must be a whole number >= 1")
    policy = resolve_policy(policy)
    rows = []
    for month in months:
        p = parse_month(month)
        rev = next_revenue(data, str(p), horizon)
        ranked = {}
        comp = class_at_start(data, str(p), policy)
        rfm = rfm_classes(data, str(p), policy).set_index("customer_id")["customer_class"]
        ids = rfm.index
        ranked["composite"] = comp.reindex(ids).fillna("C").map(_ORDINAL).astype(float)
        ranked["rfm"] = rfm.map(_ORDINAL).astype(float)
        if lead_score:
            from telesales_lab.analysis.leads import score_leads

            leads = score_leads(data, str(p), policy=policy).set_index("customer_id")
            value = leads["expected_value"].where(leads["expected_value"].notna(), leads["score"])
            ranked["lead_score"] = value.reindex(ids).astype(float)
        y = rev.reindex(ids).fillna(0.0).to_numpy()
        total = y.sum()
        for name, score in ranked.items():
            s = score.to_numpy(float)
            ok = ~np.isnan(s)
            tau = kendalltau(s[ok], y[ok]).statistic if ok.sum() > 1 else np.nan
            if name == "lead_score":
                top = pd.Series(s).rank(method="min", ascending=False, pct=True).to_numpy() <= 0.15
            else:
                top = s == 2
            rows.append({"month": str(p), "ranking": name, "customers": int(ok.sum()), "kendall_tau": float(tau),
                         "top_share": float(y[top].sum() / total) if total > 0 else np.nan,
                         "a_share": float(top.mean()), "next_revenue": float(total)})
    return pd.DataFrame(rows)


def tier_agreement(data, month: str, tiers: dict, policy=None) -> pd.DataFrame:
    """Share of customers whose class equals a planted tier (the demo's ``customer_tier``).

    Returns
    -------
    DataFrame
        ``ranking`` (composite, rfm), ``agreement``.
    """
    from telesales_lab.analysis.customers import classify_customers

    truth = pd.Series(tiers)
    comp = classify_customers(data, month, policy).set_index("customer_id")["customer_class"].astype("string")
    nxt = str(parse_month(month) + 1)
    rfm = rfm_classes(data, nxt, policy).set_index("customer_id")["customer_class"]
    out = []
    for name, cls in (("composite", comp), ("rfm", rfm)):
        common = cls.index.intersection(truth.index)
        out.append({"ranking": name, "agreement": float((cls.reindex(common) == truth.reindex(common)).mean())})
    return pd.DataFrame(out)
