"""analyse_experiment on the demo company and the A/B figures (smoke: they draw and return axes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cjlab.ab import ABInputError
from cjlab.ab import plots as abplots
from cjlab.ab.analysis import analyse_experiment


@pytest.fixture(scope="module")
def analysis():
    return analyse_experiment("demo:n_customers=20000,seed=42", "push_reminder", revenue=False,
                              segments=False, plan_sims=10, plan_effects=(0.1, 0.3))


def test_planted_srm_is_flagged_and_overrides_the_verdict(analysis):
    assert analysis.srm.flagged
    assert analysis.decision.verdict.startswith("do not trust")
    tc = analysis.truth_check.set_index("variant")
    assert tc.loc["sample-ratio mismatch planted", "recovered"]


def test_revenue_decision_and_sensitivity_present(analysis):
    assert analysis.revenue_decision is not None
    assert set(analysis.sensitivity["prior"]) >= {"uniform Beta(1, 1)", "Jeffreys Beta(0.5, 0.5)"}
    assert len(analysis.power) == 2


def test_unknown_experiment_is_a_clear_error():
    with pytest.raises(ABInputError, match="not found"):
        analyse_experiment("demo:n_customers=3000,seed=1", "no_such_test", revenue=False,
                           segments=False, plan=False)


def test_figures_draw(analysis):
    axes = [abplots.posterior_densities(analysis.results),
            abplots.uplift_intervals(analysis.results, rope=0.01),
            *abplots.evolution(analysis.evolution, loss_threshold=0.001),
            abplots.planning_curve(analysis.plan),
            abplots.power_vs_effect(analysis.power),
            abplots.segment_forest(pd.DataFrame({"segment": ["a", "b"], "uplift": [0.1, 0.0],
                                                 "uplift_low": [0.0, -0.1], "uplift_high": [0.2, 0.1]}))]
    for ax in axes:
        assert ax.has_data()
    # the uplift plot shows the exact interval of the single variant
    seg = axes[1].collections
    assert seg, "error bars drawn"
    res = analysis.results[~analysis.results["is_control"]]
    assert np.isfinite(res[["uplift_low", "uplift_high"]].to_numpy()).all()
    plt.close("all")
