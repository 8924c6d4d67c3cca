"""The portal pages from synthetic run folders: kpis.html grouped by schedule, notebook and topic
in lifecycle order, one small chart per KPI with its interval, ad-hoc runs apart, labels
written once, units and currency, a page bounded whatever the number of runs; index.html with
report titles, each notebook's headline and the data in words."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from cjlab.data.contract import STAGES
from cjlab.report.portal import render_index, render_kpi_page, write_index
from cjlab.report.records import read_manifests

NOTEBOOKS = {
    "00_data_overview": "Data overview",
    "01_survey": "Survey: NPS, satisfaction and effort",
    "05_journey": "The customer journey",
    "07_journey_plan": "The journey plan",
}
SPEC = "demo:n_customers=3000,seed=11"
FINGERPRINT = "sha256:7e140a787819b25e"


def _records(i: int, n_filler: int = 40) -> list[dict]:
    """About 240 KPI records per run, shaped like the project's (groups, topics, units)."""
    recs = [
        {"notebook": "00_data_overview", "name": "customers", "value": 3000 + 10 * i,
         "label": "Customers", "unit": "count", "topic": "data", "headline": True},
        {"notebook": "00_data_overview", "name": "revenue", "value": 330010.0 + i,
         "label": "Revenue in the data", "unit": "money", "currency": "EUR", "topic": "data"},
        {"notebook": "01_survey", "name": "nps_latest", "value": 30.0 + i, "low": 27.0 + i,
         "high": 33.0 + i, "label": "Net Promoter Score", "unit": "points", "topic": "scores",
         "headline": True, "higher_is_better": True},
        {"notebook": "01_survey", "name": "verdict", "value": "ship" if i % 2 else "wait",
         "label": "Verdict", "unit": "text", "topic": "scores"},
    ]  # fmt: skip
    for driver in ("delivery", "app"):
        recs.append({"notebook": "01_survey", "name": "driver_importance", "group": driver,
                     "value": 0.3, "low": 0.25, "high": 0.35, "unit": "share", "topic": "drivers",
                     "label": f"Driver importance: {driver}"})  # fmt: skip
    for stage in sorted(STAGES):  # alphabetical on purpose: the page must put them in stage order
        recs.append({"notebook": "05_journey", "name": "funnel_customers", "group": stage,
                     "value": 1000 - STAGES.index(stage) * 50, "unit": "count",
                     "label": "Customers reaching the stage", "topic": "funnel"})  # fmt: skip
    for j in range(n_filler):
        recs.append({"notebook": "07_journey_plan", "name": "action_net_value", "group": f"a{j}",
                     "value": 100.0 * j + i, "low": 50.0 * j, "high": 150.0 * j + 2 * i,
                     "unit": "money", "label": "Expected net value of the action",
                     "topic": "actions"})  # fmt: skip
    for j in range(180):
        recs.append({"notebook": "05_journey", "name": f"share_{j}", "value": 0.1 + i / 1000,
                     "low": 0.05, "high": 0.15, "unit": "share", "label": f"Share number {j}",
                     "topic": "attribution"})  # fmt: skip
    return recs


def write_run(reports: Path, day: str, name: str, i: int, folder: str | None = None,
              spec: str = SPEC, headline: bool = True) -> Path:  # fmt: skip
    """One run folder with a manifest and kpis.json (``i`` moves the figures)."""
    f = reports / day / (folder or name)
    f.mkdir(parents=True)
    nbs = [
        {"notebook": nb, "title": title, "status": "completed", "html": f"{nb}.html",
         "headline": {"title": f"{title}: headline of run {i}", "items": [["Point", "a"]],
                      "status": None} if headline else None}
        for nb, title in NOTEBOOKS.items()
    ]  # fmt: skip
    manifest = {
        "name": name, "date": day, "started_at": f"{day}T06:00:{i % 60:02d}Z", "status": "completed",
        "notebooks": nbs, "duration_s": 50,
        "data_sources": {spec: {"kind": "demo", "spec": spec, "fingerprint": FINGERPRINT,
                                "tables": {"customers": 3000, "orders": 5659}}},
    }  # fmt: skip
    (f / "manifest.json").write_text(json.dumps(manifest))
    kpis = [{**k, "run": name, "date": day} for k in _records(i)]
    (f / "kpis.json").write_text(json.dumps({"run": name, "date": day, "kpis": kpis}))
    return f


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory):
    """30 runs: 20 of the quarterly schedule, 6 of demo, 4 ad-hoc ones on the same data."""
    reports = tmp_path_factory.mktemp("portal") / "reports"
    i = 0
    for k in range(20):
        write_run(reports, f"2021-{1 + k % 12:02d}-{1 + k // 12:02d}", "quarterly", i := i + 1)
    for k in range(6):
        write_run(reports, f"2023-01-{10 + k:02d}", "demo", i := i + 1)
    for k in range(4):
        write_run(reports, f"2023-02-{10 + k:02d}", "adhoc", i := i + 1)
    return reports


def _section(page: str, index: int) -> str:
    start = page.index(f"id='schedule-{index}'")
    end = page.find("<section", start + 10)
    return page[start : end if end > 0 else len(page)]


def test_kpi_page_is_bounded_and_quick_whatever_the_number_of_runs(many_runs):
    t0 = time.perf_counter()
    page = render_kpi_page(many_runs)
    took = time.perf_counter() - t0
    size = len(page.encode())
    assert size < 1_500_000, f"kpis.html is {size / 1e6:.2f} MB for 30 runs"
    assert took < 10, took
    assert "data:image/png" not in page  # small inline SVG, no images
    # 30 more runs of the same schedule do not make the page larger: only the last 12 are charted
    for k in range(30):
        write_run(many_runs, f"2022-{1 + k % 12:02d}-{10 + k // 12:02d}", "quarterly", 100 + k)
    assert len(render_kpi_page(many_runs).encode()) <= size * 1.02


def test_kpi_page_groups_by_schedule_notebook_and_topic_in_lifecycle_order(many_runs):
    page = render_kpi_page(many_runs)
    assert page.index("id='schedule-0'") < page.index("id='schedule-1'")
    demo = _section(page, 0)  # the newest schedule first
    assert re.search(r"<h2>demo <span", demo) and "6 run(s)" in demo
    assert "the demo company (3,000 customers, seed 11)" in demo
    assert f"title='{SPEC} · {FINGERPRINT}'" in demo  # the spec and hash in a tooltip only
    order = [demo.index(f"{nb}</span></summary>") for nb in NOTEBOOKS]
    assert order == sorted(order)
    funnel = demo[demo.index("Customers reaching the stage") :]
    stages = [funnel.index(f"<td class='lab'>{s}</td>") for s in STAGES]
    assert stages == sorted(stages), "funnel stages in lifecycle order, not alphabetical"
    assert "<h4>Drivers</h4>" in demo and "<h4>Funnel</h4>" in demo


def test_each_kpi_is_one_chart_with_its_interval_and_ad_hoc_runs_stay_apart(many_runs):
    demo = _section(render_kpi_page(many_runs), 0)
    row = demo[demo.index("Net Promoter Score</td>") :]
    svg = row[row.index("<svg") : row.index("</svg>")]
    assert svg.count("<circle cx") - svg.count('r="5.5"') == 6  # the 6 demo runs on the line
    assert svg.count("<polyline") == 1 and "M" in svg  # one trend line, interval bars
    assert svg.count('stroke="#8a8a8a"') == 4  # the 4 ad-hoc runs: grey markers, off the line
    assert "adhoc: " in svg  # their tooltips say which run they are
    quarterly = _section(render_kpi_page(many_runs), 1)
    svg = quarterly[quarterly.index("<svg") : quarterly.index("</svg>")]
    assert svg.count("<circle") == 12  # the last 12 runs of a schedule of 20 (and no ad-hoc runs)


def test_labels_are_written_once_and_values_carry_their_units(many_runs):
    page = render_kpi_page(many_runs)
    assert "app — app" not in page and "Driver importance: app —" not in page
    drivers = page[page.index("<td colspan='4'>Driver importance</td>") :]
    assert drivers.index("<td class='lab'>delivery</td>") < drivers.index(
        "<td class='lab'>app</td>"
    )
    assert "EUR 330,036" in page  # money with its currency
    assert "56.0 points (53.0 to 59.0)" in page  # NPS in points with its interval
    assert "+1.0 points since 2023-01-14" in page  # the change in the KPI's unit
    assert "changed</span> (was “ship” on 2023-01-14)" in page  # text KPIs say what they were
    assert "30.0 %" in page and "0.3" not in re.sub(r"<[^>]+>", " ", page).split()


def test_index_shows_titles_headlines_and_the_data_in_words(many_runs):
    write_run(many_runs, "2024-01-01", "nohead", 7, headline=False)
    html = render_index(read_manifests(many_runs), many_runs)
    assert ">Survey: NPS, satisfaction and effort</a>" in html
    assert "Survey: NPS, satisfaction and effort: headline of run" in html
    assert "the demo company (3,000 customers, seed 11)" in html
    assert f'title="{SPEC} · {FINGERPRINT}"' in html
    visible = re.sub(r"<[^>]+>", " ", re.sub(r'title="[^"]*"', "", html))
    assert FINGERPRINT not in visible and SPEC not in visible
    # a run whose notebooks recorded no headline: its headline figures instead
    row = html[html.index("<td>2024-01-01</td>") :]
    assert "Customers: 3,070" in row[: row.index("</tr>")]


def test_write_index_replaces_both_pages(tmp_path):
    reports = tmp_path / "reports"
    write_run(reports, "2026-11-01", "quarterly", 1)
    write_index(reports)
    assert "KPI trends across runs" in (reports / "kpis.html").read_text()
    assert "cjlab reports" in (reports / "index.html").read_text()
    assert not list(reports.glob(".index-*"))
