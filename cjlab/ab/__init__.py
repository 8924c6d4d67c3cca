"""Bayesian A/B testing: exact conjugate metrics, decisions, SRM, revenue, segments, planning.

The public entry point is :func:`compare_conversions`; the submodules hold the rest:

* :mod:`cjlab.ab.exact` — closed forms (Evan Miller, Stucchio) and 1-D integrals for Beta posteriors;
* :mod:`cjlab.ab.conversions` — :func:`compare_conversions`, priors, input checks, prior sensitivity;
* :mod:`cjlab.ab.decision` — ROPE + expected-loss verdicts, SRM check, daily evolution;
* :mod:`cjlab.ab.models` — PyMC two-part revenue model and hierarchical segment model;
* :mod:`cjlab.ab.planning` — planning by simulation (power, false positives, days to decision);
* :mod:`cjlab.ab.plots` — figures (the JupyterLab panel is :func:`cjlab.notebook.widgets.decision_panel`);
* :mod:`cjlab.ab.analysis` — :func:`analyse_experiment`, everything a report needs in one call.
"""

from cjlab.ab.conversions import (
    ABInputError,
    BetaPrior,
    compare_conversions,
    conversion_metrics,
    prior_sensitivity,
    summarise_exposures,
)
from cjlab.ab.decision import daily_evolution, decide, srm_check

__all__ = [
    "ABInputError",
    "BetaPrior",
    "compare_conversions",
    "conversion_metrics",
    "daily_evolution",
    "decide",
    "prior_sensitivity",
    "srm_check",
    "summarise_exposures",
]
