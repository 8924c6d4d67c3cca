"""Bayesian A/B testing: exact conjugate metrics, decisions, SRM, revenue, segments, planning.

The public entry point is :func:`compare_conversions`; see the submodules for the rest:

* :mod:`cjlab.ab.exact` — closed forms and 1-D integrals for Beta posteriors;
* :mod:`cjlab.ab.conversions` — :func:`compare_conversions`, priors, input checks.
"""

from cjlab.ab.conversions import (
    ABInputError,
    BetaPrior,
    compare_conversions,
    summarise_exposures,
)

__all__ = [
    "ABInputError",
    "BetaPrior",
    "compare_conversions",
    "summarise_exposures",
]
