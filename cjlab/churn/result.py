"""What the churn report shows: :class:`ChurnAnalysis`, its headline and its KPIs.

Every sentence and KPI label is written from the data at hand: "within 90 days" only when the
analysis has such a horizon, CLV only when the purchase model passed its checks, and a model
whose ROC-AUC interval includes 0.5 is called no better than guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.churn.evaluation import Evaluation
from cjlab.churn.model import ChurnModel
from cjlab.churn.retention import KMResult
from cjlab.churn.steps import CLVResult
from cjlab.results import KPI, Analysis, Headline

__all__ = ["ChurnAnalysis"]

MODEL_NAMES = {"logit": "logistic regression", "hgb": "gradient boosting"}


@dataclass(frozen=True, kw_only=True, eq=False)
class ChurnAnalysis(Analysis):
    """Everything the churn report shows (see :func:`cjlab.churn.analysis.analyse`).

    ``scores`` holds today's customers who can still leave (never one already gone) with
    ``churn_probability`` and ``value`` (what is kept if a leaver stays: ``value_basis``);
    ``action_list`` is the contact list built from them.
    """

    churn_definition: str
    definition_reason: str
    snapshot: bool
    horizon_days: int | None
    horizon_reason: str
    cutoffs: tuple[pd.Timestamp, ...]
    score_date: pd.Timestamp | None
    comparison: pd.DataFrame
    model_name: str
    model: ChurnModel
    evaluation: Evaluation
    drivers: pd.DataFrame
    partial_dependence: pd.DataFrame
    n_train: int
    n_test: int
    scores: pd.DataFrame
    value_basis: str
    profit: pd.DataFrame
    best: pd.Series
    action_list: pd.DataFrame
    retention: Mapping[str, KMResult] = field(default_factory=dict)
    clv: CLVResult | None = None
    currency: str = ""
    level: float = 0.95
    timings: Mapping[str, float] = field(default_factory=dict)
    truth_check: pd.DataFrame | None = None

    # ------------------------------------------------------------------ facts
    @property
    def model_label(self) -> str:
        return MODEL_NAMES.get(self.model_name, self.model_name)

    @property
    def guessing(self) -> bool:
        """True when the held-out ROC-AUC interval includes 0.5."""
        return self.evaluation.no_better_than_chance

    @property
    def clv_reliable(self) -> bool:
        return self.clv is not None and self.clv.reliable

    @property
    def has_value(self) -> bool:
        return self.value_basis != "none"

    @property
    def expected_churn_rate(self) -> float:
        return float(self.scores["churn_probability"].mean()) if len(self.scores) else np.nan

    @property
    def value_at_risk(self) -> float:
        s = self.scores
        return float((s["churn_probability"] * s["value"]).sum()) if self.has_value else np.nan

    @property
    def contacts(self) -> int:
        return int(self.action_list["contact"].sum())

    @property
    def within(self) -> str:
        """``" within 90 days"`` when there is a horizon, else ``""``."""
        return f" within {self.horizon_days} days" if self.horizon_days else ""

    @property
    def contact_horizon(self) -> str:
        """Who the contact list holds, and for which horizon."""
        when = (
            f"still active on {fmt.date(self.score_date)}"
            if self.score_date is not None
            else "still active at the snapshot"
        )
        risk = (
            f"their risk of leaving{self.within}"
            if self.horizon_days
            else "how much they resemble those who left"
        )
        return f"customers {when}, ranked by {risk}; those already gone are left out"

    def _money(self, v: Any) -> str:
        return fmt.money(v, self.currency or None)

    # ------------------------------------------------------------------ headline
    def _title(self) -> str:
        if self.guessing:
            return (
                "The early-warning model cannot tell leavers from stayers on these data: the "
                "interval of its ranking quality includes 0.5 (guessing)"
            )
        who = (
            f"of today's {fmt.count(len(self.scores))} active customers are expected to leave"
            f"{self.within}"
            if not self.snapshot
            else f"of the {fmt.count(len(self.scores))} active customers resemble those who left"
        )
        tail = (
            f" — {self._money(self.value_at_risk)} of customer value at risk"
            if self.has_value
            else ""
        )
        return f"{fmt.share(self.expected_churn_rate)} {who}{tail}"

    def _model_item(self) -> str:
        ev = self.evaluation
        auc = fmt.interval(ev.roc_auc, *ev.roc_auc_ci, "number", digits=3)
        text = (
            f"ranking quality {auc} on customers it has not seen (0.5 = guessing, 1 = perfect); "
            f"the riskiest 10 % hold {fmt.ratio(ev.top_decile_lift)} the average churn rate"
        )
        if self.guessing:
            text += (
                "; the interval includes 0.5, so the model is no better than guessing here "
                "and its ranking should not be acted on"
            )
        return text

    def headline(self) -> Headline:
        ev = self.evaluation
        rate = (
            f"{fmt.share(ev.base_rate)} of customers left{self.within} after the last judged "
            f"cut-off ({fmt.date(self.cutoffs[-1])})"
            if not self.snapshot
            else f"{fmt.share(ev.base_rate)} of held-out customers in the snapshot had left"
        )
        contact = f"{fmt.count(self.contacts)} {self.contact_horizon}"
        if self.has_value:
            contact += (
                f". They are the most profitable {fmt.share(self.best['contact_share'])} of "
                f"contactable customers (expected profit {self._money(self.best['profit'])})"
            )
        items = [
            ("Churn definition", f"{self.definition_reason}; {self.horizon_reason}"),
            ("Churn rate", rate),
            ("Customers to contact", contact),
        ]
        if self.has_value:
            items.append(
                (
                    "Value at risk",
                    f"{self._money(self.value_at_risk)} = sum over active "
                    f"customers of churn probability × {self.value_basis}",
                )
            )
        if self.clv is not None:
            items.append(
                (
                    "Customer lifetime value",
                    (
                        f"mean {self._money(self.scores['clv'].mean())} over {self.clv.horizon_months} "
                        f"months"
                        if self.clv_reliable
                        else "not shown, because the purchase model is unreliable on these data: "
                        + "; ".join(self.clv.check.problems)
                        + f". Customer value is taken as the {self.value_basis} instead"
                    ),
                )
            )
        items.append(("Early-warning model", self._model_item()))
        return Headline(self._title(), tuple(items), "bad" if self.guessing else None)

    # ------------------------------------------------------------------ KPIs
    def kpis(self) -> list[KPI]:
        """The headline figures (model quality, churn, campaign, value) and model details."""
        return self._churn_kpis() + self._value_kpis() + self._model_kpis()

    def _churn_kpis(self) -> list[KPI]:
        ev = self.evaluation
        span = f"{self.within}" if self.horizon_days else " (snapshot)"
        out = [
            KPI(
                "roc_auc",
                ev.roc_auc,
                "ROC-AUC of the early-warning model (held out)",
                "number",
                ev.roc_auc_ci[0],
                ev.roc_auc_ci[1],
                n=ev.n,
                higher_is_better=True,
                topic="model",
                headline=True,
                level=self.level,
            ),
            KPI(
                "churn_rate",
                ev.base_rate,
                f"Churn rate{span}, last judged cut-off"
                if not self.snapshot
                else "Share of held-out customers who had left",
                "share",
                n=ev.n,
                higher_is_better=False,
                topic="churn",
                headline=True,
            ),
            KPI(
                "expected_churn_rate",
                self.expected_churn_rate,
                f"Expected churn rate of today's active customers{self.within}"
                if not self.snapshot
                else "Mean churn probability of the active customers",
                "share",
                n=len(self.scores),
                higher_is_better=False,
                topic="churn",
                headline=True,
            ),
            KPI(
                "customers_at_risk",
                self.contacts,
                "Customers to contact (still active)",
                "count",
                higher_is_better=False,
                topic="campaign",
                headline=True,
            ),
        ]
        if self.horizon_days:
            out.append(
                KPI("churn_horizon", self.horizon_days, "Churn horizon", "days", topic="churn")
            )
        return out

    def _value_kpis(self) -> list[KPI]:
        cur, out = self.currency or None, []
        if self.has_value:
            out += [
                KPI(
                    "revenue_at_risk",
                    self.value_at_risk,
                    f"Value at risk (probability × {self.value_basis})",
                    "money",
                    higher_is_better=False,
                    currency=cur,
                    topic="campaign",
                    headline=True,
                ),
                KPI(
                    "best_campaign_profit",
                    float(self.best["profit"]),
                    "Expected profit of the best campaign",
                    "money",
                    higher_is_better=True,
                    currency=cur,
                    topic="campaign",
                ),
            ]
        if self.clv_reliable:
            out.append(
                KPI(
                    "mean_clv",
                    float(self.scores["clv"].mean()),
                    f"Mean CLV ({self.clv.horizon_months} months)",
                    "money",
                    n=len(self.scores),
                    higher_is_better=True,
                    currency=cur,
                    topic="value",
                    headline=True,
                )
            )
        return out

    def _model_kpis(self) -> list[KPI]:
        ev = self.evaluation
        return [
            KPI(
                "pr_auc",
                ev.pr_auc,
                "PR-AUC (held out)",
                "number",
                ev.pr_auc_ci[0],
                ev.pr_auc_ci[1],
                higher_is_better=True,
                topic="model",
                level=self.level,
            ),
            KPI("brier", ev.brier, "Brier score", "number", higher_is_better=False, topic="model"),
            KPI(
                "top_decile_lift",
                ev.top_decile_lift,
                "Top-decile lift",
                "ratio",
                higher_is_better=True,
                topic="model",
            ),
        ]

    # ------------------------------------------------------------------ tables
    def comparison_table(self) -> pd.DataFrame:
        """Models on held-out customers, with readable names."""
        cols = [
            "model",
            "roc_auc",
            "roc_auc_low",
            "roc_auc_high",
            "pr_auc",
            "brier",
            "top_decile_lift",
        ]
        return self.comparison[cols].assign(model=self.comparison["model"].map(MODEL_NAMES))

    def driver_table(self, n: int = 10) -> pd.DataFrame:
        return self.drivers.head(n)[["rank", "feature", "importance", "std", "meaning"]]

    def segment_summary(self) -> pd.DataFrame:
        """Customers by risk/value segment: how many, how many to contact, risk, value at risk."""
        g = self.action_list.groupby("segment").agg(
            customers=("customer_id", "size"),
            to_contact=("contact", "sum"),
            mean_probability=("churn_probability", "mean"),
            value_at_risk=("value_at_risk", "sum"),
        )
        return g.reset_index().sort_values("value_at_risk", ascending=False)

    def contact_preview(self, n: int = 20) -> pd.DataFrame:
        """The first ``n`` customers to contact (ids are hidden by the report's tables)."""
        top = self.action_list[self.action_list["contact"]].head(n)
        cols = [
            "customer_id",
            "churn_probability",
            "clv" if "clv" in top.columns else "value",
            "value_at_risk",
            "top_reasons",
            "segment",
        ]
        return top[[c for c in cols if c in top.columns]]

    def run_facts(self) -> pd.DataFrame:
        """Sizes and timings of this run (for analysts)."""
        rows = [
            ("training rows (customers × cut-offs)", self.n_train),
            ("test rows", self.n_test),
            ("customers scored", len(self.scores)),
            ("cut-offs", ", ".join(fmt.date(c) for c in self.cutoffs) or "–"),
        ]
        rows += [(f"seconds: {k.replace('_', ' ')}", round(v, 1)) for k, v in self.timings.items()]
        return pd.DataFrame(rows, columns=["fact", "value"]).astype({"value": str})
