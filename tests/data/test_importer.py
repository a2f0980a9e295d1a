"""Importing exports through TOML mappings: the shipped mappings, every mapping feature and mistake."""

from __future__ import annotations

import calendar
import datetime as dt
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, shared_dataset

from telesales_lab.cli import main
from telesales_lab.exceptions import MappingError, ParameterError
from telesales_lab.data.importer import MANIFEST, PHONE_PLACEHOLDER, build_tables, import_sources
from telesales_lab.data.schema import NAME_PLACEHOLDER
from telesales_lab.data.load import load_dataset

EXAMPLE = ROOT / "data" / "examples" / "dialer_export_zh.csv"
DIALER_MAPPING = ROOT / "data" / "mappings" / "dialer_zh.toml"
BANK_MAPPING = ROOT / "data" / "mappings" / "uci_bank_marketing.toml"
OUTCOME_ZH = {"成交": "sale", "有意向": "interested", "约回访": "callback", "拒绝": "rejected", "未接通": "no_answer"}
OBJECTION_ZH = {"价格": "price", "时机": "timing", "无需求": "no_need", "竞品": "competitor", "信任": "trust",
                "决策权": "authority"}


def _example_source() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE, encoding="gb18030", dtype=str, keep_default_na=False)


def _mapping(tmp_path: Path, text: str, name: str = "mapping.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _dialer_mapping_with(tmp_path: Path, old: str, new: str) -> Path:
    text = DIALER_MAPPING.read_text(encoding="utf-8")
    assert old in text, old  # the test's own precondition on the shipped file
    return _mapping(tmp_path, text.replace(old, new, 1))


# ----------------------------------------------------------------------------- UCI Bank Marketing
def test_bank_marketing_import_counts_and_validates(tmp_path):
    folder = shared_dataset("uci-bank-marketing")
    source = folder / "bank-additional-full.csv"
    started = time.perf_counter()
    summary = import_sources([source], BANK_MAPPING, tmp_path / "bank")
    seconds = time.perf_counter() - started
    print(f"UCI Bank Marketing import (41,188 rows, validation included): {seconds:.1f} s")
    data = load_dataset(tmp_path / "bank")
    rows = dict(zip(summary["table"], summary["rows"]))
    assert rows["calls"] == len(data.calls) == 41_188
    assert rows["customers"] == len(data.customers) == 41_188
    assert int((data.calls["outcome"] == "sale").sum()) == 4_640
    assert int((data.calls["outcome"] == "rejected").sum()) == 41_188 - 4_640
    assert list(data.reps["rep_id"]) == ["bank_agents"]
    assert len(data.orders) == len(data.feedback) == len(data.assessments) == 0

    # independent reading of the raw file: the same rows in the same order
    raw = pd.read_csv(source, sep=";")
    calls = data.calls
    assert (calls["duration_s"].to_numpy() == raw["duration"].to_numpy()).all()
    assert (calls["attempt"].astype(int).to_numpy() == raw["campaign"].to_numpy()).all()
    assert (calls["contact_channel"].to_numpy() == raw["contact"].to_numpy()).all()
    # the year goes up where the month sequence wraps (dec -> mar), from May 2008
    month_no = raw["month"].map({calendar.month_abbr[i].lower(): i for i in range(1, 13)})
    year = 2008 + (month_no.diff() < 0).cumsum()
    assert (calls["started_at"].dt.year.to_numpy() == year.to_numpy()).all()
    assert (calls["started_at"].dt.month.to_numpy() == month_no.to_numpy()).all()
    assert year.iloc[0] == 2008 and year.iloc[-1] == 2010
    # the inferred day is on the weekday the source gives, and dates never go back
    weekday = calls["started_at"].dt.day_name().str[:3].str.lower()
    assert (weekday.to_numpy() == raw["day_of_week"].to_numpy()).all()
    assert calls["started_at"].is_monotonic_increasing
    assert calls["started_at"].min() == pd.Timestamp("2008-05-05")  # first Monday of May 2008
    assert calls["started_at"].max() < pd.Timestamp("2010-12-01")
    # segment attributes kept on the customers, previous outcome on the calls
    customers = data.customers.set_index("customer_id").loc[calls["customer_id"]]
    assert (customers["job"].to_numpy() == raw["job"].to_numpy()).all()
    assert (customers["age"].astype(int).to_numpy() == raw["age"].to_numpy()).all()
    assert set(data.customers["phone"]) == {PHONE_PLACEHOLDER}
    assert (calls["previous_outcome"].to_numpy() == raw["poutcome"].to_numpy()).all()
    never = calls["days_since_previous"].isna().to_numpy()
    assert (never == (raw["pdays"] == 999).to_numpy()).all()
    scripts = data.scripts.set_index("script_id")["scenario"]
    expect = np.where(raw["poutcome"] == "nonexistent", "cold_call", "follow_up")
    assert (calls["script_id"].map(scripts).to_numpy() == expect).all()


# ----------------------------------------------------------------------------- Chinese example
def test_example_export_is_deterministic(tmp_path):
    spec = importlib.util.spec_from_file_location("make_dialer", EXAMPLE.with_name("make_dialer_export_zh.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    again = module.main(tmp_path / "again.csv")
    assert again.read_bytes() == EXAMPLE.read_bytes()
    assert len(_example_source()) == 200


def test_chinese_example_round_trips(tmp_path):
    out = tmp_path / "zh"
    import_sources([EXAMPLE], DIALER_MAPPING, out)
    data = load_dataset(out)
    src = _example_source()
    calls = data.calls
    assert list(calls["call_id"]) == list(src["通话编号"])
    assert list(calls["rep_id"]) == list(src["坐席工号"])
    assert list(calls["customer_id"]) == list(src["客户编号"])
    assert list(calls["outcome"].astype(str)) == [OUTCOME_ZH[v] for v in src["通话结果"]]
    expect_objection = [OBJECTION_ZH.get(v) for v in src["异议类型"]]
    got = [None if pd.isna(v) else v for v in calls["objection"]]
    assert got == expect_objection
    started = [dt.datetime.strptime(f"{d} {t}", "%Y/%m/%d %H:%M:%S") for d, t in zip(src["呼叫日期"], src["呼叫时间"])]
    assert list(calls["started_at"]) == [pd.Timestamp(s) for s in started]
    seconds = [(dt.datetime.strptime(e, "%H:%M:%S") - dt.datetime.strptime(s, "%H:%M:%S")).total_seconds()
               for s, e in zip(src["呼叫时间"], src["挂机时间"])]
    assert calls["duration_s"].tolist() == seconds
    assert [None if pd.isna(v) else v for v in calls["remark"]] == [v or None for v in src["备注"]]
    # Chinese names intact, one row per distinct id, first-seen order
    reps = data.reps.set_index("rep_id")
    first_rep = src.drop_duplicates("坐席工号").set_index("坐席工号")
    assert list(data.reps["rep_id"]) == list(first_rep.index)
    assert (reps["name"] == first_rep["坐席姓名"]).all() and (reps["team"] == first_rep["所属小组"]).all()
    customers = data.customers.set_index("customer_id")
    first_cust = src.drop_duplicates("客户编号").set_index("客户编号")
    assert sorted(customers.index) == sorted(first_cust.index)
    assert (customers.loc[first_cust.index, "name"] == first_cust["客户姓名"]).all()
    assert (customers.loc[first_cust.index, "phone"] == first_cust["手机号"]).all()
    assert (customers.loc[first_cust.index, "region"] == first_cust["所在城市"]).all()
    # placeholder dates: each customer's first call
    first_call = calls.groupby("customer_id")["started_at"].min().dt.normalize()
    assert (customers.loc[first_call.index, "acquired_on"] == first_call).all()
    assert set(data.scripts["name"]) == set(src["话术"])
    # one order per sale, with the export's amounts
    sales = src[src["通话结果"] == "成交"]
    orders = data.orders.set_index("call_id").loc[sales["通话编号"]]
    assert len(data.orders) == len(sales) > 0
    assert orders["amount"].tolist() == sales["成交金额"].astype(float).tolist()
    assert orders["profit"].tolist() == sales["毛利"].astype(float).tolist()
    assert (orders["rep_id"].to_numpy() == sales["坐席工号"].to_numpy()).all()
    manifest = (out / MANIFEST).read_text(encoding="utf-8")
    assert "dialer_export_zh.csv" in manifest


def test_reimport_replaces_an_earlier_import_and_keeps_it_on_failure(tmp_path):
    out = tmp_path / "zh"
    import_sources([EXAMPLE], DIALER_MAPPING, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import_sources([EXAMPLE], DIALER_MAPPING, out)  # same input: same bytes (stable ids, no timestamps)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    bad = _dialer_mapping_with(tmp_path, '"未接通" = "no_answer"', '"未接" = "no_answer"')
    with pytest.raises(MappingError, match="未接通"):
        import_sources([EXAMPLE], bad, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_out_folder_with_other_files_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ParameterError, match="already holds files that an import did not write"):
        import_sources([EXAMPLE], DIALER_MAPPING, out)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


# ----------------------------------------------------------------------------- mapping mistakes
@pytest.mark.parametrize("old, new, pattern", [
    ('outcome = { column = "通话结果"', 'outcome = { column = "通话结局"',
     r"dialer_zh|mapping\.toml: \[calls\.columns\] outcome: source column '通话结局' is not in "
     r"dialer_export_zh\.csv; did you mean '通话结果'\?"),
    ('"未接通" = "no_answer"', '"无人接听" = "no_answer"',
     r"\[calls\.columns\] outcome: source column '通话结果' has values with no entry in values: "
     r"'未接通' \(84 rows\), first at rows {no_answer_lines} of dialer_export_zh\.csv \(\+79 more\)"),
    ('format = "%Y/%m/%d", time', 'format = "%Y-%m-%d", time',
     r"\[calls\.columns\] started_at: source column '呼叫日期' \+ '呼叫时间' does not match format "
     r"'%Y-%m-%d %H:%M:%S' in 200 row\(s\): rows 2, 3, 4, 5, 6 of dialer_export_zh\.csv \(\+195 more\); "
     r"e\.g\. '2026/09/02 11:04:28'"),
    ('outcome = { column = "通话结果", values', 'outcome = { column = "通话结果", valeus',
     r"\[calls\.columns\] outcome: unknown key 'valeus' for a 'column' mapping; .* did you mean 'values'\?"),
    ("outcome = {", "outcom = {",
     r"\[calls\.columns\] outcom: unknown column of calls; .*did you mean 'outcome'\? "
     r"\(put extra columns under \[calls\.extra\]\)"),
    ("[calls.extra]", "[calls.extras]", r"\[calls\] extras: unknown key; the keys are columns, extra"),
    ('encoding = "gb18030"', 'encodng = "gb18030"', r"\[source\] encodng: unknown key; .*did you mean 'encoding'\?"),
    ('encoding = "gb18030"', 'encoding = "utf-8"',
     r"\[source\] encoding: dialer_export_zh\.csv is not utf-8: undecodable bytes at line 1; "
     r"try encoding = \"gb18030\""),
    ('"成交" = "sale"', '"成交" = "sold"',
     r"\[calls\.columns\] outcome: column '通话结果' gives 'sold', not one of "
     r"no_answer\|service\|rejected\|callback\|interested\|sale \(18 row\(s\)"),
    ('call_id = "通话编号"', 'call_id = { id = ["坐席工号"] }',
     r"\[calls\.columns\] call_id: call_id must be unique, but 200 rows share a value"),
    ('rep_id = "坐席工号"\n', '',
     r"\[calls\.columns\] rep_id: missing: calls need a rep_id"),
    ('amount = "成交金额"', 'amount = "话术"',
     r"\[orders\.columns\] amount: not a number in 18 sale row\(s\): rows .*; e\.g\. '开场白"),
    ('amount = "成交金额"', 'amount = "备注"',
     r"\[orders\.columns\] amount: amount is empty in 4 of the 18 sale row\(s\): rows 73, 76, 130, 194 of "),
    ('duration_s = { start = "呼叫时间", end = "挂机时间", format = "%H:%M:%S" }',
     'duration_s = { start = "呼叫时间", end = "挂机时间", format = "%H:%M" }',
     r"\[calls\.columns\] duration_s: source column '呼叫时间' does not match format '%H:%M'"),
    ('duration_s = { start = "呼叫时间", end = "挂机时间", format = "%H:%M:%S" }', 'duration_s = "话术"',
     r"the mapped tables do not validate; nothing was written\. Check the mapping keys of these columns:\n"
     r"  calls\.csv: column 'duration_s': not a number \[rows 2, 3, 4, 5, 6 \(\+195 more\)\]"),
    ('[reps.columns]\nname', '[reps.columns]\nrep_id = "坐席工号"\nname',
     r"\[reps\.columns\] rep_id: the reps are the distinct values of \[calls\.columns\] rep_id"),
    ('role = { constant = "rep" }', 'role = { constant = "agent" }',
     r"\[reps\.columns\] role: constant 'agent' gives 'agent', not one of rep\|team_lead\|supervisor\|manager"),
])
def test_mapping_mistakes_name_the_key_and_column(tmp_path, old, new, pattern):
    src = _example_source()
    lines = (np.flatnonzero(src["通话结果"] == "未接通")[:5] + 2).tolist()  # header is line 1
    assert int((src["通话结果"] == "未接通").sum()) == 84
    pattern = pattern.replace("{no_answer_lines}", ", ".join(map(str, lines)))
    mapping = _dialer_mapping_with(tmp_path, old, new)
    with pytest.raises(MappingError, match=pattern):
        import_sources([EXAMPLE], mapping, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_section_and_bad_toml(tmp_path):
    with pytest.raises(MappingError, match=r"m\.toml: \[call\]: unknown section; .*did you mean 'calls'\?"):
        build_tables([EXAMPLE], _mapping(tmp_path, '[call.columns]\nrep_id = "x"\n', "m.toml"))
    with pytest.raises(MappingError, match=r"m\.toml: not a valid TOML file"):
        build_tables([EXAMPLE], _mapping(tmp_path, "[calls.columns\n", "m.toml"))
    with pytest.raises(MappingError, match=r"mapping file .*nowhere\.toml does not exist"):
        build_tables([EXAMPLE], tmp_path / "nowhere.toml")
    with pytest.raises(ParameterError, match=r"source file .*missing\.csv does not exist"):
        build_tables([tmp_path / "missing.csv"], DIALER_MAPPING)


def test_cli_bad_mapping_exits_2_without_traceback(tmp_path):
    mapping = _dialer_mapping_with(tmp_path, '"未接通" = "no_answer"', '"未接" = "no_answer"')
    proc = subprocess.run(
        [sys.executable, "-m", "telesales_lab.cli", "import", str(EXAMPLE), "--mapping", str(mapping),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error: mapping.toml: [calls.columns] outcome: source column '通话结果' has values" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_import_prints_the_summary(tmp_path, capsys):
    assert main(["import", str(EXAMPLE), "--mapping", str(DIALER_MAPPING), "--out", str(tmp_path / "o"),
                 "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "table,rows,file"
    assert lines[4].startswith("calls,200,")


# ----------------------------------------------------------------------------- mapping features on small exports
def _write(tmp_path: Path, name: str, frame: pd.DataFrame, **kw) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False, **kw)
    return path


_MINIMAL = """
[calls.columns]
rep_id = {{ constant = "R1" }}
customer_id = {customer}
script_id = {{ constant = "S1" }}
started_at = {started}
duration_s = {duration}
outcome = {{ column = "res", values = {{ y = "sale", n = "rejected" }}, default = "no_answer" }}
{extra}
"""


def _small_mapping(tmp_path, customer='"cust"', started='{ column = "when" }', duration='"secs"', extra="",
                   source=""):
    return _mapping(tmp_path, source + _MINIMAL.format(customer=customer, started=started, duration=duration,
                                                        extra=extra))


def test_hashed_ids_are_stable_and_do_not_depend_on_row_order(tmp_path):
    frame = pd.DataFrame({"name": ["甲", "乙", "甲", "丙"], "phone": ["1", "2", "1", "3"],
                          "when": ["2026-10-01 09:00:00"] * 4, "secs": ["10"] * 4, "res": ["y", "n", "x", "n"]})
    mapping = _small_mapping(tmp_path, customer='{ id = ["name", "phone"], prefix = "K" }')
    first = build_tables([_write(tmp_path, "a.csv", frame)], mapping)
    again = build_tables([_write(tmp_path, "b.csv", frame)], mapping)
    shuffled = build_tables([_write(tmp_path, "c.csv", frame.iloc[[3, 2, 1, 0]])], mapping)
    ids = first["calls"]["customer_id"]
    assert ids.str.match(r"^K[0-9a-f]{16}$").all()
    assert ids[0] == ids[2] and ids.nunique() == 3
    assert list(again["calls"]["customer_id"]) == list(ids)
    assert list(shuffled["calls"]["customer_id"]) == list(ids.iloc[[3, 2, 1, 0]])
    assert len(first["customers"]) == 3
    # the default call ids are row numbers, counted across all sources in order
    assert list(first["calls"]["call_id"]) == ["C1", "C2", "C3", "C4"]
    both = build_tables([tmp_path / "a.csv", tmp_path / "b.csv"], mapping)
    assert list(both["calls"]["call_id"]) == [f"C{i}" for i in range(1, 9)]
    # unmapped outcome "x" took the default; placeholders filled the customers
    assert list(first["calls"]["outcome"]) == ["sale", "rejected", "no_answer", "rejected"]
    assert set(first["customers"]["phone"]) == {PHONE_PLACEHOLDER}
    # no names in the export: the placeholder, never the id (the report would refuse an id shown as a name)
    assert set(first["customers"]["name"]) == {NAME_PLACEHOLDER}


def test_duration_wraps_past_midnight_and_dates_from_parts(tmp_path):
    frame = pd.DataFrame({"cust": ["K1", "K2", "K3", "K4", "K5"],
                          "mon": ["dec", "dec", "dec", "mar", "mar"],
                          "dow": ["mon", "wed", "mon", "tue", "周五"],
                          "t0": ["23:59:00", "10:00:00", "10:00:00", "10:00:00", "10:00:00"],
                          "t1": ["00:01:30", "10:00:05", "10:00:00", "10:10:00", "10:00:01"],
                          "res": ["y", "n", "n", "y", "n"]})
    mapping = _small_mapping(
        tmp_path, started='{ month = "mon", first_year = 2020, weekday = "dow", time = "t0" }',
        duration='{ start = "t0", end = "t1" }')
    calls = build_tables([_write(tmp_path, "p.csv", frame)], mapping)["calls"]
    assert calls["duration_s"].tolist() == [150.0, 5.0, 0.0, 600.0, 1.0]
    # independent calendar: first Monday of Dec 2020, the Wednesday after, the Monday after that;
    # the months wrap to March, so 2021: first Tuesday of Mar 2021, then the Friday after it
    first_monday = min(d for d in range(1, 8) if dt.date(2020, 12, d).weekday() == 0)
    first_tuesday = min(d for d in range(1, 8) if dt.date(2021, 3, d).weekday() == 1)
    expect = [dt.datetime(2020, 12, first_monday, 23, 59), dt.datetime(2020, 12, first_monday + 2, 10),
              dt.datetime(2020, 12, first_monday + 7, 10), dt.datetime(2021, 3, first_tuesday, 10),
              dt.datetime(2021, 3, first_tuesday + 3, 10)]
    assert list(calls["started_at"]) == [pd.Timestamp(e) for e in expect]


def test_weekday_walk_past_the_month_end_is_an_error(tmp_path):
    days = ["mon", "tue"] * 6  # six weeks of Monday/Tuesday cannot fit in one month
    frame = pd.DataFrame({"cust": [f"K{i}" for i in range(12)], "mon": ["feb"] * 12, "dow": days,
                          "secs": ["1"] * 12, "res": ["n"] * 12})
    mapping = _small_mapping(tmp_path, started='{ month = "mon", first_year = 2021, weekday = "dow" }')
    with pytest.raises(MappingError, match=r"\[calls\.columns\] started_at: the weekdays in source column 'dow' "
                                           r"run past the end of 2021-02 .*give day instead"):
        build_tables([_write(tmp_path, "w.csv", frame)], mapping)


def test_constants_bands_missing_values_and_separator(tmp_path):
    frame = pd.DataFrame({"cust": ["K1", "K2", "K3", "K4"], "when": ["01.10.2026", "02.10.2026", "-", "03.10.2026"],
                          "secs": ["1", "2", "3", "4"], "res": ["y", "n", "n", "n"], "age": ["19", "25", "64", "-"],
                          "pd": ["999", "3", "999", "5"]})
    source = '[source]\nseparator = ";"\nencoding = "utf-8-sig"\nmissing = ["-"]\n'
    extra = ('[calls.extra]\nage_band = { column = "age", bands = [25, 65] }\n'
             'days = { column = "pd", values = { "999" = "" }, keep_unmapped = true }\n'
             'campaign = { constant = "autumn" }\n')
    mapping = _small_mapping(tmp_path, started='{ column = "when", format = "%d.%m.%Y" }', extra=extra,
                             source=source)
    path = _write(tmp_path, "s.csv", frame, sep=";", encoding="utf-8-sig")
    with pytest.raises(MappingError, match=r"started_at: started_at must not be empty, but column 'when' gives "
                                           r"no value in 1 row\(s\): rows 4 of s\.csv"):
        build_tables([path], mapping)
    frame.loc[2, "when"] = "02.10.2026"
    calls = build_tables([_write(tmp_path, "s.csv", frame, sep=";", encoding="utf-8-sig")], mapping)["calls"]
    assert [None if pd.isna(v) else v for v in calls["age_band"]] == ["<25", "25-64", "25-64", None]
    assert [None if pd.isna(v) else v for v in calls["days"]] == [None, "3", None, "5"]
    assert set(calls["campaign"]) == {"autumn"}
    assert calls["started_at"].iloc[0] == pd.Timestamp("2026-10-01")


def test_extra_column_names_must_be_snake_case(tmp_path):
    frame = pd.DataFrame({"cust": ["K1"], "when": ["2026-10-01"], "secs": ["1"], "res": ["y"]})
    mapping = _small_mapping(tmp_path, extra='[calls.extra]\n"Contact Channel" = "cust"\n')
    with pytest.raises(MappingError, match=r"\[calls\.extra\] Contact Channel: extra column names must be snake_case"):
        build_tables([_write(tmp_path, "e.csv", frame)], mapping)


def test_readme_mapping_example_runs(tmp_path):
    """The mapping shown in docs/importing.md imports the example export (plus an age column)."""
    readme = (ROOT / "docs" / "importing.md").read_text(encoding="utf-8")
    section = readme.split("## The mapping file", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    block = block.replace('missing = ["-", "NULL"]', 'missing = ["-", "NULL"]\n')
    mapping = _mapping(tmp_path, block)
    src = _example_source()
    src["年龄"] = [str(20 + i % 50) for i in range(len(src))]
    path = tmp_path / "export.csv"
    src.to_csv(path, index=False, encoding="gb18030")
    out = tmp_path / "out"
    import_sources([path], mapping, out)
    data = load_dataset(out)
    assert len(data.calls) == len(src)
    assert data.customers["customer_id"].str.match(r"^K[0-9a-f]{16}$").all()
    assert set(data.customers["age_band"]) <= {"<25", "25-34", "35-44", "45-54", "55+"}
    assert int((data.calls["outcome"] == "sale").sum()) == len(data.orders)


def test_import_or_skip(tmp_path, capsys):
    from telesales_lab.data.importer import import_or_skip

    assert import_or_skip([tmp_path / "absent.csv"], DIALER_MAPPING, tmp_path / "o") is None
    assert "Skipped: " in capsys.readouterr().out and not (tmp_path / "o").exists()
    first = import_or_skip(EXAMPLE, DIALER_MAPPING, tmp_path / "o")
    stamp = (tmp_path / "o" / "calls.csv").stat().st_mtime_ns
    again = import_or_skip(EXAMPLE, DIALER_MAPPING, tmp_path / "o")  # up to date: not imported again
    assert (tmp_path / "o" / "calls.csv").stat().st_mtime_ns == stamp
    assert len(first.calls) == len(again.calls) == 200


def test_excel_source_and_hex_ids(tmp_path):
    from telesales_lab.data.importer import _hex16

    values = np.array([0, 1, 2**64 - 1, 0x0123456789ABCDEF], dtype=np.uint64)
    assert _hex16(values).tolist() == [f"{int(v):016x}" for v in values]
    frame = pd.DataFrame({"cust": ["K1", "K2"], "when": ["2026-10-01 09:00:00", "2026-10-02 10:30:00"],
                          "secs": ["30", "45"], "res": ["y", "n"]})
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        frame.to_excel(xw, sheet_name="通话记录", index=False)
    mapping = _small_mapping(tmp_path, source='[source]\nsheet = "通话记录"\n')
    out = tmp_path / "x"
    import_sources([path], mapping, out)
    calls = load_dataset(out).calls
    assert list(calls["outcome"].astype(str)) == ["sale", "rejected"]
    assert list(calls["started_at"]) == [pd.Timestamp("2026-10-01 09:00"), pd.Timestamp("2026-10-02 10:30")]
    wrong = _small_mapping(tmp_path, source='[source]\nsheet = "calls"\n')
    with pytest.raises(MappingError, match=r"\[source\] sheet: cannot read export\.xlsx"):
        build_tables([path], wrong)


def test_day_placeholder_and_day_past_month_end(tmp_path):
    frame = pd.DataFrame({"cust": ["K1", "K2"], "mon": ["1月", "二月"], "yr": ["2024", "2024"],
                          "secs": ["1", "2"], "res": ["y", "n"]})
    path = _write(tmp_path, "d.csv", frame)
    ok = _small_mapping(tmp_path, started='{ month = "mon", year = "yr", day = 1 }')
    calls = build_tables([path], ok)["calls"]
    assert list(calls["started_at"]) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    bad = _small_mapping(tmp_path, started='{ month = "mon", year = 2023, day = 30 }')
    with pytest.raises(MappingError, match=r"\[calls\.columns\] started_at: day is past the end of its month "
                                           r"in 1 row\(s\): rows 3 of d\.csv"):
        build_tables([path], bad)
