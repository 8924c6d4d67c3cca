"""The PyMC-Marketing engine of :class:`cjlab.churn.clv.CLVModel`: full Bayesian fits.

Used for ``method="mcmc"`` (posterior draws with nutpie, intervals per customer) and for MAP
with PyMC-Marketing's default priors; the default MAP with flat priors is the closed form of
:mod:`cjlab.churn.bgnbd` / :mod:`~cjlab.churn.pareto_nbd` / :mod:`~cjlab.churn.gamma_gamma`
and never imports PyMC. This module imports PyMC-Marketing only inside its functions.

PyMC-Marketing 1.3 notes (see DESIGN.md): the fitting keyword is ``method`` (``fit_method="map"``
silently runs NUTS), and ``BetaGeoModel.expected_probability_no_purchase`` is wrong for
customers with frequency 0 — it is not used here. Prediction runs in chunks of customers and
keeps only summaries (mean and interval per customer), never chain × draw × customer arrays.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fit_pymc", "params_pymc", "predict_pymc", "quiet"]

NAMES = {"bgnbd": ("r", "alpha", "a", "b"), "pareto": ("r", "alpha", "s", "beta")}


def _flat(names: tuple[str, ...]) -> dict[str, Any]:
    from pymc_extras.prior import Prior

    return {n: Prior("HalfFlat") for n in names}


def quiet():
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


def _fit_one(
    m, data: pd.DataFrame, method: str, draws: int, tune: int, chains: int, random_state: int
):
    with quiet():
        if method == "map":
            m.fit(data, method="map", progressbar=False)
        else:
            m.fit(
                data,
                method="mcmc",
                nuts_sampler="nutpie",
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=random_state,
                progressbar=False,
            )
    return m


def fit_pymc(
    model: str,
    method: str,
    priors: str,
    data: pd.DataFrame,
    spend: pd.DataFrame | None,
    draws: int,
    tune: int,
    chains: int,
    random_state: int,
) -> tuple[Any, Any]:
    """Fitted PyMC-Marketing transaction (and spend) models."""
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel

    cls = BetaGeoModel if model == "bgnbd" else ParetoNBDModel
    cfg = _flat(NAMES[model]) if priors == "flat" else None
    kw = {
        "method": method,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "random_state": random_state,
    }
    tm = _fit_one(cls(model_config=cfg), data, **kw)
    sm = None
    if spend is not None:
        cfg = _flat(("p", "q", "v")) if priors == "flat" else None
        sm = _fit_one(GammaGammaModel(model_config=cfg), spend, **kw)
    return tm, sm


def params_pymc(model: str, tm: Any, sm: Any) -> pd.DataFrame:
    """Posterior mean and 94 % interval (or MAP value) of every parameter."""
    rows = []
    for label, m, names in (("transactions", tm, NAMES[model]), ("spend", sm, ("p", "q", "v"))):
        if m is None:
            continue
        for n in names:
            v = m.fit_result[n].to_numpy().ravel()
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


def p_alive_pymc(tm: Any, data: pd.DataFrame) -> np.ndarray:
    """Posterior-mean P(alive) per customer."""
    with quiet():
        da = tm.expected_probability_alive(data)
    return np.asarray(da.transpose(..., "customer_id")).reshape(-1, len(data)).mean(axis=0)


def predict_pymc(
    tm: Any,
    sm: Any,
    rfm: pd.DataFrame,
    t: float,
    horizon_months: int,
    monthly: float,
    time_unit: str,
    chunk_size: int,
    level: float,
) -> pd.DataFrame:
    """Chunked predictions with per-customer intervals (see ``CLVModel.predict``)."""
    a = (1 - level) / 2
    outs = []
    cols = ["customer_id", "frequency", "recency", "T"]
    for start in range(0, len(rfm), chunk_size):
        ch = rfm.iloc[start : start + chunk_size].reset_index(drop=True)
        part = {"customer_id": ch["customer_id"].to_numpy()}
        with quiet():
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
                    time_unit=time_unit,
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
