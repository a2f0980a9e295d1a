"""Conversion by attribute: counts, Wilson intervals (pinned to statsmodels), order, notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_tables, write_tables
from statsmodels.stats.proportion import proportion_confint

from telesales_lab.analysis.conversion import attribute_calls, conversion_by, conversion_notes, wilson_interval
from telesales_lab.data.bands import band_labels
from telesales_lab.present.plots.conversion import conversion_chart
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.load import load_dataset


def _calls(attempts, sales, channel=None) -> pd.DataFrame:
    """A frame shaped like attribute_calls(): one row per connected call."""
    frame = pd.DataFrame({"attempt": pd.Series(attempts).astype(str).astype("string"),
                          "sale": np.asarray(sales, dtype=bool)})
    if channel is not None:
        frame["contact_channel"] = pd.Series(channel, dtype="string")
    return frame


def test_wilson_matches_statsmodels():
    k = np.array([0, 1, 7, 50, 99, 100])
    n = np.array([10, 3, 40, 100, 100, 100])
    low, high = wilson_interval(k, n, 0.95)
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert np.allclose(low, ref_low) and np.allclose(high, ref_high)
    low90, _ = wilson_interval(k, n, 0.90)
    assert np.allclose(low90, proportion_confint(k, n, alpha=0.10, method="wilson")[0])
    assert np.isnan(wilson_interval([0], [0])[0]).all()


def test_conversion_by_counts_and_numeric_order():
    rng = np.random.default_rng(3)
    attempts = rng.integers(1, 13, 3000)
    sales = rng.random(3000) < 0.2 / attempts
    calls = _calls(attempts, sales)
    table = conversion_by(calls, "attempt")
    assert list(table["attempt"]) == sorted(set(attempts))  # numbers, not "1", "10", "11", "2"
    for _, row in table.iterrows():
        mask = attempts == row["attempt"]
        assert row["calls"] == mask.sum() and row["sales"] == sales[mask].sum()
    assert table["calls"].sum() == 3000
    assert np.isclose(table["share_of_calls"].sum(), 1)
    assert np.allclose(table["lift"], table["conversion_rate"] / sales.mean())
    ref_low, ref_high = proportion_confint(table["sales"], table["calls"], method="wilson")
    assert np.allclose(table["ci_low"], ref_low) and np.allclose(table["ci_high"], ref_high)


def test_bins_and_band_order():
    assert band_labels([2, 3, 4, 6]) == ["<2", "2", "3", "4-5", "6+"]
    assert band_labels([2.5, 5]) == ["<2.5", "2.5-<5", "5+"]
    calls = _calls([1, 2, 3, 4, 5, 6, 7, 20], [1, 0, 1, 0, 0, 0, 0, 0])
    table = conversion_by(calls, "attempt", bins=[2, 3, 4, 6])
    assert list(table["attempt"].astype(str)) == ["<2", "2", "3", "4-5", "6+"]
    assert list(table["calls"]) == [1, 1, 1, 2, 3]
    assert list(table["sales"]) == [1, 0, 1, 0, 0]
    # text band labels (as read back from CSV) still come out in band order
    text = pd.DataFrame({"band": pd.Series(["10+ min", "<1 min", "1-2 min", "2-3 min"], dtype="string"),
                         "sale": [True, False, False, True]})
    assert list(conversion_by(text, "band")["band"]) == ["<1 min", "1-2 min", "2-3 min", "10+ min"]
    with pytest.raises(ParameterError, match=r"bins == \[3, 2\], must be a list of increasing numbers"):
        conversion_by(calls, "attempt", bins=[3, 2])
    with pytest.raises(ParameterError, match=r"by == 'contact_channel' cannot be cut into bins"):
        conversion_by(_calls([1], [1], ["cellular"]), "contact_channel", bins=[2])
    with pytest.raises(ParameterError, match=r"by == 'nope', must be a column of the calls or customers: attempt"):
        conversion_by(calls, "nope")


def test_attribute_calls_on_a_data_set_drops_personal_columns(tmp_path):
    tables = tiny_tables()
    tables["customers"]["segment"] = ["gold", "silver", "gold"]
    data = load_dataset(write_tables(tmp_path / "d", tables))
    calls = attribute_calls(data)
    assert "name" not in calls.columns and "phone" not in calls.columns
    assert list(calls["call_id"]) == ["C1", "C3", "C4"]  # C2 was not answered
    table = conversion_by(data, "segment")
    # connected: C1 (K1 gold, sale), C3 (K3 gold, interested), C4 (K1 gold, rejected); K2 was not reached
    assert table[["segment", "calls", "sales"]].to_dict("records") == [{"segment": "gold", "calls": 3, "sales": 1}]
    weekday = conversion_by(data, "weekday")
    assert list(weekday["weekday"]) == sorted(pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03"]).day_of_week)


def test_attempt_note_finds_the_cap():
    # attempt 1: 200/1000, 2: 150/1000, 3: 100/1000, 4: 20/1000 -> 4 is far below half of 20%
    attempts = np.repeat([1, 2, 3, 4], 1000)
    sales = np.concatenate([np.arange(1000) < k for k in (200, 150, 100, 20)])
    table = conversion_by(_calls(attempts, sales), "attempt")
    notes = conversion_notes(table, kind="attempts")
    assert notes[0].startswith("By attempt: highest 1 at 20.0%")
    assert any("on attempt 4, conversion is at most" in n and "capping attempts at 3" in n for n in notes)
    zh = conversion_notes(table, kind="attempts", lang="zh")
    assert any("建议每位客户最多拨打 3 次" in n for n in zh)
    flat = conversion_by(_calls(np.repeat([1, 2], 500), np.tile([True, False], 500)), "attempt")
    assert any("no cap is indicated" in n for n in conversion_notes(flat, kind="attempts"))


def test_notes_tell_chance_from_a_clear_difference():
    small = conversion_by(_calls([1] * 40 + [2] * 40, [1] * 6 + [0] * 34 + [1] * 4 + [0] * 36,
                                 ["a"] * 40 + ["b"] * 40), "contact_channel")
    assert any("could be chance" in n for n in conversion_notes(small, kind="channel"))
    big = conversion_by(_calls([1] * 4000, [1] * 800 + [0] * 1200 + [1] * 100 + [0] * 1900,
                               ["cellular"] * 2000 + ["telephone"] * 2000), "contact_channel")
    notes = conversion_notes(big, kind="channel")
    assert any("larger than chance" in n for n in notes)
    assert any(n.startswith("How to call: cellular") for n in notes)
    assert conversion_notes(big, min_calls=5000) == [
        "contact channel: fewer than two groups have 5000 or more connected calls; nothing to compare."]
    with pytest.raises(ParameterError, match=r"kind == 'often', must be one of"):
        conversion_notes(big, kind="often")


def test_chart_draws_one_bar_per_group():
    table = conversion_by(_calls([1, 1, 2, 2, 3], [1, 0, 0, 1, 0]), "attempt")
    fig = conversion_chart(table, lang="zh")
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
