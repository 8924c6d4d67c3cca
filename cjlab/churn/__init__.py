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
clv          CLV: BG/NBD or Pareto/NBD + Gamma-Gamma, closed-form MAP or MCMC
bgnbd, pareto_nbd, gamma_gamma
             the models in closed form: likelihood, predictions, maximum-likelihood fits
mle          the shared optimiser (no PyMC)
clv_pymc     the PyMC-Marketing engine (method="mcmc"), imported only when sampling
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

import importlib
from typing import Any

#: public name -> the module that defines it (imported on first use: ``from cjlab.churn.bgnbd
#: import BetaGeo`` stays light, without scikit-learn, DuckDB or PyMC)
_NAMES = {
    "BetaGeo": "cjlab.churn.bgnbd",
    "GammaGamma": "cjlab.churn.gamma_gamma",
    "ParetoNBD": "cjlab.churn.pareto_nbd",
    "CLVError": "cjlab.churn.clv",
    "CLVModel": "cjlab.churn.clv",
    "ChurnAnalysis": "cjlab.churn.result",
    "ChurnDataError": "cjlab.churn.frames",
    "ChurnModel": "cjlab.churn.model",
    "CutoffSplit": "cjlab.churn.model",
    "Evaluation": "cjlab.churn.evaluation",
    "FEATURE_DESCRIPTIONS": "cjlab.churn.frames",
    "PurchaseModelCheck": "cjlab.churn.diagnostics",
    "RFMError": "cjlab.features.btyd",
    "analyse": "cjlab.churn.analysis",
    "at_risk_list": "cjlab.churn.targeting",
    "best_cutoff": "cjlab.churn.targeting",
    "check_purchase_model": "cjlab.churn.diagnostics",
    "churn_features": "cjlab.churn.frames",
    "churn_frame": "cjlab.churn.frames",
    "churn_frames": "cjlab.churn.frames",
    "churn_labels": "cjlab.churn.frames",
    "compare_models": "cjlab.churn.model",
    "crm_list": "cjlab.churn.targeting",
    "driver_importance": "cjlab.churn.drivers",
    "evaluate": "cjlab.churn.evaluation",
    "from_source": "cjlab.churn.analysis",
    "holdout_by_frequency": "cjlab.churn.clv",
    "kaplan_meier": "cjlab.churn.retention",
    "partial_dependence_table": "cjlab.churn.drivers",
    "profit_curve": "cjlab.churn.targeting",
    "rfm_summary": "cjlab.features.btyd",
    "risk_value_segment": "cjlab.churn.targeting",
    "rolling_cutoffs": "cjlab.churn.frames",
    "snapshot_frame": "cjlab.churn.frames",
    "top_reasons": "cjlab.churn.drivers",
}


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'cjlab.churn' has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))


__all__ = [
    "FEATURE_DESCRIPTIONS",
    "BetaGeo",
    "CLVError",
    "CLVModel",
    "ChurnAnalysis",
    "ChurnDataError",
    "ChurnModel",
    "CutoffSplit",
    "Evaluation",
    "GammaGamma",
    "ParetoNBD",
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
