"""Labels of numeric bands (``<25``, ``25-35``, ``>=65``) and their natural order.
"""

from __future__ import annotations

import re
import pandas as pd


_LEADING_NUMBER = re.compile(r"^\s*(<)?\s*(-?\d+(?:\.\d+)?)")


def _natural_key(label) -> tuple:
    """Sort key putting band labels in order: ``<25``, ``25-34``, ..., ``65+``; text after."""
    if pd.isna(label):
        return (2, 0.0, "")
    match = _LEADING_NUMBER.match(str(label))
    if match is None:
        return (1, 0.0, str(label))
    return (0, float(match.group(2)) - (0.5 if match.group(1) else 0.0), str(label))


def band_labels(edges) -> list[str]:
    """Labels of the bands cut at ``edges``: ``<a``, ``a-b``, ..., ``z+``.

    Band ``i`` holds ``edges[i-1] <= value < edges[i]``. With whole-number edges the
    labels are inclusive (``25-34``; a one-value band is just ``3``), otherwise
    half-open (``2.5-<5``).
    """
    edges = [float(e) for e in edges]
    whole = all(e.is_integer() for e in edges)
    fmt = (lambda v: f"{int(v)}") if whole else (lambda v: f"{v:g}")
    out = [f"<{fmt(edges[0])}"]
    for lo, hi in zip(edges[:-1], edges[1:]):
        if whole:
            out.append(fmt(lo) if hi - 1 == lo else f"{fmt(lo)}-{fmt(hi - 1)}")
        else:
            out.append(f"{fmt(lo)}-<{fmt(hi)}")
    out.append(f"{fmt(edges[-1])}+")
    return out
