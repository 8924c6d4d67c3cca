"""End to end: notebooks/03_churn.ipynb through the cjlab runner, in the shared demo run (the
small demo company through the main job, demo_reports.py), whose customer table carries names
and e-mails: they must never reach the report or the CRM list."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from conftest import assert_clean_report_notebook
from demo_reports import demo_reports


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_churn_notebook_end_to_end(tmp_path_factory):
    import nbformat

    from cjlab.report.kpis import kpis_from_notebook

    run = demo_reports(tmp_path_factory.getbasetemp())
    folder, html = run.folder, run.page("03_churn").read_text(encoding="utf-8")
    cust = pd.read_parquet(run.data / "customers")  # with name and email
    assert {"name", "email"} <= set(cust.columns) and run.names and run.emails
    nb = nbformat.read(folder / "03_churn.ipynb", as_version=4)
    assert_clean_report_notebook(nb)

    # the CRM list is a separate file in the run folder, linked from the report (never inline):
    # customer ids only, consenting customers
    assert "data:text/csv" not in html
    m = re.search(r'href="(exports/contact_list[^"]*\.csv)"', html)
    assert m, "link to the contact list missing"
    csv_text = (folder / m.group(1)).read_text(encoding="utf-8")
    csv = pd.read_csv(io.StringIO(csv_text))
    assert {
        "customer_id",
        "churn_probability",
        "clv",
        "top_reasons",
        "segment",
        "marketing_opt_in",
    } <= set(csv.columns)
    assert len(csv) > 0 and csv["contact"].all() and (csv["marketing_opt_in"] == 1).all()
    opted_out = set(cust.loc[cust["marketing_opt_in"] != True, "customer_id"])  # noqa: E712
    assert not opted_out & set(csv["customer_id"])
    blob = html + csv_text
    for n, e in cust[["name", "email"]].dropna().itertuples(index=False):
        assert e not in blob
        assert f">{n}<" not in blob and f",{n}," not in blob

    k = {r["name"]: r for r in kpis_from_notebook(nb)}
    assert {"roc_auc", "churn_rate", "revenue_at_risk", "mean_clv", "customers_at_risk"} <= set(k)
    assert k["roc_auc"]["low"] < k["roc_auc"]["value"] < k["roc_auc"]["high"]
    assert 0 < k["churn_rate"]["value"] < 0.5
    assert k["customers_at_risk"]["value"] == len(csv)
    assert k["revenue_at_risk"]["value"] > 0 and k["mean_clv"]["value"] > 0
