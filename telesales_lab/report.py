"""The monthly report: run the notebooks, write HTML and one Excel workbook, swap in.

``telesales-lab report DATA_DIR --month YYYY-MM`` (or :func:`run_report`) does, in order:

1. start the kernels, and while they start, load and validate the data set once
   (:func:`telesales_lab.data.load.load_dataset`), which writes the typed cache that every
   notebook then reads instead of the CSV files (a bad data set shuts the kernels down and
   leaves nothing behind);
2. run the notebooks of :data:`NOTEBOOKS`, papermill injecting the parameters ``data_dir``,
   ``month``, ``lang`` and ``output_dir`` (nothing else: no secrets, no personal data), in
   ``jobs`` kernels side by side. Each kernel runs several notebooks one after another, its
   namespace cleared before each, so the package is imported and the data set loaded once per
   kernel, and notebooks that read the same analyses (:data:`KERNEL_GROUPS`) share them;
3. write the coaching packs (:func:`telesales_lab.present.coaching_page.build_packs`) in the
   kernel that has just run :data:`PACKS_AFTER`, from the results its notebooks computed (or,
   when that notebook is not in the report, in this process while the kernels work);
4. write each executed notebook as ``.ipynb`` and as HTML without the input code cells
   (images embedded, no script loaded from the network);
5. gather the tables the notebooks handed over with :func:`save_table` into one workbook
   ``<month>_tables.xlsx``, a sheet per table, headers in the report's language, and write
   ``index.html`` linking everything;
6. scan every file written for the customers' phone numbers and names
   (:func:`telesales_lab.data.privacy.scan_outputs`);
7. swap the new folder in as ``<out>/<month>/``.

Everything is built in a hidden folder beside the final one (``reports/.2026-10.tmp-…``); if
any step fails, that folder is deleted and the previous report stays as it was.

The notebooks run with the report folder as their working directory and get
``output_dir="."``, so the executed notebooks keep pointing at the right folder after the
swap. papermill's own start-up cost is kept down by deferring jsonschema's import of
``rfc3987_syntax`` (about 1.4-2 s, jsonschema issue 1428), which notebook validation never
uses: see :func:`_defer_rfc3987_import`.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from telesales_lab.config import CACHE_ENV, POLICY_ENV, REPORTS_DIR, cache_dir
from telesales_lab.exceptions import ParameterError, ReportError
from telesales_lab.labels import check_lang, has, t

#: Notebooks (file names in ``notebooks/``) that the monthly report runs, in this order.
NOTEBOOKS = [
    "01_call_outcomes.ipynb",
    "02_script_ranking.ipynb",
    "03_skills_kpis.ipynb",
    "04_training_plan.ipynb",
    "07_targets.ipynb",
    "08_experiments.ipynb",
    "09_leads.ipynb",
]

#: The only parameters the report injects into a notebook.
PARAMETERS = ("data_dir", "month", "lang", "output_dir")
#: Sub-folder of ``output_dir`` where :func:`save_table` writes.
TABLES_DIR = "tables"
#: Excel's limit on the length of a sheet name.
SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
#: Set in each report kernel's environment, so save_table can record who wrote a table.
_NOTEBOOK_ENV = "TELESALES_REPORT_NOTEBOOK"
_META_KEY = b"telesales_lab"
#: Notebooks that read the same analyses, run one after another in one kernel; a notebook
#: named in none of them runs as a group of its own. A kernel takes the next group when it
#: is free: with two, the first group runs in one and the other two one after the other.
#: The leads page's suggested scripts are the by-class script ranking, which the ranking page
#: shows and the experiments page's script policy reads: the three share a kernel. The leads
#: page goes first, so its long lead table is published while the other two run. The call
#: outcomes page runs before the skills group, not last: its tables are the largest sheets of
#: the workbook, published while the other notebooks still run, and the coaching packs (a few
#: files to scan) end the run instead.
KERNEL_GROUPS = (
    ("09_leads.ipynb", "02_script_ranking.ipynb", "08_experiments.ipynb"),
    ("01_call_outcomes.ipynb",),
    ("03_skills_kpis.ipynb", "04_training_plan.ipynb", "07_targets.ipynb"),
)
#: The kernel that ran this notebook then writes the coaching packs, from the skills, evaluation,
#: training plans and targets its notebooks already computed; without it in the report, the
#: packs are written by the calling process.
PACKS_AFTER = "07_targets.ipynb"
#: The index's headline is this notebook's saved table (the month's funnel against last month),
#: the same numbers as the call outcomes page; without it in the report, computed anew.
HEADLINE_TABLE = ("01_call_outcomes.ipynb", "funnel_change_total")
#: The kernel the report starts before it knows the notebooks' own (almost always this one).
_EARLY_KERNEL = "python3"
#: Python's cyclic garbage collection thresholds in the report's processes. The default
#: (700, 10, 10) collects after every 700 new container objects, and the charts and tables
#: of a month at call-centre scale make millions of them: about 1.1 s of a kernel's 20 s of
#: CPU went to collections, 0.35 s with these. Unreachable cycles are still collected, only
#: less often; objects without cycles are freed as before, at once.
GC_THRESHOLDS = (50_000, 20, 20)
#: What a report kernel runs before each notebook and before the packs: an empty namespace,
#: then :func:`_kernel_setup`.
_RESET = ("get_ipython().run_line_magic('reset', '-f')\n"
          "from telesales_lab.report import _kernel_setup as _s; _s(); del _s\n")



# ----------------------------------------------------------------------------- tables
def _check_sheet_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"table name == {name!r}, must be a non-empty text")
    if len(name) > SHEET_NAME_MAX:
        raise ParameterError(f"table name == {name!r} has {len(name)} characters, must have at most "
                             f"{SHEET_NAME_MAX} (an Excel sheet name)")
    if _SHEET_FORBIDDEN.search(name) or name != name.strip() or name.startswith("'") or name.endswith("'"):
        raise ParameterError(f"table name == {name!r}, must not contain [ ] : * ? / \\, start or end "
                             "with an apostrophe or a space (an Excel sheet name)")
    if name.lower() == "history" or name.startswith("."):
        raise ParameterError(f"table name == {name!r} is reserved")
    return name


def _table_meta(path: Path) -> dict:
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(_META_KEY)
    return json.loads(raw) if raw else {}


def save_table(frame, name: str, output_dir, context: str | None = None) -> None:
    """Hand a table to the report's Excel workbook.

    Notebooks call this for every table worth a sheet. The table is written, atomically, as
    ``<output_dir>/tables/<name>.parquet`` together with its column labels in English and
    Chinese (from :mod:`telesales_lab.labels`), so the workbook can show translated headers.

    Parameters
    ----------
    frame : DataFrame
        A tidy result table. A non-default index is kept as ordinary columns.
    name : str
        The sheet name: at most 31 characters, none of ``[ ] : * ? / \\``. A label
        in the label catalogs (``telesales_lab/locale/*.toml``) names the sheet in Chinese.
    output_dir : path
        The notebook's ``output_dir`` parameter.
    context : str, optional
        Label context of the table (``"evaluation"``, ``"script_ranking"`` ...), so its sheet
        uses the same headers and values as the page.

    Returns nothing, so that a notebook's last line ``save_table(...)`` shows nothing in the
    report; the file is ``<output_dir>/tables/<name>.parquet``.

    Raises
    ------
    ParameterError
        For a name Excel would refuse, or a name another notebook of the same report
        already used.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from telesales_lab.labels import LANGS

    _check_sheet_name(name)
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"save_table({name!r}) got a {type(frame).__name__}, must be a DataFrame")
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
            and frame.index.name is None):
        frame = frame.reset_index()
    frame = frame.rename(columns=str)
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ParameterError(f"table {name!r} has duplicated column(s) {', '.join(dupes)}")
    folder = Path(output_dir) / TABLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    notebook = os.environ.get(_NOTEBOOK_ENV)
    if notebook and path.exists():
        other = _table_meta(path).get("notebook")
        if other and other != notebook:
            raise ParameterError(f"table name {name!r} is already used by {other} in this report; "
                                 "pick another name")
    meta = {
        "name": name,
        "notebook": notebook,
        "saved_at": time.time_ns(),
        "title": {lang: t(name, lang) for lang in LANGS},
        "context": context,
        "labels": {c: {lang: t(c, lang, context) for lang in LANGS} for c in frame.columns},
    }
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _META_KEY: json.dumps(meta, ensure_ascii=False).encode()})
    tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sheet_title(meta: dict, lang: str, taken: set[str]) -> str:
    name = meta["name"]
    title = (meta.get("title") or {}).get(lang) or t(name, lang)
    try:
        title = _check_sheet_name(title)
    except ParameterError:
        title = name
    base, k = title, 2
    while title.lower() in taken:  # Excel compares sheet names case-insensitively
        suffix = f"~{k}"
        title, k = base[: SHEET_NAME_MAX - len(suffix)] + suffix, k + 1
    taken.add(title.lower())
    return title


def _sheet_frame(meta: dict, frame, lang: str):
    """A saved table as its sheet shows it: headers and values in ``lang``, at most a sheet's
    rows; returns the frame and whether rows were cut."""
    from telesales_lab.present.tables import translate_values
    from telesales_lab.present.workbook import MAX_ROWS

    labels = meta.get("labels") or {}
    context = meta.get("context")
    # the running package's catalog first, then the labels the table was saved with
    shown = translate_values(frame, lang, context).rename(
        columns={c: t(c, lang, context) if has(c, context) else (labels.get(c) or {}).get(lang) or c
                 for c in frame.columns})
    if shown.columns.duplicated().any():  # two columns with one label: keep them apart
        shown.columns = [f"{label} ({c})" if dup else label for label, c, dup in
                         zip(shown.columns, frame.columns, shown.columns.duplicated(keep=False))]
    truncated = len(shown) > MAX_ROWS - 1
    return (shown.iloc[: MAX_ROWS - 1] if truncated else shown), truncated


class _Publisher:
    """What the calling process makes of each notebook's outputs as soon as the notebook is
    written, while the kernels run the next ones: its tables become sheets of the workbook
    (headers and values in the report's language, written into the file at once) and its
    files are scanned for customers' personal data. :meth:`finish` then does what is left:
    tables and files not seen yet or changed since, the workbook's order and sheet names, and
    the scan of the last files. Every method runs in one worker thread, one call at a time.
    """

    def __init__(self, folder: Path, month: str, order: list[str], lang: str):
        from telesales_lab.present.workbook import WorkbookWriter

        self.folder, self.order, self.lang = folder, order, lang
        self.book = WorkbookWriter(folder / f"{month}_tables.xlsx")
        self.tables: dict[Path, dict] = {}  # table file -> what its sheet holds
        self.scan = None
        self.book_hits: list = []  # the scan's hits in the sheets' text, as they are written

    def start_scan(self, data, template_text: str) -> None:
        """Build what the privacy scan looks for (reads the whole customers table)."""
        from telesales_lab.data.privacy import OutputScan

        self.scan = OutputScan(self.folder, data, template_text=template_text)

    def notebook(self, source: Path) -> None:
        """A notebook's page, notebook file and tables are written: take them."""
        if self.scan is not None:
            self.scan.scan([self.folder / source.name, self.folder / f"{source.stem}.html"])
        self._take_tables(lambda meta: meta.get("notebook") == source.name)

    def files(self, folder: Path) -> None:
        """Scan the files under ``folder`` (the coaching packs, once written)."""
        if self.scan is not None and folder.is_dir():
            self.scan.scan(sorted(p for p in folder.rglob("*") if p.is_file()))

    def _take_tables(self, wanted) -> bool:
        """Add a sheet for each saved table ``wanted(meta)`` accepts and not yet taken; False
        when a table taken before has changed since (the workbook must start again)."""
        import pyarrow.parquet as pq

        from telesales_lab.data.privacy import table_texts

        folder = self.folder / TABLES_DIR
        if not folder.is_dir():
            return True
        rank = {name: i for i, name in enumerate(self.order)}
        for path in sorted(folder.glob("*.parquet")):
            st = path.stat()
            sign = (st.st_size, st.st_mtime_ns)
            if path in self.tables:
                if self.tables[path]["sign"] != sign:
                    return False
                continue
            meta = _table_meta(path)
            meta.setdefault("name", path.stem)
            if not wanted(meta):
                continue
            table = pq.read_table(path)
            frame = table.to_pandas()
            shown, truncated = _sheet_frame(meta, frame, self.lang)
            part, texts = self.book.add(shown)
            if self.scan is not None:  # the table as read here is the file's content: no second read
                self.scan.record(path, self.scan.find(table_texts(table, frame)), sign)
                self.book_hits += self.scan.find(texts)
            self.tables[path] = {"sign": sign, "meta": meta, "part": part, "rows": len(frame),
                                 "truncated": truncated,
                                 "sort": (rank.get(meta.get("notebook"), len(rank)), meta.get("saved_at", 0), path.stem)}
        return True

    def finish(self) -> tuple[str | None, list[dict]]:
        """The workbook with every table saved (its file name, or None without tables) and
        what each sheet holds, in sheet order."""
        from telesales_lab.present.workbook import WorkbookWriter

        if not self._take_tables(lambda meta: True):  # a table rewritten after its notebook ended
            self.book.discard()
            self.book, self.tables, self.book_hits = WorkbookWriter(self.book.path), {}, []
            self._take_tables(lambda meta: True)
        if not self.tables:
            self.book.discard()
            return None, []
        taken: set[str] = set()
        sheets, order = [], []
        for item in sorted(self.tables.values(), key=lambda item: item["sort"]):
            title = _sheet_title(item["meta"], self.lang, taken)
            order.append((title, item["part"]))
            sheets.append({"sheet": title, "table": item["meta"]["name"], "notebook": item["meta"].get("notebook"),
                           "rows": item["rows"], "truncated": item["truncated"]})
        if self.scan is not None:
            self.book_hits += self.scan.find([content for _, content in self.book.package_parts(order)])
        path = self.book.close(order)
        if self.scan is not None:
            self.scan.record(path, self.book_hits)
        return path.name, sheets

    def discard(self) -> None:
        self.book.discard()


# ----------------------------------------------------------------------------- notebooks
def _defer_rfc3987_import() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` until an IRI is really checked.

    ``import nbformat`` imports jsonschema, whose format module imports ``rfc3987_syntax``,
    which builds a Lark grammar at import time: 1.4-2 s of every papermill start-up
    (jsonschema issue 1428). Notebook validation never checks the ``iri`` formats (nbformat
    validates with fastjsonschema, and jsonschema checks formats only when asked), so the
    import is pure cost. A stand-in module is registered instead; its ``is_valid_syntax``
    (and any other attribute) imports the real module on first use, so IRI checking still
    works, later, for whoever needs it.
    """
    name = "rfc3987_syntax"
    if name in sys.modules or "jsonschema" in sys.modules or importlib.util.find_spec(name) is None:
        return
    stub = types.ModuleType(name)

    def _real():
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        return importlib.import_module(name)

    def is_valid_syntax(term, value):
        return _real().is_valid_syntax(term, value)

    def __getattr__(attr):  # dunders too would load it: the import system asks for __path__
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(_real(), attr)

    stub.is_valid_syntax = is_valid_syntax
    stub.__getattr__ = __getattr__
    sys.modules[name] = stub


def _import_runner() -> None:
    """Import what running the notebooks needs in this thread, before the report's worker thread
    starts importing what it needs: two threads importing modules of one package at once can
    get each other's half-initialised modules (``cannot import name 'AsyncKernelManager' from
    partially initialized module 'jupyter_client.manager'``).

    What the worker runs is imported here too, so that the page exporter (nbconvert, its
    templates and filters) can be imported by this thread when the first page is written,
    while the kernels work, instead of before they start: the two threads then import
    nothing at the same time."""
    import ahocorasick_rs  # noqa: F401
    import nbclient  # noqa: F401
    import nbclient.exceptions  # noqa: F401
    import nbformat  # noqa: F401
    import papermill.iorw  # noqa: F401
    import papermill.parameterize  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import telesales_lab.data.privacy  # noqa: F401
    import telesales_lab.present.page_style  # noqa: F401
    import telesales_lab.present.workbook  # noqa: F401


def default_notebooks_dir() -> Path:
    """``notebooks/`` of the source tree this package runs from (``TELESALES_NOTEBOOKS`` overrides)."""
    env = os.environ.get("TELESALES_NOTEBOOKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "notebooks"


def _notebook_title(nb, fallback: str) -> str:
    """The first heading, from a markdown cell or a markdown output (``i18n.heading``)."""
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            out.get("data", {}).get("text/markdown", "") for out in cell.get("outputs", [])]
        for text in texts:
            text = "".join(text) if isinstance(text, list) else text
            for line in text.splitlines():
                if line.lstrip().startswith("#"):
                    return line.strip().lstrip("#").strip() or fallback
    return fallback


def _kernel_setup() -> None:
    """Run in a report kernel after each reset (see :data:`_RESET`).

    - A figure a notebook shows becomes a PNG (:func:`telesales_lab.present.plots.base.figure_png`),
      registered by the class's name, so matplotlib is imported only by the notebooks that
      draw: no ``--matplotlib=inline``, which imports pyplot in every kernel at start.
    - Garbage is collected at :data:`GC_THRESHOLDS`, and what survived the reset (modules, the
      data set and the results cached on it) is frozen: IPython's reset ends with a full
      collection, and the next one, the next reset's included, then looks only at what was
      made since (a million calls: 0.035 s instead of 0.16 s after the call outcomes and KPI
      pages, four or five times a kernel).
    """
    import gc

    from telesales_lab.present.notes import kernel_shell
    from telesales_lab.present.plots.base import _png_base64

    shell = kernel_shell()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type_by_name("matplotlib.figure", "Figure", _png_base64)
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def _kernel_manager(kernel_name: str):
    """An async kernel manager; ``python3`` always means this interpreter (this venv)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    km = AsyncKernelManager(kernel_name=kernel_name)
    if kernel_name in ("python3", "python"):
        km._kernel_spec = KernelSpec(  # a user-level python3 spec may point at another Python
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (ipykernel)", language="python", resource_dir="")
    return km


def _error_of(nb, exc) -> str:
    """``cell N (first line of it): Name: message`` for the first error (no traceback).

    N counts the cells of the notebook as its author sees it (without papermill's
    injected-parameters cell).
    """
    cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    for index, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
                first = first if len(first) <= 60 else first[:57] + "..."
                return f"cell {index + 1} ({first}): {out.get('ename')}: {out.get('evalue')}"
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        evalue = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    return f"{ename}: {evalue}"


def _stderr_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    keep = [ln for ln in text if "running over TCP without encryption" not in ln][-lines:]
    return ("; kernel said: " + " | ".join(keep)) if keep else ""


class _Runner:
    """Runs the report's notebooks with papermill's parameterisation and nbclient.

    ``jobs`` kernels run side by side, and each runs several notebooks one after another: a
    kernel is started (and the package imported) once per lane, not once per notebook, and the
    notebooks of one group in :data:`KERNEL_GROUPS` share the loaded data set and the results
    already computed on it (:func:`telesales_lab.data.load.load_dataset` keeps the data set of
    the process; :mod:`telesales_lab.data.cache` its results). Before each notebook the kernel's
    namespace is cleared, so a notebook sees only what it defines itself.
    """

    def __init__(self, sources: list[Path], params: dict, workdir: Path, final: Path, jobs: int, say,
                 env: dict | None = None, packs: bool = False, written=None, packs_written=None):
        self.sources, self.params, self.workdir, self.final = sources, params, workdir, final
        #: called with each notebook's source once its files are written
        self.written = written or (lambda source: None)
        #: called once the coaching packs written in a kernel are
        self.packs_written = packs_written or (lambda: None)
        self.env = dict(env or {})
        self.jobs, self.say = jobs, say
        self.done = 0
        self.results: dict[str, dict] = {}
        #: write the coaching packs in the kernel that runs PACKS_AFTER; their file names, once written
        self.packs_wanted = packs and any(s.name == PACKS_AFTER for s in sources)
        self.packs: list[str] | None = None
        #: the event loop the kernels live in, in a thread of its own (see :meth:`start`)
        self.loop = None
        self.thread = None
        #: per lane, the kernel started by :meth:`start` (an asyncio task), until the lane takes it
        self.early: dict = {}
        self.logs: dict = {}  # per lane, the kernel's stderr file

    def start(self) -> None:
        """Start the kernels now, one per lane, while this process still loads and validates
        the data set: a kernel takes a second or two to start and import what every notebook
        needs, and the notebooks run only once :meth:`run` is called. The kernels live in an
        event loop in a thread of their own; :meth:`close` shuts down whatever is left."""
        import asyncio
        import threading

        lanes = min(self.jobs, len(self.groups([(s, None) for s in self.sources])))
        if not lanes or self.loop is not None:
            return
        # what starting a kernel imports, imported by this thread before the loop's thread starts
        # any: this thread goes on importing (the data set's modules) while the kernels start, and
        # two threads importing one package at once can meet half-initialised modules
        import jupyter_client.kernelspec  # noqa: F401
        import jupyter_client.manager  # noqa: F401
        try:
            import psutil  # noqa: F401 (jupyter_client.localinterfaces imports it when connecting)
        except ImportError:
            pass
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="report-kernels", daemon=True)
        self.thread.start()

        async def launch():
            for lane in range(lanes):
                self.early[lane] = asyncio.ensure_future(self.start_kernel(_EARLY_KERNEL, lane, self.log(lane)))

        asyncio.run_coroutine_threadsafe(launch(), self.loop).result()

    def log(self, lane: int):
        """The stderr file of the lane's kernels (``.logs/kernel-<lane>.stderr``)."""
        if lane not in self.logs:
            folder = self.workdir / ".logs"
            folder.mkdir(exist_ok=True)
            self.logs[lane] = open(folder / f"kernel-{lane}.stderr", "wb")
        return self.logs[lane]

    def close(self) -> None:
        """Wait for the kernels' work to end (a cancelled run shuts its kernels down), shut
        down the kernels started early that no lane took, and stop the loop's thread."""
        import asyncio

        if self.loop is not None:
            async def finish():
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                          and t not in self.early.values()]
                await asyncio.gather(*others, return_exceptions=True)
                for task in self.early.values():
                    try:
                        km, kc = await task
                    except BaseException:
                        continue
                    kc.stop_channels()
                    await km.shutdown_kernel(now=True)
                self.early.clear()

            try:
                asyncio.run_coroutine_threadsafe(finish(), self.loop).result()
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join()
                self.loop.close()
                self.loop = self.thread = None
        for f in self.logs.values():
            f.close()
        self.logs.clear()

    async def write_packs(self, kc) -> None:
        """The coaching packs, in the kernel that has just run :data:`PACKS_AFTER`."""
        started = time.perf_counter()
        out = []

        def hook(msg):  # stdout: the file names; stderr: progress lines, passed on
            if msg["msg_type"] != "stream":
                return
            if msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            else:
                for line in filter(None, map(str.strip, msg["content"]["text"].splitlines())):
                    self.say(line)

        p = self.params
        code = (_RESET +
                "from telesales_lab.report import _packs_in_kernel\n"
                f"_packs_in_kernel({p['data_dir']!r}, {p['month']!r}, "
                f"{str(self.workdir / 'coaching')!r}, {p.get('lang', 'en')!r})\n")
        reply = await kc.execute_interactive(code, store_history=False, output_hook=hook, timeout=None)
        content = reply["content"]
        if content.get("status") != "ok":
            raise ReportError(f"the coaching packs failed: {content.get('ename')}: {content.get('evalue')}")
        lines = "".join(out).strip().splitlines()
        self.packs = json.loads(lines[-1]) if lines else []
        self.say(f"[coaching] {len(self.packs)} pack(s) in the kernel … {time.perf_counter() - started:.1f} s")

    def prepare(self, source: Path):
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = load_notebook_node(str(source))
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        if not any("parameters" in tg for tg in tags):
            raise ReportError(f"notebook {source.name} has no cell tagged 'parameters'; the report "
                              "could not set its month, language and folders")
        nb = parameterize_notebook(nb, dict(self.params))
        nb.metadata.papermill["input_path"] = str(source)
        nb.metadata.papermill["output_path"] = str(self.final / source.name)
        return nb

    def groups(self, prepared: list) -> list[list]:
        """``prepared`` split into the groups of :data:`KERNEL_GROUPS` (in that order; a
        notebook named in none of them is a group of its own, after them)."""
        rank = {name: (g, i) for g, group in enumerate(KERNEL_GROUPS) for i, name in enumerate(group)}
        groups: dict = {}
        for order, (source, nb) in enumerate(prepared):
            g, i = rank.get(source.name, (len(KERNEL_GROUPS) + order, 0))
            groups.setdefault(g, []).append((i, source, nb))
        return [[(s, nb) for _, s, nb in sorted(groups[g], key=lambda x: x[0])] for g in sorted(groups)]

    async def start_kernel(self, kernel_name: str, lane: int, err):
        km = _kernel_manager(kernel_name)
        # the connection file (the kernel's ports and key) lives in the build folder, not in the
        # shared runtime folder: a killed run's file goes with its folder (recover)
        runtime = self.workdir / ".runtime"
        runtime.mkdir(exist_ok=True)
        km.connection_file = str(runtime / f"kernel-{lane}-{secrets.token_hex(4)}.json")
        # --HistoryManager.enabled=False: a report's cells are not kept in the user's IPython
        # history (two kernels writing one SQLite file, a commit per cell, for nothing). Figures
        # become images through _kernel_setup, not --matplotlib=inline.
        extra = ["--HistoryManager.enabled=False"] if km.kernel_spec.language == "python" else []
        env = {**os.environ, **self.env, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        await km.start_kernel(extra_arguments=extra, cwd=str(self.workdir), env=env, stderr=err)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
        except BaseException:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            raise
        return km, kc

    async def fresh_namespace(self, kc, source: Path, python: bool) -> None:
        """Clear what the previous notebook left in the kernel and name the notebook running."""
        if not python:
            return
        code = (_RESET +
                f"import os as _os; _os.environ[{_NOTEBOOK_ENV!r}] = {source.name!r}; del _os\n")
        reply = await kc.execute_interactive(code, silent=True, store_history=False, timeout=60)
        if reply["content"].get("status") != "ok":
            raise ReportError(f"notebook {source.name} could not start: the kernel refused to clear "
                              f"its namespace ({reply['content'].get('ename')})")

    async def run_lane(self, lane: int, queue: list) -> None:
        from nbclient import NotebookClient
        from nbclient.exceptions import DeadKernelError

        km = kc = None
        err = self.log(lane)
        log = Path(err.name)
        try:
            while queue:
                for source, nb in queue.pop(0):
                    kernel_name = (nb.metadata.get("kernelspec") or {}).get("name") or "python3"
                    started = time.perf_counter()
                    if km is not None and km.kernel_name != kernel_name:
                        kc.stop_channels()
                        await km.shutdown_kernel(now=True)
                        km = kc = None
                    try:
                        if km is None and lane in self.early:
                            early = self.early.pop(lane)
                            km, kc = await early  # a kernel that failed to start fails here
                            if km.kernel_name != kernel_name:
                                kc.stop_channels()
                                await km.shutdown_kernel(now=True)
                                km = kc = None
                        if km is None:
                            km, kc = await self.start_kernel(kernel_name, lane, err)
                        await self.fresh_namespace(kc, source, km.kernel_spec.language == "python")
                        client = NotebookClient(nb, km=km, timeout=None, kernel_name=kernel_name,
                                                resources={"metadata": {"path": str(self.workdir)}})
                        client.kc = kc  # the lane's client: nbclient neither starts nor stops it
                        await client.async_execute()
                    except ReportError:
                        raise
                    except Exception as exc:  # a cell error, a timeout, a dead or unstartable kernel
                        detail = _error_of(nb, exc)
                        if isinstance(exc, DeadKernelError) or (km is not None and not await km.is_alive()):
                            err.flush()
                            detail += _stderr_tail(log)
                        raise ReportError(f"notebook {source.name} failed: {detail}") from None
                    seconds = time.perf_counter() - started
                    self.write(nb, source)
                    self.written(source)
                    self.done += 1
                    self.say(f"[{self.done}/{len(self.sources)}] {source.name} … {seconds:.1f} s")
                    if self.packs_wanted and source.name == PACKS_AFTER:
                        await self.write_packs(kc)
                        self.packs_written()
        finally:
            if kc is not None:
                kc.stop_channels()
            if km is not None and km.has_kernel:
                await km.shutdown_kernel(now=True)  # also removes the connection file

    def write(self, nb, source: Path) -> None:
        import nbformat

        title = _notebook_title(nb, source.stem)
        nbformat.write(nb, self.workdir / source.name)
        from telesales_lab.present.page_style import CSS

        lang = self.params.get("lang", "en")
        body, _ = _html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}, "tl_css": CSS,
                                                                    "tl_lang": lang})
        (self.workdir / f"{source.stem}.html").write_text(_with_nav(body, lang), encoding="utf-8")
        self.results[source.name] = {"title": title, "html": f"{source.stem}.html", "ipynb": source.name}

    async def run_all(self) -> None:
        import asyncio

        prepared = [(s, self.prepare(s)) for s in self.sources]  # every notebook checked before any runs
        if not prepared:
            return
        queue = self.groups(prepared)  # the lanes take the next group as they finish one
        lanes = min(self.jobs, len(queue))
        tasks = [asyncio.ensure_future(self.run_lane(i, queue)) for i in range(lanes)]
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        failed = [task for task in tasks if task.done() and not task.cancelled() and task.exception()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # let cancelled kernels shut down
        if failed:
            raise failed[0].exception()

    def run(self) -> dict[str, dict]:
        """Run the notebooks in the kernels' loop (started by :meth:`start`, here if not yet);
        the caller then calls :meth:`close`. The loop has a thread of its own, so this works
        from a notebook's running event loop too."""
        import asyncio

        self.start()
        if self.loop is None:  # no notebook to run
            return self.results
        done = asyncio.run_coroutine_threadsafe(self.run_all(), self.loop)
        try:
            done.result()
        except BaseException:
            done.cancel()  # Ctrl-C here: the lanes shut their kernels down (close waits for them)
            raise
        return self.results


_EXPORTER: dict = {}

#: The lab template without the two scripts it would fetch from a CDN (no maths, no widgets
#: here): reports open offline and tell no third party who reads them.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block extra_css -%}<style>{{ resources.tl_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}<!--tl-nav-->{%- endblock body_header -%}
"""
_HEADING = re.compile(r'<h([12]) id="([^"]+)">(.*?)<a class="anchor-link"', re.S)
_TAGS = re.compile(r"<[^>]+>")


def _with_nav(body: str, lang: str, back: str = "index.html") -> str:
    """``body`` with a back link and a table of contents (its h2 headings) at the top."""
    items = [(anchor, html.unescape(_TAGS.sub("", text)).strip())
             for level, anchor, text in _HEADING.findall(body) if level == "2"]
    toc = "".join(f'<li><a href="#{anchor}">{html.escape(text)}</a></li>' for anchor, text in items)
    nav = (f'<nav class="tl-nav"><a href="{html.escape(back)}">{html.escape(t("report.back", lang))}</a>'
           + (f'<strong>{html.escape(t("report.contents", lang))}</strong><ol>{toc}</ol>' if toc else "")
           + "</nav>")
    return body.replace("<!--tl-nav-->", nav, 1)


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt=)")
_OUTPUT_DIV = re.compile(r'(<div class="[^"]*\bjp-OutputArea-output\b[^"]*")')


def _html_exporter():
    """nbconvert's HTML exporter with the report's template, its accessibility pass done with two
    regular expressions instead of re-parsing the whole page (about 1 s a page of long tables)."""
    if "html" not in _EXPORTER:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class ReportExporter(HTMLExporter):
            def from_notebook_node(self, nb, resources=None, **kw):
                lang = (resources or {}).get("tl_lang", "en")
                info = nb.metadata.get("language_info", {})
                lexer = info.get("pygments_lexer", info.get("name"))
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                body, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
                # what HTMLExporter's own pass does: a text for every image, outputs focusable
                alt = html.escape(t("report.figure_alt", lang), quote=True)
                body = _IMG_WITHOUT_ALT.sub(f'<img alt="{alt}"', body)
                return _OUTPUT_DIV.sub(r'\1 tabindex="0"', body), resources

        _EXPORTER["html"] = ReportExporter(
            extra_loaders=[DictLoader({"telesales_report.html.j2": _TEMPLATE})],
            template_file="telesales_report.html.j2",
            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
            embed_images=True,
        )
    return _EXPORTER["html"]


# ----------------------------------------------------------------------------- index, swap
_INDEX_CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5}
h1{margin-bottom:.2rem} .meta{color:#555;margin-top:0} li{margin:.3rem 0}
.small{color:#666;font-size:.9em} ul.reps{columns:4} h3{margin-bottom:.2rem}
"""


def _headline(data, month: str, lang: str, folder: Path | None = None) -> str:
    """The month's funnel against last month, as the index's first card: the table the call
    outcomes page saved under ``folder`` (:data:`HEADLINE_TABLE`), else computed."""
    from telesales_lab.present import summaries

    notebook, name = HEADLINE_TABLE
    saved = None if folder is None else folder / TABLES_DIR / f"{name}.parquet"
    if saved is not None and saved.is_file() and _table_meta(saved).get("notebook") == notebook:
        import pandas as pd

        change = pd.read_parquet(saved)
    else:
        from telesales_lab.analysis import outcomes

        change = outcomes.funnel_change(data, month, by=None)
    return summaries.outcomes_top(change, lang).data


def _write_index(folder: Path, month: str, lang: str, data_dir: Path, notebooks: list[dict],
                 workbook: str | None, sheets: list[dict], packs: list[str], reps=None,
                 headline: str = "") -> Path:
    from telesales_lab.present.page_style import CSS
    from telesales_lab.present.tables import natural_key

    e = html.escape
    by_notebook: dict = {}
    for s in sheets:
        by_notebook.setdefault(s["notebook"], []).append(s)
    items = []
    for nb in notebooks:
        tables = by_notebook.get(nb["ipynb"], [])
        names = e(", ".join(s["sheet"] for s in tables))
        extra = f' <span class="small">— {t("report.sheets", lang)}: {names}</span>' if tables else ""
        ipynb = f'<a href="{e(nb["ipynb"])}">{t("report.notebook", lang)}</a>'
        items.append(f'<li><a href="{e(nb["html"])}">{e(nb["title"])}</a> '
                     f'<span class="small">({ipynb})</span>{extra}</li>')
    if workbook:
        cut = ", " + t("report.truncated", lang)
        notes = [f'{e(s["sheet"])} ({s["rows"]:,}{cut if s["truncated"] else ""})' for s in sheets]
        book = (f'<p><a href="{e(workbook)}">{e(workbook)}</a> — {t("report.workbook_link", lang)}</p>'
                f'<p class="small">{t("report.sheets", lang)}: {"; ".join(notes)}</p>')
    else:
        book = f'<p>{t("report.no_tables", lang)}</p>'
    if packs:
        from telesales_lab.present.coaching_page import pack_filenames

        rep_of = {name: rep for rep, name in pack_filenames(reps["rep_id"]).items()} if reps is not None else {}
        reps = reps.drop_duplicates("rep_id").set_index("rep_id") if reps is not None else None
        teams: dict = {}
        for p in packs:
            rep = rep_of.get(p, Path(p).stem)
            team, name = "", ""
            if reps is not None and rep in reps.index:
                team, name = str(reps.at[rep, "team"]), str(reps.at[rep, "name"] or "")
            teams.setdefault(team, []).append(
                f'<li><a href="coaching/{e(p)}">{e(name or rep)}</a> <span class="small">{e(rep)}</span></li>')
        coaching = "".join(f'<h3>{e(team)}</h3><ul class="reps">{"".join(links)}</ul>' if team
                           else f'<ul class="reps">{"".join(links)}</ul>'
                           for team, links in sorted(teams.items(), key=lambda kv: natural_key(kv[0])))
    else:
        coaching = f'<p>{t("report.no_coaching", lang)}</p>'
    title = f'{t("report.title", lang)} {month}'
    now = f"{datetime.now():%Y-%m-%d %H:%M}"
    page = f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}">
<head><meta charset="utf-8"><title>{e(title)}</title><style>{_INDEX_CSS}{CSS}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="meta">{t("report.data", lang)}: {e(data_dir.name)} · {t("report.generated", lang)}: {now}</p>
<h2>{t("report.headline", lang)}</h2>
{headline}
<p class="small">{t("report.privacy", lang)}</p>
<h2>{t("report.analyses", lang)}</h2>
<ul>{"".join(items)}</ul>
<h2>{t("report.workbook", lang)}</h2>
{book}
<h2>{t("report.coaching", lang)}</h2>
{coaching}
</body>
</html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system or file system cannot (another OS, an old kernel or
    C library, some network file systems); the caller then renames in two steps.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, final: Path) -> None:
    """Put ``tmp`` where ``final`` is, with the old or the new report in place at every instant.

    Where the system can, the two folders trade places in one atomic step and the old
    report (now at ``tmp``) is deleted. Elsewhere the old is renamed away (``.<month>.old-…``)
    and the new in; a run killed between those two renames leaves no ``<month>`` folder for
    an instant, which the next run's :func:`recover` puts back.
    """
    if final.exists() and _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover(out, month: str) -> list[str]:
    """Repair what an interrupted report run of ``month`` left in ``out``.

    A run killed between the two renames of a swap leaves the old report only as
    ``.<month>.old-…``: it is put back as ``<month>``. Build folders (``.<month>.tmp-…``,
    up to a few MB each, with the kernels' connection files inside) and old reports no
    longer needed are deleted. Call it while holding :func:`month_lock`, so no live run's
    folders are touched; :func:`run_report` does.

    Returns
    -------
    list of str
        What was done, one line each (empty when there was nothing to repair).
    """
    out = Path(out)
    done = []
    final = out / month
    olds = sorted(out.glob(f".{month}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not final.exists() and olds:
        os.replace(olds[0], final)
        done.append(f"restored the previous report from {olds[0].name}")
        olds = olds[1:]
    for leftover in olds + sorted(out.glob(f".{month}.tmp-*")):
        shutil.rmtree(leftover, ignore_errors=True)
        done.append(f"removed {leftover.name}, left by an interrupted run")
    return done


class month_lock:  # noqa: N801 (used as a context manager, like open())
    """Hold ``<out>/.<month>.lock`` so only one run writes a month's report at a time.

    The lock is an advisory ``flock`` on the file: the system releases it when the holder
    exits, however it exits (kill -9 included), so a stale lock file never blocks anyone.

    Raises
    ------
    ReportError
        On entering, when another process holds the lock: naming the folder, the month
        and that process.
    """

    def __init__(self, out, month: str):
        self.path = Path(out) / f".{month}.lock"
        self.month = month
        self.fd: int | None = None

    def __enter__(self):
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise ReportError(f"{self.path.parent / self.month}: another report of {self.month} is "
                                  f"being written there (process {holder}); wait for it to finish, then "
                                  "run again") from None
            try:  # the holder before us may have removed the file as we opened it: lock the live one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)  # while still locked, so no one else is holding this file
            except OSError:
                pass
            os.close(self.fd)  # releases the flock
            self.fd = None


def _build_packs(data, month: str, folder: Path, lang: str, say, policy=None) -> list[str]:
    """Coaching packs via :func:`telesales_lab.present.coaching_page.build_packs`."""
    from telesales_lab.present import coaching_page

    started = time.perf_counter()

    def progress(done: int, total: int, rep_id: str) -> None:  # about ten lines, not one per rep
        if done == total or done % max(1, total // 10) == 0:
            say(f"[coaching] {done}/{total} … {time.perf_counter() - started:.1f} s")

    try:
        # in place: the report's whole folder is built aside and swapped in at once
        paths = coaching_page.build_packs(data, month, folder, lang=lang, progress=progress, policy=policy,
                                          atomic=False) or []
    except Exception as exc:
        raise ReportError(f"the coaching packs failed: {type(exc).__name__}: {exc}") from exc
    return sorted(Path(p).name for p in paths)


def _packs_in_kernel(data_dir: str, month: str, folder: str, lang: str) -> None:
    """Run in a report kernel (see :data:`PACKS_AFTER`): the packs from the data set the kernel
    already loaded, progress on stderr, the file names as JSON on the last line of stdout."""
    from telesales_lab.data.load import load_dataset

    names = _build_packs(load_dataset(data_dir), month, Path(folder), lang,
                         lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(names))


# ----------------------------------------------------------------------------- public API
def run_report(data_dir, month: str, out=REPORTS_DIR, lang: str = "en", progress: bool = True, *,
               notebooks: list[str] | None = None, notebooks_dir=None, jobs: int | None = None,
               coaching: bool = True, privacy_check: bool = True, policy=None) -> Path:
    """Build the month's report into ``<out>/<month>/`` and swap it in.

    Parameters
    ----------
    data_dir : path
        The data set folder.
    month : str
        ``YYYY-MM``; the data must have calls in it.
    out : path, default "reports"
        Parent folder of the monthly report folders.
    lang : {"en", "zh"}
        Language of headings, labels and table headers.
    progress : bool, default True
        Print one line per step to stderr (``[2/6] 02_script_ranking.ipynb … 3.1 s``).
    notebooks : list of str, optional
        Notebook file names to run instead of :data:`NOTEBOOKS`.
    notebooks_dir : path, optional
        Where those notebooks are (default :func:`default_notebooks_dir`).
    jobs : int, optional
        Notebooks run at the same time, each in its own kernel (default: 2, or 1 on a
        one-core machine).
    coaching : bool, default True
        Write the coaching packs (when ``telesales_lab.analysis.coaching`` exists).
    privacy_check : bool, default True
        Refuse to publish a report in which :func:`telesales_lab.data.privacy.scan_outputs`
        finds a customer's phone number or name.
    policy : path, optional
        A policy TOML file (``telesales-lab policy --init``); checked while the kernels
        start, before any notebook runs; every notebook's kernel gets it as
        ``TELESALES_POLICY`` (what ``policy=None`` means there) and the coaching packs use
        it. Default: the shipped policy.

    Returns
    -------
    Path
        The report folder, holding ``index.html``, ``<notebook>.html`` and ``.ipynb`` for each
        notebook, ``<month>_tables.xlsx``, ``tables/<name>.parquet`` and ``coaching/``.

    Raises
    ------
    DataValidationError
        The data set is invalid (nothing is written).
    ParameterError
        Bad month or language, or the month has no calls (nothing is written).
    ReportError
        A notebook (named, with its error) or a later step failed, or the privacy scan found
        personal data; the previous report, if any, is left untouched.
    """
    from telesales_lab.data.month_text import month_text

    # Nothing before the kernels start imports pandas: they start a few tenths of a second
    # sooner, and this process imports it, and checks the policy file, while they start.
    check_lang(lang)
    month = month_text(month)
    # the kernels run in the report's build folder: a relative cache folder would be one of
    # their own there (a cold load each, and the typed data set inside the report)
    env = {CACHE_ENV: str(cache_dir().absolute())}
    if policy is not None:
        env[POLICY_ENV] = str(Path(policy).resolve())
    if jobs is None:
        jobs = max(1, min(2, os.cpu_count() or 1))
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ParameterError(f"jobs == {jobs!r}, must be a whole number >= 1")
    names = list(NOTEBOOKS if notebooks is None else notebooks)
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    sources = [folder / name for name in names]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ReportError(f"notebook(s) not found: {', '.join(missing)}")

    def say(message: str) -> None:
        if progress:
            print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    data_dir = Path(data_dir).resolve()

    def load():
        from telesales_lab.data.load import load_dataset
        from telesales_lab.data.periods import require_data

        if policy is not None:
            from telesales_lab.data.policy import load_policy

            load_policy(policy)  # a bad file is refused before any notebook runs
        data = load_dataset(data_dir)
        require_data(data.calls["started_at"], month)
        say(f"[data] {data_dir.name}: {len(data.calls):,} calls loaded and validated … "
            f"{time.perf_counter() - started:.1f} s")
        return data

    out = Path(out).absolute()
    made = [p for p in (out, *out.parents) if not p.exists()]  # removed again if nothing is published
    out.mkdir(parents=True, exist_ok=True)
    final = (out / month).resolve()
    try:
        with month_lock(final.parent, month):
            for line in recover(final.parent, month):
                say(f"[recover] {line}")
            with _gc_thresholds(GC_THRESHOLDS):
                _build_and_swap(load, data_dir, month, lang, sources, names, final, jobs, coaching,
                                privacy_check, say, policy, env)
    except BaseException:
        for folder in made:  # bad data, a busy month, a failed notebook: no empty folders left behind
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    say(f"[done] {final / 'index.html'} … {time.perf_counter() - started:.1f} s")
    return final


@contextlib.contextmanager
def _gc_thresholds(thresholds: tuple[int, int, int]):
    """Python's garbage collection thresholds set to ``thresholds`` while the block runs (in
    this process: its imports, the data set, publishing the tables), then as they were."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _build_and_swap(load, data_dir: Path, month: str, lang: str, sources: list[Path], names: list[str],
                    final: Path, jobs: int, coaching: bool, privacy_check: bool, say, policy=None,
                    env: dict | None = None) -> None:
    """Build the report in ``.<month>.tmp-…`` beside ``final`` and swap it in (under the lock).

    The kernels start first, in the build folder; ``load()`` then loads and validates the data
    set while they start (a bad data set shuts them down and leaves nothing behind)."""
    tmp = final.with_name(f".{month}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir()  # mkdir (not mkdtemp) so the folder gets the user's usual permissions
    publisher = runner = None
    try:
        params = dict(zip(PARAMETERS, (str(data_dir), month, lang, ".")))
        _defer_rfc3987_import()
        runner = _Runner(sources, params, tmp, final, jobs, say, env, packs=coaching)
        runner.start()
        data = load()
        _import_runner()
        publisher = _Publisher(tmp, month, names, lang)
        template = "\n".join(s.read_text(encoding="utf-8") for s in sources)
        with ThreadPoolExecutor(1) as pool:
            # one worker, in order: what the scan looks for, then each notebook's tables and files as
            # the kernels finish them (and the coaching packs)
            jobs_done = [pool.submit(publisher.start_scan, data, template)] if privacy_check else []

            def written(source):
                jobs_done.append(pool.submit(publisher.notebook, source))

            def packs_written():
                jobs_done.append(pool.submit(publisher.files, tmp / "coaching"))

            runner.written, runner.packs_written = written, packs_written
            # the coaching packs: in a kernel after the notebooks whose results they reuse, else
            # written by this process while the kernels run the notebooks
            packs_done = pool.submit(_build_packs, data, month, tmp / "coaching", lang, say, policy) \
                if coaching and not runner.packs_wanted else None
            if packs_done is not None:
                packs_written()
            try:
                results = runner.run()
            except BaseException:
                for job in [packs_done, *jobs_done]:
                    if job is not None:
                        job.cancel()  # leaving the pool waits for a job already started
                raise
            finally:
                runner.close()  # the kernels are down before their folder goes
            packs = packs_done.result() if packs_done is not None else (runner.packs or [])
            for job in jobs_done:
                job.result()  # a failure there is the report's failure
        run = [results[s.name] for s in sources]

        step = time.perf_counter()
        workbook, sheets = publisher.finish()
        if workbook:
            say(f"[excel] {workbook}: {len(sheets)} sheet(s) … {time.perf_counter() - step:.1f} s")
            for s in sheets:
                if s["truncated"]:
                    say(f"warning: table {s['table']} has {s['rows']:,} rows; the sheet keeps "
                        f"Excel's maximum; tables/{s['table']}.parquet has all")

        shutil.rmtree(tmp / ".logs", ignore_errors=True)
        shutil.rmtree(tmp / ".runtime", ignore_errors=True)
        headline = _headline(data, month, lang, tmp)
        _write_index(tmp, month, lang, data_dir, run, workbook, sheets, packs, data.reps, headline=headline)

        if privacy_check:
            step = time.perf_counter()
            findings = publisher.scan.finish()
            if findings:
                shown = "; ".join(str(f) for f in findings[:5])
                more = f" (+{len(findings) - 5} more)" if len(findings) > 5 else ""
                raise ReportError(f"the report would show customers' personal data, so it was not "
                                  f"published: {shown}{more}")
            say(f"[privacy] no customer phone or name in {sum(1 for p in tmp.rglob('*') if p.is_file())} "
                f"file(s) … {time.perf_counter() - step:.1f} s")
        _swap_in(tmp, final)
    except BaseException:
        if runner is not None:
            runner.close()
        if publisher is not None:
            publisher.discard()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
