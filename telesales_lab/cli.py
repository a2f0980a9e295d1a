"""The ``telesales-lab`` command line.

Every analysis is a subcommand whose table goes to stdout; ``--format csv`` gives CSV
for scripts. Problems with the input (a :class:`~telesales_lab.exceptions.TelesalesError`)
are printed as one line each on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from telesales_lab.exceptions import TelesalesError

EXIT_INPUT = 2


# ----------------------------------------------------------------------------- helpers
def emit(frame, fmt: str = "table", stream=None) -> None:
    """Write a result table to stdout as an aligned table or as CSV."""
    import pandas as pd

    stream = stream or sys.stdout
    if fmt in ("csv", "csv-raw"):
        from telesales_lab.present.csv_safe import write_csv

        write_csv(frame, stream, raw=fmt == "csv-raw")
        return
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200):
        stream.write(frame.to_string(index=False, float_format=_number) + "\n")


def _number(v: float) -> str:
    """Rates keep four significant figures; money and counts show in full (512,600)."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "csv", "csv-raw"), default="table",
                   help="table (aligned, for people); csv (to stdout, cells starting with = + - @ "
                        "prefixed with ' so a spreadsheet runs no formula); csv-raw (values as "
                        "they are, for scripts)")


def _add_policy(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", metavar="FILE", default=None,
                   help="policy TOML file (default: the shipped policy; see `telesales-lab policy --init`)")


def _add_lang(p: argparse.ArgumentParser,
              help: str = "language of the table headers (table format only; CSV keeps snake_case)") -> None:
    p.add_argument("--lang", choices=("en", "zh"), default="en", help=help)


def _add_month(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--month", required=required, metavar="YYYY-MM", help="month to analyse, e.g. 2026-10")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive whole number")
    return value


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- demo, validate
def _cmd_demo(args) -> int:
    from telesales_lab.data.demo import write_demo

    _progress(f"generating demo data (seed {args.seed}, {args.calls:,} calls) into {args.out} ...")
    truth = write_demo(
        args.out, seed=args.seed, n_teams=args.teams, reps_per_team=args.reps_per_team,
        n_customers=args.customers, n_calls=args.calls, months=args.months, end_month=args.end_month,
    )
    _progress(f"wrote {args.out} (planted truth in {Path(args.out) / 'truth.json'}; "
              f"{len(truth)} facts)")
    return 0


def _cmd_validate(args) -> int:
    from telesales_lab.data.load import load_dataset

    data = load_dataset(args.data_dir, cache=False)
    sizes = ", ".join(f"{t} {len(f):,}" for t, f in data.tables.items())
    print(f"{args.data_dir}: valid ({sizes})")
    return 0


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telesales-lab",
        description="Telephone-sales workbench: call outcomes, fair script ranking, skills, "
                    "monthly KPI evaluation, training plans and coaching packs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="write the demo data set with its planted truth")
    p.add_argument("--out", default="data/demo", help="folder to write (default data/demo)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--teams", type=_positive_int, default=6, help="number of teams (default 6)")
    p.add_argument("--reps-per-team", type=_positive_int, default=10, help="reps per team (default 10)")
    p.add_argument("--customers", type=_positive_int, default=5000, help="customers (default 5000)")
    p.add_argument("--calls", type=_positive_int, default=60_000, help="calls in all months (default 60000)")
    p.add_argument("--months", type=_positive_int, default=6, help="months of calls (default 6)")
    p.add_argument("--end-month", default="2026-10", metavar="YYYY-MM", help="last month (default 2026-10)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("validate", help="check a data set folder; list every problem")
    p.add_argument("data_dir", help="folder with one file per table")
    p.set_defaults(func=_cmd_validate)

    # --- analysis subcommands are registered below, one block each ---------------
    for register in _REGISTRARS:
        register(sub)
    return parser


#: Functions ``register(subparsers)`` that add one analysis subcommand each.
_REGISTRARS: list = []


# ----------------------------------------------------------------------------- funnel (outcomes)
def _cmd_funnel(args) -> int:
    from telesales_lab.labels import check_lang, translate_columns
    from telesales_lab.data.load import load_dataset
    from telesales_lab.analysis.outcomes import funnel

    check_lang(args.lang)
    frame = funnel(load_dataset(args.data_dir), args.month, by=args.by)
    if args.format == "table":
        frame = translate_columns(frame, args.lang)
    emit(frame, args.format)
    return 0


def _register_funnel(sub) -> None:
    from telesales_lab.analysis.outcomes import FUNNEL_BY

    p = sub.add_parser("funnel", help="call funnel (dials, connected, positive, sales, rates, revenue) per group")
    p.add_argument("data_dir", help="folder with one file per table")
    _add_month(p)
    p.add_argument("--by", choices=tuple(FUNNEL_BY), default="rep",
                   help="grouping: " + ", ".join(FUNNEL_BY) + " (default rep)")
    _add_format(p)
    _add_lang(p)
    p.set_defaults(func=_cmd_funnel)


_REGISTRARS.append(_register_funnel)


# ----------------------------------------------------------------------------- plan, training-effect (training)
def _cmd_plan(args) -> int:
    from telesales_lab.labels import check_lang, t, translate_columns
    from telesales_lab.data.load import load_dataset
    from telesales_lab.analysis.training import plan

    check_lang(args.lang)
    frame = plan(load_dataset(args.data_dir), args.month, rep_id=args.rep, policy=args.policy, lang=args.lang)
    if args.format == "table":
        for col in ("skill", "method"):
            frame[col] = frame[col].map(lambda v: t(v, args.lang))
        frame["due_on"] = frame["due_on"].dt.strftime("%Y-%m-%d")
        frame = translate_columns(frame.astype(object).where(frame.notna(), ""), args.lang, "training")
    emit(frame, args.format)
    return 0


def _cmd_training_effect(args) -> int:
    from telesales_lab.labels import check_lang, translate_columns
    from telesales_lab.data.load import load_dataset
    from telesales_lab.analysis.training import training_effect

    check_lang(args.lang)
    data = load_dataset(args.data_dir)
    if not data.has("training_log"):
        _progress(f"{args.data_dir} has no training_log table: no training effects to estimate")
    frame = training_effect(data, module_id=args.module, policy=args.policy)
    if args.format == "table":
        frame = translate_columns(frame, args.lang, "training")
    emit(frame, args.format)
    return 0


def _register_training(sub) -> None:
    p = sub.add_parser("plan", help="training plans: each rep's largest credible skill gaps, with module, "
                                    "method, coach and due date")
    p.add_argument("data_dir", help="folder with one file per table")
    _add_month(p)
    p.add_argument("--rep", metavar="ID", default=None, help="only this rep's plan")
    _add_policy(p)
    _add_format(p)
    _add_lang(p, "language of module titles and table headers (CSV keeps snake_case headers)")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("training-effect", help="effect of each training module on its skill "
                                               "(difference in differences on assessments)")
    p.add_argument("data_dir", help="folder with one file per table")
    p.add_argument("--module", metavar="ID", default=None, help="only this module")
    _add_policy(p)
    _add_format(p)
    _add_lang(p, "language of the table headers (table format only)")
    p.set_defaults(func=_cmd_training_effect)


_REGISTRARS.append(_register_training)


# ----------------------------------------------------------------------------- import (importer)
def _cmd_import(args) -> int:
    import time

    from telesales_lab.labels import check_lang, translate_columns
    from telesales_lab.data.importer import import_sources

    check_lang(args.lang)
    _progress(f"importing {', '.join(args.sources)} through {args.mapping} ...")
    started = time.perf_counter()
    frame = import_sources(args.sources, args.mapping, args.out, targets=args.targets)
    _progress(f"wrote {args.out} (valid) in {time.perf_counter() - started:.1f} s")
    if args.format == "table":
        frame = translate_columns(frame, args.lang)
    emit(frame, args.format)
    return 0


def _register_import(sub) -> None:
    p = sub.add_parser("import", help="turn dialer/CRM exports into a valid data set through a TOML mapping")
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="export file(s) with one layout (CSV or .xlsx), read in this order")
    p.add_argument("--mapping", required=True, metavar="MAPPING.toml",
                   help="how source columns become canonical columns (see README: Importing your own exports)")
    p.add_argument("--out", required=True, metavar="DATA_DIR",
                   help="folder to write: new, empty, or an earlier import (it is replaced only on success)")
    p.add_argument("--targets", metavar="FILE", default=None,
                   help="the sales targets export, read through the mapping's [targets] section")
    _add_format(p)
    _add_lang(p, "language of the summary table's headers (table format only)")
    p.set_defaults(func=_cmd_import)


_REGISTRARS.append(_register_import)


# ----------------------------------------------------------------------------- skills, evaluate, customers (skills)
def _emit_lang(frame, args) -> int:
    from telesales_lab.analysis.evaluation import translate
    from telesales_lab.labels import check_lang

    check_lang(args.lang)
    emit(translate(frame, args.lang) if args.format == "table" else frame, args.format)
    return 0


def _cmd_policy(args) -> int:
    from telesales_lab.data.policy import default_policy_text, load_policy

    if args.check:
        load_policy(args.check)
        print(f"{args.check}: valid policy")
        return 0
    target = Path(args.init)
    if target.exists() and not args.force:
        from telesales_lab.exceptions import ParameterError

        raise ParameterError(f"{target} already exists; choose another file or pass --force")
    target.write_text(default_policy_text(), encoding="utf-8")
    _progress(f"wrote the default policy to {target}; edit it and pass it with --policy {target}")
    return 0


def _cmd_skills(args) -> int:
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy
    from telesales_lab.analysis.skills import score_skills

    policy = load_policy(args.policy)
    return _emit_lang(score_skills(load_dataset(args.data_dir), args.month, policy), args)


def _cmd_evaluate(args) -> int:
    from telesales_lab.analysis.evaluation import evaluate, evaluate_period
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    data = load_dataset(args.data_dir)
    if args.period == "month":
        frame = evaluate(data, args.month, policy)
    else:
        frame = evaluate_period(data, args.period, args.month, policy)
    return _emit_lang(frame, args)


def _cmd_awards(args) -> int:
    from telesales_lab.analysis.evaluation import award_candidates
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    return _emit_lang(award_candidates(load_dataset(args.data_dir), args.month, args.period, policy), args)


def _cmd_promotion(args) -> int:
    from telesales_lab.analysis.evaluation import promotion_readiness
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    return _emit_lang(promotion_readiness(load_dataset(args.data_dir), args.month, policy), args)


def _cmd_calibration(args) -> int:
    from telesales_lab.analysis.calibration import agreement, assessor_drift
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    data = load_dataset(args.data_dir)
    frame = agreement(data, args.month, policy) if args.agreement else assessor_drift(data, args.month, policy)
    return _emit_lang(frame, args)


def _cmd_classify_customers(args) -> int:
    from telesales_lab.analysis.customers import classify_customers
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    return _emit_lang(classify_customers(load_dataset(args.data_dir), args.month, policy), args)


def _cmd_care_list(args) -> int:
    from telesales_lab.analysis.customers import care_list
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    return _emit_lang(care_list(load_dataset(args.data_dir), args.month, policy), args)


def _register_skills(sub) -> None:
    def common(p, period: bool = False) -> None:
        p.add_argument("data_dir", help="folder with one file per table")
        _add_month(p)
        if period:
            p.add_argument("--period", choices=("month", "quarter", "year"), default="month",
                           help="month, or the quarter / year to date ending with --month (default month)")
        _add_policy(p)
        _add_format(p)
        _add_lang(p)

    p = sub.add_parser("policy", help="write the default policy file to edit (--init FILE), or check one")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--init", metavar="FILE", help="write the shipped default policy, with comments, to FILE")
    g.add_argument("--check", metavar="FILE", help="check a policy file and report the first problem")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=_cmd_policy)

    p = sub.add_parser("skills", help="skill scores 0-100 per rep with interval and evidence count")
    common(p)
    p.set_defaults(func=_cmd_skills)

    p = sub.add_parser("evaluate", help="monthly KPI evaluation: five weighted dimensions, total, grade, rank")
    common(p, period=True)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("awards", help="award candidates: best rep per team and overall")
    common(p, period=True)
    p.set_defaults(func=_cmd_awards)

    p = sub.add_parser("promotion", help="promotion readiness: rep -> team lead -> supervisor")
    common(p)
    p.set_defaults(func=_cmd_promotion)

    p = sub.add_parser("calibration", help="QA calibration: assessor drift (default) or agreement (ICC)")
    common(p)
    p.add_argument("--agreement", action="store_true", help="ICC per panel of assessors instead of drift")
    p.set_defaults(func=_cmd_calibration)

    p = sub.add_parser("classify-customers", help="customer classes A/B/C by frequency, amount and potential")
    common(p)
    p.set_defaults(func=_cmd_classify_customers)

    p = sub.add_parser("care-list", help="customers due a revisit, with a birthday soon, or lapsed A (ids only)")
    common(p)
    p.set_defaults(func=_cmd_care_list)


_REGISTRARS.append(_register_skills)


# ----------------------------------------------------------------------------- report (report)
def _cmd_report(args) -> int:
    from telesales_lab.report import run_report

    folder = run_report(args.data_dir, args.month, out=args.out, lang=args.lang, progress=True,
                        jobs=args.jobs, policy=args.policy)
    print(folder / "index.html")
    return 0


def _register_report(sub) -> None:
    p = sub.add_parser("report", help="the month's report: every notebook as HTML and .ipynb, one Excel "
                                      "workbook, coaching packs, index.html (into OUT/YYYY-MM/)")
    p.add_argument("data_dir", help="folder with one file per table")
    _add_month(p)
    p.add_argument("--out", default="reports", help="parent folder of the monthly reports (default reports)")
    _add_lang(p, "language of headings, labels and table headers (default en)")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="notebooks run at the same time (default 2, or 1 on a one-core machine)")
    _add_policy(p)
    p.set_defaults(func=_cmd_report)


_REGISTRARS.append(_register_report)


# ----------------------------------------------------------------------------- rank-scripts (script ranking)
_RANK_TABLES = ("ranking", "pairwise", "revenue", "calls-needed", "allocation", "plan", "srm", "phrases")


def _cmd_rank_scripts(args) -> int:
    from telesales_lab.analysis import ranking as sr
    from telesales_lab.analysis.ranking.ranker import _ranker
    from telesales_lab.labels import check_lang, translate_columns
    from telesales_lab.data.load import load_dataset

    check_lang(args.lang)
    opts = dict(padjust=args.padjust, alpha=args.alpha, min_connected=args.min_connected, min_reps=args.min_reps)
    _ranker(**opts)._settings()  # refuse bad options before loading the data
    data = load_dataset(args.data_dir)
    by = args.by
    if args.table == "ranking":
        frame = sr.rank_scripts(data, args.month, by=by, window_months=args.window_months, **opts)
    elif args.table == "pairwise":
        frame = sr.pairwise_comparisons(data, args.month, by=by, window_months=args.window_months, **opts)
    elif args.table == "revenue":
        frame = sr.revenue_per_call(data, args.month, by=by, window_months=args.window_months, alpha=args.alpha,
                                    min_connected=args.min_connected, min_reps=args.min_reps)
    elif args.table == "calls-needed":
        frame = sr.calls_needed(data, args.month, by=by, window_months=args.window_months, **opts)
    elif args.table == "allocation":
        frame = sr.thompson_allocation(data, args.month, by=by, window_months=args.window_months, **opts)
    elif args.table == "plan":
        frame = sr.assignment_plan(data, args.month, window_months=args.window_months, **opts)
    elif args.table == "srm":
        frame = sr.srm_check(data, args.month, args.intended_split, window_months=args.window_months)
    else:
        frame = sr.phrase_analysis(data, args.month, source=args.phrase_source, window_months=args.window_months)
    if args.format == "table":
        frame = translate_columns(frame, args.lang, context=sr.CONTEXT)
    emit(frame, args.format)
    return 0


def _register_rank_scripts(sub) -> None:
    p = sub.add_parser("rank-scripts", help="rank call-script variants per scenario, adjusted for the reps "
                                            "who used them, with honest verdicts")
    p.add_argument("data_dir", help="folder with one file per table")
    _add_month(p)
    p.add_argument("--by", choices=("customer_class",), default=None,
                   help="also rank within customer class (adds a customer_class column after scenario)")
    p.add_argument("--window-months", type=_positive_int, default=1, metavar="N",
                   help="months of calls ending with --month (default 1)")
    p.add_argument("--padjust", choices=("holm", "bh"), default="holm",
                   help="multiplicity correction of the pairwise tests (default holm)")
    p.add_argument("--alpha", type=float, default=0.05, help="test level and 1 - interval coverage (default 0.05)")
    p.add_argument("--min-connected", type=_positive_int, default=100,
                   help="connected calls a variant needs to be ranked (default 100)")
    p.add_argument("--min-reps", type=_positive_int, default=3,
                   help="reps a variant needs to be ranked (default 3)")
    p.add_argument("--table", choices=_RANK_TABLES, default="ranking",
                   help="which table to print (default ranking; see the README)")
    p.add_argument("--intended-split", default="equal",
                   help="for --table srm: 'equal' or a CSV (scenario, script_id, share) / JSON file")
    p.add_argument("--phrase-source", choices=("transcript", "script"), default="transcript",
                   help="for --table phrases: call transcripts or script texts (default transcript)")
    _add_format(p)
    _add_lang(p)
    p.set_defaults(func=_cmd_rank_scripts)


_REGISTRARS.append(_register_rank_scripts)


# ----------------------------------------------------------------------------- targets, bonus, collections
def _show_targets(frame, args, value_columns=()) -> int:
    """A targets/bonus/collections table; in table format with labels (and values) in ``--lang``."""
    from telesales_lab.labels import check_lang, t, translate_columns

    check_lang(args.lang)
    if args.format == "table":
        frame = frame.copy()
        for c in value_columns:
            frame[c] = frame[c].map(lambda v: t(v, args.lang, "targets") if isinstance(v, str) else v)
        frame = translate_columns(frame, args.lang, "targets")
    emit(frame, args.format)
    return 0


# ----------------------------------------------------------------------------- script experiments
def _experiment_registry(args):
    from telesales_lab.data.registry import load_registry

    experiments = load_registry(args.registry)  # refuse a bad registry before loading the data
    if getattr(args, "id", None):
        keep = [x for x in experiments if x.id == args.id]
        if not keep:
            from telesales_lab.exceptions import ParameterError

            raise ParameterError(f"--id == {args.id!r}: no such experiment in {args.registry} "
                                 f"(it has {', '.join(x.id for x in experiments) or 'none'})")
        experiments = keep
    return experiments


def _cmd_experiments(args) -> int:
    from telesales_lab.analysis.experiments import CONTEXT, experiments_table, monitor_experiments
    from telesales_lab.labels import check_lang, t, translate_columns
    from telesales_lab.data.load import load_dataset

    check_lang(args.lang)
    experiments = _experiment_registry(args)
    data = load_dataset(args.data_dir)
    frame = experiments_table(monitor_experiments(data, experiments, as_of=args.as_of), lang=args.lang)
    if args.format == "table":
        frame["decision"] = frame["decision"].map(lambda d: t(d, args.lang, CONTEXT))
        frame = translate_columns(frame, args.lang, context=CONTEXT)
    emit(frame, args.format)
    return 0


def _no_targets(message: str, frame, args) -> int:
    """Say why there is nothing: on stdout for people; on stderr beside an empty CSV for scripts."""
    from telesales_lab.labels import t

    text = message.replace("no targets set", t("no_targets", args.lang, "targets"))
    if args.format in ("csv", "csv-raw"):
        print(text, file=sys.stderr)
        emit(frame, args.format)
    else:
        print(text)
    return 0


def _cmd_targets(args) -> int:
    from telesales_lab.analysis.targets import no_targets_message, targets
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    data = load_dataset(args.data_dir)
    frame = targets(data, args.month, as_of=args.as_of, policy=policy)
    message = no_targets_message(data, args.month)
    if message:
        return _no_targets(message, frame, args)
    return _show_targets(frame, args, ("metric", "status"))


def _cmd_bonus(args) -> int:
    from telesales_lab.analysis.bonus import bonus, translate_gates
    from telesales_lab.analysis.targets import no_targets_message
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    data = load_dataset(args.data_dir)
    frame = bonus(data, args.month, policy)
    message = no_targets_message(data, args.month)
    if message is None and frame.empty:
        message = f"no targets set for {policy['bonus']['metric']} in {args.month}: no bonus to compute"
    if message:
        return _no_targets(message, frame, args)
    if args.format == "table":
        frame = frame.assign(gates_failed=translate_gates(frame["gates_failed"], args.lang))
    return _show_targets(frame, args)


def _cmd_collections(args) -> int:
    from telesales_lab.analysis.payments import collections
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    policy = load_policy(args.policy)
    frame = collections(load_dataset(args.data_dir), args.month, as_of=args.as_of, policy=policy)
    return _show_targets(frame, args, ("status",))


def _register_targets(sub) -> None:
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


_REGISTRARS.append(_register_targets)
def _cmd_experiment_plan(args) -> int:
    from telesales_lab.analysis.experiments import CONTEXT, plan_assignment, plan_experiment
    from telesales_lab.labels import check_lang, translate_columns
    from telesales_lab.data.load import load_dataset

    check_lang(args.lang)
    experiments = _experiment_registry(args)
    data = load_dataset(args.data_dir)
    if args.assignment:
        frame = plan_assignment(data, experiments, month=args.month, calls_per_rep=args.calls_per_rep)
    else:
        frame = plan_experiment(data, experiments, as_of=args.as_of)
    if args.format == "table":
        frame = translate_columns(frame, args.lang, context=CONTEXT)
    emit(frame, args.format)
    return 0


def _register_experiments(sub) -> None:
    p = sub.add_parser("experiments", help="script experiments watched every day: always-valid, rep-adjusted "
                                           "intervals and a decision per variant")
    p.add_argument("data_dir", help="data set folder")
    p.add_argument("--registry", required=True, metavar="FILE",
                   help="the experiment registry (experiments.toml; the demo writes one beside its data)")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD",
                   help="last day to look at (default: the day of the last call)")
    p.add_argument("--id", default=None, help="only this experiment")
    _add_lang(p, help="language of the headers (table format) and of the reasons")
    _add_format(p)
    p.set_defaults(func=_cmd_experiments)

    p = sub.add_parser("experiment-plan", help="calls needed, expected duration at the current volume, and a "
                                               "rep-blocked assignment for each registered experiment")
    p.add_argument("data_dir", help="data set folder")
    p.add_argument("--registry", required=True, metavar="FILE", help="the experiment registry (experiments.toml)")
    p.add_argument("--id", default=None, help="only this experiment")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD",
                   help="the volume and baseline are taken from the 4 weeks up to this day (default: the last call)")
    p.add_argument("--assignment", action="store_true",
                   help="show the rep-blocked assignment (each rep's planned calls per variant) instead")
    p.add_argument("--month", default=None, metavar="YYYY-MM",
                   help="with --assignment: the month whose dials per rep are split (default: the last)")
    p.add_argument("--calls-per-rep", type=_positive_int, default=None,
                   help="with --assignment: split this many calls per rep instead of last month's dials")
    _add_lang(p)
    _add_format(p)
    p.set_defaults(func=_cmd_experiment_plan)


_REGISTRARS.append(_register_experiments)


# ----------------------------------------------------------------------------- leads, leads-eval, call-list (leads)
def _cmd_leads(args) -> int:
    from telesales_lab.analysis.leads import fit_lead_model, model_note, score_leads
    from telesales_lab.data.load import load_dataset
    from telesales_lab.labels import check_lang, t, translate_columns

    check_lang(args.lang)
    data = load_dataset(args.data_dir)
    model = fit_lead_model(data, args.month, policy=args.policy)
    _progress(model_note(model, args.lang))
    frame = score_leads(data, args.month, policy=args.policy, lang=args.lang, model=model)
    if args.top:
        frame = frame.head(args.top)
    if args.format == "table":
        frame["model"] = frame["model"].map(lambda v: t(v, args.lang, "leads"))
        frame = translate_columns(frame, args.lang, "leads")
    emit(frame, args.format)
    return 0


def _cmd_leads_eval(args) -> int:
    from telesales_lab.analysis.leads_eval import backtest, calibration_table, evaluate_leads
    from telesales_lab.data.load import load_dataset
    from telesales_lab.labels import check_lang, t, translate_columns

    check_lang(args.lang)
    data = load_dataset(args.data_dir)
    if args.calibration:
        frame = calibration_table(data, args.month, policy=args.policy)
    elif args.backtest:
        frame = backtest(data, args.month, months=args.backtest, policy=args.policy)
    else:
        frame = evaluate_leads(data, args.month, policy=args.policy)
    if args.format == "table":
        for col in ("scorer", "model"):
            if col in frame:
                frame[col] = frame[col].map(lambda v: t(v, args.lang, "leads_eval"))
        frame = translate_columns(frame, args.lang, "leads_eval")
    emit(frame, args.format)
    return 0


def _cmd_call_list(args) -> int:
    from telesales_lab.analysis.call_list import call_list, write_call_lists
    from telesales_lab.data.load import load_dataset
    from telesales_lab.exceptions import ParameterError
    from telesales_lab.labels import check_lang

    check_lang(args.lang)
    if args.format == "xlsx" and not args.out:
        raise ParameterError("--format xlsx needs --out FILE.xlsx (a workbook cannot go to stdout)")
    data = load_dataset(args.data_dir)
    frame = call_list(data, args.date, capacity=args.capacity, policy=args.policy, lang=args.lang,
                      recency_days=args.recency_days, keep_with_last_rep=not args.spread)
    cap = frame.attrs["capacity"]
    _progress(f"{len(frame):,} customers on {frame['rep_id'].nunique()} lists "
              f"({int(cap['capacity'].sum()):,} places; {int(cap['waiting'].sum()):,} customers of these reps "
              "wait for another day)")
    if args.format == "xlsx":
        write_call_lists(frame, args.out, lang=args.lang)
        _progress(f"wrote {args.out}")
    elif args.out:
        frame.to_csv(args.out, index=False, encoding="utf-8")
        _progress(f"wrote {args.out}")
    else:
        emit(frame, "csv")
    return 0


def _register_leads(sub) -> None:
    p = sub.add_parser("leads", help="score every customer who could be called in the month: calibrated sale "
                                     "probability, decile, expected value, best window, script, reason")
    p.add_argument("data_dir", help="folder with one file per table")
    _add_month(p)
    p.add_argument("--top", type=_positive_int, default=None, metavar="N", help="only the N best leads")
    _add_policy(p)
    _add_format(p)
    _add_lang(p, "language of reason, window and the table headers (CSV keeps snake_case headers)")
    p.set_defaults(func=_cmd_leads)

    p = sub.add_parser("leads-eval", help="out-of-time evaluation of the lead score (AUC, ALIFT, top-half share, "
                                          "Brier) against two baselines; --backtest N for a rolling window")
    p.add_argument("data_dir", help="folder with one file per table")
    _add_month(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--backtest", type=_positive_int, default=None, metavar="N",
                   help="the N months ending with --month, each scored by a model of the months before it, "
                        "and the pooled figures")
    g.add_argument("--calibration", action="store_true", help="the calibration table of --month instead")
    _add_policy(p)
    _add_format(p)
    _add_lang(p)
    p.set_defaults(func=_cmd_leads_eval)

    p = sub.add_parser("call-list", help="one call list per rep for a working day (masked phones; CSV for the "
                                         "dialer, xlsx for people)")
    p.add_argument("data_dir", help="folder with one file per table")
    p.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the day to call")
    p.add_argument("--capacity", type=_positive_int, default=None, metavar="N",
                   help="places per rep (default: each rep's median dials per day over the last 28 days)")
    p.add_argument("--recency-days", type=int, default=7, metavar="N",
                   help="leave out customers called in the last N days unless a callback is due (default 7)")
    p.add_argument("--spread", action="store_true",
                   help="do not keep customers with the rep who last spoke to them")
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv",
                   help="csv (to stdout or --out, for the dialer) or xlsx (--out, a sheet per rep)")
    p.add_argument("--out", metavar="FILE", default=None, help="file to write")
    _add_policy(p)
    _add_lang(p, "language of reason and window (and of the xlsx headers)")
    p.set_defaults(func=_cmd_call_list)


_REGISTRARS.append(_register_leads)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except TelesalesError as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        print(f"error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(line, file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `telesales-lab funnel ... | head`): not an error;
        # point stdout at /dev/null so the interpreter's final flush stays quiet
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
