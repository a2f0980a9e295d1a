"""Customers' phones and names never reach an output: masking, and the scan of output files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_tables, write_tables

from telesales_lab.data.load import load_dataset
from telesales_lab.data.privacy import mask_phone, scan_outputs
from telesales_lab.present.workbook import write_workbook

PHONE, NAME, CID = "13812345678", "陈静", "K1"  # customer K1 of the tiny data set


# ----------------------------------------------------------------------------- mask_phone
@pytest.mark.parametrize("phone, masked", [
    ("13812345678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    ("+86 138 1234 5678", "138****5678"),
    ("008613812345678", "138****5678"),
    ("021-12345678", "021****5678"),
    ("12345678", "123*5678"),
    ("12345", "***45"),
    ("", ""),
])
def test_mask_phone_keeps_first_three_and_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked
    assert mask_phone(pd.Series([phone]))[0] == masked  # the vectorised path agrees


def test_mask_phone_on_a_series_keeps_index_and_missing_values():
    s = pd.Series(["13812345678", None, "13987654321"], index=[10, 11, 12])
    out = mask_phone(s)
    assert out.index.tolist() == [10, 11, 12]
    assert out[10] == "138****5678" and pd.isna(out[11]) and out[12] == "139****4321"
    assert mask_phone(None) is None


# ----------------------------------------------------------------------------- scan_outputs
@pytest.fixture
def data(tmp_path):
    return load_dataset(write_tables(tmp_path / "data", tiny_tables()))


def _found(folder, data, **kw):
    return sorted((f.file, f.kind, f.customer_id, f.count) for f in scan_outputs(folder, data, **kw))


def test_clean_outputs_give_no_finding(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    (out / "page.html").write_text(f"<p>customer {CID}: {mask_phone(PHONE)}</p>", encoding="utf-8")
    (out / "table.csv").write_text("customer_id,calls\nK1,3\nK2,1\n", encoding="utf-8")
    assert scan_outputs(out, data) == []


def test_planted_phone_and_name_are_found_in_every_format(tmp_path, data):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "page.html").write_text(f"<td>{PHONE}</td><td>{PHONE}</td>", encoding="utf-8")
    entities = "".join(f"&#{ord(c)};" for c in NAME)
    (out / "sub" / "entities.html").write_text(f"<p>{entities}</p>", encoding="utf-8")
    (out / "gb.csv").write_bytes(f"name,x\n{NAME},1\n".encode("gb18030"))
    nb = {"cells": [{"cell_type": "code", "source": "x", "outputs": [{"text": f"客户{NAME}来电"}]}]}
    (out / "escaped.ipynb").write_text(json.dumps(nb, ensure_ascii=True), encoding="ascii")
    pd.DataFrame({"phone": [int(PHONE)], "n": [1]}).to_parquet(out / "numbers.parquet")
    write_workbook([("s", pd.DataFrame({"who": [f"call {NAME}"], "tel": ["+86 138-1234-5678"]}))],
                   out / "book.xlsx")
    (out / "notes.txt").write_text("ring 138 1234 5678 back", encoding="utf-8")
    assert _found(out, data) == sorted([
        ("page.html", "phone", CID, 2),
        ("sub/entities.html", "name", CID, 1),
        ("gb.csv", "name", CID, 1),
        ("escaped.ipynb", "name", CID, 1),
        ("numbers.parquet", "phone", CID, 1),
        ("book.xlsx", "name", CID, 1),
        ("book.xlsx", "phone", CID, 1),
        ("notes.txt", "phone", CID, 1),
    ])


def test_findings_show_values_masked(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    (out / "leak.html").write_text(f"{NAME} {PHONE}", encoding="utf-8")
    text = " | ".join(str(f) for f in scan_outputs(out, data))
    assert "138****5678" in text and "陈*" in text and CID in text
    assert PHONE not in text and NAME not in text


def test_images_digits_in_other_numbers_and_svg_geometry_are_not_findings(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    payload = f'<img src="data:image/png;base64,iVBORw0KGgo+{PHONE}/AAAA==">'  # digits are base64 too
    svg = f'<svg><path d="M {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"/></svg>'  # coordinates, not a phone
    longer = f"<p>order 9{PHONE}7</p>"  # a longer number is not this phone
    (out / "page.html").write_text(payload + svg + longer, encoding="utf-8")
    (out / "plot.png").write_bytes(PHONE.encode())  # images are not read
    assert scan_outputs(out, data) == []


def test_names_that_may_legitimately_show_are_not_searched_but_phones_are(tmp_path):
    tables = tiny_tables()
    tables["reps"].loc[0, "name"] = "刘洋"  # a rep who shares customer K2's name
    data = load_dataset(write_tables(tmp_path / "data", tables))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.html").write_text("coach 刘洋 met 赵磊; 陈静 13700001111", encoding="utf-8")
    found = _found(out, data, template_text="## 陈静 is also a word of our template")
    assert found == [("a.html", "name", "K3", 1), ("a.html", "phone", "K3", 1)]


def test_latin_names_match_whole_words_case_sensitively(tmp_path):
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["John Smith", "Ann Lee"],
                              "phone": ["5551234567", "5559876543"]})
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("note\nJohn Smith called\njohn smith lowercase\nAnn Leeds\n", encoding="utf-8")
    found = [(f.customer_id, f.count) for f in scan_outputs(out, customers)]
    assert found == [("C1", 1)]


def test_scan_scales_to_a_large_customer_table(tmp_path):
    n = 200_000
    rng = np.random.default_rng(1)
    phones = pd.Series(13_000_000_000 + rng.choice(10**9, n, replace=False)).astype(str)
    surnames, given = list("王李张刘陈杨黄赵吴周"), list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平")
    names = (pd.Series(np.array(surnames)[rng.integers(0, 10, n)])
             + pd.Series(np.array(given)[rng.integers(0, 20, n)])
             + pd.Series(np.array(given)[rng.integers(0, 20, n)]))
    customers = pd.DataFrame({"customer_id": [f"K{i}" for i in range(n)], "name": names, "phone": phones})
    out = tmp_path / "out"
    out.mkdir()
    k = 123_456
    filler = "".join(f"<td>{v:.6f}</td>" for v in rng.random(20_000))
    (out / "big.html").write_text(filler + f"<td>{phones[k]}</td>", encoding="utf-8")
    found = scan_outputs(out, customers)
    assert [(f.kind, f.customer_id) for f in found] == [("phone", f"K{k}")]


# ----------------------------------------------------------------------------- OutputScan
def test_output_scan_reads_each_file_once_and_again_when_it_changes(tmp_path, data, monkeypatch):
    from telesales_lab.data import privacy

    out = tmp_path / "out"
    out.mkdir()
    clean, later = out / "a.html", out / "b.html"
    clean.write_text("<p>nothing here</p>", encoding="utf-8")
    reads = []
    real = privacy._output_texts
    monkeypatch.setattr(privacy, "_output_texts", lambda path: reads.append(path.name) or real(path))
    scan = privacy.OutputScan(out, data)
    scan.scan([clean])
    clean.write_text(f"<p>call {PHONE}</p>", encoding="utf-8")  # rewritten after its scan: read again
    later.write_text(f"<p>{NAME}</p>", encoding="utf-8")  # never named: finish finds it
    found = sorted((f.file, f.kind, f.customer_id, f.count) for f in scan.finish())
    assert found == [("a.html", "phone", CID, 1), ("b.html", "name", CID, 1)]
    assert reads == ["a.html", "a.html", "b.html"]
    assert scan.finish() and reads == ["a.html", "a.html", "b.html"]  # nothing changed: nothing read


def test_output_scan_of_a_workbook_as_written_equals_reading_it_back(tmp_path, data):
    """The report scans each sheet's text (header, distinct cell values) as it writes it; the
    findings are those of reading the finished file, one per customer and kind, counts added up
    over the sheets."""
    from telesales_lab.data.privacy import OutputScan
    from telesales_lab.present.workbook import WorkbookWriter

    out = tmp_path / "out"
    out.mkdir()
    book = WorkbookWriter(out / "book.xlsx")
    scan = OutputScan(out, data)
    hits = []
    for frame in (pd.DataFrame({"who": [f"call {NAME}"]}), pd.DataFrame({"tel": [PHONE], "n": [NAME]})):
        hits += scan.find(book.add(frame)[1])
    order = [("second", 2), ("first", 1)]
    hits += scan.find([content for _, content in book.package_parts(order)])
    scan.record(book.close(order), hits)
    written = sorted((f.file, f.kind, f.customer_id, f.count) for f in scan.finish())
    assert written == _found(out, data) == [("book.xlsx", "name", CID, 2), ("book.xlsx", "phone", CID, 1)]
    assert pd.ExcelFile(out / "book.xlsx").sheet_names == ["second", "first"]
