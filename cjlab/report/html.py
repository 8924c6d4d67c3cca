"""Executed notebook -> the HTML a stakeholder reads.

No code, no prompts, no warnings text (stderr), no stack traces: an error output becomes a
plain failure box and a failed notebook gets a banner at the top saying the figures below
the failing step are missing. Widget views (which need JavaScript from the internet) are
dropped — notebooks show a static fallback beside each widget. The run's parameters and
data fingerprint go into a collapsed section at the end; a table of contents is built from
the markdown headings. The page loads nothing from the internet.
"""

from __future__ import annotations

import copy
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from cjlab.results import HEADLINE_END, KPI_MIME

TEMPLATES = Path(__file__).parent / "templates"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w-])")


_SCRIPT = re.compile(r"(<script\b.*?</script>)", re.S | re.I)


def redact_emails(text: str) -> tuple[str, int]:
    """Replace e-mail addresses in report text by a marker; return text and count.

    The bodies of ``<script>`` elements (e.g. the plotly.js library embedded with a
    figure) are left alone: they are code, not data.
    """
    parts = _SCRIPT.split(text)
    total = 0
    for i in range(0, len(parts), 2):
        parts[i], n = _EMAIL.subn("[e-mail removed]", parts[i])
        total += n
    return "".join(parts), total

_EXTRA_CSS = """
<style>
body{max-width:1100px;margin:0 auto;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif}
.cj-banner{background:#fdecea;border:2px solid #c62828;color:#7f1d1d;padding:14px 18px;margin:16px 0;border-radius:6px;font-size:15px}
.cj-banner h2{margin:0 0 6px;color:#c62828}
.cj-failure{background:#fdecea;border-left:6px solid #c62828;padding:10px 14px;margin:8px 0;font-size:14px;white-space:pre-wrap}
.cj-meta{margin:30px 0 20px;font-size:13px;color:#333}
.cj-meta summary{cursor:pointer;font-weight:bold}
.cj-meta table{border-collapse:collapse;margin-top:6px}
.cj-meta td,.cj-meta th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
.cj-toc{background:#f7f7f9;border:1px solid #e3e3e8;padding:8px 16px;margin:10px 0 18px;font-size:14px;border-radius:4px}
.cj-toc ul{margin:4px 0 4px 18px;padding:0}
.cj-runinfo{color:#555;font-size:13px;margin:6px 0}
</style>
"""


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter

    exp = HTMLExporter(template_name="cjlab", extra_template_basedirs=[str(TEMPLATES)])
    exp.exclude_input = True
    exp.exclude_input_prompt = True
    exp.exclude_output_prompt = True
    return exp


def _failure_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    text = html.escape(_ANSI.sub("", f"{ename}: {evalue}"))
    return nbformat.v4.new_output(
        "display_data", data={"text/html": f'<div class="cj-failure"><b>This step failed.</b>\n{text}</div>'})


def clean_for_report(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
    """Copy of ``nb`` fit for stakeholders, plus counts of what was removed."""
    nb = copy.deepcopy(nb)
    stats = {"stderr_outputs": 0, "errors": [], "widget_views": 0, "emails_redacted": 0}
    cells = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags or "injected-parameters" in tags or "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            cell.source, n = redact_emails(cell.source)
            stats["emails_redacted"] += n
        if cell.cell_type == "code":
            outs = []
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stderr":
                    stats["stderr_outputs"] += 1
                    continue
                if o.get("output_type") == "error":
                    stats["errors"].append({"ename": o.get("ename"), "evalue": o.get("evalue")})
                    outs.append(_failure_output(o.get("ename", "Error"), o.get("evalue", "")))
                    continue
                data = o.get("data", {})
                if KPI_MIME in data:
                    continue
                if WIDGET_MIME in data:
                    stats["widget_views"] += 1
                    continue
                for mime in ("text/html", "text/plain", "text/markdown"):
                    if isinstance(data.get(mime), str):
                        data[mime], n = redact_emails(data[mime])
                        stats["emails_redacted"] += n
                if o.get("output_type") == "stream":
                    o["text"], n = redact_emails(o.get("text", ""))
                    stats["emails_redacted"] += n
                outs.append(o)
            cell.outputs = outs
            if "remove-output" in tags:
                cell.outputs = []
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb, stats


def _toc(nb: nbformat.NotebookNode) -> str:
    items = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"^(#{2,3})\s+(.+?)\s*#*$", line)
            if m:
                level = len(m.group(1))
                title = m.group(2).strip()
                anchor = re.sub(r"\s+", "-", title)
                items.append((level, title, anchor))
    if len(items) < 2:
        return ""
    lis = "".join(
        f'<li style="margin-left:{(lvl - 2) * 16}px"><a href="#{html.escape(a, quote=True)}">{html.escape(t)}</a></li>'
        for lvl, t, a in items)
    return f'<nav class="cj-toc" id="toc"><b>Contents</b><ul>{lis}</ul></nav>'


def _meta_section(meta: dict[str, Any], result: dict[str, Any], stats: dict[str, Any]) -> str:
    rows = []
    for k, v in (meta.get("parameters") or {}).items():
        rows.append(f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(json.dumps(v, default=str))}</code></td></tr>")
    data = meta.get("data") or {}
    drows = [f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
             for k, v in data.items()]
    git = meta.get("git") or {}
    run = [("run", meta.get("run")), ("notebook", meta.get("notebook")), ("status", result.get("status")),
           ("started", result.get("started_at")), ("duration", f"{result.get('duration_s', 0):.1f} s"),
           ("git commit", f"{git.get('commit') or 'unknown'}{' (uncommitted changes)' if git.get('dirty') else ''}")]
    rrows = [f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in run]
    return (f'<details class="cj-meta" id="run-parameters"><summary>Run parameters, data and provenance</summary>'
            f"<h4>Parameters</h4><table>{''.join(rows)}</table>"
            f"<h4>Data</h4><table>{''.join(drows)}</table>"
            f"<h4>Run</h4><table>{''.join(rrows)}</table></details>")


def _banner(result: dict[str, Any]) -> str:
    err = result.get("error") or {}
    what = html.escape(_ANSI.sub("", f"{err.get('type', 'Error')}: {err.get('message', '')}"))[:1500]
    status = result.get("status", "failed")
    return (f'<div class="cj-banner" id="failure"><h2>This report is incomplete: the analysis {html.escape(status)}.</h2>'
            f"<p>{what}</p><p>Figures and numbers after the failing step are missing; do not use this "
            "report for decisions. The executed notebook (.ipynb) beside it holds the full details.</p></div>")


def render_html(ipynb: Path, out: Path, meta: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Render the executed notebook ``ipynb`` to ``out``; return counts for the manifest."""
    nb = nbformat.read(str(ipynb), as_version=4)
    clean, stats = clean_for_report(nb)
    body, _ = _exporter().from_notebook_node(clean, resources={"metadata": {"name": meta.get("notebook", ipynb.stem)}})
    info = (f'<div class="cj-runinfo">Report <b>{html.escape(str(meta.get("notebook")))}</b> · run '
            f'{html.escape(str(meta.get("run")))} · {html.escape(str(meta.get("date")))}</div>')
    top = info
    if result.get("status") != "completed":
        top += _banner(result)
    toc = _toc(clean)
    body = body.replace("</head>", _EXTRA_CSS + "</head>", 1)
    if toc and HEADLINE_END in body:  # contents right after the headline box
        body = body.replace(HEADLINE_END, HEADLINE_END + toc, 1)
    elif toc:
        top += toc
    body = re.sub(r"<body[^>]*>", lambda m: m.group(0) + top, body, count=1)
    body = body.replace("</body>", _meta_section(meta, result, stats) + "</body>", 1)
    out.write_text(body, encoding="utf-8")
    return {"stderr_outputs": stats["stderr_outputs"], "widget_views": stats["widget_views"],
            "error_outputs": len(stats["errors"]), "emails_redacted": stats["emails_redacted"]}
