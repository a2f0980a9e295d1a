"""Targets in an import: a separate export of the sales plan (--targets FILE), read through [targets]."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT
from telesales_lab.analysis import targets as T
from telesales_lab.data.importer import import_sources
from telesales_lab.data.load import load_dataset
from telesales_lab.exceptions import MappingError

EXPORT = ROOT / "data" / "examples" / "dialer_export_zh.csv"
MAPPING = ROOT / "data" / "mappings" / "dialer_zh.toml"
PLAN = ROOT / "data" / "examples" / "targets_zh.csv"


def test_the_chinese_example_imports_its_targets(tmp_path):
    summary = import_sources([EXPORT], MAPPING, tmp_path / "zh", targets=PLAN)
    assert summary.set_index("table").loc["targets", "rows"] == 28
    data = load_dataset(tmp_path / "zh", cache=False)
    t = data.targets
    assert sorted(t["month"].unique()) == ["2026-09", "2026-10"]
    assert sorted(t["metric"].astype(str).unique()) == ["new_customers", "revenue", "sales"]
    raw = pd.read_csv(PLAN, encoding="gb18030", dtype=str, keep_default_na=False)
    assert len(t) == len(raw)
    assert t["target"].sum() == raw["目标值"].astype(float).sum()
    # team targets are split over the team's reps
    split = T.rep_targets(data, "2026-10").query("metric == 'new_customers'")
    assert split.groupby("team")["target"].sum().tolist() == pytest.approx([5.0, 5.0])
    assert (tmp_path / "zh" / "import_manifest.json").read_text(encoding="utf-8").count("targets_source") == 1


def _mapping(tmp_path, targets_section: str) -> Path:
    text = MAPPING.read_text(encoding="utf-8")
    path = tmp_path / "mapping.toml"
    path.write_text(text[: text.index("[targets]")] + targets_section, encoding="utf-8")
    return path


@pytest.mark.parametrize("section, match", [
    ('[targets.columns]\nmonth = { column = "月份", format = "%Y年%m月" }\n'
     'rep_id = "坐席工号"\nmetric = { column = "指标", values = { "销售额" = "revenue" } }\ntarget = "目标值"\n',
     r"mapping.toml: \[targets.columns\] metric: source column '指标' has values with no entry in values: '成交单数'"),
    ('[targets.columns]\nmonth = "月份"\nmetric = "指标"\ntarget = "目标值"\n',
     r"mapping.toml: \[targets.columns\]: map rep_id, team or both"),
    ('[targets.columns]\nmonth = "月份"\nrep = "坐席工号"\nmetric = "指标"\n'
     'target = "目标值"\n', r"mapping.toml: \[targets.columns\] rep: unknown column of targets.*did you mean 'rep_id'"),
    ('[targets]\nfile = "x.csv"\n', r"mapping.toml: \[targets\] file: unknown key; the keys are columns"),
    ("", r"mapping.toml: \[targets\]: missing: targets_zh.csv was given as the targets export"),
])
def test_target_mapping_mistakes_name_the_key(tmp_path, section, match):
    with pytest.raises(MappingError, match=match):
        import_sources([EXPORT], _mapping(tmp_path, section), tmp_path / "out", targets=PLAN)
    assert not (tmp_path / "out").exists()


def test_without_a_targets_export_the_section_is_unused(tmp_path):
    import_sources([EXPORT], MAPPING, tmp_path / "zh")
    assert not load_dataset(tmp_path / "zh", cache=False).has("targets")


def test_months_that_are_not_months_are_refused_with_the_rows(tmp_path):
    plan = tmp_path / "plan.csv"
    pd.DataFrame({"月份": ["2026-10", "十月"], "坐席工号": ["A01", "A02"], "指标": ["销售额", "销售额"],
                  "目标值": ["100", "200"]}).to_csv(plan, index=False, encoding="gb18030")
    section = ('[targets.columns]\nmonth = "月份"\nrep_id = "坐席工号"\n'
               'metric = { column = "指标", values = { "销售额" = "revenue" } }\ntarget = "目标值"\n')
    with pytest.raises(MappingError, match=r"targets.csv: column 'month': must be YYYY-MM \(e.g. 2026-10\) \[rows 3\]"):
        import_sources([EXPORT], _mapping(tmp_path, section), tmp_path / "out", targets=plan)
