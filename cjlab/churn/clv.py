"""Probability alive and customer lifetime value with PyMC-Marketing (wrapped, not re-implemented).

:class:`CLVModel` fits a transaction model — BG/NBD (:class:`pymc_marketing.clv.BetaGeoModel`)
or Pareto/NBD (:class:`pymc_marketing.clv.ParetoNBDModel`) — on an RFM summary
(:func:`cjlab.features.btyd.rfm_summary`) and a Gamma-Gamma spend model
(:class:`pymc_marketing.clv.GammaGammaModel`) on the repeat buyers, by maximum a posteriori
(``method="map"``, fast) or full MCMC with nutpie (``method="mcmc"``, intervals).

After fitting, ``check_`` holds the diagnostics of :mod:`cjlab.churn.diagnostics` (repeat
buyers, is dropout identified, did the fit converge): a model with problems is unreliable, and
reports say so instead of presenting its CLV.

Prediction runs in chunks of customers and keeps only summaries (mean and interval per
customer), never chain × draw × customer arrays for the whole base.

PyMC-Marketing 1.3 notes (see DESIGN.md): the fitting keyword is ``method`` (``fit_method="map"``
silently runs NUTS), and ``BetaGeoModel.expected_probability_no_purchase`` is wrong for
customers with frequency 0 — it is not used here; probability alive comes from
``expected_probability_alive``, which the tests check against the closed form and a simulation.

Examples
--------
>>> import pandas as pd
>>> from cjlab.churn.clv import CLVModel
>>> m = CLVModel(method="map")  # doctest: +SKIP
>>> m.fit(rfm)                   # doctest: +SKIP
>>> m.predict(rfm, horizon_months=12, annual_discount_rate=0.1)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from cjlab.churn.diagnostics import PurchaseModelCheck, check_purchase_model

__all__ = ["CLVError", "CLVModel", "holdout_by_frequency"]

TRANSACTION_MODELS = ("bgnbd", "pareto")
METHODS = ("map", "mcmc")


class CLVError(ValueError):
    """Bad input to the CLV models."""


def _flat(names: tuple[str, ...]) -> dict[str, Any]:
    from pymc_extras.prior import Prior

    return {n: Prior("HalfFlat") for n in names}


def _quiet():
    """Silence PyMC's progress/INFO logging and the T=0 warning inside a block."""

    class _Q:
        def __enter__(self):
            self._lv = {
                n: logging.getLogger(n).level for n in ("pymc", "pymc_marketing", "pytensor")
            }
            for n in self._lv:
                logging.getLogger(n).setLevel(logging.ERROR)
            self._w = warnings.catch_warnings()
            self._w.__enter__()
            warnings.filterwarnings("ignore", message="T=0 is uninformative")
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="pymc.*")
            return self

        def __exit__(self, *exc):
            self._w.__exit__(*exc)
            for n, lv in self._lv.items():
                logging.getLogger(n).setLevel(lv)
            return False

    return _Q()


class CLVModel:
    """BG/NBD or Pareto/NBD + Gamma-Gamma, fitted by MAP or MCMC (nutpie).

    Parameters
    ----------
    model : ``"bgnbd"`` (default) or ``"pareto"``.
    method : ``"map"`` (point estimate) or ``"mcmc"`` (posterior draws, intervals).
    priors : ``"flat"`` (HalfFlat on every parameter: MAP = maximum likelihood, the published
        Fader–Hardie estimates) or ``"default"`` (PyMC-Marketing's weakly informative priors);
        default: flat for MAP, PyMC-Marketing's for MCMC.
    draws, tune, chains : MCMC settings (nutpie sampler).
    time_unit : unit of recency/T in the RFM summary (``"W"`` by default, as
        :func:`cjlab.features.btyd.rfm_summary`); used to turn months into periods for CLV.
    random_state : seed of the sampler.

    Attributes
    ----------
    transaction_model_, spend_model_ : fitted PyMC-Marketing models.
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

    # ------------------------------------------------------------------ fitting
    def _fit_one(self, m, data: pd.DataFrame):
        with _quiet():
            if self.method == "map":
                m.fit(data, method="map", progressbar=False)
            else:
                m.fit(
                    data,
                    method="mcmc",
                    nuts_sampler="nutpie",
                    draws=self.draws,
                    tune=self.tune,
                    chains=self.chains,
                    random_seed=self.random_state,
                    progressbar=False,
                )
        return m

    def fit(self, rfm: pd.DataFrame, fit_spend: bool = True) -> CLVModel:
        """Fit the transaction model on all customers and Gamma-Gamma on repeat buyers.

        Parameters
        ----------
        rfm : output of :func:`cjlab.features.btyd.rfm_summary` (``customer_id, frequency, recency, T``
            and ``monetary_value`` for the spend model).
        fit_spend : also fit Gamma-Gamma (needs ``monetary_value``).
        """
        from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel

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
        priors = self.priors or ("flat" if self.method == "map" else "default")
        data = rfm[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
        if self.model == "bgnbd":
            cfg = _flat(("r", "alpha", "a", "b")) if priors == "flat" else None
            tm = BetaGeoModel(model_config=cfg)
        else:
            cfg = _flat(("r", "alpha", "s", "beta")) if priors == "flat" else None
            tm = ParetoNBDModel(model_config=cfg)
        self.transaction_model_ = self._fit_one(tm, data)
        self.spend_model_ = None
        if fit_spend:
            rep = rfm.loc[
                (rfm["frequency"] > 0) & (rfm["monetary_value"] > 0),
                ["customer_id", "frequency", "monetary_value"],
            ].reset_index(drop=True)
            if len(rep) < 10:
                raise CLVError(
                    "rfm: fewer than 10 repeat buyers with positive spend for Gamma-Gamma"
                )
            cfg = _flat(("p", "q", "v")) if priors == "flat" else None
            self.spend_model_ = self._fit_one(GammaGammaModel(model_config=cfg), rep)
        self.params_ = self._params()
        self.check_ = self._check(data)
        return self

    def _check(self, data: pd.DataFrame) -> PurchaseModelCheck:
        names = ("r", "alpha", "a", "b") if self.model == "bgnbd" else ("r", "alpha", "s", "beta")
        alive = None
        if self.model == "pareto":
            with _quiet():
                da = self.transaction_model_.expected_probability_alive(data)
            alive = np.asarray(da.transpose(..., "customer_id")).reshape(-1, len(data)).mean(axis=0)
        return check_purchase_model(data, self.model, {n: self.param(n) for n in names}, alive)

    def _params(self) -> pd.DataFrame:
        rows = []
        for label, m, names in (
            (
                "transactions",
                self.transaction_model_,
                ("r", "alpha", "a", "b") if self.model == "bgnbd" else ("r", "alpha", "s", "beta"),
            ),
            ("spend", self.spend_model_, ("p", "q", "v")),
        ):
            if m is None:
                continue
            post = m.fit_result
            for n in names:
                v = post[n].to_numpy().ravel()
                lo, hi = np.quantile(v, [0.03, 0.97]) if v.size > 1 else (np.nan, np.nan)
                rows.append(
                    {
                        "model": label,
                        "parameter": n,
                        "mean": float(v.mean()),
                        "low": float(lo),
                        "high": float(hi),
                    }
                )
        return pd.DataFrame(rows)

    def param(self, name: str) -> float:
        """Posterior mean (or MAP value) of a parameter by name."""
        return float(self.params_.set_index("parameter").loc[name, "mean"])

    # ------------------------------------------------------------------ prediction
    def _months_to_periods(self, months: float) -> float:
        per_month = {"W": 30.4375 / 7, "D": 30.4375, "M": 1.0, "h": 30.4375 * 24}
        if self.time_unit not in per_month:
            raise CLVError(f"time_unit must be one of {sorted(per_month)}")
        return months * per_month[self.time_unit]

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
        horizon_months : CLV horizon in months (PyMC-Marketing's ``future_t``).
        annual_discount_rate : yearly discount rate (converted to the monthly rate
            PyMC-Marketing uses).
        purchases_horizon : horizon of ``expected_purchases`` in ``time_unit`` periods
            (default: the CLV horizon).
        chunk_size : customers per prediction chunk.
        level : width of the per-customer intervals (MCMC only).

        Returns
        -------
        DataFrame ``customer_id, p_alive[, _low, _high], expected_purchases[...], expected_spend,
        clv[, clv_low, clv_high]``.
        """
        if not hasattr(self, "transaction_model_"):
            raise CLVError("fit the model first")
        if annual_discount_rate < 0 or horizon_months <= 0:
            raise CLVError("horizon_months must be positive and annual_discount_rate >= 0")
        monthly = (1 + annual_discount_rate) ** (1 / 12) - 1
        t = (
            purchases_horizon
            if purchases_horizon is not None
            else self._months_to_periods(horizon_months)
        )
        a = (1 - level) / 2
        tm, sm = self.transaction_model_, self.spend_model_
        outs = []
        cols = ["customer_id", "frequency", "recency", "T"]
        for start in range(0, len(rfm), chunk_size):
            ch = rfm.iloc[start : start + chunk_size].reset_index(drop=True)
            part = {"customer_id": ch["customer_id"].to_numpy()}
            with _quiet():
                res = {
                    "p_alive": tm.expected_probability_alive(ch[cols]),
                    "expected_purchases": tm.expected_purchases(ch[cols], future_t=t),
                }
                if sm is not None and "monetary_value" in ch.columns:
                    spend_in = ch[["customer_id", "frequency", "monetary_value"]]
                    res["expected_spend"] = sm.expected_customer_spend(spend_in)
                    res["clv"] = sm.expected_customer_lifetime_value(
                        tm,
                        ch[[*cols, "monetary_value"]],
                        future_t=int(horizon_months),
                        discount_rate=monthly,
                        time_unit=self.time_unit,
                    )
            for name, da in res.items():
                da = da.transpose(..., "customer_id")
                arr = np.asarray(da).reshape(-1, len(ch))
                part[name] = arr.mean(axis=0)
                if arr.shape[0] > 1 and name != "expected_spend":
                    part[f"{name}_low"] = np.quantile(arr, a, axis=0)
                    part[f"{name}_high"] = np.quantile(arr, 1 - a, axis=0)
            outs.append(pd.DataFrame(part))
        return pd.concat(outs, ignore_index=True)


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
