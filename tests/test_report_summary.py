"""Summaries that tell everything: the terminal/--notify summary gives every notebook's headline,
``cjlab compare`` prints values in their units with intervals, '–' for missing, and marks the
changes beyond the uncertainty; the data in words."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cjlab.report.records import NotebookResult, compare, format_compare
from cjlab.report.summary import describe_data, run_summary, top_headline


@dataclass
class _Result:  # what run_summary reads of a RunResult
    name: str
    folder: Path
    status: str
    notebooks: list
    manifest: dict = field(default_factory=dict)


def _kpi(nb, name, value, unit=None, **kw):
    return {"notebook": nb, "name": name, "value": value, "unit": unit, "label": name.title(), **kw}


NBS = [f"0{i}_nb{i}" for i in range(8)]


def _run(tmp_path: Path) -> _Result:
    kpis = []
    for i, nb in enumerate(NBS):  # 8 notebooks x 5 KPIs: far more than 12 in all
        kpis += [_kpi(nb, f"figure_{j}", 10 * i + j, "count", headline=j < 2) for j in range(5)]
    kpis.append(_kpi("01_nb1", "churn_rate", 0.0512, "share", low=0.04, high=0.06, headline=True))
    (tmp_path / "kpis.json").write_text(json.dumps({"kpis": kpis}))
    results = [
        NotebookResult(
            nb,
            f"Title {i}",
            "completed",
            duration_s=1.0,
            headline={"title": f"Headline of notebook {i}", "items": [["Why", f"w{i}"]]}
            if i != 3
            else None,
        )
        for i, nb in enumerate(NBS)
    ]
    results[5].status = "failed"
    results.append(NotebookResult("08_x", "Survey", "not applicable", "08_x needs the survey"))
    manifest = {"duration_s": 12,
                "data_sources": {"demo": {"kind": "demo", "spec": "demo", "tables": {"customers": 20000}}}}  # fmt: skip
    return _Result("quarterly", tmp_path, "failed", results, manifest)


def test_summary_gives_every_notebooks_headline_and_figures(tmp_path):
    text = run_summary(_run(tmp_path))
    assert "cjlab run quarterly: FAILED (7/8 notebooks, 1 not applicable) in 12 s" in text
    assert "data: the demo company (20,000 customers)" in text
    for i, nb in enumerate(NBS):
        assert f"Title {i} ({nb})" in text
        assert f"Figure_0 = {10 * i:,}" in text and f"Figure_1 = {10 * i + 1:,}" in text
        assert "Figure_2 =" not in text  # only headline figures
        if i != 3:
            assert f"  Headline of notebook {i}\n  - Why: w{i}" in text
    assert "Churn_Rate = 5.1 % (4.0 % to 6.0 %)" in text
    assert "Title 5 (05_nb5) (incomplete: the notebook did not finish)" in text
    assert "08_x: not applicable (needs the survey)" in text


def test_top_headline_falls_back_to_the_headline_figures():
    kpis = [_kpi("03_churn", "churn_rate", 0.05, "share", headline=True, label="Churn rate"),
            _kpi("03_churn", "n", 7, "count", group="a")]  # fmt: skip
    assert top_headline({"notebook": "03_churn"}, kpis) == ("Churn rate: 5.0 %", [])
    rec = {"notebook": "03_churn", "headline": {"title": "Churn is down", "items": [["a", "b"]]}}
    assert top_headline(rec, kpis) == ("Churn is down", ["a: b"])
    assert top_headline({"notebook": "03_churn", "headline": {"items": 3}}, [])[0] == ""


def _folder(tmp_path: Path, name: str, kpis: list) -> Path:
    f = tmp_path / name
    f.mkdir()
    (f / "kpis.json").write_text(json.dumps({"kpis": kpis}))
    return f


def test_compare_prints_units_intervals_missing_values_and_real_changes(tmp_path):
    a = _folder(tmp_path, "a", [
        _kpi("03", "churn", 0.47284999999999994, "share", low=0.45, high=0.49, label="Churn rate"),
        _kpi("03", "auc", None, "number", label="ROC-AUC"),
        _kpi("02", "rpu", 12.5, "money", currency="EUR", low=11.0, high=14.0, label="Revenue per user"),
        _kpi("05", "gone", 3, "count", label="Gone later"),
        _kpi("01", "nps", 30.0, "points", low=27.0, high=33.0, label="NPS", group="2025-09"),
    ])  # fmt: skip
    b = _folder(tmp_path, "b", [
        _kpi("03", "churn", 0.5501, "share", low=0.53, high=0.57, label="Churn rate"),
        _kpi("03", "auc", 0.0137, "number", label="ROC-AUC"),
        _kpi("02", "rpu", 12.9, "money", currency="EUR", low=11.5, high=14.4, label="Revenue per user"),
        _kpi("01", "nps", 31.0, "points", low=28.0, high=34.0, label="NPS", group="2025-09"),
    ])  # fmt: skip
    text = format_compare(compare(a, b), "a", "b")
    assert "03: Churn rate: 47.3 % (45.0 % to 49.0 %) -> 55.0 % (53.0 % to 57.0 %) (+7.7 pp" in text
    assert re.search(r"Churn rate: .*z = \+\d+\.\d\) \*$", text, re.M)  # beyond the uncertainty
    assert "03: ROC-AUC: – -> 0.0137" in text
    assert "02: Revenue per user: EUR 12.50 (EUR 11.00 to EUR 14.00) -> EUR 12.90" in text
    assert re.search(r"Revenue per user: .*\(EUR \+0\.40, z = \+0\.\d\)$", text, re.M)  # noise
    assert "05: Gone later: 3 -> –" in text
    assert "01: NPS — 2025-09: 30.0 points (27.0 to 33.0) -> 31.0 points (28.0 to 34.0)" in text
    for raw in ("0.47284999999999994", "nan", "None", "0.0137…"):
        assert raw not in text


def test_data_in_words():
    assert describe_data({"kind": "demo", "spec": "demo:n_customers=3000,seed=11",
                          "tables": {"customers": 3000}}) == "the demo company (3,000 customers, seed 11)"  # fmt: skip
    assert describe_data({"kind": "folder", "location": "/data/acme",
                          "tables": {"customers": 12345, "orders": 60000}}) == (
        "folder /data/acme: customers 12,345 rows, orders 60,000 rows"
    )  # fmt: skip
    assert describe_data(None) == "unknown data"
