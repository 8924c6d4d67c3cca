"""Figures of the campaign analysis, drawn from its results (never from raw tables).

Static matplotlib figures in the cjlab style; legends sit beside or below the data.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from cjlab import formatting as fmt
from cjlab.campaigns.results import METHOD_LABELS
from cjlab.plotting import BAD, GOOD, MUTED, NEUTRAL, PALETTE, forest, new_axes, percent_axis

__all__ = ["effects", "offers", "profit_curves", "qini_curves", "send_time", "triggers"]


def effects(a: Any, ax=None):
    """Incremental conversion per segment (percentage points) with credible intervals."""
    e = a.effects.assign(label=a.effects["group"].str.replace("_", " "))
    e = e.assign(
        **{
            c: 100 * e[c]
            for c in (
                "incremental_conversion",
                "incremental_conversion_low",
                "incremental_conversion_high",
            )
        }
    )
    ax = forest(
        e,
        "incremental_conversion",
        "incremental_conversion_low",
        "incremental_conversion_high",
        "label",
        reference=0,
        ax=ax,
        title="Incremental conversion: contacted minus held out",
        xlabel=f"percentage points ({fmt.share(a.level, 0)} credible interval)",
    )
    return ax


def qini_curves(a: Any, ax=None):
    """Qini curves of the uplift models on the hold-out, with random targeting."""
    ax = new_axes(ax, figsize=(8, 4.2))
    c = a.uplift.curves
    for i, (m, d) in enumerate(c.groupby("method", sort=False)):
        ax.plot(
            d["share_targeted"],
            100 * d["incremental_per_customer"],
            color=PALETTE[i],
            lw=2.5 if m == a.uplift.best else 1.5,
            label=METHOD_LABELS[m],
        )
    d = c[c["method"] == a.uplift.best]
    ax.plot(
        d["share_targeted"],
        100 * d["random_per_customer"],
        color=MUTED,
        ls="--",
        label="random order",
    )
    percent_axis(ax, "x")
    ax.set_xlabel("share of customers contacted, best ranked first")
    ax.set_ylabel("extra conversions per 100 customers")
    ax.set_title("Qini curves on the hold-out")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def profit_curves(a: Any, ax=None):
    """Incremental profit per 1,000 customers by contact share, one line per targeting policy."""
    ax = new_axes(ax, figsize=(8, 4.2))
    labels = a.policies.set_index("policy")["label"]
    for i, (p, d) in enumerate(a.profit_curves.groupby("policy", sort=False)):
        ax.plot(
            d["share_contacted"],
            d["profit_per_1000"],
            color=PALETTE[i],
            lw=2.5 if p == "profit" else 1.5,
            label=labels.get(p, p),
        )
    share = a.policies.set_index("policy").loc["profit", "share_contacted"]
    ax.axvline(share, color=GOOD, ls=":", lw=1.5, label="positive expected profit")
    ax.axhline(0, color=MUTED, lw=1)
    percent_axis(ax, "x")
    ax.set_xlabel("share of customers contacted")
    ax.set_ylabel(f"incremental profit per 1,000 ({a.currency or 'amount'})")
    ax.set_title("Profit of each way to choose whom to contact")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def offers(a: Any, ax=None):
    """Hit rate at each list length, one line per method, with intervals."""
    ax = new_axes(ax, figsize=(8, 4))
    for i, (m, d) in enumerate(a.offers.groupby("method", sort=False)):
        ax.errorbar(
            d["k"] + 0.05 * (i - 1),
            d["hit_rate"],
            yerr=[d["hit_rate"] - d["hit_rate_low"], d["hit_rate_high"] - d["hit_rate"]],
            marker="o",
            capsize=3,
            color=PALETTE[i],
            label=METHOD_LABELS.get(m, m),
        )
    percent_axis(ax, "y")
    ax.set_xticks(sorted(a.offers["k"].unique()))
    ax.set_xlabel("offers per customer (k)")
    ax.set_ylabel("customers who bought one of them")
    ax.set_title(f"Next best offer: test purchases after {a.cutoff}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def send_time(a: Any):
    """When customers open e-mails: share of engagements by weekday and hour (all customers)."""
    fig, ax = plt.subplots(figsize=(10, 3.4))
    prof = a.hour_profile
    im = ax.imshow(prof.to_numpy(), aspect="auto", cmap="Blues")
    ax.set_yticks(range(len(prof)), [d[:3] for d in prof.index])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day (UTC)")
    ax.set_title("E-mail opens and clicks by weekday and hour")
    fig.colorbar(im, ax=ax, format=lambda v, _: fmt.share(v, 1), label="share of engagements")
    ax.grid(False)
    return ax


def triggers(a: Any, ax=None):
    """Orders around each trigger against the same customers' usual rate (ratio, interval)."""
    t = a.triggers.sort_values("rate_ratio", ascending=False)
    ax = forest(
        t,
        "rate_ratio",
        "rate_ratio_low",
        "rate_ratio_high",
        "label",
        reference=1.0,
        ax=ax,
        color=NEUTRAL,
        title="Orders around each trigger against usual",
        xlabel=f"rate ratio ({fmt.share(a.level, 0)} interval; 1 = no change)",
    )
    for y, r in enumerate(t.itertuples(index=False)):
        ax.text(
            r.rate_ratio_high if np.isfinite(r.rate_ratio_high) else r.rate_ratio,
            y,
            f"  {fmt.ratio(r.rate_ratio)}",
            va="center",
            fontsize=9,
            color=GOOD if r.rate_ratio_low > 1 else (BAD if r.rate_ratio_high < 1 else MUTED),
        )
    return ax
