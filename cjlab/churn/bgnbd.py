"""BG/NBD (Fader, Hardie & Lee 2005) in closed form: log-likelihood, P(alive), and the NBD
without dropout that tells whether the data identify dropout at all.

Customers buy at a Poisson rate λ ~ Gamma(r, α) and, after each repeat purchase, leave with a
probability p ~ Beta(a, b). With ``a → 0`` (p concentrated at 0) nobody ever leaves and the
likelihood becomes the NBD's (:func:`nbd_loglik`); comparing the two fits is the
"is dropout identified?" check of :mod:`cjlab.churn.diagnostics`.

Inputs are the columns of :func:`cjlab.features.btyd.rfm_summary`: ``x`` = frequency (repeat
purchases), ``tx`` = recency, ``T`` = age, all arrays of the same length.

Examples
--------
>>> import numpy as np
>>> x, tx, T = np.array([0.0, 2.0]), np.array([0.0, 30.0]), np.array([40.0, 40.0])
>>> np.round(bgnbd_loglik(0.243, 4.414, 0.793, 2.426, x, tx, T), 4)
array([-0.561 , -9.4926])
>>> np.round(p_alive(0.243, 4.414, 0.793, 2.426, x, tx, T), 3)
array([1.   , 0.709])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import optimize
from scipy.special import betaln, gammaln

__all__ = ["PARAMETERS", "bgnbd_loglik", "fit_nbd", "maximise", "nbd_loglik", "p_alive"]

PARAMETERS = ("r", "alpha", "a", "b")


def bgnbd_loglik(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Log-likelihood of each customer under BG/NBD (eq. 6 of Fader, Hardie & Lee 2005)."""
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    stay = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(
            x > 0,
            betaln(a + 1, np.maximum(b + x - 1, 1e-300))
            - betaln(a, b)
            - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return common + np.logaddexp(stay, left)


def nbd_loglik(r: float, alpha: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Log-likelihood of each customer when nobody leaves (BG/NBD with ``a → 0``)."""
    x, T = np.asarray(x, float), np.asarray(T, float)
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)


def p_alive(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(alive at T | x, tx, T) (Fader, Hardie & Lee 2008, note 021); 1 for ``x = 0``."""
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_odds = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        )
    return np.where(x > 0, 1 / (1 + np.exp(np.minimum(log_odds, 700))), 1.0)


def maximise(loglik: Callable[[np.ndarray], float], start: np.ndarray) -> optimize.OptimizeResult:
    """Maximise ``loglik(theta)`` over positive parameters (searched on the log scale)."""

    def neg(z: np.ndarray) -> float:
        v = loglik(np.exp(z))
        return -v if np.isfinite(v) else 1e300

    res = optimize.minimize(
        neg, np.log(start), method="L-BFGS-B", bounds=[(-25.0, 25.0)] * len(start)
    )
    res.theta = np.exp(res.x)
    res.loglik = -res.fun
    return res


def fit_nbd(x: np.ndarray, T: np.ndarray) -> tuple[float, float, float]:
    """Maximum-likelihood NBD (no dropout): ``(r, alpha, total log-likelihood)``."""
    x, T = np.asarray(x, float), np.asarray(T, float)
    start = np.array([1.0, max(float(T.mean()) / max(float(x.mean()), 1e-3), 1e-3)])
    res = maximise(lambda th: float(nbd_loglik(th[0], th[1], x, T).sum()), start)
    return float(res.theta[0]), float(res.theta[1]), float(res.loglik)
