"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in closed form: log-likelihood, P(alive),
expected purchases and the maximum-likelihood fit (:class:`ParetoNBD`).

Customers buy at a Poisson rate λ ~ Gamma(r, α) and leave after an exponential lifetime with
rate μ ~ Gamma(s, β). With ``s/β → 0`` nobody leaves and the likelihood becomes the NBD's
(:func:`cjlab.churn.bgnbd.nbd_loglik`). The expression is the one of Fader & Hardie's note
(2005) in the numerically stable arrangement PyMC-Marketing uses (the larger of α and β
factored out of the Gauss hypergeometric terms).

Examples
--------
>>> import numpy as np
>>> x, tx, T = np.array([0.0, 2.0]), np.array([0.0, 30.0]), np.array([40.0, 40.0])
>>> np.round(pareto_nbd_loglik(0.55, 10.58, 0.61, 11.67, x, tx, T), 4)
array([-0.5207, -9.6015])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import gammaln, hyp2f1

from cjlab.churn.bgnbd import _nbd_start
from cjlab.churn.mle import TransactionModel, compress, maximise, rfm_arrays

__all__ = ["PARAMETERS", "ParetoNBD", "expected_purchases", "p_alive", "pareto_nbd_loglik"]

PARAMETERS = ("r", "alpha", "s", "beta")


def pareto_nbd_loglik(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Log-likelihood of each customer under Pareto/NBD."""
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    rsx, rx = r + s + x, r + x
    big, small = (alpha, beta) if alpha >= beta else (beta, alpha)
    b1, b2 = (s + 1, s) if alpha >= beta else (rx, rx + 1)
    refactored = rsx * np.log(big + tx)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h1 = np.log(hyp2f1(rsx, b1, rsx + 1, (big - small) / (big + tx)))
        h2 = (
            np.log(hyp2f1(rsx, b2, rsx + 1, (big - small) / (big + T)))
            - rsx * np.log(big + T)
            + refactored
        )
    a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) - refactored
    a2 = np.log(s) - np.log(rsx) + h1
    a3 = np.log(rx) - np.log(rsx) + h2
    return a1 + np.logaddexp(a2, a3)


def p_alive(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(alive at T | x, tx, T) (Fader & Hardie's note 015, as PyMC-Marketing computes it)."""
    x, T = np.asarray(x, float), np.asarray(T, float)
    ll = pareto_nbd_loglik(r, alpha, s, beta, x, tx, T)
    lp = (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha / (alpha + T))
        - x * np.log(alpha + T)
        + s * np.log(beta / (beta + T))
    )
    return np.exp(lp - ll)


def expected_purchases(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    t: float | np.ndarray,
) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` given ``x, tx, T`` (Fader & Hardie's note 009)."""
    x, T = np.asarray(x, float), np.asarray(T, float)
    ll = pareto_nbd_loglik(r, alpha, s, beta, x, tx, T)
    first = (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        - (r + x) * np.log(alpha + T)
        - s * np.log(beta + T)
    )
    second = np.log(r + x) + np.log(beta + T) - np.log(alpha + T)
    third = np.log((1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1))
    return np.exp(first + second + third - ll)


class ParetoNBD(TransactionModel):
    """Pareto/NBD fitted by maximum likelihood (MAP with flat priors), scikit-learn style.

    Parameters
    ----------
    start : optional starting values ``{"r", "alpha", "s", "beta"}`` (default: the NBD fit
        for ``r, alpha``, ``s = 1`` and ``beta`` the mean age ``T``).

    Attributes
    ----------
    params_, loglik_, converged_, n_customers_ : as :class:`cjlab.churn.bgnbd.BetaGeo`.
    """

    parameters = PARAMETERS
    _loglik = staticmethod(pareto_nbd_loglik)
    _p_alive = staticmethod(p_alive)
    _expected = staticmethod(expected_purchases)

    def __init__(self, start: Mapping[str, float] | None = None):
        self.start = start

    def fit(self, rfm: pd.DataFrame) -> ParetoNBD:
        """Fit on ``frequency, recency, T`` (one row per customer)."""
        x, tx, T = rfm_arrays(rfm)
        if self.start:
            start = np.array([self.start[k] for k in PARAMETERS], float)
        else:
            start = np.array([*_nbd_start(x, T), 1.0, max(float(T.mean()), 1.0)])
        (cx, ctx, cT), w = compress(x, tx, T)
        res = maximise(lambda th: float(np.dot(w, pareto_nbd_loglik(*th, cx, ctx, cT))), start)
        self.params_ = dict(zip(PARAMETERS, map(float, res.theta), strict=True))
        self.loglik_, self.converged_, self.n_customers_ = res.loglik, res.converged, len(x)
        return self
