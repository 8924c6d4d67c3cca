"""Revenue per user in A/B tests: a two-part Bayesian bootstrap, and the normal approximation.

Most users spend nothing, so revenue per user is zero-inflated and very skewed. Its mean is
``p x m``: the share of paying users times the mean spend of a paying user. The normal (CLT)
interval for it — and, worse, for the ratio of two of them — is symmetric where the truth is
not: on the Hillstrom e-mail test it lies too low at both ends.

:func:`compare_revenue` uses the **two-part Bayesian bootstrap**. Rubin's Bayesian bootstrap of
the mean over all ``n`` users (Dirichlet(1, ..., 1) weights) splits exactly into two
independent parts: the total weight on the ``k`` paying users, ``Beta(k, n - k)``, and a
Dirichlet(1, ..., 1) mean over their spends. So the draws cost ``O(k)``, not ``O(n)``, and
the conversion part takes the same Beta prior as the conversion analysis
(``Beta(a + k, b + n - k)``). Every decision metric (uplift and its interval, chance to beat
the control, chance to be best, expected loss against the best arm) comes from the same
draws; Monte Carlo standard errors are reported (``*_mcse``).

:func:`revenue_normal_approx` is the fast large-sample alternative (CLT, flat prior), kept
for comparison in the analysts' section.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cjlab.ab.revenue import compare_revenue
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"variant": np.repeat(["control", "B"], 2000),
...                    "revenue": rng.binomial(1, 0.1, 4000) * rng.lognormal(3, 0.5, 4000)})
>>> res = compare_revenue(df, n_draws=2000)
>>> list(res.columns[:5])
['variant', 'users', 'converters', 'conversion_rate', 'spend_per_converter']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cjlab.ab.conversions import ABInputError, as_prior, pick_control

#: Largest number of exponential draws held in memory at once (per chunk).
CHUNK = 2_000_000


def check_revenue(
    df: pd.DataFrame, variant: str = "variant", revenue: str = "revenue"
) -> pd.DataFrame:
    """Per-unit revenue, checked: columns variant (text) and revenue (>= 0, no gaps)."""
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


def bootstrap_mean(values: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of the Bayesian-bootstrap mean of ``values`` (Dirichlet(1, ..., 1) weights)."""
    k = len(values)
    out = np.empty(n_draws)
    step = max(1, CHUNK // max(k, 1))
    for start in range(0, n_draws, step):
        g = rng.standard_exponential((min(step, n_draws - start), k))
        out[start : start + len(g)] = (g @ values) / g.sum(axis=1)
    return out


def revenue_draws(
    groups: dict[str, np.ndarray],
    prior="uniform",
    n_draws: int = 4000,
    random_state: int | None = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Posterior draws of revenue per user per variant (K x n_draws) and per-arm counts.

    ``groups`` maps each variant to the revenue of each of its users (zeros included).
    """
    pr = as_prior(prior)
    rng = np.random.default_rng(random_state)
    rows, draws = [], []
    for v, y in groups.items():
        y = np.asarray(y, dtype=float)
        spend = y[y > 0]
        n, k = len(y), len(spend)
        if k < 2:
            raise ABInputError(
                f"variant {v!r} has {k} paying user(s); revenue per user needs at "
                "least two in every variant"
            )
        p = rng.beta(pr.a + k, pr.b + n - k, n_draws)
        draws.append(p * bootstrap_mean(spend, n_draws, rng))
        rows.append(
            {
                "variant": v,
                "users": n,
                "converters": k,
                "conversion_rate": k / n,
                "spend_per_converter": spend.mean(),
                "revenue_per_user": y.mean(),
            }
        )
    return np.vstack(draws), pd.DataFrame(rows)


def summarise_draws(draws: np.ndarray, c: int, level: float = 0.95) -> dict[str, np.ndarray]:
    """Decision metrics of K arms from posterior draws of their values (K x S), control ``c``.

    Same definitions as the exact conversion metrics: uplift = median of ``x_k / x_c - 1``,
    expected loss = ``E[(max_j x_j - x_k) / x_c]`` (against the best arm).
    """
    s = draws.shape[1]
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    ratio = draws / draws[c] - 1.0
    diff = draws - draws[c]
    best = draws.max(axis=0)
    win = draws > draws[c]
    is_best = draws == best
    out = {
        "rpu_low": np.quantile(draws, lo_q, axis=1),
        "rpu_high": np.quantile(draws, hi_q, axis=1),
        "uplift": np.median(ratio, axis=1),
        "uplift_low": np.quantile(ratio, lo_q, axis=1),
        "uplift_high": np.quantile(ratio, hi_q, axis=1),
        "abs_uplift": np.median(diff, axis=1),
        "abs_uplift_low": np.quantile(diff, lo_q, axis=1),
        "abs_uplift_high": np.quantile(diff, hi_q, axis=1),
        "chance_to_beat_control": win.mean(axis=1),
        "chance_to_be_best": is_best.mean(axis=1),
        "expected_loss_relative": ((best - draws) / draws[c]).mean(axis=1),
    }
    p = out["chance_to_beat_control"]
    out["chance_to_beat_control_mcse"] = np.sqrt(p * (1 - p) / s)
    for name in (
        "uplift",
        "uplift_low",
        "uplift_high",
        "abs_uplift",
        "abs_uplift_low",
        "abs_uplift_high",
        "chance_to_beat_control_mcse",
    ):
        out[name][c] = 0.0
    out["chance_to_beat_control"][c] = np.nan
    return out


def compare_revenue(
    df: pd.DataFrame,
    control: str | None = None,
    level: float = 0.95,
    prior="uniform",
    n_draws: int = 4000,
    random_state: int | None = 0,
    variant: str = "variant",
    revenue: str = "revenue",
) -> pd.DataFrame:
    """Revenue per user of every variant by the two-part Bayesian bootstrap.

    Parameters
    ----------
    df : one row per unit with its total revenue (zeros included), e.g.
        :func:`cjlab.features.experiments.experiment_units`.
    control : control variant (see :func:`cjlab.ab.conversions.pick_control`).
    level : credible-interval mass.
    prior : Beta prior of the paying share (as in :func:`~cjlab.ab.compare_conversions`).
    n_draws : posterior draws.
    random_state : seed of the draws.

    Returns
    -------
    DataFrame per variant: users, converters, conversion_rate, spend_per_converter,
    revenue_per_user (observed), rpu_low, rpu_high, uplift, uplift_low, uplift_high,
    abs_uplift (+ interval), chance_to_beat_control (+ ``_mcse``), chance_to_be_best,
    expected_loss_relative, is_control. ``attrs``: control, level, method, n_draws.
    """
    d = check_revenue(df, variant, revenue)
    variants = list(dict.fromkeys(d["variant"]))
    ctrl = pick_control(variants, control)
    groups = {v: d.loc[d["variant"] == v, "revenue"].to_numpy(float) for v in variants}
    draws, out = revenue_draws(groups, prior, n_draws, random_state)
    c = variants.index(ctrl)
    for name, values in summarise_draws(draws, c, level).items():
        out[name] = values
    out["is_control"] = out["variant"] == ctrl
    out.attrs.update(
        control=ctrl, level=level, n_draws=n_draws, method="two-part Bayesian bootstrap"
    )
    return out


def revenue_normal_approx(
    df: pd.DataFrame,
    control: str | None = None,
    level: float = 0.95,
    variant: str = "variant",
    revenue: str = "revenue",
) -> pd.DataFrame:
    """Revenue per user by the central limit theorem (flat prior): fast, for large samples.

    Posterior of each variant's mean revenue per user is Normal(sample mean, s^2 / n); the
    difference is normal; the relative uplift interval uses the delta method (symmetric,
    hence too low at both ends for skewed revenue: see the module docstring).

    Returns
    -------
    DataFrame: variant, users, revenue_per_user, rpu_low, rpu_high, uplift (relative),
    uplift_low, uplift_high, abs_uplift, abs_uplift_low, abs_uplift_high,
    chance_to_beat_control, loss_vs_control_relative, control_loss_relative,
    chance_to_be_best, expected_loss_relative, is_control.
    """
    d = check_revenue(df, variant, revenue)
    variants = list(dict.fromkeys(d["variant"]))
    ctrl = pick_control(variants, control)
    g = d.groupby("variant", sort=False)["revenue"]
    n, m, v = (
        g.size().reindex(variants),
        g.mean().reindex(variants),
        g.var(ddof=1).reindex(variants),
    )
    se2 = v / n
    z = stats.norm.ppf(0.5 + level / 2)
    mc, sc2 = m[ctrl], se2[ctrl]
    diff, sd = m - mc, np.sqrt(se2 + sc2)
    rel = m / mc - 1
    rel_sd = np.sqrt(se2 / mc**2 + m**2 * sc2 / mc**4)
    out = pd.DataFrame(
        {
            "variant": variants,
            "users": n.to_numpy(),
            "revenue_per_user": m.to_numpy(),
            "rpu_low": (m - z * np.sqrt(se2)).to_numpy(),
            "rpu_high": (m + z * np.sqrt(se2)).to_numpy(),
            "uplift": rel.to_numpy(),
            "uplift_low": (rel - z * rel_sd).to_numpy(),
            "uplift_high": (rel + z * rel_sd).to_numpy(),
            "abs_uplift": diff.to_numpy(),
            "abs_uplift_low": (diff - z * sd).to_numpy(),
            "abs_uplift_high": (diff + z * sd).to_numpy(),
            "chance_to_beat_control": stats.norm.sf(0, diff, sd),
        }
    )
    ship, keep = _normal_losses(diff.to_numpy(), sd.to_numpy())
    out["loss_vs_control_relative"] = ship / mc
    out["control_loss_relative"] = keep / mc
    p_best, e_max = _normal_best(m.to_numpy(), np.sqrt(se2.to_numpy()))
    out["chance_to_be_best"] = p_best
    out["expected_loss_relative"] = np.maximum(e_max - m.to_numpy(), 0.0) / mc
    is_c = out["variant"] == ctrl
    out.loc[is_c, _CONTROL_ZERO] = 0.0
    out.loc[is_c, "chance_to_beat_control"] = np.nan
    out["is_control"] = is_c.to_numpy()
    out.attrs.update(control=ctrl, method="normal approximation (CLT, flat prior)", level=level)
    return out


_CONTROL_ZERO = [
    "uplift",
    "uplift_low",
    "uplift_high",
    "abs_uplift",
    "abs_uplift_low",
    "abs_uplift_high",
    "loss_vs_control_relative",
    "control_loss_relative",
]


def _normal_losses(d: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected losses of a normal posterior of ``D = m_v - m_c``:
    ``E[(-D)^+] = s phi(d/s) - d Phi(-d/s)`` and ``E[D^+] = s phi(d/s) + d Phi(d/s)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = d / s
        return (
            s * stats.norm.pdf(z) - d * stats.norm.cdf(-z),
            s * stats.norm.pdf(z) + d * stats.norm.cdf(z),
        )


def _normal_best(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, float]:
    """P(arm k has the largest mean) and E[max] for independent normals: composite
    Gauss-Legendre of ``∫ phi_k(x) Π_{j≠k} Phi_j(x) dx`` on panels covering every arm."""
    lo, hi = (mean - 9 * sd).min(), (mean + 9 * sd).max()
    br = np.unique(
        np.concatenate(
            [np.linspace(m - 9 * s, m + 9 * s, 19) for m, s in zip(mean, sd)] + [[lo, hi]]
        )
    )
    t, w = np.polynomial.legendre.leggauss(16)
    half, mid = np.diff(br) / 2, (br[:-1] + br[1:]) / 2
    x = (mid[:, None] + half[:, None] * t).ravel()
    wx = (half[:, None] * w).ravel()
    pdf = stats.norm.pdf(x, mean[:, None], sd[:, None])
    log_cdf = stats.norm.logcdf(x, mean[:, None], sd[:, None])
    dens = pdf * np.exp(log_cdf.sum(axis=0) - log_cdf)
    return np.clip(dens @ wx, 0.0, 1.0), float(dens.sum(axis=0) @ (wx * x))
