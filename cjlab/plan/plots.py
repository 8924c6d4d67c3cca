"""Figures of the journey plan, from the results (never from raw tables).

Every figure shows values the analysis records as KPIs: pain-point priorities
(``pain_priority``), the what-if answers (``what_if_revenue``), each action's net value
(``action_net_value``) and the action trees' sequences.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cjlab import plotting
from cjlab.plotting import BAD, GOOD, MUTED, NEUTRAL

__all__ = ["actions", "pain_points", "questions", "trees"]

STATUS_COLOUR = {
    "go": GOOD,
    "test first": NEUTRAL,
    "pilot first": "#8c6bb1",
    "weigh the NPS gain": "#d4a03a",
    "drop": BAD,
    "alternative": MUTED,
}


def _short(text: str, n: int = 48) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def pain_points(a, ax=None):
    """Pain-point priorities (0-100) with their bootstrap intervals, highest first."""
    t = a.pain_points.assign(
        label=lambda d: [
            f"{s.replace('_', ' ')} · {p.replace('_', ' ')}"
            for s, p in zip(d["stage"], d["touchpoint"])
        ]
    )
    ax = plotting.forest(
        t,
        "priority",
        "priority_low",
        "priority_high",
        "label",
        ax=ax,
        color=BAD,
        title="Pain points by priority",
        xlabel="priority (0-100)",
    )
    ax.set_xlim(0, 105)
    return ax


def _money_forest(df: pd.DataFrame, col: str, label: str, colours, a, title: str, ax=None):
    ax = plotting.new_axes(ax, figsize=(8, max(2.2, 0.5 * len(df) + 1)))
    y = np.arange(len(df))
    est = df[col].to_numpy(float)
    lo, hi = df[f"{col}_low"].to_numpy(float), df[f"{col}_high"].to_numpy(float)
    for i in y:
        ax.errorbar(
            est[i],
            i,
            xerr=[[est[i] - lo[i]], [hi[i] - est[i]]],
            fmt="o",
            color=colours[i],
            ecolor=colours[i],
            elinewidth=2,
            capsize=3,
        )
    ax.set_yticks(y, [_short(v) for v in df[label]])
    ax.invert_yaxis()
    ax.axvline(0, color=MUTED, ls="--", lw=1)
    plotting.thousands_axis(ax, "x")
    ax.set_xlabel(
        f"{col.replace('_', ' ')} in {a.horizon_months} months"
        + (f" ({a.currency})" if a.currency else "")
    )
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return ax


def questions(a, ax=None):
    """The what-if answers: revenue change (new buyers without orders) with intervals."""
    q = a.questions
    col = "revenue" if a.has_value else "buyers"
    return _money_forest(q, col, "question", [plotting.NEUTRAL] * len(q), a, "What if …", ax)


def actions(a, ax=None):
    """Each action's net value (new buyers without orders) with its interval, by status."""
    t = a.actions
    col = "net_value" if a.has_value else "buyers"
    t = t.assign(label=[r.action or r.id for r in t.itertuples(index=False)])
    ax = _money_forest(
        t,
        col,
        "label",
        [STATUS_COLOUR.get(s, NEUTRAL) for s in t["status"]],
        a,
        "Actions: expected value over the plan's horizon",
        ax,
    )
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=c, label=s)
        for s, c in STATUS_COLOUR.items()
        if s in set(t["status"])
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    return ax


def trees(a, ax=None):
    """Every sequence of every action tree: net value with its interval (best of a tree in green)."""
    t = a.trees
    col = "net_value" if a.has_value else "buyers"
    t = t.assign(label=[s.replace("_", " ") for s in t["leaf"]])
    colours = [GOOD if b else NEUTRAL for b in t["best"]]
    return _money_forest(t, col, "label", colours, a, "Action trees: each sequence", ax)
