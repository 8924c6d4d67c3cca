"""The demo generator's what-if worlds (cjlab.data.synth_journey): the default demo is untouched,
an intervention changes only the customers it touches, and it changes them as planted."""

from __future__ import annotations

import pandas as pd
import pytest

from cjlab.data import synth
from cjlab.data.synth_journey import Intervention, first_touch, reached

N, SEED = 3000, 11


@pytest.fixture(scope="module")
def base():
    return synth.generate(N, SEED)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return a.reset_index(drop=True).equals(b.reset_index(drop=True))


def test_no_intervention_and_a_zero_effect_leave_every_value(base):
    again = synth.generate(N, SEED, intervention=None)
    zero = synth.generate(
        N, SEED, intervention=Intervention("transition", stage="comparison", effect=0.0)
    )
    for t in base.tables:
        assert _same(base.tables[t], again.tables[t]) and _same(base.tables[t], zero.tables[t]), t
    assert "intervention" not in base.truth and zero.truth["intervention"]["moved"] == 0


def test_a_transition_changes_only_the_customers_it_moved_on(base):
    iv = Intervention(
        "transition", stage="comparison", effect=0.1, category_column="device", category="mobile"
    )
    w = synth.generate(N, SEED, intervention=iv)
    new_orders = w.tables["orders"]
    changed = set(new_orders["customer_id"]) - set(base.tables["orders"]["customer_id"])
    assert len(changed) == w.truth["intervention"]["new_buyers"] > 0
    ids = base.tables["customers"]["customer_id"].to_numpy()
    before = reached(base.tables, ids)
    dev = first_touch(base.tables["touchpoints"], "device").reindex(ids)
    moved = ids[pd.Series(reached(w.tables, ids)).ne(pd.Series(before)).to_numpy()]
    assert set(changed) <= set(moved)
    assert (before[pd.Index(ids).get_indexer(moved)] == 2).all()  # they had stopped at comparison
    assert (dev.loc[moved] == "mobile").all()  # and are mobile customers
    for t in ("orders", "touchpoints", "customers", "survey_responses"):
        keep = lambda df: df[~df["customer_id"].isin(moved)]  # noqa: E731
        assert _same(keep(base.tables[t]), keep(w.tables[t])), t
    # step conversion comparison -> persuasion of mobile customers rises by about the effect
    mob = (dev == "mobile").to_numpy()
    rate = lambda r: (r[mob] >= 3).sum() / (r[mob] >= 2).sum()  # noqa: E731
    after = reached(w.tables, ids)
    assert rate(after) - rate(before) == pytest.approx(0.1, abs=0.04)


def test_a_spend_shift_swaps_prospects_at_the_cost_ratio(base):
    iv = Intervention(
        "spend_shift",
        effect=0.2,
        source="paid_search",
        target="email",
        cost_per_prospect={"paid_search": 12.0, "email": 4.0},
    )
    w = synth.generate(N, SEED, intervention=iv)
    t = w.truth["intervention"]
    assert t["added"] == round(3 * t["removed"]) and t["removed"] > 0
    cust = w.tables["customers"]
    assert cust["customer_id"].is_unique and w.tables["orders"]["order_id"].is_unique
    new = cust[cust["customer_id"] >= 1_000_000_000]
    assert len(new) == t["added"]
    ch = first_touch(w.tables["touchpoints"], "channel").reindex(new["customer_id"])
    assert (ch == "email").all()
    assert len(cust) == len(base.tables["customers"]) - t["removed"] + t["added"]


def test_bad_interventions_are_refused():
    with pytest.raises(ValueError, match="kind"):
        Intervention("magic")
    with pytest.raises(ValueError, match="pre-purchase"):
        Intervention("transition", stage="loyalty", effect=0.1)
    with pytest.raises(ValueError, match="cost_per_prospect"):
        Intervention("spend_shift", effect=0.1)
