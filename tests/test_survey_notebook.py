"""End to end: notebooks/01_survey.ipynb through the cjlab runner on a small demo company
whose survey holds a malicious comment with personal data."""

from __future__ import annotations

import json

import pytest
from conftest import assert_clean_report_notebook, run_notebook_on_tables


@pytest.mark.slow
def test_survey_notebook_end_to_end(tmp_path, small_demo):
    import nbformat

    from cjlab.report.kpis import kpis_from_notebook

    tables = small_demo.load(*small_demo.tables)
    s = tables["survey_responses"].copy()
    cust = small_demo.relation("customers").df().set_index("customer_id")  # with name, email
    rows = s.index[:15]
    who = cust.loc[s.loc[rows, "customer_id"]]
    s.loc[rows, "comment"] = [
        f"<script>alert(1)</script> Die Lieferung kam viel zu spät. {n}, {e}"
        for n, e in zip(who["name"], who["email"])
    ]
    s.loc[rows, "nps"] = 0
    tables["survey_responses"] = s
    tables["customers"] = cust.reset_index()
    _, folder, html = run_notebook_on_tables(
        tables, tmp_path, "01_survey", "survey_e2e", cell_timeout=300, wall_timeout=600
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for n, e in zip(who["name"], who["email"]):
        assert e not in html
        assert n not in html

    nb = nbformat.read(folder / "01_survey.ipynb", as_version=4)
    assert_clean_report_notebook(nb)

    kpis = kpis_from_notebook(nb)
    waves = sorted(s["wave"].unique())
    nps_rows = {k["group"]: k for k in kpis if k["name"] == "nps"}
    assert set(nps_rows) == set(waves)
    for k in nps_rows.values():
        assert (k["value"] is None) == (k["n"] < 30)  # small waves suppressed, not shown
        if k["value"] is not None:
            assert k["low"] <= k["value"] <= k["high"]
    assert {"csat_top2", "ces_mean", "nps_change"} <= {k["name"] for k in kpis}
    assert json.loads((folder / "kpis.json").read_text())


@pytest.mark.slow
def test_survey_notebook_on_data_without_optional_pieces(tmp_path, small_demo):
    """Own data with only a survey (one wave, no customers, orders, comments, CSAT or respondent
    types, a single rating): the report completes, each missing section says which data would
    enable it, and no traceback or stderr reaches it."""
    import html as html_lib
    import re

    import nbformat

    from cjlab import survey
    from cjlab.report.kpis import kpis_from_notebook

    s = small_demo.table("survey_responses")
    s = s[s["wave"] == s["wave"].max()]
    s = s.drop(
        columns=[
            "comment",
            "csat",
            "respondent_type",
            *[c for c in s.columns if c.startswith("rating_") and c != "rating_delivery"],
        ]
    )
    _, folder, page = run_notebook_on_tables(
        {"survey_responses": s},
        tmp_path,
        "01_survey",
        "survey_partial",
        cell_timeout=300,
        wall_timeout=600,
    )
    nb = nbformat.read(folder / "01_survey.ipynb", as_version=4)
    assert_clean_report_notebook(nb)
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|script)\b.*?</\1>", " ", page))
    text = html_lib.unescape(visible)
    assert "Traceback" not in text and "Error" not in text
    expected = survey.analyse({"survey_responses": s}, n_boot=0)
    assert {
        "weighting",
        "csat",
        "trend",
        "change",
        "segments",
        "drivers",
        "alpha",
        "themes",
    } <= set(expected.skipped)
    for reason in expected.skipped.values():
        assert reason in text, reason
    names = {k["name"] for k in kpis_from_notebook(nb)}
    assert {"nps_latest", "ces_mean_latest", "nps"} <= names
    assert not {n for n in names if n.startswith("csat") or n.endswith("_change")}
