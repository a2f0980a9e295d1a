"""Out of core: the call funnel's sufficient statistics as SQL over monthly Parquet files.

A multi-year history does not fit in one pandas process, but every analysis starts from the
same additive sums. This module keeps them in SQL that an engine runs next to the files:

* :func:`export_parquet` writes a loaded data set as a folder of Parquet files, one
  partition per month (Hive layout, ``calls/month=2026-10/part-0.parquet``), together with
  the orders (by month ordered) and each month's customer classes. Months already there are
  replaced one at a time, so a history grows by appending each new month;
* :func:`aggregate_sql` is the aggregation: per month x rep x script x customer class,
  ``dials, connected, positive, sales, duration_s, connected_duration_s, revenue``. It is
  plain SQL over three tables (``calls``, ``orders``, ``customer_classes``) that runs
  unchanged on DuckDB and on Spark SQL (see ``benchmarks/README.md``);
* :func:`aggregate` runs it with DuckDB, which streams the Parquet files (and spills to
  disk past ``memory_limit``) rather than loading them.

The sums are those of :mod:`telesales_lab.analysis.outcomes` (``dials -> connected -> positive ->
sales``; connected duration for the average handle time; revenue of the non-cancelled orders
linked by ``orders.call_id``; customers without a class in a month count as C), so the
funnel of any grouping is a roll-up of this table followed by the same divisions.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from telesales_lab.exceptions import ParameterError
from telesales_lab.data.periods import parse_month
from telesales_lab.data.schema import CONNECTED_OUTCOMES, CUSTOMER_CLASSES, POSITIVE_OUTCOMES

#: Columns of :func:`aggregate`, in order: the keys, then the additive sums.
AGGREGATE_KEYS = ("month", "rep_id", "script_id", "customer_class")
AGGREGATE_SUMS = ("dials", "connected", "positive", "sales", "duration_s", "connected_duration_s", "revenue")
#: Sub-folders of an export, one per table.
PARTS = ("calls", "orders", "customer_classes")
_FILE = "part-0.parquet"


def _quoted(words) -> str:
    return ", ".join("'" + w.replace("'", "''") + "'" for w in words)


def aggregate_sql(first_month: str | None = None, last_month: str | None = None) -> str:
    """The aggregation query, for DuckDB or Spark SQL.

    It reads three tables (views): ``calls`` (the calls columns plus the partition column
    ``month``, text ``YYYY-MM``), ``orders`` and ``customer_classes`` (``customer_id,
    customer_class, month``), the layout :func:`export_parquet` writes.

    Parameters
    ----------
    first_month, last_month : str, optional
        ``YYYY-MM``: keep the calls of these months only (inclusive; on the partition
        column, so the other months' files are not read). Default: every month.

    Returns
    -------
    str
        A ``SELECT`` returning ``month, rep_id, script_id, customer_class, dials, connected,
        positive, sales, duration_s, connected_duration_s, revenue``, one row per month x rep
        x script x customer class with calls.

    Raises
    ------
    ParameterError
        If a month is not ``YYYY-MM``, or ``first_month`` is after ``last_month``.
    """
    where = []
    bounds = {}
    for name, value in (("first_month", first_month), ("last_month", last_month)):
        if value is not None:
            bounds[name] = str(parse_month(value))  # validated: nothing but YYYY-MM reaches the SQL
    if len(bounds) == 2 and bounds["first_month"] > bounds["last_month"]:
        raise ParameterError(f"first_month == {first_month!r} is after last_month == {last_month!r}")
    if "first_month" in bounds:
        where.append(f"c.month >= '{bounds['first_month']}'")
    if "last_month" in bounds:
        where.append(f"c.month <= '{bounds['last_month']}'")
    where_sql = ("WHERE " + " AND ".join(where)) if where else ""
    # No engine-specific functions: CASE, SUM, COUNT, COALESCE, LEFT JOIN and GROUP BY on
    # named columns mean the same in DuckDB and Spark SQL.
    return f"""
WITH linked AS (
    SELECT call_id, SUM(amount) AS revenue
    FROM orders
    WHERE call_id IS NOT NULL AND status <> 'cancelled'
    GROUP BY call_id
),
scored AS (
    SELECT
        c.month,
        c.rep_id,
        c.script_id,
        COALESCE(k.customer_class, '{CUSTOMER_CLASSES[-1]}') AS customer_class,
        CASE WHEN c.outcome IN ({_quoted(CONNECTED_OUTCOMES)}) THEN 1 ELSE 0 END AS connected,
        CASE WHEN c.outcome IN ({_quoted(POSITIVE_OUTCOMES)}) THEN 1 ELSE 0 END AS positive,
        CASE WHEN c.outcome = 'sale' THEN 1 ELSE 0 END AS sale,
        c.duration_s,
        COALESCE(r.revenue, 0.0) AS revenue
    FROM calls AS c
    LEFT JOIN linked AS r ON r.call_id = c.call_id
    LEFT JOIN customer_classes AS k ON k.customer_id = c.customer_id AND k.month = c.month
    {where_sql}
)
SELECT
    month, rep_id, script_id, customer_class,
    COUNT(*) AS dials,
    SUM(connected) AS connected,
    SUM(positive) AS positive,
    SUM(sale) AS sales,
    SUM(duration_s) AS duration_s,
    SUM(CASE WHEN connected = 1 THEN duration_s ELSE 0.0 END) AS connected_duration_s,
    SUM(revenue) AS revenue
FROM scored
GROUP BY month, rep_id, script_id, customer_class
ORDER BY month, rep_id, script_id, customer_class
""".strip() + "\n"


# ----------------------------------------------------------------------------- export
def _months_of(times: pd.Series) -> pd.Series:
    return pd.Series(times.to_numpy("datetime64[ns]").astype("datetime64[M]").astype(str), index=times.index)


def _write_partition(frame: pd.DataFrame, folder: Path) -> Path:
    """Write ``folder/part-0.parquet``, replacing an earlier copy in one rename."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-", suffix=".parquet")
    os.close(fd)
    try:
        # microsecond timestamps: Spark (and other engines) cannot read Parquet's nanosecond
        # ones; the data model's times are whole seconds, so nothing is lost
        frame.to_parquet(tmp, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
        os.replace(tmp, folder / _FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return folder / _FILE


def export_parquet(data, root, months: list[str] | None = None, policy=None) -> list[Path]:
    """Write a data set as monthly Parquet partitions for :func:`aggregate`.

    Parameters
    ----------
    data : Dataset
        From :func:`telesales_lab.data.load.load_dataset`.
    root : path
        Folder to write into: ``calls/month=YYYY-MM/part-0.parquet`` (the month's calls),
        ``customer_classes/month=YYYY-MM/part-0.parquet`` (``customer_id, customer_class``
        from :func:`telesales_lab.analysis.customers.class_at_start` of that month) and
        ``orders/month=YYYY-MM/part-0.parquet`` (orders by the month they were placed; all
        of them are always written, since revenue follows ``orders.call_id`` whatever the
        month). Partitions already there for these months are replaced; others are kept.
    months : list of str, optional
        ``YYYY-MM`` months of calls to write (default: every month with calls).
    policy : dict or path, optional
        The policy for the customer classes (default: the shipped one).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ParameterError
        If a month is malformed or has no calls.
    """
    from telesales_lab.analysis.customers import class_at_start

    root = Path(root)
    calls = data.calls
    call_month = _months_of(calls["started_at"])
    present = sorted(pd.unique(call_month))
    wanted = present if months is None else [str(parse_month(m)) for m in months]
    missing = [m for m in wanted if m not in set(present)]
    if missing:
        raise ParameterError(f"months == {missing!r}: the data set has no calls in "
                             f"{'them' if len(missing) > 1 else 'it'} (calls cover {present[0]} .. {present[-1]})")
    written = []
    codes, labels = pd.factorize(call_month)
    for month in wanted:
        rows = codes == labels.get_loc(month)
        written.append(_write_partition(calls.loc[rows].reset_index(drop=True), root / "calls" / f"month={month}"))
        classes = class_at_start(data, month, policy)
        frame = pd.DataFrame({"customer_id": pd.array(classes.index, dtype="string"),
                              "customer_class": pd.array(classes.to_numpy(), dtype="string")})
        written.append(_write_partition(frame, root / "customer_classes" / f"month={month}"))
    orders = data.orders
    order_month = _months_of(orders["ordered_at"])
    codes, labels = pd.factorize(order_month)
    for i, month in enumerate(labels):
        written.append(_write_partition(orders.loc[codes == i].reset_index(drop=True),
                                        root / "orders" / f"month={month}"))
    return written


# ----------------------------------------------------------------------------- DuckDB
def _glob(root: Path, part: str) -> str:
    path = str((root / part).resolve() / "*" / "*.parquet")
    return path.replace("'", "''")


def connect(root, memory_limit: str | None = None, threads: int | None = None, temp_directory=None):
    """A DuckDB connection with the views ``calls``, ``orders`` and ``customer_classes`` over
    an export (see :func:`export_parquet`).

    Parameters
    ----------
    root : path
        The export folder.
    memory_limit : str, optional
        E.g. ``"2GB"``: DuckDB spills to ``temp_directory`` beyond it.
    threads : int, optional
        Worker threads (default: DuckDB's, one per core).
    temp_directory : path, optional
        Where DuckDB spills (default: its own).

    Raises
    ------
    ParameterError
        If a part of the export is missing.
    """
    import duckdb

    root = Path(root)
    for part in PARTS:
        if not any((root / part).glob(f"month=*/{_FILE}")):
            raise ParameterError(f"{root / part}: no month=YYYY-MM/{_FILE} partitions; "
                                 "write them with telesales_lab.analysis.warehouse.export_parquet")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a library call prints nothing
    if memory_limit:
        con.execute("SET memory_limit = ?", [str(memory_limit)])
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if temp_directory:
        con.execute("SET temp_directory = ?", [str(temp_directory)])
    for part in PARTS:
        con.execute(f"CREATE VIEW {part} AS SELECT * FROM read_parquet('{_glob(root, part)}', "
                    "hive_partitioning = true, hive_types = {'month': VARCHAR}, union_by_name = true)")
    return con


def aggregate(root, first_month: str | None = None, last_month: str | None = None, *,
              memory_limit: str | None = None, threads: int | None = None) -> pd.DataFrame:
    """The funnel's sufficient statistics per month x rep x script x customer class, by DuckDB.

    Parameters
    ----------
    root : path
        A folder written by :func:`export_parquet` (or the same layout from elsewhere).
    first_month, last_month : str, optional
        ``YYYY-MM`` bounds (inclusive) on the calls' months; default every month.
    memory_limit : str, optional
        DuckDB's memory limit, e.g. ``"2GB"`` (it spills to disk beyond it).
    threads : int, optional
        DuckDB worker threads.

    Returns
    -------
    DataFrame
        One row per month x rep x script x customer class with calls, sorted by those keys;
        columns ``month`` (``YYYY-MM``), ``rep_id``, ``script_id``, ``customer_class`` ("A",
        "B" or "C"; customers without a class that month count as C), ``dials`` (calls),
        ``connected`` (outcome other than no_answer), ``positive`` (callback, interested or
        sale), ``sales``, ``duration_s`` (all calls' seconds), ``connected_duration_s``
        (connected calls' seconds: ``aht_s = connected_duration_s / connected``) and
        ``revenue`` (amount of the non-cancelled orders linked to the calls).

    Raises
    ------
    ParameterError
        If a month is malformed or the export is incomplete.
    """
    sql = aggregate_sql(first_month, last_month)
    con = connect(root, memory_limit=memory_limit, threads=threads)
    try:
        frame = con.execute(sql).df()
    finally:
        con.close()
    out = pd.DataFrame({k: pd.array(frame[k].astype(object).to_numpy(), dtype="string") for k in AGGREGATE_KEYS})
    for col in ("dials", "connected", "positive", "sales"):
        out[col] = frame[col].to_numpy().astype(np.int64)
    for col in ("duration_s", "connected_duration_s", "revenue"):
        out[col] = frame[col].to_numpy().astype(float)
    return out


def funnel_from_sums(sums: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Roll the sums of :func:`aggregate` up to ``by`` and divide, as
    :func:`telesales_lab.analysis.outcomes.funnel` does.

    Parameters
    ----------
    sums : DataFrame
        From :func:`aggregate`.
    by : list of str
        Key columns of ``sums`` to keep, e.g. ``["month", "rep_id"]``.

    Returns
    -------
    DataFrame
        ``<by...>, dials, connected, positive, sales, contact_rate, positive_rate,
        conversion_rate, aht_s, revenue``, sorted by the keys; rates are NaN where their
        denominator is 0.
    """
    bad = [k for k in by if k not in AGGREGATE_KEYS]
    if bad:
        raise ParameterError(f"by == {by!r}: {bad[0]!r} is not one of {'|'.join(AGGREGATE_KEYS)}")
    g = sums.groupby(list(by), sort=True, observed=True)[list(AGGREGATE_SUMS)].sum().reset_index()

    def ratio(num, den):
        num, den = g[num].to_numpy(float), g[den].to_numpy(float)
        out = np.full(len(g), np.nan)
        np.divide(num, den, out=out, where=den != 0)
        return out

    out = g[list(by) + ["dials", "connected", "positive", "sales"]].copy()
    out["contact_rate"] = ratio("connected", "dials")
    out["positive_rate"] = ratio("positive", "connected")
    out["conversion_rate"] = ratio("sales", "connected")
    out["aht_s"] = ratio("connected_duration_s", "connected")
    out["revenue"] = g["revenue"].to_numpy(float)
    return out



