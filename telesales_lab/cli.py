"""The ``telesales-lab`` command line: one table of commands and one handler for them all.

Every analysis is a subcommand whose table goes to stdout; ``--format csv`` gives CSV
for scripts. Problems with the input (a :class:`~telesales_lab.exceptions.TelesalesError`)
are printed as one line each on stderr with exit status 2, never as a traceback.

How a command runs
------------------
:data:`COMMANDS` lists every subcommand as a :class:`Command` row: its name and help, the
function it calls (a ``"module:function"`` path, imported only when that command runs, so
start-up stays fast), its arguments (:class:`Arg`: the command-line option and the
function's keyword it fills) and the kind of table it prints. :func:`run` does the rest for
every row: it loads the policy (``--policy``, before anything slow), loads the data set
(the positional ``data_dir`` of :data:`DATA`, passed as ``data``), calls the function with
the keywords, and prints the returned table with ``--format table|csv`` and ``--lang``.

How to add a command
--------------------
Write the analysis as a function in ``telesales_lab/analysis/`` that takes ``data`` (a
loaded data set), ``month`` and, if it has rules, ``policy`` (a dict), and returns a tidy
DataFrame. Add its column labels to ``locale/en.toml`` and ``zh.toml``. Then add one row
to :data:`COMMANDS` (its position is its place in ``telesales-lab --help``)::

    Command("targets", "monthly targets per rep: the month's goal, progress and forecast",
            "telesales_lab.analysis.targets:targets",
            (DATA, MONTH, POLICY, FORMAT, LANG)),

That is all: ``telesales-lab targets data/demo --month 2026-10 --format csv`` works, and
``tests/test_cli.py`` checks the row (help, bad input, exit 2). Options of its own are one
:func:`arg` each, e.g. ``arg("--team", param="team", metavar="NAME", default=None,
help="only this team")`` (``param`` is the function's keyword; the other keywords go to
``argparse``). Further row fields, all optional:

- ``output``: how ``--format table`` shows the frame: ``"columns"`` (labels from the
  catalogs, within ``context`` when given), ``"evaluation"``, ``"training_plan"``;
  ``"line"`` prints the returned text; ``"none"`` prints nothing.
- ``switch`` with a dict ``call``: an option whose value picks the function (see
  ``rank-scripts --table``); ``Arg(only=...)`` limits an option to some of them.
- ``check``: a function given every option's keyword (all of them, whatever the switch)
  and ``policy`` (the loaded policy, or None) before the data set is loaded, to refuse bad
  options early.
- ``values``: columns whose values are catalog keys (a status, a metric), shown in
  ``--lang`` in table format.
- ``note_missing``: ``(table, sentence)`` printed on stderr when the data set lacks an
  optional table.
- ``explain``: says why a table is empty ("no targets set for 2026-06 ..."): on stdout
  instead of the table, on stderr beside the empty CSV.

A command that does not take a data set (``demo``, ``import``) calls a small adapter
defined in this module instead; keep those few and thin.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Mapping

from telesales_lab.config import DEMO_DIR, REPORTS_DIR
from telesales_lab.exceptions import ParameterError, TelesalesError

EXIT_INPUT = 2


# ----------------------------------------------------------------------------- output
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


def _columns(frame, lang: str, command: Command):
    """Column labels in ``lang`` (within the command's context); ``values`` columns' words too."""
    from telesales_lab.labels import t, translate_columns

    if command.values:
        frame = frame.copy()
        for c in (c for c in command.values if c in frame):
            frame[c] = frame[c].map(lambda v: t(v, lang, command.context) if isinstance(v, str) else v)
    return translate_columns(frame, lang, command.context)


def _evaluation_columns(frame, lang: str, command: Command):
    from telesales_lab.analysis.evaluation import translate

    return translate(frame, lang)


def _training_plan(frame, lang: str, command: Command):
    """Skills and methods in words, dates as text, empty cells blank."""
    from telesales_lab.labels import t, translate_columns

    for col in ("skill", "method"):
        frame[col] = frame[col].map(lambda v: t(v, lang))
    frame["due_on"] = frame["due_on"].dt.strftime("%Y-%m-%d")
    return translate_columns(frame.astype(object).where(frame.notna(), ""), lang, command.context)


def _bonus(frame, lang: str, command: Command):
    """The failed gates in words, then the columns."""
    from telesales_lab.analysis.bonus import translate_gates

    return _columns(frame.assign(gates_failed=translate_gates(frame["gates_failed"], lang)), lang, command)


#: ``Command.output`` -> how ``--format table`` shows the frame: ``(frame, lang, command)``.
TABLE_FORMATS: dict[str, Callable] = {
    "columns": _columns,
    "evaluation": _evaluation_columns,
    "training_plan": _training_plan,
    "bonus": _bonus,
}
#: Outputs that are not tables: ``line`` prints the returned text, ``none`` nothing.
OTHER_OUTPUTS = ("line", "none")


# ----------------------------------------------------------------------------- the table's vocabulary
@dataclass(frozen=True)
class Arg:
    """One command-line argument and the function keyword it fills.

    ``flags`` and ``options`` go to :meth:`argparse.ArgumentParser.add_argument` as they
    are. ``param`` is the keyword of the called function that receives the value (None:
    the handler reads it, e.g. ``--format``). ``only`` limits it to some values of the
    command's ``switch``; ``group`` puts it in a required mutually exclusive group.
    """

    flags: tuple[str, ...]
    param: str | None = None
    only: tuple[str, ...] = ()
    group: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    group_required: bool = True

    @property
    def dest(self) -> str:
        """The attribute name argparse gives the value."""
        if "dest" in self.options:
            return self.options["dest"]
        longs = [f for f in self.flags if f.startswith("--")]
        name = (longs or list(self.flags))[0].lstrip("-")
        return name.replace("-", "_")


def arg(*flags: str, param: str | None = None, only: tuple[str, ...] = (), group: str | None = None,
        group_required: bool = True, **options) -> Arg:
    """An :class:`Arg`: ``arg("--rep", param="rep_id", metavar="ID", default=None, help=...)``."""
    return Arg(tuple(flags), param, tuple(only), group, options, group_required)


@dataclass(frozen=True)
class Command:
    """One subcommand: a row of :data:`COMMANDS` (see the module docstring).

    Parameters
    ----------
    name, help
        The subcommand and its one-line help in ``telesales-lab --help``.
    call
        ``"module:function"`` (imported when the command runs) or a function; with
        ``switch``, a dict from the switch option's values to those.
    args
        The arguments in the order ``--help`` lists them.
    output
        A key of :data:`TABLE_FORMATS`, or one of :data:`OTHER_OUTPUTS`.
    context
        Catalog context of the column labels (``output="columns"``).
    values
        Columns whose values are catalog keys, shown in ``--lang`` too (``output="columns"``).
    switch
        ``dest`` of the option whose value picks the function in ``call``.
    check
        Called with every option's keyword and ``policy`` before the data set is loaded.
    note_missing
        ``(table, sentence)``: printed on stderr as ``DATA_DIR has no TABLE table:
        SENTENCE`` when the loaded data set lacks that optional table.
    explain
        Called with the result and the keywords (and ``lang``); a sentence it returns says
        why the table is empty: printed instead of the table, or on stderr beside the
        (empty) CSV.
    """

    name: str
    help: str
    call: str | Callable | Mapping[str, str | Callable]
    args: tuple[Arg, ...]
    output: str = "columns"
    context: str | None = None
    values: tuple[str, ...] = ()
    switch: str | None = None
    check: str | Callable | None = None
    note_missing: tuple[str, str] | None = None
    explain: str | Callable | None = None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive whole number")
    return value


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve(target: str | Callable) -> Callable:
    """The function behind ``"package.module:function"`` (imported now), or ``target`` itself."""
    if callable(target):
        return target
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


# ----------------------------------------------------------------------------- shared arguments
#: The data set folder; the handler loads it and passes ``data``.
DATA = arg("data_dir", param="data", help="folder with one file per table")
#: The data set folder passed as a path (``data_dir``), for functions that read it themselves.
DATA_DIR = arg("data_dir", param="data_dir", help="folder with one file per table")
MONTH = arg("--month", param="month", required=True, metavar="YYYY-MM", help="month to analyse, e.g. 2026-10")
#: The policy file; the handler loads and checks it first and passes the dict as ``policy``.
POLICY = arg("--policy", param="policy", metavar="FILE", default=None,
             help="policy TOML file (default: the shipped policy; see `telesales-lab policy --init`)")
PERIOD = arg("--period", param="period", choices=("month", "quarter", "year"), default="month",
             help="month, or the quarter / year to date ending with --month (default month)")
AS_OF = arg("--as-of", param="as_of", metavar="YYYY-MM-DD", default=None,
            help="cut the month at the end of this day, as a lead sees it then "
                 "(default: the month's end, or the last day with data)")
REGISTRY = arg("--registry", param="registry", required=True, metavar="FILE",
               help="the experiment registry (experiments.toml; the demo writes one beside its data)")
EXPERIMENT_ID = arg("--id", param="id", default=None, help="only this experiment")
FORMAT = arg("--format", choices=("table", "csv", "csv-raw"), default="table",
             help="table (aligned, for people); csv (to stdout, cells starting with = + - @ "
                  "prefixed with ' so a spreadsheet runs no formula); csv-raw (values as "
                  "they are, for scripts)")


def lang(help: str = "language of the table headers (table format only; CSV keeps snake_case)",
         param: str | None = None) -> Arg:
    """``--lang en|zh``; ``param`` passes it to the function too (module titles in the plan)."""
    return arg("--lang", param=param, choices=("en", "zh"), default="en", help=help)


LANG = lang()


# ----------------------------------------------------------------------------- adapters
# Thin functions for commands that do more than "load, call, format"; the table names them.
def _demo(out, seed, teams, reps_per_team, customers, calls, months, end_month) -> None:
    from telesales_lab.data.demo import write_demo

    _progress(f"generating demo data (seed {seed}, {calls:,} calls) into {out} ...")
    truth = write_demo(out, seed=seed, n_teams=teams, reps_per_team=reps_per_team, n_customers=customers,
                       n_calls=calls, months=months, end_month=end_month)
    _progress(f"wrote {out} (planted truth in {Path(out) / 'truth.json'}; {len(truth)} facts)")


def _validate(data_dir) -> str:
    from telesales_lab.data.load import load_dataset

    data = load_dataset(data_dir, cache=False)
    sizes = ", ".join(f"{t} {len(f):,}" for t, f in data.tables.items())
    return f"{data_dir}: valid ({sizes})"


def _import(sources, mapping, out, targets):
    from telesales_lab.data.importer import import_sources

    _progress(f"importing {', '.join(sources)} through {mapping} ...")
    started = time.perf_counter()
    frame = import_sources(sources, mapping, out, targets=targets)
    _progress(f"wrote {out} (valid) in {time.perf_counter() - started:.1f} s")
    return frame


def _policy(init, check, force) -> None:
    from telesales_lab.data.policy import default_policy_text, load_policy

    if check:
        load_policy(check)
        print(f"{check}: valid policy")
        return
    target = Path(init)
    if target.exists() and not force:
        raise ParameterError(f"{target} already exists; choose another file or pass --force")
    target.write_text(default_policy_text(), encoding="utf-8")
    _progress(f"wrote the default policy to {target}; edit it and pass it with --policy {target}")


def _evaluate(data, month, period, policy):
    from telesales_lab.analysis.evaluation import evaluate, evaluate_period

    return evaluate(data, month, policy) if period == "month" else evaluate_period(data, period, month, policy)


def _calibration(data, month, policy, agreement):
    from telesales_lab.analysis.calibration import agreement as icc_panels, assessor_drift

    return icc_panels(data, month, policy) if agreement else assessor_drift(data, month, policy)


def _report(data_dir, month, out, lang, jobs, policy_file=None) -> str:
    from telesales_lab.report import run_report

    folder = run_report(data_dir, month, out=out, lang=lang, progress=True, jobs=jobs, policy=policy_file)
    return str(folder / "index.html")


def _check_ranking(padjust, alpha, min_connected, min_reps, policy, **_) -> None:
    from telesales_lab.analysis.ranking import ScriptRanker

    ScriptRanker(padjust=padjust, alpha=alpha, min_connected=min_connected, min_reps=min_reps,
                 policy=policy)._settings()


def _no_targets(frame, data, month, lang, **_) -> str | None:
    """Why the targets table is empty ("no targets set" in ``lang``), or None."""
    from telesales_lab.analysis.targets import no_targets_message

    return _targets_sentence(no_targets_message(data, month), lang)


def _no_bonus(frame, data, month, policy, lang, **_) -> str | None:
    from telesales_lab.analysis.targets import no_targets_message

    message = no_targets_message(data, month)
    if message is None and frame.empty:
        message = f"no targets set for {policy['bonus']['metric']} in {month}: no bonus to compute"
    return _targets_sentence(message, lang)


def _targets_sentence(message: str | None, lang: str) -> str | None:
    from telesales_lab.labels import t

    return message and message.replace("no targets set", t("no_targets", lang, "targets"))


def _experiment_registry(registry, id=None, **_):
    """The registry's experiments (only ``id`` if given); a bad registry is refused before the data load."""
    from telesales_lab.data.registry import load_registry

    experiments = load_registry(registry)
    if id:
        keep = [x for x in experiments if x.id == id]
        if not keep:
            raise ParameterError(f"--id == {id!r}: no such experiment in {registry} "
                                 f"(it has {', '.join(x.id for x in experiments) or 'none'})")
        experiments = keep
    return experiments


def _experiments(data, registry, id, as_of, lang):
    from telesales_lab.analysis.experiments import experiments_table, monitor_experiments

    return experiments_table(monitor_experiments(data, _experiment_registry(registry, id), as_of=as_of), lang=lang)


def _experiment_plan(data, registry, id, as_of, assignment, month, calls_per_rep):
    from telesales_lab.analysis.experiments import plan_assignment, plan_experiment

    experiments = _experiment_registry(registry, id)
    if assignment:
        return plan_assignment(data, experiments, month=month, calls_per_rep=calls_per_rep)
    return plan_experiment(data, experiments, as_of=as_of)


def _leads(data, month, top, policy, lang):
    from telesales_lab.analysis.leads import fit_lead_model, model_note, score_leads

    model = fit_lead_model(data, month, policy=policy)
    _progress(model_note(model, lang))
    frame = score_leads(data, month, policy=policy, lang=lang, model=model)
    return frame.head(top) if top else frame


def _leads_eval(data, month, backtest, calibration, policy):
    from telesales_lab.analysis.leads_eval import backtest as rolling, calibration_table, evaluate_leads

    if calibration:
        return calibration_table(data, month, policy=policy)
    if backtest:
        return rolling(data, month, months=backtest, policy=policy)
    return evaluate_leads(data, month, policy=policy)


def _check_call_list(format, out, **_) -> None:
    if format == "xlsx" and not out:
        raise ParameterError("--format xlsx needs --out FILE.xlsx (a workbook cannot go to stdout)")


def _call_list(data, date, capacity, recency_days, spread, format, out, policy, lang):
    """The day's call lists: written to --out (csv or xlsx) and None, or the frame for stdout."""
    from telesales_lab.analysis.call_list import call_list, write_call_lists

    frame = call_list(data, date, capacity=capacity, policy=policy, lang=lang, recency_days=recency_days,
                      keep_with_last_rep=not spread)
    cap = frame.attrs["capacity"]
    _progress(f"{len(frame):,} customers on {frame['rep_id'].nunique()} lists "
              f"({int(cap['capacity'].sum()):,} places; {int(cap['waiting'].sum()):,} customers of these reps "
              "wait for another day)")
    if format == "xlsx":
        write_call_lists(frame, out, lang=lang)
    elif out:
        frame.to_csv(out, index=False, encoding="utf-8")
    else:
        return frame
    _progress(f"wrote {out}")
    return None


def _funnel_by() -> tuple[str, ...]:
    from telesales_lab.analysis.outcomes import FUNNEL_BY

    return tuple(FUNNEL_BY)


# ----------------------------------------------------------------------------- the commands
_RANKING = "telesales_lab.analysis.ranking"
#: ``rank-scripts --table`` -> the function that computes it.
RANK_TABLES = {
    "ranking": f"{_RANKING}:rank_scripts",
    "pairwise": f"{_RANKING}:pairwise_comparisons",
    "revenue": f"{_RANKING}:revenue_per_call",
    "calls-needed": f"{_RANKING}:calls_needed",
    "allocation": f"{_RANKING}:thompson_allocation",
    "plan": f"{_RANKING}:assignment_plan",
    "srm": f"{_RANKING}:srm_check",
    "phrases": f"{_RANKING}:phrase_analysis",
}
_MODEL_TABLES = ("ranking", "pairwise", "revenue", "calls-needed", "allocation", "plan")
_TESTED_TABLES = ("ranking", "pairwise", "calls-needed", "allocation", "plan")

COMMANDS: tuple[Command, ...] = (
    Command("demo", "write the demo data set with its planted truth", _demo, (
        arg("--out", param="out", default=DEMO_DIR, help=f"folder to write (default {DEMO_DIR})"),
        arg("--seed", param="seed", type=int, default=7, help="random seed (default 7)"),
        arg("--teams", param="teams", type=_positive_int, default=6, help="number of teams (default 6)"),
        arg("--reps-per-team", param="reps_per_team", type=_positive_int, default=10,
            help="reps per team (default 10)"),
        arg("--customers", param="customers", type=_positive_int, default=5000, help="customers (default 5000)"),
        arg("--calls", param="calls", type=_positive_int, default=60_000,
            help="calls in all months (default 60000)"),
        arg("--months", param="months", type=_positive_int, default=6, help="months of calls (default 6)"),
        arg("--end-month", param="end_month", default="2026-10", metavar="YYYY-MM",
            help="last month (default 2026-10)"),
    ), output="none"),
    Command("validate", "check a data set folder; list every problem", _validate, (DATA_DIR,), output="line"),
    Command("funnel", "call funnel (dials, connected, positive, sales, rates, revenue) per group",
            "telesales_lab.analysis.outcomes:funnel", (
                DATA, MONTH,
                arg("--by", param="by", choices=_funnel_by, default="rep",
                    help=lambda: "grouping: " + ", ".join(_funnel_by()) + " (default rep)"),
                FORMAT, LANG)),
    Command("plan", "training plans: each rep's largest credible skill gaps, with module, method, coach "
                    "and due date",
            "telesales_lab.analysis.training:plan", (
                DATA, MONTH,
                arg("--rep", param="rep_id", metavar="ID", default=None, help="only this rep's plan"),
                POLICY, FORMAT,
                lang("language of module titles and table headers (CSV keeps snake_case headers)", param="lang")),
            output="training_plan", context="training"),
    Command("training-effect", "effect of each training module on its skill (difference in differences on "
                               "assessments)",
            "telesales_lab.analysis.training:training_effect", (
                DATA,
                arg("--module", param="module_id", metavar="ID", default=None, help="only this module"),
                POLICY, FORMAT, lang("language of the table headers (table format only)")),
            context="training", note_missing=("training_log", "no training effects to estimate")),
    Command("import", "turn dialer/CRM exports into a valid data set through a TOML mapping", _import, (
        arg("sources", param="sources", nargs="+", metavar="SOURCE",
            help="export file(s) with one layout (CSV or .xlsx), read in this order"),
        arg("--mapping", param="mapping", required=True, metavar="MAPPING.toml",
            help="how source columns become canonical columns (see README: Importing your own exports)"),
        arg("--out", param="out", required=True, metavar="DATA_DIR",
            help="folder to write: new, empty, or an earlier import (it is replaced only on success)"),
        arg("--targets", param="targets", metavar="FILE", default=None,
            help="the sales targets export, read through the mapping's [targets] section"),
        FORMAT, lang("language of the summary table's headers (table format only)"))),
    Command("policy", "write the default policy file to edit (--init FILE), or check one", _policy, (
        arg("--init", param="init", group="action", metavar="FILE",
            help="write the shipped default policy, with comments, to FILE"),
        arg("--check", param="check", group="action", metavar="FILE",
            help="check a policy file and report the first problem"),
        arg("--force", param="force", action="store_true", help="overwrite FILE if it exists"),
    ), output="none"),
    Command("skills", "skill scores 0-100 per rep with interval and evidence count",
            "telesales_lab.analysis.skills:score_skills", (DATA, MONTH, POLICY, FORMAT, LANG),
            output="evaluation"),
    Command("evaluate", "monthly KPI evaluation: five weighted dimensions, total, grade, rank", _evaluate,
            (DATA, MONTH, PERIOD, POLICY, FORMAT, LANG), output="evaluation"),
    Command("awards", "award candidates: best rep per team and overall",
            "telesales_lab.analysis.evaluation:award_candidates", (DATA, MONTH, PERIOD, POLICY, FORMAT, LANG),
            output="evaluation"),
    Command("promotion", "promotion readiness: rep -> team lead -> supervisor",
            "telesales_lab.analysis.evaluation:promotion_readiness", (DATA, MONTH, POLICY, FORMAT, LANG),
            output="evaluation"),
    Command("calibration", "QA calibration: assessor drift (default) or agreement (ICC)", _calibration, (
        DATA, MONTH, POLICY, FORMAT, LANG,
        arg("--agreement", param="agreement", action="store_true",
            help="ICC per panel of assessors instead of drift"),
    ), output="evaluation"),
    Command("classify-customers", "customer classes A/B/C by frequency, amount and potential",
            "telesales_lab.analysis.customers:classify_customers", (DATA, MONTH, POLICY, FORMAT, LANG),
            output="evaluation"),
    Command("care-list", "customers due a revisit, with a birthday soon, or lapsed A (ids only)",
            "telesales_lab.analysis.customers:care_list", (DATA, MONTH, POLICY, FORMAT, LANG),
            output="evaluation"),
    Command("report", "the month's report: every notebook as HTML and .ipynb, one Excel workbook, coaching "
                      "packs, index.html (into OUT/YYYY-MM/)", _report, (
        DATA_DIR, MONTH,
        arg("--out", param="out", default=REPORTS_DIR,
            help=f"parent folder of the monthly reports (default {REPORTS_DIR})"),
        lang("language of headings, labels and table headers (default en)", param="lang"),
        arg("--jobs", param="jobs", type=_positive_int, default=None,
            help="notebooks run at the same time (default 2, or 1 on a one-core machine)"),
        # the file itself, not the loaded dict: the report checks it and hands its path to every kernel
        arg("--policy", param="policy_file", metavar="FILE", default=None,
            help="policy TOML file (default: the shipped policy; see `telesales-lab policy --init`)"),
    ), output="line"),
    Command("rank-scripts", "rank call-script variants per scenario, adjusted for the reps who used them, "
                            "with honest verdicts", RANK_TABLES, (
        DATA, MONTH,
        arg("--by", param="by", only=_MODEL_TABLES[:-1], choices=("customer_class",), default=None,
            help="also rank within customer class (adds a customer_class column after scenario)"),
        arg("--window-months", param="window_months", type=_positive_int, default=1, metavar="N",
            help="months of calls ending with --month (default 1)"),
        arg("--padjust", param="padjust", only=_TESTED_TABLES, choices=("holm", "bh"), default=None,
            help="multiplicity correction of the pairwise tests (default: the policy's [ranking] padjust, "
                 "holm as shipped)"),
        arg("--alpha", param="alpha", only=_MODEL_TABLES, type=float, default=None,
            help="test level and 1 - interval coverage (default: [ranking] alpha, 0.05 as shipped)"),
        arg("--min-connected", param="min_connected", only=_MODEL_TABLES, type=_positive_int, default=None,
            help="connected calls a variant needs to be ranked (default: [ranking] min_connected, 100 as shipped)"),
        arg("--min-reps", param="min_reps", only=_MODEL_TABLES, type=_positive_int, default=None,
            help="reps a variant needs to be ranked (default: [ranking] min_reps, 3 as shipped)"),
        arg("--table", choices=tuple(RANK_TABLES), default="ranking",
            help="which table to print (default ranking; see the README)"),
        arg("--intended-split", param="intended_split", only=("srm",), default="equal",
            help="for --table srm: 'equal' or a CSV (scenario, script_id, share) / JSON file"),
        arg("--phrase-source", param="source", only=("phrases",), choices=("transcript", "script"),
            default="transcript", help="for --table phrases: call transcripts or script texts (default transcript)"),
        replace(POLICY, only=_MODEL_TABLES),
        FORMAT, LANG,
    ), context="script_ranking", switch="table", check=_check_ranking),
    Command("targets", "target attainment, month-end forecast with interval, status; reps and teams",
            "telesales_lab.analysis.targets:targets", (DATA, MONTH, AS_OF, POLICY, FORMAT, LANG),
            context="targets", values=("metric", "status"), explain=_no_targets),
    Command("bonus", "bonus by target attainment: tier, base, multiplier, gates ([bonus] policy)",
            "telesales_lab.analysis.bonus:bonus", (DATA, MONTH, POLICY, FORMAT, LANG),
            output="bonus", context="targets", explain=_no_bonus),
    Command("collections", "signed orders not paid after [collections] days (customer ids only)",
            "telesales_lab.analysis.payments:collections", (DATA, MONTH, AS_OF, POLICY, FORMAT, LANG),
            context="targets", values=("status",)),
    Command("experiments", "script experiments watched every day: always-valid, rep-adjusted intervals and a "
                           "decision per variant", _experiments, (
        arg("data_dir", param="data", help="data set folder"),
        REGISTRY,
        arg("--as-of", param="as_of", default=None, metavar="YYYY-MM-DD",
            help="last day to look at (default: the day of the last call)"),
        EXPERIMENT_ID,
        lang("language of the headers (table format) and of the reasons", param="lang"), FORMAT,
    ), context="experiments", values=("decision",), check=_experiment_registry),
    Command("experiment-plan", "calls needed, expected duration at the current volume, and a rep-blocked "
                               "assignment for each registered experiment", _experiment_plan, (
        arg("data_dir", param="data", help="data set folder"),
        replace(REGISTRY, options=REGISTRY.options | {"help": "the experiment registry (experiments.toml)"}),
        EXPERIMENT_ID,
        arg("--as-of", param="as_of", default=None, metavar="YYYY-MM-DD",
            help="the volume and baseline are taken from the 4 weeks up to this day (default: the last call)"),
        arg("--assignment", param="assignment", action="store_true",
            help="show the rep-blocked assignment (each rep's planned calls per variant) instead"),
        arg("--month", param="month", default=None, metavar="YYYY-MM",
            help="with --assignment: the month whose dials per rep are split (default: the last)"),
        arg("--calls-per-rep", param="calls_per_rep", type=_positive_int, default=None,
            help="with --assignment: split this many calls per rep instead of last month's dials"),
        LANG, FORMAT,
    ), context="experiments", check=_experiment_registry),
    Command("leads", "score every customer who could be called in the month: calibrated sale probability, "
                     "decile, expected value, best window, script, reason", _leads, (
        DATA, MONTH,
        arg("--top", param="top", type=_positive_int, default=None, metavar="N", help="only the N best leads"),
        POLICY, FORMAT,
        lang("language of reason, window and the table headers (CSV keeps snake_case headers)", param="lang"),
    ), context="leads", values=("model",)),
    Command("leads-eval", "out-of-time evaluation of the lead score (AUC, ALIFT, top-half share, Brier) against "
                          "two baselines; --backtest N for a rolling window", _leads_eval, (
        DATA, MONTH,
        arg("--backtest", param="backtest", group="view", group_required=False, type=_positive_int, default=None,
            metavar="N", help="the N months ending with --month, each scored by a model of the months before it, "
                              "and the pooled figures"),
        arg("--calibration", param="calibration", group="view", group_required=False, action="store_true",
            help="the calibration table of --month instead"),
        POLICY, FORMAT, LANG,
    ), context="leads_eval", values=("scorer", "model")),
    Command("call-list", "one call list per rep for a working day (masked phones; CSV for the dialer, xlsx for "
                         "people)", _call_list, (
        DATA,
        arg("--date", param="date", required=True, metavar="YYYY-MM-DD", help="the day to call"),
        arg("--capacity", param="capacity", type=_positive_int, default=None, metavar="N",
            help="places per rep (default: each rep's median dials per day over the last 28 days)"),
        arg("--recency-days", param="recency_days", type=int, default=7, metavar="N",
            help="leave out customers called in the last N days unless a callback is due (default 7)"),
        arg("--spread", param="spread", action="store_true",
            help="do not keep customers with the rep who last spoke to them"),
        arg("--format", param="format", choices=("csv", "xlsx"), default="csv",
            help="csv (to stdout or --out, for the dialer) or xlsx (--out, a sheet per rep)"),
        arg("--out", param="out", metavar="FILE", default=None, help="file to write"),
        POLICY, lang("language of reason and window (and of the xlsx headers)", param="lang"),
    ), check=_check_call_list),
)


# ----------------------------------------------------------------------------- the handler
def _lazy(value):
    """Option values given as functions (``choices``, ``help``) are computed when the parser is built."""
    return value() if callable(value) and not isinstance(value, type) else value


def _add_arguments(parser: argparse.ArgumentParser, command: Command) -> None:
    groups: dict[str, Any] = {}
    for a in command.args:
        options = dict(a.options)
        for key in ("choices", "help"):
            if key in options:
                options[key] = _lazy(options[key])
        target = parser
        if a.group:
            if a.group not in groups:
                groups[a.group] = parser.add_mutually_exclusive_group(required=a.group_required)
            target = groups[a.group]
        target.add_argument(*a.flags, **options)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``telesales-lab`` parser: one subcommand per row of :data:`COMMANDS`.

    With ``only``, just that subcommand gets its arguments (the others keep their name and
    help; ``""``: none), so a run does not import what other commands need to build their
    options.
    """
    parser = argparse.ArgumentParser(
        prog="telesales-lab",
        description="Telephone-sales workbench: call outcomes, fair script ranking, skills, "
                    "monthly KPI evaluation, training plans and coaching packs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help)
        if only is None or only == command.name:
            _add_arguments(p, command)
        p.set_defaults(command_row=command)
    return parser


def run(command: Command, args: argparse.Namespace) -> int:
    """Run one row: load the policy and the data set, call, print. Returns the exit status."""
    values = {a.dest: getattr(args, a.dest) for a in command.args}
    variant = values[command.switch] if command.switch else None
    target = command.call[variant] if command.switch else command.call
    kwargs = {a.param: values[a.dest] for a in command.args
              if a.param and (not a.only or variant in a.only)}
    lang_ = values.get("lang", "en")
    if "lang" in values:
        from telesales_lab.labels import check_lang

        check_lang(lang_)
    policy = None
    if any(a.param == "policy" for a in command.args):
        from telesales_lab.data.policy import load_policy

        policy = load_policy(values[POLICY.dest])
        if "policy" in kwargs:
            kwargs["policy"] = policy
    if command.check is not None:  # sees every option, whichever function the switch picks
        resolve(command.check)(**{a.param: values[a.dest] for a in command.args
                                   if a.param and a.param not in ("data", "policy")}, policy=policy)
    if "data" in kwargs:
        from telesales_lab.data.load import load_dataset

        data_dir = values[DATA.dest]
        kwargs["data"] = data = load_dataset(data_dir)
        if command.note_missing and not data.has(command.note_missing[0]):
            table, sentence = command.note_missing
            _progress(f"{data_dir} has no {table} table: {sentence}")
    result = resolve(target)(**kwargs)
    if command.output == "none" or result is None:  # None: the function wrote its own output
        return 0
    if command.output == "line":
        print(result)
        return 0
    fmt = values.get("format", "table")
    why = resolve(command.explain)(result, **(kwargs | {"lang": lang_})) if command.explain is not None else None
    if why:  # an empty table and the reason: for people instead of it, for scripts beside it
        if fmt == "table":
            print(why)
            return 0
        print(why, file=sys.stderr)
    elif fmt == "table":
        result = TABLE_FORMATS[command.output](result, lang_, command)
    emit(result, fmt)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    names = {c.name for c in COMMANDS}
    # only the named command's options are built; none for `telesales-lab --help`
    parser = build_parser(argv[0] if argv and argv[0] in names else "")
    args = parser.parse_args(argv)
    try:
        return run(args.command_row, args) or 0
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


def entry() -> None:
    """The ``telesales-lab`` command (and ``python -m telesales_lab.cli``): :func:`main`, then
    exit without the interpreter's last garbage collections. Everything is written by then;
    those passes would only scan the modules and objects a run leaves behind (about half a
    second after a monthly report), and the system takes the memory back anyway."""
    import gc

    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
