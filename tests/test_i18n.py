"""Bilingual labels: one meaning per global key, and every table column has a Chinese label."""

import importlib
import pkgutil

import telesales_lab
from telesales_lab import i18n
from telesales_lab.schema import OBJECTIONS, OUTCOMES, SKILLS


def _import_all():
    for module in pkgutil.iter_modules(telesales_lab.__path__):
        importlib.import_module(f"telesales_lab.{module.name}")


def test_no_global_label_means_two_things():
    _import_all()
    assert i18n.CONFLICTS == [], "register differing words under a context instead"


def test_vocabularies_have_chinese_labels():
    _import_all()
    for word in OUTCOMES + OBJECTIONS + SKILLS:
        zh = i18n.t(word, "zh")
        assert zh != word and any("\u4e00" <= ch <= "\u9fff" for ch in zh), word


def test_context_label_wins_over_global():
    i18n.register({"widget_x": ("widget", "部件")})
    i18n.register({"widget_x": ("gadget", "装置")}, context="test_ctx")
    assert i18n.t("widget_x", "zh") == "部件"
    assert i18n.t("widget_x", "zh", context="test_ctx") == "装置"
    assert i18n.t("unknown_key_q", "zh") == "unknown_key_q"


def test_public_names_resolve():
    for name in telesales_lab.__all__:
        assert getattr(telesales_lab, name) is not None, name
