"""Aggregations for campaign analytics (portable: pandas, DuckDB, Spark).

:func:`engagement_hours` (e-mail opens and clicks per customer, day of week and hour: the send-time
model's counts), :func:`item_purchases` (orders per customer and product category or item: the
next-best-offer matrix) and :func:`annual_window_counts` (repeat orders in windows around a
yearly date of each customer, such as the birthday or the first-purchase anniversary, or a
calendar day such as Christmas: the trigger event study's counts).

The as-of convention of :mod:`cjlab.features` holds: ``as_of`` is the last day that counts;
``after`` (where a function takes it) is the last day that does *not* count, so a time split
at a cut-off day reads ``as_of=cutoff`` for training and ``after=cutoff`` for testing.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"customer_id": [1, 1], "channel": "email", "stage": "loyalty",
...                   "touchpoint": ["newsletter_open", "newsletter_click"],
...                   "ts": pd.to_datetime(["2025-01-06 07:10", "2025-01-13 07:50"])})
>>> engagement_hours(t).to_dict("list")
{'customer_id': [1], 'weekday': [0], 'hour': [7], 'n': [2]}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import narwhals as nw

from cjlab.features._frame import as_of_end, back, frame, ints, up_to

__all__ = [
    "annual_window_counts",
    "birthday_anchor",
    "engagement_hours",
    "first_purchase_anchor",
    "item_purchases",
]

#: half a year in days: a day of year further from the anchor belongs to the next occurrence
HALF_YEAR = 182
#: window value of an order outside every window (a CASE without NULLs casts on every backend)
OUTSIDE = 9999


def _after(f: nw.LazyFrame, after: datetime | str | None, col: str = "ts") -> nw.LazyFrame:
    """Facts dated after the ``after`` day (``None``: all)."""
    return f if after is None else f.filter(nw.col(col) >= as_of_end(after))


def engaged(channel: str = "email", words: Sequence[str] = ("open", "click")) -> nw.Expr:
    """True for an engagement: a touch on ``channel`` whose name contains one of ``words``."""
    name = nw.col("touchpoint").str.to_lowercase()
    hit = name.str.contains(words[0])
    for w in words[1:]:
        hit = hit | name.str.contains(w)
    return ((nw.col("channel") == channel) & hit).fill_null(False)


def weekday(col: str = "ts") -> nw.Expr:
    """Day of the week, 0 = Monday .. 6 = Sunday, by arithmetic on the calendar date.

    The days since 1970-01-01 (a Thursday) come from the year and the day of the year (leap
    days counted), so every engine gives the same number whatever its own weekday convention.
    """
    y = nw.col(col).dt.year().cast(nw.Int64)
    doy = nw.col(col).dt.ordinal_day().cast(nw.Int64)
    days = (y - 1970) * 365 + (y - 1969) // 4 - (y - 1901) // 100 + (y - 1601) // 400 + doy - 1
    return ((days + 3) % 7).cast(nw.Int64)


def engagement_hours(
    touchpoints: Any,
    as_of: datetime | str | None = None,
    after: datetime | str | None = None,
    channel: str = "email",
    words: Sequence[str] = ("open", "click"),
) -> Any:
    """E-mail engagements per customer, day of week and hour of day.

    Parameters
    ----------
    touchpoints : touchpoints table (customer_id, ts, channel, touchpoint).
    as_of : last day that counts (None: all).
    after : engagements on this day or earlier do not count (None: all); with ``as_of`` it
        makes the hold-out period of a time split.
    channel, words : an engagement is a touch on ``channel`` whose touchpoint name contains one
        of ``words`` (``newsletter_open``, ``email_click`` ...).

    Returns
    -------
    Frame with customer_id, weekday (0 = Monday .. 6 = Sunday), hour (0-23, UTC as stored) and n.
    """
    f = _after(up_to(frame(touchpoints), as_of), after).filter(engaged(channel, words))
    f = f.with_columns(
        weekday("ts").alias("weekday"), nw.col("ts").dt.hour().cast(nw.Int64).alias("hour")
    )
    g = f.group_by("customer_id", "weekday", "hour").agg(nw.len().alias("n"))
    return back(ints(g, ["n"]).sort("customer_id", "weekday", "hour"), touchpoints)


def item_purchases(
    orders: Any,
    item: str = "product_category",
    as_of: datetime | str | None = None,
    after: datetime | str | None = None,
) -> Any:
    """Orders per customer and item (product category, product ...): the next-best-offer matrix.

    Parameters
    ----------
    orders : orders table (customer_id, order_id, ts, amount and the ``item`` column).
    item : the column naming what was bought; rows without a value are left out.
    as_of, after : the period (see the module docstring): ``as_of=cutoff`` gives the training
        purchases of a time split, ``after=cutoff`` the test purchases.

    Returns
    -------
    Frame with customer_id, item (the value, as text), n_orders, first_order, last_order, amount.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3], "amount": [5.0, 7.0, 1.0],
    ...                   "product_category": ["home", "home", None],
    ...                   "ts": pd.to_datetime(["2025-01-01", "2025-03-30", "2025-03-31"])})
    >>> item_purchases(o)[["customer_id", "item", "n_orders", "amount"]].to_dict("list")
    {'customer_id': [1], 'item': ['home'], 'n_orders': [2], 'amount': [12.0]}
    """
    f = _after(up_to(frame(orders), as_of), after).filter(~nw.col(item).is_null())
    f = f.with_columns(nw.col(item).cast(nw.String).alias("item"))
    g = f.group_by("customer_id", "item").agg(
        nw.col("order_id").count().alias("n_orders"),
        nw.col("ts").min().alias("first_order"),
        nw.col("ts").max().alias("last_order"),
        nw.col("amount").sum().alias("amount"),
    )
    return back(ints(g, ["n_orders"]).sort("customer_id", "item"), orders)


def birthday_anchor(customers: Any) -> Any:
    """Each customer's birthday as a day of the year: customer_id, anchor_day (1-366).

    Customers without a birth_date are left out.
    """
    f = frame(customers).filter(~nw.col("birth_date").is_null())
    f = f.select(
        "customer_id", nw.col("birth_date").dt.ordinal_day().cast(nw.Int64).alias("anchor_day")
    )
    return back(f, customers)


def first_purchase_anchor(orders: Any, as_of: datetime | str | None = None) -> Any:
    """The day of the year of each customer's first order: customer_id, anchor_day (1-366)."""
    f = up_to(frame(orders), as_of).group_by("customer_id").agg(nw.col("ts").min().alias("_first"))
    f = f.select(
        "customer_id", nw.col("_first").dt.ordinal_day().cast(nw.Int64).alias("anchor_day")
    )
    return back(f, orders)


def _window(offset: nw.Expr, offsets: Sequence[int], half_width: int) -> nw.Expr:
    """The offset (days from the anchor) of the window an order falls in, else :data:`OUTSIDE`."""
    first, *rest = offsets
    expr = nw.when((offset - first).abs() <= half_width).then(nw.lit(int(first)))
    for off in rest:
        expr = expr.when((offset - off).abs() <= half_width).then(nw.lit(int(off)))
    return expr.otherwise(nw.lit(OUTSIDE)).cast(nw.Int64)


def annual_window_counts(
    orders: Any,
    anchors: Any | None = None,
    anchor_day: int | None = None,
    offsets: Sequence[int] = (0, -56, -28, 28, 56),
    half_width: int = 7,
    as_of: datetime | str | None = None,
) -> Any:
    """Orders per customer in windows around a yearly date (event window and baseline windows).

    Each order is placed relative to the nearest occurrence of its customer's yearly anchor
    (a day of the year: the birthday, the first purchase's day, or one calendar day for all):
    ``offset`` days from it, between -182 and 182. It counts for the window centred on
    ``offsets[k]`` days when it lies within ``half_width`` days of it (0 is the event window,
    the others are the same customers' baseline windows). The occurrence year is that of the
    anchor the order is nearest to. Which windows a customer could buy in at all (after the
    first order, before the data end) is decided by the caller from one row per customer.

    Parameters
    ----------
    orders : orders table (customer_id, order_id, ts).
    anchors : frame with customer_id and anchor_day (1-366), of the same backend as ``orders``;
        or None with ``anchor_day`` for one calendar day shared by everyone.
    anchor_day : the shared day of the year (e.g. 350 for mid-December) when ``anchors`` is None.
    offsets : window centres in days from the anchor; windows must not overlap.
    half_width : half the window length in days (a window spans ``2 * half_width + 1`` days).
    as_of : last day that counts.

    Returns
    -------
    Frame with customer_id, year (of the anchor occurrence), window (the window's offset) and n.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"customer_id": [1, 1, 1], "order_id": [1, 2, 3],
    ...                   "ts": pd.to_datetime(["2025-03-02", "2025-03-31", "2025-12-30"])})
    >>> a = pd.DataFrame({"customer_id": [1], "anchor_day": [60]})
    >>> annual_window_counts(o, a, offsets=(0, 28)).to_dict("list")
    {'customer_id': [1, 1], 'year': [2025, 2025], 'window': [0, 28], 'n': [1, 1]}
    """
    if sum(x is None for x in (anchors, anchor_day)) != 1:
        raise ValueError("give either anchors (per customer) or anchor_day (one calendar day)")
    f = up_to(frame(orders), as_of).select("customer_id", "ts")
    if anchors is None:
        f = f.with_columns(nw.lit(int(anchor_day)).alias("anchor_day"))
    else:
        f = f.join(frame(anchors).select("customer_id", "anchor_day"), on="customer_id")
    raw = nw.col("ts").dt.ordinal_day().cast(nw.Int64) - nw.col("anchor_day").cast(nw.Int64)
    f = f.with_columns(raw.alias("_raw"), nw.col("ts").dt.year().cast(nw.Int64).alias("_y"))
    f = f.with_columns(
        nw.when(nw.col("_raw") > HALF_YEAR)
        .then(nw.col("_raw") - 365)
        .when(nw.col("_raw") < -HALF_YEAR)
        .then(nw.col("_raw") + 365)
        .otherwise(nw.col("_raw"))
        .alias("_off"),
        nw.when(nw.col("_raw") > HALF_YEAR)
        .then(nw.col("_y") + 1)
        .when(nw.col("_raw") < -HALF_YEAR)
        .then(nw.col("_y") - 1)
        .otherwise(nw.col("_y"))
        .alias("year"),
    )
    f = f.with_columns(_window(nw.col("_off"), offsets, half_width).alias("window"))
    g = f.filter(nw.col("window") != OUTSIDE).group_by("customer_id", "year", "window")
    g = ints(g.agg(nw.len().alias("n")), ["n", "year", "window"])
    return back(g.sort("customer_id", "year", "window"), orders)
