"""Churn and customer lifetime value.

Sub-modules
-----------
rfm        calibration/holdout RFM summary (one DuckDB query), PyMC-Marketing conventions
features   point-in-time churn labels (contractual / inactivity) and features
model      scikit-learn churn models, time-aware CV, evaluation, drivers
clv        BG/NBD or Pareto/NBD + Gamma-Gamma with PyMC-Marketing (MAP or MCMC)
targeting  profit curve, best cut-off, at-risk list
retention  Kaplan–Meier retention curves (lifelines)
pipeline   the whole analysis in one call (notebooks/03_churn.ipynb, benchmarks)
plots      figures for all of the above

Examples
--------
>>> from cjlab.churn import rfm_summary, churn_frame, ChurnModel, evaluate  # doctest: +SKIP
"""

from cjlab.churn.clv import CLVModel, holdout_by_frequency
from cjlab.churn.features import (
    FEATURE_DESCRIPTIONS,
    ChurnDataError,
    churn_features,
    churn_frame,
    churn_frames,
    churn_labels,
    rolling_cutoffs,
)
from cjlab.churn.model import (
    ChurnModel,
    CutoffSplit,
    compare_models,
    driver_importance,
    evaluate,
    partial_dependence_table,
    top_reasons,
)
from cjlab.churn.pipeline import (
    ChurnAnalysis,
    analyse_churn,
    analyse_churn_snapshot,
    analyse_source,
)
from cjlab.churn.retention import kaplan_meier
from cjlab.churn.rfm import RFMError, rfm_summary
from cjlab.churn.targeting import at_risk_list, best_cutoff, profit_curve, risk_value_segment

__all__ = [
    "FEATURE_DESCRIPTIONS",
    "CLVModel",
    "ChurnAnalysis",
    "ChurnDataError",
    "ChurnModel",
    "CutoffSplit",
    "RFMError",
    "analyse_churn",
    "analyse_churn_snapshot",
    "analyse_source",
    "at_risk_list",
    "best_cutoff",
    "churn_features",
    "churn_frame",
    "churn_frames",
    "churn_labels",
    "compare_models",
    "driver_importance",
    "evaluate",
    "holdout_by_frequency",
    "kaplan_meier",
    "partial_dependence_table",
    "profit_curve",
    "rfm_summary",
    "risk_value_segment",
    "rolling_cutoffs",
    "top_reasons",
]
