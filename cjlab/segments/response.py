"""Who responds to what: response rate and lift by campaign, channel, device, season and segment.

A customer *responds* to a value of ``by`` (a campaign, a channel, a device, or the derived
``"season"`` / ``"weekday"`` of the touch) when they place an order within ``window_days`` after
any touch with that value. The matching of touches to the next order is an as-of join
(``pandas.merge_asof``), so this step runs in pandas on the touchpoints and orders it is given.

Examples
--------
>>> import pandas as pd
>>> tp = pd.DataFrame({"customer_id": [1, 2], "ts": pd.to_datetime(["2025-03-01", "2025-03-01"]),
...                    "channel": ["email", "email"]})
>>> od = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2025-03-02"])})
>>> response_table(tp, od, "channel", min_customers=1)[["channel", "response_rate"]].values.tolist()
[['email', 0.5]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlab.features import to_pandas

__all__ = ["DERIVED", "lift_matrix", "response_table", "season"]

#: Values of ``by`` derived from the touch time rather than read from a column.
DERIVED = ("season", "weekday")


def season(ts: pd.Series) -> pd.Series:
    """Meteorological season of each timestamp (winter = December to February)."""
    m = ts.dt.month
    return pd.Series(
        np.select(
            [m.isin([12, 1, 2]), m.isin([3, 4, 5]), m.isin([6, 7, 8])],
            ["winter", "spring", "summer"],
            "autumn",
        ),
        index=ts.index,
    )


def _touches(touchpoints: pd.DataFrame, by: str) -> pd.DataFrame:
    tp = touchpoints
    if by == "season":
        tp = tp.assign(season=season(tp["ts"]))
    elif by == "weekday":
        tp = tp.assign(weekday=tp["ts"].dt.day_name())
    if by not in tp.columns:
        raise ValueError(f"touchpoints has no column {by!r}")
    return tp.dropna(subset=[by])[["customer_id", "ts", by]].sort_values("ts")


def response_table(
    touchpoints: pd.DataFrame,
    orders: pd.DataFrame,
    by: str = "campaign",
    segments: pd.Series | pd.DataFrame | None = None,
    window_days: float = 7.0,
    min_customers: int = 30,
) -> pd.DataFrame:
    """Response rate and lift per value of ``by`` and segment.

    Lift = the segment's response rate / the response rate of all customers exposed to that
    value (1 = responds like everyone else).

    Parameters
    ----------
    touchpoints, orders : the contract tables (customer_id, ts; the ``by`` column).
    by : a touchpoint column, or ``"season"`` / ``"weekday"`` of the touch.
    segments : Series (index customer_id) or DataFrame (customer_id, segment) of segment labels;
        None gives one row per value.
    window_days : an order within this many days after a touch answers it.
    min_customers : rows with fewer exposed customers are dropped (rates too noisy).

    Returns
    -------
    DataFrame <by>, segment, exposed, responders, response_rate, overall_rate, lift.
    """
    tp = _touches(to_pandas(touchpoints), by)
    od = to_pandas(orders)[["customer_id", "ts"]].rename(columns={"ts": "order_ts"})
    od = od.sort_values("order_ts")
    m = pd.merge_asof(
        tp, od, left_on="ts", right_on="order_ts", by="customer_id", direction="forward"
    )
    m["resp"] = (m["order_ts"] - m["ts"]).dt.total_seconds() <= window_days * 86400
    per = m.groupby(["customer_id", by], observed=True)["resp"].max().reset_index()
    if segments is None:
        per["segment"] = "all"
    else:
        seg = (
            segments
            if isinstance(segments, pd.Series)
            else segments.set_index("customer_id")["segment"]
        )
        per["segment"] = per["customer_id"].map(seg).fillna("(none)")
    overall = per.groupby(by, observed=True)["resp"].mean().rename("overall_rate")
    g = per.groupby([by, "segment"], observed=True)["resp"]
    out = pd.DataFrame({"exposed": g.size(), "responders": g.sum()}).reset_index()
    out["response_rate"] = out["responders"] / out["exposed"]
    out = out.merge(overall.reset_index(), on=by)
    out["lift"] = out["response_rate"] / out["overall_rate"].replace(0, np.nan)
    out = out[out["exposed"] >= min_customers]
    return out.sort_values([by, "lift"], ascending=[True, False]).reset_index(drop=True)


def lift_matrix(table: pd.DataFrame, by: str, top: int | None = 12) -> pd.DataFrame:
    """Pivot of :func:`response_table`: segments (rows) x values of ``by`` (columns) of lift.

    ``top`` keeps the values with the most exposed customers.
    """
    t = table
    if top is not None:
        keep = t.groupby(by)["exposed"].sum().nlargest(top).index
        t = t[t[by].isin(keep)]
    return t.pivot_table(index="segment", columns=by, values="lift", observed=True)
