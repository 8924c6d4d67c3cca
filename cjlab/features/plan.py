"""What the journey plan reads of the raw tables: one row per journey and per buyer-month (portable).

The journey simulator of :mod:`cjlab.plan` fits two small tables, computed where the data live
(pandas, DuckDB, Spark) with joins and group-bys only:

* :func:`journey_states` — one row per customer with touches: the customer category (the value
  of a touch column at the first touch, or a customers column), the first-touch channel, the
  furthest pre-purchase stage reached (awareness .. persuasion = 0 .. 3, 4 = bought), the first
  touch, the last pre-purchase touch before the purchase and the purchase time;
* :func:`value_by_period` — one row per buyer and week (or another period) since the first
  order with an order: orders and revenue (the value a new buyer brings week by week).

:func:`first_touch_values` gives the value of touch columns at each customer's first touch (ties
at the same instant: the smallest value, so every engine agrees).

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"customer_id": [1, 1, 2], "ts": pd.to_datetime(["2025-01-01", "2025-01-03",
...                    "2025-01-02"]), "stage": ["awareness", "comparison", "awareness"],
...                    "channel": ["social", "web", "email"], "device": ["mobile", "desktop", "app"]})
>>> orders = pd.DataFrame({"customer_id": [1], "order_id": [9], "amount": [20.0],
...                        "ts": pd.to_datetime(["2025-01-04"])})
>>> s = journey_states(tp, orders).sort_values("customer_id")
>>> s[["customer_id", "category", "channel", "reached"]].values.tolist()
[[1, 'mobile', 'social', 4], [2, 'app', 'email', 0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import narwhals as nw

from cjlab.data.contract import STAGES
from cjlab.features._frame import back, frame, has, ints, stage_index, up_to
from cjlab.features.btyd import day_number

__all__ = ["PRE_PURCHASE", "first_touch_values", "journey_states", "value_by_period"]

#: the stages before the purchase, in order (index 0 .. 3; the purchase is 4)
PRE_PURCHASE = tuple(STAGES[:4])


def first_touch_values(
    touchpoints: Any, columns: Sequence[str], as_of: datetime | str | None = None
) -> Any:
    """Each customer's first touch and the values of ``columns`` at it.

    Parameters
    ----------
    touchpoints : customer_id, ts and ``columns``.
    columns : touch columns read at the first touch (null values are skipped: the smallest
        non-null value among the touches at the first instant).
    as_of : analysis day: touches on that day or earlier count.

    Returns
    -------
    Frame (the input's backend): customer_id, first_touch and one column per name.
    """
    f = up_to(frame(touchpoints), as_of)
    first = f.group_by("customer_id").agg(nw.col("ts").min().alias("first_touch"))
    out = first
    at0 = f.join(first, on="customer_id").filter(nw.col("ts") == nw.col("first_touch"))
    at0 = at0.with_columns(nw.lit(1).alias("_one"))
    for c in columns:
        pick = at0.filter(~nw.col(c).is_null()).with_columns(
            nw.col("_one").cum_sum().over("customer_id", order_by=[c]).alias("_k")
        )
        pick = pick.filter(nw.col("_k") == 1).select("customer_id", nw.col(c).cast(nw.String))
        out = out.join(pick, on="customer_id", how="left")
    return back(out, touchpoints)


def _purchases(tp: nw.LazyFrame, orders: Any, as_of: datetime | str | None) -> nw.LazyFrame:
    """customer_id, purchase: the first order (or, without orders, the first touch at or after
    the purchase stage)."""
    if orders is not None:
        o = up_to(frame(orders), as_of)
        return o.group_by("customer_id").agg(nw.col("ts").min().alias("purchase"))
    bought = tp.filter(nw.col("_stage") >= 4)
    return bought.group_by("customer_id").agg(nw.col("ts").min().alias("purchase"))


def _category(
    tp: nw.LazyFrame, customers: Any, category: str | None, as_of: datetime | str | None
) -> tuple[nw.LazyFrame, str]:
    """Per customer: first_touch, channel and category; and where the category came from."""
    cols = ["channel"]
    source = "none"
    if category and category != "channel" and has(tp, category):
        cols.append(category)
        source = "touch"
    first = frame(first_touch_values(tp.drop("_stage"), cols, as_of=None))
    if category == "channel":
        return first.with_columns(nw.col("channel").alias("category")), "touch"
    if source == "touch":
        return first.rename({category: "category"}), source
    if category and customers is not None and has(customers, category):
        c = frame(customers).select(
            "customer_id", nw.col(category).cast(nw.String).alias("category")
        )
        return first.join(c, on="customer_id", how="left"), "customers"
    return first.with_columns(nw.lit(None).cast(nw.String).alias("category")), source


def journey_states(
    touchpoints: Any,
    orders: Any = None,
    customers: Any = None,
    *,
    category: str | None = "device",
    as_of: datetime | str | None = None,
    exclude_touchpoints: Sequence[str] = (),
) -> Any:
    """One row per customer with touches: category, first-touch channel, furthest pre-purchase
    stage, first and last pre-purchase touch, and the purchase.

    Parameters
    ----------
    touchpoints : customer_id, ts, stage, channel (and the ``category`` column when it is a
        touch column, such as device or campaign).
    orders : orders (customer_id, ts); the first order is the purchase. Without orders a touch
        at the purchase stage or later counts as the purchase.
    customers : customers, read when ``category`` is one of their columns (country,
        acquisition_channel ...).
    category : a touch column (its value at the first touch), ``"channel"`` (the first-touch
        channel) or a customers column; a column the data lack gives a null category.
    as_of : analysis day: touches and orders on that day or earlier count.
    exclude_touchpoints : passive touches (``newsletter_open``) that neither show how far a
        customer got nor when they were last on their way (they still count for the first touch).

    Returns
    -------
    Frame (the input's backend): customer_id, category, channel, first_touch, last_touch (the
    last touch at a pre-purchase stage before the purchase; null when there is none), reached
    (0 .. 3 the furthest pre-purchase stage, 4 bought, -1 no pre-purchase touch and no
    purchase) and purchase (null when the customer has not bought).
    """
    tp = up_to(frame(touchpoints), as_of).with_columns(stage_index().alias("_stage"))
    tp = tp.filter(nw.col("_stage") >= 0)
    first, _ = _category(tp, customers, category, as_of)
    buy = _purchases(tp, orders, as_of)
    pre = tp.filter(nw.col("_stage") <= 3)
    if exclude_touchpoints:
        pre = pre.filter(~nw.col("touchpoint").is_in(list(exclude_touchpoints)))
    pre = pre.join(buy, on="customer_id", how="left")
    pre = pre.filter(nw.col("purchase").is_null() | (nw.col("ts") < nw.col("purchase")))
    last = pre.group_by("customer_id").agg(
        nw.col("ts").max().alias("last_touch"), nw.col("_stage").max().alias("_pre")
    )
    out = first.join(last, on="customer_id", how="left").join(buy, on="customer_id", how="left")
    reached = (
        nw.when(~nw.col("purchase").is_null())
        .then(nw.lit(4))
        .otherwise(nw.col("_pre").fill_null(-1))
        .cast(nw.Int64)
    )
    out = out.with_columns(reached.alias("reached"))
    cols = [
        "customer_id",
        "category",
        "channel",
        "first_touch",
        "last_touch",
        "reached",
        "purchase",
    ]
    return back(out.select(cols), touchpoints)


def value_by_period(orders: Any, as_of: datetime | str | None = None, days: int = 7) -> Any:
    """Orders and revenue per buyer and whole period of ``days`` days since the first order.

    Period ``k`` holds the orders placed ``k × days`` to ``(k + 1) × days`` days after the first
    order's day (the first order is in period 0); periods without an order have no row.

    Parameters
    ----------
    orders : customer_id, ts, amount.
    as_of : analysis day: orders on that day or earlier count.
    days : length of a period in whole days (7: weeks).

    Returns
    -------
    Frame (the input's backend): customer_id, period, orders, revenue.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"customer_id": [1, 1, 1], "amount": [10.0, 5.0, 7.0],
    ...                   "ts": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-15"])})
    >>> value_by_period(o).sort_values("period")[["period", "orders", "revenue"]].to_dict("list")
    {'period': [0, 2], 'orders': [2, 1], 'revenue': [15.0, 7.0]}
    """
    if int(days) < 1:
        raise ValueError(f"days must be a whole number of at least 1, got {days}")
    f = up_to(frame(orders), as_of).with_columns(day_number("ts").alias("_day"))
    first = f.group_by("customer_id").agg(nw.col("_day").min().alias("_d0"))
    f = f.join(first, on="customer_id")
    f = f.with_columns(
        ((nw.col("_day") - nw.col("_d0")) // int(days)).alias("period"),
        nw.col("amount").cast(nw.Float64).alias("_amount"),
    )
    g = f.group_by("customer_id", "period").agg(
        nw.len().alias("orders"), nw.col("_amount").sum().alias("revenue")
    )
    g = ints(g, ["orders", "period"])
    return back(g.select("customer_id", "period", "orders", "revenue"), orders)
