"""Probability alive and customer lifetime value: closed-form fits by default, PyMC-Marketing
for full Bayesian fits.

:class:`CLVModel` fits a transaction model — BG/NBD (:class:`cjlab.churn.bgnbd.BetaGeo`) or
Pareto/NBD (:class:`cjlab.churn.pareto_nbd.ParetoNBD`) — on an RFM summary
(:func:`cjlab.features.btyd.rfm_summary`) and a Gamma-Gamma spend model
(:class:`cjlab.churn.gamma_gamma.GammaGamma`) on the repeat buyers.

* ``method="map"`` (default, flat priors): maximum likelihood by the closed-form
  log-likelihoods (the same as PyMC-Marketing's model logp, tested), in milliseconds; PyMC
  is never imported. It reproduces the published CDNOW estimates (tested).
* ``method="mcmc"``: PyMC-Marketing's ``BetaGeoModel`` / ``ParetoNBDModel`` /
  ``GammaGammaModel`` sampled with nutpie (:mod:`cjlab.churn.clv_pymc`), with intervals per
  customer. ``priors="default"`` (PyMC-Marketing's weakly informative priors) also uses it.

After fitting, ``check_`` holds the diagnostics of :mod:`cjlab.churn.diagnostics` (repeat
buyers, is dropout identified, did the fit converge): a model with problems is unreliable, and
reports say so instead of presenting its CLV.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> T = rng.uniform(20, 60, 500); x = rng.poisson(2, 500).astype(float)
>>> rfm = pd.DataFrame({"customer_id": range(500), "frequency": x, "T": T,
...                     "recency": np.where(x > 0, T * rng.uniform(0.2, 1, 500), 0.0),
...                     "monetary_value": np.where(x > 0, rng.gamma(5, 10, 500), 0.0)})
>>> m = CLVModel().fit(rfm)
>>> list(m.predict(rfm, horizon_months=12).columns)
['customer_id', 'p_alive', 'expected_purchases', 'expected_spend', 'clv']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlab.churn.bgnbd import BetaGeo
from cjlab.churn.diagnostics import check_purchase_model
from cjlab.churn.gamma_gamma import GammaGamma
from cjlab.churn.mle import CLVError
from cjlab.churn.pareto_nbd import ParetoNBD

__all__ = ["CLVError", "CLVModel", "customer_lifetime_value", "holdout_by_frequency"]

TRANSACTION_MODELS = ("bgnbd", "pareto")
METHODS = ("map", "mcmc")
DAYS_PER_MONTH = 30.4375
PERIODS_PER_MONTH = {
    "W": DAYS_PER_MONTH / 7,
    "D": DAYS_PER_MONTH,
    "M": 1.0,
    "h": DAYS_PER_MONTH * 24,
}
NAMES = {"bgnbd": BetaGeo.parameters, "pareto": ParetoNBD.parameters}


def customer_lifetime_value(
    transactions,
    rfm: pd.DataFrame,
    spend: np.ndarray,
    months: int,
    monthly_rate: float,
    time_unit: str = "W",
) -> np.ndarray:
    """Discounted value of the next ``months``: expected purchases month by month × spend.

    The same sum as PyMC-Marketing's ``customer_lifetime_value`` (and lifetimes'): without
    discounting one step over the whole horizon, else one step per month discounted at
    ``monthly_rate``.
    """
    factor = PERIODS_PER_MONTH[time_unit]
    steps = [months] if monthly_rate == 0 else range(1, months + 1)
    value, before = np.zeros(len(rfm)), np.zeros(len(rfm))
    for i in steps:
        now = transactions.expected_purchases(rfm, i * factor)
        value += spend * (now - before) / (1 + monthly_rate) ** i
        before = now
    return value


class CLVModel:
    """BG/NBD or Pareto/NBD + Gamma-Gamma: closed-form MAP (default) or MCMC (PyMC-Marketing).

    Parameters
    ----------
    model : ``"bgnbd"`` (default) or ``"pareto"``.
    method : ``"map"`` (point estimate) or ``"mcmc"`` (posterior draws, intervals).
    priors : ``"flat"`` (MAP = maximum likelihood, the published Fader–Hardie estimates) or
        ``"default"`` (PyMC-Marketing's weakly informative priors); default: flat for MAP,
        PyMC-Marketing's for MCMC. Flat-prior MAP runs in closed form; anything else in PyMC.
    draws, tune, chains : MCMC settings (nutpie sampler).
    time_unit : unit of recency/T in the RFM summary (``"W"`` by default, as
        :func:`cjlab.features.btyd.rfm_summary`); used to turn months into periods for CLV.
    random_state : seed of the sampler.

    Attributes
    ----------
    transaction_model_, spend_model_ : fitted models (closed-form estimators or PyMC-Marketing's).
    engine_ : ``"closed form"`` or ``"pymc"``.
    params_ : DataFrame of parameters (mean, and 94 % interval for MCMC).
    check_ : :class:`~cjlab.churn.diagnostics.PurchaseModelCheck` of the transaction model.
    """

    def __init__(
        self,
        model: str = "bgnbd",
        method: str = "map",
        priors: str | None = None,
        draws: int = 500,
        tune: int = 500,
        chains: int = 2,
        time_unit: str = "W",
        random_state: int = 0,
    ):
        self.model = model
        self.method = method
        self.priors = priors
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.time_unit = time_unit
        self.random_state = random_state

    def _validate(self, rfm: pd.DataFrame, fit_spend: bool) -> None:
        if self.model not in TRANSACTION_MODELS:
            raise CLVError(f"model must be one of {TRANSACTION_MODELS}, got {self.model!r}")
        if self.method not in METHODS:
            raise CLVError(f"method must be one of {METHODS}, got {self.method!r}")
        need = ["customer_id", "frequency", "recency", "T"] + (
            ["monetary_value"] if fit_spend else []
        )
        missing = [c for c in need if c not in rfm.columns]
        if missing:
            raise CLVError(f"rfm: missing column(s) {missing}; use cjlab.features.btyd.rfm_summary")
        if len(rfm) < 20:
            raise CLVError(f"rfm: only {len(rfm)} customers; too few to fit a CLV model")
        if (rfm["frequency"] > 0).sum() < 10:
            raise CLVError("rfm: fewer than 10 customers with a repeat purchase; cannot fit")
        if fit_spend and ((rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)).sum() < 10:
            raise CLVError("rfm: fewer than 10 repeat buyers with positive spend for Gamma-Gamma")
        if self.time_unit not in PERIODS_PER_MONTH:
            raise CLVError(f"time_unit must be one of {sorted(PERIODS_PER_MONTH)}")

    def fit(self, rfm: pd.DataFrame, fit_spend: bool = True) -> CLVModel:
        """Fit the transaction model on all customers and Gamma-Gamma on repeat buyers.

        Parameters
        ----------
        rfm : output of :func:`cjlab.features.btyd.rfm_summary` (``customer_id, frequency,
            recency, T`` and ``monetary_value`` for the spend model).
        fit_spend : also fit Gamma-Gamma (needs ``monetary_value``).
        """
        self._validate(rfm, fit_spend)
        priors = self.priors or ("flat" if self.method == "map" else "default")
        data = rfm[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
        self.engine_ = "closed form" if self.method == "map" and priors == "flat" else "pymc"
        if self.engine_ == "closed form":
            tm = (BetaGeo() if self.model == "bgnbd" else ParetoNBD()).fit(data)
            sm = GammaGamma().fit(rfm) if fit_spend else None
            self.params_ = _params_closed(tm, sm)
            alive, converged = tm.p_alive(data), tm.converged_
        else:
            from cjlab.churn import clv_pymc

            spend = None
            if fit_spend:
                keep = (rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)
                spend = rfm.loc[keep, ["customer_id", "frequency", "monetary_value"]]
                spend = spend.reset_index(drop=True)
            tm, sm = clv_pymc.fit_pymc(
                self.model,
                self.method,
                priors,
                data,
                spend,
                self.draws,
                self.tune,
                self.chains,
                self.random_state,
            )
            self.params_ = clv_pymc.params_pymc(self.model, tm, sm)
            alive = clv_pymc.p_alive_pymc(tm, data) if self.model == "pareto" else None
            converged = None
        self.transaction_model_, self.spend_model_ = tm, sm
        params = {n: self.param(n) for n in NAMES[self.model]}
        self.check_ = check_purchase_model(data, self.model, params, alive, converged)
        return self

    def param(self, name: str) -> float:
        """Posterior mean (or MAP value) of a parameter by name."""
        return float(self.params_.set_index("parameter").loc[name, "mean"])

    def predict(
        self,
        rfm: pd.DataFrame,
        horizon_months: int = 12,
        annual_discount_rate: float = 0.0,
        purchases_horizon: float | None = None,
        chunk_size: int = 20_000,
        level: float = 0.9,
    ) -> pd.DataFrame:
        """Per customer: probability alive, expected purchases, expected spend and CLV.

        Parameters
        ----------
        rfm : RFM summary of the customers to score (``customer_id, frequency, recency, T,
            monetary_value``).
        horizon_months : CLV horizon in months.
        annual_discount_rate : yearly discount rate (converted to a monthly rate).
        purchases_horizon : horizon of ``expected_purchases`` in ``time_unit`` periods
            (default: the CLV horizon).
        chunk_size, level : MCMC only: customers per prediction chunk, width of the
            per-customer intervals.

        Returns
        -------
        DataFrame ``customer_id, p_alive[, _low, _high], expected_purchases[...],
        expected_spend, clv[, clv_low, clv_high]`` (intervals with MCMC only).
        """
        if not hasattr(self, "transaction_model_"):
            raise CLVError("fit the model first")
        if annual_discount_rate < 0 or horizon_months <= 0:
            raise CLVError("horizon_months must be positive and annual_discount_rate >= 0")
        monthly = (1 + annual_discount_rate) ** (1 / 12) - 1
        t = (
            purchases_horizon
            if purchases_horizon is not None
            else horizon_months * PERIODS_PER_MONTH[self.time_unit]
        )
        tm, sm = self.transaction_model_, self.spend_model_
        if self.engine_ == "pymc":
            from cjlab.churn.clv_pymc import predict_pymc

            return predict_pymc(
                tm, sm, rfm, t, horizon_months, monthly, self.time_unit, chunk_size, level
            )
        rfm = rfm.reset_index(drop=True)
        out = pd.DataFrame(
            {
                "customer_id": rfm["customer_id"].to_numpy(),
                "p_alive": tm.p_alive(rfm),
                "expected_purchases": tm.expected_purchases(rfm, t),
            }
        )
        if sm is not None and "monetary_value" in rfm.columns:
            out["expected_spend"] = spend = sm.expected_spend(rfm)
            out["clv"] = customer_lifetime_value(
                tm, rfm, spend, int(horizon_months), monthly, self.time_unit
            )
        return out


def _params_closed(tm, sm) -> pd.DataFrame:
    rows = [("transactions", tm), ("spend", sm)]
    return pd.DataFrame(
        [
            {"model": label, "parameter": k, "mean": v, "low": np.nan, "high": np.nan}
            for label, m in rows
            if m is not None
            for k, v in m.params_.items()
        ]
    )


def holdout_by_frequency(
    rfm_holdout: pd.DataFrame, model: CLVModel, max_frequency: int = 7
) -> pd.DataFrame:
    """Classic calibration/holdout check: mean predicted vs actual holdout purchases by
    calibration frequency (``max_frequency`` and above pooled).

    ``rfm_holdout`` is :func:`cjlab.features.btyd.rfm_summary` with ``calibration_end`` (it has
    ``test_frequency`` and ``test_T``).
    """
    for c in ("test_frequency", "test_T"):
        if c not in rfm_holdout.columns:
            raise CLVError(f"rfm_holdout: missing {c}; call rfm_summary with calibration_end")
    pred = model.predict(
        rfm_holdout.assign(monetary_value=rfm_holdout.get("monetary_value", 0.0)),
        purchases_horizon=float(rfm_holdout["test_T"].iloc[0]),
    )
    df = pd.DataFrame(
        {
            "frequency": rfm_holdout["frequency"].clip(upper=max_frequency).astype(int),
            "actual": rfm_holdout["test_frequency"].to_numpy(),
            "predicted": pred["expected_purchases"].to_numpy(),
        }
    )
    out = (
        df.groupby("frequency")
        .agg(
            customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
        )
        .reset_index()
    )
    out["frequency_label"] = [f"{f}+" if f == max_frequency else str(f) for f in out["frequency"]]
    return out
