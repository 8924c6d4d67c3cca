"""The journey simulator: what-if questions answered on the company's own journeys.

:class:`JourneySimulator` fits, per customer category (device, channel, segment ...), the
chance of moving on at each step of the pre-purchase journey (awareness -> information ->
comparison -> persuasion -> purchase) with a Beta posterior per step, the time from the last
pre-purchase touch to the purchase (the observed delays), and — through a
:class:`~cjlab.plan.value.ValueCurve` — the orders and revenue a new buyer brings. A what-if
(:meth:`JourneySimulator.what_if`) applies interventions (:mod:`cjlab.plan.interventions`) to a
population of journeys — the observed ones (what would have happened) or a cohort of the next
12 months (:func:`cjlab.plan.journeys.cohort`) — and returns ``n_draws`` draws of the change in
buyers, orders, revenue (and NPS for pain points), each draw with its own posterior draw of the
step rates and of the effect in its range:

* a :class:`~cjlab.plan.interventions.Transition` of ``+d`` points at stage ``k`` moves each
  eligible customer who stopped at ``k`` on with chance ``d × reached(k) / stopped(k)`` (so the
  step conversion rises by ``d``); a customer moved on continues step by step with the drawn
  rates (raised by the transitions at those steps) and buys after a drawn delay, if before the
  end; a new buyer brings what one real buyer of the category brought in the days left. A
  negative ``d`` stops customers who went on, and the buyers among them bring nothing;
* a :class:`~cjlab.plan.interventions.SpendShift` removes each prospect of the source channel
  with chance ``share`` and adds ``removed × cost ratio`` prospects drawn from the target
  channel's journeys, with their outcomes;
* a :class:`~cjlab.plan.interventions.ValueChange` changes the 12-month value of the existing
  customers it targets (:attr:`customers`: expected purchases and CLV from :mod:`cjlab.churn`);
* a :class:`~cjlab.plan.interventions.PainRelief` takes a share of a pain point's NPS gap away
  (and changes the value of the customers who felt it by its ``value_effect``).

Effects of several interventions add up, except that transitions on the same journeys compose
(a customer moved on at comparison meets the improved persuasion step).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cjlab.plan.journeys import journey_data
>>> rng = np.random.default_rng(0)
>>> n = 4000
>>> reached = rng.choice([0, 1, 2, 3, 4], size=n, p=[0.1, 0.1, 0.3, 0.1, 0.4])
>>> t0 = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.uniform(0, 200, n), unit="D")
>>> states = pd.DataFrame({"customer_id": range(n), "category": "all", "channel": "web",
...     "first_touch": t0, "last_touch": t0 + pd.Timedelta(days=3), "reached": reached,
...     "purchase": (t0 + pd.Timedelta(days=4)).where(reached == 4)})
>>> sim = JourneySimulator(n_draws=200).fit(journey_data(states, "2025-12-31"))
>>> w = sim.what_if([Transition(stage="comparison", effect=0.05)])
>>> expected = 0.05 * (reached >= 2).sum() * (reached == 4).sum() / (reached >= 3).sum()
>>> bool(abs(w.mean("buyers") - expected) < 0.1 * expected)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.plan.interventions import PainRelief, SpendShift, Transition, ValueChange
from cjlab.plan.journeys import JourneyData
from cjlab.plan.value import ValueCurve

__all__ = ["METRICS", "JourneySimulator", "WhatIf"]

#: the changes a what-if draws: new buyers, orders, revenue, NPS points
METRICS = ("buyers", "orders", "revenue", "nps")


@dataclass(frozen=True)
class WhatIf:
    """Draws of the change an intervention (or several) makes.

    Attributes
    ----------
    draws : DataFrame, one row per draw: buyers, orders, revenue (changes over the
        population's period) and nps (points), plus ``effect_<i>`` (the effect drawn for the
        ``i``-th intervention) and, for pain reliefs, ``value_<i>`` (its value effect).
    level : interval mass of :meth:`summary`.
    population : ``"history"`` (the observed journeys) or ``"cohort"`` (the next months).
    """

    draws: pd.DataFrame
    level: float = 0.9
    population: str = "history"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def mean(self, metric: str) -> float:
        """Mean change of ``metric`` over the draws."""
        return float(self.draws[metric].mean())

    def interval(self, metric: str, level: float | None = None) -> tuple[float, float]:
        """Equal-tailed interval of ``metric`` (mass ``level``, default :attr:`level`)."""
        a = (1 - (self.level if level is None else level)) / 2
        lo, hi = np.quantile(self.draws[metric].to_numpy(float), [a, 1 - a])
        return float(lo), float(hi)

    def net_value(self, margin: float, cost: float = 0.0) -> np.ndarray:
        """Draws of the net value: ``margin`` × revenue change minus ``cost``."""
        return margin * self.draws["revenue"].to_numpy(float) - cost

    def summary(self) -> pd.DataFrame:
        """metric, mean, low, high (one row per metric)."""
        rows = [(m, self.mean(m), *self.interval(m)) for m in METRICS]
        return pd.DataFrame(rows, columns=["metric", "mean", "low", "high"])


@dataclass
class _Movers:
    """Ragged per-draw sets of customers moving through the steps."""

    draw: np.ndarray
    who: np.ndarray

    def __len__(self) -> int:
        return len(self.draw)

    def keep(self, mask: np.ndarray) -> _Movers:
        return _Movers(self.draw[mask], self.who[mask])

    def plus(self, other: _Movers) -> _Movers:
        return _Movers(
            np.concatenate([self.draw, other.draw]), np.concatenate([self.who, other.who])
        )


def _empty() -> _Movers:
    return _Movers(np.zeros(0, int), np.zeros(0, int))


def _sample(pool: np.ndarray, share: np.ndarray, rng: np.random.Generator) -> _Movers:
    """Per draw, Binomial(len(pool), share) members of ``pool`` (drawn with replacement)."""
    if len(pool) == 0:
        return _empty()
    k = rng.binomial(len(pool), np.clip(share, 0.0, 1.0))
    draw = np.repeat(np.arange(len(share)), k)
    return _Movers(draw, pool[rng.integers(0, len(pool), len(draw))])


class JourneySimulator:
    """Simulate interventions on the pre-purchase journey and the value of new buyers.

    Parameters
    ----------
    n_draws : simulation draws per what-if.
    level : interval mass.
    prior : Beta(prior, prior) prior of every step rate.
    random_state : seed of the draws (each what-if starts from it).

    Attributes
    ----------
    data_ : the fitted :class:`~cjlab.plan.journeys.JourneyData`.
    reached_ : array (category, 5): journeys that reached each stage (4 = bought).
    transitions_ : DataFrame category, stage, next, reached, moved_on, rate, low, high.
    delays_ : days from the last pre-purchase touch to the purchase, of the buyers.
    value_ : the :class:`~cjlab.plan.value.ValueCurve` (None without orders).
    customers_ : existing customers' 12-month value (category, stage_index, purchases, clv),
        for value changes; pains_ : pain point -> draws of prevalence and NPS gap.
    """

    def __init__(
        self,
        n_draws: int = 1000,
        level: float = 0.9,
        prior: float = 1.0,
        random_state: int | None = 0,
    ):
        self.n_draws = n_draws
        self.level = level
        self.prior = prior
        self.random_state = random_state

    def fit(
        self,
        data: JourneyData,
        value: ValueCurve | None = None,
        customers: pd.DataFrame | None = None,
        pains: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ) -> JourneySimulator:
        """Fit the step rates and delays on ``data``; keep ``value``, ``customers`` and ``pains``.

        Parameters
        ----------
        data : the observed journeys.
        value : what new buyers bring (None: revenue and orders stay zero).
        customers : existing buyers: category (code), stage_index (furthest stage 0-10),
            purchases and clv (12-month expected purchases and value).
        pains : pain point -> {"prevalence": draws, "gap": draws (NPS points), "stage": name,
            "value": 12-month value of the customers at that stage}.
        """
        n_cat = len(data.categories)
        reached = np.zeros((n_cat, 5))
        for k in range(5):
            reached[:, k] = np.bincount(data.category[data.reached >= k], minlength=n_cat)
        self.data_, self.reached_ = data, reached
        self.value_, self.customers_, self.pains_ = value, customers, dict(pains or {})
        buyers = data.bought & np.isfinite(data.last)
        delays = (data.purchase - data.last)[buyers]
        self.delays_ = delays[delays >= 0] if (delays >= 0).any() else np.array([1.0])
        self.transitions_ = self._table()
        return self

    def _table(self) -> pd.DataFrame:
        from scipy import stats

        rows = []
        a = (1 - self.level) / 2
        for c, name in enumerate(self.data_.categories):
            for k in range(4):
                n, m = self.reached_[c, k], self.reached_[c, k + 1]
                post = stats.beta(self.prior + m, self.prior + n - m)
                rows.append(
                    {
                        "category": name,
                        "stage": STAGES[k],
                        "next": STAGES[k + 1],
                        "reached": int(n),
                        "moved_on": int(m),
                        "rate": m / n if n else np.nan,
                        "low": post.ppf(a),
                        "high": post.ppf(1 - a),
                    }
                )
        return pd.DataFrame(rows)

    def rates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` posterior draws of the step rates: array (draw, category, step 0..3)."""
        r = self.reached_
        moved, at = r[:, 1:], r[:, :4]
        return rng.beta(self.prior + moved, self.prior + at - moved, size=(n, *moved.shape))

    # -- the what-if ---------------------------------------------------------------------------
    def what_if(
        self,
        interventions: Sequence,
        population: JourneyData | None = None,
        n_draws: int | None = None,
        random_state: int | None = None,
    ) -> WhatIf:
        """Draws of the change ``interventions`` make to ``population`` (default: the fitted
        journeys, over their observed period)."""
        pop = self.data_ if population is None else population
        B = int(n_draws or self.n_draws)
        rng = np.random.default_rng(self.random_state if random_state is None else random_state)
        q = self.rates(B, rng)
        effects = [iv.draws(B, rng) for iv in interventions]
        out = {m: np.zeros(B) for m in METRICS}
        steps = [(iv, e) for iv, e in zip(interventions, effects) if isinstance(iv, Transition)]
        if steps:
            self._transitions(pop, steps, q, out, rng)
        values = {}
        for i, (iv, e) in enumerate(zip(interventions, effects)):
            if isinstance(iv, SpendShift):
                self._spend_shift(pop, iv, e, out, rng)
            elif isinstance(iv, ValueChange):
                self._value_change(pop, iv, e, out, rng)
            elif isinstance(iv, PainRelief):
                values[f"value_{i}"] = self._pain_relief(pop, iv, e, out, rng)
        draws = pd.DataFrame(out)
        for i, e in enumerate(effects):
            draws[f"effect_{i}"] = e
        for k, v in values.items():
            draws[k] = v
        kind = "history" if pop is self.data_ else "cohort"
        return WhatIf(draws, self.level, kind)

    def _eligible(self, pop: JourneyData, iv) -> np.ndarray:
        ok = pop.first >= iv.start
        category = getattr(iv, "category", None)
        if category is not None:
            ok &= pop.category == pop.code(category)
        return ok

    def _transitions(self, pop, steps, q, out, rng) -> None:
        arriving = _empty()
        lost = _empty()
        for k in range(4):
            at_k = [(iv, e) for iv, e in steps if iv.step == k]
            if len(arriving):  # customers moved on earlier meet step k: drawn rate + effects
                p = q[arriving.draw, pop.category[arriving.who], k]
                for iv, e in at_k:
                    p = p + e[arriving.draw] * self._eligible(pop, iv)[arriving.who]
                arriving = arriving.keep(rng.random(len(arriving)) < p)
            for iv, e in at_k:
                ok = self._eligible(pop, iv)
                n_at = np.sum(ok & (pop.reached >= k))
                stopped = np.flatnonzero(ok & (pop.reached == k))
                went_on = np.flatnonzero(ok & (pop.reached > k))
                arriving = arriving.plus(
                    _sample(stopped, np.maximum(e, 0) * n_at / max(len(stopped), 1), rng)
                )
                lost = lost.plus(
                    _sample(went_on, np.maximum(-e, 0) * n_at / max(len(went_on), 1), rng)
                )
        self._new_buyers(pop, arriving, out, rng)
        gone = lost.keep(pop.bought[lost.who])
        self._remove(pop, gone, out)

    def _new_buyers(self, pop: JourneyData, m: _Movers, out: dict, rng) -> None:
        t = pop.last[m.who] + self.delays_[rng.integers(0, len(self.delays_), len(m))]
        m = m.keep(t <= pop.end)
        t = t[t <= pop.end]
        B = len(out["buyers"])
        out["buyers"] += np.bincount(m.draw, minlength=B)
        if self.value_ is not None and len(m):
            orders, revenue = self.value_.sample(
                pop.category[m.who], pop.end - t, rng, pop.channel[m.who]
            )
            out["orders"] += np.bincount(m.draw, weights=orders, minlength=B)
            out["revenue"] += np.bincount(m.draw, weights=revenue, minlength=B)

    def _remove(self, pop: JourneyData, m: _Movers, out: dict, sign: float = -1.0) -> None:
        """Take (``sign=-1``) or add (``+1``) the outcomes of the journeys in ``m``."""
        B = len(out["buyers"])
        out["buyers"] += sign * np.bincount(
            m.draw, weights=pop.bought[m.who].astype(float), minlength=B
        )
        if pop.orders is not None:
            out["orders"] += sign * np.bincount(m.draw, weights=pop.orders[m.who], minlength=B)
            out["revenue"] += sign * np.bincount(m.draw, weights=pop.revenue[m.who], minlength=B)

    def _spend_shift(self, pop, iv: SpendShift, e, out, rng) -> None:
        ok = pop.first >= iv.start
        source = np.flatnonzero(ok & (pop.channel == pop.channel_code(iv.source)))
        target = np.flatnonzero(ok & (pop.channel == pop.channel_code(iv.target)))
        gone = _sample(source, e, rng)
        self._remove(pop, gone, out)
        n_new = np.round(np.bincount(gone.draw, minlength=len(e)) * iv.ratio).astype(int)
        draw = np.repeat(np.arange(len(e)), n_new)
        self._remove(
            pop, _Movers(draw, target[rng.integers(0, len(target), len(draw))]), out, sign=1.0
        )

    def _share_of_year(self, pop: JourneyData, start: float) -> float:
        """Share of the population's period after ``start`` (value changes act from then on)."""
        begin = pop.end - 365.0
        return float(np.clip((pop.end - max(start, begin)) / 365.0, 0.0, 1.0))

    def _value_change(self, pop, iv: ValueChange, e, out, rng) -> None:
        c = self.customers_
        if c is None or not len(c):
            return
        ok = np.ones(len(c), bool)
        if iv.stage is not None:
            ok &= c["stage_index"].to_numpy() >= STAGES.index(iv.stage)
        if iv.category is not None:
            ok &= c["category"].to_numpy() == pop.code(iv.category)
        share = self._share_of_year(pop, iv.start)
        for metric, col in (("orders", "purchases"), ("revenue", "clv")):
            x = c.loc[ok, col].to_numpy(float)
            total = x.sum() + rng.normal(0, 1, len(e)) * np.sqrt(len(x)) * (
                x.std() if len(x) else 0
            )
            out[metric] += e * total * share

    def _pain_relief(self, pop, iv: PainRelief, e, out, rng) -> np.ndarray:
        """Add the NPS (and value) change of a pain relief; returns the value effects drawn."""
        pain = self.pains_.get(iv.theme)
        if pain is None:
            raise KeyError(f"no pain point {iv.theme!r}; known: {', '.join(self.pains_) or 'none'}")
        idx = rng.integers(0, len(pain["prevalence"]), len(e))
        prevalence, gap = pain["prevalence"][idx], pain["gap"][idx]
        out["nps"] += e * prevalence * gap
        lo, hi = iv.value_effect
        v = lo + (hi - lo) * rng.random(len(e))
        share = self._share_of_year(pop, iv.start)
        out["revenue"] += v * e * prevalence * pain.get("value", 0.0) * share
        out["orders"] += v * e * prevalence * pain.get("purchases", 0.0) * share
        return v
