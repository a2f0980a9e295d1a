"""The monthly report: papermill runs into a temporary folder, swapped in; HTML, Excel, index.

One real report (lang zh) is built once per module, from the notebooks of ``report.NOTEBOOKS``
that exist plus a fixture notebook of our own, on a small generated data set; most tests
look at that report. Each report run starts a kernel per notebook, so runs are kept few.
"""

from __future__ import annotations

import base64
import hashlib
import gc
import io as stdio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from telesales_lab import report
from telesales_lab.cli import main
from telesales_lab.exceptions import DataValidationError, ParameterError, ReportError
from telesales_lab.labels import t

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-10"
PARAMS_CELL = (
    'data_dir: str = "../data/demo"  # data set folder\n'
    'month: str = "2026-10"  # month to analyse\n'
    'lang: str = "en"  # en or zh\n'
    'output_dir: str = "../reports/scratch"  # where tables are written'
)


def _notebook(path: Path, *cells: str, title: str = "# Fixture", parameters: bool = True) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    body = [new_markdown_cell(title), new_code_cell("from telesales_lab import report\nfrom telesales_lab.data import load as io")]
    if parameters:
        p = new_code_cell(PARAMS_CELL)
        p.metadata["tags"] = ["parameters"]
        body.append(p)
    body += [new_code_cell(c) for c in cells]
    nb.cells = body
    nbformat.write(nb, path)
    return path


FIXTURE_CELLS = (
    "from matplotlib.figure import Figure\n"
    "from telesales_lab.analysis import outcomes\n"
    "from telesales_lab.present import plots as plotting\n"
    "from telesales_lab.labels import t, translate_columns",
    "data = io.load_dataset(data_dir)\n"
    "plotting.setup(lang)\n"
    'by_team = outcomes.funnel(data, month, by="team")\n'
    'report.save_table(by_team, "funnel_by_team", output_dir)\n'
    "translate_columns(by_team, lang)",
    'report.save_table(by_team.set_index("team")[["dials", "sales"]], "dials_by_team", output_dir)',
    "fig = Figure(figsize=(8, 4))\n"
    "ax = fig.subplots()\n"
    'ax.bar(by_team["team"], by_team["dials"])\n'
    'ax.set_title(t("dials", lang))\n'
    "fig",
)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    from telesales_lab.data.demo import write_demo

    folder = tmp_path_factory.mktemp("data") / "small"
    write_demo(folder, n_teams=2, reps_per_team=5, n_customers=400, n_calls=4000, months=3)
    return folder


def _real_notebooks() -> list[str]:
    return [n for n in report.NOTEBOOKS if (ROOT / "notebooks" / n).is_file()]


@pytest.fixture(scope="module")
def built(small_data, tmp_path_factory):
    """A Chinese report of the fixture notebook and every existing report notebook."""
    nbdir = tmp_path_factory.mktemp("notebooks")
    real = _real_notebooks()
    for name in real:
        shutil.copy(ROOT / "notebooks" / name, nbdir / name)
    _notebook(nbdir / "00_fixture.ipynb", *FIXTURE_CELLS, title="# 报告测试 Report fixture")
    names = ["00_fixture.ipynb"] + real
    out = tmp_path_factory.mktemp("reports")
    folder = report.run_report(small_data, MONTH, out=out, lang="zh", progress=False,
                               notebooks=names, notebooks_dir=nbdir)
    return {"folder": folder, "out": out, "names": names, "data": small_data}


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- the built report
@pytest.mark.slow
def test_report_writes_every_file_and_nothing_else(built):
    folder = built["folder"]
    assert folder == (built["out"] / MONTH).resolve()
    assert sorted(p.name for p in built["out"].iterdir()) == [MONTH]  # no temporary folder left over
    for name in built["names"]:
        stem = Path(name).stem
        assert (folder / name).is_file() and (folder / f"{stem}.html").is_file()
    assert (folder / "index.html").is_file()
    assert (folder / f"{MONTH}_tables.xlsx").is_file()
    assert {"funnel_by_team.parquet", "dials_by_team.parquet"} <= {p.name for p in (folder / "tables").iterdir()}
    assert not (folder / ".logs").exists()
    index = (folder / "index.html").read_text(encoding="utf-8")
    for name in built["names"]:
        assert f'href="{Path(name).stem}.html"' in index and f'href="{name}"' in index
    assert f'href="{MONTH}_tables.xlsx"' in index
    assert t("report.title", "zh") in index and t("report.analyses", "zh") in index


@pytest.mark.slow
def test_index_headline_is_the_call_outcomes_table(built):
    """The index reads the call outcomes page's saved funnel change: the same card as one computed
    from the data set (the Styler's random table id aside)."""
    from telesales_lab.data.load import load_dataset

    folder = built["folder"]
    assert report._table_meta(folder / "tables" / "funnel_change_total.parquet")["notebook"] == \
        report.HEADLINE_TABLE[0]
    uid = re.compile(r"T_[0-9a-f]{5}")
    saved = report._headline(None, MONTH, "zh", folder)
    computed = report._headline(load_dataset(built["data"]), MONTH, "zh")
    assert uid.sub("T_", saved) == uid.sub("T_", computed)
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert uid.sub("T_", saved) in uid.sub("T_", index)


@pytest.mark.slow
def test_injected_parameters_are_exactly_the_four(built):
    folder, data = built["folder"], built["data"]
    expected = {"data_dir": str(Path(data).resolve()), "month": MONTH, "lang": "zh", "output_dir": "."}
    for name in built["names"]:
        nb = nbformat.read(folder / name, as_version=4)
        meta = nb.metadata["papermill"]
        assert meta["parameters"] == expected
        assert meta.get("environment_variables", {}) == {}
        assert meta["output_path"] == str(folder / name)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1
        namespace: dict = {}
        exec(injected[0].source, {}, namespace)  # the cell holds assignments of literals only
        assert namespace == expected
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == []


@pytest.mark.slow
def test_html_hides_code_and_embeds_images(built):
    html = (built["folder"] / "00_fixture.html").read_text(encoding="utf-8")
    assert "report.save_table" not in html and "load_dataset" not in html  # no input cells
    assert "<title>报告测试 Report fixture</title>" in html
    assert re.search(r"<td>[\u4e00-\u9fff]{2}[一二三]组</td>", html)  # Chinese team names in the table
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(pngs) == 1  # the fixture's one figure, rendered as an image rather than its repr
    assert base64.b64decode(pngs[0]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<Figure size" not in html
    assert not re.search(r'<script[^>]+src="https?://', html)  # opens offline
    assert re.findall(r"<img[^>]*>", html) and all('alt="图表"' in tag for tag in re.findall(r"<img[^>]*>", html))
    outputs = re.findall(r'<div class="[^"]*\bjp-OutputArea-output\b[^"]*"[^>]*>', html)
    assert outputs and all('tabindex="0"' in tag for tag in outputs)  # focusable, as nbconvert makes them


@pytest.mark.slow
def test_workbook_has_a_sheet_per_table_with_chinese_headers(built):
    from openpyxl import load_workbook

    folder = built["folder"]
    book = load_workbook(folder / f"{MONTH}_tables.xlsx", read_only=True)
    saved = sorted(p.stem for p in (folder / "tables").glob("*.parquet"))
    assert len(book.sheetnames) == len(saved)
    assert book.sheetnames[:2] == ["funnel_by_team", "dials_by_team"]  # fixture first, in save order
    frame = pd.read_parquet(folder / "tables" / "funnel_by_team.parquet")
    rows = list(book["funnel_by_team"].iter_rows(values_only=True))
    assert list(rows[0]) == [t(c, "zh") for c in frame.columns]
    assert rows[0][:3] == ("小组", "拨打量", "接通量")
    assert len(rows) == len(frame) + 1
    body = pd.DataFrame(rows[1:], columns=frame.columns)
    assert body["team"].tolist() == frame["team"].tolist()
    assert body["dials"].tolist() == frame["dials"].tolist()
    pd.testing.assert_series_equal(body["conversion_rate"].astype(float), frame["conversion_rate"],
                                   check_names=False)
    dials = pd.read_parquet(folder / "tables" / "dials_by_team.parquet")
    assert list(dials.columns) == ["team", "dials", "sales"]  # the index was kept as a column
    assert sorted(dials["team"]) == sorted(frame["team"])


@pytest.mark.slow
def test_coaching_packs_are_fanned_out_and_linked(built):
    folder = built["folder"]
    packs = sorted(p.name for p in (folder / "coaching").glob("*.html"))
    assert packs
    index = (folder / "index.html").read_text(encoding="utf-8")
    for name in packs:
        assert f'href="coaching/{name}"' in index


@pytest.mark.slow
def test_a_real_report_holds_no_customer_phone_or_name(built, tmp_path):
    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.privacy import scan_outputs

    data = load_dataset(built["data"])
    assert scan_outputs(built["folder"], data) == []
    # the scan does look: the same report with one customer planted in a copy is caught
    customer = data.customers.iloc[5]
    planted = tmp_path / "planted"
    shutil.copytree(built["folder"], planted)
    with open(planted / "00_fixture.html", "a", encoding="utf-8") as f:
        f.write(f"<p>{customer['phone']}</p>")
    found = scan_outputs(planted, data)
    assert [(x.file, x.kind, x.customer_id) for x in found] == [("00_fixture.html", "phone", customer["customer_id"])]


# ----------------------------------------------------------------------------- failures
@pytest.mark.slow
def test_failing_notebook_leaves_previous_report_untouched(small_data, tmp_path):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _notebook(nbdir / "ok.ipynb", 'report.save_table(io.load_dataset(data_dir).scripts[["script_id"]], "scripts", output_dir)')
    _notebook(nbdir / "bad.ipynb", "x = 1", "raise ValueError('planted failure in ' + month)")
    out = tmp_path / "reports"
    report.run_report(small_data, MONTH, out=out, progress=False, notebooks=["ok.ipynb"],
                      notebooks_dir=nbdir, coaching=False)
    before = _tree(out)
    assert f"{MONTH}/index.html" in before and f"{MONTH}/{MONTH}_tables.xlsx" in before
    with pytest.raises(ReportError, match=r"notebook bad\.ipynb failed: cell 5 \(raise ValueError.*\): "
                                          r"ValueError: planted failure in 2026-10$"):
        report.run_report(small_data, MONTH, out=out, progress=False, notebooks=["ok.ipynb", "bad.ipynb"],
                          notebooks_dir=nbdir, coaching=False)
    assert _tree(out) == before  # byte for byte, and no temporary folder left beside it
    assert sorted(p.name for p in out.iterdir()) == [MONTH]

    # a notebook that prints a customer's phone number is refused too, masked in the message
    _notebook(nbdir / "leaky.ipynb",
              "print(io.load_dataset(data_dir).customers.sort_values('customer_id').phone.iloc[0])")
    customers = pd.read_csv(small_data / "customers.csv", dtype=str).sort_values("customer_id")
    phone, cid = customers["phone"].iloc[0], customers["customer_id"].iloc[0]
    with pytest.raises(ReportError, match=rf"not published: leaky\.html: phone of customer {cid} "
                                          rf"\({phone[:3]}\*\*\*\*{phone[-4:]}\) x1; leaky\.ipynb"):
        report.run_report(small_data, MONTH, out=out, progress=False, notebooks=["leaky.ipynb"],
                          notebooks_dir=nbdir, coaching=False)
    assert _tree(out) == before


@pytest.mark.slow
def test_notebooks_share_a_kernel_but_not_a_namespace(small_data, tmp_path):
    """One lane: the three notebooks run in one kernel (one process, the data set loaded once and
    shared), each starting with an empty namespace and its own name for save_table; a failure
    in the last names that notebook and its cell."""
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    record = ("import json, os\n"
              "seen = {'pid': os.getpid(), 'leftover': 'planted' in dir(), "
              "'notebook': os.environ.get('TELESALES_REPORT_NOTEBOOK'), "
              "'data': id(io.load_dataset(data_dir)), 'gc': list(__import__('gc').get_threshold()), "
              "'history': get_ipython().history_manager.enabled, 'frozen': __import__('gc').get_freeze_count(), "
              "'pyplot': 'matplotlib.pyplot' in __import__('sys').modules}\n"
              "from matplotlib.figure import Figure\n"
              "fig = Figure(); fig.subplots().plot([1, 2])\n"
              "seen['png'] = 'image/png' in get_ipython().display_formatter.format(fig)[0]\n"
              "json.dump(seen, open(f'{NAME}.json', 'w'))\nplanted = 1")
    for name in ("a", "b"):
        _notebook(nbdir / f"{name}.ipynb", record.replace("{NAME}", name),
                  f'report.save_table(io.load_dataset(data_dir).scripts[["script_id"]], "t_{name}", output_dir)')
    before = gc.get_threshold()
    folder = report.run_report(small_data, MONTH, out=tmp_path / "reports", progress=False,
                               notebooks=["a.ipynb", "b.ipynb"], notebooks_dir=nbdir, coaching=False, jobs=1)
    assert gc.get_threshold() == before  # the caller's collection thresholds are put back
    a, b = (json.loads((folder / f"{n}.json").read_text()) for n in "ab")
    assert a["pid"] == b["pid"] and a["data"] == b["data"]
    # batch kernels: garbage collected less often, no input history written to the user's profile
    assert a["gc"] == b["gc"] == list(report.GC_THRESHOLDS) and a["history"] is b["history"] is False
    # what survived the reset before each notebook (modules, the data set) is left out of collections
    assert 0 < a["frozen"] <= b["frozen"]
    # a figure shown without plots.setup() is an image, and no kernel imported pyplot to make it so
    assert a["png"] is b["png"] is True and a["pyplot"] is b["pyplot"] is False
    assert a["leftover"] is False and b["leftover"] is False
    assert (a["notebook"], b["notebook"]) == ("a.ipynb", "b.ipynb")
    assert report._table_meta(folder / "tables" / "t_b.parquet")["notebook"] == "b.ipynb"

    _notebook(nbdir / "c.ipynb", "print(planted)")  # b's variable must not reach c
    with pytest.raises(ReportError, match=r"notebook c\.ipynb failed: cell 4 \(print\(planted\)\): "
                                          r"NameError: name 'planted' is not defined"):
        report.run_report(small_data, MONTH, out=tmp_path / "reports", progress=False,
                          notebooks=["a.ipynb", "b.ipynb", "c.ipynb"], notebooks_dir=nbdir,
                          coaching=False, jobs=1)


@pytest.mark.slow
def test_a_relative_cache_folder_is_the_callers_not_one_in_the_report(small_data, tmp_path, monkeypatch):
    """The kernels run in the report's build folder: a relative $TELESALES_CACHE_DIR must still
    name the caller's folder, or each kernel loads the data cold and writes the typed data set,
    customers included, into the report."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELESALES_CACHE_DIR", "cache")
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    _notebook(nbdir / "a.ipynb", "from telesales_lab.config import cache_dir\n"
              "io.load_dataset(data_dir)\n"
              "open('cache.txt', 'w').write(str(cache_dir().resolve()))")
    folder = report.run_report(small_data, MONTH, out=tmp_path / "reports", progress=False,
                               notebooks=["a.ipynb"], notebooks_dir=nbdir, coaching=False, jobs=1)
    assert (folder / "cache.txt").read_text() == str((tmp_path / "cache").resolve())
    assert any((tmp_path / "cache").iterdir())  # the caller's load wrote the typed copy there
    assert sorted(p.name for p in folder.iterdir()) == ["a.html", "a.ipynb", "cache.txt", "index.html"]


def test_kernel_groups_name_report_notebooks():
    named = [n for group in report.KERNEL_GROUPS for n in group]
    assert sorted(named) == sorted(report.NOTEBOOKS) and len(set(named)) == len(named)


def test_notebook_without_parameters_cell_is_refused(small_data, tmp_path):
    _notebook(tmp_path / "plain.ipynb", "x = 1", parameters=False)
    with pytest.raises(ReportError, match=r"plain\.ipynb has no cell tagged 'parameters'"):
        report.run_report(small_data, MONTH, out=tmp_path / "reports", progress=False,
                          notebooks=["plain.ipynb"], notebooks_dir=tmp_path, coaching=False)
    assert not (tmp_path / "reports").exists()  # the run made it, and took it away again


def test_missing_notebook_bad_month_and_bad_data_write_nothing(small_data, tmp_path):
    out = tmp_path / "reports"
    with pytest.raises(ReportError, match=r"notebook\(s\) not found: .*nope\.ipynb"):
        report.run_report(small_data, MONTH, out=out, notebooks=["nope.ipynb"], notebooks_dir=tmp_path)
    with pytest.raises(ParameterError, match=r"no calls in month 2025-01"):
        report.run_report(small_data, "2025-01", out=out, notebooks=[], notebooks_dir=tmp_path)
    with pytest.raises(ParameterError, match=r"lang == 'fr'"):
        report.run_report(small_data, MONTH, out=out, lang="fr", notebooks=[], notebooks_dir=tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(small_data, broken)
    (broken / "calls.csv").write_text("call_id\nC1\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"calls\.csv"):
        report.run_report(broken, MONTH, out=out, notebooks=[], notebooks_dir=tmp_path)
    assert not out.exists()


@pytest.mark.slow
def test_bad_data_shuts_down_the_kernels_started_while_it_loaded(small_data, tmp_path, monkeypatch):
    """The kernels start before the data set is validated; a bad data set stops them, and
    nothing is left: no report folder, no kernel process, no connection file."""
    started = []
    start_kernel = report._Runner.start_kernel

    async def spy(self, *args, **kwargs):
        km, kc = await start_kernel(self, *args, **kwargs)
        started.append((km.provisioner.process.pid, Path(km.connection_file)))
        return km, kc

    monkeypatch.setattr(report._Runner, "start_kernel", spy)
    _notebook(tmp_path / "a.ipynb", "x = 1")
    _notebook(tmp_path / "b.ipynb", "y = 2")
    broken = tmp_path / "broken"
    shutil.copytree(small_data, broken)
    (broken / "calls.csv").write_text("call_id\nC1\n", encoding="utf-8")
    out = tmp_path / "reports" / "monthly"
    with pytest.raises(DataValidationError, match=r"calls\.csv"):
        report.run_report(broken, MONTH, out=out, progress=False, notebooks=["a.ipynb", "b.ipynb"],
                          notebooks_dir=tmp_path, coaching=False, jobs=2)
    assert len(started) == 2  # both lanes' kernels had started
    for pid, connection in started:
        with pytest.raises(ProcessLookupError):  # ended, and waited for
            os.kill(pid, 0)
        assert not connection.exists()
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_a_notebook_of_another_kernel_replaces_the_kernel_started_early(small_data, tmp_path, monkeypatch):
    """The report starts python3 kernels before it reads the notebooks' own kernel names; a
    notebook naming another kernel gets that one, and the early kernel is shut down."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("telesales-lab")
    except NoSuchKernel:
        pytest.skip("no 'telesales-lab' kernel spec (`make venv` installs it)")
    started = []
    start_kernel = report._Runner.start_kernel

    async def spy(self, kernel_name, *args, **kwargs):
        km, kc = await start_kernel(self, kernel_name, *args, **kwargs)
        started.append((kernel_name, km.provisioner.process.pid))
        return km, kc

    monkeypatch.setattr(report._Runner, "start_kernel", spy)
    nb = _notebook(tmp_path / "k.ipynb", "import sys\nopen('kernel.txt', 'w').write(repr(sys._xoptions))")
    book = nbformat.read(nb, as_version=4)
    book.metadata["kernelspec"] = {"name": "telesales-lab", "display_name": "telesales-lab", "language": "python"}
    nbformat.write(book, nb)
    folder = report.run_report(small_data, MONTH, out=tmp_path / "reports", progress=False, notebooks=["k.ipynb"],
                               notebooks_dir=tmp_path, coaching=False, jobs=1)
    assert "'frozen_modules': 'off'" in (folder / "kernel.txt").read_text()  # the named kernel's command line
    assert (folder / "k.html").is_file()
    assert [name for name, _ in started] == ["python3", "telesales-lab"]
    for _, pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_ctrl_c_while_a_notebook_runs_shuts_the_kernels_down_and_leaves_nothing(small_data, tmp_path):
    """Ctrl-C (SIGINT) in the middle of a notebook: the kernels, which run in a thread of their
    own, are shut down, the build folder goes, and the command says "interrupted" (exit 130)."""
    import signal
    import time

    _notebook(tmp_path / "slow.ipynb", "import os, time\nopen(os.path.join(os.path.dirname(os.getcwd()), "
              "'kernel.pid'), 'w').write(str(os.getpid()))\ntime.sleep(120)")
    out = tmp_path / "reports"
    code = ("import sys\nfrom telesales_lab import report\n"
            "try:\n"
            f"    report.run_report({str(small_data)!r}, {MONTH!r}, out={str(out)!r}, progress=False,\n"
            f"                      notebooks=['slow.ipynb'], notebooks_dir={str(tmp_path)!r}, coaching=False)\n"
            "except KeyboardInterrupt:\n    print('interrupted', file=sys.stderr)\n    sys.exit(130)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    marker = out / "kernel.pid"
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "the notebook never started"
    time.sleep(0.2)  # the pid is written
    kernel = int(marker.read_text())
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert "interrupted" in proc.stderr.read()
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)
    assert sorted(p.name for p in out.iterdir()) == ["kernel.pid"]  # no build folder, no report, no lock


def test_cli_report_errors_exit_2_without_traceback(small_data, tmp_path, capsys):
    assert main(["report", str(small_data), "--month", "2026-13", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: month == '2026-13'") and "Traceback" not in err
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- save_table
def test_save_table_writes_parquet_with_labels(tmp_path, monkeypatch):
    monkeypatch.delenv("TELESALES_REPORT_NOTEBOOK", raising=False)
    frame = pd.DataFrame({"team": ["华东一组", "华南一组"], "dials": [10, 20]})
    assert report.save_table(frame, "by_team", tmp_path) is None  # a last line shows nothing
    path = tmp_path / "tables" / "by_team.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    meta = report._table_meta(path)
    assert meta["labels"]["team"] == {"en": "team", "zh": "小组"}
    assert meta["name"] == "by_team" and meta["notebook"] is None
    assert [p.name for p in (tmp_path / "tables").iterdir()] == ["by_team.parquet"]  # no temp file left


@pytest.mark.parametrize("name, rule", [
    ("x" * 32, "at most 31"),
    ("a/b", "must not contain"),
    ("what?", "must not contain"),
    ("", "non-empty"),
    ("History", "reserved"),
])
def test_save_table_refuses_names_excel_would_refuse(tmp_path, name, rule):
    with pytest.raises(ParameterError, match=re.escape(rule)):
        report.save_table(pd.DataFrame({"a": [1]}), name, tmp_path)


def test_save_table_refuses_a_name_taken_by_another_notebook(tmp_path, monkeypatch):
    frame = pd.DataFrame({"a": [1]})
    monkeypatch.setenv("TELESALES_REPORT_NOTEBOOK", "01_call_outcomes.ipynb")
    report.save_table(frame, "funnel", tmp_path)
    report.save_table(frame, "funnel", tmp_path)  # the same notebook may write it again
    monkeypatch.setenv("TELESALES_REPORT_NOTEBOOK", "02_script_ranking.ipynb")
    with pytest.raises(ParameterError, match=r"'funnel' is already used by 01_call_outcomes\.ipynb"):
        report.save_table(frame, "funnel", tmp_path)


def test_notebooks_list_is_a_plain_list_of_existing_names():
    assert isinstance(report.NOTEBOOKS, list) and report.NOTEBOOKS[0] == "01_call_outcomes.ipynb"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", n) for n in report.NOTEBOOKS)
    assert len(set(report.NOTEBOOKS)) == len(report.NOTEBOOKS)


# ----------------------------------------------------------------------------- start-up cost
def test_deferred_rfc3987_import_keeps_validation_and_iri_checks():
    """nbformat imports without building rfc3987_syntax's grammar; IRI checks still answer."""
    code = (
        "import sys\n"
        "from telesales_lab.report import _defer_rfc3987_import\n"
        "_defer_rfc3987_import()\n"
        "import nbformat, papermill, jsonschema\n"
        "assert 'lark' not in sys.modules, 'rfc3987_syntax was imported'\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "checker = jsonschema.FormatChecker()\n"
        "print(checker.conforms('http://example.com/a', 'iri'), checker.conforms('http://[::1', 'iri'),"
        " 'lark' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]


# ----------------------------------------------------------------------------- headless browser
def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make browser` installs it")
        pytest.skip("chromium is not installed (`make browser`)")
    return path


def _browse(chromium: str, page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with the CJK font mplfonts ships made visible to it (fontconfig)."""
    from telesales_lab.present.plots.base import font_path

    conf = tmp / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{font_path().parent}</dir><cachedir>{tmp / 'fc-cache'}</cachedir></fontconfig>",
        encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)


def _ink(png: Path) -> float:
    """Share of pixels that are not (near) white."""
    from PIL import Image
    import numpy as np

    pixels = np.asarray(Image.open(png).convert("L"))
    return float((pixels < 240).mean())


@pytest.mark.slow
def test_report_renders_in_headless_chromium(built, tmp_path):
    from PIL import Image

    chromium = _chromium()
    folder = built["folder"]
    shots = {}
    for page in ("index.html", "00_fixture.html"):
        png = tmp_path / f"{Path(page).stem}.png"
        done = _browse(chromium, folder / page, tmp_path, f"--screenshot={png}", "--window-size=1280,2000")
        assert png.is_file(), done.stderr[-2000:]
        shots[page] = _ink(png)
    keep = os.environ.get("TELESALES_KEEP_SCREENSHOTS")
    if keep:  # to look at them: TELESALES_KEEP_SCREENSHOTS=/some/folder pytest -k chromium
        for png in tmp_path.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)
    assert shots["index.html"] > 0.005  # headings and links drawn
    assert shots["00_fixture.html"] > 0.03  # a table and a bar chart drawn

    dom = _browse(chromium, folder / "00_fixture.html", tmp_path, "--dump-dom").stdout
    payloads = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', dom)
    assert len(payloads) == 1
    image = Image.open(stdio.BytesIO(base64.b64decode(payloads[0])))
    image.verify()
    image = Image.open(stdio.BytesIO(base64.b64decode(payloads[0])))
    assert image.format == "PNG" and image.width >= 300 and image.height >= 150
    assert "拨打量" in dom or "小组" in dom  # the Chinese table headers reached the page


def _english_vocabulary() -> set[str]:
    """Words a Chinese page must not show: the vocabularies' values and result column names."""
    from telesales_lab.data import schema
    from telesales_lab.labels import catalog

    words = set()
    for name in dir(schema):
        value = getattr(schema, name)
        if name.isupper() and isinstance(value, (tuple, list, frozenset, set)):
            words |= {v for v in value if isinstance(v, str) and "_" in v or isinstance(v, str) and len(v) > 3}
    keys = set(catalog("en")["labels"]) | {k for section in catalog("en")["context"].values() for k in section}
    words |= {k for k in keys if "." not in k and "_" in k}  # snake_case column names and category values
    words |= {"True", "False", "None", "nan", "inconclusive", "insufficient_data"}
    return {w for w in words if w.isascii() and len(w) > 2}


@pytest.mark.slow
def test_chinese_report_shows_no_english_vocabulary(built):
    """HTML text of every notebook page and the index, and the workbook's headers and cells."""
    from html.parser import HTMLParser

    from openpyxl import load_workbook

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.skip = [], 0

        def handle_starttag(self, tag, attrs):
            self.skip += tag in ("style", "script")

        def handle_endtag(self, tag):
            self.skip -= tag in ("style", "script") and self.skip > 0

        def handle_data(self, data):
            if not self.skip:
                self.parts.append(data)

    words = _english_vocabulary()
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True))
                         + r")(?![A-Za-z0-9_])")
    folder = built["folder"]
    found = []
    pages = [folder / "index.html"] + [folder / f"{Path(n).stem}.html" for n in report.NOTEBOOKS]
    for page in pages + sorted((folder / "coaching").glob("*.html"))[:5]:
        if not page.is_file():
            continue
        parser = Text()
        parser.feed(page.read_text(encoding="utf-8"))
        text = " ".join(parser.parts)
        found += [f"{page.name}: {m}" for m in sorted(set(pattern.findall(text)))]
    book = load_workbook(folder / f"{MONTH}_tables.xlsx", read_only=True)
    for sheet in book.worksheets:
        cells = {str(v) for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, (str, bool))}
        found += [f"sheet {sheet.title}: {m}" for m in sorted({m for c in cells for m in pattern.findall(c)})]
    assert not found, "\n".join(found[:60])


@pytest.mark.slow
def test_a_customer_planted_in_each_kind_of_report_file_is_found(built, tmp_path):
    """A phone or name written into an HTML page's text, a notebook's output, a workbook
    cell, a Parquet cell and a coaching page is found in that file and nowhere else."""
    import json

    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from telesales_lab.data.load import load_dataset
    from telesales_lab.data.privacy import scan_outputs

    data = load_dataset(built["data"])
    customers = data.customers.set_index("customer_id")
    ids = [c for c in customers.index if len(str(customers.loc[c, "name"])) >= 2][10:15]
    phone = lambda i: str(customers.loc[ids[i], "phone"])  # noqa: E731
    name = lambda i: str(customers.loc[ids[i], "name"])  # noqa: E731
    planted = tmp_path / "planted"
    shutil.copytree(built["folder"], planted)

    page = next(p for p in sorted(planted.glob("*.html")) if p.name != "index.html")
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("</body>", f"<p>回电 {phone(0)[:3]} {phone(0)[3:7]} {phone(0)[7:]}</p></body>", 1),
                    encoding="utf-8")

    notebook = next(p for p in sorted(planted.glob("*.ipynb")))
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell.setdefault("outputs", []).append({"output_type": "stream", "name": "stdout", "text": [f"客户{name(1)}\n"]})
    notebook.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")

    book_path = next(planted.glob("*.xlsx"))
    book = openpyxl.load_workbook(book_path)
    book.worksheets[-1].cell(row=3, column=2, value=f"tel {phone(2)}")
    book.save(book_path)

    table_path = sorted((planted / "tables").glob("*.parquet"))[0]
    table = pq.read_table(table_path)
    col = next(i for i, f in enumerate(table.schema) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    values = table.column(col).to_pylist()
    values[-1] = name(3)
    pq.write_table(table.set_column(col, table.schema.field(col), pa.array(values, table.schema.field(col).type)),
                   table_path)

    pack = sorted((planted / "coaching").glob("*.html"))[0]
    text = pack.read_text(encoding="utf-8")
    pack.write_text(text.replace("</body>", f"<td>{phone(4)}</td></body>", 1), encoding="utf-8")

    found = {(f.file, f.kind, f.customer_id) for f in scan_outputs(planted, data)}
    assert found == {
        (page.name, "phone", ids[0]),
        (notebook.name, "name", ids[1]),
        (book_path.name, "phone", ids[2]),
        (f"tables/{table_path.name}", "name", ids[3]),
        (f"coaching/{pack.name}", "phone", ids[4]),
    }
