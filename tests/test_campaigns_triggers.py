"""Trigger campaigns: the event study against brute force and the demo's planted truth.

* eligible occurrences and their event/baseline counts equal a loop over customers and days;
* the repurchase chance after inactivity equals a count over each customer's purchase days;
* on the demo company the birthday lifts repeat purchases by the planted 1.5×, the
  first-purchase anniversary (no planted effect) stays at 1, and the Christmas season is high.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cjlab.campaigns.triggers import event_study, inactivity_repurchase, trigger_occurrences
from cjlab.features.campaigns import annual_window_counts


def _orders(seed=0, n=60):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        k = rng.integers(1, 15)
        days = np.sort(rng.integers(0, 700, k))
        rows += [
            (c, f"{c}-{i}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d), hours=10))
            for i, d in enumerate(days)
        ]
    o = pd.DataFrame(rows, columns=["customer_id", "order_id", "ts"])
    return o.assign(amount=10.0)


def test_occurrences_equal_a_loop_over_days():
    o = _orders()
    anchors = pd.DataFrame(
        {"customer_id": range(60), "anchor_day": np.random.default_rng(1).integers(1, 366, 60)}
    )
    offsets, h = (0, -28, 28), 3
    counts = annual_window_counts(o, anchors, offsets=offsets, half_width=h)
    first = o.groupby("customer_id")["ts"].min().dt.normalize()
    end = pd.Series(pd.Timestamp("2025-12-31"), index=first.index)
    a = anchors.set_index("customer_id")["anchor_day"]
    got = trigger_occurrences(counts, a, first, end, [2024, 2025], offsets, h).set_index(
        ["customer_id", "year"]
    )
    days = o.assign(day=o["ts"].dt.normalize())
    for c in range(60):
        for y in (2024, 2025):
            centre = pd.Timestamp(f"{y}-01-01") + pd.Timedelta(days=int(a[c]) - 1)
            wins = [
                (centre + pd.Timedelta(days=w - h), centre + pd.Timedelta(days=w + h))
                for w in offsets
            ]
            ok = [lo > first[c] and hi <= end[c] for lo, hi in wins]
            n = [
                int(((days.customer_id == c) & (days.day >= lo) & (days.day <= hi)).sum())
                for lo, hi in wins
            ]
            if not ok[0] or not any(ok[1:]):
                assert (c, y) not in got.index
                continue
            base = [x for x, good in zip(n[1:], ok[1:]) if good]
            assert got.loc[(c, y), "event"] == n[0]
            assert got.loc[(c, y), "baseline"] == pytest.approx(np.mean(base))


def test_inactivity_repurchase_equals_a_count_over_purchase_days():
    o = _orders(2)
    as_of = "2025-12-31"
    got = inactivity_repurchase(o, as_of, thresholds=(30, 90), window_days=30).set_index(
        "threshold_days"
    )
    end = pd.Timestamp(as_of)
    for x in (0, 30, 90):
        reached = bought = 0
        for _, d in o.groupby("customer_id"):
            day = sorted(set(d["ts"].dt.normalize()))
            gaps = [(b - a).days for a, b in itertools.pairwise(day)]
            reached += sum(g > x for g in gaps)
            bought += sum(x < g <= x + 30 for g in gaps)
            waiting = (end - day[-1]).days
            reached += waiting >= x + 30  # still without an order after the whole window
        assert got.loc[x, "reached"] == reached and got.loc[x, "bought"] == bought
        assert got.loc[x, "share_low"] < got.loc[x, "share"] < got.loc[x, "share_high"]


@pytest.fixture(scope="module")
def demo_study():
    from cjlab.data import open_source

    src = open_source("demo:n_customers=20000,seed=42")
    summary, tiers = event_study(
        src.lazy("orders"),
        src.lazy("customers"),
        "2025-12-31",
        ["birthday", "first_purchase_anniversary", "christmas", "black_friday"],
        level=0.95,
    )
    return src.truth["campaigns"]["triggers"], summary.set_index("trigger"), tiers


def test_demo_birthday_and_anniversary_match_the_planted_truth(demo_study):
    truth, s, _ = demo_study
    b = s.loc["birthday"]
    assert b["rate_ratio_low"] < truth["birthday"]["expected_rate_ratio"] < b["rate_ratio_high"]
    assert b["rate_ratio_low"] > 1.2
    a = s.loc["first_purchase_anniversary"]
    assert (
        a["rate_ratio_low"]
        < truth["first_purchase_anniversary"]["expected_rate_ratio"]
        < a["rate_ratio_high"]
    )
    assert (
        s.loc["christmas", "rate_ratio_low"] > 1.2 and s.loc["black_friday", "rate_ratio_low"] > 1.0
    )


def test_demo_tiers_cover_the_repeat_buyers(demo_study):
    _, s, tiers = demo_study
    b = tiers[tiers["trigger"] == "birthday"].set_index("tier")
    assert b.loc["1 order", "event_orders"] == 0  # one-time buyers have no repeat purchase to move
    assert b["occurrences"].sum() == s.loc["birthday", "occurrences"]
    assert b.loc["10+ orders", "extra_orders_per_100"] > b.loc["2–3 orders", "extra_orders_per_100"]
