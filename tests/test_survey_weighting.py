"""Raking and post-stratification: margins met to 1e-8, samplics as the peer implementation,
hand-computed cases and clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cjlab.survey import (
    MarginError,
    WeightError,
    margins_from_table,
    nps,
    population_cells,
    poststratify,
    rake,
)

MARGINS = {
    "respondent_type": {"new": 0.25, "existing": 0.55, "leaving": 0.12, "returning": 0.08},
    "acquisition_channel": {"paid_search": 0.3, "social": 0.2, "email": 0.15, "web": 0.35},
    "country": {"DE": 0.6, "AT": 0.25, "CH": 0.15},
}


def _biased_sample(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "respondent_type": rng.choice(
                list(MARGINS["respondent_type"]), n, p=[0.4, 0.4, 0.1, 0.1]
            ),
            "acquisition_channel": rng.choice(
                list(MARGINS["acquisition_channel"]), n, p=[0.2, 0.4, 0.3, 0.1]
            ),
            "country": rng.choice(list(MARGINS["country"]), n, p=[0.8, 0.1, 0.1]),
        }
    )


def test_raking_hits_margins():
    df = _biased_sample()
    res = rake(df, MARGINS)
    assert res.converged
    for var, targets in MARGINS.items():
        got = res.weights.groupby(df[var]).sum() / res.weights.sum()
        for cat, share in targets.items():
            assert abs(got[cat] - share) < 1e-8
    assert res.margins["error"].abs().max() < 1e-8
    assert res.weights.sum() == pytest.approx(len(df))
    w = res.weights.to_numpy()
    assert res.design_effect == pytest.approx(1 + (w.std() / w.mean()) ** 2)
    assert res.n_effective == pytest.approx(len(df) / res.design_effect)
    assert res.history[-1] < 1e-10 and res.summary()["converged"]


def test_raking_matches_samplics():
    pytest.importorskip("samplics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from samplics.weighting import SampleWeight
    df = _biased_sample(800, seed=3)
    n = len(df)
    ours = rake(df, MARGINS, tol=1e-13, max_iter=2000).weights.to_numpy()
    control = {v: {c: s * n for c, s in t.items()} for v, t in MARGINS.items()}
    peer = SampleWeight().rake(
        samp_weight=np.ones(n),
        margins={v: df[v].to_numpy() for v in MARGINS},
        control=control,
        tol=1e-13,
        ctrl_tol=1e-13,
        max_iter=2000,
    )
    np.testing.assert_allclose(ours, peer, rtol=1e-8)


def test_poststratification_hand_case():
    # sample: 3 new, 1 existing; population 50/50 -> new weight 0.5/(3/4) * ..., scaled to n=4:
    # total weight of new = 2, of existing = 2 -> new 2/3 each, existing 2
    df = pd.DataFrame({"t": ["new", "new", "new", "existing"]})
    pop = pd.DataFrame({"t": ["new", "existing"], "share": [1, 1]})
    res = poststratify(df, ["t"], pop)
    np.testing.assert_allclose(res.weights, [2 / 3, 2 / 3, 2 / 3, 2])
    # Kish n_eff = (sum w)^2 / sum w^2 = 16 / (3 * 4/9 + 4) = 3
    assert res.n_effective == pytest.approx(3.0)
    # raking on one variable is post-stratification
    np.testing.assert_allclose(rake(df, {"t": {"new": 0.5, "existing": 0.5}}).weights, res.weights)
    # weighted NPS: new say 10, existing say 0 -> NPS 0 after weighting (was +50 raw)
    assert nps([10, 10, 10, 0], weights=res.weights).value == pytest.approx(0.0, abs=1e-12)


def test_poststratify_joint_cells():
    df = _biased_sample(3000, seed=5)
    rng = np.random.default_rng(1)
    customers = pd.DataFrame(
        {
            "acquisition_channel": rng.choice(list(MARGINS["acquisition_channel"]), 20000),
            "country": rng.choice(list(MARGINS["country"]), 20000, p=[0.5, 0.3, 0.2]),
        }
    )
    cells = population_cells(customers, ["acquisition_channel", "country"])
    res = poststratify(df, ["acquisition_channel", "country"], cells)
    got = res.weights.groupby([df.acquisition_channel, df.country]).sum() / res.weights.sum()
    want = cells.set_index(["acquisition_channel", "country"])["share"]
    assert (got - want.reindex(got.index)).abs().max() < 1e-10
    m = margins_from_table(customers, ["country"])["country"]
    assert m.sum() == pytest.approx(1)
    assert res.margins.query("variable == 'country'")["error"].abs().max() < 1e-10


def test_trimming_bounds_and_report():
    df = _biased_sample(2000, seed=7)
    free = rake(df, MARGINS)
    ratio = free.weights.max() / free.weights.mean()
    trimmed = rake(df, MARGINS, trim=(0.0, ratio * 0.8))
    w = trimmed.weights
    assert w.max() <= ratio * 0.8 * w.mean() * (1 + 1e-6)
    assert trimmed.design_effect < free.design_effect
    assert trimmed.converged and trimmed.margins["error"].abs().max() < 1e-8
    # impossible bounds: report non-convergence instead of pretending
    bad = rake(df, MARGINS, trim=(0.9, 1.1), max_iter=50)
    assert not bad.converged and bad.notes and bad.max_error > 1e-3


def test_margin_errors():
    df = _biased_sample(500, seed=2)
    missing_cat = {**MARGINS, "country": {"DE": 0.5, "AT": 0.2, "CH": 0.1, "LU": 0.2}}
    with pytest.raises(MarginError, match=r"margin 'country': categories \['LU'\].*no respondent"):
        rake(df, missing_cat)
    with pytest.raises(MarginError, match=r"sample categories \['CH'\]"):
        rake(df, {"country": {"DE": 0.7, "AT": 0.3}})
    with pytest.raises(MarginError, match="target share of 0"):
        rake(df, {"country": {"DE": 0.7, "AT": 0.3, "CH": 0}})
    df2 = df.copy()
    df2.loc[df2.index[:3], "country"] = None
    with pytest.raises(MarginError, match="3 respondent"):
        rake(df2, MARGINS)
    pop = pd.DataFrame({"country": ["DE", "AT", "CH", "LU"], "share": [0.5, 0.2, 0.2, 0.1]})
    with pytest.raises(MarginError, match=r"LU.*no respondent"):
        poststratify(df, ["country"], pop)
    with pytest.raises(WeightError):
        rake(df, MARGINS, base_weights=np.r_[0.0, np.ones(len(df) - 1)])


def test_poststratify_trimming_reports_gap():
    df = pd.DataFrame({"t": ["a"] * 95 + ["b"] * 5})
    pop = pd.DataFrame({"t": ["a", "b"], "share": [0.5, 0.5]})
    free = poststratify(df, ["t"], pop)
    assert free.weights.max() / free.weights.min() == pytest.approx((0.5 / 0.05) / (0.5 / 0.95))
    cut = poststratify(df, ["t"], pop, trim=(0.0, 4.0))
    assert cut.weights.max() <= 4.0 * cut.weights.mean() * (1 + 1e-9)
    assert not cut.converged and cut.max_error > 0.1 and cut.n_trimmed == 5


def test_customer_base_weights_against_the_buyers():
    from cjlab.features import survey as fs
    from cjlab.survey import CustomerBaseWeights

    rng = np.random.default_rng(4)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(5000),
            "country": rng.choice(["DE", "AT", "CH", "LU"], 5000, p=[0.5, 0.3, 0.19, 0.01]),
            "acquisition_channel": rng.choice(["web", "social"], 5000),
        }
    )
    orders = pd.DataFrame({"customer_id": np.arange(0, 5000, 2)})  # buyers: even ids
    resp = rng.choice(np.arange(0, 5000, 2), 400, replace=False)
    resp = resp[customers.loc[resp, "country"].to_numpy() != "LU"]  # no respondent from LU
    survey = pd.DataFrame({"customer_id": np.r_[resp, [-1]], "nps": 9})  # one unknown customer
    survey = survey.assign(response_id=[f"r{i}" for i in range(len(survey))], wave="2025-06")
    cols = ["country", "acquisition_channel"]
    linked = fs.survey_scores(survey, customers, cols)  # customer attributes by customer_id
    population = fs.population_counts(customers, cols, orders)  # the buyers per cell

    def weights(columns, **kw):
        return CustomerBaseWeights(columns, **kw).fit(linked, population, count="customers")

    sw = weights(cols)
    assert sw.weights_.isna().sum() == 1 and any(
        "without a matching customer" in n for n in sw.notes_
    )
    # LU has no respondent: merged with the smallest category that has some (CH)
    assert any("['CH', 'LU']" in n and "merged" in n for n in sw.notes_)
    buyers = customers[customers.customer_id % 2 == 0]
    other = sw.result_.margins.query("variable == 'country' and category == 'other'")
    assert other["weighted"].iloc[0] == pytest.approx(
        buyers["country"].isin(["CH", "LU"]).mean(), abs=1e-8
    )
    got = sw.result_.margins.set_index(["variable", "category"])["weighted"]
    want = buyers["acquisition_channel"].value_counts(normalize=True)
    for cat, share in want.items():
        assert got[("acquisition_channel", cat)] == pytest.approx(share, abs=1e-8)
    with pytest.raises(MarginError, match="LU"):
        weights(["country"], collapse_missing=False)
    with pytest.raises(MarginError, match="no respondent"):
        weights(cols, method="poststratification")
    ok = weights(["acquisition_channel"], method="poststratification")
    assert ok.result_.method == "poststratification" and ok.result_.max_error < 1e-10
    # one row per customer gives the same margins as the counts per cell
    rows = CustomerBaseWeights(cols).fit(linked, buyers)
    np.testing.assert_allclose(rows.weights_.dropna(), sw.weights_.dropna(), rtol=1e-12)
