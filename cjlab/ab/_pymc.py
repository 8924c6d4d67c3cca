"""What the PyMC models of :mod:`cjlab.ab` share: configuration in PyMC-Marketing's style,
quiet sampling, Monte Carlo standard errors.

Like PyMC-Marketing's model builders, each model takes a ``model_config`` (its priors, merged
over :attr:`default_model_config`) and a ``sampler_config`` (keyword arguments of
``pymc.sample``, merged over :attr:`default_sampler_config`); the seed is ``random_state``
(it becomes the sampler's ``random_seed``) and the interval mass ``level``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

#: Sampler settings every model starts from (small: A/B posteriors are simple).
DEFAULT_SAMPLER_CONFIG: dict[str, Any] = {
    "draws": 500,
    "tune": 500,
    "chains": 2,
    "cores": 1,
    "progressbar": False,
    "nuts_sampler": "pymc",
    "compute_convergence_checks": False,
}


class PyMCModel:
    """Base: ``model_config`` / ``sampler_config`` dictionaries, ``level``, ``random_state``."""

    #: the model's own priors (subclasses override)
    default_model_config: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        model_config: Mapping[str, Any] | None = None,
        sampler_config: Mapping[str, Any] | None = None,
        level: float = 0.95,
        random_state: int | None = 0,
    ) -> None:
        unknown = set(model_config or {}) - set(self.default_model_config)
        if unknown:
            raise ValueError(
                f"unknown model_config key(s) {sorted(unknown)}; "
                f"{type(self).__name__} knows {sorted(self.default_model_config)}"
            )
        self.model_config = {**self.default_model_config, **(model_config or {})}
        self.sampler_config = {**self.default_sampler_config, **(sampler_config or {})}
        self.level, self.random_state = level, random_state

    @property
    def default_sampler_config(self) -> dict[str, Any]:
        return dict(DEFAULT_SAMPLER_CONFIG)

    def _sample(self, **extra: Any):
        """``pymc.sample`` inside the current model context with the merged configuration."""
        import pymc as pm

        kw = {**self.sampler_config, **extra}
        kw.setdefault("random_seed", self.random_state)
        with quiet_pymc():
            return pm.sample(**kw)

    @property
    def _chains(self) -> int:
        return int(self.sampler_config.get("chains", 1))


def mcse(x: np.ndarray, chains: int = 1, batches: int = 10) -> float:
    """Monte Carlo standard error of the mean of MCMC draws by batch means.

    ``x`` is the flattened (chain-major) draw vector; each chain is cut into ``batches``
    consecutive batches whose means are treated as independent.
    """
    x = np.asarray(x, dtype=float).reshape(chains, -1)
    n = x.shape[1] // batches
    if n < 1:
        return float(np.std(x) / np.sqrt(x.size))
    means = x[:, : n * batches].reshape(chains, batches, n).mean(axis=2).ravel()
    return float(np.std(means, ddof=1) / np.sqrt(len(means)))


@contextlib.contextmanager
def quiet_pymc() -> Iterator[None]:
    """Keep PyMC's sampler chatter ("NUTS[...]", "Sampling ...") out of reports."""
    loggers = [logging.getLogger(n) for n in ("pymc", "pymc.sampling", "pymc.sampling.mcmc")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, old):
            lg.setLevel(lvl)
