"""End-to-end run of notebooks/02_ab_test.ipynb on a small demo company."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ab_notebook_runs_headline_first_and_records_kpis(tmp_path):
    papermill = pytest.importorskip("papermill")
    from cjlab.report.kpis import kpis_from_notebook
    from cjlab.results import KPI_MIME

    out = tmp_path / "ab.ipynb"
    nb = papermill.execute_notebook(
        str(ROOT / "notebooks" / "02_ab_test.ipynb"), str(out), kernel_name="python3", progress_bar=False,
        parameters={"data_source": "demo:n_customers=3000,seed=1", "pymc_draws": 200, "plan_sims": 20})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") in ("error", "stream") and
                (o.get("output_type") == "error" or o.get("name") == "stderr")]
    first_html = next(o for o in outputs if "text/html" in o.get("data", {}) or KPI_MIME in o.get("data", {}))
    assert 'id="headline"' in first_html["data"]["text/html"]
    kpis = {k["name"] for k in kpis_from_notebook(nb)}
    assert {"verdict", "uplift", "chance_to_beat_control", "srm_p_value", "conversion_rate"} <= kpis
    html = "".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    assert "Planted truth against the estimates" in html
