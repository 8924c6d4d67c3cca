"""The steps :func:`cjlab.plan.analyse` chains: journeys, the value of customers, pain points,
the simulator and the what-if questions. Each takes the (aggregated) tables and returns small
pandas objects, or ``None`` and the sentence a report shows instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.features import furthest_stage, stage_funnel, to_pandas
from cjlab.features.funnels import touchpoint_progress
from cjlab.features.plan import journey_states, value_by_period
from cjlab.plan.actions import action_plan
from cjlab.plan.journeys import JourneyData, journey_data
from cjlab.plan.painpoints import PainPoints
from cjlab.plan.value import ValueCurve

__all__ = [
    "NO_ORDERS",
    "NO_SURVEY",
    "existing_value",
    "journeys",
    "pain_draws",
    "pain_points",
    "question_label",
    "questions_plan",
]

NO_ORDERS = (
    "Revenue, value and net value need the orders table; without it the plan counts purchases "
    "(customers reaching the purchase stage) only."
)
NO_SURVEY = (
    "Pain points need the survey_responses table with comments and NPS scores (and "
    "rating_<touchpoint> columns to place them on the journey)."
)
COMMENTS_PER_THEME, MAX_THEMES = 10, 10


def journeys(
    tables: Mapping[str, Any], category: str, as_of: str, exclude_touchpoints: Sequence[str]
) -> tuple[JourneyData, ValueCurve | None, str | None]:
    """The journeys, what new buyers brought (None without orders) and a note on the category."""
    tp, orders, customers = tables["touchpoints"], tables.get("orders"), tables.get("customers")
    states = to_pandas(
        journey_states(
            tp,
            orders,
            customers,
            category=category or None,
            as_of=as_of,
            exclude_touchpoints=exclude_touchpoints,
        )
    )
    note = None
    if category and states["category"].isna().all():
        note = (
            f"The data have no {category} column, so the plan treats all customers as one category."
        )
    weekly = None if orders is None else to_pandas(value_by_period(orders, as_of=as_of, days=7))
    data = journey_data(states, as_of, weekly)
    if weekly is None or not data.bought.any():
        return data, None, note
    b = data.bought
    first = pd.Series(data.purchase[b], index=data.customer_id[b])
    cat = pd.Series(data.category[b], index=data.customer_id[b])
    chan = pd.Series(data.channel[b], index=data.customer_id[b])
    return data, ValueCurve().fit(weekly, first, cat, data.end, detail=chan), note


def existing_value(
    tables: Mapping[str, Any], data: JourneyData, as_of: str, horizon_months: int
) -> tuple[pd.DataFrame | None, str | None]:
    """Existing buyers' expected purchases and value over the horizon (CLV from
    :mod:`cjlab.churn`: BG/NBD + Gamma-Gamma); when that model is unreliable on these data,
    their purchases and revenue of the last ``horizon_months`` instead. Also their category
    code and furthest stage."""
    orders = tables.get("orders")
    if orders is None:
        return None, None
    from cjlab.churn.clv import CLVError, CLVModel
    from cjlab.features.btyd import RFMError, rfm_summary
    from cjlab.features.orders import order_windows

    days = round(horizon_months * 30.4375)
    note = None
    try:
        rfm = to_pandas(rfm_summary(orders, as_of))
        model = CLVModel().fit(rfm)
        if not model.check_.reliable:
            raise CLVError("; ".join(model.check_.problems))
        pred = model.predict(rfm, horizon_months=horizon_months)
        v = pred[["customer_id", "expected_purchases", "clv"]].set_axis(
            ["customer_id", "purchases", "clv"], axis=1
        )
    except (CLVError, RFMError) as e:
        w = to_pandas(order_windows(orders, as_of, days=(days,)))
        v = w[["customer_id", f"orders_{days}d", f"revenue_{days}d"]].set_axis(
            ["customer_id", "purchases", "clv"], axis=1
        )
        note = (
            f"The purchase model (CLV) is not reliable on these data ({e}); the value of existing "
            f"customers is their revenue of the last {horizon_months} months instead."
        )
    stage = to_pandas(furthest_stage(tables["touchpoints"]))[["customer_id", "stage_index"]]
    code = pd.Series(data.category, index=data.customer_id)
    v = v.merge(stage, on="customer_id", how="left")
    v["stage_index"] = v["stage_index"].fillna(4).astype(int)
    v["category"] = v["customer_id"].map(code).fillna(-1).astype(int)
    return v, note


def pain_points(
    tables: Mapping[str, Any],
    as_of: str,
    *,
    n_themes: int,
    n_boot: int,
    level: float,
    weights: Mapping[str, float] | None,
    random_state: int,
    names: Sequence[str] = (),
) -> tuple[PainPoints | None, pd.DataFrame | None, str | None]:
    """Pain points with priorities (None and the reason when the survey cannot give them)."""
    survey = tables.get("survey_responses")
    if survey is None:
        return None, None, NO_SURVEY
    from cjlab.features.survey import survey_scores
    from cjlab.survey import CommentThemes, SurveyInputError

    sv = to_pandas(survey_scores(survey)).reset_index(drop=True)
    if "comment" not in sv or "nps" not in sv:
        return None, sv, NO_SURVEY
    n = int(sv["comment"].notna().sum())
    k = n_themes or min(MAX_THEMES, n // COMMENTS_PER_THEME)
    if k < 2:
        return None, sv, f"Only {fmt.count(n)} comments: too few to find pain points in them."
    try:
        themes = CommentThemes(n_themes=k, random_state=random_state).fit(
            sv["comment"], sv["nps"], names=names
        )
    except SurveyInputError as e:
        return None, sv, f"No pain points: {e}"
    tp = tables["touchpoints"]
    funnel = stage_funnel(tp, as_of=as_of)
    progress = to_pandas(touchpoint_progress(tp, as_of=as_of))
    revenue = None
    if tables.get("orders") is not None:
        from cjlab.features.orders import order_windows

        w = to_pandas(order_windows(tables["orders"], as_of, days=(365,)))
        revenue = w.set_index("customer_id")["revenue_365d"]
    pp = PainPoints(weights=weights, n_boot=n_boot, level=level, random_state=random_state)
    pp.fit(sv, themes, revenue, dict(zip(funnel["stage"], funnel["reached"])), progress)
    if pp.table_.empty:
        return (
            None,
            sv,
            "No comment theme is raised more often by detractors than average: no pain points.",
        )
    return pp, sv, None


def pain_draws(pp: PainPoints | None, customers: pd.DataFrame | None) -> dict[str, dict]:
    """Per pain point: bootstrap draws of prevalence and NPS gap, and the 12-month value and
    purchases of the customers who reached its stage (what a pain relief acts on)."""
    if pp is None:
        return {}
    from cjlab.data.contract import STAGES

    out = {}
    for r in pp.table_.itertuples(index=False):
        d = dict(pp.draws_[r.touchpoint])
        if customers is not None and r.stage in STAGES:
            at = customers[customers["stage_index"] >= STAGES.index(r.stage)]
            d |= {"value": float(at["clv"].sum()), "purchases": float(at["purchases"].sum())}
        out[r.touchpoint] = d | {"stage": r.stage}
    return out


def _pct(x: float) -> str:
    return fmt.plain(100 * x, digits=1 if abs(100 * x) % 1 else 0)


def question_label(row: Mapping[str, Any]) -> str:
    """A what-if question in words (``Comparison → persuasion +3 to 6 points for mobile``)."""
    from cjlab.data.contract import STAGES

    lo, hi, kind = row["effect_low"], row["effect_high"], row["kind"]
    span = _pct(lo) if lo == hi else f"{_pct(lo)} to {_pct(hi)}"
    who = f" for {row['category']} customers" if row.get("category") else ""
    if kind == "transition":
        nxt = STAGES[STAGES.index(row["stage"]) + 1]
        return f"Raise {row['stage']} → {nxt} by {span} points{who}"
    if kind == "pain":
        return f"Cut the {row.get('pain') or row.get('touchpoint')} pain point by {span} %"
    if kind == "spend_shift":
        return f"Move {span} % of {row['source'].replace('_', '-')} spend to {row['target'].replace('_', '-')}"
    return f"Change the value of customers past {row['stage']} by {span} %{who}"


def questions_plan(questions: Sequence[Mapping[str, Any]], cost_per_prospect: Mapping[str, float]):
    """The what-if questions (action-file syntax without owners) as an action plan."""
    entries = []
    for i, q in enumerate(questions, start=1):
        q = dict(q)
        kind = q.get("kind")
        stage = q.get("stage") or {"pain": "logistics", "spend_shift": "awareness"}.get(
            kind, "comparison"
        )
        effect = {
            k: q[k]
            for k in ("kind", "low", "high", "value_low", "value_high", "pain", "source", "target")
            if k in q
        }
        entries.append(
            {
                "id": q.get("id") or f"question_{i}",
                "stage": stage,
                "touchpoint": q.get("touchpoint"),
                "category": q.get("category"),
                "effect": effect,
                "cost": 0,
            }
        )
    return action_plan({"actions": entries, "cost_per_prospect": dict(cost_per_prospect)})


def nan_to_none(x: Any) -> Any:
    """NaN -> None (for KPI values)."""
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else x
