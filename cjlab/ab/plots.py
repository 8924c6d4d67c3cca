"""Figures for A/B results (take results, return axes; styling from :mod:`cjlab.plotting`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from cjlab import formatting as fmt
from cjlab import plotting


def _forest(
    df: pd.DataFrame, label: str, ax=None, title: str | None = None, xlabel: str | None = None
):
    """Forest plot from numpy arrays (``cjlab.plotting.forest`` warns for a single row)."""
    est = df["uplift"].to_numpy(float)
    lo, hi = df["uplift_low"].to_numpy(float), df["uplift_high"].to_numpy(float)
    ax = plotting.new_axes(ax, figsize=(8, max(2.0, 0.45 * len(df) + 1)))
    y = np.arange(len(df))
    ax.errorbar(
        est,
        y,
        xerr=np.vstack([est - lo, hi - est]),
        fmt="o",
        color=plotting.NEUTRAL,
        ecolor=plotting.NEUTRAL,
        elinewidth=2,
        capsize=3,
    )
    ax.set_yticks(y, [str(v) for v in df[label]])
    ax.set_ylim(len(df) - 0.5, -0.5)
    ax.axvline(0.0, color=plotting.MUTED, ls="--", lw=1)
    ax.grid(axis="y", visible=False)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    return ax


def posterior_densities(
    results: pd.DataFrame, ax=None, title: str | None = "Posterior conversion rates"
):
    """Beta posterior density of every variant's conversion rate (from ``compare_conversions``)."""
    ax = plotting.new_axes(ax, figsize=(8, 4))
    a, b = results["alpha"].to_numpy(float), results["beta"].to_numpy(float)
    lo = float(special.betaincinv(a, b, 1e-4).min())
    hi = float(special.betaincinv(a, b, 1 - 1e-4).max())
    x = np.linspace(lo, hi, 600)
    for i, r in enumerate(results.itertuples(index=False)):
        y = np.exp(
            special.xlogy(a[i] - 1, x) + special.xlog1py(b[i] - 1, -x) - special.betaln(a[i], b[i])
        )
        color = plotting.PALETTE[i % len(plotting.PALETTE)]
        label = (
            f"{r.variant} (control)" if r.is_control and r.variant != "control" else str(r.variant)
        )
        ax.plot(x, y, color=color, lw=2, label=label)
        ax.fill_between(x, y, color=color, alpha=0.15)
    plotting.percent_axis(ax, "x", 1)
    ax.set_xlabel("conversion rate")
    ax.set_ylabel("posterior density")
    ax.set_yticks([])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return ax


def uplift_intervals(
    results: pd.DataFrame,
    rope: float | None = None,
    ax=None,
    title: str | None = "Relative uplift against the control",
):
    """Forest plot of the relative uplift (median and credible interval) with the ROPE band."""
    d = results[~results["is_control"]] if "is_control" in results else results
    ax = _forest(d, "variant", ax=ax, title=title, xlabel="relative uplift vs control")
    if rope:
        ax.axvspan(
            -rope,
            rope,
            color=plotting.MUTED,
            alpha=0.2,
            lw=0,
            label=f"±{fmt.share(rope)} equivalence",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    plotting.percent_axis(ax, "x", 0)
    return ax


def evolution(ev: pd.DataFrame, loss_threshold: float | None = None, axes=None):
    """Chance to beat control and expected loss (relative) over the test's life (two panels)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1, ax2 = axes
    variants = [v for v in dict.fromkeys(ev["variant"])]
    for i, v in enumerate(variants):
        g = ev[ev["variant"] == v]
        color = plotting.PALETTE[i % len(plotting.PALETTE)]
        if not g["is_control"].iloc[0]:
            ax1.plot(g["date"], g["chance_to_beat_control"], color=color, lw=2, label=v)
        ax2.plot(g["date"], g["expected_loss_relative"], color=color, lw=2, label=v)
    ax1.axhline(0.5, color=plotting.MUTED, ls="--", lw=1)
    ax1.set_ylim(0, 1)
    plotting.percent_axis(ax1, "y")
    ax1.set_title("Chance to beat control")
    ax2.set_yscale("log")
    ax2.yaxis.set_major_formatter(plotting.mticker.FuncFormatter(lambda v, _: fmt.share(v)))
    ax2.yaxis.set_minor_formatter(plotting.mticker.NullFormatter())
    if loss_threshold:
        ax2.axhline(loss_threshold, color=plotting.BAD, ls="--", lw=1, label="loss threshold")
    ax2.set_title("Expected loss (share of the control rate)")
    import matplotlib.dates as mdates

    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for ax in axes:
        loc = mdates.AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    return axes


def segment_forest(
    summary: pd.DataFrame, ax=None, title: str | None = "Uplift by segment (partial pooling)"
):
    """Forest plot of per-segment uplift from :class:`~cjlab.ab.models.SegmentUpliftModel`."""
    ax = _forest(summary, "segment", ax=ax, title=title, xlabel="relative uplift vs control")
    plotting.percent_axis(ax, "x", 0)
    return ax


def planning_curve(plan, ax=None, title: str | None = "Planning: share of tests decided by day"):
    """Cumulative share of simulated tests that decided / shipped by each day, both worlds."""
    ax = plotting.new_axes(ax, figsize=(8, 4))
    c = plan.curve
    for scenario, color in (("effect", plotting.GOOD), ("no effect", plotting.BAD)):
        g = c[c["scenario"] == scenario]
        ax.plot(g["day"], g["shipped"], color=color, lw=2, label=f"shipped ({scenario})")
        ax.plot(
            g["day"], g["decided"], color=color, lw=1, ls="--", label=f"any decision ({scenario})"
        )
    ax.set_ylim(0, 1)
    plotting.percent_axis(ax, "y")
    ax.set_xlabel("days of testing")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return ax


def revenue_comparison(
    methods: dict, ax=None, currency: str = "", title: str | None = "Revenue per user by method"
):
    """Revenue per user with its interval from several methods side by side.

    ``methods`` maps a label to a summary with variant, revenue_per_user, rpu_low, rpu_high
    (e.g. the two-part bootstrap, the normal approximation, the PyMC model).
    """
    ax = plotting.new_axes(ax, figsize=(8, 3.5))
    frames = [m for m in methods.values() if m is not None]
    variants = list(frames[0]["variant"])
    y = np.arange(len(variants))
    offsets = np.linspace(-0.2, 0.2, len(frames)) if len(frames) > 1 else [0.0]
    for off, (label, df), color in zip(
        offsets, [(k, v) for k, v in methods.items() if v is not None], plotting.PALETTE
    ):
        d = df.set_index("variant").loc[variants]
        m = d["revenue_per_user"].to_numpy(float)
        ax.errorbar(
            m,
            y + off,
            xerr=[m - d["rpu_low"].to_numpy(float), d["rpu_high"].to_numpy(float) - m],
            fmt="o",
            color=color,
            capsize=3,
            label=label,
        )
    ax.set_yticks(y, variants)
    ax.invert_yaxis()
    ax.set_xlabel(f"revenue per user ({currency})" if currency else "revenue per user")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return ax


def power_vs_effect(
    power: pd.DataFrame, ax=None, title: str | None = "Planning: chance to ship by true effect"
):
    """Power (and the false-positive rate) against the true relative lift, with ±2 SE bars."""
    ax = plotting.new_axes(ax, figsize=(8, 3.8))
    x = power["min_effect"].to_numpy(float)
    ax.errorbar(
        x,
        power["power"],
        yerr=2 * power["power_se"],
        fmt="o-",
        color=plotting.GOOD,
        capsize=3,
        label="shipped when the lift is real (power)",
    )
    ax.errorbar(
        x,
        power["false_positive_rate"],
        yerr=2 * power["false_positive_rate_se"],
        fmt="s--",
        color=plotting.BAD,
        capsize=3,
        label="shipped when nothing changed",
    )
    ax.set_ylim(0, 1)
    ax.set_xticks(x)
    plotting.percent_axis(ax, "y")
    plotting.percent_axis(ax, "x")
    ax.set_xlabel("true relative lift of the variant")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return ax
