"""Decisions of the journey plan: value of testing first, break-even effects, test sizes, the
action file, trees, due dates and the review date — against closed forms and a peer library."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cjlab.plan.actions import ActionPlanError, action_plan
from cjlab.plan.decisions import due_day, sample_size, value_of_testing
from cjlab.plan.journey_plan import next_review
from cjlab.plan.journeys import day_of


@pytest.mark.parametrize(
    "a, b, lo, hi",
    [(-2000.0, 100_000.0, 0.0, 0.04), (500.0, 20_000.0, -0.05, 0.05), (-100.0, 1000.0, 0.2, 0.3)],
)
def test_value_of_testing_matches_the_closed_form(a, b, lo, hi):
    """NV = a + b·e with e ~ U(lo, hi): E[max(NV, 0)] - max(E[NV], 0) in closed form."""
    rng = np.random.default_rng(0)
    e = rng.uniform(lo, hi, 200_000)
    got = value_of_testing(a + b * e + rng.normal(0, 50, len(e)), e)
    be = -a / b  # NV crosses zero here
    x0, x1 = np.clip(be, lo, hi), hi  # the part of the range where NV > 0
    pos = (a * (x1 - x0) + b * (x1**2 - x0**2) / 2) / (hi - lo)
    expected = pos - max(a + b * (lo + hi) / 2, 0.0)
    assert got["value_of_testing"] == pytest.approx(expected, rel=0.02, abs=2.0)
    assert got["break_even"] == pytest.approx(be, rel=0.01, abs=1e-4)


def test_no_value_of_testing_when_the_effect_is_known():
    out = value_of_testing(np.full(100, 5.0), np.full(100, 0.1))
    assert out["value_of_testing"] == 0.0 and np.isnan(out["break_even"])


def test_sample_size_of_two_proportions_gives_80_percent_power():
    """The closed-form n gives 80 % power at 5 % in statsmodels' two-sample proportion test."""
    pytest.importorskip("statsmodels")  # a peer library (installed with the test extras)
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import power_proportions_2indep

    for p0, p1 in [(0.10, 0.12), (0.65, 0.70), (0.85, 0.87)]:
        n = sample_size(p0, p1)["n_per_arm"]
        power = power_proportions_2indep(p1 - p0, p0, n, ratio=1, alpha=0.05).power
        assert power == pytest.approx(0.8, abs=0.01), (p0, p1, power)
    n = sample_size(0, mean=100.0, sd=50.0, delta=5.0)["n_per_arm"]
    ref = NormalIndPower().solve_power(effect_size=5.0 / 50.0, alpha=0.05, power=0.8, ratio=1)
    assert n == pytest.approx(ref, rel=1e-3)
    assert np.isnan(sample_size(0.3, 0.3)["n_per_arm"])


def test_break_even_test_is_about_the_smallest_effect_that_pays():
    """Closed form z-test check: the sample size at the break-even detects it with 80 % power."""
    n = sample_size(0.5, 0.52)["n_per_arm"]
    se = np.sqrt(2 * 0.51 * 0.49 / n)
    z = 0.02 / se - stats.norm.ppf(0.975)
    assert stats.norm.cdf(z) == pytest.approx(0.8, abs=0.01)


SPEC = {
    "cost_per_prospect": {"paid_search": 10, "email": 5},
    "actions": [
        {
            "id": "cmp",
            "stage": "comparison",
            "action": "Comparison",
            "owner": "Web",
            "due": "2026-Q1",
            "category": "mobile",
            "effect": {"kind": "transition", "low": 0.06, "high": 0.03},
            "cost": "4000",
        },
        {"id": "cart", "stage": "persuasion", "effect": {"kind": "transition", "low": 0.01}},
        {
            "id": "sla",
            "stage": "logistics",
            "touchpoint": "delivery",
            "effect": {"kind": "pain", "low": 0.3, "high": 0.6, "value_high": 0.05},
        },
        {"stage": "support", "action": "Hotline"},
    ],
    "trees": [{"name": "T", "root": "cmp", "then": ["cart", {"root": "sla", "then": ["cart"]}]}],
}


def test_the_action_file_is_parsed_with_targets_effects_costs_and_trees():
    plan = action_plan(SPEC)
    a = plan.actions.set_index("id")
    assert a.loc["cmp", ["effect_low", "effect_high", "cost", "category"]].tolist() == [
        0.03,
        0.06,
        4000.0,
        "mobile",
    ]
    assert a.loc["cart", ["effect_low", "effect_high"]].tolist() == [0.01, 0.01]
    assert a.loc["sla", ["value_low", "value_high"]].tolist() == [0.0, 0.05]
    assert pd.isna(a.loc["support_4", "kind"]) and len(plan.simulated) == 3
    assert plan.trees[0].leaves() == [
        ("cmp",),
        ("cmp", "cart"),
        ("cmp", "sla"),
        ("cmp", "sla", "cart"),
    ]
    assert plan.cost_per_prospect == {"paid_search": 10.0, "email": 5.0}


@pytest.mark.parametrize("bad, message", [
    ({"actions": [{"stage": "checkout"}]}, "unknown stage"),
    ({"actions": [{"stage": "support", "effect": {"kind": "magic", "low": 1}}]}, "effect kind"),
    ({"actions": [{"stage": "support", "effect": {"kind": "transition", "low": 0.1}}]}, "pre-purchase"),
    ({"actions": [{"stage": "comparison", "effect": {"kind": "transition"}}]}, "low and high"),
    ({"actions": [{"stage": "awareness", "effect": {"kind": "spend_shift", "low": 0.1}}]}, "source and target"),
    ({"actions": [{"id": "x", "stage": "support"}, {"id": "x", "stage": "loyalty"}]}, "duplicate"),
    ({"actions": [{"id": "x", "stage": "support"}], "trees": [{"root": "y"}]}, "unknown action"),
    ({"actions": [{"id": "x", "stage": "support", "cost": "a lot"}]}, "number"),
])  # fmt: skip
def test_bad_action_files_name_the_problem(bad, message):
    with pytest.raises(ActionPlanError, match=message):
        action_plan(bad)


def test_the_shipped_action_file_parses_and_keeps_notebook_05_working():
    import yaml

    from cjlab.journey import read_actions

    spec = yaml.safe_load(open("params/journey_actions.yaml", encoding="utf-8"))
    plan = action_plan(spec)
    assert len(plan.simulated) >= 6 and plan.trees
    kinds = set(plan.simulated["kind"])
    assert {"transition", "pain", "value", "spend_shift"} <= kinds
    old = read_actions("params/journey_actions.yaml")  # notebook 05's reader: its five keys
    assert list(old.columns) == ["stage", "touchpoint", "action", "owner", "due"]
    assert len(old) == len(plan.actions)


def test_due_dates_and_the_review_date():
    as_of = "2025-12-31"
    assert due_day("2026-Q2", as_of) == day_of("2026-06-30") + 1
    assert due_day("2026-02-28", as_of) == day_of("2026-02-28") + 1
    assert (
        due_day("", as_of)
        == due_day("soon", as_of)
        == due_day("2024-01-01", as_of)
        == day_of(as_of) + 1
    )
    assert next_review(as_of, 4) == "2026-04-30"
    assert next_review("2025-11-30", 3) == "2026-02-28"
    with pytest.raises(ValueError, match="3, 4 or 5"):
        next_review(as_of, 6)
