"""Backend-portable aggregations over raw tables (narwhals).

Each function takes any frame narwhals understands — a pandas DataFrame, a DuckDB relation
(what :meth:`cjlab.data.DataSource.lazy` gives), a Polars or PySpark DataFrame — and returns a
frame of the *same backend*, so the heavy step runs where the data live. Call
:func:`to_pandas` on the (small) result for modelling and plotting.

Per customer: :func:`customer_orders`, :func:`customer_touchpoints`, :func:`customer_features`,
:func:`furthest_stage`. Per stage and path: :func:`stage_funnel` (always pandas; 11 rows),
:func:`path_counts`. Per day, month or cell: :func:`daily_counts`, :func:`monthly_counts`,
:func:`counts_by` (e.g. survey cells by wave and respondent type), :func:`experiment_daily`.

Every function gives the same result on pandas, DuckDB and Spark (``tests/test_portable.py``,
``tests/test_spark.py``). Writing rules that keep it so and fast at 100 million rows: distinct
counts as two group-by steps (no ``n_unique`` over raw rows), value mappings as one chained
``when``/``then`` (a SQL ``CASE``), no conditional aggregations inside ``group_by().agg`` (silently
wrong on narwhals' pandas backend), timestamps as time-zone-naive UTC wall-clock values.

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


def _ints(frame: nw.LazyFrame, columns: Sequence[str]) -> nw.LazyFrame:
    """Counts that are sums back to Int64 (DuckDB sums BIGINT to HUGEINT, which pandas gets as float)."""
    return frame.with_columns(*[nw.col(c).cast(nw.Int64) for c in columns])


def to_pandas(native: Any) -> pd.DataFrame:
    """Collect any narwhals-compatible frame into pandas."""
    if isinstance(native, pd.DataFrame):
        return native
    f = nw.from_native(native)
    if isinstance(f, nw.LazyFrame):
        f = f.collect(backend="pandas")
    return f.to_pandas()


def _stage_index(col: str = "stage") -> nw.Expr:
    """Lifecycle stage name -> index 0-10 (-1 for anything else) as one CASE expression.

    A chained when/then is a plain ``CASE`` on every SQL engine; narwhals' ``replace_strict``
    becomes a per-row map lookup on DuckDB, noticeably slower at 100 million rows.
    """
    from cjlab.data.contract import STAGES

    c = nw.col(col)
    expr = nw.when(c == STAGES[0]).then(nw.lit(0))
    for i, s in enumerate(STAGES[1:], start=1):
        expr = expr.when(c == s).then(nw.lit(i))
    return expr.otherwise(nw.lit(-1)).cast(nw.Int64)


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
    has_promo = "promo" in f.collect_schema().names()
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
    g = _ints(g, ["n_orders", *(["promo_orders"] if has_promo else [])])
    g = g.with_columns((nw.col("revenue") / nw.col("_cnt")).alias("mean_order_value")).drop("_cnt")
    cols = ["customer_id", "n_orders", "n_purchase_days", "first_order", "last_order", "revenue",
            "mean_order_value", *(["promo_orders"] if has_promo else [])]
    return _back(g.select(cols), orders)


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
    by = list(by)
    if "customer_id" not in f.collect_schema().names():
        return _back(f.group_by(by).agg(nw.len().alias("n")).sort(by), table)
    per = f.group_by(*by, "customer_id").agg(nw.len().alias("_n"))  # distinct customers in two steps
    g = _ints(per.group_by(by).agg(nw.col("_n").sum().alias("n"), nw.len().alias("customers")), ["n"])
    return _back(g.sort(by), table)


def experiment_daily(exposures: Any) -> Any:
    """Per experiment, variant and exposure day: users, conversions, revenue."""
    f = _frame(exposures)
    f = f.with_columns(nw.col("exposed_at").dt.truncate("1d").alias("day"))
    keys = ["experiment", "variant", "day"]
    has_revenue = "revenue" in f.collect_schema().names()
    unit = [nw.col("converted").sum().alias("_conv")]  # per unit first: distinct users in two steps
    if has_revenue:
        unit.append(nw.col("revenue").sum().alias("_rev"))
    u = f.group_by(*keys, "unit_id").agg(*unit)
    aggs = [nw.len().alias("users"), nw.col("_conv").sum().alias("conversions")]
    if has_revenue:
        aggs.append(nw.col("_rev").sum().alias("revenue"))
    return _back(_ints(u.group_by(keys).agg(*aggs), ["conversions"]).sort(keys), exposures)


def furthest_stage(touchpoints: Any) -> Any:
    """Each customer's furthest lifecycle stage: customer_id, stage_index (0-10), stage."""
    from cjlab.data.contract import STAGES

    f = _frame(touchpoints)
    idx = {s: i for i, s in enumerate(STAGES)}
    f = f.with_columns(_stage_index().alias("stage_index"))
    g = f.group_by("customer_id").agg(nw.col("stage_index").max())
    g = g.with_columns(nw.col("stage_index").replace_strict(
        {i: s for s, i in idx.items()}, default="unknown", return_dtype=nw.String).alias("stage"))
    return _back(g, touchpoints)


def customer_touchpoints(touchpoints: Any, as_of: datetime | str | None = None) -> Any:
    """One row per customer from the touchpoints: volume, span, channels, support and app use.

    Parameters
    ----------
    touchpoints : touchpoints table (customer_id, ts, channel, touchpoint, stage, device).
    as_of : only touchpoints strictly before this instant count.

    Returns
    -------
    Frame with customer_id, n_touchpoints, first_touch, last_touch, n_channels,
    support_tickets (touchpoint ``support_ticket``), app_touchpoints (device ``app``) and
    stage_index (furthest lifecycle stage, 0-10; -1 when no stage is known).
    """

    f = _frame(touchpoints)
    if as_of is not None:
        f = f.filter(nw.col("ts") < pd.Timestamp(as_of).to_pydatetime())
    f = f.with_columns(
        (nw.col("touchpoint") == "support_ticket").fill_null(False).cast(nw.Int64).alias("_support"),
        (nw.col("device") == "app").fill_null(False).cast(nw.Int64).alias("_app"),
        _stage_index().alias("_stage"),
    )
    # two steps: per customer and channel, then per customer (distinct channels without a
    # distinct aggregate, which is much slower on DuckDB and Spark)
    c = f.group_by("customer_id", "channel").agg(
        nw.len().alias("_n"),
        nw.col("ts").min().alias("_first"),
        nw.col("ts").max().alias("_last"),
        nw.col("_support").sum().alias("_support"),
        nw.col("_app").sum().alias("_app"),
        nw.col("_stage").max().alias("_stage"),
    )
    g = c.group_by("customer_id").agg(
        nw.col("_n").sum().alias("n_touchpoints"),
        nw.col("_first").min().alias("first_touch"),
        nw.col("_last").max().alias("last_touch"),
        nw.len().alias("n_channels"),
        nw.col("_support").sum().alias("support_tickets"),
        nw.col("_app").sum().alias("app_touchpoints"),
        nw.col("_stage").max().alias("stage_index"),
    )
    g = _ints(g, ["n_touchpoints", "support_tickets", "app_touchpoints"])
    return _back(g, touchpoints)


def customer_features(touchpoints: Any, orders: Any, as_of: datetime | str | None = None) -> Any:
    """Per-customer features from raw touchpoints and orders in one backend-side join.

    The heavy step of churn, CLV and segmentation inputs: both tables are reduced to one row
    per customer (:func:`customer_touchpoints`, :func:`customer_orders`) and joined where the
    data live; customers with touchpoints but no orders get zero orders and revenue.

    Returns
    -------
    Frame with the columns of :func:`customer_touchpoints` plus n_orders, n_purchase_days,
    first_order, last_order, revenue, mean_order_value, promo_orders (when ``promo`` exists),
    app_share and promo_share. Customers with orders but no touchpoints are not included.
    """
    t = _frame(customer_touchpoints(_frame(touchpoints), as_of))
    o = _frame(customer_orders(_frame(orders), as_of))
    names = o.collect_schema().names()
    j = t.join(o, on="customer_id", how="left")
    counts = [c for c in ("n_orders", "n_purchase_days", "revenue", "promo_orders") if c in names]
    j = j.with_columns(*[nw.col(c).fill_null(0) for c in counts])
    j = j.with_columns((nw.col("app_touchpoints") / nw.col("n_touchpoints")).alias("app_share"))
    if "promo_orders" in names:
        j = j.with_columns(nw.when(nw.col("n_orders") > 0)
                           .then(nw.col("promo_orders") / nw.col("n_orders")).alias("promo_share"))
    return _back(j, touchpoints)


def stage_funnel(touchpoints: Any, steps: Sequence[str] | None = None) -> pd.DataFrame:
    """Customers per lifecycle stage: how many touched it, reached it, and stopped there.

    ``reached`` counts customers whose furthest stage is this stage or a later one (the
    usual reading of a lifecycle funnel), ``stopped`` those whose furthest stage it is, and
    ``touched`` those with at least one touchpoint at the stage. The heavy part (two
    group-bys over the touchpoints) runs in the backend; the result has one row per stage
    and is always returned as pandas.

    Returns
    -------
    DataFrame with stage, stage_index, touched, stopped, reached, step_conversion
    (reached / reached at the previous stage) and overall_conversion (reached / customers).
    """
    from cjlab.data.contract import STAGES

    steps = list(steps or STAGES)
    f = _frame(touchpoints)
    pairs = f.filter(nw.col("stage").is_in(steps)).group_by("stage", "customer_id").agg(nw.len().alias("_n"))
    touched = to_pandas(_back(pairs.group_by("stage").agg(nw.len().alias("touched")), touchpoints))
    furthest = _frame(furthest_stage(f))
    stopped = to_pandas(_back(furthest.group_by("stage_index").agg(nw.len().alias("stopped")), touchpoints))
    by_index = dict(zip(stopped["stage_index"].astype(int), stopped["stopped"].astype(int)))
    unknown = [s for s in steps if s not in STAGES]
    if unknown:
        raise ValueError(f"stage_funnel: steps {unknown} are not lifecycle stages ({', '.join(STAGES)})")
    idx = [STAGES.index(s) for s in steps]
    out = pd.DataFrame({"stage": steps, "stage_index": idx})
    out = out.merge(touched, on="stage", how="left")
    out["touched"] = out["touched"].fillna(0).astype("int64")
    out["stopped"] = [by_index.get(i, 0) for i in idx]
    out["reached"] = [sum(n for j, n in by_index.items() if j >= i) for i in idx]
    total = sum(by_index.values())
    out["step_conversion"] = out["reached"] / out["reached"].shift(1)
    out.loc[0, "step_conversion"] = 1.0
    out["overall_conversion"] = out["reached"] / total if total else float("nan")
    return out


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
    f = _frame(touchpoints).select("customer_id", "ts", by)
    if channels is not None:
        f = f.filter(nw.col("channel").is_in(list(channels))) if by == "channel" else \
            _frame(touchpoints).filter(nw.col("channel").is_in(list(channels))).select("customer_id", "ts", by)
    if orders is not None:
        first = (_frame(orders).group_by("customer_id").agg(nw.col("ts").min().alias("_end")))
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
    g = _ints(c.group_by("path").agg(nw.col("_hit").sum().alias("conversions"), nw.len().alias("_n")),
              ["conversions"])
    g = g.with_columns((nw.col("_n") - nw.col("conversions")).alias("null")).drop("_n")
    return _back(g.sort("path"), touchpoints)
