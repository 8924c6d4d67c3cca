"""Validate tables against the data contract, reporting every problem at once.

Checks run as SQL in DuckDB over the raw tables (pandas frames, CSV/Parquet scans or
database tables alike), so they scale to files larger than memory. All rule counts of a
table come from one scan; example rows are fetched only for rules that failed.

Each problem names the table, the column, the rule, how many rows break it and a few
example rows (1-based data row numbers, i.e. the header line of a CSV is not counted).

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
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pandas as pd

from cjlab.data import plausible
from cjlab.data.contract import CONTRACT, TABLES, Column, TableSchema

N_EXAMPLES = 5
ROW = "__cjlab_row"

_BOOL_TEXT = ("true", "false", "t", "f", "1", "0", "yes", "no", "y", "n", "1.0", "0.0")


@dataclass
class Problem:
    """One broken rule: where, what, how often, and a few example rows."""

    table: str
    column: str | None
    rule: str
    n_rows: int
    message: str
    severity: str = "error"  # "error" stops a run, "warning" is reported, "info" is a remark
    examples: list[dict[str, Any]] = field(default_factory=list)

    def format(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = "row" if self.n_rows == 1 else "rows"
        head = f"[{self.severity}] {where}: {self.rule} — {self.message}"
        if self.n_rows:
            head += f" ({self.n_rows:,} {rows})"
        if self.examples:
            ex = ", ".join(_format_example(e) for e in self.examples)
            head += f"; e.g. {ex}"
        return head


def _format_example(e: Mapping[str, Any]) -> str:
    items = [f"{k}={v!r}" for k, v in e.items() if k != "row"]
    return f"row {e['row']}: " + ", ".join(items) if "row" in e else ", ".join(items)


@dataclass
class ValidationReport:
    """All problems found in a set of tables.

    Attributes
    ----------
    problems : every broken rule, errors first.
    n_rows : rows per table that was checked.
    """

    problems: list[Problem] = field(default_factory=list)
    n_rows: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[Problem]:
        """Remarks that need no action (e.g. columns kept outside the contract)."""
        return [p for p in self.problems if p.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: table, column, rule, severity, n_rows, message, examples."""
        cols = ["table", "column", "rule", "severity", "n_rows", "message", "examples"]
        rows = [
            {**{k: getattr(p, k) for k in cols[:-1]},
             "examples": "; ".join(_format_example(e) for e in p.examples)}
            for p in self.problems
        ]
        return pd.DataFrame(rows, columns=cols)

    def format(self) -> str:
        tables = ", ".join(f"{t} ({n:,} rows)" for t, n in self.n_rows.items())
        if not self.errors and not self.warnings:
            lines = [f"Validation passed: {tables}."]
            return "\n".join([*lines, *("  " + p.format() for p in self.problems)])
        head = (
            f"Validation found {len(self.errors)} error(s) and {len(self.warnings)} warning(s) "
            f"in {tables}:"
        )
        return "\n".join([head, *("  " + p.format() for p in self.problems)])

    __str__ = format

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "n_rows": self.n_rows, "problems": [asdict(p) for p in self.problems]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2)

    def raise_for_errors(self) -> ValidationReport:
        """Raise :class:`DataValidationError` when any error was found; return self otherwise."""
        if not self.ok:
            raise DataValidationError(self)
        return self


class DataValidationError(ValueError):
    """Input data break the contract; ``.report`` holds every problem."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.format())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class _Rule:
    column: str | None
    rule: str
    predicate: str  # SQL boolean over the raw row, TRUE where the row breaks the rule
    message: str
    severity: str = "error"
    show: tuple[str, ...] = ()


def _column_rules(col: Column, name: str, sql_type: str, pii: bool) -> list[_Rule]:
    q = _q(name)
    txt = f"trim(CAST({q} AS VARCHAR))"
    blank = f"({q} IS NULL OR {txt} = '')"
    present = f"(NOT {blank})"
    show = () if pii else (name,)
    rules: list[_Rule] = []
    if col.required:
        rules.append(_Rule(name, "missing_value", blank, "required value is empty", show=()))
    is_text = sql_type.upper().startswith("VARCHAR")
    if col.kind in ("number", "integer"):
        num = f"TRY_CAST({q} AS DOUBLE)"
        rules.append(_Rule(name, "not_a_number", f"{present} AND {num} IS NULL",
                           "value is not a number", show=show))
        rules.append(_Rule(name, "not_finite", f"{present} AND (isnan({num}) OR isinf({num}))",
                           "value is NaN or infinite", show=show))
        if col.kind == "integer":
            rules.append(_Rule(name, "not_whole_number",
                               f"{present} AND {num} IS NOT NULL AND NOT isnan({num}) AND NOT isinf({num}) AND {num} <> round({num})",
                               "value must be a whole number", show=show))
        if col.min is not None:
            rules.append(_Rule(name, "below_minimum", f"{num} < {col.min}",
                               f"value below the minimum {col.min:g}", show=show))
        if col.max is not None:
            rules.append(_Rule(name, "above_maximum", f"{num} > {col.max}",
                               f"value above the maximum {col.max:g}", show=show))
    elif col.kind in ("date", "timestamp"):
        if is_text:
            rules.append(_Rule(name, f"not_a_{col.kind}",
                               f"{present} AND TRY_CAST({txt} AS TIMESTAMP) IS NULL",
                               f"value is not a {col.kind} (expected ISO format, e.g. 2025-03-31"
                               + (" 14:05:00)" if col.kind == "timestamp" else ")"), show=show))
        elif not any(sql_type.upper().startswith(t) for t in ("DATE", "TIMESTAMP")):
            rules.append(_Rule(name, f"not_a_{col.kind}", present,
                               f"column has type {sql_type}, expected a {col.kind}", show=show))
    elif col.kind == "bool":
        if is_text or not sql_type.upper().startswith("BOOL"):
            ok = ", ".join(_lit(v) for v in _BOOL_TEXT)
            rules.append(_Rule(name, "not_a_boolean", f"{present} AND lower({txt}) NOT IN ({ok})",
                               "value is not true/false (or 1/0, yes/no)", show=show))
    if col.allowed is not None:
        allowed = ", ".join(_lit(v) for v in col.allowed)
        rules.append(_Rule(name, "not_allowed", f"{present} AND {txt} NOT IN ({allowed})",
                           "value not in the allowed set: " + ", ".join(col.allowed), show=show))
    return rules


def _describe(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {_q(view)}").fetchall()
    return {r[0]: r[1] for r in rows}


def _examples(con, view: str, predicate: str, show: Iterable[str]) -> list[dict[str, Any]]:
    cols = "".join(f", {_q(c)}" for c in show)
    sql = (f"SELECT {ROW}{cols} FROM (SELECT row_number() OVER () AS {ROW}, * FROM {_q(view)}) t "
           f"WHERE {predicate} ORDER BY {ROW} LIMIT {N_EXAMPLES}")
    out = []
    for r in con.execute(sql).fetchall():
        ex = {"row": int(r[0])}
        for c, v in zip(show, r[1:]):
            ex[c] = v.isoformat() if hasattr(v, "isoformat") else v
        out.append(ex)
    return out


def _plausible_rules(table: str, col: Column, name: str, bounds: plausible.Bounds,
                     today: dt.date) -> list[_Rule]:
    show = () if col.pii else (name,)
    return [_Rule(name, rule, pred, msg, show=show)
            for rule, pred, msg in plausible.rules(table, name, col.kind, bounds, today)]


def _check_table(con, table: str, view: str, schema: TableSchema, report: ValidationReport,
                 bounds: plausible.Bounds | None = None, today: dt.date | None = None) -> dict[str, str]:
    types = _describe(con, view)
    n = con.execute(f"SELECT count(*) FROM {_q(view)}").fetchone()[0]
    report.n_rows[table] = int(n)
    if n == 0:
        report.problems.append(Problem(table, None, "empty_table", 0, "the table has no rows"))
    for req in schema.required:
        if req not in types:
            report.problems.append(Problem(
                table, req, "missing_column", int(n),
                f"required column is missing (columns present: {', '.join(types) or 'none'})"))
    rules: list[_Rule] = []
    for name, sql_type in types.items():
        col = schema.column_for(name)
        if col is None:
            report.problems.append(Problem(
                table, name, "extra_column", 0,
                f"column is not in the data contract; kept with its own type ({sql_type})",
                severity="info"))
            continue
        if name != name.lower() or " " in name:
            report.problems.append(Problem(table, name, "not_snake_case", 0,
                                           "column names must be lower_snake_case"))
        if sql_type.upper().startswith("TIMESTAMP WITH TIME ZONE"):
            report.problems.append(Problem(table, name, "timezone_converted", 0,
                                           "time-zone-aware values are converted to naive UTC",
                                           severity="warning"))
        rules.extend(_column_rules(col, name, sql_type, col.pii))
        rules.extend(_plausible_rules(table, col, name, bounds or plausible.Bounds(),
                                      today or dt.date.today()))
        if not col.required and n:
            rules.append(_Rule(name, "all_missing", f"{_q(name)} IS NULL", "every value is empty",
                               severity="warning"))
    if n and rules:
        agg = ", ".join(f"count_if(COALESCE({r.predicate}, FALSE))" for r in rules)
        counts = con.execute(f"SELECT {agg} FROM {_q(view)}").fetchone()
        for r, c in zip(rules, counts):
            if not c or (r.rule == "all_missing" and c < n):
                continue
            ex = [] if r.rule == "all_missing" else _examples(con, view, f"COALESCE({r.predicate}, FALSE)", r.show)
            report.problems.append(Problem(table, r.column, r.rule, int(c), r.message, r.severity, ex))
    for col in schema.columns:
        if col.unique and col.name in types:
            q = _q(col.name)
            dup = con.execute(
                f"SELECT count(*) FROM (SELECT {q} FROM {_q(view)} WHERE {q} IS NOT NULL "
                f"GROUP BY {q} HAVING count(*) > 1)").fetchone()[0]
            if dup:
                pred = (f"{q} IN (SELECT {q} FROM {_q(view)} WHERE {q} IS NOT NULL "
                        f"GROUP BY {q} HAVING count(*) > 1)")
                nrows = con.execute(f"SELECT count(*) FROM {_q(view)} WHERE {pred}").fetchone()[0]
                report.problems.append(Problem(
                    table, col.name, "duplicate_key", int(nrows),
                    f"{dup:,} value(s) occur more than once; the key must be unique",
                    examples=_examples(con, view, pred, (col.name,))))
    return types


def _ts(name: str) -> str:
    return f"TRY_CAST(CAST({_q(name)} AS VARCHAR) AS TIMESTAMP)"


def _cross_checks(con, views: Mapping[str, str], types: Mapping[str, dict[str, str]],
                  report: ValidationReport) -> None:
    cust = views.get("customers")
    ctypes = types.get("customers", {})
    if cust and "customer_id" in ctypes:
        for table in ("touchpoints", "orders", "survey_responses"):
            if table not in views or "customer_id" not in types[table]:
                continue
            v = views[table]
            pred = (f"customer_id IS NOT NULL AND CAST(customer_id AS VARCHAR) NOT IN "
                    f"(SELECT CAST(customer_id AS VARCHAR) FROM {_q(cust)} WHERE customer_id IS NOT NULL)")
            c = con.execute(f"SELECT count(*) FROM {_q(v)} WHERE {pred}").fetchone()[0]
            if c:
                report.problems.append(Problem(
                    table, "customer_id", "unknown_customer", int(c),
                    "customer_id not found in customers",
                    examples=_examples(con, v, pred, ("customer_id",))))
            tcol = CONTRACT[table].time_column
            if tcol and tcol in types[table] and "first_seen" in ctypes:
                pred = (f"{_ts(tcol)} < (SELECT CAST({_ts('first_seen')} AS DATE) FROM {_q(cust)} c "
                        f"WHERE CAST(c.customer_id AS VARCHAR) = CAST(t.customer_id AS VARCHAR) LIMIT 1)")
                c = con.execute(f"SELECT count(*) FROM {_q(v)} t WHERE {pred}").fetchone()[0]
                if c:
                    report.problems.append(Problem(
                        table, tcol, "before_first_seen", int(c),
                        "event dated before the customer's first_seen date",
                        examples=_examples(con, v, pred, ("customer_id", tcol))))
    exp = views.get("experiment_exposures")
    etypes = types.get("experiment_exposures", {})
    if exp and {"experiment", "variant", "unit_id"} <= set(etypes):
        multi = (f"SELECT experiment, unit_id FROM {_q(exp)} GROUP BY experiment, unit_id "
                 f"HAVING count(DISTINCT variant) > 1")
        c = con.execute(f"SELECT count(*) FROM ({multi})").fetchone()[0]
        if c:
            pred = f"(experiment, unit_id) IN ({multi})"
            report.problems.append(Problem(
                "experiment_exposures", "unit_id", "unit_in_several_variants", int(c),
                "unit(s) assigned to more than one variant of the same experiment",
                examples=_examples(con, exp, pred, ("experiment", "unit_id", "variant"))))


def validate_views(con: duckdb.DuckDBPyConnection, views: Mapping[str, str],
                   require: Iterable[str] = (), bounds: plausible.Bounds | None = None,
                   today: dt.date | None = None,
                   explain: Callable[[str, BaseException], str] | None = None) -> ValidationReport:
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
    for t in require:
        if t not in views:
            report.problems.append(Problem(t, None, "missing_table", 0,
                                           "required table not found in the data source"))
    keyed = [t for t in ("orders", "touchpoints") if t in views]
    if keyed and "customers" not in views and "customers" not in set(require):
        report.problems.append(Problem(
            "customers", None, "missing_table", 0,
            f"the customers table is required: {' and '.join(keyed)} refer to customers by "
            "customer_id (add customers with customer_id and first_seen)"))
    types: dict[str, dict[str, str]] = {}
    stopped = False
    for table in TABLES:
        if table not in views:
            continue
        if stopped:
            report.problems.append(Problem(table, None, "not_checked", 0,
                                           "not checked: reading the data hit the time limit"))
            continue
        try:
            types[table] = _check_table(con, table, views[table], CONTRACT[table], report,
                                        bounds, today)
        except duckdb.Error as exc:
            stopped = isinstance(exc, duckdb.InterruptException)
            text = explain(table, exc) if explain else str(exc).strip().splitlines()[0][:300]
            report.problems.append(Problem(table, None, "unreadable_table", 0, text))
    for table in views:
        if table not in CONTRACT:
            report.problems.append(Problem(table, None, "unknown_table", 0,
                                           "table is not part of the data contract and is ignored",
                                           severity="warning"))
    if not stopped:
        try:
            _cross_checks(con, {t: v for t, v in views.items() if t in types}, types, report)
        except duckdb.Error as exc:
            report.problems.append(Problem("customers", "customer_id", "unreadable_table", 0,
                                           f"the checks across tables failed: {str(exc)[:300]}"))
    order = {"error": 0, "warning": 1, "info": 2}
    report.problems.sort(key=lambda p: (order.get(p.severity, 3), TABLES.index(p.table)
                                        if p.table in TABLES else 99))
    return report


def validate_frames(frames: Mapping[str, pd.DataFrame], require: Iterable[str] = (),
                    bounds: plausible.Bounds | None = None,
                    today: dt.date | None = None) -> ValidationReport:
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
