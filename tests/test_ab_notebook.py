"""End-to-end runs of notebooks/02_ab_test.ipynb: the demo company, and data without the optional
columns (revenue, segment, stage) where each section says in one sentence what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "run_pymc": True,
    "sampler_config": {"draws": 100, "tune": 100, "chains": 1},
    "plan_sims": 10,
    "revenue_draws": 500,
}


def _run(tmp_path, **parameters):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "ab.ipynb"
    return papermill.execute_notebook(
        str(ROOT / "notebooks" / "02_ab_test.ipynb"),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        parameters={**SMALL, **parameters},
    )


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _html_of(cells) -> str:
    return "".join(
        o["data"].get("text/html", "")
        for c in cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "data" in o
    )


def _html(nb) -> str:
    return _html_of(nb.cells)


def _assert_clean_and_headline_first(nb):
    from cjlab.results import KPI_MIME

    outputs = _outputs(nb)
    assert not [
        o
        for o in outputs
        if o.get("output_type") == "error"
        or (o.get("output_type") == "stream" and o.get("name") == "stderr")
    ]
    first = next(
        o for o in outputs if "text/html" in o.get("data", {}) or KPI_MIME in o.get("data", {})
    )
    assert 'id="headline"' in first["data"]["text/html"]


@pytest.mark.slow
def test_ab_notebook_runs_headline_first_and_records_kpis(tmp_path):
    from cjlab.report.kpis import kpis_from_notebook

    nb = _run(
        tmp_path,
        data_source="demo:n_customers=3000,seed=11",
        experiment="checkout_layout",
        currency="EUR",
        planned_split={"control": 1, "one_page": 1, "express": 1},
    )
    _assert_clean_and_headline_first(nb)
    records = kpis_from_notebook(nb)
    kpis = {k["name"] for k in records}
    assert {
        "verdict",
        "uplift",
        "chance_to_beat_control",
        "srm_p_value",
        "conversion_rate",
        "expected_loss_relative",
        "revenue_per_user",
        "plan_power",
    } <= kpis
    assert {k["currency"] for k in records if k["name"] == "revenue_per_user"} == {"EUR"}
    cut = next(
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and c.source.startswith("## For analysts")
    )
    before, after = _html_of(nb.cells[:cut]), _html_of(nb.cells[cut:])
    assert "planted truth against the estimates" in after
    assert "planted" not in before.lower()  # nor in the headline, nor in kpis.json
    assert not [k for k in records if "planted" in (k["label"] or "").lower()]


@pytest.mark.slow
def test_ab_notebook_without_optional_columns_says_what_is_missing(tmp_path, small_demo):
    ex = small_demo.table("experiment_exposures")
    ex = ex[ex["experiment"] == "loyalty_offer"].drop(columns=["revenue", "segment", "stage"])
    folder = tmp_path / "data"
    folder.mkdir()
    ex.to_parquet(folder / "experiment_exposures.parquet")
    nb = _run(tmp_path, data_source=str(folder))
    _assert_clean_and_headline_first(nb)
    html = _html(nb)
    for sentence in (
        "Revenue per user needs a revenue column",
        "Uplift by segment needs a segment column",
        "The journey stage of the test needs a stage column",
        "No planted truth to compare with",
    ):
        assert sentence in html
