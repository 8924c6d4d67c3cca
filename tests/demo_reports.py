"""One real run of every project notebook on a demo company made hostile, shared by the report checks.

The browser, report-consistency and privacy tests read the same run (``demo_reports()`` runs it
once per test process): the demo run file ``params/runs/demo.yaml`` (so 02 reports its
``experiment`` and money carries the currency) on the small demo company, whose

- customer ids are distinctive strings (``NW-00172-QX``; unit ids of the experiments too) and
  survey response ids likewise (``RQ-00003-ZR``), so a test can grep a report for them;
- survey comments each end in an injected ``<script>``, which the report must show as text.

Names and e-mail addresses are the demo's own (``customers.name``, ``customers.email``). The demo
stays a *demo* source (planted truth included), so the "For analysts" checks run; it lives in a
private cache folder (``CJLAB_CACHE``), never the session's shared demo cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SPEC = "demo:n_customers=3000,seed=11"
INJECTED = "<script>window.__pwned = 1; document.title = 'pwned'</script>"
CUSTOMER_ID = re.compile(r"NW-\d{5}-QX")
RESPONSE_ID = re.compile(r"RQ-\d{5}-ZR")
ID_COLUMNS = {
    "customers": ["customer_id"],
    "touchpoints": ["customer_id"],
    "orders": ["customer_id"],
    "survey_responses": ["customer_id"],
    "experiment_exposures": ["unit_id"],
    "customer_truth": ["customer_id"],
}


@dataclass(frozen=True)
class DemoReports:
    """The run: its folder, the runner's result, and the identifiers of the data."""

    reports_dir: Path
    folder: Path
    result: object  # cjlab.report.runner.RunResult
    names: tuple[str, ...]
    emails: tuple[str, ...]
    data: Path  # the demo folder the run read (its tables, names and e-mails included)

    def completed(self) -> list:
        """The notebooks that ran to the end (with an HTML page)."""
        return [n for n in self.result.notebooks if n.status == "completed" and n.html]

    def page(self, notebook: str) -> Path:
        return self.folder / next(n.html for n in self.result.notebooks if n.notebook == notebook)


def _distinct(value) -> object:
    if pd.isna(value):
        return value
    return f"NW-{int(value):05d}-QX"


def _make_hostile(folder: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Rewrite the demo folder's tables in place: distinctive ids, scripts in comments."""
    for table, columns in ID_COLUMNS.items():
        part = next((folder / table).glob("*.parquet"))
        df = pd.read_parquet(part)
        for col in columns:
            df[col] = df[col].map(_distinct).astype("string")
        if table == "survey_responses":
            df["response_id"] = [f"RQ-{i:05d}-ZR" for i in range(len(df))]
            has = df["comment"].notna()
            df.loc[has, "comment"] = df.loc[has, "comment"].astype(str) + " " + INJECTED
        df.to_parquet(part, index=False)
    customers = pd.read_parquet(folder / "customers")
    return tuple(customers["name"].dropna()), tuple(customers["email"].dropna())


@contextlib.contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@functools.cache
def demo_reports(tmp: Path | None = None) -> DemoReports:
    """Run every project notebook once (about two minutes on two cores) and return the run.

    ``tmp`` is the test session's base temporary folder (pytest keeps the last few and removes
    older ones); the run goes into ``tmp/demo-reports``.
    """
    from cjlab.cli import build_parser, run_options
    from cjlab.data.demo import demo_folder
    from cjlab.report.runner import run

    base = Path(tmp) / "demo-reports" if tmp else Path(tempfile.mkdtemp(prefix="cjlab-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    with _env(CJLAB_CACHE=str(base / "cache")):
        data = demo_folder(3000, 11)
        names, emails = _make_hostile(data)
        a = build_parser().parse_args(list(main_job_args(base / "reports")))
        result = run(options=run_options(a), today=dt.date(2026, 11, 1))
    return DemoReports(base / "reports", result.folder, result, names, emails, data)


#: the main job as the README and ``make demo`` give it: every notebook on the demo company
MAIN_JOB = ("run", "--params", "demo")


def main_job_args(reports_dir: Path) -> tuple[str, ...]:
    """The command line of the shared run: :data:`MAIN_JOB` on the small demo, into
    ``reports_dir``, two notebooks at a time, without a progress bar."""
    return (*MAIN_JOB, "--data", SPEC, "--reports-dir", str(reports_dir), "--jobs", "2",
            "--no-progress")  # fmt: skip


def visible_text(markup: str) -> str:
    """The text a reader sees: tags, scripts, styles and images removed, spaces collapsed."""
    import html

    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def headline_box(markup: str) -> str:
    """The markup of the headline box a report opens with."""
    m = re.search(r'<div class="cj-headline" id="headline">(.*?)</div><!--/cj-headline-->', markup, re.S)
    return m.group(1) if m else ""


def stakeholder_part(markup: str) -> str:
    """The page without its collapsed "For analysts" section."""
    return re.sub(r'(?s)<details class="cj-analysts".*?</details>(?=</main>)', "", markup)
