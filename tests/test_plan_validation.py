"""Honest validation of the journey simulator: the demo generator is the ground truth of a what-if.

For three interventions the demo company is generated again with the intervention applied
(same seed; :mod:`cjlab.data.synth_journey`), and the change in new buyers, orders and revenue
between the two worlds must lie inside the simulator's interval — the simulator was fitted on
the default world only and knows nothing of the generator's laws. With more data its error
shrinks (2,000 vs 20,000 customers, slow).
"""

from __future__ import annotations

import numpy as np
import pytest

from cjlab.data import synth
from cjlab.data.synth_journey import Intervention
from cjlab.plan import steps
from cjlab.plan.interventions import SpendShift, Transition
from cjlab.plan.simulator import JourneySimulator

AS_OF = "2025-12-31"
COSTS = {"paid_search": 10.0, "email": 5.0}
METRICS = ("buyers", "orders", "revenue")
#: (generator intervention, the simulator's intervention): the same what-if in both worlds
CASES = {
    "comparison +5 points, mobile": (
        Intervention("transition", stage="comparison", effect=0.05, category_column="device",
                     category="mobile"),
        Transition(stage="comparison", effect=0.05, category="mobile")),
    "persuasion -> purchase +5 points": (
        Intervention("transition", stage="persuasion", effect=0.05),
        Transition(stage="persuasion", effect=0.05)),
    "10 % of paid search to e-mail": (
        Intervention("spend_shift", effect=0.1, source="paid_search", target="email",
                     cost_per_prospect=COSTS),
        SpendShift(source="paid_search", target="email", effect=0.1, cost_per_prospect=COSTS)),
}  # fmt: skip


def simulator(demo, n_draws: int = 400) -> JourneySimulator:
    data, value, _ = steps.journeys(demo.tables, "device", AS_OF, ["newsletter_open"])
    return JourneySimulator(n_draws=n_draws, level=0.95, random_state=1).fit(data, value)


def observed(base, world) -> dict[str, float]:
    o0, o1 = base.tables["orders"], world.tables["orders"]
    return {
        "buyers": o1["customer_id"].nunique() - o0["customer_id"].nunique(),
        "orders": len(o1) - len(o0),
        "revenue": o1["amount"].sum() - o0["amount"].sum(),
    }


def checks(n: int, seed: int, n_draws: int = 400) -> list[dict]:
    """One row per intervention and metric: observed change, prediction and interval."""
    base = synth.generate(n, seed)
    sim = simulator(base, n_draws)
    rows = []
    for name, (world_iv, sim_iv) in CASES.items():
        obs = observed(base, synth.generate(n, seed, intervention=world_iv))
        w = sim.what_if([sim_iv])
        for m in METRICS:
            lo, hi = w.interval(m)
            rows.append(
                {
                    "case": name,
                    "metric": m,
                    "observed": obs[m],
                    "predicted": w.mean(m),
                    "low": lo,
                    "high": hi,
                    "inside": lo <= obs[m] <= hi,
                    "error": abs(w.mean(m) - obs[m]) / max(abs(obs[m]), 1.0),
                }
            )
    return rows


@pytest.fixture(scope="module")
def small_checks():
    return checks(3000, 11)


@pytest.mark.parametrize("case", list(CASES))
def test_regenerated_change_lies_inside_the_simulated_interval(small_checks, case):
    rows = [r for r in small_checks if r["case"] == case]
    assert len(rows) == len(METRICS)
    for r in rows:
        assert r["observed"] > 0, r  # the intervention did change the world
        assert r["inside"], r


def test_prediction_is_not_just_wide(small_checks):
    """The intervals are informative: they exclude zero for every case and metric."""
    assert all(r["low"] > 0 for r in small_checks), [r for r in small_checks if r["low"] <= 0]


@pytest.mark.slow
def test_coverage_over_seeds_and_error_shrinks_with_more_data():
    small = [r for seed in (1, 2, 3, 4, 5) for r in checks(2000, seed)]
    large = [r for seed in (1, 2) for r in checks(20_000, seed)]
    inside = np.mean([r["inside"] for r in small + large])
    assert inside >= 0.85, inside  # nominal 95 %; 63 checks
    err_small = np.mean([r["error"] for r in small])
    err_large = np.mean([r["error"] for r in large])
    assert err_large < 0.6 * err_small, (err_small, err_large)
