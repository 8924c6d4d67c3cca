"""analyse / from_source on the demo company and on hand-made experiments; the A/B figures.

Your own data (issue 11): the experiment and the control are chosen from the data or named in
a clear error, never guessed; the SRM check uses the planned split given; ``metric=revenue``
records revenue; multi-arm verdicts weigh the expected loss against the best arm; one number
per concept in headline, tables and KPIs; sections without their columns are skipped with one
sentence; planted truth stays out of the headline and the KPIs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cjlab import formatting as fmt
from cjlab.ab import ABInputError, pick_control, tables
from cjlab.ab import plots as abplots
from cjlab.ab.analysis import analyse, from_source

FAST = {"run_pymc": False, "plan_sims": 0, "revenue_draws": 1000}


def exposures(
    rates: dict[str, float],
    n: int = 4000,
    seed: int = 0,
    name: str = "t",
    revenue: bool = True,
    extra: bool = True,
    sizes: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Simulated exposures of one experiment: one row per unit, spend log-normal when converted."""
    rng = np.random.default_rng(seed)
    frames, start = [], 0
    for v, p in rates.items():
        m = (sizes or {}).get(v, n)
        conv = rng.binomial(1, p, m)
        d = {
            "experiment": name,
            "variant": v,
            "unit_id": np.arange(start, start + m),
            "exposed_at": pd.Timestamp("2025-03-01") + pd.to_timedelta(rng.uniform(0, 14, m), "D"),
            "converted": conv,
        }
        if revenue:
            d["revenue"] = conv * rng.lognormal(3.5, 0.7, m)
        if extra:
            d["segment"] = rng.choice(["app", "web"], m)
            d["stage"] = "purchase"
        frames.append(pd.DataFrame(d))
        start += m
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def demo():
    return from_source(
        "demo:n_customers=20000,seed=42",
        experiment="push_reminder",
        run_pymc=False,
        plan_sims=10,
        plan_effects=(0.1, 0.3),
        revenue_draws=1000,
    )


def test_planted_srm_is_flagged_and_overrides_the_verdict(demo):
    assert demo.srm.flagged
    assert demo.decision.verdict.startswith("do not trust")
    tc = demo.truth_check.set_index("check")
    assert tc.loc["sample-ratio mismatch planted", "recovered"]


def test_planted_truth_stays_out_of_headline_and_kpis(demo):
    text = demo.headline().text().lower()
    assert "planted" not in text and "demo" not in text
    names = {k.name for k in demo.kpis()}
    assert not {n for n in names if "truth" in n or "planted" in n or "recovered" in n}
    assert not demo.skipped.get("truth")


def test_kpis_keep_their_names_and_carry_proper_units(demo):
    ks = demo.kpis()
    by = {}
    for k in ks:
        by.setdefault(k.name, k)
    assert {
        "verdict",
        "best_variant_uplift",
        "best_variant_chance_to_beat_control",
        "srm_p_value",
        "uplift",
        "chance_to_beat_control",
        "expected_loss_relative",
        "conversion_rate",
        "revenue_per_user",
        "plan_power",
        "plan_false_positive_rate",
    } <= set(by)
    units = {
        "uplift": "share",
        "rate_difference": "pp",
        "conversion_rate": "share",
        "revenue_per_user": "money",
        "revenue_uplift": "share",
        "verdict": "text",
    }
    for name, unit in units.items():
        assert by[name].unit == unit, name
    assert by["revenue_per_user"].tolerance is not None and by["uplift"].tolerance is None
    assert [k.name for k in ks if k.headline] == [
        "verdict",
        "srm_p_value",
        "best_variant_uplift",
        "best_variant_chance_to_beat_control",
    ]


def test_sections_sensitivity_and_planning_present(demo):
    assert demo.revenue_decision is not None
    assert set(demo.sensitivity["prior"]) >= {"uniform Beta(1, 1)", "Jeffreys Beta(0.5, 0.5)"}
    assert len(demo.power) == 2
    assert demo.evolution["date"].nunique() > 20


def test_unknown_experiment_and_several_experiments_are_clear_errors():
    with pytest.raises(ABInputError, match="not found; the data hold: checkout_layout"):
        from_source("demo:n_customers=3000,seed=11", experiment="no_such_test", **FAST)
    with pytest.raises(ABInputError, match=r"holds \d experiments: checkout_layout \(3 variants"):
        from_source("demo:n_customers=3000,seed=11", **FAST)


def test_the_one_experiment_is_chosen_by_itself():
    a = analyse(
        {"experiment_exposures": exposures({"control": 0.1, "B": 0.12}, name="only")}, **FAST
    )
    assert a.experiment == "only" and a.control == "control"


@pytest.mark.parametrize(
    ("names", "control"),
    [
        (["Mens E-Mail", "No E-Mail", "Womens E-Mail"], "No E-Mail"),
        (["treatment", "holdout"], "holdout"),
        (["B", "A", "C"], "A"),
        (["new", "Baseline"], "Baseline"),
        (["v2", "control_group"], "control_group"),
    ],
)
def test_obvious_control_names_are_recognised(names, control):
    assert pick_control(names) == control


def test_no_obvious_control_is_an_error_listing_the_variants_not_the_first_row():
    with pytest.raises(ABInputError, match=r"among \['red', 'blue'\]: set control"):
        pick_control(["red", "blue"])
    a = analyse(
        {"experiment_exposures": exposures({"red": 0.1, "blue": 0.12})}, control="blue", **FAST
    )
    assert a.control == "blue" and a.results.iloc[0]["variant"] == "blue"
    with pytest.raises(ABInputError, match="control 'green' is not a variant"):
        analyse(
            {"experiment_exposures": exposures({"red": 0.1, "blue": 0.12})}, control="green", **FAST
        )


def test_srm_uses_the_planned_split_not_an_equal_one():
    ex = exposures({"control": 0.1, "B": 0.1}, sizes={"control": 7000, "B": 3000})
    assert analyse({"experiment_exposures": ex}, **FAST).srm.flagged  # equal split assumed
    a = analyse({"experiment_exposures": ex}, planned_split={"control": 0.7, "B": 0.3}, **FAST)
    assert not a.srm.flagged and "control 0.7" in a.srm.message
    with pytest.raises(ABInputError, match="planned split and observed variants differ"):
        analyse({"experiment_exposures": ex}, planned_split={"control": 0.5, "C": 0.5}, **FAST)


def test_metric_revenue_records_revenue_as_the_headline_and_the_verdict():
    # conversion equal, spend per converter much higher in B: revenue decides, not conversion
    ex = exposures({"control": 0.10, "B": 0.10}, n=6000, seed=3)
    ex.loc[ex["variant"] == "B", "revenue"] *= 1.6
    a = analyse({"experiment_exposures": ex}, metric="revenue", currency="EUR", **FAST)
    assert a.decided is a.revenue_decision and a.decided.verdict == "ship B"
    assert a.decision.verdict != "ship B"  # conversion alone would not ship
    head = [k for k in a.kpis() if k.headline]
    assert [k.name for k in head] == ["verdict", "srm_p_value", "best_variant_revenue_uplift"]
    rev = a.revenue.set_index("variant").loc["B"]
    assert head[2].value == rev.uplift and (head[2].low, head[2].high) == (
        rev.uplift_low,
        rev.uplift_high,
    )
    assert head[0].value == "ship B" and "revenue per user" in head[0].label
    rpu = [k for k in a.kpis() if k.name == "revenue_per_user"]
    assert {k.currency for k in rpu} == {"EUR"}
    assert a.headline().items[1] == ("Decided on", "revenue per user")
    assert fmt.money(rev.revenue_per_user, "EUR") in a.headline().text()


def test_metric_revenue_without_revenue_is_a_clear_error():
    ex = exposures({"control": 0.1, "B": 0.12}, revenue=False)
    with pytest.raises(
        ABInputError, match="metric = revenue, but revenue per user needs a revenue column"
    ):
        analyse({"experiment_exposures": ex}, metric="revenue", **FAST)


def test_three_arms_weigh_the_expected_loss_against_the_best_arm():
    # C beats the control for sure, but B is far better: shipping C loses ~30 % of the control rate
    ex = exposures({"control": 0.10, "B": 0.15, "C": 0.12}, n=20000, seed=1, revenue=False)
    a = analyse({"experiment_exposures": ex}, loss_threshold=0.01, **FAST)
    t = a.decision.table.set_index("variant")
    res = a.results.set_index("variant")
    assert res.loc["C", "chance_to_beat_control"] > 0.999
    assert res.loc["C", "loss_vs_control_relative"] < 0.01  # pairwise against the control: tiny
    assert res.loc["C", "expected_loss_relative"] > 0.2  # against the best arm: large
    assert t.loc["C", "verdict"] == "do not ship" and a.decision.verdict == "ship B"


def test_one_number_for_the_expected_loss_everywhere():
    ex = exposures({"control": 0.20, "B": 0.23, "C": 0.20}, n=900, seed=2, revenue=False)
    a = analyse({"experiment_exposures": ex}, **FAST)
    res = a.results.set_index("variant")
    kpi = {k.group.split(":")[1]: k.value for k in a.kpis() if k.name == "expected_loss_relative"}
    table = tables.results(a).set_index("Variant")
    head = dict(a.headline().items)
    for v in ("B", "C"):
        x = res.loc[v, "expected_loss_relative"]
        assert kpi[v] == x == a.decision.table.set_index("variant").loc[v, "expected_loss_relative"]
        assert f"expected loss {fmt.share(x)} of the control rate" in head[v]
        assert table.loc[v, tables.LOSS] == fmt.share(x)
    assert "risk" not in a.headline().text()


def test_sections_without_their_columns_are_skipped_with_one_sentence():
    ex = exposures({"control": 0.1, "B": 0.12}, revenue=False, extra=False)
    a = analyse({"experiment_exposures": ex}, run_pymc=False, plan_sims=0)
    assert {"revenue", "revenue_model", "segments", "stage", "planning", "truth"} <= set(a.skipped)
    for section in ("revenue", "segments", "stage"):
        reason = a.skipped[section]
        assert reason.endswith(".") and reason.count(". ") == 0, reason
    assert "revenue column" in a.skipped["revenue"] and "segment column" in a.skipped["segments"]
    assert a.revenue is None and a.segment_counts is None and a.stages is None
    a.headline(), a.kpis()  # still whole


def test_analysis_on_duckdb_equals_pandas(small_demo):
    kw = {"experiment": "checkout_layout", **FAST}
    a = analyse({"experiment_exposures": small_demo.table("experiment_exposures")}, **kw)
    b = analyse({"experiment_exposures": small_demo.lazy("experiment_exposures")}, **kw)
    pd.testing.assert_frame_equal(a.results, b.results)
    pd.testing.assert_frame_equal(a.revenue, b.revenue)
    assert a.headline() == b.headline()


def test_figures_draw(demo):
    axes = [
        abplots.posterior_densities(demo.results),
        abplots.uplift_intervals(demo.results, rope=0.01),
        *abplots.evolution(demo.evolution, loss_threshold=0.001),
        abplots.planning_curve(demo.plan),
        abplots.power_vs_effect(demo.power),
        abplots.revenue_comparison(tables.revenue_summaries(demo), currency="EUR"),
        abplots.segment_forest(
            pd.DataFrame(
                {
                    "segment": ["a", "b"],
                    "uplift": [0.1, 0.0],
                    "uplift_low": [0.0, -0.1],
                    "uplift_high": [0.2, 0.1],
                }
            )
        ),
    ]
    for ax in axes:
        assert ax.has_data()
    seg = axes[1].collections
    assert seg, "error bars drawn"
    res = demo.results[~demo.results["is_control"]]
    assert np.isfinite(res[["uplift_low", "uplift_high"]].to_numpy()).all()
    plt.close("all")
