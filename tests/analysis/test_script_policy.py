"""Script policy by customer class: the interaction test keeps its level, finds a planted
interaction, and the demo (no planted interaction) gets one script per scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from telesales_lab.analysis.script_policy import POLICY_COLUMNS, script_policy, script_policy_by_class
from telesales_lab.data.load import load_dataset


def _cells(seed, effects_by_class, R=30, calls=120, base=-1.2):
    """Sufficient statistics per class x rep x script; every rep uses every script (randomised)."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0, 0.6, R)
    frames = []
    for c, eff in effects_by_class.items():
        eff = np.asarray(eff, float)
        J = len(eff)
        conn = rng.binomial(rng.poisson(calls, (R, J)), 0.6)
        sales = rng.binomial(conn, expit(base + skill[:, None] + eff))
        frames.append(pd.DataFrame({
            "scenario": "s", "customer_class": c,
            "rep_id": np.repeat([f"R{r:02d}" for r in range(R)], J),
            "script_id": np.tile([f"S{j}" for j in range(J)], R),
            "calls": conn.ravel(), "connected": conn.ravel(), "sales": sales.ravel(),
            "revenue": 0.0, "revenue_sq": 0.0}))
    return pd.concat(frames, ignore_index=True)


def test_interaction_test_keeps_its_level_without_an_interaction():
    # same log-odds effects in every class (class levels differ): the test should reject rarely
    null = {"A": [0.0, 0.3], "B": [0.0, 0.3], "C": [0.0, 0.3]}
    p = [script_policy(_cells(s, null, R=20), n_draws=100)["p_value"].iloc[0] for s in range(30)]
    assert np.mean(np.array(p) < 0.05) <= 0.15  # 30 replicates: 1.5 expected at 5% (100 replicates: 6%)
    assert np.mean(p) > 0.35  # roughly uniform


def test_a_planted_interaction_gives_a_script_per_class_with_a_gain():
    planted = {"A": [0.0, 0.6], "B": [0.0, 0.0], "C": [0.6, 0.0]}  # S1 for A, S0 for C
    res = script_policy(_cells(1, planted), n_draws=1000)
    assert list(res.columns) == list(POLICY_COLUMNS)
    res = res.set_index("customer_class")
    assert res["per_class"].all() and res["p_adj"].iloc[0] < 0.01
    assert res.loc["A", "recommended_script"] == "S1" and res.loc["C", "recommended_script"] == "S0"
    g = res.iloc[0]
    assert 0 < g["gain_low"] < g["gain"] < g["gain_high"]
    # the gain is the share-weighted difference of the class rates: recompute it from the rows
    point = (res["share"] * (res["rate_recommended"] - res["rate_single"])).sum()
    assert g["gain"] == pytest.approx(point)


def test_no_credible_interaction_means_one_script_and_no_gain(demo_folder):
    folder, truth = demo_folder()
    data = load_dataset(folder, cache=False)
    res = script_policy_by_class(data, truth["window"]["end_month"], window_months=3, n_draws=500)
    assert not res["per_class"].any()  # the demo plants no class interaction
    one = res.groupby("scenario")["recommended_script"].nunique()
    assert (one == 1).all()
    assert res["gain"].isna().all()
    best = res.groupby("scenario")["single_script"].first()
    assert best["renewal"] == truth["best_script"]["renewal"]


def test_the_data_set_path_reuses_the_rankings_and_equals_the_cells_path(demo_folder):
    from telesales_lab.analysis.ranking import analyse_scripts, script_cells

    folder, truth = demo_folder()
    data = load_dataset(folder, cache=False)
    month = truth["window"]["end_month"]
    analyse_scripts(data, month, window_months=3, n_draws=500)
    analyse_scripts(data, month, by="customer_class", window_months=3, n_draws=500)
    kept = len(data.cache)
    got = script_policy_by_class(data, month, window_months=3, n_draws=500)
    assert len(data.cache) == kept  # nothing fitted again
    # the scenario ranking on the calls equals the one on the class cells summed over classes
    want = script_policy(script_cells(data, month, by="customer_class", window_months=3), n_draws=500)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
