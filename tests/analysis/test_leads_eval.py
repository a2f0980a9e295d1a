"""Out-of-time evaluation: the measures against scikit-learn and hand values, the backtest on the
demo, and the UCI Bank Marketing anchor (skipped without ../shared)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from conftest import ROOT, shared_dataset
from telesales_lab.analysis.leads_eval import backtest, calibration_bins, evaluate_leads, ranking_metrics
from telesales_lab.data.load import load_dataset
from telesales_lab.exceptions import ParameterError


def _unrolled(score, pos, neg):
    """Each weighted row as two rows (label 1 with weight pos, label 0 with weight neg)."""
    return (np.r_[np.ones(len(score)), np.zeros(len(score))], np.r_[score, score], np.r_[pos, neg])


def test_auc_and_brier_equal_scikit_learn_with_ties_and_weights():
    rng = np.random.default_rng(5)
    n = 3000
    score = np.round(rng.random(n), 2)  # many ties
    calls = rng.integers(1, 5, n)
    pos = rng.binomial(calls, 0.1 + 0.5 * score)
    neg = calls - pos
    m = ranking_metrics(score, pos, neg)
    y, s, w = _unrolled(score, pos, neg)
    assert m["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, s, sample_weight=w), abs=1e-12)


def test_alift_and_top_half_by_hand():
    # perfect ranking, 10 % positives: ALIFT = 1 - 0.1 / 2, and the top half reaches every sale
    score = np.arange(100, 0, -1) / 100
    pos = np.r_[np.ones(10), np.zeros(90)]
    m = ranking_metrics(score, pos, 1 - pos)
    assert m["alift"] == pytest.approx(0.95) and m["auc"] == pytest.approx(1.0)
    assert m["top_half_share"] == pytest.approx(1.0)
    # one score for all: random order, never by id
    m = ranking_metrics(np.full(100, 0.3), pos, 1 - pos)
    assert (m["auc"], m["alift"], m["top_half_share"]) == pytest.approx((0.5, 0.5, 0.5))
    # four calls, sales at ranks 1 and 3: lift curve through (.25,.5) (.5,.5) (.75,1) (1,1)
    m = ranking_metrics([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0], [0, 1, 0, 1])
    assert m["alift"] == pytest.approx(0.25 * (0.25 + 0.5 + 0.75 + 1.0))
    assert m["top_half_share"] == pytest.approx(0.5) and m["auc"] == pytest.approx(0.75)
    # recency-style scores with -inf ties: not a probability, no Brier
    m = ranking_metrics([-np.inf, -np.inf, -3.0], [1, 0, 1], [0, 1, 0])
    assert np.isnan(m["brier"]) and m["auc"] == pytest.approx(0.75)
    assert np.isnan(ranking_metrics([0.2, 0.4], [0, 0], [1, 1])["auc"])  # no sales: undefined


def test_calibration_bins_add_up_and_keep_ties_together():
    rng = np.random.default_rng(2)
    score = np.round(rng.random(2000), 1)
    pos = rng.binomial(1, score)
    t = calibration_bins(score, pos, 1 - pos, bins=5)
    assert t["connected"].sum() == 2000 and t["sales"].sum() == pos.sum()
    assert (t["ci_low"] <= t["observed_rate"]).all() and (t["observed_rate"] <= t["ci_high"]).all()
    assert t["mean_score"].is_monotonic_increasing
    overall = np.average(t["mean_score"], weights=t["connected"])
    assert overall == pytest.approx(score.mean())


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder(seed=7, n_customers=2000, n_calls=30_000)
    return load_dataset(folder, cache=False)


def test_backtest_on_the_demo_beats_the_recency_baseline(demo):
    table = backtest(demo, "2026-10", months=2)
    assert list(table["month"].unique()) == ["2026-09", "2026-10", "all"]
    pooled = table[table["month"] == "all"].set_index("scorer")
    assert pooled.loc["lead_score", "auc"] > pooled.loc["recency", "auc"]
    assert pooled.loc["lead_score", "auc"] > 0.55
    assert pooled.loc["lead_score", "brier"] < pooled.loc["lead_score", "rate"] * (1 - pooled.loc["lead_score", "rate"])
    one = evaluate_leads(demo, "2026-10").set_index("scorer")
    assert one.loc["lead_score", "auc"] == pytest.approx(table[(table["month"] == "2026-10")
                                                               & (table["scorer"] == "lead_score")]["auc"].iloc[0])
    with pytest.raises(ParameterError, match="no connected calls in month 2030-01"):
        evaluate_leads(demo, "2030-01")


def test_uci_bank_marketing_rolling_window(tmp_path):
    source = shared_dataset("uci-bank-marketing") / "bank-additional-full.csv"
    from telesales_lab.data.importer import import_sources

    import_sources([str(source)], str(ROOT / "data" / "mappings" / "uci_bank_marketing.toml"), str(tmp_path / "bm"))
    data = load_dataset(tmp_path / "bm", cache=False)
    table = backtest(data, "2010-10", months=2)
    months = table[table["month"] != "all"].set_index(["month", "scorer"])
    for m in ("2010-09", "2010-10"):
        assert months.loc[(m, "lead_score"), "model"] == "gradient_boosting"
        assert months.loc[(m, "lead_score"), "auc"] > 0.62  # measured 0.696 and 0.703
        assert months.loc[(m, "recency"), "auc"] == pytest.approx(0.5)  # one call per client: no history
    # never the call's own duration
    assert "duration" not in " ".join(pd.Index(table.attrs["scores"].columns))


def test_default_classes_rank_next_quarter_revenue_at_least_as_well_as_rfm(demo_folder):
    from telesales_lab.analysis.class_value import class_value, rfm_classes

    folder, _ = demo_folder(seed=7, n_customers=2000, n_calls=30_000)
    data = load_dataset(folder, cache=False)
    rfm = rfm_classes(data, "2026-07")
    share = rfm["customer_class"].value_counts(normalize=True)
    assert share["A"] == pytest.approx(0.15, abs=0.03) and share["A"] + share["B"] == pytest.approx(0.5, abs=0.05)
    table = class_value(data, ["2026-06", "2026-07", "2026-08"], lead_score=False)
    tau = table.groupby("ranking")["kendall_tau"].mean()
    assert tau["composite"] >= tau["rfm"] - 0.005, tau


def test_permutation_importance_equals_scikit_learns(demo):
    from sklearn.inspection import permutation_importance

    from telesales_lab.analysis.leads import _binary_rows
    from telesales_lab.analysis.leads_eval import month_scores, permutation_importance_table

    scores = month_scores(demo, "2026-10")
    model = scores.attrs["model"]
    assert model.kind_ == "gradient_boosting"
    table = permutation_importance_table(scores, n_repeats=3, random_state=4).set_index("feature")
    x = scores.attrs["features"].assign(connected=scores["connected"].to_numpy(), sales=scores["sales"].to_numpy())
    rows, y, w = _binary_rows(x)
    r = permutation_importance(model.model_, model.matrix(x)[rows], y, scoring="roc_auc", n_repeats=3,
                               random_state=4, sample_weight=w)
    np.testing.assert_array_equal(table.loc[model.features_, "importance_mean"].to_numpy(), r.importances_mean)
    np.testing.assert_array_equal(table.loc[model.features_, "importance_sd"].to_numpy(), r.importances_std)


def test_reached_customers_and_the_summary_card(demo):
    from telesales_lab.analysis.leads_eval import reached_customers, top_n_card

    calls = demo.calls
    month = str(calls["started_at"].max().to_period("M"))
    # the plain definition: the month's calls that got an answer, each customer once, in call order
    plain = calls.loc[(calls["started_at"].dt.to_period("M") == pd.Period(month, "M"))
                      & (calls["outcome"].astype("string") != "no_answer"), "customer_id"]
    reached = reached_customers(demo, month)
    assert reached.equals(pd.Index(plain).unique()) and reached.is_unique and len(reached) > 0
    leads = pd.DataFrame({"customer_id": [reached[0], reached[1], "K-never-reached", "K-unscored"],
                          "score": [0.2, 0.4, 0.9, np.nan]})
    card = top_n_card(leads, plain)  # the calls themselves, repeats and all, give the same card
    assert card == top_n_card(leads, reached)
    assert card["scored"] == 3 and card["n"] == 3
    assert card["expected_top"] == pytest.approx(0.9 + 0.4 + 0.2)
    assert card["expected_current"] == pytest.approx(0.2 + 0.4)
