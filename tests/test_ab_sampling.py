"""Sampling that pays for itself: the segment uplift without sampling, and the compile cache.

* the quadrature of :mod:`cjlab.ab.pooling` against independent references: the Gaussian
  posterior by the information form and the evidence by scipy's multivariate normal, the
  ``tau`` grid against ``scipy.integrate.quad``, the uplift quantiles against Monte Carlo draws
  of the same mixture, and its limits (no pooling: the exact Beta comparison; full pooling:
  one uplift for all);
* against the PyMC model (``method="mcmc"``) on simulated tests with planted segment effects:
  both recover them, and they agree on the intervals, the chance to beat control, the spread
  ``tau`` and the shrinkage of every segment towards the typical one (slow);
* the defaults of the analysis sample nothing and never import PyMC; ``revenue_model`` and
  ``segment_method="mcmc"`` bring the PyMC models back;
* PyMC compiles into ``$CJLAB_COMPILE_CACHE`` / ``<cache_dir()>/pytensor``, and a second
  process reuses it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from cjlab.ab import ABInputError, compare_conversions
from cjlab.ab import pooling as P
from cjlab.ab._pymc import COMPILE_CACHE_ENV, compile_cache_dir, compile_cache_flags
from cjlab.ab.analysis import analyse
from cjlab.ab.segment_model import SegmentUpliftModel

# PyTensor's compile cache is content-addressed and safe to share between sessions; keep it in
# the user's cache even though conftest points CJLAB_CACHE at a fresh folder per session
# (read at collection, before that fixture runs), so the slow tests do not recompile each time.
os.environ.setdefault(COMPILE_CACHE_ENV, str(compile_cache_dir()))

CFG = {"tau_scale": 0.3, "d0_sigma": 0.5, "a_sigma": 1.5}


def _counts(n_c, k_c, n_v, k_v, variant="B"):
    rows = []
    for i, (a, b, c, d) in enumerate(zip(n_c, k_c, n_v, k_v)):
        rows += [
            {"segment": f"s{i}", "variant": "control", "users": a, "conversions": b},
            {"segment": f"s{i}", "variant": variant, "users": c, "conversions": d},
        ]
    return pd.DataFrame(rows)


def _planted(seed, base, log_odds_uplift, n):
    """Simulated counts per segment with a planted log-odds uplift; the true relative uplifts."""
    rng = np.random.default_rng(seed)
    n = np.broadcast_to(n, len(base))
    pv = special.expit(special.logit(base) + log_odds_uplift)
    k_c, k_v = rng.binomial(n, base), rng.binomial(n, pv)
    return (n, k_c, n, k_v), pv / base - 1


# ------------------------------------------------------------------ the quadrature itself
def test_gaussian_posterior_and_evidence_match_the_information_form():
    n_c, k_c = np.array([300, 800, 120]), np.array([30, 100, 9])
    n_v, k_v = np.array([310, 790, 130]), np.array([41, 110, 15])
    l_c, v_c = P.logit_moments(k_c, n_c)
    l_v, v_v = P.logit_moments(k_v, n_v)
    y, r = np.r_[l_c, l_v], np.r_[v_c, v_v]
    s = 3
    h = np.zeros((2 * s, 2 * s + 1))
    h[:s, :s] = h[s:, :s] = h[s:, s : 2 * s] = np.eye(s)
    m_a = special.logit((k_c.sum() + k_v.sum() + 1) / (n_c.sum() + n_v.sum() + 2))
    mu0 = np.r_[[m_a] * s, [0.0] * (s + 1)]
    ours, ref = [], []
    for tau in (0.0, 0.05, 0.3, 1.2):
        post = P.pool_segments(n_c, k_c, n_v, k_v, **CFG, tau=tau)
        # independent parameterisation: (a, z, d0) independent a priori, d = d0 + tau z
        jac = np.eye(2 * s + 1)
        jac[s : 2 * s, s : 2 * s] *= tau
        jac[s : 2 * s, 2 * s] = 1.0
        prior_cov = jac @ np.diag([1.5**2] * s + [1.0] * s + [0.5**2]) @ jac.T
        if tau > 0:  # information form: precision = prior precision + H^T R^-1 H
            cov = np.linalg.inv(np.linalg.inv(prior_cov) + h.T @ np.diag(1 / r) @ h)
            mean = cov @ (np.linalg.solve(prior_cov, mu0) + h.T @ (y / r))
            assert np.allclose(post.mean[0], mean, atol=1e-9)
            assert np.allclose(post.cov[0], cov, atol=1e-9)
        else:  # complete pooling: every d_s equals d_0
            assert np.allclose(post.mean[0, s : 2 * s], post.mean[0, 2 * s], atol=1e-12)
        ref.append(stats.multivariate_normal(h @ mu0, h @ prior_cov @ h.T + np.diag(r)).logpdf(y))
        mu, cov0 = P._prior(s, m_a, 1.5, 0.5, np.array([tau]))
        ours.append(P._condition(y, r, mu, cov0)[2][0])
    # the evidence (up to its constant) that weighs each tau
    assert np.allclose(np.diff(ours), np.diff(ref), atol=1e-9)


@pytest.mark.parametrize("tau_scale", [0.3, 50.0])
def test_tau_grid_against_adaptive_quadrature(tau_scale):
    """P(d_s > 0) from the grid equals scipy.integrate.quad over tau (also with a prior on tau
    so wide that the posterior has a long tail)."""
    n_c, k_c = np.array([200, 500, 90, 400]), np.array([20, 60, 12, 30])
    n_v, k_v = np.array([210, 480, 95, 420]), np.array([30, 62, 10, 45])
    cfg = {**CFG, "tau_scale": tau_scale}
    post = P.pool_segments(n_c, k_c, n_v, k_v, **cfg)
    chance = P.chance_positive(post, post.segment_rows())
    l_c, v_c = P.logit_moments(k_c, n_c)
    l_v, v_v = P.logit_moments(k_v, n_v)
    m_a = special.logit((k_c.sum() + k_v.sum() + 1) / (n_c.sum() + n_v.sum() + 2))

    def at(tau, i):
        mu0, cov0 = P._prior(4, m_a, 1.5, 0.5, np.array([tau]))
        mean, cov, log_ev = P._condition(np.r_[l_c, l_v], np.r_[v_c, v_v], mu0, cov0)
        dens = np.exp(log_ev[0] - 0.5 * (tau / tau_scale) ** 2)
        return dens if i is None else dens * special.ndtr(mean[0, i] / np.sqrt(cov[0, i, i]))

    kw = {"epsabs": 0, "epsrel": 1e-12, "limit": 200, "points": [0.1, 0.5, 2, 10]}
    top = 10 * tau_scale
    z = integrate.quad(at, 0, top, args=(None,), **kw)[0]
    for s in range(4):
        p = integrate.quad(at, 0, top, args=(4 + s,), **kw)[0] / z
        assert abs(chance[s] - p) < 1e-8, (s, chance[s], p)
    p0 = integrate.quad(at, 0, top, args=(8,), **kw)[0] / z  # d_0: the typical segment
    assert abs(chance[4] - p0) < 1e-8


def test_uplift_quantiles_against_draws_of_the_same_mixture():
    n_c, k_c = np.array([60, 300, 150]), np.array([12, 75, 20])
    n_v, k_v = np.array([55, 310, 160]), np.array([18, 80, 31])
    post = P.pool_segments(n_c, k_c, n_v, k_v, **CFG)
    rows = post.segment_rows()
    probs = np.array([0.025, 0.25, 0.5, 0.75, 0.975])
    q = P.lift_quantiles(post, rows, probs)
    rng = np.random.default_rng(3)
    g = rng.choice(len(post.tau), size=400_000, p=post.weights)
    chol = np.linalg.cholesky(post.cov + 1e-13 * np.eye(7))  # tau = 0 is singular
    theta = post.mean[g] + np.einsum("npq,nq->np", chol[g], rng.standard_normal((len(g), 7)))
    for i, row in enumerate(rows):
        u, v = theta @ row[0], theta @ row[1]
        lift = special.expit(u + v) / special.expit(u) - 1
        mc = np.quantile(lift, probs)
        # Monte Carlo error of a quantile: sqrt(p(1-p)/n) / density, about 2e-3 here
        assert np.allclose(q[i], mc, atol=6e-3), (i, q[i], mc)
        assert abs(P.chance_positive(post, rows)[i] - (v > 0).mean()) < 4e-3


def test_limits_no_pooling_equals_the_exact_comparison_and_full_pooling_one_uplift():
    n = np.array([4000, 4000, 4000])
    k_c, k_v = np.array([400, 600, 300]), np.array([460, 640, 390])
    counts = _counts(n, k_c, n, k_v)
    # a huge fixed spread and vague priors: each segment on its own
    free = P.pool_segments(n, k_c, n, k_v, tau=100.0, d0_sigma=100.0, a_sigma=100.0)
    rows = free.segment_rows()
    q = P.lift_quantiles(free, rows, np.array([0.05, 0.5, 0.95]))
    chance = P.chance_positive(free, rows)
    for i in range(3):
        sub = counts[counts.segment == f"s{i}"][["variant", "users", "conversions"]]
        exact = compare_conversions(sub, control="control", prior="jeffreys", level=0.9)
        e = exact.set_index("variant").loc["B"]
        assert abs(chance[i] - e.chance_to_beat_control) < 0.003
        assert np.allclose(q[i], [e.uplift_low, e.uplift, e.uplift_high], atol=0.003), (q[i], e)
    tight = {"tau_scale": 1e-4, "d0_sigma": 0.5, "a_sigma": 1.5}
    pooled = SegmentUpliftModel(model_config=tight).fit(counts, "B")
    d = pooled.posterior_.mean[:, 3:6] - pooled.posterior_.mean[:, [6]]
    assert np.abs(d).max() < 1e-3 and pooled.tau_ < 1e-4  # every segment: the typical uplift


def test_model_settings_and_bad_input():
    with pytest.raises(ABInputError, match="method must be one of"):
        SegmentUpliftModel("gibbs")
    with pytest.raises(ABInputError, match="segment_method must be one of"):
        analyse({"experiment_exposures": pd.DataFrame()}, segment_method="nuts")
    with pytest.raises(ABInputError, match="at least two segments"):
        SegmentUpliftModel().fit(_counts([100], [10], [100], [12]), "B")
    m = SegmentUpliftModel(level=0.8).fit(_counts([100, 90], [10, 9], [100, 95], [12, 20]), "B")
    s = m.summary_
    assert list(s.columns[-5:]) == [
        "uplift",
        "uplift_low",
        "uplift_high",
        "chance_to_beat_control",
        "chance_to_beat_control_mcse",
    ]
    assert (s.uplift_low < s.uplift).all() and (s.uplift < s.uplift_high).all()
    assert (s.chance_to_beat_control_mcse == 0).all() and s.attrs["level"] == 0.8


# ------------------------------------------------------------------ against the PyMC model
WORLDS = {
    # different planted uplifts, one small segment
    "different": (0, [0.08, 0.10, 0.12, 0.15], [0.05, 0.35, 0.15, -0.10], [3000, 3000, 3000, 400]),
    # one uplift for all: both should shrink hard towards it
    "alike": (1, [0.05, 0.10, 0.20], [0.2, 0.2, 0.2], [1500, 600, 250]),
}


@pytest.mark.slow
@pytest.mark.parametrize("world", WORLDS)
def test_quadrature_and_pymc_recover_planted_effects_and_shrink_alike(world):
    seed, base, uplift, n = WORLDS[world]
    data, truth = _planted(seed, np.array(base), np.array(uplift), np.array(n))
    counts = _counts(*data)
    quad = SegmentUpliftModel(level=0.95).fit(counts, "B")
    mcmc = SegmentUpliftModel(
        "mcmc",
        sampler_config={"draws": 1500, "tune": 1000, "chains": 2},
        level=0.95,
        random_state=5,
    ).fit(counts, "B")
    q, m = quad.summary_, mcmc.summary_
    seg = slice(0, len(base))
    for s in (q, m):  # both recover every planted uplift
        assert ((s.uplift_low[seg] <= truth) & (truth <= s.uplift_high[seg])).all(), s
    width = (m.uplift_high - m.uplift_low).to_numpy()
    for col in ("uplift", "uplift_low", "uplift_high"):
        assert (np.abs(q[col] - m[col]) < 0.12 * width).all(), (col, q[col], m[col])
    assert (np.abs(q.chance_to_beat_control - m.chance_to_beat_control) < 0.04).all()
    assert abs(quad.tau_ - mcmc.tau_) < 0.05 + 0.25 * mcmc.tau_
    # shrinkage: how far each segment moved from its own observed uplift towards the typical one
    observed = (q.rate_variant / q.rate_control - 1).to_numpy()[seg]

    def shrink(s):
        typical = s.uplift.iloc[-1]
        return (observed - s.uplift.to_numpy()[seg]) / (observed - typical)

    assert np.allclose(shrink(q), shrink(m), atol=0.15), (shrink(q), shrink(m))
    if world == "alike":
        assert (shrink(q) > 0.5).all()


# ------------------------------------------------------------------ the analysis' defaults
def _exposures(seed=0, n=600):
    rng = np.random.default_rng(seed)
    variant = rng.choice(["control", "B"], n)
    seg = rng.choice(["app", "web", "store"], n)
    conv = rng.random(n) < np.where(variant == "B", 0.25, 0.2)
    return pd.DataFrame(
        {
            "experiment": "t",
            "variant": variant,
            "unit_id": np.arange(n),
            "exposed_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 14, n), "D"),
            "converted": conv,
            "revenue": np.where(conv, rng.gamma(2.0, 30.0, n), 0.0),
            "segment": seg,
        }
    )


def test_defaults_sample_nothing_and_never_import_pymc():
    code = (
        "import sys, pandas as pd\n"
        "from tests.test_ab_sampling import _exposures\n"
        "from cjlab.ab.analysis import analyse\n"
        "a = analyse({'experiment_exposures': _exposures()}, plan_sims=0, revenue_draws=500)\n"
        "m = a.segment_models['B']\n"
        "print(m.method, a.revenue_model is None, 'revenue_model' in a.skipped,"
        " 'pymc' in sys.modules, 'pytensor' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=os.getcwd()
    )
    assert out.stdout.split() == ["quadrature", "True", "True", "False", "False"], out.stderr


def test_no_sampling_when_run_pymc_is_off_even_if_mcmc_is_asked_for():
    a = analyse(
        {"experiment_exposures": _exposures()},
        run_pymc=False,
        segment_method="mcmc",
        revenue_model=True,
        plan_sims=0,
        revenue_draws=500,
    )
    assert a.segment_models["B"].method == "quadrature" and a.revenue_model is None
    assert "run_pymc is off" in a.skipped["revenue_model"]


@pytest.mark.slow
def test_revenue_model_and_mcmc_segments_on_request():
    a = analyse(
        {"experiment_exposures": _exposures()},
        revenue_model=True,
        segment_method="mcmc",
        sampler_config={"draws": 100, "tune": 100, "chains": 1},
        plan_sims=0,
        revenue_draws=500,
    )
    assert a.revenue_model.summary_.attrs["method"].startswith("two-part PyMC")
    assert a.segment_models["B"].method == "mcmc" and hasattr(a.segment_models["B"], "idata_")
    assert "revenue_model" not in a.skipped


# ------------------------------------------------------------------ the compile cache
def test_compile_cache_flags_keep_the_users_choice():
    assert compile_cache_flags("/c", "") == "base_compiledir=/c,generated_src_dir=/c/src"
    assert compile_cache_flags("/c", "floatX=float32") == (
        "floatX=float32,base_compiledir=/c,generated_src_dir=/c/src"
    )
    assert compile_cache_flags("/c", "compiledir=/x") == "compiledir=/x"
    assert compile_cache_flags("/c", "base_compiledir=/x") == "base_compiledir=/x"


def test_compile_cache_folder_follows_the_project_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(COMPILE_CACHE_ENV, raising=False)
    monkeypatch.setenv("CJLAB_CACHE", str(tmp_path))
    assert compile_cache_dir() == tmp_path / "pytensor"
    monkeypatch.setenv(COMPILE_CACHE_ENV, str(tmp_path / "elsewhere"))
    assert compile_cache_dir() == tmp_path / "elsewhere"


@pytest.mark.slow
def test_pymc_compiles_into_the_project_cache_and_a_second_process_reuses_it(tmp_path):
    code = (
        "import time\n"
        "from cjlab.ab._pymc import import_pymc\n"
        "pm = import_pymc()\n"
        "import pytensor\n"
        "print(pytensor.config.base_compiledir)\n"
        "t = time.perf_counter()\n"
        "with pm.Model():\n"
        "    x = pm.Normal('x'); pm.Normal('y', x, 1.3, observed=[0.3, 1.9])\n"
        "    pm.sample(draws=20, tune=20, chains=1, progressbar=False, nuts_sampler='pymc',"
        " random_seed=1, compute_convergence_checks=False)\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", COMPILE_CACHE_ENV)}
    env["CJLAB_CACHE"] = str(tmp_path)

    def run():
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return out.stdout.split()

    folder, _ = run()
    assert folder == str(tmp_path / "pytensor")
    numba = tmp_path / "pytensor" / "numba"
    first = {p.name for p in numba.iterdir()}
    assert first  # the compiled functions are cached there
    run()
    assert {p.name for p in numba.iterdir()} == first  # nothing new compiled the second time
    # (how much time the cache saves is measured in benchmarks/sampling.py, not asserted here)
