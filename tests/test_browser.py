"""What a stakeholder sees: the index and every report opened in a real headless Chromium.

Needs Debian's chromium and chromium-driver; the fixture installs them with apt-get when it
runs as root and they are missing, and skips with the reason only when that is impossible.
Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("browser")]
INJECTED = "<script>window.__pwned = 1; document.title = 'pwned'</script>"


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
    """A real run of the data overview and survey notebooks on demo data whose survey
    comments carry an injected script."""
    import pandas as pd

    from cjlab.data.synth import generate
    from cjlab.report.runner import run

    data = tmp_path_factory.mktemp("data")
    tables = generate(3000, seed=21).tables
    s = tables["survey_responses"]
    has = s["comment"].notna()
    s.loc[has, "comment"] = s.loc[has, "comment"].astype(str) + " " + INJECTED
    tables["touchpoints"]["campaign"] = tables["touchpoints"]["campaign"].where(
        tables["touchpoints"]["campaign"].isna(), tables["touchpoints"]["campaign"].astype(str)
    )
    for name, df in tables.items():
        df.to_parquet(data / f"{name}.parquet")
    assert isinstance(s, pd.DataFrame)
    out = tmp_path_factory.mktemp("reports")
    # every notebook of the project, as `make demo` runs them, on this data
    res = run(
        None,
        name="browser",
        data_source=str(data),
        reports_dir=out,
        jobs=2,
        progress=False,
        today=dt.date(2026, 11, 1),
    )
    assert res.ok, [(n.notebook, n.error) for n in res.notebooks]
    warnings = {n.notebook: n.stderr_outputs for n in res.notebooks if n.stderr_outputs}
    assert warnings == {}, (
        f"notebooks wrote warnings/stderr (see the .ipynb in {res.folder}): {warnings}"
    )
    return out, res


def _console_errors(drv) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def _shot(drv, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = drv.execute_script("return document.body.scrollHeight") or 2000
    drv.set_window_size(1280, min(int(height) + 100, 16000))
    drv.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_index_links_resolve_and_reports_render(browser, reports):
    from selenium.webdriver.common.by import By

    out, res = reports
    index = out / "index.html"
    browser.get(index.as_uri())
    assert browser.title == "cjlab reports"
    _shot(browser, "index")
    assert _console_errors(browser) == []
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a")]
    assert any(h.endswith("00_data_overview.html") for h in hrefs)
    for h in hrefs:
        assert h.startswith("file://"), f"index links outside the report folder: {h}"
        assert Path(h.removeprefix("file://")).exists(), f"broken link {h}"

    for nb in [n for n in res.notebooks if n.applicable]:
        page = res.folder / nb.html
        browser.get_log("browser")  # clear
        browser.get(page.as_uri())
        assert browser.find_element(By.ID, "headline").is_displayed(), nb.notebook
        assert browser.find_element(By.ID, "run-parameters")  # collapsed provenance
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
        assert "Traceback" not in body and "import cjlab" not in body
        assert "Loading widget" not in body
        _shot(browser, nb.notebook)

    kpi_page = out / "kpis.html"
    browser.get(kpi_page.as_uri())
    assert "KPI trends" in browser.title
    assert _console_errors(browser) == []


def test_injected_script_in_a_comment_shows_as_text(browser, reports):
    from selenium.webdriver.common.by import By

    _, res = reports
    survey = [nb for nb in res.notebooks if nb.notebook == "01_survey"]
    if not survey:
        pytest.skip("the survey notebook is not in this checkout")
    browser.get((res.folder / survey[0].html).as_uri())
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title != "pwned"
    assert "<script>window.__pwned" in browser.find_element(By.TAG_NAME, "body").text
