"""Distinct journey paths before the first purchase (portable: pandas, DuckDB, Spark)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw

from cjlab.features._frame import back, frame, ints


def path_counts(touchpoints: Any, orders: Any = None, *, by: str = "channel", max_steps: int = 4,
                channels: Sequence[str] | None = None, sep: str = " > ") -> Any:
    """Distinct journey paths before the first purchase: path, conversions, null.

    The portable counterpart of :func:`cjlab.journey.build_paths` with ``max_steps``: each
    customer's touches strictly before their first order (all touches for customers who never
    ordered), the last ``max_steps`` of them (closest to the purchase) joined oldest first by
    ``sep``; then per path the customers who bought (``conversions``) and who did not
    (``null``). Paths are built with a window rank and conditional aggregation, so no list
    type is needed and the same code runs on pandas, DuckDB and Spark.

    Parameters
    ----------
    touchpoints : customer_id, ts and ``by``.
    orders : orders (customer_id, ts); without them every path is a non-conversion.
    by : the column whose values make the steps (channel, touchpoint, stage).
    max_steps : steps kept per customer (the last ones).
    channels : only touches on these channels count.
    sep : separator of steps in ``path``.

    Notes
    -----
    Touches of one customer at the same instant are ordered arbitrarily (engines may differ).
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    f = frame(touchpoints).select("customer_id", "ts", by)
    if channels is not None:
        f = f.filter(nw.col("channel").is_in(list(channels))) if by == "channel" else \
            frame(touchpoints).filter(nw.col("channel").is_in(list(channels))).select("customer_id", "ts", by)
    if orders is not None:
        first = (frame(orders).group_by("customer_id").agg(nw.col("ts").min().alias("_end")))
        f = f.join(first, on="customer_id", how="left")
        f = f.filter(nw.col("_end").is_null() | (nw.col("ts") < nw.col("_end")))
        f = f.with_columns((~nw.col("_end").is_null()).cast(nw.Int64).alias("_hit"))
    else:
        f = f.with_columns(nw.lit(0).cast(nw.Int64).alias("_hit"))
    f = f.with_columns(nw.col("ts").rank("ordinal", descending=True).over("customer_id").alias("_r"))
    f = f.filter(nw.col("_r") <= max_steps).with_columns(nw.col(by).cast(nw.String))
    # one column per step by joins on the step number (a conditional aggregation such as
    # when(...).then(...).max() in a group-by is silently wrong on narwhals' pandas backend)
    c = f.filter(nw.col("_r") == 1).select("customer_id", "_hit", nw.col(by).alias("_s1"))
    for i in range(2, max_steps + 1):
        c = c.join(f.filter(nw.col("_r") == i).select("customer_id", nw.col(by).alias(f"_s{i}")),
                   on="customer_id", how="left")
    c = c.with_columns(nw.concat_str([nw.col(f"_s{i}") for i in range(max_steps, 0, -1)], separator=sep,
                                     ignore_nulls=True).alias("path"))
    g = ints(c.group_by("path").agg(nw.col("_hit").sum().alias("conversions"), nw.len().alias("_n")),
              ["conversions"])
    g = g.with_columns((nw.col("_n") - nw.col("conversions")).alias("null")).drop("_n")
    return back(g.sort("path"), touchpoints)
