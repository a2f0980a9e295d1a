"""The output scan searches only where a customer could be found: it must find exactly what
searching all of every text finds (:meth:`_Targets.search`, the reference)."""

from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from telesales_lab.data import privacy
from telesales_lab.data.privacy import _nfkc_utf8, _Targets

CUSTOMERS = pd.DataFrame({
    "customer_id": [f"K{i}" for i in range(1, 14)],
    "name": ["龙傲天", "Zebulon Quixotefield", "王芳", "Ann", "José García", "O'Brien-Smith",
             "Mary Ann Lee", "李·娜", "Ünal=Öz", "Ola  Nordmann", "Smiti", "张 伟", "Ola Smi"],
    "phone": ["13900001111", "+86 138-1234-5678", "13700002222", "13600003333", "0211234567",
              "8675309", "0086 135 0000 4444", "13312345678", "5551234", "98765432", "13400005555",
              "13100006666", None],
})

#: Pieces of text: the customers in many spellings, near misses, markup and filler.
FRAGMENTS = [
    "龙傲天", "龙 傲 天", "龙　傲　天", "王芳", "王 芳", "王芳草", "Zebulon Quixotefield", "ZEBULON QUIXOTEFIELD",
    "zebulon quixotefield", "Z e b u l o n Q u i x o t e f i e l d", "Ｚｅｂｕｌｏｎ", "Ann", "Annual", "ann", "A n n",
    "José García", "Jose\u0301 Garci\u0301a", "O'Brien-Smith", "Mary Ann Lee", "MARY ANN LEE", "李·娜", "Ünal=Öz",
    "Ola Nordmann", "SMİTİ", "Smiti", "OLA SMİ", "Ola Smi", "张伟", "张 伟",
    "13900001111", "139.0000.1111", "139 000 01111", "(139) 0000-1111", "１３９００００１１１１", "8613812345678",
    "+86 138 1234 5678", "0086-138-1234-5678", "0211234567", "021-1234-567", "8675309", "867-5309", "5551234",
    "555 1234", "98765432", "9876 5432", "13312345678", "133 1234 5678", "9139000011117", "12.39 -11.31",
    "<", ">", '"', "=", "\n", " ", "\t", "  ", ".", "-", "/", ":", "·", "—", "<td>", "</td>", '<c r="A2" s="1">',
    "&#40857;", "abc", "xyz", "客户", "，", "…", "\u0338", "\u0301", "㈱", "①②", "2026-10-01 00:00:00", "0.1234567",
    "1e+16", "\u2028", "İ", "K",
]


@pytest.fixture(scope="module", params=["all", "chinese"])
def targets(request):
    """Every kind of name; or Chinese names only (their own, narrower filter)."""
    if request.param == "all":
        return _Targets(CUSTOMERS)
    return _Targets(CUSTOMERS[CUSTOMERS["name"].str.fullmatch(r"[\u4e00-\u9fff·]+")])


def _same(targets, texts):
    reference = targets.search("\n".join(texts))
    fast = targets.find(texts)
    assert Counter(fast) == Counter(reference), texts


def test_fast_scan_finds_exactly_what_the_full_search_finds(targets):
    rng = np.random.default_rng(14)
    for _ in range(600):
        k = int(rng.integers(1, 30))
        text = "".join(FRAGMENTS[i] for i in rng.integers(0, len(FRAGMENTS), k))
        _same(targets, [text])


def test_fast_scan_agrees_over_several_texts_and_long_chunked_texts(targets, monkeypatch):
    monkeypatch.setattr(privacy, "CHUNK_CHARS", 50)  # many chunks, cut at new lines and "<"
    rng = np.random.default_rng(9)
    for _ in range(200):
        texts = ["".join(FRAGMENTS[i] for i in rng.integers(0, len(FRAGMENTS), int(rng.integers(1, 60))))
                 for _ in range(int(rng.integers(1, 4)))]
        _same(targets, texts)


def test_every_spelling_is_found_alone(targets):
    for fragment in FRAGMENTS:
        for text in (fragment, f"<td>{fragment}</td>", f"x{fragment}y", f"1{fragment}2"):
            _same(targets, [text])
    assert targets.find("<p>号码１３９００００１１１１</p>")  # a real leak is found, not only agreed on
    assert targets.find("<p>龙 傲 天</p>")


def test_a_customers_table_with_other_digits_is_searched_in_full():
    customers = pd.DataFrame({"customer_id": ["K1"], "name": ["王芳"], "phone": ["١٣٩٠٠٠٠١١١١"]})
    targets = _Targets(customers)
    assert not targets.exact  # Arabic-Indic digits: no filter, every text searched whole
    assert targets.find("王芳") == targets.search("王芳")


def test_nfkc_piece_by_piece_equals_nfkc_of_the_whole():
    rng = np.random.default_rng(3)
    alphabet = ["a", "e", "<", "=", ">", "\n", " ", "\u0301", "\u0338", "\u0316", "ﾞ", "ｶ", "가", "\u11a8", "\u1161",
                "ᄀ", "１", "，", "…", "é", "Å", "㈱", "ﬁ", "王", "·", "\u0f73", "K", "İ"]
    for _ in range(2000):
        text = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), int(rng.integers(0, 12))))
        assert _nfkc_utf8(text) == unicodedata.normalize("NFKC", text).encode("utf-8"), repr(text)


def test_the_unicode_facts_the_fast_scan_rests_on():
    # no canonical composition has an ASCII character as its second part
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<") and len(d.split()) == 2:
            assert int(d.split()[1], 16) >= 0x80
    # after NFKC, only these characters lower-case to something with an ASCII letter
    lowers = {chr(cp) for cp in range(0x80, 0x110000)
              if any("a" <= c <= "z" for c in chr(cp).lower()) and unicodedata.normalize("NFKC", chr(cp)) == chr(cp)}
    assert lowers == set(privacy._LOWER_TO_ASCII)


def test_numbers_are_written_as_str_writes_them():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.standard_normal(20_000) * 10.0 ** rng.integers(-25, 25, 20_000),
                             [0.0, -0.0, 1e16, 1e-5, 123456789.0, np.inf, -np.inf, 13812345678.0]])
    assert values.astype(str).tolist() == [str(v) for v in values]
    assert list(map(repr, values.tolist())) == [str(v) for v in values]
    stamps = pd.Series(pd.to_datetime(["2026-10-01", "2026-10-01 09:30:01.5", "1999-12-31 23:59:59.000000001"], format="ISO8601"))
    for column in (stamps, stamps.dt.tz_localize("Asia/Shanghai"),
                   pd.Series([1, None, 13812345678], dtype="Int64"), pd.Series([True, False])):
        values = pd.unique(column.dropna())
        if isinstance(values, np.ndarray):
            assert values.astype(str).tolist() == [str(v) for v in values]
    assert list(map(repr, values.tolist())) == [str(v) for v in values]


def test_parquet_text_is_what_str_gives_for_each_distinct_value(tmp_path):
    frame = pd.DataFrame({"s": ["a", "b", "a", None], "c": pd.Categorical(["x", "y", "x", "x"]),
                          "f": [0.1, 1e16, 13812345678.0, np.nan], "i": [1, 2, 3, 13812345678],
                          "t": pd.to_datetime(["2026-10-01", "2026-10-02 09:00:01", None, "2026-10-01"], format="ISO8601"),
                          "b": [True, False, True, True], "d": pd.to_timedelta([1, 2, 3, 4], unit="s"),
                          "n": pd.array([1, None, 3, 4], dtype="Int64"),
                          "z": pd.to_datetime(["2026-10-01"] * 4).tz_localize("Asia/Shanghai"),
                          "o": pd.Categorical([1.5, 2.0, 1.5, 3.0])})
    frame.to_parquet(tmp_path / "t.parquet")
    pieces = privacy._parquet_texts(tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert pieces[-len(back.columns):] == ["\n".join(map(str, pd.unique(back[c].dropna()))) for c in back.columns]
