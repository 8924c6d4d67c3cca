"""The closed-form CLV fits (default ``method="map"``) against independent references:

* their log-likelihoods equal PyMC-Marketing's model logp at the same parameters (BG/NBD,
  Pareto/NBD, Gamma-Gamma; flat priors, so the model logp is the log-likelihood);
* on CDNOW (the sample shipped with the ``lifetimes`` package: 2,357 customers, the data of
  Fader, Hardie & Lee 2005) the estimates reproduce the published values, from the shipped
  summary and from the raw transactions through :func:`cjlab.features.btyd.rfm_summary`;
* the fits equal PyMC-Marketing's own MAP fits and lifetimes' on the same data, and the
  predictions at the same parameters equal PyMC-Marketing's;
* the default path never imports PyMC.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from cjlab.churn.bgnbd import BetaGeo, bgnbd_loglik
from cjlab.churn.clv import CLVModel
from cjlab.churn.gamma_gamma import GammaGamma, gamma_gamma_loglik
from cjlab.churn.pareto_nbd import ParetoNBD, pareto_nbd_loglik
from cjlab.features.btyd import rfm_summary

lifetimes = pytest.importorskip("lifetimes", reason="the CDNOW sample ships with lifetimes")
DATA = files("lifetimes") / "datasets"

#: Fader, Hardie & Lee (2005), Table 1 (BG/NBD on CDNOW); Fader & Hardie (2005 note 009,
#: Pareto/NBD, 2 decimals); Fader & Hardie (2013, Gamma-Gamma, 2 decimals)
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The shipped calibration summary (39 weeks) with the mean repeat spend."""
    s = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return s.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture(scope="module")
def cdnow_raw() -> pd.DataFrame:
    """The raw CDNOW sample: one row per purchase (customer, day, CDs, dollars)."""
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
    )
    return raw.assign(ts=pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"))


def _pmm_logp(model_cls, data: pd.DataFrame, params: dict) -> float:
    from pymc_extras.prior import Prior

    m = model_cls(model_config={k: Prior("HalfFlat") for k in params})
    m.build_model(data)
    logp = m.model.compile_logp(jacobian=False)
    return float(logp({f"{k}_log__": np.log(v) for k, v in params.items()}))


@pytest.mark.slow
@pytest.mark.parametrize("params", [PUBLISHED_BGNBD, {"r": 2.0, "alpha": 1.0, "a": 3.0, "b": 0.5}])
def test_bgnbd_loglik_equals_pymc_marketing_model_logp(cdnow, params):
    from pymc_marketing.clv import BetaGeoModel

    ours = bgnbd_loglik(*params.values(), cdnow["frequency"], cdnow["recency"], cdnow["T"]).sum()
    assert ours == pytest.approx(_pmm_logp(BetaGeoModel, cdnow, params), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "params", [PUBLISHED_PARETO, {"r": 2.0, "alpha": 1.0, "s": 3.0, "beta": 30.0}]
)
def test_pareto_loglik_equals_pymc_marketing_model_logp(cdnow, params):
    """Both branches of the closed form (alpha >= beta and alpha < beta)."""
    from pymc_marketing.clv import ParetoNBDModel

    ours = pareto_nbd_loglik(
        *params.values(), cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ).sum()
    assert ours == pytest.approx(_pmm_logp(ParetoNBDModel, cdnow, params), rel=1e-12)


@pytest.mark.slow
def test_gamma_gamma_loglik_equals_pymc_marketing_model_logp(cdnow):
    from pymc_marketing.clv import GammaGammaModel

    rep = cdnow.loc[cdnow["frequency"] > 0, ["customer_id", "frequency", "monetary_value"]]
    rep = rep.reset_index(drop=True)
    ours = gamma_gamma_loglik(*PUBLISHED_GG.values(), rep["frequency"], rep["monetary_value"]).sum()
    assert ours == pytest.approx(_pmm_logp(GammaGammaModel, rep, PUBLISHED_GG), rel=1e-12)


def test_cdnow_estimates_reproduce_the_published_values(cdnow):
    bg = BetaGeo().fit(cdnow)
    assert bg.converged_
    for k, v in PUBLISHED_BGNBD.items():
        assert bg.params_[k] == pytest.approx(v, rel=0.005), k
    pareto = ParetoNBD().fit(cdnow)
    for k, v in PUBLISHED_PARETO.items():
        assert pareto.params_[k] == pytest.approx(v, abs=0.005 + 1e-9), k  # published to 2 decimals
    gg = GammaGamma().fit(cdnow)
    for k, v in PUBLISHED_GG.items():
        assert gg.params_[k] == pytest.approx(v, rel=0.005), k
    assert bg.loglik_ == pytest.approx(-9582.4, abs=0.05)  # published log-likelihood
    chk = CLVModel().fit(cdnow).check_
    assert chk.reliable and chk.dropout_identified


def test_cdnow_from_raw_transactions(cdnow_raw, cdnow):
    """The calibration summary from the raw purchases (calibration 1997-01-01 to 1997-09-30)
    equals the shipped one (rounded to 2 decimals) and gives the published estimates."""
    s = rfm_summary(cdnow_raw, "1998-06-30", calibration_end="1997-09-30")
    m = s.merge(cdnow, on="customer_id", suffixes=("", "_ref"))
    assert len(s) == len(cdnow) == len(m) == 2357
    assert (m["frequency"] == m["frequency_ref"]).all()
    for c in ("recency", "T", "monetary_value"):
        assert np.abs(m[c] - m[f"{c}_ref"]).max() <= 0.005 + 1e-9, c
    assert s["test_T"].iloc[0] == pytest.approx(39.0)
    bg = BetaGeo().fit(s)
    for k, v in PUBLISHED_BGNBD.items():
        assert bg.params_[k] == pytest.approx(v, rel=0.005), k


def test_fits_equal_lifetimes(cdnow):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {
            "bg": lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]),
            "pareto": lifetimes.ParetoNBDFitter().fit(
                cdnow["frequency"], cdnow["recency"], cdnow["T"]
            ),
        }
        rep = cdnow[cdnow["frequency"] > 0]
        ref["gg"] = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    ours = {
        "bg": BetaGeo().fit(cdnow),
        "pareto": ParetoNBD().fit(cdnow),
        "gg": GammaGamma().fit(cdnow),
    }
    for name, m in ours.items():
        for k, v in m.params_.items():
            assert v == pytest.approx(ref[name].params_[k], rel=1e-3), (name, k)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
def test_map_and_predictions_equal_pymc_marketing(cdnow, model):
    """PyMC-Marketing's own MAP fit (flat priors) lands on our estimates, and at its parameters
    our p_alive, expected purchases, expected spend and discounted CLV equal its predictions."""
    from cjlab.churn import clv_pymc

    ours = CLVModel(model=model).fit(cdnow)
    data = cdnow[["customer_id", "frequency", "recency", "T"]]
    spend = cdnow.loc[cdnow["frequency"] > 0, ["customer_id", "frequency", "monetary_value"]]
    tm, sm = clv_pymc.fit_pymc(model, "map", "flat", data, spend.reset_index(drop=True), 0, 0, 1, 0)
    pp = clv_pymc.params_pymc(model, tm, sm).set_index("parameter")["mean"]
    for k, v in pp.items():
        assert ours.param(k) == pytest.approx(v, rel=2e-3), k
    # our closed forms at PyMC-Marketing's parameters vs its predictions
    for est in (ours.transaction_model_, ours.spend_model_):
        est.params_ = {k: float(pp[k]) for k in est.params_}
    rows = cdnow.iloc[::40].reset_index(drop=True)
    mine = ours.predict(rows, horizon_months=6, annual_discount_rate=0.1)
    theirs = clv_pymc.predict_pymc(
        tm, sm, rows, 6 * 30.4375 / 7, 6, 1.1 ** (1 / 12) - 1, "W", 1000, 0.9
    )
    for c in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        np.testing.assert_allclose(mine[c], theirs[c], rtol=1e-6, err_msg=c)


def test_the_default_path_never_imports_pymc():
    code = textwrap.dedent("""
        import sys
        import numpy as np, pandas as pd
        from cjlab.churn import CLVModel, holdout_by_frequency
        rng = np.random.default_rng(0)
        T = rng.uniform(20, 60, 800); x = rng.poisson(2, 800).astype(float)
        rfm = pd.DataFrame({"customer_id": range(800), "frequency": x, "T": T,
                            "recency": np.where(x > 0, T * rng.uniform(0.2, 1, 800), 0.0),
                            "monetary_value": np.where(x > 0, rng.gamma(5, 10, 800), 0.0)})
        m = CLVModel().fit(rfm)
        m.predict(rfm, horizon_months=12, annual_discount_rate=0.1)
        CLVModel(model="pareto").fit(rfm).predict(rfm)
        loaded = sorted(n for n in sys.modules if n.split(".")[0] in ("pymc", "pymc_marketing", "pytensor"))
        print("LOADED", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
