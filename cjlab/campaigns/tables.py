"""The tables a campaign report shows: readable headers, intervals in words, no customer ids.

Each function takes a :class:`~cjlab.campaigns.results.CampaignAnalysis` and returns
``(DataFrame, formats)`` for :func:`cjlab.notebook.table`, so a notebook shows a table in one
line: ``rd.table(*tables.effects(a), caption=...)``. Intervals are one text column each, so the
tables stay narrow enough for a page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.campaigns.results import METHOD_LABELS

__all__ = [
    "effects",
    "inactivity",
    "methods",
    "offers",
    "pairs",
    "policies",
    "send_time",
    "trigger_tiers",
    "triggers",
    "truth_check",
    "uplift_segments",
]

Table = tuple[pd.DataFrame, dict[str, str]]


def _iv(
    df: pd.DataFrame, col: str, unit: str, currency: str | None = None, digits: int | None = None
) -> pd.Series:
    return pd.Series(
        [
            fmt.interval(v, lo, hi, unit, currency=currency, digits=digits)
            for v, lo, hi in zip(df[col], df[f"{col}_low"], df[f"{col}_high"])
        ],
        index=df.index,
    )


def _label(v: Any) -> str:
    return str(v).replace("_", " ")


def effects(a: Any) -> Table:
    """Incremental conversion and revenue per segment."""
    e = a.effects
    cur = a.currency or None
    out = pd.DataFrame(
        {
            "Group": e["group"].map(_label),
            "Contacted": e["treated"],
            "Held out": e["control"],
            "Conversion held out": e["rate_control"],
            "Conversion contacted": e["rate_treated"],
            "Incremental conversion": _iv(e, "incremental_conversion", "pp"),
            "Incremental revenue per customer": _iv(
                e, "incremental_revenue_per_customer", "money", cur
            ),
        }
    )
    return out, {
        "Contacted": "int",
        "Held out": "int",
        "Conversion held out": "share",
        "Conversion contacted": "share",
    }


def methods(a: Any) -> Table:
    """The uplift models on the hold-out: Qini coefficient and AUUC with intervals."""
    m = a.uplift.methods
    out = pd.DataFrame(
        {
            "Model": m["method"].map(METHOD_LABELS),
            "Qini coefficient": _iv(m, "qini", "number"),
            "Area under the uplift curve": _iv(m, "auuc", "number"),
            "Chosen": (m["method"] == a.uplift.best).map({True: "yes", False: ""}),
        }
    )
    return out, {}


def uplift_segments(a: Any) -> Table:
    """Mean predicted uplift per segment on the hold-out, next to the observed one."""
    s = a.uplift.segments
    out = pd.DataFrame(
        {
            "Segment": s["segment"].map(_label),
            "Customers (hold-out)": s["customers"],
            "Predicted uplift": s["predicted_uplift"].map(fmt.pp),
            "Observed uplift": s["observed_uplift"].map(fmt.pp),
        }
    )
    return out, {"Customers (hold-out)": "int"}


def policies(a: Any) -> Table:
    """Profit of each targeting policy on the hold-out, per 1,000 customers."""
    p = a.policies
    cur = a.currency or None
    out = pd.DataFrame(
        {
            "Target by": p["label"],
            "Share contacted": p["share_contacted"],
            "Incremental profit per 1,000 customers": _iv(p, "profit_per_1000", "money", cur),
            "Against contacting everyone": [
                fmt.interval(g, lo, hi, "money", currency=cur)
                for g, lo, hi in zip(p["gain_vs_everyone_per_1000"], p["gain_low"], p["gain_high"])
            ],
        }
    )
    return out, {"Share contacted": "share"}


def offers(a: Any) -> Table:
    """Hit rate, recall and MAP at k per method."""
    o = a.offers[a.offers["k"] == a.k] if (a.offers["k"] == a.k).any() else a.offers
    out = pd.DataFrame(
        {
            "Method": o["label"],
            "Customers": o["customers"],
            f"Hit rate@{a.k}": _iv(o, "hit_rate", "share"),
            f"Recall@{a.k}": _iv(o, "recall", "share"),
            f"MAP@{a.k}": _iv(o, "map", "number"),
        }
    )
    return out, {"Customers": "int"}


def pairs(a: Any, n: int = 15) -> Table:
    """The merchandisers' pair table: items bought by the same customers, by lift."""
    r = a.pairs.head(n)
    out = pd.DataFrame(
        {
            "Item": r["item"].map(_label),
            "Also bought": r["also_bought"].map(_label),
            "Customers buying both": r["customers_both"],
            "Support": r["support"],
            "Confidence": r["confidence"],
            "Confidence (reverse)": r["confidence_reverse"],
            "Lift": r["lift"],
        }
    )
    return out, {
        "Customers buying both": "int",
        "Support": "share",
        "Confidence": "share",
        "Confidence (reverse)": "share",
        "Lift": "{:.2f}",
    }


def send_time(a: Any) -> Table:
    """Held-out hit rates of the recommended hour, the customer's raw history and the population's."""
    s = a.send_time
    names = {
        "model": "Each customer's best hour (shrunk)",
        "own history": "Customer's most frequent hour",
        "population": f"Everyone at {a.population_hour:02d}:00",
    }
    out = pd.DataFrame(
        {
            "Customers with at least": s["min_engagements"].map(
                lambda v: f"{v} open" + ("s" if v != 1 else "")
            ),
            "Send at": s["method"].map(names),
            "Customers": s["customers"],
            "Later opens within an hour": _iv(s, "hit_rate", "share"),
            "Gain over everyone's hour": [
                fmt.interval(g, lo, hi, "pp")
                for g, lo, hi in zip(s["gain_vs_population"], s["gain_low"], s["gain_high"])
            ],
        }
    )
    return out, {"Customers": "int"}


def triggers(a: Any) -> Table:
    """Rate ratio and extra orders per trigger."""
    t = a.triggers
    out = pd.DataFrame(
        {
            "Trigger": t["label"],
            "Customers": t["customers"],
            "Occurrences": t["occurrences"],
            "Orders against usual": _iv(t, "rate_ratio", "ratio"),
            "Extra orders per 100 customers": _iv(t, "extra_orders_per_100", "number", digits=1),
        }
    )
    return out, {"Customers": "int", "Occurrences": "int"}


def trigger_tiers(a: Any) -> Table:
    """Rate ratio per trigger and customer tier (who is moved)."""
    t = a.trigger_tiers[a.trigger_tiers["baseline_orders"] > 0]
    out = pd.DataFrame(
        {
            "Trigger": t["label"],
            "Customers": t["tier"],
            "Occurrences": t["occurrences"],
            "Orders against usual": _iv(t, "rate_ratio", "ratio"),
            "Extra orders per 100": _iv(t, "extra_orders_per_100", "number", digits=1),
        }
    )
    return out, {"Occurrences": "int"}


def inactivity(a: Any) -> Table:
    """The chance to buy within the window after X days without an order."""
    t = a.inactivity
    out = pd.DataFrame(
        {
            "Days without an order": t["threshold_days"].map(
                lambda v: "0 (right after a purchase)" if v == 0 else str(v)
            ),
            "Customers reaching it": t["reached"],
            "Bought within the window": _iv(t, "share", "share"),
            "Against right after a purchase": t["ratio_to_baseline"].map(fmt.ratio),
        }
    )
    return out, {"Customers reaching it": "int"}


def truth_check(a: Any) -> Table:
    t = a.truth_check
    return t.rename(columns={"check": "Check", "planted": "Planted", "found": "Found"}), {}
