"""RFM scores 1..n_bins: balanced groups that keep ties together, quantiles, natural breaks, cuts.

On real order data most customers bought once: a frequency of 1 may hold 40-70 % of the
buyers. Percentile scores then put every one-time buyer on the *middle* score of the ranks
they occupy (F = 2 or 3 of 5), which names them "Potential loyalists", and leave some scores
empty. The default method here, ``"rank"``, instead finds the split of the sorted values into
``n_bins`` groups that are as equal in size as possible *without splitting tied values*
(:func:`balanced_breaks`): the lowest value always gets score 1, a value held by more than
one group's share of customers gets a score of its own, and the others share the remaining
scores evenly. With untied values it gives exact equal-sized groups (quintiles).

Examples
--------
>>> import numpy as np
>>> freq = np.array([1] * 60 + [2] * 15 + [3] * 10 + [4] * 5 + [6] * 5 + [9] * 5)
>>> [int(s) for s in np.unique(score(freq, 5))]  # every score used; one-time buyers get 1
[1, 2, 3, 4, 5]
>>> int(score(freq, 5)[0])
1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["METHODS", "balanced_breaks", "jenks_breaks", "score"]

#: Scoring methods of :func:`score`.
METHODS = ("rank", "quantile", "jenks", "cuts")


def _pooled(values: Any, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct finite values (or at most ``max_points`` quantile pools of them) with counts.

    Returns (representative value, count, upper value) per point; a pool is represented by its
    weighted mean, and class limits are drawn at pools' upper values.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite values to score")
    u, w = np.unique(x, return_counts=True)
    w = w.astype(float)
    if u.size <= max_points:
        return u, w, u
    grp = np.minimum((np.cumsum(w) - w / 2) / w.sum() * max_points, max_points - 1).astype(int)
    ws = np.bincount(grp, weights=w)
    keep = ws > 0
    mean = np.bincount(grp, weights=w * u)[keep] / ws[keep]
    upper = pd.Series(u).groupby(grp).max().to_numpy()
    return mean, ws[keep], upper


def _cuts_from_back(back: np.ndarray, k: int, m: int, upper: np.ndarray) -> np.ndarray:
    cuts, hi = [], m
    for c in range(k, 0, -1):
        lo = int(back[c, hi])
        if c > 1:
            cuts.append(upper[lo - 1])
        hi = lo
    return np.array(sorted(cuts), dtype=float)


def balanced_breaks(values: Any, n_bins: int, max_points: int = 1000) -> np.ndarray:
    """Inner limits of the most equal-sized groups that never split tied values.

    Among all splits of the sorted distinct values into ``min(n_bins, #distinct)`` contiguous
    groups, the one whose group sizes (customers) have the smallest sum of squared deviations
    from ``n / k`` (exact dynamic programming over the distinct values, weighted by counts).
    With more than ``max_points`` distinct values they are first pooled into ``max_points``
    quantile groups, so that group sizes are equal to within about ``n / max_points``.

    Returns
    -------
    array of inner limits ``b`` (right-closed): group ``j`` holds ``b[j-1] < x <= b[j]``.

    Examples
    --------
    >>> balanced_breaks([1, 1, 1, 1, 1, 1, 2, 2, 3, 4], 3).tolist()  # {1}, {2}, {3, 4}
    [1.0, 2.0]
    """
    _, w, upper = _pooled(values, max_points)
    m = w.size
    k = min(int(n_bins), m)
    cum = np.concatenate([[0.0], np.cumsum(w)])
    target = cum[-1] / k
    size = cum[None, :] - cum[:, None]  # size[lo, hi]: customers of points lo..hi-1
    dev = np.where(size > 0, (size - target) ** 2, np.inf)
    cost = np.full(m + 1, np.inf)
    cost[0] = 0.0
    back = np.zeros((k + 1, m + 1), dtype=int)
    for c in range(1, k + 1):
        total = cost[:, None] + dev  # (lo, hi)
        best = np.argmin(total, axis=0)
        back[c] = best
        cost = total[best, np.arange(m + 1)]
    return _cuts_from_back(back, k, m, upper)


def jenks_breaks(values: Any, n_classes: int, max_points: int = 400) -> np.ndarray:
    """Fisher–Jenks natural breaks: the ``n_classes - 1`` inner class limits.

    Minimises the total within-class sum of squared deviations exactly (dynamic programming)
    over the distinct values, weighted by their counts. When there are more than
    ``max_points`` distinct values, they are first pooled into ``max_points`` quantile groups
    (each represented by its weighted mean), which makes the breaks approximate but keeps the
    cost at ``O(n_classes * max_points**2)``.

    Returns
    -------
    array of inner limits ``b``: class ``j`` holds values ``b[j-1] < x <= b[j]``.

    Examples
    --------
    >>> jenks_breaks([1, 2, 3, 10, 11, 12], 2).tolist()
    [3.0]
    """
    try:
        u, w, upper = _pooled(values, max_points)
    except ValueError:
        raise ValueError("jenks_breaks: no finite values") from None
    m = u.size
    k = min(n_classes, m)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cwx = np.concatenate([[0.0], np.cumsum(w * u)])
    cwx2 = np.concatenate([[0.0], np.cumsum(w * u * u)])

    def ssd(lo: np.ndarray, hi: int) -> np.ndarray:  # points lo..hi-1 (0-based, half open)
        sw = cw[hi] - cw[lo]
        sx = cwx[hi] - cwx[lo]
        return cwx2[hi] - cwx2[lo] - sx * sx / sw

    cost = np.full((k + 1, m + 1), np.inf)
    back = np.zeros((k + 1, m + 1), dtype=int)
    cost[0, 0] = 0.0
    for c in range(1, k + 1):
        for hi in range(c, m + 1):
            lo = np.arange(c - 1, hi)
            tot = cost[c - 1, lo] + ssd(lo, hi)
            j = int(np.argmin(tot))
            cost[c, hi] = tot[j]
            back[c, hi] = lo[j]
    return _cuts_from_back(back, k, m, upper)


def _by_limits(x: np.ndarray, inner: np.ndarray, k: int, higher_is_better: bool) -> np.ndarray:
    s = 1 + np.searchsorted(inner, x, side="left")
    return (s if higher_is_better else k + 1 - s).astype(int)


def score(
    values: pd.Series | np.ndarray,
    n_bins: int = 5,
    method: str = "rank",
    cuts: Sequence[float] | None = None,
    higher_is_better: bool = True,
) -> np.ndarray:
    """Score values 1..n_bins (``n_bins`` = best).

    Parameters
    ----------
    values : the measure (recency, frequency or monetary).
    n_bins : number of scores.
    method :
        ``"rank"`` (default) — groups as equal in size as possible that keep tied values
        together (:func:`balanced_breaks`); equal values always share a score, the lowest
        value gets the lowest score, and every score is used when there are at least
        ``n_bins`` distinct values.
        ``"quantile"`` — ``pandas.qcut`` edges (linear-interpolated quantiles); equal edges
        caused by ties are merged and scores relabelled 1..k (k <= n_bins), the convention of
        PyMC-Marketing's ``rfm_segments``.
        ``"cuts"`` — the given inner cut points (``n_bins - 1`` of them, right-closed bins:
        ``cuts[j-1] < x <= cuts[j]`` gets score ``j + 1`` before reversal).
        ``"jenks"`` — Fisher–Jenks natural breaks (:func:`jenks_breaks`).
    cuts : inner cut points for ``method="cuts"``, in the units of ``values``.
    higher_is_better : False for recency (fewer days since the last purchase is better).

    Returns
    -------
    int array of scores (with fewer than ``n_bins`` distinct values, scores run 1..k).

    Examples
    --------
    >>> score([0, 10, 30, 400], 2, higher_is_better=False).tolist()
    [2, 2, 1, 1]
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return np.zeros(0, dtype=int)
    if method == "rank":
        inner = balanced_breaks(x, n_bins)
        return _by_limits(x, inner, len(inner) + 1, higher_is_better)
    if method == "quantile":
        edges = np.unique(pd.Series(x).quantile(np.linspace(0, 1, n_bins + 1)).to_numpy())
        return _by_limits(x, edges[1:-1], max(len(edges) - 1, 1), higher_is_better)
    if method == "jenks":
        inner = jenks_breaks(x, n_bins)
        return _by_limits(x, inner, len(inner) + 1, higher_is_better)
    if method == "cuts":
        if cuts is None or len(cuts) != n_bins - 1:
            raise ValueError(
                f"score(method='cuts') needs {n_bins - 1} inner cut points, got {cuts!r}"
            )
        inner = np.asarray(cuts, dtype=float)
        if np.any(np.diff(inner) <= 0):
            raise ValueError(f"cut points must increase strictly: {list(cuts)!r}")
        return _by_limits(x, inner, n_bins, higher_is_better)
    raise ValueError(f"unknown scoring method {method!r}; use {', '.join(METHODS)}")
