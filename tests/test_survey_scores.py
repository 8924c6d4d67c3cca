"""NPS / CSAT / CES estimates against closed forms, a bootstrap, a hand-computed weighted
example, quadrature of the Dirichlet posterior and the samplics peer implementation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from cjlab.survey import (
    ScoreRangeError,
    SurveyInputError,
    WeightError,
    ces,
    compare_waves,
    csat,
    nps,
    scorecard,
    suppress_small,
)


def _sample(n, p=(0.45, 0.3, 0.25), seed=0):
    """NPS answers with promoter/passive/detractor probabilities ``p``."""
    rng = np.random.default_rng(seed)
    cat = rng.choice(3, size=n, p=p)
    return np.select(
        [cat == 0, cat == 1], [rng.integers(9, 11, n), rng.integers(7, 9, n)], rng.integers(0, 7, n)
    )


def test_nps_point_and_closed_form_se():
    x = _sample(500)
    r = nps(x)
    nP, nD, n = (x >= 9).sum(), (x <= 6).sum(), len(x)
    pP, pD = nP / n, nD / n
    assert r.value == pytest.approx(100 * (pP - pD), abs=1e-12)
    # multinomial: Var(pP - pD) = [pP(1-pP) + pD(1-pD) + 2 pP pD] / n
    var = (pP * (1 - pP) + pD * (1 - pD) + 2 * pP * pD) / n
    assert r.se == pytest.approx(100 * np.sqrt(var), rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert (r.low, r.high) == pytest.approx((r.value - z * r.se, r.value + z * r.se))
    assert r.n == n and r.n_effective == n
    assert r.promoters + r.passives + r.detractors == pytest.approx(1)
    # dict-style access too
    assert r["value"] == r.value and set(r.to_dict()) >= {
        "value",
        "se",
        "low",
        "high",
        "n",
        "n_effective",
        "promoters",
        "passives",
        "detractors",
    }


def test_nps_se_matches_bootstrap():
    x = _sample(800, seed=3)
    r = nps(x)
    rng = np.random.default_rng(11)
    idx = rng.integers(0, len(x), size=(4000, len(x)))
    b = x[idx]
    boot = 100 * ((b >= 9).mean(axis=1) - (b <= 6).mean(axis=1))
    assert r.se == pytest.approx(boot.std(ddof=1), rel=0.05)


def test_nps_interval_coverage_by_simulation():
    p = (0.4, 0.35, 0.25)
    truth = 100 * (p[0] - p[2])
    hits = [(lambda r: r.low <= truth <= r.high)(nps(_sample(300, p, seed=s))) for s in range(600)]
    # 95 % nominal; 600 runs -> sd of coverage ~0.9 pp
    assert 0.92 <= np.mean(hits) <= 0.975


def test_weighted_nps_hand_computed():
    # scores 10, 8, 4, 9 with weights 1, 2, 3, 2 (sum 8):
    # promoters (10, 9): 3/8, passives (8): 2/8, detractors (4): 3/8 -> NPS 0
    # y = 100, 0, -100, 100; ybar = 0; sum w^2 (y-ybar)^2 = 1e4 + 0 + 9e4 + 4e4 = 1.4e5
    # v = n/(n-1) * 1.4e5 / 8^2 = 4/3 * 2187.5 = 2916.67; se = 54.006
    # Kish n_eff = 8^2 / (1 + 4 + 9 + 4) = 3.5556
    r = nps([10, 8, 4, 9], weights=[1, 2, 3, 2])
    assert r.value == pytest.approx(0.0, abs=1e-12)
    assert (r.promoters, r.passives, r.detractors) == pytest.approx((0.375, 0.25, 0.375))
    assert r.se == pytest.approx(np.sqrt(4 / 3 * 1.4e5 / 64), rel=1e-12)
    assert r.se == pytest.approx(54.006, abs=1e-3)
    assert r.n_effective == pytest.approx(64 / 18)
    assert r.n == 4 and r.weighted


def test_weighted_nps_equals_unweighted_with_equal_weights():
    x = _sample(200, seed=5)
    a, b = nps(x), nps(x, weights=np.full(len(x), 2.5))
    assert b.value == pytest.approx(a.value)
    # linearised variance uses n/(n-1); closed form uses the multinomial MLE
    assert b.se == pytest.approx(a.se * np.sqrt(200 / 199), rel=1e-10)
    assert b.n_effective == pytest.approx(200)


def test_weighted_scores_match_samplics_taylor():
    pytest.importorskip("samplics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from samplics.estimation import TaylorEstimator
        from samplics.utils.types import PopParam
    rng = np.random.default_rng(2)
    n = 400
    x = _sample(n, seed=7)
    c = rng.integers(1, 6, n)
    e = rng.integers(1, 8, n)
    w = rng.uniform(0.3, 4, n)

    def peer(y):
        est = TaylorEstimator(PopParam.mean)
        est.estimate(y.astype(float), samp_weight=w)
        return float(np.ravel(est.point_est)[0]), float(np.ravel(est.stderror)[0])

    ynps = np.select([x >= 9, x <= 6], [100.0, -100.0], 0.0)
    for ours, y in [
        (nps(x, w), ynps),
        (csat(c, w), (c >= 4).astype(float)),
        (csat(c, w, statistic="mean"), c),
        (ces(e, w), e),
        (ces(e, w, statistic="low_effort"), (e >= 5).astype(float)),
    ]:
        pv, pse = peer(y)
        assert ours.value == pytest.approx(pv, rel=1e-10, abs=1e-10)
        assert ours.se == pytest.approx(pse, rel=1e-10)
        assert ours.n_effective == pytest.approx(w.sum() ** 2 / (w**2).sum())


def _dirichlet_diff_cdf(t, a, b, c):
    """P(theta_P - theta_D <= t) for (theta_P, theta_D, rest) ~ Dirichlet(a, b, c), by
    quadrature: theta_D ~ Beta(b, a+c); theta_P / (1 - theta_D) | theta_D ~ Beta(a, c)."""

    def f(d):
        u = np.clip((t + d) / (1 - d), 0, 1)
        return stats.beta.pdf(d, b, a + c) * stats.beta.cdf(u, a, c)

    return integrate.quad(f, 0, 1, limit=200)[0]


def test_bayes_interval_matches_quadrature():
    x = np.array([10] * 30 + [9] * 12 + [8] * 20 + [7] * 8 + [5] * 15 + [1] * 15)
    r = nps(x, method="bayes", draws=200_000, random_state=1)
    a, b, c = 42 + 1, 30 + 1, 28 + 1  # counts + uniform Dirichlet(1, 1, 1) prior
    lo = optimize.brentq(lambda t: _dirichlet_diff_cdf(t, a, b, c) - 0.025, -0.99, 0.99)
    hi = optimize.brentq(lambda t: _dirichlet_diff_cdf(t, a, b, c) - 0.975, -0.99, 0.99)
    assert r.low == pytest.approx(100 * lo, abs=0.3)
    assert r.high == pytest.approx(100 * hi, abs=0.3)
    assert r.value == pytest.approx(100 * (a - b) / (a + b + c), abs=0.1)  # posterior mean


def test_csat_ces_closed_forms():
    rng = np.random.default_rng(4)
    c = rng.integers(1, 6, 250)
    r = csat(c)
    p = (c >= 4).mean()
    assert r.value == pytest.approx(p) and r.se == pytest.approx(np.sqrt(p * (1 - p) / 250))
    m = csat(c, statistic="mean")
    assert m.value == pytest.approx(c.mean()) and m.se == pytest.approx(
        c.std(ddof=1) / np.sqrt(250)
    )
    e = rng.integers(1, 8, 250)
    assert ces(e).value == pytest.approx(e.mean())
    assert ces(e, statistic="low_effort").value == pytest.approx((e >= 5).mean())


def test_domain_estimates_use_domain_n():
    rng = np.random.default_rng(8)
    df = pd.DataFrame(
        {
            "nps": _sample(600, seed=9),
            "csat": rng.integers(1, 6, 600),
            "ces": rng.integers(1, 8, 600),
            "respondent_type": rng.choice(["new", "existing", "leaving"], 600),
        }
    )
    t = scorecard(df, by="respondent_type")
    for typ, g in df.groupby("respondent_type"):
        row = t[(t.respondent_type == typ) & (t.metric == "nps")].iloc[0]
        ref = nps(g["nps"])
        assert row["n"] == len(g)
        assert (row["value"], row["se"]) == pytest.approx((ref.value, ref.se))
    sup = scorecard(df, by="respondent_type", min_n=10_000)
    assert sup["value"].isna().all() and sup["suppressed"].all()
    s2 = suppress_small(t, min_n=len(df))
    assert s2["value"].isna().all()


def test_compare_waves_verdict():
    df = pd.DataFrame(
        {
            "wave": ["2025-Q1"] * 1500 + ["2025-Q2"] * 1500,
            "nps": np.r_[_sample(1500, (0.3, 0.3, 0.4), 1), _sample(1500, (0.5, 0.3, 0.2), 2)],
        }
    )
    d = compare_waves(df, "2025-Q1", "2025-Q2")
    assert d.diff == pytest.approx(d.b.value - d.a.value)
    assert d.se == pytest.approx(np.hypot(d.a.se, d.b.se))
    assert d.distinguishable and d.low > 0 and "rose" in d.verdict and "larger than" in d.verdict
    same = pd.DataFrame(
        {
            "wave": ["a"] * 300 + ["b"] * 300,
            "nps": np.r_[_sample(300, seed=21), _sample(300, seed=22)],
        }
    )
    d2 = compare_waves(same, "a", "b")
    assert d2.low < 0 < d2.high and not d2.distinguishable
    assert "not distinguishable" in d2.verdict
    with pytest.raises(SurveyInputError, match="wave 'c' has no responses"):
        compare_waves(same, "a", "c")


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ScoreRangeError, match=r"nps: 2 value\(s\) outside the scale 0–10"):
        nps([5, 11, 10, -1])
    r = nps([5, 11, 10, -1, 9], out_of_range="drop")
    assert r.n == 3 and r.n_dropped == 2
    with pytest.raises(SurveyInputError, match="non-numeric"):
        nps([5, "ten", 9])
    with pytest.raises(SurveyInputError, match="all 3 values are missing"):
        nps([np.nan, None, np.nan])
    with pytest.raises(SurveyInputError, match="no responses"):
        nps([])
    with pytest.raises(SurveyInputError, match="not whole numbers"):
        csat([1.5, 3])
    with pytest.raises(WeightError, match="<= 0"):
        nps([5, 9, 10], weights=[1, 0, 2])
    with pytest.raises(WeightError, match="missing or not finite"):
        nps([5, 9, 10], weights=[1, np.nan, 2])
    with pytest.raises(WeightError, match="must align"):
        nps([5, 9, 10], weights=[1, 2])
    with pytest.raises(ScoreRangeError):
        ces([0, 3])
    assert nps([9, np.nan, 3]).n_missing == 1


def test_compare_waves_respects_min_n():
    df = pd.DataFrame({"wave": ["a"] * 200 + ["b"] * 12, "nps": _sample(212, seed=4)})
    d = compare_waves(df, "a", "b", min_n=30)
    assert (
        np.isnan(d.diff)
        and not d.distinguishable
        and "too few respondents in b (n=12)" in d.verdict
    )


def test_weighted_bayes_uses_effective_counts():
    x = _sample(300, seed=12)
    a = nps(x, method="bayes", random_state=3)
    b = nps(x, weights=np.full(300, 0.7), method="bayes", random_state=3)
    # equal weights: effective counts equal the raw counts, so the posteriors coincide
    assert (b.value, b.low, b.high) == pytest.approx((a.value, a.low, a.high), abs=1e-9)
    w = np.where(x >= 9, 2.0, 1.0)  # up-weighting promoters moves the interval up
    c = nps(x, weights=w, method="bayes", random_state=3)
    assert c.low > a.low and c.high > a.high
    assert c.n_effective == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_plot_helpers_draw_what_they_are_given():
    import matplotlib.pyplot as plt

    from cjlab.survey import KeyDrivers, importance_performance, rake
    from cjlab.survey import plots as svp

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "wave": np.repeat(["w1", "w2", "w3"], 200),
            "nps": _sample(600, seed=1),
            "csat": rng.integers(1, 6, 600),
            "ces": rng.integers(1, 8, 600),
            "seg": rng.choice(["a", "b", "c"], 600),
            "rating_delivery": rng.integers(1, 6, 600),
            "rating_app": rng.integers(1, 6, 600),
        }
    )
    trend = scorecard(df, ["nps"], by="wave")
    ax = svp.plot_trend(trend)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), trend["value"])
    seg = scorecard(df, ["nps"], by="seg", min_n=0)
    ax = svp.plot_segments(seg, "seg", reference=0)
    assert len(ax.get_yticklabels()) == 3
    kd = KeyDrivers(n_boot=20).fit(df)
    ax = svp.plot_drivers(kd.importance_)
    assert sorted(p.get_width() for p in ax.patches) == pytest.approx(
        sorted(kd.importance_["share"])
    )
    ax = svp.plot_quadrant(importance_performance(kd.importance_))
    assert len(ax.texts) == 2
    ax = svp.plot_weights(rake(df, {"seg": {"a": 0.5, "b": 0.3, "c": 0.2}}))
    assert sum(p.get_height() for p in ax.patches) == 600
    plt.close("all")


def test_resolve_waves():
    from cjlab.survey import resolve_waves, wave_order

    df = pd.DataFrame({"wave": ["2025-06", "2024-12", "2025-03", "2025-06"]})
    assert wave_order(df) == ["2024-12", "2025-03", "2025-06"]
    assert resolve_waves(df) == ("2025-03", "2025-06")
    assert resolve_waves(df, ["2024-12", "2025-06"]) == ("2024-12", "2025-06")
    with pytest.raises(SurveyInputError, match=r"\['2023-01'\] have no responses"):
        resolve_waves(df, ["2023-01", "2025-06"])
    with pytest.raises(SurveyInputError, match="only one wave"):
        resolve_waves(df.head(1))
    dated = pd.DataFrame({"wave": pd.to_datetime(["2025-01-31", "2025-04-30"])})
    assert resolve_waves(dated, ["2025-01-31", "2025-04-30"])[1] == pd.Timestamp("2025-04-30")


def test_scorecard_input_errors():
    df = pd.DataFrame({"wave": ["a", "a", "b"], "nps": [9, 3, np.nan], "csat": [np.nan] * 3})
    with pytest.raises(SurveyInputError, match="csat: all 3 values are missing"):
        scorecard(df, ["nps", "csat_top2"])
    t = scorecard(df, ["nps"], by="wave")
    assert t.set_index("wave").loc["b", "n"] == 0 and t.set_index("wave").loc["b", "suppressed"]
    with pytest.raises(SurveyInputError, match=r"missing column\(s\) \['ces'\]"):
        scorecard(df, ["ces_mean"])
    with pytest.raises(SurveyInputError, match="no rows"):
        scorecard(df.iloc[:0], ["nps"])
