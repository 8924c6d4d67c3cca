"""Per-customer order aggregates (portable: pandas, DuckDB, Spark).

:func:`customer_orders` (totals per customer), :func:`order_windows` (recent orders and
revenue, discounts: point-in-time churn features and inactivity labels) and
:func:`purchase_gap_counts` (the histogram of days between purchases, from which an
inactivity horizon is derived).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw

from cjlab.features._frame import as_of_end, back, frame, has, ints, up_to
from cjlab.features.btyd import day_number


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
    day = [
        nw.col("order_id").count().alias("_n"),
        nw.col("ts").min().alias("_first"),
        nw.col("ts").max().alias("_last"),
        nw.col("amount").sum().alias("_sum"),
        nw.col("amount").count().alias("_cnt"),
    ]
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
    cols = [
        "customer_id",
        "n_orders",
        "n_purchase_days",
        "first_order",
        "last_order",
        "revenue",
        "mean_order_value",
        *(["promo_orders"] if has_promo else []),
    ]
    return back(g.select(cols), orders)


def order_windows(orders: Any, as_of: datetime | str, days: Sequence[int] = (90, 180, 365)) -> Any:
    """Recent orders per customer: counts and revenue in the last ``days`` up to ``as_of``.

    The window of ``d`` days holds the orders of the ``d`` days that end with the ``as_of``
    day (the as-of convention: that day counts). Point-in-time churn features read it at each
    cut-off; an inactivity label ("no order in the next h days") reads it at the end of the
    label window.

    Parameters
    ----------
    orders : orders table (customer_id, order_id, ts, amount; discount optional).
    as_of : the analysis day.
    days : window lengths in whole days.

    Returns
    -------
    Frame with customer_id and, for each ``d``, orders_{d}d and revenue_{d}d (customers with an
    order up to ``as_of``), plus discount (total discount up to ``as_of``) when the orders carry
    a ``discount`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3], "amount": [5.0, 7.0, 1.0],
    ...                   "ts": pd.to_datetime(["2025-01-01", "2025-03-30", "2025-03-31"])})
    >>> order_windows(o, "2025-03-31", days=(30,)).sort_values("customer_id").to_dict("list")
    {'customer_id': [1, 2], 'orders_30d': [1, 1], 'revenue_30d': [7.0, 1.0]}
    """
    end = as_of_end(as_of)
    f = up_to(frame(orders), as_of)
    flags, aggs, counts = [], [], []
    for d in days:
        start = end - timedelta(days=int(d))
        inside = (nw.col("ts") >= start).fill_null(False)
        flags += [
            inside.cast(nw.Int64).alias(f"_o{d}"),
            nw.when(inside).then(nw.col("amount")).otherwise(nw.lit(0.0)).alias(f"_r{d}"),
        ]
        aggs += [
            nw.col(f"_o{d}").sum().alias(f"orders_{d}d"),
            nw.col(f"_r{d}").sum().alias(f"revenue_{d}d"),
        ]
        counts.append(f"orders_{d}d")
    if has(f, "discount"):
        flags.append(nw.col("discount").cast(nw.Float64).fill_null(0.0).alias("_disc"))
        aggs.append(nw.col("_disc").sum().alias("discount"))
    g = f.with_columns(*flags).group_by("customer_id").agg(*aggs)
    return back(ints(g, counts), orders)


def purchase_gap_counts(orders: Any, as_of: datetime | str | None = None) -> Any:
    """How often each gap (in whole days) between two purchase days of a customer occurs.

    A purchase day is a day with at least one order; the gap is the number of days from one
    purchase day of a customer to the next. The histogram is small (one row per gap length)
    whatever the number of orders, so quantiles of the gaps are read from it in pandas.

    Returns
    -------
    Frame with gap_days (>= 1) and n (number of such gaps).

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"customer_id": [1, 1, 1, 2], "order_id": [1, 2, 3, 4], "amount": 1.0,
    ...                   "ts": pd.to_datetime(["2025-01-01 09:00", "2025-01-01 18:00", "2025-01-11 09:00", "2025-01-05 09:00"])})
    >>> purchase_gap_counts(o).to_dict("list")
    {'gap_days': [10], 'n': [1]}
    """
    f = up_to(frame(orders), as_of)
    d = f.select("customer_id", day_number("ts").alias("_day")).unique(["customer_id", "_day"])
    d = d.with_columns(
        (nw.col("_day") - nw.col("_day").shift(1).over("customer_id", order_by="_day")).alias(
            "gap_days"
        )
    )
    g = d.filter(~nw.col("gap_days").is_null()).group_by("gap_days").agg(nw.len().alias("n"))
    return back(ints(g, ["gap_days", "n"]).sort("gap_days"), orders)
