"""The experiments page and the coaching line: the answer first, cards for running experiments,
finished ones with their date, the class policy in words; Chinese throughout; a missing or
broken registry is one sentence, not a failed report."""

from __future__ import annotations

import re
import shutil

import pytest

from telesales_lab.analysis.coaching import coaching_pack
from telesales_lab.analysis.experiments import rep_assignments
from telesales_lab.analysis.script_policy import script_policy_by_class
from telesales_lab.data.load import load_dataset
from telesales_lab.present import plots
from telesales_lab.present.experiments_page import experiment_page, policy_table, policy_text

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder()
    return folder, load_dataset(folder, cache=False), truth


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_opens_with_its_answer_and_shows_cards(demo, lang):
    _, data, truth = demo
    page = experiment_page(data, "2026-10", lang=lang)
    planted = truth["experiments"]
    running = [k for k, v in planted.items() if v["decision"] == "continue"]
    assert [c["experiment"].id for c in page["running"]] == running
    n_done = len(planted) - len(running)
    if lang == "en":
        assert page["answer"].startswith(f"4 experiments as of 2026-10-31: 1 running, {n_done} finished")
        assert "EXP-RN-LOYALTY: stop: winner" in page["answer"]
        assert "Progress: 400 of " in page["running"][0]["text"]
    else:
        assert page["answer"].startswith(f"截至2026-10-31共4个实验：1个进行中，{n_done}个已结束")
        assert "EXP-RN-LOYALTY：停止：有胜出者" in page["answer"]
        for text in [page["answer"], page["running"][0]["text"]] + list(page["finished"].iloc[:, 1]):
            assert CJK.search(text)
        assert not re.search(r"[A-Za-z]{4,}", page["running"][0]["text"].replace("EXP-UP-OFFER", ""))
    finished = page["finished"]
    assert len(finished) == n_done
    assert list(finished.iloc[:, -1]) == ["2026-10-12", "2026-07-03", "2026-06-19"]
    fig = plots.experiment_chart(page["history"], page["running"][0]["experiment"], lang)
    assert fig.axes[0].get_title().startswith("EXP-UP-OFFER")


def test_missing_and_broken_registry_are_one_sentence(demo, tmp_path):
    folder, _, _ = demo
    copy = tmp_path / "data"
    shutil.copytree(folder, copy)
    (copy / "experiments.toml").unlink()
    data = load_dataset(copy, cache=False)
    page = experiment_page(data, "2026-10", lang="en")
    assert page["answer"].startswith("No experiment registry at ") and page["running"] == []
    assert len(page["table"]) == 0
    assert rep_assignments(data, "2026-10").empty
    (copy / "experiments.toml").write_text("[[experiment]]\nid = 1\n", encoding="utf-8")
    page = experiment_page(load_dataset(copy, cache=False), "2026-10", lang="zh")
    assert page["answer"].startswith("实验登记文件无法使用") and "key 'id'" in page["answer"]


def test_policy_in_words_and_formatted(demo):
    _, data, _ = demo
    policy = script_policy_by_class(data, "2026-10", window_months=3, n_draws=300)
    en = policy_text(policy, "en")
    assert en.startswith("Cold call: CC-B for every class (no credible difference between classes")
    zh = policy_text(policy, "zh")
    assert zh.startswith("陌生电话：所有等级都用CC-B") and "。跟进回访" in zh
    table = policy_table(policy, "zh")
    assert list(table.columns)[:3] == ["场景", "客户等级", "推荐话术"]
    assert table.iloc[0]["接通占比"].endswith("%")


def test_coaching_pack_lists_the_reps_experiments(demo):
    _, data, _ = demo
    lines = rep_assignments(data, "2026-10", lang="zh")
    assert set(lines["experiment_id"]) == {"EXP-UP-OFFER"}  # the only one still running
    calls = data.calls
    oct_up = calls[(calls["started_at"] >= "2026-10-01") & calls["script_id"].isin(["UP-A", "UP-B"])]
    assert set(lines["rep_id"]) == set(oct_up["rep_id"].astype(str))
    pack = coaching_pack(data, "2026-10", "R005", lang="zh")
    assert pack["experiments"] == ["实验EXP-UP-OFFER（增购升级，至2026-12-31）：通话按UP-B 50%、UP-A 50%分配话术。"]
    assert pack["summary"].endswith(pack["experiments"][0])
    en = coaching_pack(data, "2026-10", "R005", lang="en")
    assert en["summary"].endswith("Experiment EXP-UP-OFFER (upsell, until 2026-12-31): split your calls "
                                  "UP-B 50%, UP-A 50%.")
