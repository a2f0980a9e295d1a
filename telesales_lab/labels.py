"""English and Chinese labels for headings, table headers, category values and sentences.

The words are data, not code: one catalog per language, ``telesales_lab/locale/en.toml`` and
``zh.toml``, with the same keys (a test checks both ways). :func:`t` looks a key up;
:func:`translate_columns` renames a result table's columns for display (the data keeps
snake_case names). A word that means something else in one table (``sales`` is a count in
the funnel but the sales-results dimension in the evaluation) sits in that table's
``[context.NAME]`` section and is looked up with ``context=NAME``.

Values that are not keys (script ids, team names) come back unchanged, so ``t`` can label a
column of data; :func:`has` tells a key from such a value.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from telesales_lab.exceptions import ParameterError

LANGS = ("en", "zh")


@cache
def catalog(lang: str) -> dict:
    """The catalog of ``lang``: ``{"labels": {key: text}, "context": {name: {key: text}}}``."""
    check_lang(lang)
    with resources.files("telesales_lab").joinpath("locale", f"{lang}.toml").open("rb") as fh:
        data = tomllib.load(fh)
    data.setdefault("labels", {})
    data.setdefault("context", {})
    return data


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ParameterError(f"lang == {lang!r}, must be one of {'|'.join(LANGS)}")
    return lang


def has(key: str, context: str | None = None) -> bool:
    """Whether ``key`` is a catalog key (in ``context`` or globally)."""
    cat = catalog("en")
    return key in cat["context"].get(context, {}) or key in cat["labels"]


def t(key: str, lang: str = "en", context: str | None = None) -> str:
    """The label for ``key`` in ``lang`` (within ``context`` first); other values come back as they are."""
    cat = catalog(lang)
    if context is not None:
        found = cat["context"].get(context, {}).get(key)
        if found is not None:
            return found
    return cat["labels"].get(key, key)


def translate_columns(frame, lang: str = "en", context: str | None = None):
    """A copy of ``frame`` with display labels as column names (for ``lang="zh"``)."""
    if lang == "en":
        return frame
    return frame.rename(columns={c: t(c, lang, context) for c in frame.columns})


def heading(key: str, lang: str = "en", level: int = 2, suffix: str = ""):
    """A notebook heading in ``lang``: ``display(heading("outcomes.trend", lang))``.

    Markdown cells cannot switch language, so notebooks show their headings through this.
    Returns an ``IPython.display.Markdown`` object (``level`` is the number of ``#``).
    """
    from IPython.display import Markdown

    check_lang(lang)
    text = t(key, lang) + (f" {suffix}" if suffix else "")
    return Markdown("#" * max(1, min(int(level), 6)) + " " + text)
