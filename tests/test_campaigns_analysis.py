"""The campaign analysis on the demo and on partial data: sections skipped with one sentence,
KPIs in the shared units, consent respected, planted truth kept out of the KPIs; the notebook
through the real runner (slow)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from cjlab import campaigns
from cjlab.formatting import UNITS
from cjlab.results import NotApplicable

SECTIONS = ("incrementality", "uplift", "offers", "send_time", "triggers", "exports")


@pytest.fixture(scope="module")
def tables(small_demo):
    return small_demo.load("experiment_exposures", "orders", "touchpoints", "customers")


@pytest.fixture(scope="module")
def full(small_demo, tables):
    return campaigns.analyse(tables, truth=small_demo.truth, n_boot=50, currency="EUR")


def test_demo_runs_every_section_with_kpis_in_the_shared_units(full):
    assert not [s for s in SECTIONS if s in full.skipped], full.skipped
    assert full.experiment == "reactivation_email" and full.control == "holdout"
    h = full.headline()
    assert h.title.startswith("The reactivation_email campaign")
    labels = [k for k, _ in h.items]
    assert labels[:2] == ["Campaign", "Incremental conversion"] and "Best send time" in labels
    ks = full.kpis()
    assert all(k.unit in UNITS for k in ks)
    names = {k.name for k in ks}
    assert {
        "incremental_conversion",
        "qini_coefficient",
        "share_to_target",
        "offer_hit_rate_at_k",
        "send_time_hit_rate",
        "trigger_rate_ratio",
        "export_rows",
    } <= names
    head = [k for k in ks if k.headline and k.group is None]
    assert len({k.name for k in head}) == len(head)  # one ungrouped headline figure per name
    assert full.item == "product"  # the demo's finest item column


def test_planted_truth_stays_out_of_headline_and_kpis(full):
    assert full.truth_check is not None and len(full.truth_check) >= 3
    text = json.dumps([k.to_record() for k in full.kpis()]) + full.headline().text()
    assert "planted" not in text.lower() and "truth" not in text.lower()


def test_exports_hold_only_consenting_customers(full, tables):
    c = tables["customers"].set_index("customer_id")["marketing_opt_in"]
    assert set(full.exports) == {"uplift_targets", "next_best_offers", "send_time_schedule"}
    for name, df in full.exports.items():
        assert c.reindex(df["customer_id"]).fillna(False).all(), name
        assert not {"email", "name"} & set(df.columns)


def test_customers_and_orders_only(tables):
    a = campaigns.analyse({"customers": tables["customers"], "orders": tables["orders"]}, n_boot=20)
    for s in ("incrementality", "uplift", "send_time"):
        assert s in a.skipped and len(a.skipped[s]) < 200
    assert a.available("offers") and a.available("triggers")
    assert set(a.exports) == {"next_best_offers"}
    assert a.headline().title == "Campaigns: offers, send times and triggers"


def test_orders_without_consent_birth_date_or_items(tables):
    o = tables["orders"].drop(columns=["product", "product_category"])
    c = tables["customers"].drop(columns=["marketing_opt_in", "birth_date"])
    a = campaigns.analyse({"customers": c, "orders": o}, n_boot=20)
    assert "product_category column" in a.skipped["offers"]
    assert "birth_date" in a.skipped["birthday"]
    assert "birthday" not in set(a.triggers["trigger"])
    b = campaigns.analyse({"customers": c, "orders": tables["orders"]}, n_boot=20)
    assert b.available("offers") and not b.exports
    assert "marketing_opt_in" in b.skipped["exports"]  # no list without known consent


def test_exposures_only_like_hillstrom(tables):
    ex = tables["experiment_exposures"]
    a = campaigns.analyse({"experiment_exposures": ex}, experiment="reactivation_email", n_boot=20)
    assert a.available("incrementality")
    assert {"offers", "send_time", "triggers", "exports", "churn_policy"} <= set(a.skipped)


def test_ambiguous_or_unknown_experiment_is_a_sentence(tables):
    ex = tables["experiment_exposures"]
    two = ex[ex["experiment"].isin(["checkout_layout", "loyalty_offer"])]
    a = campaigns.analyse({"experiment_exposures": two}, n_boot=20)
    assert "set the parameter experiment" in a.skipped["incrementality"]
    b = campaigns.analyse({"experiment_exposures": ex}, experiment="nope", n_boot=20)
    assert "'nope' is not in the data" in b.skipped["uplift"]
    with pytest.raises(NotApplicable):
        campaigns.analyse({"customers": tables["customers"]})


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_notebook_on_the_demo_writes_crm_files_and_keeps_ids_out(tmp_path_factory):
    """The shared demo run (the main job on the small demo, demo_reports.py)."""
    import nbformat
    from conftest import assert_clean_report_notebook
    from demo_reports import demo_reports

    run = demo_reports(tmp_path_factory.getbasetemp())
    folder = run.folder
    assert_clean_report_notebook(nbformat.read(folder / "06_campaigns.ipynb", as_version=4))
    html = (folder / "06_campaigns.html").read_text(encoding="utf-8")
    files = {p.name for p in (folder / "exports").glob("*.csv")}
    assert {"next_best_offers.csv", "send_time_schedule.csv", "uplift_targets.csv"} <= files
    ids = pd.read_csv(folder / "exports" / "uplift_targets.csv")["customer_id"].astype(str)
    assert len(ids) > 0
    cells = {c.strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", html)}
    assert not cells & set(ids)  # no customer id in any table cell
    kpis = json.loads((folder / "kpis.json").read_text())
    assert any(k["name"] == "incremental_conversion" for k in kpis.get("kpis", kpis))
    assert "Demo check" in html and len(html) < 1_500_000


@pytest.mark.slow
def test_notebook_on_customers_and_orders_only(tmp_path, tables):
    from conftest import run_notebook_on_tables

    part = {"customers": tables["customers"], "orders": tables["orders"]}
    _, _folder, html = run_notebook_on_tables(part, tmp_path, "06_campaigns", "co")
    assert "Traceback" not in html
    assert "need a campaign with a random control group" in html
    assert "e-mail opens or clicks" in html


def test_lazy_tables_give_the_same_analysis_as_pandas():
    """orders, touchpoints and customers aggregated in DuckDB (large data) or in pandas: equal."""
    kw = {"n_boot": 20, "uplift_methods": ["t_learner"]}
    a = campaigns.from_source("demo:n_customers=3000,seed=11", engine="pandas", **kw)
    b = campaigns.from_source("demo:n_customers=3000,seed=11", engine="lazy", **kw)
    for field in ("effects", "offers", "pairs", "send_time", "triggers", "trigger_tiers", "inactivity"):
        pd.testing.assert_frame_equal(getattr(a, field), getattr(b, field), check_dtype=False, obj=field)
    assert a.headline() == b.headline()
    for name in a.exports:
        pd.testing.assert_frame_equal(a.exports[name], b.exports[name], check_dtype=False, obj=name)
