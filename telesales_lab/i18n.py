"""English and Chinese labels for headings, table headers and plot labels.

Each module registers its own words with :func:`register`, so the vocabulary of a
feature lives beside the feature. :func:`t` looks a key up; :func:`translate_columns`
renames a result table's columns for display (the data keeps snake_case names).
"""

from __future__ import annotations

LANGS = ("en", "zh")
_LABELS: dict[str, dict[str, str]] = {}
_CONTEXTS: dict[str, dict[str, dict[str, str]]] = {}
#: (key, first labels, second labels) for global keys registered twice with different words.
CONFLICTS: list[tuple[str, dict, dict]] = []


def register(labels: dict[str, tuple[str, str]], context: str | None = None) -> None:
    """Add ``{key: (english, chinese)}`` labels.

    A word that means one thing everywhere is registered without ``context``. A column
    name that means something else in one table (``sales`` is a count in the funnel but
    the sales-results dimension in the evaluation) is registered with that table's
    ``context`` and looked up with it. Registering a global key twice with different
    words is a mistake; it is recorded in :data:`CONFLICTS`, which a test keeps empty.
    """
    for key, (en, zh) in labels.items():
        entry = {"en": en, "zh": zh}
        if context is not None:
            _CONTEXTS.setdefault(context, {})[key] = entry
            continue
        old = _LABELS.get(key)
        if old is not None and old != entry:
            CONFLICTS.append((key, old, entry))
        _LABELS[key] = entry


def check_lang(lang: str) -> str:
    from .exceptions import ParameterError

    if lang not in LANGS:
        raise ParameterError(f"lang == {lang!r}, must be one of {'|'.join(LANGS)}")
    return lang


def t(key: str, lang: str = "en", context: str | None = None) -> str:
    """The label for ``key`` in ``lang`` (within ``context`` first); unknown keys come back as they are."""
    entry = _CONTEXTS.get(context, {}).get(key) or _LABELS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["en"]


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


register({
    # shared vocabulary: ids, roles, outcomes, objections, skills, classes
    "rep_id": ("rep", "坐席"),
    "team": ("team", "小组"),
    "role": ("role", "岗位"),
    "customer_id": ("customer", "客户"),
    "customer_class": ("customer class", "客户等级"),
    "script_id": ("script", "话术"),
    "scenario": ("scenario", "场景"),
    "call_id": ("call", "通话"),
    "month": ("month", "月份"),
    "hour": ("hour", "时段"),
    "weekday": ("weekday", "星期"),
    "skill": ("skill", "技能"),
    "score": ("score", "得分"),
    "rep": ("rep", "坐席"),
    "team_lead": ("team lead", "组长"),
    "supervisor": ("supervisor", "主管"),
    "manager": ("manager", "经理"),
    "no_answer": ("no answer", "未接通"),
    "rejected": ("rejected", "拒绝"),
    "callback": ("callback", "约回访"),
    "interested": ("interested", "有意向"),
    "sale": ("sale", "成交"),
    "price": ("price", "价格"),
    "timing": ("timing", "时机"),
    "no_need": ("no need", "无需求"),
    "competitor": ("competitor", "竞品"),
    "trust": ("trust", "信任"),
    "authority": ("authority", "决策权"),
    "communication": ("communication", "沟通"),
    "listening": ("listening", "倾听"),
    "questioning": ("questioning", "提问"),
    "objection_handling": ("objection handling", "异议处理"),
    "product_knowledge": ("product knowledge", "产品知识"),
    "closing": ("closing", "促成"),
    "teamwork": ("teamwork", "团队协作"),
    "A": ("A (high value)", "A类（高价值）"),
    "B": ("B (medium)", "B类（中等）"),
    "C": ("C (low)", "C类（低价值）"),
})
