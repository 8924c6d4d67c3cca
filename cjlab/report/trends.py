"""``kpis.html``: every KPI over the runs, grouped the way the notebooks tell the story.

The page has one section per *schedule*: the runs of one run name (``quarterly``, ``demo``) on
the same data, the newest schedule first. Inside it, the notebooks in their lifecycle order
(00 ... 07), each notebook's topics (the KPI's ``topic``, else the notebook) and KPIs in the
order the notebook records them, the breakdowns of a KPI that are lifecycle stages in stage
order (awareness ... cross_sell). Each KPI is one row: its label (the breakdown written once),
a small trend chart of its last runs with their intervals (:mod:`cjlab.report.sparkline`), the
latest value in its unit and currency, and the change since the previous run of the schedule,
marked when it is larger than the uncertainty of both runs.

Ad-hoc runs (run name ``adhoc``: a one-off with other parameters) never join a trend line:
those on a schedule's data are grey markers in its charts, the others are listed at the end.

The page is bounded whatever the number of runs: at most :data:`MAX_POINTS` runs per series,
:data:`MAX_OTHERS` ad-hoc markers, :data:`MAX_SECTIONS` charted schedules and
:data:`MAX_LISTED` further runs listed by link.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlab.report.records import (
    change,
    change_text,
    data_label,
    kpi_text,
    read_manifests,
)
from cjlab.report.sparkline import Point, sparkline
from cjlab.report.summary import data_words

ADHOC = "adhoc"  # the run name of a run that was given none
MAX_POINTS = 12
MAX_OTHERS = 4
MAX_SECTIONS = 3
MAX_LISTED = 20

CSS = """
.sched{margin:28px 0 36px} .sched h2{border-bottom:2px solid #3b6ea8;padding-bottom:4px}
.nb{margin:14px 0} .nb>summary{cursor:pointer;font-size:19px;font-weight:bold;margin:8px 0}
h4{margin:14px 0 4px;font-size:15px;color:#333}
table.kpis{table-layout:fixed;width:100%} table.kpis td{overflow-wrap:anywhere;vertical-align:middle}
table.kpis col.l{width:34%} table.kpis col.c{width:180px} table.kpis col.v{width:24%}
tr.kname td{font-weight:bold;padding-top:10px;border-bottom:none} tr.sub td.lab{padding-left:22px}
tr.head td.lab{font-weight:bold} .good{color:#2e7d32;font-weight:bold} .spark{display:block}
.changed{font-weight:bold} .legend{font-size:13px;color:#444;line-height:1.5}
"""


@dataclass
class RunInfo:
    """What the page needs of one run: where, when, which schedule and its KPI records."""

    folder: str
    name: str
    date: str
    started: str
    data: str
    words: list[tuple[str, str]]
    titles: dict[str, str]
    kpis: list[dict[str, Any]]

    @property
    def adhoc(self) -> bool:
        return self.name == ADHOC


@dataclass
class Section:
    """One schedule: its newest runs (the series) and the ad-hoc runs on the same data."""

    name: str
    data: str
    runs: list[RunInfo]
    others: list[RunInfo] = field(default_factory=list)

    @property
    def latest(self) -> RunInfo:
        return self.runs[-1]


def load_runs(reports_dir: Path) -> list[RunInfo]:
    """Every run under ``reports_dir`` with its KPI records, oldest first."""
    out = []
    for m in reversed(read_manifests(reports_dir)):
        try:
            data = json.loads((Path(reports_dir) / m["_folder"] / "kpis.json").read_text())
            kpis = [k for k in data.get("kpis", []) if isinstance(k, dict)]
        except (OSError, ValueError, AttributeError):
            kpis = []
        titles = {n.get("notebook"): n.get("title") for n in m.get("notebooks") or []}
        out.append(
            RunInfo(
                m["_folder"], str(m.get("name") or m["_folder"].split("/")[-1]),
                str(m.get("date") or ""), str(m.get("started_at") or ""), data_label(m),
                data_words(m), {k: v for k, v in titles.items() if k and v}, kpis,
            )
        )  # fmt: skip
    return out


def sections(runs: list[RunInfo]) -> tuple[list[Section], list[RunInfo]]:
    """The charted schedules (newest first) and the runs only listed (newest first)."""
    by: dict[tuple[str, str], list[RunInfo]] = {}
    for r in runs:
        if not r.adhoc:
            by.setdefault((r.name, r.data), []).append(r)
    ordered = sorted(by.items(), key=lambda kv: kv[1][-1].started, reverse=True)
    charted = [Section(n, d, rs[-MAX_POINTS:]) for (n, d), rs in ordered[:MAX_SECTIONS]]
    shown = {r.folder for s in charted for r in s.runs}
    for s in charted:
        s.others = [r for r in runs if r.adhoc and r.data == s.data][-MAX_OTHERS:]
        shown |= {r.folder for r in s.others}
    listed = [r for r in reversed(runs) if r.folder not in shown][:MAX_LISTED]
    return charted, listed


def _key(k: Mapping[str, Any]) -> tuple[str, str, str]:
    group = k.get("group")
    return str(k.get("notebook")), str(k.get("name")), "" if group is None else str(group)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _stage_rank(groups: list[str]) -> dict[str, int] | None:
    """Stage order when every breakdown is a lifecycle stage, else None."""
    from cjlab.data.contract import STAGES

    if groups and all(g in STAGES for g in groups):
        return {g: STAGES.index(g) for g in groups}
    return None


def _layout(section: Section) -> dict[str, dict[str, dict[str, list[str]]]]:
    """notebook -> topic -> KPI name -> breakdowns, in the order the page shows them.

    Each notebook's KPIs come from the newest run of the schedule that recorded any of them,
    in the order it recorded them; notebooks run in their file order (00 ... 07).
    """
    latest: dict[str, list[dict[str, Any]]] = {}
    for r in reversed(section.runs):
        for k in r.kpis:
            nb = str(k.get("notebook"))
            if nb not in latest or latest[nb][0].get("_run") == r.folder:
                latest.setdefault(nb, []).append({**k, "_run": r.folder})
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for nb in sorted(latest):
        topics: dict[str, dict[str, list[str]]] = {}
        for k in latest[nb]:
            topic = str(k.get("topic") or section.latest.titles.get(nb) or nb)
            groups = topics.setdefault(topic, {}).setdefault(str(k.get("name")), [])
            g = _key(k)[2]
            if g not in groups:
                groups.append(g)
        for names in topics.values():
            for groups in names.values():
                rank = _stage_rank([g for g in groups if g])
                if rank:
                    groups.sort(key=lambda g: rank.get(g, -1))
        out[nb] = topics
    return out


def _title(label: str, group: str) -> str:
    return label if not group or group.lower() in label.lower() else f"{label} — {group}"


def _common_label(labels: list[str]) -> str:
    """The words every label starts with ("What if:" of "What if: raise ...")."""
    first = labels[0]
    n = 0
    while n < len(first) and all(len(lb) > n and lb[n] == first[n] for lb in labels):
        n += 1
    return first[:n].rsplit(" ", 1)[0].strip(" :—-(") if n < len(first) else first


class _Page:
    """Renders the sections (one instance per page; keeps the shared time axis per section)."""

    def __init__(self, section: Section):
        self.s = section
        order = sorted([*section.runs, *section.others], key=lambda r: (r.started, r.folder))
        self.slot = {r.folder: i for i, r in enumerate(order)}
        self.records = {
            r.folder: {_key(k): k for k in r.kpis} for r in [*section.runs, *section.others]
        }

    def _point(self, r: RunInfo, k: Mapping[str, Any]) -> Point:
        tip = f"{r.date} {r.name}: {kpi_text(k)}"
        low, high = k.get("low"), k.get("high")
        return Point(self.slot[r.folder], float(k["value"]), low if _number(low) else None,
                     high if _number(high) else None, tip)  # fmt: skip

    def _history(self, key: tuple) -> list[tuple[RunInfo, dict[str, Any]]]:
        return [
            (r, self.records[r.folder][key]) for r in self.s.runs if key in self.records[r.folder]
        ]

    def row(self, key: tuple, label: str, cls: str) -> str:
        hist = self._history(key)
        if not hist:
            return ""
        run, last = hist[-1]
        chart, note = "", ""
        if _number(last.get("value")):
            nums = [(r, k) for r, k in hist if _number(k.get("value"))]
            others = [
                self._point(r, self.records[r.folder][key])
                for r in self.s.others
                if key in self.records[r.folder]
                and _number(self.records[r.folder][key].get("value"))
            ]
            prev = nums[-2] if len(nums) > 1 else None
            c = change(prev[1], last) if prev else {}
            chart = sparkline([self._point(r, k) for r, k in nums], others, len(self.slot),
                              ring=bool(c.get("significant")))  # fmt: skip
            note = _change_note(c, last, prev[0].date if prev else None)
        elif len(hist) > 1 and hist[-2][1].get("value") != last.get("value"):
            was = html.escape(str(hist[-2][1].get("value")))
            note = f"<span class='changed'>changed</span> (was “{was}” on {hist[-2][0].date})"
        head = " head" if last.get("headline") else ""
        when = f"<br><span class='muted'>run of {html.escape(run.date)}</span>"
        when = when if run.date != self.s.latest.date else ""
        return (
            f"<tr class='{cls}{head}'><td class='lab'>{html.escape(label)}</td><td>{chart}</td>"
            f"<td><b>{html.escape(kpi_text(last))}</b>" + f"{when}</td><td>{note}</td></tr>"
        )

    def kpi(self, nb: str, name: str, groups: list[str]) -> str:
        """One KPI: a single row, or a title row and a row per breakdown."""
        recs = [self._history((nb, name, g))[-1][1] for g in groups if self._history((nb, name, g))]
        labels = [str(k.get("label") or name) for k in recs]
        if len(groups) == 1:
            return self.row((nb, name, groups[0]), _title(labels[0], groups[0]), "one")
        same = len(set(labels)) == 1
        title = labels[0] if same else _common_label(labels) or name.replace("_", " ").capitalize()
        rows = []
        for g, lb in zip(groups, labels, strict=False):
            text = g if same else (lb.removeprefix(title).strip(" :—-") or g)
            rows.append(self.row((nb, name, g), text or "all", "sub"))
        return f"<tr class='kname'><td colspan='4'>{html.escape(title)}</td></tr>" + "".join(rows)

    def render(self, index: int) -> str:
        s, parts = self.s, []
        layout = _layout(s)
        for nb, topics in layout.items():
            title = s.latest.titles.get(nb) or next(
                (r.titles[nb] for r in reversed(s.runs) if nb in r.titles), nb
            )
            body = "".join(
                f"<h4>{html.escape(topic[:1].upper() + topic[1:])}</h4><table class='kpis'>"
                "<colgroup><col class='l'><col class='c'><col class='v'><col></colgroup>"
                + "".join(self.kpi(nb, name, groups) for name, groups in names.items())
                + "</table>"
                for topic, names in topics.items()
            )
            parts.append(
                f"<details class='nb' open id='s{index}-{html.escape(nb, quote=True)}'><summary>"
                f"{html.escape(title)} <span class='muted'>{html.escape(nb)}</span></summary>"
                f"{body}</details>"
            )
        return _section_head(s, index) + "".join(parts) + "</section>"


def _change_note(c: Mapping[str, Any], last: Mapping[str, Any], since: str | None) -> str:
    """The change since the previous run of the schedule, coloured when beyond the noise."""
    diff = c.get("diff")
    if since is None or diff is None:
        return ""
    if diff == 0:
        return f"<span class='muted'>unchanged since {html.escape(since)}</span>"
    text = f"{change_text(diff, last.get('unit'), last.get('currency'))} since {since}"
    sig = c.get("significant")
    if sig is None and last.get("low") is None:  # an exact figure (a count): any change is real
        return f"<span class='changed'>{html.escape(text)}</span>"
    if sig:
        better = last.get("higher_is_better")
        cls = (
            "changed" if better is None or diff == 0 else "good" if (diff > 0) == better else "bad"
        )
        return f"<span class='{cls}'>{html.escape(text)}: beyond its uncertainty</span>"
    why = "within noise" if sig is False else "no interval to judge it"
    return f"<span class='muted'>{html.escape(text)} ({why})</span>"


def _section_head(s: Section, index: int) -> str:
    words = "; ".join(
        f"<span title='{html.escape(tip, quote=True)}'>{html.escape(w)}</span>"
        for w, tip in s.latest.words
    ) or html.escape(s.data)
    other = f", {len(s.others)} ad-hoc run(s) as grey markers" if s.others else ""
    return (
        f"<section class='sched' id='schedule-{index}'><h2>{html.escape(s.name)} "
        f"<span class='muted'>· {len(s.runs)} run(s), latest {html.escape(s.latest.date)}"
        f"{other}</span></h2><p class='muted'>Data: {words}</p>"
    )


def _listed(runs: list[RunInfo]) -> str:
    if not runs:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(r.date)}</td><td>{html.escape(r.name)}</td>"
        f"<td>{html.escape('; '.join(w for w, _ in r.words) or r.data)}</td>"
        f"<td><a href='{html.escape(r.folder, quote=True)}/kpis.json'>KPIs</a> · "
        f"<a href='index.html'>reports</a></td></tr>"
        for r in runs
    )
    return (
        "<section class='sched' id='other-runs'><h2>Other runs</h2><p class='muted'>Ad-hoc runs "
        "and older schedules, not part of any trend above (newest first).</p><table><thead><tr>"
        f"<th>date</th><th>run</th><th>data</th><th>records</th></tr></thead><tbody>{rows}"
        "</tbody></table></section>"
    )


LEGEND = (
    "<p class='legend'>One section per schedule: the runs of one run name on the same data "
    f"(the last {MAX_POINTS} runs). Each chart is one KPI over those runs — the line joins "
    "them, a vertical bar is the interval a run gives (hover a point for its value), a grey "
    "diamond is an ad-hoc run on the same data (not part of the trend), and a red ring marks a "
    "change from the previous run that is larger than the uncertainty of both runs. Rows in bold "
    "are the notebook's headline figures.</p>"
)


def render_trends(reports_dir: Path, css: str = "") -> str:
    """The whole ``kpis.html`` page for the runs under ``reports_dir``."""
    charted, listed = sections(load_runs(reports_dir))
    nav = "".join(
        f"<li><a href='#schedule-{i}'>{html.escape(s.name)}</a> "
        f"<span class='muted'>{html.escape('; '.join(w for w, _ in s.latest.words))}</span></li>"
        for i, s in enumerate(charted)
    )
    content = "".join(_Page(s).render(i) for i, s in enumerate(charted)) + _listed(listed)
    if not charted and not listed:
        content = "<p>No KPI records yet.</p>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>cjlab KPI trends</title><style>{css}{CSS}</style></head><body>"
        "<p><a href='index.html'>← all runs</a></p><h1>KPI trends across runs</h1>"
        f"{LEGEND}" + (f"<ul>{nav}</ul>" if nav else "") + f"<div id='kpis'>{content}</div>"
        "</body></html>"
    )
