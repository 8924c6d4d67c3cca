"""Figures of the segmentation report, drawn from results (never from raw tables).

Every function takes an optional ``ax`` and returns the axes; the style is
:mod:`cjlab.plotting`'s.

Examples
--------
>>> import pandas as pd
>>> s = pd.DataFrame({"segment": ["Champions", "Lost"], "customer_share": [0.2, 0.8],
...                   "revenue_share": [0.7, 0.3]})
>>> rfm_segments(s).get_title()
'RFM segments: buyers and revenue'
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cjlab import formatting, plotting
from cjlab.plotting import new_axes
from cjlab.segments.response import lift_matrix

__all__ = ["feature_label", "lift", "plot_profiles", "rfm_segments", "status"]

_FEATURE_WORDS = {
    "touches": "Touches (log)",
    "stage_reached": "Furthest journey stage",
    "support_tickets": "Support tickets",
    "orders": "Orders (log)",
    "spend_mean": "Spend per order (log)",
    "promo_share": "Orders with a promotion",
    "discount_share": "Discount share of spend",
    "holiday_share": "Orders in Nov/Dec",
    "birthday_share": "Orders near the birthday",
    "survey_rating": "Survey rating",
    "survey_nps": "Survey NPS",
}
_PREFIXES = {
    "device_": "Device",
    "channel_": "Channel before buying",
    "order_": "Orders by",
    "category_": "Category",
}


def feature_label(feature: str) -> str:
    """A behavioural feature in words: ``device_mobile`` -> ``'Device: mobile'``."""
    if feature in _FEATURE_WORDS:
        return _FEATURE_WORDS[feature]
    for prefix, word in _PREFIXES.items():
        if feature.startswith(prefix):
            return f"{word}: {feature[len(prefix) :].replace('_', ' ')}"
    return feature.replace("_", " ").capitalize()


def _heatmap(
    data: pd.DataFrame, ax, center: float, lim: float | None, fmt: str, label: str
) -> None:
    import seaborn as sns

    kw = {"vmin": center - lim, "vmax": center + lim} if lim is not None else {}
    digits = int(fmt.strip(".f"))  # ".1f" -> 1; labels by cjlab.formatting: never "-0.0"
    labels = data.map(lambda v: "" if pd.isna(v) else formatting.plain(v, digits))
    with warnings.catch_warnings():  # seaborn's own use of a matplotlib API being deprecated
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(
            data,
            cmap="RdBu_r",
            center=center,
            annot=labels.to_numpy(),
            fmt="",
            annot_kws={"size": 8},
            cbar_kws={"label": label},
            ax=ax,
            **kw,
        )


def rfm_segments(summary: pd.DataFrame, ax=None):
    """Share of buyers and share of revenue per RFM segment (horizontal bars)."""
    s = summary.sort_values("revenue_share")
    ax = new_axes(ax, figsize=(9, 1.4 + 0.42 * len(s)))
    y = np.arange(len(s))
    ax.barh(y + 0.2, s["customer_share"], height=0.4, label="share of buyers", color=plotting.MUTED)
    ax.barh(
        y - 0.2, s["revenue_share"], height=0.4, label="share of revenue", color=plotting.NEUTRAL
    )
    ax.set_yticks(y)
    ax.set_yticklabels(s["segment"])
    plotting.percent_axis(ax, "x")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)  # below: never on the bars
    ax.set_title("RFM segments: buyers and revenue")
    return ax


def plot_profiles(
    profile: pd.DataFrame,
    ax=None,
    descriptions: pd.Series | None = None,
    names: Mapping | None = None,
    max_features: int = 18,
    title: str = "What sets each segment apart (SD from the average customer)",
):
    """Heat-map of standardised means (segments x features), diverging around 0.

    Rows are labelled by ``names`` (segment -> name) or, failing that, by the segment number
    and its description.
    """
    cols = profile.abs().max().sort_values(ascending=False).index[:max_features]
    p = profile[cols]
    if names is not None:
        p = p.rename(index=lambda s: names.get(s, s))
    elif descriptions is not None:
        p = p.rename(index=lambda s: f"{s}: {descriptions.get(s, '')}")
    p = p.rename(columns=feature_label)
    ax = new_axes(ax, figsize=(min(2.5 + 0.55 * len(cols), 14), 1.6 + 0.55 * len(p)))
    lim = min(max(1.0, float(np.nanmax(np.abs(p.to_numpy())))), 2.0)  # colours saturate at 2 SD
    _heatmap(p, ax, 0.0, lim, ".1f", "SD from average")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=45)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    return ax


def status(summary: pd.DataFrame, as_of: str | None = None, ax=None):
    """Customers per status (churned and at risk in the warning colour)."""
    ax = new_axes(ax, figsize=(8, 3.2))
    colors = [
        plotting.BAD if s in ("churned", "at risk") else plotting.NEUTRAL for s in summary["status"]
    ]
    ax.bar(summary["status"].map(plotting.words), summary["customers"], color=colors)
    plotting.thousands_axis(ax, "y")
    ax.set_ylabel("customers")
    ax.set_title("Customer status" + (f" as of {as_of}" if as_of else ""))
    return ax


def lift(table: pd.DataFrame, by: str, window_days: float | None = None, ax=None, top: int = 12):
    """Heat-map of response lift: segments (rows) x values of ``by`` (1 = like everyone else)."""
    m = lift_matrix(table, by, top=top)
    m.columns = [str(c).replace("_", " ") for c in m.columns]
    ax = new_axes(ax, figsize=(min(3.5 + 1.1 * m.shape[1], 13), 0.6 * len(m) + 1.6))
    _heatmap(m, ax, 1.0, None, ".2f", "lift")
    ax.set_xlabel(by.replace("_", " "))
    ax.set_ylabel("")
    window = f" (order within {window_days:g} days)" if window_days is not None else ""
    ax.set_title(f"Response lift by {by.replace('_', ' ')}{window}")
    return ax
