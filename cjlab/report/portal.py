"""The portal pages of a reports folder: ``index.html`` (every run) and ``kpis.html`` (trends).

``index.html`` lists every run, newest first: its notebooks by title, each linked to its
report with its status and its top headline (:func:`cjlab.report.summary.top_headline`), and
the data in words ("the demo company (20,000 customers)"; the spec and fingerprint in a
tooltip). ``kpis.html`` is built by :mod:`cjlab.report.trends`.

Both are generated from the records of every run (:mod:`cjlab.report.records`) after each run
and by ``cjlab index``; they are never edited by hand. :func:`write_index` replaces each page
atomically; callers hold the reports folder's run lock (:func:`cjlab.report.runner.run_lock`)
so two writers never interleave.
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import Any

from cjlab.report.records import STATUS_NOT_APPLICABLE, STATUS_OK, read_manifests
from cjlab.report.summary import data_words, read_kpis, top_headline
from cjlab.report.trends import render_trends

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:24px} table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #e5e5e5;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8} .ok{color:#2e7d32;font-weight:bold} .bad{color:#c62828;font-weight:bold}
.na{color:#666} a{color:#1f5fa8} .muted{color:#777;font-size:12px}
table{table-layout:fixed} td{overflow-wrap:anywhere} ul.nbs{margin:0;padding-left:16px}
ul.nbs li{margin:0 0 6px} .hl{color:#444;font-size:13px}
"""


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _status_class(status: str | None) -> str:
    return "ok" if status == STATUS_OK else "na" if status == STATUS_NOT_APPLICABLE else "bad"


def _notebook_entry(folder: str, nb: dict[str, Any], kpis: list[dict[str, Any]]) -> str:
    """One notebook of a run in the index: its title linked to its report, its status and its
    top headline."""
    title = html.escape(str(nb.get("title") or nb["notebook"]))
    status = nb.get("status")
    if status == STATUS_NOT_APPLICABLE:
        reason = html.escape(str(nb.get("reason") or "the data lack what it needs"))
        return (
            f'<span class="na">{title}</span> <span class="muted">— not applicable: {reason}</span>'
        )
    cls = _status_class(status)
    mark = f'<span class="{cls}">{"✓" if cls == "ok" else "✗"}</span>'
    if nb.get("html"):
        href = html.escape(f"{folder}/{nb['html']}", quote=True)
        entry = f'<a href="{href}">{title}</a> {mark}'
    else:
        entry = f"{title} {mark}"
    head, _ = top_headline(nb, kpis)
    return entry + (f'<div class="hl">{html.escape(head)}</div>' if head else "")


def _run_row(r: dict[str, Any], kpis: list[dict[str, Any]]) -> str:
    folder = r["_folder"]
    links = [f"<li>{_notebook_entry(folder, nb, kpis)}</li>" for nb in r.get("notebooks", [])]
    data = "<br>".join(
        f'<span title="{html.escape(tip, quote=True)}">{html.escape(words)}</span>'
        for words, tip in data_words(r)
    )
    commit = ((r.get("git") or {}).get("commit") or "")[:8]
    href = html.escape(folder, quote=True)
    return (
        f"<tr><td>{html.escape(str(r.get('date')))}</td>"
        f"<td>{html.escape(str(r.get('name') or folder.split('/')[-1]))}"
        f"<br><span class='muted'>{html.escape(folder.split('/')[-1])}</span></td>"
        f'<td class="{_status_class(r.get("status"))}">{html.escape(str(r.get("status")))}</td>'
        f"<td><ul class='nbs'>{''.join(links)}</ul></td><td>{data}"
        f"<br><span class='muted' title='git commit'>{html.escape(commit)}</span></td>"
        f"<td>{(r.get('duration_s') or 0):.0f} s</td>"
        f'<td><a href="{href}/manifest.json">manifest</a> · '
        f'<a href="{href}/kpis.json">KPIs</a></td></tr>'
    )


def render_index(runs: list[dict[str, Any]], reports_dir: Path | None = None) -> str:
    """``index.html`` for the manifests ``runs`` (newest first, see :func:`read_manifests`);
    with ``reports_dir``, each notebook's top headline is read from its run's records."""
    body = "".join(
        _run_row(r, read_kpis(reports_dir / r["_folder"]) if reports_dir else []) for r in runs
    ) or (
        '<tr><td colspan="7">No runs yet: <code>make demo</code> or '
        "<code>cjlab run --all</code>.</td></tr>"
    )
    n_ok = sum(r.get("status") == STATUS_OK for r in runs)
    summary = ""
    if runs:
        latest = runs[0]
        status = latest.get("status")
        na = sum(nb.get("status") == STATUS_NOT_APPLICABLE for nb in latest.get("notebooks", []))
        na_text = f" ({na} notebook(s) not applicable to its data)" if na else ""
        summary = (
            f"<p id='latest'>Latest run: <b>{html.escape(latest['_folder'])}</b> — "
            f"<span class='{_status_class(status)}'>{html.escape(str(status))}</span>"
            f"{na_text}. {len(runs)} run(s), {n_ok} completed. "
            f"<a href='kpis.html'>KPI trends across runs</a></p>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>cjlab reports</title>"
        f"<style>{_CSS}</style></head><body><h1>cjlab reports</h1>{summary}"
        "<p class='muted'>Every run, newest first, each report with its headline. Generated by "
        "cjlab — do not edit.</p>"
        "<table id='runs'><colgroup><col style='width:90px'><col style='width:110px'>"
        "<col style='width:90px'><col><col style='width:190px'><col style='width:70px'>"
        "<col style='width:90px'></colgroup><thead><tr><th>date</th><th>run</th><th>status</th>"
        "<th>reports</th><th>data</th><th>duration</th><th>records</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )


def render_kpi_page(reports_dir: Path) -> str:
    """``kpis.html``: every KPI over the runs (see :mod:`cjlab.report.trends`)."""
    return render_trends(Path(reports_dir), _CSS)


def write_index(reports_dir: str | Path) -> Path:
    """Rebuild ``reports_dir/index.html`` and ``kpis.html`` from all runs; return the index path.

    The caller holds the run lock of ``reports_dir``.
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / "index.html"
    _atomic_write(path, render_index(read_manifests(reports_dir), reports_dir))
    _atomic_write(reports_dir / "kpis.html", render_kpi_page(reports_dir))
    return path
