"""``telesales-lab targets``, ``bonus`` and ``collections``.

A data set without targets still answers ``collections`` and says "no targets set" for the
other two (exit status 0: nothing is wrong with the data).
"""

from __future__ import annotations

import sys

from .i18n import register

#: Display labels of the columns (table format); CSV keeps the snake_case names.
LABELS = {
    "targets": {
        "rep_id": ("rep", "坐席"), "team": ("team", "小组"), "metric": ("metric", "指标"),
        "target": ("target", "目标"), "actual": ("actual", "实际"), "attainment": ("attainment", "达成率"),
        "forecast": ("forecast", "月末预测"), "forecast_low": ("forecast low", "预测下限"),
        "forecast_high": ("forecast high", "预测上限"), "status": ("status", "状态"),
    },
    "bonus": {
        "rep_id": ("rep", "坐席"), "team": ("team", "小组"), "attainment": ("attainment", "达成率"),
        "tier": ("tier", "档位"), "base": ("base bonus", "基数"), "multiplier": ("multiplier", "系数"),
        "bonus": ("bonus", "奖金"), "gates_failed": ("gates failed", "未通过条件"),
    },
    "collections": {
        "order_id": ("order", "订单"), "customer_id": ("customer", "客户"), "rep_id": ("rep", "坐席"),
        "signed_on": ("signed on", "签约日期"), "amount": ("amount", "金额"), "days_open": ("days open", "未付天数"),
        "status": ("status", "状态"),
    },
}
VALUES = {
    "ahead": ("ahead", "领先"), "on_track": ("on track", "正常"), "at_risk": ("at risk", "有风险"),
    "overdue": ("overdue", "逾期"), "escalate": ("escalate", "需升级催收"),
    "revenue": ("revenue", "销售额"), "profit": ("profit", "毛利"), "orders": ("orders", "订单数"),
    "new_customers": ("new customers", "新客户数"), "connected_calls": ("connected calls", "接通数"),
    "sales": ("sales", "成交数"),
}
GATE_WORDS = {"complaints": "未解决投诉", "none": "本月无评级", "grade": "评级"}
NO_TARGETS = {"en": "no targets set", "zh": "未设定目标"}
for _context, _labels in LABELS.items():
    register(_labels, context=_context)
register(VALUES, context="target_values")


def _show(frame, args, context: str, value_columns=()) -> int:
    from .cli import emit
    from .i18n import check_lang, t, translate_columns

    check_lang(args.lang)
    if args.format == "table":
        frame = frame.copy()
        for c in value_columns:
            frame[c] = frame[c].map(lambda v: t(v, args.lang, "target_values") if isinstance(v, str) else v)
        frame = translate_columns(frame, args.lang, context)
    emit(frame, args.format)
    return 0


def _no_targets(message: str, frame, args) -> int:
    """Say why there is nothing (stdout for people; stderr beside an empty CSV for scripts)."""
    from .cli import emit

    text = message if args.lang == "en" else message.replace("no targets set", NO_TARGETS["zh"])
    if args.format == "csv":
        print(text, file=sys.stderr)
        emit(frame, "csv")
    else:
        print(text)
    return 0


def _cmd_targets(args) -> int:
    from .io import load_dataset
    from .policy import load_policy
    from .targets import no_targets_message, targets

    policy = load_policy(args.policy)
    data = load_dataset(args.data_dir)
    frame = targets(data, args.month, as_of=args.as_of, policy=policy)
    message = no_targets_message(data, args.month)
    if message:
        return _no_targets(message, frame, args)
    return _show(frame, args, "targets", ("metric", "status"))


def _cmd_bonus(args) -> int:
    from .bonus import bonus
    from .io import load_dataset
    from .policy import load_policy
    from .targets import no_targets_message

    policy = load_policy(args.policy)
    data = load_dataset(args.data_dir)
    frame = bonus(data, args.month, policy)
    message = no_targets_message(data, args.month)
    if message is None and frame.empty:
        message = f"no targets set for {policy['bonus']['metric']} in {args.month}: no bonus to compute"
    if message:
        return _no_targets(message, frame, args)
    if args.format == "table" and args.lang == "zh":
        frame = frame.assign(gates_failed=frame["gates_failed"].str.replace("open complaints", GATE_WORDS["complaints"],
                                                                            regex=False)
                             .str.replace("grade none", GATE_WORDS["none"], regex=False)
                             .str.replace("grade", GATE_WORDS["grade"], regex=False))
    return _show(frame, args, "bonus")


def _cmd_collections(args) -> int:
    from .io import load_dataset
    from .payments import collections
    from .policy import load_policy

    policy = load_policy(args.policy)
    frame = collections(load_dataset(args.data_dir), args.month, as_of=args.as_of, policy=policy)
    return _show(frame, args, "collections", ("status",))


def register_commands(sub) -> None:
    """Add the three subcommands to the ``telesales-lab`` parser."""
    from .cli import _add_format, _add_lang, _add_month, _add_policy

    def common(p, as_of: bool) -> None:
        p.add_argument("data_dir", help="folder with one file per table")
        _add_month(p)
        if as_of:
            p.add_argument("--as-of", metavar="YYYY-MM-DD", default=None,
                           help="cut the month at the end of this day, as a lead sees it then "
                                "(default: the month's end, or the last day with data)")
        _add_policy(p)
        _add_format(p)
        _add_lang(p)

    p = sub.add_parser("targets", help="target attainment, month-end forecast with interval, status; reps and teams")
    common(p, as_of=True)
    p.set_defaults(func=_cmd_targets)

    p = sub.add_parser("bonus", help="bonus by target attainment: tier, base, multiplier, gates ([bonus] policy)")
    common(p, as_of=False)
    p.set_defaults(func=_cmd_bonus)

    p = sub.add_parser("collections", help="signed orders not paid after [collections] days (customer ids only)")
    common(p, as_of=True)
    p.set_defaults(func=_cmd_collections)
