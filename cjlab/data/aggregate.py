"""Backend-portable aggregations over raw tables (narwhals).

Each function takes any frame narwhals understands — a pandas DataFrame, a DuckDB relation
(what :meth:`cjlab.data.DataSource.lazy` gives), a Polars or PySpark DataFrame — and returns a
frame of the *same backend*, so the heavy step runs where the data live. Call
:func:`to_pandas` on the (small) result for modelling and plotting.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [10, 11, 12],
...                        "ts": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-02-01"]),
...                        "amount": [10.0, 20.0, 5.0]})
>>> to_pandas(customer_orders(orders)).sort_values("customer_id")["revenue"].tolist()
[30.0, 5.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import narwhals as nw
import pandas as pd


def _frame(native: Any):
    f = nw.from_native(native)
    return f if isinstance(f, nw.LazyFrame) else f.lazy()


def _back(frame: nw.LazyFrame, native: Any):
    """Return the result in the caller's backend (pandas in -> pandas out; lazy stays lazy)."""
    if isinstance(native, pd.DataFrame):
        return frame.collect(backend="pandas").to_native()
    return frame.to_native()


def to_pandas(native: Any) -> pd.DataFrame:
    """Collect any narwhals-compatible frame into pandas."""
    if isinstance(native, pd.DataFrame):
        return native
    f = nw.from_native(native)
    if isinstance(f, nw.LazyFrame):
        f = f.collect(backend="pandas")
    return f.to_pandas()


def customer_orders(orders: Any, as_of: datetime | str | None = None) -> Any:
    """One row per customer: orders, purchase days, first/last order, revenue, promo orders.

    Parameters
    ----------
    orders : orders table (customer_id, order_id, ts, amount; promo optional).
    as_of : only orders strictly before this instant count (point-in-time features).

    Returns
    -------
    Frame with customer_id, n_orders, n_purchase_days, first_order, last_order, revenue,
    mean_order_value (and promo_orders when ``promo`` is present).
    """
    f = _frame(orders)
    if as_of is not None:
        f = f.filter(nw.col("ts") < pd.Timestamp(as_of).to_pydatetime())
    f = f.with_columns(nw.col("ts").dt.truncate("1d").alias("_day"))
    aggs = [
        nw.col("order_id").count().alias("n_orders"),
        nw.col("_day").n_unique().alias("n_purchase_days"),
        nw.col("ts").min().alias("first_order"),
        nw.col("ts").max().alias("last_order"),
        nw.col("amount").sum().alias("revenue"),
        nw.col("amount").mean().alias("mean_order_value"),
    ]
    if "promo" in f.collect_schema().names():
        f = f.with_columns(nw.col("promo").cast(nw.Int64).alias("_promo"))
        aggs.append(nw.col("_promo").sum().alias("promo_orders"))
    return _back(f.group_by("customer_id").agg(*aggs), orders)


def daily_counts(table: Any, time_col: str = "ts", by: Sequence[str] = ()) -> Any:
    """Rows per calendar day (and per ``by`` columns): columns day, *by, n."""
    f = _frame(table)
    f = f.with_columns(nw.col(time_col).dt.truncate("1d").alias("day"))
    keys = ["day", *by]
    return _back(f.group_by(keys).agg(nw.len().alias("n")).sort(keys), table)


def monthly_counts(table: Any, time_col: str = "ts", by: Sequence[str] = ()) -> Any:
    """Rows per calendar month (first day of month) and ``by`` columns: month, *by, n."""
    f = _frame(table)
    f = f.with_columns(nw.col(time_col).dt.truncate("1mo").alias("month"))
    keys = ["month", *by]
    return _back(f.group_by(keys).agg(nw.len().alias("n")).sort(keys), table)


def counts_by(table: Any, by: Sequence[str]) -> Any:
    """Rows and distinct customers per combination of ``by`` columns: *by, n, customers."""
    f = _frame(table)
    aggs = [nw.len().alias("n")]
    if "customer_id" in f.collect_schema().names():
        aggs.append(nw.col("customer_id").n_unique().alias("customers"))
    return _back(f.group_by(list(by)).agg(*aggs).sort(list(by)), table)


def experiment_daily(exposures: Any) -> Any:
    """Per experiment, variant and exposure day: users, conversions, revenue."""
    f = _frame(exposures)
    f = f.with_columns(nw.col("exposed_at").dt.truncate("1d").alias("day"))
    aggs = [nw.col("unit_id").n_unique().alias("users"),
            nw.col("converted").sum().alias("conversions")]
    if "revenue" in f.collect_schema().names():
        aggs.append(nw.col("revenue").sum().alias("revenue"))
    keys = ["experiment", "variant", "day"]
    return _back(f.group_by(keys).agg(*aggs).sort(keys), exposures)


def furthest_stage(touchpoints: Any) -> Any:
    """Each customer's furthest lifecycle stage: customer_id, stage_index (0-10), stage."""
    from cjlab.data.contract import STAGES

    f = _frame(touchpoints)
    idx = {s: i for i, s in enumerate(STAGES)}
    f = f.with_columns(nw.col("stage").replace_strict(idx, default=-1, return_dtype=nw.Int64).alias("stage_index"))
    g = f.group_by("customer_id").agg(nw.col("stage_index").max())
    g = g.with_columns(nw.col("stage_index").replace_strict(
        {i: s for s, i in idx.items()}, default="unknown", return_dtype=nw.String).alias("stage"))
    return _back(g, touchpoints)
