"""Recovery of the demo company's planted journey truth: drop-off stage and channel contributions."""

from __future__ import annotations

import pytest
from scipy.stats import spearmanr

from cjlab.data.contract import STAGES
from cjlab.journey import attribution_paths, funnel, markov_attribution, noisy_or_attribution

MARKETING = ["paid_search", "social", "display", "email", "web"]


@pytest.fixture(scope="module")
def demo():
    from cjlab.data.synth import generate

    return generate(n_customers=20_000, seed=42)


@pytest.mark.slow
def test_biggest_dropoff_stage_is_recovered(demo):
    res = funnel(demo.tables["touchpoints"], steps=STAGES[:5])
    assert res.biggest_dropoff == demo.truth["funnel"]["biggest_drop_after"]
    # the planted shares of non-purchasers stopping at each stage are recovered roughly
    t = res.table.set_index("step")
    lost = t.loc[list(STAGES[:4]), "dropoff"]
    shares = lost / lost.sum()
    for stage, share in demo.truth["funnel"]["dropoff_shares"].items():
        assert shares[stage] == pytest.approx(share, abs=0.08), stage


@pytest.mark.slow
def test_channel_contributions_are_recovered_in_rank(demo):
    paths = attribution_paths(
        demo.tables["touchpoints"],
        demo.tables["orders"],
        channels=MARKETING,
        exclude_touchpoints=["newsletter_open"],
    )
    truth = demo.truth["attribution"]
    # the counterfactual model matches the planted definition: full rank, and each channel's
    # share of the contributions within 3 points
    cf = noisy_or_attribution(paths)
    assert list(cf["channel"]) == truth["rank"]
    total = sum(truth["contribution"].values())
    for ch, share in zip(cf["channel"], cf["share"]):
        assert share == pytest.approx(truth["contribution"][ch] / total, abs=0.03), ch
    # Markov removal effects mix a channel's effect with how often it is used: the top and the
    # bottom channel are recovered, the middle order only approximately
    mk = markov_attribution(paths)
    assert mk["channel"].iloc[0] == truth["rank"][0]
    assert mk["channel"].iloc[-1] == truth["rank"][-1]
    rho = spearmanr([truth["rank"].index(c) for c in mk["channel"]], range(5)).statistic
    assert rho >= 0.8
