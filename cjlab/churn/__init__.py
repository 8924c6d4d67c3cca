"""Churn and customer lifetime value.

Modules
-------
analysis     :func:`analyse` (contract tables in) and :func:`from_source`: the whole analysis
result       :class:`ChurnAnalysis` with its headline, KPIs and report tables
frames       point-in-time churn labels and features at cut-off days (from :mod:`cjlab.features`),
             the churn definition and horizon that follow the data, the customers-only snapshot
model        scikit-learn churn classifiers with time-aware tuning
evaluation   ROC-AUC / PR-AUC with intervals, reliability, gains
drivers      grouped permutation importance, partial dependence, per-customer reasons
clv          BG/NBD or Pareto/NBD + Gamma-Gamma (PyMC-Marketing)
bgnbd, pareto_nbd
             closed-form likelihoods of the purchase models
diagnostics  can the purchase model be trusted (repeat buyers, dropout identified, convergence)
targeting    profit curve, best cut-off, contact list
retention    Kaplan–Meier retention curves (lifelines)
steps        the steps :func:`analyse` chains
plots        figures for all of the above

The BTYD (calibration/holdout RFM) summary is :func:`cjlab.features.btyd.rfm_summary`.

Examples
--------
>>> from cjlab import churn
>>> a = churn.from_source("demo:n_customers=3000,seed=11")  # doctest: +SKIP
>>> a.headline().title  # doctest: +SKIP
"""

from cjlab.churn.analysis import analyse, from_source
from cjlab.churn.clv import CLVError, CLVModel, holdout_by_frequency
from cjlab.churn.diagnostics import PurchaseModelCheck, check_purchase_model
from cjlab.churn.drivers import driver_importance, partial_dependence_table, top_reasons
from cjlab.churn.evaluation import Evaluation, evaluate
from cjlab.churn.frames import (
    FEATURE_DESCRIPTIONS,
    ChurnDataError,
    churn_features,
    churn_frame,
    churn_frames,
    churn_labels,
    rolling_cutoffs,
    snapshot_frame,
)
from cjlab.churn.model import ChurnModel, CutoffSplit, compare_models
from cjlab.churn.result import ChurnAnalysis
from cjlab.churn.retention import kaplan_meier
from cjlab.churn.targeting import at_risk_list, best_cutoff, profit_curve, risk_value_segment
from cjlab.features.btyd import RFMError, rfm_summary

__all__ = [
    "FEATURE_DESCRIPTIONS",
    "CLVError",
    "CLVModel",
    "ChurnAnalysis",
    "ChurnDataError",
    "ChurnModel",
    "CutoffSplit",
    "Evaluation",
    "PurchaseModelCheck",
    "RFMError",
    "analyse",
    "at_risk_list",
    "best_cutoff",
    "check_purchase_model",
    "churn_features",
    "churn_frame",
    "churn_frames",
    "churn_labels",
    "compare_models",
    "driver_importance",
    "evaluate",
    "from_source",
    "holdout_by_frequency",
    "kaplan_meier",
    "partial_dependence_table",
    "profit_curve",
    "rfm_summary",
    "risk_value_segment",
    "rolling_cutoffs",
    "snapshot_frame",
    "top_reasons",
]
