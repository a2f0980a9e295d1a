"""Months, quarters and years: parsing ``YYYY-MM`` and selecting rows in a period."""

from __future__ import annotations

import pandas as pd

from telesales_lab.data.month_text import month_text
from telesales_lab.exceptions import ParameterError


def parse_month(month: str) -> pd.Period:
    """``"2026-10"`` -> ``Period('2026-10', 'M')``; anything else is a ParameterError."""
    return pd.Period(month_text(month), freq="M")


def month_bounds(month: str | pd.Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start (inclusive) and end (exclusive) timestamps of a month."""
    p = month if isinstance(month, pd.Period) else parse_month(month)
    return p.start_time, (p + 1).start_time


def previous_month(month: str | pd.Period) -> pd.Period:
    p = month if isinstance(month, pd.Period) else parse_month(month)
    return p - 1


def in_month(times: pd.Series, month: str | pd.Period) -> pd.Series:
    """Boolean mask: which timestamps fall in the month."""
    start, end = month_bounds(month)
    return (times >= start) & (times < end)


def in_window(times: pd.Series, month: str | pd.Period, months: int = 1) -> pd.Series:
    """Mask for the ``months`` months ending with (and including) ``month``."""
    if months < 1:
        raise ParameterError(f"window == {months}, must be >= 1 month")
    p = month if isinstance(month, pd.Period) else parse_month(month)
    start = (p - (months - 1)).start_time
    return (times >= start) & (times < (p + 1).start_time)


def require_data(times: pd.Series, month: str | pd.Period, what: str = "calls") -> None:
    """Raise a ParameterError naming the months that do have data, if ``month`` has none."""
    if not in_month(times, month).any():
        have = times.dropna().dt.to_period("M")
        span = f"{have.min()} to {have.max()}" if len(have) else "no months"
        raise ParameterError(f"no {what} in month {month}; the data covers {span}")
