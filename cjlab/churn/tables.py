"""The tables a churn report shows: headers in words, features in words, money with its currency.

Each function takes a :class:`~cjlab.churn.result.ChurnAnalysis` (or one of its results) and
returns ``(frame, formats)`` for :func:`cjlab.notebook.table` (``rd.table(*tables.models(a),
caption=...)``). Figures are formatted as in the headline and ``kpis.json`` (:mod:`cjlab.formatting`).

Examples
--------
>>> feature_words("support_per_year"), feature_words("nps_last; tenure_days")
('support tickets per year of tenure', 'last NPS answer (0-10); days since first seen')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.churn.frames import FEATURE_DESCRIPTIONS

if TYPE_CHECKING:
    from cjlab.churn.result import ChurnAnalysis
    from cjlab.churn.retention import KMResult

Table = tuple[pd.DataFrame, dict[str, str]]
MODEL_NAMES = {"logit": "logistic regression", "hgb": "gradient boosting"}
#: Driver groups (several related features scrambled together) in words.
DRIVER_WORDS = {
    "support_tickets": "support tickets",
    "promo_share": "promotions and discounts",
    "app_share": "app use",
    "mobile_share": "mobile web use",
    "satisfaction": "satisfaction (survey answers)",
    "purchase_activity": "purchase activity",
    "spend": "spend",
    "engagement": "engagement (touchpoints, e-mail)",
    "tenure_days": "tenure (days as a customer)",
    "marketing_opt_in": "marketing consent",
}


def feature_words(names: Any) -> str:
    """Features (one, or several joined by ``"; "``) as a reader reads them."""
    if names is None or (not isinstance(names, str) and pd.isna(names)):
        return ""
    return "; ".join(
        FEATURE_DESCRIPTIONS.get(n.strip(), DRIVER_WORDS.get(n.strip(), n.strip().replace("_", " ")))
        for n in str(names).split(";")
        if n.strip()
    )


def models(a: ChurnAnalysis) -> Table:
    """The early-warning models on held-out customers."""
    c = a.comparison
    frame = pd.DataFrame(
        {
            "Model": c["model"].map(MODEL_NAMES).fillna(c["model"]),
            "Ranking quality (ROC-AUC, interval)": [
                fmt.interval(v, lo, hi, "number", digits=3)
                for v, lo, hi in zip(c["roc_auc"], c["roc_auc_low"], c["roc_auc_high"])
            ],
            "Precision over recall (PR-AUC)": c["pr_auc"].map(fmt.plain),
            "Probability error (Brier score)": c["brier"].map(fmt.plain),
            "Riskiest 10 % against the average": c["top_decile_lift"].map(fmt.ratio),
            "Used": (c["model"] == a.model_name).map({True: "yes", False: ""}),
        }
    )
    return frame, {}


def drivers(a: ChurnAnalysis, n: int = 10) -> Table:
    """The strongest drivers: how much ranking quality is lost when each is scrambled."""
    d = a.drivers.head(n)
    frame = pd.DataFrame(
        {
            "Rank": d["rank"],
            "Driver": d["feature"].map(lambda f: DRIVER_WORDS.get(f, str(f).replace("_", " "))),
            "Drop in ranking quality (ROC-AUC)": d["importance"].map(lambda v: fmt.plain(v, 3)),
            "Spread over shuffles (±)": d["std"].map(lambda v: fmt.plain(v, 3)),
            "What it covers": d["meaning"],
        }
    )
    return frame, {"Rank": "count"}


def purchase_model_check(a: ChurnAnalysis) -> Table:
    """Can the purchase model behind CLV be trusted? (check, value, verdict)."""
    t = a.clv.check.table()
    return t.rename(columns={"check": "Check", "value": "Value", "verdict": "Verdict"}), {}


def clv_parameters(a: ChurnAnalysis) -> Table:
    """For analysts: the fitted parameters of the purchase and spend models."""
    p = a.clv.params
    frame = pd.DataFrame(
        {
            "Model": p["model"].map({"transactions": "purchases", "spend": "spend per purchase"})
            .fillna(p["model"]),
            "Parameter": p["parameter"],
            "Estimate": p["mean"],
            "Interval": [
                fmt.MISSING if pd.isna(lo) else f"{fmt.plain(lo, 3)} to {fmt.plain(hi, 3)}"
                for lo, hi in zip(p["low"], p["high"])
            ],
        }
    )
    return frame, {"Estimate": "float3"}


def retention(km: KMResult) -> Table:
    """Median lifetime (with its interval, or "not reached") and the share kept after a year."""
    s = km.summary

    def median(v, lo, hi) -> str:
        if pd.isna(v) or v == float("inf"):
            return "not reached (more than half still customers)"
        return fmt.interval(v, lo, hi, "days", digits=0)

    frame = pd.DataFrame(
        {
            "Group": s["group"].astype(str).str.replace("_", " "),
            "Customers": s["customers"],
            "Left": s["cancelled"],
            "Median lifetime": [
                median(v, lo, hi)
                for v, lo, hi in zip(s["median_days"], s["median_low"], s["median_high"])
            ],
            "Still a customer after a year": s["retention_1y"],
        }
    )
    return frame, {"Customers": "count", "Left": "count", "Still a customer after a year": "share"}


def segments(a: ChurnAnalysis) -> Table:
    """Customers by risk/value segment: how many, how many to contact, risk, value at risk."""
    g = a.segment_summary()
    frame = pd.DataFrame(
        {
            "Segment": g["segment"],
            "Customers": g["customers"],
            "To contact": g["to_contact"],
            "Mean churn probability": g["mean_probability"],
            "Value at risk": g["value_at_risk"],
        }
    )
    return frame, {
        "Customers": "count",
        "To contact": "count",
        "Mean churn probability": "share",
        "Value at risk": "money",
    }


def contacts(a: ChurnAnalysis, n: int = 20) -> Table:
    """The first ``n`` customers to contact, without their ids (they are in the CRM file)."""
    top = a.contact_preview(n)
    value = "clv" if "clv" in top.columns else "value"
    frame = pd.DataFrame(
        {
            "Churn probability": top["churn_probability"],
            "Customer lifetime value" if value == "clv" else "Customer value": top[value],
            "Value at risk": top["value_at_risk"],
            "Main reasons for the risk": top["top_reasons"].map(feature_words),
            "Segment": top["segment"],
        }
    ).reset_index(drop=True)
    money = "Customer lifetime value" if value == "clv" else "Customer value"
    return frame, {"Churn probability": "share", money: "money", "Value at risk": "money"}


def run_facts(a: ChurnAnalysis) -> Table:
    """For analysts: sizes and timings of this run."""
    return a.run_facts().rename(columns={"fact": "Fact", "value": "Value"}), {}


def truth_check(a: ChurnAnalysis) -> Table:
    """For analysts, on the demo company: the planted churn drivers and the model's rank of each."""
    t = a.truth_check
    frame = pd.DataFrame(
        {
            "Planted rank": t["planted_rank"],
            "Driver": t["driver"].map(feature_words),
            "Rank found": t["found_rank"],
            "Planted effect": t["planted_effect"],
        }
    )
    return frame, {"Planted effect": "{:+.2f}"}


__all__ = [
    "clv_parameters",
    "contacts",
    "drivers",
    "feature_words",
    "models",
    "purchase_model_check",
    "retention",
    "run_facts",
    "segments",
    "truth_check",
]
