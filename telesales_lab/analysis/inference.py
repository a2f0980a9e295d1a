"""Small inference helpers shared by the analyses: Wilson intervals for proportions and
multiple-comparison adjustment of p-values.

The adjustment is the same arithmetic as statsmodels' ``multipletests`` (the tests check
it), without its import cost and the full garbage collection it runs on every call.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from telesales_lab.exceptions import ParameterError

#: Accepted ``method`` values and statsmodels' name for each.
PADJUST = {"holm": "holm", "bh": "fdr_bh"}


def check_padjust(padjust: str) -> str:
    if padjust not in PADJUST:
        raise ParameterError(f"padjust == {padjust!r}, must be one of {'|'.join(PADJUST)}")
    return padjust


def adjust_pvalues(p, method: str = "holm") -> np.ndarray:
    """Holm (step-down, family-wise error) or Benjamini-Hochberg (step-up, false discovery) p-values.

    NaN p-values are left out of the family and stay NaN.
    """
    check_padjust(method)
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    if method == "holm":
        order = np.argsort(q, kind="stable")
        adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
    else:
        order = np.argsort(q, kind="stable")[::-1]
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions (vectorised).

    Returns ``(low, high)`` arrays; NaN where ``trials`` is 0.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = ndtri(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low, high = centre - half, centre + half
    low = np.where(k == 0, 0.0, low)  # exact at the ends, not 1e-17 off
    high = np.where(k == n, 1.0, high)
    low = np.where(n > 0, np.clip(low, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(high, 0, 1), np.nan)
    return low, high
