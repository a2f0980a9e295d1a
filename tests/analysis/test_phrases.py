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

