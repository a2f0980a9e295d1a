"""The ``experiments`` and ``experiment-plan`` subcommands (registered by :mod:`telesales_lab.cli`)."""

from __future__ import annotations


def _registry(args):
    from .experiments import load_registry

    experiments = load_registry(args.registry)  # refuse a bad registry before loading the data
    if getattr(args, "id", None):
        keep = [x for x in experiments if x.id == args.id]
        if not keep:
            from .exceptions import ParameterError

            raise ParameterError(f"--id == {args.id!r}: no such experiment in {args.registry} "
                                 f"(it has {', '.join(x.id for x in experiments) or 'none'})")
        experiments = keep
    return experiments


def _cmd_experiments(args) -> int:
    from .cli import emit
    from .experiments import experiments_table, monitor_experiments
    from .i18n import check_lang, translate_columns
    from .io import load_dataset

    check_lang(args.lang)
    experiments = _registry(args)
    data = load_dataset(args.data_dir)
    frame = experiments_table(monitor_experiments(data, experiments, as_of=args.as_of), lang=args.lang)
    if args.format == "table":
        from .experiments import CONTEXT
        from .i18n import t

        frame["decision"] = frame["decision"].map(lambda d: t(d, args.lang, CONTEXT))
        frame = translate_columns(frame, args.lang, context="experiments")
    emit(frame, args.format)
    return 0


def _cmd_experiment_plan(args) -> int:
    from .cli import emit
    from .experiments import plan_assignment, plan_experiment
    from .i18n import check_lang, translate_columns
    from .io import load_dataset

    check_lang(args.lang)
    experiments = _registry(args)
    data = load_dataset(args.data_dir)
    if args.assignment:
        frame = plan_assignment(data, experiments, month=args.month, calls_per_rep=args.calls_per_rep)
    else:
        frame = plan_experiment(data, experiments, as_of=args.as_of)
    if args.format == "table":
        frame = translate_columns(frame, args.lang, context="experiments")
    emit(frame, args.format)
    return 0


def register(sub) -> None:
    from .cli import _add_format, _add_lang, _positive_int

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
