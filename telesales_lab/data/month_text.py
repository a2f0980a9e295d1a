"""A month as its text ``YYYY-MM``, checked without pandas: the report checks the month it is
asked for before it starts its kernels, and imports pandas only while they start."""

from __future__ import annotations

import re

from telesales_lab.exceptions import ParameterError

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_text(month: str) -> str:
    """``" 2026-10"`` -> ``"2026-10"``; anything but a month ``YYYY-MM`` is a ParameterError."""
    if not isinstance(month, str) or not _MONTH.match(month.strip()):
        raise ParameterError(f"month == {month!r}, must be YYYY-MM (e.g. 2026-10)")
    return month.strip()
