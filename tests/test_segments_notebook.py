"""End to end: notebooks/04_segmentation.ipynb through the cjlab runner, on a company that has
only customers and orders (sections without their data say so in one sentence) and on the demo
(the shared demo run: every section; the planted-truth check only in the analysts' part, never
in kpis.json)."""

from __future__ import annotations

import pytest
from conftest import assert_clean_report_notebook, run_notebook_on_tables


def _kpis_and_texts(folder):
    import nbformat

    from cjlab.report.kpis import kpis_from_notebook

    nb = nbformat.read(folder / "04_segmentation.ipynb", as_version=4)
    outputs = assert_clean_report_notebook(nb)
    plain = [o["data"].get("text/plain", "") for o in outputs if o.get("data")]
    return kpis_from_notebook(nb), plain


@pytest.mark.slow
def test_segmentation_notebook_on_customers_and_orders_only(tmp_path, small_demo):
    tables = small_demo.load("customers", "orders")
    tables["customers"] = tables["customers"][["customer_id", "first_seen", "country"]]
    _, folder, html = run_notebook_on_tables(
        tables, tmp_path, "04_segmentation", "seg_orders_only", cell_timeout=600, wall_timeout=900
    )
    kpis, plain = _kpis_and_texts(folder)
    assert "Traceback" not in html and not any("cj-headline" in p for p in plain)
    assert "Response by channel, device and season needs the touchpoints table." in html
    assert "they need the touchpoints table" in html
    assert "need the cancelled_at column of customers" in html
    names = {k["name"] for k in kpis}
    assert {
        "buyers",
        "revenue",
        "rfm_segment_revenue_share",
        "status_share",
        "behaviour_k",
    } <= names
    assert not {n for n in names if "ari" in n or "recovery" in n}


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_segmentation_notebook_on_the_demo_keeps_planted_truth_for_analysts(tmp_path_factory):
    """The shared demo run (the main job on the small demo, demo_reports.py)."""
    from demo_reports import demo_reports

    run = demo_reports(tmp_path_factory.getbasetemp())
    folder, html = run.folder, run.page("04_segmentation").read_text(encoding="utf-8")
    kpis, _ = _kpis_and_texts(folder)
    headline = html.split('id="headline"', 1)[1].split("<!--/cj-headline-->")[0]
    for word in ("silhouette", "Rand index", "BIC", "planted", "Demo"):
        assert word not in headline
    before, _, analysts = html.partition('id="For-analysts"')
    assert "adjusted Rand index" in analysts and "adjusted Rand index of" not in before
    for by in ("channel", "device", "season"):
        assert f"Strongest responders by {by}" in before
    assert not {k["name"] for k in kpis if "ari" in k["name"] or "recovery" in k["name"]}
