"""The parameters of an A/B analysis, checked once: :class:`Settings`.

Notebook parameters, the keyword arguments of :func:`cjlab.ab.analysis.analyse` and the fields
here carry the same names.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from cjlab.ab.conversions import ABInputError

METRICS = ("conversion", "revenue")
SEGMENT_METHODS = ("quadrature", "mcmc")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The parameters of :func:`analyse` (the notebook's parameters have the same names).

    Parameters
    ----------
    experiment : experiment name; ``""`` = the only one (an error lists them when there are
        several).
    control : control variant; ``""`` = the variant with an obvious name (control, holdout,
        "No E-Mail", baseline, A ...); otherwise an error lists the variants.
    metric : ``"conversion"`` or ``"revenue"`` (revenue per user decides the verdict).
    prior, prior_a, prior_b, prior_weight_users : see :func:`cjlab.ab.experiment.resolve_prior`.
    rope, loss_threshold, level : decision settings (see :func:`cjlab.ab.decision.decide`).
    planned_split : planned traffic share per variant for the sample-ratio check
        (``None``/empty: an equal split).
    currency : ISO code or symbol for money figures (``""``: plain amounts).
    segment_column : column for uplift by segment (``""`` = skip).
    run_pymc : allow sampling (``False``: nothing is sampled, whatever ``revenue_model`` and
        ``segment_method`` say; the segment uplift then uses the quadrature).
    revenue_model : also fit the PyMC two-part revenue model (log-normal spend) for the
        analysts' comparison of methods. Off by default: it changes no figure the report's
        readers see, and its interval is no better than the bootstrap's (see
        ``benchmarks/RESULTS.md``, "Sampling that pays for itself").
    segment_method : how the partially pooled uplift per segment is computed: ``"quadrature"``
        (no sampling, milliseconds) or ``"mcmc"`` (the PyMC model; same priors, binomial
        likelihood).
    sampler_config : ``pymc.sample`` settings for the sampled models (e.g. ``{"draws": 200}``,
        ``{"nuts_sampler": "nutpie"}``).
    revenue_draws : posterior draws of the revenue bootstrap.
    plan_min_effect, plan_max_days, plan_sims, plan_effects : planning settings
        (``plan_sims = 0``: no planning); traffic per day is the experiment's observed average.
    random_state : seed of every simulation and sampler.
    """

    experiment: str = ""
    control: str = ""
    metric: str = "conversion"
    prior: str = "uniform"
    prior_a: float = 1.0
    prior_b: float = 1.0
    prior_weight_users: float = 1000.0
    rope: float = 0.01
    loss_threshold: float = 0.001
    level: float = 0.95
    planned_split: Mapping[str, float] | None = None
    currency: str = ""
    segment_column: str = "segment"
    run_pymc: bool = True
    revenue_model: bool = False
    segment_method: str = "quadrature"
    sampler_config: Mapping[str, Any] | None = None
    revenue_draws: int = 4000
    plan_min_effect: float = 0.05
    plan_max_days: int = 28
    plan_sims: int = 100
    plan_effects: Sequence[float] = (0.02, 0.05, 0.10, 0.20)
    random_state: int = 0

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Settings:
        """Settings from keyword arguments; an unknown name is an error with a suggestion."""
        known = [f.name for f in fields(cls)]
        for key in params:
            if key not in known:
                hint = difflib.get_close_matches(key, known, n=1)
                raise ABInputError(
                    f"unknown parameter {key!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; parameters are {', '.join(known)}"
                )
        out = cls(**params)
        if out.metric not in METRICS:
            raise ABInputError(f"metric must be one of {', '.join(METRICS)}, got {out.metric!r}")
        if out.segment_method not in SEGMENT_METHODS:
            raise ABInputError(
                f"segment_method must be one of {', '.join(SEGMENT_METHODS)}, "
                f"got {out.segment_method!r}"
            )
        return out
