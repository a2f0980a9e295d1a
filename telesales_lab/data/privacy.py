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

#: File types read as text; other files are read as UTF-8 text too, except these images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".bmp", ".pdf")
MIN_PHONE_DIGITS = 7

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_RUN = re.compile(f"[{_CJK}·]+")
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
            values = pd.Series(pd.unique(s.dropna().astype(str)), dtype="string")
            pieces.extend(values[values.str.contains(r"[^\x00-\x7f]", regex=True)].tolist())
    return "\n".join(pieces)


def _label_text() -> str:
    from telesales_lab import labels

    texts = []
    for lang in labels.LANGS:
        cat = labels.catalog(lang)
        texts.extend(cat["labels"].values())
        texts.extend(v for section in cat["context"].values() for v in section.values())
    return "\n".join(texts)


class _Targets:
    """The customers' phones and names, as sets keyed to customer ids."""

    def __init__(self, data, template_text: str = ""):
        import pandas as pd

        customers = data.customers if hasattr(data, "tables") else data
        ids = customers["customer_id"].astype("string")
        phones = customers["phone"].astype("string").str.replace(r"\D", "", regex=True) \
            if "phone" in customers else pd.Series(dtype="string")
        self.phones: dict[str, str] = {}
        for digits, cid in zip(phones.dropna(), ids[phones.notna()]):
            digits = _normalise_phone(digits)
            if len(digits) >= MIN_PHONE_DIGITS:
                self.phones.setdefault(digits, cid)
        names = customers["name"].astype("string").str.strip().str.replace(r"\s+", " ", regex=True) \
            if "name" in customers else pd.Series(dtype="string")
        by_name = dict(zip(names[names.notna()], ids[names.notna()]))
        self.cjk = {n: c for n, c in by_name.items() if _CJK_NAME.match(n)}
        self.latin = {n: c for n, c in by_name.items() if len(n) >= 3 and _LATIN_NAME.match(n)}
        self.other = {n: c for n, c in by_name.items()
                      if len(n) >= 3 and n not in self.cjk and n not in self.latin}
        self.skipped: set[str] = set()
        known = template_text + "\n" + _label_text()
        if hasattr(data, "tables"):
            known += "\n" + _public_text(data)
        self._skip(known)
        self.cjk_lengths = {len(n) for n in self.cjk}
        self.latin_lengths = {n.count(" ") + 1 for n in self.latin}
        self.other_re = (re.compile("|".join(re.escape(n) for n in sorted(self.other, key=len, reverse=True)))
                         if self.other else None)

    def _skip(self, known: str) -> None:
        """Drop names that also occur in text allowed to show; they cannot be told apart."""
        common = set(_cjk_substrings(known, {len(n) for n in self.cjk}, self.cjk))
        common |= set(_latin_windows(known, {n.count(" ") + 1 for n in self.latin}, self.latin))
        common |= {n for n in self.other if n in known}
        for name in common:
            self.cjk.pop(name, None)
            self.latin.pop(name, None)
            self.other.pop(name, None)
        self.skipped = common

    def search(self, text: str) -> list[tuple[str, str, str, int]]:
        """``(kind, customer_id, shown, count)`` for each customer found in ``text``."""
        found = []
        runs = Counter(_normalise_phone(r) for r in _DIGITS.findall(text) if len(r) >= MIN_PHONE_DIGITS)
        for run in _DIGITS_SEPARATED.findall(text):
            joined = _normalise_phone(run.replace(" ", "").replace("-", ""))
            if len(joined) >= MIN_PHONE_DIGITS:
                runs[joined] += 1
        for digits in runs.keys() & self.phones.keys():
            found.append(("phone", self.phones[digits], mask_phone(digits), runs[digits]))
        hits = _cjk_substrings(text, self.cjk_lengths, self.cjk) if self.cjk else Counter()
        hits += _latin_windows(text, self.latin_lengths, self.latin) if self.latin else Counter()
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


def _parquet_text(path: Path) -> str:
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    pieces = [str(table.schema)]
    pieces += [v.decode("utf-8", "ignore") for v in (table.schema.metadata or {}).values()]
    frame = table.to_pandas()
    for col in frame.columns:
        values = pd.unique(frame[col].dropna())
        pieces.append("\n".join(map(str, values)))
    return "\n".join(pieces)


def _xlsx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as book:
        return "\n".join(html.unescape(book.read(name).decode("utf-8", "ignore"))
                         for name in book.namelist() if name.endswith((".xml", ".rels")))


def output_text(path: Path) -> str:
    """The searchable text of one output file (embedded images left out)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_text(path)
    if suffix == ".parquet":
        return _parquet_text(path)
    text = _decode(path.read_bytes())
    if suffix in (".ipynb", ".json"):
        try:
            return json.dumps(_strip_notebook(json.loads(text)), ensure_ascii=False)
        except ValueError:
            return text
    if suffix in (".html", ".htm", ".svg", ".xml"):
        return html.unescape(_SVG_GEOMETRY.sub(" ", _DATA_URI.sub(" ", text)))
    return text


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
    folder = Path(folder)
    targets = _Targets(data, template_text)
    findings = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            continue
        try:
            text = output_text(path)
        except Exception as exc:  # an unreadable output is itself a finding to look at
            findings.append(Finding(str(path.relative_to(folder)), "unreadable", "-", type(exc).__name__, 1))
            continue
        for kind, cid, shown, count in targets.search(text):
            findings.append(Finding(str(path.relative_to(folder)), kind, str(cid), shown, count))
    return findings
