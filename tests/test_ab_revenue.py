"""Revenue per user: the two-part Bayesian bootstrap keeps its coverage on zero-inflated spend.

* the two-part draws equal Rubin's Bayesian bootstrap over all users (same distribution);
* coverage of its 95 % intervals on simulated zero-inflated data, beside the normal interval;
* on the Hillstrom e-mail test (raw CSV from ../shared/data): the published per-arm figures,
  and agreement with an ordinary bootstrap computed here (skipped when ../shared is absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cjlab.ab import ABInputError
from cjlab.ab.analysis import analyse
from cjlab.ab.revenue import compare_revenue, revenue_draws, revenue_normal_approx, summarise_draws

HILLSTROM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hillstrom.csv"


def test_two_part_draws_equal_the_bayesian_bootstrap_over_all_users():
    rng = np.random.default_rng(0)
    y = rng.binomial(1, 0.1, 300) * rng.gamma(2.0, 30.0, 300)
    # Rubin's split has Beta(k, n - k) for the paying share: a prior of (0.05, 0.05) is ~ none
    two_part = revenue_draws({"A": y}, prior=(0.05, 0.05), n_draws=200_000, random_state=1)[0][0]
    g = rng.standard_exponential((20_000, len(y)))
    full = (g @ y) / g.sum(axis=1)  # Dirichlet(1, ..., 1) over all 300 users
    # same distribution up to the tiny prior: mean, spread and tails within Monte Carlo error
    assert abs(two_part.mean() - full.mean()) < 4 * full.std() / np.sqrt(len(full)) + 0.01
    assert abs(two_part.std() / full.std() - 1) < 0.03
    for q in (0.025, 0.975):
        assert abs(np.quantile(two_part, q) - np.quantile(full, q)) < 0.05 * full.std() * 3


def _simulate(rng, n, p, shape=1.5, scale=80.0):
    groups = {}
    for v, pp in zip(("control", "B"), p):
        k = rng.binomial(n, pp)
        y = np.zeros(n)
        y[:k] = rng.gamma(shape, scale, k)  # skewed spend (Hillstrom-like, skew ~1.6)
        groups[v] = y
    return groups


def test_coverage_on_simulated_zero_inflated_spend():
    """>= 93 % of 95 % uplift intervals cover the truth over 400 simulated tests shaped like the
    Hillstrom test (about 120 and 180 paying users of 20,000 per arm); the normal interval's
    misses are lopsided (it lies too low)."""
    rng = np.random.default_rng(7)
    p = (0.006, 0.009)
    truth = p[1] / p[0] - 1  # same spend distribution in both arms
    hit = miss_low = miss_high = 0
    n_low = n_high = 0
    sims = 400
    for s in range(sims):
        groups = _simulate(rng, 20_000, p)
        b = summarise_draws(revenue_draws(groups, n_draws=1000, random_state=s)[0], 0)
        lo, hi = b["uplift_low"][1], b["uplift_high"][1]
        hit += lo <= truth <= hi
        miss_low += truth < lo
        miss_high += truth > hi
        # the normal (CLT + delta method) interval on the same data
        m = {v: y.mean() for v, y in groups.items()}
        se2 = {v: y.var(ddof=1) / len(y) for v, y in groups.items()}
        rel = m["B"] / m["control"] - 1
        sd = np.sqrt(
            se2["B"] / m["control"] ** 2 + m["B"] ** 2 * se2["control"] / m["control"] ** 4
        )
        n_low += truth < rel - 1.959964 * sd
        n_high += truth > rel + 1.959964 * sd
    cover = hit / sims
    normal = 1 - (n_low + n_high) / sims
    assert cover >= 0.93, (cover, miss_low, miss_high, normal)
    # the symmetric normal interval sits too low: it misses above far more often than below
    assert n_high > 2 * n_low, (n_low, n_high)


def test_public_table_equals_the_draws_and_the_normal_approximation_is_the_clt():
    groups = _simulate(np.random.default_rng(3), 5_000, (0.05, 0.06))
    df = pd.concat([pd.DataFrame({"variant": v, "revenue": y}) for v, y in groups.items()])
    res = compare_revenue(df, n_draws=2000, random_state=4).set_index("variant")
    b = summarise_draws(revenue_draws(groups, n_draws=2000, random_state=4)[0], 0)
    assert (
        res.loc["B", "uplift_low"] == b["uplift_low"][1]
        and res.loc["B", "chance_to_be_best"] == b["chance_to_be_best"][1]
    )
    norm = revenue_normal_approx(df).set_index("variant")
    assert np.isclose(norm.loc["B", "revenue_per_user"], groups["B"].mean())
    assert res.loc["B", "revenue_per_user"] == groups["B"].mean()


def test_too_few_paying_users_is_a_clear_error():
    df = pd.DataFrame({"variant": ["control"] * 3 + ["B"] * 3, "revenue": [0, 5, 7, 0, 0, 4.0]})
    with pytest.raises(ABInputError, match="'B' has 1 paying user"):
        compare_revenue(df)


# ------------------------------------------------------------------ Hillstrom
@pytest.fixture(scope="module")
def hillstrom():
    if not HILLSTROM.is_file():
        pytest.skip(f"{HILLSTROM} not present (the shared real datasets live next to the project)")
    h = pd.read_csv(HILLSTROM)
    ex = pd.DataFrame(
        {
            "experiment": "hillstrom_email",
            "variant": h["segment"],
            "unit_id": np.arange(len(h)),
            "exposed_at": pd.Timestamp("2008-03-01"),
            "converted": h["conversion"],
            "revenue": h["spend"],
        }
    )
    a = analyse(
        {"experiment_exposures": ex},
        metric="revenue",
        currency="$",
        run_pymc=False,
        plan_sims=0,
        revenue_draws=8000,
    )
    return h, a


def test_hillstrom_published_figures(hillstrom):
    # ../shared/data/SOURCES.md: n, conversion and spend per customer per arm
    _, a = hillstrom
    published = {
        "Mens E-Mail": (21_307, 0.01253, 1.4226),
        "Womens E-Mail": (21_387, 0.00884, 1.0772),
        "No E-Mail": (21_306, 0.00573, 0.6528),
    }
    assert a.control == "No E-Mail"
    res, rev = a.results.set_index("variant"), a.revenue.set_index("variant")
    for arm, (n, conv, spend) in published.items():
        assert res.loc[arm, "users"] == n
        assert round(res.loc[arm, "observed_rate"], 5) == conv
        assert round(rev.loc[arm, "revenue_per_user"], 4) == spend


def _bootstrap_uplift(y_v, y_c, rng, draws=8000):
    """Ordinary (resampling) bootstrap of RPU_v / RPU_c - 1: a resample of n users holds
    Binomial(n, k/n) paying users drawn with replacement from the k observed spends."""

    def rpu(y):
        s = y[y > 0]
        k = rng.binomial(len(y), len(s) / len(y), draws)
        return np.array([rng.choice(s, m).sum() for m in k]) / len(y)

    return rpu(y_v) / rpu(y_c) - 1


def test_hillstrom_interval_agrees_with_a_bootstrap_where_the_normal_one_is_too_low(hillstrom):
    h, a = hillstrom
    rng = np.random.default_rng(11)
    rev = a.revenue.set_index("variant")
    norm = a.revenue_normal.set_index("variant")
    y_c = h.loc[h["segment"] == "No E-Mail", "spend"].to_numpy(float)
    for arm in ("Womens E-Mail", "Mens E-Mail"):
        boot = _bootstrap_uplift(h.loc[h["segment"] == arm, "spend"].to_numpy(float), y_c, rng)
        lo, hi = np.quantile(boot, [0.025, 0.975])
        assert abs(rev.loc[arm, "uplift_low"] - lo) < 0.05, (arm, rev.loc[arm, "uplift_low"], lo)
        assert abs(rev.loc[arm, "uplift_high"] - hi) < 0.08, (arm, rev.loc[arm, "uplift_high"], hi)
        # the normal interval lies below the bootstrap at both ends (issue 11: 14.9-115.1 %
        # against 21.6-123.2 % for Womens E-Mail)
        assert norm.loc[arm, "uplift_low"] < lo - 0.04 and norm.loc[arm, "uplift_high"] < hi - 0.04
