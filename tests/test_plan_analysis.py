"""The journey plan as a whole: analyse/from_source on the demo and on data with pieces missing,
its headline and KPIs, and notebook 07 through the real runner (slow)."""

from __future__ import annotations

import pytest

from cjlab.plan import analyse, from_source, read_action_file, tables
from cjlab.plan.journey_plan import STATUSES
from cjlab.results import UNITS

FAST = {"n_draws": 200, "n_boot": 30}


@pytest.fixture(scope="module")
def demo_plan(small_demo):
    return from_source("demo:n_customers=3000,seed=11", currency="EUR", **FAST)


def test_the_plan_on_the_demo(demo_plan):
    a = demo_plan
    assert a.skipped == {} or set(a.skipped) <= {"trees"}, a.skipped
    assert a.headline().title.startswith("The journey plan")
    assert set(a.actions["status"]) <= set(STATUSES)
    assert a.actions["chosen"].sum() == len(a.chosen)
    assert len(a.questions) == 3 and a.review == "2026-04-30"
    assert a.truth_check["agrees"].all(), a.truth_check
    assert {"stage", "strengths", "weaknesses", "opportunities", "threats"} <= set(a.swot.columns)
    # every action sits in one tree leaf at most once, and trees list their root alone first
    assert (a.trees.groupby("tree")["steps"].first() == 1).all()


def test_kpis_are_well_formed_and_carry_no_planted_truth(demo_plan):
    ks = demo_plan.kpis()
    keys = [(k.name, k.group) for k in ks]
    assert len(keys) == len(set(keys))
    assert all(k.unit in UNITS for k in ks)
    assert not [k for k in ks if "truth" in k.name or "planted" in k.label.lower()]
    money = [k for k in ks if k.unit == "money"]
    assert money and all(k.currency == "EUR" for k in money)
    names = {k.name for k in ks}
    assert {
        "plan_net_value",
        "plan_revenue",
        "plan_orders",
        "next_review",
        "top_pain_point",
    } <= names


def test_headline_figures_are_the_kpis(demo_plan):
    """One number per concept: the headline shows the KPIs' own text."""
    a = demo_plan
    k = {(x.name, x.group): x for x in a.kpis()}
    text = a.headline().text()
    assert k[("plan_net_value", None)].text() in text
    for r in a.questions.itertuples(index=False):
        key = ("what_if_nps", r.id) if r.kind == "pain" else ("what_if_revenue", r.id)
        assert k[key].text() in text


def test_the_plan_export_holds_no_personal_data(demo_plan):
    df = tables.plan_export(demo_plan)
    assert len(df) == len(demo_plan.actions)
    assert not {"customer_id", "email", "name"} & set(df.columns)
    for fn in (
        tables.plan,
        tables.plan_impact,
        tables.actions,
        tables.tests,
        tables.trees,
        tables.questions,
        tables.pain_points,
        tables.pain_costs,
        tables.swot,
        tables.transitions,
        tables.value_curve,
    ):
        out, _ = fn(demo_plan)
        assert len(out.columns) <= 8, fn.__name__  # fits a 1280 px page


def test_touchpoints_and_customers_only(small_demo):
    t = small_demo.load("touchpoints", "customers")
    a = analyse(t, actions=read_action_file("params/journey_actions.yaml"), **FAST)
    assert "survey_responses" in a.skipped["pain_points"] and "orders" in a.skipped["value"]
    assert a.pain_points is None and not a.has_value
    assert not [k for k in a.kpis() if k.unit == "money"]
    assert any("needs the orders table" in n or "no survey" in n for n in a.notes)
    assert a.headline().title.startswith("The journey plan")


def test_touchpoints_only_with_a_customers_category(small_demo):
    t = small_demo.load("touchpoints")
    a = analyse(t, category="country", questions=[], **FAST)  # no customers table: one category
    assert a.simulator.data_.categories == ("unknown",) and a.questions is None
    assert any("no country column" in n for n in a.notes)
    b = analyse(
        small_demo.load("touchpoints", "customers"), category="country", questions=[], **FAST
    )
    assert "DE" in b.simulator.data_.categories


@pytest.mark.slow
@pytest.mark.parametrize(
    "pieces",
    [("touchpoints", "customers", "orders", "survey_responses"), ("touchpoints", "customers")],
)
def test_notebook_07_runs_through_the_runner(small_demo, tmp_path, pieces):
    from conftest import assert_clean_report_notebook, run_notebook_on_tables

    data = small_demo.load(*pieces)
    _, folder, html = run_notebook_on_tables(
        data, tmp_path, "07_journey_plan", "plan", overrides={"n_draws": 200, "n_boot": 30}
    )
    import nbformat

    nb = nbformat.read(folder / "07_journey_plan.ipynb", as_version=4)
    assert_clean_report_notebook(nb)
    assert "Traceback" not in html and "&lt;div class" not in html
    exports = sorted(p.name for p in (folder / "exports").iterdir())
    assert exports == ["journey_plan.csv", "journey_plan.md"]
    if "orders" not in pieces:
        assert "needs the orders table" in html
