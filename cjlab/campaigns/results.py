"""The result of the campaign analysis: :class:`CampaignAnalysis`, with its headline and KPIs.

The headline wording and every figure the report records live here, so the notebook, the
report's ``kpis.json`` and the KPI trend page read the same value under the same name.
Customer-level lists (:attr:`CampaignAnalysis.exports`) are never part of the headline or the
KPIs; planted-truth checks (:attr:`CampaignAnalysis.truth_check`) neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.campaigns.targeting import LABELS, UpliftResult
from cjlab.results import KPI, Analysis, Headline

__all__ = ["CampaignAnalysis"]

METHOD_LABELS = {
    **LABELS,
    "popularity": "most popular items",
    "association_rules": "association rules",
    "item_item": "item-item collaborative filtering",
}


def _iv(v: Any, lo: Any, hi: Any, unit: str, currency: str | None = None) -> str:
    return fmt.interval(v, lo, hi, unit, currency=currency)


@dataclass(frozen=True, kw_only=True)
class CampaignAnalysis(Analysis):
    """Everything notebooks/06_campaigns.ipynb shows (see :func:`cjlab.campaigns.analyse`).

    Attributes
    ----------
    as_of, currency, level : the analysis day, the money unit, the interval mass.
    experiment, control, treatments : the campaign evaluated (None when skipped).
    effects : incremental conversion and revenue overall and per segment.
    uplift : the uplift models on the hold-out (:class:`~cjlab.campaigns.targeting.UpliftResult`).
    policies, profit_curves : targeting policies compared on the hold-out.
    value_per_conversion, contact_cost, margin : the profit assumptions (the profit of one extra
        conversion is ``margin`` times the revenue of a conversion).
    offers, offer_customers, k, pairs, cutoff : next-best-offer evaluation (per method and k),
        its test customers, the list length shown, the merchandisers' pair table and the
        time-split day.
    send_time, population_hour, send_kappa, hour_profile : send-time evaluation, the
        population's best hour, the prior strength, and the population's profile by weekday and
        hour (share of engagements).
    triggers, trigger_tiers, inactivity : the event study and the inactivity table.
    exports : customer-level lists for the CRM (never shown in the report).
    truth_check : planted vs found on the demo company (analysts only).
    """

    as_of: str
    currency: str = ""
    level: float = 0.9
    experiment: str | None = None
    control: str | None = None
    treatments: tuple[str, ...] = ()
    effects: pd.DataFrame | None = None
    uplift: UpliftResult | None = None
    policies: pd.DataFrame | None = None
    profit_curves: pd.DataFrame | None = None
    value_per_conversion: float = 0.0
    contact_cost: float = 0.0
    margin: float = 0.3
    offers: pd.DataFrame | None = None
    offer_customers: int = 0
    k: int = 3
    item: str = "product_category"
    pairs: pd.DataFrame | None = None
    cutoff: str | None = None
    send_time: pd.DataFrame | None = None
    population_hour: int | None = None
    send_kappa: float | None = None
    hour_profile: pd.DataFrame | None = None
    triggers: pd.DataFrame | None = None
    trigger_tiers: pd.DataFrame | None = None
    inactivity: pd.DataFrame | None = None
    exports: Mapping[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    truth_check: pd.DataFrame | None = None

    # -- pieces ------------------------------------------------------------------------------
    def overall(self) -> pd.Series | None:
        """The campaign's overall incremental effects (the first row of :attr:`effects`)."""
        return None if self.effects is None or self.effects.empty else self.effects.iloc[0]

    def best_offer(self) -> pd.Series | None:
        """The best next-best-offer method at ``k`` by MAP (popularity when it is best)."""
        if self.offers is None or self.offers.empty:
            return None
        at = self.offers[self.offers["k"] == self.k]
        at = at if len(at) else self.offers[self.offers["k"] == self.offers["k"].max()]
        return at.sort_values(["map", "hit_rate"], ascending=False).iloc[0]

    def offers_at(self, method: str) -> pd.Series | None:
        if self.offers is None or self.offers.empty:
            return None
        at = self.offers[(self.offers["k"] == self.k) & (self.offers["method"] == method)]
        return at.iloc[0] if len(at) else None

    def send_rows(self) -> tuple[pd.Series, pd.Series] | None:
        """The model's and the population hour's rows of the send-time evaluation."""
        if self.send_time is None or self.send_time.empty:
            return None
        s = self.send_time[
            self.send_time["min_engagements"] == self.send_time["min_engagements"].max()
        ]
        by = s.set_index("method")
        return by.loc["model"], by.loc["population"]

    def profit_policy(self) -> pd.Series | None:
        if self.policies is None:
            return None
        return self.policies.set_index("policy").loc["profit"]

    # -- headline ---------------------------------------------------------------------------------
    def _campaign_items(self) -> list[tuple[str, str]]:
        o, items = self.overall(), []
        if o is None:
            return items
        items.append(
            (
                "Campaign",
                f"{self.experiment}: {fmt.count(o['treated'])} contacted, "
                f"{fmt.count(o['control'])} held out ({self.control})",
            )
        )
        items.append(
            (
                "Incremental conversion",
                _iv(
                    o["incremental_conversion"],
                    o["incremental_conversion_low"],
                    o["incremental_conversion_high"],
                    "pp",
                )
                + f", {fmt.count(o['incremental_conversions'])} extra conversions",
            )
        )
        if self.effects["revenue_per_customer_treated"].abs().sum() > 0:
            items.append(
                (
                    "Incremental revenue per contacted customer",
                    _iv(
                        o["incremental_revenue_per_customer"],
                        o["incremental_revenue_per_customer_low"],
                        o["incremental_revenue_per_customer_high"],
                        "money",
                        self.currency,
                    ),
                )
            )
        p = self.profit_policy()
        if p is not None:
            items.append(
                (
                    "Whom to target",
                    (
                        f"the {fmt.share(p['share_contacted'])} with a positive expected incremental profit; "
                        "on the customers kept aside that earned "
                        f"{fmt.money(p['profit_per_1000'], self.currency)} per 1,000 customers "
                        f"({fmt.money(p['gain_vs_everyone_per_1000'], self.currency, sign=True)} "
                        "against contacting everyone)"
                    ),
                )
            )
        return items

    def _other_items(self) -> list[tuple[str, str]]:
        items = []
        b, pop = self.best_offer(), self.offers_at("popularity")
        if b is not None:
            text = (
                f"{METHOD_LABELS.get(b['method'], b['method'])}: {fmt.share(b['hit_rate'])} of customers "
                f"bought one of their top {self.k} offers"
            )
            if pop is not None and b["method"] != "popularity":
                text += f" (most popular items: {fmt.share(pop['hit_rate'])})"
            items.append(("Next best offer", text))
        s = self.send_rows()
        if s is not None:
            m, p = s
            items.append(
                (
                    "Best send time",
                    (
                        f"{fmt.share(m['hit_rate'])} of later opens came within an hour of each customer's "
                        f"own best hour, {fmt.share(p['hit_rate'])} at the population's best hour "
                        f"({self.population_hour:02d}:00)"
                    ),
                )
            )
        if self.triggers is not None and len(self.triggers):
            t = self.triggers.sort_values("rate_ratio", ascending=False).iloc[0]
            items.append(
                (
                    "Strongest trigger",
                    f"{t['label']}: {_iv(t['rate_ratio'], t['rate_ratio_low'], t['rate_ratio_high'], 'ratio')} "
                    "the usual orders of the same customers",
                )
            )
        return items

    def headline(self) -> Headline:
        o = self.overall()
        if o is not None:
            d, lo, hi = (
                o[c]
                for c in (
                    "incremental_conversion",
                    "incremental_conversion_low",
                    "incremental_conversion_high",
                )
            )
            verb = "added" if lo > 0 else ("lost" if hi < 0 else "changed")
            title = (
                f"The {self.experiment} campaign {verb} {fmt.pp(d)} conversion against its holdout"
                + ("" if lo > 0 or hi < 0 else " (not clearly different from no contact)")
            )
            status = "good" if lo > 0 else ("bad" if hi < 0 else None)
        else:
            title, status = "Campaigns: offers, send times and triggers", None
        return Headline(title, tuple(self._campaign_items() + self._other_items()), status)

    # -- KPIs -----------------------------------------------------------------------------------
    def _campaign_kpis(self) -> list[KPI]:
        out, o = [], self.overall()
        if o is None:
            return out
        lv = self.level
        for r in self.effects.itertuples(index=False):
            top = r.group == self.effects.iloc[0]["group"]
            g = None if top else r.group
            out.append(
                KPI(
                    "incremental_conversion",
                    r.incremental_conversion,
                    "Incremental conversion",
                    unit="pp",
                    low=r.incremental_conversion_low,
                    high=r.incremental_conversion_high,
                    group=g,
                    n=r.customers,
                    higher_is_better=True,
                    topic="incrementality",
                    headline=top,
                    level=lv,
                )
            )
            out.append(
                KPI(
                    "incremental_revenue_per_customer",
                    r.incremental_revenue_per_customer,
                    "Incremental revenue per contacted customer",
                    unit="money",
                    low=r.incremental_revenue_per_customer_low,
                    high=r.incremental_revenue_per_customer_high,
                    group=g,
                    n=r.customers,
                    higher_is_better=True,
                    currency=self.currency or None,
                    topic="incrementality",
                    headline=top,
                    level=lv,
                )
            )
        out.append(
            KPI(
                "incremental_conversions",
                o["incremental_conversions"],
                "Extra conversions from the campaign",
                unit="count",
                low=o["incremental_conversions_low"],
                high=o["incremental_conversions_high"],
                higher_is_better=True,
                topic="incrementality",
                level=lv,
            )
        )
        return out

    def _uplift_kpis(self) -> list[KPI]:
        out = []
        if self.uplift is not None:
            for r in self.uplift.methods.itertuples(index=False):
                best = r.method == self.uplift.best
                out.append(
                    KPI(
                        "qini_coefficient",
                        r.qini,
                        "Qini coefficient of the uplift ranking (0 = random, 1 = perfect)",
                        unit="number",
                        low=r.qini_low,
                        high=r.qini_high,
                        group=None if best else METHOD_LABELS[r.method],
                        higher_is_better=True,
                        topic="targeting",
                        level=self.level,
                    )
                )
        p = self.profit_policy()
        if p is not None:
            out.append(
                KPI(
                    "share_to_target",
                    p["share_contacted"],
                    "Share of customers worth contacting",
                    unit="share",
                    topic="targeting",
                    headline=True,
                )
            )
            for r in self.policies.itertuples(index=False):
                out.append(
                    KPI(
                        "incremental_profit_per_1000",
                        r.profit_per_1000,
                        "Incremental profit per 1,000 customers",
                        unit="money",
                        low=r.profit_per_1000_low,
                        high=r.profit_per_1000_high,
                        group=r.label,
                        higher_is_better=True,
                        currency=self.currency or None,
                        topic="targeting",
                        headline=r.policy == "profit",
                        level=self.level,
                    )
                )
        return out

    def _offer_kpis(self) -> list[KPI]:
        out = []
        if self.offers is not None:
            for r in self.offers[self.offers["k"] == self.k].itertuples(index=False):
                for name, label in (("hit_rate", "Hit rate"), ("recall", "Recall"), ("map", "MAP")):
                    out.append(
                        KPI(
                            f"offer_{name}_at_k",
                            getattr(r, name),
                            f"{label} of the top {self.k} offers",
                            unit="share" if name != "map" else "number",
                            low=getattr(r, f"{name}_low"),
                            high=getattr(r, f"{name}_high"),
                            group=r.label,
                            n=r.customers,
                            higher_is_better=True,
                            topic="next best offer",
                            headline=name == "hit_rate" and r.method == self.best_offer()["method"],
                            level=self.level,
                        )
                    )
        return out

    def _other_kpis(self) -> list[KPI]:
        out = self._offer_kpis()
        s = self.send_rows()
        if s is not None:
            m, _ = s
            out.append(
                KPI(
                    "send_time_hit_rate",
                    m["hit_rate"],
                    "Later opens within an hour of the recommended hour",
                    unit="share",
                    low=m["hit_rate_low"],
                    high=m["hit_rate_high"],
                    n=int(m["customers"]),
                    higher_is_better=True,
                    topic="send time",
                    headline=True,
                    level=self.level,
                )
            )
            out.append(
                KPI(
                    "send_time_gain",
                    m["gain_vs_population"],
                    "Gain over the population's best hour",
                    unit="pp",
                    low=m["gain_low"],
                    high=m["gain_high"],
                    n=int(m["customers"]),
                    higher_is_better=True,
                    topic="send time",
                    level=self.level,
                )
            )
        if self.triggers is not None:
            for r in self.triggers.itertuples(index=False):
                out.append(
                    KPI(
                        "trigger_rate_ratio",
                        r.rate_ratio,
                        "Orders around the trigger against usual",
                        unit="ratio",
                        low=r.rate_ratio_low,
                        high=r.rate_ratio_high,
                        group=r.label,
                        n=r.customers,
                        higher_is_better=True,
                        topic="triggers",
                        level=self.level,
                        headline=r.trigger
                        == self.triggers.sort_values("rate_ratio").iloc[-1]["trigger"],
                    )
                )
        for name, df in self.exports.items():
            out.append(
                KPI(
                    "export_rows",
                    len(df),
                    "Rows in the CRM list",
                    unit="count",
                    group=name.replace("_", " "),
                    topic="exports",
                )
            )
        return out

    def kpis(self) -> list[KPI]:
        """Incremental effects (overall and per segment), uplift ranking quality, targeting
        profit per policy, next-best-offer accuracy, send-time hit rate, trigger rate ratios and
        the size of each CRM list."""
        return self._campaign_kpis() + self._uplift_kpis() + self._other_kpis()
