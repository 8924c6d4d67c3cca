"""The journey simulator against closed forms on synthetic journeys.

Journeys are drawn from a known funnel; each intervention's expected change has a closed form
in the observed counts (``d × reached(k) × P(buy | next stage)`` for a transition, and so on),
which the mean of the draws must match within Monte Carlo error.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from cjlab.plan.interventions import PainRelief, SpendShift, Transition, ValueChange
from cjlab.plan.journeys import cohort, journey_data
from cjlab.plan.simulator import JourneySimulator
from cjlab.plan.value import ValueCurve

N = 6000


def _states(seed: int = 0, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    reached = rng.choice([0, 1, 2, 3, 4], size=n, p=[0.1, 0.1, 0.3, 0.1, 0.4])
    t0 = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 300, n), unit="D")
    return pd.DataFrame({
        "customer_id": np.arange(n), "category": rng.choice(["a", "b"], size=n),
        "channel": rng.choice(["web", "email"], size=n, p=[0.7, 0.3]), "first_touch": t0,
        "last_touch": t0 + pd.Timedelta(days=3), "reached": reached,
        "purchase": (t0 + pd.Timedelta(days=4)).where(reached == 4)})  # fmt: skip


@pytest.fixture(scope="module")
def fitted():
    s = _states()
    return s, JourneySimulator(n_draws=2000, random_state=3).fit(journey_data(s, "2025-12-31"))


def _close(w, metric: str, expected: float, k: float = 4.0) -> None:
    d = w.draws[metric].to_numpy(float)
    se = d.std() / np.sqrt(len(d)) + 1e-9
    assert abs(d.mean() - expected) < k * se + 0.02 * abs(expected), (d.mean(), expected, se)


def test_transition_matches_the_closed_form(fitted):
    s, sim = fitted
    r = s["reached"].to_numpy()
    buy_after = (r == 4).sum() / (r >= 3).sum()  # P(buy | reached persuasion), the chain's product
    w = sim.what_if([Transition(stage="comparison", effect=0.04)])
    _close(w, "buyers", 0.04 * (r >= 2).sum() * buy_after)


def test_transition_for_one_category(fitted):
    s, sim = fitted
    a = s[s["category"] == "a"]["reached"].to_numpy()
    w = sim.what_if([Transition(stage="information", effect=0.03, category="a")])
    _close(w, "buyers", 0.03 * (a >= 1).sum() * (a == 4).sum() / (a >= 2).sum())


def test_two_transitions_compose_along_the_chain(fitted):
    s, sim = fitted
    r = s["reached"].to_numpy()
    R = [(r >= k).sum() for k in range(5)]
    d1, d2 = 0.03, 0.05
    q3 = R[4] / R[3]
    expected = d1 * R[1] * (R[3] / R[2]) * (q3 + d2) + d2 * R[3]
    w = sim.what_if(
        [Transition(stage="information", effect=d1), Transition(stage="persuasion", effect=d2)]
    )
    _close(w, "buyers", expected)


def test_negative_transition_loses_buyers(fitted):
    s, sim = fitted
    r = s["reached"].to_numpy()
    w = sim.what_if([Transition(stage="comparison", effect=-0.02)])
    _close(w, "buyers", -0.02 * (r >= 2).sum() * (r == 4).sum() / (r > 2).sum())


def test_spend_shift_matches_the_closed_form(fitted):
    s, sim = fitted
    bought = s["reached"].to_numpy() == 4
    web, email = (s["channel"] == "web").to_numpy(), (s["channel"] == "email").to_numpy()
    iv = SpendShift(
        source="web", target="email", effect=0.1, cost_per_prospect={"web": 9.0, "email": 3.0}
    )
    w = sim.what_if([iv])
    n_gone = 0.1 * web.sum()
    _close(w, "buyers", -n_gone * bought[web].mean() + 3 * n_gone * bought[email].mean())


def test_effect_ranges_and_reproducibility(fitted):
    _, sim = fitted
    iv = Transition(stage="comparison", effect=(0.01, 0.05))
    a, b = sim.what_if([iv]), sim.what_if([iv])
    pd.testing.assert_frame_equal(a.draws, b.draws)  # random_state fixes the draws
    c = sim.what_if([iv], random_state=99)
    assert not a.draws["buyers"].equals(c.draws["buyers"])
    e = a.draws["effect_0"]
    assert 0.01 <= e.min() and e.max() <= 0.05
    # the change grows with the drawn effect
    assert np.corrcoef(e, a.draws["buyers"])[0, 1] > 0.5


def test_value_change_and_pain_relief():
    s = _states()
    data = journey_data(s, "2025-12-31")
    cust = pd.DataFrame(
        {"category": data.category, "stage_index": 8, "purchases": 2.0, "clv": 100.0}
    )
    pains = {
        "delivery": {
            "prevalence": np.full(50, 0.1),
            "gap": np.full(50, 80.0),
            "value": 5000.0,
            "purchases": 50.0,
        }
    }
    sim = JourneySimulator(n_draws=500).fit(data, customers=cust, pains=pains)
    w = sim.what_if([ValueChange(effect=0.02, stage="loyalty")])
    assert w.mean("revenue") == pytest.approx(0.02 * 100.0 * len(cust), rel=1e-9)  # all sd zero
    p = sim.what_if([PainRelief(theme="delivery", effect=0.5, value_effect=0.1)])
    assert p.mean("nps") == pytest.approx(0.5 * 0.1 * 80.0)
    assert p.mean("revenue") == pytest.approx(0.1 * 0.5 * 0.1 * 5000.0)
    with pytest.raises(KeyError, match="no pain point"):
        sim.what_if([PainRelief(theme="support", effect=0.5)])


def test_new_buyers_bring_what_real_buyers_brought():
    """A transition's revenue per new buyer is the donors' mean value over the days left."""
    s = _states(1)
    data = journey_data(s, "2025-12-31")
    b = data.bought
    ids = data.customer_id[b]
    weekly = pd.DataFrame({"customer_id": ids, "period": 0, "orders": 1, "revenue": 50.0})
    vc = ValueCurve(min_buyers=1).fit(
        weekly,
        pd.Series(data.purchase[b], index=ids),
        pd.Series(data.category[b], index=ids),
        data.end,
    )
    sim = JourneySimulator(n_draws=300).fit(data, vc)
    w = sim.what_if([Transition(stage="persuasion", effect=0.05)])
    assert (w.draws["revenue"] == 50.0 * w.draws["buyers"]).all()
    assert (w.draws["orders"] == w.draws["buyers"]).all()


def test_cohort_has_next_years_arrivals_and_timing():
    s = _states(2)
    data = journey_data(s, "2025-12-31")
    c = cohort(data, horizon_days=365.0, rng=np.random.default_rng(0))
    recent = (data.first >= data.end - 365).sum()
    span = data.end - data.first.min()  # a bit less than a year: scaled up to one
    assert c.n == round(recent * max(1.0, 365 / span))
    assert (c.first >= data.end).all() and (c.first < data.end + 365).all()
    np.testing.assert_allclose(c.last - c.first, 3.0)  # each keeps its own timing
    assert c.end == data.end + 365


@pytest.mark.slow
def test_a_what_if_with_1000_draws_on_the_20000_customer_demo_is_fast():
    from cjlab.data import open_source
    from cjlab.plan import steps

    tables = open_source("demo").load("touchpoints", "orders", "customers")
    data, value, _ = steps.journeys(tables, "device", "2025-12-31", ["newsletter_open"])
    sim = JourneySimulator(n_draws=1000).fit(data, value)
    coh = cohort(data, rng=np.random.default_rng(0), value=value)
    t = time.perf_counter()
    sim.what_if([Transition(stage="comparison", effect=(0.03, 0.06), category="mobile")], coh)
    assert time.perf_counter() - t < 10.0
