"""Partial pooling of per-segment uplifts without sampling: a normal-normal model integrated
over the between-segment spread.

The same hierarchy as the PyMC :class:`~cjlab.ab.segment_model.SegmentUpliftModel`
(``method="mcmc"``) with the binomial likelihood of each arm replaced by a normal one on the
log-odds scale:

* measurements: ``l_c ~ N(a_s, v_c)``, ``l_v ~ N(a_s + d_s, v_v)``, where ``l`` and ``v`` are
  the mean and variance of ``logit p`` under the Beta(k + 1/2, n - k + 1/2) posterior of each
  arm in each segment (digamma and trigamma: exact moments, finite at k = 0);
* priors: ``a_s ~ N(m_a, a_sigma)``, ``d_s ~ N(d_0, tau)``, ``d_0 ~ N(0, d0_sigma)``,
  ``tau ~ HalfNormal(tau_scale)``.

For each ``tau`` everything is jointly Gaussian: the posterior of ``(a, d, d_0)`` and the
marginal likelihood of the measurements are closed forms. ``tau`` itself is integrated out on
a grid (its posterior is the prior times that marginal likelihood), so the answer is a mixture
of Gaussians over ``tau`` — the between-segment variance is weighed by its marginal likelihood
instead of being fixed at its maximum (with a handful of segments the maximum is often
``tau = 0``, which would claim that every segment responds alike). Relative uplifts
``expit(a + d) / expit(a) - 1`` and their quantiles come from one-dimensional Gauss–Hermite
integrals over the baseline ``a`` inside that mixture; the chance to beat control,
``P(d > 0)``, is a sum of normal CDFs. No Monte Carlo error.

The normal likelihood is the one approximation: it is close once an arm of a segment has a few
conversions and a few non-conversions; with none the interval is wide, as it should be, but
less exact than the PyMC model's.

Examples
--------
>>> import numpy as np
>>> from cjlab.ab.pooling import chance_positive, lift_quantiles, pool_segments
>>> post = pool_segments(np.array([400, 400]), np.array([40, 60]), np.array([400, 400]),
...                      np.array([48, 66]))
>>> float(post.weights.sum()), post.mean.shape[1]   # theta = (a_1, a_2, d_1, d_2, d_0)
(1.0, 5)
>>> rows = post.segment_rows()                       # (a_s, d_s) per segment, then (mean a, d_0)
>>> lift_quantiles(post, rows, np.array([0.5])).shape, chance_positive(post, rows).shape
((3, 1), (3,))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

#: nodes and weights of probabilists' Gauss-Hermite quadrature (weights sum to one)
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(32)
_GH_W = _GH_W / _GH_W.sum()


def logit_moments(k: np.ndarray, n: np.ndarray, prior: float = 0.5) -> tuple[np.ndarray, ...]:
    """Mean and variance of ``logit p`` for ``p ~ Beta(k + prior, n - k + prior)``.

    Examples
    --------
    >>> m, v = logit_moments(np.array([50]), np.array([100]))
    >>> float(m[0]), round(float(v[0]), 4)
    (0.0, 0.04)
    """
    a, b = np.asarray(k, float) + prior, np.asarray(n, float) - np.asarray(k, float) + prior
    return special.digamma(a) - special.digamma(b), special.polygamma(1, a) + special.polygamma(
        1, b
    )


@dataclass(frozen=True)
class PooledPosterior:
    """Posterior of ``theta = (a_1..a_S, d_1..d_S, d_0)`` as a mixture over a ``tau`` grid.

    ``weights[g]`` is the posterior mass of ``tau[g]``; given ``tau[g]`` the posterior is
    Gaussian with mean ``mean[g]`` and covariance ``cov[g]``.
    """

    tau: np.ndarray
    weights: np.ndarray
    mean: np.ndarray
    cov: np.ndarray

    @property
    def n_segments(self) -> int:
        return (self.mean.shape[1] - 1) // 2

    def pair(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means (G, R, 2) and covariances (G, R, 2, 2) of ``(baseline, log-odds uplift)``
        for each row of ``rows`` (R, 2, P): a linear map of ``theta`` per row."""
        m = np.einsum("rkp,gp->grk", rows, self.mean)
        c = np.einsum("rkp,gpq,rlq->grkl", rows, self.cov, rows)
        return m, c

    def segment_rows(self) -> np.ndarray:
        """Linear maps picking ``(a_s, d_s)`` for each segment and ``(mean a, d_0)``, last."""
        s = self.n_segments
        rows = np.zeros((s + 1, 2, 2 * s + 1))
        for i in range(s):
            rows[i, 0, i] = rows[i, 1, s + i] = 1.0
        rows[s, 0, :s] = 1.0 / s
        rows[s, 1, 2 * s] = 1.0
        return rows


def _prior(s: int, m_a: float, a_sigma: float, d0_sigma: float, tau: np.ndarray):
    """Prior mean (P,) and covariances (G, P, P) of theta for each tau."""
    p = 2 * s + 1
    mu0 = np.zeros(p)
    mu0[:s] = m_a
    cov = np.zeros((len(tau), p, p))
    cov[:, :s, :s] = np.eye(s) * a_sigma**2
    cov[:, s:, s:] = d0_sigma**2  # d_s and d_0 all share d_0
    cov[:, s : 2 * s, s : 2 * s] += np.eye(s) * (tau**2)[:, None, None]
    return mu0, cov


def _condition(l_obs, r_var, mu0, cov0):
    """Gaussian conditioning on ``l = H theta + e``: posterior moments and log evidence."""
    s = len(l_obs) // 2
    h = np.zeros((2 * s, 2 * s + 1))
    h[:s, :s] = h[s:, :s] = np.eye(s)
    h[s:, s : 2 * s] = np.eye(s)
    k = h @ cov0 @ h.T + np.diag(r_var)  # (G, 2S, 2S)
    resid = l_obs - h @ mu0
    chol = np.linalg.cholesky(k)
    ch_res = np.linalg.solve(chol, np.broadcast_to(resid, (len(k), len(resid)))[..., None])
    log_ev = -0.5 * (ch_res[..., 0] ** 2).sum(axis=1) - np.log(
        np.diagonal(chol, axis1=1, axis2=2)
    ).sum(axis=1)
    gain = np.swapaxes(np.linalg.solve(k, h @ cov0), 1, 2)  # cov0 H^T K^-1, (G, P, 2S)
    mean = mu0 + np.einsum("gpj,j->gp", gain, resid)
    cov = cov0 - gain @ h @ cov0
    return mean, 0.5 * (cov + np.swapaxes(cov, 1, 2)), log_ev


def pool_segments(
    n_c: np.ndarray,
    k_c: np.ndarray,
    n_v: np.ndarray,
    k_v: np.ndarray,
    tau_scale: float = 0.3,
    d0_sigma: float = 0.5,
    a_sigma: float = 1.5,
    grid: int = 81,
    tau: float | None = None,
) -> PooledPosterior:
    """Posterior of the pooled segment model (see the module docstring) on a ``tau`` grid.

    The grid is uniform in ``t`` with ``tau = c sinh(t)``: fine near 0 (where, with few
    segments, most of the mass often is), geometric in the tail, and — since the density is
    a function of ``tau**2`` — an even integrand in ``t``, for which the trapezoidal rule
    converges geometrically. ``c`` is the smaller of ``tau_scale`` and the typical standard
    error of a segment's log-odds uplift; the grid is widened until its last tenth holds less
    than 1e-9 of the posterior.

    Parameters
    ----------
    n_c, k_c, n_v, k_v : users and conversions per segment, control and variant.
    tau_scale, d0_sigma, a_sigma : the priors (as in the PyMC model's ``model_config``).
    grid : points of the grid.
    tau : a fixed spread instead of the grid (``0``: complete pooling; large: none; the
        maximum of the marginal likelihood: the plug-in empirical-Bayes answer).

    Returns
    -------
    PooledPosterior
    """
    l_c, v_c = logit_moments(k_c, n_c)
    l_v, v_v = logit_moments(k_v, n_v)
    overall = (np.sum(k_c) + np.sum(k_v) + 1) / (np.sum(n_c) + np.sum(n_v) + 2)
    l_obs, r_var = np.concatenate([l_c, l_v]), np.concatenate([v_c, v_v])
    m_a = float(special.logit(overall))

    def at(taus: np.ndarray):
        mu0, cov0 = _prior(len(l_c), m_a, a_sigma, d0_sigma, taus)
        return _condition(l_obs, r_var, mu0, cov0)

    if tau is not None:
        mean, cov, _ = at(np.array([float(tau)]))
        return PooledPosterior(tau=np.array([float(tau)]), weights=np.ones(1), mean=mean, cov=cov)
    c = min(tau_scale, float(np.sqrt(np.median(v_c + v_v))))
    top = float(np.arcsinh(8.0 * tau_scale / c))
    for _ in range(8):
        t = np.linspace(0.0, top, grid)
        taus = c * np.sinh(t)
        mean, cov, log_ev = at(taus)
        logw = log_ev - 0.5 * (taus / tau_scale) ** 2 + np.log(np.cosh(t))
        w = np.exp(logw - logw.max())
        w[[0, -1]] *= 0.5  # trapezoid
        w /= w.sum()
        if w[-grid // 10 :].sum() < 1e-9:
            break
        top *= 1.5
    keep = w > 1e-15 * w.max()  # points that cannot move any figure
    return PooledPosterior(
        tau=taus[keep], weights=w[keep] / w[keep].sum(), mean=mean[keep], cov=cov[keep]
    )


def _conditional(m: np.ndarray, c: np.ndarray):
    """Nodes of the baseline ``u`` (G, R, J) and the mean/sd of the uplift ``v`` given ``u``."""
    su = np.sqrt(c[..., 0, 0])
    u = m[..., 0, None] + su[..., None] * _GH_X
    slope = c[..., 0, 1] / c[..., 0, 0]
    mv = m[..., 1, None] + slope[..., None] * (u - m[..., 0, None])
    sv = np.sqrt(np.maximum(c[..., 1, 1] - slope * c[..., 0, 1], 1e-300))
    return u, mv, sv[..., None]


def lift_cdf(post: PooledPosterior, rows: np.ndarray, x: np.ndarray, _nodes=None) -> np.ndarray:
    """``P(log(1 + lift) <= x)`` per row, ``lift = expit(u + v) / expit(u) - 1``.

    ``x`` has shape (R, Q); returns (R, Q).
    """
    u, mv, sv = _nodes if _nodes is not None else _conditional(*post.pair(rows))
    # expit(u + v) <= e^x expit(u)  <=>  v <= logit(e^x expit(u)) - u  (always if e^x expit(u) >= 1)
    log_t = x[None, :, :, None] + special.log_expit(u)[:, :, None, :]  # (G, R, Q, J)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(log_t < 0, log_t - np.log(-np.expm1(log_t)), np.inf) - u[:, :, None, :]
    z = (bound - mv[:, :, None, :]) / sv[:, :, None, :]
    inner = special.ndtr(z) @ _GH_W  # (G, R, Q)
    return np.einsum("g,grq->rq", post.weights, inner)


def lift_quantiles(post: PooledPosterior, rows: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles (R, Q) of the relative uplift of each row, by bisection on ``log(1 + lift)``.

    The CDF is monotone and ``|log(1 + lift)| <= |v|``, so a bracket of 12 standard deviations
    of ``v`` around its mean holds every quantile; 48 halvings leave an error below 1e-12.
    """
    m, c = post.pair(rows)
    nodes = _conditional(m, c)
    w = post.weights[:, None]
    centre = (w * m[..., 1]).sum(axis=0)
    spread = np.sqrt(np.maximum((w * (c[..., 1, 1] + m[..., 1] ** 2)).sum(axis=0) - centre**2, 0))
    shape = (len(rows), len(probs))
    lo = np.broadcast_to((centre - 12 * spread - 1)[:, None], shape).copy()
    hi = np.broadcast_to((centre + 12 * spread + 1)[:, None], shape).copy()
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        below = lift_cdf(post, rows, mid, nodes) < probs[None, :]
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.expm1(0.5 * (lo + hi))


def chance_positive(post: PooledPosterior, rows: np.ndarray) -> np.ndarray:
    """``P(v > 0)`` per row: the chance that the log-odds uplift (and so the uplift) is above 0."""
    m, c = post.pair(rows)
    return post.weights @ special.ndtr(m[..., 1] / np.sqrt(c[..., 1, 1]))
