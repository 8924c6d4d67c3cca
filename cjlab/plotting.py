"""One figure style for every cjlab report.

Call :func:`set_theme` once (notebooks do it in their first code cell); every plotting helper
takes an optional ``ax`` and returns the axes so figures compose.

Examples
--------
>>> import pandas as pd
>>> from cjlab import plotting
>>> plotting.set_theme()
>>> df = pd.DataFrame({"label": ["a", "b"], "estimate": [1.0, 2.0], "low": [0.5, 1.2], "high": [1.5, 2.9]})
>>> ax = plotting.forest(df, "estimate", "low", "high", label="label", reference=0)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from cjlab import formatting as fmt

#: Colours used across reports: neutral, good, bad, highlight.
PALETTE = ["#3b6ea8", "#e07b39", "#5a9e6f", "#c4463a", "#8c6bb1", "#7f7f7f", "#d4a03a", "#4bacc6"]
GOOD, BAD, NEUTRAL, MUTED = "#2e7d32", "#c62828", "#3b6ea8", "#9e9e9e"


def set_theme(context: str = "notebook") -> None:
    """Apply the cjlab seaborn theme (white grid, readable sizes, the cjlab palette)."""
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE,
                  rc={"figure.figsize": (8, 4.2), "figure.dpi": 100, "savefig.dpi": 110,
                      "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 11,
                      "axes.spines.top": False, "axes.spines.right": False,
                      "figure.autolayout": False, "legend.frameon": False})


def words(value) -> str:
    """A data label as readers see it: ``'paid_search'`` -> ``'paid search'``."""
    return str(value).replace("_", " ")


def legend_outside(ax, title: str | None = None, **kwargs):
    """Put the legend to the right of the axes, where it never covers the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, title=title, bbox_to_anchor=(1.01, 1), loc="upper left",
                  borderaxespad=0, **kwargs)
    return ax


def legend_below(ax, ncol: int = 2, title: str | None = None, **kwargs):
    """Put the legend under the axes (small panels side by side), never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, title=title, loc="upper center", bbox_to_anchor=(0.5, -0.22),
                  ncol=ncol, borderaxespad=0, **kwargs)
    return ax


def new_axes(ax=None, figsize: tuple[float, float] | None = None):
    """Return ``ax`` or a fresh axes of the given size."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _percent_tick(v: float, _pos=None) -> str:
    text = f"{100 * v:.1f}".rstrip("0").rstrip(".")
    return ("0" if text in ("-0", "") else text) + "%"


def percent_axis(ax, axis: str = "x", decimals: int | None = None):
    """Format an axis whose values are shares (0..1) as percentages (``2.5%``, ``10%``)."""
    f = (mticker.FuncFormatter(_percent_tick) if decimals is None
         else mticker.PercentFormatter(1.0, decimals=decimals))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(f)
    return ax


def thousands_axis(ax, axis: str = "y"):
    """Format an axis with thousands separators."""
    fmt = mticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)
    return ax


def forest(df: pd.DataFrame, estimate: str, low: str, high: str, label: str,
           reference: float | None = None, ax=None, color: str = NEUTRAL,
           title: str | None = None, xlabel: str | None = None, sort: bool = False):
    """Forest plot: one row per ``label`` with a point estimate and an interval.

    Parameters
    ----------
    df : one row per item.
    estimate, low, high : column names of the point estimate and interval bounds.
    label : column with the row labels.
    reference : draw a vertical reference line (e.g. 0 for differences, the overall value).
    sort : order rows by the estimate.
    """
    d = df.sort_values(estimate) if sort else df
    ax = new_axes(ax, figsize=(8, max(2.0, 0.45 * len(d) + 1)))
    y = range(len(d))
    est, lo, hi = (d[c].to_numpy(dtype=float) for c in (estimate, low, high))
    ax.errorbar(est, list(y), xerr=[est - lo, hi - est],
                fmt="o", color=color, ecolor=color, elinewidth=2, capsize=3)
    ax.set_yticks(list(y), [str(v) for v in d[label]])
    ax.invert_yaxis()
    if reference is not None:
        ax.axvline(reference, color=MUTED, ls="--", lw=1)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    return ax


def bars(df: pd.DataFrame, value: str, label: str, ax=None, title: str | None = None,
         xlabel: str | None = None, color: str = NEUTRAL, share: bool = False, annotate: bool = True):
    """Horizontal bars of ``value`` per ``label`` (largest first), values written at the bar ends."""
    d = df.sort_values(value, ascending=False)
    ax = new_axes(ax, figsize=(8, max(2.2, 0.4 * len(d) + 1)))
    ax.barh([words(v) for v in d[label]], d[value], color=color)
    ax.invert_yaxis()
    if share:
        percent_axis(ax, "x")
    else:
        thousands_axis(ax, "x")
    if annotate:
        for i, v in enumerate(d[value]):
            ax.text(v, i, " " + (fmt.share(v) if share else fmt.count(v)), va="center", fontsize=9)
    ax.set_xlabel(xlabel or words(value))
    ax.set_ylabel("")
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    return ax


def columns(df: pd.DataFrame, value: str, label: str, ax=None, title: str | None = None,
            ylabel: str | None = None, color: str = NEUTRAL):
    """Vertical bars of ``value`` per ``label`` in the frame's order (stages, months)."""
    ax = new_axes(ax, figsize=(9, 4))
    ax.bar([words(v) for v in df[label]], df[value], color=color)
    ax.tick_params(axis="x", rotation=45)
    for t in ax.get_xticklabels():
        t.set_horizontalalignment("right")
    thousands_axis(ax, "y")
    ax.set_ylabel(ylabel or words(value))
    ax.grid(axis="x", visible=False)
    if title:
        ax.set_title(title)
    return ax


def lines_over_time(df: pd.DataFrame, time: str, value: str, hue: str | None = None, ax=None,
                    title: str | None = None, ylabel: str | None = None):
    """One line per ``hue`` value over ``time``."""
    ax = new_axes(ax, figsize=(9, 4))
    if hue:
        df = df.assign(**{hue: df[hue].map(words)})
    sns.lineplot(data=df, x=time, y=value, hue=hue, ax=ax, marker="o", markersize=3)
    thousands_axis(ax, "y")
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or words(value))
    if title:
        ax.set_title(title)
    if hue:
        legend_outside(ax, title=words(hue))
    return ax
