"""Replacing a month's report: one run at a time, leftovers of killed runs repaired, the old
or the new report in place at every instant, kernel connection files kept in the build folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from telesales_lab import report
from telesales_lab.cli import main
from telesales_lab.exceptions import ReportError

MONTH = "2026-10"


@pytest.fixture(scope="module")
def small(demo_folder):
    return demo_folder(n_teams=2, reps_per_team=5, n_customers=400, n_calls=4000, months=3)[0]


def _old_report(out: Path, text: str = "old") -> Path:
    folder = out / MONTH
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(text, encoding="utf-8")
    return folder


def test_a_second_run_on_the_same_month_exits_2_clearly(small, tmp_path, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    with report.month_lock(out, MONTH):
        with pytest.raises(ReportError, match=rf"{MONTH}: another report of {MONTH} is being written there "
                                              r"\(process \d+\); wait for it to finish"):
            report.run_report(small, MONTH, out=out, progress=False, notebooks=[], coaching=False)
        assert main(["report", str(small), "--month", MONTH, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "another report of 2026-10 is being written" in err and "Traceback" not in err
    # released: the next run goes ahead, and leaves no lock file behind
    report.run_report(small, MONTH, out=out, progress=False, notebooks=[], coaching=False)
    assert sorted(p.name for p in out.iterdir()) == [MONTH]


def test_a_lock_left_by_a_killed_run_does_not_block(small, tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / f".{MONTH}.lock").write_text("99999999")  # the file stays after kill -9; the flock does not
    report.run_report(small, MONTH, out=out, progress=False, notebooks=[], coaching=False)
    assert (out / MONTH / "index.html").is_file()


def test_start_restores_the_old_report_and_removes_leftovers(small, tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    # killed between the two renames: no month folder, the old report hidden
    hidden = out / f".{MONTH}.old-1a2b3c4d"
    hidden.mkdir()
    (hidden / "index.html").write_text("old", encoding="utf-8")
    for k in range(3):  # killed while building
        junk = out / f".{MONTH}.tmp-dead{k}"
        (junk / ".runtime").mkdir(parents=True)
        (junk / ".runtime" / "kernel-x.json").write_text("{}")
    other = out / ".2026-09.tmp-live"  # another month's run is none of this run's business
    other.mkdir()
    done = report.recover(out, MONTH)
    assert done[0] == "restored the previous report from .2026-10.old-1a2b3c4d"
    assert len(done) == 4
    assert (out / MONTH / "index.html").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == [".2026-09.tmp-live", MONTH]
    # and a run does it on its own at start
    for k in range(2):
        (out / f".{MONTH}.tmp-dead{k}").mkdir()
    report.run_report(small, MONTH, out=out, progress=False, notebooks=[], coaching=False)
    assert sorted(p.name for p in out.iterdir()) == [".2026-09.tmp-live", MONTH]


_KILLED_SWAP = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from telesales_lab import report

    tmp, final, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    real_replace, real_exchange = os.replace, report._exchange
    calls = []
    if mode == "two-renames":
        report._exchange = lambda a, b: False
        def replace(a, b):
            calls.append(a)
            if len(calls) == 2:
                os._exit(9)  # killed between the renames
            real_replace(a, b)
        os.replace = replace
    else:
        def exchange(a, b):
            ok = real_exchange(a, b)
            os._exit(9 if ok else 3)  # killed right after the exchange
        report._exchange = exchange
    report._swap_in(tmp, final)
""")


@pytest.mark.parametrize("mode", ["two-renames", "exchange"])
def test_a_kill_during_the_swap_leaves_a_report_in_place(tmp_path, mode):
    out = tmp_path / "reports"
    _old_report(out, "old")
    new = out / f".{MONTH}.tmp-abcd1234"
    new.mkdir()
    (new / "index.html").write_text("new", encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", _KILLED_SWAP, str(new), str(out / MONTH), mode],
                         capture_output=True, text=True)
    if mode == "exchange" and run.returncode == 3:
        pytest.skip("this file system cannot exchange two folders atomically (renameat2)")
    assert run.returncode == 9, run.stderr
    if mode == "exchange":  # the new report is in place at once; the old waits in the build folder
        assert (out / MONTH / "index.html").read_text() == "new"
    else:  # the gap the two renames leave: no month folder until the next run repairs it
        assert not (out / MONTH).exists()
    report.recover(out, MONTH)
    expected = "new" if mode == "exchange" else "old"
    assert (out / MONTH / "index.html").read_text() == expected
    assert sorted(p.name for p in out.iterdir()) == [MONTH]


def test_swap_uses_the_atomic_exchange_where_available(tmp_path, monkeypatch):
    out = tmp_path / "reports"
    _old_report(out)
    new = out / f".{MONTH}.tmp-1"
    new.mkdir()
    (new / "index.html").write_text("new")
    if not report._exchange(new, out / MONTH):
        pytest.skip("this file system cannot exchange two folders atomically (renameat2)")
    assert (out / MONTH / "index.html").read_text() == "new" and (new / "index.html").read_text() == "old"
    report._exchange(new, out / MONTH)  # back
    monkeypatch.setattr(report.os, "replace", lambda *a: pytest.fail("renamed in two steps"))
    report._swap_in(new, out / MONTH)
    assert (out / MONTH / "index.html").read_text() == "new" and not new.exists()


@pytest.mark.slow
def test_kernel_connection_files_live_in_the_build_folder(small, tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = new_code_cell('data_dir = "x"\nmonth = "2026-10"\nlang = "en"\noutput_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(
        "import os, json\nfrom ipykernel import get_connection_file\n"
        "json.dump({'file': get_connection_file(), 'cwd': os.getcwd()}, open('conn.json', 'w'))")]
    nbformat.write(nb, nbdir / "conn.ipynb")
    out = tmp_path / "reports"
    folder = report.run_report(small, MONTH, out=out, progress=False, notebooks=["conn.ipynb"],
                               notebooks_dir=nbdir, coaching=False)
    seen = json.loads((folder / "conn.json").read_text())
    build = Path(seen["cwd"])
    assert build.name.startswith(f".{MONTH}.tmp-") and build.parent == out.resolve()
    assert Path(seen["file"]).parent == build / ".runtime"
    assert not Path(seen["file"]).exists()
    assert not (folder / ".runtime").exists()
