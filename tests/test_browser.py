"""What a stakeholder sees: every report of a demo run opened in a real headless Chromium at 1280 px.

One run of every project notebook (``demo_reports.demo_reports()``: the demo run file on the
small demo company with distinctive ids and a ``<script>`` in every survey comment) is shared by
the checks: nothing is wider than its box, each report is at most 1.5 MB and loads nothing from
the network, no console errors, images load, the index links resolve, the injected script shows
as text, the "For analysts" part is collapsed. A full-page screenshot of each report goes to
``test-artifacts/browser/``.

Needs Debian's chromium and chromium-driver; the fixture installs them with apt-get when it
runs as root and they are missing, and skips with the reason only when that is impossible.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from demo_reports import INJECTED, demo_reports, stakeholder_part, visible_text

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
MAX_BYTES = 1_500_000
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("browser")]

#: Elements wider than their box: an element whose overflow is not visible with content wider
#: than itself (it scrolls or clips), anything sticking out of the report's column, and the page.
OVERFLOW_JS = """
const out = [];
const main = document.querySelector('main') || document.body;
const right = main.getBoundingClientRect().right;
for (const el of document.querySelectorAll('body *')) {
  const cs = getComputedStyle(el);
  if (cs.display === 'none' || el.closest('details:not([open])')) continue;
  const what = el.tagName + '.' + String(el.className).slice(0, 40) + ': '
    + (el.innerText || el.getAttribute('alt') || '').slice(0, 60).replace(/\\s+/g, ' ');
  if (cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
    out.push('scrolls ' + el.scrollWidth + ' > ' + el.clientWidth + ' px: ' + what);
  else if (main.contains(el) && el.getBoundingClientRect().right > right + 1)
    out.push('sticks out ' + Math.round(el.getBoundingClientRect().right - right) + ' px: ' + what);
}
if (document.documentElement.scrollWidth > window.innerWidth)
  out.push('page ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth + ' px');
return out;
"""


def _ensure_chromium() -> tuple[str, str]:
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chrome and driver:
        return chrome, driver
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(
            "headless Chromium is not installed and cannot be installed here (need root and apt-get)"
        )
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
            check=True,
            capture_output=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"could not install chromium/chromium-driver with apt-get: {exc}")
    chrome, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chrome and driver):
        pytest.skip("chromium installed but not found on PATH")
    return chrome, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chrome, driver_path = _ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--hide-scrollbars",
        "--window-size=1280,2000",
        f"--user-data-dir={tmp_path_factory.mktemp('chrome')}",
    ):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return demo_reports(tmp_path_factory.getbasetemp())


def _console_errors(drv) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def _open(drv, page: Path) -> None:
    drv.set_window_size(1280, 2000)
    drv.get_log("browser")  # clear
    drv.get(page.as_uri())


def _shot(drv, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = drv.execute_script("return document.body.scrollHeight") or 2000
    drv.set_window_size(1280, min(int(height) + 100, 16000))
    drv.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    drv.set_window_size(1280, 2000)


def test_every_notebook_completes_quietly(reports):
    res = reports.result
    assert res.ok, [(n.notebook, n.status, n.error) for n in res.notebooks]
    warnings = {n.notebook: n.stderr_outputs for n in res.notebooks if n.stderr_outputs}
    assert warnings == {}, f"notebooks wrote warnings/stderr (see the .ipynb in {res.folder})"
    assert {n.notebook for n in reports.completed()} >= {
        "00_data_overview", "01_survey", "02_ab_test", "03_churn", "04_segmentation",
        "05_journey", "06_campaigns",
    }


def test_no_print_output_in_any_report(reports):
    """No stdout text and no bare repr (``Export(path=...)``) in an executed notebook."""
    found = []
    for nb in reports.completed():
        cells = json.loads((reports.folder / nb.ipynb).read_text())["cells"]
        for i, cell in enumerate(cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stdout":
                    found.append((nb.notebook, i, "".join(out["text"])[:80]))
                if out.get("output_type") == "execute_result" and set(out["data"]) == {"text/plain"}:
                    found.append((nb.notebook, i, "".join(out["data"]["text/plain"])[:80]))
    assert found == []


def test_reports_are_light_and_self_contained(reports):
    for nb in reports.completed():
        page = reports.folder / nb.html
        size = page.stat().st_size
        assert size <= MAX_BYTES, f"{nb.notebook}: {size / 1e6:.2f} MB > 1.5 MB"
        markup = page.read_text()
        scripts = re.findall(r"(?is)<script\b[^>]*>(.*?)</script>", markup)
        assert sum(map(len, scripts)) < 20_000, f"{nb.notebook}: a library is inlined"
        assert not re.search(r"(?i)<(script|link|img)\b[^>]*(src|href)=[\"']https?:", markup)


def test_overflow_check_catches_a_wide_table(browser, tmp_path):
    """The detector itself: a table wider than the column and a scrolling box are found."""
    from cjlab.notebook.display import _CSS

    cells = "".join(f"<td style='white-space:nowrap'>column {i} with a long label</td>" for i in range(12))
    page = tmp_path / "wide.html"
    page.write_text(
        f"<html><head>{_CSS}</head><body style='max-width:1100px;margin:0 auto'><main>"
        f"<table class='cj-table'><tr>{cells}</tr></table>"
        f"<div style='overflow-x:auto;width:300px'><div style='width:600px'>x</div></div>"
        "</main></body></html>"
    )
    _open(browser, page)
    problems = browser.execute_script(OVERFLOW_JS)
    assert any(p.startswith("sticks out") and "column 0" in p for p in problems), problems
    assert any(p.startswith("scrolls 600 > 300") for p in problems), problems


def test_every_report_fits_1280px_and_loads_offline(browser, reports):
    from selenium.webdriver.common.by import By

    failures = {}
    for nb in reports.completed():
        page = reports.folder / nb.html
        _open(browser, page)
        assert browser.find_element(By.ID, "headline").is_displayed(), nb.notebook
        assert browser.find_element(By.ID, "run-parameters")  # collapsed provenance
        _shot(browser, nb.notebook)
        # the analysts' part opened too: it must fit as well
        browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        problems = browser.execute_script(OVERFLOW_JS)
        if problems:
            failures[nb.notebook] = problems[:10]
        n_img = browser.execute_script("return document.images.length")
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"
        )
        assert n_img > 0 and broken == 0, (nb.notebook, n_img, broken)
        external = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !n.startsWith('file:') && !n.startsWith('data:'))"
        )
        assert external == [], f"{nb.notebook} loads from the network: {external}"
        assert _console_errors(browser) == [], nb.notebook
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Traceback" not in body and "import cjlab" not in body, nb.notebook
        assert "Loading widget" not in body, nb.notebook
    assert failures == {}, f"elements wider than their box at 1280 px: {failures}"


def test_analysts_part_is_collapsed_and_holds_the_demo_checks(browser, reports):
    from selenium.webdriver.common.by import By

    for nb in reports.completed():
        markup = (reports.folder / nb.html).read_text()
        if 'id="For-analysts"' not in markup:
            continue
        _open(browser, reports.folder / nb.html)
        details = browser.find_element(By.CSS_SELECTOR, "details.cj-analysts")
        assert details.get_attribute("open") is None, nb.notebook
        summary = details.find_element(By.TAG_NAME, "summary").text
        assert summary == "For analysts: model details and checks"
        # what the reader sees with the part closed: no planted-truth check, no analysts' heading
        seen = browser.find_element(By.TAG_NAME, "body").text
        assert not re.search(r"(?i)\bplanted\b", seen), f"{nb.notebook}: a demo check is showing"
        assert not browser.find_element(By.ID, "For-analysts").is_displayed(), nb.notebook
        after = browser.execute_script(
            "const d = document.querySelector('details.cj-analysts');"
            "return Array.from(document.querySelectorAll('main > *')).filter("
            "  e => d.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING).length"
        )
        assert after == 0, f"{nb.notebook}: {after} cells after the analysts' part are outside it"
        shown = visible_text(stakeholder_part(markup))
        assert not re.search(r"(?i)\bplanted\b", shown.split("Run parameters, data and provenance")[0])


def test_index_links_resolve(browser, reports):
    from selenium.webdriver.common.by import By

    _open(browser, reports.reports_dir / "index.html")
    assert browser.title == "cjlab reports"
    _shot(browser, "index")
    assert _console_errors(browser) == []
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a")]
    assert any(h.endswith("00_data_overview.html") for h in hrefs)
    for h in hrefs:
        assert h.startswith("file://"), f"index links outside the report folder: {h}"
        assert Path(h.removeprefix("file://").split("#")[0]).exists(), f"broken link {h}"
    _open(browser, reports.reports_dir / "kpis.html")
    assert "KPI trends" in browser.title
    assert _console_errors(browser) == []


def test_injected_script_in_a_comment_shows_as_text(browser, reports):
    from selenium.webdriver.common.by import By

    _open(browser, reports.page("01_survey"))
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title != "pwned"
    assert INJECTED[:20] in browser.find_element(By.TAG_NAME, "body").text
