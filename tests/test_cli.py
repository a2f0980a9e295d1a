"""The command table: every row resolves, has help, prints what its function returns, refuses bad input.

The CSV of each command is compared with the function it names, called directly the way the
command-line handlers called them before the table existed (``check_exact``: bit for bit).
"""

from __future__ import annotations

import inspect
import io
import subprocess
import sys

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from telesales_lab import cli
from telesales_lab.cli import COMMANDS, TABLE_FORMATS, OTHER_OUTPUTS, build_parser, main, resolve

MONTH = "2026-10"
NAMES = [c.name for c in COMMANDS]


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, _ = demo_folder(seed=7, n_calls=20_000)
    return folder


def _targets(command):
    if command.switch:
        return dict(command.call)
    return {None: command.call}


# ----------------------------------------------------------------------------- the table itself
@pytest.mark.parametrize("command", COMMANDS, ids=NAMES)
def test_every_row_has_a_function_that_takes_its_arguments(command):
    assert command.output in TABLE_FORMATS or command.output in OTHER_OUTPUTS
    if command.switch:
        switch = next(a for a in command.args if a.dest == command.switch)
        assert set(switch.options["choices"]) == set(command.call), "every choice of the switch has a function"
    for variant, target in _targets(command).items():
        fn = resolve(target)
        assert callable(fn)
        params = inspect.signature(fn).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for a in command.args:
            if a.param and (not a.only or variant in a.only):
                assert takes_any or a.param in params, f"{command.name} {variant}: {fn.__name__} lacks {a.param}"
        required = [n for n, p in params.items() if p.default is p.empty
                    and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        given = {a.param for a in command.args if a.param and (not a.only or variant in a.only)}
        assert set(required) <= given, f"{command.name} {variant}: {fn.__name__} needs {set(required) - given}"
    if command.check is not None:
        assert callable(resolve(command.check))


def test_names_are_unique_and_every_row_is_a_subcommand():
    assert len(NAMES) == len(set(NAMES))
    sub = build_parser()._subparsers._group_actions[0]
    assert list(sub.choices) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_help_of_each_command(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: telesales-lab {name} ")
    command = COMMANDS[NAMES.index(name)]
    for a in command.args:
        assert a.options.get("metavar", a.flags[0]) in out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command.name in out


def test_help_does_not_import_the_analyses():
    code = ("import sys\nfrom telesales_lab.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m in ('pandas', 'telesales_lab.analysis.outcomes')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_command_exits_with_mains_code_and_flushes_its_output(tiny_dir, tmp_path):
    """``python -m telesales_lab.cli`` (the console script's entry): the exit status is main's,
    and what it printed reaches the pipe although the last garbage collections are skipped."""
    ok = subprocess.run([sys.executable, "-m", "telesales_lab.cli", "validate", str(tiny_dir)],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr
    bad = subprocess.run([sys.executable, "-m", "telesales_lab.cli", "validate", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_a_new_row_is_a_new_command(monkeypatch, capsys, tiny_dir):
    """Adding one row is all a command needs: parser, loading, call, formats."""
    def calls_per_rep(data, month):
        calls = data.calls
        return calls.groupby("rep_id", observed=True).size().rename("calls").reset_index()

    row = cli.Command("calls-per-rep", "calls per rep", calls_per_rep, (cli.DATA, cli.MONTH, cli.FORMAT, cli.LANG))
    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + (row,))
    assert main(["calls-per-rep", str(tiny_dir), "--month", MONTH, "--format", "csv"]) == 0
    assert capsys.readouterr().out == "rep_id,calls\nL1,1\nR1,2\nR2,1\n"
    assert main(["calls-per-rep", str(tiny_dir), "--month", MONTH, "--lang", "zh"]) == 0
    assert "rep_id" not in capsys.readouterr().out.splitlines()[0]  # translated header


# ----------------------------------------------------------------------------- outputs equal the functions'
def _csv(frame) -> str:
    """The frame as the CLI's ``--format csv`` writes it (formula-safe text cells)."""
    from telesales_lab.present.csv_safe import write_csv

    buf = io.StringIO()
    write_csv(frame, buf)
    return buf.getvalue()


def _expected(case, data, policy):
    from telesales_lab.analysis import bonus, calibration, customers, evaluation, outcomes, payments, skills, targets
    from telesales_lab.analysis import ranking as sr
    from telesales_lab.analysis import training

    return {
        "funnel-team": lambda: outcomes.funnel(data, MONTH, by="team"),
        "funnel-hour": lambda: outcomes.funnel(data, MONTH, by="hour"),
        "plan": lambda: training.plan(data, MONTH, policy=None),
        "plan-rep": lambda: training.plan(data, MONTH, rep_id="R006"),
        "training-effect": lambda: training.training_effect(data),
        "skills": lambda: skills.score_skills(data, MONTH, policy),
        "evaluate": lambda: evaluation.evaluate(data, MONTH, policy),
        "evaluate-quarter": lambda: evaluation.evaluate_period(data, "quarter", MONTH, policy),
        "awards-year": lambda: evaluation.award_candidates(data, MONTH, "year", policy),
        "promotion": lambda: evaluation.promotion_readiness(data, MONTH, policy),
        "calibration": lambda: calibration.assessor_drift(data, MONTH, policy),
        "calibration-agreement": lambda: calibration.agreement(data, MONTH, policy),
        "classify-customers": lambda: customers.classify_customers(data, MONTH, policy),
        "care-list": lambda: customers.care_list(data, MONTH, policy),
        "rank-ranking": lambda: sr.rank_scripts(data, MONTH),
        "rank-pairwise-bh": lambda: sr.pairwise_comparisons(data, MONTH, padjust="bh", alpha=0.1, min_reps=2),
        "rank-revenue-class": lambda: sr.revenue_per_call(data, MONTH, by="customer_class"),
        "rank-calls-needed": lambda: sr.calls_needed(data, MONTH, window_months=2),
        "rank-allocation": lambda: sr.thompson_allocation(data, MONTH, min_connected=50),
        "rank-plan": lambda: sr.assignment_plan(data, MONTH),
        "rank-srm": lambda: sr.srm_check(data, MONTH, "equal"),
        "rank-phrases": lambda: sr.phrase_analysis(data, MONTH, source="script"),
        "targets": lambda: targets.targets(data, MONTH, policy=policy),
        "targets-as-of": lambda: targets.targets(data, MONTH, as_of="2026-10-12", policy=policy),
        "bonus": lambda: bonus.bonus(data, MONTH, policy),
        "collections": lambda: payments.collections(data, MONTH, policy=policy),
    }[case]()


CASES = {
    "funnel-team": ["funnel", "--by", "team"],
    "funnel-hour": ["funnel", "--by", "hour"],
    "plan": ["plan"],
    "plan-rep": ["plan", "--rep", "R006"],
    "training-effect": ["training-effect"],
    "skills": ["skills"],
    "evaluate": ["evaluate"],
    "evaluate-quarter": ["evaluate", "--period", "quarter"],
    "awards-year": ["awards", "--period", "year"],
    "promotion": ["promotion"],
    "calibration": ["calibration"],
    "calibration-agreement": ["calibration", "--agreement"],
    "classify-customers": ["classify-customers"],
    "care-list": ["care-list"],
    "rank-ranking": ["rank-scripts"],
    "rank-pairwise-bh": ["rank-scripts", "--table", "pairwise", "--padjust", "bh", "--alpha", "0.1", "--min-reps", "2"],
    "rank-revenue-class": ["rank-scripts", "--table", "revenue", "--by", "customer_class"],
    "rank-calls-needed": ["rank-scripts", "--table", "calls-needed", "--window-months", "2"],
    "rank-allocation": ["rank-scripts", "--table", "allocation", "--min-connected", "50"],
    "rank-plan": ["rank-scripts", "--table", "plan"],
    "rank-srm": ["rank-scripts", "--table", "srm"],
    "rank-phrases": ["rank-scripts", "--table", "phrases", "--phrase-source", "script"],
    "targets": ["targets"],
    "targets-as-of": ["targets", "--as-of", "2026-10-12"],
    "bonus": ["bonus"],
    "collections": ["collections"],
}
_NO_MONTH = {"training-effect"}


@pytest.mark.parametrize("case", list(CASES))
def test_csv_equals_the_function(case, demo, capsys):
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.policy import load_policy

    argv = [CASES[case][0], str(demo)] + ([] if case in _NO_MONTH else ["--month", MONTH]) + CASES[case][1:]
    assert main(argv + ["--format", "csv"]) == 0
    out = capsys.readouterr().out
    expected = _expected(case, load_dataset(demo), load_policy())
    assert out == _csv(expected)
    assert_frame_equal(pd.read_csv(io.StringIO(out)), pd.read_csv(io.StringIO(_csv(expected))), check_exact=True)
    assert main(argv + ["--format", "csv-raw"]) == 0
    raw = io.StringIO()
    expected.to_csv(raw, index=False, lineterminator="\n")
    assert capsys.readouterr().out == raw.getvalue()


def test_table_format_translates_headers(demo, capsys):
    assert main(["evaluate", str(demo), "--month", MONTH, "--lang", "zh"]) == 0
    zh = capsys.readouterr().out
    assert main(["evaluate", str(demo), "--month", MONTH]) == 0
    en = capsys.readouterr().out
    assert "rep_id" in en.splitlines()[0] and "rep_id" not in zh.splitlines()[0]


def test_validate_and_policy_print_one_line(demo, tmp_path, capsys):
    assert main(["validate", str(demo)]) == 0
    assert capsys.readouterr().out.startswith(f"{demo}: valid (reps ")
    target = tmp_path / "p.toml"
    assert main(["policy", "--init", str(target)]) == 0
    assert main(["policy", "--check", str(target)]) == 0
    assert capsys.readouterr().out == f"{target}: valid policy\n"
    assert main(["policy", "--init", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_missing_optional_table_is_noted(tiny_dir, capsys):
    assert main(["training-effect", str(tiny_dir), "--format", "csv"]) == 0
    assert f"{tiny_dir} has no training_log table: no training effects to estimate" in capsys.readouterr().err


def test_an_empty_table_says_why(tiny_dir, capsys):
    """No targets: the sentence instead of the table, or on stderr beside the empty CSV."""
    assert main(["targets", str(tiny_dir), "--month", MONTH, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "no targets set: the data set has no targets table\n"
    assert captured.out.startswith("rep_id,team,metric,") and len(captured.out.splitlines()) == 1
    assert main(["bonus", str(tiny_dir), "--month", MONTH, "--lang", "zh"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "未设定目标: the data set has no targets table\n"


# ----------------------------------------------------------------------------- bad input: exit 2, one line
BAD = [
    (["funnel", "{d}", "--month", "2026-13"], r"^error: month == '2026-13', must be YYYY-MM"),
    (["skills", "{d}", "--month", "2020-01"], r"^error: no calls in month 2020-01"),
    (["evaluate", "{d}", "--month", MONTH, "--policy", "{d}/nowhere.toml"], r"policy file does not exist"),
    (["plan", "{d}", "--month", MONTH, "--rep", "NOSUCH"], r"rep_id == 'NOSUCH': no such rep"),
    (["training-effect", "{d}", "--module", "NOSUCH"], r"module_id == 'NOSUCH'"),
    (["rank-scripts", "{d}", "--month", MONTH, "--alpha", "1.5"], r"alpha == 1.5, must be a number strictly"),
    (["rank-scripts", "{d}", "--month", MONTH, "--table", "srm", "--alpha", "0"], r"alpha == 0"),
    (["rank-scripts", "{d}", "--month", MONTH, "--table", "srm", "--intended-split", "{d}/no.csv"],
     r"intended_split file .* does not exist"),
    (["funnel", "{d}/nowhere", "--month", MONTH], r"data folder does not exist"),
    (["policy", "--check", "{d}/nowhere.toml"], r"policy file does not exist"),
]


@pytest.mark.parametrize("argv,match", BAD, ids=[" ".join(a[:1] + a[3:]) for a, _ in BAD])
def test_bad_values_exit_2_with_one_line(argv, match, demo, capsys):
    import re

    assert main([a.format(d=demo) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert re.search(match, captured.err, re.M)
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("argv", [
    ["funnel", "x", "--month", MONTH, "--by", "nosuch"],
    ["rank-scripts", "x", "--month", MONTH, "--min-connected", "0"],
    ["rank-scripts", "x", "--month", MONTH, "--window-months", "x"],
    ["skills", "x"],
    ["skills", "x", "--month", MONTH, "--lang", "fr"],
    ["demo", "--calls", "0"],
    ["policy"],
    ["nosuch"],
    [],
])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: telesales-lab" in err and "Traceback" not in err


def test_experiment_rows_equal_their_functions(demo, capsys):
    from telesales_lab.analysis.experiments import (experiments_table, monitor_experiments, plan_assignment,
                                                    plan_experiment)
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.registry import load_registry

    registry = demo / "experiments.toml"
    data, experiments = load_dataset(demo), load_registry(registry)
    assert main(["experiments", str(demo), "--registry", str(registry), "--format", "csv"]) == 0
    assert capsys.readouterr().out == _csv(experiments_table(monitor_experiments(data, experiments), lang="en"))
    assert main(["experiment-plan", str(demo), "--registry", str(registry), "--format", "csv"]) == 0
    assert capsys.readouterr().out == _csv(plan_experiment(data, experiments))
    one = experiments[0].id
    assert main(["experiment-plan", str(demo), "--registry", str(registry), "--id", one, "--assignment",
                 "--calls-per-rep", "40", "--format", "csv"]) == 0
    assert capsys.readouterr().out == _csv(plan_assignment(data, experiments[:1], calls_per_rep=40))
    assert main(["experiments", str(demo), "--registry", str(registry), "--id", "NOSUCH"]) == 2
    assert capsys.readouterr().err.startswith("error: --id == 'NOSUCH': no such experiment in ")
