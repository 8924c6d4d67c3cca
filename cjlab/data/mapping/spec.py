"""The mapping file, read and checked: inputs, tables, columns, conditions, returns.

Every entry is checked before any data are read; a problem raises
:class:`~cjlab.data.errors.MappingError` naming the mapping key (``tables.orders.columns.ts``),
with the nearest valid word when a key is misspelt. The format is described in
:mod:`cjlab.data.mapping`.

Examples
--------
>>> m = parse_mapping({"inputs": {"raw": {"path": "x.csv"}},
...                    "tables": {"customers": {"from": "raw", "columns": {
...                        "customer_id": "id", "first_seen": {"column": "since", "type": "date"}}}}})
>>> m.tables["customers"].columns["first_seen"].kind
'date'
>>> parse_mapping({"inputs": {"raw": {}}, "tables": {"customers": {"from": "raw", "colums": {}}}})
Traceback (most recent call last):
...
cjlab.data.errors.MappingError: tables.customers.colums: unknown key (did you mean 'columns'?)
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlab.data.contract import CONTRACT, TABLES
from cjlab.data.errors import MappingError
from cjlab.data.plausible import Bounds

KINDS = ("id", "string", "number", "integer", "bool", "date", "timestamp", "label")
FORMATS = ("csv", "parquet", "json")
AGGREGATES = ("min", "max", "sum", "mean", "count", "count_distinct", "first", "last", "any")
SHIFT_UNITS = ("days", "weeks", "months", "years")
#: operators of a structured condition ``{column: X, <operator>: value}``
OPERATORS = (
    "equals",
    "not_equals",
    "in",
    "not_in",
    "starts_with",
    "not_starts_with",
    "contains",
    "matches",
    "empty",
    "above",
    "below",
    "at_least",
    "at_most",
)

_INPUT_KEYS = (
    "path",
    "format",
    "delimiter",
    "quote",
    "escape",
    "header",
    "skip",
    "encoding",
    "decimal",
    "thousands",
    "nulls",
    "types",
    "sample_size",
)
_TABLE_KEYS = ("from", "filter", "columns", "group_by", "order_by", "returns", "description")
_COLUMN_KEYS = (
    "column",
    "value",
    "sql",
    "row_number",
    "type",
    "format",
    "decimal",
    "thousands",
    "true",
    "false",
    "map",
    "default",
    "when",
    "minus",
    "plus",
    "aggregate",
    "keep",
)
_SOURCES = ("column", "value", "sql", "row_number")
_RETURN_KEYS = ("when", "handle", "net_to", "match")
_TOP_KEYS = ("description", "snapshot", "inputs", "tables", "bounds")
_BOUND_KEYS = ("earliest", "latest", "max_amount")


def _unknown(key: str, given: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for k in given:
        if k not in allowed:
            near = difflib.get_close_matches(str(k), allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (allowed: {', '.join(allowed)})"
            raise MappingError(f"{key}.{k}" if key else str(k), "unknown key" + hint)


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingError(key, f"expected a mapping of keys to values, got {type(value).__name__}")
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MappingError(key, "expected a column name or a list of column names")


def _date(value: Any, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise MappingError(key, f"expected a date such as 2025-12-31, got {value!r}") from None


@dataclass(frozen=True)
class Condition:
    """A row condition: SQL text, a structured test on one raw column, or a combination.

    ``kind`` is ``sql`` (``sql`` holds the text), ``test`` (``column``, ``op``, ``value``),
    ``all`` / ``any`` (``parts``) or ``not`` (``parts[0]``).
    """

    key: str
    kind: str
    sql: str = ""
    column: str = ""
    op: str = ""
    value: Any = None
    parts: tuple[Condition, ...] = ()


def parse_condition(value: Any, key: str) -> Condition:
    """A condition from its YAML form (a string, a list = all of, or a mapping)."""
    if isinstance(value, str):
        return Condition(key, "sql", sql=value)
    if isinstance(value, list):
        if not value:
            raise MappingError(key, "an empty list of conditions")
        return Condition(
            key, "all", parts=tuple(parse_condition(v, f"{key}[{i}]") for i, v in enumerate(value))
        )
    value = _mapping(value, key)
    for combo in ("all", "any"):
        if combo in value:
            _unknown(key, value, (combo,))
            inner = value[combo]
            if not isinstance(inner, list) or not inner:
                raise MappingError(f"{key}.{combo}", "expected a non-empty list of conditions")
            return Condition(
                key,
                combo,
                parts=tuple(parse_condition(v, f"{key}.{combo}[{i}]") for i, v in enumerate(inner)),
            )
    if "not" in value:
        _unknown(key, value, ("not",))
        return Condition(key, "not", parts=(parse_condition(value["not"], f"{key}.not"),))
    if "sql" in value:
        _unknown(key, value, ("sql",))
        return Condition(key, "sql", sql=str(value["sql"]))
    _unknown(key, value, ("column", *OPERATORS))
    if "column" not in value:
        raise MappingError(
            key,
            "a condition needs 'column' and one operator "
            f"({', '.join(OPERATORS)}), or 'sql', 'all', 'any', 'not'",
        )
    ops = [k for k in value if k != "column"]
    if len(ops) != 1:
        raise MappingError(
            key, f"give exactly one operator ({', '.join(OPERATORS)}), got {ops or 'none'}"
        )
    op = ops[0]
    arg = value[op]
    if op in ("in", "not_in") and not isinstance(arg, list):
        raise MappingError(f"{key}.{op}", "expected a list of values")
    if op in ("above", "below", "at_least", "at_most") and not isinstance(arg, int | float):
        raise MappingError(f"{key}.{op}", f"expected a number, got {arg!r}")
    if op == "empty" and not isinstance(arg, bool):
        raise MappingError(f"{key}.{op}", "expected true or false")
    return Condition(key, "test", column=str(value["column"]), op=op, value=arg)


def _numeric_test(cond: Condition) -> bool:
    v = cond.value
    nums = v if isinstance(v, list) else [v]
    return cond.op in ("above", "below", "at_least", "at_most", "empty") or (
        cond.op in ("equals", "not_equals", "in", "not_in")
        and bool(nums)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in nums)
    )


def condition_columns(cond: Condition | None, text_only: bool = False) -> set[str]:
    """Raw columns a structured condition names (SQL text is checked by DuckDB).

    ``text_only``: only the columns compared as text (read as text, so that DuckDB's type
    guess, e.g. Yes/No as a boolean, cannot change what ``equals: "Yes"`` means).
    """
    if cond is None:
        return set()
    if cond.kind == "test":
        return set() if text_only and _numeric_test(cond) else {cond.column}
    return (
        set().union(*(condition_columns(p, text_only) for p in cond.parts)) if cond.parts else set()
    )


@dataclass(frozen=True)
class ColumnSpec:
    """How one output column is made (see :mod:`cjlab.data.mapping` for every key)."""

    name: str
    key: str
    source: str  # column | value | sql | row_number
    ref: Any  # raw column name, constant, SQL text, or True
    kind: str | None  # parse/output type; None: keep the type of a sql expression
    formats: tuple[str, ...] = ()
    decimal: str | None = None
    thousands: str | None = None
    true: tuple[str, ...] = ()
    false: tuple[str, ...] = ()
    map: Mapping[str, Any] | None = None
    default: Any = None
    when: Condition | None = None
    shifts: tuple[tuple[int, str, Any], ...] = ()  # (sign, unit, column name or number)
    aggregate: str | None = None
    keep: bool = True


def _shifts(spec: Mapping[str, Any], key: str) -> tuple[tuple[int, str, Any], ...]:
    out = []
    for word, sign in (("minus", -1), ("plus", 1)):
        if word not in spec:
            continue
        shift = _mapping(spec[word], f"{key}.{word}")
        _unknown(f"{key}.{word}", shift, SHIFT_UNITS)
        for unit, amount in shift.items():
            if not isinstance(amount, str | int | float) or isinstance(amount, bool):
                raise MappingError(f"{key}.{word}.{unit}", "expected a column name or a number")
            out.append((sign, unit, amount))
    return tuple(out)


def _texts(value: Any, key: str) -> tuple[str, ...]:
    vals = value if isinstance(value, list) else [value]
    return tuple(str(v) for v in vals)


def parse_column(name: str, value: Any, key: str, table: str) -> ColumnSpec:
    """One entry of ``tables.<table>.columns`` (a raw column name, or a mapping)."""
    contract = CONTRACT[table].column_for(name) if table in CONTRACT else None
    default_kind = contract.kind if contract is not None else None
    if isinstance(value, str):
        value = {"column": value}
    if value is None or not isinstance(value, Mapping):
        raise MappingError(
            key,
            "expected a raw column name or a mapping with 'column', 'value', 'sql' or 'row_number'",
        )
    _unknown(key, value, _COLUMN_KEYS)
    sources = [s for s in _SOURCES if s in value]
    if len(sources) != 1:
        raise MappingError(
            key, f"give exactly one of {', '.join(_SOURCES)} (got {sources or 'none'})"
        )
    source = sources[0]
    kind = value.get("type", default_kind)
    if kind is None and source in ("column", "value"):
        kind = "string"
    if source == "row_number":
        kind = kind or "id"
    if kind is not None and kind not in KINDS:
        raise MappingError(f"{key}.type", f"unknown type {kind!r} (types: {', '.join(KINDS)})")
    fmt = value.get("format")
    formats = () if fmt is None else _texts(fmt, f"{key}.format")
    if formats and kind not in ("date", "timestamp"):
        raise MappingError(f"{key}.format", "a format applies to date and timestamp columns only")
    agg = value.get("aggregate")
    if agg is not None and agg not in AGGREGATES:
        raise MappingError(
            f"{key}.aggregate", f"unknown aggregate {agg!r} (use {', '.join(AGGREGATES)})"
        )
    mapping = value.get("map")
    if mapping is not None:
        mapping = {str(k): v for k, v in _mapping(mapping, f"{key}.map").items()}
    for sep in ("decimal", "thousands"):
        if sep in value and (not isinstance(value[sep], str) or len(value[sep]) != 1):
            raise MappingError(f"{key}.{sep}", "expected one character such as ',' or '.'")
    return ColumnSpec(
        name=name,
        key=key,
        source=source,
        ref=value[source],
        kind=kind,
        formats=formats,
        decimal=value.get("decimal"),
        thousands=value.get("thousands"),
        true=_texts(value["true"], key) if "true" in value else (),
        false=_texts(value["false"], key) if "false" in value else (),
        map=mapping,
        default=value.get("default"),
        when=parse_condition(value["when"], f"{key}.when") if "when" in value else None,
        shifts=_shifts(value, key),
        aggregate=agg,
        keep=bool(value.get("keep", True)),
    )


@dataclass(frozen=True)
class ReturnsSpec:
    """Rows that are returns or cancellations, and what happens to them."""

    key: str
    when: Condition
    handle: str  # drop | net
    net_to: str | None = None  # raw column holding the original order key
    match: tuple[str, ...] = ()  # output columns a return shares with its original order


@dataclass(frozen=True)
class TableSpec:
    """One contract table (or one built only to feed others) and how it is made."""

    name: str
    key: str
    source: str  # an input or a table built earlier
    columns: dict[str, ColumnSpec]
    filter: Condition | None = None
    group_by: tuple[str, ...] = ()
    order_by: str | None = None
    returns: ReturnsSpec | None = None


def _returns(
    value: Any, key: str, columns: Mapping[str, ColumnSpec], group_by: tuple[str, ...]
) -> ReturnsSpec:
    value = _mapping(value, key)
    _unknown(key, value, _RETURN_KEYS)
    if "when" not in value:
        raise MappingError(key, "say which rows are returns or cancellations with 'when'")
    handle = value.get("handle", "drop")
    if handle not in ("drop", "net"):
        raise MappingError(f"{key}.handle", f"use drop or net, got {handle!r}")
    net_to = value.get("net_to")
    match = _names(value["match"], f"{key}.match") if "match" in value else ()
    if handle == "net":
        if not group_by:
            raise MappingError(
                f"{key}.handle",
                "netting returns against their order needs group_by (the order key)",
            )
        if net_to is None and not match:
            raise MappingError(
                key,
                "handle: net needs net_to (the raw column holding the original "
                "order) or match (columns a return shares with its order, "
                "e.g. [customer_id, stock_code])",
            )
        if "amount" not in columns:
            raise MappingError(key, "netting returns needs an amount column")
        for m in match:
            if m not in columns:
                raise MappingError(
                    f"{key}.match",
                    f"{m!r} is not a column of this table "
                    "(add it to columns, with keep: false if it "
                    "should not be written)",
                )
    return ReturnsSpec(
        key,
        parse_condition(value["when"], f"{key}.when"),
        handle,
        None if net_to is None else str(net_to),
        match,
    )


def parse_table(name: str, value: Any, known_sources: set[str]) -> TableSpec:
    """One entry of ``tables``."""
    key = f"tables.{name}"
    value = _mapping(value, key)
    _unknown(key, value, _TABLE_KEYS)
    if name not in CONTRACT:
        near = difflib.get_close_matches(name, TABLES, n=1)
        raise MappingError(
            key,
            "not a contract table"
            + (f" (did you mean {near[0]!r}?)" if near else f" (tables: {', '.join(TABLES)})"),
        )
    source = value.get("from")
    if source is None:
        if len(known_sources) != 1:
            raise MappingError(
                f"{key}.from",
                "say which input (or table built above) the rows come "
                f"from: one of {', '.join(sorted(known_sources))}",
            )
        source = next(iter(known_sources))
    if source not in known_sources:
        raise MappingError(
            f"{key}.from",
            f"unknown input or table {source!r} (inputs and tables "
            f"above: {', '.join(sorted(known_sources))})",
        )
    cols_raw = _mapping(value.get("columns"), f"{key}.columns")
    if not cols_raw:
        raise MappingError(f"{key}.columns", "no columns mapped")
    columns = {
        str(c): parse_column(str(c), v, f"{key}.columns.{c}", name) for c, v in cols_raw.items()
    }
    group_by = _names(value["group_by"], f"{key}.group_by") if "group_by" in value else ()
    for g in group_by:
        if g not in columns:
            raise MappingError(f"{key}.group_by", f"{g!r} is not one of the columns mapped")
    order_by = value.get("order_by")
    if order_by is not None and order_by not in columns:
        raise MappingError(f"{key}.order_by", f"{order_by!r} is not one of the columns mapped")
    for c in columns.values():
        if c.aggregate and not group_by:
            raise MappingError(f"{c.key}.aggregate", "an aggregate needs group_by on the table")
        if c.aggregate in ("first", "last") and order_by is None:
            raise MappingError(
                f"{c.key}.aggregate",
                f"{c.aggregate} needs order_by on the table (the column that orders the rows)",
            )
        if c.name in group_by and c.aggregate:
            raise MappingError(f"{c.key}.aggregate", "a group_by column is not aggregated")
    missing = [r for r in CONTRACT[name].required if r not in columns]
    if missing:
        raise MappingError(
            f"{key}.columns",
            f"the contract's required column(s) {', '.join(missing)} are not mapped",
        )
    returns = (
        _returns(value["returns"], f"{key}.returns", columns, group_by)
        if "returns" in value
        else None
    )
    filt = parse_condition(value["filter"], f"{key}.filter") if "filter" in value else None
    return TableSpec(name, key, str(source), columns, filt, group_by, order_by, returns)


@dataclass(frozen=True)
class InputSpec:
    """A raw file (or a glob of part files) and how to read it."""

    name: str
    key: str
    path: str | None
    format: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def parse_input(name: str, value: Any) -> InputSpec:
    key = f"inputs.{name}"
    value = _mapping(value if value is not None else {}, key)
    _unknown(key, value, _INPUT_KEYS)
    fmt = value.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise MappingError(
            f"{key}.format", f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})"
        )
    for sep in ("delimiter", "quote", "escape", "decimal", "thousands"):
        if sep in value and (not isinstance(value[sep], str) or len(value[sep]) != 1):
            if not (sep == "delimiter" and value[sep] == "\\t"):
                raise MappingError(f"{key}.{sep}", f"expected one character, got {value[sep]!r}")
    if "types" in value:
        _mapping(value["types"], f"{key}.types")
    opts = {k: v for k, v in value.items() if k not in ("path", "format")}
    return InputSpec(
        name, key, None if value.get("path") is None else str(value["path"]), fmt, opts
    )


def parse_bounds(value: Any) -> Bounds:
    value = _mapping(value, "bounds")
    _unknown("bounds", value, _BOUND_KEYS)
    amount = value.get("max_amount")
    if amount is not None and (not isinstance(amount, int | float) or amount <= 0):
        raise MappingError("bounds.max_amount", f"expected a positive number, got {amount!r}")
    return Bounds(
        _date(value["earliest"], "bounds.earliest") if "earliest" in value else None,
        _date(value["latest"], "bounds.latest") if "latest" in value else None,
        None if amount is None else float(amount),
    )


@dataclass(frozen=True)
class MappingSpec:
    """A whole mapping: inputs, the tables made from them (in order), a snapshot date, bounds."""

    inputs: dict[str, InputSpec]
    tables: dict[str, TableSpec]
    snapshot: dt.date | None = None
    description: str = ""
    bounds: Bounds = field(default_factory=Bounds)
    base: Path = Path(".")  # relative input paths start here (the mapping file's folder)
    origin: str = "<mapping>"


def parse_mapping(doc: Any, base: Path | str = ".", origin: str = "<mapping>") -> MappingSpec:
    """Check a mapping document (as loaded from YAML) and return it as :class:`MappingSpec`."""
    doc = _mapping(doc, "")
    _unknown("", doc, _TOP_KEYS)
    inputs_raw = _mapping(doc.get("inputs"), "inputs")
    if not inputs_raw:
        raise MappingError("inputs", "no inputs: name at least one raw file")
    inputs = {str(n): parse_input(str(n), v) for n, v in inputs_raw.items()}
    tables_raw = _mapping(doc.get("tables"), "tables")
    if not tables_raw:
        raise MappingError("tables", "no tables: map at least one contract table")
    known = set(inputs)
    tables = {}
    for name, value in tables_raw.items():
        if str(name) in inputs:
            raise MappingError(f"tables.{name}", "a table and an input have the same name")
        tables[str(name)] = parse_table(str(name), value, known)
        known.add(str(name))
    snapshot = _date(doc["snapshot"], "snapshot") if doc.get("snapshot") is not None else None
    for t in tables.values():
        for c in t.columns.values():
            if c.source == "value" and c.ref == "$snapshot" and snapshot is None:
                raise MappingError(
                    f"{c.key}.value",
                    "$snapshot needs the snapshot date at the top of "
                    "the mapping (snapshot: 2025-12-31)",
                )
    bounds = parse_bounds(doc["bounds"]) if doc.get("bounds") is not None else Bounds()
    return MappingSpec(
        inputs, tables, snapshot, str(doc.get("description", "")), bounds, Path(base), origin
    )
