"""Figures of the journey analysis, drawn from its results (never from raw tables).

Every figure is a static matplotlib drawing in the cjlab style: reports stay small, open
offline and show no toolbar. :func:`flows` draws the customers' step-by-step flows as an
alluvial (Sankey-style) diagram with the number of customers written on each node.

Examples
--------
>>> import pandas as pd
>>> f = pd.DataFrame({"source": ["1. email", "1. web", "2. web"], "target": ["2. web", "purchase", "no purchase"],
...                   "value": [40, 25, 40]})
>>> ax = flows(f)
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MPath

from cjlab import formatting as fmt
from cjlab.data.contract import STAGES
from cjlab.journey.flows import ENDS, STAGE_ENDS
from cjlab.journey.funnels import FunnelResult
from cjlab.journey.tables import MODEL_NAMES
from cjlab.plotting import BAD, GOOD, MUTED, NEUTRAL, PALETTE, new_axes, percent_axis

__all__ = ["attribution", "breakdown", "flows", "funnel", "journey_map"]


def _label(value: object) -> str:
    return str(value).replace("_", " ")


def funnel(result: FunnelResult, ax=None, title: str = "Funnel over the lifecycle stages"):
    """Horizontal bars of customers per step with step conversion and drop-off annotated."""
    t = result.overall
    ax = new_axes(ax, figsize=(8.5, 0.45 * len(t) + 1.2))
    y = np.arange(len(t))[::-1]
    big = result.biggest_dropoff
    ax.barh(y, t["customers"], color=[BAD if s == big else NEUTRAL for s in t["step"]], alpha=0.85)
    top = max(float(t["customers"].max()), 1.0)
    for yi, rec in zip(y, t.itertuples(index=False)):
        txt = f"{fmt.count(rec.customers)}  ({fmt.share(rec.overall_conversion)} of entrants"
        txt += f"; {fmt.share(rec.step_conversion)} of previous step)" if rec.step_index else ")"
        ax.text(rec.customers + top * 0.01, yi, txt, va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([_label(s) for s in t["step"]])
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel("customers reaching the step (in order)")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return ax


def breakdown(result: FunnelResult, ax=None, title: str | None = None):
    """Overall conversion per step, one line per breakdown group (legend beside the chart)."""
    ax = new_axes(ax, figsize=(9.5, 4))
    t = result.table
    for g, d in t.groupby(result.breakdown, sort=True):
        ax.plot(d["step_index"], d["overall_conversion"], marker="o", label=_label(g))
    ax.set_xticks(range(len(result.steps)))
    ax.set_xticklabels([_label(s) for s in result.steps], rotation=30, ha="right")
    percent_axis(ax, "y")
    ax.set_ylabel("share of entrants reaching the step")
    ax.legend(title=_label(result.breakdown), bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(title or f"Funnel by {_label(result.breakdown)} (first touch)")
    return ax


def attribution(
    table: pd.DataFrame,
    ax=None,
    models: Sequence[str] | None = None,
    title: str = "Purchases credited to each channel, by model",
):
    """Grouped bars: credited purchases per channel (rows of the attribution table) and model."""
    models = [
        m for m in (models or [c for c in table.columns if c != "channel"]) if m in table.columns
    ]
    ax = new_axes(ax, figsize=(9.5, 4.2))
    x = np.arange(len(table))
    w = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        ax.bar(
            x + (i - (len(models) - 1) / 2) * w,
            table[m],
            width=w,
            label=MODEL_NAMES.get(m, _label(m)),
            color=PALETTE[i % len(PALETTE)],
        )
    ax.set_xticks(x)
    ax.set_xticklabels([_label(c) for c in table["channel"]])
    ax.set_ylabel("purchases credited")
    ax.legend(title="model", bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    ax.set_title(title)
    return ax


def _cell_text(rec) -> str:
    label = f"{_label(rec.touchpoint)}\n{fmt.count(rec.customers)}"
    if pd.notna(rec.conversion_next):
        label += f"\n→ {fmt.share(rec.conversion_next, digits=0)}"
    if pd.notna(rec.rating):
        label += f"\nrating {fmt.plain(rec.rating, 1)}"
    if isinstance(rec.action, str) and rec.action:
        label += "\n★"
    return label


def journey_map(
    jmap: pd.DataFrame,
    emotion: pd.DataFrame | None = None,
    value: str = "conversion_next",
    max_touchpoints: int = 3,
):
    """Journey-map figure: stages as columns, their main touchpoints as cells coloured by
    ``value`` (conversion to the next stage); with ``emotion`` (mean rating per stage) the
    emotion curve on top. Returns the axes of the grid."""
    stages = [s for s in STAGES if s in set(jmap["stage"])]
    width = max(8, 1.15 * len(stages))
    if emotion is not None and emotion["rating"].notna().any():
        _, (ax_top, ax) = plt.subplots(
            2, 1, figsize=(width, 6.2), gridspec_kw={"height_ratios": [1, 2.4]}, sharex=True
        )
    else:
        ax_top = None
        _, ax = plt.subplots(figsize=(width, 4.4))
    cmap = plt.get_cmap("RdYlGn")
    for i, st in enumerate(stages):
        g = jmap[(jmap["stage"] == st) & jmap["touches"].notna()].nlargest(
            max_touchpoints, "customers"
        )
        for j, rec in enumerate(g.itertuples(index=False)):
            v = getattr(rec, value)
            colour = cmap(float(v)) if pd.notna(v) else "#eeeeee"
            ax.add_patch(Rectangle((i - 0.46, -j - 0.45), 0.92, 0.9, color=colour, alpha=0.85))
            ax.text(i, -j, _cell_text(rec), ha="center", va="center", fontsize=7.5)
    ax.set_xlim(-0.5, len(stages) - 0.5)
    ax.set_ylim(-max_touchpoints + 0.45, 0.55)
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels([_label(s) for s in stages], rotation=30, ha="right")
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlabel(
        "cells: touchpoint, customers, → share reaching the next stage (★ = action planned)"
    )
    if ax_top is None:
        ax.set_title("Journey map: where customers move on")
        return ax
    emo = emotion.set_index("stage").reindex(stages)
    x = np.arange(len(stages))
    ok = emo["rating"].notna().to_numpy()
    ax_top.plot(x[ok], emo["rating"].to_numpy()[ok], marker="o", color=NEUTRAL)
    for xi, v in zip(x[ok], emo["rating"].to_numpy()[ok]):
        ax_top.annotate(
            fmt.plain(v, 1),
            (xi, v),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
        )
    ax_top.set_ylim(1, 5)
    ax_top.set_ylabel("mean rating (1–5)")
    ax_top.set_title("Journey map: how each stage feels and where customers move on")
    return ax


# -- flows (alluvial) -------------------------------------------------------------------------------


def _node(label: str, last: int) -> tuple[int, str]:
    head, _, name = label.partition(". ")
    return (int(head), name) if name and head.isdigit() else (last, label)


#: node colours of the flow diagram: the cjlab palette without its green and red (kept for the outcomes)
FLOW_COLOURS = [c for c in PALETTE if c not in ("#5a9e6f", "#c4463a")] + ["#9c755f", "#bab0ac"]


def _colours(names: Sequence[str]) -> dict[str, str]:
    fixed = {ENDS[0]: GOOD, ENDS[1]: BAD, STAGE_ENDS[0]: GOOD, STAGE_ENDS[1]: BAD, "other": MUTED}
    rest = sorted(n for n in set(names) if n not in fixed)
    return {**{n: FLOW_COLOURS[i % len(FLOW_COLOURS)] for i, n in enumerate(rest)}, **fixed}


def _layout(f: pd.DataFrame, gap: float) -> tuple[pd.DataFrame, int]:
    """Nodes with column, name, value and vertical extent (y0, y1) in data units."""
    labels = list(dict.fromkeys([*f["source"], *f["target"]]))
    cols = [_node(x, 0)[0] for x in labels]
    last = (max(cols) if cols else 0) + (1 if 0 in cols or not cols else 0)
    out_v = f.groupby("source")["value"].sum()
    in_v = f.groupby("target")["value"].sum()
    nodes = pd.DataFrame({"label": labels})
    nodes["col"] = [_node(x, last)[0] for x in labels]
    nodes["name"] = [_node(x, last)[1] for x in labels]
    nodes["value"] = [max(out_v.get(x, 0), in_v.get(x, 0)) for x in labels]
    end_rank = {ENDS[0]: 0, ENDS[1]: 1, STAGE_ENDS[0]: 0, STAGE_ENDS[1]: 1}
    nodes["_rank"] = [end_rank.get(n, 2) for n in nodes["name"]]
    nodes = nodes.sort_values(
        ["col", "_rank", "value", "name"], ascending=[True, True, False, True]
    )
    y0 = []
    for _, g in nodes.groupby("col", sort=True):
        top = 0.0
        for v in g["value"]:
            y0.append(top)
            top += v + gap
    nodes["y0"] = y0
    nodes["y1"] = nodes["y0"] + nodes["value"]
    return nodes.set_index("label"), last


def _band(
    ax, x0: float, x1: float, a: tuple[float, float], b: tuple[float, float], colour: str
) -> None:
    xm = (x0 + x1) / 2
    verts = [
        (x0, a[0]),
        (xm, a[0]),
        (xm, b[0]),
        (x1, b[0]),
        (x1, b[1]),
        (xm, b[1]),
        (xm, a[1]),
        (x0, a[1]),
        (x0, a[0]),
    ]
    codes = [
        MPath.MOVETO,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.LINETO,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.CURVE4,
        MPath.CLOSEPOLY,
    ]
    ax.add_patch(PathPatch(MPath(verts, codes), facecolor=colour, edgecolor="none", alpha=0.35))


def flows(table: pd.DataFrame, ax=None, title: str | None = None, min_share: float = 0.002):
    """Alluvial diagram of step-by-step flows (:func:`cjlab.journey.flows.stage_flows`).

    Columns are the positions in the journey (step 1, step 2, ... and the outcome); each node
    is a box as tall as the customers in it, labelled with its name and customer count; bands
    carry the customers from one step to the next, coloured by where they come from. Bands
    under ``min_share`` of all customers are left out to keep the figure readable.
    """
    total = float(table["value"].sum()) if len(table) else 0.0
    f = table[table["value"] >= max(1.0, min_share * total)] if total else table
    col_sizes = f.groupby(f["source"].map(lambda s: _node(s, 0)[0]))["value"].sum()
    gap = 0.03 * (float(col_sizes.max()) if len(col_sizes) else 1.0)
    nodes, last = _layout(f, gap)
    ax = new_axes(ax, figsize=(10.5, 5.6))
    colours = _colours(list(nodes["name"]))
    w = 0.1
    out_pos = nodes["y0"].to_dict()
    in_pos = nodes["y0"].to_dict()
    order = f.assign(_s=f["source"].map(nodes["y0"]), _t=f["target"].map(nodes["y0"])).sort_values(
        ["_s", "_t"]
    )
    for rec in order.itertuples(index=False):
        s, t = nodes.loc[rec.source], nodes.loc[rec.target]
        a = (out_pos[rec.source], out_pos[rec.source] + rec.value)
        b = (in_pos[rec.target], in_pos[rec.target] + rec.value)
        out_pos[rec.source] += rec.value
        in_pos[rec.target] += rec.value
        _band(ax, s["col"] + w / 2, t["col"] - w / 2, a, b, colours[s["name"]])
    height = float(nodes["y1"].max()) if len(nodes) else 1.0
    for _, n in nodes.iterrows():
        ax.add_patch(
            Rectangle((n["col"] - w / 2, n["y0"]), w, n["value"], color=colours[n["name"]])
        )
        if n["value"] >= 0.025 * height:
            ax.text(
                n["col"] + w / 2 + 0.03,
                (n["y0"] + n["y1"]) / 2,
                f"{_label(n['name'])} {fmt.count(n['value'])}",
                va="center",
                ha="left",
                fontsize=8,
            )
    ax.set_xlim(1 - 0.3, last + 0.9)
    ax.set_ylim(height * 1.02, -height * 0.02)
    ax.set_xticks(range(1, last + 1))
    has_end = any(_node(t, 0)[0] == 0 for t in f["target"])
    ax.set_xticklabels(
        [f"step {i}" for i in range(1, last)] + ["outcome" if has_end else f"step {last}"]
    )
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title)
    return ax
