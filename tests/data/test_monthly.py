"""Each customer's first order: the rows the sort-and-drop definition keeps, ties and gaps included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from telesales_lab.data.load import load_dataset
from telesales_lab.data.monthly import first_order_rows
from telesales_lab.data.schema import is_kept_order


def _by_definition(orders: pd.DataFrame) -> np.ndarray:
    kept = orders.reset_index(drop=True)
    kept = kept[np.asarray(is_kept_order(kept["status"]), dtype=bool)]
    first = kept.sort_values(["ordered_at", "order_id"], kind="stable").drop_duplicates("customer_id")
    return np.sort(first.index.to_numpy())


@pytest.fixture(scope="module")
def demo():
    return load_dataset(ROOT / "data" / "demo", cache=False)


def test_first_orders_of_the_demo(demo):
    assert np.array_equal(np.sort(first_order_rows(demo)), _by_definition(demo.orders))


@pytest.mark.parametrize("gaps", ["none", "customer", "order_id", "time", "month"])
def test_ties_and_missing_values_are_settled_as_the_definition_settles_them(demo, gaps):
    """Orders at midnight (many customers order twice a day), and then missing customers,
    order ids and times, and a whole month of ties; the rows shuffled, so that table order says
    nothing about the order ids."""
    rng = np.random.default_rng(3)
    orders = demo.orders.copy()
    orders["ordered_at"] = orders["ordered_at"].dt.normalize()
    steps = ["none", "customer", "order_id", "time", "month"]
    upto = steps.index(gaps)
    if upto >= 1:
        orders.loc[rng.random(len(orders)) < 0.05, "customer_id"] = pd.NA
    if upto >= 2:
        orders.loc[rng.random(len(orders)) < 0.05, "order_id"] = pd.NA
    if upto >= 3:
        orders.loc[rng.random(len(orders)) < 0.05, "ordered_at"] = pd.NaT
    if upto >= 4:
        orders["ordered_at"] = orders["ordered_at"].dt.to_period("M").dt.start_time
    orders = orders.sample(frac=1.0, random_state=5).reset_index(drop=True)
    data = demo.replace(orders=orders)
    rows = first_order_rows(data)
    assert len(np.unique(rows)) == len(rows)
    assert np.array_equal(np.sort(rows), _by_definition(orders))


def test_no_kept_orders(demo):
    orders = demo.orders.assign(status=pd.Categorical(["cancelled"] * len(demo.orders),
                                                      categories=demo.orders["status"].cat.categories))
    assert len(first_order_rows(demo.replace(orders=orders))) == 0
