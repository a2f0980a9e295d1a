"""Script experiments: the registry's rules, the always-valid arithmetic pinned to its
references, the demo's planted experiments, sample-ratio mismatch, plans and the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from telesales_lab.analysis import experiments as ex
from telesales_lab.analysis import sequential as sq
from telesales_lab.cli import main
from telesales_lab.data.load import Dataset, load_dataset
from telesales_lab.data.schema import CONNECTED_OUTCOMES
from telesales_lab.exceptions import ParameterError, RegistryError

GOOD = """\
version = 1

[[experiment]]
id = "EXP-1"
hypothesis = "B sells more"
scenario = "renewal"
variants = ["RN-A", "RN-B"]
control = "RN-A"
start = 2026-08-01
planned_end = 2026-11-30
metric = "sale_rate"
mde = 0.05
"""


@pytest.fixture(scope="module")
def demo(demo_folder):
    """The default demo (60k calls), as `make demo` writes it, with its registry (read only)."""
    folder, truth = demo_folder()
    return folder, load_dataset(folder, cache=False), truth


def _write(tmp_path, text, name="experiments.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- the registry
def test_shipped_registry_is_the_demo_registry_and_valid(demo):
    folder, _, truth = demo
    shipped = ex.load_registry(ex.example_registry_path())
    written = ex.load_registry(folder / "experiments.toml")
    assert [dataclasses.replace(x, source="") for x in shipped] == [dataclasses.replace(x, source="") for x in written]
    assert [x.id for x in shipped] == list(truth["experiments"])
    short = {x.id: x for x in shipped}["EXP-FU-SHORT"]
    assert short.margin == 0.05 and short.control == "FU-A" and short.treatments == ("FU-S",)
    assert short.shares == (0.5, 0.5) and short.alpha == 0.05 and short.power == 0.8


def test_registry_defaults_and_shares(tmp_path):
    text = GOOD.replace('mde = 0.05', 'mde = 0.05\nshares = { RN-A = 3, RN-B = 1 }\ncustomer_classes = ["A"]')
    (x,) = ex.load_registry(_write(tmp_path, text))
    assert x.shares == (0.75, 0.25) and x.customer_classes == ("A",) and x.assignment == "rep_blocked"
    assert x.min_connected == 100 and x.margin is None
    assert x.start.isoformat() == "2026-08-01"


def test_every_problem_is_named_with_file_experiment_key_and_rule(tmp_path):
    bad = GOOD.replace('control = "RN-A"', 'control = "RN-X"').replace("mde = 0.05", "mde = -0.1\nalfa = 0.05")
    bad = bad.replace("planned_end = 2026-11-30", "planned_end = 2026-07-01")
    bad += GOOD.replace("version = 1\n", "").replace('metric = "sale_rate"', 'metric = "conversion"').replace(
        'variants = ["RN-A", "RN-B"]', 'variants = ["RN-A"]').replace("EXP-1", "EXP-2")
    with pytest.raises(RegistryError) as err:
        ex.load_registry(_write(tmp_path, bad))
    text = str(err.value)
    assert text.startswith("6 problem(s) in the experiment registry experiments.toml:")
    for line in (
        "experiments.toml: experiment 'EXP-1': key 'control' == 'RN-X': must be one of the variants (RN-A, RN-B)",
        "experiments.toml: experiment 'EXP-1': key 'mde' == -0.1: must be in (0, 1)",
        "experiments.toml: experiment 'EXP-1': unknown key 'alfa' (did you mean 'alpha'?)",
        "experiments.toml: experiment 'EXP-1': key 'planned_end' == 2026-07-01: must not be before start (2026-08-01)",
        "experiments.toml: experiment 'EXP-2': key 'metric' == 'conversion': must be one of sale_rate|revenue_per_call",
        "experiments.toml: experiment 'EXP-2': key 'variants' == ['RN-A']: must list at least two script ids",
    ):
        assert line in text, line


@pytest.mark.parametrize("text, message", [
    (GOOD + GOOD.replace("version = 1\n", ""), r"experiment 'EXP-1': key 'id': duplicate of experiment number 1; ids must be unique"),
    (GOOD.replace('id = "EXP-1"\n', ""), r"experiment number 1: key 'id' is missing: it is required"),
    (GOOD.replace('"EXP-1"', '"EXP 1"'), r"key 'id' == 'EXP 1': must start with a letter or digit"),
    (GOOD.replace("start = 2026-08-01", 'start = "1 Aug"'), r"key 'start' == '1 Aug': must be a date YYYY-MM-DD"),
    (GOOD.replace("mde = 0.05", "mde = 0.05\nalpha = 0.9"), r"key 'alpha' == 0.9: must be at most 0.5"),
    (GOOD.replace("mde = 0.05", "mde = 0.05\npower = 1"), r"key 'power' == 1: must be in \(0, 1\)"),
    (GOOD.replace("mde = 0.05", 'mde = 0.05\nassignment = "random"'), r"must be one of rep_blocked\|customer"),
    (GOOD.replace("mde = 0.05", 'mde = 0.05\ncustomer_classes = ["D"]'), r"key 'customer_classes'"),
    (GOOD.replace("mde = 0.05", "mde = 0.05\nshares = { RN-A = 1 }"), r"must give a share for exactly the variants"),
    (GOOD.replace("mde = 0.05", "mde = 0.05\nmin_connected = 0"), r"key 'min_connected' == 0: must be a whole"),
    (GOOD.replace("mde = 0.05", 'mde = "5%"'), r"key 'mde' == '5%': must be a number \(got text\)"),
    ("experiments = 1\n" + GOOD, r"unknown top-level key 'experiments' \(did you mean 'experiment'\?\)"),
    (GOOD.replace("version = 1", "version = 2"), r"key 'version' == 2: must be 1"),
    ("[[experiment]\nid=", r"experiments.toml: not valid TOML"),
])
def test_registry_rules(tmp_path, text, message):
    with pytest.raises(RegistryError, match=message):
        ex.load_registry(_write(tmp_path, text))


def test_missing_registry_and_scripts_not_in_the_data(tmp_path, demo):
    with pytest.raises(RegistryError, match=r"nope.toml: experiment registry does not exist"):
        ex.load_registry(tmp_path / "nope.toml")
    _, data, _ = demo
    text = GOOD.replace('["RN-A", "RN-B"]', '["RN-A", "CC-B", "XX-9"]')
    with pytest.raises(RegistryError, match=r"experiment 'EXP-1': key 'variants': script 'CC-B' belongs to "
                                            r"scenario 'cold_call', not 'renewal'") as err:
        ex.monitor_experiments(data, _write(tmp_path, text))
    assert "script 'XX-9' is not in the data set's scripts table" in str(err.value)


def test_cli_bad_registry_exits_2_without_traceback_or_output(tmp_path, demo):
    folder, _, _ = demo
    path = _write(tmp_path, GOOD.replace("mde = 0.05", "mde = 2"))
    code, out, err = _run(["experiments", str(folder), "--registry", str(path), "--format", "csv"])
    assert code == 2 and out == ""
    assert "Traceback" not in err
    assert err.startswith("error: 1 problem(s) in the experiment registry experiments.toml:")
    assert "experiment 'EXP-1': key 'mde' == 2: must be in (0, 1)" in err
    code, out, err = _run(["experiments", str(folder), "--registry", str(_write(tmp_path, GOOD, "ok.toml")),
                           "--as-of", "2026-13-01"])
    assert code == 2 and "as_of == '2026-13-01', must be a date YYYY-MM-DD" in err


# ----------------------------------------------------------------------------- the arithmetic, pinned
def test_normal_mixture_matches_confseq_reference_values():
    # confseq (Howard et al.) test/uniform_boundaries_unittest.cpp: V_OPT = 100, ALPHA_OPT = ALPHA = 0.05,
    # values "from a reference implementation in R"
    rho = sq.normal_mixture_rho(100, 0.05)
    assert rho == pytest.approx(12.60056, abs=1e-5)
    assert sq.normal_log_mixture(10, 100, rho) == pytest.approx(-0.6510052, abs=1e-6)
    assert sq.normal_mixture_bound(100, 0.05, rho) == pytest.approx(30.35209, abs=1e-5)
    # the interval and the p-value are one test: 0 leaves the interval when p drops to alpha
    est = np.array([0.0, 0.02, 0.05, 0.08])
    var = np.array([1e-3, 5e-4, 3e-4, 2e-4])
    lo, hi, p = sq.confidence_sequence(est, var, 0.05, v_opt=2000)
    assert ((lo > 0) == (p <= 0.05)).all()
    assert (np.diff(hi - lo) <= 0).all() and (np.diff(p) <= 0).all()  # running intersection and minimum


def test_srm_evalue_matches_savvi():
    # savvi 0.3.1 Multinomial(alpha, theta_0, k=100): log(odds) after update([40, 60]), ([55, 45]), ([70, 30]),
    # and for theta_0 = (0.2, 0.3, 0.5) after update([30, 20, 50])
    got = sq.srm_log_evalue(np.cumsum([[40, 60], [55, 45], [70, 30]], axis=0), [0.5, 0.5])
    np.testing.assert_allclose(got, [0.6588918180465697, -0.38371812593588567, 0.4338600821114228], rtol=1e-12)
    assert sq.srm_log_evalue(np.array([30, 20, 50]), [0.2, 0.3, 0.5]) == pytest.approx(1.3235141928097107)


def test_mh_risk_difference_is_the_rep_fixed_effects_ols_and_sato_is_wald_for_one_balanced_stratum():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(3)
    R = 12
    n_a, n_b = rng.integers(5, 60, R), rng.integers(5, 60, R)
    base = rng.uniform(0.1, 0.5, R)
    y_a, y_b = rng.binomial(n_a, base), rng.binomial(n_b, np.minimum(base + 0.05, 1))
    est, var, w = sq.mh_risk_difference(n_a, y_a, n_b, y_b)
    rows = pd.DataFrame({
        "rep": np.concatenate([np.repeat(np.arange(R), n_a), np.repeat(np.arange(R), n_b)]),
        "b": np.r_[np.zeros(n_a.sum()), np.ones(n_b.sum())],
        "y": np.concatenate([np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for n, k in zip(n_a, y_a)]),
                             np.concatenate([np.r_[np.ones(k), np.zeros(n - k)] for n, k in zip(n_b, y_b)])]),
    })
    ols = smf.ols("y ~ b + C(rep)", data=rows).fit()
    assert est == pytest.approx(ols.params["b"], rel=1e-10)
    assert w == pytest.approx((n_a * n_b / (n_a + n_b)).sum())
    # one stratum, equal arms: Sato's variance is the Wald variance p1 q1 / n + p0 q0 / n
    e1, v1, _ = sq.mh_risk_difference([400], [80], [400], [120])
    assert e1 == pytest.approx(0.1)
    assert v1 == pytest.approx(0.2 * 0.8 / 400 + 0.3 * 0.7 / 400)
    # reps who used one variant carry no weight; no overlap at all is unknown, not 0
    e2, _, _ = sq.mh_risk_difference([400, 50], [80, 10], [400, 0], [120, 0])
    assert e2 == pytest.approx(0.1)
    e3, v3, _ = sq.mh_risk_difference([50], [10], [0], [0])
    assert np.isnan(e3) and np.isnan(v3)


def test_stratified_mean_difference_is_the_rep_fixed_effects_ols():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"rep": rng.integers(0, 8, 600), "b": rng.integers(0, 2, 600)})
    rows["y"] = rng.gamma(2.0, 100.0, 600) + 30 * rows["b"] + 20 * rows["rep"]
    g = rows.groupby(["rep", "b"])["y"].agg(["size", "sum", lambda v: (v ** 2).sum()]).unstack("b")
    est, var, _ = sq.stratified_mean_difference(g[("size", 0)], g[("sum", 0)], g[("<lambda_0>", 0)],
                                                g[("size", 1)], g[("sum", 1)], g[("<lambda_0>", 1)])
    ols = smf.ols("y ~ b + C(rep)", data=rows).fit()
    assert est == pytest.approx(ols.params["b"], rel=1e-10)
    assert math.sqrt(var) == pytest.approx(ols.bse["b"], rel=0.1)  # pooled within reps vs. one pooled sigma


# ----------------------------------------------------------------------------- the demo's planted experiments
def test_demo_experiments_reach_their_planted_decisions(demo):
    _, data, truth = demo
    table = ex.experiments_table(ex.monitor_experiments(data, ex.example_registry_path()))
    assert list(table.columns) == list(ex.EXPERIMENT_COLUMNS)
    assert set(table["decision"]) <= set(ex.DECISIONS)
    for eid, planted in truth["experiments"].items():
        rows = table[table["experiment_id"] == eid].set_index("variant")
        control = planted["control"]
        assert list(rows.index) == planted["variants"]
        assert (rows["decision"] == planted["decision"]).all(), (eid, rows["decision"].tolist())
        other = rows.drop(index=control)
        assert rows.loc[control, ["effect", "ci_low", "ci_high"]].isna().all()  # the control has no effect
        assert (other["ci_low"] <= other["effect"]).all() and (other["effect"] <= other["ci_high"]).all()
        if planted["winner"]:
            assert (other["ci_low"] > 0).all() and other.index.tolist() == [planted["winner"]]
    short = table[table["experiment_id"] == "EXP-FU-SHORT"].set_index("variant").loc["FU-S"]
    assert short["ci_low"] > -0.05
    trial = table[table["experiment_id"] == "EXP-FU-TRIAL"].set_index("variant").loc["FU-C"]
    assert -0.05 < trial["ci_low"] and trial["ci_high"] < 0.05
    # the raw rates and counts are the calls themselves
    calls = data.calls
    win = table[table["experiment_id"] == "EXP-RN-LOYALTY"].set_index("variant")
    assert "decided on 2026-10-" in win.loc["RN-B", "reason"] and "RN-B beats RN-A" in win.loc["RN-B", "reason"]
    end = pd.Timestamp(win.loc["RN-B", "reason"].rsplit(" ", 1)[1]) + pd.Timedelta(days=1)
    sel = calls[(calls["script_id"] == "RN-B") & (calls["started_at"] >= "2026-08-01") & (calls["started_at"] < end)]
    conn = sel["outcome"] != "no_answer"
    assert win.loc["RN-B", "calls"] == len(sel) and win.loc["RN-B", "connected"] == conn.sum()
    assert win.loc["RN-B", "rate"] == pytest.approx((sel["outcome"] == "sale").sum() / conn.sum())


def test_short_script_moves_no_outcome(demo):
    _, data, truth = demo
    calls = data.calls
    assert truth["script_effects"]["FU-S"] == truth["script_effects"]["FU-A"]
    fu = calls[calls["script_id"].isin(["FU-A", "FU-S"]) & (calls["started_at"] < "2026-10-01")]
    assert not (calls.loc[calls["started_at"] >= "2026-10-01", "script_id"] == "FU-S").any()
    share = (fu["script_id"] == "FU-S").mean()
    assert abs(share - 0.5) < 0.03
    text = fu.loc[fu["script_id"] == "FU-S", "transcript"].dropna()
    assert text.str.contains("上次的资料您看了吗").all() and not text.str.contains("产品资料您看过了吗").any()


def test_as_of_before_the_start_and_history(demo):
    _, data, _ = demo
    res = ex.monitor_experiments(data, ex.example_registry_path(), as_of="2026-09-15")
    table = ex.experiments_table(res, lang="zh").set_index(["experiment_id", "variant"])
    assert table.loc[("EXP-UP-OFFER", "UP-A"), "reason"] == "将于2026-10-01开始"
    assert table.loc[("EXP-UP-OFFER", "UP-A"), "calls"] == 0
    assert table.loc[("EXP-RN-LOYALTY", "RN-B"), "decision"] == "continue"
    hist = ex.experiment_history(res)
    assert list(hist.columns) == list(ex.HISTORY_COLUMNS)
    rn = hist[hist["experiment_id"] == "EXP-RN-LOYALTY"]
    assert rn["date"].min() == pd.Timestamp("2026-08-01") and rn["date"].max() == pd.Timestamp("2026-09-15")
    valid = rn.dropna(subset=["ci_low"])
    assert valid["ci_low"].is_monotonic_increasing and valid["ci_high"].is_monotonic_decreasing


def test_sample_ratio_mismatch_halts_the_verdict(demo, tmp_path):
    _, data, _ = demo
    calls = data.calls
    rng = np.random.default_rng(0)
    drop = (calls["script_id"] == "RN-A").to_numpy() & (rng.random(len(calls)) < 0.35)
    skewed = Dataset(data.source, dict(data.tables, calls=calls.loc[~drop].reset_index(drop=True)), data.files)
    reg = _write(tmp_path, GOOD)
    table = ex.experiments_table(ex.monitor_experiments(skewed, reg)).set_index("variant")
    assert (table["decision"] == "sample_ratio_mismatch").all()
    assert "not split as intended" in table.loc["RN-B", "reason"] and "50%/50%" in table.loc["RN-B", "reason"]
    # the intended split as declared: 35% fewer RN-A calls is what a 0.65 : 1 split expects
    fair = _write(tmp_path, GOOD.replace("mde = 0.05", "mde = 0.05\nshares = { RN-A = 0.65, RN-B = 1 }"), "f.toml")
    assert (ex.experiments_table(ex.monitor_experiments(skewed, fair))["decision"] != "sample_ratio_mismatch").all()


def test_customer_classes_restrict_the_calls(demo, tmp_path):
    _, data, _ = demo
    everyone = ex.experiments_table(ex.monitor_experiments(data, _write(tmp_path, GOOD)))
    only_a = ex.experiments_table(ex.monitor_experiments(
        data, _write(tmp_path, GOOD.replace("mde = 0.05", 'mde = 0.05\ncustomer_classes = ["A"]'), "a.toml")))
    assert (only_a["calls"] < everyone["calls"]).all() and (only_a["calls"] > 0).all()


def test_revenue_experiment_runs(demo, tmp_path):
    _, data, _ = demo
    reg = _write(tmp_path, GOOD.replace('metric = "sale_rate"', 'metric = "revenue_per_call"').replace(
        "mde = 0.05", "mde = 500"))
    table = ex.experiments_table(ex.monitor_experiments(data, reg)).set_index("variant")
    assert table.loc["RN-B", "decision"] in ex.DECISIONS
    assert table.loc["RN-B", "ci_low"] < table.loc["RN-B", "effect"] < table.loc["RN-B", "ci_high"]
    assert "yuan" in table.loc["RN-B", "reason"]


# ----------------------------------------------------------------------------- plans
def test_plan_fixed_n_is_the_rankings_power_calculation_and_sequential_n_solves_its_equation(demo):
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    _, data, _ = demo
    plan = ex.plan_experiment(data, ex.example_registry_path()).set_index("experiment_id")
    assert list(plan.reset_index().columns) == list(ex.PLAN_COLUMNS)
    row = plan.loc["EXP-RN-LOYALTY"]
    p0 = row["baseline"]
    h = abs(proportion_effectsize(p0 + 0.05, p0))
    assert row["n_per_arm_fixed"] == math.ceil(NormalIndPower().solve_power(h, alpha=0.05, power=0.8, ratio=1))
    n = ex.sequential_n_per_arm(0.05, 0.05, 0.8, p0 * (1 - p0))
    v = n / (2 * p0 * (1 - p0))
    rho = sq.normal_mixture_rho(sq.information_for(0.05, 0.05, 0.8), 0.05)
    from scipy.stats import norm
    assert norm.ppf(0.8) / math.sqrt(v) + sq.normal_mixture_bound(v, 0.05, rho) / v == pytest.approx(0.05, rel=1e-6)
    assert row["n_per_arm"] == math.ceil(n) and row["n_per_arm"] > row["n_per_arm_fixed"]
    assert row["expected_days"] == math.ceil(row["n_per_arm"] / (row["connected_per_day"] * 0.5))


def test_assignment_plan_is_rep_blocked(demo):
    _, data, _ = demo
    plan = ex.plan_assignment(data, ex.example_registry_path(), month="2026-10")
    rn = plan[plan["experiment_id"] == "EXP-RN-LOYALTY"]
    per_rep = rn.groupby("rep_id")["script_id"].apply(set)
    assert (per_rep == {"RN-A", "RN-B"}).all()  # every rep uses both variants
    calls = data.calls
    oct_ = calls[(calls["started_at"] >= "2026-10-01") & calls["script_id"].isin(["RN-A", "RN-B"])]
    assert rn.groupby("rep_id")["planned_calls"].sum().to_dict() == oct_.groupby("rep_id").size().to_dict()
    fixed = ex.plan_assignment(data, ex.example_registry_path(), month="2026-10", calls_per_rep=40)
    assert (fixed.groupby(["experiment_id", "rep_id"])["planned_calls"].sum() == 40).all()


def test_cli_experiments_and_plan(demo):
    folder, _, _ = demo
    reg = str(folder / "experiments.toml")
    code, out, err = _run(["experiments", str(folder), "--registry", reg, "--format", "csv"])
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.columns) == list(ex.EXPERIMENT_COLUMNS) and len(frame) == 8
    code, out, _ = _run(["experiments", str(folder), "--registry", reg, "--lang", "zh", "--id", "EXP-RN-LOYALTY"])
    assert code == 0 and "随时有效P值" in out and "停止：有胜出者" in out and "RN-B优于RN-A" in out
    code, out, _ = _run(["experiment-plan", str(folder), "--registry", reg, "--format", "csv"])
    assert code == 0 and list(pd.read_csv(io.StringIO(out)).columns) == list(ex.PLAN_COLUMNS)
    code, out, _ = _run(["experiment-plan", str(folder), "--registry", reg, "--assignment", "--format", "csv"])
    assert code == 0 and set(pd.read_csv(io.StringIO(out))["experiment_id"]) == set(
        x.id for x in ex.load_registry(reg))
    code, _, err = _run(["experiments", str(folder), "--registry", reg, "--id", "EXP-NONE"])
    assert code == 2 and "--id == 'EXP-NONE': no such experiment" in err


def test_bad_parameters():
    with pytest.raises(ParameterError, match=r"alpha == 1.5, must be a number strictly between 0 and 1"):
        sq.normal_mixture_rho(100, 1.5)
    with pytest.raises(ParameterError, match=r"v_opt == 0, must be > 0"):
        sq.normal_mixture_rho(0, 0.05)


def test_every_reason_and_decision_has_both_languages():
    import re as _re

    from telesales_lab import labels

    for name in ex._REASONS:
        for lang in ("en", "zh"):
            assert labels.has(f"experiments.reason.{name}"), name
        assert _re.search(r"[\u4e00-\u9fff]", labels.t(f"experiments.reason.{name}", "zh")), name
    for d in ex.DECISIONS:
        assert labels.t(d, "zh", ex.CONTEXT) != d and labels.t(d, "en", ex.CONTEXT)


def test_planned_end_passed_without_a_decision(demo, tmp_path):
    _, data, _ = demo
    text = (GOOD.replace('scenario = "renewal"', 'scenario = "follow_up"').replace('["RN-A", "RN-B"]', '["FU-B", "FU-C"]')
            .replace('control = "RN-A"', 'control = "FU-B"').replace("start = 2026-08-01", "start = 2026-05-01")
            .replace("planned_end = 2026-11-30", "planned_end = 2026-06-30").replace("mde = 0.05", "mde = 0.005"))
    table = ex.experiments_table(ex.monitor_experiments(data, _write(tmp_path, text))).set_index("variant")
    assert (table["decision"] == "continue").all()
    assert table.loc["FU-C", "reason"].startswith("planned end 2026-06-30 passed without a decision")
    calls = data.calls
    june = calls[(calls["script_id"] == "FU-C") & (calls["started_at"] < "2026-07-01")
                 & (calls["started_at"] >= "2026-05-01")]
    assert table.loc["FU-C", "calls"] == len(june)  # nothing after the planned end counts


def test_daily_sums_from_the_day_cells_equal_the_sums_over_calls(demo):
    """Sale-rate experiments on all customers read the data set's per-day cells; an experiment
    limited to every class (A, B and C: all customers) sums its own calls, and gets the same."""
    folder, data, _ = demo
    for x in ex.load_registry(folder / "experiments.toml"):
        for as_of in (dt.date(2026, 9, 20), dt.date(2026, 10, 31)):
            fast = ex.daily_sums(data, x, as_of)
            slow = ex.daily_sums(data, dataclasses.replace(x, customer_classes=("A", "B", "C")), as_of)
            assert fast["days"] == slow["days"] and list(fast["reps"]) == list(slow["reps"])
            for k in ("calls", "connected", "sales", "revenue", "revenue_sq"):
                np.testing.assert_array_equal(fast[k], slow[k])


def test_plan_baseline_is_the_controls_rate_in_the_four_weeks(demo):
    folder, data, _ = demo
    plan = ex.plan_experiment(data, folder / "experiments.toml", as_of="2026-10-15").set_index("experiment_id")
    calls = data.calls
    four_weeks = ((calls["started_at"] >= "2026-09-18") & (calls["started_at"] < "2026-10-16")).to_numpy(bool)
    for x in ex.load_registry(folder / "experiments.toml"):
        if x.start > dt.date(2026, 10, 15):
            continue
        sub = calls[four_weeks & (calls["script_id"] == x.control).to_numpy(bool)]
        sub = sub[sub["outcome"].isin(CONNECTED_OUTCOMES).to_numpy(bool)]
        assert plan.loc[x.id, "baseline"] == (sub["outcome"] == "sale").mean()
