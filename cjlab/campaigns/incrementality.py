"""What a campaign added: incremental conversion and revenue against its random holdout.

Conversion: the exact Bayesian comparison of :func:`cjlab.ab.compare_conversions` (Beta
posteriors, uniform prior), whose absolute uplift is the incremental conversion rate (in
percentage points) with its credible interval. Revenue per customer: a Bayesian bootstrap
(Rubin 1981) of each arm's mean — Dirichlet(1, ..., 1) weights over the customers, which keeps
its coverage on zero-inflated spend where a normal interval does not. Totals scale the per-
customer effects by the number of contacted customers. Each row is one segment (and ``"all
customers"``).

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"treated": [1] * 400 + [0] * 400, "segment": "a",
...                   "converted": [1] * 80 + [0] * 320 + [1] * 40 + [0] * 360, "revenue": 0.0})
>>> r = incremental_effects(d, n_draws=500).iloc[0]
>>> round(float(r["incremental_conversion"]), 2), bool(r["incremental_conversion_low"] > 0)
(0.1, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjlab.ab import compare_conversions

__all__ = ["ALL", "bayesian_bootstrap_means", "incremental_effects"]

ALL = "all customers"


def bayesian_bootstrap_means(
    values: np.ndarray, n_draws: int = 2000, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Posterior draws of a mean under the Bayesian bootstrap (Dirichlet(1) weights).

    Parameters
    ----------
    values : the observations (e.g. revenue per customer, zeros included).
    n_draws : number of posterior draws.
    rng : random generator.

    Returns
    -------
    Array of ``n_draws`` means.
    """
    rng = rng or np.random.default_rng(0)
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return np.full(n_draws, np.nan)
    out = np.empty(n_draws)
    step = max(1, 2_000_000 // max(len(v), 1))
    for s in range(0, n_draws, step):
        g = rng.standard_gamma(1.0, size=(min(step, n_draws - s), len(v)))
        out[s : s + len(g)] = (g @ v) / g.sum(axis=1)
    return out


def _one(d: pd.DataFrame, level: float, n_draws: int, rng: np.random.Generator) -> dict:
    arms = d.groupby("treated")["converted"].agg(["size", "sum"])
    counts = pd.DataFrame(
        {
            "variant": ["control", "treated"],
            "users": [int(arms.loc[0, "size"]), int(arms.loc[1, "size"])],
            "conversions": [int(arms.loc[0, "sum"]), int(arms.loc[1, "sum"])],
        }
    )
    cmp = compare_conversions(counts, control="control", level=level).set_index("variant")
    r = cmp.loc["treated"]
    tail = (1 - level) / 2
    rev_t = bayesian_bootstrap_means(d.loc[d["treated"] == 1, "revenue"].to_numpy(), n_draws, rng)
    rev_c = bayesian_bootstrap_means(d.loc[d["treated"] == 0, "revenue"].to_numpy(), n_draws, rng)
    diff = rev_t - rev_c
    n_t = int(arms.loc[1, "size"])
    return {
        "customers": int(arms["size"].sum()),
        "treated": n_t,
        "control": int(arms.loc[0, "size"]),
        "rate_control": float(cmp.loc["control", "observed_rate"]),
        "rate_treated": float(r["observed_rate"]),
        "incremental_conversion": float(r["abs_uplift"]),
        "incremental_conversion_low": float(r["abs_uplift_low"]),
        "incremental_conversion_high": float(r["abs_uplift_high"]),
        "chance_positive": float(r["chance_to_beat_control"]),
        "revenue_per_customer_control": float(d.loc[d["treated"] == 0, "revenue"].mean()),
        "revenue_per_customer_treated": float(d.loc[d["treated"] == 1, "revenue"].mean()),
        "incremental_revenue_per_customer": float(np.mean(diff)),
        "incremental_revenue_per_customer_low": float(np.quantile(diff, tail)),
        "incremental_revenue_per_customer_high": float(np.quantile(diff, 1 - tail)),
        "incremental_conversions": float(r["abs_uplift"]) * n_t,
        "incremental_conversions_low": float(r["abs_uplift_low"]) * n_t,
        "incremental_conversions_high": float(r["abs_uplift_high"]) * n_t,
        "incremental_revenue": float(np.mean(diff)) * n_t,
        "incremental_revenue_low": float(np.quantile(diff, tail)) * n_t,
        "incremental_revenue_high": float(np.quantile(diff, 1 - tail)) * n_t,
    }


def incremental_effects(
    frame: pd.DataFrame,
    by: str = "segment",
    level: float = 0.9,
    n_draws: int = 2000,
    min_per_arm: int = 20,
    random_state: int = 0,
) -> pd.DataFrame:
    """Incremental conversion and revenue, overall and per value of ``by``.

    Parameters
    ----------
    frame : one row per customer with ``treated`` (0/1), ``converted`` (0/1), ``revenue``
        and the ``by`` column.
    by : breakdown column ('' = overall only).
    level : interval mass.
    n_draws : Bayesian-bootstrap draws of the revenue means.
    min_per_arm : segments with fewer customers in an arm are left out (too few to compare).
    random_state : seed of the revenue draws.

    Returns
    -------
    One row per group (``"all customers"`` first, then segments by incremental conversion):
    group, customers, treated, control, conversion rates, incremental_conversion (+ _low/_high),
    chance_positive, revenue per customer, incremental_revenue_per_customer (+ interval) and
    the totals for the contacted customers (incremental_conversions, incremental_revenue).
    """
    rng = np.random.default_rng(random_state)
    rows = [{"group": ALL, **_one(frame, level, n_draws, rng)}]
    if by and by in frame and frame[by].nunique() > 1:
        seg_rows = []
        for g, d in frame.groupby(by, observed=True, sort=True):
            n = d["treated"].value_counts()
            if n.get(0, 0) >= min_per_arm and n.get(1, 0) >= min_per_arm:
                seg_rows.append({"group": str(g), **_one(d, level, n_draws, rng)})
        rows += sorted(seg_rows, key=lambda r: -r["incremental_conversion"])
    out = pd.DataFrame(rows)
    out.attrs["level"] = level
    return out
