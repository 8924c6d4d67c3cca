"""What a notebook shows a stakeholder: headline, KPI records, tables, notes.

The presentation layer: only notebooks (and the report) import it; analyses never do.
:func:`show` displays an analysis' headline and records its KPIs; :func:`skipped` puts the
one-sentence note in place of a section whose data are absent.

Every helper escapes data text (comments, campaign names) so a value like
``<script>alert(1)</script>`` shows as text in the HTML report.

KPI records travel inside the executed notebook as display outputs of the MIME type
:data:`cjlab.results.KPI_MIME`; the runner collects them into ``kpis.json``. This works the
same when a notebook is executed by the plain ``papermill`` CLI.

Examples
--------
>>> from cjlab.notebook.display import kpi
>>> rec = kpi("nps", 31.4, low=28.0, high=34.8, unit="points", label="Net Promoter Score", show=False)
>>> rec["name"], rec["value"]
('nps', 31.4)
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from cjlab import formatting
from cjlab.results import HEADLINE_END, KPI, KPI_MIME, Analysis, Headline

_CSS = """
<style>
.cj-headline{border-left:6px solid #3b6ea8;background:#f3f7fb;padding:14px 18px;margin:8px 0 18px;border-radius:4px;font-size:15px;line-height:1.5}
.cj-headline h2{margin:0 0 8px;font-size:20px}
.cj-headline ul{margin:4px 0 0 18px;padding:0}
.cj-headline .cj-status-bad{color:#c62828;font-weight:bold}
.cj-headline .cj-status-good{color:#2e7d32;font-weight:bold}
.cj-note{border-left:4px solid #9e9e9e;background:#fafafa;padding:8px 12px;margin:8px 0;font-size:14px;overflow-wrap:anywhere}
.cj-note.cj-warn{border-color:#e07b39;background:#fff6ef}
.cj-note.cj-error{border-color:#c62828;background:#fdecea}
table.cj-table,.jp-RenderedHTMLCommon table.cj-table{border-collapse:collapse;font-size:13px;margin:6px 0 14px;max-width:100%;table-layout:auto}
table.cj-table th,table.cj-table td,.jp-RenderedHTMLCommon table.cj-table th,.jp-RenderedHTMLCommon table.cj-table td{padding:3px 8px;overflow-wrap:break-word;word-break:normal;vertical-align:top}
table.cj-table th,.jp-RenderedHTMLCommon table.cj-table th{background:#eef2f6;border-bottom:1px solid #ccd;vertical-align:bottom;text-align:left}
table.cj-table td,.jp-RenderedHTMLCommon table.cj-table td{border-bottom:1px solid #eee;text-align:left}
table.cj-table th.cj-num,table.cj-table td.cj-num,.jp-RenderedHTMLCommon table.cj-table th.cj-num,.jp-RenderedHTMLCommon table.cj-table td.cj-num{text-align:right}
table.cj-table caption,.jp-RenderedHTMLCommon table.cj-table caption{caption-side:top;text-align:left;font-weight:bold;padding:4px 0}
.cj-n{white-space:nowrap}
</style>
"""

def _display_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(_CSS + markup))


def esc(value: Any) -> str:
    """HTML-escape any value (``None`` becomes an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _clean(v: Any) -> Any:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return None if math.isnan(f) else f


def kpi(name: str, value: Any, *, low: float | None = None, high: float | None = None,
        unit: str | None = None, label: str | None = None, group: str | None = None,
        n: int | None = None, higher_is_better: bool | None = None,
        show: bool = True) -> dict[str, Any] | None:
    """Record a headline figure for ``kpis.json`` (and for monitoring across runs).

    Parameters
    ----------
    name : stable machine name, e.g. ``"nps"`` or ``"conversion_rate"``; with ``group`` it
        identifies the KPI across runs.
    value : the figure (number or short text such as a verdict).
    low, high : interval bounds, when the figure is uncertain.
    unit : ``"points"``, ``"share"`` (0..1), ``"EUR"``, ``"customers"`` ...
    label : human label for tables and trend plots.
    group : a breakdown value (wave, variant, segment), if any.
    n : sample size behind the figure.
    higher_is_better : direction, for marking changes good or bad.
    show : emit the record into the notebook output (False for plain use in code).

    Returns
    -------
    The record as a dict when ``show`` is False; None when it was emitted (so a notebook
    cell ending in ``kpi(...)`` prints nothing).
    """
    rec = {"name": name, "value": _clean(value), "low": _clean(low), "high": _clean(high),
           "unit": unit, "label": label or name.replace("_", " ").capitalize(), "group": group,
           "n": None if n is None else int(n), "higher_is_better": higher_is_better}
    if show:
        from IPython.display import display

        display({KPI_MIME: rec}, raw=True)
        return None
    return rec


def emit(k: KPI) -> None:
    """Record one :class:`cjlab.results.KPI` in the notebook output (collected into ``kpis.json``)."""
    from IPython.display import display

    display({KPI_MIME: k.to_record()}, raw=True)


def show(analysis: Analysis, kpis: bool = True) -> None:
    """Show an analysis' headline box and record all its KPIs (returns nothing, so a cell may end with it).

    The headline and the KPIs come from the analysis object itself, so the report, its
    ``kpis.json`` and the KPI trend page always show the same figure under the same name.
    """
    headline(analysis.headline())
    if kpis:
        for k in analysis.kpis():
            emit(k)
    for text in analysis.notes:
        note(text)


def skipped(analysis: Analysis, section: str) -> bool:
    """True (and a short note in the report) when ``section`` did not run for lack of data.

    Use at the top of a section's cell: ``if not rd.skipped(a, "drivers"): ...``.
    """
    reason = analysis.skipped.get(section)
    if reason is None:
        return False
    note(reason)
    return True


#: Numbers for readers (see :mod:`cjlab.formatting`, the one place that formats them).
fmt_number = formatting.number
fmt_interval = formatting.interval


def headline(title: str | Headline, items: Iterable[str] | Mapping[str, str] = (),
             status: str | None = None) -> str:
    """Show the headline box a report opens with; returns its HTML.

    Parameters
    ----------
    title : one sentence with the main finding, or a :class:`cjlab.results.Headline`.
    items : bullet points (plain text; escaped) or a mapping label -> text.
    status : optional ``"good"`` or ``"bad"`` colouring of the title.
    """
    if isinstance(title, Headline):
        title, items, status = title.title, dict(title.items), title.status
    if isinstance(items, Mapping):
        lis = "".join(f"<li><b>{esc(k)}:</b> {esc(v)}</li>" for k, v in items.items())
    else:
        lis = "".join(f"<li>{esc(v)}</li>" for v in items)
    cls = f' class="cj-status-{status}"' if status in ("good", "bad") else ""
    markup = (f'<div class="cj-headline" id="headline"><h2{cls}>{esc(title)}</h2>'
              f"<ul>{lis}</ul></div>{HEADLINE_END}")
    _display_html(markup)
    return markup


def note(text: str, kind: str = "info") -> str:
    """A short callout (``kind`` = info, warn or error); text is escaped."""
    cls = {"warn": " cj-warn", "error": " cj-error"}.get(kind, "")
    markup = f'<div class="cj-note{cls}">{esc(text)}</div>'
    _display_html(markup)
    return markup


#: Columns that identify a person; stakeholder tables hide them unless explicitly allowed.
IDENTIFIER_COLUMNS = frozenset({"customer_id", "unit_id", "email", "name", "first_name", "last_name",
                                "phone", "address", "response_id"})


def table_html(df: pd.DataFrame, formats: Mapping[str, str] | None = None,
               caption: str | None = None, index: bool = False, max_rows: int = 60,
               allow_ids: bool = False, currency: str | None = None) -> str:
    """Render ``df`` as an escaped, readable HTML table that fits the page.

    ``formats`` maps column -> a unit of :mod:`cjlab.formatting` (``"share"``, ``"pp"``,
    ``"points"``, ``"money"``, ``"count"`` or ``"int"``, ``"days"``, ``"ratio"``, ``"score"``,
    ``"date"``, ``"month"``), ``"float"`` / ``"float3"`` (2 / 3 decimals) or a format string such
    as ``"{:.2f}"``. Columns without a format are formatted by type (thousands separators for
    numbers, ISO dates). ``currency`` goes with every ``"money"`` column. Columns that identify a
    person (:data:`IDENTIFIER_COLUMNS`) are left out unless ``allow_ids`` is True (notebooks
    take it from an explicit parameter).

    Numbers are right-aligned, text left-aligned; a number never breaks from its unit
    (``20.1 %``), long text wraps inside its cell, so the table never needs sideways scrolling.

    Examples
    --------
    >>> page = table_html(pd.DataFrame({"Share": [0.1234], "Revenue": [1500.0]}),
    ...                   formats={"Share": "share", "Revenue": "money"}, currency="EUR")
    >>> "12.3 %" in page and "EUR 1,500" in page
    True
    """
    formats = dict(formats or {})
    d = df.reset_index() if index else df
    hidden = [] if allow_ids else [c for c in d.columns if str(c).lower() in IDENTIFIER_COLUMNS]
    d = d.drop(columns=hidden).head(max_rows)
    for col, f in list(formats.items()):  # one number of decimals per money column
        if f == "money" and col in d.columns:
            values = pd.to_numeric(d[col], errors="coerce").abs()
            formats[col] = "money0" if values.max() >= 100 else "money2"
    cells = [[_format_cell(v, formats.get(col), currency) for col, v in zip(d.columns, rec)]
             for rec in d.itertuples(index=False)]
    columns = zip(*cells, strict=True) if cells else [()] * len(d.columns)
    numeric = [str(col).lower() not in IDENTIFIER_COLUMNS and _numeric(column)
               for col, column in zip(d.columns, columns)]
    head = "".join(f"<th{_cls(num)}>{_keep_units(esc(c))}</th>" for c, num in zip(d.columns, numeric))
    rows = ["<tr>" + "".join(f"<td{_cls(num)}>{_keep_units(esc(text))}</td>"
                             for (text, _), num in zip(row, numeric)) + "</tr>" for row in cells]
    if hidden:
        caption = (caption + " " if caption else "") + f"(identifier columns hidden: {', '.join(map(str, hidden))})"
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    more = (f'<tr><td colspan="{len(d.columns)}">… {len(df) - max_rows:,} more rows'
            "</td></tr>") if len(df) > max_rows else ""
    return f'<table class="cj-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}{more}</tbody></table>'


#: Text that is a number with its unit and maybe an interval: ``12,345``, ``+2.0 pp``,
#: ``EUR 1,234 (EUR 1,000 to EUR 1,500)``, ``20.7 % (16.5 % to 25.3 %)``, ``1.5×``.
_NUMBER_TEXT = re.compile(
    r"[-+]?(?:[A-Z]{3} )?[-+]?[€$£¥]?\d[\d,]*(?:\.\d+)?(?: ?(?:%|pp|points|days)|×)?(?: \(.*\))?"
)


def _numeric(column: Iterable[tuple[str, bool]]) -> bool:
    """A column of numbers (or of numbers written as text): right-aligned."""
    seen = [(x, t) for x, t in column if x != formatting.MISSING]
    return bool(seen) and all(not t or _NUMBER_TEXT.fullmatch(x) for x, t in seen)


def _cls(numeric: bool) -> str:
    return ' class="cj-num"' if numeric else ""


#: A number with its unit or currency (``20.1 %``, ``EUR 1,234``, ``+2.0 pp``): kept on one line.
_ATOM = re.compile(r"(?:\b[A-Z]{3} )?[-+]?[€$£¥]?[-+]?\d[\d,]*(?:\.\d+)?(?: (?:%|pp\b|points\b|days\b))")
_CURRENCY_ATOM = re.compile(r"\b[A-Z]{3} [-+]?\d[\d,]*(?:\.\d+)?")


def _keep_units(text: str) -> str:
    """Wrap each number-with-unit of escaped ``text`` in a span that does not break."""
    def wrap(m: re.Match) -> str:
        return f'<span class="cj-n">{m.group(0)}</span>'

    if " " not in text:
        return text
    parts = _ATOM.split(text)
    atoms = _ATOM.findall(text)
    out = [_CURRENCY_ATOM.sub(wrap, parts[0])]
    for atom, rest in zip(atoms, parts[1:]):
        out.append(f'<span class="cj-n">{atom}</span>')
        out.append(_CURRENCY_ATOM.sub(wrap, rest))
    return "".join(out)


_UNIT_FORMATS = {"share", "pp", "points", "count", "days", "ratio", "score"}


def _format_cell(v: Any, f: str | None, currency: str | None = None) -> tuple[str, bool]:
    """``(text, is_text)``: the cell formatted by :mod:`cjlab.formatting`."""
    if v is None or (not isinstance(v, list | tuple | dict) and pd.isna(v)):
        return formatting.MISSING, False
    if isinstance(v, bool):
        return ("yes" if v else "no"), True
    if isinstance(v, pd.Timestamp | dt.date):
        return (pd.Timestamp(v).strftime("%Y-%m") if f == "month" else formatting.date(v)), True
    if isinstance(v, int | float) and not isinstance(v, bool):
        x = float(v)
        if f in _UNIT_FORMATS:
            return formatting.number(x, f), False
        if f == "int":
            return formatting.count(x), False
        if f in ("money", "money0", "money2"):
            digits = {"money0": 0, "money2": 2}.get(f)
            return formatting.money(x, currency, digits), False
        if f in ("float", "float3"):
            return formatting.plain(x, 3 if f == "float3" else 2), False
        if f and "{" in f:
            return _no_negative_zero(f.format(x)), False
        return formatting.plain(x, None if abs(x) < 1 or x.is_integer() else 2), False
    return str(v), True


def _no_negative_zero(text: str) -> str:
    """``'-0.00'`` -> ``'0.00'`` (a value that rounds to zero carries no sign)."""
    if text[:1] in "-+" and not any(c in "123456789" for c in text):
        return text[1:]
    return text


def table(df: pd.DataFrame, formats: Mapping[str, str] | None = None, caption: str | None = None,
          index: bool = False, max_rows: int = 60, allow_ids: bool = False,
          currency: str | None = None) -> None:
    """Show ``df`` as an escaped, formatted table (see :func:`table_html`)."""
    _display_html(table_html(df, formats, caption, index, max_rows, allow_ids, currency))


def is_batch() -> bool:
    """True inside a batch execution (``cjlab run``, or ``CJLAB_BATCH=1`` set for papermill)."""
    import os

    return os.environ.get("CJLAB_BATCH", "").strip() not in ("", "0", "false", "no")


def interactive(factory: Any) -> Any:
    """A live widget for JupyterLab, nothing in batch runs.

    ``factory`` is a widget or a function returning one. In a batch run (reports) it is not
    built at all: the report shows the static figure the notebook drew beside it, and no
    widget messages travel between kernel and client. Use as the last line of a cell::

        rd.interactive(lambda: widgets.contact_share_widget(profit, best))
    """
    if is_batch():
        return None
    return factory() if callable(factory) else factory


def dropdown_view(options: Any, description: str, draw: Any) -> Any:
    """A dropdown that (re)draws ``draw(value)`` into an output area below it (JupyterLab).

    Nothing is drawn until a value is picked, so an executed notebook carries no widget
    output; reports show the static view the notebook drew beside it. Returns the widget box.
    """
    import ipywidgets as widgets

    dd = widgets.Dropdown(options=list(options), value=None, description=description,
                          style={"description_width": "initial"})
    out = widgets.Output()

    def redraw(change=None):
        if dd.value is None:
            return
        with out:
            out.clear_output(wait=True)
            draw(dd.value)

    dd.observe(redraw, names="value")
    return widgets.VBox([dd, out])
