"""Pain points with priorities: the demo's planted pain points rank first; the parts of the score
behave as documented; themes land on the touchpoint their writers rate lowest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.plan import steps
from cjlab.plan.analysis import planted_pain_points
from cjlab.plan.painpoints import PainPoints
from cjlab.survey import CommentThemes


@pytest.fixture(scope="module")
def demo_pains(small_demo):
    tables = small_demo.load("touchpoints", "orders", "survey_responses")
    pp, survey, why = steps.pain_points(
        tables, "2025-12-31", n_themes=0, n_boot=100, level=0.9, weights=None, random_state=0
    )
    assert why is None
    return pp, survey


def test_planted_pain_points_rank_first(small_demo, demo_pains):
    pp, _ = demo_pains
    planted = planted_pain_points(small_demo.truth)
    assert sorted(planted) == [
        "checkout",
        "delivery",
        "support",
    ]  # complaints on strong NPS drivers
    top = pp.table_["touchpoint"].head(len(planted)).tolist()
    assert sorted(top) == sorted(planted), pp.table_[["touchpoint", "priority"]]
    assert pp.table_["rank"].tolist() == list(range(1, len(pp.table_) + 1))


def test_praise_is_never_a_pain_point(demo_pains):
    pp, _ = demo_pains
    praise = ("quality", "fast", "thank", "happy", "lovely", "perfect")
    assert not pp.table_["themes"].str.contains("|".join(praise)).any()
    assert len(pp.strengths_) and (pp.strengths_["nps"] > 50).all()


def test_priority_interval_contains_the_estimate(demo_pains):
    t = demo_pains[0].table_
    assert (
        (t["priority_low"] <= t["priority"] + 1e-9) & (t["priority"] <= t["priority_high"] + 1e-9)
    ).all()
    assert t["priority"].max() <= 100 and t["priority"].min() >= 0
    assert t["rank_stability"].between(0, 1).all()


def _toy(n: int = 900, seed: int = 0):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            f"rating_{t}": rng.integers(2, 6, n).astype(float)
            for t in ("delivery", "checkout", "app")
        }
    )
    late = rng.random(n) < 0.2
    pay = ~late & (rng.random(n) < 0.1)
    d.loc[late, "rating_delivery"] = 1.0
    d.loc[pay, "rating_checkout"] = 1.0
    d["nps"] = np.clip(
        np.round(1 + 1.2 * d["rating_delivery"] + 1.0 * d["rating_checkout"] + rng.normal(0, 1, n)),
        0,
        10,
    )
    texts = np.where(
        late,
        rng.choice(["late delivery again", "parcel arrived late", "delivery far too slow"], n),
        np.where(
            pay,
            rng.choice(["payment failed at checkout", "checkout error payment"], n),
            rng.choice(["great quality", "lovely products", "nice shop overall"], n),
        ),
    )
    d["comment"] = texts
    d["customer_id"] = np.arange(n)
    return d


def test_themes_are_placed_on_the_touchpoint_their_writers_rate_lowest():
    d = _toy()
    ct = CommentThemes(n_themes=5, min_df=2).fit(d["comment"], d["nps"])
    pp = PainPoints(n_boot=30).fit(d, ct)
    assert set(pp.table_["touchpoint"]) == {"delivery", "checkout"}
    assert pp.table_.set_index("touchpoint").loc["delivery", "stage"] == "logistics"
    # delivery: more comments, larger NPS gap, more important for NPS -> first
    assert pp.table_["touchpoint"].iloc[0] == "delivery"


def test_score_is_the_weighted_mean_of_the_normalised_parts():
    d = _toy(seed=1)
    ct = CommentThemes(n_themes=5, min_df=2).fit(d["comment"], d["nps"])
    pp = PainPoints(weights={"nps_at_stake": 1.0}, n_boot=0).fit(d, ct)
    t = pp.table_
    np.testing.assert_allclose(t["priority"], 100 * t["nps_at_stake"] / t["nps_at_stake"].max())
    np.testing.assert_allclose(t["nps_at_stake"], t["prevalence"] * t["nps_gap"])
    revenue = pd.Series(10.0, index=d["customer_id"])
    pp2 = PainPoints(n_boot=0).fit(d, ct, revenue, {"logistics": 1000, "purchase": 2000})
    t2 = pp2.table_.set_index("touchpoint")
    assert t2.loc["delivery", "customers_affected"] == pytest.approx(
        1000 * t2.loc["delivery", "prevalence"]
    )
    assert t2.loc["checkout", "revenue_affected"] == pytest.approx(
        10.0 * t2.loc["checkout", "customers_affected"]
    )


def test_no_survey_no_pain_points():
    pp, survey, why = steps.pain_points(
        {"touchpoints": None},
        "2025-12-31",
        n_themes=0,
        n_boot=0,
        level=0.9,
        weights=None,
        random_state=0,
    )
    assert pp is None and survey is None and "survey_responses" in why
