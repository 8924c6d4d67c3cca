"""Customer status as of a day (new, returning, active, at risk, churned, prospect) by explicit rules.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": [1, 2], "ts": pd.to_datetime(["2025-12-01", "2024-01-01"])})
>>> customer_status(orders, as_of="2025-12-31")["status"].tolist()
['new', 'churned']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cjlab.features import has, to_pandas
from cjlab.features.rfm import as_of_day, last_orders

__all__ = ["DEFAULT_STATUS_RULES", "STATUS_ORDER", "customer_status", "status_summary"]

#: Status rules (days), applied in the order of :data:`STATUS_ORDER`.
DEFAULT_STATUS_RULES: dict[str, float] = {
    "new_days": 90,
    "active_days": 180,
    "churn_days": 365,
    "return_gap_days": 180,
}
STATUS_ORDER = ("churned", "new", "returning", "active", "at risk", "prospect")


def _check_rules(rules: Mapping[str, float] | None) -> dict[str, float]:
    r = {**DEFAULT_STATUS_RULES, **dict(rules or {})}
    unknown = set(r) - set(DEFAULT_STATUS_RULES)
    if unknown:
        raise ValueError(
            f"unknown status rules {sorted(unknown)}; use {sorted(DEFAULT_STATUS_RULES)}"
        )
    return r


def _cancelled(customers: Any, index: pd.Index, day: pd.Timestamp) -> pd.Series:
    if customers is None or not has(customers, "cancelled_at"):
        return pd.Series(False, index=index)
    c = to_pandas(customers)
    at = pd.to_datetime(c.set_index("customer_id")["cancelled_at"]).reindex(index)
    return at.notna() & (at <= day)


def customer_status(
    orders: Any, customers: Any = None, as_of: Any = None, rules: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Customer status as of a day, by explicit rules (first matching rule wins).

    1. **churned** — membership cancelled on or before ``as_of`` (``customers.cancelled_at``),
       or buyers whose last order is more than ``churn_days`` ago;
    2. **new** — first order within the last ``new_days``;
    3. **returning** — last order within ``active_days`` and the gap before it longer than
       ``return_gap_days`` (came back after a pause);
    4. **active** — last order within ``active_days``;
    5. **at risk** — last order between ``active_days`` and ``churn_days`` ago;
    6. **prospect** — known customer (in ``customers``) without any order yet.

    Parameters
    ----------
    orders : orders table (customer_id, ts) on any supported backend.
    customers : optional customers table: adds prospects and cancelled memberships.
    as_of : analysis day (default: the day of the last order).
    rules : overrides of :data:`DEFAULT_STATUS_RULES`.

    Returns
    -------
    DataFrame customer_id, status, first_order, last_order, previous_gap_days, recency_days;
    ``attrs["rules"]`` holds the rules used.
    """
    r = _check_rules(rules)
    o = to_pandas(last_orders(orders, as_of)).set_index("customer_id")
    if as_of is None:
        as_of = o["last_order"].max()
    day = pd.Timestamp(as_of_day(as_of))
    if customers is not None:
        ids = pd.Index(to_pandas(customers)["customer_id"].unique())
        o = o.reindex(o.index.union(ids))
    o.index.name = "customer_id"
    recency = (day - o["last_order"].dt.normalize()).dt.days
    since_first = (day - o["first_order"].dt.normalize()).dt.days
    gap = (o["last_order"] - o["previous_order"]).dt.total_seconds() / 86400
    cancelled = _cancelled(customers, o.index, day)
    buyer = o["last_order"].notna()
    conds = [
        cancelled | (buyer & (recency > r["churn_days"])),
        buyer & (since_first <= r["new_days"]),
        buyer & (recency <= r["active_days"]) & (gap > r["return_gap_days"]),
        buyer & (recency <= r["active_days"]),
        buyer & (recency > r["active_days"]),
        ~buyer,
    ]
    status = np.select(conds, list(STATUS_ORDER), default="prospect")
    out = pd.DataFrame(
        {
            "status": status,
            "first_order": o["first_order"],
            "last_order": o["last_order"],
            "previous_gap_days": gap,
            "recency_days": recency,
        },
        index=o.index,
    )
    out.attrs["rules"] = r
    return out.reset_index()


def status_summary(status: pd.DataFrame) -> pd.DataFrame:
    """Customers and share per status, in the order of :data:`STATUS_ORDER`.

    Examples
    --------
    >>> status_summary(pd.DataFrame({"status": ["new", "new", "active"]}))["share"].round(2).tolist()
    [0.0, 0.67, 0.0, 0.33, 0.0, 0.0]
    """
    out = (
        status["status"]
        .value_counts()
        .reindex(list(STATUS_ORDER), fill_value=0)
        .rename("customers")
        .rename_axis("status")
        .reset_index()
    )
    total = out["customers"].sum()
    out["share"] = out["customers"] / total if total else np.nan
    return out
