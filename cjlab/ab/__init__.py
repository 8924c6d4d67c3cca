"""Bayesian A/B testing: exact conjugate metrics, decisions, SRM, revenue, segments, planning.

The entry points are :func:`cjlab.ab.analysis.analyse` / :func:`~cjlab.ab.analysis.from_source`
(everything a report needs) and :func:`compare_conversions` (one table of exact metrics).

* :mod:`cjlab.ab.exact` — closed forms (Evan Miller, Stucchio, one-term recurrences) and 1-D
  integrals for Beta posteriors (P(best), expected losses);
* :mod:`cjlab.ab.uplift` — exact distributions and quantiles of the uplift (difference, ratio);
* :mod:`cjlab.ab.conversions` — :func:`compare_conversions`, priors, input checks, control names;
* :mod:`cjlab.ab.decision` — ROPE + expected-loss verdicts, SRM check, evolution;
* :mod:`cjlab.ab.revenue` — revenue per user: two-part Bayesian bootstrap, normal approximation;
* :mod:`cjlab.ab.revenue_model`, :mod:`cjlab.ab.segment_model` — PyMC models (PyMC-Marketing
  style ``model_config`` / ``sampler_config``);
* :mod:`cjlab.ab.planning` — planning by simulation (power, false positives, days to decision);
* :mod:`cjlab.ab.analysis` — :class:`ExperimentAnalysis` (:mod:`cjlab.ab.experiment` holds its
  steps, :mod:`cjlab.ab.summary` its headline and KPIs);
* :mod:`cjlab.ab.plots` — figures (the JupyterLab panel is :func:`cjlab.notebook.widgets.decision_panel`).
"""

from cjlab.ab.analysis import ExperimentAnalysis, analyse, from_source
from cjlab.ab.conversions import (
    ABInputError,
    BetaPrior,
    compare_conversions,
    conversion_metrics,
    pick_control,
    prior_sensitivity,
    summarise_exposures,
)
from cjlab.ab.decision import daily_evolution, decide, srm_check
from cjlab.ab.revenue import compare_revenue

__all__ = [
    "ABInputError",
    "BetaPrior",
    "ExperimentAnalysis",
    "analyse",
    "compare_conversions",
    "compare_revenue",
    "conversion_metrics",
    "daily_evolution",
    "decide",
    "from_source",
    "pick_control",
    "prior_sensitivity",
    "srm_check",
    "summarise_exposures",
]
