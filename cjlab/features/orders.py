"""Per-customer order aggregates (portable: pandas, DuckDB, Spark)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import narwhals as nw

from cjlab.features._frame import back, frame, has, ints, up_to


def customer_orders(orders: Any, as_of: datetime | str | None = None) -> Any:
    """One row per customer: orders, purchase days, first/last order, revenue, promo orders.

    Parameters
    ----------
    orders : orders table (customer_id, order_id, ts, amount; promo optional).
    as_of : analysis day: orders on that day or earlier count (point-in-time features).

    Returns
    -------
    Frame with customer_id, n_orders, n_purchase_days, first_order, last_order, revenue,
    mean_order_value (and promo_orders when ``promo`` is present).
    """
    f = up_to(frame(orders), as_of)
    f = f.with_columns(nw.col("ts").dt.truncate("1d").alias("_day"))
    has_promo = has(f, "promo")
    # two steps: per customer and day, then per customer (distinct days without a distinct
    # aggregate, which is much slower on DuckDB and Spark)
    day = [nw.col("order_id").count().alias("_n"), nw.col("ts").min().alias("_first"),
           nw.col("ts").max().alias("_last"), nw.col("amount").sum().alias("_sum"),
           nw.col("amount").count().alias("_cnt")]
    if has_promo:
        f = f.with_columns(nw.col("promo").cast(nw.Int64).alias("_promo"))
        day.append(nw.col("_promo").sum().alias("_promo"))
    d = f.group_by("customer_id", "_day").agg(*day)
    aggs = [
        nw.col("_n").sum().alias("n_orders"),
        nw.len().alias("n_purchase_days"),
        nw.col("_first").min().alias("first_order"),
        nw.col("_last").max().alias("last_order"),
        nw.col("_sum").sum().alias("revenue"),
        nw.col("_cnt").sum().alias("_cnt"),
    ]
    if has_promo:
        aggs.append(nw.col("_promo").sum().alias("promo_orders"))
    g = d.group_by("customer_id").agg(*aggs)
    g = ints(g, ["n_orders", *(["promo_orders"] if has_promo else [])])
    g = g.with_columns((nw.col("revenue") / nw.col("_cnt")).alias("mean_order_value")).drop("_cnt")
    cols = ["customer_id", "n_orders", "n_purchase_days", "first_order", "last_order", "revenue",
            "mean_order_value", *(["promo_orders"] if has_promo else [])]
    return back(g.select(cols), orders)
