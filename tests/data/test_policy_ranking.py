"""The policy's [ranking] section: shipped values, and every bad value refused naming file, key and rule."""

from __future__ import annotations

import pytest

from telesales_lab.analysis.inference import PADJUST
from telesales_lab.data.policy import RANKING_PADJUST, load_policy, resolve_policy
from telesales_lab.exceptions import PolicyError


def test_shipped_ranking_thresholds():
    assert load_policy()["ranking"] == {"min_connected": 100, "min_reps": 3, "min_prob_best": 0.95, "alpha": 0.05,
                                        "padjust": "holm", "n_draws": 4000, "floor": 0.10}


def test_policy_knows_every_correction_the_ranking_does():
    assert set(RANKING_PADJUST) == set(PADJUST)


def test_a_user_file_overrides_single_keys(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[ranking]\nmin_connected = 50\npadjust = \"bh\"\n", encoding="utf-8")
    rk = load_policy(path)["ranking"]
    assert rk["min_connected"] == 50 and rk["padjust"] == "bh" and rk["min_reps"] == 3


@pytest.mark.parametrize("line,match", [
    ("min_connected = 0", r"\[ranking\] min_connected = 0: must be >= 1"),
    ("min_connected = 99.5", r"\[ranking\] min_connected = 99.5: must be a whole number"),
    ("min_reps = 0", r"\[ranking\] min_reps = 0: must be >= 1"),
    ("min_prob_best = 1.0", r"\[ranking\] min_prob_best = 1.0: must be strictly between 0 and 1"),
    ("min_prob_best = 0", r"\[ranking\] min_prob_best = 0: must be strictly between 0 and 1"),
    ("alpha = 1.5", r"\[ranking\] alpha = 1.5: must be strictly between 0 and 1"),
    ("alpha = \"0.05\"", r"\[ranking\] alpha = '0.05': must be a number"),
    ("padjust = \"bonferroni\"", r"\[ranking\] padjust = 'bonferroni': must be one of holm\|bh"),
    ("n_draws = 10", r"\[ranking\] n_draws = 10: must be >= 100"),
    ("floor = 1.0", r"\[ranking\] floor = 1.0: must be >= 0 and < 1"),
    ("floor = -0.1", r"\[ranking\] floor = -0.1: must be >= 0"),
    ("min_conected = 100", r"\[ranking\] min_conected: unknown key; allowed here: min_connected, "),
])
def test_bad_ranking_values_name_file_key_and_rule(tmp_path, line, match):
    path = tmp_path / "bad.toml"
    path.write_text(f"[ranking]\n{line}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.toml: " + match):
        load_policy(path)


def test_a_dict_policy_is_checked_the_same_way():
    with pytest.raises(PolicyError, match=r"^policy: \[ranking\] alpha = 0: must be strictly between 0 and 1"):
        resolve_policy({"ranking": {"alpha": 0}})
