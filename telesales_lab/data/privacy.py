"""Customers' personal data stays out of every output.

Customers appear in results by ``customer_id`` only; where a phone number must show it is
masked with :func:`mask_phone` (``138****5678``). :func:`scan_outputs` checks a folder of
outputs (HTML, notebooks, Excel, CSV, Parquet, any text) for the phone numbers and names of
the customers in the input, and is run on every report before it is published.

How the scan stays fast on a large customer table: it never searches for each customer in
turn. Phone numbers are the digit runs of a file (also with single spaces or dashes
between digits, and a leading ``86``/``0086`` removed), intersected with the set of the
customers' numbers. Chinese names are the 2-4 character substrings of the file's runs of
Chinese characters, intersected with the set of names; Latin names are runs of one to four
words, intersected likewise. Each distinct run is looked at once.

What it cannot tell apart: a customer's name that is also a word of the package's own text
(its labels, the notebooks' text), of the data's non-personal text (teams, regions, script
texts) or a rep's name. Such names are not searched (a rep's name may show in a report);
the customer's phone number still is.
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from telesales_lab.data.schema import NAME_PLACEHOLDER

#: File types read as text; other files are read as UTF-8 text too, except these images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".bmp", ".pdf")
MIN_PHONE_DIGITS = 7

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_RUN = re.compile(f"[{_CJK}·]+")
# Chinese characters with single spaces between them (龙 傲 天): read with the spaces taken out
_CJK_SPACED = re.compile(f"[{_CJK}·](?:[ \t]+[{_CJK}·])+")
# single Latin letters with spaces between them (Z e b u l o n)
_LETTERS_SPACED = re.compile(r"(?<![A-Za-z])[A-Za-z](?:[ \t]+[A-Za-z](?![A-Za-z])){3,}")
# digit groups joined by up to 3 separator characters (139.0000.1111, (139) 0000-1111, 139 000 01111)
_DIGIT_GROUPS = re.compile(r"\d+(?:[ \t\-.()/_+,:;#*~·・—–‐]{1,3}\d+)+")
_CJK_NAME = re.compile(f"^[{_CJK}·]{{2,}}$")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z'.\-]*(?: [A-Za-z][A-Za-z'.\-]*){0,3}$")
_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z'.\-]*(?: [A-Za-z][A-Za-z'.\-]*)*")
_DIGITS = re.compile(r"[0-9]+")
# groups of 2-4 digits joined by single spaces or dashes (138 1234 5678, 138-1234-5678),
# not part of a decimal number (SVG coordinates are full of "12.39 -11.31")
_DIGITS_SEPARATED = re.compile(r"(?<![\d.])\d{2,4}(?:[ \-]\d{2,4}){1,4}(?![\d.])")
_DATA_URI = re.compile(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=\s]+")
#: SVG drawing data (glyph outlines, polylines) is numbers only
_SVG_GEOMETRY = re.compile(r'\s(?:d|points|transform|viewBox)="[^"]*"')


def mask_phone(phone):
    """Mask a phone number: keep the first 3 and last 4 digits.

    ``"13812345678"`` -> ``"138****5678"``. Separators and a leading country code ``86``
    are dropped; numbers of fewer than 8 digits keep only their last 2. Works on one value
    or on a pandas Series (vectorised); missing values stay missing.

    Parameters
    ----------
    phone : str or Series

    Returns
    -------
    str or Series
    """
    import pandas as pd

    if isinstance(phone, pd.Series):
        digits = phone.astype("string").str.replace(r"\D", "", regex=True) \
            .str.replace(r"^(?:0086|86)(?=\d{11}$)", "", regex=True)
        n = digits.str.len().fillna(0).astype(int)
        star = pd.Series("*", index=phone.index, dtype="string")
        long = digits.str.slice(0, 3) + star.str.repeat((n - 7).clip(lower=0).tolist()) + digits.str.slice(-4)
        short = star.str.repeat((n - 2).clip(lower=0).tolist()) + digits.str.slice(-2)
        return long.where(n >= 8, short).where(phone.notna())
    if phone is None or (not isinstance(phone, str) and pd.isna(phone)):
        return phone
    digits = _normalise_phone(re.sub(r"\D", "", str(phone)))
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_name(name: str) -> str:
    """``"王小明"`` -> ``"王**"``: the first character, one star for each other."""
    name = str(name)
    return name[:1] + "*" * (len(name) - 1)


@dataclass(frozen=True)
class Finding:
    """A customer's phone number or name found in an output file."""

    file: str
    kind: str  # "phone" or "name"
    customer_id: str
    shown: str  # the value, masked
    count: int

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} of customer {self.customer_id} ({self.shown}) x{self.count}"


# ----------------------------------------------------------------------------- what to look for
def _normalise_phone(digits: str) -> str:
    if len(digits) == 15 and digits.startswith("0086"):
        return digits[4:]
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


def _cjk_substrings(text: str, lengths: set[int], wanted: set[str] | dict) -> Counter:
    hits: Counter = Counter()
    for run, n in Counter(_CJK_RUN.findall(text)).items():
        for k in lengths:
            for i in range(len(run) - k + 1):
                sub = run[i:i + k]
                if sub in wanted:
                    hits[sub] += n
    return hits


def _latin_windows(text: str, lengths: set[int], wanted: set[str] | dict) -> Counter:
    hits: Counter = Counter()
    for run, n in Counter(_LATIN_RUN.findall(text)).items():
        words = run.split(" ")
        for k in lengths:
            for i in range(len(words) - k + 1):
                sub = " ".join(words[i:i + k])
                if sub in wanted:
                    hits[sub] += n
    return hits


def _public_text(data) -> str:
    """Non-personal text of the data set (teams, regions, scripts, rep names...)."""
    import pandas as pd

    from telesales_lab.data.schema import PERSONAL_COLUMNS, TABLES

    pieces = []
    for table, frame in data.tables.items():
        specs = TABLES.get(table, {})
        for col in frame.columns:
            spec = specs.get(col)
            if col in PERSONAL_COLUMNS.get(table, ()) or (spec is not None and (spec.unique or spec.references)):
                continue  # personal data, or ids (a million call ids hold no words)
            s = frame[col]
            if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)
                    or isinstance(s.dtype, pd.CategoricalDtype)):
                continue
            # the distinct values first: a million rows hold a few thousand texts
            values = pd.Series(pd.unique(pd.Series(pd.unique(s.dropna())).astype(str)), dtype="string")
            pieces.extend(values[values.str.contains(r"[^\x00-\x7f]", regex=True)].tolist())
    return "\n".join(pieces)


def _single_spaced(names):
    """``names.str.replace(r"\\s+", " ", regex=True)``, the regular expression replacing
    only in the names that hold white space other than single spaces."""
    odd = names.str.contains(r"\s\s|[^\S ]", regex=True).fillna(False).to_numpy(dtype=bool)
    if not odd.any():
        return names
    out = names.copy()
    out[odd] = names[odd].str.replace(r"\s+", " ", regex=True)
    return out


def _label_text() -> str:
    from telesales_lab import labels

    texts = []
    for lang in labels.LANGS:
        cat = labels.catalog(lang)
        texts.extend(cat["labels"].values())
        texts.extend(v for section in cat["context"].values() for v in section.values())
    return "\n".join(texts)


#: Characters no search of :meth:`_Targets.search` reaches across (phone numbers, names and
#: their spellings hold none of them; a customer's name that does keeps it searched).
_STOPS = '\n<>"='
#: Characters (after NFKC) whose lower case holds an ASCII letter: ``"İ".lower() == "i̇"``.
_LOWER_TO_ASCII = "\u0130"
_NOT_DIGITS = bytes(b for b in range(256) if not 0x30 <= b <= 0x39)
_DIGIT_BYTES = __import__("numpy").arange(0x30, 0x3A, dtype="uint8")
_BLANK_BYTES = __import__("numpy").array([0x20, 0x09], dtype="uint8")
_FOLD = bytes.maketrans(bytes(range(0x41, 0x5B)), bytes(range(0x61, 0x7B)))


_ASCII_BUT_NEWLINE = bytes(b for b in range(0x80) if b != 0x0A)
#: Characters of output text read at once by :meth:`_Targets.find`.
CHUNK_CHARS = 1_000_000


def _chunks(text: str | bytes, cuts: list[str]):
    """``text`` in pieces of about :data:`CHUNK_CHARS` characters (bytes of UTF-8 text), each
    cut just before one of ``cuts`` that an ASCII character follows (NFKC changes neither,
    nor joins them to the piece before)."""
    if len(text) <= CHUNK_CHARS or not cuts:
        yield text
        return
    pattern = "[" + re.escape("".join(cuts)) + "](?=[\x00-\x7f])"
    cut = re.compile(pattern.encode() if isinstance(text, bytes) else pattern)
    at = 0
    while at < len(text):
        m = cut.search(text, at + CHUNK_CHARS) if at + CHUNK_CHARS < len(text) else None
        end = m.start() if m else len(text)
        yield text[at:end]
        at = end


def _fold(data: bytes) -> bytes:
    """UTF-8 text without spaces and tabs, ASCII letters lower-cased (other bytes as they are)."""
    return data.translate(_FOLD, b" \t")


def _occurring(text: str, names) -> set[str]:
    """The ``names`` that are substrings of ``text``."""
    import ahocorasick_rs as ac

    if not names or not text:
        return set()
    return set(ac.AhoCorasick(list(names)).find_matches_as_strings(text, overlapping=True))


def _piece(data: bytes, a: int, b: int, stops) -> tuple[int, int]:
    """The piece of ``data`` around ``data[a:b]`` that holds no stop character but those
    inside ``[a, b)``: from after the last stop before ``a`` to the first at or after ``b``."""
    n, width = len(data), 4096
    start = -1
    while True:
        lo = max(a - width, 0)
        start = max(data.rfind(c, lo, a) for c in stops)
        if start >= 0 or lo == 0:
            break
        width *= 8
    end, width = -1, 4096
    while True:
        hi = min(b + width, n)
        found = [e for e in (data.find(c, b, hi) for c in stops) if e >= 0]
        if found or hi == n:
            end = min(found, default=n)
            break
        width *= 8
    return start + 1, end


def _nfkc_utf8(text: str | bytes) -> bytes:
    """``unicodedata.normalize("NFKC", text)`` as UTF-8, without normalising all of a long text.

    An ASCII character never changes under NFKC nor combines with a character before it
    (no canonical composition has one as its second part), so the text can be normalised
    piece by piece, each piece an ASCII character and the non-ASCII run after it; only the
    pieces that are not normalised already are. Whether any is not is asked once, of the
    pieces taken together (they still begin with ASCII characters).
    """
    import unicodedata

    import numpy as np

    data = text if isinstance(text, bytes) else text.encode("utf-8")
    if data.isascii():
        return data
    code = np.frombuffer(data, dtype=np.uint8)
    high = code >= 0x80
    lead = high.copy()
    lead[:-1] |= high[1:]  # each run with the ASCII character before it
    if unicodedata.is_normalized("NFKC", code[lead].tobytes().decode("utf-8")):
        return data
    edges = np.flatnonzero(np.diff(high.view(np.int8), prepend=0, append=0))
    out, done = [], 0
    for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist()):
        a = max(a - 1, 0)  # the ASCII character before the run
        piece = data[a:b].decode("utf-8")
        if not unicodedata.is_normalized("NFKC", piece):
            out += [data[done:a], unicodedata.normalize("NFKC", piece).encode("utf-8")]
            done = b
    out.append(data[done:])
    return b"".join(out)


class _Targets:
    """The customers' phones and names, as sets keyed to customer ids."""

    def __init__(self, data, template_text: str = ""):
        import pandas as pd

        customers = data.customers if hasattr(data, "tables") else data
        ids = customers["customer_id"].astype("string")
        phones = customers["phone"].astype("string").str.replace(r"\D", "", regex=True) \
            if "phone" in customers else pd.Series(dtype="string")
        # _normalise_phone on the whole column: a country code 0086 or 86 before 11 digits goes
        phones = phones.reset_index(drop=True).dropna()  # positions, as ids below
        n = phones.str.len()
        phones = phones.where(~((n == 15) & phones.str.startswith("0086")), phones.str.slice(4)) \
            .where(~((n == 13) & phones.str.startswith("86")), phones.str.slice(2))
        phones = phones[phones.str.len() >= MIN_PHONE_DIGITS]
        first = ~phones.duplicated(keep="first")  # a number shared by customers: the first one's
        self.phones: dict[str, str] = dict(zip(phones[first].tolist(), ids.iloc[phones.index[first]].tolist()))
        names = _single_spaced(customers["name"].astype("string").str.normalize("NFKC").str.strip()) \
            if "name" in customers else pd.Series(dtype="string")
        # a name that is the customer's own id, or the importer's placeholder, is no one's name
        real = names.notna() & (names != ids).fillna(True) & (names != NAME_PLACEHOLDER).fillna(True)
        by_name = dict(zip(names[real].tolist(), ids[real].tolist()))
        self.cjk, self.latin, self.other = {}, {}, {}
        cjk, latin = _CJK_NAME.match, _LATIN_NAME.match
        for n, c in by_name.items():  # the patterns exclude each other
            if cjk(n):
                self.cjk[n] = c
            elif len(n) >= 3:
                (self.latin if latin(n) else self.other)[n] = c
        self.skipped: set[str] = set()
        known = template_text + "\n" + _label_text()
        if hasattr(data, "tables"):
            known += "\n" + _public_text(data)
        self._build_filter()
        self._skip(known)
        self.cjk_lengths = {len(n) for n in self.cjk}
        self.latin_lengths = {n.count(" ") + 1 for n in self.latin}
        self.latin_lower = {n.lower(): n for n in self.latin if " " in n}
        self.latin_lower_lengths = {n.count(" ") + 1 for n in self.latin_lower}
        self.latin_joined = {n.replace(" ", "").lower(): n for n in self.latin}
        self.latin_joined_lengths = {len(k) for k in self.latin_joined}
        self.other_re = (re.compile("|".join(re.escape(n) for n in sorted(self.other, key=len, reverse=True)))
                         if self.other else None)

    def _skip(self, known: str) -> None:
        """Drop names that also occur in text allowed to show; they cannot be told apart."""
        # a Chinese name is made of Chinese characters only, so each of its occurrences lies
        # in a run of them: its 2-4 character substrings are the names occurring anywhere
        if self._name_ac is not None:
            hits = self._name_ac.find_matches_as_indexes(known.encode("utf-8"), overlapping=True)
            common = {n for n in (self._names[i] for i in {h[0] for h in hits}) if n in self.cjk}
        else:
            common = _occurring(known, self.cjk)
        common |= set(_latin_windows(known, {n.count(" ") + 1 for n in self.latin}, self.latin))
        common |= {n for n in self.other if n in known}
        for name in common:
            self.cjk.pop(name, None)
            self.latin.pop(name, None)
            self.other.pop(name, None)
        self.skipped = common
        if common:
            self._live &= [n not in common for n in self._names]

    # ------------------------------------------------------------------ the fast path
    def _build_filter(self) -> None:
        """Two automata that find every place where :meth:`search` could find anything.

        ``search`` finds a phone number only where its digits are a run of the text's ASCII
        digits taken alone (separators, spaces, anything in between left out), and a name
        only where it is a substring of the text with spaces and tabs taken out and ASCII
        letters lower-cased (case-sensitive, any-case and letter-by-letter spellings alike).
        The phone automaton reads the first projection, the name automaton the second; the
        places they find are then searched with :meth:`search` itself. The name automaton
        holds every name, those no longer searched too (their matches are dropped), so it
        is built once and also finds the names that occur in the text allowed to show.
        """
        import ahocorasick_rs as ac
        import numpy as np

        kind = ac.Implementation.ContiguousNFA
        joined = "".join(self.phones)
        names = [*self.cjk, *self.latin, *self.other]
        folded = [_fold(n.encode("utf-8")) for n in names]
        # a number with non-ASCII digits, or a name of spaces only: search everything
        self.exact = (joined.isascii() and (joined.isdigit() or not joined)) and all(folded)
        self._phone_ac = ac.BytesAhoCorasick([p.encode("ascii") for p in self.phones], implementation=kind) \
            if self.phones and self.exact else None
        self._names = names
        self._name_ac = ac.BytesAhoCorasick(folded, implementation=kind) if names and self.exact else None
        self._live = np.ones(len(names), dtype=bool)
        # names with an ASCII character (Latin names, names with spaces) need the folded text
        self._ascii_names = re.search(r"[\x00-\x7f]", "".join(names)) is not None
        # the characters that end every search's reach (none of them is in a name searched)
        in_names = set("".join(self.other))
        self._stops = [c.encode() for c in _STOPS if c not in in_names]

    def find(self, text: str | list[str]) -> list[tuple[str, str, str, int]]:
        """What :meth:`search` finds in ``text``, searching only where it could find anything.

        ``text`` may be a list of texts (``str``, or ``bytes`` of valid UTF-8): they are
        searched as if joined by new lines.

        The text is cut at characters no search reaches across (:data:`_STOPS`: new lines,
        ``<``, ``>``, ``"``, ``=``); the pieces where an automaton of :meth:`_build_filter`
        finds a phone number's digits or a name are joined and given to :meth:`search`.
        A long text is read in chunks of about :data:`CHUNK_CHARS` characters, each cut
        before a new line or ``<``.
        """
        texts = [text] if isinstance(text, (str, bytes)) else text
        if not self.exact:
            return self.search("\n".join(t.decode("utf-8") if isinstance(t, bytes) else t for t in texts))
        pieces = []
        cuts = [c for c in "\n<" if c.encode() in self._stops]
        for chunk in (c for t in texts for c in _chunks(t, cuts)):
            pieces += self._pieces(_nfkc_utf8(chunk))
        return self._search_normalised("\n".join(pieces)) if pieces else []

    def _live_hits(self, hits):
        """The matches of names still searched."""
        return [h for h in hits if self._live[h[0]]] if hits and not self._live.all() else hits

    def _pieces(self, data: bytes) -> list[str]:
        """The pieces of normalised UTF-8 text ``data`` where a customer could be found."""
        import numpy as np

        spans = []
        if self._phone_ac is not None:
            hits = self._phone_ac.find_matches_as_indexes(data.translate(None, _NOT_DIGITS), overlapping=True)
            if hits:
                at = np.flatnonzero(np.isin(np.frombuffer(data, dtype=np.uint8), _DIGIT_BYTES))
                spans += [(int(at[a]), int(at[b - 1]) + 1) for _, a, b in hits]
        if self._name_ac is not None and self._ascii_names:
            hits = self._live_hits(self._name_ac.find_matches_as_indexes(_fold(data), overlapping=True))
            if hits:
                at = np.flatnonzero(~np.isin(np.frombuffer(data, dtype=np.uint8), _BLANK_BYTES))
                spans += [(int(at[a]), int(at[b - 1]) + 1) for _, a, b in hits]
        elif self._name_ac is not None and not data.isascii():
            # every name is non-ASCII and holds no ASCII character: the text's non-ASCII
            # characters alone (new lines kept) hold each of its occurrences, spaced or not
            hits = self._live_hits(self._name_ac.find_matches_as_indexes(data.translate(None, _ASCII_BUT_NEWLINE),
                                                                         overlapping=True))
            if hits:
                code = np.frombuffer(data, dtype=np.uint8)
                at = np.flatnonzero((code >= 0x80) | (code == 0x0A))
                spans += [(int(at[a]), int(at[b - 1]) + 1) for _, a, b in hits]
        if self.latin_lower and not data.isascii():  # İ lower-cases to i and a dot
            for ch in _LOWER_TO_ASCII:
                code = ch.encode("utf-8")
                at = data.find(code)
                while at >= 0:
                    spans.append((at, at + len(code)))
                    at = data.find(code, at + 1)
        pieces: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if pieces and b <= pieces[-1][1]:  # within the piece already taken
                continue
            start, end = _piece(data, a, b, self._stops)
            if pieces and start <= pieces[-1][1]:
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
        return [data[a:b].decode("utf-8") for a, b in pieces]

    def search(self, text: str) -> list[tuple[str, str, str, int]]:
        """``(kind, customer_id, shown, count)`` for each customer found in ``text``.

        The text is Unicode-normalised first (NFKC: full-width digits and letters become
        ASCII). Phone numbers are found as plain digit runs and as digit groups joined by up
        to three separator characters (any window of groups holding 7-15 digits); Chinese
        names also with spaces between their characters, Latin names also spelt out letter
        by letter.
        """
        import unicodedata

        return self._search_normalised(unicodedata.normalize("NFKC", text))

    def _search_normalised(self, text: str) -> list[tuple[str, str, str, int]]:
        found = []
        runs = Counter(_normalise_phone(r) for r in _DIGITS.findall(text) if len(r) >= MIN_PHONE_DIGITS)
        for run in _DIGITS_SEPARATED.findall(text):
            joined = _normalise_phone(run.replace(" ", "").replace("-", ""))
            if len(joined) >= MIN_PHONE_DIGITS:
                runs[joined] += 1
        for run, n in Counter(_DIGIT_GROUPS.findall(text)).items():
            groups = _DIGITS.findall(run)
            seen = set()
            for i in range(len(groups)):
                joined = ""
                for g in groups[i:]:
                    joined += g
                    if len(joined) > 15:
                        break
                    digits = _normalise_phone(joined)
                    if len(joined) >= MIN_PHONE_DIGITS and digits in self.phones and digits not in seen:
                        seen.add(digits)
                        if digits not in runs:  # not already counted as a plain run
                            runs[digits] += n
        for digits in runs.keys() & self.phones.keys():
            found.append(("phone", self.phones[digits], mask_phone(digits), runs[digits]))
        hits = _cjk_substrings(text, self.cjk_lengths, self.cjk) if self.cjk else Counter()
        if self.cjk:
            spaced = "\n".join(re.sub(r"[ \t]+", "", r) for r in _CJK_SPACED.findall(text))
            hits += _cjk_substrings(spaced, self.cjk_lengths, self.cjk)
        hits += _latin_windows(text, self.latin_lengths, self.latin) if self.latin else Counter()
        if self.latin_lower:  # names of two or more words, in any case (ZEBULON QUIXOTEFIELD)
            lower = _latin_windows(text.lower(), self.latin_lower_lengths, self.latin_lower)
            for low, n in lower.items():
                name = self.latin_lower[low]
                if name not in hits:
                    hits[name] += n
        if self.latin_joined:
            for run in _LETTERS_SPACED.findall(text):
                letters = re.sub(r"[ \t]+", "", run).lower()
                for k in self.latin_joined_lengths:
                    for i in range(len(letters) - k + 1):
                        name = self.latin_joined.get(letters[i:i + k])
                        if name is not None:
                            hits[name] += 1
        if self.other_re is not None:
            hits += Counter(self.other_re.findall(text))
        for name, n in hits.items():
            cid = self.cjk.get(name) or self.latin.get(name) or self.other.get(name)
            found.append(("name", cid, mask_name(name), n))
        return found


# ----------------------------------------------------------------------------- reading outputs
def _strip_notebook(node):
    """A notebook's JSON without embedded images (base64 is not text)."""
    if isinstance(node, dict):
        return {k: _strip_notebook(v) for k, v in node.items()
                if not (k.startswith("image/") and k != "image/svg+xml")}
    if isinstance(node, list):
        return [_strip_notebook(v) for v in node]
    return node


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="ignore")


def _parquet_texts(path: Path) -> list[str]:
    """The schema, metadata and each column's distinct values (as ``str`` gives them, one a
    line) of a Parquet file."""
    import pyarrow.parquet as pq

    return table_texts(pq.read_table(path, use_threads=False))


def table_texts(table, frame=None) -> list[str]:
    """What the scan reads of a Parquet file, from the Arrow table read from it: the schema,
    the metadata and each column's distinct values (as ``str`` gives them, one a line).
    ``frame``: the table as pandas, when the caller has converted it already."""
    import numpy as np
    import pandas as pd

    pieces = [str(table.schema)]
    pieces += [v.decode("utf-8", "ignore") for v in (table.schema.metadata or {}).values()]
    if frame is None:
        frame = table.to_pandas(use_threads=False)
    for col in frame.columns:
        values = pd.unique(frame[col].dropna())
        if isinstance(values, np.ndarray) and values.dtype == np.float64:
            texts = list(map(repr, values.tolist()))  # numpy's str of a float64 is Python's repr
        elif isinstance(values, np.ndarray) and values.dtype.kind in "fiubM":
            texts = values.astype(str).tolist()  # numpy formats as str() of each value does
        elif isinstance(values.dtype, pd.StringDtype):
            texts = values.to_numpy(dtype=object).tolist()
        else:
            texts = [str(v) for v in values]
        pieces.append("\n".join(texts))
    return pieces


def _xlsx_texts(path: Path) -> list[str | bytes]:
    """The XML parts of a workbook, entities decoded (a part without entities stays the
    UTF-8 bytes it is, once known to be valid)."""
    with zipfile.ZipFile(path) as book:
        return [_xml_text(book.read(name)) for name in book.namelist() if name.endswith((".xml", ".rels"))]


def _xml_text(raw: bytes) -> str | bytes:
    """The searchable text of one XML part: entities decoded (a part without entities stays
    the UTF-8 bytes it is, once known to be valid)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return html.unescape(raw.decode("utf-8", "ignore"))
    return raw if b"&" not in raw else html.unescape(text)


def _output_texts(path: Path) -> list[str | bytes]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_texts(path)
    if suffix == ".parquet":
        return _parquet_texts(path)
    text = _decode(path.read_bytes())
    if suffix in (".ipynb", ".json"):
        try:
            return [json.dumps(_strip_notebook(json.loads(text)), ensure_ascii=False)]
        except ValueError:
            return [text]
    if suffix in (".html", ".htm", ".svg", ".xml"):
        return [html.unescape(_SVG_GEOMETRY.sub(" ", _DATA_URI.sub(" ", text)))]
    return [text]


def output_text(path: Path) -> str:
    """The searchable text of one output file (embedded images left out)."""
    return "\n".join(t.decode("utf-8") if isinstance(t, bytes) else t for t in _output_texts(path))


def _targets(data, template_text: str) -> _Targets:
    """The customers to look for, built once per data set and template text (kept in
    ``data.cache``: they read every table of it)."""
    import hashlib

    from telesales_lab.data.cache import cached

    if not hasattr(data, "tables"):
        return _Targets(data, template_text)
    digest = hashlib.sha256(template_text.encode("utf-8", "surrogatepass")).hexdigest()
    return cached(data, "privacy_targets", tuple(data.tables), lambda: _Targets(data, template_text),
                  params=(digest,))


def scan_outputs(folder, data, *, template_text: str = "") -> list[Finding]:
    """Every customer phone number or name found in the files under ``folder``.

    Parameters
    ----------
    folder : path
        Searched recursively: ``.html``, ``.ipynb``, ``.xlsx`` (the XML inside), ``.csv``,
        ``.parquet`` (all values and metadata) and any other file as text; images are skipped.
    data : Dataset or DataFrame
        The input data set (its ``customers`` table), or the customers table itself
        (``customer_id``, ``name``, ``phone``).
    template_text : str, optional
        Text that may show in outputs whatever the data (e.g. the notebooks' sources): a
        customer's name that occurs in it is not searched.

    Returns
    -------
    list of Finding
        ``file`` (relative to ``folder``), ``kind`` ("phone" or "name"), ``customer_id``,
        ``shown`` (masked value) and ``count``; empty when the outputs are clean.
    """
    return OutputScan(folder, data, template_text=template_text).finish()


class OutputScan:
    """:func:`scan_outputs` done file by file as the files are written, so a report can scan each
    notebook's outputs while the next ones run.

    :meth:`scan` reads the files named; :meth:`find` and :meth:`record` take a file's text
    from whoever writes it (a workbook's sheets, as each is written); and
    :meth:`finish` reads every file under ``folder`` not read yet or changed since (size or
    modification time), then returns all the findings, in file order. A file is read at most
    once while it stays the same.
    """

    def __init__(self, folder, data, *, template_text: str = ""):
        self.folder = Path(folder)
        self.targets = _targets(data, template_text)
        self._done: dict[Path, tuple[int, int]] = {}
        self._found: dict[Path, list[Finding]] = {}

    def _sign(self, path: Path) -> tuple[int, int]:
        st = path.stat()
        return st.st_size, st.st_mtime_ns

    def find(self, texts: list[str | bytes]) -> list[tuple[str, str, str, int]]:
        """The customers in ``texts``: ``(kind, customer_id, shown, count)`` each."""
        return self.targets.find(texts)

    def record(self, path, hits: list[tuple[str, str, str, int]], sign: tuple[int, int] | None = None) -> None:
        """Take ``hits`` (from :meth:`find`, over all the text of ``path``) as what ``path``
        holds; hits of one customer are added up. ``sign``: the file's size and modification
        time when its text was taken (default: now)."""
        path = Path(path)
        counts: Counter = Counter()
        for kind, cid, shown, count in hits:
            counts[(kind, str(cid), shown)] += count
        name = str(path.relative_to(self.folder))
        self._done[path] = sign if sign is not None else self._sign(path)
        self._found[path] = [Finding(name, kind, cid, shown, n) for (kind, cid, shown), n in counts.items()]

    def scan(self, paths) -> None:
        """Read each of ``paths`` (files under ``folder``; images are skipped)."""
        for path in map(Path, paths):
            if path.suffix.lower() in IMAGE_SUFFIXES or not path.is_file():
                continue
            sign = self._sign(path)
            if self._done.get(path) == sign:
                continue
            try:
                texts = _output_texts(path)
            except Exception as exc:  # an unreadable output is itself a finding to look at
                self.record(path, [("unreadable", "-", type(exc).__name__, 1)], sign)
                continue
            self.record(path, self.find(texts), sign)

    def finish(self) -> list[Finding]:
        """Read what is left, and return every finding under ``folder``."""
        files = sorted(p for p in self.folder.rglob("*") if p.is_file())
        self.scan(files)
        return [f for p in files if p in self._found for f in self._found[p]]


# ----------------------------------------------------------------------------- masking at the source
#: What a customer's name becomes in a transcript.
NAME_MASK = "***"
#: Characters that may stand between the digits of a phone number (besides spaces): after
#: NFKC the full-width forms are these ASCII ones.
PHONE_SEPARATORS = frozenset("-.()/_+,:;#*~·・—–‐")
_SEPARATOR_CODES = __import__("numpy").array(sorted(ord(c) for c in PHONE_SEPARATORS), dtype="uint32")
#: Most separator characters between two digits of one phone number (``139 - 0000``).
MAX_PHONE_GAP = 3
MIN_LATIN_NAME = 3


def _code_points(text: str):
    import numpy as np

    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _from_code_points(cp) -> str:
    return cp.astype("<u4").tobytes().decode("utf-32-le")


def _is_space(cp):
    return ((cp == 0x20) | ((cp >= 0x09) & (cp <= 0x0D)) | (cp == 0x85) | (cp == 0xA0)
            | (cp == 0x3000) | ((cp >= 0x2000) & (cp <= 0x200B)) | (cp == 0x202F) | (cp == 0x205F)
            | (cp == 0xFEFF))


def _is_ascii_letter(cp):
    return ((cp >= 0x41) & (cp <= 0x5A)) | ((cp >= 0x61) & (cp <= 0x7A))


class TranscriptMasker:
    """Masks the customers' names and phone numbers in free text, many texts at once.

    Built once per data set from its customers table; :meth:`mask` then treats a whole
    column of transcripts in a few vectorised passes:

    1. the texts are joined into one string (in chunks of about :data:`CHUNK_CHARS`) and
       Unicode-normalised for the search (NFKC, character by character through a table of
       the distinct characters present): full-width digits and letters become ASCII,
       compatibility forms their plain ones. The text written back is the original, only
       the matches are replaced;
    2. the normalised text is searched with two Aho-Corasick automata (one for the names,
       one for the phone numbers; ``ahocorasick_rs``), so the cost grows with the length
       of the text, not with the number of customers;
    3. names are searched in the text without its white space and with ASCII letters
       lower-cased, so ``龙 傲 天``, ``龙傲天`` and ``ZEBULON Quixotefield`` all match;
       a Latin name must not run on into a neighbouring letter (``Ann`` is not masked in
       ``Annual``);
    4. phone numbers are searched in the text's digits alone, then kept where the digits
       of a match sit in one text, are separated by at most :data:`MAX_PHONE_GAP`
       spaces or :data:`PHONE_SEPARATORS` (``139.0000.1111``, ``139 000 01111``,
       ``(139)0000-1111``), and are not part of a longer digit run (a leading ``86`` or
       ``0086`` is masked with the number);
    5. only the texts with a match are rebuilt: a name becomes :data:`NAME_MASK`, a phone
       number its :func:`mask_phone` form (``139****1111``).

    Names shorter than 2 Chinese characters or 3 Latin letters are not searched (too many
    ordinary words would go); phone numbers of fewer than :data:`MIN_PHONE_DIGITS` digits
    neither.

    Parameters
    ----------
    customers : DataFrame
        With ``name`` and ``phone`` (either may be absent).
    """

    def __init__(self, customers):
        import ahocorasick_rs as ac
        import numpy as np
        import pandas as pd

        def column(name):
            if name not in customers:
                return pd.Series([], dtype="string")
            return _nfkc(customers[name].astype("string").dropna())

        names = column("name").str.replace(r"\s+", "", regex=True)
        import pyarrow as pa
        import pyarrow.compute as pc

        names = pd.Series(pd.array(pc.ascii_lower(pa.array(names.array)), dtype="string"), index=names.index)
        latin = names.str.fullmatch(r"[a-z][a-z'.\-]*")
        keep = (latin & (names.str.len() >= MIN_LATIN_NAME)) | (~latin & (names.str.len() >= 2))
        self.names = sorted(set(names[keep.fillna(False)]))
        self.latin = [bool(n[:1].isascii() and n[:1].isalpha()) for n in self.names]
        self.latin_end = [bool(n[-1:].isascii() and n[-1:].isalpha()) for n in self.names]
        digits = column("phone").str.replace(r"\D", "", regex=True)
        digits = digits.str.replace(r"^(?:0086|86)(?=\d{11}$)", "", regex=True)
        self.phones = sorted(set(digits[digits.str.len() >= MIN_PHONE_DIGITS]))
        #: replacement texts: 0 a name, k the k-th phone number
        self.replacements = [NAME_MASK] + [mask_phone(p) for p in self.phones]
        self._latin = np.asarray(self.latin, dtype=bool)
        self._latin_end = np.asarray(self.latin_end, dtype=bool)
        kind = ac.MatchKind.Standard
        self._names = ac.AhoCorasick(self.names, matchkind=kind) if self.names else None
        self._phones = ac.AhoCorasick(self.phones, matchkind=kind) if self.phones else None

    # ------------------------------------------------------------------ search
    def _spans(self, big: str, bounds):
        """Start, end (code point positions in ``big``, each span within one text) and
        replacement number (0: :data:`NAME_MASK`, k: the k-th phone's mask) of every match."""
        import numpy as np

        cp, orig = _normalised(_code_points(big))  # NFKC code points, and where each came from
        n = len(cp)
        row = np.searchsorted(bounds, orig, side="right")  # text number (+1) of each position
        at_start = np.zeros(n + 1, dtype=bool)  # a text starts here (or the string ends)
        at_start[0] = at_start[n] = True
        at_start[1:n] = row[1:] != row[:-1]
        parts = []
        if self._names is not None:
            keep = ~_is_space(cp)
            pos = np.flatnonzero(keep)
            folded = cp[keep].copy()
            upper = (folded >= 0x41) & (folded <= 0x5A)
            folded[upper] += 0x20
            hits = self._names.find_matches_as_indexes(_from_code_points(folded), overlapping=True)
            if hits:
                h = np.asarray(hits, dtype=np.int64)
                start, end = pos[h[:, 1]], pos[h[:, 2] - 1] + 1
                ok = row[start] == row[end - 1]
                latin_start = self._latin[h[:, 0]]
                latin_end = self._latin_end[h[:, 0]]
                before = cp[np.maximum(start - 1, 0)]
                after = cp[np.minimum(end, n - 1)]
                ok &= ~(latin_start & _is_ascii_letter(before) & ~at_start[start])
                ok &= ~(latin_end & _is_ascii_letter(after) & ~at_start[end])
                parts.append((start[ok], end[ok], np.zeros(int(ok.sum()), dtype=np.int64)))
        if self._phones is not None:
            parts.append(self._phone_spans(cp, row, at_start))
        if not parts:
            return None
        start = np.concatenate([p[0] for p in parts])
        end = np.concatenate([p[1] for p in parts])
        what = np.concatenate([p[2] for p in parts])
        if len(start) == 0:
            return None
        return orig[start], orig[end - 1] + 1, what

    def _phone_spans(self, cp, row, at_start):
        """The phone matches, every check vectorised over the matches."""
        import numpy as np

        n = len(cp)
        is_digit = (cp >= 0x30) & (cp <= 0x39)
        pos = np.flatnonzero(is_digit)
        hits = self._phones.find_matches_as_indexes(_from_code_points(cp[is_digit]), overlapping=True)
        if not hits:
            empty = np.array([], dtype=np.int64)
            return empty, empty, empty
        h = np.asarray(hits, dtype=np.int64)
        start, end = pos[h[:, 1]], pos[h[:, 2] - 1] + 1
        # characters allowed inside a number: digits, spaces, separators (prefix sums count the others)
        allowed = is_digit | _is_space(cp) | np.isin(cp, _SEPARATOR_CODES)
        bad = np.concatenate([[0], np.cumsum(~allowed)])
        ok = (bad[end] - bad[start]) == 0
        gaps = np.concatenate([[0], np.cumsum(np.diff(pos) - 1 > MAX_PHONE_GAP)])
        ok &= (gaps[h[:, 2] - 1] - gaps[h[:, 1]]) == 0
        ok &= row[start] == row[end - 1]

        def digit_at(p):
            inside = (p >= 0) & (p < n)
            return inside & is_digit[np.clip(p, 0, n - 1)] & ~at_start[np.clip(p + 1, 0, n)]

        # a digit right after: part of a longer number
        ok &= ~(~at_start[np.minimum(end, n)] & (end < n) & is_digit[np.minimum(end, n - 1)])
        # a digit right before: only a country code 86 or 0086 written with the number
        before = ~at_start[start] & digit_at(start - 1)

        def word(p, text):
            k = len(text)
            idx = np.clip(p[:, None] + np.arange(k)[None, :], 0, n - 1)
            return (cp[idx] == np.array([ord(c) for c in text], dtype=cp.dtype)).all(axis=1) & (p >= 0)

        def clean_start(p):  # p is where a text starts or follows a non-digit
            return (p >= 0) & (at_start[np.clip(p, 0, n)] | ~digit_at(p - 1))

        code86 = word(start - 2, "86") & clean_start(start - 2)
        code0086 = word(start - 4, "0086") & clean_start(start - 4)
        ok &= ~before | code86 | code0086
        start = np.where(before & code0086, start - 4, np.where(before & code86, start - 2, start))
        return start[ok], end[ok], h[ok, 0] + 1

    def mask(self, texts):
        """The texts with every customer's name and phone number masked.

        Parameters
        ----------
        texts : Series of str
            Missing values stay missing.

        Returns
        -------
        Series
            Same index, dtype ``string``: each text as it was, but for each customer name
            replaced by :data:`NAME_MASK` and each phone number by its masked form.
        """
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        texts = texts.astype("string")
        present = np.flatnonzero(texts.notna().to_numpy())
        if len(present) == 0 or (self._names is None and self._phones is None):
            return texts
        values = pa.array(texts.iloc[present].array)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        values = values.cast(pa.large_string())
        import pyarrow.compute as pc

        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
        ends = np.cumsum(lengths)
        chunks, touched = [], False
        lo = 0
        while lo < len(values):  # chunks of about CHUNK_CHARS characters
            base = ends[lo - 1] if lo else 0
            hi = max(lo + 1, int(np.searchsorted(ends, base + CHUNK_CHARS, side="right")))
            chunk = values.slice(lo, hi - lo)
            bounds = np.concatenate([[0], ends[lo:hi] - base])
            big = _joined(chunk)
            spans = self._spans(big, bounds)
            if spans is not None:
                chunk, touched = _apply(big, bounds, spans, self.replacements), True
            chunks.append(chunk)
            lo = hi
        if not touched:
            return texts
        masked = pa.concat_arrays([c.cast(pa.large_string()) for c in chunks])
        result = texts.copy()
        result.iloc[present] = pd.array(masked.cast(pa.string()), dtype="string")
        return result


#: Characters of transcript text searched in one pass (memory: about 40 bytes each).
CHUNK_CHARS = 8_000_000


def _normalised(cp):
    """NFKC of a code point array, one character at a time through a table of the distinct
    characters present; returns the normalised code points and, for each, its original
    position (a character may become several, e.g. ``㈱`` -> ``(株)``)."""
    import unicodedata

    import numpy as np

    if len(cp) == 0:
        return cp, np.arange(0, dtype=np.int64)
    seen = np.zeros(int(cp.max()) + 1, dtype=bool)
    seen[cp] = True
    uniq = np.flatnonzero(seen)
    norm = [unicodedata.normalize("NFKC", chr(int(u))) for u in uniq]
    lens = np.zeros(len(seen), dtype=np.int64)
    lens[uniq] = [len(x) for x in norm]
    if (lens[uniq] == 1).all():
        table = np.zeros(len(seen), dtype=np.uint32)
        table[uniq] = [ord(x) for x in norm]
        return table[cp], np.arange(len(cp), dtype=np.int64)
    flat = _code_points("".join(norm))
    ustart = np.zeros(len(seen), dtype=np.int64)
    ustart[uniq] = np.concatenate([[0], np.cumsum(lens[uniq])[:-1]])
    counts = lens[cp]
    orig = np.repeat(np.arange(len(cp), dtype=np.int64), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    within = np.arange(len(orig), dtype=np.int64) - np.repeat(first, counts)
    return flat[ustart[cp[orig]] + within], orig


def _apply(big: str, bounds, spans, replacements):
    """The texts of ``big`` (cut at ``bounds``) with the spans replaced, as an Arrow array.

    Overlapping spans are merged (the first one's replacement covers them all); the new
    string is built in one join and cut into texts again by the lengths it now has.
    """
    import numpy as np
    import pyarrow as pa

    start, end, what = spans
    order = np.lexsort((-end, start))
    start, end, what = start[order], end[order], what[order]
    reach = np.maximum.accumulate(end)
    new = np.ones(len(start), dtype=bool)
    new[1:] = start[1:] >= reach[:-1]  # does not overlap any earlier span
    group = np.cumsum(new) - 1
    g_start, g_what = start[new], what[new]
    g_end = np.maximum.reduceat(end, np.flatnonzero(new))
    texts = np.asarray(replacements, dtype=object)[g_what]
    kept_from = np.concatenate([[0], g_end])
    kept_to = np.concatenate([g_start, [len(big)]])
    pieces = [None] * (2 * len(g_start) + 1)
    pieces[0::2] = [big[a:b] for a, b in zip(kept_from.tolist(), kept_to.tolist())]
    pieces[1::2] = texts.tolist()
    out = "".join(pieces)
    # each text's new length: old length - characters replaced + replacement lengths
    rows = np.searchsorted(bounds, g_start, side="right") - 1
    n_rows = len(bounds) - 1
    repl_len = np.fromiter((len(x) for x in texts), dtype=np.int64, count=len(texts))
    delta = np.bincount(rows, weights=repl_len - (g_end - g_start), minlength=n_rows).astype(np.int64)
    char_ends = bounds[1:] + np.cumsum(delta)
    del group
    data = out.encode("utf-8")
    cp = _code_points(out)
    width = 1 + (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000)
    byte_at = np.concatenate([[0], np.cumsum(width, dtype=np.int64)])
    offsets = byte_at[np.concatenate([[0], char_ends])].astype(np.int64)
    return pa.LargeStringArray.from_buffers(n_rows, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def _joined(values) -> str:
    """All strings of an Arrow (large) string array as one Python string (its data buffer)."""
    import numpy as np
    import pyarrow as pa

    width = np.int64 if values.type == pa.large_string() else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=width)[values.offset: values.offset + len(values) + 1]
    data = values.buffers()[2]
    if data is None:
        return ""
    return bytes(memoryview(data)[int(offsets[0]): int(offsets[-1])]).decode("utf-8")


def _nfkc(texts):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(texts) == 0:
        return texts.astype("string")
    values = pc.utf8_normalize(pa.array(texts.astype("string").array), "NFKC")
    return pd.Series(pd.array(values, dtype="string"), index=texts.index)


def mask_transcripts(data_or_calls, customers=None):
    """``calls.transcript`` with the customers' names and phone numbers masked.

    Parameters
    ----------
    data_or_calls : Dataset or DataFrame
        A data set (its ``calls`` and ``customers``), or the calls table with
        ``customers`` given.
    customers : DataFrame, optional

    Returns
    -------
    Series
        The masked transcripts (see :class:`TranscriptMasker`), or None when the calls
        have no ``transcript`` column.
    """
    calls = data_or_calls.calls if hasattr(data_or_calls, "tables") else data_or_calls
    customers = data_or_calls.customers if customers is None else customers
    if "transcript" not in calls:
        return None
    return TranscriptMasker(customers).mask(calls["transcript"])
