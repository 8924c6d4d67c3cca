"""The steps of the churn analysis that :func:`cjlab.churn.analysis.analyse` chains.

Each step takes aggregated per-customer frames (never raw tables: those go through
:mod:`cjlab.features` and :mod:`cjlab.churn.frames`) and returns results plus, where its
inputs are missing, the sentence for the report (``skipped``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjlab import features as ft
from cjlab.churn.clv import CLVError, CLVModel, holdout_by_frequency
from cjlab.churn.diagnostics import PurchaseModelCheck
from cjlab.churn.drivers import (
    DRIVER_GROUPS,
    driver_importance,
    partial_dependence_table,
    top_reasons,
)
from cjlab.churn.frames import FEATURE_DESCRIPTIONS, ChurnDataError, has_cancellations
from cjlab.churn.model import MODELS, ChurnModel
from cjlab.churn.retention import KMResult, kaplan_meier
from cjlab.churn.targeting import (
    at_risk_list,
    best_cutoff,
    consent,
    profit_curve,
    risk_value_segment,
)
from cjlab.features.btyd import rfm_summary

__all__ = [
    "CLVResult",
    "choose_model",
    "clv_values",
    "describe_columns",
    "drivers",
    "reason_features",
    "refit",
    "retention",
    "targeting",
]

#: a representative column per driver group, for partial dependence plots and reasons
DRIVER_COLUMN = {
    "support_tickets": "support_per_year",
    "promo_share": "promo_share",
    "app_share": "app_share",
    "mobile_share": "mobile_share",
    "satisfaction": "nps_last",
    "purchase_activity": "recency_days",
    "spend": "spend_365d",
    "engagement": "touch_90d",
}


@dataclass(frozen=True, eq=False)
class CLVResult:
    """The purchase and spend models, their check, and the calibration/holdout comparison."""

    model: CLVModel
    check: PurchaseModelCheck
    holdout: pd.DataFrame | None
    method: str
    horizon_months: int
    annual_discount_rate: float

    @property
    def reliable(self) -> bool:
        return self.check.reliable

    @property
    def params(self) -> pd.DataFrame:
        return self.model.params_


def choose_model(comparison: pd.DataFrame, model: str) -> str:
    """``model`` itself, or for ``"best"`` the one with the higher held-out ROC-AUC."""
    if model in MODELS:
        return model
    if model != "best":
        raise ValueError(f"model must be one of {(*MODELS, 'best')}, got {model!r}")
    return str(comparison.sort_values("roc_auc", ascending=False)["model"].iloc[0])


def refit(frames: pd.DataFrame, name: str, fitted: ChurnModel, calibrate: str | None) -> ChurnModel:
    """The chosen model with its tuned hyper-parameters, fitted once on every labelled frame."""
    m = ChurnModel(
        name,
        tune=False,
        calibrate=calibrate,
        random_state=fitted.random_state,
        params=dict(fitted.best_params_),
    )
    return m.fit(frames.drop(columns=["churned"]), frames["churned"])


def describe_columns(columns: str) -> str:
    """``"a, b"`` -> the plain-language meaning of each feature (for report tables)."""
    return "; ".join(FEATURE_DESCRIPTIONS.get(c, c.replace("_", " ")) for c in columns.split(", "))


def drivers(
    model: ChurnModel,
    test: pd.DataFrame,
    n_repeats: int,
    max_rows: int,
    random_state: int,
    groups: Mapping[str, list[str]] | None = DRIVER_GROUPS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grouped permutation importance on the test frame and partial dependence of the top ones."""
    drv = driver_importance(
        model,
        test,
        test["churned"],
        n_repeats=n_repeats,
        groups=groups,
        max_rows=max_rows,
        random_state=random_state,
    )
    drv["meaning"] = drv["columns"].map(describe_columns)
    cols = []
    for g in drv["feature"].head(4):
        c = DRIVER_COLUMN.get(g, g)
        if c in model.numeric_ and c not in cols:
            cols.append(c)
    return drv, partial_dependence_table(model, test, cols[:3], random_state=random_state)


def reason_features(drv: pd.DataFrame, model: ChurnModel, top: int = 6) -> list[str]:
    """The numeric columns standing for the ``top`` drivers (candidates for "top reasons")."""
    cols = [DRIVER_COLUMN.get(g, g) for g in drv["feature"].head(top)]
    return [c for c in dict.fromkeys(cols) if c in model.numeric_]


def targeting(
    scores: pd.DataFrame,
    model: ChurnModel,
    X_now: pd.DataFrame,
    reasons_from: Sequence[str],
    offer_cost: float,
    success_rate: float,
    contact_share: float | None,
    include_no_consent: bool,
    rank_by: str,
    max_reasons: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]:
    """Profit curve over the contact share, its best cut-off, reasons and the contact list.

    ``scores`` holds ``customer_id, churn_probability, value`` (the value kept if a leaver
    stays) for customers still active, aligned with ``X_now``.
    """
    ok = np.ones(len(scores), bool) if include_no_consent else consent(scores)
    curve = profit_curve(
        scores["churn_probability"],
        scores["value"],
        offer_cost,
        success_rate,
        rank_by=rank_by,
        contactable=ok,
    )
    best = best_cutoff(curve)
    scores = scores.copy()
    scores["segment"] = risk_value_segment(scores["churn_probability"], scores["value"])
    # reasons only for the riskiest customers (the ones a CRM team will look at)
    top = np.argsort(-scores["churn_probability"].to_numpy())[:max_reasons]
    reasons = pd.Series("", index=scores.index)
    if len(top) and reasons_from:
        reasons.iloc[top] = top_reasons(
            model, X_now.iloc[top], reasons_from, k=3, reference=X_now
        ).to_numpy()
    scores["top_reasons"] = reasons
    share = float(best["contact_share"]) if contact_share is None else contact_share
    lst = at_risk_list(
        scores,
        offer_cost,
        success_rate,
        contact_share=share,
        include_no_consent=include_no_consent,
        rank_by=rank_by,
        value_col="value",
    )
    if "clv" in lst.columns and np.allclose(lst["clv"], lst["value"]):
        lst = lst.drop(columns="value")  # the value is the CLV: one column
    return scores, curve, best, lst


def clv_values(
    orders: Any,
    end: pd.Timestamp,
    customer_ids: Sequence[Any],
    clv_method: str,
    clv_horizon_months: int,
    annual_discount_rate: float,
    clv_holdout_weeks: int,
    random_state: int,
) -> tuple[CLVResult | None, pd.DataFrame | None, dict[str, str]]:
    """BG/NBD + Gamma-Gamma on every buyer up to ``end``; CLV of ``customer_ids``.

    Returns ``(result, per-customer values, skipped sections)``; ``result`` is ``None`` when
    the models cannot be fitted at all (the reason is in ``skipped["clv"]``).
    """
    skipped: dict[str, str] = {}
    rfm = ft.to_pandas(rfm_summary(orders, end))
    try:
        model = CLVModel(method=clv_method, draws=300, tune=300, random_state=random_state).fit(rfm)
    except CLVError as exc:
        return None, None, {"clv": f"Customer lifetime value is not estimated: {exc}."}
    holdout = None
    if clv_holdout_weeks:
        cal_end = end - pd.Timedelta(weeks=clv_holdout_weeks)
        try:
            rfm_h = ft.to_pandas(rfm_summary(orders, end, calibration_end=cal_end))
            if (rfm_h["frequency"] > 0).sum() < 10:
                raise CLVError("fewer than 10 repeat buyers")
            holdout = holdout_by_frequency(
                rfm_h, CLVModel(method="map").fit(rfm_h, fit_spend=False)
            )
        except CLVError as exc:
            skipped["clv_holdout"] = (
                "The check of the purchase model on a later period is "
                f"skipped: {exc} before the last {clv_holdout_weeks} weeks."
            )
    else:
        skipped["clv_holdout"] = (
            "The check of the purchase model on a later period is switched off."
        )
    now = rfm[rfm["customer_id"].isin(pd.Index(customer_ids))]
    values = model.predict(
        now, horizon_months=clv_horizon_months, annual_discount_rate=annual_discount_rate
    )
    res = CLVResult(
        model=model,
        check=model.check_,
        holdout=holdout,
        method=clv_method,
        horizon_months=clv_horizon_months,
        annual_discount_rate=annual_discount_rate,
    )
    return res, values, skipped


def retention(
    customers: pd.DataFrame, retention_by: Sequence[str], end: Any = None, snapshot: bool = False
) -> tuple[dict[str, KMResult], dict[str, str], list[str]]:
    """Kaplan–Meier curves by each of ``retention_by``.

    Default: acquisition channel and contract type where the data have them, and the
    acquisition cohort — except on a snapshot, which holds only the customers of each cohort
    who were still there when the snapshot began (survivors), so cohort curves would flatter.
    """
    if not has_cancellations(customers):
        return (
            {},
            {"retention": "Retention curves need cancellation dates (customers.cancelled_at)."},
            [],
        )
    by = list(retention_by) or [
        c
        for c in ("acquisition_channel", "contract")
        if c in customers.columns and customers[c].nunique() > 1
    ]
    if not retention_by and not snapshot:
        by.append("cohort")
    out, notes = {}, []
    for b in by:
        if b == "cohort" or b in customers.columns:
            try:
                out[b] = kaplan_meier(customers, by=b, observation_end=end, min_customers=30)
            except (ValueError, ChurnDataError) as exc:
                notes.append(f"retention by {b.replace('_', ' ')} skipped: {exc}")
        else:
            notes.append(f"retention by {b!r} skipped: customers has no such column")
    return out, {}, notes
