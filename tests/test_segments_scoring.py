"""Balanced RFM scores: exact optimum against a brute-force search, ties never split."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cjlab.segments.scoring import balanced_breaks, score


def _brute_force_cost(x: np.ndarray, k: int) -> float:
    """Smallest sum of squared deviations of group sizes from n/k over every split of the
    distinct values into k contiguous groups (independent of the dynamic programme)."""
    u, w = np.unique(x, return_counts=True)
    best = np.inf
    for cut in itertools.combinations(range(1, len(u)), k - 1):
        sizes = [w[a:b].sum() for a, b in zip((0, *cut), (*cut, len(u)))]
        best = min(best, sum((s - len(x) / k) ** 2 for s in sizes))
    return best


def _cost(x: np.ndarray, inner: np.ndarray, k: int) -> float:
    sizes = np.bincount(np.searchsorted(inner, x, side="left"), minlength=k)
    return float(((sizes - len(x) / k) ** 2).sum())


@pytest.mark.parametrize("seed", range(6))
def test_balanced_breaks_reach_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [
            np.ones(rng.integers(20, 120)),
            rng.poisson(2.5, 80) + 2,
            rng.integers(5, 15, rng.integers(0, 30)),
        ]
    )
    for k in (3, 4, 5):
        inner = balanced_breaks(x, k)
        assert len(inner) == k - 1
        assert _cost(x, inner, k) == pytest.approx(_brute_force_cost(x, k))


def test_ties_are_never_split_and_every_score_is_used():
    rng = np.random.default_rng(7)
    x = np.r_[np.ones(700), rng.geometric(0.35, 300) + 1]  # 70 % tied at the lowest value
    s = score(x, 5)
    for v in np.unique(x):
        assert len(set(s[x == v])) == 1
    assert sorted(set(s)) == [1, 2, 3, 4, 5]
    assert set(s[x == 1]) == {1}
    # higher_is_better=False mirrors the scores
    np.testing.assert_array_equal(score(x, 5, higher_is_better=False), 6 - s)


def test_fewer_distinct_values_than_scores():
    assert score([1, 1, 2, 2, 3], 5).tolist() == [1, 1, 2, 2, 3]
    assert score([4.0] * 6, 5).tolist() == [1] * 6


def test_pooled_values_give_groups_equal_to_a_tenth_of_a_percent():
    x = np.random.default_rng(3).lognormal(3, 1, 200_000)  # all distinct: pooled into 1,000 points
    sizes = np.bincount(score(x, 5))[1:]
    assert np.abs(sizes - 40_000).max() <= 200_000 / 1000
