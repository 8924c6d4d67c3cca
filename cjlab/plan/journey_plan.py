"""The final journey plan: the chosen actions, the test that confirms each, the next review.

:func:`tests_table` sizes the A/B test of every action (:func:`cjlab.plan.decisions.sample_size`,
closed form) at its break-even effect — the smallest effect that pays for it — and says how many
days of the target's traffic that takes; for the action most worth testing first,
:func:`bayesian_plan` also simulates the Bayesian test of :mod:`cjlab.ab.planning` with daily
looks (power and days to a decision). :func:`final_plan` gives every action a status:

* ``go`` — it pays in at least 90 % of the draws: roll out, with a holdout to confirm;
* ``test first`` — it may or may not pay: test before rolling out;
* ``pilot first`` — it may or may not pay, and an A/B test would need more traffic than there
  is: roll it out step by step (a region, a share of customers) and watch its KPI;
* ``weigh the NPS gain`` — it does not pay in money, but it raises NPS;
* ``drop`` — it pays in at most 10 % of the draws;
* ``alternative`` — a tree's branch that is not its best sequence.

:func:`next_review` is the monitoring date ``monitor_months`` (3 to 5) after the analysis day;
:func:`plan_markdown` writes the plan for stakeholders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.data.contract import STAGES
from cjlab.plan.decisions import sample_size
from cjlab.plan.interventions import PainRelief, SpendShift, Transition, ValueChange

__all__ = ["STATUSES", "bayesian_plan", "final_plan", "next_review", "plan_markdown", "tests_table"]

STATUSES = ("go", "test first", "pilot first", "weigh the NPS gain", "drop", "alternative")
GO, DROP = 0.9, 0.1


def next_review(as_of: str, months: int) -> str:
    """The monitoring date ``months`` after ``as_of`` (ISO); ``months`` must be 3 to 5."""
    if not 3 <= int(months) <= 5:
        raise ValueError(
            f"monitor_months must be 3, 4 or 5 (a review every 3-5 months), got {months}"
        )
    return fmt.date(pd.Timestamp(as_of) + pd.DateOffset(months=int(months)))


def _step_rate(sim, iv: Transition) -> tuple[float, np.ndarray]:
    r = sim.reached_
    rows = [sim.data_.code(iv.category)] if iv.category else slice(None)
    at, on = r[rows, iv.step].sum(), r[rows, iv.step + 1].sum()
    return (on / at if at else np.nan), rows


def _transition_test(sim, iv: Transition, be: float, cohort, horizon_days: float) -> dict:
    p0, _ = _step_rate(sim, iv)
    ok = cohort.reached >= iv.step
    if iv.category:
        ok &= cohort.category == cohort.code(iv.category)
    per_day = ok.sum() / horizon_days
    n = sample_size(p0, min(p0 + be, 0.999))["n_per_arm"]
    nxt = STAGES[iv.step + 1]
    who = f" ({iv.category})" if iv.category else ""
    return {
        "metric": f"step {iv.stage} → {nxt}{who}",
        "baseline": p0,
        "unit": "share",
        "n_per_arm": n,
        "per_day": per_day,
        "days": 2 * n / per_day if per_day else np.nan,
    }


def _value_test(customers: pd.DataFrame, iv, be: float, share: float = 1.0) -> dict:
    ok = np.ones(len(customers), bool)
    if iv.stage:
        ok &= customers["stage_index"].to_numpy() >= STAGES.index(iv.stage)
    x = customers.loc[ok, "clv"].to_numpy(float)
    n_avail = ok.sum() * share
    n = (
        sample_size(0, mean=x.mean(), sd=x.std(), delta=be * x.mean())["n_per_arm"]
        if len(x)
        else np.nan
    )
    return {
        "metric": f"12-month value of customers past {iv.stage or 'the purchase'}",
        "baseline": float(x.mean()) if len(x) else np.nan,
        "unit": "money",
        "n_per_arm": n,
        "per_day": np.nan,
        "days": np.nan,
        "available": n_avail,
    }


def tests_table(
    evaluation: pd.DataFrame,
    ivs: Mapping[str, Any],
    sim,
    cohort,
    customers: pd.DataFrame | None,
    horizon_days: float,
    max_test_days: float = 90.0,
) -> pd.DataFrame:
    """Per action: the test's metric and its baseline, the customers per arm (closed form) at
    the break-even effect, the days of target traffic it needs, and whether it is feasible (at
    most ``max_test_days`` of traffic, or twice the customers per arm available)."""
    rows = []
    for r in evaluation.itertuples(index=False):
        iv, be = ivs[r.id], r.break_even
        row = {
            "id": r.id,
            "metric": None,
            "baseline": np.nan,
            "unit": None,
            "n_per_arm": np.nan,
            "per_day": np.nan,
            "days": np.nan,
            "available": np.nan,
        }
        lo, hi = _decision_range(iv)
        testable = np.isfinite(be) and lo < be < hi
        if isinstance(iv, Transition) and testable:
            row |= _transition_test(sim, iv, be, cohort, horizon_days)
        elif isinstance(iv, ValueChange) and testable and customers is not None:
            row |= _value_test(customers, iv, be)
        elif isinstance(iv, PainRelief) and testable and customers is not None:
            prev = float(np.mean(sim.pains_[iv.theme]["prevalence"]))
            row |= _value_test(customers, ValueChange(stage=iv.stage), be, share=prev)
            row["metric"] = f"12-month value of customers with the {iv.theme} pain"
        elif isinstance(iv, SpendShift):
            row["metric"] = "cost per new prospect on both channels"
        n2 = 2 * row["n_per_arm"]
        row["feasible"] = (
            bool(
                row["days"] <= max_test_days if np.isfinite(row["days"]) else n2 <= row["available"]
            )
            if np.isfinite(n2)
            else None
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _decision_range(iv) -> tuple[float, float]:
    if isinstance(iv, PainRelief):
        return iv.low * iv.value_effect[0], iv.high * iv.value_effect[1]
    return iv.low, iv.high


def bayesian_plan(
    test: Mapping[str, Any], max_days: int = 90, n_sims: int = 60, random_state: int = 0
) -> dict[str, float] | None:
    """The Bayesian A/B test of :func:`cjlab.ab.planning.simulate_plan` (daily looks, the
    analysis' decision rule) for a step-rate test: power and median days to a decision."""
    try:
        p0, be, per_day = (float(test.get(k)) for k in ("baseline", "break_even", "per_day"))
    except (TypeError, ValueError):
        return None
    if test.get("unit") != "share" or not np.isfinite([p0, be, per_day]).all() or per_day < 2:
        return None
    from cjlab.ab.planning import simulate_plan

    plan = simulate_plan(
        float(p0),
        float(be / p0),
        users_per_day=int(per_day),
        max_days=max_days,
        n_sims=n_sims,
        random_state=random_state,
    )
    s = plan.summary
    return {
        "power": s["power"],
        "false_positive_rate": s["false_positive_rate"],
        "days_to_decision": s["days_to_decision_median"],
        "max_days": max_days,
    }


def _status(r, has_value: bool) -> str:
    if not has_value:
        return "go" if r.buyers_low > 0 else "test first"
    if r.p_pays >= GO:
        return "go"
    if r.p_pays <= DROP:
        return "weigh the NPS gain" if r.nps_low > 0 else "drop"
    return "test first"


def final_plan(
    actions: pd.DataFrame,
    evaluation: pd.DataFrame,
    trees: pd.DataFrame,
    tests: pd.DataFrame,
    review: str,
    has_value: bool,
) -> pd.DataFrame:
    """One row per simulated action: status, what it targets, owner, due, expected impact and
    the test that confirms it; chosen actions first (``chosen``)."""
    t = actions.merge(evaluation, on=["id", "kind"]).merge(tests, on="id", how="left")
    t["status"] = [_status(r, has_value) for r in t.itertuples(index=False)]
    untestable = (t["status"] == "test first") & ~t["feasible"].map(lambda v: v is True)
    t.loc[untestable, "status"] = "pilot first"
    key = "net_value" if has_value else "buyers"
    for _, g in trees.groupby("tree", sort=False) if trees is not None and not trees.empty else ():
        best = g.loc[g["best"]].iloc[0]
        if best[key] > 0:  # a tree that pays: its other branches are alternatives not taken
            other = {a for leaf in g["actions"] for a in leaf} - set(best["actions"])
            alt = t["id"].isin(other) & t["status"].isin(["go", "test first", "pilot first"])
            t.loc[alt, "status"] = "alternative"
    t["chosen"] = t["status"].isin(["go", "test first", "pilot first"])
    t["review"] = review
    t["product"] = t["product"].fillna("all products")
    t["category"] = t["category"].fillna("all customers")
    order = {s: i for i, s in enumerate(STATUSES)}
    t = t.assign(_o=t["status"].map(order), _v=-t[key]).sort_values(["_o", "_v"])
    t = t.drop(columns=["_o", "_v"]).reset_index(drop=True)
    t["confirm"] = [_test_text(r) for r in t.itertuples(index=False)]
    return t


def _test_text(r) -> str:
    """How the action is confirmed: the analysts' text, then the test size (or why none)."""
    own = f"{r.test}. " if isinstance(r.test, str) and r.test else ""
    if not isinstance(r.metric, str):
        return own + "No test needed: the decision is the same whatever the effect in its range."
    if not np.isfinite(r.n_per_arm):
        return own + f"Monitor {r.metric}."
    size = f"{fmt.count(np.ceil(r.n_per_arm))} customers per arm"
    if not r.feasible:
        return own + (
            f"An A/B test on {r.metric} would need {size} — more than the traffic allows: "
            "roll out step by step and watch the KPI."
        )
    days = f" (about {fmt.count(np.ceil(r.days))} days of traffic)" if np.isfinite(r.days) else ""
    return own + f"A/B test on {r.metric}: {size}{days}."


def plan_markdown(
    plan: pd.DataFrame,
    *,
    title: str,
    as_of: str,
    review: str,
    currency: str,
    level: float,
    has_value: bool,
) -> str:
    """The plan as a Markdown document for stakeholders (chosen actions, then the others)."""
    lines = [
        f"# {title}",
        "",
        f"Analysis day {as_of}; next review {review}. Expected effects over "
        f"the next 12 months with {fmt.share(level)} intervals.",
        "",
    ]
    for chosen, head in ((True, "Chosen actions"), (False, "Not chosen")):
        part = plan[plan["chosen"] == chosen]
        if part.empty:
            continue
        lines += [f"## {head}", ""]
        for r in part.itertuples(index=False):
            impact = (
                f"net value {fmt.interval(r.net_value, r.net_value_low, r.net_value_high, 'money', currency=currency)}"
                if has_value
                else f"new buyers {fmt.interval(r.buyers, r.buyers_low, r.buyers_high, 'count')}"
            )
            lines += [
                f"### {r.action or r.id} ({r.status})",
                "",
                f"- Where: {r.stage}{' / ' + r.touchpoint if r.touchpoint else ''}; "
                f"{r.product}; {r.category}",
                f"- Owner: {r.owner or '–'}; due {r.due or '–'}",
                f"- Expected: {impact}; orders {fmt.interval(r.orders, r.orders_low, r.orders_high, 'count')}"
                + (
                    f"; NPS {fmt.interval(r.nps, r.nps_low, r.nps_high, 'points')}" if r.nps else ""
                ),
                f"- Confirmed by: {r.confirm}",
                "",
            ]
    return "\n".join(lines)
