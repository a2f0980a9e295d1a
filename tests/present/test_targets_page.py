"""The targets page: the answer sentence, formatted tables, the chart, and the page without targets."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import ROOT, tiny_tables, write_tables
from telesales_lab.analysis import targets as T
from telesales_lab.data.load import load_dataset
from telesales_lab.present import plots
from telesales_lab.present.targets_page import answer, styled


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder()
    return load_dataset(folder, cache=False), truth


def test_answer_counts_the_reps_and_names_the_teams(demo):
    data, _ = demo
    mid = T.targets_detail(data, "2026-10", as_of="2026-10-15")
    reps = mid[(mid["metric"] == "revenue") & mid["rep_id"].notna()]
    teams = mid[(mid["metric"] == "revenue") & mid["rep_id"].isna() & (mid["status"] == "at_risk")]
    text = answer(mid, "revenue", "en")
    assert text.startswith(f"{(reps['status'] == 'at_risk').sum()} of {len(reps)} reps are at risk of missing "
                           "their revenue target")
    assert all(team in text for team in teams["team"])
    final = T.targets_detail(data, "2026-10")
    assert " missed their revenue target and " in answer(final, "revenue", "en")
    assert "未完成销售额目标" in answer(final, "revenue", "zh")


def test_tables_are_formatted_and_translated(demo):
    data, _ = demo
    out = T.targets(data, "2026-10", as_of="2026-10-15")
    html = styled(out.head(3), "zh").to_html()
    assert "达成率" in html and "月末预测" in html and "%" in html
    assert "有风险" in html or "领先" in html or "正常" in html
    assert "nan" not in html.lower()


def test_chart_puts_at_risk_first(demo):
    data, _ = demo
    out = T.targets(data, "2026-10", as_of="2026-10-15").query("metric == 'revenue' and rep_id.notna()")
    ordered = plots.attainment_order(out)
    status = ordered["status"].tolist()
    assert status == sorted(status, key=["at_risk", "on_track", "ahead"].index)
    fig = plots.attainment_chart(ordered, "zh")
    assert len(fig.axes[0].get_yticklabels()) == len(ordered)


def test_the_page_runs_without_targets_and_says_so(tmp_path):
    import papermill as pm

    data = write_tables(tmp_path / "d", tiny_tables())
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "07_targets.ipynb"), str(out), cwd=str(ROOT / "notebooks"),
                        parameters={"data_dir": str(data), "month": "2026-10", "lang": "en",
                                    "output_dir": str(tmp_path / "report")}, progress_bar=False)
    nb = json.loads(out.read_text(encoding="utf-8"))
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "no targets set: the data set has no targets table" in text
    written = sorted(p.stem for p in (tmp_path / "report" / "tables").glob("*.parquet"))
    assert written == ["collections"]
    assert pd.read_parquet(tmp_path / "report" / "tables" / "collections.parquet").empty
