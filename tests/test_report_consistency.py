"""One number per concept: the reports of a demo run and their ``kpis.json`` agree.

Reads the shared demo run (``demo_reports.demo_reports()``: every project notebook through the
real runner with the demo run file) and checks that

- every headline KPI (``headline=True``) shows in the report's headline box with exactly the value
  :mod:`cjlab.formatting` gives it (unit and currency), and every other KPI somewhere on its page;
- no KPI carries a demo planted-truth check (they belong to the analysts' section);
- money KPIs carry the run's currency; no negative zero, no scientific notation, one date format,
  no snake_case column headers in any report table.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from demo_reports import demo_reports, headline_box, stakeholder_part, visible_text

from cjlab import formatting as fmt

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
TRUTH_WORDS = re.compile(r"(?i)planted|truth|recover|\bARI\b|rand index|demo check")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    reports = demo_reports(tmp_path_factory.getbasetemp())
    kpis = json.loads((reports.folder / "kpis.json").read_text())["kpis"]
    pages = {nb.notebook: (reports.folder / nb.html).read_text() for nb in reports.completed()}
    return kpis, pages


def _text_without_provenance(markup: str) -> str:
    return visible_text(re.sub(r'(?s)<details class="cj-meta".*?</details>', "", markup))


def _not_shown(kpis, text_of) -> dict[str, list[str]]:
    """Per notebook, the KPIs whose formatted value is not in ``text_of(notebook)``."""
    missing = defaultdict(list)
    for k in kpis:
        value = fmt.number(k["value"], k["unit"], k.get("currency"))
        if value not in text_of(k["notebook"]):
            missing[k["notebook"]].append(f"{k['label']} [{k['group']}] = {value}")
    return dict(missing)


def test_every_headline_kpi_shows_in_the_headline_box_with_the_same_value(run):
    kpis, pages = run
    headline_kpis = [k for k in kpis if k["headline"]]
    assert {k["notebook"] for k in headline_kpis} >= set(pages) - {"07_journey_plan"}
    assert _not_shown(headline_kpis, lambda nb: visible_text(headline_box(pages[nb]))) == {}


def test_every_kpi_shows_on_its_page_with_the_same_value(run):
    kpis, pages = run
    assert _not_shown(kpis, lambda nb: _text_without_provenance(pages[nb])) == {}


def test_no_planted_truth_in_kpis(run):
    kpis, _ = run
    leaks = [
        (k["notebook"], k["name"], k["label"], k["group"])
        for k in kpis
        if TRUTH_WORDS.search(" ".join(str(k.get(f) or "") for f in ("name", "label", "group", "topic")))
    ]
    assert leaks == []


def test_money_carries_the_currency_of_the_run(run):
    kpis, _ = run
    assert [k["name"] for k in kpis if k["unit"] == "money" and k["currency"] != "EUR"] == []
    assert any(k["unit"] == "money" for k in kpis)


@pytest.mark.parametrize(
    "pattern, what",
    [
        (r"(?<![\w.,])[-−]0(?:\.0+)?(?![\d.,])", "negative zero"),
        (r"\d(?:\.\d+)?[eE][-+]?\d{1,3}\b", "scientific notation"),
        (r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", "a timestamp with seconds (dates are YYYY-MM-DD)"),
        (r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}\.\d{1,2}\.\d{4}\b", "a non-ISO date"),
        (r"\bnan\b|\bNaN\b|\bNone\b|\binf\b", "a missing value shown as nan/None/inf"),
    ],
)
def test_numbers_read_the_same_everywhere(run, pattern, what):
    _, pages = run
    found = {}
    for nb, markup in pages.items():
        hits = re.findall(f".{{0,30}}(?:{pattern}).{{0,20}}", _text_without_provenance(markup))
        if hits:
            found[nb] = hits[:5]
    assert found == {}, f"{what}: {found}"


def test_table_headers_are_words(run):
    _, pages = run
    found = {}
    for nb, markup in pages.items():
        heads = re.findall(r'<table class="cj-table">.*?</thead>', markup, re.S)
        snake = [
            h
            for block in heads
            for h in re.findall(r"<th[^>]*>(.*?)</th>", block)
            if re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)+", h)
        ]
        if snake:
            found[nb] = snake
    assert found == {}


def test_stakeholder_part_speaks_plain_language(run):
    """Model internals stay in the analysts' section (selection criteria, fit statistics)."""
    _, pages = run
    jargon = re.compile(r"(?i)\bsilhouette\b|\bBIC\b|adjusted Rand|\bp-value\b|log-likelihood|\bMAP\b fit")
    found = {
        nb: jargon.findall(visible_text(stakeholder_part(markup)))
        for nb, markup in pages.items()
    }
    assert {nb: hits for nb, hits in found.items() if hits} == {}
