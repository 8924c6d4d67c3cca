"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in closed form: the log-likelihood.

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

import numpy as np
from scipy.special import gammaln, hyp2f1

__all__ = ["PARAMETERS", "pareto_nbd_loglik"]

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
