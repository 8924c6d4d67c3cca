"""The whole churn analysis in one call (used by notebooks/03_churn.ipynb and the benchmark).

:func:`analyse_churn` works on the contract tables (event history: orders, touchpoints ...):

1. frames of point-in-time features and labels at several cut-offs, one horizon apart;
2. logistic regression and gradient boosting tuned on the earlier cut-offs (time-aware CV) and
   judged out of time on the latest labelled cut-off;
3. drivers (grouped permutation importance, partial dependence) of the chosen model;
4. CLV per customer from the orders (BG/NBD + Gamma-Gamma, PyMC-Marketing);
5. scores for today's customers, profit curve, at-risk list, Kaplan–Meier retention.

:func:`analyse_churn_snapshot` does steps 2–5 for a one-row-per-customer snapshot such as IBM's
telco file (:mod:`cjlab.data.adapters`), with a random stratified hold-out instead of cut-offs
and the remaining contract value (monthly charge × horizon, discounted) as customer value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjlab.churn.clv import CLVModel, holdout_by_frequency
from cjlab.churn.features import (
    ChurnDataError,
    churn_features,
    churn_frames,
    data_end,
    rolling_cutoffs,
)
from cjlab.churn.model import (
    DRIVER_GROUPS,
    MODELS,
    ChurnModel,
    Evaluation,
    compare_models,
    driver_importance,
    partial_dependence_table,
    top_reasons,
)
from cjlab.churn.retention import KMResult, kaplan_meier
from cjlab.churn.rfm import rfm_summary
from cjlab.churn.targeting import at_risk_list, best_cutoff, profit_curve, risk_value_segment

__all__ = ["ChurnAnalysis", "analyse_churn", "analyse_churn_snapshot", "analyse_source"]

#: a representative column per driver group, for partial dependence plots
DRIVER_COLUMN = {"support_tickets": "support_per_year", "promo_share": "promo_share",
                 "app_share": "app_share", "mobile_share": "mobile_share",
                 "satisfaction": "nps_last", "purchase_activity": "recency_days",
                 "spend": "spend_365d", "engagement": "touch_90d"}


@dataclass
class ChurnAnalysis:
    """Everything the churn report shows."""

    definition: str
    horizon_days: float
    cutoffs: list[pd.Timestamp]
    score_date: pd.Timestamp
    comparison: pd.DataFrame
    model_name: str
    model: ChurnModel
    evaluation: Evaluation
    drivers: pd.DataFrame
    partial_dependence: pd.DataFrame
    scores: pd.DataFrame            # today's customers: probability, CLV, reasons, segment ...
    profit: pd.DataFrame
    best: pd.Series
    action_list: pd.DataFrame
    retention: dict[str, KMResult] = field(default_factory=dict)
    clv_model: CLVModel | None = None
    clv_params: pd.DataFrame | None = None
    clv_holdout: pd.DataFrame | None = None
    holdout_rate: float = np.nan
    n_train: int = 0
    n_test: int = 0
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def headline_title(self) -> str:
        """One sentence with the main finding."""
        k = self.kpis()
        who = ("of today's customers are expected to leave within "
               f"{self.horizon_days:g} days" if self.cutoffs
               else "of the held-out customers are predicted to leave")
        return (f"{k['expected_churn_rate']:.1%} {who} — {k['revenue_at_risk']:,.0f} of customer "
                "value at risk")

    def kpis(self) -> dict[str, float]:
        """Headline figures: AUC, churn rate, customers at risk, revenue at risk, mean CLV."""
        s = self.scores
        return {"roc_auc": self.evaluation.roc_auc, "roc_auc_low": self.evaluation.roc_auc_ci[0],
                "roc_auc_high": self.evaluation.roc_auc_ci[1],
                "churn_rate": self.evaluation.base_rate,
                "expected_churn_rate": float(s["churn_probability"].mean()),
                "customers_scored": len(s),
                "customers_at_risk": int(self.action_list["contact"].sum()),
                "revenue_at_risk": float((s["churn_probability"] * s["clv"]).sum()),
                "mean_clv": float(s["clv"].mean()),
                "best_contact_share": float(self.best["contact_share"]),
                "best_profit": float(self.best["profit"])}


def _choose(comparison: pd.DataFrame, model: str) -> str:
    if model in MODELS:
        return model
    if model != "best":
        raise ValueError(f"model must be one of {(*MODELS, 'best')}, got {model!r}")
    return str(comparison.sort_values("roc_auc", ascending=False)["model"].iloc[0])


def _refit(train_all: pd.DataFrame, name: str, fitted: ChurnModel, calibrate: str | None) -> ChurnModel:
    """The chosen model with its tuned hyper-parameters, fitted once on every labelled frame."""
    m = ChurnModel(name, tune=False, calibrate=calibrate, random_state=fitted.random_state,
                   params=dict(fitted.best_params_))
    return m.fit(train_all.drop(columns=["churned"]), train_all["churned"])


def describe_columns(columns: str) -> str:
    """``"a, b"`` -> the plain-language meaning of each feature (for report tables)."""
    from cjlab.churn.features import FEATURE_DESCRIPTIONS

    return "; ".join(FEATURE_DESCRIPTIONS.get(c, c.replace("_", " ")) for c in columns.split(", "))


def _drivers(model: ChurnModel, test: pd.DataFrame, groups: Mapping[str, list[str]] | None,
             n_repeats: int, max_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    drv = driver_importance(model, test, test["churned"], n_repeats=n_repeats,
                            groups=groups, max_rows=max_rows)
    drv["meaning"] = drv["columns"].map(describe_columns)
    cols = []
    for g in drv["feature"].head(4):
        c = DRIVER_COLUMN.get(g, g)
        if c in model.numeric_ and c not in cols:
            cols.append(c)
    pdp = partial_dependence_table(model, test, cols[:3])
    return drv, pdp


def _targeting(scores: pd.DataFrame, model: ChurnModel, X_now: pd.DataFrame, reason_features: list[str],
               offer_cost: float, success_rate: float, contact_share: float | None,
               include_no_consent: bool, rank_by: str, max_reasons: int):
    consent = (scores["marketing_opt_in"].astype("boolean").fillna(False).to_numpy(dtype=bool)
               if "marketing_opt_in" in scores.columns else np.ones(len(scores), bool))
    ok = np.ones(len(scores), bool) if include_no_consent else consent
    curve = profit_curve(scores["churn_probability"], scores["clv"], offer_cost, success_rate,
                         rank_by=rank_by, contactable=ok)
    best = best_cutoff(curve)
    scores = scores.copy()
    scores["segment"] = risk_value_segment(scores["churn_probability"], scores["clv"])
    # reasons only for the riskiest customers (the ones a CRM team will look at)
    top = np.argsort(-scores["churn_probability"].to_numpy())[:max_reasons]
    reasons = pd.Series("", index=scores.index)
    if len(top) and reason_features:
        reasons.iloc[top] = top_reasons(model, X_now.iloc[top], reason_features, k=3,
                                        reference=X_now).to_numpy()
    scores["top_reasons"] = reasons
    lst = at_risk_list(scores, offer_cost, success_rate,
                       contact_share=contact_share if contact_share is not None
                       else float(best["contact_share"]),
                       include_no_consent=include_no_consent, rank_by=rank_by)
    return scores, curve, best, lst


def analyse_churn(tables: Mapping[str, pd.DataFrame], definition: str = "contractual",
                  horizon_days: float = 90, cutoff: Any = None, n_cutoffs: int = 4,
                  model: str = "best", calibrate: str | None = None,
                  offer_cost: float = 10.0, success_rate: float = 0.25,
                  clv_horizon_months: int = 12, annual_discount_rate: float = 0.1,
                  clv_method: str = "map", clv_draws: int = 300, clv_holdout_weeks: int = 26,
                  contact_share: float | None = None,
                  include_no_consent: bool = False, rank_by: str = "value_at_risk",
                  observation_end: Any = None, n_boot: int = 200, n_repeats: int = 5,
                  max_rows_importance: int = 20000, max_reasons: int = 5000,
                  retention_by: tuple[str, ...] = ("acquisition_channel", "cohort"),
                  random_state: int = 0) -> ChurnAnalysis:
    """Run the churn analysis on contract tables (see module docstring).

    Parameters
    ----------
    tables : ``customers`` and ``orders`` (required), ``touchpoints`` and ``survey_responses``
        (optional) as pandas DataFrames.
    definition : ``"contractual"`` or ``"inactivity"``.
    horizon_days : churn horizon after each cut-off.
    cutoff : the cut-off on which models are judged (default: the latest one with a complete
        label window); training cut-offs lie 1, 2, ... horizons before it.
    n_cutoffs : number of cut-offs (the last one is the test).
    model : ``"logit"``, ``"hgb"`` or ``"best"`` (higher out-of-time ROC-AUC).
    calibrate : optional probability calibration (``"sigmoid"``/``"isotonic"``).
    offer_cost, success_rate : retention offer economics for the profit curve.
    clv_horizon_months, annual_discount_rate, clv_method, clv_draws : CLV settings
        (``clv_method`` ``"map"`` or ``"mcmc"``).
    clv_holdout_weeks : length of the holdout for the calibration/holdout check of the
        purchase model (a separate MAP fit on the data before it; 0 skips the check).
    contact_share : contact this top share (default: the best cut-off of the profit curve).
    include_no_consent : contact customers without marketing consent too (default no).
    rank_by : ``"risk"`` or ``"value_at_risk"`` ordering of the contact list.
    """
    if "orders" not in tables:
        raise ChurnDataError("the churn analysis needs the orders table (for CLV and features)")
    end = pd.Timestamp(observation_end) if observation_end is not None else data_end(tables)
    if cutoff is None:
        cuts = rolling_cutoffs(end, horizon_days, n=n_cutoffs)
    else:
        c = pd.Timestamp(cutoff)
        cuts = [c - pd.Timedelta(days=horizon_days * k) for k in range(n_cutoffs - 1, -1, -1)]
    first = pd.to_datetime(tables["customers"]["first_seen"]).min()
    cuts = [c for c in cuts if c > first + pd.Timedelta(days=30)]
    if len(cuts) < 2:
        raise ChurnDataError(f"need at least two cut-offs of {horizon_days} days inside the data "
                             f"({first.date()} to {end.date()}); use a shorter horizon")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    frames = churn_frames(tables, cuts, horizon_days, definition, observation_end=end)
    timings["features_and_labels"] = time.perf_counter() - t0
    test = frames[frames["cutoff"] == cuts[-1]]
    train = frames[frames["cutoff"] < cuts[-1]]
    notes = []
    t0 = time.perf_counter()
    comparison, fitted, evals = compare_models(train, test, n_boot=n_boot, calibrate=calibrate,
                                               random_state=random_state)
    timings["models_tuned_and_evaluated"] = time.perf_counter() - t0
    name = _choose(comparison, model)
    m, ev = fitted[name], evals[name]
    t0 = time.perf_counter()
    drv, pdp = _drivers(m, test, DRIVER_GROUPS, n_repeats, max_rows_importance)
    timings["drivers"] = time.perf_counter() - t0

    # today's customers: features at the day after the data end, model refitted on all frames
    t0 = time.perf_counter()
    score_date = end.normalize() + pd.Timedelta(days=1)
    final = _refit(frames, name, m, calibrate)
    X_now = churn_features(tables, score_date, definition=definition)
    p_now = final.predict_proba(X_now)[:, 1]
    timings["refit_and_score_today"] = time.perf_counter() - t0
    t0 = time.perf_counter()

    # CLV from the orders (BG/NBD + Gamma-Gamma)
    rfm = rfm_summary(tables["orders"], end)
    clv_model = CLVModel(method=clv_method, draws=clv_draws, tune=clv_draws,
                         random_seed=random_state).fit(rfm)
    clv_holdout = None
    if clv_holdout_weeks:
        cal_end = end - pd.Timedelta(weeks=clv_holdout_weeks)
        rfm_h = rfm_summary(tables["orders"], end, calibration_end=cal_end)
        if (rfm_h["frequency"] > 0).sum() >= 10:
            m_h = CLVModel(method="map").fit(rfm_h, fit_spend=False)
            clv_holdout = holdout_by_frequency(rfm_h, m_h)
        else:
            notes.append("too few repeat buyers before the CLV holdout period: holdout check skipped")
    now_rfm = rfm[rfm["customer_id"].isin(X_now["customer_id"])]
    clv = clv_model.predict(now_rfm, horizon_months=clv_horizon_months,
                            annual_discount_rate=annual_discount_rate)
    timings["clv"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = X_now[["customer_id"] + [c for c in ("marketing_opt_in", "acquisition_channel")
                                      if c in X_now.columns]].copy()
    scores["churn_probability"] = p_now
    scores = scores.merge(clv.rename(columns={"p_alive": "p_alive_bgnbd"}), on="customer_id", how="left")
    missing_clv = scores["clv"].isna().sum()
    if missing_clv:
        notes.append(f"{missing_clv:,} customers without orders up to {end.date()} have CLV 0")
        scores["clv"] = scores["clv"].fillna(0.0)
    reason_features = [DRIVER_COLUMN.get(g, g) for g in drv["feature"].head(6)]
    reason_features = [c for c in reason_features if c in final.numeric_]
    scores, curve, best, lst = _targeting(scores, final, X_now, reason_features, offer_cost,
                                          success_rate, contact_share, include_no_consent, rank_by,
                                          max_reasons)
    timings["targeting"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retention = {}
    cust = tables["customers"]
    if "cancelled_at" in cust.columns:
        buyers = cust[cust["customer_id"].isin(tables["orders"]["customer_id"])]
        for by in ([retention_by] if isinstance(retention_by, str) else retention_by):
            if by == "cohort" or by in buyers.columns:
                retention[by] = kaplan_meier(buyers, by=by, observation_end=end, min_customers=30)
            else:
                notes.append(f"retention by {by!r} skipped: customers has no such column")
    timings["retention"] = time.perf_counter() - t0
    return ChurnAnalysis(definition=definition, horizon_days=horizon_days, cutoffs=list(cuts),
                         score_date=score_date, comparison=comparison, model_name=name, model=m,
                         evaluation=ev, drivers=drv, partial_dependence=pdp, scores=scores,
                         profit=curve, best=best, action_list=lst, retention=retention,
                         clv_model=clv_model, clv_params=clv_model.params_,
                         clv_holdout=clv_holdout, n_train=len(train),
                         n_test=len(test), notes=notes, timings=timings)


def analyse_churn_snapshot(frame: pd.DataFrame, customers: pd.DataFrame | None = None,
                           model: str = "best", calibrate: str | None = None,
                           test_size: float = 0.25, offer_cost: float = 10.0,
                           success_rate: float = 0.25, clv_horizon_months: int = 12,
                           annual_discount_rate: float = 0.1, value_column: str = "monthly_charges",
                           contact_share: float | None = None, include_no_consent: bool = False,
                           rank_by: str = "value_at_risk", n_boot: int = 200, n_repeats: int = 5,
                           retention_by: tuple[str, ...] = ("contract",), random_state: int = 0
                           ) -> ChurnAnalysis:
    """The churn analysis for a one-row-per-customer snapshot (e.g. IBM telco via the adapter).

    Customer value = ``value_column`` (a monthly charge) × ``clv_horizon_months``, discounted
    monthly at ``annual_discount_rate``. When the snapshot has no ``marketing_opt_in`` column,
    consent is not recorded and every customer counts as contactable (a note says so).
    """
    from sklearn.model_selection import train_test_split

    if "churned" not in frame.columns:
        raise ChurnDataError("the snapshot frame needs a 'churned' column (0/1)")
    tr, te = train_test_split(frame, test_size=test_size, stratify=frame["churned"],
                              random_state=random_state)
    comparison, fitted, evals = compare_models(tr, te, n_boot=n_boot, calibrate=calibrate,
                                               random_state=random_state)
    name = _choose(comparison, model)
    m, ev = fitted[name], evals[name]
    drv = driver_importance(m, te, te["churned"], n_repeats=n_repeats)
    drv["meaning"] = drv["columns"].map(describe_columns)
    pdp = partial_dependence_table(m, te, [f for f in drv["feature"] if f in m.numeric_][:3])
    # the scored customers are the held-out ones (the others trained the model)
    scores = te[["customer_id"]].copy()
    scores["churn_probability"] = m.predict_proba(te)[:, 1]
    monthly = (1 + annual_discount_rate) ** (1 / 12) - 1
    annuity = sum(1 / (1 + monthly) ** k for k in range(1, clv_horizon_months + 1))
    scores["clv"] = te[value_column].to_numpy(float) * annuity if value_column in te.columns else 0.0
    notes = ["snapshot data: scored on the held-out customers; value = "
             f"{value_column} over {clv_horizon_months} months, discounted"]
    if "marketing_opt_in" in te.columns:
        scores["marketing_opt_in"] = te["marketing_opt_in"].to_numpy()
    else:
        notes.append("the data record no marketing consent: every customer counts as contactable")
    reason_features = [f for f in drv["feature"].head(6) if f in m.numeric_]
    scores, curve, best, lst = _targeting(scores.reset_index(drop=True), m, te.reset_index(drop=True),
                                          reason_features, offer_cost, success_rate, contact_share,
                                          include_no_consent, rank_by, len(te))
    retention = {}
    if customers is not None:
        for by in ([retention_by] if isinstance(retention_by, str) else retention_by):
            if by == "cohort" or by in customers.columns:
                retention[by] = kaplan_meier(customers, by=by, min_customers=30)
            else:
                notes.append(f"retention by {by!r} skipped: customers has no such column")
    return ChurnAnalysis(definition="contractual (snapshot)", horizon_days=np.nan, cutoffs=[],
                         score_date=pd.NaT, comparison=comparison, model_name=name, model=m,
                         evaluation=ev, drivers=drv, partial_dependence=pdp, scores=scores,
                         profit=curve, best=best, action_list=lst, retention=retention,
                         n_train=len(tr), n_test=len(te), notes=notes)


def analyse_source(data_source: str, **params: Any) -> tuple[ChurnAnalysis, dict | None]:
    """Run the churn analysis on a cjlab data source (see :func:`cjlab.data.open_source`) or on
    IBM's telco snapshot with ``data_source="telco:<path to telco_churn_ibm.csv>"``.

    Returns ``(analysis, truth)``; ``truth`` is the planted ground truth of demo sources, else
    ``None``. Parameters not used by the snapshot analysis are ignored for it.
    """
    import inspect

    if data_source.startswith("telco:"):
        from cjlab.data.adapters import telco_churn_frame, telco_tables

        path = data_source.split(":", 1)[1]
        allowed = inspect.signature(analyse_churn_snapshot).parameters
        kw = {k: v for k, v in params.items() if k in allowed}
        return analyse_churn_snapshot(telco_churn_frame(path), telco_tables(path)["customers"], **kw), None
    from cjlab.data import open_source

    src = open_source(data_source)
    want = ("customers", "orders", "touchpoints", "survey_responses")
    tables = src.load(*[t for t in want if t in src.tables])
    allowed = inspect.signature(analyse_churn).parameters
    kw = {k: v for k, v in params.items() if k in allowed}
    return analyse_churn(tables, **kw), src.truth
