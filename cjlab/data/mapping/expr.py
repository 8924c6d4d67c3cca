"""SQL (DuckDB) for the pieces of a mapping: conditions, parsed columns, aggregates.

Everything here is text generation; nothing runs. Raw columns are referred to by their
names in the input; structured conditions compare text after trimming, or numbers.

Examples
--------
>>> from cjlab.data.mapping.spec import parse_condition, parse_column
>>> condition_sql(parse_condition({"column": "InvoiceNo", "starts_with": "C"}, "k"))
'COALESCE(starts_with(trim(CAST("InvoiceNo" AS VARCHAR)), \\'C\\'), FALSE)'
>>> spec = parse_column("customer_id", {"column": "CustomerID", "type": "id"}, "k", "orders")
>>> parsed(spec, {"CustomerID": "VARCHAR"}, None).expr
'regexp_replace(NULLIF(trim(CAST("CustomerID" AS VARCHAR)), \\'\\'), \\'^(-?[0-9]+)\\\\.0*$\\', \\'\\\\1\\')'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cjlab.data.errors import MappingError
from cjlab.data.mapping.spec import ColumnSpec, Condition
from cjlab.data.typed import FALSE_TEXT, TRUE_TEXT, q

#: DuckDB type written for each output kind
SQL_TYPES = {
    "id": "VARCHAR",
    "string": "VARCHAR",
    "label": "VARCHAR",
    "number": "DOUBLE",
    "integer": "BIGINT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
_NUMERIC = (
    "DOUBLE",
    "FLOAT",
    "REAL",
    "DECIMAL",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
)
_INTERVAL = {"days": "to_days", "weeks": "to_weeks", "months": "to_months", "years": "to_years"}


def lit(value: Any) -> str:
    """A SQL literal for a YAML value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _text(col: str) -> str:
    return f"trim(CAST({q(col)} AS VARCHAR))"


def _number(col: str) -> str:
    return f"TRY_CAST({q(col)} AS DOUBLE)"


def _test_sql(c: Condition) -> str:
    t, v = _text(c.column), c.value
    numeric = isinstance(v, int | float) and not isinstance(v, bool)
    if c.op in ("equals", "not_equals"):
        expr = f"{_number(c.column)} = {lit(v)}" if numeric else f"{t} = {lit(str(v))}"
    elif c.op in ("in", "not_in"):
        if v and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
            expr = f"{_number(c.column)} IN ({', '.join(lit(x) for x in v)})"
        else:
            expr = f"{t} IN ({', '.join(lit(str(x)) for x in v)})" if v else "FALSE"
    elif c.op in ("starts_with", "not_starts_with"):
        expr = f"starts_with({t}, {lit(str(v))})"
    elif c.op == "contains":
        expr = f"contains({t}, {lit(str(v))})"
    elif c.op == "matches":
        expr = f"regexp_matches({t}, {lit(str(v))})"
    elif c.op == "empty":
        blank = f"({q(c.column)} IS NULL OR {t} = '')"
        return blank if v else f"(NOT {blank})"
    else:
        sign = {"above": ">", "below": "<", "at_least": ">=", "at_most": "<="}[c.op]
        expr = f"{_number(c.column)} {sign} {lit(v)}"
    if c.op.startswith("not_"):
        return f"COALESCE(NOT ({expr}), TRUE)"
    return f"COALESCE({expr}, FALSE)"


def condition_sql(c: Condition) -> str:
    """SQL boolean for a condition (never NULL: a test on an empty value is false, its
    negation true)."""
    if c.kind == "sql":
        return f"COALESCE(({c.sql}), FALSE)"
    if c.kind == "test":
        return _test_sql(c)
    parts = [condition_sql(p) for p in c.parts]
    if c.kind == "not":
        return f"(NOT {parts[0]})"
    return "(" + (" AND " if c.kind == "all" else " OR ").join(parts) + ")"


@dataclass(frozen=True)
class Parsed:
    """The SQL of one output column, and how to count values that did not parse.

    ``check`` is TRUE for a row whose source value is present but did not parse (``None``:
    nothing to check); ``what`` says what was expected, for the report.
    """

    expr: str
    check: str | None = None
    what: str = ""


def _is(sql_type: str | None, *prefixes: str) -> bool:
    return sql_type is not None and sql_type.upper().startswith(prefixes)


def _base(
    spec: ColumnSpec, types: Mapping[str, str], snapshot: dt.date | None
) -> tuple[str, str | None]:
    """The value before parsing, and its SQL type when known."""
    if spec.source == "column":
        return q(spec.ref), types.get(spec.ref)
    if spec.source == "sql":
        return f"({spec.ref})", None
    if spec.source == "row_number":
        return "row_number() OVER ()", "BIGINT"
    if spec.ref == "$snapshot":
        return lit(snapshot), "DATE"
    if isinstance(spec.ref, dt.date):
        return lit(spec.ref), "DATE"
    return lit(spec.ref), (
        "DOUBLE"
        if isinstance(spec.ref, int | float) and not isinstance(spec.ref, bool)
        else "VARCHAR"
    )


def _parse_text(spec: ColumnSpec, s: str) -> tuple[str, str]:
    """Parse the trimmed text ``s`` into ``spec.kind``; returns (sql, what was expected)."""
    kind = spec.kind
    if kind == "id":
        return rf"regexp_replace({s}, '^(-?[0-9]+)\.0*$', '\1')", ""
    if kind in ("string", "label"):
        return s, ""
    if kind in ("number", "integer"):
        t = s
        if spec.thousands:
            t = f"replace({t}, {lit(spec.thousands)}, '')"
        if spec.decimal and spec.decimal != ".":
            t = f"replace({t}, {lit(spec.decimal)}, '.')"
        num = f"TRY_CAST({t} AS DOUBLE)"
        sep = f" (decimal separator {spec.decimal!r})" if spec.decimal else ""
        if kind == "number":
            return num, "a number" + sep
        return (
            f"CASE WHEN {num} = round({num}) THEN CAST({num} AS BIGINT) END",
            "a whole number" + sep,
        )
    if kind == "bool":
        yes = tuple(v.lower() for v in spec.true) or TRUE_TEXT
        no = tuple(v.lower() for v in spec.false) or FALSE_TEXT
        low = f"lower({s})"
        return (
            f"CASE WHEN {low} IN ({', '.join(lit(v) for v in yes)}) THEN TRUE "
            f"WHEN {low} IN ({', '.join(lit(v) for v in no)}) THEN FALSE END",
            f"true/false (true: {', '.join(yes)}; false: {', '.join(no)})",
        )
    if spec.formats:
        fmts = "[" + ", ".join(lit(f) for f in spec.formats) + "]"
        ts = f"try_strptime({s}, {fmts})"
        what = f"a {kind} in the format {' or '.join(spec.formats)}"
    else:
        ts = f"TRY_CAST({s} AS TIMESTAMP)"
        what = f"a {kind} (ISO format, e.g. 2025-03-31" + (
            " 14:05)" if kind == "timestamp" else ")"
        )
    return (f"CAST({ts} AS DATE)" if kind == "date" else ts), what


def _parse_typed(spec: ColumnSpec, base: str, sql_type: str) -> str | None:
    """Parse a value that already has a usable SQL type (no text step needed)."""
    kind = spec.kind
    text_opts = (
        spec.formats or spec.decimal or spec.thousands or spec.true or spec.false or spec.map
    )
    if text_opts:
        return None
    if kind in ("date", "timestamp") and _is(sql_type, "DATE", "TIMESTAMP"):
        return f"CAST({base} AS {SQL_TYPES[kind]})"
    if kind == "number" and _is(sql_type, *_NUMERIC):
        return f"CAST({base} AS DOUBLE)"
    if kind == "integer" and _is(
        sql_type, "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "U"
    ):
        return f"CAST({base} AS BIGINT)"
    if kind == "bool" and _is(sql_type, "BOOL"):
        return base
    if kind == "id" and _is(sql_type, "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "U"):
        return f"CAST({base} AS VARCHAR)"
    return None


def _shift(spec: ColumnSpec, expr: str) -> str:
    if not spec.shifts:
        return expr
    if spec.kind not in ("date", "timestamp"):
        raise MappingError(
            f"{spec.key}.minus", "minus/plus apply to date and timestamp columns only"
        )
    for sign, unit, amount in spec.shifts:
        n = lit(amount) if isinstance(amount, int | float) else f"TRY_CAST({q(amount)} AS DOUBLE)"
        op = "-" if sign < 0 else "+"
        expr = f"({expr} {op} {_INTERVAL[unit]}(CAST({n} AS INTEGER)))"
    return f"CAST({expr} AS {SQL_TYPES[spec.kind]})"


def parsed(spec: ColumnSpec, types: Mapping[str, str], snapshot: dt.date | None) -> Parsed:
    """The row-level SQL of an output column: source value, map, parse, default, shift, when."""
    base, sql_type = _base(spec, types, snapshot)
    check, what = None, ""
    if spec.kind is None:  # a sql expression keeps its own type
        expr = base
    else:
        expr = _parse_typed(spec, base, sql_type) if sql_type else None
        if expr is None:
            s = f"NULLIF(trim(CAST({base} AS VARCHAR)), '')"
            if spec.map:
                cases = " ".join(
                    f"WHEN {lit(k)} THEN {lit(None if v is None else str(v))}"
                    for k, v in spec.map.items()
                )
                s = f"(CASE {s} {cases} ELSE {s} END)"
            expr, what = _parse_text(spec, s)
            if what and spec.source in ("column", "sql"):
                check = f"({s} IS NOT NULL AND ({expr}) IS NULL)"
    if spec.default is not None:
        kind = spec.kind or "string"
        expr = f"COALESCE({expr}, CAST({lit(spec.default)} AS {SQL_TYPES[kind]}))"
    expr = _shift(spec, expr)
    if spec.when is not None:
        cond = condition_sql(spec.when)
        expr = f"CASE WHEN {cond} THEN {expr} END"
        check = None if check is None else f"({cond} AND {check})"
    return Parsed(expr, check, what)


def aggregate_sql(spec: ColumnSpec, order_by: str | None) -> str:
    """The aggregate of a column over the rows of one group (the default: ``min``)."""
    c = q(spec.name)
    agg = spec.aggregate or "min"
    if agg == "count_distinct":
        return f"count(DISTINCT {c})"
    if agg == "mean":
        return f"avg({c})"
    if agg == "any":
        return f"any_value({c})"
    if agg in ("first", "last"):
        fn = "arg_min" if agg == "first" else "arg_max"
        return f"{fn}({c}, {q(order_by)})"  # type: ignore[arg-type]
    return f"{agg}({c})"
