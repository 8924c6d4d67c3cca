"""The churn analysis in one call: :func:`analyse` (contract tables in) and :func:`from_source`.

Two shapes of data:

* **event history** (customers and orders; touchpoints and survey answers optional): frames of
  point-in-time features and labels at several cut-offs one horizon apart
  (:mod:`cjlab.churn.frames`); logistic regression and gradient boosting tuned on the earlier
  cut-offs and judged out of time on the latest; drivers; BG/NBD + Gamma-Gamma CLV from the
  orders with its diagnostics; today's still-active customers scored; profit curve, contact
  list, Kaplan–Meier retention. The churn definition follows the data: contractual when
  ``customers.cancelled_at`` holds values, else inactivity with a horizon derived from the
  gaps between purchases (:func:`cjlab.churn.frames.inactivity_horizon`).
* **customers-only snapshot** with ``cancelled_at`` (one row per customer, IBM's telco file):
  a stratified hold-out instead of cut-offs, every extra customer column a feature,
  out-of-fold scores for the customers still active, remaining contract value
  (``value_column`` × months, discounted) as customer value.

Sections whose inputs are absent land in ``skipped`` with one sentence each.

Examples
--------
>>> from cjlab.data import open_source
>>> a = from_source("demo:n_customers=3000,seed=11", n_boot=50)  # doctest: +SKIP
>>> a.headline().title  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjlab import features as ft
from cjlab.churn import steps
from cjlab.churn.frames import (
    ChurnDataError,
    choose_definition,
    churn_features,
    churn_frames,
    data_end,
    inactivity_horizon,
    rolling_cutoffs,
    snapshot_frame,
)
from cjlab.churn.model import compare_models
from cjlab.churn.result import ChurnAnalysis
from cjlab.results import NotApplicable

__all__ = ["ChurnAnalysis", "analyse", "from_source"]

CONTRACTUAL_HORIZON = 90


def _opt(value: Any) -> Any:
    """Notebook-style "not set" values ("" and negative numbers) as None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return None
    return value


def _horizon(tables, definition: str, horizon_days: int, end: pd.Timestamp) -> tuple[int, str]:
    if horizon_days and horizon_days > 0:
        return int(
            horizon_days
        ), f"horizon {int(horizon_days)} days (set by the horizon_days parameter)"
    if definition == "contractual":
        return CONTRACTUAL_HORIZON, f"horizon {CONTRACTUAL_HORIZON} days (the default)"
    return inactivity_horizon(tables["orders"], end)


def _cutoffs(
    customers: pd.DataFrame, end: pd.Timestamp, horizon: int, cutoff: Any, n_cutoffs: int
) -> list[pd.Timestamp]:
    if cutoff is None:
        cuts = rolling_cutoffs(end, horizon, n=n_cutoffs)
    else:
        c = pd.Timestamp(cutoff).normalize()
        cuts = [c - pd.Timedelta(days=horizon * k) for k in range(n_cutoffs - 1, -1, -1)]
    first = pd.to_datetime(customers["first_seen"]).min()
    return [c for c in cuts if c > first + pd.Timedelta(days=30)]


def _fit_horizon(customers, end, horizon, reason, cutoff, n_cutoffs, user_set: bool):
    """Cut-offs for ``horizon``; a derived horizon too long for two cut-offs is shortened."""
    cuts = _cutoffs(customers, end, horizon, cutoff, n_cutoffs)
    if len(cuts) < 2 and not user_set:
        span = (
            end.normalize() + pd.Timedelta(days=1) - pd.to_datetime(customers["first_seen"]).min()
        ).days
        shorter = 7 * int((span - 31) / 2 // 7)
        if shorter >= 7:
            horizon, reason = (
                shorter,
                (f"{reason}; shortened to {shorter} days so that two cut-offs fit into the data"),
            )
            cuts = _cutoffs(customers, end, horizon, cutoff, n_cutoffs)
    if len(cuts) < 2:
        first = pd.to_datetime(customers["first_seen"]).min()
        raise ChurnDataError(
            f"need at least two cut-offs of {horizon} days inside the data "
            f"({first.date()} to {end.date()}); use a shorter horizon"
        )
    return horizon, reason, cuts


def _skips(tables: Mapping[str, Any], customers: pd.DataFrame) -> dict[str, str]:
    out = {}
    if tables.get("touchpoints") is None:
        out["touchpoint_drivers"] = (
            "Drivers from contacts (support tickets, app use, e-mail "
            "opens) need the touchpoints table."
        )
    survey = tables.get("survey_responses")
    if survey is None or not ft.has(survey, "customer_id"):
        out["survey_drivers"] = (
            "Satisfaction as a driver needs survey answers linked to "
            "customers (survey_responses with customer_id)."
        )
    if "marketing_opt_in" not in customers.columns or customers["marketing_opt_in"].isna().all():
        out["consent"] = (
            "The data record no marketing consent (customers.marketing_opt_in): "
            "every customer counts as contactable."
        )
    return out


def _models(frames: pd.DataFrame, test: pd.DataFrame, train: pd.DataFrame, p: dict) -> dict:
    comparison, fitted, evals = compare_models(
        train,
        test,
        n_boot=p["n_boot"],
        level=p["level"],
        calibrate=p["calibrate"],
        random_state=p["random_state"],
    )
    name = steps.choose_model(comparison, p["model"])
    drv, pdp = steps.drivers(
        fitted[name], test, p["n_repeats"], p["max_rows_importance"], p["random_state"]
    )
    return {
        "comparison": comparison,
        "model_name": name,
        "model": fitted[name],
        "evaluation": evals[name],
        "drivers": drv,
        "partial_dependence": pdp,
        "n_train": len(train),
        "n_test": len(test),
    }


def _value(
    scores: pd.DataFrame, X_now: pd.DataFrame, clv_res, clv_vals, p: dict
) -> tuple[pd.DataFrame, str]:
    """Attach the value kept when a leaver stays: CLV when reliable, else last year's spend."""
    scores = (
        scores.merge(
            clv_vals.rename(columns={"p_alive": "p_alive_bgnbd"}), on="customer_id", how="left"
        )
        if clv_vals is not None
        else scores
    )
    if clv_res is not None and clv_res.reliable:
        scores["clv"] = scores["clv"].fillna(0.0)
        scores["value"] = scores["clv"]
        return scores, (
            f"CLV over {p['clv_horizon_months']} months, discounted at "
            f"{100 * p['annual_discount_rate']:g} % a year"
        )
    scores = scores.drop(columns=[c for c in scores.columns if c.startswith(("clv", "expected_"))])
    spend = X_now.set_index("customer_id")["spend_365d"] if "spend_365d" in X_now else None
    scores["value"] = (
        scores["customer_id"].map(spend).fillna(0.0).to_numpy() if spend is not None else 0.0
    )
    return scores, "spend of the last 365 days"


TARGETING = (
    "offer_cost",
    "success_rate",
    "contact_share",
    "include_no_consent",
    "rank_by",
    "max_reasons",
)
CLV = (
    "clv_method",
    "clv_horizon_months",
    "annual_discount_rate",
    "clv_holdout_weeks",
    "random_state",
)


class _Clock:
    """Seconds per step of the analysis (shown to analysts, never in the headline)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name], self._t = now - self._t, now


def _history_frames(tables: Mapping[str, Any], customers: pd.DataFrame, p: dict) -> dict:
    """Definition, horizon, cut-offs and the stacked frames of features and labels."""
    definition, why = choose_definition(tables, p["churn_definition"])
    end = p["observation_end"]
    end = pd.Timestamp(end) if end is not None else data_end(tables)
    horizon, h_why = _horizon(tables, definition, p["horizon_days"], end)
    horizon, h_why, cuts = _fit_horizon(
        customers, end, horizon, h_why, p["cutoff"], p["n_cutoffs"], bool(p["horizon_days"])
    )
    active = horizon if definition == "inactivity" else None
    frames = churn_frames(
        tables, cuts, horizon, definition, observation_end=end, active_days=active
    )
    return {
        "churn_definition": definition,
        "definition_reason": why,
        "horizon_days": horizon,
        "horizon_reason": h_why,
        "cutoffs": tuple(cuts),
        "end": end,
        "active": active,
        "frames": frames,
    }


def _history(tables: Mapping[str, Any], customers: pd.DataFrame, p: dict) -> ChurnAnalysis:
    clock = _Clock()
    h = _history_frames(tables, customers, p)
    frames, cuts, end = h.pop("frames"), h["cutoffs"], h.pop("end")
    clock.lap("features_and_labels")
    test, train = frames[frames["cutoff"] == cuts[-1]], frames[frames["cutoff"] < cuts[-1]]
    fit = _models(frames, test, train, p)
    clock.lap("models_and_drivers")
    score_date = end.normalize() + pd.Timedelta(days=1)
    final = steps.refit(frames, fit["model_name"], fit["model"], p["calibrate"])
    X_now = churn_features(
        tables, score_date, churn_definition=h["churn_definition"], active_days=h.pop("active")
    )
    keep = ["customer_id"] + [c for c in ("marketing_opt_in", "acquisition_channel") if c in X_now]
    scores = X_now[keep].assign(churn_probability=final.predict_proba(X_now)[:, 1])
    clock.lap("refit_and_score_today")
    clv_res, clv_vals, skipped = steps.clv_values(
        tables["orders"], end, X_now["customer_id"], **{k: p[k] for k in CLV}
    )
    scores, basis = _value(scores, X_now, clv_res, clv_vals, p)
    clock.lap("clv")
    scores, curve, best, lst = steps.targeting(
        scores,
        final,
        X_now,
        steps.reason_features(fit["drivers"], final),
        **{k: p[k] for k in TARGETING},
    )
    bought = ft.to_pandas(ft.customer_orders(tables["orders"]))["customer_id"]
    retention, skip_r, notes_r = steps.retention(
        customers[customers["customer_id"].isin(bought)], p["retention_by"], end
    )
    clock.lap("targeting_and_retention")
    return ChurnAnalysis(
        **h,
        snapshot=False,
        score_date=score_date,
        **fit,
        scores=scores,
        value_basis=basis,
        profit=curve,
        best=best,
        action_list=lst,
        retention=retention,
        clv=clv_res,
        currency=p["currency"],
        level=p["level"],
        timings=clock.timings,
        notes=tuple(notes_r),
        skipped={**_skips(tables, customers), **skipped, **skip_r},
    )


def _snapshot_scores(frame: pd.DataFrame, fit: dict, p: dict) -> np.ndarray:
    """Out-of-fold churn probabilities for every customer (each scored by a model that did not
    see it), with the chosen model and its tuned hyper-parameters."""
    from sklearn.model_selection import StratifiedKFold

    out = np.empty(len(frame))
    folds = StratifiedKFold(4, shuffle=True, random_state=p["random_state"])
    for tr, te in folds.split(frame, frame["churned"]):
        m = steps.refit(frame.iloc[tr], fit["model_name"], fit["model"], p["calibrate"])
        out[te] = m.predict_proba(frame.iloc[te])[:, 1]
    return out


def _snapshot(tables: Mapping[str, Any], customers: pd.DataFrame, p: dict) -> ChurnAnalysis:
    from sklearn.model_selection import train_test_split

    frame = snapshot_frame(customers, p["observation_end"])
    tr, te = train_test_split(
        frame, test_size=p["test_size"], stratify=frame["churned"], random_state=p["random_state"]
    )
    fit = _models(frame, te, tr, p)
    prob = _snapshot_scores(frame.reset_index(drop=True), fit, p)
    active = (frame["churned"] == 0).to_numpy()
    X_now = frame.loc[active].reset_index(drop=True)
    scores = X_now[["customer_id"] + [c for c in ("marketing_opt_in",) if c in X_now]].assign(
        churn_probability=prob[active]
    )
    skipped = {
        **_skips(tables, customers),
        "clv": "Customer lifetime value needs the orders table (purchase history).",
    }
    skipped.pop("touchpoint_drivers", None)
    skipped.pop("survey_drivers", None)
    vc, months = p["value_column"], p["clv_horizon_months"]
    monthly = (1 + p["annual_discount_rate"]) ** (1 / 12) - 1
    annuity = sum(1 / (1 + monthly) ** k for k in range(1, months + 1))
    if vc and vc in X_now.columns:
        scores["value"] = X_now[vc].fillna(0.0).to_numpy(float) * annuity
        basis = f"{vc.replace('_', ' ')} over {months} months, discounted"
    else:
        scores["value"] = 0.0
        basis = "none"
        skipped["campaign_value"] = (
            f"The value of a retention campaign needs a monthly value "
            f"per customer (value_column={vc!r} is not in the data)."
        )
    share = p["contact_share"] if basis != "none" or p["contact_share"] is not None else 0.1
    final = steps.refit(frame, fit["model_name"], fit["model"], p["calibrate"])
    args = {k: p[k] for k in TARGETING} | {"contact_share": share}
    if basis == "none":
        args["rank_by"] = "risk"
    scores, curve, best, lst = steps.targeting(
        scores, final, X_now, steps.reason_features(fit["drivers"], final), **args
    )
    retention, skip_r, notes_r = steps.retention(
        customers, p["retention_by"], p["observation_end"], snapshot=True
    )
    return ChurnAnalysis(
        churn_definition="contractual",
        definition_reason=(
            "contractual, on a snapshot: one row per customer, cancelled_at marks those who "
            "had left"
        ),
        snapshot=True,
        horizon_days=None,
        horizon_reason="the snapshot gives no time horizon",
        cutoffs=(),
        score_date=None,
        **fit,
        scores=scores,
        value_basis=basis,
        profit=curve,
        best=best,
        action_list=lst,
        retention=retention,
        clv=None,
        currency=p["currency"],
        level=p["level"],
        notes=tuple(notes_r),
        skipped={**skipped, **skip_r},
    )


def analyse(
    tables: Mapping[str, Any],
    churn_definition: str = "",
    horizon_days: int = 0,
    cutoff: Any = "",
    n_cutoffs: int = 4,
    model: str = "best",
    calibrate: str = "",
    offer_cost: float = 10.0,
    success_rate: float = 0.25,
    contact_share: float = -1.0,
    include_no_consent: bool = False,
    clv_horizon_months: int = 12,
    annual_discount_rate: float = 0.1,
    clv_method: str = "map",
    retention_by: Sequence[str] = (),
    value_column: str = "monthly_charges",
    currency: str = "",
    level: float = 0.95,
    random_state: int = 0,
    observation_end: Any = None,
    clv_holdout_weeks: int = 26,
    n_boot: int = 200,
    n_repeats: int = 5,
    max_rows_importance: int = 20000,
    max_reasons: int = 5000,
    rank_by: str = "value_at_risk",
    test_size: float = 0.25,
) -> ChurnAnalysis:
    """Run the churn analysis on contract tables (see the module docstring).

    Parameters
    ----------
    tables : ``customers`` (required), ``orders`` (event history; without it the customers
        must be a snapshot with ``cancelled_at``), ``touchpoints`` and ``survey_responses``
        (optional). pandas DataFrames, or DuckDB/Spark frames for orders and touchpoints.
    churn_definition : ``"contractual"``, ``"inactivity"`` or ``""`` (from the data).
    horizon_days : churn horizon after each cut-off in days; 0: 90 days for contractual churn,
        derived from the purchase gaps for inactivity.
    cutoff : the cut-off day on which models are judged (``""``: the latest one with a
        complete label window); training cut-offs lie 1, 2, ... horizons before it.
    n_cutoffs : number of cut-offs (the last one is the test).
    model : ``"logit"``, ``"hgb"`` or ``"best"`` (higher out-of-time ROC-AUC).
    calibrate : probability calibration: ``""`` (none), ``"sigmoid"`` or ``"isotonic"``.
    offer_cost, success_rate : retention offer economics for the profit curve.
    contact_share : contact this top share (negative: the best cut-off of the profit curve).
    include_no_consent : contact customers without marketing consent too (default no).
    clv_horizon_months, annual_discount_rate, clv_method : CLV settings (``"map"``/``"mcmc"``).
    retention_by : customer columns (or ``"cohort"``) for retention curves (empty: channel,
        contract type and cohort where the data have them).
    value_column : snapshot data: customers column with a monthly value per customer.
    currency : currency of money figures (``""``: plain amounts).
    level : interval mass of every interval.
    random_state : seed of models, bootstrap, splits and samplers.
    observation_end : last day of the data (default: the latest date in the tables).
    clv_holdout_weeks : holdout length of the purchase-model check (0 switches it off).
    n_boot, n_repeats, max_rows_importance, max_reasons, rank_by, test_size : finer settings
        (bootstrap resamples, permutation repeats, rows for importance, customers given
        reasons, ``"value_at_risk"`` or ``"risk"`` ordering, snapshot hold-out share).

    Raises
    ------
    NotApplicable : neither orders nor cancellation dates.
    ChurnDataError : data that cannot give labels (see :mod:`cjlab.churn.frames`).
    """
    p = dict(locals())
    return _run(p.pop("tables"), p)


def _run(tables: Mapping[str, Any], p: dict) -> ChurnAnalysis:
    """Notebook-style values normalised, then the event-history or the snapshot analysis."""
    by = p["retention_by"]
    p.update(
        cutoff=_opt(p["cutoff"]),
        calibrate=_opt(p["calibrate"]),
        contact_share=_opt(p["contact_share"]),
        retention_by=[by] if isinstance(by, str) else list(by),
    )
    if "customers" not in tables:
        raise NotApplicable("needs the customers table")
    customers = ft.to_pandas(tables["customers"])
    if tables.get("orders") is not None:
        return _history(tables, customers, p)
    if "cancelled_at" in customers.columns and customers["cancelled_at"].notna().any():
        return _snapshot(tables, customers, p)
    raise NotApplicable("needs the orders table, or the cancelled_at column of customers")


def _truth_check(truth: Mapping[str, Any] | None, a: ChurnAnalysis) -> pd.DataFrame | None:
    """Demo data: the planted churn drivers next to the model's ranking (for analysts)."""
    if not truth or "churn" not in truth or a.churn_definition != "contractual" or a.snapshot:
        return None
    planted = list(truth["churn"]["driver_rank"])
    found = a.drivers["feature"].tolist()
    return pd.DataFrame(
        {
            "planted_rank": range(1, len(planted) + 1),
            "driver": planted,
            "found_rank": [found.index(d) + 1 if d in found else None for d in planted],
            "planted_effect": [truth["churn"]["drivers"][d] for d in planted],
        }
    )


def from_source(data_source: Any, **params: Any) -> ChurnAnalysis:
    """Open ``data_source`` (:func:`cjlab.data.open_source`), load what the analysis uses and
    run :func:`analyse`. Orders and touchpoints stay where the data live (DuckDB or Spark) and
    are aggregated there; customers and survey answers are read into pandas. For demo data
    the check against the planted drivers goes into ``truth_check``."""
    from cjlab.data import open_source

    src = open_source(data_source)
    present = set(src.tables)
    tables: dict[str, Any] = src.load(
        *[t for t in ("customers", "survey_responses") if t in present]
    )
    for t in ("orders", "touchpoints"):
        if t in present:
            tables[t] = src.lazy(t).to_native()
    a = analyse(tables, **params)
    return dataclasses.replace(a, truth_check=_truth_check(src.truth, a))
