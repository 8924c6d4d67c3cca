"""Validate tables against the data contract, reporting every problem at once.

Checks run as SQL in DuckDB over the raw tables (pandas frames, CSV/Parquet scans or
database tables alike), so they scale to files larger than memory (the rules are in
:mod:`cjlab.data.rules`). Each problem (:mod:`cjlab.data.problems`) names the table, the
column, the rule, how many rows break it and a few example rows (1-based data row numbers,
i.e. the header line of a CSV is not counted).

Examples
--------
>>> import pandas as pd
>>> from cjlab.data.validate import validate_frames
>>> orders = pd.DataFrame({"order_id": [1, 2, 2], "customer_id": [1, 1, 2],
...                        "ts": ["2025-01-01", "2025-01-02", "soon"], "amount": [10.0, -5.0, 3.0]})
>>> customers = pd.DataFrame({"customer_id": [1, 2], "first_seen": ["2024-06-01", "2024-07-01"]})
>>> report = validate_frames({"customers": customers, "orders": orders})
>>> report.ok
False
>>> sorted(p.rule for p in report.errors)
['below_minimum', 'duplicate_key', 'not_a_timestamp']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

import duckdb
import pandas as pd

from cjlab.data import plausible
from cjlab.data.contract import CONTRACT, TABLES
from cjlab.data.problems import N_EXAMPLES, DataValidationError, Problem, ValidationReport
from cjlab.data.rules import check_table, cross_checks

__all__ = [
    "N_EXAMPLES",
    "DataValidationError",
    "Problem",
    "ValidationReport",
    "validate_frames",
    "validate_views",
]


def validate_views(
    con: duckdb.DuckDBPyConnection,
    views: Mapping[str, str],
    require: Iterable[str] = (),
    bounds: plausible.Bounds | None = None,
    today: dt.date | None = None,
    explain: Callable[[str, BaseException], str] | None = None,
) -> ValidationReport:
    """Validate tables already visible to ``con`` as views/tables named in ``views``.

    Parameters
    ----------
    con : DuckDB connection.
    views : mapping contract table name -> view name holding the raw data.
    require : contract tables that must be present.
    bounds : plausibility bounds (:mod:`cjlab.data.plausible`; default bounds when ``None``).
    today : the day of the run (dates after it are implausible); default: today.
    explain : turns a read error of a table into a message naming its file (a table that
        cannot be read is reported as ``unreadable_table``; after an interrupt, e.g. a time
        limit, the remaining tables are reported as ``not_checked``).

    Returns
    -------
    ValidationReport
    """
    report = ValidationReport()
    _required_tables(views, require, report)
    types, stopped = _check_tables(con, views, report, bounds, today, explain)
    for table in views:
        if table not in CONTRACT:
            report.problems.append(
                Problem(
                    table,
                    None,
                    "unknown_table",
                    0,
                    "table is not part of the data contract and is ignored",
                    severity="warning",
                )
            )
    if not stopped:
        try:
            cross_checks(con, {t: v for t, v in views.items() if t in types}, types, report)
        except duckdb.Error as exc:
            report.problems.append(
                Problem(
                    "customers",
                    "customer_id",
                    "unreadable_table",
                    0,
                    f"the checks across tables failed: {str(exc)[:300]}",
                )
            )
    order = {"error": 0, "warning": 1, "info": 2}
    report.problems.sort(
        key=lambda p: (order.get(p.severity, 3), TABLES.index(p.table) if p.table in TABLES else 99)
    )
    return report


def _required_tables(
    views: Mapping[str, str], require: Iterable[str], report: ValidationReport
) -> None:
    """Missing required tables; customers is required whenever orders or touchpoints are there."""
    for t in require:
        if t not in views:
            report.problems.append(
                Problem(t, None, "missing_table", 0, "required table not found in the data source")
            )
    keyed = [t for t in ("orders", "touchpoints") if t in views]
    if keyed and "customers" not in views and "customers" not in set(require):
        report.problems.append(
            Problem(
                "customers",
                None,
                "missing_table",
                0,
                f"the customers table is required: {' and '.join(keyed)} refer to customers by "
                "customer_id (add customers with customer_id and first_seen)",
            )
        )


def _check_tables(
    con: duckdb.DuckDBPyConnection,
    views: Mapping[str, str],
    report: ValidationReport,
    bounds: plausible.Bounds | None,
    today: dt.date | None,
    explain: Callable[[str, BaseException], str] | None,
) -> tuple[dict, bool]:
    """Check each table; a table that cannot be read is a problem, and an interrupt (the time
    limit) leaves the remaining tables unchecked. Returns (column types per table, stopped)."""
    types: dict[str, dict[str, str]] = {}
    stopped = False
    for table in TABLES:
        if table not in views:
            continue
        if stopped:
            report.problems.append(
                Problem(
                    table,
                    None,
                    "not_checked",
                    0,
                    "not checked: reading the data hit the time limit",
                )
            )
            continue
        try:
            types[table] = check_table(
                con, table, views[table], CONTRACT[table], report, bounds, today
            )
        except duckdb.Error as exc:
            stopped = isinstance(exc, duckdb.InterruptException)
            text = explain(table, exc) if explain else str(exc).strip().splitlines()[0][:300]
            report.problems.append(Problem(table, None, "unreadable_table", 0, text))
    return types, stopped


def validate_frames(
    frames: Mapping[str, pd.DataFrame],
    require: Iterable[str] = (),
    bounds: plausible.Bounds | None = None,
    today: dt.date | None = None,
) -> ValidationReport:
    """Validate in-memory pandas DataFrames (one per contract table).

    Examples
    --------
    >>> import pandas as pd
    >>> validate_frames({"customers": pd.DataFrame({"customer_id": [1], "first_seen": ["2025-01-01"]})}).ok
    True
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    views = {}
    for name, df in frames.items():
        view = f"raw_{name}"
        con.register(view, df)
        views[name] = view
    try:
        return validate_views(con, views, require, bounds, today)
    finally:
        con.close()
