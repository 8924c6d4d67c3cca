"""Best send time: the empirical-Bayes prior strength, the held-out check, the demo's planted hours.

* :func:`fit_kappa` recovers the concentration of simulated Dirichlet-multinomial counts;
* shrinkage helps customers with thin histories on simulated data (and the held-out hit rate
  equals a direct count);
* on the demo company, customers with enough opens get their planted preferred hour, and the
  recommendations beat the population's best hour on later opens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.campaigns.sendtime import SendTimeModel, evaluate_send_time, fit_kappa


def _simulate(n=3000, kappa=8.0, opens=(2, 12), seed=0):
    rng = np.random.default_rng(seed)
    base = np.exp(-0.5 * ((np.arange(24) - 19) / 3.0) ** 2) + 0.1
    base /= base.sum()
    theta = rng.dirichlet(kappa * base, size=n)
    m = rng.integers(*opens, size=n)
    counts = np.vstack([rng.multinomial(k, p) for k, p in zip(m, theta)])
    return base, theta, counts


def test_fit_kappa_recovers_the_planted_concentration():
    base, _, counts = _simulate(kappa=8.0)
    k = fit_kappa(counts, np.tile(base, (len(counts), 1)))
    assert k == pytest.approx(8.0, rel=0.25)
    _, _, flat = _simulate(kappa=500.0, seed=1)  # everyone alike: a strong prior
    assert fit_kappa(flat, np.tile(base, (len(flat), 1))) > 100


def _frame(counts: np.ndarray) -> pd.DataFrame:
    c, h = np.nonzero(counts)
    return pd.DataFrame({"customer_id": c, "weekday": 0, "hour": h, "n": counts[c, h]})


def test_shrinkage_helps_thin_histories_and_hits_are_counted_directly():
    rng = np.random.default_rng(2)
    _base, theta, train = _simulate(n=4000, kappa=4.0, opens=(1, 4), seed=2)
    test = np.vstack([rng.multinomial(10, p) for p in theta])
    m = SendTimeModel(min_engagements=1).fit(_frame(train))
    ev = evaluate_send_time(
        m, _frame(test), tolerance=1, min_engagements=(1,), n_boot=50
    ).set_index("method")
    assert ev.loc["model", "hit_rate"] > ev.loc["own history", "hit_rate"]
    assert ev.loc["model", "gain_low"] > -0.01
    # the hit rate is the mean over customers of their later opens within an hour of the hour given
    rec = m.recommend().set_index("customer_id")["hour"]
    share = []
    for c, h in rec.items():
        near = [(h + d) % 24 for d in (-1, 0, 1)]
        share.append(test[c, near].sum() / test[c].sum())
    assert ev.loc["model", "hit_rate"] == pytest.approx(np.mean(share))


@pytest.fixture(scope="module")
def demo():
    from cjlab.data import open_source
    from cjlab.data.demo import demo_folder
    from cjlab.features.campaigns import engagement_hours

    src = open_source("demo:n_customers=20000,seed=42")
    tp = src.lazy("touchpoints")
    ct = pd.read_parquet(
        demo_folder(20_000, 42) / "customer_truth", columns=["customer_id", "preferred_open_hour"]
    )
    return (
        engagement_hours(tp, as_of="2025-06-30").df(),
        engagement_hours(tp, after="2025-06-30").df(),
        ct.set_index("customer_id")["preferred_open_hour"],
    )


def test_demo_planted_hours_are_recovered(demo):
    train, _, planted = demo
    rec = SendTimeModel().fit(train).recommend().set_index("customer_id")
    enough = rec[rec["engagements"] >= 10]
    d = (enough["hour"] - planted.reindex(enough.index)).abs()
    within = np.minimum(d, 24 - d) <= 1
    assert len(enough) > 500 and within.mean() > 0.8, within.mean()
    thin = rec[rec["engagements"] <= 2]
    assert (thin["basis"] == "group profile").all()


def test_demo_recommendations_beat_the_population_hour(demo):
    train, test, _ = demo
    ev = evaluate_send_time(SendTimeModel().fit(train), test, n_boot=100)
    m = ev[(ev["min_engagements"] == 5)].set_index("method")
    assert m.loc["model", "gain_low"] > 0.2  # planted: 60 % of opens near a customer's own hour
    assert m.loc["model", "hit_rate"] >= m.loc["own history", "hit_rate"] - 0.005
