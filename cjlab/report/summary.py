"""What a run says in words: the data it read, each notebook's top headline, and the summary
that the terminal, ``--notify`` (a cron e-mail) and ``reports/index.html`` show.

Everything is read from the records (the manifest and ``kpis.json``), never from HTML. A
notebook's top headline is its first headline record (:data:`cjlab.results.HEADLINE_MIME`,
emitted by :func:`cjlab.notebook.show`); a notebook without one (an older notebook, or one that
failed before its headline) is summarised by its headline KPIs (``headline=True``), else by its
first few figures.

Examples
--------
>>> describe_data({"kind": "demo", "spec": "demo", "tables": {"customers": 20000}})
'the demo company (20,000 customers)'
>>> describe_data({"kind": "folder", "location": "/data/acme",
...                "tables": {"customers": 12345, "orders": 40000}})
'folder /data/acme: customers 12,345 rows, orders 40,000 rows'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cjlab import formatting as fmt
from cjlab.report.records import STATUS_OK, kpi_text, kpi_title
from cjlab.results import Headline

#: headline figures per notebook in the summary when it records no headline KPIs
FALLBACK_FIGURES = 3
#: at most this many headline figures and headline points per notebook in the summary
MAX_FIGURES = 8
MAX_ITEMS = 5
_KINDS = {
    "folder": "folder",
    "duckdb": "DuckDB file",
    "spark": "Spark, files in",
    "sql": "SQL queries",
    "frames": "data frames",
}


def _rows(tables: Mapping[str, Any] | None) -> str:
    parts = [
        f"{t} {fmt.count(n)} rows" for t, n in (tables or {}).items() if isinstance(n, int | float)
    ]
    return ", ".join(parts)


def describe_data(desc: Mapping[str, Any] | None) -> str:
    """One data source in words (its manifest description: kind, spec, location, tables)."""
    if not desc:
        return "unknown data"
    kind, tables = desc.get("kind"), desc.get("tables") or {}
    spec = str(desc.get("spec") or "")
    if kind == "demo" or spec.removeprefix("spark:").startswith("demo"):
        n, seed = tables.get("customers"), _demo_seed(spec)
        bits = [f"{fmt.count(n)} customers"] if isinstance(n, int | float) else []
        bits += [f"seed {seed}"] if seed is not None else []
        where = " on Spark" if kind == "spark" else ""
        return f"the demo company{where}" + (f" ({', '.join(bits)})" if bits else "")
    where = desc.get("location") or spec
    head = _KINDS.get(str(kind), str(kind or "data"))
    text = f"{head} {where}".strip() if kind not in ("sql", "frames") else head
    rows = _rows(tables)
    return f"{text}: {rows}" if rows else text


def _demo_seed(spec: str) -> int | None:
    """The seed of a demo spec when it is not the default one."""
    for part in spec.partition("demo")[2].lstrip(":").split(","):
        key, _, value = part.partition("=")
        if key.strip() == "seed" and value.strip().isdigit() and int(value) != 42:
            return int(value)
    return None


def data_words(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(words, fingerprint and spec)`` for each data source of a run (the tooltip keeps the
    fingerprint out of the reader's way)."""
    out = []
    for spec, desc in (manifest.get("data_sources") or {}).items():
        tip = f"{desc.get('spec') or spec} · {desc.get('fingerprint') or 'no fingerprint'}"
        out.append((describe_data(desc), tip))
    return out


def headline_figures(kpis: Iterable[Mapping[str, Any]], notebook: str) -> list[dict[str, Any]]:
    """The KPIs that summarise ``notebook``: those flagged ``headline``, else its first few
    figures without a group."""
    own = [k for k in kpis if k.get("notebook") == notebook]
    flagged = [k for k in own if k.get("headline")]
    if flagged:
        return flagged[:MAX_FIGURES]
    return [k for k in own if k.get("group") in (None, "")][:FALLBACK_FIGURES]


def top_headline(
    entry: Mapping[str, Any], kpis: Iterable[Mapping[str, Any]]
) -> tuple[str, list[str]]:
    """The top headline of one notebook of a run: ``(title, points)``.

    ``title`` is the notebook's own headline sentence, or its headline figures joined when it
    recorded no headline; ``points`` are the headline's labelled points.
    """
    head = Headline.from_record(entry.get("headline"))
    if head is not None:
        return head.title, [_point(k, v) for k, v in head.items[:MAX_ITEMS]]
    figures = headline_figures(kpis, str(entry.get("notebook")))
    return " · ".join(f"{kpi_title(k)}: {kpi_text(k)}" for k in figures[:3]), []


def _point(label: str, text: str) -> str:
    """A headline point: ``label: text``, or the text alone when it has no label."""
    return f"{label}: {text}" if label else text


def read_kpis(folder: Path) -> list[dict[str, Any]]:
    """The KPI records of a run folder (empty when there are none or they cannot be read)."""
    try:
        return list(json.loads((Path(folder) / "kpis.json").read_text()).get("kpis", []))
    except (OSError, ValueError, AttributeError):
        return []


def _status_line(nb: Any) -> str:
    if not nb.applicable:
        why = (nb.reason or "").removeprefix(nb.notebook + " ")
        return f"  {nb.notebook}: not applicable ({why})"
    err = f" — {nb.error.type}: {str(nb.error.message).splitlines()[0][:200]}" if nb.error else ""
    return f"  {nb.notebook}: {nb.status} ({nb.duration_s or 0:.1f} s){err}"


def _notebook_block(nb: Any, kpis: list[dict[str, Any]]) -> list[str]:
    """A notebook's headline, its points and its headline figures, for the summary."""
    head = Headline.from_record(nb.headline)
    figures = headline_figures(kpis, nb.notebook)
    if head is None and not figures:
        return []
    mark = "" if nb.status == STATUS_OK else " (incomplete: the notebook did not finish)"
    lines = [f"{nb.title or nb.notebook} ({nb.notebook}){mark}"]
    if head is not None:
        lines.append(f"  {head.title}")
        lines += [f"  - {_point(k, v)}" for k, v in head.items[:MAX_ITEMS]]
    lines += [f"  {kpi_title(k)} = {kpi_text(k)}" for k in figures]
    return lines


def run_summary(res: Any) -> str:
    """The terminal summary and ``--notify`` text of a run (a :class:`RunResult`): the status
    of every notebook, then every notebook's top headline and headline figures."""
    ran = [nb for nb in res.notebooks if nb.applicable]
    na = [nb for nb in res.notebooks if not nb.applicable]
    done = sum(nb.status == STATUS_OK for nb in ran)
    counts = f"{done}/{len(ran)} notebooks" + (f", {len(na)} not applicable" if na else "")
    lines = [
        f"cjlab run {res.name}: {res.status.upper()} ({counts}) "
        f"in {res.manifest.get('duration_s', 0):.0f} s",
        f"report: {res.folder}",
    ]
    words = [w for w, _ in data_words(res.manifest)]
    if words:
        lines.append(f"data: {'; '.join(words)}")
    if not ran:
        lines.append("no notebook applies to these data, so none was run (see below why)")
    lines += [_status_line(nb) for nb in res.notebooks]
    kpis = read_kpis(res.folder)
    blocks = [b for nb in ran if (b := _notebook_block(nb, kpis))]
    if blocks:
        lines.append("headlines:")
        for b in blocks:
            lines += ["", *b]
    return "\n".join(lines)
