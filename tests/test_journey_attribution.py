"""Attribution: exact Markov removal effects vs hand algebra, path counts and simulation."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from cjlab.journey import (
    JourneyInputError,
    MarkovAttribution,
    NoisyOrAttribution,
    attribution_table,
    heuristic_attribution,
    markov_attribution,
)


def test_two_channels_one_necessary_exact():
    # every conversion passes through B; A only feeds B
    paths = pd.DataFrame(
        {"path": ["A > B", "B", "A"], "conversions": [30, 20, 0], "null": [10, 20, 20]}
    )
    # by hand: start->A 60/100, start->B 40/100, A->B 40/60, A->null 20/60, B->conv 50/80
    p_conv = Fraction(60, 100) * Fraction(40, 60) * Fraction(50, 80) + Fraction(40, 100) * Fraction(
        50, 80
    )
    p_without_a = Fraction(40, 100) * Fraction(50, 80)
    re_a = 1 - p_without_a / p_conv
    re_b = Fraction(1)  # nothing converts without B
    out = markov_attribution(paths).set_index("channel")
    assert out.loc["B", "removal_effect"] == pytest.approx(float(re_b), abs=1e-12)
    assert out.loc["A", "removal_effect"] == pytest.approx(float(re_a), abs=1e-12)
    total = 50
    assert out.loc["B", "conversions"] == pytest.approx(
        float(total * re_b / (re_a + re_b)), abs=1e-9
    )
    assert out.loc["A", "conversions"] == pytest.approx(
        float(total * re_a / (re_a + re_b)), abs=1e-9
    )
    assert out["conversions"].sum() == pytest.approx(total)
    m = MarkovAttribution().fit(paths)
    assert m.conversion_probability_ == pytest.approx(float(p_conv), abs=1e-12)
    assert m.conversion_probability_without(["A", "B"]) == 0.0


LOOPY = pd.DataFrame(
    {
        "path": [
            "a > b > a > c",
            "b > c",
            "a",
            "c > c",
            "b > a > b",
            "a > c > b > c",
            "d > a > c",
            "d",
        ],
        "conversions": [50, 30, 0, 20, 10, 15, 8, 0],
        "null": [50, 70, 100, 30, 40, 25, 12, 60],
    }
)


def test_full_chain_reproduces_observed_conversion_rate():
    # flow conservation: the estimated chain converts exactly the observed share of journeys
    m = MarkovAttribution().fit(LOOPY)
    assert m.conversion_probability_ == pytest.approx(
        LOOPY["conversions"].sum() / (LOOPY["conversions"].sum() + LOOPY["null"].sum())
    )
    tm = m.transition_matrix_
    np.testing.assert_allclose(tm.sum(axis=1), 1.0)


def _simulate(paths: pd.DataFrame, removed: str | None, n_walks: int, rng) -> float:
    """Estimate P(conversion) by walking a first-order chain counted here from the paths."""
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path, c, n in paths[["path", "conversions", "null"]].itertuples(index=False):
        steps = ["START", *path.split(" > ")]
        for s, t in pairwise(steps):
            counts[s][t] += c + n
        counts[steps[-1]]["CONV"] += c
        counts[steps[-1]]["NULL"] += n
    states = sorted(counts)
    targets = [*states, "CONV", "NULL"]
    pos = {s: i for i, s in enumerate(targets)}
    P = np.zeros((len(targets), len(targets)))
    for s, row in counts.items():
        tot = sum(row.values())
        for t, v in row.items():
            dest = "NULL" if t == removed else t
            P[pos[s], pos[dest]] += v / tot
    cum = np.cumsum(P, axis=1)
    state = np.full(n_walks, pos["START"])
    absorbed = np.zeros(n_walks, dtype=bool)
    conv = np.zeros(n_walks, dtype=bool)
    for _ in range(500):
        live = np.flatnonzero(~absorbed)
        if live.size == 0:
            break
        u = rng.random(live.size)
        nxt = (u[:, None] > cum[state[live]]).sum(axis=1)
        state[live] = nxt
        hit_c = nxt == pos["CONV"]
        hit_n = nxt == pos["NULL"]
        conv[live[hit_c]] = True
        absorbed[live[hit_c | hit_n]] = True
    return conv.mean()


def test_removal_effects_agree_with_monte_carlo_simulation():
    rng = np.random.default_rng(123)
    n = 200_000
    m = MarkovAttribution().fit(LOOPY)
    p_sim = _simulate(LOOPY, None, n, rng)
    se = np.sqrt(p_sim * (1 - p_sim) / n)
    assert abs(m.conversion_probability_ - p_sim) < 4.5 * se
    for ch in ("a", "b", "c", "d"):
        p_exact = m.conversion_probability_without([ch])
        p_mc = _simulate(LOOPY, ch, n, rng)
        se = np.sqrt(max(p_mc * (1 - p_mc), 1e-6) / n)
        assert abs(p_exact - p_mc) < 4.5 * se + 1e-9, ch
        re_mc = 1 - p_mc / p_sim
        assert m.removal_effects_[ch] == pytest.approx(re_mc, abs=0.02)


def test_high_order_chain_equals_path_counts():
    # with order >= the longest path and no repeated channels, every state is a full prefix:
    # P(conversion without c) = conversions on paths avoiding c / all journeys
    paths = pd.DataFrame(
        {
            "path": ["a > b > c", "b > a", "c > a > b", "a", "b > c", "c"],
            "conversions": [12, 7, 9, 3, 6, 2],
            "null": [20, 30, 11, 40, 25, 15],
        }
    )
    total = paths["conversions"].sum() + paths["null"].sum()
    m = MarkovAttribution(order=3).fit(paths)
    base = paths["conversions"].sum() / total
    assert m.conversion_probability_ == pytest.approx(base)
    for ch in "abc":
        avoid = ~paths["path"].str.contains(ch)
        expected = paths.loc[avoid, "conversions"].sum() / total
        assert m.conversion_probability_without([ch]) == pytest.approx(expected, abs=1e-12)
        assert m.removal_effects_[ch] == pytest.approx(1 - expected / base)
    # first order on the same data differs (it forgets where a journey came from)
    m1 = MarkovAttribution(order=1).fit(paths)
    assert not np.allclose(m1.removal_effects_.to_numpy(), m.removal_effects_.to_numpy())


def test_order_two_agrees_with_simulation_over_pairs():
    rng = np.random.default_rng(9)
    m2 = MarkovAttribution(order=2).fit(LOOPY)
    # simulate the order-2 chain by relabelling each step as the pair (previous, current)
    relabelled = LOOPY.copy()

    def pairs(p):
        s = p.split(" > ")
        return " > ".join(s[0] if i == 0 else f"{s[i - 1]}|{s[i]}" for i in range(len(s)))

    relabelled["path"] = relabelled["path"].map(pairs)
    p_sim = _simulate(relabelled, None, 150_000, rng)
    assert m2.conversion_probability_ == pytest.approx(p_sim, abs=0.006)


def test_bootstrap_intervals_cover_estimate_and_are_reproducible():
    a = markov_attribution(LOOPY, n_boot=60, random_state=4)
    b = markov_attribution(LOOPY, n_boot=60, random_state=4)
    pd.testing.assert_frame_equal(a, b)
    assert (a["conversions_low"] <= a["conversions"] + 1e-9).all()
    assert (a["conversions"] <= a["conversions_high"] + 1e-9).all()
    assert (a["conversions_high"] > a["conversions_low"]).all()


def test_heuristic_models_by_hand():
    paths = pd.DataFrame(
        {"path": ["a > b > c > d", "b", "c > a"], "conversions": [10, 4, 2], "null": [1, 1, 1]}
    )
    first = heuristic_attribution(paths, "first").set_index("channel")["conversions"]
    assert first.to_dict() == {"a": 10.0, "b": 4.0, "c": 2.0, "d": 0.0}
    last = heuristic_attribution(paths, "last").set_index("channel")["conversions"]
    assert last.to_dict() == {"d": 10.0, "b": 4.0, "a": 2.0, "c": 0.0}
    lin = heuristic_attribution(paths, "linear").set_index("channel")["conversions"]
    assert lin.to_dict() == pytest.approx({"a": 2.5 + 1, "b": 2.5 + 4, "c": 2.5 + 1, "d": 2.5})
    pos = heuristic_attribution(paths, "position").set_index("channel")["conversions"]
    assert pos.to_dict() == pytest.approx({"a": 4 + 1, "b": 1 + 4, "c": 1 + 1, "d": 4})
    table = attribution_table(paths)
    assert np.allclose(table[["first", "last", "linear", "position", "markov"]].sum(), 16)


def test_empty_steps_raise_or_are_counted():
    bad = pd.DataFrame({"path": ["a >  > b", "", "b"], "conversions": [1, 0, 1], "null": [1, 2, 0]})
    with pytest.raises(JourneyInputError, match="1 empty steps and 1 empty paths"):
        markov_attribution(bad)
    m = MarkovAttribution(on_empty="drop").fit(bad)
    assert m.handling_.counts == {"empty steps dropped": 1, "empty paths dropped (journeys)": 2}
    assert set(m.result_["channel"]) == {"a", "b"}
    with pytest.raises(JourneyInputError, match="negative"):
        markov_attribution(pd.DataFrame({"path": ["a"], "conversions": [-1], "null": [0]}))


def test_noisy_or_recovers_planted_touch_effects():
    # journeys simulated from a known noisy-OR model: P(convert) = 1 - (1-b) prod (1-w_c)^n_c
    rng = np.random.default_rng(21)
    w = {"a": 0.20, "b": 0.08, "c": 0.03}
    base, n = 0.02, 40_000
    counts = rng.poisson(1.0, size=(n, 3))
    counts[counts.sum(axis=1) == 0, 0] = 1
    p_no = (1 - base) * np.prod([(1 - w[c]) ** counts[:, j] for j, c in enumerate(w)], axis=0)
    converted = rng.random(n) > p_no
    paths = [
        " > ".join(rng.permutation([c for j, c in enumerate(w) for _ in range(k[j])]))
        for k in counts
    ]
    df = pd.DataFrame({"path": paths, "converted": converted.astype(int)})
    table = df.groupby("path")["converted"].agg(["sum", "count"]).reset_index()
    table = table.rename(columns={"sum": "conversions"}).assign(
        null=lambda d: d["count"] - d["conversions"]
    )
    m = NoisyOrAttribution(n_boot=20, random_state=3).fit(table)
    assert m.base_rate_ == pytest.approx(base, abs=0.01)
    for c, wc in w.items():
        assert m.effects_[c] == pytest.approx(wc, abs=0.015), c
    # contribution = expected conversions lost without the channel: the closed form at the
    # fitted parameters, and near the planted model's own figure
    res = m.result_.set_index("channel")
    fitted_no = (1 - m.base_rate_) * np.prod(
        [(1 - m.effects_[c]) ** counts[:, j] for j, c in enumerate(w)], axis=0
    )
    for j, c in enumerate(w):
        closed = float((fitted_no / (1 - m.effects_[c]) ** counts[:, j] - fitted_no).sum())
        assert res.loc[c, "contribution"] == pytest.approx(closed, rel=1e-6), c
        planted = float((p_no / (1 - w[c]) ** counts[:, j] - p_no).sum())
        assert res.loc[c, "contribution"] == pytest.approx(planted, rel=0.25), c
        assert (
            res.loc[c, "contribution_low"]
            <= res.loc[c, "contribution"]
            <= res.loc[c, "contribution_high"]
        )


def test_every_model_fits_on_the_one_base():
    from cjlab.journey import Attribution, HeuristicAttribution

    makers = (
        lambda: HeuristicAttribution("linear", n_boot=30, random_state=1),
        lambda: MarkovAttribution(n_boot=30, random_state=1),
        lambda: NoisyOrAttribution(n_boot=10, random_state=1),
    )
    for make in makers:
        model = make()
        assert isinstance(model, Attribution)
        assert model.fit(LOOPY) is model and set(model.channels_) == {"a", "b", "c", "d"}
        pd.testing.assert_frame_equal(model.result_, make().fit(LOOPY).result_)  # random_state
        col = model.interval_columns[0]
        assert (model.result_[f"{col}_low"] <= model.result_[f"{col}_high"]).all()
    lin = HeuristicAttribution("linear").fit(LOOPY).result_
    assert lin["conversions"].sum() == pytest.approx(LOOPY["conversions"].sum())
