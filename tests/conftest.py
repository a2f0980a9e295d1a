"""Shared fixtures: a tiny valid data set written as text, to be broken one rule at a time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own cache folder, so no test sees another's typed copy."""
    monkeypatch.setenv("TELESALES_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def tiny_tables() -> dict[str, pd.DataFrame]:
    """A small, valid data set in canonical columns (all values as text)."""
    t = {}
    t["reps"] = pd.DataFrame({
        "rep_id": ["R1", "R2", "L1"],
        "name": ["王芳", "李伟", "张敏"],
        "team": ["华东一组", "华东一组", "华东一组"],
        "role": ["rep", "rep", "team_lead"],
        "hired_on": ["2024-01-15", "2025-03-01", "2020-06-01"],
    })
    t["customers"] = pd.DataFrame({
        "customer_id": ["K1", "K2", "K3"],
        "name": ["陈静", "刘洋", "赵磊"],
        "phone": ["13812345678", "13987654321", "13700001111"],
        "acquired_on": ["2024-02-01", "2024-05-05", "2025-01-01"],
        "region": ["上海", "杭州", "南京"],
    })
    t["scripts"] = pd.DataFrame({
        "script_id": ["S1", "S2"],
        "name": ["开场白甲", "开场白乙"],
        "scenario": ["cold_call", "cold_call"],
        "text": ["您好，限时优惠", "您好，为您量身定制"],
    })
    t["calls"] = pd.DataFrame({
        "call_id": ["C1", "C2", "C3", "C4"],
        "rep_id": ["R1", "R1", "R2", "L1"],
        "customer_id": ["K1", "K2", "K3", "K1"],
        "script_id": ["S1", "S2", "S1", "S2"],
        "started_at": ["2026-10-01 09:30:00", "2026-10-01 10:00:00", "2026-10-02 14:15:00", "2026-10-03 11:00:00"],
        "duration_s": ["120", "0", "300", "45"],
        "outcome": ["sale", "no_answer", "interested", "rejected"],
        "objection": ["price", "", "", "trust"],
    })
    t["orders"] = pd.DataFrame({
        "order_id": ["O1"],
        "customer_id": ["K1"],
        "rep_id": ["R1"],
        "ordered_at": ["2026-10-02 10:00:00"],
        "amount": ["1999.5"],
        "profit": ["400"],
        "status": ["paid"],
        "call_id": ["C1"],
    })
    t["feedback"] = pd.DataFrame({
        "feedback_id": ["F1", "F2"],
        "customer_id": ["K1", "K3"],
        "rep_id": ["R1", "R2"],
        "received_at": ["2026-10-05 12:00:00", "2026-10-06 12:00:00"],
        "score": ["5", "2"],
        "complaint": ["false", "true"],
        "call_id": ["C1", "C3"],
        "resolved_at": ["", "2026-10-08 09:00:00"],
    })
    t["assessments"] = pd.DataFrame({
        "rep_id": ["R1", "R1", "R2"],
        "assessed_on": ["2026-10-10", "2026-10-10", "2026-10-11"],
        "skill": ["communication", "closing", "objection_handling"],
        "score": ["78", "64.5", "55"],
        "assessor_id": ["L1", "L1", "L1"],
    })
    return t


def write_tables(folder: Path, tables: dict[str, pd.DataFrame], fmt: str = "csv",
                 encoding: str = "utf-8") -> Path:
    """Write tables into ``folder`` as one file each (csv/parquet/xlsx) or one workbook."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "workbook":
        with pd.ExcelWriter(folder / "dataset.xlsx", engine="openpyxl") as xw:
            for name, frame in tables.items():
                frame.to_excel(xw, sheet_name=name, index=False)
        return folder
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False, encoding=encoding)
        elif fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        elif fmt == "xlsx":
            frame.to_excel(folder / f"{name}.xlsx", index=False)
    return folder


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    return write_tables(tmp_path / "data", tiny_tables())


def shared_dataset(name: str) -> Path:
    """Path of a data set under ../shared/datasets, or skip the test with the reason."""
    path = SHARED / "datasets" / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data sets sit beside the repository, not in it")
    return path


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory):
    """``demo_folder(**params)``: a demo data set written once per session for these parameters.

    Returns ``(folder, truth)``. Tests only read it; a test that changes files makes its own.
    """
    from telesales_lab.data.demo import write_demo

    made: dict[tuple, tuple[Path, dict]] = {}

    def get(**params) -> tuple[Path, dict]:
        key = tuple(sorted(params.items()))
        if key not in made:
            folder = tmp_path_factory.mktemp("demo") / "data"
            made[key] = (folder, write_demo(folder, **params))
        return made[key]

    return get
