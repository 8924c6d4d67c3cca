"""Exact Beta-posterior metrics against independent 30-digit mpmath references.

References used here never call cjlab code:
* small counts: ``mpmath.quad`` of the defining integrals with ``mpmath.betainc``;
* large counts: Evan Miller's sum evaluated term by term with ``mpmath.beta`` (30 digits),
  and a nested high-precision Gauss-Legendre scheme whose CDFs are built by integrating the
  density (independent of scipy's ``betainc``) for K > 2 arms;
* closed forms with known values (uniform posteriors: P = 1/K, E[max(U1 - U2, 0)] = 1/6).
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest
from scipy import stats

from cjlab.ab import exact, uplift

TOL = 1e-9
mp.mp.dps = 20


# ------------------------------------------------------------------ mpmath references
def _pdf(x, a, b):
    x = mp.mpf(x)
    if x <= 0 or x >= 1:
        return mp.mpf(0)
    return mp.exp((a - 1) * mp.log(x) + (b - 1) * mp.log1p(-x) - mp.log(mp.beta(a, b)))


def _cdf(x, a, b):
    x = mp.mpf(x)
    if x <= 0:
        return mp.mpf(0)
    if x >= 1:
        return mp.mpf(1)
    return mp.betainc(a, b, 0, x, regularized=True)


def _breaks(params, extra=()):
    pts = {mp.mpf(0), mp.mpf(1), *map(mp.mpf, extra)}
    for a, b in params:
        d = stats.beta(a, b)
        pts.update(mp.mpf(float(q)) for q in d.ppf(np.linspace(1e-12, 1 - 1e-12, 5)))
    return sorted(pts)


def mp_prob_best(params):
    out = []
    for i, (ai, bi) in enumerate(params):
        others = [p for j, p in enumerate(params) if j != i]
        out.append(
            mp.quad(
                lambda x, ai=ai, bi=bi, others=others: (
                    _pdf(x, ai, bi) * mp.fprod(_cdf(x, a, b) for a, b in others)
                ),
                _breaks(params),
            )
        )
    return out


def mp_expected_max(params):
    return mp.quad(lambda x: 1 - mp.fprod(_cdf(x, a, b) for a, b in params), _breaks(params))


def mp_miller(a_a, b_a, a_b, b_b):
    """Evan Miller's P(p_B > p_A) summed in 30-digit arithmetic over the shortest whole index
    (1 - p ~ Beta(b, a) turns sums over alpha into sums over beta)."""
    _n, form = min((a_b, 0), (a_a, 1), (b_a, 2), (b_b, 3))
    if form == 0:
        return _mp_miller(a_a, b_a, a_b, b_b)
    if form == 1:
        return 1 - _mp_miller(a_b, b_b, a_a, b_a)
    if form == 2:
        return _mp_miller(b_b, a_b, b_a, a_a)
    return 1 - _mp_miller(b_a, a_a, b_b, a_b)


def _mp_miller(a_a, b_a, a_b, b_b):
    a_a, b_a, b_b = map(mp.mpf, (a_a, b_a, b_b))
    return mp.fsum(
        mp.beta(a_a + i, b_a + b_b) / ((b_b + i) * mp.beta(1 + i, b_b) * mp.beta(a_a, b_a))
        for i in range(int(a_b))
    )


def mp_diff_cdf(d, c, v):
    return mp.quad(lambda x: _pdf(x, *c) * _cdf(x + d, *v), _breaks([c, v], [mp.mpf(0) - d]))


def mp_ratio_cdf(r, c, v):
    return mp.quad(lambda x: _pdf(x, *c) * _cdf(r * x, *v), _breaks([c, v], [1 / mp.mpf(r)]))


def mp_rel_loss_ship(c, v):
    """E[max(p_c - p_v, 0) / p_c] = ∫ f_c(x) E[(x - p_v)^+] / x dx.

    Inner part by the textbook identity E[(x - Y)^+] = x F(x) - mu I_x(a + 1, b), Y ~ Beta(a, b).
    """
    mu = mp.mpf(v[0]) / (v[0] + v[1])

    def inner(x):
        return _cdf(x, *v) - mu * _cdf(x, v[0] + 1, v[1]) / x

    return mp.quad(lambda x: _pdf(x, *c) * inner(x), _breaks([c, v]))


# posteriors under a uniform prior for (users, conversions) pairs, incl. 0 % and 100 %
def post(n, k, a0=1.0, b0=1.0):
    return (a0 + k, b0 + n - k)


SMALL_PAIRS = [
    (post(20, 0), post(20, 20)),  # 0 % vs 100 %
    (post(20, 20), post(20, 0)),
    (post(20, 0), post(20, 0)),  # both 0 %
    (post(20, 20), post(20, 20)),  # both 100 %
    (post(20, 3), post(20, 7)),
    (post(1000, 0), post(1000, 3)),
    (post(100, 50), post(30, 17)),  # unequal sizes
    (post(20, 0, 0.5, 0.5), post(20, 4, 0.5, 0.5)),  # Jeffreys prior: singular densities
    ((2.5, 7.25), (3.75, 4.5)),  # non-integer (informative) priors: no Miller sum
]


@pytest.mark.parametrize(("c", "v"), SMALL_PAIRS)
def test_prob_beat_and_loss_small_counts_vs_mpmath(c, v):
    ref_p = mp_prob_best([c, v])[1]  # P(p_v > p_c)
    assert abs(exact.prob_beat(*c, *v) - ref_p) < TOL
    assert abs(exact.prob_beat(*c, *v, method="quad") - ref_p) < TOL
    # Stucchio: loss of choosing c = E[max(p_v - p_c, 0)] = E[max] - mu_c
    emax = mp_expected_max([c, v])
    loss_c, loss_v = exact.expected_loss_pair(*c, *v)
    assert abs(loss_c - (emax - c[0] / (c[0] + c[1]))) < TOL
    assert abs(loss_v - (emax - v[0] / (v[0] + v[1]))) < TOL
    # the K-arm integral agrees with Stucchio's closed form
    np.testing.assert_allclose(
        exact.expected_loss([c[0], v[0]], [c[1], v[1]]), [loss_c, loss_v], atol=TOL, rtol=0
    )


@pytest.mark.parametrize(("c", "v"), SMALL_PAIRS[:7])
def test_miller_closed_form_vs_30_digit_sum(c, v):
    assert abs(exact.prob_beat(*c, *v, method="closed") - mp_miller(*c, *v)) < TOL


@pytest.mark.parametrize(
    ("n_c", "k_c", "n_v", "k_v"),
    [
        (1_000, 50, 1_000, 62),
        (50_000, 2_500, 50_000, 2_600),
        (50_000, 2_500, 1_000, 40),  # very different posterior widths
        (20, 10, 50_000, 25_000),
        (100_000, 3_000, 100_000, 3_200),  # a + b ~ 1e5: betaln alone would lose 1e-10
        (50_000, 0, 50_000, 3),  # 0 % at large counts
        (50_000, 50_000, 50_000, 49_990),  # 100 % at large counts
        (50_000, 0, 20, 0),  # 0 % with very different widths
    ],
)
def test_prob_beat_large_counts_vs_30_digit_sum(n_c, k_c, n_v, k_v):
    c, v = post(n_c, k_c), post(n_v, k_v)
    ref = mp_miller(*c, *v)
    assert abs(exact.prob_beat(*c, *v) - ref) < TOL
    assert abs(exact.prob_beat(*c, *v, method="quad") - ref) < TOL
    # Stucchio's loss of shipping v: mu_c P(Beta(a_c+1, b_c) > p_v) - mu_v P(p_c > Beta(a_v+1, b_v))
    mu_c, mu_v = mp.mpf(c[0]) / sum(c), mp.mpf(v[0]) / sum(v)
    ref_loss = mu_c * (1 - mp_miller(c[0] + 1, c[1], *v)) - mu_v * (
        1 - mp_miller(*c, v[0] + 1, v[1])
    )
    assert abs(exact.expected_loss_pair(*c, *v)[1] - float(ref_loss)) < TOL
    assert (
        abs(
            exact.expected_loss(np.array([c[0], v[0]]), np.array([c[1], v[1]]))[1] - float(ref_loss)
        )
        < TOL
    )


def test_large_sum_switches_to_quadrature_and_agrees():
    c, v = post(200_000, 100_000), post(200_000, 100_500)  # every Miller sum > 20,000 terms
    p_quad = exact.prob_beat(*c, *v)
    # reference: Miller sum in 30 digits over the shorter (alpha_v) index is 100,501 terms —
    # too slow here; instead use the symmetric closed form P(B>A) + P(A>B) = 1 and the
    # normal limit, which is accurate to ~1e-4 at these counts, plus antisymmetry exactly
    p_rev = exact.prob_beat(*v, *c)
    assert abs(p_quad + p_rev - 1) < 1e-12
    mu = np.array([c[0] / sum(c), v[0] / sum(v)])
    var = np.array(
        [c[0] * c[1] / (sum(c) ** 2 * (sum(c) + 1)), v[0] * v[1] / (sum(v) ** 2 * (sum(v) + 1))]
    )
    assert abs(p_quad - stats.norm.cdf((mu[1] - mu[0]) / np.sqrt(var.sum()))) < 1e-3


@pytest.mark.parametrize(
    "params",
    [
        [(1, 1), (1, 1), (1, 1)],
        [post(20, 0), post(20, 20), post(20, 10)],
        [(1.5, 3), (2.5, 30.5), (4, 9)],
        [post(100, 10), post(100, 20), post(100, 14)],
        [post(20, 0, 0.5, 0.5), post(20, 1, 0.5, 0.5), post(20, 20, 0.5, 0.5)],
    ],
)
def test_prob_best_and_expected_loss_vs_mpmath(params):
    a, b = np.array(params, dtype=float).T
    ref = [float(v) for v in mp_prob_best(params)]
    p, loss = exact.best_and_loss(a, b)
    np.testing.assert_allclose(p, ref, atol=TOL, rtol=0)
    np.testing.assert_allclose(exact.prob_best(a, b), ref, atol=TOL, rtol=0)
    assert abs(p.sum() - 1) < 1e-10
    emax = float(mp_expected_max(params))
    np.testing.assert_allclose(loss, emax - a / (a + b), atol=TOL, rtol=0)


def test_prob_best_uniform_is_one_over_k():
    for k in (2, 3, 5):
        np.testing.assert_allclose(exact.prob_best(np.ones(k), np.ones(k)), 1 / k, atol=1e-13)


def test_stucchio_uniform_closed_value():
    la, lb = exact.expected_loss_pair(1, 1, 1, 1)
    assert abs(la - 1 / 6) < 1e-13 and abs(lb - 1 / 6) < 1e-13


def _nested_gl_reference(params, panels=120, order=20, sub=8, dps=20):
    """P(best) and E[max] for K Betas at large counts with mpmath arithmetic.

    Uniform panels over the union of the supports; every CDF is the running integral of the
    (30-digit) density between consecutive nodes — independent of scipy's betainc.
    """
    with mp.workdps(dps):
        lo = min(stats.beta(a, b).ppf(1e-18) for a, b in params)
        hi = max(stats.beta(a, b).isf(1e-18) for a, b in params)
        t, w = np.polynomial.legendre.leggauss(order)
        ts, ws = np.polynomial.legendre.leggauss(sub)
        edges = np.linspace(lo, hi, panels + 1)
        xs, wsum = [], []
        for left, right in itertools.pairwise(edges):
            h = (right - left) / 2
            xs += [mp.mpf(left + h) + mp.mpf(h) * mp.mpf(ti) for ti in t]
            wsum += [mp.mpf(h) * mp.mpf(wi) for wi in w]
        logc = [mp.log(mp.beta(a, b)) for a, b in params]

        def dens(k, x):
            a, b = params[k]
            return mp.exp((a - 1) * mp.log(x) + (b - 1) * mp.log1p(-x) - logc[k])

        cdfs = []
        for k in range(len(params)):
            vals, acc, prev = [], mp.mpf(0), mp.mpf(lo)
            for x in xs:
                hh = (x - prev) / 2
                acc += sum(
                    hh * mp.mpf(wj) * dens(k, prev + hh + hh * mp.mpf(tj)) for tj, wj in zip(ts, ws)
                )
                vals.append(acc)
                prev = x
            cdfs.append(vals)
        pbest, emax = [], mp.mpf(0)
        for k in range(len(params)):
            s = mp.mpf(0)
            for n, x in enumerate(xs):
                term = (
                    wsum[n]
                    * dens(k, x)
                    * mp.fprod(cdfs[j][n] for j in range(len(params)) if j != k)
                )
                s += term
                emax += term * x
            pbest.append(s)
        return [float(v) for v in pbest], float(emax)


@pytest.mark.slow
def test_prob_best_four_arms_50k_vs_nested_mpmath():
    params = [post(50_000, k) for k in (2_500, 2_600, 2_550, 2_450)]
    a, b = np.array(params, dtype=float).T
    ref_p, ref_emax = _nested_gl_reference(params)
    p, loss = exact.best_and_loss(a, b)
    np.testing.assert_allclose(p, ref_p, atol=TOL, rtol=0)
    np.testing.assert_allclose(loss, ref_emax - a / (a + b), atol=TOL, rtol=0)


# ------------------------------------------------------------------ symmetry
@pytest.mark.parametrize(("c", "v"), [*SMALL_PAIRS, (post(50_000, 2_500), post(50_000, 2_600))])
def test_swapping_arms_gives_one_minus_p(c, v):
    assert abs(exact.prob_beat(*c, *v) + exact.prob_beat(*v, *c) - 1) < 1e-12
    la, lb = exact.expected_loss_pair(*c, *v)
    lb2, la2 = exact.expected_loss_pair(*v, *c)
    assert abs(la - la2) < 1e-12 and abs(lb - lb2) < 1e-12


def test_mirror_symmetry_of_rates():
    # p -> 1 - p maps Beta(a, b) to Beta(b, a) and reverses the order
    c, v = post(60, 13), post(70, 22)
    assert abs(exact.prob_beat(*c, *v) - exact.prob_beat(v[1], v[0], c[1], c[0])) < 1e-13


# ------------------------------------------------------------------ uplift distributions
@pytest.mark.parametrize(
    ("c", "v"),
    [
        (post(200, 20), post(200, 30)),
        (post(20, 0), post(20, 5)),
        (post(20, 20), post(20, 15)),
        (post(20, 1, 0.5, 0.5), post(20, 4, 0.5, 0.5)),
    ],
)
def test_diff_and_ratio_quantiles_vs_mpmath_cdf(c, v):
    for q in (0.025, 0.5, 0.975):
        d = uplift.diff_quantile(q, *c, *v)
        assert abs(float(mp_diff_cdf(d, c, v)) - q) < TOL
        r = uplift.ratio_quantile(q, *c, *v)
        assert abs(float(mp_ratio_cdf(r, c, v)) - q) < TOL


def test_ratio_and_diff_cdf_at_no_effect_equal_one_minus_prob_beat():
    c, v = post(500, 40), post(500, 52)
    p = exact.prob_beat(*c, *v)
    assert abs(uplift.ratio_cdf_pdf(1.0, *c, *v)[0] - (1 - p)) < 1e-12
    assert abs(uplift.diff_cdf_pdf(0.0, *c, *v)[0] - (1 - p)) < 1e-12


@pytest.mark.parametrize(
    ("c", "v"),
    [(post(200, 20), post(200, 26)), (post(20, 0), post(20, 3)), (post(30, 30), post(30, 12))],
)
def test_relative_losses_vs_mpmath(c, v):
    ref = float(mp_rel_loss_ship(c, v))
    assert abs(exact.loss_vs_control_relative(*c, *v) - ref) < TOL
    if c[0] > 1:
        # E[(max - p_k)/p_c] from the K-arm formula: variant entry is the same quantity
        rel = exact.expected_loss_relative([c[0], v[0]], [c[1], v[1]], control=0)
        assert abs(rel[1] - ref) < TOL
        # control entry: E[(p_v - p_c)^+ / p_c] = ship loss + E[p_v/p_c] - 1
        e_ratio = v[0] / sum(v) * (sum(c) - 1) / (c[0] - 1)
        assert abs(rel[0] - (ref + e_ratio - 1)) < TOL


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="> 0"):
        exact.prob_best([1, 0], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        exact.prob_best([1, 2], [1])


def test_relative_expected_loss_three_arms_vs_monte_carlo():
    """K = 3: no cheap 30-digit reference; an independent 2-million-draw simulation instead."""
    params = [post(400, 40), post(400, 52), post(400, 47)]
    a, b = np.array(params, dtype=float).T
    rng = np.random.default_rng(0)
    draws = rng.beta(a, b, size=(2_000_000, 3))
    mx = draws.max(axis=1)
    for k in range(3):
        sample = (mx - draws[:, k]) / draws[:, 0]
        se = sample.std() / np.sqrt(len(sample))
        assert abs(exact.expected_loss_relative(a, b, control=0)[k] - sample.mean()) < 4 * se


def test_closed_forms_and_quadrature_agree_on_random_cases():
    """Two independent paths (Miller/Stucchio sums vs Gauss-Legendre integrals) on 150 random
    tests from 3 to 200,000 users, with many 0 % and 100 % arms."""
    rng = np.random.default_rng(1)

    def conv(n):
        r = rng.uniform()
        return 0 if r < 0.15 else n if r < 0.3 else int(rng.binomial(n, rng.uniform(0.001, 0.999)))

    for _ in range(150):
        n1, n2 = (int(10 ** rng.uniform(0.5, 5.3)) for _ in range(2))
        (a1, b1), (a2, b2) = post(n1, conv(n1)), post(n2, conv(n2))
        p_closed = exact.prob_beat(a1, b1, a2, b2, method="auto")
        p_quad = exact.prob_beat(a1, b1, a2, b2, method="quad")
        assert abs(p_closed - p_quad) < TOL, (n1, a1, n2, a2)
        loss_closed = exact.expected_loss_pair(a1, b1, a2, b2)
        loss_quad = exact.expected_loss(np.array([a1, a2]), np.array([b1, b2]))
        np.testing.assert_allclose(loss_quad, loss_closed, atol=TOL, rtol=0)


def test_prob_best_properties_on_random_three_arm_cases():
    """P(best) sums to 1 and never exceeds the pairwise chance of beating any other arm."""
    rng = np.random.default_rng(2)
    for _ in range(60):
        n = (10 ** rng.uniform(0.5, 5, size=3)).astype(int)
        k = [int(rng.binomial(m, rng.uniform(0.0, 1.0))) for m in n]
        a, b = np.array([post(m, c) for m, c in zip(n, k)], dtype=float).T
        p = exact.prob_best(a, b)
        assert abs(p.sum() - 1) < 1e-10
        for i in range(3):
            for j in range(3):
                if i != j:
                    assert p[i] <= exact.prob_beat(a[j], b[j], a[i], b[i]) + 1e-10


# ------------------------------------------------------------------ one sum, one system
def _random_pairs(n, seed):
    rng = np.random.default_rng(seed)

    def conv(m):
        r = rng.uniform()
        return 0 if r < 0.1 else m if r < 0.2 else int(rng.binomial(m, rng.uniform(0.001, 0.999)))

    out = []
    for _ in range(n):
        n1, n2 = (int(10 ** rng.uniform(0.5, 5.3)) for _ in range(2))
        a0 = 0.5 if rng.uniform() < 0.2 else 1.0
        out.append((post(n1, conv(n1), a0, a0), post(n2, conv(n2), a0, a0)))
    return out


def test_pair_terms_from_one_sum_equal_the_separate_quadratures():
    """The one-term recurrences off one Miller sum give the same chance, Stucchio losses and
    relative loss as the 1-D integrals computed separately."""
    for c, v in _random_pairs(150, 3):
        got = exact.pair_terms(*c, *v)
        ref = (
            exact.prob_beat(*c, *v, method="quad"),
            *exact.expected_loss_pair(*c, *v, method="quad"),
            exact.loss_vs_control_relative(*c, *v, method="quad"),
        )
        np.testing.assert_allclose(got, ref, atol=TOL, rtol=0, err_msg=str((c, v)))


def test_quantiles_solved_together_equal_one_by_one_and_mirror_when_arms_swap():
    qs = (0.025, 0.5, 0.975)
    for c, v in _random_pairs(60, 4):
        q = uplift.uplift_quantiles(qs, *c, *v)
        # R = p_v / p_c is 1 / R' and D = -D' with the arms swapped (another orientation)
        r2 = uplift.uplift_quantiles(qs[::-1], *v, *c)
        np.testing.assert_allclose(q["ratio"], 1 / r2["ratio"], rtol=1e-7, err_msg=str((c, v)))
        np.testing.assert_allclose(
            q["diff"], -r2["diff"], atol=1e-9, rtol=1e-7, err_msg=str((c, v))
        )
    c, arms = post(1000, 100), [post(1000, 120), post(900, 80), post(20, 3)]
    together = uplift.uplift_quantiles_many(qs, c, arms)
    for v, t in zip(arms, together):
        alone = uplift.uplift_quantiles(qs, *c, *v)
        for k in ("ratio", "diff"):
            np.testing.assert_allclose(t[k], alone[k], rtol=1e-12, atol=1e-14)


def test_ratio_quantile_near_zero_conversions_vs_mpmath():
    """A Jeffreys posterior at 0 of 209 against a large, narrow one: the ratio is huge and its
    CDF is a step in the control's coordinates; the reference integrates over the variant."""
    c, v = (0.5, 209.5), (20670.5, 25187.5)

    def ref_cdf(r):
        br = [mp.mpf(float(x)) for x in stats.beta(*v).ppf(np.linspace(1e-20, 1 - 1e-20, 41))]
        return 1 - mp.quad(lambda y: _pdf(y, *v) * _cdf(y / r, *c), br)

    for q in (0.025, 0.5, 0.975):
        r = uplift.ratio_quantile(q, *c, *v)
        assert abs(float(ref_cdf(mp.mpf(r))) - q) < TOL
