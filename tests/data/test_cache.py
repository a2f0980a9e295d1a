"""The data set cannot change and its cache cannot lie: in-place edits reach neither, callers
get copies, results are keyed on the tables (by version), month and policy they depend on."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from telesales_lab.analysis.calibration import assessor_drift
from telesales_lab.analysis.customers import _calls_by_customer, classify_customers
from telesales_lab.analysis.evaluation import evaluate, kpi_trend
from telesales_lab.data.cache import CacheKeyError, cached, make_key
from telesales_lab.data.load import Dataset, load_dataset
from telesales_lab.data.monthly import call_month_stats, call_months
from telesales_lab.exceptions import ParameterError

MONTH = "2026-10"


@pytest.fixture(scope="module")
def folder(demo_folder):
    return demo_folder(seed=7, n_calls=20_000)[0]


@pytest.fixture(scope="module")
def reference(folder):
    """Results from a data set that nobody edits."""
    data = load_dataset(folder, cache=False)
    return {"evaluate": evaluate(data, MONTH), "trend": kpi_trend(data, MONTH, 3),
            "classes": classify_customers(data, MONTH), "orders": data.orders, "calls": data.calls}


# ----------------------------------------------------------------------------- failure (a): in-place edits
def test_editing_a_table_in_place_cannot_change_the_data_set_or_its_results(folder, reference):
    data = load_dataset(folder, cache=False)
    pd.testing.assert_frame_equal(evaluate(data, MONTH), reference["evaluate"], check_exact=True)  # now remembered
    top = reference["evaluate"]["rep_id"].iloc[0]
    # the usual ways of editing a frame in place, on what the data set hands out
    orders = data.orders
    orders.loc[orders["rep_id"] == top, "amount"] *= 1000
    with pytest.warns(pd.errors.ChainedAssignmentError):  # pandas says the edit cannot reach the data set
        data.orders["amount"] = 0.0
    with pytest.warns(pd.errors.ChainedAssignmentError):
        data.tables["orders"].loc[0, "status"] = "cancelled"
    with pytest.warns(pd.errors.ChainedAssignmentError):
        data.calls["outcome"] = "no_answer"
    with pytest.warns(pd.errors.ChainedAssignmentError):
        data.tables["calls"].iloc[:100, 0] = "X"
    pd.testing.assert_frame_equal(data.orders, reference["orders"], check_exact=True)
    pd.testing.assert_frame_equal(data.calls, reference["calls"], check_exact=True)
    pd.testing.assert_frame_equal(evaluate(data, MONTH), reference["evaluate"], check_exact=True)
    pd.testing.assert_frame_equal(kpi_trend(data, MONTH, 3), reference["trend"], check_exact=True)
    pd.testing.assert_frame_equal(classify_customers(data, MONTH), reference["classes"], check_exact=True)
    with pytest.raises(ValueError, match="read-only"):
        data.orders["amount"].to_numpy()[0] = 1.0


def test_tables_cannot_be_replaced_in_place_only_through_replace(folder, reference):
    data = load_dataset(folder, cache=False)
    with pytest.raises(AttributeError, match=r"cannot set 'orders': data.replace\(orders=frame\)"):
        data.orders = reference["orders"].head(10)
    with pytest.raises(TypeError, match=r"read-only: data.replace\(orders=frame\)"):
        data.tables["orders"] = reference["orders"].head(10)
    with pytest.raises(TypeError, match="read-only"):
        del data.tables["training_log"]
    with pytest.raises(AttributeError, match="cannot set 'cache'"):
        data.cache = None
    # an edit is seen when it makes a new data set
    before = evaluate(data, MONTH)
    top = before["rep_id"].iloc[0]
    orders = data.orders
    orders.loc[orders["rep_id"] == top, "amount"] = 0.0
    changed = data.replace(orders=orders)
    after = evaluate(changed, MONTH).set_index("rep_id")
    assert after.loc[top, "sales"] < before.set_index("rep_id").loc[top, "sales"]
    pd.testing.assert_frame_equal(evaluate(changed, MONTH), evaluate(Dataset(folder, dict(changed.tables)), MONTH),
                                  check_exact=True)
    pd.testing.assert_frame_equal(evaluate(data, MONTH), before, check_exact=True)


def test_a_frame_given_to_a_data_set_can_still_be_edited_by_its_owner(folder, reference):
    data = load_dataset(folder, cache=False)
    tables = {name: frame for name, frame in data.tables.items()}
    mine = Dataset(folder, tables, dict(data.files))
    first = evaluate(mine, MONTH)
    tables["orders"].loc[:, "amount"] = 0.0  # the caller's own frame
    pd.testing.assert_frame_equal(mine.orders, reference["orders"], check_exact=True)
    pd.testing.assert_frame_equal(evaluate(mine, MONTH), first, check_exact=True)


# ----------------------------------------------------------------------------- failure (b): handed-out results
def test_results_are_handed_out_as_copies_never_the_kept_object(folder, reference):
    data = load_dataset(folder, cache=False)
    assert call_month_stats(data) is not call_month_stats(data)
    kept = call_month_stats(data).copy()
    got = call_month_stats(data)
    got["n_calls"] = 0
    got.loc[got.index[:50], "q_n"] = 10 ** 6
    del got["obj_k"]
    with pytest.raises(ValueError, match="read-only"):
        call_month_stats(data)["close_k"].to_numpy()[0] = 5
    pd.testing.assert_frame_equal(call_month_stats(data), kept, check_exact=True)
    pd.testing.assert_frame_equal(evaluate(data, MONTH), reference["evaluate"], check_exact=True)
    e = evaluate(data, MONTH)
    e["total"] = -1.0
    pd.testing.assert_frame_equal(evaluate(data, MONTH), reference["evaluate"], check_exact=True)
    drift = assessor_drift(data, MONTH)
    drift.loc[:, "flagged"] = True
    assert not assessor_drift(data, MONTH)["flagged"].all()
    coded = _calls_by_customer(data)
    with pytest.raises(ValueError, match="read-only"):
        coded["code"][0] = 7
    assert isinstance(call_months(data), frozenset)


# ----------------------------------------------------------------------------- the cache object
def test_keys_name_the_tables_with_their_versions_the_month_and_the_policy(folder):
    data = load_dataset(folder, cache=False)
    evaluate(data, MONTH)
    names = {k.name for k in data.cache.keys()}
    assert {"calls_by_month", "order_month_stats", "skill_evidence", "evaluation_detail", "assessor_drift"} <= names
    key = next(k for k in data.cache.keys() if k.name == "evaluation_detail")
    assert key.month == MONTH and '"kpi"' in key.policy and '"customers"' not in key.policy
    assert dict(key.tables) == {t: data.version(t) for t in ("assessments", "calls", "feedback", "orders", "reps")}
    assert data.cache.misses > 0 and len(data.cache) == data.cache.summary()["n_results"].sum()
    changed = data.replace(feedback=data.feedback.head(0))
    assert changed.version("calls") == data.version("calls") and changed.version("feedback") != data.version("feedback")
    carried = {k.name for k in changed.cache.keys()}
    assert {"calls_by_month", "order_month_stats"} <= carried
    assert not {"evaluation_detail", "skill_evidence", "feedback_month_stats"} & carried
    assert "feedback_month_stats" in names  # the old data set keeps everything
    hits = changed.cache.hits
    call_month_stats(changed)
    assert changed.cache.hits == hits + 1


def test_a_computation_that_reads_a_table_its_key_leaves_out_is_an_error(folder):
    data = load_dataset(folder, cache=False)
    with pytest.raises(CacheKeyError, match="'sneaky' reads table 'orders', which its key does not name"):
        cached(data, "sneaky", ("calls",), lambda: len(data.orders))
    assert not any(k.name == "sneaky" for k in data.cache.keys())
    call_month_stats(data)  # remembered; reading it inside another computation reads calls
    with pytest.raises(CacheKeyError, match="'outer' reads table 'calls'"):
        cached(data, "outer", ("orders",), lambda: call_month_stats(data))
    assert cached(data, "outer", ("calls", "orders"), lambda: len(call_month_stats(data))) > 0
    assert make_key(data, "x", ("orders", "calls")).tables == (("calls", data.version("calls")),
                                                             ("orders", data.version("orders")))


def test_an_object_without_a_cache_computes_each_time():
    n = []
    ns = SimpleNamespace(calls=pd.DataFrame({"x": [1]}))
    for _ in range(2):
        cached(ns, "count", ("calls",), lambda: n.append(1) or len(n))
    assert n == [1, 1]


def test_replace_refuses_unknown_and_required_tables_and_drops_optional_ones(folder):
    data = load_dataset(folder, cache=False)
    with pytest.raises(ParameterError, match=r"replace\(order=...\): 'order' is not a table"):
        data.replace(order=data.orders)
    with pytest.raises(ParameterError, match=r"replace\(calls=None\): 'calls' is a required table"):
        data.replace(calls=None)
    assert data.has("training_log")
    without = data.replace(training_log=None)
    assert not without.has("training_log") and without.version("training_log") is None
    assert "training_log" not in without.tables and data.has("training_log")
    with pytest.raises(AttributeError, match="has no 'training_log' table"):
        without.training_log


def test_a_pickled_data_set_has_the_same_tables_and_an_empty_cache(folder):
    data = load_dataset(folder, cache=False)
    call_month_stats(data)
    again = pickle.loads(pickle.dumps(data))
    assert len(again.cache) == 0 and again.source == data.source and dict(again.files) == dict(data.files)
    for name in data.tables:
        pd.testing.assert_frame_equal(again.tables[name], data.tables[name], check_exact=True)
    np.testing.assert_array_equal(call_month_stats(again)["n_calls"], call_month_stats(data)["n_calls"])
