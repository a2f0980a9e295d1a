"""Call lists: capacity, one row per customer, the recency rule with its callback exception,
the customer kept with their rep, masked phones only."""

from __future__ import annotations

import re

import openpyxl
import pandas as pd
import pytest

from telesales_lab.analysis.call_list import COLUMNS, call_list, rep_capacity, write_call_lists
from telesales_lab.data.demo import write_demo
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.load import load_dataset
from telesales_lab.analysis.leads import score_leads

DAY = "2026-11-02"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "data"
    write_demo(folder, seed=7, n_customers=2000, n_calls=30_000)
    data = load_dataset(folder, cache=False)
    return data, score_leads(data, "2026-11")


@pytest.fixture(scope="module")
def roomy(demo):
    data, leads = demo
    return call_list(data, DAY, capacity=400, leads=leads)


def _last_calls(data):
    calls = data.calls[data.calls["started_at"] < pd.Timestamp(DAY)]
    return calls.sort_values("started_at", kind="stable")


def test_columns_and_each_customer_once(roomy):
    assert list(roomy.columns) == list(COLUMNS)
    assert not roomy["customer_id"].duplicated().any()
    orders = roomy.groupby("rep_id")["order"].apply(list)
    assert all(o == list(range(1, len(o) + 1)) for o in orders)
    assert set(roomy["care_item"]) >= {"callback", "revisit_due", "birthday"}


def test_new_leads_fill_the_free_places_by_expected_value(demo):
    data, _ = demo
    cust = data.customers
    new = cust.head(6).assign(customer_id=[f"N{i}" for i in range(6)], acquired_on=pd.Timestamp("2026-10-20"),
                              birthday=pd.NaT)
    more = data.replace(customers=pd.concat([cust, new], ignore_index=True))
    out = call_list(more, DAY, capacity=400)
    leads = out[out["care_item"] == "new_lead"]
    assert set(leads["customer_id"]) == set(new["customer_id"])


def test_capacity_is_respected(demo):
    data, leads = demo
    small = call_list(data, DAY, capacity=3, leads=leads)
    assert small.groupby("rep_id").size().max() == 3
    auto = call_list(data, DAY, leads=leads)
    cap = rep_capacity(data, DAY).set_index("rep_id")["capacity"]
    sizes = auto.groupby("rep_id").size()
    assert (sizes <= cap.reindex(sizes.index)).all()
    # the default capacity is each rep's median dials per calling day in the 28 days before
    calls = data.calls[(data.calls["started_at"] < pd.Timestamp(DAY))
                       & (data.calls["started_at"] >= pd.Timestamp(DAY) - pd.Timedelta(days=28))]
    rep = cap.index[0]
    mine = calls[calls["rep_id"] == rep]
    assert cap[rep] == max(round(mine.groupby(mine["started_at"].dt.date).size().median()), 1)
    with pytest.raises(ParameterError, match="capacity == 0, must be a whole number >= 1"):
        call_list(data, DAY, capacity=0, leads=leads)


def test_recency_rule_and_callback_exception(demo, roomy):
    data, _ = demo
    calls = _last_calls(data)
    week = calls[calls["started_at"] >= pd.Timestamp(DAY) - pd.Timedelta(days=7)]["customer_id"]
    listed_recent = roomy[roomy["customer_id"].isin(week)]
    assert len(listed_recent) > 0 and (listed_recent["care_item"] == "callback").all()
    # every customer whose last connected call asked for a callback is listed (room for all)
    conn = calls[calls["outcome"] != "no_answer"].drop_duplicates("customer_id", keep="last")
    asked = set(conn.loc[conn["outcome"] == "callback", "customer_id"].astype(str))
    assert asked <= set(roomy["customer_id"])
    # nobody is listed for a callback they never asked for
    callbacks = roomy.loc[roomy["care_item"] == "callback", "customer_id"]
    assert set(callbacks) == asked


def test_customer_kept_with_the_rep_who_last_spoke_to_them(demo, roomy):
    data, _ = demo
    calls = _last_calls(data)
    conn = calls[calls["outcome"] != "no_answer"].drop_duplicates("customer_id", keep="last")
    last_rep = conn.set_index("customer_id")["rep_id"].astype(str)
    with_rep = roomy[roomy["customer_id"].isin(last_rep.index) & roomy["customer_id"].map(last_rep).isin(roomy["rep_id"])]
    assert len(with_rep) > 50
    assert (with_rep["rep_id"] == with_rep["customer_id"].map(last_rep)).all()


def test_masked_phones_only(demo, roomy, tmp_path):
    data, _ = demo
    text = roomy.to_csv(index=False)
    cust = data.customers.set_index("customer_id")
    listed = cust.loc[roomy["customer_id"]]
    for phone, name in zip(listed["phone"], listed["name"]):
        assert phone not in text and name not in text
    assert roomy["masked_phone"].str.fullmatch(r"\d{3}\*{4}\d{4}").all()
    path = tmp_path / "lists.xlsx"
    write_call_lists(roomy, path, lang="zh")
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[0] == "全部" and set(book.sheetnames[1:]) == set(roomy["rep_id"])
    cells = " ".join(str(c) for row in book["全部"].iter_rows(values_only=True) for c in row)
    assert not re.search(r"1[3-9]\d{9}", cells)


def test_bad_date_is_one_clear_error(demo):
    data, leads = demo
    with pytest.raises(ParameterError, match=r"date == '2026-13-01', must be YYYY-MM-DD"):
        call_list(data, "2026-13-01", leads=leads)
    with pytest.raises(ParameterError, match="no rep made calls in the 28 days before 2030-01-02"):
        call_list(data, "2030-01-02", leads=leads)
