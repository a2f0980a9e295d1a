"""Summary cards as data: the script card's fields on a planted ranking, funnel arrows, KPI lists."""

import numpy as np
import pytest
import pandas as pd

from telesales_lab.present import summaries


def _ranking():
    return pd.DataFrame({
        "scenario": ["cold_call"] * 3 + ["renewal"] * 2,
        "script_id": ["CC-B", "CC-A", "CC-C", "RN-A", "RN-B"],
        "sale_rate": [0.09, 0.19, 0.12, 0.30, 0.29],
        "rank": [1, 2, 3, 1, np.nan],
        "prob_best": [0.99, 0.0075, 0.0025, 0.62, 0.0],
        "verdict": ["best", "inconclusive", "inconclusive", "inconclusive", "insufficient_data"],
    })


def test_script_card_fields():
    scripts = pd.DataFrame({"script_id": ["CC-B", "RN-A"], "name": ["需求导向开场", "续约"]})
    srm = pd.DataFrame({"scenario": ["cold_call", "renewal"], "p_value": [1e-9, 0.4]})
    needed = pd.DataFrame({"scenario": ["cold_call", "renewal"], "further_a": [0, 1200], "further_b": [0, 1500]})
    cards = summaries.script_cards(_ranking(), scripts, srm=srm, needed=needed).set_index("scenario")
    cc, rn = cards.loc["cold_call"], cards.loc["renewal"]
    assert cc["script_id"] == "CC-B" and cc["script_name"] == "需求导向开场" and cc["verdict"] == "best"
    assert cc["certainty"] == "cards.sure" and cc["disagree"] and cc["raw_leader"] == "CC-A"
    assert cc["srm_doubt"] and cc["calls_needed"] == 0
    assert rn["certainty"] == "cards.leaning" and not rn["disagree"] and not rn["srm_doubt"]
    assert rn["calls_needed"] == 1500 and pd.isna(rn["runner_up"])
    words = summaries.script_card_sentences(cards.reset_index().iloc[0].to_dict(), "zh")
    assert "CC-B 需求导向开场" in words["headline"] and any("CC-A" in line for line in words["lines"])
    html = summaries.ranking_top(_ranking(), "en", scripts=scripts, srm=srm, needed=needed).data
    assert "Teach: CC-B" in html and "(P(best) 99%)" in html and "not split" in html


def test_certainty_words_and_unknown():
    assert summaries.certainty_key(0.96) == "cards.sure"
    assert summaries.certainty_key(0.3) == "cards.unclear"
    assert summaries.certainty_key(np.nan) == "table.no_evidence"


def test_funnel_arrows():
    change = pd.DataFrame({"metric": ["dials", "sales", "aht_s"], "current": [10, 8, 5.0],
                           "previous": [9, 9, 5.0], "change": [1, -1, 0.0], "relative_change": [0.11, -0.11, 0.0]})
    assert summaries.funnel_card(change)["arrow"].tolist() == ["▲", "▼", "▶"]


def test_kpi_card_lists_and_changes():
    now = pd.DataFrame({"rep_id": list("abcdef"), "team": ["一组"] * 6, "total": [90, 80, 70, 60, 50, np.nan],
                        "grade": ["A", "A", "B", "C", "D", None]})
    before = pd.DataFrame({"rep_id": list("abcd"), "total": [60, 81, 70, 40]})
    card = summaries.kpi_card(now, before, n=2)
    assert card["n_reps"] == 5 and card["top"]["rep_id"].tolist() == ["a", "b"]
    assert card["bottom"]["rep_id"].tolist() == ["e", "d"] and np.isnan(card["bottom"]["change"][0])
    assert card["movers"]["rep_id"].tolist() == ["a", "d"] and card["movers"]["change"].tolist() == [30, 20]
    assert card["grades"].set_index("grade")["reps"].to_dict() == {"A": 2, "B": 1, "C": 1, "D": 1}


def _cells(rows):
    return pd.DataFrame(rows, columns=["scenario", "rep_id", "script_id", "connected", "sales"])


def test_disagreement_names_the_planted_reason():
    # rep mix: A's reps (r1, r2) sell a lot with anything; every rep used both scripts
    mix = _cells([("cc", "r1", "A", 90, 36), ("cc", "r1", "B", 10, 5), ("cc", "r2", "A", 90, 36),
                  ("cc", "r2", "B", 10, 5), ("cc", "r3", "A", 10, 1), ("cc", "r3", "B", 90, 18)])
    why = summaries.disagreement(mix, "A", "B")
    assert why["reason"] == "rep_mix" and why["unshared_share"] == 0 and why["shared_reps"] == 3
    assert why["mix_raw"] == pytest.approx((90 * 0.41 * 2 + 10 * 0.19) / 190)
    # unshared: most of A's calls come from a rep who never used B
    unshared = _cells([("cc", "r1", "A", 300, 60), ("cc", "r2", "A", 50, 5), ("cc", "r2", "B", 50, 8),
                       ("cc", "r3", "B", 100, 15)])
    why = summaries.disagreement(unshared, "A", "B")
    assert why["reason"] == "unshared" and why["unshared_share"] == pytest.approx(300 / 350)
    # shared: same reps, similar mix; the reps who used both sold more with B
    shared = _cells([("cc", "r1", "A", 100, 21), ("cc", "r1", "B", 100, 23), ("cc", "r2", "A", 100, 20),
                     ("cc", "r2", "B", 60, 12)])
    why = summaries.disagreement(shared, "A", "B")
    assert why["reason"] == "shared" and why["shared_rate_best"] == pytest.approx(35 / 160)
    assert why["shared_rate_raw"] == pytest.approx(41 / 200)
    assert summaries.disagreement(shared, "A", "Z") == {"reason": None}


def test_card_says_why_and_teaches_only_on_a_verdict():
    ranking = pd.DataFrame({"scenario": ["cc", "cc"], "script_id": ["B", "A"], "sale_rate": [0.20, 0.36],
                            "rank": [1, 2], "prob_best": [0.999, 0.001], "verdict": ["best", "inconclusive"]})
    cells = _cells([("cc", "r1", "A", 90, 36), ("cc", "r1", "B", 10, 5), ("cc", "r2", "A", 90, 36),
                    ("cc", "r2", "B", 10, 5), ("cc", "r3", "A", 10, 1), ("cc", "r3", "B", 90, 18)])
    html = summaries.ranking_top(ranking, "en", cells=cells).data
    assert "Teach: B" in html and "(P(best) &gt;99%)" in html
    assert "Why: the reps who used A sell more with any script" in html
    zh = summaries.ranking_top(ranking, "zh", cells=cells).data
    assert "原因：使用 A 的坐席" in zh
    close = ranking.assign(prob_best=[0.55, 0.45], verdict=["inconclusive", "inconclusive"])
    html = summaries.ranking_top(close, "en").data
    assert "Teach:" not in html and "No verdict yet: B leads" in html
