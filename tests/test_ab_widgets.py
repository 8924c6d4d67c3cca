"""The JupyterLab panel and its static stand-ins."""

from __future__ import annotations

import pandas as pd
import pytest

from cjlab.ab import compare_conversions, decide
from cjlab.ab.conversions import prior_sensitivity
from cjlab.ab.decision import verdict_grid


def _counts():
    return pd.DataFrame(
        {"variant": ["control", "B"], "users": [20_000, 20_000], "conversions": [2_000, 2_080]}
    )


def test_verdict_grid_matches_decide_cell_by_cell():
    res = compare_conversions(_counts())
    grid = verdict_grid(res, ropes=(0.01, 0.10), thresholds=(1e-4, 5e-2))
    assert grid.loc[0, "ROPE ±1.0 %"] == decide(res, 0.01, 1e-4).verdict
    assert grid.loc[1, "ROPE ±10.0 %"] == decide(res, 0.10, 5e-2).verdict


def test_prior_sensitivity_rows_equal_direct_calls():
    s = prior_sensitivity(_counts(), {"flat": "uniform", "strong": (100, 900)})
    direct = compare_conversions(_counts(), prior=(100, 900)).iloc[1]
    row = s[s.prior == "strong"].iloc[0]
    assert abs(row.chance_to_beat_control - direct.chance_to_beat_control) < 1e-15


def test_decision_panel_reacts_to_sliders():
    pytest.importorskip("ipywidgets")
    from cjlab.notebook.widgets import decision_panel

    panel = decision_panel(_counts(), rope=0.01, loss_threshold=1e-5)
    _rope_s, loss_s, _prior_s = panel.children[0].children
    out = panel.children[1]

    def text():
        return out.value

    assert "keep testing" in text()
    loss_s.value = 0.05  # a lax threshold: shipping B is now acceptable
    assert "ship B" in text()
