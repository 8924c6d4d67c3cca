"""Markov-chain attribution with exact removal effects (absorbing-chain algebra).

The chain has a ``start`` state, one transient state per channel (per tuple of the last
``order`` channels for higher orders) and two absorbing states, ``conversion`` and ``null``,
estimated from the transition counts of the paths. With ``Q`` the transient-to-transient and
``r`` the transient-to-conversion transition probabilities, the probability of converting from
each transient state is ``x = N r`` with the fundamental matrix ``N = (I - Q)^-1`` (computed by
solving ``(I - Q) x = r``, exactly, no simulation). The *removal effect* of a channel ``c`` is

    RE_c = 1 - P(conversion | c removed) / P(conversion),

where removing ``c`` sends every transition into a state that contains ``c`` to ``null``.
**Credit rule:** the observed conversions are shared out in proportion to the removal effects,
``credit_c = total_conversions * RE_c / sum_k RE_k`` (removal effects themselves do not add up
to one because of channel interactions).

Examples
--------
>>> import pandas as pd
>>> paths = pd.DataFrame({"path": ["a > b", "b", "a"], "conversions": [30, 20, 0], "null": [10, 20, 20]})
>>> markov_attribution(paths).round(3)[["channel", "removal_effect", "conversions"]].to_dict("list")
{'channel': ['b', 'a'], 'removal_effect': [1.0, 0.5], 'conversions': [33.333, 16.667]}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cjlab.journey.attribution.base import Attribution
from cjlab.journey.inputs import SEP

__all__ = ["CONV", "NULL", "START", "MarkovAttribution", "markov_attribution"]

START, CONV, NULL = "(start)", "(conversion)", "(null)"


def _solve(
    T: np.ndarray, to_conv: np.ndarray, to_null: np.ndarray, removed: np.ndarray | None = None
) -> float:
    """P(conversion) from the start state of the chain with transition counts T, to_conv, to_null."""
    out = T.sum(axis=1) + to_conv + to_null
    with np.errstate(invalid="ignore", divide="ignore"):
        Q = np.where(out[:, None] > 0, T / out[:, None], 0.0)
        r = np.where(out > 0, to_conv / out, 0.0)
    if removed is not None and removed.size:
        # removing a state sends all traffic into it to null: it converts with probability 0
        Q[removed, :] = 0.0
        r[removed] = 0.0
    n = len(r)
    # x = N r with N = (I - Q)^-1, the fundamental matrix of the absorbing chain
    try:
        x = np.linalg.solve(np.eye(n) - Q, r)
    except np.linalg.LinAlgError:  # pragma: no cover - a closed loop without exit
        x = np.linalg.lstsq(np.eye(n) - Q, r, rcond=None)[0]
    return float(x[0])


class MarkovAttribution(Attribution):
    """Markov-chain attribution with exact removal effects.

    Parameters
    ----------
    order : Markov order; a state is the tuple of the last ``order`` channels (the first
        states of a path hold the shorter prefixes).
    **kwargs : ``n_boot``, ``level``, ``collapse_repeats``, ``on_empty``, ``random_state`` (see
        :class:`~cjlab.journey.attribution.base.Attribution`); the bootstrap re-estimates the
        chain and recomputes removal effects and credit exactly.

    Attributes
    ----------
    states_ : list of transient state labels (``"(start)"`` first).
    transition_matrix_ : DataFrame of transition probabilities (transient + absorbing states).
    conversion_probability_ : P(conversion) from the start state.
    removal_effects_ : Series channel -> removal effect.
    result_ : DataFrame channel, removal_effect, conversions (credited), share [, *_low, *_high].

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({"path": ["a > b", "b"], "conversions": [1, 1], "null": [1, 1]})
    >>> m = MarkovAttribution().fit(paths)
    >>> round(m.conversion_probability_, 3)
    0.5
    """

    interval_columns = ("removal_effect", "conversions")

    def __init__(self, order: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.order = order

    def _prepare(self, p: pd.DataFrame) -> None:
        k = int(self.order)
        if k < 1:
            raise ValueError(f"order must be >= 1, got {self.order}")
        index: dict[Any, int] = {START: 0}
        rows, cols, path = [], [], []
        last_state = np.zeros(len(p), dtype=int)
        for j, steps in enumerate(p["steps"]):
            prev = 0
            for i in range(len(steps)):
                s = index.setdefault(tuple(steps[max(0, i - k + 1) : i + 1]), len(index))
                rows.append(prev)
                cols.append(s)
                path.append(j)
                prev = s
            last_state[j] = prev
        self._n = len(index)
        self._inner = (np.array(rows), np.array(cols), np.array(path))
        self._last = last_state
        self.states_ = [START] + [SEP.join(s) for s in list(index)[1:]]
        # which transient states contain each channel
        self._contains = {
            c: np.array([i for st, i in index.items() if st != START and c in st], dtype=int)
            for c in self.channels_
        }

    def _counts(
        self, conv: np.ndarray, null: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self._n
        rows, cols, path = self._inner
        T = np.zeros((n, n))
        np.add.at(T, (rows, cols), (conv + null)[path])
        to_conv = np.bincount(self._last, weights=conv, minlength=n).astype(float)
        to_null = np.bincount(self._last, weights=null, minlength=n).astype(float)
        return T, to_conv, to_null

    def _estimate(self, conv: np.ndarray, null: np.ndarray) -> dict[str, np.ndarray]:
        T, tc, tn = self._counts(conv, null)
        base = _solve(T, tc, tn)
        re = np.array(
            [
                1 - _solve(T, tc, tn, self._contains[c]) / base if base > 0 else np.nan
                for c in self.channels_
            ]
        )
        s = np.nansum(re)
        total = conv.sum()
        credit = total * re / s if s > 0 else np.full_like(re, np.nan)
        return {
            "removal_effect": re,
            "conversions": credit,
            "share": credit / total if total else np.full_like(re, np.nan),
        }

    def _fitted(self, conv: np.ndarray, null: np.ndarray) -> None:
        T, tc, tn = self._counts(conv, null)
        n = self._n
        out = T.sum(axis=1) + tc + tn
        full = np.zeros((n + 2, n + 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            full[:n, :n] = np.where(out[:, None] > 0, T / out[:, None], 0.0)
            full[:n, n] = np.where(out > 0, tc / out, 0.0)
            full[:n, n + 1] = np.where(out > 0, tn / out, 0.0)
        full[n, n] = full[n + 1, n + 1] = 1.0
        labels = [*self.states_, CONV, NULL]
        self.transition_matrix_ = pd.DataFrame(full, index=labels, columns=labels)
        self.conversion_probability_ = _solve(T, tc, tn)
        est = self._estimate(conv, null)
        self.removal_effects_ = pd.Series(
            est["removal_effect"], index=self.channels_, name="removal_effect"
        )

    def conversion_probability_without(self, channels: Iterable[str]) -> float:
        """P(conversion) from start when all states containing any of ``channels`` are removed."""
        conv, null = self.paths_["conversions"].to_numpy(float), self.paths_["null"].to_numpy(float)
        T, tc, tn = self._counts(conv, null)
        removed = np.unique(
            np.concatenate([self._contains[c] for c in channels] or [np.array([], int)])
        )
        return _solve(T, tc, tn, removed.astype(int))


def markov_attribution(
    paths: pd.DataFrame,
    order: int = 1,
    n_boot: int = 0,
    level: float = 0.9,
    collapse_repeats: bool = False,
    on_empty: str = "raise",
    random_state: int | None = 0,
) -> pd.DataFrame:
    """The result table of :class:`MarkovAttribution`: one row per channel, most credited first.

    Returns
    -------
    DataFrame channel, removal_effect, conversions, share (+ ``*_low``/``*_high`` bootstrap
    percentile bounds when ``n_boot > 0``).
    """
    return (
        MarkovAttribution(
            order,
            n_boot=n_boot,
            level=level,
            collapse_repeats=collapse_repeats,
            on_empty=on_empty,
            random_state=random_state,
        )
        .fit(paths)
        .result_
    )
