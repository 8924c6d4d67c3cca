"""Per-customer touchpoint aggregates and the joined customer features (portable).

:func:`customer_touchpoints` (totals per customer), :func:`touchpoint_windows` (recent touches,
support tickets and e-mail opens: point-in-time churn features), :func:`furthest_stage` and
:func:`customer_features` (touchpoints and orders joined).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw

from cjlab.data.contract import STAGES
from cjlab.features._frame import as_of_end, back, frame, has, ints, stage_index, up_to
from cjlab.features.orders import customer_orders


def furthest_stage(touchpoints: Any) -> Any:
    """Each customer's furthest lifecycle stage: customer_id, stage_index (0-10), stage."""
    f = frame(touchpoints)
    idx = {s: i for i, s in enumerate(STAGES)}
    f = f.with_columns(stage_index().alias("stage_index"))
    g = f.group_by("customer_id").agg(nw.col("stage_index").max())
    g = g.with_columns(
        nw.col("stage_index")
        .replace_strict({i: s for s, i in idx.items()}, default="unknown", return_dtype=nw.String)
        .alias("stage")
    )
    return back(g, touchpoints)


def customer_touchpoints(touchpoints: Any, as_of: datetime | str | None = None) -> Any:
    """One row per customer from the touchpoints: volume, span, channels, support and app use.

    Parameters
    ----------
    touchpoints : touchpoints table (customer_id, ts, channel, touchpoint, stage, device).
    as_of : analysis day: touchpoints on that day or earlier count.

    Returns
    -------
    Frame with customer_id, n_touchpoints, first_touch, last_touch, n_channels,
    support_tickets (touchpoint ``support_ticket``), app_touchpoints (device ``app``) and
    stage_index (furthest lifecycle stage, 0-10; -1 when no stage is known).
    """
    f = up_to(frame(touchpoints), as_of)
    f = f.with_columns(
        (nw.col("touchpoint") == "support_ticket")
        .fill_null(False)
        .cast(nw.Int64)
        .alias("_support"),
        ((nw.col("device") == "app").fill_null(False) if has(f, "device") else nw.lit(False))
        .cast(nw.Int64)
        .alias("_app"),
        stage_index().alias("_stage"),
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
    g = ints(g, ["n_touchpoints", "support_tickets", "app_touchpoints"])
    return back(g, touchpoints)


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
    t = frame(customer_touchpoints(frame(touchpoints), as_of))
    o = frame(customer_orders(frame(orders), as_of))
    names = o.collect_schema().names()
    j = t.join(o, on="customer_id", how="left")
    counts = [c for c in ("n_orders", "n_purchase_days", "revenue", "promo_orders") if c in names]
    j = j.with_columns(*[nw.col(c).fill_null(0) for c in counts])
    j = j.with_columns((nw.col("app_touchpoints") / nw.col("n_touchpoints")).alias("app_share"))
    if "promo_orders" in names:
        j = j.with_columns(
            nw.when(nw.col("n_orders") > 0)
            .then(nw.col("promo_orders") / nw.col("n_orders"))
            .alias("promo_share")
        )
    return back(j, touchpoints)


def touchpoint_windows(touchpoints: Any, as_of: datetime | str, days: Sequence[int] = (90,)) -> Any:
    """Recent touches per customer and the counts :func:`customer_touchpoints` leaves out.

    Parameters
    ----------
    touchpoints : touchpoints table (customer_id, ts, channel, touchpoint; device optional).
    as_of : the analysis day (touches on that day or earlier count).
    days : window lengths in whole days (the ``d`` days ending with the ``as_of`` day).

    Returns
    -------
    Frame with customer_id, email_opens (e-mail touchpoints named like an open or a click),
    mobile_touchpoints (device ``mobile``; only when touchpoints carry ``device``) and, for each
    ``d``, touchpoints_{d}d, support_tickets_{d}d and email_opens_{d}d.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"customer_id": [1, 1], "channel": ["email", "web"],
    ...                   "touchpoint": ["newsletter_open", "support_ticket"], "stage": "support",
    ...                   "ts": pd.to_datetime(["2025-01-01", "2025-03-30"])})
    >>> touchpoint_windows(t, "2025-03-31", days=(30,)).iloc[0].to_dict()
    {'customer_id': 1, 'email_opens': 1, 'touchpoints_30d': 1, 'support_tickets_30d': 1, 'email_opens_30d': 0}
    """
    end = as_of_end(as_of)
    f = up_to(frame(touchpoints), as_of)
    name = nw.col("touchpoint").str.to_lowercase()
    opened = (nw.col("channel") == "email") & (
        name.str.contains("open") | name.str.contains("click")
    )
    flags = [
        opened.fill_null(False).cast(nw.Int64).alias("_open"),
        (nw.col("touchpoint") == "support_ticket").fill_null(False).cast(nw.Int64).alias("_sup"),
    ]
    aggs, counts = [nw.col("_open").sum().alias("email_opens")], ["email_opens"]
    if has(f, "device"):
        flags.append((nw.col("device") == "mobile").fill_null(False).cast(nw.Int64).alias("_mob"))
        aggs.append(nw.col("_mob").sum().alias("mobile_touchpoints"))
        counts.append("mobile_touchpoints")
    f = f.with_columns(*flags)
    for d in days:
        inside = (nw.col("ts") >= end - timedelta(days=int(d))).fill_null(False).cast(nw.Int64)
        f = f.with_columns(inside.alias(f"_in{d}"))
        f = f.with_columns(
            (nw.col(f"_in{d}") * nw.col("_sup")).alias(f"_sup{d}"),
            (nw.col(f"_in{d}") * nw.col("_open")).alias(f"_open{d}"),
        )
        aggs += [
            nw.col(f"_in{d}").sum().alias(f"touchpoints_{d}d"),
            nw.col(f"_sup{d}").sum().alias(f"support_tickets_{d}d"),
            nw.col(f"_open{d}").sum().alias(f"email_opens_{d}d"),
        ]
        counts += [f"touchpoints_{d}d", f"support_tickets_{d}d", f"email_opens_{d}d"]
    g = f.group_by("customer_id").agg(*aggs)
    return back(ints(g, counts), touchpoints)
