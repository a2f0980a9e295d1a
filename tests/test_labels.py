"""Label catalogs: the same keys in every language, and every key the code asks for exists."""

import ast
import json
import re
from pathlib import Path

import pytest

import telesales_lab
from telesales_lab import labels
from telesales_lab.data.schema import OBJECTIONS, OUTCOMES, ROLES, SKILLS

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _keys(cat):
    out = {("", k) for k in cat["labels"]}
    out |= {(ctx, k) for ctx, section in cat["context"].items() for k in section}
    return out


def test_every_key_exists_in_both_languages():
    en, zh = _keys(labels.catalog("en")), _keys(labels.catalog("zh"))
    assert en - zh == set(), "keys missing from zh.toml"
    assert zh - en == set(), "keys missing from en.toml"


def test_no_label_is_empty():
    for lang in labels.LANGS:
        cat = labels.catalog(lang)
        for ctx, key in _keys(cat):
            text = cat["context"][ctx][key] if ctx else cat["labels"][key]
            assert text.strip(), (lang, ctx, key)


def test_vocabularies_have_chinese_labels():
    for word in OUTCOMES + OBJECTIONS + SKILLS + ROLES:
        zh = labels.t(word, "zh")
        assert zh != word and CJK.search(zh), word


def test_context_label_wins_over_global():
    assert labels.t("sales", "zh", context="evaluation") != labels.t("sales", "zh")
    assert labels.t("unknown_key_q", "zh") == "unknown_key_q"  # a data value comes back unchanged
    assert not labels.has("unknown_key_q") and labels.has("sales")


def _literal_keys(tree):
    """First arguments of t(...)/heading(...) calls that are string literals naming a dotted key."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            key = node.args[0].value
            if name in {"t", "heading"} and isinstance(key, str) and re.fullmatch(r"[a-z_]+\.[a-z_.0-9]+", key):
                yield key


def _sources():
    for path in sorted((ROOT / "telesales_lab").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        yield str(path.relative_to(ROOT)), code


@pytest.mark.parametrize("name,source", list(_sources()), ids=[n for n, _ in _sources()])
def test_no_page_asks_for_a_missing_key(name, source):
    missing = sorted({k for k in _literal_keys(ast.parse(source)) if not labels.has(k)})
    assert missing == [], f"{name} asks for keys that are in no catalog: {missing}"


def test_public_names_resolve():
    for name in telesales_lab.__all__:
        assert getattr(telesales_lab, name) is not None, name
