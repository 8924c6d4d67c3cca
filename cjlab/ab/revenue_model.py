"""Two-part PyMC model of revenue per user: conversion times log-normal spend.

The parametric companion of :func:`cjlab.ab.revenue.compare_revenue` (which needs no model
for the spend): agreement of the two is a check that the spend model fits.

Examples
--------
>>> from cjlab.ab.revenue_model import RevenueModel
>>> m = RevenueModel(sampler_config={"draws": 200, "tune": 200}, random_state=1)
>>> sorted(m.model_config)
['mu_sigma', 'p_alpha', 'p_beta', 'sigma_sigma']
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from cjlab.ab._pymc import PyMCModel, import_pymc, mcse
from cjlab.ab.conversions import ABInputError, pick_control
from cjlab.ab.revenue import check_revenue


class RevenueModel(PyMCModel):
    """Two-part Bayesian model of revenue per user.

    ``converted_v ~ Binomial(n_v, p_v)``, ``p_v ~ Beta(p_alpha, p_beta)``;
    ``log(spend) | converted ~ Normal(mu_v, sigma_v)``, ``mu_v ~ Normal(log median spend,
    mu_sigma)``, ``sigma_v ~ HalfNormal(sigma_sigma)``; revenue per user
    ``= p_v exp(mu_v + sigma_v^2 / 2)``.

    Parameters
    ----------
    model_config : priors: ``p_alpha``, ``p_beta`` (1, 1), ``mu_sigma`` (2), ``sigma_sigma`` (1).
    sampler_config : ``pymc.sample`` settings (draws, tune, chains, nuts_sampler, ...).
    level : credible-interval mass.
    random_state : seed of the sampler.

    Attributes
    ----------
    summary_ : DataFrame per variant: users, converters, revenue_per_user (posterior mean) with
        interval, uplift (relative) with interval, chance_to_beat_control and its MC standard
        error, conversion rate and mean spend among converters.
    idata_ : the ArviZ InferenceData.
    """

    default_model_config: ClassVar[dict[str, float]] = {
        "p_alpha": 1.0,
        "p_beta": 1.0,
        "mu_sigma": 2.0,
        "sigma_sigma": 1.0,
    }

    def fit(
        self,
        df: pd.DataFrame,
        control: str | None = None,
        variant: str = "variant",
        revenue: str = "revenue",
    ) -> RevenueModel:
        """Fit on one row per unit with its revenue (zeros included)."""
        pm = import_pymc()
        d = check_revenue(df, variant, revenue)
        variants = list(dict.fromkeys(d["variant"]))
        ctrl = pick_control(variants, control)
        idx = {v: i for i, v in enumerate(variants)}
        users = d.groupby("variant", sort=False).size().reindex(variants).to_numpy()
        paying = d[d["revenue"] > 0]
        conv = (
            paying.groupby("variant", sort=False).size().reindex(variants, fill_value=0).to_numpy()
        )
        if (conv < 2).any():
            raise ABInputError(
                "each variant needs at least two converters (revenue > 0) for the "
                f"spend model; converters per variant: {dict(zip(variants, conv.tolist()))}"
            )
        log_spend = np.log(paying["revenue"].to_numpy())
        vi = paying["variant"].map(idx).to_numpy()
        cfg = self.model_config
        with pm.Model(coords={"variant": variants}) as model:
            p = pm.Beta("p", cfg["p_alpha"], cfg["p_beta"], dims="variant")
            pm.Binomial("conversions", n=users, p=p, observed=conv, dims="variant")
            mu = pm.Normal("mu", float(np.median(log_spend)), cfg["mu_sigma"], dims="variant")
            sigma = pm.HalfNormal("sigma", cfg["sigma_sigma"], dims="variant")
            pm.Normal("log_spend", mu[vi], sigma[vi], observed=log_spend)
            pm.Deterministic("spend_mean", pm.math.exp(mu + sigma**2 / 2), dims="variant")
            pm.Deterministic("rpu", p * pm.math.exp(mu + sigma**2 / 2), dims="variant")
            self.idata_ = self._sample()
        self.model_ = model
        self.summary_ = self._summary(variants, idx[ctrl], users, conv)
        self.summary_.attrs.update(
            control=ctrl, method="two-part PyMC model (Monte Carlo)", level=self.level
        )
        return self

    def _summary(
        self, variants: list[str], c: int, users: np.ndarray, conv: np.ndarray
    ) -> pd.DataFrame:
        post = self.idata_.posterior
        rpu = post["rpu"].stack(s=("chain", "draw")).transpose("variant", "s").to_numpy()
        lo_q, hi_q = (1 - self.level) / 2, 1 - (1 - self.level) / 2
        rows = []
        for i, v in enumerate(variants):
            ratio = rpu[i] / rpu[c] - 1
            win = (rpu[i] > rpu[c]).astype(float)
            rows.append(
                {
                    "variant": v,
                    "users": int(users[i]),
                    "converters": int(conv[i]),
                    "revenue_per_user": rpu[i].mean(),
                    "rpu_low": np.quantile(rpu[i], lo_q),
                    "rpu_high": np.quantile(rpu[i], hi_q),
                    "uplift": 0.0 if i == c else float(np.median(ratio)),
                    "uplift_low": 0.0 if i == c else float(np.quantile(ratio, lo_q)),
                    "uplift_high": 0.0 if i == c else float(np.quantile(ratio, hi_q)),
                    "chance_to_beat_control": np.nan if i == c else win.mean(),
                    "chance_to_beat_control_mcse": np.nan if i == c else mcse(win, self._chains),
                    "conversion_rate": float(post["p"].sel(variant=v).mean()),
                    "spend_per_converter": float(post["spend_mean"].sel(variant=v).mean()),
                }
            )
        return pd.DataFrame(rows)
