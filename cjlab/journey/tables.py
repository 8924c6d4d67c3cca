"""The tables a journey report shows: readable headers and their number formats.

Each function takes a :class:`~cjlab.journey.analysis.JourneyAnalysis` (or one of its tables)
and returns ``(DataFrame, formats)`` for :func:`cjlab.notebook.table`, so a notebook shows a
table in one line: ``rd.table(*tables.funnel(a), caption=...)``. Wide tables are split so each
fits a page: the journey map's volumes and ratings apart from the actions and owners.

Examples
--------
>>> import pandas as pd
>>> df, formats = paths(pd.DataFrame({"path": ["a > b"], "customers": [3], "share": [0.5], "steps": [2]}))
>>> list(df.columns), formats["Share"]
(['Path', 'Customers', 'Share'], 'share')
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cjlab import formatting as fmt

__all__ = [
    "actions",
    "attribution",
    "breakdown",
    "counterfactual",
    "durations",
    "funnel",
    "furthest",
    "journey_map",
    "markov",
    "paths",
    "truth_check",
]

Table = tuple[pd.DataFrame, dict[str, str]]
DAYS = "{:.1f}"


def _label(value: Any) -> Any:
    return value.replace("_", " ") if isinstance(value, str) else value


def _pct(q: str) -> str:
    return f"{q[1:].removesuffix('_days')}th pct. (days)"


def funnel(a: Any) -> Table:
    """Customers, conversion, drop-off and days to each step of the funnel."""
    t = a.funnel.overall
    qs = [c for c in t.columns if c.startswith("p") and c.endswith("_days")]
    df = pd.DataFrame(
        {
            "Stage": t["step"].map(_label),
            "Customers": t["customers"],
            "Of the previous stage": t["step_conversion"],
            "Of entrants": t["overall_conversion"],
            "Lost after": t["dropoff"],
            "Median days": t["median_days"],
            **{_pct(q): t[q] for q in qs if q != "p50_days"},
        }
    )
    return df, {
        "Customers": "int",
        "Of the previous stage": "share",
        "Of entrants": "share",
        "Lost after": "int",
        "Median days": DAYS,
        **{_pct(q): DAYS for q in qs},
    }


def furthest(a: Any) -> Table:
    """Customers by the furthest stage they reached."""
    f = a.furthest
    return (
        pd.DataFrame(
            {
                "Furthest stage": f["stage"].map(_label),
                "Customers": f["customers"],
                "Share": f["share"],
            }
        ),
        {"Customers": "int", "Share": "share"},
    )


def durations(a: Any) -> Table:
    """Days between reaching consecutive stages."""
    d = a.durations
    qs = [c for c in d.columns if c.startswith("p") and c.endswith("_days")]
    df = pd.DataFrame(
        {
            "From": d["from_stage"].map(_label),
            "To": d["to_stage"].map(_label),
            "Customers": d["customers"],
            "Mean days": d["mean_days"],
            **{_pct(q): d[q] for q in qs},
        }
    )
    return df, {"Customers": "int", "Mean days": DAYS, **{_pct(q): DAYS for q in qs}}


def breakdown(a: Any) -> Table:
    """Per breakdown group: customers who entered, the share reaching the last step, median days."""
    fb = a.funnel_breakdown
    t = fb.table
    first, last = t[t["step"] == fb.steps[0]], t[t["step"] == fb.steps[-1]]
    df = pd.DataFrame(
        {
            _label(fb.breakdown).capitalize(): last[fb.breakdown].map(_label).to_numpy(),
            "Entered": first["customers"].to_numpy(),
            f"Reached {_label(fb.steps[-1])}": last["customers"].to_numpy(),
            "Share": last["overall_conversion"].to_numpy(),
            "Median days": last["median_days"].to_numpy(),
        }
    )
    return df, {
        "Entered": "int",
        f"Reached {_label(fb.steps[-1])}": "int",
        "Share": "share",
        "Median days": DAYS,
    }


def paths(top: pd.DataFrame) -> Table:
    """A list of the most common paths (:func:`cjlab.journey.paths.rank_paths`)."""
    return (
        pd.DataFrame(
            {"Path": top["path"].map(_label), "Customers": top["customers"], "Share": top["share"]}
        ),
        {"Customers": "int", "Share": "share"},
    )


#: Attribution models as the report names them (tables, chart legend and headline alike).
MODEL_NAMES = {
    "first": "First touch",
    "last": "Last touch",
    "linear": "Linear",
    "position": "Position",
    "markov": "Markov",
    "noisy_or": "Counterfactual",
}


def attribution(a: Any, models: list[str] | None = None) -> Table:
    """Purchases credited to each channel, one column per model."""
    names = MODEL_NAMES
    t = a.attribution
    cols = [m for m in (models or list(names)) if m in t.columns]
    df = pd.DataFrame(
        {"Channel": t["channel"].map(_label), **{names.get(m, m): t[m] for m in cols}}
    )
    return df, {names.get(m, m): "int" for m in cols}


def _with_interval(df: pd.DataFrame, col: str, unit: str) -> list[str]:
    lo, hi = (
        df[f"{col}_{x}"] if f"{col}_{x}" in df.columns else [None] * len(df)
        for x in ("low", "high")
    )
    return [fmt.interval(v, a, b, unit) for v, a, b in zip(df[col], lo, hi)]


def markov(a: Any) -> Table:
    """Markov chain: removal effects and credited purchases with their intervals (analysts)."""
    m = a.markov
    df = pd.DataFrame(
        {
            "Channel": m["channel"].map(_label),
            "Removal effect": _with_interval(m, "removal_effect", "number"),
            "Purchases credited": _with_interval(m, "conversions", "count"),
            "Share": m["share"],
        }
    )
    return df, {"Share": "share"}


def counterfactual(a: Any) -> Table:
    """Noisy-OR model: chance per touch and purchases lost without the channel (analysts)."""
    c = a.counterfactual
    df = pd.DataFrame(
        {
            "Channel": c["channel"].map(_label),
            "Chance per touch": c["effect"],
            "Purchases lost without it": _with_interval(c, "contribution", "count"),
            "Share": c["share"],
        }
    )
    return df, {"Chance per touch": "share", "Share": "share"}


def journey_map(a: Any) -> Table:
    """The journey map: volume, conversion to the next stage, ratings, NPS and pain points."""
    jm = a.journey_map
    df = pd.DataFrame(
        {
            "Stage": jm["stage"].map(_label),
            "Touchpoint": jm["touchpoint"].map(_label),
            "Customers": jm["customers"],
            "Touches": jm["touches"],
            "Reach the next stage": jm["conversion_next"],
        }
    )
    if a.available("emotion"):
        df["Rating (1–5)"], df["Ratings"], df["NPS (points)"] = (
            jm["rating"],
            jm["rating_n"],
            jm["nps"],
        )
        df["Pain point of low raters"] = jm["pain_point"]
    df["Action planned"] = jm["action"].notna().map({True: "yes", False: ""})
    return df, {
        "Customers": "int",
        "Touches": "int",
        "Reach the next stage": "share",
        "Rating (1–5)": "{:.2f}",
        "Ratings": "int",
        "NPS (points)": "{:.0f}",
    }


def actions(a: Any) -> Table:
    """The actions, owners and due dates of the analysts' action table."""
    act = (
        a.actions
        if a.actions is not None
        else pd.DataFrame(columns=["stage", "touchpoint", "action", "owner", "due"])
    )
    df = pd.DataFrame(
        {
            "Stage": act["stage"].map(_label),
            "Touchpoint": act["touchpoint"].map(lambda v: _label(v) if v else "whole stage"),
            "Action": act["action"],
            "Owner": act["owner"],
            "Due": act["due"],
        }
    )
    return df, {}


def truth_check(a: Any) -> Table:
    """Demo data: the planted journey truth against what the analysis found (analysts)."""
    t = a.truth_check
    return (
        pd.DataFrame(
            {
                "Check": t["check"],
                "Planted": t["planted"],
                "Found": t["found"],
                "Agrees": t["agrees"],
            }
        ),
        {},
    )
