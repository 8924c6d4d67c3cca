"""Privacy kept: no report page and no KPI record carries an identifier from the data.

The shared demo run (``demo_reports.demo_reports()``) uses distinctive customer ids
(``NW-00172-QX``, also the experiments' unit ids) and survey response ids (``RQ-00003-ZR``), so a
plain grep finds any that leak; names and e-mail addresses are the demo customers' own.
Customer-level lists (the churn contact list, the campaign CRM lists) are separate files in the
run's ``exports/`` folder, linked from the report, never embedded in it.
"""

from __future__ import annotations

import re

import pytest
from demo_reports import CUSTOMER_ID, RESPONSE_ID, demo_reports

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return demo_reports(tmp_path_factory.getbasetemp())


def _published(reports):
    """Every file a stakeholder may receive: report pages, kpis.json, the portal pages."""
    files = [reports.folder / nb.html for nb in reports.completed()]
    files += [reports.folder / "kpis.json", reports.reports_dir / "index.html"]
    files += [reports.reports_dir / "kpis.html"]
    return [f for f in files if f.exists()]


def test_the_ids_are_in_the_data_and_in_the_exports(reports):
    """The check can fail: the distinctive ids really reach the customer-level export files."""
    contact = reports.folder / "exports" / "contact_list.csv"
    assert contact.exists(), sorted(p.name for p in (reports.folder / "exports").glob("*"))
    assert CUSTOMER_ID.search(contact.read_text())
    assert len(reports.names) > 1000 and len(reports.emails) > 1000


#: An address; it starts where a run of address characters starts (the lookbehind), so a long run
#: without "@" (base64 image data) is scanned once, not once from every character of it.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.]+")


def _any_of(words) -> re.Pattern:
    """One regex matching any of ``words``, branching character by character (a trie): the same
    strings as ``"|".join(words)`` but without trying every alternative at every position."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def branch(node: dict) -> str:
        alts = [re.escape(ch) + branch(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(branch(trie))


def test_the_name_pattern_finds_exactly_the_names():
    names = ("Ann Lee", "Ann Leeds", "Bo", "Bob Ray", "Zoë Ünal")
    pat = _any_of(names)
    text = "x Ann Leeds, Bob Ray and Zoë Ünal met Ann Le; Bo. Ann Lee"
    assert pat.findall(text) == ["Ann Leeds", "Bob Ray", "Zoë Ünal", "Bo", "Ann Lee"]
    assert pat.findall("Ann Le, B o, Ray") == []


def test_the_address_pattern_finds_addresses_after_base64_runs():
    assert EMAIL.findall("img AAAA+b/cc== x Ann.Lee+1@mail.example.org, bo@x.io") == [
        "Ann.Lee+1@mail.example.org",
        "bo@x.io",
    ]


def test_no_identifier_in_any_report(reports):
    names = _any_of(reports.names)
    emails = {e.lower() for e in reports.emails}
    leaks = {}
    for f in _published(reports):
        text = f.read_text()
        found = CUSTOMER_ID.findall(text) + RESPONSE_ID.findall(text) + names.findall(text)
        found += [e for e in EMAIL.findall(text) if e.lower() in emails]
        if found:
            leaks[f.name] = sorted(set(found))[:5]
    assert leaks == {}


def test_customer_lists_are_linked_files_not_embedded(reports):
    for f in _published(reports):
        text = f.read_text()
        assert not re.search(r"data:(?!image/)[\w/+.-]*[;,]", text), f.name
    for nb in ("03_churn", "06_campaigns"):
        page = reports.page(nb).read_text()
        links = re.findall(r'href="(exports/[^"]+)"', page)
        assert links, f"{nb}: no link to its export files"
        for link in links:
            assert (reports.folder / link).exists(), link
