"""Figures for survey results: each takes computed results (never raw tables) and returns axes.

:func:`plot_trends` draws the scores per wave side by side; :func:`plot_trend`,
:func:`plot_segments`, :func:`plot_likert`, :func:`plot_drivers`, :func:`plot_quadrant` and
:func:`plot_weights` draw one result each. The style comes from :mod:`cjlab.plotting`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab import plotting

from .scores import METRICS
from .weighting import WeightingResult


def plot_trend(
    table: pd.DataFrame,
    wave_col: str = "wave",
    metric: str = "nps",
    ax=None,
    title: str | None = None,
):
    """Score per wave with its interval (rows of :func:`cjlab.survey.scorecard` by wave).
    Suppressed waves are left out of the line."""
    d = table[(table["metric"] == metric) & table["value"].notna()].copy()
    ax = plotting.new_axes(ax, figsize=(8, 3.8))
    x = np.arange(len(d))
    ax.fill_between(x, d["low"], d["high"], color=plotting.NEUTRAL, alpha=0.18, label="interval")
    ax.plot(x, d["value"], marker="o", color=plotting.NEUTRAL, label="estimate")
    ax.set_xticks(x, [str(v) for v in d[wave_col]], rotation=30 if len(d) > 6 else 0)
    unit = d["unit"].iloc[0] if len(d) else None
    if unit == "share":
        plotting.percent_axis(ax, "y")
    if metric == "nps":
        ax.axhline(0, color=plotting.MUTED, lw=1, ls="--")
    ax.set_title(title or (d["label"].iloc[0] if len(d) else metric))
    ax.set_xlabel(wave_col)
    return ax


def plot_trends(trend: pd.DataFrame, metrics: Sequence[str] = ("nps", "csat_top2", "ces_mean")):
    """The scores per wave side by side (one panel per metric present in ``trend``).

    Returns the figure's axes (a list).
    """
    import matplotlib.pyplot as plt

    shown = [m for m in metrics if m in set(trend["metric"])]
    fig, axes = plt.subplots(
        1, max(len(shown), 1), figsize=(5 * max(len(shown), 1), 3.8), squeeze=False
    )
    t = trend.assign(wave=trend["wave"].astype(str))
    for ax, m in zip(axes[0], shown):
        plot_trend(t, metric=m, ax=ax, title=METRICS[m][4])
    fig.tight_layout()
    return list(axes[0])


def plot_segments(
    table: pd.DataFrame,
    by: str,
    metric: str = "nps",
    reference: float | None = None,
    ax=None,
    title: str | None = None,
):
    """Forest plot of a score by segment (suppressed cells are dropped; add a note)."""
    d = table[(table["metric"] == metric) & table["value"].notna()].copy()
    d["_label"] = [f"{plotting.words(v)} (n={fmt.count(n)})" for v, n in zip(d[by], d["n"])]
    ax = plotting.forest(
        d,
        "value",
        "low",
        "high",
        label="_label",
        reference=reference,
        ax=ax,
        title=title or f"{d['label'].iloc[0] if len(d) else metric} by {plotting.words(by)}",
    )
    if len(d) and d["unit"].iloc[0] == "share":
        plotting.percent_axis(ax, "x")
    elif len(d) and d["unit"].iloc[0] == "points":
        ax.set_xlabel("points (−100 to +100)")
    return ax


def plot_likert(
    table: pd.DataFrame,
    row: str | Sequence[str] = "item",
    ax=None,
    labels: dict[int, str] | None = None,
    title: str | None = None,
):
    """Diverging stacked bars: disagreeing levels left of zero, agreeing right, the neutral
    middle level split across zero. ``table`` comes from :func:`cjlab.survey.likert_table`."""
    rows = [row] if isinstance(row, str) else list(row)
    d = table.copy()
    d["_row"] = d[rows].astype(str).map(plotting.words).agg(" · ".join, axis=1)
    wide = d.pivot_table(index="_row", columns="level", values="share", sort=False).fillna(0)
    levels = list(wide.columns)
    k = len(levels)
    mid = (k - 1) / 2
    cmap = plotting.sns.color_palette("RdBu", k)
    ax = plotting.new_axes(ax, figsize=(9, max(2.2, 0.5 * len(wide) + 1.2)))
    y = np.arange(len(wide))
    neg_start = -(
        wide[[lv for i, lv in enumerate(levels) if i < mid]].sum(axis=1)
        + (wide[levels[int(mid)]] / 2 if k % 2 else 0)
    )
    left = neg_start.to_numpy(float)
    for i, lv in enumerate(levels):
        v = wide[lv].to_numpy(float)
        ax.barh(
            y, v, left=left, color=cmap[i], edgecolor="white", label=(labels or {}).get(lv, str(lv))
        )
        left = left + v
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, list(wide.index))
    ax.invert_yaxis()
    plotting.percent_axis(ax, "x")
    ax.legend(ncol=k, loc="upper center", bbox_to_anchor=(0.5, -0.12), title="answer")
    ax.set_title(title or "Answers (left: disagree, right: agree)")
    ax.grid(axis="y", visible=False)
    return ax


def plot_drivers(importance: pd.DataFrame, ax=None, title: str | None = None):
    """Bar chart of importance shares (of R²) with bootstrap intervals."""
    d = importance.sort_values("share")
    ax = plotting.new_axes(ax, figsize=(8, max(2.2, 0.45 * len(d) + 1)))
    err = None
    if d["low"].notna().all():
        err = [np.clip(d["share"] - d["low"], 0, None), np.clip(d["high"] - d["share"], 0, None)]
    ax.barh(d["touchpoint"].map(plotting.words), d["share"], xerr=err, color=plotting.NEUTRAL, capsize=3)
    plotting.percent_axis(ax, "x")
    ax.set_xlabel("share of explained variation in likelihood to recommend")
    ax.set_title(title or "What drives recommendation")
    ax.grid(axis="y", visible=False)
    return ax


def plot_quadrant(
    ipa: pd.DataFrame,
    importance_col: str = "share",
    performance_col: str = "performance",
    ax=None,
    title: str | None = None,
):
    """Importance × performance chart; the "fix first" quadrant (important, poorly rated)
    is shaded. ``ipa`` comes from :func:`cjlab.survey.importance_performance`."""
    ax = plotting.new_axes(ax, figsize=(7, 5))
    ic = ipa.attrs.get("importance_cut", ipa[importance_col].mean())
    pc = ipa.attrs.get("performance_cut", ipa[performance_col].mean())
    colors = {
        "fix first": plotting.BAD,
        "keep up": plotting.GOOD,
        "low priority": plotting.MUTED,
        "possible overkill": plotting.PALETTE[1],
    }
    for q, g in ipa.groupby("quadrant"):
        ax.scatter(
            g[performance_col], g[importance_col], s=70, color=colors.get(q), label=q, zorder=3
        )
    for _, r in ipa.iterrows():
        ax.annotate(
            plotting.words(r["touchpoint"]),
            (r[performance_col], r[importance_col]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=9,
        )
    ax.axvline(pc, color=plotting.MUTED, ls="--", lw=1)
    ax.axhline(ic, color=plotting.MUTED, ls="--", lw=1)
    x0, _ = ax.get_xlim()
    _, y1 = ax.get_ylim()
    ax.axvspan(
        x0,
        pc,
        ymin=(ic - ax.get_ylim()[0]) / (y1 - ax.get_ylim()[0]),
        ymax=1,
        color=plotting.BAD,
        alpha=0.06,
    )
    ax.set_xlim(x0, ax.get_xlim()[1])
    plotting.percent_axis(ax, "y")
    ax.set_xlabel("performance (mean rating, 1–5)")
    ax.set_ylabel("importance (share of R²)")
    ax.set_title(title or "Importance × performance: fix first = top left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the chart, never over a point
    return ax


def plot_weights(result: WeightingResult, ax=None, title: str | None = None):
    """Histogram of the final weights with the design effect in the title."""
    ax = plotting.new_axes(ax, figsize=(7, 3.2))
    ax.hist(result.weights, bins=40, color=plotting.NEUTRAL, alpha=0.85)
    ax.set_xlabel("weight (mean = 1)")
    ax.set_ylabel("respondents")
    ax.set_title(
        title
        or f"Weights: design effect {fmt.plain(result.design_effect, 2)}, "
        f"effective n {fmt.count(result.n_effective)} of {fmt.count(result.n)}"
    )
    return ax


__all__ = [
    "plot_drivers",
    "plot_likert",
    "plot_quadrant",
    "plot_segments",
    "plot_trend",
    "plot_trends",
    "plot_weights",
]
