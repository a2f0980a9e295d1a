"""The canonical data model: table names, columns, dtypes and vocabularies.

Everything else in the package imports its vocabulary from here. A data set is a
folder with one file per table (``calls.csv``, ``reps.parquet``, ``orders.xlsx`` ...)
or one ``.xlsx`` workbook with a sheet per table.

Each table is described once, as a mapping of column name to :class:`ColumnSpec`.
:func:`table_schema` turns that into a :mod:`pandera` ``DataFrameSchema``, adding the
cross-table reference checks (``calls.rep_id`` must name a rep, and so on) from the
parent tables actually loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- vocabularies
ROLES = ("rep", "team_lead", "supervisor", "manager")
#: ``service``: the call reached someone and had no sales outcome (a service or information
#: call): connected, neither positive nor a rejection.
OUTCOMES = ("no_answer", "service", "rejected", "callback", "interested", "sale")
CONNECTED_OUTCOMES = ("service", "rejected", "callback", "interested", "sale")
POSITIVE_OUTCOMES = ("callback", "interested", "sale")
#: Order statuses that count as business done (a cancelled order counts for nothing).
KEPT_ORDER_STATUSES = ("signed", "paid")
OBJECTIONS = ("price", "timing", "no_need", "competitor", "trust", "authority")
ORDER_STATUSES = ("signed", "paid", "cancelled")
SKILLS = (
    "communication",
    "listening",
    "questioning",
    "objection_handling",
    "product_knowledge",
    "closing",
    "teamwork",
)
CUSTOMER_CLASSES = ("A", "B", "C")
TRAINING_METHODS = ("classroom", "coaching", "online", "practice")
#: The four training areas of the sales-management policy.
TRAINING_AREAS = ("product_knowledge", "sales_technique", "industry_knowledge", "communication")
#: What a sales target can be set on (see :mod:`telesales_lab.targets` for each definition).
TARGET_METRICS = ("revenue", "profit", "orders", "new_customers", "connected_calls", "sales")
#: A month as written in a table: ``YYYY-MM``.
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

#: Spellings accepted for boolean columns (compared lower-cased, stripped).
TRUE_WORDS = ("true", "t", "yes", "y", "1", "1.0", "是", "真")
FALSE_WORDS = ("false", "f", "no", "n", "0", "0.0", "否", "假")

#: Kinds of column and the pandas dtype each is coerced to.
KIND_DTYPES = {
    "id": "string",
    "text": "string",
    "date": "datetime64[ns]",
    "datetime": "datetime64[ns]",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "category": None,  # a CategoricalDtype built from the column's vocabulary
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a canonical table.

    Parameters
    ----------
    kind : {"id", "text", "date", "datetime", "int", "float", "bool", "category"}
        How the raw value is parsed.
    required : bool
        Whether the column must be present in the file.
    nullable : bool
        Whether empty cells are allowed.
    categories : tuple of str, optional
        Allowed values for ``kind="category"``.
    ge, le : float, optional
        Inclusive bounds for numeric columns.
    gt : float, optional
        Exclusive lower bound (``target`` > 0).
    pattern : str, optional
        Regular expression every non-empty text value must match in full (months).
    unique : bool
        Whether values must be unique (primary keys).
    references : str, optional
        ``"table.column"`` that every non-empty value must exist in.
    """

    kind: str
    required: bool = True
    nullable: bool = False
    categories: tuple[str, ...] = ()
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    pattern: str | None = None
    unique: bool = False
    references: str | None = None
    description: str = ""

    @property
    def dtype(self):
        if self.kind == "category":
            return pd.CategoricalDtype(list(self.categories))
        return KIND_DTYPES[self.kind]


def _opt(kind: str, **kw) -> ColumnSpec:
    return ColumnSpec(kind, required=False, nullable=True, **kw)


TABLES: dict[str, dict[str, ColumnSpec]] = {
    "reps": {
        "rep_id": ColumnSpec("id", unique=True, description="rep's id"),
        "name": ColumnSpec("text", description="rep's name"),
        "team": ColumnSpec("id", nullable=True,
                           description="team name or id; may be empty only for a supervisor or manager"),
        "role": ColumnSpec("category", categories=ROLES, description=" | ".join(ROLES)),
        "hired_on": ColumnSpec("date", description="date hired"),
        "manager_id": _opt("id", references="reps.rep_id", description="who this person reports to"),
        "is_person": _opt("bool", description="false for a row that is not a person (a placeholder agent "
                                              "for unassigned or whole-centre calls); empty = a person"),
    },
    "customers": {
        "customer_id": ColumnSpec("id", unique=True),
        "name": ColumnSpec("text", description="personal data: never shown in output"),
        "phone": ColumnSpec("text", description="personal data: shown masked only"),
        "acquired_on": ColumnSpec("date"),
        "source": _opt("text"),
        "birthday": _opt("date"),
        "industry": _opt("text"),
        "region": _opt("text"),
    },
    "scripts": {
        "script_id": ColumnSpec("id", unique=True),
        "name": ColumnSpec("text"),
        "scenario": ColumnSpec("id", description="free text, e.g. cold_call, follow_up, renewal"),
        "text": _opt("text"),
    },
    "calls": {
        "call_id": ColumnSpec("id", unique=True),
        "rep_id": ColumnSpec("id", references="reps.rep_id"),
        "customer_id": ColumnSpec("id", references="customers.customer_id"),
        "script_id": ColumnSpec("id", references="scripts.script_id"),
        "started_at": ColumnSpec("datetime"),
        "duration_s": ColumnSpec("float", ge=0),
        "outcome": ColumnSpec("category", categories=OUTCOMES, description=" | ".join(OUTCOMES)),
        "objection": _opt("category", categories=OBJECTIONS, description="empty or " + " | ".join(OBJECTIONS)),
        "transcript": _opt("text"),
    },
    "orders": {
        "order_id": ColumnSpec("id", unique=True),
        "customer_id": ColumnSpec("id", references="customers.customer_id"),
        "rep_id": ColumnSpec("id", references="reps.rep_id"),
        "ordered_at": ColumnSpec("datetime"),
        "amount": ColumnSpec("float", ge=0),
        "profit": ColumnSpec("float"),
        "status": ColumnSpec("category", categories=ORDER_STATUSES, description=" | ".join(ORDER_STATUSES)),
        "call_id": _opt("id", references="calls.call_id"),
    },
    "feedback": {
        "feedback_id": ColumnSpec("id", unique=True),
        "customer_id": ColumnSpec("id", references="customers.customer_id"),
        "rep_id": ColumnSpec("id", references="reps.rep_id"),
        "received_at": ColumnSpec("datetime"),
        "score": ColumnSpec("int", ge=1, le=5),
        "complaint": ColumnSpec("bool"),
        "call_id": _opt("id", references="calls.call_id"),
        "resolved_at": _opt("datetime"),
    },
    "assessments": {
        "rep_id": ColumnSpec("id", references="reps.rep_id"),
        "assessed_on": ColumnSpec("date"),
        "skill": ColumnSpec("category", categories=SKILLS, description=" | ".join(SKILLS)),
        "score": ColumnSpec("float", ge=0, le=100),
        "assessor_id": _opt("id", references="reps.rep_id"),
    },
    "training_catalog": {
        "module_id": ColumnSpec("id", unique=True),
        "title": ColumnSpec("text"),
        "skill": ColumnSpec("category", categories=SKILLS),
        "method": ColumnSpec("category", categories=TRAINING_METHODS),
        "hours": ColumnSpec("float", ge=0),
        "area": _opt("category", categories=TRAINING_AREAS),
        "title_zh": _opt("text"),
    },
    "training_log": {
        "rep_id": ColumnSpec("id", references="reps.rep_id"),
        "module_id": ColumnSpec("id"),
        "date": ColumnSpec("date"),
        "completed": ColumnSpec("bool"),
    },
    "targets": {
        "month": ColumnSpec("id", pattern=MONTH_PATTERN, description="YYYY-MM"),
        "rep_id": _opt("id", references="reps.rep_id", description="the rep; empty for a team target"),
        "team": _opt("id", references="reps.team", description="the team; empty for a rep's target"),
        "metric": ColumnSpec("category", categories=TARGET_METRICS, description=" | ".join(TARGET_METRICS)),
        "target": ColumnSpec("float", gt=0, description="> 0"),
    },
}

#: Per table, pairs of columns of which each row must fill exactly one.
ONE_OF_COLUMNS = {"targets": (("rep_id", "team"),)}
#: Per table, column sets that must not repeat (one target per month, rep or team, metric).
UNIQUE_TOGETHER = {"targets": (("month", "rep_id", "team", "metric"),)}

#: Tables a data set must have; the others may be absent.
REQUIRED_TABLES = ("reps", "customers", "scripts", "calls", "orders", "feedback", "assessments")
OPTIONAL_TABLES = ("training_catalog", "training_log", "targets")
#: Load order: parents before the tables that reference them.
TABLE_ORDER = REQUIRED_TABLES + OPTIONAL_TABLES
#: Written to ``customers.name`` by the importer when an export has no names: not a name,
#: so the privacy scan does not look for it.
NAME_PLACEHOLDER = "(no name)"
#: Columns holding customers' personal data; never written to any output.
PERSONAL_COLUMNS = {"customers": ("name", "phone")}


def primary_key(table: str) -> str | None:
    """Name of the table's unique id column, or None."""
    for name, spec in TABLES[table].items():
        if spec.unique:
            return name
    return None


def _arrow_strings(values):
    """Ids as one pyarrow string Array (no detour through Python objects)."""
    import pyarrow as pa

    arr = pa.array(pd.Series(values, dtype="string").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def _references(ids: pd.Series, known) -> pd.Series:
    """Vectorised ``ids.isna() | ids.isin(known)`` for a pandera check.

    pandas' own ``isin`` loops in Python over Arrow-backed strings (minutes on a million
    calls). When the parent is much larger than the child (orders against a million calls)
    the few distinct child ids are hashed and the parent's ids looked up instead; the
    row-by-row mask is only built when some id is unknown.
    """
    import pyarrow.compute as pc

    values = _arrow_strings(ids)
    present = values.drop_null()
    if len(known) > 4 * len(present):
        distinct = pc.unique(present)
        found = pc.filter(known, pc.is_in(known, value_set=distinct))
        if pc.count_distinct(found).as_py() == len(distinct):
            return pd.Series(True, index=ids.index)
    found = pc.is_in(values, value_set=known).to_numpy(zero_copy_only=False)
    return pd.Series(found, index=ids.index) | ids.isna().to_numpy()


#: Control characters (NUL, tab, line breaks, escape ... and the C1 range): no id may hold one.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
CONTROL_RULE = "must not contain control characters (NUL, tab, line break, escape)"


def _finite(values: pd.Series) -> pd.Series:
    """Missing or finite: ``inf`` (or ``1e400``, which parses as it) is not an amount."""
    return pd.Series(~np.isinf(values.to_numpy(dtype="float64", na_value=np.nan)), index=values.index)


def _printable(ids: pd.Series) -> pd.Series:
    """No control character in an id (vectorised: Arrow's regex kernel on the whole column)."""
    import pyarrow.compute as pc

    found = pc.match_substring_regex(_arrow_strings(ids), CONTROL_CHARACTERS)
    return pd.Series(~found.fill_null(False).to_numpy(zero_copy_only=False), index=ids.index)


def table_schema(table: str, parents: dict[str, pd.Series] | None = None):
    """Build the pandera schema for one canonical table.

    Parameters
    ----------
    table : str
        A key of :data:`TABLES`.
    parents : dict, optional
        ``{"reps.rep_id": Series of ids, ...}``; reference checks are added for the
        columns whose parent is given here.

    Returns
    -------
    pandera.DataFrameSchema
        Validates a frame already coerced to the canonical dtypes. Extra columns pass.
    """
    import pandera.pandas as pa

    parents = parents or {}
    columns = {}
    for name, spec in TABLES[table].items():
        checks = []
        if spec.kind == "category":
            checks.append(pa.Check.isin(list(spec.categories), error=f"must be one of {'|'.join(spec.categories)}"))
        if spec.ge is not None and spec.le is not None:
            checks.append(pa.Check.in_range(spec.ge, spec.le, error=f"must be between {spec.ge:g} and {spec.le:g}"))
        elif spec.ge is not None:
            checks.append(pa.Check.ge(spec.ge, error=f"must be >= {spec.ge:g}"))
        if spec.gt is not None:
            checks.append(pa.Check.gt(spec.gt, error=f"must be > {spec.gt:g}"))
        if spec.pattern is not None:
            checks.append(pa.Check.str_matches(spec.pattern, error="must be YYYY-MM (e.g. 2026-10)"
                                                 if spec.pattern == MONTH_PATTERN else f"must match {spec.pattern}"))
        if spec.kind == "float":
            checks.append(pa.Check(_finite, element_wise=False, error="must be a finite number"))
        if spec.kind == "id":
            checks.append(pa.Check(_printable, element_wise=False, error=CONTROL_RULE))
        if spec.references and spec.references in parents:
            known = _arrow_strings(parents[spec.references]).drop_null()
            checks.append(
                pa.Check(
                    lambda s, known=known: _references(s, known),
                    element_wise=False,
                    error=f"must reference an existing {spec.references}",
                )
            )
        columns[name] = pa.Column(
            # category columns are checked against their vocabulary (the isin check), whether
            # still text (the full path casts them once they pass) or already categorical
            None if spec.kind == "category" else spec.dtype,
            checks=checks,
            nullable=spec.nullable,
            unique=spec.unique,
            required=spec.required,
            coerce=False,
        )
    checks = [pa.Check(fn, element_wise=False, error=rule) for _, rule, fn in frame_checks(table)]
    return pa.DataFrameSchema(columns, checks=checks or None, name=table, strict=False, ordered=False)


def frame_checks(table: str) -> list[tuple[str, str, object]]:
    """Rules on several columns of a row: ``(columns as "a|b", rule, check function)``.

    The loader reports each broken rule once per row (not once per column) under the
    ``columns`` label.
    """
    out = []
    if table == "reps":
        out.append(("team", "must not be empty for a rep or team lead (only a supervisor or manager may have no team)",
                    _team_or_above))
    for a, b in ONE_OF_COLUMNS.get(table, ()):
        out.append((f"{a}|{b}", f"give exactly one of {a} or {b} in each row",
                    lambda df, a=a, b=b: _one_of(df, a, b)))
    for cols in UNIQUE_TOGETHER.get(table, ()):
        out.append(("|".join(cols), f"the same {', '.join(cols)} appears in more than one row",
                    lambda df, cols=cols: ~_duplicated(df, cols)))
    return out


def _one_of(df: pd.DataFrame, a: str, b: str) -> pd.Series:
    if a not in df or b not in df:
        return pd.Series(True, index=df.index)
    return df[a].notna() ^ df[b].notna()


def _duplicated(df: pd.DataFrame, cols) -> pd.Series:
    if any(c not in df for c in cols):
        return pd.Series(False, index=df.index)
    return df[list(cols)].astype("string").fillna("\x00").duplicated(keep=False)


#: Roles that may have no team (above team lead).
TEAMLESS_ROLES = ("supervisor", "manager")


def _team_or_above(df: pd.DataFrame) -> pd.Series:
    """A team, or a role above team lead (who may have none)."""
    if "team" not in df or "role" not in df:
        return pd.Series(True, index=df.index)
    return df["team"].notna() | df["role"].astype("string").isin(TEAMLESS_ROLES).fillna(False)


def is_person(reps: pd.DataFrame) -> np.ndarray:
    """Boolean array: the reps row is a person (``is_person`` empty or true), not a
    placeholder agent. Placeholders are kept in funnels and totals, and never evaluated,
    ranked, awarded, planned or coached."""
    if "is_person" not in reps:
        return np.ones(len(reps), dtype=bool)
    return reps["is_person"].astype("boolean").fillna(True).to_numpy(bool)


def person_ids(reps: pd.DataFrame) -> pd.Index:
    """The ids of the reps rows that are people (see :func:`is_person`)."""
    return pd.Index(reps.loc[is_person(reps), "rep_id"].astype("string"))


# ----------------------------------------------------------------------------- the vocabulary's meaning
def is_connected(outcome: pd.Series) -> np.ndarray:
    """Boolean array: the call reached someone (its outcome is in :data:`CONNECTED_OUTCOMES`)."""
    return outcome.isin(CONNECTED_OUTCOMES).to_numpy(bool)


def is_positive(outcome: pd.Series) -> np.ndarray:
    """Boolean array: the call ended in a callback, interest or a sale (:data:`POSITIVE_OUTCOMES`)."""
    return outcome.isin(POSITIVE_OUTCOMES).to_numpy(bool)


def is_kept_order(status: pd.Series) -> np.ndarray:
    """Boolean array: the order counts (signed or paid, not cancelled; :data:`KEPT_ORDER_STATUSES`)."""
    return status.isin(KEPT_ORDER_STATUSES).to_numpy(bool)
