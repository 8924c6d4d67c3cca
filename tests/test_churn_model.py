"""Churn models: metrics against independent formulas, time-aware CV, calibration and planted
drivers on demo data, IBM Telco held-out ROC-AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from scipy import stats

from cjlab.churn.drivers import (
    DRIVER_GROUPS,
    driver_importance,
    partial_dependence_table,
    top_reasons,
)
from cjlab.churn.evaluation import evaluate, gains_table
from cjlab.churn.frames import ChurnDataError, churn_frames, rolling_cutoffs
from cjlab.churn.model import ChurnModel, CutoffSplit


def delong_se(y: np.ndarray, p: np.ndarray) -> float:
    """Standard error of the ROC-AUC by DeLong's placement values (independent reference)."""
    pos, neg = p[y == 1], p[y == 0]
    v10 = np.array([(np.sum(x > neg) + 0.5 * np.sum(x == neg)) / len(neg) for x in pos])
    v01 = np.array([(np.sum(pos > x) + 0.5 * np.sum(pos == x)) / len(pos) for x in neg])
    return float(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))


def test_evaluate_against_independent_formulas():
    rng = np.random.default_rng(3)
    n = 3000
    y = (rng.random(n) < 0.25).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y - 1.5)))
    e = evaluate(y, p, n_boot=400, random_state=1)
    # ROC-AUC = Mann-Whitney U / (n1 n0)
    u = stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert e.roc_auc == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), rel=1e-12)
    # bootstrap interval ≈ AUC ± 1.96 DeLong SE
    se = delong_se(y, p)
    assert e.roc_auc_ci[0] == pytest.approx(e.roc_auc - 1.96 * se, abs=0.4 * se)
    assert e.roc_auc_ci[1] == pytest.approx(e.roc_auc + 1.96 * se, abs=0.4 * se)
    # PR-AUC (average precision) from its definition: mean precision at each positive
    order = np.argsort(-p)
    ys = y[order]
    prec = np.cumsum(ys) / np.arange(1, n + 1)
    assert e.pr_auc == pytest.approx(prec[ys == 1].mean(), rel=1e-9)
    assert e.pr_auc_ci[0] < e.pr_auc < e.pr_auc_ci[1]
    assert e.brier == pytest.approx(np.mean((p - y) ** 2))
    assert e.brier_reference == pytest.approx(y.mean() * (1 - y.mean()))


def test_gains_table_brute_force():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    p = rng.random(1000)
    g = gains_table(y, p, n_bins=10)
    top = np.argsort(-p)[:100]
    assert g.loc[0, "gain"] == pytest.approx(y[top].sum() / y.sum())
    assert g.loc[0, "lift"] == pytest.approx(y[top].mean() / y.mean())
    assert g["gain"].iloc[-1] == pytest.approx(1.0)
    assert g["gain"].is_monotonic_increasing


def test_cutoff_split_never_validates_on_the_past():
    cut = np.repeat(
        pd.to_datetime(["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"]).to_numpy(), 5
    )
    folds = list(CutoffSplit(cut).split())
    assert len(folds) == 3
    for tr, va in folds:
        assert cut[tr].max() < cut[va].min()
        assert len(np.unique(cut[va])) == 1


def test_single_class_label_is_a_clear_error():
    X = pd.DataFrame({"a": np.arange(50.0)})
    with pytest.raises(ChurnDataError, match="single-class label"):
        ChurnModel("logit").fit(X, np.zeros(50))
    with pytest.raises(ChurnDataError, match="single-class"):
        evaluate(np.ones(10), np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="model must be one of"):
        ChurnModel("svm").fit(X, np.r_[np.zeros(25), np.ones(25)])


@pytest.fixture(scope="module")
def demo_frames():
    from cjlab.data.synth import generate

    d = generate(n_customers=30000, seed=1)
    cuts = rolling_cutoffs(d.truth["observation_end"], 180, n=2)
    return d, cuts, churn_frames(d.tables, cuts, 180)


@pytest.mark.parametrize(
    ("model", "calibrate"),
    [("logit", None), pytest.param("hgb", "isotonic", marks=pytest.mark.slow)],
)
def test_probabilities_match_known_truth(model, calibrate):
    """Data drawn from a known logistic model: predicted probabilities track the true ones."""
    rng = np.random.default_rng(7)
    n = 9000
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    eta = -1.5 + 1.2 * X["a"] - 0.8 * X["b"] + 0.5 * X["a"] * (X["c"] > 0)
    p_true = 1 / (1 + np.exp(-eta.to_numpy()))
    y = (rng.random(n) < p_true).astype(int)
    tr = np.arange(n) < 6000
    m = ChurnModel(model, tune=False, calibrate=calibrate).fit(X[tr], y[tr])
    p = m.predict_proba(X[~tr])[:, 1]
    # calibration against the truth: in deciles of the prediction, mean predicted = mean true
    dec = pd.qcut(p, 10, labels=False, duplicates="drop")
    cal = pd.DataFrame({"d": dec, "p": p, "t": p_true[~tr]}).groupby("d").mean()
    assert np.max(np.abs(cal["p"] - cal["t"])) < 0.08, cal
    assert np.mean(np.abs(cal["p"] - cal["t"])) < 0.02, cal
    e = evaluate(y[~tr], p, n_boot=0)
    auc_true = evaluate(y[~tr], p_true[~tr], n_boot=0).roc_auc
    assert e.roc_auc > auc_true - 0.02
    assert e.brier < e.brier_reference


@pytest.mark.slow
def test_calibration_on_demo_data(demo_frames):
    """On demo customers held out at random, the (Platt-calibrated) logistic model's
    probabilities pass a Hosmer-Lemeshow test, agree in the large and beat the base-rate Brier."""
    _, _, f = demo_frames
    rng = np.random.default_rng(0)
    hold = rng.random(len(f)) < 0.5
    tr, te = f.loc[~hold], f.loc[hold]
    m = ChurnModel("logit", calibrate="sigmoid").fit(tr.drop(columns="churned"), tr["churned"])
    p = m.predict_proba(te)[:, 1]
    y = te["churned"].to_numpy()
    e = evaluate(y, p, n_boot=0)
    rel = e.reliability
    hl = (
        ((rel["observed_rate"] - rel["mean_predicted"]) * rel["n"]) ** 2
        / (rel["n"] * rel["mean_predicted"] * (1 - rel["mean_predicted"]))
    ).sum()
    assert stats.chi2.sf(hl, len(rel) - 2) > 0.001, rel
    assert abs(p.mean() - y.mean()) < 3 * np.sqrt(y.mean() * (1 - y.mean()) / len(y))
    assert e.brier < e.brier_reference


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logit", "hgb"])
def test_planted_drivers_rank_on_top(demo_frames, model):
    """Train on the earlier cut-off, judge on the later one: the three strongest planted
    drivers of truth["churn"] are the three most important features (grouped permutation
    importance), and the logistic coefficients carry the planted signs."""
    d, cuts, f = demo_frames
    truth = d.truth["churn"]
    tr, te = f[f["cutoff"] == cuts[0]], f[f["cutoff"] == cuts[1]]
    m = ChurnModel(model, tune=False).fit(tr.drop(columns="churned"), tr["churned"])
    e = evaluate(te["churned"], m.predict_proba(te)[:, 1], n_boot=0)
    assert e.roc_auc > 0.53  # weak but real signal out of time
    imp = driver_importance(m, te, te["churned"], groups=DRIVER_GROUPS, n_repeats=5)
    top3 = truth["driver_rank"][:3]
    assert set(imp["feature"].head(3)) == set(top3), imp.head(6)
    assert (imp.set_index("feature").loc[top3, "importance"] > 0).all()
    if model == "logit":
        pipe = m.estimator_
        coef = pd.Series(
            pipe.named_steps["model"].coef_[0], pipe.named_steps["pre"].get_feature_names_out()
        )
        for feat in top3:
            col = "support_per_year" if feat == "support_tickets" else feat
            assert np.sign(coef[col]) == np.sign(truth["drivers"][feat]), (feat, coef[col])
        # partial dependence follows the planted direction too
        pdp = partial_dependence_table(m, te, ["promo_share", "app_share"])
        for feat in ("promo_share", "app_share"):
            cur = pdp[pdp["feature"] == feat]["churn_probability"].to_numpy()
            assert np.sign(cur[-1] - cur[0]) == np.sign(truth["drivers"][feat])


def test_top_reasons_names_the_feature_that_raises_risk():
    rng = np.random.default_rng(1)
    n = 4000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * X["a"] - 1.5 * X["b"] - 1)))).astype(int)
    m = ChurnModel("logit", tune=False).fit(X, y)
    probe = pd.DataFrame({"a": [3.0, 0.0, 3.0], "b": [0.0, -3.0, -3.0], "c": [0.0, 0.0, 0.0]})
    r = top_reasons(m, probe, ["a", "b", "c"], k=2, reference=X)
    assert r.iloc[0] == "a"
    assert r.iloc[1] == "b"
    assert set(r.iloc[2].split("; ")) == {"a", "b"}


@pytest.mark.slow
@pytest.mark.shared_data
def test_ibm_telco_held_out_auc(shared_data, tmp_path):
    """Published work reports ROC-AUC ≈ 0.84-0.85 on a held-out split of IBM's telco data,
    here read through the shipped mapping (cjlab import) and the customers-only snapshot frame."""
    from sklearn.model_selection import train_test_split

    from cjlab.churn import snapshot_frame
    from cjlab.data import open_source
    from cjlab.data.mapping import import_mapping

    mapping = ROOT / "params" / "mappings" / "telco.yaml"
    import_mapping(mapping, tmp_path / "telco", input=shared_data / "telco_churn_ibm.csv")
    customers = open_source(str(tmp_path / "telco")).load("customers")["customers"]
    f = snapshot_frame(customers)
    assert len(f) == 7043 and f["churned"].sum() == 1869  # published counts
    assert (f.loc[f["tenure_months"] == 0, "total_charges"] == 0).sum() == 11
    by_contract = f.groupby("contract")["churned"].mean()
    assert by_contract["Month-to-month"] == pytest.approx(0.427, abs=0.001)
    # tenure_days is tenure_months in days: the snapshot frame adds no information beyond the file
    f = f.drop(columns=["tenure_days"])
    tr, te = train_test_split(f, test_size=0.25, stratify=f["churned"], random_state=42)
    for model, tune in (("logit", True), ("hgb", False)):
        m = ChurnModel(model, tune=tune).fit(tr.drop(columns="churned"), tr["churned"])
        e = evaluate(te["churned"], m.predict_proba(te)[:, 1], n_boot=100)
        assert 0.82 < e.roc_auc < 0.88, (model, e.roc_auc)
        assert e.roc_auc_ci[0] < 0.84 < e.roc_auc_ci[1]
