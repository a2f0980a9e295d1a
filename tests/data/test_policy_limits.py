"""Policy files from careless or hostile hands: every number in a documented range, only
regular files of modest size, one message naming the file and the key, never a traceback."""

from __future__ import annotations

import os
import re
import threading
import tomllib
from pathlib import Path

import pytest

from telesales_lab.cli import main
from telesales_lab.data.policy import MAX_POLICY_BYTES, RANGES, default_policy_path, load_policy
from telesales_lab.exceptions import PolicyError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, key, rule", [
    ("[kpi.satisfaction]\nresolve_within_days = 1e308", "[kpi.satisfaction] resolve_within_days",
     "must be between 0 and 366"),
    ("[kpi.satisfaction]\nprior_feedback = 1e308", "[kpi.satisfaction] prior_feedback", "must be between 0 and 100"),
    ("[training]\ndue_weeks = [2, 1e308]", "[training] due_weeks", "must be between 0 and 104"),
    ("[kpi.weights]\nsales = 1e308\nskills = 1e308", "[kpi.weights] sales", "must be between 0 and 1000"),
    ("[training]\ntop_n = -1", "[training] top_n", "must be between 1 and 7"),
    ("[training]\ntop_n = 2.5", "[training] top_n", "must be a whole number"),
    ("[care]\nhorizon_days = inf", "[care] horizon_days", "must be a finite number"),
    ("[calibration]\nalpha = nan", "[calibration] alpha", "must be a finite number"),
    ("[grades]\nA = 180.0\nD = 0.0", "[grades] A", "must be <= 100"),
    ("[promotion.team_lead]\ngrade_streak = 100000", "[promotion.team_lead] grade_streak",
     "must be between 1 and 120"),
])
def test_numbers_out_of_range_are_refused_naming_file_and_key(tmp_path, text, key, rule):
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError, match=re.escape(f"{path}: {key} = ") + ".*" + re.escape(rule)):
        load_policy(path)


def test_every_numeric_key_of_the_defaults_has_a_documented_range():
    defaults = tomllib.loads(default_policy_path().read_text(encoding="utf-8"))
    load_policy()  # the shipped values are inside their ranges

    def numeric(node, dotted=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from numeric(v, f"{dotted}.{k}" if dotted else k)
        elif isinstance(node, list):
            if node and isinstance(node[0], (int, float)):
                yield f"{dotted}.*"
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            yield dotted

    keys = set(numeric(defaults))
    from telesales_lab.data.policy import _range_of

    assert all(_range_of(k) is not None for k in keys), sorted(k for k in keys if _range_of(k) is None)
    doc = DOCS.read_text(encoding="utf-8")
    for pattern, (lo, hi, _) in RANGES.items():
        assert f"`{pattern}`" in doc, f"docs/policy.md does not list {pattern}"


def test_evaluate_refuses_negative_top_n_with_exit_2(tmp_path, tiny_dir, capsys):
    path = _write(tmp_path, "[training]\ntop_n = -1\n")
    assert main(["evaluate", str(tiny_dir), "--month", "2026-10", "--policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: [training] top_n = -1: must be between 1 and 7" in err
    assert "Traceback" not in err


def test_deeply_nested_arrays_are_refused_without_recursion_error(tmp_path):
    path = _write(tmp_path, "[kpi]\nroles = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(PolicyError, match=re.escape(str(path)) + ".*nested too deeply|must be a list"):
        load_policy(path)
    nested = {"kpi": {"roles": ["rep"]}}
    node = nested
    for _ in range(3000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(PolicyError, match="policy"):
        from telesales_lab.data.policy import resolve_policy

        resolve_policy(nested)


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "policy.toml"
    os.mkfifo(fifo)
    result = {}

    def load():
        try:
            load_policy(fifo)
        except PolicyError as exc:
            result["error"] = str(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test run can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("load_policy hung on a FIFO")
    assert result["error"] == f"{fifo}: not a regular file (a folder, pipe or device); give the path of a TOML file"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
def test_dev_zero_and_folders_are_refused(tmp_path):
    with pytest.raises(PolicyError, match="^/dev/zero: not a regular file"):
        load_policy("/dev/zero")
    with pytest.raises(PolicyError, match="not a regular file"):
        load_policy(tmp_path)


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.toml"
    path.write_bytes(b"# " + b"x" * MAX_POLICY_BYTES + b"\n")
    with pytest.raises(PolicyError, match=re.escape(f"{path}: {path.stat().st_size:,} bytes") + ".*at most"):
        load_policy(path)


def test_a_policy_is_built_once_per_version_of_its_file(tmp_path):
    """Loading the same unchanged file again gives the same policy without reading it again; a
    caller changing its copy changes no one else's; an edited file is read again."""
    path = _write(tmp_path, "[kpi.satisfaction]\nresolve_within_days = 3\n")
    first = load_policy(path)
    first["kpi"]["satisfaction"]["resolve_within_days"] = 99  # a caller's own copy
    again = load_policy(path)
    assert again["kpi"]["satisfaction"]["resolve_within_days"] == 3
    assert load_policy(None) == load_policy(None) and load_policy(None) is not load_policy(None)
    stat = path.stat()
    path.write_text("[kpi.satisfaction]\nresolve_within_days = 5\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_policy(path)["kpi"]["satisfaction"]["resolve_within_days"] == 5
    bad = _write(tmp_path, "[kpi.satisfaction]\nresolve_within_days = -1\n")
    for _ in range(2):  # a refused file is refused every time, never remembered
        with pytest.raises(PolicyError, match="resolve_within_days"):
            load_policy(bad)
