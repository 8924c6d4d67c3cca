"""The contract's rules as SQL: per column (types, ranges, allowed values, plausibility), per
table (required columns, unique keys) and across tables (known customers, events after
first_seen, one variant per unit).

All rule counts of a table come from one scan; example rows are fetched only for rules that
failed. :func:`check_table` and :func:`cross_checks` add what they find to a
:class:`~cjlab.data.problems.ValidationReport`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from cjlab.data import plausible
from cjlab.data.contract import CONTRACT, Column, TableSchema
from cjlab.data.problems import N_EXAMPLES, Problem, ValidationReport

ROW = "__cjlab_row"
_BOOL_TEXT = ("true", "false", "t", "f", "1", "0", "yes", "no", "y", "n", "1.0", "0.0")


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


def _number_rules(col: Column, name: str, present: str, show: tuple[str, ...]) -> list[_Rule]:
    num = f"TRY_CAST({_q(name)} AS DOUBLE)"
    rules = [
        _Rule(
            name, "not_a_number", f"{present} AND {num} IS NULL", "value is not a number", show=show
        ),
        _Rule(
            name,
            "not_finite",
            f"{present} AND (isnan({num}) OR isinf({num}))",
            "value is NaN or infinite",
            show=show,
        ),
    ]
    if col.kind == "integer":
        finite = f"{num} IS NOT NULL AND NOT isnan({num}) AND NOT isinf({num})"
        rules.append(
            _Rule(
                name,
                "not_whole_number",
                f"{present} AND {finite} AND {num} <> round({num})",
                "value must be a whole number",
                show=show,
            )
        )
    if col.min is not None:
        rules.append(
            _Rule(
                name,
                "below_minimum",
                f"{num} < {col.min}",
                f"value below the minimum {col.min:g}",
                show=show,
            )
        )
    if col.max is not None:
        rules.append(
            _Rule(
                name,
                "above_maximum",
                f"{num} > {col.max}",
                f"value above the maximum {col.max:g}",
                show=show,
            )
        )
    return rules


def _time_rules(
    col: Column, name: str, sql_type: str, present: str, show: tuple[str, ...]
) -> list[_Rule]:
    txt = f"trim(CAST({_q(name)} AS VARCHAR))"
    if sql_type.upper().startswith("VARCHAR"):
        example = " 14:05:00)" if col.kind == "timestamp" else ")"
        return [
            _Rule(
                name,
                f"not_a_{col.kind}",
                f"{present} AND TRY_CAST({txt} AS TIMESTAMP) IS NULL",
                f"value is not a {col.kind} (expected ISO format, e.g. 2025-03-31" + example,
                show=show,
            )
        ]
    if not sql_type.upper().startswith(("DATE", "TIMESTAMP")):
        return [
            _Rule(
                name,
                f"not_a_{col.kind}",
                present,
                f"column has type {sql_type}, expected a {col.kind}",
                show=show,
            )
        ]
    return []


def _column_rules(col: Column, name: str, sql_type: str, pii: bool) -> list[_Rule]:
    """The rules of one contract column (broken where the predicate is TRUE)."""
    q = _q(name)
    txt = f"trim(CAST({q} AS VARCHAR))"
    blank = f"({q} IS NULL OR {txt} = '')"
    present = f"(NOT {blank})"
    show = () if pii else (name,)
    rules: list[_Rule] = []
    if col.required:
        rules.append(_Rule(name, "missing_value", blank, "required value is empty", show=()))
    if col.kind in ("number", "integer"):
        rules += _number_rules(col, name, present, show)
    elif col.kind in ("date", "timestamp"):
        rules += _time_rules(col, name, sql_type, present, show)
    elif col.kind == "bool" and (
        sql_type.upper().startswith("VARCHAR") or not sql_type.upper().startswith("BOOL")
    ):
        ok = ", ".join(_lit(v) for v in _BOOL_TEXT)
        rules.append(
            _Rule(
                name,
                "not_a_boolean",
                f"{present} AND lower({txt}) NOT IN ({ok})",
                "value is not true/false (or 1/0, yes/no)",
                show=show,
            )
        )
    if col.allowed is not None:
        allowed = ", ".join(_lit(v) for v in col.allowed)
        rules.append(
            _Rule(
                name,
                "not_allowed",
                f"{present} AND {txt} NOT IN ({allowed})",
                "value not in the allowed set: " + ", ".join(col.allowed),
                show=show,
            )
        )
    return rules


def _describe(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {_q(view)}").fetchall()
    return {r[0]: r[1] for r in rows}


def _examples(con, view: str, predicate: str, show: Iterable[str]) -> list[dict[str, Any]]:
    cols = "".join(f", {_q(c)}" for c in show)
    sql = (
        f"SELECT {ROW}{cols} FROM (SELECT row_number() OVER () AS {ROW}, * FROM {_q(view)}) t "
        f"WHERE {predicate} ORDER BY {ROW} LIMIT {N_EXAMPLES}"
    )
    out = []
    for r in con.execute(sql).fetchall():
        ex = {"row": int(r[0])}
        for c, v in zip(show, r[1:]):
            ex[c] = v.isoformat() if hasattr(v, "isoformat") else v
        out.append(ex)
    return out


def _plausible_rules(
    table: str, col: Column, name: str, bounds: plausible.Bounds, today: dt.date
) -> list[_Rule]:
    show = () if col.pii else (name,)
    return [
        _Rule(name, rule, pred, msg, show=show)
        for rule, pred, msg in plausible.rules(table, name, col.kind, bounds, today)
    ]


def _structure(
    table: str, types: Mapping[str, str], n: int, schema: TableSchema, report: ValidationReport
) -> None:
    """Problems of the table's shape: no rows, missing required columns."""
    if n == 0:
        report.problems.append(Problem(table, None, "empty_table", 0, "the table has no rows"))
    for req in schema.required:
        if req not in types:
            present = ", ".join(types) or "none"
            report.problems.append(
                Problem(
                    table,
                    req,
                    "missing_column",
                    int(n),
                    f"required column is missing (columns present: {present})",
                )
            )


def _column_remarks(table: str, name: str, sql_type: str, col: Column | None) -> list[Problem]:
    """Remarks on a column's name and type (extra columns, names, time zones)."""
    if col is None:
        return [
            Problem(
                table,
                name,
                "extra_column",
                0,
                f"column is not in the data contract; kept with its own type ({sql_type})",
                severity="info",
            )
        ]
    out = []
    if name != name.lower() or " " in name:
        out.append(
            Problem(table, name, "not_snake_case", 0, "column names must be lower_snake_case")
        )
    if sql_type.upper().startswith("TIMESTAMP WITH TIME ZONE"):
        out.append(
            Problem(
                table,
                name,
                "timezone_converted",
                0,
                "time-zone-aware values are converted to naive UTC",
                severity="warning",
            )
        )
    return out


def _table_rules(
    table: str,
    types: Mapping[str, str],
    n: int,
    schema: TableSchema,
    report: ValidationReport,
    bounds: plausible.Bounds,
    today: dt.date,
) -> list[_Rule]:
    rules: list[_Rule] = []
    for name, sql_type in types.items():
        col = schema.column_for(name)
        report.problems.extend(_column_remarks(table, name, sql_type, col))
        if col is None:
            continue
        rules += _column_rules(col, name, sql_type, col.pii)
        rules += _plausible_rules(table, col, name, bounds, today)
        if not col.required and n:
            rules.append(
                _Rule(
                    name,
                    "all_missing",
                    f"{_q(name)} IS NULL",
                    "every value is empty",
                    severity="warning",
                )
            )
    return rules


def _count_rules(
    con, table: str, view: str, n: int, rules: list[_Rule], report: ValidationReport
) -> None:
    """Count every rule in one scan; fetch example rows for the rules that failed."""
    if not n or not rules:
        return
    agg = ", ".join(f"count_if(COALESCE({r.predicate}, FALSE))" for r in rules)
    counts = con.execute(f"SELECT {agg} FROM {_q(view)}").fetchone()
    for r, c in zip(rules, counts):
        if not c or (r.rule == "all_missing" and c < n):
            continue
        ex = (
            []
            if r.rule == "all_missing"
            else _examples(con, view, f"COALESCE({r.predicate}, FALSE)", r.show)
        )
        report.problems.append(Problem(table, r.column, r.rule, int(c), r.message, r.severity, ex))


def _unique_keys(
    con,
    table: str,
    view: str,
    types: Mapping[str, str],
    schema: TableSchema,
    report: ValidationReport,
) -> None:
    for col in schema.columns:
        if not (col.unique and col.name in types):
            continue
        q, v = _q(col.name), _q(view)
        dups = f"SELECT {q} FROM {v} WHERE {q} IS NOT NULL GROUP BY {q} HAVING count(*) > 1"
        dup = con.execute(f"SELECT count(*) FROM ({dups})").fetchone()[0]
        if dup:
            pred = f"{q} IN ({dups})"
            nrows = con.execute(f"SELECT count(*) FROM {v} WHERE {pred}").fetchone()[0]
            report.problems.append(
                Problem(
                    table,
                    col.name,
                    "duplicate_key",
                    int(nrows),
                    f"{dup:,} value(s) occur more than once; the key must be unique",
                    examples=_examples(con, view, pred, (col.name,)),
                )
            )


def check_table(
    con,
    table: str,
    view: str,
    schema: TableSchema,
    report: ValidationReport,
    bounds: plausible.Bounds | None = None,
    today: dt.date | None = None,
) -> dict[str, str]:
    """Check one table against its schema; returns its column types."""
    types = _describe(con, view)
    n = int(con.execute(f"SELECT count(*) FROM {_q(view)}").fetchone()[0])
    report.n_rows[table] = n
    _structure(table, types, n, schema, report)
    rules = _table_rules(
        table, types, n, schema, report, bounds or plausible.Bounds(), today or dt.date.today()
    )
    _count_rules(con, table, view, n, rules, report)
    _unique_keys(con, table, view, types, schema, report)
    return types


def _ts(name: str) -> str:
    return f"TRY_CAST(CAST({_q(name)} AS VARCHAR) AS TIMESTAMP)"


def _customer_checks(
    con, table: str, v: str, cust: str, tcol: str | None, report: ValidationReport
) -> None:
    """Rows of ``table`` whose customer is unknown, or dated before the customer's first_seen."""
    pred = (
        f"customer_id IS NOT NULL AND CAST(customer_id AS VARCHAR) NOT IN "
        f"(SELECT CAST(customer_id AS VARCHAR) FROM {_q(cust)} WHERE customer_id IS NOT NULL)"
    )
    c = con.execute(f"SELECT count(*) FROM {_q(v)} WHERE {pred}").fetchone()[0]
    if c:
        report.problems.append(
            Problem(
                table,
                "customer_id",
                "unknown_customer",
                int(c),
                "customer_id not found in customers",
                examples=_examples(con, v, pred, ("customer_id",)),
            )
        )
    if tcol is None:
        return
    pred = (
        f"{_ts(tcol)} < (SELECT CAST({_ts('first_seen')} AS DATE) FROM {_q(cust)} c "
        f"WHERE CAST(c.customer_id AS VARCHAR) = CAST(t.customer_id AS VARCHAR) LIMIT 1)"
    )
    c = con.execute(f"SELECT count(*) FROM {_q(v)} t WHERE {pred}").fetchone()[0]
    if c:
        report.problems.append(
            Problem(
                table,
                tcol,
                "before_first_seen",
                int(c),
                "event dated before the customer's first_seen date",
                examples=_examples(con, v, pred, ("customer_id", tcol)),
            )
        )


def _variant_checks(con, exp: str, report: ValidationReport) -> None:
    multi = (
        f"SELECT experiment, unit_id FROM {_q(exp)} GROUP BY experiment, unit_id "
        f"HAVING count(DISTINCT variant) > 1"
    )
    c = con.execute(f"SELECT count(*) FROM ({multi})").fetchone()[0]
    if c:
        report.problems.append(
            Problem(
                "experiment_exposures",
                "unit_id",
                "unit_in_several_variants",
                int(c),
                "unit(s) assigned to more than one variant of the same experiment",
                examples=_examples(
                    con,
                    exp,
                    f"(experiment, unit_id) IN ({multi})",
                    ("experiment", "unit_id", "variant"),
                ),
            )
        )


def cross_checks(
    con, views: Mapping[str, str], types: Mapping[str, dict[str, str]], report: ValidationReport
) -> None:
    """Checks across tables: known customers, events after first_seen, one variant per unit."""
    cust = views.get("customers")
    ctypes = types.get("customers", {})
    if cust and "customer_id" in ctypes:
        for table in ("touchpoints", "orders", "survey_responses"):
            if table not in views or "customer_id" not in types[table]:
                continue
            tcol = CONTRACT[table].time_column
            dated = tcol if tcol and tcol in types[table] and "first_seen" in ctypes else None
            _customer_checks(con, table, views[table], cust, dated, report)
    exp = views.get("experiment_exposures")
    if exp and {"experiment", "variant", "unit_id"} <= set(types.get("experiment_exposures", {})):
        _variant_checks(con, exp, report)
