"""Multiple-comparison adjustment of p-values (Holm, Benjamini-Hochberg).

The same arithmetic as statsmodels' ``multipletests`` (the tests check it), without its
import cost and the full garbage collection it runs on every call.
"""

from __future__ import annotations

import numpy as np

from .exceptions import ParameterError

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
