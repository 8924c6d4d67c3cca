"""The demo company: deterministic, sized, valid, and its planted truth is visible in the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cjlab.data import synth
from cjlab.data.contract import STAGES, TABLES
from cjlab.data.validate import validate_frames


@pytest.fixture(scope="module")
def demo():
    return synth.generate(8000, seed=3)


def test_deterministic_and_seed_dependent():
    a, b, c = synth.generate(600, seed=9), synth.generate(600, seed=9), synth.generate(600, seed=10)
    for t in TABLES:
        pd.testing.assert_frame_equal(a.tables[t], b.tables[t])
    assert a.truth == b.truth
    assert not a.tables["orders"].equals(c.tables["orders"])


def test_sizes_and_contract(demo):
    t = demo.tables
    assert len(t["customers"]) == 8000 and t["customers"]["customer_id"].is_unique
    assert len(t["touchpoints"]) > 10 * 8000 * 0.5
    assert len(t["orders"]) > 8000 * 0.5
    assert set(t["touchpoints"]["stage"]) == set(STAGES)
    assert t["survey_responses"]["comment"].notna().sum() > 100
    assert set(t["experiment_exposures"]["experiment"]) == set(demo.truth["experiments"])
    report = validate_frames(t)
    assert report.ok, report.format()


def test_blocks_do_not_depend_on_total_size(tmp_path):
    """The first block of a larger population equals the population of one block."""
    small = synth.generate(300, seed=4)
    big = synth.generate(synth.CHUNK + 50, seed=4)
    assert big.tables["customers"]["customer_id"].max() == synth.CHUNK + 50
    # the first 300 customers of a 300-customer run come from block 0 with its own stream,
    # as do those of a larger run: the same when block 0 has the same length
    one_block = synth.generate(synth.CHUNK, seed=4)
    head = big.tables["orders"][big.tables["orders"]["customer_id"] <= synth.CHUNK].reset_index(drop=True)
    pd.testing.assert_frame_equal(head, one_block.tables["orders"])
    assert len(small.tables["customers"]) == 300


def test_write_parquet_equals_in_memory(tmp_path):
    truth = synth.write_parquet(tmp_path / "demo", 700, seed=2)
    mem = synth.generate(700, seed=2)
    assert truth == mem.truth
    def ns(df):
        return df.apply(lambda c: c.astype("datetime64[ns]") if c.dtype.kind == "M" else c)

    for t in TABLES:
        disk = pd.read_parquet(tmp_path / "demo" / t)
        pd.testing.assert_frame_equal(ns(disk), ns(mem.tables[t]), check_dtype=False)


def test_truth_keys(demo):
    t = demo.truth
    for key in ("segments", "attribution", "funnel", "survey", "experiments", "churn", "clv"):
        assert key in t
    assert set(t["attribution"]["rank"]) == set(synth.MARKETING_CHANNELS)
    assert t["survey"]["driver_rank"][0] == "rating_delivery"
    assert t["experiments"]["push_reminder"]["srm"] is True
    assert set(demo.customer_truth["segment"]) == set(synth.SEGMENTS)


def test_planted_funnel_dropoff_is_visible(demo):
    """Non-buyers' furthest stage in the touchpoints follows the planted drop-off shares."""
    tp = demo.tables["touchpoints"]
    buyers = set(demo.tables["orders"]["customer_id"])
    pre = tp[tp["stage"].isin(STAGES[:4]) & ~tp["customer_id"].isin(buyers)]
    furthest = pre.groupby("customer_id")["stage"].agg(lambda s: max(STAGES.index(x) for x in s))
    shares = furthest.value_counts(normalize=True).sort_index()
    planted = demo.truth["funnel"]["dropoff_shares"]
    # the planted shares are over all non-buyers (incl. those whose purchase fell after the data end)
    for i, stage in enumerate(STAGES[:4]):
        assert abs(shares.get(i, 0) - planted[stage]) < 0.05, (stage, shares.get(i, 0), planted[stage])
    assert STAGES[int(shares.idxmax())] == demo.truth["funnel"]["biggest_drop_after"]


def test_planted_experiment_rates_are_visible(demo):
    ex = demo.tables["experiment_exposures"]
    for name, spec in demo.truth["experiments"].items():
        g = ex[ex["experiment"] == name].groupby("variant")["converted"].agg(["sum", "size"])
        for v, row in g.iterrows():
            ci = stats.binomtest(int(row["sum"]), int(row["size"])).proportion_ci(0.999)
            assert ci.low <= spec["rates"][v] <= ci.high, (name, v, ci, spec["rates"][v])


def test_planted_srm_is_visible(demo):
    ex = demo.tables["experiment_exposures"]
    n = ex[ex["experiment"] == "push_reminder"]["variant"].value_counts()
    chi2 = stats.chisquare([n["control"], n["push"]])
    assert chi2.pvalue < 0.01
    n = ex[ex["experiment"] == "onboarding_email_v2"]["variant"].value_counts()
    assert stats.chisquare([n["control"], n["new_email"]]).pvalue > 1e-3


def test_planted_nps_drivers_order(demo):
    """A plain least-squares fit of NPS on the ratings puts delivery first and newsletter last."""
    s = demo.tables["survey_responses"]
    cols = ["rating_delivery", "rating_checkout", "rating_product_page", "rating_newsletter"]
    d = s[["nps", *cols]].dropna().astype(float)
    X = np.column_stack([np.ones(len(d)), d[cols].to_numpy()])
    beta = np.linalg.lstsq(X, d["nps"].to_numpy(), rcond=None)[0][1:]
    est = dict(zip(cols, beta))
    assert max(est, key=est.get) == "rating_delivery"
    assert min(est, key=est.get) == "rating_newsletter"
    assert est["rating_checkout"] > est["rating_product_page"]


def test_planted_churn_drivers_visible(demo):
    """Cancellation is more frequent among customers with many support tickets and promo use."""
    c = demo.tables["customers"].set_index("customer_id")
    ct = demo.customer_truth.set_index("customer_id")
    buyers = ct[ct["purchased"]]
    cancelled = c.loc[buyers.index, "cancelled_at"].notna()
    hi = buyers["support_trait"] > buyers["support_trait"].median()
    assert cancelled[hi].mean() > 1.3 * cancelled[~hi].mean()
    hi = buyers["app_trait"] > buyers["app_trait"].median()
    assert cancelled[hi].mean() < cancelled[~hi].mean()


def test_bad_size():
    with pytest.raises(ValueError, match="n_customers"):
        synth.generate(0)
