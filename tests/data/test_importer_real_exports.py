"""What real exports need from a mapping: junk lines above the header, blank rows, per-column
missing markers, a row filter, fallback ids, month-day dates with a placeholder year, a neutral
connected outcome, placeholder agents, and no invented customer names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from telesales_lab.data.importer import build_tables, import_sources
from telesales_lab.data.load import load_dataset
from telesales_lab.data.schema import NAME_PLACEHOLDER, is_person
from telesales_lab.exceptions import MappingError

EXPORT = """呼叫中心导出 2026年10月
导出人: 系统
坐席,客户,日期,时间,时长,结果,类型
A1,KH1,10-03,09:00:00,60,成交,销售
,0,10-01,10:00:00,30,咨询,服务

A2,KH2,09-28,11:00:00,0,未接通,销售
NO_SERVER,KH3,10-02,12:00:00,20,拒绝,销售
A1,KH4,10-04,13:00:00,45,拒绝,测试
"""

MAPPING = """
[source]
header_row = 3
filter = { column = "类型", drop = ["测试"] }

[calls.columns]
rep_id = { column = "坐席", fallback = { constant = "UNASSIGNED" } }
customer_id = { column = "客户", missing = ["0"], fallback = { id = "row", prefix = "anon-" } }
script_id = { constant = "S1" }
started_at = { column = "日期", format = "%m-%d", year = 2026, time = "时间" }
duration_s = "时长"
outcome = { column = "结果", values = { "成交" = "sale", "咨询" = "service", "拒绝" = "rejected", "未接通" = "no_answer" } }

[reps]
not_people = ["NO_SERVER"]

[orders]
[orders.columns]
amount = { constant = "100" }
profit = { constant = "10" }
"""


@pytest.fixture
def export(tmp_path) -> tuple[Path, Path]:
    source = tmp_path / "export.csv"
    source.write_text(EXPORT, encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return source, mapping


def test_real_export_features(export, tmp_path):
    source, mapping = export
    out = tmp_path / "data"
    import_sources([source], mapping, out)
    data = load_dataset(out, cache=False)
    calls = data.calls.set_index("call_id")
    # junk lines and the header row skipped, the blank row dropped, the test row filtered out
    assert len(calls) == 4
    # month-day dates placed in the explicit year, not in date order
    assert calls["started_at"].min() == pd.Timestamp("2026-09-28 11:00:00")
    # a call without an agent goes to the placeholder rep; it and NO_SERVER are not people
    reps = data.reps.set_index("rep_id")
    assert set(reps.index) == {"A1", "A2", "UNASSIGNED", "NO_SERVER"}
    people = dict(zip(data.reps["rep_id"], is_person(data.reps)))
    assert people == {"A1": True, "A2": True, "UNASSIGNED": False, "NO_SERVER": False}
    # customer "0" is unknown: an anonymous customer of its own, not one giant "0"
    assert "0" not in set(data.customers["customer_id"])
    assert any(c.startswith("anon-") for c in data.customers["customer_id"])
    # no names in the export: the placeholder, never the customer's id
    assert set(data.customers["name"]) == {NAME_PLACEHOLDER}
    # the service call is connected and neither positive nor a rejection
    assert "service" in set(calls["outcome"].astype(str))


def test_line_numbers_count_the_skipped_lines(export, tmp_path):
    source, mapping = export
    text = MAPPING.replace('"咨询" = "service", ', "")
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=r"'咨询' \(1 rows\), first at rows 5 of export.csv"):
        build_tables([source], mapping)


@pytest.mark.parametrize("source_key, rule", [
    ("header_row = 0", r"header_row == 0, must be a whole number >= 1"),
    ("skip_rows = 2\nheader_row = 3", r"give header_row or skip_rows, not both"),
    ('header_row = 3\nfilter = { column = "类型" }', r"\[source\] filter: must be"),
])
def test_bad_source_keys_name_the_key(export, source_key, rule):
    source, mapping = export
    mapping.write_text(MAPPING.replace('header_row = 3\nfilter = { column = "类型", drop = ["测试"] }', source_key),
                       encoding="utf-8")
    with pytest.raises(MappingError, match=rule):
        build_tables([source], mapping)
