"""The stakeholder HTML: no code, no stderr, no tracebacks, no widgets needing the internet,
escaped data, redacted e-mails, identifier columns hidden, contents and provenance present."""

from __future__ import annotations

import nbformat
import pandas as pd

from cjlab import notebook as rd
from cjlab.report.records import Failure, Outcome, RenderStats
from cjlab.report.render import ReportMeta, clean_for_report, redact_emails, render_html
from cjlab.results import HEADLINE_END, KPI_MIME


def _executed_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    md = nbformat.v4.new_markdown_cell(
        "# Title\n\n## First part\n\nText.\n\n## Second part\n\nWrite to anna.mueller@example.com"
    )
    head = nbformat.v4.new_code_cell("secret_code_here()")
    head.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": '<div class="cj-headline" id="headline"><h2>H</h2></div>'
                + HEADLINE_END
            },
        )
    ]
    warn = nbformat.v4.new_code_cell("import warnings")
    warn.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something noisy"),
        nbformat.v4.new_output("stream", name="stdout", text="contact bob@corp.example.org"),
    ]
    widget = nbformat.v4.new_code_cell("slider")
    widget.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {
                    "model_id": "abc",
                    "version_major": 2,
                    "version_minor": 0,
                },
                "text/plain": "IntSlider(value=3)",
            },
        )
    ]
    kpi = nbformat.v4.new_code_cell("kpi")
    kpi.outputs = [
        nbformat.v4.new_output("display_data", data={KPI_MIME: {"name": "x", "value": 1}})
    ]
    err = nbformat.v4.new_code_cell("boom()")
    err.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="bad <b>input</b>",
            traceback=["Traceback (most recent call last):", "  File x"],
        )
    ]
    nb.cells = [md, head, warn, widget, kpi, err]
    return nb


def test_clean_for_report_counts_and_removes():
    clean, stats = clean_for_report(_executed_nb())
    assert stats["stderr_outputs"] == 1 and stats["widget_views"] == 1
    assert stats["errors"] == [{"ename": "ValueError", "evalue": "bad <b>input</b>"}]
    assert stats["emails_redacted"] == 2
    assert "widgets" not in clean.metadata


def test_render_html(tmp_path):
    ipynb = tmp_path / "x.ipynb"
    nbformat.write(_executed_nb(), str(ipynb))
    out = tmp_path / "x.html"
    meta = ReportMeta(
        run="r",
        date="2026-01-01",
        notebook="x",
        title="A test report",
        parameters={"data_source": "demo", "min_n": 30},
        data={"spec": "demo", "fingerprint": "sha256:abc"},
        git={"commit": "deadbeef", "dirty": False},
    )
    outcome = Outcome("failed", duration_s=1.0, error=Failure("ValueError", "bad <b>input</b>"))
    info = render_html(ipynb, out, meta, outcome)
    page = out.read_text()
    assert info == RenderStats(stderr_outputs=1, widget_views=1, error_outputs=1, emails_redacted=2)
    assert "<title>A test report</title>" in page and "Report <b>A test report</b>" in page
    assert "secret_code_here" not in page and "import warnings" not in page  # no code
    assert "something noisy" not in page and "Traceback" not in page
    assert "IntSlider" not in page and "Loading widget" not in page
    assert "anna.mueller@example.com" not in page and "bob@corp.example.org" not in page
    assert "bad &lt;b&gt;input&lt;/b&gt;" in page and "bad <b>input</b>" not in page
    assert 'id="failure"' in page and "This report is incomplete" in page
    assert (
        'id="toc"' in page
        and "First part" in page
        and page.index('id="headline"') < page.index('id="toc"')
    )
    assert 'id="run-parameters"' in page and "sha256:abc" in page and "min_n" in page
    for external in (
        '<script src="http',
        "cdnjs.cloudflare",
        "unpkg.com",
        "require.min.js",
        "mathjax/",
    ):
        assert external not in page.lower(), external


def test_redact_emails():
    text, n = redact_emails("a@b.de, Mail: x.y+z@mail.example.co.uk; not@all")
    assert n == 2 and "@b.de" not in text and "not@all" in text
    code = "<p>x@y.org</p><script>/* (c) feross@feross.org */ var a = 1;</script><p>z@w.net</p>"
    text, n = redact_emails(code)
    assert n == 2 and "feross@feross.org" in text and "x@y.org" not in text


def test_tables_escape_and_hide_identifiers():
    df = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "comment": ["<script>alert(1)</script>", "ok"],
            "share": [0.1234, 0.5],
            "n": [12345, 7],
        }
    )
    page = rd.table_html(df, formats={"share": "share"})
    assert (
        "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    )
    assert "<th>customer_id</th>" not in page and "identifier columns hidden: customer_id" in page
    assert "12.3 %" in page and "12,345" in page
    assert "<th>customer_id</th>" in rd.table_html(df, allow_ids=True)


def test_headline_and_note_escape():
    html = rd.headline("NPS <up>", ["<img src=x onerror=alert(1)>"])
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "&lt;b&gt;" in rd.note("<b>x</b>")


def test_formatting_helpers():
    assert rd.fmt_interval(31.44, 28.0, 34.81, "points") == "31.4 points (28.0 to 34.8)"
    assert rd.fmt_number(0.1234, "share") == "12.3 %"
    assert rd.fmt_number(2414028.0) == "2,414,028"
    assert rd.fmt_number(None) == "–"


def test_interactive_is_skipped_in_batch(monkeypatch):
    built = []
    monkeypatch.setenv("CJLAB_BATCH", "1")
    assert rd.interactive(lambda: built.append(1) or "w") is None and built == []
    monkeypatch.setenv("CJLAB_BATCH", "0")
    assert rd.interactive(lambda: built.append(1) or "w") == "w" and built == [1]


def test_cells_at_the_time_limit_count_as_timeouts(tmp_path):
    from cjlab.report.execute import _cells_at_limit

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a"), nbformat.v4.new_code_cell("b")]
    nb.cells[0].metadata["papermill"] = {"duration": 1.0}
    nb.cells[1].metadata["papermill"] = {"duration": 59.9}
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    assert _cells_at_limit(tmp_path / "x.ipynb", 60) == [1]
    assert _cells_at_limit(tmp_path / "x.ipynb", 600) == []


def test_tagged_cells_and_outputs_are_removed():
    nb = nbformat.v4.new_notebook()
    cells = {}
    for tag in (
        "remove-cell",
        "injected-parameters",
        "papermill-error-cell-tag",
        "remove-output",
        "keep",
    ):
        c = nbformat.v4.new_code_cell(f"x = '{tag}'")
        c.metadata["tags"] = [tag]
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output of {tag}")]
        cells[tag] = c
    nb.cells = list(cells.values())
    clean, _ = clean_for_report(nb)
    kept = [c.metadata["tags"][0] for c in clean.cells]
    assert kept == ["remove-output", "keep"]
    assert clean.cells[0].outputs == [] and clean.cells[1].outputs[0]["text"] == "output of keep"
    assert nb.cells[3].outputs  # the executed notebook itself is left as it was
