"""Behavioural features per customer, the input of behavioural segments (portable aggregation).

Every count runs as a group-by on the backend of the tables (pandas, DuckDB, Spark ...); only
the per-customer (and per customer and value) counts come to pandas, where the shares are
pivoted into one row per customer. Feature groups whose inputs are absent are left out, and
:func:`missing_inputs` says which data would add them.

Features (see :func:`behaviour_features`):

* touchpoints: ``device_<d>`` and ``channel_<c>`` shares of the customer's touches, ``touches``
  (log1p count), ``stage_reached`` (furthest lifecycle stage), ``support_tickets``;
* orders: ``orders`` (log1p count), ``spend_mean`` (log1p mean amount), ``promo_share``,
  ``discount_share``, ``holiday_share`` (orders in November/December), ``birthday_share``
  (orders within 14 days of the birthday), ``order_<channel>`` and ``category_<c>`` shares;
* survey (``include_survey``): mean touchpoint rating and NPS of the latest response.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": [1, 1, 2], "amount": [10.0, 30.0, 5.0],
...                        "ts": pd.to_datetime(["2025-11-02", "2025-03-01", "2025-02-01"])})
>>> behaviour_features({"orders": orders})["holiday_share"].tolist()
[0.5, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from cjlab.features._frame import frame, has, to_pandas, up_to
from cjlab.features.orders import customer_orders
from cjlab.features.touchpoints import customer_touchpoints

__all__ = ["HOLIDAY_MONTHS", "PASSIVE_TOUCHPOINTS", "behaviour_features", "missing_inputs"]

HOLIDAY_MONTHS = (11, 12)
#: Touchpoints that every subscriber receives (not the customer's own choice of channel).
PASSIVE_TOUCHPOINTS = ("newsletter_open",)
#: Optional inputs of the order features: (table, column) -> what they add.
OPTIONAL_INPUTS: dict[tuple[str, str], str] = {
    ("orders", "promo"): "promotions",
    ("orders", "discount"): "discounts",
    ("orders", "channel"): "order channels",
    ("orders", "product_category"): "product categories",
    ("customers", "birth_date"): "birthday purchases",
}


def _value_counts(f: nw.LazyFrame, col: str) -> pd.DataFrame:
    """Rows per customer and value of ``col`` (nulls left out): customer_id, col, n."""
    f = f.filter(~nw.col(col).is_null())
    return to_pandas(f.group_by("customer_id", col).agg(nw.len().alias("n")).to_native())


def _pivot_shares(
    counts: pd.DataFrame, col: str, prefix: str, values: Sequence[str] | None = None
) -> pd.DataFrame:
    """Long per-customer counts (customer_id, col, n) -> one row per customer of shares."""
    c = counts
    if values is not None:
        c = c[c[col].astype(str).isin(values)]
    wide = c.pivot_table(
        index="customer_id", columns=c[col].astype(str), values="n", aggfunc="sum", fill_value=0
    )
    if values is not None:
        wide = wide.reindex(columns=list(values), fill_value=0)
    wide = wide.astype(float)
    shares = wide.div(wide.sum(axis=1).replace(0, np.nan), axis=0)
    shares.columns = [f"{prefix}{v}" for v in shares.columns]
    shares.columns.name = None
    return shares


def _frequent(counts: pd.DataFrame, col: str, min_share: float) -> list[str]:
    tot = counts.groupby(counts[col].astype(str))["n"].sum()
    share = tot / tot.sum() if tot.sum() else tot
    return sorted(share.index[share >= min_share])


def _touch_features(
    tp: nw.LazyFrame, od: nw.LazyFrame | None, min_share: float
) -> list[pd.DataFrame]:
    parts = []
    if has(tp, "device"):
        parts.append(_pivot_shares(_value_counts(tp, "device"), "device", "device_"))
    # channel mix of the customer's own choices: touches before the first order (or all, for
    # non-buyers), without opens of newsletters every subscriber receives
    pre = tp
    if od is not None:
        first = frame(customer_orders(od)).select(
            "customer_id", nw.col("first_order").alias("_first")
        )
        pre = pre.join(first, on="customer_id", how="left")
        pre = pre.filter(nw.col("_first").is_null() | (nw.col("ts") < nw.col("_first")))
    if has(tp, "touchpoint"):
        pre = pre.filter(~nw.col("touchpoint").is_in(list(PASSIVE_TOUCHPOINTS)).fill_null(False))
    ch = _value_counts(pre, "channel")
    parts.append(_pivot_shares(ch, "channel", "channel_", _frequent(ch, "channel", min_share)))
    t = to_pandas(customer_touchpoints(tp)).set_index("customer_id")
    f = pd.DataFrame(
        {
            "touches": np.log1p(t["n_touchpoints"].astype(float)),
            "stage_reached": t["stage_index"].astype(float).where(t["stage_index"] >= 0),
        }
    )
    f["support_tickets"] = t["support_tickets"].astype(float)
    parts.append(f)
    return parts


def _order_flags(od: nw.LazyFrame, customers: Any) -> pd.DataFrame:
    """Per customer: holiday orders, discount sum and birthday orders (one group-by)."""
    f = od.with_columns(
        nw.col("ts").dt.month().is_in(list(HOLIDAY_MONTHS)).cast(nw.Int64).alias("_hol")
    )
    aggs = [nw.col("_hol").sum().alias("holiday_orders")]
    if has(f, "discount"):
        f = f.with_columns(nw.col("discount").cast(nw.Float64).alias("_disc"))
        aggs.append(nw.col("_disc").sum().alias("discount"))
    if customers is not None and has(customers, "birth_date"):
        bd = frame(customers).select(
            "customer_id", nw.col("birth_date").cast(nw.Datetime()).alias("_bd")
        )
        f = f.join(bd, on="customer_id", how="left")
        dist = (nw.col("ts").dt.ordinal_day() - nw.col("_bd").dt.ordinal_day()).abs()
        near = ((dist <= 14) | (365 - dist <= 14)).fill_null(False).cast(nw.Int64)
        f = f.with_columns(near.alias("_bday"))
        aggs.append(nw.col("_bday").sum().alias("birthday_orders"))
    return to_pandas(f.group_by("customer_id").agg(*aggs).to_native()).set_index("customer_id")


def _order_features(od: nw.LazyFrame, customers: Any, min_share: float) -> list[pd.DataFrame]:
    parts = []
    if has(od, "channel"):
        parts.append(_pivot_shares(_value_counts(od, "channel"), "channel", "order_"))
    if has(od, "product_category"):
        cc = _value_counts(od, "product_category")
        keep = _frequent(cc, "product_category", min_share)
        parts.append(_pivot_shares(cc, "product_category", "category_", keep))
    o = to_pandas(customer_orders(od)).set_index("customer_id")
    n = o["n_orders"].astype(float)
    f = pd.DataFrame(
        {"orders": np.log1p(n), "spend_mean": np.log1p(o["mean_order_value"].astype(float))}
    )
    if "promo_orders" in o.columns:
        f["promo_share"] = o["promo_orders"].astype(float) / n
    flags = _order_flags(od, customers).reindex(o.index)
    if "discount" in flags.columns:
        tot = o["revenue"].astype(float) + flags["discount"]
        f["discount_share"] = flags["discount"] / tot.replace(0, np.nan)
    f["holiday_share"] = flags["holiday_orders"].astype(float) / n
    if "birthday_orders" in flags.columns:
        f["birthday_share"] = flags["birthday_orders"].astype(float) / n
    parts.append(f)
    return parts


def _survey_features(survey: Any) -> list[pd.DataFrame]:
    sv = to_pandas(survey).dropna(subset=["customer_id"])
    rcols = [c for c in sv.columns if c.startswith("rating_")]
    if not len(sv) or not rcols:
        return []
    last = sv.sort_values("wave").groupby("customer_id").tail(1).set_index("customer_id")
    f = pd.DataFrame({"survey_rating": last[rcols].astype(float).mean(axis=1)})
    if "nps" in last.columns:
        f["survey_nps"] = last["nps"].astype(float)
    return [f]


def behaviour_features(
    tables: Mapping[str, Any],
    as_of: datetime | str | None = None,
    *,
    include_survey: bool = False,
    min_share: float = 0.01,
) -> pd.DataFrame:
    """Behavioural features per customer from the contract tables (one row per customer).

    Parameters
    ----------
    tables : contract tables on one backend: ``orders`` and/or ``touchpoints`` (the customers
        who appear in either are described), ``customers`` (birth dates), ``survey_responses``.
    as_of : analysis day: facts on that day or earlier count.
    include_survey : add the latest survey answer (mean rating, NPS).
    min_share : touch channels and product categories with a smaller share of all touches
        (orders) are pooled away.

    Returns
    -------
    DataFrame indexed by customer_id (floats). Customers without orders get 0 for counts and
    NaN (unknown) for order shares and means; touch shares of customers without touches are 0.
    """
    tp = tables.get("touchpoints")
    od = tables.get("orders")
    tp = up_to(frame(tp), as_of) if tp is not None else None
    od = up_to(frame(od), as_of) if od is not None else None
    parts: list[pd.DataFrame] = []
    if tp is not None:
        parts += _touch_features(tp, od, min_share)
    if od is not None:
        parts += _order_features(od, tables.get("customers"), min_share)
    ids = pd.Index([], name="customer_id")
    for p in parts:
        ids = ids.union(p.index)
    if include_survey and tables.get("survey_responses") is not None:
        parts += _survey_features(tables["survey_responses"])
    out = pd.DataFrame(index=ids)
    for p in parts:
        out = out.join(p, how="left")
    out = out.astype(float)
    # counts are 0 when absent; shares and means of orders stay NaN for non-buyers (unknown,
    # not zero) so that clustering does not just split buyers from prospects
    zero = [
        c
        for c in out.columns
        if c in ("touches", "orders", "support_tickets") or c.startswith(("device_", "channel_"))
    ]
    out[zero] = out[zero].fillna(0.0)
    out.index.name = "customer_id"
    return out


def missing_inputs(tables: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """What the behavioural features leave out for lack of data.

    Returns
    -------
    ``(what, table, column)`` triples; ``column`` is None when the whole table is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> missing_inputs({"orders": pd.DataFrame(columns=["customer_id", "ts", "amount", "promo"])})[:2]
    [('devices, channels and journey stages', 'touchpoints', None), ('discounts', 'orders', 'discount')]
    """
    out: list[tuple[str, str, str | None]] = []
    if tables.get("touchpoints") is None:
        out.append(("devices, channels and journey stages", "touchpoints", None))
    for (table, col), what in OPTIONAL_INPUTS.items():
        t = tables.get(table)
        if t is None and table == "customers":
            out.append((what, table, None))
        elif t is not None and not has(t, col):
            out.append((what, table, col))
    return out
