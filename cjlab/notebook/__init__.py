"""The presentation layer for notebooks: headline, KPIs, tables, notes and widgets.

Only notebooks (and the report) import this package; analyses never do (a test checks it).

Examples
--------
>>> from cjlab import notebook as rd
>>> rd.fmt_number(0.1234, "share")
'12.3 %'
"""

from cjlab.notebook.display import (
    IDENTIFIER_COLUMNS,
    dropdown_view,
    emit,
    esc,
    fmt_interval,
    fmt_number,
    headline,
    interactive,
    is_batch,
    kpi,
    note,
    show,
    skipped,
    table,
    table_html,
)
from cjlab.notebook.exports import Export, ExportError, export_csv, neutralise

__all__ = [
    "IDENTIFIER_COLUMNS",
    "Export",
    "ExportError",
    "dropdown_view",
    "emit",
    "esc",
    "export_csv",
    "fmt_interval",
    "fmt_number",
    "headline",
    "interactive",
    "is_batch",
    "kpi",
    "neutralise",
    "note",
    "show",
    "skipped",
    "table",
    "table_html",
]
