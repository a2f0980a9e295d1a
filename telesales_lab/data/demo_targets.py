"""Sales targets for the demo data set, with planted under- and over-achievers.

Targets are set the way a sales plan would set them had the lead guessed each rep's month
well: every rep (role ``rep``) gets a ``revenue`` and a ``sales`` target for each month of
the window after the first, near what the rep then did (the month's actual times a factor
drawn from 0.85-1.20, so attainment falls between about 83 % and 118 %). In the last month
a few reps are *planted*:

* **under-achievers**: revenue target = actual x 1.7 (attainment 1/1.7, about 59 %);
* **over-achievers**: revenue target = actual x 0.6 (attainment 1/0.6, about 167 %).

Teams get ``new_customers`` targets only (no rep has one), so the analyses must split them
over the reps by the policy's rule. Revenue targets are rounded to 100, counts to whole
numbers (at least 1), so the planted attainment is exact up to that rounding; the truth
records each planted rep's target and actual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.data.schema import is_kept_order

#: Revenue target over actual for the planted reps.
UNDER_FACTOR = 1.7
OVER_FACTOR = 0.6
N_PLANTED = 3


def demo_targets(rng, tables: dict[str, pd.DataFrame], end_month: str, months: int) -> tuple[pd.DataFrame, dict]:
    """The ``targets`` table of the demo and its planted truth.

    Parameters
    ----------
    rng : numpy.random.Generator
        The targets' own random stream.
    tables : dict of str to DataFrame
        The demo's other tables as text (``reps``, ``calls``, ``orders``).
    end_month : str
        Last month of the window, ``YYYY-MM``.
    months : int
        Length of the window.

    Returns
    -------
    targets : DataFrame
        ``month, rep_id, team, metric, target`` as text the way it is written to CSV.
    truth : dict
        ``under_achiever_ids``, ``over_achiever_ids``, ``planted_month``, ``factors``
        (target / actual), ``planted`` {rep_id: {"target", "actual", "attainment"}}
        for the planted reps' revenue, and ``team_metric`` ("new_customers").
    """
    end = pd.Period(end_month, freq="M")
    target_months = [end - k for k in range(months - 2, -1, -1)]
    reps = tables["reps"]
    sellers = reps[reps["role"] == "rep"].reset_index(drop=True)
    hired = pd.to_datetime(sellers["hired_on"])

    orders = tables["orders"]
    ok = is_kept_order(orders["status"])
    o = pd.DataFrame({"month": pd.to_datetime(orders.loc[ok, "ordered_at"]).dt.to_period("M"),
                      "rep_id": orders.loc[ok, "rep_id"], "amount": orders.loc[ok, "amount"].astype(float),
                      "customer_id": orders.loc[ok, "customer_id"],
                      "t": pd.to_datetime(orders.loc[ok, "ordered_at"]), "order_id": orders.loc[ok, "order_id"]})
    revenue = o.groupby(["month", "rep_id"])["amount"].sum()
    calls = tables["calls"]
    sale = calls["outcome"] == "sale"
    sales = calls[sale].groupby([pd.to_datetime(calls.loc[sale, "started_at"]).dt.to_period("M"),
                                 calls.loc[sale, "rep_id"]]).size()
    first = o.sort_values(["t", "order_id"], kind="stable").drop_duplicates("customer_id")
    team_of = dict(zip(reps["rep_id"], reps["team"]))
    new = first.groupby([first["month"], first["rep_id"].map(team_of)]).size()

    rows = []
    truth_planted: dict[str, dict] = {}
    under: list[str] = []
    over: list[str] = []
    for p in target_months:  # a handful of months
        active = sellers[(hired < p.end_time).to_numpy()]
        ids = active["rep_id"].to_numpy()
        key = pd.MultiIndex.from_arrays([[p] * len(ids), ids])
        rev = revenue.reindex(key).fillna(0.0).to_numpy()
        n_sales = sales.reindex(key).fillna(0).to_numpy(dtype=float)
        factor = rng.uniform(0.85, 1.20, len(ids))
        # a rep with nothing that month gets the team's median as the base
        teams = active["team"].to_numpy()
        med_rev = pd.Series(rev).groupby(teams).transform("median").to_numpy()
        med_sales = pd.Series(n_sales).groupby(teams).transform("median").to_numpy()
        rev_base = np.where(rev > 0, rev, med_rev)
        sales_base = np.where(n_sales > 0, n_sales, med_sales)
        rev_factor = factor.copy()
        if p == end:
            order = rng.permutation(np.flatnonzero(rev > 0))
            u, v = order[:N_PLANTED], order[N_PLANTED:2 * N_PLANTED]
            rev_factor[u], rev_factor[v] = UNDER_FACTOR, OVER_FACTOR
            under, over = sorted(ids[u].tolist()), sorted(ids[v].tolist())
        rev_target = np.maximum(np.round(rev_base * rev_factor / 100.0) * 100.0, 100.0)
        sales_target = np.maximum(np.round(sales_base * factor), 1.0)
        month = str(p)
        for metric, target in (("revenue", rev_target), ("sales", sales_target)):
            rows.append(pd.DataFrame({"month": month, "rep_id": ids, "team": pd.NA, "metric": metric,
                                      "target": target}))
        if p == end:
            for i in np.r_[u, v]:
                truth_planted[str(ids[i])] = {"target": float(rev_target[i]), "actual": float(rev[i]),
                                              "attainment": float(rev[i] / rev_target[i])}
        team_names = sorted(set(teams))
        n_new = new.reindex(pd.MultiIndex.from_arrays([[p] * len(team_names), team_names])).fillna(0).to_numpy()
        team_target = np.maximum(np.round(n_new * rng.uniform(0.9, 1.15, len(team_names))), 1.0)
        rows.append(pd.DataFrame({"month": month, "rep_id": pd.NA, "team": team_names, "metric": "new_customers",
                                  "target": team_target}))
    targets = pd.concat(rows, ignore_index=True)
    truth = {"planted_month": str(end), "metric": "revenue", "under_achiever_ids": under,
             "over_achiever_ids": over, "factors": {"under": UNDER_FACTOR, "over": OVER_FACTOR,
                                                    "others": [0.85, 1.20]},
             "planted": truth_planted, "team_metric": "new_customers",
             "rule": "target = the month's actual x factor (rounded to 100 for revenue, whole numbers >= 1 "
                     "for counts); team targets for new_customers only"}
    return targets, truth
