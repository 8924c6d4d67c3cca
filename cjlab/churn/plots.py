"""Figures for the churn report. Each takes results (DataFrames / dataclasses) and returns axes.

Examples
--------
>>> import numpy as np
>>> from cjlab.churn.evaluation import evaluate
>>> from cjlab.churn import plots as cp
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 500); p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
>>> ax = cp.plot_reliability(evaluate(y, p, n_boot=0))
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab import plotting
from cjlab.churn.evaluation import Evaluation
from cjlab.churn.retention import KMResult
from cjlab.churn.tables import DRIVER_WORDS, feature_words

__all__ = [
    "plot_clv_distribution",
    "plot_drivers",
    "plot_evaluation",
    "plot_gains",
    "plot_holdout",
    "plot_lift",
    "plot_model_comparison",
    "plot_partial_dependence",
    "plot_profit_curve",
    "plot_reliability",
    "plot_retention",
]


def plot_reliability(ev: Evaluation, ax=None, title: str = "Are the probabilities right?"):
    """Reliability curve: observed churn rate against mean predicted probability per bin."""
    ax = plotting.new_axes(ax, figsize=(5.5, 5))
    r = ev.reliability
    hi = float(max(r["mean_predicted"].max(), r["high"].max())) * 1.05
    ax.plot([0, hi], [0, hi], ls="--", color=plotting.MUTED, lw=1, label="perfect calibration")
    ax.errorbar(
        r["mean_predicted"],
        r["observed_rate"],
        yerr=[r["observed_rate"] - r["low"], r["high"] - r["observed_rate"]],
        fmt="o-",
        color=plotting.NEUTRAL,
        capsize=3,
        label=f"model ({fmt.share(ev.level, digits=0)} interval)",
    )
    plotting.percent_axis(ax, "x")
    plotting.percent_axis(ax, "y")
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.set_title(
        f"{title}\nBrier score {fmt.plain(ev.brier)} (base rate alone: {fmt.plain(ev.brier_reference)})"
    )
    plotting.legend_below(ax, ncol=1, fontsize=8)
    return ax


def plot_gains(ev: Evaluation, ax=None):
    """Cumulative gains: share of churners reached when contacting the riskiest x %."""
    ax = plotting.new_axes(ax, figsize=(5.5, 5))
    g = ev.gains_curve if len(ev.gains_curve) else ev.gains
    x = np.r_[0, g["contact_share"]]
    ax.plot(x, np.r_[0, g["gain"]], color=plotting.NEUTRAL, lw=2, label="model")
    ax.plot([0, 1], [0, 1], ls="--", color=plotting.MUTED, label="random contact")
    plotting.percent_axis(ax, "x")
    plotting.percent_axis(ax, "y")
    ax.set_xlabel("customers contacted (riskiest first)")
    ax.set_ylabel("churners reached")
    ax.set_title("Cumulative gains")
    plotting.legend_below(ax, ncol=1, fontsize=8)
    return ax


def plot_lift(ev: Evaluation, ax=None):
    """Lift by decile of predicted risk (cumulative)."""
    ax = plotting.new_axes(ax, figsize=(5.5, 5))
    g = ev.gains
    ax.bar(g["contact_share"], g["lift"], width=0.08, color=plotting.NEUTRAL)
    ax.axhline(1, ls="--", color=plotting.MUTED)
    for x, v in zip(g["contact_share"], g["lift"]):
        ax.text(x, v, fmt.ratio(v), ha="center", va="bottom", fontsize=8)
    plotting.percent_axis(ax, "x")
    ax.set_xlabel("top share of customers contacted")
    ax.set_ylabel("lift (× random)")
    ax.set_title(f"Riskiest 10 %: {fmt.ratio(ev.top_decile_lift)} the average churn rate")
    return ax


def plot_evaluation(ev: Evaluation):
    """Reliability, cumulative gains and lift side by side (one figure)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    plot_reliability(ev, ax=axes[0])
    plot_gains(ev, ax=axes[1])
    plot_lift(ev, ax=axes[2])
    fig.tight_layout()
    return axes


def plot_model_comparison(comparison: pd.DataFrame, ax=None):
    """Out-of-time ROC-AUC with intervals per model (0.5 = no better than chance)."""
    d = comparison.assign(
        label=comparison["model"]
        .map({"logit": "logistic regression", "hgb": "gradient boosting"})
        .fillna(comparison["model"])
    )
    return plotting.forest(
        d,
        "roc_auc",
        "roc_auc_low",
        "roc_auc_high",
        label="label",
        reference=0.5,
        ax=ax,
        title="Model quality on held-out customers",
        xlabel="ranking quality (ROC-AUC; 0.5 = guessing)",
    )


def plot_drivers(drivers: pd.DataFrame, top: int = 10, ax=None):
    """Permutation importance: how much worse the model ranks churners without each driver."""
    d = drivers.head(top).iloc[::-1]
    ax = plotting.new_axes(ax, figsize=(7, 0.4 * len(d) + 1.2))
    ax.barh(
        d["feature"].map(lambda f: DRIVER_WORDS.get(f, str(f).replace("_", " "))),
        d["importance"],
        xerr=d["std"],
        color=plotting.NEUTRAL,
        capsize=3,
    )
    ax.set_xlabel("drop in ranking quality (ROC-AUC) when the driver is scrambled")
    ax.set_title("What drives churn")
    ax.grid(axis="y", visible=False)
    return ax


def plot_partial_dependence(pdp: pd.DataFrame, axes=None):
    """Average predicted churn probability along each driver (partial dependence)."""
    import matplotlib.pyplot as plt

    feats = list(dict.fromkeys(pdp["feature"]))
    if axes is None:
        _, axes = plt.subplots(
            1, max(len(feats), 1), figsize=(4.2 * max(len(feats), 1), 3.6), squeeze=False
        )
        axes = axes[0]
    for ax, f in zip(axes, feats):
        d = pdp[pdp["feature"] == f]
        ax.plot(d["value"], d["churn_probability"], color=plotting.BAD, lw=2)
        plotting.percent_axis(ax, "y", 1)
        ax.set_xlabel(feature_words(f))
        ax.set_ylabel("churn probability")
    axes[0].figure.tight_layout()
    return axes


def plot_clv_distribution(
    scores: pd.DataFrame, ax=None, clip_quantile: float = 0.99, currency: str = ""
):
    """Histogram of customer lifetime values (top 1 % clipped for readability)."""
    ax = plotting.new_axes(ax, figsize=(7, 4))
    v = scores["clv"].dropna()
    cap = v.quantile(clip_quantile)
    ax.hist(v.clip(upper=cap), bins=40, color=plotting.NEUTRAL)
    ax.axvline(v.mean(), color=plotting.BAD, ls="--", label=f"mean {fmt.money(v.mean(), currency)}")
    ax.axvline(
        v.median(), color=plotting.GOOD, ls=":", label=f"median {fmt.money(v.median(), currency)}"
    )
    unit = f" ({currency})" if currency else ""
    ax.set_xlabel(
        f"customer lifetime value{unit} (values above the "
        f"{fmt.share(clip_quantile, digits=0)} quantile shown at it)"
    )
    ax.set_ylabel("customers")
    plotting.thousands_axis(ax, "y")
    ax.set_title("Customer lifetime value")
    plotting.legend_outside(ax)
    return ax


def plot_retention(km: KMResult, ax=None, max_groups: int = 8, title: str | None = None):
    """Kaplan–Meier retention curves with confidence bands, one per group."""
    ax = plotting.new_axes(ax, figsize=(8, 4.5))
    groups = sorted(
        km.summary.sort_values("customers", ascending=False)["group"].head(max_groups), key=str
    )
    for i, g in enumerate(groups):
        d = km.curves[km.curves["group"] == g]
        col = plotting.PALETTE[i % len(plotting.PALETTE)]
        ax.step(d["days"], d["retention"], where="post", color=col, label=plotting.words(g))
        ax.fill_between(d["days"], d["low"], d["high"], step="post", color=col, alpha=0.15)
    plotting.percent_axis(ax, "y")
    ax.set_xlabel("days since becoming a customer")
    ax.set_ylabel("still a customer")
    ax.set_title(title or f"Retention by {str(km.by).replace('_', ' ')}")
    plotting.legend_outside(ax)
    return ax


def plot_profit_curve(
    curve: pd.DataFrame,
    best: pd.Series | None = None,
    ax=None,
    mark_share: float | None = None,
    currency: str = "",
):
    """Expected profit of the retention campaign against the share of customers contacted."""
    ax = plotting.new_axes(ax, figsize=(8, 4.2))
    ax.plot(
        curve["contact_share"],
        curve["profit"],
        color=plotting.NEUTRAL,
        lw=2,
        label="expected profit",
    )
    ax.plot(
        curve["contact_share"],
        curve["saved_value"],
        color=plotting.GOOD,
        lw=1,
        ls="--",
        label="value saved",
    )
    ax.plot(
        curve["contact_share"], curve["cost"], color=plotting.BAD, lw=1, ls=":", label="offer cost"
    )
    ax.axhline(0, color=plotting.MUTED, lw=0.8)
    if best is not None:
        ax.axvline(best["contact_share"], color=plotting.NEUTRAL, ls="--", lw=1)
        ax.annotate(
            f"best: contact {fmt.share(best['contact_share'], digits=0)}\n"
            f"profit {fmt.money(best['profit'], currency)}",
            (best["contact_share"], best["profit"]),
            xytext=(10, -30),
            textcoords="offset points",
            fontsize=9,
        )
    if mark_share is not None:
        ax.axvline(mark_share, color=plotting.BAD, lw=1.5)
    plotting.percent_axis(ax, "x")
    plotting.thousands_axis(ax, "y")
    ax.set_xlabel("share of contactable customers contacted (highest value at risk first)")
    ax.set_ylabel(f"amount ({currency})" if currency else "amount")
    ax.set_title("Profit of a retention campaign")
    plotting.legend_outside(ax)
    return ax


def plot_holdout(holdout: pd.DataFrame, ax=None, model: str = "BG/NBD"):
    """Calibration/holdout check of the purchase model: predicted vs actual purchases."""
    ax = plotting.new_axes(ax, figsize=(7, 4))
    x = np.arange(len(holdout))
    ax.bar(x - 0.2, holdout["actual"], 0.4, label="actual", color=plotting.NEUTRAL)
    ax.bar(
        x + 0.2, holdout["predicted"], 0.4, label=f"predicted ({model})", color=plotting.PALETTE[1]
    )
    ax.set_xticks(x, holdout["frequency_label"])
    ax.set_xlabel("repeat purchases before the holdout period")
    ax.set_ylabel("purchases per customer in the holdout")
    ax.set_title("Does the purchase model predict the future?")
    plotting.legend_outside(ax)
    return ax
