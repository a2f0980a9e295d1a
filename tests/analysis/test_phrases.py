"""Phrases are whole words: jieba for Chinese, word n-grams for English, never across punctuation."""

import jieba

from telesales_lab.analysis import ranking as sr
from telesales_lab.analysis.ranking.phrases import _covered_text, _word_ngrams


def test_chinese_grams_are_whole_jieba_words_within_a_clause():
    text = "您好，我是星辰科技的客户顾问，冒昧打扰您一分钟。"
    grams = _word_ngrams(1, 3)(text)
    words = {w for clause in ("您好", "我是星辰科技的客户顾问", "冒昧打扰您一分钟") for w in jieba.lcut(clause)}
    assert words <= set(grams) | {"，", "。"}
    assert not any("，" in g or "。" in g for g in grams)
    assert "户顾" not in grams and "，我们" not in grams  # no fragment cut mid-word or across a comma


def test_segmenter_equals_jieba_on_every_chinese_clause_of_the_catalog_and_demo(demo_folder):
    """The segmenter that loads only the dictionary words occurring in its clauses cuts every
    clause as jieba's default tokenizer does (labels, notes and the demo's scripts and transcripts)."""
    import tomllib
    from importlib.resources import files

    import pandas as pd

    from telesales_lab.analysis.ranking.phrases import _CJK, _CLAUSE, _Segmenter

    def strings(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from strings(v)
        elif isinstance(node, list):
            for v in node:
                yield from strings(v)
        elif isinstance(node, str):
            yield node

    texts = list(strings(tomllib.loads(files("telesales_lab").joinpath("locale/zh.toml").read_text("utf-8"))))
    folder, _ = demo_folder()
    texts += list(pd.read_csv(folder / "scripts.csv")["text"].dropna())
    texts += list(pd.read_csv(folder / "calls.csv", usecols=["transcript"])["transcript"].dropna().unique()[:300])
    clauses = sorted({c for t in texts for c in _CLAUSE.split(t) if _CJK.search(c)})
    assert len(clauses) > 300
    seg = _Segmenter(use_loaded=False)
    assert seg.tk is not None  # its own tokenizer, not jieba's
    mine = [seg.lcut(c) for c in clauses]
    assert mine == [jieba.lcut(c, HMM=True) for c in clauses]
    assert seg.tk.total == jieba.dt.total
    assert set(seg.tk.FREQ) <= set(jieba.dt.FREQ) and len(seg.tk.FREQ) < len(jieba.dt.FREQ) / 10


def test_english_word_ngrams():
    assert _word_ngrams(2, 2)("Hello, I am calling about your account") == \
        ["I am", "am calling", "calling about", "about your", "your account"]


def test_covered_text_keeps_whole_clauses():
    import numpy as np

    doc = "看到贵公司最近使用量增长很快，高级版正好有限时优惠，本月内升级可以多送三个月。"
    covered = np.zeros(len(doc) + 1, bool)
    covered[15:25] = True  # 高级版正好有限时优惠
    assert _covered_text(doc, covered) == "高级版正好有限时优惠"


def test_demo_phrases_start_and_end_on_words(demo_folder):
    from telesales_lab.data.load import load_dataset

    folder, _ = demo_folder()
    ph = sr.phrase_analysis(load_dataset(folder), "2026-10", source="transcript", window_months=3)
    assert len(ph)
    assert not ph["phrase"].str.match(r"^[，。、；：？！,.;:?!]").any()
    assert not ph["phrase"].str.contains(r"[，。、；：？！,.;:?!]$").any()


def test_binary_terms_equal_scikit_learns_count_vectorizer():
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer

    from telesales_lab.analysis.ranking.phrases import _binary_terms

    docs = np.array(["您好，我是星辰科技的客户顾问，冒昧打扰您一分钟。", "Hello, I am calling about your account",
                     "您好，我是星辰科技的客户顾问。", "", "续约可以享受老客户专享的续费价格"], dtype=object)
    analyse = _word_ngrams(1, 3)
    X, names = _binary_terms(docs, analyse)
    vec = CountVectorizer(analyzer=analyse, binary=True, lowercase=False)
    want = vec.fit_transform(docs)
    assert list(names) == list(vec.get_feature_names_out())
    assert (X != want).nnz == 0
    assert _binary_terms(np.array(["", "，。"], dtype=object), analyse) is None  # no term at all

