"""The result of the journey analysis: :class:`JourneyAnalysis`, with its headline and KPIs.

The headline wording and every figure the report records live here, so the notebook, the
report's ``kpis.json`` and the KPI trend page read the same value under the same name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.journey.funnels import FunnelResult
from cjlab.results import KPI, Analysis, Headline

__all__ = ["NO_ORDERS", "NO_ORDERS_PATHS", "JourneyAnalysis"]

NO_ORDERS = (
    "Channel attribution needs the orders table: without it no purchase can be credited to a "
    "channel."
)
NO_ORDERS_PATHS = (
    "Paths before a purchase need the orders table (who bought and when); without it no "
    "journey has a known purchase."
)


def _label(value: Any) -> str:
    return str(value).replace("_", " ")


@dataclass(frozen=True, kw_only=True)
class JourneyAnalysis(Analysis):
    """Everything notebooks/05_journey.ipynb shows (see :func:`analyse`).

    Attributes
    ----------
    as_of : the analysis day (ISO date).
    funnel : the ordered funnel over ``funnel_steps`` (:class:`~cjlab.journey.funnels.FunnelResult`).
    funnel_breakdown : the same funnel by the breakdown column (None when skipped).
    durations, furthest : days between consecutive stages; customers by furthest stage.
    paths : the paths table the attribution models fit (path, conversions, null).
    top_purchase, top_no_purchase, top_churn : the most common paths before buying, of
        customers who have not bought, and touchpoints in the 90 days before cancelling.
    attribution : credited purchases per channel and model.
    markov, counterfactual : Markov and noisy-OR results with bootstrap intervals.
    flows, flows_by : step-to-step flows (source, target, value) and what the steps are.
    journey_map, emotion : the journey map table and the mean rating per stage.
    actions : the action table the map used (None when there was none).
    handling : counted input handling (unknown stages dropped, customers without a path).
    channels : the channels used for paths and attribution.
    truth_check : planted vs found (demo data only), for the analysts' section.
    """

    as_of: str
    funnel: FunnelResult
    funnel_breakdown: FunnelResult | None = None
    durations: pd.DataFrame
    furthest: pd.DataFrame
    paths: pd.DataFrame | None = None
    top_purchase: pd.DataFrame | None = None
    top_no_purchase: pd.DataFrame | None = None
    top_churn: pd.DataFrame | None = None
    attribution: pd.DataFrame | None = None
    markov: pd.DataFrame | None = None
    counterfactual: pd.DataFrame | None = None
    flows: pd.DataFrame
    flows_by: str = "channel"
    journey_map: pd.DataFrame
    emotion: pd.DataFrame
    actions: pd.DataFrame | None = None
    handling: Mapping[str, int]
    channels: tuple[str, ...] = ()
    markov_order: int = 1
    level: float = 0.9
    truth_check: pd.DataFrame | None = None

    @property
    def biggest_dropoff(self) -> str:
        """The funnel step after which most customers are lost."""
        return self.funnel.biggest_dropoff

    def _markov_kpis(self) -> list[KPI]:
        if self.markov is None:
            return []
        mk, total = self.markov, float(self.markov["conversions"].sum())
        has_ci = "conversions_low" in mk.columns and total > 0
        return [
            KPI(
                "attribution_share_markov",
                r.share,
                "Markov attribution share",
                unit="share",
                group=r.channel,
                low=r.conversions_low / total if has_ci else None,
                level=self.level if has_ci else None,
                high=r.conversions_high / total if has_ci else None,
                topic="attribution",
                headline=i < 3,
            )
            for i, r in enumerate(mk.itertuples(index=False))
        ]

    def _funnel_kpis(self) -> list[KPI]:
        t = self.funnel.table
        out = []
        for r in t.itertuples(index=False):
            out.append(
                KPI(
                    "funnel_customers",
                    r.customers,
                    "Customers reaching the stage",
                    unit="count",
                    group=r.step,
                    topic="funnel",
                    higher_is_better=True,
                    headline=r.step_index in (0, len(t) - 1),
                )
            )
            if r.step_index:
                out.append(
                    KPI(
                        "stage_conversion",
                        r.step_conversion,
                        "Conversion from the previous stage",
                        unit="share",
                        group=r.step,
                        topic="funnel",
                        higher_is_better=True,
                    )
                )
        last = t.iloc[-1]
        out.append(
            KPI(
                "funnel_conversion",
                last["overall_conversion"],
                f"Share of entrants reaching {_label(last['step'])}",
                unit="share",
                topic="funnel",
                higher_is_better=True,
                headline=True,
                n=int(t.iloc[0]["customers"]),
            )
        )
        out.append(
            KPI(
                "biggest_dropoff_stage",
                self.biggest_dropoff,
                "Stage after which most customers are lost",
                unit="text",
                topic="funnel",
                headline=True,
            )
        )
        if "purchase" in set(t["step"]) and pd.notna(
            t.set_index("step").loc["purchase", "median_days"]
        ):
            p = t.set_index("step").loc["purchase"]
            out.append(
                KPI(
                    "time_to_purchase_days",
                    p["median_days"],
                    "Median days from the first touch to the purchase",
                    unit="days",
                    topic="funnel",
                    headline=True,
                    higher_is_better=False,
                    n=int(p["customers"]),
                )
            )
        return out

    def kpis(self) -> list[KPI]:
        """Every figure the report records: funnel counts and conversion, the biggest drop-off,
        time to purchase, attribution shares (Markov with intervals, counterfactual) and the mean
        survey rating per stage."""
        out = self._funnel_kpis() + self._markov_kpis()
        if self.counterfactual is not None:
            out += [
                KPI(
                    "attribution_share_counterfactual",
                    r.share,
                    "Counterfactual (noisy-OR) attribution share",
                    unit="share",
                    group=r.channel,
                    topic="attribution",
                    headline=i < 3,
                )
                for i, r in enumerate(self.counterfactual.itertuples(index=False))
            ]
        out += [
            KPI(
                "stage_rating",
                r.rating,
                "Mean survey rating of the stage (1–5)",
                unit="score",
                group=r.stage,
                topic="journey map",
                higher_is_better=True,
            )
            for r in self.emotion.dropna(subset=["rating"]).itertuples(index=False)
        ]
        return out

    def headline_title(self) -> str:
        """The headline sentence: where most customers are lost, and the channel that earns most."""
        t = self.funnel.overall.set_index("step")
        s = self.biggest_dropoff
        title = f"Most customers are lost after '{_label(s)}' ({fmt.count(t.loc[s, 'dropoff'])} customers)"
        if self.markov is not None:
            title += f"; {_label(self.markov['channel'].iloc[0])} contributes most to purchases"
        return title

    def headline(self) -> Headline:
        """The report's opening box, in words a marketing manager reads (values as in kpis())."""
        t = self.funnel.overall.set_index("step")
        big, steps = self.biggest_dropoff, self.funnel.steps
        k = {(x.name, x.group): x for x in self.kpis()}
        items = {
            "Biggest drop-off": f"after {_label(big)}: {fmt.count(t.loc[big, 'dropoff'])} customers "
            f"({fmt.share(t.loc[big, 'dropoff_share'])} of everyone lost along the funnel)",
            "Funnel": f"{k[('funnel_customers', steps[0])].text()} customers entered; "
            f"{k[('funnel_customers', steps[-1])].text()} ({k[('funnel_conversion', None)].text()}) "
            f"reached {_label(steps[-1])}",
        }
        if ("time_to_purchase_days", None) in k:
            items["Time to first purchase"] = (
                f"median {k[('time_to_purchase_days', None)].text()} after the first "
                f"touch (a quarter take longer than {fmt.days(t.loc['purchase', 'p75_days'])})"
            )
        if self.markov is not None:
            items["Channels that earn the purchases"] = "; ".join(
                f"{_label(c)} {k[('attribution_share_markov', c)].text()}"
                for c in self.markov["channel"].head(3)
            ) + " of the credit for purchases (Markov: what is lost when a channel drops out)"
            items["Purchases each channel adds"] = "; ".join(
                f"{_label(c)} {k[('attribution_share_counterfactual', c)].text()}"
                for c in self.counterfactual["channel"].head(3)
            ) + " (counterfactual: purchases lost without the channel's touches)"
        else:
            items["Channels"] = self.skipped.get("attribution", NO_ORDERS)
        return Headline(self.headline_title(), tuple(items.items()))
