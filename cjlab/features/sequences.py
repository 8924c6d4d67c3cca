"""Customer sequences: each customer's ordered steps before an outcome, and their flows (portable).

The journey analyses read three shapes from here, computed where the data live (pandas,
DuckDB, Spark) with joins, window functions and group-bys only — no list or array types:

* :func:`customer_steps` — one row per kept touch: the customer's touches before their first
  order (``outcome="purchase"``) or before cancelling (``outcome="churn"``), numbered from the
  oldest (``position``) and from the newest (``from_end``);
* :func:`customer_paths` — one row per customer: those steps joined into a path string
  (``"email > web"``), built by pairwise doubling (``log2`` of the path length joins);
* :func:`stage_sequence` and :func:`step_flows` — the stages in the order first reached, and
  the customers moving between consecutive steps (the bands of a flow diagram).

Touches of one customer at the same instant are ordered by their step value, so every engine
orders them alike. Steps are numbered with a running sum of ones over an ordered window
(``cum_count`` of an ordering column is wrong on narwhals' pandas backend).

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"customer_id": [1, 1, 1, 2], "channel": ["social", "email", "web", "email"],
...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-05", "2025-01-01"])})
>>> orders = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2025-01-04"])})
>>> customer_paths(tp, orders).sort_values("customer_id")[["path", "outcome"]].values.tolist()
[['social > email', 1], ['email', 0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw

from cjlab.data.contract import STAGES
from cjlab.features._frame import as_of_end, back, frame, stage_index, to_pandas, up_to

__all__ = [
    "customer_paths",
    "customer_steps",
    "distinct_steps",
    "latest",
    "stage_sequence",
    "step_flows",
]

ORDER = ["ts", "step"]  # order of touches within a customer (ties broken by the step value)


def _touches(
    touchpoints: Any,
    by: str,
    channels: Sequence[str] | None,
    exclude_touchpoints: Sequence[str],
    stages: Sequence[str] | None,
    as_of: datetime | str | None,
) -> nw.LazyFrame:
    """The touches in scope: customer_id, ts, step (the ``by`` value as text, nulls dropped)."""
    f = up_to(frame(touchpoints), as_of)
    if channels is not None:
        f = f.filter(nw.col("channel").is_in(list(channels)))
    if exclude_touchpoints:
        f = f.filter(~nw.col("touchpoint").is_in(list(exclude_touchpoints)))
    if stages is not None:
        f = f.filter(nw.col("stage").is_in(list(stages)))
    f = f.select("customer_id", "ts", nw.col(by).cast(nw.String).alias("step"))
    return f.filter(~nw.col("step").is_null())


def _outcome_end(
    orders: Any, customers: Any, outcome: str, as_of: datetime | str | None
) -> nw.LazyFrame | None:
    """customer_id, _end: when each customer's outcome happened (None: nobody's did)."""
    if outcome == "purchase":
        if orders is None:
            return None
        o = up_to(frame(orders), as_of)
        return o.group_by("customer_id").agg(nw.col("ts").min().alias("_end"))
    if outcome == "churn":
        if customers is None or "cancelled_at" not in frame(customers).collect_schema().names():
            raise ValueError("outcome='churn' needs the customers table with cancelled_at")
        c = frame(customers).filter(~nw.col("cancelled_at").is_null())
        c = c.select("customer_id", nw.col("cancelled_at").cast(nw.Datetime("us")).alias("_end"))
        return c if as_of is None else c.filter(nw.col("_end") < as_of_end(as_of))
    raise ValueError(f"outcome must be 'purchase' or 'churn', got {outcome!r}")


def _number(f: nw.LazyFrame, order: Sequence[str]) -> nw.LazyFrame:
    """Add ``position`` (1 = oldest) and ``from_end`` (1 = newest) per customer."""
    f = f.with_columns(nw.lit(1).alias("_one"))
    f = f.with_columns(
        nw.col("_one")
        .cum_sum()
        .over("customer_id", order_by=list(order))
        .cast(nw.Int64)
        .alias("position")
    ).drop("_one")
    f = f.with_columns(nw.col("position").max().over("customer_id").alias("_n"))
    return f.with_columns(
        (nw.col("_n") - nw.col("position") + 1).cast(nw.Int64).alias("from_end")
    ).drop("_n")


def _steps(
    touchpoints: Any,
    orders: Any = None,
    *,
    by: str = "channel",
    outcome: str = "purchase",
    customers: Any = None,
    channels: Sequence[str] | None = None,
    exclude_touchpoints: Sequence[str] = (),
    stages: Sequence[str] | None = None,
    as_of: datetime | str | None = None,
    lookback_days: float | None = None,
    collapse_repeats: bool = False,
) -> nw.LazyFrame:
    f = _touches(touchpoints, by, channels, exclude_touchpoints, stages, as_of)
    end = _outcome_end(orders, customers, outcome, as_of)
    if end is not None:
        f = f.join(end, on="customer_id", how="left")
        f = f.filter(nw.col("_end").is_null() | (nw.col("ts") < nw.col("_end")))
        hit = ~nw.col("_end").is_null()
    else:
        hit = nw.lit(False)
    f = f.with_columns(hit.cast(nw.Int64).alias("outcome"))
    if lookback_days is not None:
        seconds = round(float(lookback_days) * 86400)
        ref = (
            as_of_end(as_of)
            if as_of is not None
            else to_pandas(back(f.select(nw.col("ts").max()), touchpoints)).iloc[0, 0]
        )
        keep = (nw.col("outcome") == 0) & (nw.col("ts") >= ref - timedelta(seconds=seconds))
        if end is not None:
            keep = keep | (nw.col("ts") >= nw.col("_end").dt.offset_by(f"-{seconds}s")).fill_null(
                False
            )
        f = f.filter(keep)
    if end is not None:
        f = f.drop("_end")
    if collapse_repeats:
        prev = nw.col("step").shift(1).over("customer_id", order_by=ORDER)
        f = f.with_columns(prev.alias("_prev"))
        f = f.filter(nw.col("_prev").is_null() | (nw.col("_prev") != nw.col("step"))).drop("_prev")
    return _number(f, ORDER)


def customer_steps(
    touchpoints: Any,
    orders: Any = None,
    *,
    by: str = "channel",
    outcome: str = "purchase",
    customers: Any = None,
    channels: Sequence[str] | None = None,
    exclude_touchpoints: Sequence[str] = (),
    stages: Sequence[str] | None = None,
    as_of: datetime | str | None = None,
    lookback_days: float | None = None,
    collapse_repeats: bool = False,
) -> Any:
    """Each customer's touches before an outcome, numbered: one row per kept touch.

    Parameters
    ----------
    touchpoints : customer_id, ts, the ``by`` column (and channel, touchpoint, stage when they
        are filtered on).
    orders : orders (customer_id, ts); for ``outcome="purchase"``. Without them nobody bought.
    by : the column whose values make the steps (``"channel"``, ``"touchpoint"``, ``"stage"``).
    outcome : ``"purchase"`` — touches strictly before the first order (customers without an
        order: all their touches, outcome 0); ``"churn"`` — touches before ``cancelled_at`` of
        ``customers`` (customers who have not cancelled: all touches, outcome 0).
    customers : customers (customer_id, cancelled_at), for ``outcome="churn"``.
    channels, exclude_touchpoints, stages : only touches on these channels, not of these
        touchpoints, at these stages count.
    as_of : analysis day: touches, orders and cancellations on that day or earlier count.
    lookback_days : only touches within this many days before the outcome (customers without
        it: before the end of the ``as_of`` day, or the last touch when there is no ``as_of``).
    collapse_repeats : merge consecutive repeats of a step (``a > a > b`` -> ``a > b``).

    Returns
    -------
    Frame (the input's backend) with customer_id, ts, step (text), position (1 = oldest),
    from_end (1 = the touch closest to the outcome), outcome (1 when it happened, else 0).

    Examples
    --------
    >>> import pandas as pd
    >>> tp = pd.DataFrame({"customer_id": [1, 1, 1], "channel": ["web", "web", "app"],
    ...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
    >>> customer_steps(tp, collapse_repeats=True)[["step", "position", "from_end"]].values.tolist()
    [['web', 1, 2], ['app', 2, 1]]
    """
    f = _steps(
        touchpoints,
        orders,
        by=by,
        outcome=outcome,
        customers=customers,
        channels=channels,
        exclude_touchpoints=exclude_touchpoints,
        stages=stages,
        as_of=as_of,
        lookback_days=lookback_days,
        collapse_repeats=collapse_repeats,
    )
    out = f.select("customer_id", "ts", "step", "position", "from_end", "outcome")
    return back(out.sort("customer_id", "position"), touchpoints)


def _join_paths(steps: nw.LazyFrame, max_steps: int | None, sep: str, native: Any) -> nw.LazyFrame:
    """One row per customer: the last ``max_steps`` steps joined oldest first (pairwise doubling)."""
    s = steps if max_steps is None else steps.filter(nw.col("from_end") <= max_steps)
    if max_steps is not None:
        width = max_steps
    else:
        longest = to_pandas(back(s.select(nw.col("from_end").max()), native)).iloc[0, 0]
        width = 1 if longest is None or longest != longest else int(longest)
    seg = s.select(
        "customer_id",
        "outcome",
        (nw.col("from_end") - 1).alias("_b"),
        nw.col("step").alias("path"),
        (nw.col("position") + nw.col("from_end") - 1).alias("_len"),
    )
    # block b of span 2^k holds steps from_end in [b*2^k + 1, (b+1)*2^k]; blocks 2j (newer) and
    # 2j+1 (older) make block j of the next round. The older partner comes by a window over the
    # pair (not a self-join, which would double the query plan every round on DuckDB and Spark).
    for _ in range(max(0, math.ceil(math.log2(max(width, 1))))):
        seg = seg.with_columns((nw.col("_b") // 2).alias("_h"), (-nw.col("_b")).alias("_nb"))
        older = nw.col("path").shift(1).over("customer_id", "_h", order_by=["_nb"])
        seg = seg.with_columns(older.alias("_older")).filter(nw.col("_h") * 2 == nw.col("_b"))
        seg = seg.with_columns(
            nw.concat_str(
                [nw.col("_older"), nw.col("path")], separator=sep, ignore_nulls=True
            ).alias("path"),
            nw.col("_h").alias("_b"),
        )
        seg = seg.drop("_older", "_h", "_nb")
    n = (
        nw.col("_len")
        if max_steps is None
        else nw.min_horizontal(nw.col("_len"), nw.lit(max_steps))
    )
    return seg.select("customer_id", "path", "outcome", n.cast(nw.Int64).alias("n_steps"))


def customer_paths(
    touchpoints: Any,
    orders: Any = None,
    *,
    max_steps: int | None = None,
    sep: str = " > ",
    **kwargs: Any,
) -> Any:
    """One row per customer: the path of steps before the outcome and whether it happened.

    Takes the arguments of :func:`customer_steps`; ``max_steps`` keeps only the last steps
    (closest to the outcome; None = all). Customers without any touch in scope have no row.

    Returns
    -------
    Frame with customer_id, path (steps oldest first joined by ``sep``), outcome (0/1) and
    n_steps.
    """
    return back(_paths(touchpoints, orders, max_steps=max_steps, sep=sep, **kwargs), touchpoints)


def _paths(
    touchpoints: Any,
    orders: Any = None,
    *,
    max_steps: int | None = None,
    sep: str = " > ",
    **kwargs: Any,
) -> nw.LazyFrame:
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    return _join_paths(_steps(touchpoints, orders, **kwargs), max_steps, sep, touchpoints)


def distinct_steps(
    touchpoints: Any,
    by: str = "channel",
    *,
    stages: Sequence[str] | None = None,
    exclude_touchpoints: Sequence[str] = (),
    as_of: datetime | str | None = None,
) -> list[str]:
    """The distinct values of ``by`` among the touches in scope, sorted (a small list).

    Examples
    --------
    >>> import pandas as pd
    >>> tp = pd.DataFrame({"customer_id": [1, 2], "channel": ["web", "email"], "stage": "awareness",
    ...                    "touchpoint": "ad", "ts": pd.to_datetime(["2025-01-01", "2025-01-02"])})
    >>> distinct_steps(tp, stages=["awareness"])
    ['email', 'web']
    """
    f = _touches(touchpoints, by, None, exclude_touchpoints, stages, as_of)
    values = to_pandas(back(f.group_by("step").agg(nw.len().alias("_n")), touchpoints))["step"]
    return sorted(str(v) for v in values)


def stage_sequence(
    touchpoints: Any,
    *,
    stages: Sequence[str] | None = None,
    as_of: datetime | str | None = None,
    beyond: int | None = None,
) -> Any:
    """Each customer's lifecycle stages in the order first reached: one row per customer and stage.

    Stages first reached at the same instant are ordered as in the lifecycle.

    Parameters
    ----------
    touchpoints : customer_id, ts, stage.
    stages : only these stages count (default all 11).
    as_of : analysis day: touches on that day or earlier count.
    beyond : with a number, ``outcome`` is 1 for customers who reached more than this many
        stages (their journey goes on after the first ``beyond``), else 0.

    Returns
    -------
    Frame with customer_id, ts (first time at the stage), step (the stage), position (1 = the
    first stage reached), from_end and outcome (see ``beyond``; 0 without it).
    """
    f = up_to(frame(touchpoints), as_of).filter(nw.col("stage").is_in(list(stages or STAGES)))
    g = f.group_by("customer_id", "stage").agg(nw.col("ts").min())
    g = g.with_columns(stage_index().alias("_o"), nw.col("stage").alias("step"))
    g = _number(g, ["ts", "_o"])
    more = (
        (nw.col("position") + nw.col("from_end") - 1 > beyond)
        if beyond is not None
        else nw.lit(False)
    )
    g = g.with_columns(more.cast(nw.Int64).alias("outcome"))
    out = g.select("customer_id", "ts", "step", "position", "from_end", "outcome")
    return back(out.sort("customer_id", "position"), touchpoints)


def step_flows(
    steps: Any,
    *,
    max_steps: int = 5,
    top: int | None = None,
    ends: tuple[str, str] | None = None,
    other: str = "other",
) -> Any:
    """Customers moving between consecutive steps: the bands of a flow (Sankey) diagram.

    Parameters
    ----------
    steps : one row per customer and step (:func:`customer_steps` or :func:`stage_sequence`).
    max_steps : only the first ``max_steps`` steps of each customer.
    top : pool values outside the ``top`` most frequent steps (over all steps) as ``other``.
    ends : labels ``(outcome 1, outcome 0)`` of an end node after each customer's last kept
        step (e.g. ``("purchase", "no purchase")``); None = no end node.

    Returns
    -------
    Frame with position (of the source step, 1 = first), source, target, end (1 when the
    target is an end node) and customers.
    """
    s = frame(steps).select("customer_id", "step", "position", "outcome")
    if top is not None:
        freq = to_pandas(back(s.group_by("step").agg(nw.len().alias("_n")), steps))
        keep = list(freq.sort_values(["_n", "step"], ascending=[False, True])["step"].head(top))
        s = s.with_columns(
            nw.when(nw.col("step").is_in(keep))
            .then(nw.col("step"))
            .otherwise(nw.lit(other))
            .alias("step")
        )
    s = s.filter(nw.col("position") <= max_steps).with_columns(
        nw.lit(0).cast(nw.Int64).alias("end")
    )
    if ends is not None:
        last = s.group_by("customer_id").agg(nw.col("position").max(), nw.col("outcome").max())
        tail = last.select(
            "customer_id",
            (nw.col("position") + 1).alias("position"),
            "outcome",
            nw.when(nw.col("outcome") == 1)
            .then(nw.lit(ends[0]))
            .otherwise(nw.lit(ends[1]))
            .alias("step"),
            nw.lit(1).cast(nw.Int64).alias("end"),
        )
        s = nw.concat(
            [
                s.select("customer_id", "step", "position", "outcome", "end"),
                tail.select("customer_id", "step", "position", "outcome", "end"),
            ]
        )
    nxt = s.select(
        "customer_id",
        (nw.col("position") - 1).alias("position"),
        nw.col("step").alias("target"),
        "end",
    )
    pairs = s.select("customer_id", "position", nw.col("step").alias("source")).join(
        nxt, on=["customer_id", "position"]
    )
    g = pairs.group_by("position", "source", "target", "end").agg(nw.len().alias("customers"))
    g = g.with_columns(nw.col("customers").cast(nw.Int64), nw.col("position").cast(nw.Int64))
    return back(g.sort("position", "source", "target"), steps)


def latest(table: Any, col: str = "ts") -> Any:
    """The latest value of ``col`` in a table (a scalar; None when the table is empty)."""
    v = to_pandas(back(frame(table).select(nw.col(col).max()), table)).iloc[0, 0]
    return None if v is None or v != v else v
