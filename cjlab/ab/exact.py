"""Exact Beta-posterior decision metrics (closed forms and 1-D quadrature, no Monte Carlo).

Every function takes Beta posterior parameters ``alpha`` (prior a + conversions) and
``beta`` (prior b + non-conversions) and returns numbers accurate to about 1e-12 absolute
(checked against 30-digit mpmath quadrature in ``tests/test_ab_exact.py``).

Closed forms
    * :func:`prob_beat` — Evan Miller's sum for P(p_B > p_A), evaluated in log space with a
      running ratio of consecutive terms (the shortest of four equivalent sums is used;
      when every one of them has more than ``MAX_SUM_TERMS`` terms, or the parameters are not
      whole numbers, the 1-D integral is used instead).
    * :func:`expected_loss_pair` — Chris Stucchio's closed form of E[max(p_B - p_A, 0)].
    * :func:`loss_vs_control_relative` — E[max(p_c - p_v, 0) / p_c] as two Miller sums
      (``p f_v`` and ``f_c / p`` are again Beta densities, up to constants).

1-D integrals
    * :func:`prob_best`, :func:`expected_max` — P(arm i is best of K) = ∫ f_i Π_{j≠i} F_j and
      E[max_j p_j] = ∫ x f_i Π_{j≠i} F_j summed over i; :func:`best_and_losses` gives them
      and the relative expected losses from one quadrature.
    * the uplift distributions and their quantiles are in :mod:`cjlab.ab.uplift`.

The quadrature is composite Gauss-Legendre on panels placed by every arm's own posterior
quantiles (so narrow and wide posteriors are both resolved), plus geometrically shrinking
panels towards 0 or 1 when a density is not analytic at an endpoint (alpha or beta below 2,
or a fraction below 8: ``x^(alpha - 1)`` then defeats a plain Gauss-Legendre panel).
Everything is vectorised over the nodes, so one call costs well under a millisecond.

Examples
--------
>>> from cjlab.ab.exact import prob_beat, expected_loss_pair, prob_best
>>> round(prob_beat(1 + 10, 1 + 90, 1 + 20, 1 + 80), 6)  # P(B > A), 10/100 vs 20/100
0.975173
>>> [round(float(v), 6) for v in prob_best([11, 21], [91, 81])]
[0.024827, 0.975173]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

#: Gauss-Legendre order per panel and panels per posterior.
GL_ORDER = 16
PANELS_PER_ARM = 5
#: Posterior mass left outside each arm's integration range (per tail).
TAIL = 1e-16
#: Smallest supported Beta parameter (mass below 1e-300 is then < 1e-12).
MIN_PARAM = 0.05
#: Longest Evan Miller sum evaluated before switching to quadrature.
MAX_SUM_TERMS = 20_000

_GL_T, _GL_W = np.polynomial.legendre.leggauss(GL_ORDER)
_TINY_LOG = -745.0  # log of the smallest double
#: Largest node position: doubles resolve 1 - x only to ~1e-16, so quadrature nodes stop at
#: 1 - 2^-40 and the posterior mass above (up to 1e-6 when beta = 0.5) is added analytically
#: as an endpoint term (``_top_mass``), exact up to products of two such tail masses.
X_TOP = 1.0 - 2.0**-40


def _as_params(alpha, beta) -> tuple[np.ndarray, np.ndarray]:
    a = np.atleast_1d(np.asarray(alpha, dtype=float))
    b = np.atleast_1d(np.asarray(beta, dtype=float))
    if a.shape != b.shape:
        raise ValueError(f"alpha and beta must have the same length, got {a.shape} and {b.shape}")
    if bool(((a >= MIN_PARAM) & (b >= MIN_PARAM) & (a < np.inf) & (b < np.inf)).all()):
        return a, b
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(a > 0) and np.all(b > 0)):
        raise ValueError(f"Beta parameters must be finite and > 0, got alpha={a}, beta={b}")
    if np.any(a < MIN_PARAM) or np.any(b < MIN_PARAM):
        # below this, more than 1e-12 of the mass can sit under 1e-300, out of reach of doubles
        raise ValueError(
            f"Beta parameters below {MIN_PARAM} are not supported (got alpha={a}, "
            f"beta={b}); use a prior with a, b >= {MIN_PARAM}"
        )
    return a, b


# ---------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------


def _is_whole(v: float) -> bool:
    return float(v).is_integer()


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _stirling_corr(x: float) -> float:
    """``lgamma(x) - [(x - 1/2) log x - x + log(2 pi)/2]`` for x >= 10 (error < 1e-15)."""
    x2 = x * x
    return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / (1188 * x2)) / x2) / x2) / x2) / x


def lgamma_diff(x: float, h: float) -> float:
    """``lgamma(x + h) - lgamma(x)`` without cancellation for large arguments.

    For ``x >= 10`` uses ``h log x + (x + h - 1/2) log1p(h/x) - h`` plus the difference of
    Stirling corrections; the error is a few ulp of the result instead of a few ulp of
    ``lgamma(x)`` (which is 1e-10 absolute for x ~ 1e5).
    """
    if x < 10:
        return float(special.gammaln(x + h) - special.gammaln(x))
    return (
        h * math.log(x)
        + (x + h - 0.5) * math.log1p(h / x)
        - h
        + _stirling_corr(x + h)
        - _stirling_corr(x)
    )


def _log_beta_ratio(a: float, b1: float, b2: float) -> float:
    """``log B(a, b1 + b2) - log B(a, b1)``, accurate for large arguments."""
    # = [lgamma(a+b1) - lgamma(b1)] - [lgamma(a+b1+b2) - lgamma(b1+b2)]   (shift a), or
    # = [lgamma(b1+b2) - lgamma(b1)] - [lgamma(a+b1+b2) - lgamma(a+b1)]   (shift b2)
    if a <= b2:
        return lgamma_diff(b1, a) - lgamma_diff(b1 + b2, a)
    return lgamma_diff(b1, b2) - lgamma_diff(a + b1, b2)


def _miller_sum(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """Evan Miller's sum for P(p_B > p_A); needs a whole ``a_b`` (number of terms)."""
    n = int(a_b)
    i = np.arange(n, dtype=float)
    # log T_0 = log B(a_a, b_a + b_b) - log B(a_a, b_a), without cancelling large lgammas
    log_t0 = _log_beta_ratio(a_a, b_a, b_b)
    if n == 1:
        return float(math.exp(log_t0))
    # T_{i+1}/T_i = (a_a+i)/(a_a+b_a+b_b+i) * (b_b+i)/(b_b+i+1) * (1+i+b_b)/(1+i)
    j = i[:-1]
    log_ratio = np.log((a_a + j) / (a_a + b_a + b_b + j)) + np.log((b_b + j) / (1.0 + j))
    # (b_b+i)/(b_b+i+1) * (1+i+b_b) = (b_b+i); written as above to keep terms O(1)
    log_t = np.concatenate(([log_t0], log_t0 + np.cumsum(log_ratio)))
    m = log_t.max()
    return float(math.exp(m) * np.exp(log_t - m).sum())


def _miller(a_a: float, b_a: float, a_b: float, b_b: float) -> float | None:
    """P(p_B > p_A) by the shortest of the four equivalent Evan Miller sums, or None."""
    options = []
    if _is_whole(a_b):
        options.append((a_b, lambda: _miller_sum(a_a, b_a, a_b, b_b)))
    if _is_whole(a_a):
        options.append((a_a, lambda: 1.0 - _miller_sum(a_b, b_b, a_a, b_a)))
    # 1 - p ~ Beta(b, a): P(p_B > p_A) = P(q_A > q_B)
    if _is_whole(b_a):
        options.append((b_a, lambda: _miller_sum(b_b, a_b, b_a, a_a)))
    if _is_whole(b_b):
        options.append((b_b, lambda: 1.0 - _miller_sum(b_a, a_a, b_b, a_b)))
    if not options:
        return None
    n, fn = min(options, key=lambda t: t[0])
    if n > MAX_SUM_TERMS:
        return None
    return min(1.0, max(0.0, fn()))


def prob_beat(
    alpha_a: float, beta_a: float, alpha_b: float, beta_b: float, method: str = "auto"
) -> float:
    """P(p_B > p_A) for independent ``p_A ~ Beta(alpha_a, beta_a)``, ``p_B ~ Beta(alpha_b, beta_b)``.

    Parameters
    ----------
    alpha_a, beta_a, alpha_b, beta_b : Beta posterior parameters (> 0).
    method : ``"auto"`` (Evan Miller's closed form when a sum of at most ``MAX_SUM_TERMS``
        whole-number terms exists, else quadrature), ``"closed"`` or ``"quad"``.

    Returns
    -------
    float in [0, 1].

    Examples
    --------
    >>> round(prob_beat(1, 1, 1, 1), 12)
    0.5
    """
    _as_params([alpha_a, alpha_b], [beta_a, beta_b])
    if method in ("auto", "closed"):
        p = _miller(alpha_a, beta_a, alpha_b, beta_b)
        if p is not None:
            return p
        if method == "closed":
            raise ValueError(
                "no Evan Miller sum: parameters are not whole numbers or the sum "
                f"would exceed {MAX_SUM_TERMS} terms"
            )
    return float(prob_best([alpha_a, alpha_b], [beta_a, beta_b])[1])


def expected_loss_pair(
    alpha_a: float, beta_a: float, alpha_b: float, beta_b: float, method: str = "auto"
) -> tuple[float, float]:
    """Stucchio's closed form: expected loss of choosing A and of choosing B.

    ``loss_A = E[max(p_B - p_A, 0)]
    = mu_B P(Beta(a_B+1, b_B) > Beta(a_A, b_A)) - mu_A P(Beta(a_B, b_B) > Beta(a_A+1, b_A))``,
    and ``loss_B = loss_A - (mu_B - mu_A)``.

    Returns
    -------
    (loss of choosing A, loss of choosing B), both >= 0, in absolute rate units.

    Examples
    --------
    >>> la, lb = expected_loss_pair(1, 1, 1, 1)
    >>> round(la, 12), round(lb, 12)   # E[max(U1 - U2, 0)] = 1/6
    (0.166666666667, 0.166666666667)
    """
    mu_a = alpha_a / (alpha_a + beta_a)
    mu_b = alpha_b / (alpha_b + beta_b)
    h1 = prob_beat(alpha_a, beta_a, alpha_b + 1, beta_b, method)
    h2 = prob_beat(alpha_a + 1, beta_a, alpha_b, beta_b, method)
    loss_a = mu_b * h1 - mu_a * h2
    loss_b = loss_a - (mu_b - mu_a)
    return max(loss_a, 0.0), max(loss_b, 0.0)


def _log_overlap(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """``log B(a_a + a_b, b_a + b_b) - log B(a_a, b_a) - log B(a_b, b_b)``."""
    return float(
        special.betaln(a_a + a_b, b_a + b_b) - special.betaln(a_a, b_a) - special.betaln(a_b, b_b)
    )


def pair_terms(
    alpha_c: float, beta_c: float, alpha_v: float, beta_v: float
) -> tuple[float, float, float, float]:
    """Everything a variant needs against its control, from one Evan Miller sum.

    Returns ``(P(p_v > p_c), E[(p_v - p_c)^+], E[(p_c - p_v)^+], E[(p_c - p_v)^+ / p_c])``:
    the chance to beat the control, the loss of keeping the control, the loss of shipping
    the variant (Stucchio) and that loss in units of the control's rate
    (:func:`loss_vs_control_relative`). The neighbouring sums these need follow from
    ``h = P(p_B > p_A)`` by one-term recurrences, e.g.
    ``h(a_A + 1, b_A, a_B, b_B) = h - B(a_A + a_B, b_A + b_B) / (a_A B(a_A, b_A) B(a_B, b_B))``
    and ``h(a_A, b_A, a_B + 1, b_B) = h + B(a_A + a_B, b_A + b_B) / (a_B B(a_A, b_A) B(a_B, b_B))``.
    Without a short Miller sum (or with ``alpha_c - 1 < MIN_PARAM``) the functions above are
    called one by one.
    """
    _as_params([alpha_c, alpha_v], [beta_c, beta_v])
    ac, bc, av, bv = (float(x) for x in (alpha_c, beta_c, alpha_v, beta_v))
    g = _miller(ac, bc, av, bv)
    if g is None or ac - 1 < MIN_PARAM:
        p = prob_beat(ac, bc, av, bv)
        keep, ship = expected_loss_pair(ac, bc, av, bv)
        return p, keep, ship, loss_vs_control_relative(ac, bc, av, bv)
    mu_c, mu_v = ac / (ac + bc), av / (av + bv)
    o = math.exp(_log_overlap(ac, bc, av, bv))
    h1, h2 = g + o / av, g - o / ac  # h(ac, bc, av + 1, bv), h(ac + 1, bc, av, bv)
    keep = mu_v * h1 - mu_c * h2
    ship = keep - (mu_v - mu_c)
    o1 = math.exp(_log_overlap(ac - 1, bc, av, bv))
    h3 = g + o1 / (ac - 1) + o1 / av  # h(ac - 1, bc, av + 1, bv)
    kappa = (ac + bc - 1) / (ac - 1)  # E[1 / p_c]
    rel = (1.0 - g) - mu_v * kappa * (1.0 - h3)
    return g, max(keep, 0.0), max(ship, 0.0), max(rel, 0.0)


# ---------------------------------------------------------------------------------------
# quadrature machinery
# ---------------------------------------------------------------------------------------


def beta_ranges(alpha, beta, tail: float = TAIL) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles ``tail`` and ``1 - tail`` of each Beta: outside them lies < 2*tail of mass."""
    a, b = _as_params(alpha, beta)
    return special.betaincinv(a, b, tail), special.betainccinv(a, b, tail)


def rough(p: float) -> bool:
    """True when ``x^(p - 1)`` is not smooth enough at 0 for Gauss-Legendre panels."""
    return p < 2 or (p < 8 and not float(p).is_integer())


def _arm_breaks(a: float, b: float, lo: float, hi: float, panels: int) -> np.ndarray:
    br = np.linspace(lo, hi, panels + 1)
    extra = []
    if rough(a) and lo < br[1] * 1e-3:  # density singular or steep at 0: geometric panels
        start = max(lo, 1e-300)
        k = int(np.ceil(np.log10(br[1] / start))) + 1
        extra.append(np.geomspace(start, br[1], max(k, 2)))
    if rough(b) and (1 - hi) < (1 - br[-2]) * 1e-3:
        start = max(1 - hi, 1e-300)
        k = int(np.ceil(np.log10((1 - br[-2]) / start))) + 1
        extra.append(1 - np.geomspace(start, 1 - br[-2], max(k, 2)))
    return np.unique(np.concatenate([br, *extra])) if extra else br


def nodes_from_breaks(breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights over the panels between ``breaks``."""
    br = np.sort(np.minimum(np.maximum(breaks, 0.0), X_TOP))
    left, right = br[:-1], br[1:]
    keep = right > left
    if not keep.all():
        left, right = left[keep], right[keep]
    half = (right - left) / 2
    mid = (right + left) / 2
    x = np.minimum(np.maximum((mid[:, None] + half[:, None] * _GL_T).ravel(), 1e-300), X_TOP)
    w = (half[:, None] * _GL_W).ravel()
    return x, w


def grid(
    alpha, beta, panels: int = PANELS_PER_ARM, extra_breaks: Sequence[float] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes/weights resolving every Beta(alpha_k, beta_k) posterior."""
    a, b = _as_params(alpha, beta)
    lo, hi = beta_ranges(a, b)
    parts = [_arm_breaks(a[k], b[k], lo[k], hi[k], panels) for k in range(len(a))]
    extra = np.asarray(extra_breaks, float)
    plain = all(len(p) == panels + 1 for p in parts)  # no geometric panels anywhere
    if plain and len(a) > 1:
        # overlapping arms: uniform panels as narrow as the narrowest arm's give the same
        # resolution with fewer nodes than the union of every arm's breaks
        n = int(np.ceil(panels * (hi.max() - lo.min()) / (hi - lo).min()))
        if n < len(a) * panels:
            parts = [np.linspace(lo.min(), hi.max(), n + 1)]
    return nodes_from_breaks(np.concatenate([*parts, extra]))


def log_pdf(x: np.ndarray, a, b) -> np.ndarray:
    """Log Beta density (broadcasting)."""
    return special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)


def grid_pdf(x: np.ndarray, w: np.ndarray, a, b) -> np.ndarray:
    """Beta densities at grid nodes, normalised by the quadrature itself.

    ``betaln`` loses ~1e-10 (relative) for parameters near 1e5; normalising the kernel
    ``x^(a-1) (1-x)^(b-1)`` numerically on a grid that covers the posterior is accurate to
    ~1e-15 and cannot overflow (the mass above ``X_TOP``, which the nodes cannot reach, is
    taken out of the normalisation). ``a``, ``b`` broadcast against ``x`` (e.g. K x 1).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    log_k = special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x)
    small = a + b < 1000  # betaln is exact to ~1e-15 here
    if np.all(small):
        return np.exp(log_k - special.betaln(a, b))
    one_d = log_k.ndim == 1
    log_k2 = np.atleast_2d(log_k)
    u = np.exp(log_k2 - log_k2.max(axis=-1, keepdims=True))
    # the nodes stop at X_TOP: normalise to the mass below it, not to 1
    below = 1.0 - np.broadcast_to(np.atleast_2d(_top_mass(a, b)), log_k2.shape)[:, :1]
    out = u / (u @ w)[:, None] * below
    if np.any(small):
        sm = np.broadcast_to(np.atleast_2d(small), log_k2.shape)
        with np.errstate(over="ignore", under="ignore"):
            ex = np.exp(log_k2 - np.broadcast_to(np.atleast_2d(special.betaln(a, b)), log_k2.shape))
        out = np.where(sm, ex, out)
    return out[0] if one_d else out


def _top_mass(a, b) -> np.ndarray:
    """Posterior mass above ``X_TOP`` (``P(1 - p < 2^-52)``), added as an endpoint term."""
    return special.betainc(b, a, 1.0 - X_TOP)


def _log_cdf(x: np.ndarray, a, b) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(special.betainc(a, b, x)), _TINY_LOG)


def _best_terms(
    a: np.ndarray, b: np.ndarray, control: int | None = None
) -> tuple[np.ndarray, float, float]:
    """P(best) of each arm, E[max_j p_j] and (with ``control``) E[max_j p_j / p_c], one grid.

    ``E[max_j p_j / p_c] = 1 + E[1/p_c] ∫ (1 - G(t)) I_t(a_c - 1, b_c) dt`` with ``G`` the
    product of the other arms' CDFs; NaN unless the control posterior has ``alpha > 1``.
    """
    rel = control is not None and a[control] > 1
    ga, gb = (np.append(a, a[control] - 1), np.append(b, b[control])) if rel else (a, b)
    x, w = grid(ga, gb)
    A, B = a[:, None], b[:, None]
    f = grid_pdf(x, w, A, B)  # K x N
    log_F = _log_cdf(np.append(x, X_TOP), A, B)  # K x (N + 1), last column at X_TOP
    lF, lF_top = log_F[:, :-1], log_F[:, -1]
    log_others = lF.sum(axis=0) - lF  # log prod_{j != i} F_j
    dens = f * np.exp(log_others)  # f_i prod_{j!=i} F_j
    # endpoint term: mass of arm i above X_TOP times the others' CDFs there
    top = _top_mass(a, b) * np.exp(lF_top.sum() - lF_top)
    p = dens @ w + top
    emax = float((dens * x).sum(axis=0) @ w + top.sum())
    e_ratio = np.nan
    if rel:
        ac, bc = a[control], b[control]
        one_minus_g = -np.expm1(log_others[control])
        integral = float((one_minus_g * special.betainc(ac - 1, bc, x)) @ w)
        e_ratio = 1.0 + (ac + bc - 1) / (ac - 1) * integral
    return np.clip(p, 0.0, 1.0), emax, e_ratio


def best_and_losses(alpha, beta, control: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(best), expected loss ``E[max_j p_j - p_k]`` and the same in units of the control's
    rate, ``E[(max_j p_j - p_k) / p_c]``, of every arm from one quadrature (see
    :func:`expected_loss_relative` for the relative one; inf when ``alpha_c <= 1``)."""
    a, b = _as_params(alpha, beta)
    if len(a) == 1:
        return np.ones(1), np.zeros(1), np.zeros(1)
    p, emax, e_max_ratio = _best_terms(a, b, control)
    loss = np.maximum(emax - a / (a + b), 0.0)
    if not np.isfinite(e_max_ratio):
        return p, loss, np.full(len(a), np.inf)
    kappa = (a[control] + b[control] - 1) / (a[control] - 1)
    e_ratio = a / (a + b) * kappa
    e_ratio[control] = 1.0
    return p, loss, np.maximum(e_max_ratio - e_ratio, 0.0)


def prob_best(alpha, beta) -> np.ndarray:
    """P(arm k has the highest rate) for each of K independent Beta posteriors.

    Computed as the 1-D integral ``∫ f_k(x) Π_{j≠k} F_j(x) dx`` by composite Gauss-Legendre
    quadrature (absolute error < 1e-12 in the tests; the K values sum to 1 within 1e-12).

    Examples
    --------
    >>> [round(float(v), 9) for v in prob_best([1, 1, 1], [1, 1, 1])]
    [0.333333333, 0.333333333, 0.333333333]
    """
    a, b = _as_params(alpha, beta)
    if len(a) == 1:
        return np.ones(1)
    return _best_terms(a, b)[0]


def expected_max(alpha, beta) -> float:
    """E[max_k p_k] over K independent Beta posteriors (1-D integral)."""
    a, b = _as_params(alpha, beta)
    if len(a) == 1:
        return float(a[0] / (a[0] + b[0]))
    return _best_terms(a, b)[1]


def expected_loss(alpha, beta) -> np.ndarray:
    """Expected loss of choosing each arm: ``E[max_j p_j - p_k]`` (absolute rate units).

    With two arms this equals Stucchio's pairwise loss (:func:`expected_loss_pair`).
    """
    a, b = _as_params(alpha, beta)
    return np.maximum(expected_max(a, b) - a / (a + b), 0.0)


def best_and_loss(alpha, beta) -> tuple[np.ndarray, np.ndarray]:
    """P(best) and expected loss ``E[max_j p_j - p_k]`` of every arm from one quadrature."""
    a, b = _as_params(alpha, beta)
    if len(a) == 1:
        return np.ones(1), np.zeros(1)
    p, emax, _ = _best_terms(a, b)
    return p, np.maximum(emax - a / (a + b), 0.0)


def expected_loss_relative(alpha, beta, control: int = 0) -> np.ndarray:
    """Expected loss in units of the control's rate: ``E[(max_j p_j - p_k) / p_c]``.

    Uses ``E[max_j p_j / p_c] = 1 + E[1/p_c] ∫ (1 - G(t)) I_t(a_c - 1, b_c) dt`` with
    ``G`` the product of the other arms' CDFs (a 1-D integral). Infinite when the control
    posterior has ``alpha <= 1`` (E[1/p_c] diverges), which is then the honest answer.
    """
    a, b = _as_params(alpha, beta)
    if a[control] <= 1:
        return np.full(len(a), np.inf)
    return best_and_losses(a, b, control)[2]


def loss_vs_control_relative(
    alpha_c: float, beta_c: float, alpha_v: float, beta_v: float, method: str = "auto"
) -> float:
    """``E[max(p_c - p_v, 0) / p_c]``: relative loss of shipping the variant (always finite).

    Closed form (``alpha_c - 1 >= MIN_PARAM``): since ``x f_v(x) = mu_v f(x; a_v + 1, b_v)``
    and ``f_c(x) / x = kappa f(x; a_c - 1, b_c)`` with ``kappa = E[1/p_c]``,
    ``E[(p_c - p_v)^+ / p_c] = P(p_v < p_c) - mu_v kappa P(Beta(a_v+1, b_v) < Beta(a_c-1, b_c))``,
    two Evan Miller sums. Otherwise (or ``method="quad"``) the 1-D integral
    ``∫ f_c(x) [F_v(x) - mu_v I_x(a_v + 1, b_v) / x] dx`` (the bracket is ``E[(x - p_v)^+] / x``).
    """
    _as_params([alpha_c, alpha_v], [beta_c, beta_v])
    mu_v = alpha_v / (alpha_v + beta_v)
    if method == "auto" and alpha_c - 1 >= MIN_PARAM:
        p1 = _miller(alpha_c, beta_c, alpha_v, beta_v)  # P(p_v > p_c)
        p2 = _miller(alpha_v + 1, beta_v, alpha_c - 1, beta_c)  # P(Beta(a_c-1,.) > Beta(a_v+1,.))
        if p1 is not None and p2 is not None:
            kappa = (alpha_c + beta_c - 1) / (alpha_c - 1)
            return max((1.0 - p1) - mu_v * kappa * p2, 0.0)
    x, w = grid([alpha_c, alpha_v, alpha_v + 1], [beta_c, beta_v, beta_v])
    inner = special.betainc(alpha_v, beta_v, x) - mu_v * special.betainc(alpha_v + 1, beta_v, x) / x
    val = float((grid_pdf(x, w, alpha_c, beta_c) * np.clip(inner, 0.0, 1.0)) @ w)
    val += float(_top_mass(alpha_c, beta_c)) * float(
        special.betainc(alpha_v, beta_v, X_TOP) - mu_v * special.betainc(alpha_v + 1, beta_v, X_TOP)
    )
    return max(val, 0.0)


def _arm_breaks_all(alpha: float, beta: float, panels: int = PANELS_PER_ARM) -> np.ndarray:
    lo, hi = beta_ranges(alpha, beta)
    return _arm_breaks(float(alpha), float(beta), float(lo[0]), float(hi[0]), panels)
