"""Funnels over the lifecycle stages: the ordered funnel with a window, breakdowns, stage timing.

The per-customer step times come from :func:`cjlab.features.funnels.ordered_funnel` (computed
where the data live); this module turns them into the funnel table (counts, conversion,
drop-off, time-to-convert percentiles), per breakdown group when asked, and reads stage
timing from :func:`cjlab.features.funnels.stage_first_touch`.

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"customer_id": [1, 1, 2], "stage": ["awareness", "information", "awareness"],
...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-02"])})
>>> funnel(tp, ["awareness", "information"]).table[["step", "customers", "step_conversion"]].values.tolist()
[['awareness', 2, 1.0], ['information', 1, 0.5]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features import has, to_pandas
from cjlab.features.funnels import ordered_funnel, stage_first_touch, stage_funnel
from cjlab.journey.inputs import JourneyInputError, check_stages

__all__ = [
    "FunnelResult",
    "funnel",
    "funnel_by",
    "furthest_stages",
    "stage_durations",
    "stage_progress",
]

PERCENTILES = (0.25, 0.5, 0.75, 0.9)
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class FunnelResult:
    """Output of :func:`funnel`.

    Attributes
    ----------
    table : one row per step (and breakdown group): step, step_index, customers,
        step_conversion, overall_conversion, dropoff (customers lost after this step),
        dropoff_share (of all customers lost before the last step), median_days and the
        time-to-convert percentiles ``p<q>_days`` (days from step 1).
    customer_steps : one row per customer: ts_<step> of each step reached, plus the breakdown
        columns known for the customer (first-touch values or customer attributes).
    steps, window_days, breakdown : the definition.
    handling : counted input handling.
    percentiles : the time-to-convert percentiles reported.
    """

    table: pd.DataFrame
    customer_steps: pd.DataFrame
    steps: list[str]
    window_days: float | None
    breakdown: str | None
    handling: dict[str, int] = field(default_factory=dict)
    percentiles: tuple[float, ...] = PERCENTILES

    @property
    def overall(self) -> pd.DataFrame:
        """The funnel table over all customers (the table itself when there is no breakdown)."""
        if self.breakdown is None:
            return self.table
        return funnel_table(self.customer_steps, self.steps, None, self.percentiles)

    @property
    def biggest_dropoff(self) -> str:
        """The step after which most customers are lost (overall, not per group)."""
        t = self.overall
        t = t[t["step"] != self.steps[-1]]
        return str(t.loc[t["dropoff"].idxmax(), "step"])

    @property
    def breakdowns(self) -> list[str]:
        """Columns of :attr:`customer_steps` a breakdown can use (see :func:`funnel_by`)."""
        return [
            c for c in self.customer_steps.columns if c != "customer_id" and not c.startswith("ts_")
        ]


def funnel_table(
    cs: pd.DataFrame,
    steps: Sequence[str],
    breakdown: str | None,
    percentiles: Sequence[float] = PERCENTILES,
) -> pd.DataFrame:
    """The funnel table from per-customer step times (see :attr:`FunnelResult.table`)."""
    steps = list(steps)
    groups = [(None, cs)] if breakdown is None else list(cs.groupby(breakdown, sort=True))
    rows = []
    for g, d in groups:
        counts = [int(d[f"ts_{s}"].notna().sum()) for s in steps]
        n0, lost_total = counts[0], counts[0] - counts[-1]
        for k, s in enumerate(steps):
            row: dict[str, Any] = {} if breakdown is None else {breakdown: g}
            last = k + 1 == len(steps)
            prev_ok = k and counts[k - 1]
            row.update(
                step=s,
                step_index=k,
                customers=counts[k],
                step_conversion=1.0
                if k == 0
                else (counts[k] / counts[k - 1] if prev_ok else np.nan),
                overall_conversion=counts[k] / n0 if n0 else np.nan,
                dropoff=np.nan if last else counts[k] - counts[k + 1],
            )
            row["dropoff_share"] = (
                row["dropoff"] / lost_total if lost_total and not last else np.nan
            )
            days = (d[f"ts_{s}"] - d[f"ts_{steps[0]}"]).dt.total_seconds().dropna() / 86400
            row["median_days"] = days.median() if len(days) else np.nan
            for q in percentiles:
                row[f"p{round(q * 100)}_days"] = days.quantile(q) if len(days) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def _customer_steps(
    touchpoints: Any,
    steps: list[str],
    window_days: float | None,
    step_col: str,
    breakdown: str | None,
    customers: Any,
    first_touch: Sequence[str],
    as_of: Any,
) -> pd.DataFrame:
    """Per customer: the step times and the breakdown values (first touch or customer attribute)."""
    on_touch = breakdown is not None and has(touchpoints, breakdown)
    if (
        breakdown is not None
        and not on_touch
        and (customers is None or not has(customers, breakdown))
    ):
        raise JourneyInputError(
            f"breakdown {breakdown!r} is neither a touchpoints column nor a column of "
            "the customers table passed"
        )
    touch_cols = [breakdown] if on_touch else []
    touch_cols += [c for c in first_touch if has(touchpoints, c) and c not in touch_cols]
    cs = to_pandas(
        ordered_funnel(
            touchpoints,
            steps,
            window_days=window_days,
            step_col=step_col,
            first_touch=touch_cols,
            as_of=as_of,
        )
    )
    if breakdown is not None and not on_touch:
        attrs = to_pandas(customers)[["customer_id", breakdown]].drop_duplicates("customer_id")
        cs = cs.merge(attrs, on="customer_id", how="left")
        touch_cols.append(breakdown)
    for c in touch_cols:
        cs[c] = cs[c].astype(object).where(cs[c].notna(), UNKNOWN)
    return cs.sort_values("customer_id").reset_index(drop=True)


def funnel(
    touchpoints: Any,
    steps: Sequence[str] = STAGES,
    *,
    window_days: float | None = None,
    breakdown: str | None = None,
    customers: Any = None,
    step_col: str = "stage",
    percentiles: Sequence[float] = PERCENTILES,
    on_unknown: str = "raise",
    first_touch: Sequence[str] = (),
    as_of: datetime | str | None = None,
) -> FunnelResult:
    """Ordered funnel with a conversion window, as product-analytics tools define it.

    A customer enters at the first time they do step 1. They complete step ``k`` at the first
    time they do step ``k`` at or after completing step ``k-1`` and, when ``window_days`` is
    given, no later than ``window_days`` after entering. Steps done out of order do not count.
    The step search runs where the data live (pandas, DuckDB or Spark); only one row per
    customer is collected.

    Parameters
    ----------
    touchpoints : customer_id, ts and ``step_col`` (plus the breakdown column, if it is a
        touch property).
    steps : ordered step values (default the 11 lifecycle stages).
    window_days : conversion window measured from step 1 (None = unlimited).
    breakdown : a touch column (first-touch breakdown: its value on the customer's step-1
        touch, ties broken by the smallest value) or a column of ``customers``.
    customers : per-customer attributes for a customer-level breakdown (e.g. an RFM segment).
    step_col : the column holding the steps.
    percentiles : time-to-convert percentiles reported (days from step 1).
    on_unknown : ``"raise"`` or ``"drop"`` for rows whose stage is not a lifecycle stage
        (checked when ``step_col == "stage"``).
    first_touch : more touch columns whose first-touch values are kept in ``customer_steps``
        (so :func:`funnel_by` can regroup without the raw data).
    as_of : analysis day: touches on that day or earlier count.

    Returns
    -------
    :class:`FunnelResult`.
    """
    steps = list(steps)
    if len(steps) < 2:
        raise ValueError("a funnel needs at least two steps")
    handling: dict[str, int] = {}
    if step_col == "stage":
        touchpoints, handling = check_stages(touchpoints, on_unknown=on_unknown)
        unknown_steps = [s for s in steps if s not in STAGES]
        if unknown_steps:
            raise JourneyInputError(
                f"funnel steps {unknown_steps} are not lifecycle stages ({', '.join(STAGES)})"
            )
    cs = _customer_steps(
        touchpoints, steps, window_days, step_col, breakdown, customers, first_touch, as_of
    )
    table = funnel_table(cs, steps, breakdown, percentiles)
    return FunnelResult(table, cs, steps, window_days, breakdown, handling, tuple(percentiles))


def funnel_by(result: FunnelResult, breakdown: str | None) -> FunnelResult:
    """The same funnel regrouped by another breakdown column of ``result.customer_steps``."""
    if breakdown is not None and breakdown not in result.customer_steps.columns:
        raise JourneyInputError(
            f"breakdown {breakdown!r} is not known for the customers of this funnel; "
            f"known: {', '.join(result.breakdowns) or 'none'}"
        )
    table = funnel_table(result.customer_steps, result.steps, breakdown, result.percentiles)
    return replace(result, table=table, breakdown=breakdown)


def stage_progress(
    touchpoints: Any, on_unknown: str = "raise", as_of: datetime | str | None = None
) -> pd.DataFrame:
    """Per customer: first time at each stage, the furthest stage reached and its index.

    Returns
    -------
    DataFrame customer_id, furthest_index, furthest_stage, first_<stage> (timestamps) ...
    """
    tp, _ = check_stages(touchpoints, on_unknown=on_unknown)
    first = to_pandas(stage_first_touch(tp, as_of=as_of))
    wide = first.pivot(index="customer_id", columns="stage", values="ts")
    wide = wide.reindex(columns=[s for s in STAGES if s in wide.columns])
    idx = pd.Series([STAGES.index(s) for s in wide.columns])
    reached = wide.notna().to_numpy()
    furthest = np.where(reached.any(axis=1), (reached * (idx.to_numpy() + 1)).max(axis=1) - 1, -1)
    out = pd.DataFrame(
        {
            "furthest_index": furthest.astype(int),
            "furthest_stage": [STAGES[i] if i >= 0 else None for i in furthest],
        },
        index=wide.index,
    )
    out = out.join(wide.add_prefix("first_"))
    out.columns.name = None
    return out.reset_index()


def stage_durations(
    progress: pd.DataFrame, percentiles: Sequence[float] = PERCENTILES
) -> pd.DataFrame:
    """Days between reaching consecutive stages (first time at each), over customers with both.

    Returns
    -------
    DataFrame from_stage, to_stage, customers, mean_days, p25_days, p50_days, ...
    """
    rows = []
    cols = [s for s in STAGES if f"first_{s}" in progress.columns]
    for a, b in pairwise(cols):
        d = (progress[f"first_{b}"] - progress[f"first_{a}"]).dt.total_seconds() / 86400
        d = d.dropna()
        d = d[d >= 0]
        row = {"from_stage": a, "to_stage": b, "customers": len(d), "mean_days": d.mean()}
        for q in percentiles:
            row[f"p{round(q * 100)}_days"] = d.quantile(q) if len(d) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def furthest_stages(touchpoints: Any, as_of: datetime | str | None = None) -> pd.DataFrame:
    """Customers by the furthest lifecycle stage they reached (in any order): stage, customers, share."""
    f = stage_funnel(touchpoints, as_of=as_of)
    out = f[["stage", "stopped"]].rename(columns={"stopped": "customers"})
    total = out["customers"].sum()
    out["share"] = out["customers"] / total if total else np.nan
    return out.reset_index(drop=True)
