"""Funnels over the lifecycle stages (portable: pandas, DuckDB, Spark).

:func:`stage_funnel` counts customers by the furthest stage they reached (any order);
:func:`ordered_funnel` follows each customer through ordered steps with a conversion window;
:func:`stage_first_touch` and :func:`touchpoint_progress` feed stage timing and the journey map;
:func:`unknown_stages` / :func:`known_stages` count and drop touches outside the lifecycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import narwhals as nw
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features._frame import back, frame, ints, stage_index, to_pandas, up_to
from cjlab.features.touchpoints import furthest_stage


def stage_funnel(
    touchpoints: Any, steps: Sequence[str] | None = None, as_of: datetime | str | None = None
) -> pd.DataFrame:
    """Customers per lifecycle stage: how many touched it, reached it, and stopped there.

    ``reached`` counts customers whose furthest stage is this stage or a later one (the
    usual reading of a lifecycle funnel), ``stopped`` those whose furthest stage it is, and
    ``touched`` those with at least one touchpoint at the stage. The heavy part (two
    group-bys over the touchpoints) runs in the backend; the result has one row per stage
    and is always returned as pandas.

    Parameters
    ----------
    touchpoints : customer_id, stage (and ts when ``as_of`` is given).
    steps : the stages listed (default all 11, in lifecycle order).
    as_of : analysis day: touches on that day or earlier count.

    Returns
    -------
    DataFrame with stage, stage_index, touched, stopped, reached, step_conversion
    (reached / reached at the previous stage) and overall_conversion (reached / customers).
    """
    steps = list(steps or STAGES)
    f = up_to(frame(touchpoints), as_of)
    pairs = (
        f.filter(nw.col("stage").is_in(steps))
        .group_by("stage", "customer_id")
        .agg(nw.len().alias("_n"))
    )
    touched = to_pandas(back(pairs.group_by("stage").agg(nw.len().alias("touched")), touchpoints))
    furthest = frame(furthest_stage(f))
    stopped = to_pandas(
        back(furthest.group_by("stage_index").agg(nw.len().alias("stopped")), touchpoints)
    )
    by_index = dict(zip(stopped["stage_index"].astype(int), stopped["stopped"].astype(int)))
    unknown = [s for s in steps if s not in STAGES]
    if unknown:
        raise ValueError(
            f"stage_funnel: steps {unknown} are not lifecycle stages ({', '.join(STAGES)})"
        )
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


def ordered_funnel(
    touchpoints: Any,
    steps: Sequence[str],
    *,
    window_days: float | None = None,
    step_col: str = "stage",
    first_touch: Sequence[str] = (),
    as_of: datetime | str | None = None,
) -> Any:
    """Ordered funnel with a conversion window: when each customer completed each step.

    A customer enters at the first time they do step 1. They complete step ``k`` at the first
    time they do step ``k`` at or after completing step ``k-1`` and, when ``window_days`` is
    given, no later than ``window_days`` after entering (the deadline is computed with
    ``offset_by``, which runs on pandas, DuckDB and Spark). Steps done out of order do not count.

    Parameters
    ----------
    touchpoints : customer_id, ts, ``step_col`` and the ``first_touch`` columns.
    steps : ordered step values (at least two).
    window_days : conversion window measured from step 1 (None = unlimited).
    step_col : the column holding the steps.
    first_touch : touch columns whose value at the customer's step-1 touch is returned (ties
        at the same instant: the smallest value), for first-touch breakdowns.
    as_of : analysis day: touches on that day or earlier count.

    Returns
    -------
    Frame (the input's backend), one row per customer who entered: customer_id,
    ``ts_<step>`` per step (null when not reached) and the ``first_touch`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> tp = pd.DataFrame({"customer_id": [1, 1, 2, 2], "stage": ["awareness", "comparison"] * 2,
    ...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-09", "2025-01-05", "2025-01-02"])})
    >>> out = ordered_funnel(tp, ["awareness", "comparison"], window_days=30).sort_values("customer_id")
    >>> out["ts_comparison"].notna().tolist()
    [True, False]
    """
    steps = list(steps)
    if len(steps) < 2:
        raise ValueError("a funnel needs at least two steps")
    ev = up_to(frame(touchpoints), as_of).select("customer_id", "ts", step_col, *first_touch)
    step0 = ev.filter(nw.col(step_col) == steps[0])
    state = step0.group_by("customer_id").agg(nw.col("ts").min().alias("_t0"))
    out = state
    if first_touch:
        at0 = step0.join(state, on="customer_id").filter(nw.col("ts") == nw.col("_t0"))
        at0 = at0.with_columns(nw.lit(1).alias("_one"))
        for c in (
            first_touch
        ):  # the smallest non-null value at the first touch (a window, not a string min)
            pick = at0.filter(~nw.col(c).is_null()).with_columns(
                nw.col("_one").cum_sum().over("customer_id", order_by=[c]).alias("_k")
            )
            out = out.join(
                pick.filter(nw.col("_k") == 1).select("customer_id", c),
                on="customer_id",
                how="left",
            )
    carry = []
    if window_days is not None:
        carry = [nw.col("_deadline").min()]
        state = state.with_columns(
            nw.col("_t0").dt.offset_by(f"{round(float(window_days) * 86400)}s").alias("_deadline")
        )
    cur = state.rename({"_t0": "_prev"})
    for k, s in enumerate(steps[1:], start=1):
        j = ev.filter(nw.col(step_col) == s).select("customer_id", "ts").join(cur, on="customer_id")
        j = j.filter(nw.col("ts") >= nw.col("_prev"))
        if window_days is not None:
            j = j.filter(nw.col("ts") <= nw.col("_deadline"))
        cur = j.group_by("customer_id").agg(nw.col("ts").min().alias("_prev"), *carry)
        out = out.join(
            cur.select("customer_id", nw.col("_prev").alias(f"_t{k}")), on="customer_id", how="left"
        )
    names = {f"_t{k}": f"ts_{s}" for k, s in enumerate(steps)}
    out = out.select("customer_id", *[nw.col(k).alias(v) for k, v in names.items()], *first_touch)
    return back(out, touchpoints)


def stage_first_touch(touchpoints: Any, as_of: datetime | str | None = None) -> Any:
    """Each customer's first time at each lifecycle stage: customer_id, stage, ts (long format)."""
    f = up_to(frame(touchpoints), as_of).filter(nw.col("stage").is_in(list(STAGES)))
    return back(f.group_by("customer_id", "stage").agg(nw.col("ts").min()), touchpoints)


def touchpoint_progress(touchpoints: Any, as_of: datetime | str | None = None) -> Any:
    """Per stage and touchpoint: customers, touches, and how many reached the next stage after it.

    ``reached_next`` counts the customers who had the touchpoint at the stage and touched the
    next lifecycle stage afterwards (their last time at the next stage is at or after their
    first time at this touchpoint). The journey map reads conversion from it.

    Returns
    -------
    Frame with stage, stage_index, touchpoint, customers, touches and reached_next.
    """
    f = up_to(frame(touchpoints), as_of).filter(nw.col("stage").is_in(list(STAGES)))
    f = f.with_columns(stage_index().alias("stage_index"))
    first = f.group_by("stage", "stage_index", "touchpoint", "customer_id").agg(
        nw.col("ts").min().alias("_first"), nw.len().alias("_n")
    )
    last_next = f.group_by("customer_id", "stage_index").agg(nw.col("ts").max().alias("_last"))
    last_next = last_next.with_columns((nw.col("stage_index") - 1).alias("stage_index"))
    j = first.join(last_next, on=["customer_id", "stage_index"], how="left")
    j = j.with_columns(
        (nw.col("_last") >= nw.col("_first")).fill_null(False).cast(nw.Int64).alias("_r")
    )
    g = j.group_by("stage", "stage_index", "touchpoint").agg(
        nw.len().alias("customers"),
        nw.col("_n").sum().alias("touches"),
        nw.col("_r").sum().alias("reached_next"),
    )
    g = ints(g, ["customers", "touches", "reached_next", "stage_index"])
    return back(g.sort("stage_index", "touchpoint"), touchpoints)


def unknown_stages(touchpoints: Any, stage_col: str = "stage") -> pd.DataFrame:
    """Rows whose stage is not one of the lifecycle stages: stage (value), rows — as pandas."""
    f = frame(touchpoints)
    bad = f.filter(~nw.col(stage_col).is_in(list(STAGES)) | nw.col(stage_col).is_null())
    out = to_pandas(back(bad.group_by(stage_col).agg(nw.len().alias("rows")), touchpoints))
    return out.sort_values("rows", ascending=False).reset_index(drop=True)


def known_stages(touchpoints: Any, stage_col: str = "stage") -> Any:
    """The touchpoints whose stage is one of the lifecycle stages (the input's backend)."""
    return back(frame(touchpoints).filter(nw.col(stage_col).is_in(list(STAGES))), touchpoints)
