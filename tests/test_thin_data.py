"""Every valid data set gets every analysis and a full report: thin data sets drawn by hypothesis.

Which optional pieces exist (assessments, feedback, orders, scripts per scenario, reps and a
placeholder agent, months of history, known customers, transcripts) is drawn from
:data:`thin_data.PIECES`. For each data set every CLI analysis command exits 0, or 2 with one
line where the request cannot be served (a month without calls, nobody to evaluate), and
never with a traceback; the full report runs and no page shows ``None``, ``nan`` or ``<NA>``.

Profiles: by default a few drawn data sets go through the commands and one thin data set
through the report (about a minute). ``TELESALES_THIN_PROFILE=long`` draws many more and
runs the full report on each of them (``TELESALES_THIN_EXAMPLES=N`` sets how many).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import write_tables
from telesales_lab.cli import main
from thin_data import PIECES, thin_tables

LONG = os.environ.get("TELESALES_THIN_PROFILE", "") == "long"
#: Drawn data sets (besides the explicit thinnest one): 3 by default, 40 in the long profile,
#: or TELESALES_THIN_EXAMPLES.
EXAMPLES = int(os.environ.get("TELESALES_THIN_EXAMPLES") or (40 if LONG else 3))
MONTH = "2026-10"
MISSING_TEXT = re.compile(r"(?<![\w-])(None|nan|NaN|<NA>|NaT)(?![\w-])")

#: Every analysis command of the CLI, with its options (the report is tested on its own).
COMMANDS = [
    ["funnel", "--by", "rep"], ["funnel", "--by", "team"], ["funnel", "--by", "script"],
    ["funnel", "--by", "customer_class"],
    ["rank-scripts"], ["rank-scripts", "--by", "customer_class", "--window-months", "3"],
    ["rank-scripts", "--table", "pairwise"], ["rank-scripts", "--table", "revenue"],
    ["rank-scripts", "--table", "calls-needed"], ["rank-scripts", "--table", "allocation"],
    ["rank-scripts", "--table", "plan"], ["rank-scripts", "--table", "srm"],
    ["rank-scripts", "--table", "phrases"],
    ["skills"], ["evaluate"], ["evaluate", "--period", "quarter"], ["awards"], ["promotion"],
    ["calibration"], ["calibration", "--agreement"], ["classify-customers"], ["care-list"],
    ["plan"], ["training-effect"],
]
#: Messages allowed with exit 2 on a thin data set: requests that truly cannot be served.
SERVED_NOT = re.compile(r"no one to evaluate|nobody|no reps or team leads|no calls|no skill scores")

thin = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in PIECES.items()})


def _visible(page: str) -> str:
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return re.sub(r"(?s)<[^>]+>", " ", page)


def run_commands(folder: Path, capsys) -> dict[str, int]:
    """Exit status of every command; fails on a traceback or an unexplained exit 2."""
    codes = {}
    for cmd in COMMANDS:
        argv = [cmd[0], str(folder)] + (["--month", MONTH] if cmd[0] != "training-effect" else []) + cmd[1:]
        argv += ["--format", "csv"]
        code = main(argv)  # any exception other than the project's own is a traceback: the test fails
        out = capsys.readouterr()
        assert code in (0, 2), (argv, code)
        if code == 2:
            assert SERVED_NOT.search(out.err), (argv, out.err)
            assert len(out.err.strip().splitlines()) == 1, (argv, out.err)
        codes[" ".join(cmd)] = code
    return codes


def report_pages_are_clean(folder: Path, out: Path, lang: str = "en") -> list[Path]:
    assert main(["report", str(folder), "--month", MONTH, "--out", str(out), "--lang", lang]) == 0
    pages = sorted((out / MONTH).rglob("*.html"))
    for page in pages:
        found = MISSING_TEXT.findall(_visible(page.read_text(encoding="utf-8")))
        assert not found, f"{page.name} shows {found[:3]}"
    return pages


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pieces=thin)
@example(pieces={"assessments": "none", "feedback": "none", "orders": "none", "scripts_per_scenario": 1,
                 "reps": "one", "months": 1, "customers_known": False, "transcripts": False})
def test_every_command_runs_on_thin_data(pieces, capsys):
    folder = Path(tempfile.mkdtemp(prefix="thin-"))
    try:
        write_tables(folder / "data", thin_tables(**pieces))
        assert main(["validate", str(folder / "data")]) == 0
        capsys.readouterr()
        codes = run_commands(folder / "data", capsys)
        assert codes["funnel --by rep"] == 0 and codes["skills"] == 0
        if LONG:
            report_pages_are_clean(folder / "data", folder / "reports")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_thin_data_set_gets_a_full_report(tmp_path):
    """The shared small report run: many reps and a placeholder agent, six months, no orders,
    no feedback, no assessments, anonymous customers, transcripts."""
    folder = write_tables(tmp_path / "data", thin_tables(
        assessments="none", feedback="none", orders="none", scripts_per_scenario=3, reps="many+placeholder",
        months=6, customers_known=False, transcripts=True))
    pages = report_pages_are_clean(folder, tmp_path / "reports")
    names = {p.name for p in pages}
    assert "NO_AGENT.html" not in names  # the placeholder agent gets no coaching pack
    assert "R02.html" in names and "R01.html" in names  # reps, and the team lead who calls
