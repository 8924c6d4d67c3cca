"""BG/NBD (Fader, Hardie & Lee 2005) in closed form: log-likelihood, P(alive), expected
purchases, the maximum-likelihood fit (:class:`BetaGeo`), and the NBD without dropout that
tells whether the data identify dropout at all.

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

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1

from cjlab.churn.mle import TransactionModel, compress, maximise, rfm_arrays

__all__ = [
    "PARAMETERS",
    "BetaGeo",
    "bgnbd_loglik",
    "expected_purchases",
    "fit_nbd",
    "nbd_loglik",
    "p_alive",
]

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


def bgnbd_loglik_gradient(
    theta: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Weighted total log-likelihood and its gradient in ``(r, alpha, a, b)`` (analytic)."""
    r, alpha, a, b = theta
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    la_T, la_tx = np.log(alpha + T), np.log(alpha + tx)
    stay = betaln(a, b + x) - betaln(a, b) - (r + x) * la_T
    rep = x > 0
    bx1 = np.where(rep, b + x - 1, 1.0)
    left = np.where(rep, betaln(a + 1, bx1) - betaln(a, b) - (r + x) * la_tx, -np.inf)
    ll = common + np.logaddexp(stay, left)
    ps = np.exp(stay - np.logaddexp(stay, left))  # weight of "still there", 1 - weight of "left"
    pl = 1 - ps
    d_ab_a, d_ab_b = digamma(a) - digamma(a + b), digamma(b) - digamma(a + b)
    dig_abx = digamma(a + b + x)
    g_r = digamma(r + x) - digamma(r) + np.log(alpha) - ps * la_T - pl * la_tx
    g_alpha = r / alpha - (r + x) * (ps / (alpha + T) + pl / (alpha + tx))
    g_a = ps * (digamma(a) - dig_abx - d_ab_a) + pl * (digamma(a + 1) - dig_abx - d_ab_a)
    g_b = ps * (digamma(b + x) - dig_abx - d_ab_b) + pl * np.where(
        rep, digamma(bx1) - dig_abx - d_ab_b, 0.0
    )
    grad = np.array([np.dot(w, g) for g in (g_r, g_alpha, g_a, g_b)])
    return float(np.dot(w, ll)), grad


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


def expected_purchases(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    t: float | np.ndarray,
) -> np.ndarray:
    """Expected purchases in ``(T, T + t]`` given ``x, tx, T`` (eq. 10 of Fader, Hardie & Lee 2005)."""
    x, tx, T = (np.asarray(v, float) for v in (x, tx, T))
    t = np.asarray(t, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        num = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, t / (alpha + T + t)
        )
        num = num * (a + b + x - 1) / (a - 1)
        den = 1 + np.where(
            x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0
        )
    return num / den


def fit_nbd(x: np.ndarray, T: np.ndarray) -> tuple[float, float, float]:
    """Maximum-likelihood NBD (no dropout): ``(r, alpha, total log-likelihood)``."""
    x, T = np.asarray(x, float), np.asarray(T, float)
    res = maximise(lambda th: float(nbd_loglik(th[0], th[1], x, T).sum()), _nbd_start(x, T))
    return float(res.theta[0]), float(res.theta[1]), float(res.loglik)


def _nbd_start(x: np.ndarray, T: np.ndarray) -> np.ndarray:
    return np.array([1.0, max(float(T.mean()) / max(float(x.mean()), 1e-3), 1e-3)])


class BetaGeo(TransactionModel):
    """BG/NBD fitted by maximum likelihood (MAP with flat priors), scikit-learn style.

    Parameters
    ----------
    start : optional starting values ``{"r": ..., "alpha": ..., "a": ..., "b": ...}``
        (default: the NBD fit for ``r, alpha`` and ``a = b = 1``).

    Attributes
    ----------
    params_ : dict of the estimates ``r, alpha, a, b``.
    loglik_ : the maximised log-likelihood (sum over customers).
    converged_ : the optimiser stopped normally, away from its bounds.
    n_customers_ : customers fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> rfm = pd.DataFrame({"frequency": [0, 2, 5, 1, 0, 3] * 50, "recency": [0, 20, 35, 3, 0, 12] * 50,
    ...                     "T": [40.0] * 300})
    >>> m = BetaGeo().fit(rfm)
    >>> m.converged_, m.p_alive(rfm).shape
    (True, (300,))
    """

    parameters = PARAMETERS
    _loglik = staticmethod(bgnbd_loglik)
    _p_alive = staticmethod(p_alive)
    _expected = staticmethod(expected_purchases)

    def __init__(self, start: Mapping[str, float] | None = None):
        self.start = start

    def fit(self, rfm: pd.DataFrame) -> BetaGeo:
        """Fit on ``frequency, recency, T`` (one row per customer)."""
        x, tx, T = rfm_arrays(rfm)
        if self.start:
            start = np.array([self.start[k] for k in PARAMETERS], float)
        else:
            start = np.array([*_nbd_start(x, T), 1.0, 1.0])
        (cx, ctx, cT), w = compress(x, tx, T)
        res = maximise(lambda th: bgnbd_loglik_gradient(th, cx, ctx, cT, w), start, gradient=True)
        self.params_ = dict(zip(PARAMETERS, map(float, res.theta), strict=True))
        self.loglik_, self.converged_, self.n_customers_ = res.loglik, res.converged, len(x)
        return self
