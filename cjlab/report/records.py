"""What a run records, and reading it back: statuses, per-notebook results, manifests and KPIs.

Every run folder holds ``manifest.json`` (parameters, data, versions, limits and one
:class:`NotebookResult` per notebook) and ``kpis.json`` (records emitted by
:func:`cjlab.notebook.kpi`). This module is the one place that reads them back — for the
portal pages, the terminal summary and ``cjlab compare`` — without parsing any HTML. It is
the bottom of the report package: it imports no other report module.

A change between two runs is *distinguishable from noise* when both records carry an interval
and the difference exceeds ``z`` standard errors of the difference, with each standard error
taken from the interval half-width (``(high - low) / (2 * 1.96)`` for the 95 % intervals cjlab
reports) and the two runs treated as independent samples.

Examples
--------
>>> a = {"name": "nps", "value": 30.0, "low": 26.0, "high": 34.0}
>>> b = {"name": "nps", "value": 38.0, "low": 34.0, "high": 42.0}
>>> round(change(a, b)["z"], 2), change(a, b)["significant"]
(2.77, True)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cjlab import formatting as fmt
from cjlab.results import HEADLINE_MIME, KPI_MIME

if TYPE_CHECKING:
    import pandas as pd

STATUS_PENDING = "pending"
STATUS_OK = "completed"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timeout"
STATUS_NOT_APPLICABLE = (
    "not applicable"  # the data lack the notebook's minimum: no kernel, no failure
)
Z95 = 1.959963984540054
KEY = ["data", "notebook", "name", "group"]


@dataclass(frozen=True)
class Failure:
    """Why a notebook did not complete: the exception type, its message and the cell."""

    type: str
    message: str
    cell: int | None = None


@dataclass
class Outcome:
    """How the execution of one notebook ended (what the HTML banner and the manifest show)."""

    status: str = STATUS_PENDING
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    error: Failure | None = None


@dataclass(frozen=True)
class ReportMeta:
    """What the report page says about its run (the header line and the provenance section)."""

    run: str
    date: str
    notebook: str
    title: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    git: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None


@dataclass(frozen=True)
class RenderStats:
    """What rendering removed from the stakeholder HTML (kept in the .ipynb)."""

    stderr_outputs: int = 0  # warnings and other stderr text
    widget_views: int = 0  # widgets replaced by their static fallbacks
    error_outputs: int = 0  # tracebacks shown as failure boxes
    emails_redacted: int = 0


@dataclass
class NotebookResult:
    """What happened to one notebook of a run (one entry of ``manifest.json``)."""

    notebook: str
    title: str | None = None
    status: str = STATUS_PENDING
    reason: str | None = None  # why a notebook is not applicable, e.g. "01_survey needs ..."
    parameters: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    error: Failure | None = None
    html: str | None = None
    ipynb: str | None = None
    n_kpis: int = 0
    stderr_outputs: int = 0
    widget_views: int = 0
    emails_redacted: int = 0
    secret_parameters: list[str] = field(default_factory=list)  # recorded as "***"
    headline: dict[str, Any] | None = None  # the notebook's top headline (title, items, status)

    @property
    def applicable(self) -> bool:
        return self.status != STATUS_NOT_APPLICABLE


def read_manifests(reports_dir: Path) -> list[dict[str, Any]]:
    """All run manifests under ``reports_dir`` (``YYYY-MM-DD/<name>/manifest.json``), newest first.

    Each gets ``_folder``, its path relative to ``reports_dir``.
    """
    runs = []
    for m in Path(reports_dir).glob("*/*/manifest.json"):
        if m.parent.parent.name.startswith("."):
            continue
        try:
            data = json.loads(m.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        data["_folder"] = m.parent.relative_to(reports_dir).as_posix()
        runs.append(data)
    runs.sort(key=lambda d: (d.get("started_at") or "", d["_folder"]), reverse=True)
    return runs


def read_notebook_json(path: str | Path) -> dict[str, Any]:
    """An executed notebook's JSON (no nbformat: reading records needs no validation).

    Each cell's ``source`` (and each stream's ``text``) is joined into one string, as
    :func:`nbformat.read` gives it.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def notebook_records(nb: Any, notebook: str | None = None) -> tuple[list[dict], list[dict]]:
    """The KPI records and the headline records of an executed notebook (a node, dict or path).

    Records are machine outputs of the MIME types :data:`~cjlab.results.KPI_MIME` and
    :data:`~cjlab.results.HEADLINE_MIME`, in the order the notebook emitted them.
    """
    if isinstance(nb, str | Path):
        nb = read_notebook_json(nb)
    kpis, heads = [], []
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            for mime, out in ((KPI_MIME, kpis), (HEADLINE_MIME, heads)):
                if isinstance(data.get(mime), dict):
                    rec = dict(data[mime])
                    if notebook:
                        rec["notebook"] = notebook
                    out.append(rec)
    return kpis, heads


def kpis_from_notebook(nb: Any, notebook: str | None = None) -> list[dict[str, Any]]:
    """All KPI records in an executed notebook (a ``nbformat`` node or a path)."""
    return notebook_records(nb, notebook)[0]


def headlines_from_notebook(nb: Any, notebook: str | None = None) -> list[dict[str, Any]]:
    """All headline records (title, items, status) in an executed notebook, first first."""
    return notebook_records(nb, notebook)[1]


def _se(rec: dict[str, Any]) -> float | None:
    lo, hi = rec.get("low"), rec.get("high")
    if lo is None or hi is None:
        return None
    return (float(hi) - float(lo)) / (2 * Z95)


def change(a: dict[str, Any], b: dict[str, Any], z: float = Z95) -> dict[str, Any]:
    """Difference b - a of two records of the same KPI, with a significance flag."""
    va, vb = a.get("value"), b.get("value")
    if not isinstance(va, int | float) or not isinstance(vb, int | float):
        return {"diff": None, "z": None, "significant": None}
    diff = float(vb) - float(va)
    sa, sb = _se(a), _se(b)
    if sa is None or sb is None or (sa == 0 and sb == 0):
        return {"diff": diff, "z": None, "significant": None}
    zz = diff / math.sqrt(sa**2 + sb**2)
    return {"diff": diff, "z": zz, "significant": abs(zz) > z}


def run_folder(reports_dir: Path, run: str) -> Path:
    """Resolve a run given as ``YYYY-MM-DD/name``, a folder path, or a name (newest of that name)."""
    p = Path(run)
    if (p / "kpis.json").exists():
        return p
    if (reports_dir / run / "kpis.json").exists():
        return reports_dir / run
    hits = sorted(reports_dir.glob(f"*/{run}/kpis.json"))
    if hits:
        return hits[-1].parent
    raise FileNotFoundError(
        f"no run {run!r} under {reports_dir} (give YYYY-MM-DD/name or a folder)"
    )


def data_label(manifest: dict[str, Any]) -> str:
    """The data sources of a run, as one label (specs or locations, sorted)."""
    specs = [
        d.get("spec") or d.get("location") for d in (manifest.get("data_sources") or {}).values()
    ]
    return ", ".join(sorted(map(str, specs))) or "unknown"


def _data_label(folder: Path) -> str:
    try:
        return data_label(json.loads((folder / "manifest.json").read_text()))
    except (OSError, json.JSONDecodeError):
        return "unknown"


def load_run(folder: Path) -> pd.DataFrame:
    """KPI records of one run folder as a DataFrame (one row per record)."""
    import pandas as pd

    data = json.loads((folder / "kpis.json").read_text())
    df = pd.DataFrame(data.get("kpis", []))
    if df.empty:
        return df
    df["run"] = folder.name
    df["folder"] = folder.as_posix()
    df["date"] = data.get("date")
    df["data"] = _data_label(folder)
    for c in ("group", "low", "high", "unit", "label", "higher_is_better"):
        if c not in df:
            df[c] = None
    df["group"] = df["group"].astype(object).where(df["group"].notna(), "")
    return df


def collect(reports_dir: str | Path) -> pd.DataFrame:
    """All KPI records of all runs under ``reports_dir``, oldest run first."""
    import pandas as pd

    reports_dir = Path(reports_dir)
    frames = []
    for m in reversed(read_manifests(reports_dir)):
        f = reports_dir / m["_folder"]
        if (f / "kpis.json").exists():
            d = load_run(f)
            if not d.empty:
                d["started_at"] = m.get("started_at")
                d["run_id"] = m["_folder"]
                frames.append(d)
    if not frames:
        return pd.DataFrame()
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    out = pd.concat([f.dropna(axis=1, how="all") for f in frames], ignore_index=True)
    return out.reindex(columns=columns)


def _missing_to_none(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


#: the columns of :func:`compare`
COMPARE_COLUMNS = [
    "notebook", "name", "group", "label", "unit", "currency", "value_a", "low_a", "high_a",
    "value_b", "low_b", "high_b", "diff", "z", "significant",
]  # fmt: skip


def compare(folder_a: Path, folder_b: Path) -> pd.DataFrame:
    """KPI differences between two runs (b - a), matched on notebook, name and group.

    One row per KPI of either run (a KPI missing from one run has ``None`` there), in the
    order the notebooks recorded them; ``significant`` says whether the change exceeds the
    uncertainty of both runs (see the module docstring), ``None`` when it cannot be judged.
    """
    import pandas as pd

    def records(folder: Path) -> dict[tuple, dict]:
        data = json.loads((Path(folder) / "kpis.json").read_text())
        return {
            (r.get("notebook"), r.get("name"), "" if r.get("group") is None else str(r["group"])): r
            for r in data.get("kpis", [])
        }

    a, b = records(folder_a), records(folder_b)
    rows = []
    for key in dict.fromkeys([*a, *b]):
        ra, rb = a.get(key, {}), b.get(key, {})
        va = {k: _missing_to_none(ra.get(k)) for k in ("value", "low", "high")}
        vb = {k: _missing_to_none(rb.get(k)) for k in ("value", "low", "high")}
        last = rb or ra
        rows.append(
            {
                "notebook": key[0], "name": key[1], "group": key[2],
                "label": last.get("label"), "unit": last.get("unit"),
                "currency": last.get("currency"),
                **{f"{k}_a": v for k, v in va.items()}, **{f"{k}_b": v for k, v in vb.items()},
                **change(va, vb),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def kpi_title(rec: dict[str, Any]) -> str:
    """A KPI's label with its group, the group written once.

    Examples
    --------
    >>> kpi_title({"label": "Driver importance: app", "group": "app", "name": "d"})
    'Driver importance: app'
    >>> kpi_title({"label": "Conversion rate", "group": "checkout_layout:express"})
    'Conversion rate — checkout_layout:express'
    """
    label = str(rec.get("label") or rec.get("name") or "")
    group = rec.get("group")
    group = "" if group is None or (isinstance(group, float) and math.isnan(group)) else str(group)
    if not group or group.lower() in label.lower():
        return label
    return f"{label} — {group}"


def kpi_text(rec: dict[str, Any], prefix: str = "") -> str:
    """A KPI's value (``prefix``: ``""``, ``"_a"`` or ``"_b"`` columns) with its interval, in
    its unit and currency; ``–`` when missing.

    Examples
    --------
    >>> kpi_text({"value": 0.123, "low": 0.1, "high": 0.15, "unit": "share"})
    '12.3 % (10.0 % to 15.0 %)'
    """
    value = _missing_to_none(rec.get(f"value{prefix}"))
    low, high = (_missing_to_none(rec.get(f"{k}{prefix}")) for k in ("low", "high"))
    unit, currency = _missing_to_none(rec.get("unit")), _missing_to_none(rec.get("currency"))
    if value is None:
        return fmt.MISSING
    return fmt.interval(value, low, high, unit, currency=currency)


def change_text(diff: Any, unit: str | None, currency: str | None = None) -> str:
    """A change with its sign in the KPI's unit: shares in percentage points.

    Examples
    --------
    >>> change_text(300, "count"), change_text(-0.021, "share"), change_text(2.5, "points")
    ('+300', '-2.1 pp', '+2.5 points')
    """
    if _missing_to_none(diff) is None:
        return fmt.MISSING
    if unit in ("count", None) or unit not in fmt.UNITS:
        text = fmt.count(diff) if unit == "count" else fmt.plain(diff, sign=True)
        return text if text.startswith(("-", "+")) or text.strip("0.,") == "" else f"+{text}"
    return fmt.change(diff, unit, currency)


def format_compare(df: pd.DataFrame, name_a: str, name_b: str) -> str:
    """Plain-text table of :func:`compare` for the terminal: values in their units with
    intervals, ``–`` for a KPI missing from a run, ``*`` for a change beyond the uncertainty."""
    if df.empty:
        return f"no KPI records to compare between {name_a} and {name_b}"
    lines = [
        f"KPI changes from {name_a} to {name_b} "
        "('*' = larger than the uncertainty of both runs; '–' = not recorded):"
    ]
    for r in df.to_dict("records"):
        text = f"  {r['notebook']}: {kpi_title(r)}: {kpi_text(r, '_a')} -> {kpi_text(r, '_b')}"
        diff = _missing_to_none(r.get("diff"))
        if diff is not None:
            z = _missing_to_none(r.get("z"))
            zt = f", z = {z:+.1f}" if z is not None else ""
            text += f" ({change_text(diff, r.get('unit'), r.get('currency'))}{zt})"
            text += " *" if r.get("significant") is True else ""
        lines.append(text)
    return "\n".join(lines)


def trend_series(records: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Numeric KPI records grouped into one time series per (data, notebook, name, group)."""
    import pandas as pd

    if records.empty:
        return {}
    num = records[pd.to_numeric(records["value"], errors="coerce").notna()].copy()
    num["value"] = pd.to_numeric(num["value"])
    out = {}
    for key, g in num.groupby(KEY, sort=True, dropna=False):
        g = g.sort_values(["started_at", "run_id"]).reset_index(drop=True)
        flags = [None]
        for i in range(1, len(g)):
            flags.append(change(g.iloc[i - 1].to_dict(), g.iloc[i].to_dict())["significant"])
        g["significant_change"] = flags
        out[key] = g
    return out
