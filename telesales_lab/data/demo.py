"""A demo data set with a planted truth, generated without per-row Python loops.

:func:`generate_demo` builds every canonical table of :mod:`telesales_lab.data.schema` for a
made-up telephone-sales department, from one seed. Hidden inside are facts that the
analyses should recover, returned as a ``truth`` dict (and written as ``truth.json`` by
:func:`write_demo`):

* every caller's latent skill scores, with a few reps planted with one clearly weak skill;
* a newcomer with a handful of lucky calls;
* script effects per scenario: ``cold_call`` is confounded (strong closers prefer the
  worst variant, so the raw sale rate ranks it above the best one), ``follow_up`` is a
  null comparison, ``renewal`` and ``upsell`` are clean randomised comparisons;
* a hidden customer value tier driving order frequency and amounts, and a few lapsed
  high-value customers;
* a lead propensity: the tier plus the customer's source and industry shift the sale log-odds
  of every connected call (``lead_propensity`` in the truth), for the lead score to recover;
* one assessor who scores everyone too high, and one training module with a real effect;
* four script experiments (:mod:`telesales_lab.data.demo_experiments`): a winner, a no-difference,
  a non-inferior short script and one still running; their registry is written as
  ``experiments.toml``.

The tables are returned the way they are written to disk: ids and categories as text,
dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM:SS``, booleans ``true``/``false``,
missing cells empty.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from telesales_lab.data.demo_experiments import SHORT_SCRIPT, plant_experiments, registry_text
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.periods import parse_month
from telesales_lab.data.demo_targets import demo_targets
from telesales_lab.data.schema import OBJECTIONS, OUTCOMES, SKILLS, TABLES

#: The outcomes the demo generates, coded in this order (the neutral ``service`` outcome of the
#: schema is not generated, so the codes and the planted truth stay as they were).
_DEMO_OUTCOMES = tuple(o for o in OUTCOMES if o != "service")

# ----------------------------------------------------------------------------- vocabulary of the demo
_SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉梅丹萍鹏辉飞宇浩然欣怡子涵思雨佳琪晨曦俊志海燕雪文博雅婷"
    "立新春晓东亮成鑫波斌宁琳颖倩慧莉凯旭峰"
)
_REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北", "东北")
_TEAM_NUMERALS = ("一组", "二组", "三组")
_CITIES = ("上海", "北京", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "重庆", "天津",
           "长沙", "郑州", "青岛", "厦门", "合肥", "沈阳")
_CITY_WEIGHTS = (12, 11, 9, 9, 8, 7, 6, 6, 6, 5, 5, 4, 3, 3, 2, 2, 1.5, 1.5)
_INDUSTRIES = ("制造业", "零售", "教育", "医疗", "金融", "餐饮", "物流", "互联网", "房地产")
_INDUSTRY_WEIGHTS = (20, 15, 10, 8, 8, 10, 9, 12, 8)
_SOURCES = ("电话营销", "老客户转介绍", "线上广告", "展会", "官网注册", "合作渠道")
_SOURCE_WEIGHTS = (30, 15, 20, 10, 15, 10)
_PHONE_PREFIXES = (130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 155, 158, 159, 177, 186, 188, 199)

#: (script_id, scenario, name, text, true log-odds effect on a sale, line quoted in transcripts)
_SCRIPTS = (
    ("CC-A", "cold_call", "标准开场白",
     "您好，我是星辰科技的客户顾问。我们公司专注企业办公软件十年，产品稳定可靠。请问您现在方便聊两分钟吗？"
     "我们的系统可以帮助贵公司节省成本。如果您有兴趣，我可以给您发一份产品资料。",
     0.0, "我们的系统可以帮助贵公司节省成本，我可以给您发一份产品资料。"),
    ("CC-B", "cold_call", "需求导向开场",
     "您好，我是星辰科技的客户顾问，冒昧打扰您一分钟。想先请教一下，贵公司目前在办公协作上最头疼的是什么？"
     "根据您的实际情况，我们可以为您量身定制一套方案。您看本周哪天方便，我把方案细节和您详细沟通？",
     0.5, "根据您的实际情况，我们可以为您量身定制一套方案。"),
    ("CC-C", "cold_call", "同行案例开场",
     "您好，我是星辰科技的客户顾问。最近我们刚帮助一家和贵公司同行业的企业把工作效率提升了三成。"
     "想和您简单分享一下他们的做法。请问您现在方便听一听吗？",
     0.2, "我们刚帮助一家同行业的企业把工作效率提升了三成。"),
    ("FU-A", "follow_up", "资料回访",
     "您好，我是星辰科技的客户顾问，上次给您发的产品资料您看过了吗？有什么不清楚的地方我可以帮您解答。",
     0.0, "上次给您发的产品资料您看过了吗？"),
    ("FU-B", "follow_up", "试用回访",
     "您好，我是星辰科技的客户顾问，之前您申请的试用账号用得怎么样？有没有遇到什么问题？我们可以安排工程师远程协助。",
     0.0, "之前您申请的试用账号用得怎么样？"),
    ("FU-C", "follow_up", "问题回访",
     "您好，我是星辰科技的客户顾问，上次沟通时您提到的几个问题我已经整理好了答复。想跟您确认一下，现在方便吗？",
     0.0, "上次您提到的几个问题我已经整理好了答复。"),
    ("RN-A", "renewal", "标准续约提醒",
     "您好，我是星辰科技的客户顾问。您的服务将在下个月到期，为了不影响使用，建议您尽早办理续约。"
     "续约流程很简单，我可以帮您一次办好。",
     0.0, "您的服务将在下个月到期，建议您尽早办理续约。"),
    ("RN-B", "renewal", "老客户专享续约",
     "您好，我是星辰科技的客户顾问，感谢您一直以来的信任。您的服务下个月到期，这次续约可以享受老客户专享的续费价格和免费升级。"
     "我现在帮您把续约手续办好，您看可以吗？",
     0.5, "这次续约可以享受老客户专享的续费价格和免费升级。"),
    ("UP-A", "upsell", "限时升级",
     "您好，我是星辰科技的客户顾问。看到贵公司最近使用量增长很快，高级版正好有限时优惠，本月内升级可以多送三个月。"
     "要不要我先帮您算一下升级后的费用？",
     0.3, "高级版正好有限时优惠，本月内升级可以多送三个月。"),
    ("UP-B", "upsell", "功能介绍升级",
     "您好，我是星辰科技的客户顾问。我们高级版新增了数据分析和审批流程等功能，很多客户反馈很实用。"
     "想给您简单介绍一下，看看是否适合贵公司。",
     0.0, "我们高级版新增了数据分析和审批流程等功能。"),
)
#: A phrase found only in the truly best script of each scenario (none for the null scenario).
_WINNING_PHRASES = {"cold_call": "为您量身定制", "renewal": "老客户专享", "upsell": "限时优惠"}
_SCENARIOS = ("cold_call", "follow_up", "renewal", "upsell")
_SCENARIO_SHARE = (0.40, 0.30, 0.15, 0.15)
_SCENARIO_BASE = (-2.2, -1.5, -0.6, -1.6)  # sale log-odds of an average rep, tier B, no objection
_SCENARIO_CONNECT = (-0.3, 0.2, 0.4, 0.3)
_CONFOUNDED, _NULL = "cold_call", "follow_up"

# connect log-odds by hour (9..19) and weekday (Mon..Sun; nobody calls on Sunday)
_HOURS = np.arange(9, 20)
_HOUR_VOLUME = np.array([0.8, 1.2, 1.2, 0.4, 0.6, 1.1, 1.2, 1.1, 0.9, 0.7, 0.6])
_HOUR_CONNECT = np.array([-0.5, 0.1, 0.2, -0.6, -0.4, 0.0, 0.1, 0.0, -0.2, 0.3, 0.5])
_WEEKDAY_VOLUME = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.35, 0.0])
_WEEKDAY_CONNECT = np.array([-0.2, 0.0, 0.1, 0.0, -0.1, 0.3, 0.0])
_CONNECT_BASE = -0.1

_OBJECTION_WEIGHTS = np.array([0.35, 0.20, 0.15, 0.12, 0.10, 0.08])  # in the order of OBJECTIONS
_OBJECTION_PENALTY = 1.8  # sale log-odds lost to an objection the rep did not overcome
_TIER_SALE = np.array([0.6, 0.0, -0.5])  # A, B, C
#: planted lead propensity: sale log-odds by the customer's source and industry (in the order of
#: _SOURCES / _INDUSTRIES; a customer without one gets 0), centred on their shares below
_SOURCE_SALE_RAW = np.array([-0.4, 0.9, -0.2, 0.3, 0.5, 0.0])
_INDUSTRY_SALE_RAW = np.array([0.2, -0.3, 0.0, 0.3, 0.6, -0.6, -0.1, 0.4, -0.4])
_TIER_SHARE = (0.15, 0.35, 0.50)
_TIER_CALL_WEIGHT = np.array([1.6, 1.0, 0.7])
_TIER_HISTORY_RATE = np.array([4.0, 1.5, 0.5])  # orders a year before the window
_TIER_ORGANIC_RATE = np.array([1.2, 0.4, 0.15])  # orders a year without a call, inside the window
_TIER_AMOUNT = np.array([6000.0, 2500.0, 1000.0])  # median order amount (yuan)
_SOURCE_SALE = _SOURCE_SALE_RAW - np.average(_SOURCE_SALE_RAW, weights=_SOURCE_WEIGHTS)
_INDUSTRY_SALE = _INDUSTRY_SALE_RAW - np.average(_INDUSTRY_SALE_RAW, weights=_INDUSTRY_WEIGHTS)
#: sale log-odds per skill point above 65
_SALE_SKILL_COEF = {"closing": 0.05, "communication": 0.02, "questioning": 0.02, "product_knowledge": 0.02}

_OBJECTION_LINES = ("太贵了，预算不够。", "现在不是时候，过段时间再说吧。", "我们暂时没有这个需要。",
                    "我们已经在用别家的产品了。", "你们公司靠谱吗？没怎么听说过。", "这个我做不了主，得问问领导。", "")
_REBUTTAL_LINES = ("理解您的顾虑，其实算下来每天不到一杯咖啡钱，还能省下不少人工。",
                   "没关系，我先帮您把资料准备好，您方便的时候随时可以开始。",
                   "明白，很多客户一开始也这么想，后来发现确实省了不少事。",
                   "您用的那家我们也了解，我们在售后服务上更有优势。",
                   "我们已经服务了上千家企业，可以给您看看客户案例。",
                   "好的，我准备一份简明的方案，方便您向领导汇报。", "")
_OUTCOME_LINES = ("", "不用了，谢谢。", "我现在有点忙，你晚点再打过来吧。", "听起来还不错，你把资料发给我看看。",
                  "好的，那就这么定了，怎么付款？")

#: module_id, title, title_zh, skill, method, hours, area
_CATALOG = (
    ("M01", "Product deep dive", "产品深度解析", "product_knowledge", "classroom", 6.0, "product_knowledge"),
    ("M02", "Customer industries briefing", "客户行业知识", "questioning", "online", 3.0, "industry_knowledge"),
    ("M03", "Objection handling workshop", "异议处理工作坊", "objection_handling", "practice", 4.0, "sales_technique"),
    ("M04", "Closing techniques", "促成交易技巧", "closing", "coaching", 3.0, "sales_technique"),
    ("M05", "Consultative questioning", "顾问式提问", "questioning", "classroom", 4.0, "sales_technique"),
    ("M06", "Active listening", "积极倾听", "listening", "online", 2.0, "communication"),
    ("M07", "Telephone communication", "电话沟通技巧", "communication", "online", 2.0, "communication"),
    ("M08", "Working as a team", "团队协作", "teamwork", "classroom", 3.0, "communication"),
    ("M09", "Role-play: price objections", "价格异议角色扮演", "objection_handling", "practice", 2.0, "sales_technique"),
    ("M10", "Competitor products", "竞品分析", "product_knowledge", "coaching", 2.0, "industry_knowledge"),
)
_TRAINED_MODULE = "M03"
_TRAINING_EFFECT = 8.0
_DRIFT_BIAS = 12.0
_ASSESSOR_NOISE = 6.0
_NEWCOMER_OUTCOMES = ("sale",) * 6 + ("interested", "callback") + ("no_answer",) * 4

_EPOCH_DAY = np.datetime64("1970-01-01", "D")
_DAY = 86_400


# ----------------------------------------------------------------------------- small vectorised helpers
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII codes of the zero-padded decimal digits of non-negative ints."""
    x = np.asarray(x, dtype=np.int64)
    return ((x[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10 + 48).astype(np.uint8)


def _ascii(chars: np.ndarray, present: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """Fixed-width ASCII rows (n, width) as a pandas text array, built straight from the bytes.

    Millions of dates or ids never become Python strings; missing where not ``present``.
    """
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))
    if present is not None:
        arr = pc.if_else(pa.array(np.asarray(present, dtype=bool)), arr, pa.scalar(None, arr.type))
    return pd.array(arr, dtype="str")


def _id_chars(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    head = np.broadcast_to(np.frombuffer(prefix.encode("ascii"), dtype=np.uint8), (n, len(prefix)))
    return np.hstack([head, _digits(np.arange(1, n + 1), width)])


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    """``prefix`` + zero-padded 1..n (``R001``, ``C0000001``) as a numpy unicode array."""
    chars = _id_chars(prefix, n, width)
    return chars.view(f"S{chars.shape[1]}").ravel().astype(str)


def _id_text(prefix: str, n: int, width: int) -> pd.api.extensions.ExtensionArray:
    """Like :func:`_ids`, as a pandas text array (fast for millions of ids)."""
    return _ascii(_id_chars(prefix, n, width))


def _date_chars(days: np.ndarray) -> np.ndarray:
    """(n, 10) ASCII ``YYYY-MM-DD`` of days since 1970."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) and 2 * (days.max() - days.min() + 1) < len(days):  # many rows, few days: format each day once
        lo = days.min()
        return _date_chars(np.arange(lo, days.max() + 1))[days - lo]
    month = days.astype("datetime64[D]").astype("datetime64[M]")
    year = month.astype("datetime64[Y]").astype(np.int64) + 1970
    mday = days - month.astype("datetime64[D]").astype(np.int64) + 1
    dash = np.full((len(days), 1), ord("-"), dtype=np.uint8)
    return np.hstack([_digits(year, 4), dash, _digits(month.astype(np.int64) % 12 + 1, 2), dash, _digits(mday, 2)])


@functools.cache
def _clock_chars() -> np.ndarray:
    """(86400, 9) ASCII `` HH:MM:SS`` for every second of a day."""
    sod = np.arange(_DAY)
    sep = [np.full((_DAY, 1), ord(c), dtype=np.uint8) for c in " ::"]
    chars = np.hstack([sep[0], _digits(sod // 3600, 2), sep[1], _digits(sod // 60 % 60, 2), sep[2],
                       _digits(sod % 60, 2)])
    chars.setflags(write=False)
    return chars


def _fmt_date(days: np.ndarray, present: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """Days since 1970 -> ``YYYY-MM-DD`` text (missing where not ``present``)."""
    return _ascii(_date_chars(days), present)


def _fmt_datetime(seconds: np.ndarray, present: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """Seconds since 1970 -> ``YYYY-MM-DD HH:MM:SS`` text (missing where not ``present``)."""
    days, sod = np.divmod(np.asarray(seconds, dtype=np.int64), _DAY)
    return _ascii(np.hstack([_date_chars(days), _clock_chars()[sod]]), present)


def _text(labels, codes: np.ndarray, present: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """``labels[codes]`` as a pandas text array (missing where not ``present``), via an Arrow take."""
    source = labels if isinstance(labels, pa.Array) else pa.array(np.asarray(labels, dtype=str))
    mask = None if present is None else ~np.asarray(present, dtype=bool)
    return pd.array(source.take(pa.array(np.asarray(codes, dtype=np.int64), mask=mask)), dtype="str")


def _bool_text(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "true", "false")


def _weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday for days since 1970 (a Thursday)."""
    return (np.asarray(days) + 3) % 7


def _pick(rng, n: int, probs: np.ndarray) -> np.ndarray:
    """``n`` draws from one categorical distribution."""
    return rng.choice(len(probs), size=n, p=np.asarray(probs, dtype=float) / np.sum(probs))


def _pick_rows(rng, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _names(rng, n: int, unique: bool) -> np.ndarray:
    """Chinese personal names: a surname and one or two given characters."""
    out = np.empty(0, dtype=object)
    while len(out) < n:
        m = max(2 * (n - len(out)), 16)
        sur = np.array(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), m)]
        g1 = np.array(_GIVEN, dtype=object)[rng.integers(0, len(_GIVEN), m)]
        g2 = np.array(_GIVEN, dtype=object)[rng.integers(0, len(_GIVEN), m)]
        two = rng.random(m) < 0.6
        names = sur + g1 + np.where(two, g2, "")
        out = np.concatenate([out, names])
        if unique:
            out = pd.unique(out)
    return out[:n].astype(str)


def _phones(rng, n: int) -> np.ndarray:
    """Unique 11-digit mobile numbers."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        m = 2 * (n - len(out)) + 16
        prefix = np.array(_PHONE_PREFIXES, dtype=np.int64)[rng.integers(0, len(_PHONE_PREFIXES), m)]
        numbers = prefix * 10**8 + rng.integers(0, 10**8, m)
        out = pd.unique(np.concatenate([out, numbers]))
    return out[:n].astype(str)


def _check(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name} == {value!r}, must be a whole number >= {low}")


# ----------------------------------------------------------------------------- the generator
def generate_demo(seed: int = 7, n_teams: int = 6, reps_per_team: int = 10, n_customers: int = 5000,
                  n_calls: int = 60_000, months: int = 6,
                  end_month: str = "2026-10") -> tuple[dict[str, pd.DataFrame], dict]:
    """Generate a demo data set with a planted truth.

    Parameters
    ----------
    seed : int, default 7
        Seed of the random generator; the same seed gives identical tables.
    n_teams : int, default 6
        Sales teams, each with one team lead; one supervisor per three teams, one manager.
    reps_per_team : int, default 10
        Reps (role ``rep``) per team, the newcomer included.
    n_customers : int, default 5000
        Customers.
    n_calls : int, default 60000
        Calls in the window (reps and team leads call; the newcomer makes 12 of them).
    months : int, default 6
        Length of the window in months.
    end_month : str, default "2026-10"
        Last month of the window, ``YYYY-MM``.

    Returns
    -------
    tables : dict of str to DataFrame
        ``reps``, ``customers``, ``scripts``, ``calls``, ``orders``, ``feedback``,
        ``assessments``, ``training_catalog``, ``training_log``, ``targets``, each with exactly the
        columns of :data:`telesales_lab.data.schema.TABLES` in that order, as text the way
        it is written to CSV (numbers as numbers; missing cells as NaN).
    truth : dict
        The planted facts (JSON-serialisable):

        - ``seed``, ``params``, ``window`` (``start``, ``end``, ``end_month``, ``months``);
        - ``teams`` {team: {"lead_id", "supervisor_id", "rep_ids"}}, ``manager_id``;
        - ``rep_skills`` {rep_id: {skill: score}} for reps and team leads at the start
          of the window; ``weak_skills`` {rep_id: skill} (that skill >= 25 below the
          rep's own mean); ``team_lead_ids``;
        - ``newcomer_rep_id`` and ``newcomer`` (hired_on, calls, connected, sales);
        - ``customer_tier`` {customer_id: "A"|"B"|"C"}, ``customer_tier_share``,
          ``lapsed_customer_ids`` (tier A, orders only before the last 6 months, not
          called in the window), ``upcoming_birthday_customer_ids`` (birthday within
          30 days after the window);
        - ``script_effects`` {script_id: log-odds}, ``scenario_base_log_odds``,
          ``best_script`` / ``worst_script`` {scenario: script_id or None},
          ``confounded_scenario``, ``null_scenario``, ``winning_phrases``
          {scenario: phrase}, ``intended_split`` {scenario: {script_id: share}} for the
          randomised scenarios, ``cold_call_preference`` (how callers pick cold-call
          scripts);
        - ``outcome_model`` (every coefficient of the call-outcome model);
        - ``drifting_assessor_id``, ``drifting_assessor_bias``, ``assessor_noise_sd``;
        - ``training_effect`` {"module_id", "skill", "effect", "trained_rep_ids",
          "control_rep_ids", "trained_on"};
        - ``targets``: planted under- and over-achievers of the last month's revenue
          target (:func:`telesales_lab.data.demo_targets.demo_targets`).
        - ``experiments`` {experiment_id: {"decision", "winner", "control", "variants",
          "log_odds_effect"}}: the planted script experiments and the decision each should reach.

    Raises
    ------
    ParameterError
        If a size is too small or ``end_month`` is not ``YYYY-MM``.
    """
    for name, value, low in (("seed", seed, 0), ("n_teams", n_teams, 1), ("reps_per_team", reps_per_team, 2),
                             ("n_customers", n_customers, 100), ("n_calls", n_calls, 1000),
                             ("months", months, 2)):
        _check(name, value, low)
    if n_teams * reps_per_team < 10:
        raise ParameterError(f"n_teams * reps_per_team == {n_teams * reps_per_team}, must be >= 10 "
                             "(weak-skill reps, a newcomer and a training group need room)")
    end_p = parse_month(end_month)
    # one independent stream per part, so that e.g. more calls leave the people, skills and
    # assessments of a seed unchanged
    parts = ("people", "skills", "training", "customers", "calls", "orders", "feedback", "assessments",
             "training_log", "experiments", "targets")
    rng = {k: np.random.default_rng(ss) for k, ss in zip(parts, np.random.SeedSequence(seed).spawn(len(parts)))}

    start_day = int((np.datetime64((end_p - (months - 1)).start_time.date(), "D") - _EPOCH_DAY).astype(int))
    end_day = int((np.datetime64(end_p.end_time.date(), "D") - _EPOCH_DAY).astype(int))
    last_month_day = int((np.datetime64(end_p.start_time.date(), "D") - _EPOCH_DAY).astype(int))
    end_sec = (end_day + 1) * _DAY - 1
    # "the last 6 months" for lapsed customers, whatever the window length
    lapsed_cutoff = int((np.datetime64((end_p - 5).start_time.date(), "D") - _EPOCH_DAY).astype(int))
    ctx = dict(start_day=start_day, end_day=end_day, end_sec=end_sec, last_month_day=last_month_day)

    people = _people(rng["people"], n_teams, reps_per_team, ctx)
    skills, weak = _skills(rng["skills"], people)
    training = _training(rng["training"], people, weak, ctx)
    customers, cust = _customers(rng["customers"], n_customers, lapsed_cutoff, ctx)
    calls, call_arr = _calls(rng["calls"], n_calls, people, skills, training, cust, ctx)
    orders = _orders(rng["orders"], people, cust, call_arr, ctx)
    feedback = _feedback(rng["feedback"], people, skills, call_arr, cust["ids"], ctx)
    assessments, drift_idx = _assessments(rng["assessments"], people, skills, training, ctx)
    catalog, log = _training_tables(rng["training_log"], people, training, ctx)

    # acquisition can be no later than the first contact (customers won in the window)
    first = np.full(n_customers, np.iinfo(np.int64).max)
    np.minimum.at(first, call_arr["cust"], call_arr["t"] // _DAY)
    cust["acquired"] = np.minimum(cust["acquired"], first)
    customers["acquired_on"] = _fmt_date(cust["acquired"])

    scripts = pd.DataFrame({
        "script_id": [s[0] for s in _SCRIPTS], "name": [s[2] for s in _SCRIPTS],
        "scenario": [s[1] for s in _SCRIPTS], "text": [s[3] for s in _SCRIPTS],
    })
    tables = {
        "reps": people["frame"], "customers": customers, "scripts": scripts, "calls": calls,
        "orders": orders, "feedback": feedback, "assessments": assessments,
        "training_catalog": catalog, "training_log": log,
    }
    tables["targets"], targets_truth = demo_targets(rng["targets"], tables, str(end_p), months)
    tables, planted = plant_experiments(rng["experiments"], tables, str(end_p), months)
    # the canonical columns the generator makes (optional ones it has no use for, such as
    # reps.is_person, are left out: empty means the default)
    tables = {name: frame[[c for c in TABLES[name] if c in frame or TABLES[name][c].required]].reset_index(drop=True)
              for name, frame in tables.items()}

    truth = _truth(seed, dict(n_teams=n_teams, reps_per_team=reps_per_team, n_customers=n_customers,
                              n_calls=n_calls, months=months, end_month=str(end_p)),
                   people, skills, weak, training, cust, call_arr, drift_idx, ctx)
    truth["targets"] = targets_truth
    truth["script_effects"][SHORT_SCRIPT[0]] = SHORT_SCRIPT[4]
    # over the whole window: until the last month half of FU-A's calls went to the short script
    truth["intended_split"]["follow_up"] = {"FU-A": ((months - 1) / 6 + 1 / 3) / months,
                                            SHORT_SCRIPT[0]: (months - 1) / 6 / months, "FU-B": 1 / 3, "FU-C": 1 / 3}
    truth["experiments"] = planted
    return tables, truth


# ----------------------------------------------------------------------------- people and skills
def _people(rng, n_teams: int, reps_per_team: int, ctx: dict) -> dict:
    """The org chart: manager, supervisors (one per 3 teams), then per team its lead and reps."""
    n_sup = -(-n_teams // 3)
    team_of_sup = np.arange(n_sup)
    regions = [_REGIONS[k % len(_REGIONS)] + ("" if k < len(_REGIONS) else str(k // len(_REGIONS) + 1))
               for k in team_of_sup]
    team_names = [regions[t // 3] + _TEAM_NUMERALS[t % 3] for t in range(n_teams)]

    per_team = 1 + reps_per_team
    n = 1 + n_sup + n_teams * per_team
    role = np.empty(n, dtype=object)
    team = np.empty(n, dtype=object)
    boss = np.full(n, -1)
    team_idx = np.full(n, -1)
    role[0], team[0] = "manager", "销售中心"
    sup = 1 + np.arange(n_sup)
    role[sup], team[sup], boss[sup] = "supervisor", [r + "大区" for r in regions], 0
    first = 1 + n_sup
    t_of = np.repeat(np.arange(n_teams), per_team)
    pos = np.tile(np.arange(per_team), n_teams)
    members = first + np.arange(n_teams * per_team)
    leads = first + np.arange(n_teams) * per_team
    role[members] = np.where(pos == 0, "team_lead", "rep")
    team[members] = np.array(team_names, dtype=object)[t_of]
    team_idx[members] = t_of
    boss[members] = np.where(pos == 0, 1 + t_of // 3, leads[t_of])

    # a newcomer, hired in the first days of the last month
    rep_rows = np.flatnonzero(role == "rep")
    newcomer = int(leads[rng.integers(n_teams)] + reps_per_team)  # the last rep of a random team
    years = np.select([role == "manager", role == "supervisor", role == "team_lead"],
                      [rng.uniform(6, 10, n), rng.uniform(5, 8, n), rng.uniform(4, 7, n)],
                      rng.uniform(0.5, 4, n))
    hired = ctx["start_day"] - np.round(years * 365.25).astype(np.int64)
    hired[newcomer] = int(np.busday_offset(np.datetime64(int(ctx["last_month_day"]), "D"),
                                           rng.integers(0, 4), roll="forward").astype(np.int64))

    ids = _ids("R", n, 3)
    frame = pd.DataFrame({
        "rep_id": ids, "name": _names(rng, n, unique=True), "team": team.astype(str), "role": role.astype(str),
        "hired_on": _fmt_date(hired), "manager_id": _text(ids, np.maximum(boss, 0), boss >= 0),
    })
    is_caller = (role == "rep") | (role == "team_lead")
    activity = np.where(role == "team_lead", 0.3, 1.0) * rng.lognormal(0.0, 0.25, n) * is_caller
    activity[newcomer] = 0.0  # the newcomer's calls are planted separately
    return dict(frame=frame, ids=ids, role=role, team_names=team_names, team_idx=team_idx, boss=boss,
                leads=leads, sups=sup, reps=rep_rows, newcomer=newcomer, hired=hired,
                is_caller=is_caller, activity=activity)


def _skills(rng, people: dict) -> tuple[np.ndarray, dict[int, int]]:
    """Latent skills (n_people, n_skills): a general factor plus bounded skill-specific parts.

    The specific parts are clipped so no unplanted skill falls 25 points below its
    owner's mean; the planted weak skills fall about 29 below.
    """
    n, k = len(people["role"]), len(SKILLS)
    g = np.clip(rng.standard_normal(n), -2.2, 2.2)[:, None]
    e = np.clip(rng.standard_normal((n, k)), -1.8, 1.8)
    role = people["role"]
    lead = (role != "rep")[:, None]
    base = np.where(lead, 80.0 + 5.0 * (0.6 * g + 0.8 * e), 65.0 + 10.0 * (0.6 * g + 0.8 * e))
    base = np.where(lead, np.maximum(base, 76.0), base)  # leads can coach every skill
    base[people["newcomer"]] -= 7.0  # green, not gifted: the lucky calls are luck
    base = np.clip(base, 5.0, 98.0)

    candidates = np.setdiff1d(people["reps"], [people["newcomer"]])
    n_weak = 5 if len(candidates) >= 20 else 4
    weak_reps = rng.choice(candidates, n_weak, replace=False)
    s_idx = {s: i for i, s in enumerate(SKILLS)}
    others = ["communication", "questioning", "product_knowledge", "listening"]
    weak_skills = ["objection_handling", "closing"] + list(rng.choice(others, n_weak - 2, replace=False))
    weak = {}
    for r, s in zip(weak_reps, weak_skills):  # a handful of reps, not calls
        j = s_idx[s]
        rest = np.delete(base[r], j)
        rest = np.maximum(rest, 58.0)  # otherwise ordinary, so the one gap stands out
        base[r, np.arange(k) != j] = rest
        base[r, j] = max(rest.mean() - 34.0, 15.0)
        weak[int(r)] = j
    return np.round(base, 1), weak


def _training(rng, people: dict, weak: dict, ctx: dict) -> dict:
    """Who takes the planted module, and when (around the middle of the window)."""
    eligible = np.setdiff1d(people["reps"], np.r_[people["newcomer"], list(weak)])
    n_trained = max(3, int(round(0.4 * len(eligible))))
    trained = np.sort(rng.choice(eligible, n_trained, replace=False))
    control = np.setdiff1d(eligible, trained)
    mid = (ctx["start_day"] + ctx["end_day"]) // 2
    days = np.busday_offset(np.datetime64(int(mid), "D"), rng.integers(-8, 9, n_trained), roll="forward")
    on = np.full(len(people["role"]), np.iinfo(np.int64).max)  # day from which the effect holds
    on[trained] = days.astype(np.int64)
    return dict(trained=trained, control=control, on=on, skill=SKILLS.index(_module(_TRAINED_MODULE)[3]))


def _module(module_id: str) -> tuple:
    return next(m for m in _CATALOG if m[0] == module_id)


# ----------------------------------------------------------------------------- customers
def _customers(rng, n: int, lapsed_cutoff: int, ctx: dict) -> tuple[pd.DataFrame, dict]:
    start, end = ctx["start_day"], ctx["end_day"]
    tier = _pick(rng, n, np.array(_TIER_SHARE))
    n_lapsed = int(min(8, max(2, (tier == 0).sum() // 4)))
    lapsed = np.sort(rng.choice(np.flatnonzero(tier == 0), n_lapsed, replace=False))
    in_window = rng.random(n) < 0.15
    acquired = np.where(in_window, rng.integers(start, end - 6, n), start - rng.integers(1, 3 * 365, n))
    hist_end = np.full(n, start)
    hist_end[lapsed] = min(start, lapsed_cutoff - 60)  # clearly lapsed, not just at the edge
    acquired[lapsed] = hist_end[lapsed] - rng.integers(int(1.5 * 365), 3 * 365, n_lapsed)

    # birthdays: most random, some deliberately within 30 days after the window
    has_bday = rng.random(n) < 0.9
    year = rng.integers(1960, 2001, n)
    doy = rng.integers(0, 365, n)
    bday = (np.array(year - 1970, dtype="datetime64[Y]").astype("datetime64[D]") + doy).astype(np.int64)
    soon = has_bday & (rng.random(n) < 0.04)
    target = pd.to_datetime(end + rng.integers(1, 31, n), unit="D")
    month_day = np.where((target.month == 2) & (target.day == 29), 28, target.day)
    forced = pd.to_datetime(pd.DataFrame({"year": year, "month": target.month, "day": month_day}))
    bday = np.where(soon, (forced.to_numpy().astype("datetime64[D]") - _EPOCH_DAY).astype(np.int64), bday)

    ids, names, phones = _ids("K", n, 5), _names(rng, n, unique=False), _phones(rng, n)
    source, has_source = _pick(rng, n, np.array(_SOURCE_WEIGHTS)), rng.random(n) < 0.95
    industry, has_industry = _pick(rng, n, np.array(_INDUSTRY_WEIGHTS)), rng.random(n) < 0.92
    frame = pd.DataFrame({
        "customer_id": ids,
        "name": names,
        "phone": phones,
        "acquired_on": _fmt_date(acquired),
        "source": _text(_SOURCES, source, has_source),
        "birthday": _fmt_date(bday, has_bday),
        "industry": _text(_INDUSTRIES, industry, has_industry),
        "region": np.array(_CITIES)[_pick(rng, n, np.array(_CITY_WEIGHTS))],
    })
    # the planted lead propensity (sale log-odds on top of the tier's)
    propensity = np.where(has_source, _SOURCE_SALE[source], 0.0) + np.where(has_industry, _INDUSTRY_SALE[industry], 0.0)
    is_lapsed = np.zeros(n, bool)
    is_lapsed[lapsed] = True
    return frame, dict(ids=frame["customer_id"].to_numpy(str), tier=tier, lapsed=lapsed, is_lapsed=is_lapsed,
                       propensity=propensity, acquired=acquired, hist_end=hist_end, bday=bday, has_bday=has_bday)


# ----------------------------------------------------------------------------- calls
def _call_times(rng, n: int, first_day: int, last_day: int) -> np.ndarray:
    """Call start times (seconds since 1970) on working days, 9:00-20:00."""
    days = np.arange(first_day, last_day + 1)
    day = days[_pick(rng, n, _WEEKDAY_VOLUME[_weekday(days)])]
    hour = _HOURS[_pick(rng, n, _HOUR_VOLUME)]
    return day * _DAY + hour * 3600 + rng.integers(0, 3600, n)


def _cold_call_preference(people: dict, skills: np.ndarray) -> np.ndarray:
    """(n_people, 3) shares of CC-A, CC-B, CC-C: strong sellers favour CC-A, weak ones CC-B."""
    z = _sale_skill(skills) + 0.2 * _overcome_skill(skills[:, SKILLS.index("objection_handling")])
    callers = people["is_caller"]
    z = (z - np.median(z[callers])) / z[callers].std()
    s = _sigmoid(4.0 * z)
    return np.column_stack([0.05 + 0.75 * s, 0.05 + 0.75 * (1 - s), np.full(len(z), 0.15)])


def _sale_skill(skills: np.ndarray) -> np.ndarray:
    return sum(c * (skills[:, SKILLS.index(s)] - 65.0) for s, c in _SALE_SKILL_COEF.items())


def _overcome_skill(objection_handling):
    return -0.1 + 0.09 * (objection_handling - 65.0)


def _calls(rng, n_calls: int, people: dict, skills: np.ndarray, training: dict, cust: dict,
           ctx: dict) -> tuple[pd.DataFrame, dict]:
    sc_ids = np.array([s[0] for s in _SCRIPTS])
    sc_scen = np.array([_SCENARIOS.index(s[1]) for s in _SCRIPTS])
    sc_effect = np.array([s[4] for s in _SCRIPTS])
    first_of = np.array([np.flatnonzero(sc_scen == k)[0] for k in range(len(_SCENARIOS))])
    n_var = np.bincount(sc_scen, minlength=len(_SCENARIOS))
    cust_w = _TIER_CALL_WEIGHT[cust["tier"]] * ~cust["is_lapsed"]

    # --- the planted newcomer: a dozen calls in the last month, six of them sales
    nc = people["newcomer"]
    k = len(_NEWCOMER_OUTCOMES)
    nc_t = _call_times(rng, k, int(people["hired"][nc]), ctx["end_day"])
    nc_out = rng.permutation(np.array([_DEMO_OUTCOMES.index(o) for o in _NEWCOMER_OUTCOMES]))
    nc_scen = _pick(rng, k, np.array(_SCENARIO_SHARE))
    nc_script = first_of[nc_scen] + (rng.random(k) * n_var[nc_scen]).astype(int)

    # --- everyone else, from the outcome model
    n = n_calls - k
    rep = _pick(rng, n, people["activity"])
    cu = _pick(rng, n, cust_w)
    t = _call_times(rng, n, ctx["start_day"], ctx["end_day"])
    scen = _pick(rng, n, np.array(_SCENARIO_SHARE))
    variant = (rng.random(n) * n_var[scen]).astype(int)  # uniform split for the randomised scenarios
    cold = scen == _SCENARIOS.index(_CONFOUNDED)
    variant[cold] = _pick_rows(rng, _cold_call_preference(people, skills)[rep[cold]])
    script = first_of[scen] + variant

    sk = skills[rep]  # (n, n_skills): 56 MB at a million calls
    oh = sk[:, SKILLS.index("objection_handling")] + _TRAINING_EFFECT * (
        (SKILLS.index("objection_handling") == training["skill"]) & (t // _DAY >= training["on"][rep]))
    closing = sk[:, SKILLS.index("closing")]
    comm = sk[:, SKILLS.index("communication")]
    quest = sk[:, SKILLS.index("questioning")]
    tier = cust["tier"][cu]

    day = t // _DAY
    hour = (t % _DAY) // 3600
    connect = rng.random(n) < _sigmoid(_CONNECT_BASE + _HOUR_CONNECT[hour - 9] + _WEEKDAY_CONNECT[_weekday(day)]
                                       + np.array(_SCENARIO_CONNECT)[scen])
    has_obj = connect & (rng.random(n) < _sigmoid(-0.5 - 0.03 * (quest - 65.0)))
    obj = np.where(has_obj, _pick(rng, n, _OBJECTION_WEIGHTS), len(OBJECTIONS))
    overcome = has_obj & (rng.random(n) < _sigmoid(_overcome_skill(oh)))
    unresolved = has_obj & ~overcome
    sale_logit = (np.array(_SCENARIO_BASE)[scen] + _sale_skill(sk) + sc_effect[script] + _TIER_SALE[tier]
                  + cust["propensity"][cu] - _OBJECTION_PENALTY * unresolved)
    sale = connect & (rng.random(n) < _sigmoid(sale_logit))
    # connected without a sale: weak closers leave customers "interested" instead of closing
    lg_int = np.where(unresolved, -1.8, -0.2 + 0.07 * (65.0 - closing) + 0.02 * (comm - 65.0))
    lg_cb = np.where(unresolved, -0.7, 0.2)
    w = np.column_stack([np.ones(n), np.exp(lg_cb), np.exp(lg_int)])
    rest = _pick_rows(rng, w) + _DEMO_OUTCOMES.index("rejected")
    outcome = np.where(~connect, _DEMO_OUTCOMES.index("no_answer"), np.where(sale, _DEMO_OUTCOMES.index("sale"), rest))

    # --- both together, in time order
    rep = np.r_[rep, np.full(k, nc)]
    cu = np.r_[cu, _pick(rng, k, cust_w)]
    t = np.r_[t, nc_t]
    script = np.r_[script, nc_script]
    outcome = np.r_[outcome, nc_out]
    obj = np.r_[obj, np.full(k, len(OBJECTIONS))]
    overcome = np.r_[overcome, np.zeros(k, bool)]
    order = np.argsort(t, kind="stable")
    rep, cu, t, script, outcome, obj, overcome = (a[order] for a in (rep, cu, t, script, outcome, obj, overcome))

    median = np.array([10.0, 40.0, 75.0, 190.0, 420.0])[outcome]
    spread = np.array([0.0, 0.5, 0.4, 0.4, 0.35])[outcome]
    duration = median * np.exp(spread * rng.standard_normal(n_calls))
    duration += np.where(obj < len(OBJECTIONS), 45.0 * np.exp(0.4 * rng.standard_normal(n_calls)), 0.0)
    no_answer = outcome == _DEMO_OUTCOMES.index("no_answer")
    duration = np.round(np.where(no_answer, rng.uniform(0, 20, n_calls), duration))

    # a short transcript for a fifth of the connected calls
    with_text = ~no_answer & (rng.random(n_calls) < 0.2)
    idx = np.flatnonzero(with_text)
    line = np.array([s[5] for s in _SCRIPTS], dtype=object)
    o_obj, o_sol = np.array(_OBJECTION_LINES, dtype=object), np.array(_REBUTTAL_LINES, dtype=object)
    text = "坐席：" + line[script[idx]] + " 客户：" + o_obj[obj[idx]]
    text = text + np.where(overcome[idx], " 坐席：" + o_sol[obj[idx]] + " 客户：", "")
    text = text + np.array(_OUTCOME_LINES, dtype=object)[outcome[idx]]
    transcript = _text(pa.array(text.astype(str)), np.cumsum(with_text) - 1, with_text)

    call_ids = pa.array(_id_text("C", n_calls, 7))
    frame = pd.DataFrame({
        "call_id": pd.array(call_ids, dtype="str"),
        "rep_id": _text(people["ids"], rep),
        "customer_id": _text(cust["ids"], cu),
        "script_id": _text(sc_ids, script),
        "started_at": _fmt_datetime(t),
        "duration_s": duration,
        "outcome": _text(_DEMO_OUTCOMES, outcome),
        "objection": _text(OBJECTIONS, np.minimum(obj, len(OBJECTIONS) - 1), obj < len(OBJECTIONS)),
        "transcript": transcript,
    })
    arr = dict(ids=call_ids, rep=rep, cust=cu, t=t, script=script, outcome=outcome, obj=obj,
               overcome=overcome, duration=duration)
    return frame, arr


# ----------------------------------------------------------------------------- orders
def _history_rep(rng, people: dict, days: np.ndarray) -> np.ndarray:
    """A caller already hired on each day (the longest-serving lead if nobody was)."""
    callers = np.flatnonzero(people["is_caller"])
    callers = callers[callers != people["newcomer"]]
    callers = callers[np.argsort(people["hired"][callers], kind="stable")]
    n_hired = np.maximum(np.searchsorted(people["hired"][callers], days, side="right"), 1)
    return callers[(rng.random(len(days)) * n_hired).astype(int)]


def _orders(rng, people: dict, cust: dict, calls: dict, ctx: dict) -> pd.DataFrame:
    start, end, end_sec = ctx["start_day"], ctx["end_day"], ctx["end_sec"]
    tier = cust["tier"]

    # orders won on a call, and some "interested" calls that turn into an order days later
    sale = np.flatnonzero(calls["outcome"] == _DEMO_OUTCOMES.index("sale"))
    later = np.flatnonzero((calls["outcome"] == _DEMO_OUTCOMES.index("interested"))
                           & (rng.random(len(calls["t"])) < 0.08))
    t_sale = calls["t"][sale] + calls["duration"][sale].astype(np.int64) + rng.integers(60, 1800, len(sale))
    t_later = (calls["t"][later] + rng.integers(1, 11, len(later)) * _DAY + rng.integers(-3 * 3600, 3 * 3600,
                                                                                          len(later)))
    keep = t_later <= end_sec
    later, t_later = later[keep], t_later[keep]
    src = np.r_[sale, later]
    o_cust = calls["cust"][src]
    o_rep = calls["rep"][src]
    o_t = np.r_[t_sale, t_later]
    o_call = src

    # purchase history before the window (lapsed customers: ending months before it)
    years = np.maximum(cust["hist_end"] - cust["acquired"], 0) / 365.25
    n_hist = rng.poisson(_TIER_HISTORY_RATE[tier] * years)
    n_hist[cust["lapsed"]] = np.maximum(n_hist[cust["lapsed"]], 3)
    h_cust = np.repeat(np.arange(len(tier)), n_hist)
    span = np.maximum(cust["hist_end"] - cust["acquired"], 1)[h_cust]
    h_day = cust["acquired"][h_cust] + (rng.random(len(h_cust)) * span).astype(np.int64)

    # orders without a call inside the window (web shop, reorders)
    months = (end - start + 1) / 30.44
    n_org = rng.poisson(_TIER_ORGANIC_RATE[tier] * months / 12.0) * ~cust["is_lapsed"]
    g_cust = np.repeat(np.arange(len(tier)), n_org)
    g_first = np.maximum(cust["acquired"][g_cust], start)
    g_day = g_first + (rng.random(len(g_cust)) * (end + 1 - g_first)).astype(np.int64)

    x_cust = np.r_[h_cust, g_cust]
    x_day = np.r_[h_day, g_day]
    x_t = x_day * _DAY + rng.integers(9 * 3600, 21 * 3600, len(x_day))
    x_rep = _history_rep(rng, people, x_day)

    cu = np.r_[o_cust, x_cust]
    rep = np.r_[o_rep, x_rep]
    t = np.minimum(np.r_[o_t, x_t], end_sec)
    call = np.r_[o_call, np.full(len(x_cust), -1)]
    order = np.lexsort((call, t))
    cu, rep, t, call = cu[order], rep[order], t[order], call[order]

    n = len(cu)
    amount = np.round(_TIER_AMOUNT[tier[cu]] * np.exp(0.55 * rng.standard_normal(n)), 2)
    profit = np.round(amount * rng.uniform(0.15, 0.35, n), 2)
    recent = t >= end_sec - 30 * _DAY
    u = rng.random(n)
    status = np.where(u < 0.05, "cancelled", np.where(u < 0.05 + np.where(recent, 0.5, 0.03), "signed", "paid"))
    return pd.DataFrame({
        "order_id": _id_text("O", n, 7),
        "customer_id": _text(cust["ids"], cu),
        "rep_id": _text(people["ids"], rep),
        "ordered_at": _fmt_datetime(t),
        "amount": amount,
        "profit": profit,
        "status": status,
        "call_id": _text(calls["ids"], np.maximum(call, 0), call >= 0),
    })


# ----------------------------------------------------------------------------- feedback
def _daytime(rng, t: np.ndarray) -> np.ndarray:
    """Move times between 22:00 and 08:00 to the next morning (08:00-10:00)."""
    tod = t % _DAY
    night = (tod < 8 * 3600) | (tod >= 22 * 3600)
    morning = (t // _DAY + (tod >= 22 * 3600)) * _DAY + 8 * 3600 + rng.integers(0, 2 * 3600, len(t))
    return np.where(night, morning, t)


def _feedback(rng, people: dict, skills: np.ndarray, calls: dict, cust_ids: np.ndarray,
              ctx: dict) -> pd.DataFrame:
    """Feedback on ~15% of connected calls: score driven by communication, listening and outcome."""
    out = calls["outcome"]
    idx = np.flatnonzero((out != _DEMO_OUTCOMES.index("no_answer")) & (rng.random(len(out)) < 0.15))
    rep = calls["rep"][idx]
    received = calls["t"][idx] + calls["duration"][idx].astype(np.int64) + rng.integers(600, 3 * _DAY, len(idx))
    received = _daytime(rng, received)
    keep = received <= ctx["end_sec"]
    idx, rep, received = idx[keep], rep[keep], received[keep]
    n = len(idx)

    comm = skills[rep, SKILLS.index("communication")]
    listen = skills[rep, SKILLS.index("listening")]
    outcome_eff = np.array([0.0, -0.6, 0.0, 0.3, 0.6])[out[idx]]
    unresolved = (calls["obj"][idx] < len(OBJECTIONS)) & ~calls["overcome"][idx]
    latent = (0.05 * (comm - 65.0) + 0.05 * (listen - 65.0) + outcome_eff - 0.3 * unresolved
              + rng.logistic(0.0, 1.0, n))
    score = 1 + (latent[:, None] > np.array([-2.9, -2.0, -0.8, 0.7])).sum(axis=1)
    complaint = rng.random(n) < np.array([0.0, 0.7, 0.45, 0.04, 0.0, 0.0])[score]
    resolved = _daytime(rng, received + 2 * 3600 + (rng.exponential(1.5, n) * _DAY).astype(np.int64))
    has_resolved = complaint & (rng.random(n) < 0.85) & (resolved <= ctx["end_sec"])

    order = np.argsort(received, kind="stable")
    idx, rep, received, score, complaint, resolved, has_resolved = (
        a[order] for a in (idx, rep, received, score, complaint, resolved, has_resolved))
    return pd.DataFrame({
        "feedback_id": _id_text("F", n, 6),
        "customer_id": _text(cust_ids, calls["cust"][idx]),
        "rep_id": _text(people["ids"], rep),
        "received_at": _fmt_datetime(received),
        "score": score.astype(np.int64),
        "complaint": _bool_text(complaint),
        "call_id": _text(calls["ids"], idx),
        "resolved_at": _fmt_datetime(resolved, has_resolved),
    })


# ----------------------------------------------------------------------------- assessments and training
def _assessments(rng, people: dict, skills: np.ndarray, training: dict, ctx: dict) -> tuple[pd.DataFrame, int]:
    """Monthly QA scorecards: every caller by their boss, some also by the boss's boss.

    One team lead (the drifting assessor) scores everyone ``_DRIFT_BIAS`` points too high.
    """
    first = np.datetime64(int(ctx["start_day"]), "D").astype("datetime64[M]")
    last = np.datetime64(int(ctx["end_day"]), "D").astype("datetime64[M]")
    month_starts = np.arange(first, last + 1).astype("datetime64[D]")
    dates = np.busday_offset(month_starts + 24, 0, roll="backward").astype(np.int64)

    subjects = np.flatnonzero(people["is_caller"])
    subj = np.repeat(subjects, len(dates))
    day = np.tile(dates, len(subjects))
    ok = people["hired"][subj] <= day
    subj, day = subj[ok], day[ok]
    boss = people["boss"]
    second = boss[boss[subj]]
    p_second = np.where(people["role"][subj] == "rep", 0.5, 0.3)
    two = (rng.random(len(subj)) < p_second) & (second >= 0) & (subj != people["newcomer"])
    a_subj = np.r_[subj, subj[two]]
    a_day = np.r_[day, day[two]]
    a_by = np.r_[boss[subj], second[two]]

    drift = int(rng.choice(people["leads"]))
    k = len(SKILLS)
    r_subj, r_day, r_by = (np.repeat(a, k) for a in (a_subj, a_day, a_by))
    r_skill = np.tile(np.arange(k), len(a_subj))
    true = skills[r_subj, r_skill] + _TRAINING_EFFECT * ((r_skill == training["skill"])
                                                         & (r_day >= training["on"][r_subj]))
    score = true + _ASSESSOR_NOISE * rng.standard_normal(len(true)) + _DRIFT_BIAS * (r_by == drift)
    score = np.round(np.clip(score, 0.0, 100.0), 1)
    order = np.lexsort((r_skill, r_by, r_subj, r_day))
    frame = pd.DataFrame({
        "rep_id": _text(people["ids"], r_subj[order]),
        "assessed_on": _fmt_date(r_day[order]),
        "skill": np.array(SKILLS, dtype=object)[r_skill[order]],
        "score": score[order],
        "assessor_id": _text(people["ids"], r_by[order]),
    })
    return frame, drift


def _training_tables(rng, people: dict, training: dict, ctx: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    catalog = pd.DataFrame(list(_CATALOG), columns=["module_id", "title", "title_zh", "skill", "method",
                                                    "hours", "area"])
    # the planted module, then other modules (no effect) taken by a random half of the reps
    reps = np.setdiff1d(people["reps"], [people["newcomer"]])
    others = np.array([m[0] for m in _CATALOG if m[0] != _TRAINED_MODULE])
    takers = reps[rng.random(len(reps)) < 0.5]
    o_day = np.busday_offset(np.datetime64(int(ctx["start_day"]), "D"),
                             rng.integers(0, np.busday_count(np.datetime64(int(ctx["start_day"]), "D"),
                                                             np.datetime64(int(ctx["end_day"]), "D")),
                                          len(takers)), roll="forward").astype(np.int64)
    rep = np.r_[training["trained"], takers]
    module = np.r_[np.full(len(training["trained"]), _TRAINED_MODULE), others[rng.integers(0, len(others),
                                                                                           len(takers))]]
    day = np.r_[training["on"][training["trained"]], o_day]
    done = np.r_[np.ones(len(training["trained"]), bool), rng.random(len(takers)) < 0.85]
    order = np.lexsort((module, rep, day))
    log = pd.DataFrame({
        "rep_id": _text(people["ids"], rep[order]),
        "module_id": module[order],
        "date": _fmt_date(day[order]),
        "completed": _bool_text(done[order]),
    })
    return catalog, log


# ----------------------------------------------------------------------------- truth
def _truth(seed, params, people, skills, weak, training, cust, calls, drift_idx, ctx) -> dict:
    ids = people["ids"]
    callers = np.flatnonzero(people["is_caller"])
    nc = people["newcomer"]
    nc_out = calls["outcome"][calls["rep"] == nc]
    end = ctx["end_day"]

    # birthdays whose next anniversary falls in the 30 days after the window
    bd = pd.to_datetime(cust["bday"], unit="D")
    end_ts = pd.Timestamp(np.datetime64(int(end), "D"))
    md = bd.month * 100 + bd.day
    end_md = end_ts.month * 100 + end_ts.day
    limit = end_ts + pd.Timedelta(days=30)
    lim_md = limit.month * 100 + limit.day
    wraps = limit.year > end_ts.year
    soon = ((md > end_md) | wraps & (md <= lim_md)) & ((md <= lim_md) | wraps) & cust["has_bday"]

    tier_letters = np.array(["A", "B", "C"])[cust["tier"]]
    teams = {}
    for t, name in enumerate(people["team_names"]):  # a few teams, not rows
        lead = people["leads"][t]
        members = np.flatnonzero((people["team_idx"] == t) & (people["role"] == "rep"))
        teams[name] = {"lead_id": str(ids[lead]), "supervisor_id": str(ids[people["boss"][lead]]),
                       "rep_ids": ids[members].tolist()}
    scen_of = {s[0]: s[1] for s in _SCRIPTS}
    effects = {s[0]: float(s[4]) for s in _SCRIPTS}

    def best_or_worst(scenario, pick):
        ids_ = [s for s in effects if scen_of[s] == scenario]
        vals = [effects[s] for s in ids_]
        return None if max(vals) == min(vals) else ids_[int(pick(vals))]

    pref = _cold_call_preference(people, skills)
    cold_ids = [s[0] for s in _SCRIPTS if s[1] == _CONFOUNDED]
    return {
        "seed": int(seed),
        "params": params,
        "window": {"start": str(np.datetime64(int(ctx["start_day"]), "D")), "end": str(np.datetime64(int(end), "D")),
                   "end_month": params["end_month"], "months": params["months"]},
        "manager_id": str(ids[0]),
        "teams": teams,
        "team_lead_ids": ids[people["leads"]].tolist(),
        "rep_skills": {str(ids[i]): {s: float(skills[i, j]) for j, s in enumerate(SKILLS)} for i in callers},
        "weak_skills": {str(ids[r]): SKILLS[j] for r, j in sorted(weak.items())},
        "newcomer_rep_id": str(ids[nc]),
        "newcomer": {"hired_on": str(np.datetime64(int(people["hired"][nc]), "D")), "calls": int(len(nc_out)),
                     "connected": int((nc_out != _DEMO_OUTCOMES.index("no_answer")).sum()),
                     "sales": int((nc_out == _DEMO_OUTCOMES.index("sale")).sum())},
        "customer_tier": dict(zip(cust["ids"].tolist(), tier_letters.tolist())),
        "customer_tier_share": {c: float(np.mean(tier_letters == c)) for c in ("A", "B", "C")},
        "lead_propensity": {
            "rule": "a connected call's sale log-odds = scenario base + rep skill + script effect + tier effect "
                    "+ source effect + industry effect - unresolved objection penalty; this is the customer's "
                    "part (tier + source + industry), the ordering a lead score should recover",
            "customer_log_odds": dict(zip(cust["ids"].tolist(),
                                          np.round(_TIER_SALE[cust["tier"]] + cust["propensity"], 6).tolist())),
        },
        "lapsed_customer_ids": cust["ids"][cust["lapsed"]].tolist(),
        "upcoming_birthday_customer_ids": cust["ids"][np.asarray(soon)].tolist(),
        "script_effects": effects,
        "scenario_base_log_odds": dict(zip(_SCENARIOS, map(float, _SCENARIO_BASE))),
        "best_script": {sc: best_or_worst(sc, np.argmax) for sc in _SCENARIOS},
        "worst_script": {sc: best_or_worst(sc, np.argmin) for sc in _SCENARIOS},
        "confounded_scenario": _CONFOUNDED,
        "null_scenario": _NULL,
        "winning_phrases": dict(_WINNING_PHRASES),
        "intended_split": {sc: {s: 1.0 / sum(scen_of[x] == sc for x in effects) for s in effects if scen_of[s] == sc}
                           for sc in _SCENARIOS if sc != _CONFOUNDED},
        "cold_call_preference": {
            "rule": "strong sellers (sale skill + objection handling) mostly use the worst script, weak ones the best",
            "shares_by_rep": {str(ids[i]): dict(zip(cold_ids, np.round(pref[i], 3).tolist())) for i in callers
                              if i != nc},
        },
        "outcome_model": {
            "connect_base_log_odds": _CONNECT_BASE,
            "connect_hour_effects": {str(h): float(v) for h, v in zip(_HOURS, _HOUR_CONNECT)},
            "connect_weekday_effects": dict(zip(("mon", "tue", "wed", "thu", "fri", "sat"),
                                                _WEEKDAY_CONNECT[:6].tolist())),
            "connect_scenario_effects": dict(zip(_SCENARIOS, _SCENARIO_CONNECT)),
            "objection_log_odds": "-0.5 - 0.03 * (questioning - 65)",
            "objection_type_shares": dict(zip(OBJECTIONS, _OBJECTION_WEIGHTS.tolist())),
            "overcome_log_odds": "-0.1 + 0.09 * (objection_handling - 65)",
            "sale_skill_coefficients_per_point": dict(_SALE_SKILL_COEF),
            "unresolved_objection_penalty": _OBJECTION_PENALTY,
            "tier_sale_effects": dict(zip(("A", "B", "C"), _TIER_SALE.tolist())),
            "source_sale_effects": dict(zip(_SOURCES, np.round(_SOURCE_SALE, 6).tolist())),
            "industry_sale_effects": dict(zip(_INDUSTRIES, np.round(_INDUSTRY_SALE, 6).tolist())),
            "interested_vs_rejected_log_odds": "-0.2 + 0.07 * (65 - closing) + 0.02 * (communication - 65)",
            "tier_median_order_amount": dict(zip(("A", "B", "C"), _TIER_AMOUNT.tolist())),
            "tier_history_orders_per_year": dict(zip(("A", "B", "C"), _TIER_HISTORY_RATE.tolist())),
        },
        "drifting_assessor_id": str(ids[drift_idx]),
        "drifting_assessor_bias": _DRIFT_BIAS,
        "assessor_noise_sd": _ASSESSOR_NOISE,
        "training_effect": {
            "module_id": _TRAINED_MODULE,
            "skill": SKILLS[training["skill"]],
            "effect": _TRAINING_EFFECT,
            "trained_rep_ids": ids[training["trained"]].tolist(),
            "control_rep_ids": ids[training["control"]].tolist(),
            "trained_on": {str(ids[r]): str(np.datetime64(int(training["on"][r]), "D")) for r in training["trained"]},
            "other_modules_effect": 0.0,
        },
    }


# ----------------------------------------------------------------------------- writing
def write_demo(out_dir, **kwargs) -> dict:
    """Generate the demo data set and write it as CSV files plus ``truth.json``.

    Parameters
    ----------
    out_dir : path
        Folder to write ``<table>.csv`` (UTF-8, no index) and ``truth.json`` into.
        The files are first written to a temporary folder beside it; a new folder
        is then renamed into place, or, if ``out_dir`` exists, each file replaces
        its old copy with an atomic rename (other files there are left alone).
    **kwargs
        Passed to :func:`generate_demo`.

    Returns
    -------
    dict
        The planted truth, as written to ``truth.json``.
    """
    out = Path(out_dir)
    tables, truth = generate_demo(**kwargs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would otherwise survive the rename
    try:
        for name, frame in tables.items():
            frame.to_csv(tmp / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")
        (tmp / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "experiments.toml").write_text(registry_text(truth["params"]["end_month"], truth["params"]["months"]),
                                              encoding="utf-8")
        if not out.exists():
            try:
                os.rename(tmp, out)
                return truth
            except OSError:
                out.mkdir(parents=True, exist_ok=True)  # someone made it meanwhile: replace file by file
        for path in sorted(tmp.iterdir()):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return truth
