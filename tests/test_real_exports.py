"""Exports that the demo generator did not make: the shipped Chinese dialer export and the
UCI Bank Marketing data set, imported and analysed end to end (issue: every valid data set
gets a complete monthly report, with no invented numbers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telesales_lab.cli import main

from conftest import ROOT, shared_dataset

ZH_EXPORT = ROOT / "data" / "examples" / "dialer_export_zh.csv"
ZH_MAPPING = ROOT / "data" / "mappings" / "dialer_zh.toml"
BANK_MAPPING = ROOT / "data" / "mappings" / "uci_bank_marketing.toml"
#: Text that must never reach a page: a missing value printed as if it were a result.
MISSING_TEXT = re.compile(r"(?<![\w-])(None|nan|NaN|<NA>|NaT)(?![\w-])")


@pytest.fixture(scope="module")
def zh_data(tmp_path_factory) -> Path:
    from telesales_lab.data.importer import import_sources

    out = tmp_path_factory.mktemp("zh") / "data"
    import_sources([ZH_EXPORT], ZH_MAPPING, out)
    return out


def visible_text(page: str) -> str:
    """The text of an HTML page a reader sees (no tags, styles, scripts or embedded images)."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    page = re.sub(r"(?s)<[^>]+>", " ", page)
    return page


def test_rank_scripts_by_class_when_customers_have_no_history(zh_data, capsys):
    """The export starts in September: nobody has a class before it, so all customers are
    new (class C); the ranking runs instead of raising IndexError."""
    from telesales_lab.analysis import ranking as sr
    from telesales_lab.data.load import load_dataset

    data = load_dataset(zh_data)
    frame = sr.rank_scripts(data, "2026-09", by="customer_class", window_months=2)
    assert set(frame["customer_class"]) == {"C"}
    assert main(["rank-scripts", str(zh_data), "--month", "2026-10", "--by", "customer_class",
                 "--window-months", "3", "--format", "csv"]) == 0
    assert "customer_class" in capsys.readouterr().out


def test_calendar_is_empty_when_nobody_has_a_gap(zh_data):
    """No assessments: no credible gap, so no classroom sessions (not twelve empty rooms)."""
    from telesales_lab.analysis import training
    from telesales_lab.data.load import load_dataset

    cal = training.annual_calendar(load_dataset(zh_data), "2026-10", lang="zh")
    assert cal.empty
    assert list(cal.columns)[:3] == ["session_month", "area", "module_id"]


@pytest.mark.slow
def test_chinese_example_gets_a_full_report_in_chinese(zh_data, tmp_path):
    assert main(["report", str(zh_data), "--month", "2026-10", "--lang", "zh", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "2026-10"
    pages = sorted(folder.glob("*.html")) + sorted((folder / "coaching").glob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        text = visible_text(page.read_text(encoding="utf-8"))
        found = MISSING_TEXT.findall(text)
        assert not found, f"{page.name} shows {found[:3]}"


@pytest.mark.slow
def test_bank_marketing_import_gets_a_full_report(tmp_path):
    source = shared_dataset("uci-bank-marketing") / "bank-additional-full.csv"
    data_dir = tmp_path / "bank"
    assert main(["import", str(source), "--mapping", str(BANK_MAPPING), "--out", str(data_dir),
                 "--format", "csv"]) == 0
    assert main(["report", str(data_dir), "--month", "2010-11", "--out", str(tmp_path / "reports")]) == 0
    folder = tmp_path / "reports" / "2010-11"
    for page in folder.glob("*.html"):
        found = MISSING_TEXT.findall(visible_text(page.read_text(encoding="utf-8")))
        assert not found, f"{page.name} shows {found[:3]}"
    # the whole-centre placeholder agent is not a person: no coaching pack for it
    assert not (folder / "coaching" / "bank_agents.html").exists()
