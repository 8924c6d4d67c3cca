"""Churn labels at cut-off days, and the definition and horizon that follow the data.

Everything is relative to a *cut-off* day ``c`` (a date; the label window starts on it):
labels use only what happens in ``[c, c + horizon)``; eligibility uses only what was known
before ``c`` (orders by the :mod:`cjlab.features` aggregates as of the day before ``c``).

Two churn definitions (:data:`DEFINITIONS`):

``"contractual"``
    eligible: customers seen before ``c`` whose contract is still running at ``c``
    (``cancelled_at`` empty or ``>= c``) and who have ordered before ``c`` when an ``orders``
    table is given (``require_order=True``: prospects hold no contract); churned:
    ``cancelled_at`` in ``[c, c + horizon)``.
``"inactivity"``
    eligible: customers with at least one order before ``c`` (and not cancelled before ``c``;
    with ``active_days``, an order in those days before ``c``); churned: no order in
    ``[c, c + horizon)``.

:func:`choose_definition` picks the default from the data (contractual when
``customers.cancelled_at`` holds values) and :func:`inactivity_horizon` derives the horizon of
the inactivity definition from the gaps between purchases.

Examples
--------
>>> import pandas as pd
>>> customers = pd.DataFrame({"customer_id": [1, 2, 3],
...     "first_seen": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-05-01"]),
...     "cancelled_at": pd.to_datetime(["2025-03-10", None, None])})
>>> churn_labels({"customers": customers}, "2025-03-01", horizon_days=30,
...              observation_end="2025-06-30")
   customer_id  churned
0            1        1
1            2        0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from cjlab import features as ft
from cjlab import formatting as fmt
from cjlab.data.contract import pii_columns
from cjlab.features.orders import order_windows, purchase_gap_counts

__all__ = [
    "DEFINITIONS",
    "ChurnDataError",
    "choose_definition",
    "churn_labels",
    "data_end",
    "has_cancellations",
    "inactivity_horizon",
    "rolling_cutoffs",
]

DEFINITIONS = ("contractual", "inactivity")


class ChurnDataError(ValueError):
    """Input that cannot give point-in-time churn labels or features."""


def _ts(v: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError) as exc:
        raise ChurnDataError(f"{name}={v!r} is not a date") from exc
    if pd.isna(ts):
        raise ChurnDataError(f"{name} is missing")
    return ts.tz_localize(None) if ts.tzinfo is None else ts.tz_convert("UTC").tz_localize(None)


def _cut(v: Any) -> pd.Timestamp:
    """A cut-off day (midnight): the label window starts on it."""
    return _ts(v, "cutoff").normalize()


def _as_of(cut: pd.Timestamp) -> pd.Timestamp:
    """The as-of day of the features at cut-off ``cut``: the day before it."""
    return cut - pd.Timedelta(days=1)


def _check_table(
    tables: Mapping[str, Any], name: str, cols: Sequence[str], required: bool = True
) -> Any:
    df = tables.get(name)
    if df is None:
        if required:
            raise ChurnDataError(f"table {name!r} is needed (have: {sorted(tables)})")
        return None
    have = ft.columns(df)
    missing = [c for c in cols if c not in have]
    if missing:
        raise ChurnDataError(f"{name}: missing column(s) {missing}; columns are {have}")
    if isinstance(df, pd.DataFrame) and "customer_id" in cols and name != "survey_responses":
        n = int(df["customer_id"].isna().sum())
        if n:
            rows = (np.flatnonzero(df["customer_id"].isna().to_numpy())[:5] + 1).tolist()
            raise ChurnDataError(
                f"{name}.customer_id: {n:,} row(s) without a customer id "
                f"(e.g. rows {rows}); fix or drop them first"
            )
    return df


def _customers(tables: Mapping[str, Any]) -> pd.DataFrame:
    c = ft.to_pandas(_check_table(tables, "customers", ["customer_id", "first_seen"]))
    return c.drop(columns=[p for p in pii_columns("customers") if p in c.columns])


def _latest(df: Any, col: str) -> pd.Timestamp | None:
    m = ft.to_pandas(nw.from_native(df).lazy().select(nw.col(col).max()))[col].iloc[0]
    return None if pd.isna(m) else pd.Timestamp(m)


def data_end(tables: Mapping[str, Any]) -> pd.Timestamp:
    """Latest date seen in orders, touchpoints or customers (first_seen / cancelled_at)."""
    ends = []
    for name, col in (
        ("orders", "ts"),
        ("touchpoints", "ts"),
        ("customers", "first_seen"),
        ("customers", "cancelled_at"),
    ):
        df = tables.get(name)
        if df is not None and ft.has(df, col):
            m = _latest(df, col)
            if m is not None:
                ends.append(m)
    if not ends:
        raise ChurnDataError("no dated rows in customers, orders or touchpoints")
    return max(ends)


def has_cancellations(customers: pd.DataFrame) -> bool:
    """True when ``customers.cancelled_at`` exists and holds at least one date."""
    return "cancelled_at" in customers.columns and bool(customers["cancelled_at"].notna().any())


def choose_definition(tables: Mapping[str, Any], churn_definition: str = "") -> tuple[str, str]:
    """The churn definition to use and a sentence saying why.

    ``""``/``"auto"``: contractual when ``customers.cancelled_at`` holds values, otherwise
    inactivity (which needs the orders table).
    """
    wanted = (churn_definition or "auto").strip().lower()
    if wanted not in (*DEFINITIONS, "auto"):
        raise ChurnDataError(
            f"churn_definition must be one of {(*DEFINITIONS, 'auto')}, got {churn_definition!r}"
        )
    cust = _customers(tables)
    if wanted != "auto":
        return wanted, f"{wanted} (set by the churn_definition parameter)"
    if has_cancellations(cust):
        return "contractual", "contractual: the customers table records cancellations"
    if tables.get("orders") is None:
        raise ChurnDataError(
            "neither cancellations (customers.cancelled_at) nor orders: churn cannot be defined"
        )
    return "inactivity", (
        "inactivity (no order within the horizon): the customers table records no cancellations"
    )


def inactivity_horizon(
    orders: Any, as_of: Any = None, quantile: float = 0.9, min_gaps: int = 30
) -> tuple[int, str]:
    """Horizon (whole weeks of days) of the inactivity definition, from the purchase gaps.

    The ``quantile`` of the gaps between two purchase days of the same customer, rounded up
    to whole weeks: a customer who has not bought for that long has waited longer than
    ``quantile`` of all gaps between purchases. Returns ``(days, sentence)``.
    """
    g = ft.to_pandas(purchase_gap_counts(orders, as_of)).sort_values("gap_days")
    total = int(g["n"].sum()) if len(g) else 0
    if total < min_gaps:
        raise ChurnDataError(
            f"only {total} repeat purchases: too few to derive an inactivity "
            "horizon; set horizon_days"
        )
    cum = g["n"].cumsum().to_numpy() / total
    q = float(g["gap_days"].to_numpy()[np.searchsorted(cum, quantile)])
    days = max(7, 7 * math.ceil(q / 7))
    return days, (
        f"horizon {days} days: {fmt.share(quantile)} of the {total:,} gaps between two "
        f"purchases of a customer are {q:.0f} days or shorter"
    )


def _window(tables, cutoff, horizon_days, observation_end, need_label: bool):
    cut = _cut(cutoff)
    if horizon_days is None or horizon_days <= 0:
        raise ChurnDataError(f"horizon_days must be a positive number of days, got {horizon_days}")
    customers = _customers(tables)
    first = pd.to_datetime(customers["first_seen"]).min()
    end = (
        _ts(observation_end, "observation_end") if observation_end is not None else data_end(tables)
    )
    if pd.isna(first) or cut <= first:
        raise ChurnDataError(
            f"cutoff {cut.date()} is outside the data: the first customer was seen "
            f"on {first.date() if pd.notna(first) else '?'}; nothing is known before it"
        )
    if cut > end + pd.Timedelta(days=1):
        raise ChurnDataError(f"cutoff {cut.date()} is outside the data, which end on {end.date()}")
    if need_label and cut + pd.Timedelta(days=horizon_days) > end + pd.Timedelta(days=1):
        raise ChurnDataError(
            f"horizon of {horizon_days} days after cutoff {cut.date()} ends on "
            f"{(cut + pd.Timedelta(days=horizon_days)).date()}, after the data end ({end.date()}): "
            f"there are no complete labels; use a cutoff on or before "
            f"{(end + pd.Timedelta(days=1) - pd.Timedelta(days=horizon_days)).date()}"
        )
    return cut, end, customers


def _buyers(orders: Any, cut: pd.Timestamp) -> pd.Index:
    """Customers with an order before the cut-off day."""
    return pd.Index(ft.to_pandas(ft.customer_orders(orders, as_of=_as_of(cut)))["customer_id"])


def _eligible(
    customers: pd.DataFrame,
    orders: Any,
    cut: pd.Timestamp,
    churn_definition: str,
    require_order: bool = True,
    active_days: int | None = None,
) -> pd.DataFrame:
    c = customers
    keep = pd.to_datetime(c["first_seen"]) < cut
    if "cancelled_at" in c.columns:
        canc = pd.to_datetime(c["cancelled_at"])
        keep &= canc.isna() | (canc >= cut)
    if churn_definition == "inactivity" and orders is None:
        raise ChurnDataError("the inactivity definition needs the orders table")
    if orders is not None and (require_order or churn_definition == "inactivity"):
        keep &= c["customer_id"].isin(_buyers(orders, cut))
    if active_days and churn_definition == "inactivity":
        w = ft.to_pandas(order_windows(orders, _as_of(cut), days=(int(active_days),)))
        keep &= c["customer_id"].isin(w.loc[w[f"orders_{int(active_days)}d"] > 0, "customer_id"])
    return c.loc[keep]


def churn_labels(
    tables: Mapping[str, Any],
    cutoff: Any,
    horizon_days: int = 90,
    churn_definition: str = "contractual",
    observation_end: Any = None,
    require_order: bool = True,
    active_days: int | None = None,
) -> pd.DataFrame:
    """Churn label (0/1) for every customer eligible at ``cutoff``.

    Parameters
    ----------
    tables : contract tables (pandas, DuckDB or Spark frames); ``customers`` always,
        ``orders`` for ``"inactivity"``.
    cutoff : the cut-off day ``c``.
    horizon_days : length of the label window ``[c, c + horizon)`` in whole days.
    churn_definition : ``"contractual"`` (cancelled in the window) or ``"inactivity"`` (no
        order in it).
    observation_end : last day of the data (default: the latest date in the tables). The label
        window must end by then.
    require_order : contractual only: count only customers who ordered before ``cutoff``.
    active_days : inactivity only: count only customers with an order in the ``active_days``
        before ``cutoff`` (those inactive for longer are already gone; the analysis passes the
        horizon).

    Returns
    -------
    DataFrame ``customer_id, churned`` (one row per eligible customer, sorted by id).

    Raises
    ------
    ChurnDataError : unknown definition, cutoff outside the data, a horizon reaching past the
        data end, missing tables/columns/customer ids, no eligible customers.
    """
    if churn_definition not in DEFINITIONS:
        raise ChurnDataError(
            f"churn_definition must be one of {DEFINITIONS}, got {churn_definition!r}"
        )
    cut, _, customers = _window(tables, cutoff, horizon_days, observation_end, need_label=True)
    orders = _check_table(
        tables, "orders", ["customer_id", "ts"], required=churn_definition == "inactivity"
    )
    elig = _eligible(customers, orders, cut, churn_definition, require_order, active_days)
    if elig.empty:
        raise ChurnDataError(
            f"no customers are eligible at cutoff {cut.date()} ({churn_definition})"
        )
    stop = cut + pd.Timedelta(days=horizon_days)
    if churn_definition == "contractual":
        if "cancelled_at" not in customers.columns:
            raise ChurnDataError("customers: the contractual definition needs cancelled_at")
        canc = pd.to_datetime(elig["cancelled_at"])
        y = ((canc >= cut) & (canc < stop)).astype(int)
    else:
        w = ft.to_pandas(order_windows(orders, _as_of(stop), days=(int(horizon_days),)))
        came_back = w.loc[w[f"orders_{int(horizon_days)}d"] > 0, "customer_id"]
        y = (~elig["customer_id"].isin(came_back)).astype(int)
    out = pd.DataFrame({"customer_id": elig["customer_id"].to_numpy(), "churned": y.to_numpy()})
    return out.sort_values("customer_id").reset_index(drop=True)


def rolling_cutoffs(
    end: Any, horizon_days: int, n: int = 4, step_days: int | None = None
) -> list[pd.Timestamp]:
    """``n`` cut-offs, the latest one ``horizon_days`` before ``end`` (labels complete), each
    ``step_days`` (default: the horizon) apart, oldest first."""
    end = _ts(end, "end").normalize() + pd.Timedelta(days=1)
    step = pd.Timedelta(days=step_days or horizon_days)
    last = end - pd.Timedelta(days=horizon_days)
    return [last - k * step for k in range(n - 1, -1, -1)]
