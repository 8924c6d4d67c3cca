"""Key drivers against closed forms (orthogonal predictors, two-predictor Shapley), OLS R²
from scikit-learn, planted coefficients and the demo company's planted drivers."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from cjlab.survey import (
    DEFAULT_STAGE_MAP,
    KeyDrivers,
    SurveyInputError,
    importance_performance,
    nps,
    relative_weights,
    shapley_r2,
    stage_scores,
    touchpoint_scores,
)


def _corr(X, y):
    return np.corrcoef(np.column_stack([X, y]), rowvar=False)


def test_orthogonal_predictors_give_squared_correlations():
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 3))
    X = np.linalg.qr(X - X.mean(0))[0] * np.sqrt(n)  # exactly uncorrelated columns
    y = X @ [1.0, 0.5, 0.2] + rng.normal(size=n)
    R = _corr(X, y)
    r2_sq = R[:3, 3] ** 2
    np.testing.assert_allclose(relative_weights(R), r2_sq, atol=1e-10)
    np.testing.assert_allclose(shapley_r2(R), r2_sq, atol=1e-10)


def test_two_predictor_shapley_closed_form_and_r2():
    rng = np.random.default_rng(1)
    n = 3000
    z = rng.normal(size=n)
    X = np.column_stack([z + rng.normal(size=n), 0.6 * z + rng.normal(size=n)])
    y = X @ [0.8, 0.4] + rng.normal(size=n)
    R = _corr(X, y)
    r2 = LinearRegression().fit(X, y).score(X, y)
    r1, r2b = R[0, 2] ** 2, R[1, 2] ** 2
    # LMG with 2 predictors: each gets half its own r² plus half its increment over the other
    want = np.array([(r1 + (r2 - r2b)) / 2, (r2b + (r2 - r1)) / 2])
    np.testing.assert_allclose(shapley_r2(R), want, atol=1e-10)
    assert relative_weights(R).sum() == pytest.approx(r2, abs=1e-10)


def _planted(n=3000, seed=2, coefs=(0.9, 0.6, 0.35, 0.15, 0.0)):
    rng = np.random.default_rng(seed)
    sat = rng.normal(size=n)
    cols = [f"rating_t{i}" for i in range(len(coefs))]
    lat = {c: 0.5 * sat + rng.normal(size=n) for c in cols}
    df = pd.DataFrame({c: np.clip(np.round(3.5 + lat[c]), 1, 5) for c in cols})
    lin = 7 + sum(b * lat[c] for b, c in zip(coefs, cols)) + rng.normal(0, 1.2, n)
    df["nps"] = np.clip(np.round(lin), 0, 10)
    return df, cols


@pytest.mark.parametrize("method", ["relative_weights", "shapley"])
def test_planted_driver_order(method):
    df, cols = _planted()
    # answers missing at random for two touchpoints: pairwise correlations
    rng = np.random.default_rng(3)
    df.loc[rng.random(len(df)) < 0.5, cols[1]] = np.nan
    df.loc[rng.random(len(df)) < 0.6, cols[3]] = np.nan
    kd = KeyDrivers(method=method, n_boot=60).fit(df)
    imp = kd.importance_
    assert imp["driver"].tolist() == cols
    assert imp["share"].sum() == pytest.approx(1)
    assert (imp["low"] <= imp["share"] + 1e-12).all() and (
        imp["share"] <= imp["high"] + 1e-12
    ).all()
    assert kd.r2_low_ <= kd.r2_ <= kd.r2_high_
    # complete cases: R² equals scikit-learn's OLS R² on the same rows
    cc = df.dropna()
    kd2 = KeyDrivers(method=method, n_boot=0, missing="complete").fit(df)
    ols = LinearRegression().fit(cc[cols], cc["nps"]).score(cc[cols], cc["nps"])
    assert kd2.r2_ == pytest.approx(ols, abs=1e-10) and kd2.n_ == len(cc)


def test_quadrant_fix_first():
    imp = pd.DataFrame(
        {
            "touchpoint": list("abcd"),
            "share": [0.4, 0.3, 0.2, 0.1],
            "performance": [3.0, 4.5, 3.1, 4.6],
        }
    )
    q = importance_performance(imp)
    got = dict(zip(q["touchpoint"], q["quadrant"]))
    assert got == {"a": "fix first", "b": "keep up", "c": "low priority", "d": "possible overkill"}
    assert q["quadrant"].iloc[0] == "fix first"


def test_touchpoint_table():
    df, cols = _planted(800, seed=5)
    df = df.rename(columns={cols[0]: "rating_delivery", cols[1]: "rating_checkout"})
    df.loc[df.index[:700], "rating_checkout"] = np.nan
    t = touchpoint_scores(df, stage_map={"rating_t2": "support"}, min_n=150)
    row = t.set_index("column").loc["rating_delivery"]
    assert row["stage"] == DEFAULT_STAGE_MAP["rating_delivery"] == "logistics"
    assert row["mean_rating"] == pytest.approx(df["rating_delivery"].mean())
    assert row["nps"] == pytest.approx(nps(df["nps"]).value)
    assert t.set_index("column").loc["rating_t2", "stage"] == "support"
    chk = t.set_index("column").loc["rating_checkout"]
    assert chk["n"] == 100 and chk["suppressed"] and np.isnan(chk["mean_rating"])
    # ordered along the lifecycle: purchase < logistics < support < unassigned
    assert t["stage"].tolist().index("purchase") < t["stage"].tolist().index("logistics")
    assert t["stage"].iloc[-1] == "unassigned"
    assert set(stage_scores(t)["stage"]) >= {"logistics", "support"}


def test_driver_errors():
    df, _ = _planted(100)
    with pytest.raises(SurveyInputError, match="at least 2 driver"):
        KeyDrivers().fit(df, drivers=["rating_t0"])
    bad = df.assign(rating_t0=df["rating_t0"] + 5)
    with pytest.raises(SurveyInputError, match="rating_t0"):
        KeyDrivers(n_boot=0).fit(bad)


@cache
def _demo():
    synth = pytest.importorskip("cjlab.data.synth")
    return synth.generate(n_customers=20000, seed=42)


def test_demo_recovers_planted_driver_order():
    demo = _demo()
    s = demo.tables["survey_responses"]
    truth = demo.truth["survey"]
    kd = KeyDrivers(n_boot=100).fit(s, drivers=list(truth["nps_drivers"]))
    assert kd.importance_["driver"].tolist() == truth["driver_rank"]


def test_demo_other_seed_gets_top_drivers_and_rough_order():
    synth = pytest.importorskip("cjlab.data.synth")
    from scipy.stats import spearmanr

    demo = synth.generate(n_customers=20000, seed=2)
    truth = demo.truth["survey"]
    kd = KeyDrivers(n_boot=0).fit(
        demo.tables["survey_responses"], drivers=list(truth["nps_drivers"])
    )
    got = kd.importance_["driver"].tolist()
    # the two strongest drivers are clear; the weaker ones are close and may swap by noise
    assert got[:2] == truth["driver_rank"][:2]
    rho = spearmanr([got.index(d) for d in truth["driver_rank"]], range(len(got)))[0]
    assert rho >= 0.8
