"""Point-in-time churn features and frames at cut-off days, and the customers-only snapshot.

Features at a cut-off day ``c`` are :mod:`cjlab.features` aggregates **as of the day before**
``c`` (the one as-of convention: facts dated on the ``as_of`` day or earlier count), so only
facts dated before ``c`` are read (orders and touchpoints by ``ts``, survey answers by the end of
their wave, customers by ``first_seen``). A frame joins them with the labels of
:mod:`cjlab.churn.labels`. Absent optional tables and columns simply give no such feature (no
promo column, no ``promo_share``).

:func:`snapshot_frame` is the frame of customers-only data with ``cancelled_at`` (one row per
customer, such as IBM's telco file): tenure and every extra customer column as features,
``cancelled_at`` as label.

Examples
--------
>>> import pandas as pd
>>> customers = pd.DataFrame({"customer_id": [1, 2], "cancelled_at": [pd.NaT, pd.NaT],
...                           "first_seen": pd.to_datetime(["2025-01-01", "2025-02-01"])})
>>> orders = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [1, 2, 3],
...                        "amount": [10.0, 20.0, 5.0],
...                        "ts": pd.to_datetime(["2025-01-05", "2025-02-20", "2025-02-02"])})
>>> f = churn_features({"customers": customers, "orders": orders}, "2025-03-01")
>>> f[["customer_id", "n_orders", "spend_total", "recency_days"]]
   customer_id  n_orders  spend_total  recency_days
0            1       2.0         30.0           9.0
1            2       1.0          5.0          27.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from cjlab import features as ft
from cjlab.churn.labels import (
    DEFINITIONS,
    ChurnDataError,
    _as_of,
    _check_table,
    _customers,
    _cut,
    _eligible,
    _ts,
    choose_definition,
    churn_labels,
    data_end,
    has_cancellations,
    inactivity_horizon,
    rolling_cutoffs,
)
from cjlab.data.contract import pii_columns
from cjlab.features.orders import order_windows
from cjlab.features.touchpoints import touchpoint_windows

__all__ = [
    "DEFINITIONS",
    "FEATURE_DESCRIPTIONS",
    "ChurnDataError",
    "choose_definition",
    "churn_features",
    "churn_frame",
    "churn_frames",
    "churn_labels",
    "data_end",
    "has_cancellations",
    "inactivity_horizon",
    "rolling_cutoffs",
    "snapshot_frame",
]

CATEGORICAL = ("acquisition_channel", "country")

#: What each feature means (for reports and the at-risk list's "top reasons").
FEATURE_DESCRIPTIONS: dict[str, str] = {
    "tenure_days": "days since first seen",
    "recency_days": "days since the last order",
    "n_orders": "orders so far",
    "n_purchase_days": "distinct purchase days so far",
    "spend_total": "spend so far",
    "avg_order_value": "average order value",
    "spend_365d": "spend in the last 365 days",
    "orders_90d": "orders in the last 90 days",
    "orders_prev_90d": "orders 91-180 days ago",
    "order_trend": "orders last 90 days minus the 90 days before",
    "promo_share": "share of orders with a promotion",
    "discount_share": "discount as a share of list value",
    "n_touchpoints": "touchpoints so far",
    "touch_90d": "touchpoints in the last 90 days",
    "days_since_touch": "days since the last touchpoint",
    "app_share": "share of touchpoints in the app",
    "mobile_share": "share of touchpoints on mobile web",
    "support_tickets": "support tickets so far",
    "support_tickets_90d": "support tickets in the last 90 days",
    "support_per_year": "support tickets per year of tenure",
    "email_opens_90d": "e-mail opens/clicks in the last 90 days",
    "max_stage": "furthest lifecycle stage reached (0 = awareness)",
    "nps_last": "last NPS answer (0-10)",
    "csat_mean": "mean CSAT answer (1-5)",
    "n_surveys": "survey answers so far",
    "marketing_opt_in": "has marketing consent",
}


def _survey_available(survey: pd.DataFrame) -> pd.Series:
    """When each survey answer became known: its ``ts``/``answered_at`` or the end of its wave."""
    for col in ("answered_at", "ts", "responded_at"):
        if col in survey.columns:
            return pd.to_datetime(survey[col])
    waves = survey["wave"].astype(str)
    ends = {}
    for w in waves.unique():
        try:
            ends[w] = pd.Period(w).end_time.floor("D")
        except (ValueError, TypeError):
            ends[w] = pd.NaT  # a free-text wave label cannot be placed in time: not used
    return waves.map(ends)


def _order_features(orders: Any, cut: pd.Timestamp) -> pd.DataFrame:
    """Order features before the cut-off day (from :mod:`cjlab.features`)."""
    o = ft.to_pandas(ft.customer_orders(orders, as_of=_as_of(cut)))
    w = ft.to_pandas(order_windows(orders, _as_of(cut), days=(90, 180, 365)))
    o = o.merge(w, on="customer_id", how="left")
    out = pd.DataFrame(
        {
            "customer_id": o["customer_id"],
            "n_orders": o["n_orders"],
            "n_purchase_days": o["n_purchase_days"],
            "spend_total": o["revenue"],
            "avg_order_value": o["mean_order_value"],
            "spend_365d": o["revenue_365d"],
            "orders_90d": o["orders_90d"],
            "orders_prev_90d": o["orders_180d"] - o["orders_90d"],
        }
    )
    if "promo_orders" in o.columns:
        out["promo_share"] = o["promo_orders"] / o["n_orders"]
    if "discount" in o.columns:
        listed = o["revenue"] + o["discount"]
        out["discount_share"] = (o["discount"] / listed).where(listed != 0)
    out["recency_days"] = (cut - pd.to_datetime(o["last_order"])).dt.total_seconds() / 86400
    return out


def _touch_features(touchpoints: Any, cut: pd.Timestamp) -> pd.DataFrame:
    """Touchpoint features before the cut-off day (from :mod:`cjlab.features`)."""
    t = ft.to_pandas(ft.customer_touchpoints(touchpoints, as_of=_as_of(cut)))
    w = ft.to_pandas(touchpoint_windows(touchpoints, _as_of(cut), days=(90,)))
    t = t.merge(w, on="customer_id", how="left")
    out = pd.DataFrame(
        {
            "customer_id": t["customer_id"],
            "n_touchpoints": t["n_touchpoints"],
            "touch_90d": t["touchpoints_90d"],
            "days_since_touch": (cut - pd.to_datetime(t["last_touch"])).dt.total_seconds() / 86400,
        }
    )
    if ft.has(touchpoints, "device"):
        out["app_share"] = t["app_touchpoints"] / t["n_touchpoints"]
        out["mobile_share"] = t["mobile_touchpoints"] / t["n_touchpoints"]
    out["support_tickets"] = t["support_tickets"]
    out["support_tickets_90d"] = t["support_tickets_90d"]
    out["email_opens_90d"] = t["email_opens_90d"]
    out["max_stage"] = t["stage_index"].where(t["stage_index"] >= 0)
    return out


def _survey_features(survey: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame | None:
    """Survey answers known before the cut-off day: count, last NPS, mean CSAT.

    (The survey table is small; it is aggregated here in pandas.)
    """
    s = survey.loc[survey["customer_id"].notna()].copy()
    s["__avail"] = _survey_available(s)
    s = s.loc[s["__avail"] < cut]
    if not len(s):
        return None
    s = s.sort_values("__avail")
    g = s.groupby("customer_id")
    sv = pd.DataFrame({"n_surveys": g.size()})
    if "nps" in s.columns:
        sv["nps_last"] = s.dropna(subset=["nps"]).groupby("customer_id")["nps"].last()
    if "csat" in s.columns:
        sv["csat_mean"] = g["csat"].mean()
    return sv.reset_index()


def _fill(out: pd.DataFrame, zero: Sequence[str], tenure_like: Sequence[str]) -> None:
    for col in zero:
        if col in out.columns:
            out[col] = out[col].fillna(0)
    for col in tenure_like:
        if col in out.columns:
            out[col] = out[col].fillna(out["tenure_days"])


def churn_features(
    tables: Mapping[str, Any],
    cutoff: Any,
    customer_ids: Sequence[Any] | None = None,
    churn_definition: str = "contractual",
    require_order: bool = True,
    active_days: int | None = None,
) -> pd.DataFrame:
    """Point-in-time features at ``cutoff`` for every eligible customer (or ``customer_ids``).

    The :mod:`cjlab.features` aggregates as of the day before ``cutoff``. Tables other than
    ``customers`` are optional; features of a missing table or column are left out.

    Parameters
    ----------
    tables : contract tables (pandas, or DuckDB / Spark frames for orders and touchpoints).
    cutoff : the cut-off day.
    customer_ids : restrict to these customers (default: all eligible at ``cutoff``).
    churn_definition, require_order, active_days : eligibility rule (see :func:`churn_labels`).

    Returns
    -------
    DataFrame with ``customer_id``, numeric features (see :data:`FEATURE_DESCRIPTIONS`) and the
    categorical columns ``acquisition_channel`` / ``country`` when present.
    """
    cut = _cut(cutoff)
    customers = _customers(tables)
    orders = _check_table(tables, "orders", ["customer_id", "ts", "amount"], required=False)
    tps = _check_table(tables, "touchpoints", ["customer_id", "ts"], required=False)
    survey = tables.get("survey_responses")
    if customer_ids is None:
        base = _eligible(customers, orders, cut, churn_definition, require_order, active_days)
    else:
        base = customers.loc[customers["customer_id"].isin(list(customer_ids))]
        base = base.loc[pd.to_datetime(base["first_seen"]) < cut]
    keep = ["customer_id"] + [c for c in (*CATEGORICAL, "marketing_opt_in") if c in base.columns]
    out = base[keep].copy()
    out["tenure_days"] = (cut - pd.to_datetime(base["first_seen"])).dt.days.to_numpy()
    if orders is not None:
        out = out.merge(_order_features(orders, cut), on="customer_id", how="left")
        out["order_trend"] = out["orders_90d"].fillna(0) - out["orders_prev_90d"].fillna(0)
        _fill(
            out,
            (
                "n_orders",
                "n_purchase_days",
                "spend_total",
                "spend_365d",
                "orders_90d",
                "orders_prev_90d",
            ),
            ("recency_days",),
        )
    if tps is not None:
        out = out.merge(_touch_features(tps, cut), on="customer_id", how="left")
        _fill(
            out,
            (
                "n_touchpoints",
                "touch_90d",
                "support_tickets",
                "support_tickets_90d",
                "email_opens_90d",
            ),
            ("days_since_touch",),
        )
        out["support_per_year"] = (
            out["support_tickets"] / out["tenure_days"].clip(lower=30) * 365.25
        )
    if survey is not None and ft.has(survey, "customer_id", "wave"):
        sv = _survey_features(ft.to_pandas(survey), cut)
        if sv is not None:
            out = out.merge(sv, on="customer_id", how="left")
            out["n_surveys"] = out["n_surveys"].fillna(0)
    num = [c for c in out.columns if c not in ("customer_id", *CATEGORICAL)]
    out[num] = out[num].astype(float)
    return out.sort_values("customer_id").reset_index(drop=True)


def churn_frame(
    tables: Mapping[str, Any],
    cutoff: Any,
    horizon_days: int = 90,
    churn_definition: str = "contractual",
    observation_end: Any = None,
    require_order: bool = True,
    active_days: int | None = None,
) -> pd.DataFrame:
    """Features at ``cutoff`` joined with labels from ``[cutoff, cutoff + horizon)``.

    Returns one row per eligible customer: ``customer_id``, the features, ``churned`` and
    ``cutoff`` (so frames of several cut-offs can be stacked for time-aware validation).
    """
    y = churn_labels(
        tables, cutoff, horizon_days, churn_definition, observation_end, require_order, active_days
    )
    X = churn_features(
        tables, cutoff, customer_ids=y["customer_id"], churn_definition=churn_definition
    )
    out = X.merge(y, on="customer_id", how="inner", validate="one_to_one")
    out["cutoff"] = _cut(cutoff)
    return out


def churn_frames(
    tables: Mapping[str, Any],
    cutoffs: Sequence[Any],
    horizon_days: int = 90,
    churn_definition: str = "contractual",
    observation_end: Any = None,
    require_order: bool = True,
    active_days: int | None = None,
) -> pd.DataFrame:
    """Stack :func:`churn_frame` over several cut-offs (oldest first)."""
    cuts = sorted(_cut(c) for c in cutoffs)
    return pd.concat(
        [
            churn_frame(
                tables,
                c,
                horizon_days,
                churn_definition,
                observation_end,
                require_order,
                active_days,
            )
            for c in cuts
        ],
        ignore_index=True,
    )


def snapshot_frame(customers: pd.DataFrame, as_of: Any = None) -> pd.DataFrame:
    """The churn frame of customers-only snapshot data (one row per customer, no history).

    ``churned`` = ``cancelled_at`` on or before ``as_of`` (default: the latest date in the
    table); features: ``tenure_days`` (first seen to cancellation or ``as_of``) and every extra
    column of ``customers`` that holds values (numbers as numbers, the rest as categories),
    e.g. the contract type and monthly charges of IBM's telco file. Personal data columns and
    ``birth_date`` are never features.
    """
    c = customers.drop(columns=[p for p in pii_columns("customers") if p in customers.columns])
    if not has_cancellations(c):
        raise ChurnDataError("snapshot data need customers.cancelled_at with at least one date")
    first, canc = pd.to_datetime(c["first_seen"]), pd.to_datetime(c["cancelled_at"])
    end = _ts(as_of, "as_of") if as_of is not None else max(first.max(), canc.max())
    gone = canc.notna() & (canc < end.normalize() + pd.Timedelta(days=1))
    out = pd.DataFrame({"customer_id": c["customer_id"].to_numpy()})
    out["tenure_days"] = ((canc.where(gone, end) - first).dt.total_seconds() / 86400).to_numpy()
    for col in c.columns:
        if (
            col in ("customer_id", "first_seen", "cancelled_at", "birth_date")
            or c[col].isna().all()
        ):
            continue
        s = c[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype(float).to_numpy()
        elif not pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.astype("string").to_numpy()
    out["churned"] = gone.astype(int).to_numpy()
    return out
