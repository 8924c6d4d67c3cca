"""The journeys the simulator works on: one array per fact, one entry per customer.

:func:`journey_data` turns :func:`cjlab.features.plan.journey_states` (one row per customer)
into :class:`JourneyData`: integer codes for the category and the first-touch channel, the
furthest pre-purchase stage (0 .. 3, 4 = bought), and the first touch, last pre-purchase touch
and purchase as days since 1970-01-01 (NaN when absent). :func:`cohort` draws the journeys of
the next ``horizon_days`` from the complete journeys seen so far, at the rate customers arrived
in the last year: the population a plan acts on.

Examples
--------
>>> import pandas as pd
>>> s = pd.DataFrame({"customer_id": [1, 2], "category": ["mobile", None], "channel": ["web", "email"],
...                   "first_touch": pd.to_datetime(["2025-01-01", "2025-01-02"]),
...                   "last_touch": pd.to_datetime(["2025-01-03", "2025-01-02"]), "reached": [4, 0],
...                   "purchase": pd.to_datetime(["2025-01-04", None])})
>>> d = journey_data(s, "2025-01-31")
>>> d.categories, d.reached.tolist(), d.n
(('mobile', 'unknown'), [4, 0], 2)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

__all__ = ["UNKNOWN", "JourneyData", "cohort", "day_of", "journey_data"]

#: the category of customers whose category value is missing
UNKNOWN = "unknown"
_EPOCH = pd.Timestamp("1970-01-01")


def day_of(value) -> float:
    """A timestamp (or date text) as days since 1970-01-01 (float; NaN for missing)."""
    ts = pd.Timestamp(value)
    return np.nan if pd.isna(ts) else (ts - _EPOCH) / pd.Timedelta(days=1)


def _days(col: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(col)
    return ((ts - _EPOCH) / pd.Timedelta(days=1)).to_numpy(float)


@dataclass(frozen=True)
class JourneyData:
    """Customers' journeys as arrays (see the module docstring).

    Attributes
    ----------
    customer_id : ids, in the order of every other array.
    category, channel : integer codes into :attr:`categories` and :attr:`channels`.
    reached : furthest pre-purchase stage 0 .. 3, 4 = bought (-1: no pre-purchase touch).
    first, last, purchase : first touch, last pre-purchase touch before the purchase, purchase
        (days since 1970-01-01; NaN when absent).
    orders, revenue : what each journey brought up to ``end`` (zero without a purchase; None
        when the data have no orders).
    end : the day the journeys are observed to (the end of the analysis day).
    """

    customer_id: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    reached: np.ndarray
    first: np.ndarray
    last: np.ndarray
    purchase: np.ndarray
    categories: tuple[str, ...]
    channels: tuple[str, ...]
    end: float
    orders: np.ndarray | None = None
    revenue: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of journeys."""
        return len(self.customer_id)

    def code(self, category: str) -> int:
        """The code of a category value (KeyError naming the known ones)."""
        if category not in self.categories:
            raise KeyError(
                f"category {category!r} is not in the data ({', '.join(self.categories)})"
            )
        return self.categories.index(category)

    def channel_code(self, channel: str) -> int:
        """The code of a first-touch channel (KeyError naming the known ones)."""
        if channel not in self.channels:
            raise KeyError(
                f"channel {channel!r} is not a first-touch channel ({', '.join(self.channels)})"
            )
        return self.channels.index(channel)

    @property
    def bought(self) -> np.ndarray:
        """True for journeys with a purchase by ``end``."""
        return self.purchase <= self.end

    def take(self, idx: np.ndarray) -> JourneyData:
        """The journeys at positions ``idx`` (repeats allowed)."""
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        return replace(self, **{k: v[idx] for k, v in arrays.items() if v is not None})


_ARRAYS = (
    "customer_id",
    "category",
    "channel",
    "reached",
    "first",
    "last",
    "purchase",
    "orders",
    "revenue",
)


def journey_data(states: pd.DataFrame, as_of, value: pd.DataFrame | None = None) -> JourneyData:
    """:class:`JourneyData` from :func:`cjlab.features.plan.journey_states` (a pandas frame).

    Parameters
    ----------
    states : customer_id, category, channel, first_touch, last_touch, reached, purchase.
    as_of : the analysis day (journeys are observed to its end).
    value : per customer_id the orders and revenue up to ``as_of`` (e.g. summed
        :func:`cjlab.features.plan.value_by_period`); None without orders.
    """
    s = states[states["reached"] >= 0].reset_index(drop=True)
    orders = revenue = None
    if value is not None:
        v = value.groupby("customer_id")[["orders", "revenue"]].sum()
        v = v.reindex(s["customer_id"]).fillna(0.0)
        orders, revenue = v["orders"].to_numpy(float), v["revenue"].to_numpy(float)
    cat = s["category"].astype("string").fillna(UNKNOWN)
    cats = tuple(sorted(set(cat)))
    chan = s["channel"].astype("string").fillna(UNKNOWN)
    chans = tuple(sorted(set(chan)))
    return JourneyData(
        customer_id=s["customer_id"].to_numpy(),
        category=cat.map({c: i for i, c in enumerate(cats)}).to_numpy(int),
        channel=chan.map({c: i for i, c in enumerate(chans)}).to_numpy(int),
        reached=s["reached"].to_numpy(int),
        first=_days(s["first_touch"]),
        last=_days(s["last_touch"]),
        purchase=_days(s["purchase"]),
        categories=cats,
        channels=chans,
        end=day_of(as_of) + 1.0,
        orders=orders,
        revenue=revenue,
    )


def cohort(
    data: JourneyData,
    horizon_days: float = 365.0,
    follow_up_days: float = 60.0,
    rng: np.random.Generator | None = None,
    value=None,
) -> JourneyData:
    """The journeys of the next ``horizon_days``: complete journeys drawn again, moved in time.

    As many journeys as began in the last ``horizon_days`` before the end (scaled up when the
    data are shorter) are drawn with replacement from the journeys that began at least
    ``follow_up_days`` before the end (their outcome is known); each starts at a uniform time
    in the horizon and keeps its own timing after the start. Purchases after the horizon do not
    count, as in the data.

    Returns
    -------
    :class:`JourneyData` whose ``end`` is the end of the horizon.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    span = data.end - np.nanmin(data.first)
    recent = int(np.sum(data.first >= data.end - horizon_days))
    n = round(recent * max(1.0, horizon_days / max(span, 1.0)))
    pool = np.flatnonzero(data.first <= data.end - follow_up_days)
    if n == 0 or len(pool) == 0:
        raise ValueError(
            f"no complete journeys to draw the next {horizon_days:.0f} days from "
            f"(journeys need {follow_up_days:.0f} days of follow-up)"
        )
    out = data.take(pool[rng.integers(0, len(pool), n)])
    shift = data.end + rng.random(n) * horizon_days - out.first
    out = replace(
        out,
        first=out.first + shift,
        last=out.last + shift,
        purchase=out.purchase + shift,
        end=data.end + horizon_days,
    )
    if value is None:
        return replace(out, orders=None, revenue=None)
    bought = out.bought
    orders, revenue = np.zeros(n), np.zeros(n)
    h = out.end - out.purchase[bought]
    orders[bought], revenue[bought] = value.sample(
        out.category[bought], h, rng, out.channel[bought]
    )
    return replace(out, orders=orders, revenue=revenue)
