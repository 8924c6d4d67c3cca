"""Experiment counts per variant and day (portable: pandas, DuckDB, Spark)."""

from __future__ import annotations

from typing import Any

import narwhals as nw

from cjlab.features._frame import back, frame, has, ints


def experiment_daily(exposures: Any) -> Any:
    """Per experiment, variant and exposure day: users, conversions, revenue."""
    f = frame(exposures)
    f = f.with_columns(nw.col("exposed_at").dt.truncate("1d").alias("day"))
    keys = ["experiment", "variant", "day"]
    has_revenue = has(f, "revenue")
    unit = [nw.col("converted").sum().alias("_conv")]  # per unit first: distinct users in two steps
    if has_revenue:
        unit.append(nw.col("revenue").sum().alias("_rev"))
    u = f.group_by(*keys, "unit_id").agg(*unit)
    aggs = [nw.len().alias("users"), nw.col("_conv").sum().alias("conversions")]
    if has_revenue:
        aggs.append(nw.col("_rev").sum().alias("revenue"))
    return back(ints(u.group_by(keys).agg(*aggs), ["conversions"]).sort(keys), exposures)
