"""Point-in-time churn labels and features.

Everything is relative to a *cut-off* date ``c``:

* features use only rows dated strictly before ``c`` (orders and touchpoints by ``ts``, survey
  answers by the end of their wave, customers by ``first_seen``; a cancellation is only known
  once it happened);
* labels use only what happens in ``[c, c + horizon)``.

Two churn definitions:

``"contractual"``
    eligible: customers seen before ``c`` whose contract is still running at ``c``
    (``cancelled_at`` empty or ``>= c``) and who have ordered before ``c`` when an ``orders``
    table is given (``require_order=True``: prospects hold no contract); churned: ``cancelled_at`` in ``[c, c + horizon)``.
``"inactivity"``
    eligible: customers with at least one order before ``c`` (and not cancelled before ``c``);
    churned: no order in ``[c, c + horizon)``.

Examples
--------
>>> import pandas as pd
>>> from cjlab.churn.features import churn_labels
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

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES

__all__ = ["DEFINITIONS", "FEATURE_DESCRIPTIONS", "ChurnDataError", "churn_features",
           "churn_frame", "churn_frames", "churn_labels", "data_end", "rolling_cutoffs"]

DEFINITIONS = ("contractual", "inactivity")

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


def _check_table(tables: Mapping[str, pd.DataFrame], name: str, cols: Sequence[str],
                 required: bool = True) -> pd.DataFrame | None:
    df = tables.get(name)
    if df is None:
        if required:
            raise ChurnDataError(f"table {name!r} is needed (have: {sorted(tables)})")
        return None
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ChurnDataError(f"{name}: missing column(s) {missing}; columns are {list(df.columns)}")
    if "customer_id" in cols and name != "survey_responses":
        n = int(df["customer_id"].isna().sum())
        if n:
            rows = (np.flatnonzero(df["customer_id"].isna().to_numpy())[:5] + 1).tolist()
            raise ChurnDataError(f"{name}.customer_id: {n:,} row(s) without a customer id "
                                 f"(e.g. rows {rows}); fix or drop them first")
    return df


def data_end(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """Latest date seen in orders, touchpoints or customers (first_seen / cancelled_at)."""
    ends = []
    for name, col in (("orders", "ts"), ("touchpoints", "ts"), ("customers", "first_seen"),
                      ("customers", "cancelled_at")):
        df = tables.get(name)
        if df is not None and col in df.columns and len(df):
            m = pd.to_datetime(df[col]).max()
            if pd.notna(m):
                ends.append(m)
    if not ends:
        raise ChurnDataError("no dated rows in customers, orders or touchpoints")
    return max(ends)


def _window(tables, cutoff, horizon_days, observation_end, need_label: bool):
    cut = _ts(cutoff, "cutoff")
    if horizon_days is None or horizon_days <= 0:
        raise ChurnDataError(f"horizon_days must be a positive number of days, got {horizon_days}")
    customers = _check_table(tables, "customers", ["customer_id", "first_seen"])
    first = pd.to_datetime(customers["first_seen"]).min()
    end = _ts(observation_end, "observation_end") if observation_end is not None else data_end(tables)
    if pd.isna(first) or cut <= first:
        raise ChurnDataError(f"cutoff {cut.date()} is outside the data: the first customer was seen "
                             f"on {first.date() if pd.notna(first) else '?'}; nothing is known before it")
    if cut > end + pd.Timedelta(days=1):
        raise ChurnDataError(f"cutoff {cut.date()} is outside the data, which end on {end.date()}")
    if need_label and cut + pd.Timedelta(days=horizon_days) > end + pd.Timedelta(days=1):
        raise ChurnDataError(
            f"horizon of {horizon_days} days after cutoff {cut.date()} ends on "
            f"{(cut + pd.Timedelta(days=horizon_days)).date()}, after the data end ({end.date()}): "
            f"there are no complete labels; use a cutoff on or before "
            f"{(end + pd.Timedelta(days=1) - pd.Timedelta(days=horizon_days)).date()}")
    return cut, end, customers


def _eligible(customers: pd.DataFrame, orders: pd.DataFrame | None, cut: pd.Timestamp,
              definition: str, require_order: bool = True) -> pd.DataFrame:
    c = customers
    first = pd.to_datetime(c["first_seen"])
    keep = first < cut
    if "cancelled_at" in c.columns:
        canc = pd.to_datetime(c["cancelled_at"])
        keep &= canc.isna() | (canc >= cut)
    if definition == "inactivity" and orders is None:
        raise ChurnDataError("the inactivity definition needs the orders table")
    if orders is not None and (require_order or definition == "inactivity"):
        buyers = orders.loc[pd.to_datetime(orders["ts"]) < cut, "customer_id"].unique()
        keep &= c["customer_id"].isin(buyers)
    return c.loc[keep]


def churn_labels(tables: Mapping[str, pd.DataFrame], cutoff: Any, horizon_days: float = 90,
                 definition: str = "contractual", observation_end: Any = None,
                 require_order: bool = True) -> pd.DataFrame:
    """Churn label (0/1) for every customer eligible at ``cutoff``.

    Parameters
    ----------
    tables : contract tables; ``customers`` always, ``orders`` for ``"inactivity"``.
    cutoff : the cut-off date ``c``.
    horizon_days : length of the label window ``[c, c + horizon)`` in days.
    definition : ``"contractual"`` (cancelled in the window) or ``"inactivity"`` (no order in it).
    observation_end : last day of the data (default: the latest date in the tables). The label
        window must end by then.
    require_order : contractual only: count only customers who ordered before ``cutoff``.

    Returns
    -------
    DataFrame ``customer_id, churned`` (one row per eligible customer, sorted by id).

    Raises
    ------
    ChurnDataError : unknown definition, cutoff outside the data, a horizon reaching past the
        data end, missing tables/columns/customer ids, no eligible customers.
    """
    if definition not in DEFINITIONS:
        raise ChurnDataError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    cut, _, customers = _window(tables, cutoff, horizon_days, observation_end, need_label=True)
    orders = _check_table(tables, "orders", ["customer_id", "ts"],
                          required=definition == "inactivity")
    elig = _eligible(customers, orders, cut, definition, require_order)
    if elig.empty:
        raise ChurnDataError(f"no customers are eligible at cutoff {cut.date()} ({definition})")
    stop = cut + pd.Timedelta(days=horizon_days)
    if definition == "contractual":
        if "cancelled_at" not in customers.columns:
            raise ChurnDataError("customers: the contractual definition needs cancelled_at")
        canc = pd.to_datetime(elig["cancelled_at"])
        y = ((canc >= cut) & (canc < stop)).astype(int)
    else:
        ts = pd.to_datetime(orders["ts"])
        buyers = orders.loc[(ts >= cut) & (ts < stop), "customer_id"].unique()
        y = (~elig["customer_id"].isin(buyers)).astype(int)
    out = pd.DataFrame({"customer_id": elig["customer_id"].to_numpy(), "churned": y.to_numpy()})
    return out.sort_values("customer_id").reset_index(drop=True)


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


def churn_features(tables: Mapping[str, pd.DataFrame], cutoff: Any,
                   customer_ids: Sequence[Any] | None = None,
                   definition: str = "contractual", require_order: bool = True) -> pd.DataFrame:
    """Point-in-time features at ``cutoff`` for every eligible customer (or ``customer_ids``).

    Only rows dated strictly before ``cutoff`` are read. Tables other than ``customers`` are
    optional; features of a missing table are left out.

    Parameters
    ----------
    tables : contract tables (pandas). ``customers`` is required.
    cutoff : the cut-off date.
    customer_ids : restrict to these customers (default: all eligible at ``cutoff``).
    definition : eligibility rule (see module docstring).

    Returns
    -------
    DataFrame with ``customer_id``, numeric features (see :data:`FEATURE_DESCRIPTIONS`) and the
    categorical columns ``acquisition_channel`` / ``country`` when present.
    """
    cut = _ts(cutoff, "cutoff")
    customers = _check_table(tables, "customers", ["customer_id", "first_seen"])
    orders = _check_table(tables, "orders", ["customer_id", "ts", "amount"], required=False)
    tps = _check_table(tables, "touchpoints", ["customer_id", "ts"], required=False)
    survey = tables.get("survey_responses")
    if customer_ids is None:
        base = _eligible(customers, orders, cut, definition, require_order)
    else:
        base = customers.loc[customers["customer_id"].isin(list(customer_ids))]
        base = base.loc[pd.to_datetime(base["first_seen"]) < cut]
    keep = ["customer_id", "first_seen"] + [c for c in ("acquisition_channel", "country",
                                                         "marketing_opt_in") if c in base.columns]
    base = base[keep].copy()
    con = duckdb.connect()
    try:
        con.register("base", base)
        out = con.execute("SELECT customer_id, date_diff('day', first_seen::TIMESTAMP, $c) "
                          "AS tenure_days FROM base", {"c": cut}).df()
        if orders is not None:
            cols = orders.columns
            promo = "avg(promo::INT)" if "promo" in cols else "NULL"
            disc = ("sum(discount) / nullif(sum(amount) + sum(discount), 0)"
                    if "discount" in cols else "NULL")
            con.register("o", orders)
            od = con.execute(f"""
                SELECT customer_id, count(*) AS n_orders, count(DISTINCT ts::DATE) AS n_purchase_days,
                  sum(amount) AS spend_total, avg(amount) AS avg_order_value,
                  coalesce(sum(amount) FILTER (WHERE ts >= $c - INTERVAL 365 DAY), 0) AS spend_365d,
                  count(*) FILTER (WHERE ts >= $c - INTERVAL 90 DAY) AS orders_90d,
                  count(*) FILTER (WHERE ts >= $c - INTERVAL 180 DAY AND ts < $c - INTERVAL 90 DAY)
                    AS orders_prev_90d,
                  {promo} AS promo_share, {disc} AS discount_share,
                  date_diff('second', max(ts::TIMESTAMP), $c) / 86400.0 AS recency_days
                FROM o WHERE ts::TIMESTAMP < $c AND customer_id IN (SELECT customer_id FROM base)
                GROUP BY customer_id""", {"c": cut}).df()
            out = out.merge(od, on="customer_id", how="left")
            for col in ("n_orders", "n_purchase_days", "spend_total", "spend_365d", "orders_90d",
                        "orders_prev_90d"):
                out[col] = out[col].fillna(0)
            out["order_trend"] = out["orders_90d"] - out["orders_prev_90d"]
            out["recency_days"] = out["recency_days"].fillna(out["tenure_days"])
        if tps is not None:
            cols = tps.columns
            stage_case = ("CASE stage " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STAGES))
                          + " END") if "stage" in cols else "NULL"
            dev = "device" in cols
            tp_name = "touchpoint" if "touchpoint" in cols else "NULL"
            chan = "channel" if "channel" in cols else "NULL"
            con.register("t", tps)
            td = con.execute(f"""
                SELECT customer_id, count(*) AS n_touchpoints,
                  count(*) FILTER (WHERE ts >= $c - INTERVAL 90 DAY) AS touch_90d,
                  date_diff('second', max(ts::TIMESTAMP), $c) / 86400.0 AS days_since_touch,
                  {"avg((device = 'app')::INT)" if dev else "NULL"} AS app_share,
                  {"avg((device = 'mobile')::INT)" if dev else "NULL"} AS mobile_share,
                  count(*) FILTER (WHERE {tp_name} = 'support_ticket') AS support_tickets,
                  count(*) FILTER (WHERE {tp_name} = 'support_ticket' AND ts >= $c - INTERVAL 90 DAY)
                    AS support_tickets_90d,
                  count(*) FILTER (WHERE {chan} = 'email' AND ({tp_name} ILIKE '%open%' OR
                    {tp_name} ILIKE '%click%') AND ts >= $c - INTERVAL 90 DAY) AS email_opens_90d,
                  max({stage_case}) AS max_stage
                FROM t WHERE ts::TIMESTAMP < $c AND customer_id IN (SELECT customer_id FROM base)
                GROUP BY customer_id""", {"c": cut}).df()
            out = out.merge(td, on="customer_id", how="left")
            for col in ("n_touchpoints", "touch_90d", "support_tickets", "support_tickets_90d",
                        "email_opens_90d"):
                out[col] = out[col].fillna(0)
            out["days_since_touch"] = out["days_since_touch"].fillna(out["tenure_days"])
            out["support_per_year"] = out["support_tickets"] / out["tenure_days"].clip(lower=30) * 365.25
        if survey is not None and "customer_id" in survey.columns and "wave" in survey.columns:
            s = survey.loc[survey["customer_id"].notna()].copy()
            s["__avail"] = _survey_available(s)
            s = s.loc[s["__avail"] < cut]
            if len(s):
                s = s.sort_values("__avail")
                g = s.groupby("customer_id")
                sv = pd.DataFrame({"n_surveys": g.size()})
                if "nps" in s.columns:
                    sv["nps_last"] = s.dropna(subset=["nps"]).groupby("customer_id")["nps"].last()
                if "csat" in s.columns:
                    sv["csat_mean"] = g["csat"].mean()
                out = out.merge(sv.reset_index(), on="customer_id", how="left")
                out["n_surveys"] = out["n_surveys"].fillna(0)
    finally:
        con.close()
    out = base.drop(columns="first_seen").merge(out, on="customer_id", how="left")
    if "marketing_opt_in" in out.columns:
        out["marketing_opt_in"] = out["marketing_opt_in"].astype("float")
    num = [c for c in out.columns if c not in ("customer_id", "acquisition_channel", "country")]
    out[num] = out[num].astype(float)
    return out.sort_values("customer_id").reset_index(drop=True)


def churn_frame(tables: Mapping[str, pd.DataFrame], cutoff: Any, horizon_days: float = 90,
                definition: str = "contractual", observation_end: Any = None,
                require_order: bool = True) -> pd.DataFrame:
    """Features at ``cutoff`` joined with labels from ``[cutoff, cutoff + horizon)``.

    Returns one row per eligible customer: ``customer_id``, the features, ``churned`` and
    ``cutoff`` (so frames of several cut-offs can be stacked for time-aware validation).
    """
    y = churn_labels(tables, cutoff, horizon_days, definition, observation_end, require_order)
    X = churn_features(tables, cutoff, customer_ids=y["customer_id"], definition=definition)
    out = X.merge(y, on="customer_id", how="inner", validate="one_to_one")
    out["cutoff"] = _ts(cutoff, "cutoff")
    return out


def churn_frames(tables: Mapping[str, pd.DataFrame], cutoffs: Sequence[Any],
                 horizon_days: float = 90, definition: str = "contractual",
                 observation_end: Any = None, require_order: bool = True) -> pd.DataFrame:
    """Stack :func:`churn_frame` over several cut-offs (oldest first)."""
    cuts = sorted(_ts(c, "cutoff") for c in cutoffs)
    return pd.concat([churn_frame(tables, c, horizon_days, definition, observation_end,
                                  require_order)
                      for c in cuts], ignore_index=True)


def rolling_cutoffs(end: Any, horizon_days: float, n: int = 4, step_days: float | None = None
                    ) -> list[pd.Timestamp]:
    """``n`` cut-offs, the latest one ``horizon_days`` before ``end`` (labels complete), each
    ``step_days`` (default: the horizon) apart, oldest first."""
    end = _ts(end, "end").normalize() + pd.Timedelta(days=1)
    step = pd.Timedelta(days=step_days or horizon_days)
    last = end - pd.Timedelta(days=horizon_days)
    return [last - k * step for k in range(n - 1, -1, -1)]
