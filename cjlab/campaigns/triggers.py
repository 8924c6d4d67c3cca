"""Trigger campaigns: do customers buy more around a trigger than at other times? An event study.

For yearly triggers — a customer's birthday, the anniversary of their first purchase, a
season or holiday (one calendar day for everyone) — each occurrence is compared with the same
customer's *baseline windows* of equal length some weeks before and after
(:func:`cjlab.features.campaigns.annual_window_counts`). Only repeat purchases count: a window
counts when it starts after the customer's first order day and ends before the data end (or
the customer's cancellation). The **rate ratio** is the orders in the event windows over the
orders expected from the same occurrences' baseline windows; **extra orders per 100** is the
difference per 100 customer-occurrences. Intervals resample customers. Breakdowns by customer
tier (orders in the data) show whom a trigger moves.

For the inactivity threshold (:func:`inactivity_repurchase`), the chance that a customer who has
gone ``X`` days without an order buys within the next ``window`` days is read from the gaps
between purchase days (:func:`cjlab.features.orders.purchase_gap_counts`) and the customers still
waiting at the data end, against the chance of buying within ``window`` days of a purchase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cjlab import features as ft
from cjlab.features.campaigns import annual_window_counts, birthday_anchor, first_purchase_anchor
from cjlab.features.orders import purchase_gap_counts

__all__ = ["HOLIDAYS", "TIERS", "event_study", "inactivity_repurchase", "trigger_occurrences"]

#: default seasonal triggers: name -> (month, day) of the window's centre
HOLIDAYS = {"christmas": (12, 16), "black_friday": (11, 27)}
TIERS = ((1, "1 order"), (2, "2–3 orders"), (4, "4–9 orders"), (10, "10+ orders"))
LABELS = {
    "birthday": "Birthday",
    "first_purchase_anniversary": "First-purchase anniversary",
    "christmas": "Christmas season",
    "black_friday": "Black Friday week",
}


def _tier(n: pd.Series) -> pd.Series:
    bounds = [t[0] for t in TIERS]
    idx = np.searchsorted(bounds, n.fillna(0).to_numpy(), side="right") - 1
    return pd.Series(
        np.asarray([t[1] for t in TIERS])[np.clip(idx, 0, len(TIERS) - 1)], index=n.index
    )


def trigger_occurrences(
    counts: pd.DataFrame,
    anchor: pd.Series,
    first_day: pd.Series,
    end_day: pd.Series,
    years: Sequence[int],
    offsets: Sequence[int],
    half_width: int,
) -> pd.DataFrame:
    """One row per eligible customer-occurrence: customer_id, year, event, baseline, windows.

    Parameters
    ----------
    counts : annual_window_counts output (customer_id, year, window, n).
    anchor : day of the year per customer (index customer_id).
    first_day, end_day : each customer's first order day and last observed day (Timestamps).
    years : occurrence years to consider.
    offsets : window centres (0 = the event); the others are baselines.
    half_width : half the window length in days.

    Returns
    -------
    Frame with customer_id, year, event (orders in the event window), baseline (mean orders per
    eligible baseline window) and baselines (how many baseline windows were eligible).
    """
    ids = anchor.index
    first = first_day.reindex(ids).to_numpy("datetime64[D]")
    end = end_day.reindex(ids).to_numpy("datetime64[D]")
    doy = anchor.to_numpy().astype("timedelta64[D]") - np.timedelta64(1, "D")
    yrs = np.asarray(years)
    jan1 = np.array([np.datetime64(f"{y}-01-01") for y in yrs])
    off = np.asarray(offsets).astype("timedelta64[D]")
    centre = jan1[None, :, None] + doy[:, None, None] + off[None, None, :]
    h = np.timedelta64(int(half_width), "D")
    ok = (centre - h > first[:, None, None]) & (centre + h <= end[:, None, None])
    n = np.zeros(ok.shape)
    c = counts[counts["customer_id"].isin(ids) & counts["year"].isin(yrs)]
    r = ids.get_indexer(c["customer_id"])
    y = pd.Index(yrs).get_indexer(c["year"])
    w = pd.Index(offsets).get_indexer(c["window"])
    good = (r >= 0) & (y >= 0) & (w >= 0)
    np.add.at(n, (r[good], y[good], w[good]), c["n"].to_numpy()[good])
    ev = list(offsets).index(0)
    base = [i for i in range(len(offsets)) if i != ev]
    nb = ok[:, :, base].sum(axis=2)
    keep = ok[:, :, ev] & (nb > 0)
    bmean = np.where(nb > 0, (n[:, :, base] * ok[:, :, base]).sum(axis=2) / np.maximum(nb, 1), 0.0)
    ri, yi = np.nonzero(keep)
    return pd.DataFrame(
        {
            "customer_id": ids[ri],
            "year": yrs[yi],
            "event": n[ri, yi, ev],
            "baseline": bmean[ri, yi],
            "baselines": nb[ri, yi],
        }
    )


def _summary(occ: pd.DataFrame, level: float, n_boot: int, rng: np.random.Generator) -> dict:
    per = occ.groupby("customer_id")[["event", "baseline"]].sum()
    per["k"] = occ.groupby("customer_id").size()
    e, b, k = (per[c].to_numpy(float) for c in ("event", "baseline", "k"))
    ratio = e.sum() / b.sum() if b.sum() > 0 else np.nan
    extra = 100 * (e.sum() - b.sum()) / max(k.sum(), 1)
    lo = hi = elo = ehi = np.nan
    if n_boot and len(per) > 1 and b.sum() > 0:
        w = rng.poisson(1.0, size=(n_boot, len(per)))
        be, bb, bk = w @ e, w @ b, np.maximum(w @ k, 1)
        tail = (1 - level) / 2
        rr = np.divide(be, bb, out=np.full(n_boot, np.nan), where=bb > 0)
        lo, hi = np.nanquantile(rr, [tail, 1 - tail])
        elo, ehi = np.quantile(100 * (be - bb) / bk, [tail, 1 - tail])
    return {
        "customers": len(per),
        "occurrences": int(k.sum()),
        "event_orders": e.sum(),
        "baseline_orders": b.sum(),
        "rate_ratio": ratio,
        "rate_ratio_low": lo,
        "rate_ratio_high": hi,
        "extra_orders_per_100": extra,
        "extra_orders_per_100_low": elo,
        "extra_orders_per_100_high": ehi,
    }


def _anchors(
    name: str, orders: Any, customers: Any, holidays: Mapping[str, tuple[int, int]], as_of: Any
) -> tuple[Any, int | None]:
    if name == "birthday":
        return birthday_anchor(customers), None
    if name == "first_purchase_anniversary":
        return first_purchase_anchor(orders, as_of), None
    month, day = holidays[name]
    return None, int(pd.Timestamp(2025, month, day).dayofyear)


def event_study(
    orders: Any,
    customers: Any | None,
    as_of: Any,
    triggers: Sequence[str],
    holidays: Mapping[str, tuple[int, int]] = HOLIDAYS,
    half_width: int = 7,
    baseline_offsets: Sequence[int] = (-56, -28, 28, 56),
    level: float = 0.9,
    n_boot: int = 200,
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rate ratios and extra orders around each yearly trigger, overall and per customer tier.

    Parameters
    ----------
    orders : orders table (any backend); customers : customers table (birth_date,
        cancelled_at optional), or None.
    as_of : the analysis day.
    triggers : ``birthday``, ``first_purchase_anniversary`` and names of ``holidays``.
    holidays : seasonal triggers, name -> (month, day) of the event window's centre.
    half_width : half the window length in days.
    baseline_offsets : centres of the same customers' baseline windows, days from the trigger.
    level, n_boot, random_state : intervals (customer resamples) and their seed.

    Returns
    -------
    (summary, by_tier): one row per trigger (trigger, label, customers, occurrences,
    event_orders, baseline_orders, rate_ratio + interval, extra_orders_per_100 + interval),
    and the same per trigger and tier.
    """
    offsets = (0, *baseline_offsets)
    co = ft.to_pandas(ft.customer_orders(orders, as_of=as_of)).set_index("customer_id")
    end = pd.Series(pd.Timestamp(as_of).normalize(), index=co.index)
    if customers is not None and ft.has(customers, "cancelled_at"):
        c = ft.to_pandas(customers).set_index("customer_id")["cancelled_at"]
        end = pd.concat([end, pd.to_datetime(c).reindex(co.index)], axis=1).min(axis=1)
    first = co["first_order"].dt.normalize()
    years = range(int(first.min().year), int(pd.Timestamp(as_of).year) + 1) if len(co) else []
    tier = _tier(co["n_orders"])
    rng = np.random.default_rng(random_state)
    rows, tiers = [], []
    for name in triggers:
        anchors, day = _anchors(name, orders, customers, holidays, as_of)
        counts = ft.to_pandas(
            annual_window_counts(orders, anchors, day, offsets, half_width, as_of)
        )
        a = (
            ft.to_pandas(anchors).set_index("customer_id")["anchor_day"].reindex(co.index).dropna()
            if anchors is not None
            else pd.Series(day, index=co.index)
        )
        occ = trigger_occurrences(
            counts, a.astype(int), first, end, list(years), offsets, half_width
        )
        if occ.empty:
            continue
        label = LABELS.get(name, name.replace("_", " ").capitalize())
        rows.append({"trigger": name, "label": label, **_summary(occ, level, n_boot, rng)})
        occ["tier"] = occ["customer_id"].map(tier)
        for t, d in occ.groupby("tier", sort=False):
            tiers.append(
                {"trigger": name, "label": label, "tier": t, **_summary(d, level, n_boot, rng)}
            )
    order = {t[1]: i for i, t in enumerate(TIERS)}
    by_tier = pd.DataFrame(tiers)
    if len(by_tier):
        by_tier = by_tier.sort_values(
            ["trigger", "tier"], key=lambda s: s.map(order) if s.name == "tier" else s
        )
    return pd.DataFrame(rows), by_tier.reset_index(drop=True)


def inactivity_repurchase(
    orders: Any,
    as_of: Any,
    thresholds: Sequence[int] = (30, 60, 90, 180),
    window_days: int = 30,
    level: float = 0.9,
) -> pd.DataFrame:
    """The chance to buy within ``window_days`` after ``X`` days without an order.

    Returns
    -------
    One row per threshold (0 = right after a purchase, the baseline): threshold_days, reached
    (gaps that reached the threshold with ``window_days`` to observe), bought (of those, an order
    within the window), share (+ _low/_high: Beta(1, 1) posterior interval), ratio_to_baseline.
    """
    gaps = ft.to_pandas(purchase_gap_counts(orders, as_of))
    co = ft.to_pandas(ft.customer_orders(orders, as_of=as_of))
    end = pd.Timestamp(ft.as_of_end(as_of))
    waiting = ((end - co["last_order"].dt.normalize()).dt.days - 1).to_numpy()
    g, n = gaps["gap_days"].to_numpy(), gaps["n"].to_numpy()
    tail = (1 - level) / 2
    rows = []
    for x in (0, *thresholds):
        reached = n[g > x].sum() + np.sum(waiting >= x + window_days)
        bought = n[(g > x) & (g <= x + window_days)].sum()
        a, b = 1 + bought, 1 + reached - bought
        rows.append(
            {
                "threshold_days": x,
                "reached": int(reached),
                "bought": int(bought),
                "share": bought / reached if reached else np.nan,
                "share_low": stats.beta.ppf(tail, a, b),
                "share_high": stats.beta.ppf(1 - tail, a, b),
            }
        )
    out = pd.DataFrame(rows)
    out["ratio_to_baseline"] = out["share"] / out["share"].iloc[0]
    return out
