"""Experiment counts per variant, day or cell, and per unit (portable: pandas, DuckDB, Spark).

One counting rule for every A/B analysis: a *unit* (``unit_id``) counts once per experiment
and variant; it converted when any of its exposures has ``converted == 1``; its revenue is the
sum over its exposures; its day is the day of its first exposure. Distinct units are counted
in two group-by steps (per unit first), as everywhere in :mod:`cjlab.features`. ``revenue``
and any breakdown column (``segment``, ``stage``) are optional: they appear in the result
only when the exposures have them.

Examples
--------
>>> import pandas as pd
>>> from cjlab import features as ft
>>> ex = pd.DataFrame({"experiment": "e", "variant": ["A", "A", "B", "B"], "unit_id": [1, 1, 2, 3],
...                    "exposed_at": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01",
...                                                  "2025-01-03"]), "converted": [0, 1, 0, 0]})
>>> ft.experiment_counts(ex)[["variant", "users", "conversions"]].to_dict("records")
[{'variant': 'A', 'users': 1, 'conversions': 1}, {'variant': 'B', 'users': 2, 'conversions': 0}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw

from cjlab.features._frame import back, frame, has, ints

DAY = "day"


def experiment_daily(exposures: Any) -> Any:
    """Per experiment, variant and exposure day: users, conversions, revenue.

    A unit exposed on several days counts on each of them (the traffic view of the data
    overview); the A/B analyses use :func:`experiment_counts` instead.
    """
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


def _units(f: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """One row per experiment, variant, ``by`` cell and unit (the first counting step)."""
    aggs = [
        nw.col("converted").max().alias("converted"),
        nw.col("exposed_at").min().alias("first_exposed"),
        nw.len().alias("exposures"),
    ]
    if has(f, "revenue"):
        aggs.append(nw.col("revenue").sum().alias("revenue"))
    return f.group_by("experiment", "variant", *by, "unit_id").agg(*aggs)


def experiment_units(exposures: Any, columns: Sequence[str] = ()) -> Any:
    """One row per experiment, variant and unit: its totals over its exposures.

    Parameters
    ----------
    exposures : the ``experiment_exposures`` table (any backend).
    columns : breakdown columns to keep per unit (e.g. ``segment``); absent ones are ignored.
        A unit whose value changes between exposures has a row per value.

    Returns
    -------
    Frame (same backend): experiment, variant, *columns, unit_id, converted (0/1: any
    exposure converted), first_exposed, exposures (rows), revenue (sum; only when present).
    """
    f = frame(exposures)
    by = [c for c in columns if has(f, c)]
    keys = ["experiment", "variant", *by, "unit_id"]
    return back(ints(_units(f, by), ["converted", "exposures"]).sort(keys), exposures)


def experiment_counts(exposures: Any, by: Sequence[str] = ()) -> Any:
    """Units, converted units (and revenue) per experiment and variant, optionally per cell.

    Parameters
    ----------
    exposures : the ``experiment_exposures`` table (any backend).
    by : breakdowns: ``"day"`` (day of each unit's first exposure) and/or columns of the
        table (``segment``, ``stage``); absent columns are ignored.

    Returns
    -------
    Frame (same backend): experiment, variant, *by, users, conversions, revenue (only when
    the exposures have revenue), sorted by the keys.
    """
    f = frame(exposures)
    cols = [c for c in by if c != DAY and has(f, c)]
    u = _units(f, cols)
    keys = ["experiment", "variant", *[c for c in by if c == DAY or c in cols]]
    if DAY in by:
        u = u.with_columns(nw.col("first_exposed").dt.truncate("1d").alias(DAY))
    aggs = [nw.len().alias("users"), nw.col("converted").sum().alias("conversions")]
    if has(f, "revenue"):
        aggs.append(nw.col("revenue").sum().alias("revenue"))
    return back(ints(u.group_by(keys).agg(*aggs), ["users", "conversions"]).sort(keys), exposures)


def experiment_overview(exposures: Any) -> Any:
    """One row per experiment: variants, units, exposures, units seen in several variants,
    first and last exposure (what the A/B notebook lists when it must ask which experiment)."""
    f = frame(exposures)
    per_arm = f.group_by("experiment", "variant", "unit_id").agg(nw.len().alias("_rows"))
    per_unit = per_arm.group_by("experiment", "unit_id").agg(nw.len().alias("_arms"))
    per_unit = per_unit.with_columns((nw.col("_arms") > 1).cast(nw.Int64).alias("_multi"))
    units = per_unit.group_by("experiment").agg(
        nw.len().alias("units"), nw.col("_multi").sum().alias("units_in_several_variants")
    )
    arms = (
        per_arm.group_by("experiment", "variant")
        .agg(nw.len().alias("_u"))
        .group_by("experiment")
        .agg(nw.len().alias("variants"))
    )
    rows = f.group_by("experiment").agg(
        nw.len().alias("exposures"),
        nw.col("exposed_at").min().alias("first_exposed"),
        nw.col("exposed_at").max().alias("last_exposed"),
    )
    out = units.join(arms, on="experiment").join(rows, on="experiment")
    out = ints(out, ["units", "units_in_several_variants", "variants", "exposures"])
    return back(
        out.select(
            "experiment",
            "variants",
            "units",
            "exposures",
            "units_in_several_variants",
            "first_exposed",
            "last_exposed",
        ).sort("experiment"),
        exposures,
    )
