"""What a data source holds: table sizes, columns, date ranges, missing values.

Examples
--------
>>> from cjlab.data import open_source
>>> tables_summary(open_source("demo:n_customers=300,seed=1"))["table"].tolist()[:2]
['customers', 'touchpoints']
"""

from __future__ import annotations

import pandas as pd

from cjlab.data.contract import CONTRACT
from cjlab.data.source import DataSource
from cjlab.data.validate import _q


def tables_summary(src: DataSource) -> pd.DataFrame:
    """One row per table: rows, columns, first and last date, customers, share of empty cells."""
    rows = []
    for t in src.tables:
        rel = src.relation(t)
        cols = rel.columns
        tcol = CONTRACT[t].time_column
        key = "customer_id" if "customer_id" in cols else ("unit_id" if "unit_id" in cols else None)
        parts = ["count(*)"]
        parts.append(f"min(CAST({_q(tcol)} AS TIMESTAMP)), max(CAST({_q(tcol)} AS TIMESTAMP))" if tcol in cols else "NULL, NULL")
        parts.append(f"count(DISTINCT {_q(key)})" if key else "NULL")
        parts.append(" + ".join(f"count_if({_q(c)} IS NULL)" for c in cols) or "0")
        n, first, last, customers, empty = src.con.execute(
            f"SELECT {', '.join(parts)} FROM ({src.typed_sql(t)})").fetchone()
        rows.append({"table": t, "rows": n, "columns": len(cols), "first": first, "last": last,
                     "customers": customers,
                     "empty_cells": (empty / (n * len(cols))) if n and cols else 0.0})
    return pd.DataFrame(rows)
