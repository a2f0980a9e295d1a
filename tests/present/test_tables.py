"""The table layer for people: formats by column kind, words for missing values, names, top rows."""

import numpy as np
import pandas as pd

from telesales_lab.present import tables


def _frame():
    return pd.DataFrame({
        "rep_id": ["R2", "R1", "R3"], "team": ["三组", "一组", "二组"],
        "sale_rate": [0.1234, np.nan, 0.5], "revenue": [12345.678, 5.5, np.nan],
        "p_value": [0.0001, 0.2, np.nan], "calls": pd.array([1200, 3, 45], dtype="Int64"),
        "score": [71.26, 65.0, np.nan], "significant": [True, False, True], "scenario": ["cold_call"] * 3,
        "grade": ["A", "B", "C"],
    })


def test_formats_by_kind_and_never_none_or_nan():
    html = tables.to_html(_frame(), "en", top=None)
    for text in ("12.3%", "12,346", "5.50", "&lt;0.001", "0.200", "1,200", "71.3", "yes", "cold call", "no evidence"):
        assert text in html, text
    assert "None" not in html and "nan" not in html.lower().replace("nan-", "")
    assert "rows ×" not in html and "<th class=\"blank" not in html  # no index, no footer


def test_chinese_values_words_and_grades_as_is():
    html = tables.to_html(_frame(), "zh", top=None)
    assert "陌生电话" in html and "无证据" in html and "是" in html
    assert "cold_call" not in html and "True" not in html
    assert ">A<" in html.replace(" ", "") or "A</td>" in html  # a grade is not a customer class


def test_names_beside_ids_sorted_and_cut_with_a_pointer():
    reps = pd.DataFrame({"rep_id": ["R1", "R2", "R3"], "name": ["甲", "乙", "丙"]})
    shown, total = tables.shown(_frame(), sort="score", top=2, reps=reps)
    assert list(shown.columns[:3]) == ["rep_id", "rep_name", "team"]
    assert shown["rep_id"].tolist() == ["R2", "R1"] and total == 3
    html = tables.to_html(_frame(), "en", sort="score", top=2, reps=reps)
    assert "top 2 of 3 rows; full table in the workbook" in html


def test_chinese_team_names_in_natural_order():
    assert tables.natural_sorted(["华东三组", "华东一组", "华东二组", "华东十组"]) == \
        ["华东一组", "华东二组", "华东三组", "华东十组"]
    assert tables.natural_sorted(["team 10", "team 2"]) == ["team 2", "team 10"]
    shown, _ = tables.shown(_frame(), sort="team", top=None)
    assert shown["team"].tolist() == ["一组", "二组", "三组"]


def test_translate_values_keeps_numbers():
    out = tables.translate_values(_frame(), "zh")
    assert out["scenario"].eq("陌生电话").all() and out["significant"].tolist() == ["是", "否", "是"]
    assert out["sale_rate"].equals(_frame()["sale_rate"]) and out["grade"].tolist() == ["A", "B", "C"]


def test_long_tables_format_each_row_by_its_metric():
    change = pd.DataFrame({"metric": ["dials", "contact_rate", "revenue"], "current": [10019.0, 0.487374, 4275287.65],
                           "previous": [10047.0, 0.481, 4171303.0], "relative_change": [-0.0028, 0.0132, 0.0249]})
    html = tables.to_html(change, "en", top=None)
    assert "10,019" in html and "48.7%" in html and "4,275,288" in html and "1.3%" in html
    assert "e+0" not in html


def test_an_empty_text_column_is_text():
    frame = pd.DataFrame({"script_id": pd.Series([None, None], dtype="string"), "calls": [1, 2]})
    html = tables.style(frame, "en").to_html()
    assert "None" not in html and "nan" not in html
