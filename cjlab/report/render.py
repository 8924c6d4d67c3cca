"""Executed notebook -> the HTML a stakeholder reads, through nbconvert preprocessors.

No code, no prompts, no warnings text (stderr), no stack traces: an error output becomes a
plain failure box and a failed notebook gets a banner at the top saying the figures below
the failing step are missing. Cells tagged ``remove-cell`` (and papermill's
``injected-parameters`` and error-link cells) go, cells tagged ``remove-output`` keep no
output (nbconvert's ``TagRemovePreprocessor``). Widget views (which need JavaScript from the
internet) are dropped — notebooks show a static fallback beside each widget — and KPI records
(machine-readable, collected into ``kpis.json``) are not shown. E-mail addresses in any text
are redacted. The run's parameters and data fingerprint go into a collapsed section at the
end; a table of contents is built from the markdown headings. The page loads nothing from the
internet.

Each step is a small :class:`nbconvert.preprocessors.Preprocessor` that counts what it removed
in ``resources["cjlab"]``; :func:`clean_for_report` runs them without exporting.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from cjlab.report.records import STATUS_OK, Outcome, RenderStats, ReportMeta
from cjlab.results import HEADLINE_END, HEADLINE_MIME, KPI_MIME

TEMPLATES = Path(__file__).parent / "templates"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
REMOVE_CELL_TAGS = {"remove-cell", "injected-parameters", "papermill-error-cell-tag"}
REMOVE_OUTPUT_TAGS = {"remove-output"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w-])")
_SCRIPT = re.compile(r"(<script\b.*?</script>)", re.S | re.I)
_HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*#*$")

__all__ = ["ReportMeta", "clean_for_report", "preprocessors", "redact_emails", "render_html"]


def redact_emails(text: str) -> tuple[str, int]:
    """Replace e-mail addresses in report text by a marker; return text and count.

    The bodies of ``<script>`` elements (e.g. the plotly.js library embedded with a
    figure) are left alone: they are code, not data.

    Examples
    --------
    >>> redact_emails("write to a.b@example.org")
    ('write to [e-mail removed]', 1)
    """
    parts = _SCRIPT.split(text)
    total = 0
    for i in range(0, len(parts), 2):
        parts[i], n = _EMAIL.subn("[e-mail removed]", parts[i])
        total += n
    return "".join(parts), total


def _stats(resources: dict[str, Any]) -> dict[str, Any]:
    return resources.setdefault(
        "cjlab",
        {
            "stderr_outputs": 0,
            "widget_views": 0,
            "errors": [],
            "emails_redacted": 0,
            "headings": [],
        },
    )


class _OutputFilter(Preprocessor):
    """Base: rewrite each output of each code cell (``_output`` returns a list of outputs)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.get("outputs"):
            stats = _stats(resources)
            cell.outputs = [new for o in cell.outputs for new in self._output(o, stats)]
        return cell, resources

    def _output(self, output, stats: dict[str, Any]) -> list:
        return [output]


class StderrRemovePreprocessor(_OutputFilter):
    """Drop stderr text (warnings, progress bars); it stays in the executed .ipynb."""

    def _output(self, output, stats):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            stats["stderr_outputs"] += 1
            return []
        return [output]


class FailureBoxPreprocessor(_OutputFilter):
    """An error output (a traceback) becomes a plain box saying which step failed and why."""

    def _output(self, output, stats):
        if output.get("output_type") != "error":
            return [output]
        ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
        stats["errors"].append({"ename": ename, "evalue": evalue})
        text = html.escape(_ANSI.sub("", f"{ename}: {evalue}"))
        return [
            nbformat.v4.new_output(
                "display_data",
                data={
                    "text/html": f'<div class="cj-failure"><b>This step failed.</b>\n{text}</div>'
                },
            )
        ]


class MachineOutputPreprocessor(_OutputFilter):
    """Drop KPI and headline records and widget views (and the notebook's saved widget state)."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def _output(self, output, stats):
        data = output.get("data", {})
        if KPI_MIME in data or HEADLINE_MIME in data:
            return []
        if WIDGET_MIME in data:
            stats["widget_views"] += 1
            return []
        return [output]


class EmailRedactPreprocessor(Preprocessor):
    """Redact e-mail addresses in markdown, text/HTML outputs and printed text."""

    def preprocess_cell(self, cell, resources, index):
        stats = _stats(resources)
        if cell.cell_type == "markdown":
            cell.source, n = redact_emails(cell.source)
            stats["emails_redacted"] += n
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = o.get("data", {})
            for mime in ("text/html", "text/plain", "text/markdown"):
                if isinstance(data.get(mime), str):
                    data[mime], n = redact_emails(data[mime])
                    stats["emails_redacted"] += n
            if o.get("output_type") == "stream":
                o["text"], n = redact_emails(o.get("text", ""))
                stats["emails_redacted"] += n
        return cell, resources


class ContentsPreprocessor(Preprocessor):
    """Collect the ``##``/``###`` headings for the table of contents."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = _HEADING.match(line)
                if m:
                    _stats(resources)["headings"].append((len(m.group(1)), m.group(2).strip()))
        return cell, resources


def preprocessors() -> list[Preprocessor]:
    """The report's preprocessors, in order (all enabled)."""
    tags = TagRemovePreprocessor(
        remove_cell_tags=REMOVE_CELL_TAGS, remove_all_outputs_tags=REMOVE_OUTPUT_TAGS
    )
    out = [
        tags,
        StderrRemovePreprocessor(),
        FailureBoxPreprocessor(),
        MachineOutputPreprocessor(),
        EmailRedactPreprocessor(),
        ContentsPreprocessor(),
    ]
    for p in out:
        p.enabled = True
    return out


def clean_for_report(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
    """Copy of ``nb`` fit for stakeholders, plus counts of what was removed.

    The counts: ``stderr_outputs``, ``widget_views``, ``errors`` (``ename``/``evalue`` of
    each error output), ``emails_redacted`` and the ``headings`` of the contents.
    """
    import copy

    nb, resources = copy.deepcopy(nb), {}
    for p in preprocessors():
        nb, resources = p(nb, resources)
    return nb, _stats(resources)


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
    for p in preprocessors():
        exp.register_preprocessor(p, enabled=True)
    return exp


def _toc(headings: list[tuple[int, str]]) -> str:
    if len(headings) < 2:
        return ""
    lis = "".join(
        f'<li style="margin-left:{(lvl - 2) * 16}px">'
        f'<a href="#{html.escape(re.sub(r"\s+", "-", t), quote=True)}">{html.escape(t)}</a></li>'
        for lvl, t in headings
    )
    return f'<nav class="cj-toc" id="toc"><b>Contents</b><ul>{lis}</ul></nav>'


def _rows(pairs, code: bool = False) -> str:
    def cell(v: Any) -> str:
        text = html.escape(
            json.dumps(v, default=str) if code or isinstance(v, dict | list) else str(v)
        )
        return f"<code>{text}</code>" if code else text

    return "".join(f"<tr><th>{html.escape(str(k))}</th><td>{cell(v)}</td></tr>" for k, v in pairs)


def _meta_section(meta: ReportMeta, outcome: Outcome) -> str:
    git = meta.git or {}
    commit = (
        f"{git.get('commit') or 'unknown'}{' (uncommitted changes)' if git.get('dirty') else ''}"
    )
    run = [
        ("run", meta.run),
        ("notebook", meta.notebook),
        ("status", outcome.status),
        ("started", outcome.started_at),
        ("duration", f"{outcome.duration_s or 0:.1f} s"),
        ("git commit", commit),
    ]
    return (
        '<details class="cj-meta" id="run-parameters">'
        "<summary>Run parameters, data and provenance</summary>"
        f"<h4>Parameters</h4><table>{_rows((meta.parameters or {}).items(), code=True)}</table>"
        f"<h4>Data</h4><table>{_rows((meta.data or {}).items())}</table>"
        f"<h4>Run</h4><table>{_rows(run)}</table></details>"
    )


def _banner(outcome: Outcome) -> str:
    err = outcome.error
    what = f"{err.type}: {err.message}" if err else "Error"
    what = html.escape(_ANSI.sub("", what))[:1500]
    return (
        '<div class="cj-banner" id="failure"><h2>This report is incomplete: the analysis '
        f"{html.escape(outcome.status)}.</h2><p>{what}</p><p>Figures and numbers after the "
        "failing step are missing; do not use this report for decisions. The executed "
        "notebook (.ipynb) beside it holds the full details.</p></div>"
    )


ANALYSTS_SUMMARY = "For analysts: model details and checks"
_ANALYSTS_HEADING = re.compile(r'<h2 id="For-analysts"')
_CELL = re.compile(r'<div class="jp-Cell(?: [^"]*)?"')  # a cell, not its inner jp-Cell-... parts
_ANALYSTS_CSS = (
    "<style>.cj-analysts{margin:24px 0;border-top:1px solid #ccd;padding-top:8px}"
    ".cj-analysts>summary{cursor:pointer;font-size:17px;font-weight:bold;color:#3b6ea8;"
    "padding:6px 0}</style>"
)


def analyst_section(body: str) -> str:
    """Collapse the report from its ``## For analysts`` heading to the end into a ``<details>``.

    nbconvert renders each cell as its own ``<div class="jp-Cell ...">`` inside ``<main>``, so the
    open tag goes before the heading's cell and the close tag before ``</main>``; a page without
    the heading is returned unchanged.

    Examples
    --------
    >>> page = '<main><div class="jp-Cell a">x</div><div class="jp-Cell b"><div class="jp-Cell-in">'
    >>> page += '<h2 id="For-analysts">For analysts</h2></div></div><div class="jp-Cell c">fit</div></main>'
    >>> analyst_section(page).startswith('<main><div class="jp-Cell a">x</div><style>')
    True
    >>> out = analyst_section(page)
    >>> out.index("<details") < out.index('id="For-analysts"') < out.index("</details></main>")
    True
    >>> analyst_section("<main>no heading</main>")
    '<main>no heading</main>'
    """
    m = _ANALYSTS_HEADING.search(body)
    end = body.rfind("</main>")
    cells = list(_CELL.finditer(body, 0, m.start())) if m else []
    if not cells or end < m.start():
        return body
    start = cells[-1].start()
    opening = (
        f'{_ANALYSTS_CSS}<details class="cj-analysts" id="for-analysts-section">'
        f"<summary>{ANALYSTS_SUMMARY}</summary>"
    )
    return body[:start] + opening + body[start:end] + "</details>" + body[end:]


def render_html(ipynb: Path, out: Path, meta: ReportMeta, outcome: Outcome) -> RenderStats:
    """Render the executed notebook ``ipynb`` to ``out``; return what was removed.

    Parameters
    ----------
    ipynb : the executed notebook (papermill's output).
    out : the HTML file to write.
    meta : run, notebook, parameters, data and git commit for the page.
    outcome : how the execution ended; anything but completed puts the failure banner on top.
    """
    nb = nbformat.read(str(ipynb), as_version=4)
    title = meta.title or meta.notebook
    body, resources = _exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    stats = _stats(resources)
    top = (
        f'<div class="cj-runinfo">Report <b>{html.escape(title)}</b> · run '
        f"{html.escape(meta.run)} · {html.escape(meta.date)}</div>"
    )
    if outcome.status != STATUS_OK:
        top += _banner(outcome)
    toc = _toc(stats["headings"])
    body = body.replace("</head>", _EXTRA_CSS + "</head>", 1)
    if toc and HEADLINE_END in body:  # contents right after the headline box
        body = body.replace(HEADLINE_END, HEADLINE_END + toc, 1)
    elif toc:
        top += toc
    body = re.sub(r"<body[^>]*>", lambda m: m.group(0) + top, body, count=1)
    body = body.replace("</body>", _meta_section(meta, outcome) + "</body>", 1)
    body = analyst_section(body)
    out.write_text(body, encoding="utf-8")
    return RenderStats(
        stderr_outputs=stats["stderr_outputs"],
        widget_views=stats["widget_views"],
        error_outputs=len(stats["errors"]),
        emails_redacted=stats["emails_redacted"],
    )
