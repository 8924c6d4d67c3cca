"""Which actions to take, which to test first, and how big the test must be.

For every simulated action (:func:`evaluate_actions`) the simulator draws its 12-month change
in purchases, revenue and NPS on the cohort of the next year; the net value of a draw is
``margin × revenue change − cost``. From the draws:

* the expected net value and the chance that the action pays (``p_pays``);
* the **expected value of testing it first** (:func:`value_of_testing`): the expected value of
  learning the action's true effect before deciding, ``E[max(E[NV | effect], 0)] −
  max(E[NV], 0)`` — large where the assumed range straddles the break-even, zero where the
  decision is the same whatever the effect. ``E[NV | effect]`` is the least-squares line of
  the draws' net values on their drawn effects (the regression estimator of the expected value
  of partial perfect information; the net value is linear in the effect here);
* the **break-even effect** (where that line crosses zero) and the **sample size** an A/B test
  needs to tell it from no effect (:func:`sample_size`, the closed form for two proportions or
  two means at a two-sided 5 % level and 80 % power), with the days the target's traffic needs.

Action trees (:func:`evaluate_trees`) simulate each sequence of actions a tree allows with all
its interventions applied together (the same random numbers for every leaf).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> effect = rng.uniform(-1, 1, 20000)
>>> nv = 100 * effect + rng.normal(0, 5, 20000)  # E[NV] = 0: testing first is worth E[max(100 e, 0)] = 25
>>> round(value_of_testing(nv, effect)["value_of_testing"])
25
>>> round(sample_size(0.10, 0.12)["n_per_arm"])
3841
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cjlab.plan.actions import ActionPlan, ActionTree
from cjlab.plan.interventions import PainRelief, SpendShift, Transition, ValueChange
from cjlab.plan.journeys import JourneyData, day_of
from cjlab.plan.simulator import JourneySimulator, WhatIf

__all__ = [
    "due_day",
    "evaluate_actions",
    "evaluate_trees",
    "intervention",
    "sample_size",
    "value_of_testing",
]

ALPHA, POWER = 0.05, 0.8


def due_day(due: str | None, as_of) -> float:
    """The day an action is live: a date, or the last day of a quarter (``2026-Q2``); the
    analysis day when empty or unreadable (days since 1970-01-01)."""
    start = day_of(as_of) + 1.0
    if not due:
        return start
    text = str(due).strip().upper()
    try:
        if "-Q" in text:
            year, q = text.split("-Q")
            ts = pd.Period(f"{int(year)}Q{int(q)}", freq="Q").end_time.normalize()
        else:
            ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return start
    return max(start, day_of(ts) + 1.0)


def intervention(
    row: Mapping[str, Any],
    data: JourneyData,
    pain_keys: Sequence[str],
    cost_per_prospect: Mapping[str, float],
    as_of,
) -> tuple[Any, str | None]:
    """The simulator's intervention for one action row (:func:`cjlab.plan.actions.action_plan`),
    or (None, the sentence saying why it cannot be simulated)."""
    start, label = due_day(row.get("due"), as_of), str(row["id"])
    eff = (row["effect_low"], row["effect_high"])
    cat = row.get("category")
    if cat and cat not in data.categories:
        return None, (
            f"{label}: category {cat!r} is not a value of the plan's category "
            f"({', '.join(data.categories)})"
        )
    kind = row["kind"]
    if kind == "transition":
        return Transition(
            stage=row["stage"], effect=eff, category=cat, start=start, label=label
        ), None
    if kind == "value":
        return ValueChange(
            effect=eff, stage=row["stage"], category=cat, start=start, label=label
        ), None
    if kind == "spend_shift":
        missing = [c for c in (row["source"], row["target"]) if c not in data.channels]
        if missing:
            return None, f"{label}: no customer's first touch was on {', '.join(missing)}"
        return SpendShift(
            source=row["source"],
            target=row["target"],
            effect=eff,
            start=start,
            cost_per_prospect=cost_per_prospect,
            label=label,
        ), None
    key = _pain_key(row, pain_keys)
    if key is None:
        where = row.get("pain") or row.get("touchpoint") or row["stage"]
        why = (
            "no survey comments to find it in"
            if not pain_keys
            else f"the pain points are {', '.join(pain_keys)}"
        )
        return None, f"{label}: there is no pain point at {where} ({why})"
    value = (row.get("value_low") or 0.0, row.get("value_high") or 0.0)
    return PainRelief(
        theme=key, effect=eff, value_effect=value, stage=row["stage"], start=start, label=label
    ), None


def _pain_key(row: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    want = row.get("pain") or row.get("touchpoint")
    for k in keys:
        if want and (k == want or str(want).startswith(k + "_") or str(k).startswith(str(want))):
            return k
    return None


def value_of_testing(net: np.ndarray, effect: np.ndarray) -> dict[str, float]:
    """Expected value of learning the effect before deciding, and the break-even effect.

    Parameters
    ----------
    net : net value draws.
    effect : the effect drawn with each (the decision parameter a test would reveal).

    Returns
    -------
    dict with expected (E[NV]), value_of_testing, break_even (effect where E[NV | effect] = 0;
    NaN when NV does not depend on it), slope.
    """
    net, effect = np.asarray(net, float), np.asarray(effect, float)
    expected = float(net.mean())
    if np.ptp(effect) <= 0:
        return {"expected": expected, "value_of_testing": 0.0, "break_even": np.nan, "slope": 0.0}
    slope, icpt = np.polyfit(effect, net, 1)
    fitted = icpt + slope * effect
    voi = float(np.maximum(fitted, 0).mean() - max(fitted.mean(), 0.0))
    be = float(-icpt / slope) if slope else np.nan
    return {
        "expected": expected,
        "value_of_testing": max(voi, 0.0),
        "break_even": be,
        "slope": float(slope),
    }


def sample_size(
    p0: float,
    p1: float | None = None,
    *,
    mean: float | None = None,
    sd: float | None = None,
    delta: float | None = None,
) -> dict[str, float]:
    """Per-arm sample size of a two-sided test at 5 % with 80 % power (closed form).

    Two proportions ``p0`` -> ``p1``; or, with ``mean``/``sd``/``delta``, two means differing by
    ``delta`` (equal variances). Returns n_per_arm (NaN when the difference is zero)."""
    za, zb = stats.norm.ppf(1 - ALPHA / 2), stats.norm.ppf(POWER)
    if mean is not None:
        if not delta or not sd:
            return {"n_per_arm": np.nan}
        return {"n_per_arm": float(2 * (za + zb) ** 2 * sd**2 / delta**2)}
    if p1 is None or p1 == p0 or not (0 < p0 < 1 and 0 < p1 < 1):
        return {"n_per_arm": np.nan}
    pbar = (p0 + p1) / 2
    num = za * np.sqrt(2 * pbar * (1 - pbar)) + zb * np.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return {"n_per_arm": float(num**2 / (p1 - p0) ** 2)}


def _decision_parameter(w: WhatIf, iv) -> np.ndarray:
    if isinstance(iv, PainRelief) and iv.value_effect != (0.0, 0.0):
        return w.draws["effect_0"].to_numpy() * w.draws["value_0"].to_numpy()
    return w.draws["effect_0"].to_numpy()


def _summary(w: WhatIf, margin: float, cost: float, has_value: bool) -> dict[str, float]:
    out = {}
    for m in ("buyers", "orders", "revenue", "nps"):
        lo, hi = w.interval(m)
        out |= {m: w.mean(m), f"{m}_low": lo, f"{m}_high": hi}
    nv = w.net_value(margin, cost) if has_value else np.full(len(w.draws), np.nan)
    lo, hi = np.quantile(nv, [(1 - w.level) / 2, (1 + w.level) / 2]) if has_value else (np.nan,) * 2
    return out | {
        "net_value": float(nv.mean()),
        "net_value_low": float(lo),
        "net_value_high": float(hi),
        "p_pays": float((nv > 0).mean()) if has_value else np.nan,
    }


def evaluate_actions(
    sim: JourneySimulator,
    plan: ActionPlan,
    population: JourneyData,
    *,
    margin: float,
    as_of,
    n_draws: int | None = None,
) -> tuple[pd.DataFrame, dict, list[str]]:
    """Simulate every action of ``plan`` on ``population`` (the next year's cohort).

    Returns
    -------
    (DataFrame one row per simulated action: id, kind, buyers/orders/revenue/nps with
    ``_low``/``_high``, net_value with its interval, p_pays, value_of_testing, break_even, slope;
    id -> intervention; sentences about actions that could not be simulated)
    """
    has_value = sim.value_ is not None
    rows, ivs, notes = [], {}, []
    for row in plan.simulated.to_dict("records"):
        iv, why = intervention(row, sim.data_, list(sim.pains_), plan.cost_per_prospect, as_of)
        if isinstance(iv, ValueChange) and sim.customers_ is None:
            iv, why = None, f"{row['id']}: a change of customers' value needs the orders table"
        if iv is None:
            notes.append(why)
            continue
        ivs[row["id"]] = iv
        w = sim.what_if([iv], population, n_draws=n_draws)
        res = _summary(w, margin, row["cost"], has_value)
        voi = (
            value_of_testing(w.net_value(margin, row["cost"]), _decision_parameter(w, iv))
            if has_value
            else {"value_of_testing": np.nan, "break_even": np.nan, "slope": np.nan}
        )
        rows.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                **res,
                **{k: voi[k] for k in ("value_of_testing", "break_even", "slope")},
            }
        )
    return pd.DataFrame(rows), ivs, notes


def evaluate_trees(
    sim: JourneySimulator,
    trees: Sequence[ActionTree],
    ivs: Mapping[str, Any],
    costs: Mapping[str, float],
    population: JourneyData,
    *,
    margin: float,
    n_draws: int | None = None,
) -> pd.DataFrame:
    """Every leaf (sequence) of every tree: the interventions applied together.

    Returns
    -------
    DataFrame tree, leaf (ids joined by " → "), actions (tuple), steps, buyers, orders, revenue,
    nps (with intervals), cost, net_value (with interval), p_pays, best (the tree's best leaf).
    """
    has_value = sim.value_ is not None
    rows = []
    for tree in trees:
        for leaf in tree.leaves():
            if any(a not in ivs for a in leaf):
                continue
            w = sim.what_if([ivs[a] for a in leaf], population, n_draws=n_draws)
            cost = float(sum(costs.get(a, 0.0) for a in leaf))
            rows.append(
                {
                    "tree": tree.name,
                    "leaf": " → ".join(leaf),
                    "actions": leaf,
                    "steps": len(leaf),
                    "cost": cost,
                    **_summary(w, margin, cost, has_value),
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    key = "net_value" if has_value else "buyers"
    out["best"] = out[key] == out.groupby("tree")[key].transform("max")
    return out
