"""Returns and cancellations: dropped, or netted against the order they belong to.

``drop`` removes the rows flagged by ``returns.when``. ``net`` moves each flagged row onto
its original order before the rows are grouped: the order named in ``net_to`` when the
export says which order a return belongs to, otherwise the customer's latest earlier order
holding the same item (``match``: the columns a return shares with its order, e.g.
``[customer_id, stock_code]``; an ASOF join on the order time). A netted row adds only to
summed columns (the amount, as a negative value whatever its sign in the export); a return
whose original order is not in the export is dropped, and an order netted to zero or less
(fully returned) is dropped. Every count goes into the import report.
"""

from __future__ import annotations

import duckdb

from cjlab.data.contract import CONTRACT
from cjlab.data.errors import MappingError
from cjlab.data.mapping.report import ReturnStats
from cjlab.data.mapping.spec import TableSpec
from cjlab.data.typed import q

RETURN = "__cj_return"
TARGET = "__cj_target"
NETTED = "__cj_netted"
MATCH = "__cj_match"


def _order_key(t: TableSpec) -> str | None:
    if t.group_by:
        return t.group_by[0]
    keys = [c.name for c in CONTRACT[t.name].columns if c.unique and c.name in t.columns]
    return keys[0] if keys else None


def _extra(t: TableSpec) -> str:
    return (
        f"EXCLUDE ({RETURN}, {TARGET})" if t.returns and t.returns.net_to else f"EXCLUDE ({RETURN})"
    )


def drop_returns(
    con: duckdb.DuckDBPyConnection, t: TableSpec, stage: str, stats: ReturnStats
) -> str:
    """Drop the flagged rows; returns the view of the rows kept."""
    key = _order_key(t)
    orders = f"count(DISTINCT CASE WHEN {RETURN} THEN {q(key)} END)" if key else "0"
    rows, n_orders = con.execute(f"SELECT count_if({RETURN}), {orders} FROM {stage}").fetchone()
    stats.rows, stats.orders = int(rows), int(n_orders)
    view = f"{stage}_kept"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * {_extra(t)} FROM {stage} "
        f"WHERE NOT {RETURN}"
    )
    return view


def _matches(con: duckdb.DuckDBPyConnection, t: TableSpec, stage: str) -> str:
    """View of the flagged rows with the key of their original order (``MATCH``, or NULL)."""
    r = t.returns
    assert r is not None
    key = q(t.group_by[0])
    buys = f"(SELECT * FROM {stage} WHERE NOT {RETURN})"
    view = f"{stage}_returns"
    if r.net_to:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT s.*, CASE WHEN {TARGET} IN "
            f"(SELECT {key} FROM {buys}) THEN {TARGET} END AS {MATCH} FROM {stage} s "
            f"WHERE {RETURN}"
        )
        return view
    time = t.order_by or CONTRACT[t.name].time_column
    if time not in t.columns:
        raise MappingError(
            f"{r.key}.match",
            "matching returns to earlier orders needs the order "
            "time: map the table's time column or set order_by",
        )
    cols = ", ".join(q(c) for c in (*r.match, time))
    on = " AND ".join(f"r.{q(c)} = b.{q(c)}" for c in r.match)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT r.*, b.{MATCH} FROM "
        f"(SELECT * FROM {stage} WHERE {RETURN}) r ASOF LEFT JOIN "
        f"(SELECT DISTINCT {key} AS {MATCH}, {cols} FROM {buys}) b "
        f"ON {on} AND r.{q(time)} >= b.{q(time)}"
    )
    return view


def net_returns(
    con: duckdb.DuckDBPyConnection, t: TableSpec, stage: str, stats: ReturnStats
) -> str:
    """Move flagged rows onto their original orders; returns the view to group."""
    rets = _matches(con, t, stage)
    key = t.group_by[0]
    amount = q("amount")
    rows, orders, netted, total = con.execute(
        f"SELECT count(*), count(DISTINCT {q(key)}), count({MATCH}), "
        f"COALESCE(sum(abs({amount})) FILTER (WHERE {MATCH} IS NOT NULL), 0) FROM {rets}"
    ).fetchone()
    stats.rows, stats.orders, stats.netted = int(rows), int(orders), int(netted)
    stats.unmatched, stats.amount_netted = int(rows - netted), float(total)
    names = list(t.columns)
    moved = []
    for n in names:
        c = t.columns[n]
        if n == key:
            moved.append(f"{MATCH} AS {q(n)}")
        elif c.aggregate == "sum":
            moved.append(f"-abs({q(n)}) AS {q(n)}")
        else:
            moved.append(f"NULL AS {q(n)}")
    plain = ", ".join(q(n) for n in names)
    view = f"{stage}_netted"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS "
        f"SELECT {plain}, FALSE AS {NETTED} FROM {stage} WHERE NOT {RETURN} "
        f"UNION ALL SELECT {', '.join(moved)}, TRUE AS {NETTED} FROM {rets} "
        f"WHERE {MATCH} IS NOT NULL"
    )
    return view
