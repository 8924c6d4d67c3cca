"""Rule-based attribution: first touch, last touch, linear and position-based.

Each converting journey gives its conversion to the touches on its path by a fixed rule:
*first* (all to the first touch), *last* (all to the last), *linear* (an equal share per
touch) or *position* (``position = (first, middle total, last)``, by default 40 % to the first,
40 % to the last and 20 % shared by the middle touches; a one-touch path gives its touch 100 %,
a two-touch path 50/50).

Examples
--------
>>> import pandas as pd
>>> paths = pd.DataFrame({"path": ["a > b", "b"], "conversions": [2, 1], "null": [0, 3]})
>>> HeuristicAttribution("first").fit(paths).result_[["channel", "conversions"]].values.tolist()
[['a', 2.0], ['b', 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlab.journey.attribution.base import Attribution

__all__ = ["MODELS", "HeuristicAttribution", "heuristic_attribution"]

MODELS = ("first", "last", "linear", "position")


def touch_weights(
    n: int, model: str, position: tuple[float, float, float] = (0.4, 0.2, 0.4)
) -> np.ndarray:
    """Share of a conversion each of the ``n`` touches of a path gets under ``model``."""
    if model == "first":
        w = np.zeros(n)
        w[0] = 1
    elif model == "last":
        w = np.zeros(n)
        w[-1] = 1
    elif model == "linear":
        w = np.full(n, 1 / n)
    elif model in ("position", "position_based"):
        first, middle, last = position
        if n == 1:
            w = np.ones(1)
        elif n == 2:
            w = np.array([0.5, 0.5])
        else:
            w = np.full(n, middle / (n - 2))
            w[0], w[-1] = first, last
    else:
        raise ValueError(f"unknown attribution model {model!r}; use first, last, linear, position")
    return w


class HeuristicAttribution(Attribution):
    """Rule-based attribution of the conversions of each path to its touches.

    Parameters
    ----------
    model : ``"first"``, ``"last"``, ``"linear"`` or ``"position"``.
    position : (first, middle total, last) weights of the position-based model; sum to 1.
    **kwargs : ``n_boot``, ``level``, ``collapse_repeats``, ``on_empty``, ``random_state`` (see
        :class:`~cjlab.journey.attribution.base.Attribution`).

    Attributes
    ----------
    result_ : channel, conversions (credited, summing to the total conversions), share.
    weights_ : DataFrame path x channel of the share of a conversion each channel gets.
    """

    def __init__(
        self, model: str = "last", position: tuple[float, float, float] = (0.4, 0.2, 0.4), **kwargs
    ):
        super().__init__(**kwargs)
        self.model = model
        self.position = position

    def _prepare(self, paths: pd.DataFrame) -> None:
        if abs(sum(self.position) - 1) > 1e-9:
            raise ValueError(f"position weights must sum to 1, got {self.position}")
        pos = {c: i for i, c in enumerate(self.channels_)}
        W = np.zeros((len(paths), len(self.channels_)))
        for i, steps in enumerate(paths["steps"]):
            for ch, wt in zip(steps, touch_weights(len(steps), self.model, self.position)):
                W[i, pos[ch]] += wt
        self._W = W
        self.weights_ = pd.DataFrame(W, index=paths["path"], columns=self.channels_)

    def _estimate(self, conv: np.ndarray, null: np.ndarray) -> dict[str, np.ndarray]:
        credit = conv @ self._W
        total = credit.sum()
        return {
            "conversions": credit,
            "share": credit / total if total else np.full_like(credit, np.nan),
        }


def heuristic_attribution(
    paths: pd.DataFrame,
    model: str = "last",
    position: Sequence[float] = (0.4, 0.2, 0.4),
    on_empty: str = "raise",
) -> pd.DataFrame:
    """The result table of :class:`HeuristicAttribution` (channel, conversions, share)."""
    return HeuristicAttribution(model, tuple(position), on_empty=on_empty).fit(paths).result_
