"""The journey plan of notebooks/07_journey_plan.ipynb: :func:`analyse` and :func:`from_source`.

:func:`analyse` takes the contract tables and the parsed action file and returns a
:class:`~cjlab.plan.results.PlanAnalysis`: pain points with priorities and the workshop summary
per stage, the journey simulator fitted to the data and its answers to the what-if questions,
every action simulated over the next 12 months, the action trees, the tests, the final plan and
the next review date. Sections whose data are absent are listed in ``skipped``:

==============  ==============================================================
section         needs
==============  ==============================================================
``pain_points``  survey_responses with comments and NPS (ratings place them)
``value``        the orders table (revenue and net value; else purchases only)
``actions``      an action file with effects (params/journey_actions.yaml)
``trees``        trees in the action file
``demo_check``   the demo company's planted truth
==============  ==============================================================

Examples
--------
>>> from cjlab.data import open_source
>>> a = from_source("demo:n_customers=3000,seed=11", n_draws=100, n_boot=20)  # doctest: +SKIP
>>> a.headline().title  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features import stage_funnel
from cjlab.features.sequences import latest
from cjlab.plan import steps
from cjlab.plan.actions import ActionPlan, action_plan
from cjlab.plan.decisions import evaluate_actions, evaluate_trees
from cjlab.plan.journey_plan import bayesian_plan, final_plan, next_review, tests_table
from cjlab.plan.journeys import cohort
from cjlab.plan.results import PlanAnalysis
from cjlab.plan.simulator import JourneySimulator
from cjlab.plan.swot import category_gaps, rating_trends, swot
from cjlab.results import NotApplicable

__all__ = ["PlanOptions", "analyse", "from_source"]

#: the issue's three what-if questions, in the action file's terms (params/07_journey_plan.yaml)
QUESTIONS = (
    {"kind": "transition", "stage": "comparison", "category": "mobile", "low": 0.03, "high": 0.06},
    {"kind": "pain", "pain": "delivery", "low": 0.5, "high": 0.5},
    {"kind": "spend_shift", "source": "paid_search", "target": "email", "low": 0.1, "high": 0.1},
)


@dataclass(frozen=True)
class PlanOptions:
    """The parameters of :func:`analyse`, named as the notebook's parameters.

    Parameters
    ----------
    as_of : analysis day; empty = the demo's observation end or the last touch.
    category : customer category of the simulator: a touch column read at the first touch
        (``device``, ``campaign``), ``channel`` (first-touch channel) or a customers column.
    exclude_touchpoints : passive touches that do not move a journey on.
    questions : what-if questions in the action file's syntax (kind, stage, category, low,
        high, pain, source, target); empty = none.
    horizon_months : months of the plan (the cohort of new journeys and the value horizon).
    margin : share of revenue that is profit (net value = margin × revenue − cost).
    n_draws, level : simulation draws per what-if and interval mass.
    n_themes, n_boot, priority_weights : comment themes (0 = one per 10 comments, at most 10),
        bootstrap resamples of the pain-point priorities and the weights of their parts.
    monitor_months : months to the next review (3 to 5).
    max_test_days : an A/B test that needs more days of the target's traffic is not feasible.
    currency : currency of the money figures.
    random_state : seed of every draw.
    """

    as_of: Any = None
    category: str = "device"
    exclude_touchpoints: Sequence[str] = ("newsletter_open",)
    questions: Sequence[Mapping[str, Any]] = QUESTIONS
    horizon_months: int = 12
    margin: float = 0.3
    n_draws: int = 1000
    level: float = 0.9
    n_themes: int = 0
    n_boot: int = 200
    priority_weights: Mapping[str, float] = field(default_factory=dict)
    monitor_months: int = 4
    max_test_days: int = 90
    currency: str = ""
    random_state: int = 0


def _as_of(as_of: Any, truth: Mapping[str, Any] | None, tp: Any) -> str:
    if as_of in (None, "", 0):
        as_of = (truth or {}).get("observation_end") or latest(tp)
    if as_of is None:
        raise NotApplicable("The journey plan needs touchpoints; the table is empty.")
    return str(pd.Timestamp(as_of).date())


def _journey_part(tables, o: PlanOptions, as_of: str, skipped: dict, notes: list) -> dict:
    data, value, note = steps.journeys(tables, o.category, as_of, o.exclude_touchpoints)
    if note:
        notes.append(note)
    if value is None:
        skipped["value"] = steps.NO_ORDERS
    customers, note = steps.existing_value(tables, data, as_of, o.horizon_months)
    if note:
        notes.append(note)
    pp, survey, why = steps.pain_points(
        tables, as_of, n_themes=o.n_themes, n_boot=o.n_boot, level=o.level,
        weights=o.priority_weights or None, random_state=o.random_state)  # fmt: skip
    if why:
        skipped["pain_points"] = why
    sim = JourneySimulator(n_draws=o.n_draws, level=o.level, random_state=o.random_state)
    sim.fit(data, value, customers, steps.pain_draws(pp, customers))
    rng = np.random.default_rng(o.random_state)
    coh = cohort(data, horizon_days=o.horizon_months * 30.4375, rng=rng, value=value)
    return {
        "data": data,
        "sim": sim,
        "cohort": coh,
        "pains": pp,
        "survey": survey,
        "customers": customers,
    }


def _questions(
    o: PlanOptions, plan: ActionPlan, parts: dict, as_of: str, notes: list
) -> pd.DataFrame | None:
    if not o.questions:
        return None
    qp = steps.questions_plan(o.questions, plan.cost_per_prospect)
    ev, _, why = evaluate_actions(parts["sim"], qp, parts["cohort"], margin=o.margin, as_of=as_of)
    labels = {r["id"]: steps.question_label(r) for r in qp.actions.to_dict("records")}
    for w in why:  # "question_2: the reason" -> the question in words
        qid, _, reason = w.partition(": ")
        notes.append(f"Not answered: {labels.get(qid, qid)} — {reason}.")
    if ev.empty:
        return None
    ev.insert(1, "question", ev["id"].map(labels))
    return ev


def _decisions(
    o: PlanOptions, plan: ActionPlan, parts: dict, as_of: str, skipped: dict, notes: list
) -> dict:
    sim, coh = parts["sim"], parts["cohort"]
    ev, ivs, why = evaluate_actions(sim, plan, coh, margin=o.margin, as_of=as_of)
    notes.extend(f"Not simulated: {w}." for w in why)
    if ev.empty:
        skipped["actions"] = "No action of the action file could be simulated on these data."
        return {}
    costs = dict(zip(plan.actions["id"], plan.actions["cost"]))
    trees = evaluate_trees(sim, plan.trees, ivs, costs, coh, margin=o.margin)
    if trees.empty:
        skipped["trees"] = "The action file has no action trees (sequences of actions) to compare."
    tests = tests_table(
        ev,
        ivs,
        sim,
        coh,
        parts["customers"],
        o.horizon_months * 30.4375,
        max_test_days=o.max_test_days,
    )
    review = next_review(as_of, o.monitor_months)
    has_value = sim.value_ is not None
    fp = final_plan(plan.simulated, ev, trees, tests, review, has_value)
    cand = fp[fp["chosen"] & (fp["unit"] == "share") & (fp["value_of_testing"] > 0)]
    bayes = None
    if has_value and not cand.empty:
        top = cand.sort_values("value_of_testing", ascending=False).iloc[0]
        bayes = bayesian_plan(top.to_dict(), max_days=o.max_test_days, random_state=o.random_state)
        if bayes is not None:
            bayes["id"] = top["id"]
    chosen = [ivs[i] for i in fp.loc[fp["chosen"], "id"]]
    total = sim.what_if(chosen, coh) if chosen else None
    return {
        "actions": fp,
        "trees": trees,
        "tests": tests,
        "bayes": bayes,
        "review": review,
        "total": total,
        "total_cost": float(fp.loc[fp["chosen"], "cost"].sum()),
    }


def _summary(parts: dict, dec: dict, o: PlanOptions, as_of: str, tables) -> dict:
    sim, pp = parts["sim"], parts["pains"]
    t = sim.transitions_
    pooled = t.groupby("stage", sort=False)[["reached", "moved_on"]].sum().reset_index()
    pooled["rate"] = pooled["moved_on"] / pooled["reached"]
    buy_after = {}
    for k, s in enumerate(STAGES[:4]):
        r = sim.reached_.sum(axis=0)
        buy_after[s] = r[4] / r[k + 1] if r[k + 1] else np.nan
    from cjlab.survey import stage_of

    ratings = None
    if parts["survey"] is not None:
        cols = [c for c in parts["survey"].columns if str(c).startswith("rating_")]
        ratings = pd.DataFrame(
            {
                "stage": [stage_of(c) for c in cols],
                "touchpoint": [c[7:] for c in cols],
                "rating": [parts["survey"][c].mean() for c in cols],
            }
        ).dropna()
    gaps = category_gaps(t, buy_after)
    table = swot(
        pains=None if pp is None else pp.table_,
        strengths=None if pp is None else pp.strengths_,
        step_rates=pooled,
        ratings=ratings,
        gaps=gaps,
        actions=dec.get("actions"),
        trends=rating_trends(parts["survey"], stage_of),
        currency=o.currency,
    )
    funnel = stage_funnel(tables["touchpoints"], as_of=as_of)
    return {"swot": table, "gaps": gaps, "funnel": funnel}


def analyse(
    tables: Mapping[str, Any],
    *,
    actions: ActionPlan | Mapping | None = None,
    truth: Mapping[str, Any] | None = None,
    **params: Any,
) -> PlanAnalysis:
    """Pain points, the journey simulator, what-if answers, action trees and the journey plan.

    Parameters
    ----------
    tables : contract tables; ``touchpoints`` is required; ``orders``, ``customers`` and
        ``survey_responses`` enable their sections (pandas, DuckDB or Spark frames).
    actions : the action file (an :class:`~cjlab.plan.actions.ActionPlan` or the parsed YAML);
        None = no actions (the plan has only the what-if answers).
    truth : the demo company's planted truth, for the analysts' check.
    **params : the fields of :class:`PlanOptions`.

    Raises
    ------
    NotApplicable : no touchpoints.
    """
    o = PlanOptions(**params)
    if tables.get("touchpoints") is None:
        raise NotApplicable("The journey plan needs the touchpoints table.")
    plan = actions if isinstance(actions, ActionPlan) else action_plan(actions)
    as_of = _as_of(o.as_of, truth, tables["touchpoints"])
    skipped, notes = {}, []
    parts = _journey_part(tables, o, as_of, skipped, notes)
    questions = _questions(o, plan, parts, as_of, notes)
    dec = {}
    if plan.simulated.empty:
        skipped["actions"] = (
            "No action in the action file has an effect to simulate (see "
            "params/journey_actions.yaml: effect, cost)."
        )
    else:
        dec = _decisions(o, plan, parts, as_of, skipped, notes)
    if dec.get("trees") is None or not len(dec["trees"]):
        skipped.setdefault("trees", "The action file has no action trees to compare.")
    summary = _summary(parts, dec, o, as_of, tables)
    check = _truth_check(truth, parts["pains"])
    if check is None:
        skipped["demo_check"] = (
            "No planted truth to compare with: these are not the demo company's data."
        )
    return PlanAnalysis(
        as_of=as_of, category=o.category, currency=o.currency, level=o.level, margin=o.margin,
        horizon_months=o.horizon_months, simulator=parts["sim"], cohort_size=parts["cohort"].n,
        pain_points=None if parts["pains"] is None else parts["pains"].table_,
        strengths=None if parts["pains"] is None else parts["pains"].strengths_,
        questions=questions, review=dec.get("review") or next_review(as_of, o.monitor_months),
        truth_check=check, skipped=skipped, notes=tuple(notes),
        **{k: v for k, v in dec.items() if k != "review"}, **summary,
    )  # fmt: skip


#: a planted complaint theme counts as a planted pain point when its touchpoint's planted NPS
#: driver coefficient is at least this (delivery, support, checkout in the demo)
STRONG_DRIVER = 0.3


def planted_pain_points(truth: Mapping[str, Any]) -> list[str]:
    """The demo's planted pain points: touchpoints of its complaint themes whose rating drives
    NPS strongly (planted coefficient >= :data:`STRONG_DRIVER`), strongest first."""
    survey = truth.get("survey") or {}
    drivers = {k[len("rating_") :]: v for k, v in (survey.get("nps_drivers") or {}).items()}
    themes = {str(t).split("_")[0] for t in survey.get("detractor_themes") or ()}
    strong = [t for t in themes if drivers.get(t, 0) >= STRONG_DRIVER]
    return sorted(strong, key=lambda t: -drivers[t])


def _truth_check(truth: Mapping[str, Any] | None, pp) -> pd.DataFrame | None:
    if not truth or "survey" not in truth:
        return None
    planted = planted_pain_points(truth)
    found = [] if pp is None else list(pp.table_["touchpoint"].head(len(planted)))
    rows = [
        (
            "Pain points ranked first (planted complaints on strong NPS drivers)",
            ", ".join(sorted(planted)),
            ", ".join(sorted(found)),
            sorted(planted) == sorted(found),
        )
    ]
    return pd.DataFrame(rows, columns=["check", "planted", "found", "agrees"])


def read_action_file(path: str | os.PathLike) -> ActionPlan:
    """Read the action file (resolved like notebook 05's: as given, ``$CJLAB_HOME``, the parent
    of the working directory) and parse it with :func:`cjlab.plan.actions.action_plan`."""
    import yaml

    from cjlab.journey import resolve_actions_file

    found = resolve_actions_file(path)
    if found is None:
        raise FileNotFoundError(f"action file {path} not found")
    with open(found, encoding="utf-8") as fh:
        return action_plan(yaml.safe_load(fh) or {})


def from_source(
    data_source: Any = "demo",
    *,
    actions_file: str | os.PathLike | None = "params/journey_actions.yaml",
    **params: Any,
) -> PlanAnalysis:
    """:func:`analyse` on a cjlab data source, with the action file read from ``actions_file``
    (empty = none; a file that is not found leaves the plan without actions and says so)."""
    from dataclasses import replace

    from cjlab.data import open_source
    from cjlab.data.requirements import unmet
    from cjlab.journey import resolve_actions_file

    src = open_source(data_source)
    reason = unmet([{"touchpoints": []}], src.available())
    if reason:
        raise NotApplicable(f"The journey plan {reason}.")
    wanted = [
        t for t in ("touchpoints", "orders", "customers", "survey_responses") if t in src.tables
    ]
    tables = src.load(*wanted)
    found = resolve_actions_file(actions_file) if actions_file else None
    plan = read_action_file(found) if found is not None else None
    a = analyse(tables, actions=plan, truth=src.truth, **params)
    if actions_file and found is None:
        msg = (
            f"The action file {actions_file} was not found, so the plan has no actions to simulate."
        )
        a = replace(a, skipped={**a.skipped, "actions": msg})
    return a
