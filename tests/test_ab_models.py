"""A/B models (PyMC, and the segment model by quadrature) and planning: recovery of planted
effects in simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from cjlab.ab import ABInputError
from cjlab.ab.planning import simulate_plan
from cjlab.ab.revenue import revenue_normal_approx
from cjlab.ab.revenue_model import RevenueModel
from cjlab.ab.segment_model import SegmentUpliftModel


def _revenue_data(seed=0, n=4000):
    rng = np.random.default_rng(seed)
    truth = {"control": (0.10, 3.0, 0.6), "B": (0.12, 3.0, 0.6)}  # p, mu, sigma of log spend
    frames = []
    for v, (p, mu, sd) in truth.items():
        conv = rng.binomial(1, p, n)
        frames.append(pd.DataFrame({"variant": v, "revenue": conv * rng.lognormal(mu, sd, n)}))
    rpu = {v: p * np.exp(mu + sd**2 / 2) for v, (p, mu, sd) in truth.items()}
    return pd.concat(frames, ignore_index=True), rpu


def test_revenue_normal_approx_matches_sample_moments():
    df, rpu = _revenue_data()
    res = revenue_normal_approx(df).set_index("variant")
    g = df.groupby("variant")["revenue"]
    assert np.allclose(res["revenue_per_user"], g.mean().reindex(res.index))
    for v, true in rpu.items():
        assert res.loc[v, "rpu_low"] <= true <= res.loc[v, "rpu_high"]


@pytest.mark.slow
def test_two_part_model_recovers_revenue_per_user_and_agrees_with_normal_approx():
    df, rpu = _revenue_data()
    m = RevenueModel(sampler_config={"draws": 300, "tune": 300, "chains": 2}, random_state=1).fit(
        df
    )
    s = m.summary_.set_index("variant")
    approx = revenue_normal_approx(df).set_index("variant")
    true_lift = rpu["B"] / rpu["control"] - 1
    assert s.loc["B", "uplift_low"] <= true_lift <= s.loc["B", "uplift_high"]
    for v, true in rpu.items():
        assert s.loc[v, "rpu_low"] <= true <= s.loc[v, "rpu_high"]
        # large sample: the model-based and the CLT posterior means agree closely
        assert abs(s.loc[v, "revenue_per_user"] / approx.loc[v, "revenue_per_user"] - 1) < 0.05
    assert (
        abs(s.loc["B", "chance_to_beat_control"] - approx.loc["B", "chance_to_beat_control"]) < 0.1
    )
    assert 0 <= s.loc["B", "chance_to_beat_control_mcse"] < 0.05


def test_revenue_bad_input():
    with pytest.raises(ABInputError, match="negative"):
        revenue_normal_approx(pd.DataFrame({"variant": ["A", "B"], "revenue": [1.0, -2.0]}))
    with pytest.raises(ABInputError, match="two variants"):
        revenue_normal_approx(pd.DataFrame({"variant": ["A", "A"], "revenue": [1.0, 2.0]}))


@pytest.mark.parametrize("method", ["quadrature", pytest.param("mcmc", marks=pytest.mark.slow)])
def test_hierarchical_model_recovers_planted_segment_effects(method):
    # (seed 4 drew a 4-sigma sample for s1 that even the unpooled exact interval excluded)
    rng = np.random.default_rng(0)
    base = {"s1": 0.08, "s2": 0.10, "s3": 0.12, "s4": 0.15}
    log_odds_uplift = {"s1": 0.05, "s2": 0.25, "s3": 0.15, "s4": 0.10}
    n = 4000
    rows = []
    for s, p in base.items():
        pv = special.expit(special.logit(p) + log_odds_uplift[s])
        for v, q in (("control", p), ("B", pv)):
            rows.append({"segment": s, "variant": v, "users": n, "conversions": rng.binomial(n, q)})
    df = pd.DataFrame(rows)
    m = SegmentUpliftModel(
        method, sampler_config={"draws": 300, "tune": 300, "chains": 2}, level=0.99, random_state=3
    ).fit(df, "B")
    s = m.summary_.set_index("segment")
    for seg, p in base.items():
        true = special.expit(special.logit(p) + log_odds_uplift[seg]) / p - 1
        assert s.loc[seg, "uplift_low"] <= true <= s.loc[seg, "uplift_high"], seg
    # partial pooling: every segment's interval is no wider than the no-pooling Beta interval
    from cjlab.ab import compare_conversions

    for seg in base:
        sub = df[df.segment == seg][["variant", "users", "conversions"]]
        flat = compare_conversions(sub, control="control", level=0.99).set_index("variant").loc["B"]
        width_h = s.loc[seg, "uplift_high"] - s.loc[seg, "uplift_low"]
        assert width_h <= (flat.uplift_high - flat.uplift_low) * 1.05
    assert s.loc["(pooled)", "chance_to_beat_control"] > 0.9


def test_planning_extremes_and_curve():
    big = simulate_plan(0.10, 0.30, users_per_day=4000, max_days=7, n_sims=40, random_state=1)
    assert big.summary["power"] > 0.9 and big.summary["days_to_decision_median"] <= 3
    tiny = simulate_plan(0.10, 0.01, users_per_day=200, max_days=7, n_sims=40, random_state=1)
    assert tiny.summary["power"] < big.summary["power"]
    c = big.curve[big.curve.scenario == "effect"]["decided"].to_numpy()
    assert np.all(np.diff(c) >= 0)
    se = big.summary["power_se"]
    p = big.summary["power"]
    assert abs(se - np.sqrt(p * (1 - p) / 40)) < 1e-12


def test_planning_null_world_ships_rarely_with_strict_threshold():
    # with no effect, "ship" needs the expected loss of shipping below a strict threshold AND
    # P(beat) >= 0.5; a stricter threshold must not ship more often than a lax one
    strict = simulate_plan(
        0.10, 0.10, 2000, max_days=10, n_sims=60, loss_threshold=1e-4, random_state=2
    )
    lax = simulate_plan(
        0.10, 0.10, 2000, max_days=10, n_sims=60, loss_threshold=5e-3, random_state=2
    )
    assert strict.summary["false_positive_rate"] <= lax.summary["false_positive_rate"]


def test_normal_approx_losses_and_prob_best_vs_quadrature():
    from scipy import integrate, stats

    from cjlab.ab.revenue import _normal_best

    df, _ = _revenue_data(seed=5, n=3000)
    res = revenue_normal_approx(df).set_index("variant")
    d = res.loc["B", "abs_uplift"]
    m_c = res.loc["control", "revenue_per_user"]
    g = df.groupby("variant")["revenue"]
    s = float(np.sqrt((g.var() / g.size()).sum()))
    # E[(m_c - m_v)^+] and E[(m_v - m_c)^+] of the normal posterior of the difference, by quadrature
    ship = integrate.quad(
        lambda x: max(-x, 0) * stats.norm.pdf(x, d, s), d - 12 * s, d + 12 * s, points=[0]
    )[0]
    keep = integrate.quad(
        lambda x: max(x, 0) * stats.norm.pdf(x, d, s), d - 12 * s, d + 12 * s, points=[0]
    )[0]
    assert abs(res.loc["B", "loss_vs_control_relative"] - ship / m_c) < 1e-8
    assert abs(res.loc["B", "control_loss_relative"] - keep / m_c) < 1e-8
    # two normals: P(B best) = Phi(d / sqrt(s1^2 + s2^2)); three equal ones: 1/3 each
    p = _normal_best(np.array([0.0, 0.3]), np.array([0.2, 0.1]))[0]
    assert abs(p[1] - stats.norm.cdf(0.3 / np.hypot(0.2, 0.1))) < 1e-12
    assert np.allclose(_normal_best(np.zeros(3), np.ones(3))[0], 1 / 3, atol=1e-12)
