"""Maximum likelihood over positive parameters, shared by the closed-form CLV models.

The buy-till-you-die models of :mod:`cjlab.churn.bgnbd`, :mod:`cjlab.churn.pareto_nbd` and
:mod:`cjlab.churn.gamma_gamma` have closed-form log-likelihoods; their fits (MAP with flat
priors, i.e. maximum likelihood, the Fader–Hardie estimates) are a few milliseconds of
L-BFGS on the log-parameters. Nothing here imports PyMC.

Examples
--------
>>> import numpy as np
>>> x = np.random.default_rng(0).gamma(2.0, 1 / 3.0, 5000)
>>> from scipy.stats import gamma
>>> res = maximise(lambda th: gamma.logpdf(x, th[0], scale=1 / th[1]).sum(), np.ones(2))
>>> bool(res.converged), np.round(res.theta, 1)
(True, array([2. , 2.9]))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import optimize

__all__ = ["CLVError", "TransactionModel", "compress", "maximise", "rfm_arrays"]

#: log-parameter bounds: parameters stay in (1e-11, 1e11)
BOUND = 25.0


class CLVError(ValueError):
    """Bad input to the CLV models."""


def rfm_arrays(rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frequency, recency, T`` as float arrays (checked: present, T >= recency >= 0)."""
    missing = [c for c in ("frequency", "recency", "T") if c not in rfm.columns]
    if missing:
        raise CLVError(f"rfm: missing column(s) {missing}; use cjlab.features.btyd.rfm_summary")
    x, tx, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    if (tx < 0).any() or (tx > T + 1e-9).any() or (x < 0).any():
        raise CLVError("rfm: recency must lie between 0 and T, frequency must be >= 0")
    return x, tx, T


def compress(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Identical customers (same values in every column) once, with their counts as weights.

    A log-likelihood that is a sum over customers needs each distinct row only once: on
    typical data every customer without a repeat purchase shares its row with the others of
    the same age, which halves the work of a fit.
    """
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return tuple(rows[:, i] for i in range(rows.shape[1])), counts.astype(float)


def maximise(
    loglik: Callable[[np.ndarray], float | tuple[float, np.ndarray]],
    start: np.ndarray,
    gradient: bool = False,
) -> optimize.OptimizeResult:
    """Maximise ``loglik(theta)`` over positive ``theta`` (BFGS on ``log(theta)``).

    With ``gradient=True`` ``loglik`` returns ``(value, d value / d theta)``; otherwise the
    gradient is taken by finite differences. The log-parameters are kept within
    ``±BOUND``. (BFGS rather than L-BFGS-B: for a handful of parameters it is as exact and
    does not call multithreaded BLAS, which is slow on a busy machine.)

    Returns scipy's result with ``theta`` (the estimates), ``loglik`` (its maximum) and
    ``converged`` (a vanishing gradient, away from the bounds).
    """

    def neg(z: np.ndarray):
        theta = np.exp(np.clip(z, -BOUND, BOUND))
        if not gradient:
            v = loglik(theta)
            return -v if np.isfinite(v) else 1e300
        v, g = loglik(theta)
        if not np.isfinite(v) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(z)
        return -v, -np.asarray(g) * theta

    res = optimize.minimize(neg, np.log(np.asarray(start, float)), jac=gradient, method="BFGS")
    z = np.clip(res.x, -BOUND, BOUND)
    res.theta = np.exp(z)
    res.loglik = -float(res.fun)
    flat = (
        np.max(np.abs(res.jac)) <= 1e-6 * max(1.0, abs(res.fun)) if res.jac is not None else False
    )
    res.converged = bool(np.isfinite(res.fun) and (res.success or flat)) and bool(
        np.all(np.abs(z) < BOUND - 1e-6)
    )
    return res


class TransactionModel:
    """What a fitted buy-till-you-die model of purchases shares (BG/NBD, Pareto/NBD).

    A subclass sets ``parameters`` and its closed forms ``_loglik(*theta, x, tx, T)``,
    ``_p_alive(*theta, x, tx, T)`` and ``_expected(*theta, x, tx, T, t)``, and ``fit`` sets
    ``params_``; the predictions below then read the fitted parameters.
    """

    parameters: tuple[str, ...] = ()
    _loglik: Callable[..., np.ndarray]
    _p_alive: Callable[..., np.ndarray]
    _expected: Callable[..., np.ndarray]

    def _theta(self) -> tuple[float, ...]:
        if not hasattr(self, "params_"):
            raise CLVError("fit the model first")
        return tuple(self.params_[k] for k in self.parameters)

    def loglik(self, rfm: pd.DataFrame) -> np.ndarray:
        """Log-likelihood of each customer at the fitted parameters."""
        return self._loglik(*self._theta(), *rfm_arrays(rfm))

    def p_alive(self, rfm: pd.DataFrame) -> np.ndarray:
        """P(alive) of each customer at the end of its observation."""
        return self._p_alive(*self._theta(), *rfm_arrays(rfm))

    def expected_purchases(self, rfm: pd.DataFrame, t: float) -> np.ndarray:
        """Expected purchases of each customer in the next ``t`` periods."""
        return self._expected(*self._theta(), *rfm_arrays(rfm), t)
