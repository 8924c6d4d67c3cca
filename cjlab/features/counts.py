"""Rows per day, month or cell (portable: pandas, DuckDB, Spark)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw

from cjlab.features._frame import back, frame, ints


def daily_counts(table: Any, time_col: str = "ts", by: Sequence[str] = ()) -> Any:
    """Rows per calendar day (and per ``by`` columns): columns day, *by, n."""
    f = frame(table)
    f = f.with_columns(nw.col(time_col).dt.truncate("1d").alias("day"))
    keys = ["day", *by]
    return back(f.group_by(keys).agg(nw.len().alias("n")).sort(keys), table)


def monthly_counts(table: Any, time_col: str = "ts", by: Sequence[str] = ()) -> Any:
    """Rows per calendar month (first day of month) and ``by`` columns: month, *by, n."""
    f = frame(table)
    f = f.with_columns(nw.col(time_col).dt.truncate("1mo").alias("month"))
    keys = ["month", *by]
    return back(f.group_by(keys).agg(nw.len().alias("n")).sort(keys), table)


def counts_by(table: Any, by: Sequence[str]) -> Any:
    """Rows and distinct customers per combination of ``by`` columns: *by, n, customers."""
    f = frame(table)
    by = list(by)
    if "customer_id" not in f.collect_schema().names():
        return back(f.group_by(by).agg(nw.len().alias("n")).sort(by), table)
    per = f.group_by(*by, "customer_id").agg(nw.len().alias("_n"))  # distinct customers in two steps
    g = ints(per.group_by(by).agg(nw.col("_n").sum().alias("n"), nw.len().alias("customers")), ["n"])
    return back(g.sort(by), table)
