"""Profit curve and at-risk list against brute force; Kaplan-Meier against the product-limit
formula computed by hand and lifelines' peer output."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cjlab.churn.retention import RetentionError, kaplan_meier, lifetimes
from cjlab.churn.targeting import (
    TargetingError,
    at_risk_list,
    best_cutoff,
    profit_curve,
    risk_value_segment,
)


def test_profit_curve_brute_force():
    rng = np.random.default_rng(0)
    p, v = rng.random(200), rng.gamma(2, 50, 200)
    cost, succ = 8.0, 0.3
    curve = profit_curve(p, v, cost, succ)
    for share in (0.0, 0.1, 0.37, 1.0):
        k = round(share * 200)
        top = np.argsort(-p)[:k]
        expect = np.sum(p[top] * succ * v[top]) - k * cost
        got = curve.loc[np.isclose(curve["contact_share"], share), "profit"].iloc[0]
        assert got == pytest.approx(expect)
    # the best cut-off of the value-at-risk ranking is the best subset: all with positive margin
    cv = profit_curve(p, v, cost, succ, rank_by="value_at_risk", shares=np.arange(201) / 200)
    margin = p * succ * v - cost
    assert best_cutoff(cv)["profit"] == pytest.approx(margin[margin > 0].sum())


def test_profit_curve_small_exhaustive():
    """On 6 customers, no subset of the same size beats the top-k by value at risk."""
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.05, 0.7])
    v = np.array([10.0, 500.0, 80.0, 40.0, 900.0, 30.0])
    cv = profit_curve(p, v, 5.0, 0.5, rank_by="value_at_risk", shares=np.arange(7) / 6)
    for k in range(7):
        best = max(
            (sum(p[i] * 0.5 * v[i] - 5.0 for i in s) for s in itertools.combinations(range(6), k)),
            default=0.0,
        )
        assert cv["profit"].iloc[k] == pytest.approx(best)


def test_at_risk_list_consent_and_no_pii():
    scores = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "churn_probability": [0.9, 0.8, 0.7, 0.2, 0.1],
            "clv": [100.0, 200.0, 50.0, 10.0, 500.0],
            "marketing_opt_in": [True, False, True, True, None],
            "email": ["a@x", "b@x", "c@x", "d@x", "e@x"],
            "name": list("ABCDE"),
            "top_reasons": ["support_tickets"] * 5,
            "segment": ["s"] * 5,
        }
    )
    lst = at_risk_list(scores, offer_cost=5, success_rate=0.5, contact_share=1.0)
    assert "email" not in lst.columns and "name" not in lst.columns
    assert lst["customer_id"].tolist() == [1, 2, 3, 4, 5]
    assert lst.set_index("customer_id")["contact"].to_dict() == {
        1: True,
        2: False,
        3: True,
        4: True,
        5: False,
    }
    lst2 = at_risk_list(scores, 5, 0.5, contact_share=1.0, include_no_consent=True)
    assert lst2["contact"].all()
    # default cut-off = best of the profit curve over consenting customers:
    # margins 0.9*.5*100-5=40, 0.7*.5*50-5=12.5, 0.2*.5*10-5=-4 -> contact 1 and 3 only
    lst3 = at_risk_list(scores, 5, 0.5)
    assert lst3.loc[lst3["contact"], "customer_id"].tolist() == [1, 3]
    assert lst3["expected_profit"].iloc[0] == pytest.approx(40.0)
    with pytest.raises(TargetingError, match="between 0 and 1"):
        at_risk_list(scores.assign(churn_probability=1.5), 5, 0.5)
    with pytest.raises(TargetingError, match="missing"):
        at_risk_list(scores.drop(columns="clv"), 5, 0.5)


def test_risk_value_segment():
    seg = risk_value_segment([0.9, 0.9, 0.1, 0.1], [100, 1, 100, 1], p_cut=0.5, value_cut=50)
    assert list(seg) == [
        "save: high value at risk",
        "low value at risk",
        "keep: high value, safe",
        "low value, safe",
    ]


def _km_by_hand(d: np.ndarray, e: np.ndarray) -> dict[float, float]:
    s, out = 1.0, {}
    for t in np.unique(d[e == 1]):
        at_risk = np.sum(d >= t)
        s *= 1 - np.sum((d == t) & (e == 1)) / at_risk
        out[float(t)] = s
    return out


def test_kaplan_meier_matches_product_limit_by_hand():
    rng = np.random.default_rng(4)
    n = 400
    first = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    life = pd.to_timedelta(rng.exponential(300, n).round(), unit="D")
    canc = (first + life).where(first + life <= pd.Timestamp("2025-12-31"))
    c = pd.DataFrame(
        {
            "customer_id": range(n),
            "first_seen": first,
            "cancelled_at": canc,
            "acquisition_channel": rng.choice(["social", "email"], n),
        }
    )
    km = kaplan_meier(c, by="acquisition_channel", observation_end="2025-12-31")
    lt = lifetimes(c, "2025-12-31", by="acquisition_channel")
    for g, sub in lt.groupby("group"):
        ref = _km_by_hand(sub["duration_days"].to_numpy(), sub["cancelled"].to_numpy())
        cur = km.curves[km.curves["group"] == g].set_index("days")["retention"]
        for t, s in ref.items():
            assert cur.loc[t] == pytest.approx(s, rel=1e-12)
        row = km.summary.set_index("group").loc[g]
        med = min(t for t, s in ref.items() if s <= 0.5)
        assert row["median_days"] == med
        assert row["median_low"] <= med <= row["median_high"]
    cur = km.curves
    assert (
        (cur["low"] <= cur["retention"] + 1e-12) & (cur["retention"] <= cur["high"] + 1e-12)
    ).all()
    coh = kaplan_meier(c, by="cohort")
    assert set(coh.summary["group"]) <= {f"{y}Q{q}" for y in (2024, 2025) for q in range(1, 5)}


def test_retention_bad_input():
    with pytest.raises(RetentionError, match="first_seen"):
        kaplan_meier(pd.DataFrame({"customer_id": [1]}))
    c = pd.DataFrame({"customer_id": [1], "first_seen": [pd.Timestamp("2025-01-01")]})
    with pytest.raises(RetentionError, match="no column"):
        kaplan_meier(c, by="region")
