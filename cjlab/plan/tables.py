"""The tables a journey-plan report shows: readable headers, figures with their intervals.

Each function takes a :class:`~cjlab.plan.results.PlanAnalysis` and returns ``(DataFrame,
formats)`` for :func:`cjlab.notebook.table` (``rd.table(*tables.plan(a), caption=...)``). Figures
with an interval are written as one text cell (``EUR 4,100 (EUR 1,700 to EUR 7,300)``), so wide
tables stay narrow; the plan is split into what is done (who, where, when) and what it brings.
:func:`plan_export` is the plan with plain numbers for the CSV file.

Examples
--------
>>> iv("buyers", pd.Series({"buyers": 12.0, "buyers_low": 5.0, "buyers_high": 20.0}), "count", "")
'12 (5 to 20)'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.data.contract import STAGES

__all__ = [
    "actions",
    "bayes_note",
    "iv",
    "nb",
    "pain_costs",
    "pain_points",
    "plan",
    "plan_export",
    "plan_impact",
    "questions",
    "swot",
    "tests",
    "transitions",
    "trees",
    "truth_check",
    "value_curve",
]

Table = tuple[pd.DataFrame, dict[str, str]]


def _label(v: Any) -> Any:
    return v.replace("_", " ") if isinstance(v, str) else v


def nb(text: str) -> str:
    """Keep a figure and its unit on one line (``86.3 %``, ``EUR 1,825``) in narrow cells."""
    out = str(text)
    for unit in (" %", " pp", " points"):
        out = out.replace(unit, "\u00a0" + unit[1:])
    for cur in ("EUR", "USD", "GBP", "CHF"):
        out = out.replace(f"{cur} ", f"{cur}\u00a0")
    return out


def iv(col: str, r: Any, unit: str, currency: str) -> str:
    """``r[col]`` with its ``_low``/``_high`` interval, formatted in ``unit``."""
    get = r.get if hasattr(r, "get") else lambda k: getattr(r, k)
    text = fmt.interval(
        get(col), get(f"{col}_low"), get(f"{col}_high"), unit, currency=currency or None
    )
    return nb(text)


def bayes_note(a) -> str | None:
    """The Bayesian test plan of the action most worth testing, in words (None: none)."""
    b = a.bayes
    if not b:
        return None
    return (
        f"Bayesian test plan for {b['id'].replace('_', ' ')} (the A/B analysis' decision rule with "
        f"daily looks, simulated): it decides within {b['max_days']} days in "
        f"{fmt.share(b['power'])} of the runs where the effect just pays (median "
        f"{fmt.days(b['days_to_decision'])}), but also ships a change without any effect in "
        f"{fmt.share(b['false_positive_rate'])} of the runs — on this little traffic it decides "
        "fast, not reliably; the closed-form size in the table keeps false positives at 5 %."
    )


def pain_points(a) -> Table:
    """Pain points by priority: where, what customers say, priority with its interval."""
    t = a.pain_points
    df = pd.DataFrame(
        {
            "Rank": t["rank"],
            "Stage": t["stage"].map(_label),
            "Touchpoint": t["touchpoint"].map(_label),
            "What customers say (themes)": t["themes"],
            "Share of comments": t["prevalence"],
            "Priority (0-100)": [
                fmt.interval(r.priority, r.priority_low, r.priority_high, "score")
                for r in t.itertuples(index=False)
            ],
            "Same rank when resampled": t["rank_stability"],
        }
    )
    return df, {"Share of comments": "share", "Same rank when resampled": "share"}


def pain_costs(a) -> Table:
    """What each pain point costs: NPS gap, importance for NPS, drop-off, customers and revenue."""
    t = a.pain_points
    df = pd.DataFrame(
        {
            "Touchpoint": t["touchpoint"].map(_label),
            "NPS gap (points)": t["nps_gap"],
            "NPS points at stake": t["nps_at_stake"],
            "Importance for NPS": t["importance"],
            "Lost after the touchpoint": t["dropoff"],
            "Customers affected": t["customers_affected"].round(0),
            "Revenue affected (12 months)": [
                nb(fmt.money(v, a.currency)) for v in t["revenue_affected"]
            ],
        }
    )
    return df, {
        "Importance for NPS": "share",
        "Lost after the touchpoint": "share",
        "Customers affected": "int",
        "NPS gap (points)": "{:.1f}",
        "NPS points at stake": "{:.1f}",
    }


def swot(a) -> Table:
    """Strengths, weaknesses, opportunities and threats per stage."""
    df = a.swot.rename(columns=str.capitalize)
    df["Stage"] = df["Stage"].map(_label)
    return df, {}


def questions(a) -> Table:
    """The what-if answers over the plan's horizon."""
    q = a.questions
    rows = [
        {
            "Question": r.question,
            "New buyers": iv("buyers", r, "count", a.currency),
            "Purchases": iv("orders", r, "count", a.currency),
            "Revenue": iv("revenue", r, "money", a.currency) if a.has_value else "–",
            "NPS (points)": iv("nps", r, "points", a.currency) if r.nps else "–",
        }
        for r in q.itertuples(index=False)
    ]
    return pd.DataFrame(rows), {}


def actions(a) -> Table:
    """Every simulated action: status, impact, chance it pays and the value of testing it first."""
    t = a.actions
    rows = [
        {
            "Action": r.action or r.id,
            "Stage": _label(r.stage),
            "Status": r.status,
            "Purchases": iv("orders" if a.has_value else "buyers", r, "count", a.currency),
            "Net value": iv("net_value", r, "money", a.currency) if a.has_value else "–",
            "Chance it pays": r.p_pays,
            "Value of testing first": nb(fmt.money(r.value_of_testing, a.currency))
            if a.has_value
            else "–",
        }
        for r in t.itertuples(index=False)
    ]
    return pd.DataFrame(rows), {"Chance it pays": "share"}


def tests(a) -> Table:
    """The A/B test of each action: metric now, break-even effect, size and duration."""
    t = a.actions
    rows = []
    for r in t.itertuples(index=False):
        if not isinstance(r.metric, str):
            continue
        unit = r.unit or "number"
        be = fmt.pp(r.break_even) if unit == "share" else fmt.share(r.break_even)
        rows.append(
            {
                "Action": r.action or r.id,
                "Test metric": r.metric,
                "Now": nb(fmt.number(r.baseline, unit, a.currency or None)),
                "Smallest effect that pays": nb(be) if np.isfinite(r.break_even) else "–",
                "Customers per arm": fmt.count(np.ceil(r.n_per_arm))
                if np.isfinite(r.n_per_arm)
                else "–",
                "Days of traffic": fmt.count(np.ceil(r.days)) if np.isfinite(r.days) else "–",
                "Feasible": "–"
                if r.feasible is None or r.feasible != r.feasible
                else bool(r.feasible),
            }
        )
    return pd.DataFrame(rows), {}


def trees(a) -> Table:
    """Each sequence an action tree allows, with its 12-month impact."""
    t = a.trees
    rows = [
        {
            "Tree": r.tree,
            "Sequence": r.leaf.replace("_", " "),
            "Purchases": iv("orders" if a.has_value else "buyers", r, "count", a.currency),
            "Revenue": iv("revenue", r, "money", a.currency) if a.has_value else "–",
            "Cost": nb(fmt.money(r.cost, a.currency)),
            "Net value": iv("net_value", r, "money", a.currency) if a.has_value else "–",
            "Best of its tree": bool(r.best),
        }
        for r in t.itertuples(index=False)
    ]
    return pd.DataFrame(rows), {}


def _where(r) -> str:
    return _label(r.stage) + (f" / {_label(r.touchpoint)}" if r.touchpoint else "")


def plan(a) -> Table:
    """The plan: the chosen actions first — what, where (stage, product, customers), who, when."""
    rows = [
        {
            "Status": r.status,
            "Action": r.action or r.id,
            "Stage / touchpoint": _where(r),
            "Product": _label(r.product),
            "Customers": _label(r.category),
            "Owner": r.owner or "–",
            "Due": r.due or "–",
        }
        for r in a.actions.itertuples(index=False)
    ]
    return pd.DataFrame(rows), {}


def plan_impact(a) -> Table:
    """What each action of the plan is expected to bring, and the test that confirms it."""
    rows = [
        {
            "Action": r.action or r.id,
            "Purchases": iv("orders" if a.has_value else "buyers", r, "count", a.currency),
            "Net value": iv("net_value", r, "money", a.currency) if a.has_value else "–",
            "NPS (points)": iv("nps", r, "points", a.currency) if r.nps else "–",
            "Confirmed by": r.confirm,
        }
        for r in a.actions.itertuples(index=False)
    ]
    return pd.DataFrame(rows), {}


def plan_export(a) -> pd.DataFrame:
    """The plan for the CSV file: one row per action, plain numbers, the review date."""
    cols = {
        "id": "action_id",
        "action": "action",
        "status": "status",
        "stage": "stage",
        "touchpoint": "touchpoint",
        "product": "product",
        "category": "customers",
        "owner": "owner",
        "due": "due",
        "buyers": "new_buyers",
        "buyers_low": "new_buyers_low",
        "buyers_high": "new_buyers_high",
        "orders": "purchases",
        "orders_low": "purchases_low",
        "orders_high": "purchases_high",
        "revenue": "revenue",
        "revenue_low": "revenue_low",
        "revenue_high": "revenue_high",
        "cost": "cost",
        "net_value": "net_value",
        "net_value_low": "net_value_low",
        "net_value_high": "net_value_high",
        "nps": "nps_points",
        "p_pays": "chance_it_pays",
        "value_of_testing": "value_of_testing_first",
        "metric": "test_metric",
        "baseline": "test_metric_now",
        "n_per_arm": "customers_per_arm",
        "days": "test_days",
        "confirm": "confirmed_by",
        "review": "next_review",
    }
    t = a.actions[[c for c in cols if c in a.actions.columns]].rename(columns=cols)
    return t.round(4)


def transitions(a) -> Table:
    """The simulator's step rates per category with their posterior intervals (analysts)."""
    t = a.simulator.transitions_
    df = pd.DataFrame(
        {
            "Category": t["category"].map(_label),
            "Step": [f"{_label(s)} → {_label(n)}" for s, n in zip(t["stage"], t["next"])],
            "Reached": t["reached"],
            "Moved on": t["moved_on"],
            "Rate": [
                fmt.interval(r.rate, r.low, r.high, "share") for r in t.itertuples(index=False)
            ],
        }
    )
    return df, {"Reached": "int", "Moved on": "int"}


def value_curve(a, days: float = 365.0) -> Table:
    """What a new buyer brought in the first ``days`` days, per category (analysts)."""
    sim = a.simulator
    if sim.value_ is None:
        return pd.DataFrame(), {}
    rows = []
    for k, name in enumerate(sim.data_.categories):
        o, r = sim.value_.mean(k, days)
        n = int((sim.data_.bought & (sim.data_.category == k)).sum())
        rows.append(
            {
                "Category": _label(name),
                "Buyers": n,
                "Purchases in the first year": round(o, 2),
                "Revenue in the first year": nb(fmt.money(r, a.currency)),
            }
        )
    return pd.DataFrame(rows), {"Buyers": "int"}


def truth_check(a) -> Table:
    """Planted vs found on the demo company."""
    return a.truth_check.rename(columns=str.capitalize), {}


def stage_order(stage: str) -> int:
    """Lifecycle position of a stage (unknown last)."""
    return STAGES.index(stage) if stage in STAGES else len(STAGES)
