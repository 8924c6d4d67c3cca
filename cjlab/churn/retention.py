"""Kaplan–Meier retention curves (lifelines) by cohort, channel or segment.

Lifetime of a customer: from ``first_seen`` to ``cancelled_at`` (an event) or to the end of
the observation (censored).

Examples
--------
>>> import pandas as pd
>>> from cjlab.churn.retention import kaplan_meier
>>> c = pd.DataFrame({"customer_id": range(6), "acquisition_channel": list("aaabbb"),
...     "first_seen": pd.to_datetime(["2025-01-01"] * 6),
...     "cancelled_at": pd.to_datetime(["2025-02-01", None, "2025-04-01", "2025-01-11", "2025-01-21", None])})
>>> km = kaplan_meier(c, by="acquisition_channel", observation_end="2025-12-31")
>>> km.summary[["group", "customers", "cancelled"]].to_dict("list")
{'group': ['a', 'b'], 'customers': [3, 3], 'cancelled': [2, 2]}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["KMResult", "RetentionError", "kaplan_meier", "lifetimes"]


class RetentionError(ValueError):
    """Bad input to the retention curves."""


def lifetimes(
    customers: pd.DataFrame,
    observation_end: Any = None,
    by: str | None = None,
    cohort_freq: str = "Q",
) -> pd.DataFrame:
    """``customer_id, group, duration_days, cancelled`` per customer.

    ``by`` is a column of ``customers`` or ``"cohort"`` (acquisition period of ``first_seen``,
    ``cohort_freq`` = ``"Q"`` quarters, ``"M"`` months, ``"Y"`` years).
    """
    for c in ("customer_id", "first_seen"):
        if c not in customers.columns:
            raise RetentionError(f"customers: missing column {c!r}")
    first = pd.to_datetime(customers["first_seen"])
    canc = (
        pd.to_datetime(customers["cancelled_at"])
        if "cancelled_at" in customers.columns
        else pd.Series(pd.NaT, index=customers.index)
    )
    end = (
        pd.Timestamp(observation_end)
        if observation_end is not None
        else max(first.max(), canc.max())
    )
    event = canc.notna() & (canc <= end)
    stop = canc.where(event, end)
    dur = (stop - first).dt.total_seconds() / 86400
    keep = first <= end
    if by is None:
        group = pd.Series("all", index=customers.index)
    elif by == "cohort":
        group = first.dt.to_period(cohort_freq).astype(str)
    elif by in customers.columns:
        group = customers[by].astype("string").fillna("unknown")
    else:
        raise RetentionError(f"customers: no column {by!r} to group retention by")
    out = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "group": group,
            "duration_days": dur.clip(lower=0),
            "cancelled": event.astype(int),
        }
    )
    return out.loc[keep].reset_index(drop=True)


@dataclass
class KMResult:
    """Kaplan–Meier curves per group and their median lifetimes."""

    curves: pd.DataFrame  # group, days, retention, low, high, at_risk
    summary: (
        pd.DataFrame
    )  # group, customers, cancelled, median_days, median_low, median_high, retention_1y
    by: str | None


def kaplan_meier(
    customers: pd.DataFrame,
    by: str | None = None,
    observation_end: Any = None,
    cohort_freq: str = "Q",
    min_customers: int = 1,
    level: float = 0.95,
) -> KMResult:
    """Kaplan–Meier retention curves (lifelines) with confidence bands and median lifetime.

    Parameters
    ----------
    customers : the contract ``customers`` table (``first_seen``, ``cancelled_at``).
    by : ``None``, a column (``acquisition_channel``, ``segment`` ...) or ``"cohort"``.
    observation_end : end of the observation (default: latest date in the table).
    min_customers : drop groups with fewer customers.
    level : confidence level of the bands (lifelines' exponential Greenwood intervals).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    lt = lifetimes(customers, observation_end, by, cohort_freq)
    if lt.empty:
        raise RetentionError("no customers seen before the observation end")
    curves, rows = [], []
    for g, d in lt.groupby("group", sort=True):
        if len(d) < min_customers:
            continue
        km = KaplanMeierFitter(alpha=1 - level).fit(
            d["duration_days"], d["cancelled"], label="retention"
        )
        sf, ci = km.survival_function_, km.confidence_interval_survival_function_
        et = km.event_table
        curves.append(
            pd.DataFrame(
                {
                    "group": g,
                    "days": sf.index.to_numpy(),
                    "retention": sf.iloc[:, 0].to_numpy(),
                    "low": ci.iloc[:, 0].to_numpy(),
                    "high": ci.iloc[:, 1].to_numpy(),
                    "at_risk": et["at_risk"].reindex(sf.index).to_numpy(),
                }
            )
        )
        med = km.median_survival_time_
        mci = median_survival_times(km.confidence_interval_)
        rows.append(
            {
                "group": g,
                "customers": len(d),
                "cancelled": int(d["cancelled"].sum()),
                "median_days": float(med),
                "median_low": float(mci.iloc[0, 0]),
                "median_high": float(mci.iloc[0, 1]),
                "retention_1y": float(km.predict(365.0))
                if d["duration_days"].max() >= 365
                else np.nan,
            }
        )
    return KMResult(pd.concat(curves, ignore_index=True), pd.DataFrame(rows), by)
