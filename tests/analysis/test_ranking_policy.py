"""The script ranking reads its thresholds from the policy's [ranking] section; options override it;
the method text shows the numbers actually used."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from pandas.testing import assert_frame_equal

from telesales_lab.analysis import ranking as sr
from telesales_lab.cli import main
from telesales_lab.data.load import load_dataset
from telesales_lab.exceptions import ParameterError, PolicyError

MONTH = "2026-10"
LOOSE = {"ranking": {"min_connected": 40, "min_reps": 2, "min_prob_best": 0.8, "alpha": 0.1, "padjust": "bh",
                     "n_draws": 500, "floor": 0.05}}
LOOSE_KW = dict(min_connected=40, min_reps=2, prob_threshold=0.8, alpha=0.1, padjust="bh", n_draws=500)


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, _ = demo_folder(seed=7, n_calls=20_000)
    return folder, load_dataset(folder, cache=False)


def test_settings_come_from_the_policy_and_options_win():
    assert sr.ScriptRanker()._settings() | {} == {
        "alpha": 0.05, "padjust": "holm", "min_connected": 100, "min_reps": 3, "prob_threshold": 0.95,
        "n_draws": 4000, "floor": 0.10, "random_state": 0}
    st = sr.ScriptRanker(policy=LOOSE)._settings()
    assert (st["min_connected"], st["min_reps"], st["prob_threshold"], st["alpha"], st["padjust"], st["n_draws"],
            st["floor"]) == (40, 2, 0.8, 0.1, "bh", 500, 0.05)
    st = sr.ScriptRanker(policy=LOOSE, min_connected=150, padjust="holm")._settings()
    assert st["min_connected"] == 150 and st["padjust"] == "holm" and st["min_reps"] == 2


def test_a_bad_option_is_still_refused_and_a_bad_policy_names_its_key():
    with pytest.raises(ParameterError, match=r"^min_reps == 0, must be a whole number >= 1"):
        sr.ScriptRanker(min_reps=0)._settings()
    with pytest.raises(PolicyError, match=r"\[ranking\] n_draws = 5: must be >= 100"):
        sr.ScriptRanker(policy={"ranking": {"n_draws": 5}})._settings()


def test_policy_and_keywords_give_the_same_tables(demo):
    _, data = demo
    by_policy = sr.analyse_scripts(data, MONTH, window_months=2, policy=LOOSE)
    by_kw = sr.analyse_scripts(data, MONTH, window_months=2, floor=0.05, **LOOSE_KW)
    assert_frame_equal(by_policy.ranking_, by_kw.ranking_, check_exact=True)
    assert_frame_equal(by_policy.pairwise_, by_kw.pairwise_, check_exact=True)
    assert_frame_equal(by_policy.allocation(), by_kw.allocation(), check_exact=True)
    assert_frame_equal(sr.revenue_per_call(data, MONTH, policy=LOOSE),
                       sr.revenue_per_call(data, MONTH, alpha=0.1, min_connected=40, min_reps=2), check_exact=True)
    # a policy nobody's data meets leaves every variant unranked
    strict = sr.rank_scripts(data, MONTH, policy={"ranking": {"min_connected": 1_000_000}})
    assert strict["rank"].isna().all() and (strict["verdict"] == "insufficient_data").all()


def test_the_shipped_policy_gives_the_former_defaults(demo):
    _, data = demo
    explicit = sr.rank_scripts(data, MONTH, padjust="holm", alpha=0.05, min_connected=100, min_reps=3,
                               prob_threshold=0.95, n_draws=4000)
    assert_frame_equal(sr.rank_scripts(data, MONTH), explicit, check_exact=True)


def _cli(argv) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def test_cli_policy_file_and_flags_override_it(demo, tmp_path):
    folder, _ = demo
    path = tmp_path / "rank.toml"
    path.write_text('[ranking]\nmin_connected = 40\nmin_reps = 2\nalpha = 0.1\npadjust = "bh"\n', encoding="utf-8")
    base = ["rank-scripts", str(folder), "--month", MONTH, "--table", "pairwise", "--format", "csv"]
    by_file = _cli(base + ["--policy", str(path)])
    by_flags = _cli(base + ["--min-connected", "40", "--min-reps", "2", "--alpha", "0.1", "--padjust", "bh"])
    assert by_file == by_flags
    overridden = _cli(base + ["--policy", str(path), "--min-connected", "100", "--min-reps", "3", "--alpha", "0.05",
                              "--padjust", "holm"])
    assert overridden == _cli(base)


def test_cli_bad_ranking_policy_exits_2(demo, tmp_path, capsys):
    folder, _ = demo
    path = tmp_path / "bad.toml"
    path.write_text("[ranking]\nmin_prob_best = 1.5\n", encoding="utf-8")
    assert main(["rank-scripts", str(folder), "--month", MONTH, "--policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: [ranking] min_prob_best = 1.5: must be strictly between 0 and 1\n"


# ----------------------------------------------------------------------------- the method text
def test_method_text_shows_the_shipped_numbers():
    en = sr.method_text("en")
    assert "below 100 connected calls or 3 reps" in en
    assert "probability at least 95%" in en and "after the Holm correction" in en
    zh = sr.method_text("zh")
    assert "接通少于100次或使用坐席少于3人" in zh and "不低于95%" in zh and "Holm校正" in zh
    assert "{" not in en + zh


def test_method_text_shows_the_policys_numbers():
    en = sr.method_text("en", policy=LOOSE)
    assert "below 40 connected calls or 2 reps" in en
    assert "probability at least 80%" in en and "after the Benjamini-Hochberg correction" in en
    assert "100" not in en and "95%" not in en
    zh = sr.method_text("zh", policy=LOOSE)
    assert "接通少于40次或使用坐席少于2人" in zh and "不低于80%" in zh


def test_method_text_of_a_fitted_ranker_shows_its_options(demo):
    _, data = demo
    ranker = sr.analyse_scripts(data, MONTH, policy=LOOSE, min_connected=60)
    text = sr.method_text("en", ranker.settings_)
    assert "below 60 connected calls or 2 reps" in text


def test_the_ranking_page_uses_the_method_text_function():
    from telesales_lab.config import defaults_dir

    notebook = (defaults_dir().parents[1] / "notebooks" / "02_script_ranking.ipynb").read_text(encoding="utf-8")
    assert "sr.method_text(lang, ranker.settings_)" in notebook
    assert 't(\\"ranking.method_text\\"' not in notebook
