"""The result of the journey plan: :class:`PlanAnalysis`, with its headline and KPIs.

The headline wording and every figure the report records live here, so the notebook, the
report's ``kpis.json`` and the KPI trend page read the same value under the same name. The
monitoring KPIs (``plan_target_now`` per chosen action, ``next_review``) are what the next run,
3 to 5 months later, is compared with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.plan.simulator import JourneySimulator, WhatIf
from cjlab.results import KPI, Analysis, Headline

__all__ = ["PlanAnalysis"]


def _v(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x


@dataclass(frozen=True, kw_only=True)
class PlanAnalysis(Analysis):
    """Everything notebooks/07_journey_plan.ipynb shows (see :func:`cjlab.plan.analyse`).

    Attributes
    ----------
    as_of, category, currency, level, margin, horizon_months : the run's settings.
    simulator : the fitted :class:`~cjlab.plan.simulator.JourneySimulator` (its
        ``transitions_`` are the step rates per category).
    cohort_size : journeys expected to begin in the plan's horizon.
    pain_points, strengths : pain points with priorities and praise themes (None without a survey).
    swot : the workshop summary per stage; gaps : best vs weakest category per step.
    funnel : customers per stage (the pooled funnel).
    questions : the what-if answers (one row per question).
    actions : the final plan, one row per simulated action (status, impact, test).
    trees : every sequence of every action tree, with its impact; tests : the test sizes;
    bayes : the Bayesian test plan of the action most worth testing first (or None).
    total : the chosen actions simulated together (a :class:`WhatIf`); total_cost : their cost.
    review : the next review date.
    truth_check : planted vs found (demo data only), for the analysts' section.
    """

    as_of: str
    category: str
    currency: str = ""
    level: float = 0.9
    margin: float = 0.3
    horizon_months: int = 12
    simulator: JourneySimulator
    cohort_size: int = 0
    pain_points: pd.DataFrame | None = None
    strengths: pd.DataFrame | None = None
    swot: pd.DataFrame
    gaps: pd.DataFrame | None = None
    funnel: pd.DataFrame | None = None
    questions: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    trees: pd.DataFrame | None = None
    tests: pd.DataFrame | None = None
    bayes: Mapping[str, float] | None = None
    total: WhatIf | None = None
    total_cost: float = 0.0
    review: str
    truth_check: pd.DataFrame | None = None

    @property
    def has_value(self) -> bool:
        """True when the data have orders (revenue and net value are known)."""
        return self.simulator.value_ is not None

    @property
    def chosen(self) -> pd.DataFrame:
        """The actions the plan takes (status go, test first or pilot first)."""
        if self.actions is None:
            return pd.DataFrame()
        return self.actions[self.actions["chosen"]]

    def _money(self, name: str, value: float, label: str, low=None, high=None, **kw) -> KPI:
        return KPI(
            name,
            _v(value),
            label,
            unit="money",
            low=_v(low),
            high=_v(high),
            currency=self.currency or None,
            level=self.level if low is not None else None,
            higher_is_better=True,
            **kw,
        )

    def _total_kpis(self) -> list[KPI]:
        w = self.total
        if w is None:
            return []
        out = [
            KPI(
                "plan_orders",
                w.mean("orders") if self.has_value else w.mean("buyers"),
                "Extra purchases in 12 months (chosen actions)",
                unit="count",
                low=w.interval("orders" if self.has_value else "buyers")[0],
                high=w.interval("orders" if self.has_value else "buyers")[1],
                level=self.level,
                topic="plan",
                headline=True,
                higher_is_better=True,
                tolerance=0.05 * abs(w.mean("orders")) + 1,
            )
        ]
        if self.has_value:
            nv = w.net_value(self.margin, self.total_cost)
            a = (1 - self.level) / 2
            out += [
                self._money(
                    "plan_revenue",
                    w.mean("revenue"),
                    "Extra revenue in 12 months (chosen actions)",
                    *w.interval("revenue"),
                    topic="plan",
                    headline=True,
                    tolerance=0.05 * abs(w.mean("revenue")) + 1,
                ),
                self._money(
                    "plan_net_value",
                    float(nv.mean()),
                    "Net value in 12 months (chosen actions)",
                    float(np.quantile(nv, a)),
                    float(np.quantile(nv, 1 - a)),
                    topic="plan",
                    headline=True,
                    tolerance=0.05 * abs(float(nv.mean())) + 1,
                ),
            ]
        if w.draws["nps"].abs().sum() > 0:
            out.append(
                KPI(
                    "plan_nps",
                    w.mean("nps"),
                    "NPS gain of the chosen actions",
                    unit="points",
                    low=w.interval("nps")[0],
                    high=w.interval("nps")[1],
                    level=self.level,
                    topic="plan",
                    higher_is_better=True,
                    tolerance=0.5,
                )
            )
        return out

    def _action_kpis(self) -> list[KPI]:
        out = []
        for r in self.actions.itertuples(index=False) if self.actions is not None else ():
            if self.has_value:
                out.append(
                    self._money(
                        "action_net_value",
                        r.net_value,
                        "Expected net value of the action",
                        r.net_value_low,
                        r.net_value_high,
                        group=r.id,
                        topic="actions",
                        tolerance=0.1 * abs(r.net_value) + 1,
                    )
                )
                out.append(
                    self._money(
                        "action_value_of_testing",
                        r.value_of_testing,
                        "Value of testing the action first",
                        group=r.id,
                        topic="actions",
                        tolerance=0.2 * abs(r.value_of_testing) + 1,
                    )
                )
            if r.chosen and isinstance(r.metric, str) and np.isfinite(r.baseline):
                out.append(
                    KPI(
                        "plan_target_now",
                        r.baseline,
                        f"Now: {r.metric}",
                        unit="share" if r.unit == "share" else "money",
                        group=r.id,
                        topic="monitoring",
                        currency=(self.currency or None) if r.unit == "money" else None,
                    )
                )
        return out

    def _pain_kpis(self) -> list[KPI]:
        if self.pain_points is None:
            return []
        pp = self.pain_points
        out = [
            KPI(
                "pain_priority",
                r.priority,
                "Pain-point priority (0-100)",
                unit="score",
                low=r.priority_low,
                high=r.priority_high,
                level=self.level,
                group=r.touchpoint,
                topic="pain points",
                higher_is_better=False,
                tolerance=5.0,
            )
            for r in pp.itertuples(index=False)
        ]
        out.append(
            KPI(
                "top_pain_point",
                str(pp["touchpoint"].iloc[0]),
                "Pain point ranked first",
                unit="text",
                topic="pain points",
                headline=True,
            )
        )
        return out

    def _question_kpis(self) -> list[KPI]:
        out = []
        for r in self.questions.itertuples(index=False) if self.questions is not None else ():
            metric = "revenue" if self.has_value else "buyers"
            unit = "money" if self.has_value else "count"
            out.append(
                KPI(
                    f"what_if_{metric}",
                    getattr(r, metric),
                    f"What if: {r.question}",
                    unit=unit,
                    low=getattr(r, f"{metric}_low"),
                    high=getattr(r, f"{metric}_high"),
                    level=self.level,
                    group=r.id,
                    topic="what-if",
                    currency=(self.currency or None) if unit == "money" else None,
                    tolerance=0.1 * abs(getattr(r, metric)) + 1,
                )
            )
            if r.nps:
                out.append(
                    KPI(
                        "what_if_nps",
                        r.nps,
                        f"What if: {r.question} (NPS)",
                        unit="points",
                        low=r.nps_low,
                        high=r.nps_high,
                        level=self.level,
                        group=r.id,
                        topic="what-if",
                        tolerance=0.5,
                    )
                )
        return out

    def kpis(self) -> list[KPI]:
        """Every figure the report records: the plan's total impact, each action's net value and
        value of testing, the monitored targets, pain-point priorities, the what-if answers, the
        number of actions chosen, the action to test first and the next review date."""
        out = self._total_kpis()
        out.append(
            KPI(
                "actions_chosen",
                len(self.chosen),
                "Actions in the plan",
                unit="count",
                topic="plan",
                headline=True,
            )
        )
        top = self._test_first()
        if top is not None:
            out.append(
                KPI(
                    "test_first",
                    str(top["id"]),
                    "Action to test first",
                    unit="text",
                    topic="plan",
                    headline=True,
                )
            )
        out.append(
            KPI(
                "next_review",
                self.review,
                "Next review of the plan",
                unit="text",
                topic="monitoring",
                headline=True,
            )
        )
        return out + self._action_kpis() + self._pain_kpis() + self._question_kpis()

    def _test_first(self) -> pd.Series | None:
        """The chosen action whose test is feasible and worth most (None: none)."""
        if self.actions is None or not self.has_value:
            return None
        a = self.actions[(self.actions["value_of_testing"] > 0) & self.actions["chosen"]]
        a = a.assign(_f=[v is True for v in a["feasible"]])
        return (
            None if a.empty else a.sort_values(["_f", "value_of_testing"], ascending=False).iloc[0]
        )

    def _answer(self, k: Mapping, r) -> str:
        """A what-if answer in words: revenue (or buyers) change, and the NPS change if any."""
        metric = "revenue" if self.has_value else "buyers"
        parts = []
        if r.kind != "pain" or getattr(r, metric):
            parts.append(
                f"{k[(f'what_if_{metric}', r.id)].text()} {'revenue' if self.has_value else 'new buyers'}"
            )
        if ("what_if_nps", r.id) in k:
            parts.append(f"NPS {k[('what_if_nps', r.id)].text()}")
        return ", ".join(parts) + f" in {self.horizon_months} months"

    def headline(self) -> Headline:
        """The report's opening box, in words a marketing manager reads (values as in kpis())."""
        k = {(x.name, x.group): x for x in self.kpis()}
        n = len(self.chosen)
        items: dict[str, str] = {}
        if ("plan_net_value", None) in k:
            title = (
                f"The journey plan: {n} action{'s' if n != 1 else ''}, net value {k[('plan_net_value', None)].text()} "
                f"in {self.horizon_months} months"
            )
        elif ("plan_orders", None) in k:
            title = f"The journey plan: {n} action{'s' if n != 1 else ''}, {k[('plan_orders', None)].text()} extra purchases"
        else:
            title = "The journey plan: what-if answers (no actions to plan yet)"
        if ("plan_revenue", None) in k:
            items["Extra revenue"] = (
                f"{k[('plan_revenue', None)].text()}, {k[('plan_orders', None)].text()} extra purchases"
            )
        if self.pain_points is not None:
            items["Pain points first"] = "; ".join(
                f"{r.touchpoint} ({r.stage}, priority {fmt.plain(r.priority, 0)})"
                for r in self.pain_points.head(3).itertuples(index=False)
            )
        top = self._test_first()
        if top is not None:
            t = self.tests.set_index("id").loc[top["id"]] if self.tests is not None else None
            size = ""
            if t is not None and np.isfinite(t["n_per_arm"]):
                size = f": {fmt.count(np.ceil(t['n_per_arm']))} customers per arm"
                if np.isfinite(t["days"]):
                    size += f", about {fmt.count(np.ceil(t['days']))} days of traffic"
                if not t["feasible"]:
                    size += " — more than an A/B test can take here: roll it out step by step and watch its KPI"
            items["Test first"] = (
                f"{top['action'] or top['id']} (knowing its effect is worth "
                f"{fmt.money(top['value_of_testing'], self.currency)}){size}"
            )
        if self.questions is not None:
            items["What if"] = "; ".join(
                f"{r.question}: {self._answer(k, r)}"
                for r in self.questions.itertuples(index=False)
            )
        items["Next review"] = (
            f"{self.review} — run this report again to see whether the plan worked"
        )
        return Headline(title, tuple(items.items()))
