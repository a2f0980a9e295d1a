"""Lead scoring: planted propensity recovered, no leakage, fallback said plainly, words in en/zh."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from telesales_lab.data.demo import write_demo
from telesales_lab.data.load import load_dataset
from telesales_lab.analysis.leads import (
    MODEL_BOOSTING,
    MODEL_NONE,
    MODEL_RATE,
    fit_lead_model,
    lead_features,
    model_note,
    score_leads,
)

from conftest import tiny_tables, write_tables

MONTH = "2026-10"
COLUMNS = ["customer_id", "score", "decile", "expected_value", "best_window", "scenario", "suggested_script",
           "reason", "model"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "data"
    truth = write_demo(folder, seed=7, n_customers=2000, n_calls=30_000)
    data = load_dataset(folder, cache=False)
    model = fit_lead_model(data, MONTH)
    return data, truth, model


@pytest.fixture(scope="module")
def scored(demo):
    data, _, model = demo
    return score_leads(data, MONTH, model=model)


def test_columns_model_and_ranges(demo, scored):
    data, _, model = demo
    assert list(scored.columns) == COLUMNS
    assert model.kind_ == MODEL_BOOSTING and (scored["model"] == MODEL_BOOSTING).all()
    assert [str(m) for m in model.train_months_] == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    assert scored["score"].between(0, 1).all()
    assert scored["score"].is_monotonic_decreasing
    assert set(scored["decile"].dropna().astype(int)) <= set(range(1, 11)) and scored["decile"].iloc[0] == 1
    # every customer acquired by the month's end, once
    known = data.customers.loc[data.customers["acquired_on"] < pd.Timestamp("2026-11-01"), "customer_id"]
    assert sorted(scored["customer_id"]) == sorted(known.astype(str))
    # expected value = score x a positive order value
    assert (scored["expected_value"] / scored["score"]).gt(0).all()
    assert scored["reason"].str.contains(r"\((?:raises|lowers)\); .+\((?:raises|lowers)\)").all()


def test_no_personal_data_in_the_lead_table(demo, scored):
    data, _, _ = demo
    text = scored.astype(str).to_csv()
    for value in data.customers["phone"].head(200).tolist() + data.customers["name"].head(200).tolist():
        assert value not in text


def test_model_recovers_the_planted_propensity(demo, scored):
    _, truth, _ = demo
    planted = pd.Series(truth["lead_propensity"]["customer_log_odds"])
    rho = spearmanr(scored["score"], scored["customer_id"].map(planted)).statistic
    assert rho > 0.5, rho
    # the source effects come out in the planted order
    data = demo[0]
    source = data.customers.set_index("customer_id")["source"]
    mean = scored.groupby(scored["customer_id"].map(source).to_numpy())["score"].mean()
    effect = pd.Series(truth["outcome_model"]["source_sale_effects"]).reindex(mean.index)
    assert spearmanr(mean, effect).statistic > 0.9
    # and the hidden tiers: A above B above C
    tier = scored.groupby(scored["customer_id"].map(pd.Series(truth["customer_tier"])).to_numpy())["score"].mean()
    assert tier["A"] > tier["B"] > tier["C"]


def _replaced(data, **tables):
    return data.replace(**tables)


def test_nothing_from_the_month_or_later_and_never_duration(demo, scored):
    data, _, _ = demo
    calls = data.calls.copy()
    later = (calls["started_at"] >= pd.Timestamp(f"{MONTH}-01")).to_numpy()
    rng = np.random.default_rng(1)
    calls.loc[later, "outcome"] = rng.permutation(calls.loc[later, "outcome"].to_numpy())
    calls["duration_s"] = rng.uniform(0, 900, len(calls))  # the call's own length is never a feature
    orders = data.orders[data.orders["ordered_at"] < pd.Timestamp(f"{MONTH}-01")]
    changed = _replaced(data, calls=calls, orders=orders)
    a = lead_features(data, MONTH)
    b = lead_features(changed, MONTH)
    pd.testing.assert_frame_equal(a, b)
    assert not any("duration" in c for c in a.columns)
    again = score_leads(changed, MONTH)
    pd.testing.assert_series_equal(again.set_index("customer_id")["score"].sort_index(),
                                   scored.set_index("customer_id")["score"].sort_index())


def test_reasons_in_chinese(demo):
    data, _, model = demo
    zh = score_leads(data, MONTH, model=model, lang="zh")
    assert zh["reason"].str.contains("（(?:提高|降低)）；").all()
    assert not zh["reason"].str.contains("raises|lowers|source|industry").any()
    assert zh["best_window"].str.startswith("周").all()
    assert "训练月份" in model_note(model, "zh")


def test_too_little_history_falls_back_to_the_segment_rate(tmp_path):
    folder = tmp_path / "data"
    write_demo(folder, seed=3, n_customers=500, n_calls=4000, months=2)
    data = load_dataset(folder, cache=False)
    out = score_leads(data, MONTH)
    assert (out["model"] == MODEL_RATE).all()
    assert out["reason"].str.startswith("segment rate (too little history").all()
    model = fit_lead_model(data, MONTH)
    assert "too little history" in model_note(model)
    # the segment's past rate: sales / connected of its level, shrunk toward the overall rate
    assert out["score"].between(0, 1).all() and out["score"].nunique() > 1
    first = score_leads(data, "2026-09")  # nothing before the first month: no evidence, no score
    assert (first["model"] == MODEL_NONE).all() and first["score"].isna().all()


def test_extra_customer_columns_become_features(tmp_path):
    t = tiny_tables()
    t["customers"]["employees"] = ["12", "250", ""]  # numbers kept as text by the import
    t["customers"]["segment"] = ["retail", "wholesale", "retail"]
    t["customers"]["crm_key"] = ["x1", "x2", "x3"]  # one value per customer, but few customers
    data = load_dataset(write_tables(tmp_path / "data", t), cache=False)
    f = lead_features(data, "2026-11")
    assert f["employees"].dtype == "float64" and np.isnan(f["employees"].iloc[2])
    assert isinstance(f["segment"].dtype, pd.CategoricalDtype)
    assert not {"name", "phone"} & set(f.columns)
    # history strictly before November: K1 had a sale and a rejection in October
    k1 = f.set_index("customer_id").loc["K1"]
    assert (k1["hist_dials"], k1["hist_connected"], k1["hist_sales"]) == (2, 2, 1)
    assert k1["last_outcome"] == "rejected" and k1["last_objection"] == "trust"
    g = lead_features(data, "2026-10").set_index("customer_id")
    assert g.loc["K1", "hist_dials"] == 0 and np.isnan(g.loc["K1", "days_since_call"])


def test_contributions_equal_the_model_evaluated_at_the_reference(demo):
    """The tree-by-tree evaluation gives exactly what decision_function gives on the rows with
    one feature set to its reference, and the model's input keeps the category levels."""
    data, _, model = demo
    feats = lead_features(data, MONTH).head(700)
    m = model.matrix(feats)
    ref = model._reference_row()
    cols = list(range(len(model.features_)))
    base, at_ref = model._logits_at_reference(m, cols)
    np.testing.assert_array_equal(base, model.model_.decision_function(m))
    for j, z in zip(cols, at_ref):
        x = m.copy()
        x[:, j] = ref[j]
        np.testing.assert_array_equal(z, model.model_.decision_function(x))
    contrib = model.contributions(feats)
    for f in contrib.columns:
        x = m.copy()
        x[:, model.features_.index(f)] = ref[model.features_.index(f)]
        np.testing.assert_array_equal(contrib[f].to_numpy(), base - model.model_.decision_function(x))
    # a category's input value is its rank among the sorted levels; unknown or missing: NaN
    j = model.features_.index("customer_class")
    cls = feats["customer_class"].astype("string")
    assert set(m[cls.eq("A").fillna(False).to_numpy(), j]) <= {0.0}
    assert np.isnan(m[cls.isna().to_numpy(), j]).all()


def test_tree_by_tree_logits_without_category_features_and_in_blocks(monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from telesales_lab.analysis import leads
    from telesales_lab.analysis.leads import LeadModel

    monkeypatch.setattr(leads, "_CHUNK_ROWS", 128)  # several blocks of rows
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    x[::7, 2] = np.nan
    y = (x[:, 0] + rng.normal(size=500) > 0).astype(float)
    model = LeadModel()
    model.features_, model.categories_ = ["a", "b", "c"], {}
    model.reference_ = {"a": 0.0, "b": 1.0, "c": np.nan}
    model.model_ = HistGradientBoostingClassifier(max_iter=20, categorical_features=[False] * 3,
                                                  random_state=0).fit(x, y)
    base, changed = model._logits_at_reference(x, [0, 1, 2])
    np.testing.assert_array_equal(base, model.model_.decision_function(x))
    for j, z, v in zip(range(3), changed, (0.0, 1.0, np.nan)):
        xx = x.copy()
        xx[:, j] = v
        np.testing.assert_array_equal(z, model.model_.decision_function(xx))


def test_tree_by_tree_logits_with_categories_and_references_on_a_split(monkeypatch):
    """Rows sent elsewhere by a split on the changed feature, and only those, change: checked
    against decision_function with category references (a level, a missing one) and a number
    reference lying exactly on a split threshold."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from telesales_lab.analysis import leads
    from telesales_lab.analysis.leads import LeadModel

    monkeypatch.setattr(leads, "_CHUNK_ROWS", 256)
    rng = np.random.default_rng(3)
    n = 2000
    cat = rng.integers(0, 6, n).astype(float)
    cat[::11] = np.nan
    num = np.round(rng.normal(size=n), 1)
    num[::17] = np.nan
    other = rng.integers(0, 40, n).astype(float)
    x = np.c_[num, cat, other]
    logit = np.where(np.isin(cat, [1, 4]), 1.0, -0.5) + num - 0.02 * other
    y = (logit + rng.logistic(size=n) > 0).astype(float)
    est = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15, categorical_features=[False, True, False],
                                         random_state=0).fit(x, y)
    split = est._predictors[0][0].nodes
    on_num = split[(split["is_leaf"] == 0) & (split["feature_idx"] == 1)]["num_threshold"]  # x reorders: categories first
    model = LeadModel()
    model.features_, model.categories_ = ["num", "cat", "other"], {}
    model.model_ = est
    for ref in ((float(on_num[0]) if len(on_num) else 0.0, 4.0, 20.0), (np.nan, np.nan, np.nan), (-5.0, 1.0, 0.0)):
        monkeypatch.setattr(LeadModel, "_reference_row", lambda self, r=ref: np.array(r))
        base, changed = model._logits_at_reference(x, [0, 1, 2])
        np.testing.assert_array_equal(base, est.decision_function(x))
        for j, z in enumerate(changed):
            xx = x.copy()
            xx[:, j] = ref[j]
            np.testing.assert_array_equal(z, est.decision_function(xx))


def test_weighted_bin_edges_are_scikit_learns():
    """The bin edges from one sort per column equal scikit-learn's own (ties, missing values,
    zero weights, few and many distinct values), so the fitted model is the same."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper

    from telesales_lab.analysis.leads import _booster_classes

    booster, mapper = _booster_classes()
    rng = np.random.default_rng(1)
    n = 20_000
    x = np.c_[rng.normal(size=n), np.round(rng.exponential(30, size=n)), rng.integers(0, 5, n).astype(float),
              rng.integers(0, 100, n).astype(float)]
    x[::9, 0] = np.nan
    x[::13, 1] = np.nan
    w = rng.integers(0, 4, n).astype(float)
    is_cat = np.array([False, False, True, False])
    known = [None, None, np.arange(5, dtype=float), None]
    ours = mapper(is_categorical=is_cat, known_categories=known, random_state=0).fit(x, sample_weight=w)
    theirs = _BinMapper(is_categorical=is_cat, known_categories=known, random_state=0).fit(x, sample_weight=w)
    assert len(ours.bin_thresholds_[0]) == 254 and len(ours.bin_thresholds_[3]) == 99  # percentiles and midpoints
    for a, b in zip(ours.bin_thresholds_, theirs.bin_thresholds_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours.n_bins_non_missing_, theirs.n_bins_non_missing_)
    y = (np.nan_to_num(x[:, 0]) + rng.normal(size=n) > 0).astype(float)
    options = dict(max_iter=10, categorical_features=list(is_cat), early_stopping=False, random_state=0)
    a = booster(**options).fit(x, y, sample_weight=w)
    b = HistGradientBoostingClassifier(**options).fit(x, y, sample_weight=w)
    np.testing.assert_array_equal(a.decision_function(x), b.decision_function(x))


def test_positions_are_get_indexer():
    from telesales_lab.analysis.leads import _positions

    ids = pd.Index(["C1", "K1", "x", "K10"], dtype="string")
    for values in (["x", None, "C1", "nobody", "K10"], np.array(["K1", None], dtype=object),
                   pd.Series([pd.NA, "K1", "K1"], dtype="string"), pd.Series(["C1"], dtype="str"), []):
        np.testing.assert_array_equal(_positions(ids, values), ids.get_indexer(pd.Index(values, dtype="string")))
    assert _positions(ids, ["K10", "k10", "x"]).tolist() == [3, -1, 2]


def test_a_feature_with_one_value_is_left_out_and_changes_nothing(demo, scored):
    """A customer column holding one value (a constant, or nothing) cannot be split on: the
    model leaves it out and scores, reasons and all exactly as without it."""
    data, _, model = demo
    customers = data.customers.assign(region_code=7.0, empty_field=np.nan)
    widened = _replaced(data, customers=customers)
    assert {"region_code", "empty_field"} <= set(lead_features(widened, MONTH).columns)
    wide_model = fit_lead_model(widened, MONTH)
    assert not {"region_code", "empty_field"} & set(wide_model.features_)
    assert wide_model.features_ == model.features_
    pd.testing.assert_frame_equal(score_leads(widened, MONTH, model=wide_model), scored)


def test_a_model_of_one_feature_gives_one_reason(demo):
    """Where one feature varies in the fitted months, the model has one feature and each
    reason names it once (no second, empty reason)."""
    from telesales_lab.analysis.leads import _reasons

    data, _, model = demo
    feats = lead_features(data, MONTH).head(3)
    contrib = pd.DataFrame({"customer_class": [0.5, -0.2, 0.1]}, index=feats.index)
    reasons = _reasons(model, feats, "en", contrib)
    assert not reasons.str.contains(";").any()
    assert reasons.str.startswith("customer class: ").all()
    assert reasons.iloc[0].endswith("(raises)") and reasons.iloc[1].endswith("(lowers)")


def test_segment_rates_by_level_codes_equal_a_map_of_the_level_texts():
    """A category column's rate per level, spread by its codes: the same numbers as mapping
    each row's level text; a missing level, a level without a rate and a column whose
    categories are all unseen take the overall rate."""
    from telesales_lab.analysis.leads import _segment_predict

    rates = pd.Series([0.30, 0.05], index=pd.Index(["甲", "b"], dtype="string"))
    seg = {"column": "c", "rates": rates, "overall": 0.1}
    rng = np.random.default_rng(3)
    values = rng.choice(np.array(["甲", "b", "z", None], dtype=object), 500)
    for categories in (["甲", "b", "z"], ["z", "b", "甲"], ["z"], []):
        keep = [v if v in categories else None for v in values]
        frame = pd.DataFrame({"c": pd.Categorical(keep, categories=categories)})
        mapped = frame["c"].astype("string").map(rates).astype("float64").fillna(0.1).to_numpy()
        assert np.array_equal(_segment_predict(seg, frame), mapped)
    text = pd.DataFrame({"c": pd.array(values, dtype="string")})
    assert np.array_equal(_segment_predict(seg, text),
                          text["c"].map(rates).astype("float64").fillna(0.1).to_numpy())


def test_reason_numbers_are_written_for_people():
    """A reason's number has thousands separators; small rates keep two decimals; unknown says so."""
    from telesales_lab.analysis.leads import _shown

    values = pd.Series([59_433.0, np.nan, 0.25, 1_234_567.8, 59_433.0])
    assert list(_shown(values, "en")) == ["59,433", "none", "0.25", "1,234,568", "59,433"]
    assert list(_shown(values, "zh"))[1] == "无"
