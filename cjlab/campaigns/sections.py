"""The sections of the campaign analysis, each from the tables it needs (or a skip sentence).

Every function takes the contract tables (pandas, DuckDB or Spark frames: raw rows are
aggregated through :mod:`cjlab.features`), the options and the ``skipped`` dict, and returns the
fields of :class:`~cjlab.campaigns.results.CampaignAnalysis` it computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from cjlab import features as ft
from cjlab.campaigns.exports import consented
from cjlab.campaigns.incrementality import incremental_effects
from cjlab.campaigns.inputs import CampaignData, CampaignInputError, campaign_frame
from cjlab.campaigns.offers import evaluate_offers, make_recommender
from cjlab.campaigns.recommenders import AssociationRules
from cjlab.campaigns.sendtime import WEEKDAYS, SendTimeModel, evaluate_send_time
from cjlab.campaigns.targeting import compare_policies, fit_uplift
from cjlab.campaigns.triggers import HOLIDAYS, event_study, inactivity_repurchase
from cjlab.features.campaigns import engagement_hours, item_purchases

NO_EXPERIMENT = (
    "Incrementality and uplift targeting need a campaign with a random control "
    "group: the experiment_exposures table with a holdout variant."
)
MIN_UNITS = 200


def _values(table: Any, col: str) -> bool:
    if table is None or not ft.has(table, col):
        return False
    return bool(table[col].notna().any()) if isinstance(table, pd.DataFrame) else True


def _churn_label(
    tables: Mapping[str, Any], data: CampaignData, end: pd.Timestamp
) -> pd.Series | None:
    """1 when a unit cancelled after the campaign start (contractual), else when it bought
    nothing after the campaign window (inactivity); None when neither can be told."""
    if not data.joined_customers:
        return None
    cust, orders = tables.get("customers"), tables.get("orders")
    ids = data.frame["unit_id"].astype(str)
    if _values(cust, "cancelled_at"):
        c = ft.to_pandas(cust)[["customer_id", "cancelled_at"]]
        c = c.assign(customer_id=c["customer_id"].astype(str)).set_index("customer_id")[
            "cancelled_at"
        ]
        gone = pd.to_datetime(c).reindex(ids) >= data.start.normalize()
        return pd.Series(gone.to_numpy().astype(float), index=ids)
    if orders is None:
        return None
    after = data.start + pd.Timedelta(days=30)
    if (end - after).days < 30:
        return None
    o = ft.to_pandas(ft.customer_orders(orders, as_of=end))
    last = pd.to_datetime(
        o.assign(customer_id=o["customer_id"].astype(str)).set_index("customer_id")["last_order"]
    )
    return pd.Series(
        (last.reindex(ids).fillna(pd.Timestamp(0)) < after).to_numpy().astype(float), index=ids
    )


def _value(data: CampaignData, o: Any) -> float:
    if o.conversion_value > 0:
        return o.margin * o.conversion_value
    f = data.frame
    conv = f.loc[f["converted"] == 1, "revenue"]
    return float(o.margin * conv.mean()) if len(conv) and conv.mean() > 0 else float(o.margin)


def uplift_section(tables: Mapping[str, Any], o: Any, as_of: pd.Timestamp, skipped: dict) -> dict:
    """Incrementality per segment, uplift models, targeting policies (or skip sentences)."""
    if tables.get("experiment_exposures") is None:
        skipped["incrementality"] = skipped["uplift"] = NO_EXPERIMENT
        return {}
    try:
        data = campaign_frame(tables, o.experiment, o.control, o.treatment, o.outcome_columns)
    except CampaignInputError as exc:
        skipped["incrementality"] = skipped["uplift"] = f"No campaign to evaluate: {exc}."
        return {}
    out: dict[str, Any] = {
        "experiment": data.experiment,
        "control": data.control,
        "treatments": data.treatments,
    }
    out["effects"] = incremental_effects(
        data.frame, o.segment_column, o.level, random_state=o.random_state
    )
    if len(data.frame) < MIN_UNITS or not data.features:
        skipped["uplift"] = (
            f"Uplift targeting needs at least {MIN_UNITS} customers in the campaign "
            "and attributes to tell them apart."
        )
        return out
    churned = _churn_label(tables, data, as_of)
    up = fit_uplift(
        data, o.uplift_methods, o.learner, o.test_share, churned, o.n_boot, o.level, o.random_state
    )
    value = _value(data, o)
    pol, curves = compare_policies(
        up.scores, value, o.contact_cost, o.n_boot, o.level, o.random_state
    )
    out.update(
        uplift=up,
        policies=pol,
        profit_curves=curves,
        value_per_conversion=value,
        contact_cost=o.contact_cost,
        margin=o.margin,
    )
    if "churn" not in up.scores:
        skipped["churn_policy"] = (
            "Targeting by churn risk is not compared: that needs the customers' "
            "cancellations or their orders after the campaign."
        )
    targets = up.all_scores.rename(columns={"unit_id": "customer_id"})
    targets = targets.assign(expected_profit=targets["uplift"] * value - o.contact_cost)
    targets = targets[targets["expected_profit"] > 0].sort_values(
        "expected_profit", ascending=False
    )
    out["_targets"] = targets.reset_index(drop=True)
    return out


#: columns of orders that name what was bought, finest first (``item=""`` takes the first present)
ITEM_COLUMNS = ("product", "product_id", "sku", "product_category")


def offers_section(tables: Mapping[str, Any], o: Any, as_of: pd.Timestamp, skipped: dict) -> dict:
    orders = tables.get("orders")
    item = o.item or next((c for c in ITEM_COLUMNS if _values(orders, c)), "product_category")
    if not _values(orders, item):
        skipped["offers"] = (
            f"The next best offer needs the {item} column of orders (what each customer bought)."
        )
        return {}
    o = replace(o, item=item)
    cutoff = (as_of - pd.Timedelta(days=o.test_days)).normalize()
    train = ft.to_pandas(item_purchases(orders, o.item, as_of=cutoff))
    test = ft.to_pandas(item_purchases(orders, o.item, as_of=as_of, after=cutoff))
    if train["item"].nunique() < 3:
        skipped["offers"] = "The next best offer needs at least three different items bought."
        return {}
    ks = sorted({1, 2, 3, 5, int(o.k)} & set(range(1, train["item"].nunique())) | {1})
    table, n = evaluate_offers(
        train, test, o.offer_methods, ks, o.n_boot, o.level, o.random_state, o.min_support
    )
    if n == 0:
        skipped["offers"] = (
            f"No customer bought a new item in the last {o.test_days} days, so the "
            "offers cannot be checked."
        )
        return {}
    best = (
        table[table["k"] == table["k"].max()].sort_values("map", ascending=False).iloc[0]["method"]
    )
    allp = ft.to_pandas(item_purchases(orders, o.item, as_of=as_of))
    rules = AssociationRules(o.min_support).fit(allp).rules_
    rec = make_recommender(best, o.min_support).fit(allp).recommend(o.k)
    return {
        "offers": table,
        "offer_customers": n,
        "k": int(o.k),
        "item": o.item,
        "pairs": rules,
        "cutoff": str(cutoff.date()),
        "_offers": rec.assign(method=best),
    }


def send_time_section(
    tables: Mapping[str, Any], o: Any, as_of: pd.Timestamp, skipped: dict
) -> dict:
    tp = tables.get("touchpoints")
    if tp is None:
        skipped["send_time"] = (
            "The best send time needs the touchpoints table with e-mail opens or clicks."
        )
        return {}
    counts = ft.to_pandas(engagement_hours(tp, as_of=as_of))
    if counts["n"].sum() < 100:
        skipped["send_time"] = (
            "The best send time needs e-mail opens or clicks in the touchpoints "
            "(channel email, a touchpoint named like open or click)."
        )
        return {}
    cutoff = (as_of - pd.Timedelta(days=o.test_days)).normalize()
    groups = None
    cust = tables.get("customers")
    if o.send_time_by and _values(cust, o.send_time_by):
        c = ft.to_pandas(cust)
        groups = c.set_index("customer_id")[o.send_time_by]
    train = ft.to_pandas(engagement_hours(tp, as_of=cutoff))
    test = ft.to_pandas(engagement_hours(tp, as_of=as_of, after=cutoff))
    ev = (
        evaluate_send_time(
            SendTimeModel(o.min_engagements).fit(train, groups),
            test,
            o.tolerance_hours,
            (1, o.min_engagements),
            o.n_boot,
            o.level,
            o.random_state,
        )
        if len(train)
        else pd.DataFrame()
    )
    model = SendTimeModel(o.min_engagements).fit(counts, groups)
    prof = counts.groupby(["weekday", "hour"])["n"].sum().unstack(fill_value=0)
    prof = prof.reindex(index=range(7), columns=range(24), fill_value=0)
    prof.index = list(WEEKDAYS)
    out = {
        "population_hour": model.population_hour_,
        "send_kappa": model.hour_.kappa,
        "hour_profile": prof / max(prof.to_numpy().sum(), 1),
        "_schedule": model.recommend(),
    }
    if ev.empty:
        skipped["send_time_check"] = (
            f"No e-mail engagement in the last {o.test_days} days to check "
            "the recommended hours against."
        )
    else:
        out["send_time"] = ev
    return out


def triggers_section(tables: Mapping[str, Any], o: Any, as_of: pd.Timestamp, skipped: dict) -> dict:
    orders, cust = tables.get("orders"), tables.get("customers")
    if orders is None:
        skipped["triggers"] = skipped["inactivity"] = "Trigger campaigns need the orders table."
        return {}
    names = [
        t
        for t in o.triggers
        if t in HOLIDAYS
        or t == "first_purchase_anniversary"
        or (t == "birthday" and _values(cust, "birth_date"))
    ]
    missing = [t for t in o.triggers if t not in names]
    if "birthday" in missing:
        skipped["birthday"] = "The birthday trigger needs the birth_date column of customers."
    summary, tiers = event_study(
        orders,
        cust,
        as_of,
        names,
        HOLIDAYS,
        o.window_days,
        o.baseline_offsets,
        o.level,
        o.n_boot,
        o.random_state,
    )
    out = {
        "inactivity": inactivity_repurchase(
            orders, as_of, o.inactivity_days, o.inactivity_window, o.level
        )
    }
    if summary.empty:
        skipped["triggers"] = (
            "No customer has repeat purchases in the windows around a trigger "
            "(the data may cover less than a year)."
        )
    else:
        out.update(triggers=summary, trigger_tiers=tiers)
    return out


def export_lists(tables: Mapping[str, Any], parts: dict, skipped: dict) -> dict[str, pd.DataFrame]:
    """The consenting customers' lists (uplift targets, offers, send-time schedule)."""
    cust = tables.get("customers")
    cust = None if cust is None or not _values(cust, "marketing_opt_in") else ft.to_pandas(cust)
    lists = {
        "uplift_targets": parts.pop("_targets", None),
        "next_best_offers": parts.pop("_offers", None),
        "send_time_schedule": parts.pop("_schedule", None),
    }
    lists = {k: v for k, v in lists.items() if v is not None and len(v)}
    if not lists:
        skipped["exports"] = "No customer list to export: no section produced one."
        return {}
    if cust is None:
        skipped["exports"] = (
            "No customer list is exported: that needs the marketing_opt_in column of "
            "customers (consent to be contacted)."
        )
        return {}
    out = {k: consented(v, cust) for k, v in lists.items()}
    if "send_time_schedule" in out:
        out["send_time_schedule"] = out["send_time_schedule"][
            ["customer_id", "day", "hour", "probability", "engagements", "basis"]
        ]
    return {k: v for k, v in out.items() if v is not None}


def truth_check(truth: Mapping[str, Any] | None, a: Mapping[str, Any]) -> pd.DataFrame | None:
    """Planted vs found on the demo company (analysts' section)."""
    camp = (truth or {}).get("campaigns")
    if not camp:
        return None
    rows = []
    up = a.get("uplift")
    if up is not None and a.get("experiment") == camp["uplift"]["experiment"]:
        rows.append(
            (
                "Segments by uplift",
                ", ".join(camp["uplift"]["rank"]),
                ", ".join(up.segments["segment"]),
            )
        )
    trig = a.get("triggers")
    if trig is not None:
        t = trig.set_index("trigger")
        for name in ("birthday", "first_purchase_anniversary"):
            if name in t.index:
                want = camp["triggers"][name]["expected_rate_ratio"]
                rows.append(
                    (
                        f"{t.loc[name, 'label']}: rate ratio",
                        f"{want:.2f}",
                        f"{t.loc[name, 'rate_ratio']:.2f} ({t.loc[name, 'rate_ratio_low']:.2f} to "
                        f"{t.loc[name, 'rate_ratio_high']:.2f})",
                    )
                )
    sched = a.get("_schedule")
    if sched is not None and len(sched):
        hours = camp["send_time"]["segment_hour"]
        own = sched[sched["basis"] == "own history"]["hour"].value_counts()
        rows.append(
            (
                "Typical open hours by segment (most recommended hours)",
                ", ".join(f"{s.replace('_', ' ')} {h:02d}:00" for s, h in hours.items()),
                ", ".join(f"{int(h):02d}:00" for h in own.index[:6]),
            )
        )
    return pd.DataFrame(rows, columns=["check", "planted", "found"]) if rows else None


def hours_matching(schedule: pd.DataFrame, planted: pd.Series, tolerance: int = 1) -> float:
    """Share of customers whose recommended hour is within ``tolerance`` of the planted one."""
    s = schedule.set_index("customer_id")["hour"]
    p = planted.reindex(s.index)
    d = (s - p).abs()
    return float(np.mean(np.minimum(d, 24 - d) <= tolerance))
