"""The project's exceptions. The CLI turns every :class:`TelesalesError` into exit status 2."""

from __future__ import annotations

from dataclasses import dataclass


class TelesalesError(Exception):
    """Base class: a problem the user can fix (bad input, bad settings)."""


@dataclass(frozen=True)
class Problem:
    """One rule broken in one column of one file.

    ``rows`` are the first few row numbers as a person sees them: the line in a CSV file
    (header = line 1), the row in an Excel sheet, or the record number in Parquet.
    """

    file: str
    column: str | None
    rule: str
    rows: tuple[int, ...] = ()
    n_rows: int = 0
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = self.file if self.column is None else f"{self.file}: column '{self.column}'"
        text = f"{where}: {self.rule}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" (+{self.n_rows - len(self.rows)} more)" if self.n_rows > len(self.rows) else ""
            text += f" [rows {shown}{more}]"
        if self.examples:
            text += " e.g. " + ", ".join(repr(e) for e in self.examples)
        return text


class DataValidationError(TelesalesError):
    """The data set breaks one or more rules; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        head = f"{len(self.problems)} problem(s) found; nothing was written:"
        return "\n".join([head] + [f"  {p}" for p in self.problems])


class PolicyError(TelesalesError):
    """The policy file (KPI weights, grade bands, thresholds) is invalid."""


class MappingError(TelesalesError):
    """An import mapping does not fit its source export."""


class ParameterError(TelesalesError):
    """An argument is out of its allowed range (e.g. a month with no data)."""


class ReportError(TelesalesError):
    """A report notebook failed; the previous report was left in place."""


class RegistryError(TelesalesError):
    """The experiment registry (``experiments.toml``) is invalid."""
