"""The notebook pipelines (analyse_journey / analyse_segments) and their widgets on a small demo."""

from __future__ import annotations

import pandas as pd
import pytest

from cjlab import journey as jn
from cjlab import segments as sg
from cjlab.notebook import widgets


@pytest.fixture(scope="module")
def demo():
    from cjlab.data.synth import generate

    return generate(n_customers=2000, seed=5)


@pytest.mark.slow
def test_journey_pipeline_and_widget(demo):
    a = jn.analyse_journey(demo.tables, demo.truth, n_boot=10, actions="params/journey_actions.yaml")
    assert a.funnel.steps[0] == "awareness" and len(a.funnel.table) == 11
    assert set(a.attribution.columns) >= {"first", "last", "linear", "position", "markov", "noisy_or"}
    assert a.markov["conversions"].sum() == pytest.approx(a.paths["conversions"].sum())
    assert {"conversions_low", "conversions_high"} <= set(a.markov.columns)
    assert a.journey_map["action"].notna().any()
    assert a.biggest_dropoff in a.funnel.steps
    assert "lost after" in a.headline_title()
    w = widgets.breakdown_widget(a, demo.tables)
    dd, out = w.children
    assert dd.value is None and len(out.outputs) == 0  # nothing drawn until picked
    dd.value = "channel"  # the callback redraws without error


@pytest.mark.slow
def test_segment_pipeline_and_widget(demo):
    cust_truth = demo.customer_truth[["customer_id", "segment"]]
    a = sg.analyse_segments(demo.tables, demo.truth, cust_truth, k_range=range(3, 5), n_boot=0, sample=1500)
    assert a.rfm["customer_id"].is_unique and a.rfm["segment"].notna().all()
    assert a.rfm_summary["customers"].sum() == len(a.rfm)
    assert a.status_summary["customers"].sum() == len(demo.tables["customers"])
    assert 0 <= a.recovery["ari"] <= 1
    assert set(a.response) == {"channel", "device", "season"}
    assert isinstance(a.cross, pd.DataFrame)
    w = widgets.segment_widget(a)
    dd, _ = w.children
    assert dd.value is None
    dd.value = a.rfm_summary["segment"].iloc[0]
