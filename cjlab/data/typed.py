"""Typed views of raw tables: every contract column cast to its kind, extra columns kept.

A source delivers columns as they come (CSV text, Parquet types, database types). Analyses
get them typed: ids keep their type, numbers become ``DOUBLE``, dates ``DATE``, timestamps
``TIMESTAMP`` (naive UTC), booleans from true/false, 1/0, yes/no. A value that does not
convert becomes empty (validation reports it first). Columns outside the contract (customer
attributes such as a contract type) are kept with their own type.

Examples
--------
>>> from cjlab.data.contract import CONTRACT
>>> typed_select({"customer_id": "BIGINT", "first_seen": "VARCHAR", "plan": "VARCHAR"},
...              CONTRACT["customers"])
['"customer_id"', 'TRY_CAST(CAST("first_seen" AS VARCHAR) AS DATE) AS "first_seen"', '"plan"']
"""

from __future__ import annotations

from collections.abc import Mapping

from cjlab.data.contract import Column, TableSchema

#: text values read as true / false (lower-cased, trimmed)
TRUE_TEXT: tuple[str, ...] = ("true", "t", "1", "yes", "y", "1.0")
FALSE_TEXT: tuple[str, ...] = ("false", "f", "0", "no", "n", "0.0")


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _texts(values: tuple[str, ...]) -> str:
    return "(" + ",".join("'" + v + "'" for v in values) + ")"


def typed_expr(col: Column, name: str, sql_type: str) -> str:
    """DuckDB expression casting column ``name`` (of type ``sql_type``) to ``col.kind``."""
    qn = q(name)
    txt = f"lower(trim(CAST({qn} AS VARCHAR)))"
    upper = sql_type.upper()
    if col.kind == "number":
        return f"TRY_CAST({qn} AS DOUBLE) AS {qn}"
    if col.kind == "integer":
        return f"TRY_CAST({qn} AS {'BIGINT' if col.required else 'DOUBLE'}) AS {qn}"
    if col.kind == "date":
        if upper.startswith("TIMESTAMP"):
            return f"CAST({qn} AS DATE) AS {qn}"
        return f"TRY_CAST(CAST({qn} AS VARCHAR) AS DATE) AS {qn}"
    if col.kind == "timestamp":
        if upper.startswith(("TIMESTAMP", "DATE")):
            return f"CAST({qn} AS TIMESTAMP) AS {qn}"
        return f"TRY_CAST(CAST({qn} AS VARCHAR) AS TIMESTAMP) AS {qn}"
    if col.kind == "bool":
        return (
            f"CASE WHEN {txt} IN {_texts(TRUE_TEXT)} THEN TRUE "
            f"WHEN {txt} IN {_texts(FALSE_TEXT)} THEN FALSE END AS {qn}"
        )
    if col.kind in ("string", "label"):
        return f"CAST({qn} AS VARCHAR) AS {qn}"
    return qn  # ids keep their own type


def typed_select(types: Mapping[str, str], schema: TableSchema) -> list[str]:
    """The select list of a typed table: contract columns cast, extra columns as they are."""
    out = []
    for name, sql_type in types.items():
        col = schema.column_for(name)
        out.append(q(name) if col is None else typed_expr(col, name, sql_type))
    return out
