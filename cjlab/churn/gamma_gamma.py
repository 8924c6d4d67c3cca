"""Gamma-Gamma spend model (Fader & Hardie 2013) in closed form: the maximum-likelihood fit.

Each purchase of a customer is Gamma(p, ν) with ν ~ Gamma(q, v) across customers; the mean
spend ``m`` of a customer's ``x`` repeat purchases then has the closed-form marginal likelihood
below (eq. 1a of the note; PyMC-Marketing's ``GammaGammaModel`` potential), and the expected
spend per purchase is ``p (v + x m) / (p x + q - 1)``. Fitted on repeat buyers (``x > 0``,
``m > 0``), as the model requires.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> x = rng.integers(1, 8, 3000); nu = rng.gamma(4.0, 1 / 15.0, 3000)
>>> m = np.array([rng.gamma(6.0, 1 / n, k).mean() for n, k in zip(nu, x)])
>>> gg = GammaGamma().fit(pd.DataFrame({"frequency": x, "monetary_value": m}))
>>> {k: round(v, 1) for k, v in gg.params_.items()}  # planted p=6, q=4, v=15
{'p': 6.7, 'q': 3.8, 'v': 12.6}
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from cjlab.churn.mle import CLVError, maximise

__all__ = ["PARAMETERS", "GammaGamma", "gamma_gamma_loglik", "gamma_gamma_loglik_gradient"]

PARAMETERS = ("p", "q", "v")


def gamma_gamma_loglik(p: float, q: float, v: float, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Log-likelihood of each customer's mean spend ``m`` over ``x`` purchases."""
    x, m = np.asarray(x, float), np.asarray(m, float)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def gamma_gamma_loglik_gradient(
    theta: np.ndarray, x: np.ndarray, m: np.ndarray
) -> tuple[float, np.ndarray]:
    """Total log-likelihood and its gradient in ``(p, q, v)`` (analytic)."""
    p, q, v = theta
    px, lxm = p * x, np.log(x * m + v)
    d_all = digamma(px + q)
    g_p = x * (d_all - digamma(px) + np.log(m) + np.log(x) - lxm)
    g_q = d_all - digamma(q) + np.log(v) - lxm
    g_v = q / v - (px + q) / (x * m + v)
    grad = np.array([g_p.sum(), g_q.sum(), g_v.sum()])
    return float(gamma_gamma_loglik(p, q, v, x, m).sum()), grad


def _spend(rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in ("frequency", "monetary_value") if c not in rfm.columns]
    if missing:
        raise CLVError(f"rfm: missing column(s) {missing}; use cjlab.features.btyd.rfm_summary")
    return rfm["frequency"].to_numpy(float), rfm["monetary_value"].to_numpy(float)


class GammaGamma:
    """Gamma-Gamma fitted by maximum likelihood (MAP with flat priors), scikit-learn style.

    Attributes
    ----------
    params_ : dict of the estimates ``p, q, v``.
    loglik_, converged_ : maximised log-likelihood and whether the optimiser converged.
    n_customers_ : repeat buyers with positive spend that were fitted.
    """

    parameters = PARAMETERS

    def fit(self, rfm: pd.DataFrame) -> GammaGamma:
        """Fit on the repeat buyers of ``rfm`` (``frequency > 0`` and ``monetary_value > 0``)."""
        x, m = _spend(rfm)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < 10:
            raise CLVError("fewer than 10 repeat buyers with positive spend for Gamma-Gamma")
        start = np.array([1.0, 2.0, float(np.mean(m))])
        res = maximise(lambda th: gamma_gamma_loglik_gradient(th, x, m), start, gradient=True)
        self.params_ = dict(zip(PARAMETERS, map(float, res.theta), strict=True))
        self.loglik_, self.converged_, self.n_customers_ = res.loglik, res.converged, len(x)
        return self

    def expected_spend(self, rfm: pd.DataFrame) -> np.ndarray:
        """Expected spend per future purchase of each customer (the population mean for x = 0)."""
        if not hasattr(self, "params_"):
            raise CLVError("fit the model first")
        p, q, v = (self.params_[k] for k in PARAMETERS)
        x, m = _spend(rfm)
        m = np.where(x > 0, m, 0.0)
        return p * (v + x * m) / (p * x + q - 1)
