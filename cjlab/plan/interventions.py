"""What an action changes, in the terms the journey simulator understands.

=================  =====================================================================
:class:`Transition`  a step of the pre-purchase journey converts ``effect`` more (points:
                     0.03 = +3 points), for one customer category or everybody
:class:`SpendShift`  a share of the acquisition spend moves from one first-touch channel to
                     another; spend buys prospects at a cost per prospect
:class:`ValueChange` the 12-month value (repeat purchases and spend) of existing customers who
                     reached a stage changes by a relative ``effect`` (0.05 = +5 %)
:class:`PainRelief`  a share of a pain point goes away: NPS rises by the share of its NPS
                     gap, and the value of the customers who felt it changes by ``value_effect``
=================  =====================================================================

Effects are ranges ``(low, high)``: each simulation draw takes one value uniformly in the range
(a single number is a range of width zero), so the intervals carry the uncertainty about the
effect as well as the uncertainty of the fitted journeys. ``start`` is the day (days since
1970-01-01) from which the action works; journeys that begin earlier are not affected.

Examples
--------
>>> t = Transition(stage="comparison", effect=(0.03, 0.06), category="mobile")
>>> t.low, t.high, t.mid
(0.03, 0.06, 0.045)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cjlab.data.contract import STAGES

__all__ = ["Effect", "PainRelief", "SpendShift", "Transition", "ValueChange", "as_range"]


def as_range(effect) -> tuple[float, float]:
    """A number or a (low, high) pair as a (low, high) tuple (sorted, floats)."""
    if isinstance(effect, int | float):
        return float(effect), float(effect)
    low, high = (float(x) for x in effect)
    return (low, high) if low <= high else (high, low)


@dataclass(frozen=True, kw_only=True)
class Effect:
    """Base of the interventions: an effect range, the day it starts and its label."""

    effect: tuple[float, float] = (0.0, 0.0)
    start: float = -np.inf
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "effect", as_range(self.effect))
        self._check()

    def _check(self) -> None:
        """Validate the fields (subclasses)."""

    @property
    def low(self) -> float:
        """Lower end of the effect range."""
        return self.effect[0]

    @property
    def high(self) -> float:
        """Upper end of the effect range."""
        return self.effect[1]

    @property
    def mid(self) -> float:
        """Middle of the effect range."""
        return round((self.low + self.high) / 2, 12)

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` effects drawn uniformly in the range."""
        return self.low + (self.high - self.low) * rng.random(n)


@dataclass(frozen=True, kw_only=True)
class Transition(Effect):
    """The step from ``stage`` to the next pre-purchase stage (from persuasion: to the purchase)
    converts ``effect`` more, in points, for customers of ``category`` (None: everybody)."""

    stage: str
    category: str | None = None

    def _check(self) -> None:
        if self.stage not in STAGES[:4]:
            raise ValueError(
                f"a transition starts at a pre-purchase stage ({', '.join(STAGES[:4])}), "
                f"got {self.stage!r}"
            )
        if not -1 <= self.low <= self.high <= 1:
            raise ValueError(
                f"a transition effect is a change of a share in [-1, 1], got {self.effect}"
            )

    @property
    def step(self) -> int:
        """Index of the stage the step starts from (0 .. 3)."""
        return STAGES.index(self.stage)


@dataclass(frozen=True, kw_only=True)
class SpendShift(Effect):
    """``effect`` (a share) of the acquisition spend on ``source`` moves to ``target``."""

    source: str
    target: str
    cost_per_prospect: Mapping[str, float] = field(default_factory=dict)

    def _check(self) -> None:
        if not 0 <= self.low <= self.high <= 1:
            raise ValueError(
                f"a spend shift moves a share in [0, 1] of the spend, got {self.effect}"
            )
        costs = self.cost_per_prospect
        missing = [c for c in (self.source, self.target) if not costs.get(c, 0) > 0]
        if missing:
            raise ValueError(f"a spend shift needs the cost per prospect of {', '.join(missing)}")

    @property
    def ratio(self) -> float:
        """Prospects bought on ``target`` for the cost of one on ``source``."""
        return self.cost_per_prospect[self.source] / self.cost_per_prospect[self.target]


@dataclass(frozen=True, kw_only=True)
class ValueChange(Effect):
    """The 12-month value of customers who reached ``stage`` (None: every buyer) of ``category``
    changes by ``effect`` (relative: 0.05 = +5 %)."""

    stage: str | None = None
    category: str | None = None

    def _check(self) -> None:
        if self.stage and self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if self.low < -1:
            raise ValueError(f"a value change below -100 % is impossible, got {self.effect}")


@dataclass(frozen=True, kw_only=True)
class PainRelief(Effect):
    """``effect`` (a share) of pain point ``theme`` goes away; the value of the customers who
    felt it changes by ``value_effect`` (relative; (0, 0) = NPS only)."""

    theme: str
    value_effect: tuple[float, float] = (0.0, 0.0)
    stage: str | None = None

    def _check(self) -> None:
        object.__setattr__(self, "value_effect", as_range(self.value_effect))
        if not 0 <= self.low <= self.high <= 1:
            raise ValueError(
                f"a pain relief removes a share in [0, 1] of the pain, got {self.effect}"
            )
