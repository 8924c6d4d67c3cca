"""PyMC models for A/B tests: revenue per user (two-part) and segment uplift (partial pooling).

* :class:`RevenueModel` — revenue per user with many zeros: conversion (Beta-Binomial) times
  spend among converters (log-normal), fitted with PyMC; :func:`revenue_normal_approx` is the
  fast large-sample alternative (CLT on revenue per user, flat prior).
* :class:`SegmentUpliftModel` — hierarchical logistic model: each segment's log-odds uplift
  is drawn from a common distribution, so small segments borrow strength from the others.

Posterior summaries from samples are Monte Carlo estimates; their Monte Carlo standard errors
are reported alongside (``*_mcse`` columns).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cjlab.ab.models import revenue_normal_approx
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"variant": np.repeat(["control", "B"], 2000),
...                    "revenue": rng.binomial(1, 0.1, 4000) * rng.lognormal(3, 0.5, 4000)})
>>> res = revenue_normal_approx(df)
>>> list(res.columns[:4])
['variant', 'users', 'revenue_per_user', 'rpu_low']
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pandas as pd
from scipy import special, stats

from cjlab.ab.conversions import ABInputError, pick_control


def _check_revenue(df: pd.DataFrame, variant: str, revenue: str) -> pd.DataFrame:
    for c in (variant, revenue):
        if c not in df.columns:
            raise ABInputError(f"missing column {c!r}; have {list(df.columns)}")
    if df.empty:
        raise ABInputError("no rows (empty data)")
    r = pd.to_numeric(df[revenue], errors="coerce")
    bad = r.isna() | (r < 0)
    if bad.any():
        raise ABInputError(f"column {revenue}: {int(bad.sum())} value(s) missing or negative")
    d = pd.DataFrame({"variant": df[variant].astype(str).to_numpy(), "revenue": r.to_numpy(float)})
    if d["variant"].nunique() < 2:
        raise ABInputError(f"need at least two variants, got {d['variant'].unique().tolist()}")
    return d


def _mcse(x: np.ndarray, chains: int = 1, batches: int = 10) -> float:
    """Monte Carlo standard error of the mean of MCMC draws by batch means.

    ``x`` is the flattened (chain-major) draw vector; each chain is cut into ``batches``
    consecutive batches whose means are treated as independent.
    """
    x = np.asarray(x, dtype=float).reshape(chains, -1)
    n = x.shape[1] // batches
    if n < 1:
        return float(np.std(x) / np.sqrt(x.size))
    means = x[:, : n * batches].reshape(chains, batches, n).mean(axis=2).ravel()
    return float(np.std(means, ddof=1) / np.sqrt(len(means)))


@contextlib.contextmanager
def _quiet_pymc():
    """Keep PyMC's sampler chatter ("NUTS[...]", "Sampling ...") out of reports."""
    loggers = [logging.getLogger(n) for n in ("pymc", "pymc.sampling", "pymc.sampling.mcmc")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, old):
            lg.setLevel(lvl)


def revenue_normal_approx(df: pd.DataFrame, control: str | None = None, ci: float = 0.95,
                          variant: str = "variant", revenue: str = "revenue") -> pd.DataFrame:
    """Revenue per user by the central limit theorem (flat prior): fast, good for large samples.

    Posterior of each variant's mean revenue per user is Normal(sample mean, s^2 / n); the
    difference is normal; the relative uplift interval uses the delta method.

    Returns
    -------
    DataFrame: variant, users, revenue_per_user, rpu_low, rpu_high, uplift (relative),
    uplift_low, uplift_high, abs_uplift, abs_uplift_low, abs_uplift_high, chance_to_beat_control.
    """
    d = _check_revenue(df, variant, revenue)
    variants = list(dict.fromkeys(d["variant"]))
    ctrl = pick_control(variants, control)
    g = d.groupby("variant", sort=False)["revenue"]
    n, m, v = g.size().reindex(variants), g.mean().reindex(variants), g.var(ddof=1).reindex(variants)
    se2 = v / n
    z = stats.norm.ppf(0.5 + ci / 2)
    mc, sc2 = m[ctrl], se2[ctrl]
    diff, sd = m - mc, np.sqrt(se2 + sc2)
    rel = m / mc - 1
    rel_sd = np.sqrt(se2 / mc**2 + m**2 * sc2 / mc**4)
    out = pd.DataFrame({
        "variant": variants, "users": n.to_numpy(), "revenue_per_user": m.to_numpy(),
        "rpu_low": (m - z * np.sqrt(se2)).to_numpy(), "rpu_high": (m + z * np.sqrt(se2)).to_numpy(),
        "uplift": rel.to_numpy(), "uplift_low": (rel - z * rel_sd).to_numpy(),
        "uplift_high": (rel + z * rel_sd).to_numpy(), "abs_uplift": diff.to_numpy(),
        "abs_uplift_low": (diff - z * sd).to_numpy(), "abs_uplift_high": (diff + z * sd).to_numpy(),
        "chance_to_beat_control": stats.norm.sf(0, diff, sd)})
    # expected losses of the normal posterior of D = m_v - m_c, in units of the control mean:
    # E[(-D)^+] = s phi(d/s) - d Phi(-d/s), E[D^+] = s phi(d/s) + d Phi(d/s)
    with np.errstate(divide="ignore", invalid="ignore"):
        zz = (diff / sd).to_numpy()
        s_, d_ = sd.to_numpy(), diff.to_numpy()
        ship = (s_ * stats.norm.pdf(zz) - d_ * stats.norm.cdf(-zz)) / mc
        keep = (s_ * stats.norm.pdf(zz) + d_ * stats.norm.cdf(zz)) / mc
    out["loss_vs_control_relative"] = ship
    out["control_loss_relative"] = keep
    out["chance_to_be_best"] = _normal_prob_best(m.to_numpy(), np.sqrt(se2.to_numpy()))
    is_c = out["variant"] == ctrl
    out.loc[is_c, ["uplift", "uplift_low", "uplift_high", "abs_uplift", "abs_uplift_low",
                   "abs_uplift_high", "loss_vs_control_relative", "control_loss_relative"]] = 0.0
    out.loc[is_c, "chance_to_beat_control"] = np.nan
    out["is_control"] = is_c.to_numpy()
    out.attrs.update(control=ctrl, method="normal approximation (CLT, flat prior)", ci=ci)
    return out


def _normal_prob_best(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """P(arm k has the largest mean) for independent normals: composite Gauss-Legendre of
    ``∫ phi_k(x) Π_{j≠k} Phi_j(x) dx`` on panels covering every arm (+-9 sd)."""
    lo, hi = (mean - 9 * sd).min(), (mean + 9 * sd).max()
    br = np.unique(np.concatenate([np.linspace(m - 9 * s, m + 9 * s, 19) for m, s in zip(mean, sd)]
                                  + [[lo, hi]]))
    t, w = np.polynomial.legendre.leggauss(16)
    half, mid = np.diff(br) / 2, (br[:-1] + br[1:]) / 2
    x = (mid[:, None] + half[:, None] * t).ravel()
    wx = (half[:, None] * w).ravel()
    pdf = stats.norm.pdf(x, mean[:, None], sd[:, None])
    log_cdf = stats.norm.logcdf(x, mean[:, None], sd[:, None])
    dens = pdf * np.exp(log_cdf.sum(axis=0) - log_cdf)
    return np.clip(dens @ wx, 0.0, 1.0)


class RevenueModel:
    """Two-part Bayesian model of revenue per user: conversion x log-normal spend.

    ``converted_v ~ Binomial(n_v, p_v)``, ``p_v ~ Beta(1, 1)``;
    ``log(spend) | converted ~ Normal(mu_v, sigma_v)``, ``mu_v ~ Normal(log median spend, 2)``,
    ``sigma_v ~ HalfNormal(1)``; revenue per user ``= p_v exp(mu_v + sigma_v^2 / 2)``.

    Parameters
    ----------
    draws, tune, chains : NUTS settings.
    ci : credible-interval mass.
    random_seed : seed.
    nuts_sampler : ``"pymc"`` (default; its compiled C code is cached on disk, so repeated
        runs start fast) or ``"nutpie"``.

    Attributes
    ----------
    summary_ : DataFrame per variant: users, converters, revenue_per_user (posterior mean) with
        interval, uplift (relative) with interval, chance_to_beat_control and its MC standard
        error, conversion rate and mean spend among converters.
    idata_ : the ArviZ InferenceData.
    """

    def __init__(self, draws: int = 500, tune: int = 500, chains: int = 2, ci: float = 0.95,
                 random_seed: int = 0, nuts_sampler: str = "pymc") -> None:
        self.draws, self.tune, self.chains, self.ci, self.random_seed = draws, tune, chains, ci, random_seed
        self.nuts_sampler = nuts_sampler

    def fit(self, df: pd.DataFrame, control: str | None = None, variant: str = "variant",
            revenue: str = "revenue") -> RevenueModel:
        import pymc as pm

        d = _check_revenue(df, variant, revenue)
        variants = list(dict.fromkeys(d["variant"]))
        ctrl = pick_control(variants, control)
        idx = {v: i for i, v in enumerate(variants)}
        users = d.groupby("variant", sort=False).size().reindex(variants).to_numpy()
        conv_rows = d[d["revenue"] > 0]
        conv = conv_rows.groupby("variant", sort=False).size().reindex(variants, fill_value=0).to_numpy()
        if (conv < 2).any():
            raise ABInputError("each variant needs at least two converters (revenue > 0) for the "
                               f"spend model; converters per variant: {dict(zip(variants, conv.tolist()))}")
        log_spend = np.log(conv_rows["revenue"].to_numpy())
        vi = conv_rows["variant"].map(idx).to_numpy()
        with pm.Model(coords={"variant": variants}) as model:
            p = pm.Beta("p", 1.0, 1.0, dims="variant")
            pm.Binomial("conversions", n=users, p=p, observed=conv, dims="variant")
            mu = pm.Normal("mu", float(np.median(log_spend)), 2.0, dims="variant")
            sigma = pm.HalfNormal("sigma", 1.0, dims="variant")
            pm.Normal("log_spend", mu[vi], sigma[vi], observed=log_spend)
            pm.Deterministic("spend_mean", pm.math.exp(mu + sigma**2 / 2), dims="variant")
            pm.Deterministic("rpu", p * pm.math.exp(mu + sigma**2 / 2), dims="variant")
            with _quiet_pymc():
                self.idata_ = pm.sample(draws=self.draws, tune=self.tune, chains=self.chains,
                                        cores=1, random_seed=self.random_seed, progressbar=False,
                                        nuts_sampler=self.nuts_sampler,
                                        compute_convergence_checks=False)
        self.model_ = model
        post = self.idata_.posterior
        rpu = post["rpu"].stack(s=("chain", "draw")).transpose("variant", "s").to_numpy()
        lo_q, hi_q = (1 - self.ci) / 2, 1 - (1 - self.ci) / 2
        c = idx[ctrl]
        rows = []
        for v, i in idx.items():
            ratio = rpu[i] / rpu[c] - 1
            win = (rpu[i] > rpu[c]).astype(float)
            rows.append({
                "variant": v, "users": int(users[i]), "converters": int(conv[i]),
                "revenue_per_user": rpu[i].mean(), "rpu_low": np.quantile(rpu[i], lo_q),
                "rpu_high": np.quantile(rpu[i], hi_q),
                "uplift": 0.0 if i == c else float(np.median(ratio)),
                "uplift_low": 0.0 if i == c else float(np.quantile(ratio, lo_q)),
                "uplift_high": 0.0 if i == c else float(np.quantile(ratio, hi_q)),
                "chance_to_beat_control": np.nan if i == c else win.mean(),
                "chance_to_beat_control_mcse": np.nan if i == c else _mcse(win, self.chains),
                "conversion_rate": float(post["p"].sel(variant=v).mean()),
                "spend_per_converter": float(post["spend_mean"].sel(variant=v).mean()),
            })
        self.summary_ = pd.DataFrame(rows)
        self.summary_.attrs.update(control=ctrl, method="two-part PyMC model (Monte Carlo)", ci=self.ci)
        return self


class SegmentUpliftModel:
    """Hierarchical (partially pooled) uplift per segment for one variant against the control.

    ``logit p_{s,control} = a_s``, ``logit p_{s,variant} = a_s + d_s``,
    ``d_s = d_0 + tau z_s`` with ``z_s ~ N(0, 1)`` (non-centred), ``d_0 ~ N(0, 0.5)``,
    ``tau ~ HalfNormal(tau_scale)``, ``a_s ~ N(logit(overall rate), 1.5)``.

    Parameters
    ----------
    tau_scale : prior scale of the between-segment spread of log-odds uplifts.
    draws, tune, chains, ci, random_seed, nuts_sampler : sampler settings.

    Attributes
    ----------
    summary_ : per segment (plus a ``(pooled)`` row for the typical segment): users and
        conversions per arm, observed rates, relative uplift (posterior median and interval),
        chance_to_beat_control (with MC standard error).
    idata_ : InferenceData.
    """

    def __init__(self, tau_scale: float = 0.3, draws: int = 500, tune: int = 500, chains: int = 2,
                 ci: float = 0.95, random_seed: int = 0, nuts_sampler: str = "pymc") -> None:
        self.tau_scale, self.draws, self.tune, self.chains = tau_scale, draws, tune, chains
        self.ci, self.random_seed, self.nuts_sampler = ci, random_seed, nuts_sampler

    def fit(self, df: pd.DataFrame, variant_name: str, control: str | None = None,
            segment: str = "segment") -> SegmentUpliftModel:
        """Fit on raw exposures (variant, segment, converted) or counts (segment, variant, users,
        conversions)."""
        import pymc as pm

        if segment not in df.columns:
            raise ABInputError(f"missing segment column {segment!r}; have {list(df.columns)}")
        if {"users", "conversions"} <= set(df.columns):
            agg = df.groupby([segment, "variant"])[["users", "conversions"]].sum()
        else:
            for c in ("variant", "converted"):
                if c not in df.columns:
                    raise ABInputError(f"missing column {c!r}")
            agg = df.groupby([segment, "variant"])["converted"].agg(users="size", conversions="sum")
        agg = agg.reset_index()
        agg["variant"] = agg["variant"].astype(str)
        variants = list(dict.fromkeys(agg["variant"]))
        ctrl = pick_control(variants, control)
        if variant_name not in variants or variant_name == ctrl:
            raise ABInputError(f"variant {variant_name!r} must be a non-control variant; have {variants}")
        agg = agg[agg["variant"].isin([ctrl, variant_name])]
        wide = agg.pivot(index=segment, columns="variant", values=["users", "conversions"]).fillna(0)
        segs = [str(s) for s in wide.index]
        if len(segs) < 2:
            raise ABInputError(f"need at least two segments, got {segs}")
        n_c, n_v = wide["users"][ctrl].to_numpy(int), wide["users"][variant_name].to_numpy(int)
        k_c, k_v = wide["conversions"][ctrl].to_numpy(int), wide["conversions"][variant_name].to_numpy(int)
        overall = (k_c.sum() + k_v.sum() + 1) / (n_c.sum() + n_v.sum() + 2)
        with pm.Model(coords={"segment": segs}) as model:
            a = pm.Normal("a", float(special.logit(overall)), 1.5, dims="segment")
            d0 = pm.Normal("d0", 0.0, 0.5)
            tau = pm.HalfNormal("tau", self.tau_scale)
            z = pm.Normal("z", 0.0, 1.0, dims="segment")
            d = pm.Deterministic("d", d0 + tau * z, dims="segment")
            p_c = pm.Deterministic("p_control", pm.math.invlogit(a), dims="segment")
            p_v = pm.Deterministic("p_variant", pm.math.invlogit(a + d), dims="segment")
            pm.Binomial("y_c", n=n_c, p=p_c, observed=k_c, dims="segment")
            pm.Binomial("y_v", n=n_v, p=p_v, observed=k_v, dims="segment")
            with _quiet_pymc():
                self.idata_ = pm.sample(draws=self.draws, tune=self.tune, chains=self.chains,
                                        cores=1, random_seed=self.random_seed, progressbar=False,
                                        target_accept=0.9, nuts_sampler=self.nuts_sampler,
                                        compute_convergence_checks=False)
        self.model_ = model
        post = self.idata_.posterior
        pc = post["p_control"].stack(s=("chain", "draw")).transpose("segment", "s").to_numpy()
        pv = post["p_variant"].stack(s=("chain", "draw")).transpose("segment", "s").to_numpy()
        lo_q, hi_q = (1 - self.ci) / 2, 1 - (1 - self.ci) / 2
        rows = []
        for i, s in enumerate(segs):
            lift = pv[i] / pc[i] - 1
            win = (lift > 0).astype(float)
            rows.append({"segment": s, "users_control": n_c[i], "users_variant": n_v[i],
                         "rate_control": k_c[i] / max(n_c[i], 1), "rate_variant": k_v[i] / max(n_v[i], 1),
                         "uplift": float(np.median(lift)), "uplift_low": float(np.quantile(lift, lo_q)),
                         "uplift_high": float(np.quantile(lift, hi_q)),
                         "chance_to_beat_control": win.mean(),
                         "chance_to_beat_control_mcse": _mcse(win, self.chains)})
        # typical segment: the pooled log-odds uplift at the average baseline
        d0s = post["d0"].stack(s=("chain", "draw")).to_numpy()
        a_bar = post["a"].mean("segment").stack(s=("chain", "draw")).to_numpy()
        lift0 = special.expit(a_bar + d0s) / special.expit(a_bar) - 1
        win0 = (d0s > 0).astype(float)
        rows.append({"segment": "(pooled)", "users_control": int(n_c.sum()), "users_variant": int(n_v.sum()),
                     "rate_control": k_c.sum() / max(n_c.sum(), 1), "rate_variant": k_v.sum() / max(n_v.sum(), 1),
                     "uplift": float(np.median(lift0)), "uplift_low": float(np.quantile(lift0, lo_q)),
                     "uplift_high": float(np.quantile(lift0, hi_q)),
                     "chance_to_beat_control": win0.mean(),
                     "chance_to_beat_control_mcse": _mcse(win0, self.chains)})
        self.summary_ = pd.DataFrame(rows)
        self.summary_.attrs.update(control=ctrl, variant=variant_name, segment=segment, ci=self.ci)
        self.variant_, self.control_ = variant_name, ctrl
        return self
