"""``make bench``: time every stage of a monthly run at call-centre scale, against floors.

For each size (total calls in the data set; ``100k`` and ``1m`` by default, ``10m`` on
request) this script

1. generates the demo data set once (:func:`telesales_lab.data.demo.write_demo`, people and
   customers scaled with the calls) and keeps it under ``benchmarks/data/`` (git-ignored),
   keyed by size and seed, so reruns skip generation;
2. measures the floors: a bare ``pandas.read_csv`` of the data set's CSV files, the same
   read from Parquet copies, and papermill running an empty notebook (kernel start and
   imports; once per run);
3. runs each stage in a fresh Python process, so that imports and peak memory belong to
   that stage: ``telesales-lab validate`` (load + validate, cold, no cache), the first
   load (which writes the typed cache), a cached load, ``funnel``, ``rank-scripts``,
   ``skills``, ``evaluate``, ``classify-customers``, ``plan`` and ``report`` (every
   notebook, the workbook and the coaching packs) -- at 10M only the scoring core (cached
   load + funnel + rank + skills, in one process);
4. prints a table (seconds, peak memory) and PASS/FAIL for each target of issue 8.

``--report-only`` measures issue 14's target alone: after the typed cache is written, each of
``--repeat`` rounds runs the empty notebook, the bare CSV read and the report one after the
other, and the verdict is the median of the rounds' ratios (each report against the floors
measured beside it: the machine's speed drifts over minutes, and a ratio of stages measured
minutes apart carries that drift).

Wall-clock seconds are those of the whole process, interpreter start and imports included,
for the stages and the floors alike. Peak memory is the largest resident set of the process
or any process it waited for (``wait4``); for the report, whose notebooks run in kernels side
by side, the sampled peak of the whole process tree is shown too when psutil is installed.

Run ``python benchmarks/run.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
PY = sys.executable
MONTH = "2026-10"
#: months of calls in a generated data set: the month analysed holds about half the calls
MONTHS = 2
#: calls a rep makes in a month (about 95 a working day), which sets the number of teams
CALLS_PER_REP_MONTH = 2_000
#: calls per customer over the window
CALLS_PER_CUSTOMER = 12

ANALYSES = ("funnel", "rank-scripts", "skills", "evaluate", "classify-customers", "plan")
#: targets of issue 8
ANALYSIS_X_CSV = 3.0
REPORT_FACTOR = 2.0
#: The full report, coaching packs included, within this many times (an empty papermill notebook +
#: a bare pandas read of the same CSVs), both measured in the same run (issue 14).
REPORT_X_FLOOR = 4.5
#: Stages the targets are judged on (the table's names).
EMPTY_STAGE = "floor: papermill, empty notebook"
CSV_STAGE = "floor: pandas.read_csv"
REPORT_STAGE = "report (notebooks, workbook, coaching packs)"
SECONDS_PER_PACK = 0.5
CORE_MEMORY_MB = 6 * 1024


# ----------------------------------------------------------------------------- sizes
def parse_size(text: str) -> int:
    """``100k`` -> 100000, ``1m`` -> 1000000, ``2.5m``, ``250000``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"size {text!r} is not a number like 100k, 1m or 250000")
    n = float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    if n < 1_000:
        raise argparse.ArgumentTypeError(f"size {text!r} is below 1000 calls (the demo's minimum)")
    return int(n)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def demo_params(n_calls: int, seed: int) -> dict:
    """Arguments of ``write_demo`` for ``n_calls`` calls: teams of 10 reps making about
    2,000 calls a month each, a customer per 12 calls, two months of calls."""
    per_month = n_calls / MONTHS
    return dict(seed=seed, n_calls=n_calls, months=MONTHS, end_month=MONTH, reps_per_team=10,
                n_teams=max(6, round(per_month / (10 * CALLS_PER_REP_MONTH))),
                n_customers=max(5_000, n_calls // CALLS_PER_CUSTOMER))


# ----------------------------------------------------------------------------- measuring
@dataclass
class Result:
    size: str
    stage: str
    seconds: float | None
    peak_mb: float | None
    tree_peak_mb: float | None = None
    cpu_seconds: float | None = None
    ok: bool = True
    note: str = ""
    detail: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _tree_rss(proc) -> int:
    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except Exception:  # the process has just ended
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except Exception:
            pass
    return total


def measure(argv: list[str], env: dict, log: Path, sample_tree: bool = False
            ) -> tuple[float, float, float | None, float, int, str]:
    """Run ``argv`` to completion in a fresh process.

    Returns (wall seconds, peak RSS MB of the largest process waited for, sampled peak RSS MB
    of the whole tree or None, CPU seconds (user + system, the process and the children it
    waited for), exit status, captured stdout).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as err, open(log.with_suffix(".out"), "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        peak = [0]
        stop = threading.Event()
        sampler = None
        if sample_tree:
            try:
                import psutil

                ps = psutil.Process(proc.pid)

                def sample():
                    while not stop.is_set():
                        peak[0] = max(peak[0], _tree_rss(ps))
                        stop.wait(0.2)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
            except ImportError:
                pass
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        if sampler is not None:
            sampler.join()
    tree = peak[0] / 2**20 if sampler is not None else None
    cpu = usage.ru_utime + usage.ru_stime
    return (seconds, usage.ru_maxrss / 1024, tree, cpu, proc.returncode,
            log.with_suffix(".out").read_text(errors="replace"))


def _tail(path: Path, n: int = 3) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(lines[-n:])


class Bench:
    def __init__(self, args):
        self.args = args
        self.results: list[Result] = []
        self.logs = DATA / "logs"

    def env(self, cache: Path | None) -> dict:
        env = dict(os.environ)
        env.setdefault("MPLCONFIGDIR", str(DATA / "mplconfig"))
        if cache is not None:
            env["TELESALES_CACHE_DIR"] = str(cache)
        return env

    def log(self, size: str, stage: str) -> Path:
        """The stage's stderr file (``logs/<size>/<stage as a file name>.err``)."""
        return self.logs / size / (re.sub(r"[^a-z0-9]+", "-", stage.lower()).strip("-") + ".err")

    def failed(self, size: str, stage: str, measured: tuple) -> Result:
        """Record a stage that exited with an error (``measured`` as :func:`measure` returns it)."""
        seconds, peak, tree, cpu, code, _ = measured
        log = self.log(size, stage)
        res = Result(size, stage, seconds, peak, tree, cpu, ok=False, note=f"exit {code}: {_tail(log)}")
        say(f"[{size}] {stage} FAILED (exit {code}); see {log}")
        self.results.append(res)
        return res

    def run(self, size: str, stage: str, argv: list[str], env: dict, sample_tree: bool = False,
            note: str = "") -> Result:
        say(f"[{size}] {stage} ...")
        log = self.log(size, stage)
        best = None
        for _ in range(self.args.repeat):
            measured = measure(argv, env, log, sample_tree)
            seconds, peak, tree, cpu, code, out = measured
            if code != 0:
                return self.failed(size, stage, measured)
            if best is None or seconds < best[0]:
                best = (seconds, peak, tree, cpu, out)
        seconds, peak, tree, cpu, out = best
        detail = {}
        last = out.strip().splitlines()[-1] if out.strip() else ""
        if last.startswith("{"):
            try:
                detail = json.loads(last)
            except ValueError:
                pass
        res = Result(size, stage, seconds, peak, tree, cpu, note=note, detail=detail)
        self.results.append(res)
        extra = f", tree {tree:,.0f} MB" if tree else ""
        say(f"[{size}] {stage} … {seconds:.1f} s (CPU {cpu:.1f} s), {peak:,.0f} MB{extra}")
        return res


# ----------------------------------------------------------------------------- data
def ensure_dataset(bench: Bench, n_calls: int, seed: int) -> Path:
    """The demo data set for ``n_calls`` calls, generated once (in a fresh process)."""
    params = demo_params(n_calls, seed)
    folder = DATA / f"calls-{size_label(n_calls)}-seed{seed}"
    marker = folder / ".bench-params.json"
    if marker.is_file() and json.loads(marker.read_text()) == params:
        say(f"[{size_label(n_calls)}] data: reusing {folder.relative_to(ROOT)}")
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    note = f"{params['n_teams']} teams x 10 reps, {params['n_customers']:,} customers, {MONTHS} months"
    say(f"[{size_label(n_calls)}] data: generating {n_calls:,} calls ({note}) into "
        f"{folder.relative_to(ROOT)}" + (" — this takes minutes" if n_calls >= 5_000_000 else ""))
    code = f"from telesales_lab.data.demo import write_demo; write_demo({str(folder)!r}, **{params!r})"
    res = bench.run(size_label(n_calls), "generate demo data (once)", [PY, "-c", code], bench.env(None), note=note)
    if not res.ok:
        raise SystemExit(f"could not generate the demo data: {res.note}")
    marker.write_text(json.dumps(params))
    return folder


def ensure_parquet_copy(folder: Path) -> Path:
    """Parquet copies of the CSV files as pandas reads them (no canonical types)."""
    copy = folder.with_name(folder.name + ".parquet")
    marker = copy / ".done"
    if marker.is_file():
        return copy
    say(f"[data] writing Parquet copies into {copy.relative_to(ROOT)}")
    code = (
        "import sys, pandas as pd; from pathlib import Path\n"
        "src, dst = Path(sys.argv[1]), Path(sys.argv[2]); dst.mkdir(parents=True, exist_ok=True)\n"
        "for f in sorted(src.glob('*.csv')): pd.read_csv(f).to_parquet(dst / (f.stem + '.parquet'), index=False)\n"
        "(dst / '.done').write_text('ok')\n"
    )
    subprocess.run([PY, "-c", code, str(folder), str(copy)], check=True)
    return copy


def empty_notebook() -> Path:
    import nbformat

    path = DATA / "empty.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# ----------------------------------------------------------------------------- stages
_READ_CSV = "import sys, pandas as pd\nfor f in sys.argv[1:]: pd.read_csv(f)\n"
_READ_PARQUET = "import sys, pandas as pd\nfor f in sys.argv[1:]: pd.read_parquet(f)\n"
_LOAD = ("import json, sys, time\nt = time.perf_counter()\nfrom telesales_lab.data import load as io\n"
         "io.FAST_PATH = sys.argv[2] == 'fast'\nd = io.load_dataset(sys.argv[1], cache=sys.argv[3] == 'cache')\n"
         "print(json.dumps({'calls': len(d.calls), 'in_process_s': round(time.perf_counter() - t, 3)}))\n")
_CORE = """import json, sys, time
laps = {}
t = time.perf_counter()
from telesales_lab.data.load import load_dataset
from telesales_lab.analysis.outcomes import funnel
from telesales_lab.analysis.ranking import rank_scripts
from telesales_lab.analysis.skills import score_skills
laps['imports'] = time.perf_counter() - t
for name, step in [('load', lambda: load_dataset(sys.argv[1])),
                   ('funnel', lambda: funnel(data, sys.argv[2])),
                   ('rank_scripts', lambda: rank_scripts(data, sys.argv[2])),
                   ('score_skills', lambda: score_skills(data, sys.argv[2]))]:
    t = time.perf_counter()
    out = step()
    if name == 'load':
        data = out
    laps[name] = time.perf_counter() - t
print(json.dumps({k: round(v, 3) for k, v in laps.items()} | {'calls': len(data.calls)}))
"""


_EXPORT = """import json, sys, time
t = time.perf_counter()
from telesales_lab.data.load import load_dataset
from telesales_lab.analysis.warehouse import export_parquet
files = export_parquet(load_dataset(sys.argv[1]), sys.argv[2])
print(json.dumps({'files': len(files), 'in_process_s': round(time.perf_counter() - t, 3)}))
"""
_AGGREGATE = """import json, sys, time
t = time.perf_counter()
from telesales_lab.analysis.warehouse import aggregate
sums = aggregate(sys.argv[1], memory_limit=sys.argv[2])
print(json.dumps({'cells': len(sums), 'calls': int(sums['dials'].sum()),
                  'in_process_s': round(time.perf_counter() - t, 3)}))
"""


def cli(*args: str) -> list[str]:
    return [PY, "-m", "telesales_lab.cli", *args]


def run_size(bench: Bench, n_calls: int, empty_s: float | None) -> None:
    args = bench.args
    label = size_label(n_calls)
    folder = ensure_dataset(bench, n_calls, args.seed)
    csvs = sorted(str(p) for p in folder.glob("*.csv"))
    cache = DATA / "cache" / folder.name
    shutil.rmtree(cache, ignore_errors=True)  # every run starts cold
    env = bench.env(cache)
    big = n_calls >= 5_000_000
    if args.report_only:  # the issue-14 target alone: the typed cache, then floors and report in pairs
        bench.run(label, "first load (writes the typed cache)", [PY, "-c", _LOAD, str(folder), "fast", "cache"], env)
        paired_report_rounds(bench, label, folder, env, csvs)
        return
    if not big or args.floors_at_10m:
        bench.run(label, CSV_STAGE, [PY, "-c", _READ_CSV, *csvs], env)
        pq = ensure_parquet_copy(folder)
        bench.run(label, "floor: pandas.read_parquet", [PY, "-c", _READ_PARQUET,
                                                         *sorted(str(p) for p in pq.glob("*.parquet"))], env)
    if not big:
        bench.run(label, "validate (load + validate, cold, no cache)", cli("validate", str(folder)), env)
        if not args.skip_full_path:
            bench.run(label, "validate, full path only (before the fast path)",
                      [PY, "-c", _LOAD, str(folder), "full", "nocache"], env)
    bench.run(label, "first load (writes the typed cache)", [PY, "-c", _LOAD, str(folder), "fast", "cache"], env)
    bench.run(label, "cached load", [PY, "-c", _LOAD, str(folder), "fast", "cache"], env)
    bench.run(label, "scoring core: cached load + funnel + rank + skills", [PY, "-c", _CORE, str(folder), MONTH], env)
    if not args.skip_warehouse:
        root = DATA / "warehouse" / folder.name
        shutil.rmtree(root, ignore_errors=True)
        bench.run(label, "warehouse: export monthly Parquet (from the cache)", [PY, "-c", _EXPORT, str(folder), str(root)],
                  env)
        bench.run(label, "warehouse: DuckDB sums over the Parquet months", [PY, "-c", _AGGREGATE, str(root),
                                                                             args.duckdb_memory], env)
    if big:
        return
    for name in ANALYSES:
        bench.run(label, name, cli(name, str(folder), "--month", MONTH, "--format", "csv"), env)
    if not args.skip_report:
        run_report_stage(bench, label, folder, env)


def report_argv(folder: Path) -> tuple[list[str], Path]:
    """The report command for ``folder``'s data set, and the folder it writes under."""
    out = DATA / "reports" / folder.name
    return cli("report", str(folder), "--month", MONTH, "--out", str(out)), out


def describe_report(bench: Bench, res: Result, label: str, out: Path) -> None:
    """What the report wrote (notebooks, coaching packs) and its own progress lines."""
    month_dir = out / MONTH
    res.detail["notebooks"] = len(list(month_dir.glob("*.ipynb")))
    res.detail["coaching_packs"] = len(list((month_dir / "coaching").glob("*.html")))
    res.steps = report_steps(bench.log(label, REPORT_STAGE))


def run_report_stage(bench: Bench, label: str, folder: Path, env: dict) -> None:
    argv, out = report_argv(folder)
    res = bench.run(label, REPORT_STAGE, argv, env, sample_tree=True)
    if res.ok:
        describe_report(bench, res, label, out)


def empty_notebook_argv() -> list[str]:
    nb = empty_notebook()
    return [str(Path(PY).with_name("papermill")), str(nb), str(DATA / "empty.out.ipynb"), "-k", "python3",
            "--no-progress-bar"]


def paired_report_rounds(bench: Bench, label: str, folder: Path, env: dict, csvs: list[str]) -> None:
    """Issue 14's target measured in rounds: each round runs the empty notebook, the bare CSV
    read and the report one after the other, and gives the report's ratio to that round's
    floors. The machine's speed drifts over minutes (the same report has taken 42 to 52 CPU
    seconds within a quarter of an hour here); each report is set against floors measured
    beside it, every round is kept, and the verdict takes the median round (the floors vary
    from round to round too, so this shows the spread rather than removing it). The table
    shows each stage's fastest run, as elsewhere."""
    report, out = report_argv(folder)
    stages = [("-", EMPTY_STAGE, empty_notebook_argv(), bench.env(None)),
              (label, CSV_STAGE, [PY, "-c", _READ_CSV, *csvs], env),
              (label, REPORT_STAGE, report, env)]
    runs: dict[str, list] = {stage: [] for _, stage, _, _ in stages}
    ratios = []
    for k in range(bench.args.repeat):
        for size, stage, argv, stage_env in stages:
            say(f"[{size}] {stage} (round {k + 1}) ...")
            measured = measure(argv, stage_env, bench.log(size, stage), stage == REPORT_STAGE)
            if measured[4] != 0:
                bench.failed(size, stage, measured)
                return
            runs[stage].append(measured[:4])
        e, c, r = (runs[stage][-1][0] for _, stage, _, _ in stages)
        ratios.append(r / (e + c))
        say(f"[{label}] round {k + 1}: report {r:.1f} s / (empty notebook {e:.1f} s + CSV read {c:.1f} s) "
            f"= {ratios[-1]:.2f} x")
    for size, stage, _, _ in stages:
        seconds, peak, tree, cpu = min(runs[stage])
        res = Result(size, stage, seconds, peak, tree, cpu)
        bench.results.append(res)
        if stage == REPORT_STAGE:
            describe_report(bench, res, label, out)
            res.detail["paired_ratios"] = [round(x, 3) for x in ratios]
            res.detail["rounds"] = [{"empty_notebook_s": round(runs[EMPTY_STAGE][k][0], 2),
                                     "csv_read_s": round(runs[CSV_STAGE][k][0], 2),
                                     "report_s": round(runs[REPORT_STAGE][k][0], 2),
                                     "report_cpu_s": round(runs[REPORT_STAGE][k][3], 2)}
                                    for k in range(len(ratios))]


_STEP = re.compile(r"^\[([^\]]+)\] (.*?) … ([0-9.]+) s$")


def report_steps(log: Path) -> list[tuple[str, float]]:
    """The report's own progress lines (``[2/7] 02_script_ranking.ipynb … 3.1 s``) as (step,
    seconds): each notebook's time in its kernel, the workbook, the coaching packs (running
    beside the notebooks), the privacy scan. Wall seconds, so side-by-side steps overlap."""
    steps = []
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return steps
    for line in lines:
        m = _STEP.match(line.strip())
        if not m:
            continue
        tag, what, seconds = m.groups()
        if tag == "coaching":
            steps = [s for s in steps if s[0] != "coaching packs"]
            what = "coaching packs"
        elif tag[0].isdigit():
            what = what.split(" ")[0]
        else:
            what = tag
        steps.append((what, float(seconds)))
    return steps


# ----------------------------------------------------------------------------- targets
@dataclass
class Verdict:
    size: str
    target: str
    measured: str
    limit: str
    passed: bool | None


def judge(results: list[Result], empty_s: float | None) -> list[Verdict]:
    verdicts = []
    by = {(r.size, r.stage): r for r in results}
    sizes = list(dict.fromkeys(r.size for r in results))
    for size in sizes:
        csv = by.get((size, CSV_STAGE))
        official = size == "1m"
        tag = "" if official else " (target set for 1m; shown for reference)"
        if csv and csv.ok:
            for stage in ("validate (load + validate, cold, no cache)", *ANALYSES):
                r = by.get((size, stage))
                if r is None:
                    continue
                limit = ANALYSIS_X_CSV * csv.seconds
                cpu = f"; CPU {r.cpu_seconds / csv.cpu_seconds:.2f}x" if r.ok and csv.cpu_seconds else ""
                verdicts.append(Verdict(size, f"{stage} <= 3x bare CSV read{tag}",
                                        f"{r.seconds:.1f} s ({r.seconds / csv.seconds:.2f}x{cpu})" if r.ok else "failed",
                                        f"{limit:.1f} s", (r.ok and r.seconds <= limit) if official else None))
            rep = by.get((size, REPORT_STAGE))
            if rep is not None and empty_s is not None:
                nbs = rep.detail.get("notebooks", 0)
                packs = rep.detail.get("coaching_packs", 0)
                limit = REPORT_FACTOR * (nbs * empty_s + csv.seconds) + SECONDS_PER_PACK * packs
                verdicts.append(Verdict(
                    size, f"report <= 2 x ({nbs} notebooks x empty notebook + read) + 0.5 s x {packs} packs{tag}",
                    f"{rep.seconds:.1f} s" if rep.ok else "failed", f"{limit:.1f} s",
                    (rep.ok and rep.seconds <= limit) if official else None))
                floor = empty_s + csv.seconds  # issue 14: the whole report against one notebook + one read
                ratio = rep.seconds / floor if rep.ok and floor > 0 else float("nan")
                paired = rep.detail.get("paired_ratios")
                if paired:  # report-only: each report against the floors measured beside it
                    ratio = float(statistics.median(paired))
                    measured = (f"median {ratio:.2f} x of {len(paired)} paired rounds "
                                f"({', '.join(f'{x:.2f}' for x in paired)}); fastest of each: {rep.seconds:.1f} s "
                                f"/ ({empty_s:.1f} s + {csv.seconds:.1f} s)")
                    limit_text = f"{REPORT_X_FLOOR} x"
                else:
                    measured = f"{rep.seconds:.1f} s = {ratio:.2f} x ({empty_s:.1f} s + {csv.seconds:.1f} s)"
                    limit_text = f"{REPORT_X_FLOOR * floor:.1f} s"
                verdicts.append(Verdict(
                    size, f"report ({packs} coaching packs) <= {REPORT_X_FLOOR} x (empty notebook + bare CSV read){tag}",
                    measured if rep.ok else "failed", limit_text,
                    (rep.ok and ratio <= REPORT_X_FLOOR) if official else None))
        core = by.get((size, "scoring core: cached load + funnel + rank + skills"))
        if core is not None:
            big = size.endswith("m") and float(size[:-1]) >= 10
            verdicts.append(Verdict(
                size, "scoring core peak memory < 6 GB" + ("" if big else " (target set for 10m; shown for reference)"),
                f"{core.peak_mb:,.0f} MB" if core.ok else "failed", f"{CORE_MEMORY_MB:,} MB",
                (core.ok and core.peak_mb < CORE_MEMORY_MB) if big else None))
    return verdicts


# ----------------------------------------------------------------------------- machine, output
def machine() -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gb"] = round(int(line.split()[1]) / 2**20, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["load_average_1m_at_start"] = round(os.getloadavg()[0], 2)
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip().splitlines()
        info["uncommitted_tracked_files"] = len(dirty)
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown"
    import pandas
    import pyarrow

    info["pandas"], info["pyarrow"] = pandas.__version__, pyarrow.__version__
    info["date"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return info


def _mb(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


def _rows(results: list[Result], floors: dict[str, Result]) -> list[tuple]:
    """(size, stage, seconds, x CSV, CPU seconds, CPU x CSV, peak MB, tree peak MB, note) per result."""
    rows = []
    for r in results:
        csv = floors.get(r.size)
        comparable = csv is not None and r.ok and not r.stage.startswith("generate")
        ratio = f"{r.seconds / csv.seconds:.2f}" if comparable else ""
        cpu_ratio = f"{r.cpu_seconds / csv.cpu_seconds:.2f}" if comparable and csv.cpu_seconds else ""
        note = r.note
        if r.detail:
            note = (note + "; " if note else "") + ", ".join(f"{k} {v}" for k, v in r.detail.items())
        rows.append((r.size, r.stage, f"{r.seconds:.1f}" if r.ok else "failed", ratio,
                     f"{r.cpu_seconds:.1f}" if r.cpu_seconds is not None else "", cpu_ratio,
                     _mb(r.peak_mb), _mb(r.tree_peak_mb), note if r.ok else "FAILED " + note))
    return rows


_HEAD = ("size", "stage", "seconds", "x CSV", "CPU s", "CPU x CSV", "peak MB", "tree MB", "note")


def table(results: list[Result], floors: dict[str, Result]) -> str:
    rows = [_HEAD] + _rows(results, floors)
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(_HEAD) - 1)]
    lines = []
    for i, row in enumerate(rows):
        cells = [str(c).ljust(w) if j < 2 else str(c).rjust(w) for j, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells) + "  " + row[-1])
        if i == 0:
            lines.append("-" * (sum(widths) + 2 * len(widths) + 4))
    return "\n".join(lines)


def markdown(results: list[Result], verdicts: list[Verdict], floors: dict[str, Result], info: dict) -> str:
    out = [f"Machine: {info.get('cpu', '?')}, {info.get('nproc')} CPUs, {info.get('ram_gb', '?')} GB RAM; "
           f"load average {info.get('load_average_1m_at_start')} at start, {info.get('load_average_1m_at_end')} "
           f"at end. Date {info['date']}, commit {info.get('commit')} "
           f"({info.get('uncommitted_tracked_files', 0)} tracked files with uncommitted changes); "
           f"Python {info['python']}, pandas {info['pandas']}, pyarrow {info['pyarrow']}.", "",
           "| " + " | ".join(_HEAD) + " |", "|---|---|" + "---:|" * (len(_HEAD) - 3) + "---|"]
    for row in _rows(results, floors):
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    for r in results:
        if r.steps:
            out += ["", f"Report steps at {r.size} (wall seconds inside the run; the coaching packs are written "
                        "beside the notebooks, and the two kernels run side by side, so steps overlap):", "",
                    "| step | seconds |", "|---|---:|"]
            out += [f"| {what} | {seconds:.1f} |" for what, seconds in r.steps]
    out += ["", "| size | target | measured | limit | verdict |", "|---|---|---:|---:|---|"]
    for v in verdicts:
        verdict = "info" if v.passed is None else ("PASS" if v.passed else "FAIL")
        out.append(f"| {v.size} | {v.target} | {v.measured} | {v.limit} | {verdict} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=None,
                   help="comma-separated total calls, e.g. 100k,1m (default 100k,1m); 10m runs the scoring "
                        "core only and first generates 10M calls (about 3 minutes and 5 GB of memory, once)")
    p.add_argument("--quick", action="store_true", help="100k only, no report, no full-path comparison")
    p.add_argument("--seed", type=int, default=7, help="demo seed (default 7)")
    p.add_argument("--repeat", type=int, default=1, help="runs per stage, the fastest kept (default 1)")
    p.add_argument("--skip-report", action="store_true", help="leave out the full report")
    p.add_argument("--report-only", action="store_true",
                   help="only the floors and the full report (issue 14's target), 1m unless --sizes says otherwise")
    p.add_argument("--skip-full-path", action="store_true",
                   help="leave out the validate run without the loader's fast path")
    p.add_argument("--floors-at-10m", action="store_true", help="also time the CSV/Parquet floors at >= 5M calls")
    p.add_argument("--skip-warehouse", action="store_true", help="leave out the DuckDB aggregation (issue 8, part 3)")
    p.add_argument("--duckdb-memory", default="1GB", metavar="SIZE",
                   help="DuckDB's memory limit for the warehouse stage (default 1GB; it spills beyond it)")
    p.add_argument("--experiments", action="store_true",
                   help="run only the simulation of daily-watched script experiments (benchmarks/experiments_sim.py)")
    args = p.parse_args(argv)
    if args.experiments:
        return subprocess.call([PY, str(ROOT / "benchmarks" / "experiments_sim.py")])
    if args.report_only:
        args.sizes = args.sizes or "1m"
        args.skip_report = False
    if args.quick:
        args.sizes = args.sizes or "100k"
        args.skip_report = args.skip_full_path = args.skip_warehouse = True
    try:
        sizes = [parse_size(s) for s in (args.sizes or "100k,1m").split(",") if s.strip()]
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if args.repeat < 1:
        p.error(f"--repeat {args.repeat} must be >= 1")

    info = machine()
    say(f"machine: {info.get('cpu')}, {info['nproc']} CPUs, {info.get('ram_gb')} GB RAM, load "
        f"{info['load_average_1m_at_start']}; commit {info.get('commit')}")
    bench = Bench(args)
    empty_s = None
    if any(n < 5_000_000 for n in sizes) and not args.skip_report and not args.report_only:
        res = bench.run("-", EMPTY_STAGE, empty_notebook_argv(), bench.env(None))
        empty_s = res.seconds if res.ok else None
    for n in sizes:
        run_size(bench, n, empty_s)
    if args.report_only:  # measured in the rounds, beside each report
        empty_s = next((r.seconds for r in bench.results if r.stage == EMPTY_STAGE and r.ok), None)

    floors = {r.size: r for r in bench.results if r.stage == CSV_STAGE and r.ok}
    verdicts = judge(bench.results, empty_s)
    info["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print()
    print(table(bench.results, floors))
    print()
    for v in verdicts:
        verdict = "info" if v.passed is None else ("PASS" if v.passed else "FAIL")
        print(f"{verdict:4}  [{v.size}] {v.target}: {v.measured} (limit {v.limit})")
    print(f"\nload average: {info['load_average_1m_at_start']} at start, {info['load_average_1m_at_end']} at end "
          f"({info['nproc']} CPUs); timings on a busy machine are inflated")

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = DATA / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{stamp}.json").write_text(json.dumps({
        "machine": info, "results": [asdict(r) for r in bench.results],
        "verdicts": [asdict(v) for v in verdicts]}, indent=2))
    md = markdown(bench.results, verdicts, floors, info)
    (results_dir / f"{stamp}.md").write_text(md)
    (results_dir / "latest.md").write_text(md)
    print(f"results: {(results_dir / f'{stamp}.json').relative_to(ROOT)} and latest.md (markdown for the README)")
    failed = [v for v in verdicts if v.passed is False] or [r for r in bench.results if not r.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
