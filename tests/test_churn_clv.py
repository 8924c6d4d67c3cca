"""CLV models (closed-form MAP by default, PyMC-Marketing for MCMC): parameter recovery on
data simulated from a BG/NBD process, predictive functions against closed forms (mpmath) and
simulation, holdout check, and the diagnostics on planted truth (dropout or none)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from cjlab.churn.clv import CLVError, CLVModel, holdout_by_frequency

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
GG = {"p": 6.0, "q": 4.0, "v": 15.0}


def simulate_bgnbd(n: int, T: np.ndarray, horizon: float, seed: int = 1, **par) -> pd.DataFrame:
    """BG/NBD customers from their first purchase at 0: Poisson(λ) purchases, after each repeat
    purchase a drop-out with probability p. Calibration period (0, T], holdout (T, T + horizon]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(par["r"], 1 / par["alpha"], n)
    p = rng.beta(par["a"], par["b"], n)
    x = np.zeros(n, int)
    tx = np.zeros(n)
    x_hold = np.zeros(n, int)
    alive_T = np.ones(n, bool)
    t = np.zeros(n)
    active = np.ones(n, bool)
    while active.any():
        i = np.flatnonzero(active)
        t[i] += rng.exponential(1 / lam[i])
        out = t[i] > T[i] + horizon
        active[i[out]] = False
        i = i[~out]
        cal = t[i] <= T[i]
        x[i[cal]] += 1
        tx[i[cal]] = t[i[cal]]
        x_hold[i[~cal]] += 1
        die = rng.random(i.size) < p[i]
        active[i[die]] = False
        alive_T[i[die & cal]] = False
    # Gamma-Gamma spend: mean of x draws of Gamma(p, ν), ν ~ Gamma(q, v)
    nu = rng.gamma(GG["q"], 1 / GG["v"], n)
    spend = np.array(
        [rng.gamma(GG["p"], 1 / nu[k], x[k]).mean() if x[k] else 0.0 for k in range(n)]
    )
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x.astype(float),
            "recency": tx,
            "T": T,
            "monetary_value": spend,
            "test_frequency": x_hold.astype(float),
            "test_T": horizon,
            "alive": alive_T,
        }
    )


def p_alive_closed(x, tx, T, r, alpha, a, b):
    """Fader, Hardie & Lee (2008) note 021: P(alive | x, t_x, T)."""
    x, tx, T = map(np.asarray, (x, tx, T))
    term = np.where(
        x > 0, a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0
    )
    return 1 / (1 + term)


def expected_purchases_mp(t, x, tx, T, r, alpha, a, b):
    """Eq. (10) of Fader, Hardie & Lee (2005) in high precision (mpmath)."""
    mp.mp.dps = 30
    r, alpha, a, b, x, tx, T, t = map(mp.mpf, (r, alpha, a, b, x, tx, T, t))
    num = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * mp.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        )
    )
    den = 1 + (a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x) if x > 0 else 0)
    return float(num / den)


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(0)
    n = 8000
    T = rng.uniform(20, 78, n)
    return simulate_bgnbd(n, T, horizon=26.0, seed=2, **TRUE)


@pytest.fixture(scope="module")
def fitted(sim):
    return CLVModel(method="map").fit(sim)


@pytest.mark.slow
def test_map_fit_recovers_generator_parameters(fitted):
    est = fitted.params_.set_index("parameter")["mean"]
    for k, tol in (("r", 0.12), ("alpha", 0.15), ("a", 0.25), ("b", 0.25)):
        assert est[k] == pytest.approx(TRUE[k], rel=tol), (k, est[k])
    for k, tol in (("p", 0.25), ("q", 0.25), ("v", 0.35)):
        assert est[k] == pytest.approx(GG[k], rel=tol), (k, est[k])


def test_closed_form_p_alive_matches_simulation(sim):
    """Mean closed-form P(alive) at the true parameters equals the simulated alive share,
    for each calibration frequency (frequency 0 included: always alive in BG/NBD)."""
    pa = p_alive_closed(sim["frequency"], sim["recency"], sim["T"], **TRUE)
    for k in range(4):
        m = (sim["frequency"] == k).to_numpy()
        emp = sim.loc[m, "alive"].mean()
        se = np.sqrt(max(emp * (1 - emp), 0.01) / m.sum())
        assert pa[m].mean() == pytest.approx(emp, abs=4 * se + 1e-9), k


@pytest.mark.slow
def test_predictions_match_closed_forms(fitted, sim):
    par = {k: fitted.param(k) for k in ("r", "alpha", "a", "b")}
    rows = sim.iloc[[0, 1, 2, 3, 5, 8, 13, 21, 34, 55]].copy()
    rows = pd.concat(
        [
            rows,
            pd.DataFrame(
                {
                    "customer_id": [10**6],
                    "frequency": [0.0],
                    "recency": [0.0],
                    "T": [40.0],
                    "monetary_value": [0.0],
                }
            ),
        ],
        ignore_index=True,
    )
    pred = fitted.predict(rows, purchases_horizon=26.0, horizon_months=6)
    np.testing.assert_allclose(
        pred["p_alive"],
        p_alive_closed(rows["frequency"], rows["recency"], rows["T"], **par),
        rtol=1e-6,
    )
    ref = [
        expected_purchases_mp(26.0, x, tx, T, **par)
        for x, tx, T in rows[["frequency", "recency", "T"]].itertuples(index=False)
    ]
    np.testing.assert_allclose(pred["expected_purchases"], ref, rtol=1e-6)
    # Gamma-Gamma conditional mean spend (Fader & Hardie 2013, eq. 5)
    p, q, v = (fitted.param(k) for k in ("p", "q", "v"))
    x, z = rows["frequency"], rows["monetary_value"]
    w = p * x / (p * x + q - 1)
    np.testing.assert_allclose(pred["expected_spend"], (1 - w) * v * p / (q - 1) + w * z, rtol=1e-6)
    # undiscounted CLV over 6 months = spend x expected purchases in 6 months
    months = 6 * 30.4375 / 7
    ref6 = [
        expected_purchases_mp(months, x, tx, T, **par)
        for x, tx, T in rows[["frequency", "recency", "T"]].itertuples(index=False)
    ]
    np.testing.assert_allclose(pred["clv"], pred["expected_spend"] * np.array(ref6), rtol=1e-5)
    disc = fitted.predict(rows, horizon_months=6, annual_discount_rate=0.2)
    assert (disc["clv"] < pred["clv"]).all() and (disc["clv"] > 0.9 * pred["clv"]).all()


@pytest.mark.slow
def test_holdout_predicted_vs_actual_by_frequency(fitted, sim):
    tab = holdout_by_frequency(sim, fitted, max_frequency=5)
    assert list(tab["frequency_label"]) == ["0", "1", "2", "3", "4", "5+"]
    for row in tab.itertuples():
        tol = 0.15 * max(row.actual, 0.3) + 3 * np.sqrt(max(row.actual, 0.3) / row.customers)
        assert abs(row.predicted - row.actual) < tol, row
    total_pred = (tab["predicted"] * tab["customers"]).sum()
    total_act = (tab["actual"] * tab["customers"]).sum()
    assert total_pred == pytest.approx(total_act, rel=0.08)


@pytest.mark.slow
def test_mcmc_nutpie_gives_intervals_and_chunked_summaries(sim):
    small = sim.iloc[:1500].reset_index(drop=True)
    m = CLVModel(method="mcmc", draws=300, tune=300, chains=2, priors="flat", random_state=1).fit(
        small
    )
    prm = m.params_.set_index("parameter")
    assert (prm["low"] < prm["mean"]).all() and (prm["mean"] < prm["high"]).all()
    assert prm.loc["r", "low"] < TRUE["r"] < prm.loc["r", "high"]
    pred = m.predict(small.iloc[:250], horizon_months=6, chunk_size=100)
    assert len(pred) == 250
    for c in ("p_alive", "expected_purchases", "clv"):
        assert (pred[f"{c}_low"] <= pred[c] + 1e-12).all() and (
            pred[c] <= pred[f"{c}_high"] + 1e-12
        ).all()
    assert (pred["clv_high"] > pred["clv_low"]).mean() > 0.9


def test_bad_input():
    with pytest.raises(CLVError, match="missing column"):
        CLVModel().fit(pd.DataFrame({"customer_id": [1], "frequency": [1.0]}))
    df = pd.DataFrame(
        {
            "customer_id": range(30),
            "frequency": 0.0,
            "recency": 0.0,
            "T": 10.0,
            "monetary_value": 0.0,
        }
    )
    with pytest.raises(CLVError, match="repeat purchase"):
        CLVModel().fit(df)
    with pytest.raises(CLVError, match="method"):
        CLVModel(method="fit_method=map").fit(df)


@pytest.mark.slow
def test_pareto_nbd_option_predicts_the_holdout(sim):
    """Pareto/NBD (the other purchase model) on the same customers: holdout purchases in total
    match what happened, and P(alive) is a probability."""
    part = sim.iloc[:3000].reset_index(drop=True)
    m = CLVModel(model="pareto", method="map").fit(part, fit_spend=False)
    tab = holdout_by_frequency(part, m)
    pred = (tab["predicted"] * tab["customers"]).sum()
    act = (tab["actual"] * tab["customers"]).sum()
    assert pred == pytest.approx(act, rel=0.15)
    pa = m.predict(part.iloc[:200].assign(monetary_value=0.0), purchases_horizon=10)["p_alive"]
    assert ((pa >= 0) & (pa <= 1)).all()


# -- can the purchase model be trusted? (cjlab.churn.diagnostics) -----------------------------------


def simulate_no_dropout(
    n: int, T: np.ndarray, seed: int = 3, r: float = 0.25, alpha: float = 4.0
) -> pd.DataFrame:
    """Planted truth p = 0: Poisson(λ) purchases over (0, T], λ ~ Gamma(r, α), nobody leaves."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    x = rng.poisson(lam * T)
    tx = np.array([rng.uniform(0, t, k).max() if k else 0.0 for k, t in zip(x, T)])
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x.astype(float),
            "recency": tx,
            "T": T,
            "monetary_value": 0.0,
        }
    )


def test_closed_form_likelihoods_reduce_to_the_nbd_without_dropout():
    from cjlab.churn.bgnbd import bgnbd_loglik, nbd_loglik
    from cjlab.churn.pareto_nbd import pareto_nbd_loglik

    x, tx, T = np.array([0.0, 1, 4, 9]), np.array([0.0, 5, 20, 38]), np.array([40.0, 40, 40, 40])
    nbd = nbd_loglik(0.3, 5.0, x, T)
    np.testing.assert_allclose(bgnbd_loglik(0.3, 5.0, 1e-9, 2.0, x, tx, T), nbd, rtol=1e-7)
    np.testing.assert_allclose(pareto_nbd_loglik(0.3, 5.0, 1e-9, 10.0, x, tx, T), nbd, rtol=1e-6)
    # NBD = negative binomial count of purchases in (0, T] times the density x!/T^x of their
    # (ordered, uniform) times
    from scipy import stats
    from scipy.special import gammaln

    count = stats.nbinom.logpmf(x, 0.3, 5.0 / (5.0 + T))
    np.testing.assert_allclose(nbd, count + gammaln(x + 1) - x * np.log(T), rtol=1e-9)


@pytest.mark.slow
def test_diagnostics_flag_a_planted_no_dropout_data_set():
    rng = np.random.default_rng(5)
    sim = simulate_no_dropout(6000, rng.uniform(20, 78, 6000))
    assert (sim["frequency"] > 0).sum() > 1000
    m = CLVModel(method="map").fit(sim, fit_spend=False)
    chk = m.check_
    assert not chk.dropout_identified and not chk.reliable
    assert chk.lr_statistic < 2.71
    assert any("dropout is not identified" in p for p in chk.problems)
    assert set(chk.table()["verdict"]) == {"ok", "problem"}


@pytest.mark.slow
def test_diagnostics_pass_a_data_set_simulated_with_dropout(fitted):
    chk = fitted.check_
    assert chk.reliable and chk.dropout_identified and chk.converged, chk.problems
    assert chk.lr_statistic > 50 and chk.repeat_buyers > 1000
    assert (chk.table()["verdict"] == "ok").all()


def test_diagnostics_flag_too_few_repeat_buyers_and_an_unconverged_fit():
    from cjlab.churn.diagnostics import MIN_REPEAT_BUYERS, check_purchase_model

    rng = np.random.default_rng(2)
    small = simulate_bgnbd(150, rng.uniform(20, 78, 150), horizon=1.0, seed=4, **TRUE)
    assert 10 < (small["frequency"] > 0).sum() < MIN_REPEAT_BUYERS
    chk = check_purchase_model(small, "bgnbd", TRUE)
    assert any("bought more than once" in p for p in chk.problems)
    far = check_purchase_model(small, "bgnbd", {"r": 5.0, "alpha": 0.5, "a": 0.8, "b": 2.5})
    assert not far.converged and any("did not converge" in p for p in far.problems)
