"""Which phrases of scripts or of the reps' turns go with a sale: Mantel-Haenszel odds ratios stratified by rep.
"""

from __future__ import annotations

import functools
import logging
import re
import numpy as np
import pandas as pd
import scipy.sparse as sp
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.periods import parse_month
from telesales_lab.analysis.ranking.cells import _check_int, _check_window, _positions, _window_calls


# ----------------------------------------------------------------------------- phrases
_AGENT_TURN = re.compile(r"(?:坐席|销售|客服|业务员|agent|rep|sales)\s*[:：]\s*(.*?)(?=(?:\S{1,6}\s*[:：])|$)",
                         re.IGNORECASE | re.DOTALL)


_LABEL = re.compile(r"\S{1,6}\s*[:：]")


def _agent_text(texts: pd.Series) -> pd.Series:
    """The rep's turns of labelled transcripts (``坐席：... 客户：...``); unlabelled text as is."""
    t = texts.astype("string").fillna("")
    turns = t.str.findall(_AGENT_TURN)
    joined = turns.map(lambda x: "\n".join(p.strip() for p in x) if isinstance(x, list) else "")
    labelled = t.str.contains(_LABEL, regex=True).fillna(False).to_numpy(bool)
    return pd.Series(np.where(labelled & (joined.str.len() > 0).to_numpy(bool), joined, t), index=texts.index)


def phrase_analysis(data, month: str, source: str = "transcript", window_months: int = 1, *,
                    ngram_range=(2, 5), min_calls: int = 30, top: int = 15, agent_only: bool = True,
                    max_calls: int = 50_000, random_state: int = 0) -> pd.DataFrame:
    """Which phrases go with a sale: word n-grams, adjusted for the rep, per scenario.

    Documents are the connected calls: for ``source="transcript"`` the call's transcript
    (only the rep's turns when the transcript labels speakers, ``agent_only``), for
    ``source="script"`` the text of the script used. Phrases are n-grams of whole words
    (``ngram_range`` counts words) within a clause: Chinese is segmented into words with jieba,
    other text split into words, so no phrase starts or ends mid-word or runs across punctuation.
    Each phrase's association with a sale is a Mantel-Haenszel odds ratio of calls with vs
    without the phrase, stratified by rep (Robins-Breslow-Greenland variance, ``z`` its
    Wald statistic), so reps who both say a phrase and sell well do not make it look good.
    For scripts the phrases go with whole variants: read them with the ranking.

    Parameters
    ----------
    min_calls : int, default 30
        Connected calls needed with and without a phrase.
    top : int, default 15
        Phrases kept per scenario and direction (most positive ``z`` and most negative).
    max_calls : int, default 50000
        Calls with text sampled per scenario (fixed ``random_state``) to bound the time.

    Returns
    -------
    DataFrame
        ``scenario, source, phrase, calls_with, sales_with, sale_rate_with,
        sale_rate_without, log_odds_ratio, z``, sorted by scenario and ``z`` (descending).
        Empty when the data have no text.
    """
    if source not in ("transcript", "script"):
        raise ParameterError(f"source == {source!r}, must be transcript|script")
    window_months = _check_window(window_months)
    min_calls = _check_int("min_calls", min_calls, 1)
    top = _check_int("top", top, 1)
    max_calls = _check_int("max_calls", max_calls, 100)
    lo_n, hi_n = ngram_range
    if not (isinstance(lo_n, int) and isinstance(hi_n, int) and 1 <= lo_n <= hi_n):
        raise ParameterError(f"ngram_range == {ngram_range!r}, must be (low, high) with 1 <= low <= high")
    cols = ["scenario", "source", "phrase", "calls_with", "sales_with", "sale_rate_with", "sale_rate_without",
            "log_odds_ratio", "z"]
    p = parse_month(month)
    calls = _window_calls(data, p, window_months,
                          columns=("rep_code",) + (("transcript",) if source == "transcript" else ()))
    # each connected call's text as a code into the distinct texts (a script's, a transcript
    # template's): everything below works on the distinct texts and on counts per rep and text
    if source == "script":
        scripts = data.scripts
        code = _positions(calls["script_id"], scripts["script_id"])
        texts = scripts["text"].astype("string").reset_index(drop=True)
    else:
        code, uniq = pd.factorize(calls["transcript"].astype("string"))
        texts = pd.Series(uniq, dtype="string")
    usable = (texts.notna() & (texts.str.len() > 0)).fillna(False).to_numpy(bool)
    ok = (code >= 0) & calls["connected"].to_numpy(bool)
    ok[ok] = usable[code[ok]]
    code = code[ok]
    rep = np.asarray(calls["rep_code"].array.codes)[ok]  # codes in the order of the ids
    sale = calls["sale"].to_numpy(bool)[ok]
    scode, scenarios = pd.factorize(calls["scenario"], sort=True)
    scode = scode[ok]
    out = []
    rng = np.random.default_rng(random_state)
    for k, sc in enumerate(scenarios):
        idx = np.flatnonzero(scode == k)
        if len(idx) > max_calls:
            idx = idx[np.sort(rng.choice(len(idx), max_calls, replace=False))]
        # the distinct texts in the order their first call comes (as pd.factorize would number them)
        raw, first = np.unique(code[idx], return_index=True)
        raw = raw[np.argsort(first, kind="stable")]
        raw_docs = texts.iloc[raw].reset_index(drop=True)
        if source == "transcript" and agent_only:
            raw_docs = _agent_text(raw_docs)
        doc_of_raw, uniq = pd.factorize(raw_docs.fillna("").to_numpy(object))
        where = np.full(len(texts), -1, np.int64)
        where[raw] = doc_of_raw
        doc = where[code[idx]]  # each call's document
        vocab = _binary_terms(np.asarray(uniq, dtype=object), _word_ngrams(lo_n, hi_n))
        if vocab is None:  # no text at all
            continue
        Xu, names = vocab
        keep_gram = np.array([_is_phrase(x) for x in names], bool)  # over the vocabulary, not calls
        Xu, names = Xu[:, np.flatnonzero(keep_gram)], names[keep_gram]
        reps, ri = np.unique(rep[idx], return_inverse=True)
        calls_rd = np.zeros((len(reps), len(uniq)))
        np.add.at(calls_rd, (ri, doc), 1.0)
        sales_rd = np.zeros((len(reps), len(uniq)))
        np.add.at(sales_rd, (ri, doc), sale[idx].astype(float))
        res, cols_kept = _phrase_mh(Xu, calls_rd, sales_rd, names, min_calls)
        if res is None or not len(res):
            continue
        res = _merge_phrases(res, Xu[:, cols_kept], np.asarray(uniq, dtype=object), len(idx), rng)
        res = res.sort_values(["z", "phrase"], ascending=[False, True], kind="stable")
        pos_ = res[res["z"] > 0].head(top)
        neg = res[res["z"] < 0].tail(top)
        res = pd.concat([pos_, neg])
        res.insert(0, "source", source)
        res.insert(0, "scenario", sc)
        out.append(res)
    if not out:
        return pd.DataFrame(columns=cols)
    res = pd.concat(out, ignore_index=True)[cols]
    for c in ("scenario", "source", "phrase"):
        res[c] = res[c].astype("string")
    return res.reset_index(drop=True)


def _binary_terms(docs, analyse):
    """Which terms each document has: a binary (documents x terms) CSR matrix and the terms,
    sorted (what ``CountVectorizer(analyzer=analyse, binary=True)`` gives, without loading
    scikit-learn for it); None when the documents have no term at all."""
    grams = [set(analyse(str(d))) for d in docs]
    vocab = sorted(set().union(*grams))
    if not vocab:
        return None
    index = {g: i for i, g in enumerate(vocab)}
    rows = np.repeat(np.arange(len(docs)), [len(g) for g in grams])
    cols = np.fromiter((index[g] for gs in grams for g in gs), np.int64, count=len(rows))
    X = sp.csr_matrix((np.ones(len(rows), np.int64), (rows, cols)), shape=(len(docs), len(vocab)))
    X.sort_indices()
    return X, np.asarray(vocab, dtype=object)


def _phrase_mh(X, calls_rd, sales_rd, names, min_calls):
    """Mantel-Haenszel log odds ratio per phrase (column of X), stratified by rep; RBG variance.

    ``X`` is the binary (documents x phrases) matrix; ``calls_rd`` and ``sales_rd`` the
    connected calls and sales per rep (rows) and document (columns): a rep's calls with a
    phrase are ``calls_rd @ X``.
    """
    n_calls = calls_rd.sum()
    with_n = np.asarray(X.T @ calls_rd.sum(0)).ravel()
    keep = (with_n >= min_calls) & (n_calls - with_n >= min_calls)
    if not keep.any():
        return None, None
    X = X[:, np.flatnonzero(keep)]
    names = np.asarray(names)[keep]
    # (reps x phrases), row-major as the sums over reps below expect
    n1 = np.ascontiguousarray(np.asarray(X.T @ calls_rd.T).T)  # calls with the phrase, per rep
    a = np.ascontiguousarray(np.asarray(X.T @ sales_rd.T).T)  # sales with the phrase
    n_r = calls_rd.sum(1)[:, None]
    y_r = sales_rd.sum(1)[:, None]
    b = n1 - a  # with, no sale
    c = y_r - a  # without, sale
    d = (n_r - n1) - c  # without, no sale
    T = n_r
    with np.errstate(invalid="ignore", divide="ignore"):
        P, Q = (a + d) / T, (b + c) / T
        Rr, Sr = a * d / T, b * c / T
        R, S = Rr.sum(0), Sr.sum(0)
        lor = np.log(R / S)
        var = ((P * Rr).sum(0) / (2 * R ** 2) + ((P * Sr + Q * Rr).sum(0)) / (2 * R * S)
               + (Q * Sr).sum(0) / (2 * S ** 2))
        z = lor / np.sqrt(var)
        rate_with = a.sum(0) / n1.sum(0)
        rate_without = c.sum(0) / (n_r.sum() - n1.sum(0))
    res = pd.DataFrame({"phrase": names, "calls_with": n1.sum(0).astype(np.int64),
                        "sales_with": a.sum(0).astype(np.int64), "sale_rate_with": rate_with,
                        "sale_rate_without": rate_without, "log_odds_ratio": lor, "z": z})
    finite = np.isfinite(res["z"]).to_numpy()
    return res[finite].reset_index(drop=True), np.flatnonzero(keep)[finite]


_WORD = re.compile(r"\w", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff]")
#: Clause breaks: an n-gram never runs across punctuation or a line break.
_CLAUSE = re.compile(r"[\n\r。，、；：？！,.;:?!…（）()“”\"'《》【】\[\]]+")


class _Segmenter:
    """Segments exactly as ``jieba.lcut(text, HMM=True)`` with jieba's default dictionary, without
    building jieba's prefix dictionary of all its 350,000 words (most of a second per process).

    The dictionary file is read as jieba reads it (``word frequency tag`` per line; the total
    sums every line), and each new clause adds to a tokenizer's prefix dictionary the words that occur in
    it, with their prefixes: all that jieba's word graph and route read for that clause (a
    word starting at a position is found only through its prefixes, which occur there too).
    When jieba's own tokenizer has another dictionary, or is already loaded (and
    ``use_loaded``), that one is used.
    """

    def __init__(self, use_loaded: bool = True):
        import jieba

        jieba.setLogLevel(logging.WARNING)  # not "Building prefix dict ..." on every report
        self.jieba = jieba
        self.tk = None
        if (use_loaded and jieba.dt.initialized) or jieba.dt.dictionary != jieba.DEFAULT_DICT:
            return
        with jieba.dt.get_dict_file() as f:
            text = f.read().decode("utf-8")
        fields = text.split()  # "word frequency tag" per line
        freqs = fields[1::3]
        lines = text.count("\n") + (not text.endswith("\n"))
        if not freqs or len(fields) != 3 * lines or not "".join(freqs).isdigit():
            return  # not the layout read here: jieba's own tokenizer
        self.words = dict(zip(fields[0::3], freqs))  # a word listed twice: its last frequency
        self.longest = max(map(len, self.words))
        tk = jieba.Tokenizer()
        tk.total = sum(map(int, freqs))
        tk.initialized = True
        self.tk = tk
        self.seen = set()

    def _add(self, clause: str) -> None:
        freq, words = self.tk.FREQ, self.words
        for k in range(len(clause)):
            for j in range(k + 1, min(len(clause), k + self.longest) + 1):
                w = clause[k:j]
                f = words.get(w)
                if f is not None:
                    freq[w] = int(f)
                    for m in range(k + 1, j):
                        freq.setdefault(clause[k:m], 0)
        self.seen.add(clause)

    def lcut(self, clause: str) -> list[str]:
        if self.tk is None:
            return self.jieba.lcut(clause, HMM=True)
        if clause not in self.seen:
            self._add(clause)
        return self.tk.lcut(clause, HMM=True)


@functools.cache
def _segmenter() -> _Segmenter:
    """The one segmenter of the process (its dictionary grows with the clauses it has seen)."""
    return _Segmenter()


def _tokens(clause: str) -> list[str]:
    """Words of one clause: jieba's segmentation for Chinese, letters and digits for other text."""
    if _CJK.search(clause):
        return [w for w in _segmenter().lcut(clause) if _WORD.search(w)]
    return re.findall(r"\w+(?:'\w+)?", clause)


def _word_ngrams(low: int, high: int):
    """An analyzer (as CountVectorizer takes): word n-grams within clauses, joined as they read
    (no space between Chinese words, one space between other words)."""
    def analyse(text: str) -> list[str]:
        grams = []
        for clause in _CLAUSE.split(str(text)):
            words = _tokens(clause)
            cjk = bool(_CJK.search(clause))
            for n in range(low, min(high, len(words)) + 1):
                for i in range(len(words) - n + 1):
                    grams.append(("" if cjk else " ").join(words[i:i + n]))
        return grams
    return analyse


def _is_phrase(gram: str) -> bool:
    """An n-gram worth showing: no line break, not only punctuation, not starting or ending in a space."""
    return "\n" not in gram and gram == gram.strip() and len(_WORD.findall(gram)) >= min(2, len(gram))


#: Covered stretches (clauses) of a text joined into one phrase, at most, and its length in characters.
MAX_CLAUSES = 6
MAX_CHARS = 90


def _covered_text(doc: str, covered: np.ndarray) -> str:
    """The first :data:`MAX_CLAUSES` covered stretches of ``doc``, whole; stretches separated only
    by punctuation keep it, others are joined with " … "."""
    edges = np.flatnonzero(np.diff(np.r_[False, covered[: len(doc)], False].astype(np.int8)))
    runs = list(zip(edges[::2], edges[1::2]))[:MAX_CLAUSES]
    out, last = "", None
    for lo, hi in runs:
        piece = doc[lo:hi].strip()
        if not piece:
            continue
        if out and len(out) + len(piece) > MAX_CHARS:
            break
        if last is not None:
            gap = doc[last:lo]
            out += gap if gap and not _WORD.search(gap) and "\n" not in gap else " … "
        out += piece
        last = hi
    return out.strip("，,、；; ")


def _merge_phrases(res, X, docs, n_calls, rng):
    """One row per distinct set of calls: the word n-grams found in exactly the same calls are
    shown as the whole stretches of a call's text they cover (e.g. the lines a script adds).

    ``X`` is the binary (documents x phrases) matrix of ``res``'s phrases over the distinct
    ``docs``, numbered in the order of their first call: two phrases are in the same calls
    exactly when they are in the same documents, and the first call with a phrase has its
    first document.
    """
    # the draws the per-call signatures took before the documents were deduplicated: the
    # next scenario's sample of calls stays the same
    rng.standard_normal((n_calls, 2))
    X = sp.csc_matrix(X)
    X.sort_indices()
    sig = pd.Series([X.indices[X.indptr[j]:X.indptr[j + 1]].tobytes() for j in range(X.shape[1])], dtype=object)
    group = pd.factorize(sig)[0]  # numbered in the order of their first phrase
    members = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(np.r_[-1, group[members], len(group)]))
    phrases = res["phrase"].tolist()
    first, merged = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):  # distinct phrase sets, not calls
        rows = members[lo:hi]
        grams = [phrases[i] for i in rows]
        longest = max(grams, key=lambda x: (len(x), x))
        col = int(rows[grams.index(longest)])
        doc = str(docs[X.indices[X.indptr[col]]]) if X.indptr[col + 1] > X.indptr[col] else longest
        covered = np.zeros(len(doc) + 1, bool)
        for gram in grams:
            start = doc.find(gram)
            while start >= 0:
                covered[start:start + len(gram)] = True
                start = doc.find(gram, start + 1)
        first.append(rows[0])
        merged.append(_covered_text(doc, covered) or longest)
    out = res.iloc[first].copy()  # each set's first row, shown with the text its phrases cover
    out["phrase"] = np.asarray(merged, dtype=object)
    out = out[out["phrase"].str.strip().str.len() > 0]
    return out.drop_duplicates("phrase").reset_index(drop=True)
