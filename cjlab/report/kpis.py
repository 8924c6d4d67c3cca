"""KPI records across runs — moved to :mod:`cjlab.report.records`; the names stay importable here.

Examples
--------
>>> from cjlab.report.kpis import kpis_from_notebook  # same function as records.kpis_from_notebook
"""

from __future__ import annotations

from cjlab.report.records import (
    Z95,
    change,
    collect,
    compare,
    format_compare,
    kpis_from_notebook,
    load_run,
    run_folder,
    trend_series,
)

__all__ = [
    "Z95",
    "change",
    "collect",
    "compare",
    "format_compare",
    "kpis_from_notebook",
    "load_run",
    "run_folder",
    "trend_series",
]
