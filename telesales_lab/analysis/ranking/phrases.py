"""Which phrases of scripts or of the reps' turns go with a sale: Mantel-Haenszel odds ratios stratified by rep.
"""

from __future__ import annotations

import logging
import re
import numpy as np
import pandas as pd
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.periods import parse_month
from telesales_lab.analysis.ranking.cells import _check_int, _check_window, _window_calls


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
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

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
    calls = _window_calls(data, p, window_months, columns=("transcript",) if source == "transcript" else ())
    calls = calls[calls["connected"].to_numpy(bool)]
    if source == "script":
        text_map = data.scripts.set_index("script_id")["text"]
        calls = calls.assign(text=calls["script_id"].map(text_map).astype("string"))
    else:
        calls = calls.assign(text=calls["transcript"].astype("string"))
    calls = calls[calls["text"].notna().to_numpy(bool) & (calls["text"].str.len() > 0).fillna(False).to_numpy(bool)]
    out = []
    rng = np.random.default_rng(random_state)
    for sc, g in calls.groupby("scenario", sort=True, observed=True):
        if len(g) > max_calls:
            g = g.iloc[np.sort(rng.choice(len(g), max_calls, replace=False))]
        texts = g["text"]
        if source == "transcript" and agent_only:
            texts = _agent_text(texts)
        docs = texts.fillna("").to_numpy(object)
        codes, uniq = pd.factorize(docs)  # vectorise each distinct text once (a script's, a template's)
        vec = CountVectorizer(analyzer=_word_ngrams(lo_n, hi_n), binary=True, lowercase=False)
        try:
            Xu = vec.fit_transform(np.asarray(uniq, dtype=object))
        except ValueError:  # no text at all
            continue
        names = vec.get_feature_names_out()
        ok = np.array([_is_phrase(x) for x in names], bool)  # over the vocabulary, not calls
        Xu, names = Xu[:, np.flatnonzero(ok)], names[ok]
        expand = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), len(uniq)))
        X = (expand @ Xu).tocsc().astype(float)
        res, cols_kept = _phrase_mh(X, g["rep_id"].to_numpy(str), g["sale"].to_numpy(bool), names, min_calls)
        if res is None or not len(res):
            continue
        res = _merge_phrases(res, X[:, cols_kept], docs, rng)
        res = res.sort_values(["z", "phrase"], ascending=[False, True], kind="stable")
        pos = res[res["z"] > 0].head(top)
        neg = res[res["z"] < 0].tail(top)
        res = pd.concat([pos, neg])
        res.insert(0, "source", source)
        res.insert(0, "scenario", sc)
        out.append(res)
    if not out:
        return pd.DataFrame(columns=cols)
    res = pd.concat(out, ignore_index=True)[cols]
    for c in ("scenario", "source", "phrase"):
        res[c] = res[c].astype("string")
    return res.reset_index(drop=True)


def _phrase_mh(X, rep, sale, names, min_calls):
    """Mantel-Haenszel log odds ratio per phrase (column of X), stratified by rep; RBG variance."""
    import scipy.sparse as sp

    n_calls = X.shape[0]
    with_n = np.asarray(X.sum(0)).ravel()
    keep = (with_n >= min_calls) & (n_calls - with_n >= min_calls)
    if not keep.any():
        return None, None
    X = X[:, np.flatnonzero(keep)]
    names = np.asarray(names)[keep]
    reps, ri = np.unique(rep, return_inverse=True)
    Rm = sp.csr_matrix((np.ones(n_calls), (ri, np.arange(n_calls))), shape=(len(reps), n_calls))
    Rs = sp.csr_matrix((sale.astype(float), (ri, np.arange(n_calls))), shape=(len(reps), n_calls))
    n1 = np.asarray((Rm @ X).todense())  # calls with the phrase, per rep
    a = np.asarray((Rs @ X).todense())  # sales with the phrase
    n_r = np.bincount(ri, minlength=len(reps)).astype(float)[:, None]
    y_r = np.bincount(ri, weights=sale.astype(float), minlength=len(reps))[:, None]
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


def _tokens(clause: str) -> list[str]:
    """Words of one clause: jieba's segmentation for Chinese, letters and digits for other text."""
    if _CJK.search(clause):
        import jieba

        jieba.setLogLevel(logging.WARNING)  # not "Building prefix dict ..." on every report
        return [w for w in jieba.lcut(clause, HMM=True) if _WORD.search(w)]
    return re.findall(r"\w+(?:'\w+)?", clause)


def _word_ngrams(low: int, high: int):
    """A CountVectorizer analyzer: word n-grams within clauses, joined as they read
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


def _merge_phrases(res, X, docs, rng):
    """One row per distinct set of calls: the word n-grams found in exactly the same calls are
    shown as the whole stretches of a call's text they cover (e.g. the lines a script adds).
    """
    proj = X.T @ rng.standard_normal((X.shape[0], 2))  # equal columns <=> equal signatures
    sig = pd.Series(list(map(tuple, np.round(proj, 9))))
    res = res.assign(_g=pd.factorize(sig)[0], _len=res["phrase"].str.len().to_numpy())
    rows = []
    for g_id, grp in res.groupby("_g", sort=False):  # distinct phrase sets, not calls
        grams = grp["phrase"].tolist()
        longest = max(grams, key=lambda x: (len(x), x))
        col = int(grp.index[grp["phrase"] == longest][0])
        doc = str(docs[X[:, col].indices[0]]) if X[:, col].nnz else longest
        covered = np.zeros(len(doc) + 1, bool)
        for gram in grams:
            start = doc.find(gram)
            while start >= 0:
                covered[start:start + len(gram)] = True
                start = doc.find(gram, start + 1)
        phrase = _covered_text(doc, covered) or longest
        row = grp.iloc[0].copy()
        row["phrase"] = phrase
        rows.append(row)
    out = pd.DataFrame(rows).drop(columns=["_g", "_len"])
    out = out[out["phrase"].str.strip().str.len() > 0]
    return out.drop_duplicates("phrase").reset_index(drop=True)
