"""Sample-ratio-mismatch check: were the variants dialled in the intended shares?
"""

from __future__ import annotations

import json
from pathlib import Path
import numpy as np
import pandas as pd
from scipy import stats
from telesales_lab.exceptions import ParameterError
from telesales_lab.analysis.ranking.cells import _check_open01, _check_window, script_cells
from telesales_lab.analysis.ranking.ranker import _types


# ----------------------------------------------------------------------------- sample ratio mismatch
def _read_split(intended_split, scenarios_scripts: pd.DataFrame) -> pd.DataFrame:
    """Intended shares as a frame ``scenario, script_id, intended_share``."""
    if isinstance(intended_split, (str, Path)) and str(intended_split) == "equal":
        out = scenarios_scripts.copy()
        out["intended_share"] = 1.0 / out.groupby("scenario")["script_id"].transform("size")
        return out
    if isinstance(intended_split, (str, Path)):
        path = Path(intended_split)
        if not path.is_file():
            raise ParameterError(f"intended_split file {path} does not exist")
        if path.suffix == ".json":
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ParameterError(f"{path}: not valid JSON ({exc})") from None
            intended_split = obj.get("intended_split", obj)
        else:
            frame = pd.read_csv(path, dtype={"scenario": "string", "script_id": "string"})
            need = {"scenario", "script_id", "share"}
            if not need <= set(frame.columns):
                raise ParameterError(f"{path}: needs columns scenario, script_id, share "
                                     f"(has {', '.join(map(str, frame.columns))})")
            intended_split = {sc: dict(zip(g["script_id"], g["share"])) for sc, g in frame.groupby("scenario")}
    if not isinstance(intended_split, dict):
        raise ParameterError("intended_split must be 'equal', a dict {scenario: {script_id: share}}, "
                             "or a .csv (scenario, script_id, share) / .json file")
    rows = []
    for sc, shares in intended_split.items():
        if not isinstance(shares, dict):
            raise ParameterError(f"intended_split[{sc!r}] == {shares!r}, must be a dict {{script_id: share}}")
        for sid, sh in shares.items():
            try:
                sh = float(sh)
            except (TypeError, ValueError):
                raise ParameterError(f"intended_split[{sc!r}][{sid!r}] == {sh!r}, must be a number") from None
            if not sh >= 0:
                raise ParameterError(f"intended_split[{sc!r}][{sid!r}] == {sh!r}, must be >= 0")
            rows.append((str(sc), str(sid), sh))
    out = pd.DataFrame(rows, columns=["scenario", "script_id", "intended_share"])
    tot = out.groupby("scenario")["intended_share"].transform("sum")
    if (tot <= 0).any():
        raise ParameterError("intended_split: every scenario needs a positive total share")
    out["intended_share"] = out["intended_share"] / tot
    return out


def srm_check(data, month: str, intended_split="equal", window_months: int = 1, *,
              threshold: float = 0.001) -> pd.DataFrame:
    """Sample-ratio-mismatch check: are the dials split across variants as intended?

    A chi-square goodness-of-fit test (``scipy.stats.chisquare``) of each scenario's dials
    per variant against the intended shares. A tiny p-value (below ``threshold``, the usual
    0.001) means assignment did not follow the plan (reps choosing, a broken dialer rule),
    so raw comparisons are suspect.

    Parameters
    ----------
    intended_split : "equal", dict, or path
        ``"equal"`` (every variant of a scenario equally), ``{scenario: {script_id: share}}``
        (shares are normalised; only the listed scenarios are checked), a CSV with columns
        ``scenario, script_id, share``, or a JSON file with that dict (optionally under a key
        ``intended_split``).

    Returns
    -------
    DataFrame
        ``scenario, script_id, calls, observed_share, intended_share, expected_calls, chi2,
        p_value, srm``: ``chi2``/``p_value`` are the scenario's test (repeated on its rows),
        ``srm`` is ``p_value < threshold``.
    """
    window_months = _check_window(window_months)
    threshold = _check_open01("threshold", threshold)
    cells = script_cells(data, month, window_months=window_months)  # the ranking's, kept in data.cache
    dials = cells.groupby(["scenario", "script_id"], observed=True)["calls"].sum().reset_index()
    split = _read_split(intended_split, dials[["scenario", "script_id"]])
    out = split.merge(dials, on=["scenario", "script_id"], how="left")
    out["calls"] = out["calls"].fillna(0).astype("int64")
    extra = dials.merge(split, on=["scenario", "script_id"], how="left")
    extra = extra[extra["intended_share"].isna() & extra["scenario"].isin(split["scenario"])]
    if len(extra):
        extra = extra.assign(intended_share=0.0)
        out = pd.concat([out, extra[out.columns]], ignore_index=True)
    rows = []
    for sc, g in out.groupby("scenario", sort=True):
        g = g.sort_values("script_id").copy()
        total = g["calls"].sum()
        g["observed_share"] = g["calls"] / total if total else np.nan
        g["expected_calls"] = g["intended_share"] * total
        if total and (g["expected_calls"] > 0).all() and len(g) > 1:
            chi2, p = stats.chisquare(g["calls"].to_numpy(float), g["expected_calls"].to_numpy(float))
        elif total and ((g["expected_calls"] == 0) & (g["calls"] > 0)).any():
            chi2, p = np.inf, 0.0  # calls on a variant meant to get none
        else:
            chi2, p = np.nan, np.nan
        g["chi2"], g["p_value"] = float(chi2), float(p)
        rows.append(g)
    cols = ["scenario", "script_id", "calls", "observed_share", "intended_share", "expected_calls", "chi2",
            "p_value", "srm"]
    if not rows:
        return pd.DataFrame(columns=cols)
    res = pd.concat(rows, ignore_index=True)
    res["srm"] = res["p_value"] < threshold
    return _types(res[cols], ["scenario"])
