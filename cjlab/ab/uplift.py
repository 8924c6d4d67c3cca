"""Exact distributions of the uplift of one Beta posterior over another.

For independent ``p_c ~ Beta(alpha_c, beta_c)`` (control) and ``p_v ~ Beta(alpha_v, beta_v)``
(variant) this module gives the CDF, density and quantiles of the absolute uplift
``D = p_v - p_c`` and of the ratio ``R = p_v / p_c`` (the relative uplift is ``R - 1``). Both
CDFs are 1-D integrals, ``P(D <= d) = ∫ f_c(x) F_v(x + d) dx`` and
``P(R <= r) = ∫ f_c(x) F_v(r x) dx``, evaluated by composite Gauss-Legendre quadrature
(:mod:`cjlab.ab.exact`), accurate to about 1e-13 absolute.

:func:`uplift_quantiles` finds several quantiles of both at once: one safeguarded Newton
iteration for all of them in lockstep (one vectorised ``betainc`` call per step), started at
the Cornish-Fisher approximation from the exact cumulants (of ``p`` for the difference, of
``log p`` for the ratio: polygamma functions), so two or three steps suffice. Each integral
runs over the posterior that is *narrower* relative to the other (the other's CDF is then
smooth across it), with breaks where the other's support ends.

Examples
--------
>>> from cjlab.ab.uplift import uplift_quantiles, ratio_cdf_pdf
>>> q = uplift_quantiles([0.025, 0.5, 0.975], 101, 901, 121, 881)
>>> [round(float(v), 4) for v in q["ratio"]]
[0.9372, 1.1971, 1.5315]
>>> round(ratio_cdf_pdf(float(q["ratio"][1]), 101, 901, 121, 881)[0], 12)
0.5
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import special

from cjlab.ab.exact import (
    X_TOP,
    _arm_breaks_all,
    _top_mass,
    grid_pdf,
    log_pdf,
    nodes_from_breaks,
    rough,
)

KINDS = ("ratio", "diff")
_SIGN = np.array([1.0, -1.0, 1.0, -1.0])  # cumulants of -X: odd ones change sign
#: largest Gauss-Legendre order used to integrate whole-number posteriors exactly
POLY_MAX = 96

#: residual |CDF - q| below which one more Halley step is taken and accepted unchecked
#: (the residual after it is ~ C * 1e-18, C a modest constant of the distribution's shape)
ACCEPT = 1e-5
#: ... where both posteriors are close to normal (every parameter at least this); elsewhere
#: only below ACCEPT_ROUGH (the residual after the step is then ~ C * 1e-18), and never
#: where a density is singular at an end (there the iteration runs to TOL)
SMOOTH = 10.0
ACCEPT_ROUGH = 1e-6
TOL = 1e-14


# ---------------------------------------------------------------------------------------
# the arms and the equations G(t) = target
# ---------------------------------------------------------------------------------------


class Arm:
    """A posterior with its quadrature breaks, nodes, range and cumulants (computed once)."""

    def __init__(self, a: float, b: float):
        self.a, self.b = float(a), float(b)
        # near-normal posteriors need fewer panels for the same accuracy (about 1e-12)
        self.breaks = _arm_breaks_all(a, b, 4 if min(a, b) >= 30 else 5)
        self.lo, self.hi = float(self.breaks[0]), float(self.breaks[-1])
        self.singular = rough(a) or rough(b)
        s = a + b
        mean, var = a / s, a * b / (s * s * (s + 1))
        skew = 2 * (b - a) * math.sqrt(s + 1) / ((s + 2) * math.sqrt(a * b))
        exkurt = 6 * ((a - b) ** 2 * (s + 1) - a * b * (s + 2)) / (a * b * (s + 2) * (s + 3))
        self.cum = np.array([mean, var, skew * var**1.5, exkurt * var * var])
        # log p: psi^(n-1)(a) - psi^(n-1)(a + b), with psi^(m)(x) = (-1)^(m+1) m! zeta(m+1, x)
        z = special.zeta(
            np.array([2.0, 3.0, 4.0, 2.0, 3.0, 4.0]), np.array([a, a, a, s, s, s], dtype=float)
        )
        psi = special.digamma([a, s])
        self.log_cum = np.concatenate(
            [[psi[0] - psi[1]], np.array([1.0, -2.0, 6.0]) * (z[:3] - z[3:])]
        )
        self.top = float(_top_mass(a, b))
        self._nodes: tuple[np.ndarray, np.ndarray] | None = None

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature nodes over this arm and the weights times its density."""
        if self._nodes is None:
            x, w = nodes_from_breaks(self.breaks)
            self._nodes = (x, grid_pdf(x, w, self.a, self.b) * w)
        return self._nodes


def _cornish_fisher(k: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles ``q`` from cumulants ``k`` (mean, variance, k3, k4)."""
    sd = math.sqrt(max(k[1], 1e-300))
    g1, g2 = k[2] / sd**3, k[3] / sd**4
    z = special.ndtri(q)
    w = z + (z * z - 1) * g1 / 6 + (z**3 - 3 * z) * g2 / 24 - (2 * z**3 - 5 * z) * g1 * g1 / 36
    # far tails of very skewed posteriors: the expansion may fold back; keep it monotone
    w = np.where(np.abs(w - z) > 2 + abs(z), z, w)
    return k[0] + sd * w


@functools.cache
def _gauss_legendre01(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights of order ``n`` on [0, 1]."""
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) / 2, w / 2


class _Equations:
    """``G_e(t_e) = target_e`` for several quantiles of the ratio and the difference.

    ``G(t) = P(p_2 <= t p_1)`` (ratio) or ``P(p_2 - p_1 <= t)`` (difference) is integrated
    over arm ``p_1``, the relatively narrower of the two, so arm two's CDF is smooth across it
    except where its support ends (mapped into arm one's coordinates: "kinks"), which become
    panel breaks. Whole-number posteriors of low degree are integrated exactly instead (one
    Gauss-Legendre panel between the kinks; see :meth:`_poly`).
    """

    def __init__(self, qs: np.ndarray, c: Arm, variants: Sequence[Arm], kinds: Sequence[str]):
        self.rows: list[tuple[str, bool, Arm, Arm]] = []
        cols: list[tuple[float, float, float, float]] = []  # target, start, bracket lo, hi
        for v in variants:
            for kind in kinds:
                self._add(qs, c, v, kind, cols)
        self.target, self.start, self.lo, self.hi = (np.array(x) for x in zip(*cols))
        self.ratio = np.array([r[0] == "ratio" for r in self.rows])
        par = np.array([(r[2].a, r[2].b, r[3].a, r[3].b) for r in self.rows])
        self.a1, self.b1, self.a2, self.b2 = (par[:, [k]] for k in range(4))
        self.smooth = par.min(axis=1) >= SMOOTH
        regular = np.array([not (r[2].singular or r[3].singular) for r in self.rows])
        self.accept = np.where(self.smooth, ACCEPT, np.where(regular, ACCEPT_ROUGH, 0.0))
        whole = all(float(p).is_integer() for p in par.ravel())
        order = int(par.sum(axis=1).max() - 3) // 2 + 1  # one order for all: exact for each
        self.poly = order if whole and order <= POLY_MAX else 0
        self.top = (
            np.zeros(len(self.rows)) if self.poly else np.array([r[2].top for r in self.rows])
        )
        self._any_singular = any(r[3].singular for r in self.rows)
        self._betaln2 = special.betaln(self.a2, self.b2)
        self._range = (
            np.array([r[2].lo for r in self.rows]),
            np.array([r[2].hi for r in self.rows]),
        )
        self._fixed: tuple[np.ndarray, np.ndarray] | None = None

    def _add(self, qs: np.ndarray, c: Arm, v: Arm, kind: str, cols: list) -> None:
        """The equations of one variant and one kind, started at Cornish-Fisher quantiles."""
        ratio = kind == "ratio"
        if ratio:  # quantiles of log R; orientation per quantile (see below)
            starts = np.exp(_cornish_fisher(v.log_cum - c.log_cum * _SIGN, qs))
        else:
            starts = _cornish_fisher(v.cum - c.cum * _SIGN, qs)
        c_width, v_width = c.hi - c.lo, v.hi - v.lo
        for q, t0 in zip(qs.tolist(), starts.tolist()):
            # integrate over the arm whose density is narrower than the other's CDF in its
            # coordinates: for R = p_v / p_c near r, F_v(r x) spans (hi_v - lo_v) / r against
            # the control's width, F_c(y / r) spans (hi_c - lo_c) r against the variant's:
            # exactly one of the two ratios exceeds 1. D shifts, not scales.
            swap = c_width * t0 > v_width if ratio else bool(v.cum[1] < c.cum[1])
            one, two = (v, c) if swap else (c, v)
            if ratio:
                blo, bhi = max(two.lo / one.hi * 0.5, 1e-300), two.hi / max(one.lo, 1e-300) * 2.0
                t1 = min(max(1.0 / t0 if swap else t0, blo * 1.0001), bhi)
            else:
                blo, bhi = two.lo - one.hi - 1e-12, two.hi - one.lo + 1e-12
                t1 = min(max(-t0 if swap else t0, blo), bhi)
            self.rows.append((kind, swap, one, two))
            cols.append((1.0 - q if swap else q, t1, blo, bhi))

    def _poly(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact for whole-number parameters: on ``[L, U]`` (where ``0 < y < 1``) the integrand
        is a polynomial of degree ``a1 + b1 + a2 + b2 - 3``; beyond ``U``, ``F_2 = 1``."""
        lo = np.where(self.ratio, 0.0, np.maximum(-t, 0.0))
        hi = np.where(
            self.ratio,
            np.minimum(1.0, 1.0 / np.where(self.ratio, t, 1.0)),
            np.minimum(1.0, 1.0 - t),
        )
        width = np.maximum(hi - lo, 0.0)
        tau, wt = _gauss_legendre01(self.poly)
        x = lo[:, None] + width[:, None] * tau
        fw = np.exp(log_pdf(x, self.a1, self.b1)) * (width[:, None] * wt)
        rest = np.where(
            hi < 1.0, special.betaincc(self.a1[:, 0], self.b1[:, 0], np.minimum(hi, 1.0)), 0.0
        )
        return x, fw, rest

    def _panels(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arm one's panels, plus breaks at arm two's kinks that fall inside its range."""
        if self._fixed is not None and not self._any_singular:
            # the common case, checked for every row at once: the ends of arm two's support
            # map outside arm one's range (1/t for a ratio; -t and 1 - t for a difference)
            e1 = np.where(self.ratio, 1.0 / np.where(self.ratio, t, 1.0), -t)
            e2 = np.where(self.ratio, -1.0, 1.0 - t)
            lo1, hi1 = self._range
            if not (((e1 > lo1) & (e1 < hi1)) | ((e2 > lo1) & (e2 < hi1))).any():
                return (*self._fixed, np.zeros(len(t)))
        parts, moved = [], False
        for (kind, _, one, two), ti in zip(self.rows, t):
            if kind == "ratio":
                e = [np.array([1.0 / ti])] + ([two.breaks / ti] if two.singular else [])
            else:
                e = [np.array([-ti, 1.0 - ti])] + ([two.breaks - ti] if two.singular else [])
            e = np.concatenate(e)
            inside = e[(e > one.lo) & (e < one.hi)]
            if len(inside):
                moved = True
                x, w = nodes_from_breaks(np.concatenate([one.breaks, inside]))
                parts.append((x, grid_pdf(x, w, one.a, one.b) * w))
            else:
                parts.append(one.nodes())
        if not moved and self._fixed is not None:
            x, fw = self._fixed
        else:
            n = max(len(p[0]) for p in parts)
            x, fw = np.full((len(parts), n), 0.5), np.zeros((len(parts), n))
            for i, (xi, fi) in enumerate(parts):
                x[i, : len(xi)], fw[i, : len(fi)] = xi, fi
            if not moved:
                self._fixed = (x, fw)
        return x, fw, np.zeros(len(t))

    def evaluate(self, t: np.ndarray, second: bool = False):
        """``G(t)`` and ``G'(t)`` of every equation (one betainc call), and ``G''(t)`` when
        ``second`` (from the same nodes: no further betainc)."""
        x, fw, rest = self._poly(t) if self.poly else self._panels(t)
        ratio = self.ratio[:, None]
        scale = np.where(self.ratio, t, 1.0)
        shift = np.where(self.ratio, 0.0, t)
        y_raw = x * scale[:, None] + shift[:, None]  # t x (ratio) or x + t (difference)
        top_y = np.clip(X_TOP * scale + shift, 0.0, 1.0)
        f = special.betainc(self.a2, self.b2, np.hstack([np.clip(y_raw, 0.0, 1.0), top_y[:, None]]))
        g = (fw * f[:, :-1]).sum(axis=1) + self.top * f[:, -1] + rest
        inside = (y_raw > 0) & (y_raw < 1)
        yy = np.where(inside, y_raw, 0.5)
        log_f2 = special.xlogy(self.a2 - 1, yy) + special.xlog1py(self.b2 - 1, -yy) - self._betaln2
        dy = np.where(ratio, x, 1.0)  # dg/dt of the mapping y(x, t)
        dens = np.where(inside, fw * np.exp(log_f2) * dy, 0.0)
        dg = dens.sum(axis=1)
        if not second:
            return np.clip(g, 0.0, 1.0), dg
        slope = (self.a2 - 1) / yy - (self.b2 - 1) / (1 - yy)  # f2'(y) / f2(y)
        d2g = (dens * dy * slope).sum(axis=1)
        return np.clip(g, 0.0, 1.0), dg, d2g

    def solve(self, maxiter: int = 100) -> np.ndarray:
        """Safeguarded Halley iterations for every equation at once (bisection when a step
        leaves the bracket; geometric bisection for ratios).

        Halley's step ``-r / G' / (1 - r G'' / (2 G'^2))`` cuts the error to ``O(r^3)``: from
        the Cornish-Fisher start (``|r|`` about 1e-6 at a hundred conversions, 1e-8 at
        thousands) one evaluation is enough where both posteriors are close to normal, and its
        step is taken unchecked; elsewhere the iteration runs until ``|r| < 1e-14``.
        """
        t, lo, hi = self.start.copy(), self.lo.copy(), self.hi.copy()
        active = np.ones(len(t), bool)
        for _ in range(maxiter):
            g, dg, d2g = self.evaluate(t, second=True)
            r = g - self.target
            lo = np.where(active & (r < 0), t, lo)
            hi = np.where(active & (r >= 0), t, hi)
            ok = (dg > 0) & np.isfinite(dg)
            newton = r / np.where(ok, dg, np.inf)
            corr = 1.0 - newton * np.nan_to_num(d2g) / (2 * np.where(ok, dg, 1.0))
            corr = np.where((corr > 0.5) & (corr < 2.0), corr, 1.0)
            nt = t - newton / corr
            bad = ~ok | ~((nt > lo) & (nt < hi))
            nt = np.where(bad, np.where(self.ratio, np.sqrt(np.abs(lo * hi)), 0.5 * (lo + hi)), nt)
            done = np.abs(r) < TOL
            tiny = np.abs(nt - t) <= 1e-15 * np.maximum(1.0, np.abs(t))
            t = np.where(active & ~done, nt, t)
            accept = np.abs(r) < self.accept
            active &= ~(done | (accept & ~bad) | tiny)
            if not active.any():
                break
        return t

    def cdf_pdf(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CDF and density of the ratio / difference itself at ``t`` (undoing the swap)."""
        swap = np.array([r[1] for r in self.rows])
        tt = _unswap(t, swap, self.ratio)
        g, dg = self.evaluate(tt)
        out_c = np.where(swap, 1.0 - g, g)
        out_p = np.where(swap, np.where(self.ratio, dg * tt * tt, dg), dg)
        return out_c, out_p


def _unswap(t: np.ndarray, swap: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Map between the two orientations: ``R = 1 / R'`` and ``D = -D'`` (an involution)."""
    inv = 1.0 / np.where(ratio & swap, t, 1.0)
    return np.where(swap, np.where(ratio, inv, -t), t)


def _var_pdf(y: np.ndarray, a, b) -> np.ndarray:
    inside = (y > 0) & (y < 1)
    out = np.exp(log_pdf(np.where(inside, y, 0.5), a, b))
    return np.where(inside, out, 0.0)


def uplift_quantiles(
    qs: Sequence[float],
    alpha_c: float,
    beta_c: float,
    alpha_v: float,
    beta_v: float,
    kinds: Sequence[str] = KINDS,
) -> dict[str, np.ndarray]:
    """Exact quantiles of ``p_v / p_c`` (``"ratio"``) and ``p_v - p_c`` (``"diff"``).

    Parameters
    ----------
    qs : probabilities in (0, 1), e.g. ``(0.025, 0.5, 0.975)``.
    alpha_c, beta_c, alpha_v, beta_v : Beta posterior parameters of control and variant.
    kinds : which of ``"ratio"`` and ``"diff"`` to compute.

    Returns
    -------
    dict kind -> array of quantiles (same order as ``qs``); the CDF at each is within about
    1e-12 of its probability.
    """
    return uplift_quantiles_many(qs, (alpha_c, beta_c), [(alpha_v, beta_v)], kinds)[0]


def uplift_quantiles_many(
    qs: Sequence[float],
    control: tuple[float, float],
    variants: Sequence[tuple[float, float]],
    kinds: Sequence[str] = KINDS,
) -> list[dict[str, np.ndarray]]:
    """:func:`uplift_quantiles` of several variants against one control, solved together
    (one system of equations, one ``betainc`` call per step for all of them)."""
    q = np.asarray(qs, dtype=float)
    if np.any((q <= 0) | (q >= 1)):
        raise ValueError(f"quantile probabilities must lie in (0, 1), got {list(q)}")
    eq = _Equations(q, Arm(*control), [Arm(a, b) for a, b in variants], kinds)
    t = _unswap(eq.solve(), np.array([r[1] for r in eq.rows]), eq.ratio)
    n = len(q)
    return [
        {k: t[(i * len(kinds) + j) * n : (i * len(kinds) + j + 1) * n] for j, k in enumerate(kinds)}
        for i in range(len(variants))
    ]


def diff_quantile(q: float, alpha_c: float, beta_c: float, alpha_v: float, beta_v: float) -> float:
    """Exact ``q``-quantile of ``p_v - p_c`` (root of the 1-D-integral CDF)."""
    return float(uplift_quantiles([q], alpha_c, beta_c, alpha_v, beta_v, ("diff",))["diff"][0])


def ratio_quantile(q: float, alpha_c: float, beta_c: float, alpha_v: float, beta_v: float) -> float:
    """Exact ``q``-quantile of ``p_v / p_c`` (root of the 1-D-integral CDF)."""
    return float(uplift_quantiles([q], alpha_c, beta_c, alpha_v, beta_v, ("ratio",))["ratio"][0])


def _cdf_pdf(
    kind: str, t: float, alpha_c: float, beta_c: float, alpha_v: float, beta_v: float
) -> tuple[float, float]:
    eq = _Equations(np.array([0.5]), Arm(alpha_c, beta_c), [Arm(alpha_v, beta_v)], (kind,))
    c, p = eq.cdf_pdf(np.array([float(t)]))
    return float(c[0]), float(p[0])


def diff_cdf_pdf(
    d: float, alpha_c: float, beta_c: float, alpha_v: float, beta_v: float
) -> tuple[float, float]:
    """CDF and density of ``D = p_v - p_c`` at ``d``: ``∫ f_c(x) F_v(x + d) dx``."""
    return _cdf_pdf("diff", d, alpha_c, beta_c, alpha_v, beta_v)


def ratio_cdf_pdf(
    r: float, alpha_c: float, beta_c: float, alpha_v: float, beta_v: float
) -> tuple[float, float]:
    """CDF and density of ``R = p_v / p_c`` at ``r > 0``: ``∫ f_c(x) F_v(r x) dx``."""
    return _cdf_pdf("ratio", r, alpha_c, beta_c, alpha_v, beta_v)


def solve_cdf(
    cdf_pdf: Callable[[float], tuple[float, float]],
    q: float,
    x0: float,
    lo: float,
    hi: float,
    tol: float = 1e-13,
    maxiter: int = 200,
    geometric: bool = False,
) -> float:
    """Safeguarded Newton for cdf(x) = q on a bracket (lo, hi) (a scalar helper)."""
    x = min(max(x0, lo), hi)
    for _ in range(maxiter):
        c, p = cdf_pdf(x)
        g = c - q
        if abs(g) < tol:
            return x
        lo, hi = (x, hi) if g < 0 else (lo, x)
        nx = x - g / p if p > 0 and np.isfinite(p) else None
        if nx is None or not (lo < nx < hi):
            nx = math.sqrt(lo * hi) if geometric else 0.5 * (lo + hi)
        if abs(nx - x) <= 1e-15 * max(1.0, abs(x)):
            return nx
        x = nx
    return x
