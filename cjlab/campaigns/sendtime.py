"""Best send time: the hour of the week each customer is most likely to open or click an e-mail.

:class:`SendTimeModel` (scikit-learn style: ``fit(counts, groups)`` returns self) models the
hour of day and the day of week of a customer's engagements separately, each as a multinomial
with a Dirichlet prior centred on the customer's group profile (a segment, or everyone) —
empirical Bayes: the prior's strength ``kappa`` is the value that maximises the
Dirichlet-multinomial likelihood of all customers' counts. A customer's profile is then
``(own counts + kappa × group profile) / (own engagements + kappa)``: a long history speaks
for itself, a thin one leans on the group. The recommended hour of the week is the best day
with the best hour.

:func:`evaluate_send_time` scores the recommendations on engagements held out after a cut-off:
the share of a customer's later opens within ``tolerance`` hours of the recommended hour of day
(circular), against the population's single best hour and the customer's raw own history (the
hour with most of their opens, the earliest of equals).

Examples
--------
>>> import pandas as pd
>>> c = pd.DataFrame({"customer_id": [1] * 5 + [2], "weekday": [0, 1, 2, 3, 4, 0],
...                   "hour": [20, 20, 21, 20, 20, 8], "n": [1, 1, 1, 1, 1, 1]})
>>> m = SendTimeModel().fit(c)
>>> m.recommend().set_index("customer_id")["hour"].to_dict()
{1: 20, 2: 20}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import gammaln

__all__ = ["WEEKDAYS", "SendTimeModel", "evaluate_send_time", "fit_kappa"]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _dm_loglik(kappa: float, counts: np.ndarray, prior: np.ndarray) -> float:
    """Dirichlet-multinomial log likelihood (without the multinomial coefficient)."""
    a = kappa * prior
    n = counts.sum(axis=1)
    return float(
        np.sum(gammaln(kappa) - gammaln(n + kappa)) + np.sum(gammaln(counts + a) - gammaln(a))
    )


def fit_kappa(
    counts: np.ndarray, prior: np.ndarray, bounds: tuple[float, float] = (0.05, 1e4)
) -> float:
    """The prior strength that maximises the Dirichlet-multinomial likelihood (empirical Bayes).

    Parameters
    ----------
    counts : customers x bins engagement counts.
    prior : customers x bins prior means (rows sum to 1; each customer's group profile).
    bounds : search range of ``kappa``.
    """
    keep = counts.sum(axis=1) >= 2  # single engagements carry no information on dispersion
    if keep.sum() < 2:
        return float(bounds[1])
    c, p = counts[keep], np.clip(prior[keep], 1e-6, None)
    res = optimize.minimize_scalar(
        lambda lk: -_dm_loglik(np.exp(lk), c, p), bounds=tuple(np.log(bounds)), method="bounded"
    )
    return float(np.exp(res.x))


def _matrix(counts: pd.DataFrame, col: str, bins: int, customers: pd.Index) -> np.ndarray:
    g = counts.groupby(["customer_id", col])["n"].sum()
    m = np.zeros((len(customers), bins))
    r = customers.get_indexer(g.index.get_level_values(0))
    m[r, g.index.get_level_values(1).astype(int)] = g.to_numpy()
    return m


def _profiles(m: np.ndarray, groups: np.ndarray, smoothing: float = 1.0) -> tuple[np.ndarray, dict]:
    """Population profile and each group's profile (shrunk toward the population)."""
    pop = (m.sum(axis=0) + smoothing) / (m.sum() + smoothing * m.shape[1])
    prof = {}
    for g in np.unique(groups):
        s = m[groups == g].sum(axis=0)
        prof[g] = (s + m.shape[1] * pop) / (s.sum() + m.shape[1])
    return pop, prof


@dataclass
class _Part:
    kappa: float
    population: np.ndarray
    groups: dict
    posterior: np.ndarray


class SendTimeModel:
    """Per-customer hour-of-day and day-of-week profiles, shrunk toward the group's (see module).

    Parameters
    ----------
    min_engagements : customers with at least this many engagements are "own history" in the
        schedule; the others follow their group's profile (their own few opens still count).
    """

    def __init__(self, min_engagements: int = 5) -> None:
        self.min_engagements = min_engagements

    def _part(self, m: np.ndarray, groups: np.ndarray) -> _Part:
        pop, prof = _profiles(m, groups)
        prior = np.vstack([prof[g] for g in groups]) if len(groups) else np.zeros((0, m.shape[1]))
        kappa = fit_kappa(m, prior)
        post = (m + kappa * prior) / (m.sum(axis=1, keepdims=True) + kappa)
        return _Part(kappa, pop, prof, post)

    def fit(self, counts: pd.DataFrame, groups: pd.Series | None = None) -> SendTimeModel:
        """Fit on :func:`cjlab.features.campaigns.engagement_hours` counts.

        ``groups`` maps customer_id -> group (segment); None or missing = one group.
        """
        self.customers_ = pd.Index(pd.unique(counts["customer_id"]))
        g = (
            pd.Series("all", index=self.customers_)
            if groups is None
            else groups.reindex(self.customers_).astype("string").fillna("other")
        )
        self.group_of_ = np.asarray(g.astype(str))
        hours = _matrix(counts, "hour", 24, self.customers_)
        days = _matrix(counts, "weekday", 7, self.customers_)
        self.engagements_ = hours.sum(axis=1)
        self.hour_, self.day_ = self._part(hours, self.group_of_), self._part(days, self.group_of_)
        self.hour_counts_ = hours
        return self

    @property
    def population_hour_(self) -> int:
        """The population's best hour of day."""
        return int(np.argmax(self.hour_.population))

    def recommend(self) -> pd.DataFrame:
        """One row per fitted customer: customer_id, weekday (0 = Monday), day, hour, probability
        (the model's share of the customer's opens in that hour of day), engagements, basis."""
        h = np.argmax(self.hour_.posterior, axis=1)
        d = np.argmax(self.day_.posterior, axis=1)
        own = self.engagements_ >= self.min_engagements
        return pd.DataFrame(
            {
                "customer_id": self.customers_,
                "weekday": d,
                "day": np.asarray(WEEKDAYS)[d],
                "hour": h,
                "probability": self.hour_.posterior[np.arange(len(h)), h],
                "engagements": self.engagements_.astype(int),
                "group": self.group_of_,
                "basis": np.where(own, "own history", "group profile"),
            }
        )


def _circular_hits(test: pd.DataFrame, hour: pd.Series, tolerance: int) -> pd.Series:
    t = test.assign(_rec=test["customer_id"].map(hour))
    d = (t["hour"] - t["_rec"]).abs()
    t["_hit"] = (np.minimum(d, 24 - d) <= tolerance).astype(float) * t["n"]
    g = t.groupby("customer_id")
    return g["_hit"].sum() / g["n"].sum()


def evaluate_send_time(
    model: SendTimeModel,
    test: pd.DataFrame,
    tolerance: int = 1,
    min_engagements: Sequence[int] = (1, 5),
    n_boot: int = 200,
    level: float = 0.9,
    random_state: int = 0,
) -> pd.DataFrame:
    """Held-out hit rates of the recommended hour against the population's best hour.

    Parameters
    ----------
    model : a fitted :class:`SendTimeModel` (on the engagements up to the cut-off).
    test : engagement counts after the cut-off (customer_id, weekday, hour, n).
    tolerance : an open counts as a hit within this many hours of the recommended hour.
    min_engagements : evaluate customers with at least this many training engagements.
    n_boot, level : customer resamples and interval mass.
    random_state : seed of the resampling.

    Returns
    -------
    One row per threshold and method (``model``, ``own history``, ``population``): customers,
    hit_rate (+ _low/_high), gain_vs_population (+ _low/_high; paired by customer).
    """
    rec = model.recommend().set_index("customer_id")
    own = pd.Series(np.argmax(model.hour_counts_, axis=1), index=model.customers_)  # ties: earliest
    pop = pd.Series(model.population_hour_, index=model.customers_)
    test = test[test["customer_id"].isin(model.customers_)]
    rng = np.random.default_rng(random_state)
    tail = (1 - level) / 2
    rows = []
    for m_min in min_engagements:
        keep = rec.index[rec["engagements"] >= m_min]
        tt = test[test["customer_id"].isin(keep)]
        if tt.empty:
            continue
        hits = {
            name: _circular_hits(tt, s, tolerance)
            for name, s in (("model", rec["hour"]), ("own history", own), ("population", pop))
        }
        n = len(hits["model"])
        idx = rng.integers(0, n, size=(n_boot, n))
        base = hits["population"].to_numpy()
        for name, h in hits.items():
            v = h.to_numpy()
            boot, gain = v[idx].mean(axis=1), (v - base)[idx].mean(axis=1)
            rows.append(
                {
                    "min_engagements": m_min,
                    "method": name,
                    "customers": n,
                    "hit_rate": v.mean(),
                    "hit_rate_low": np.quantile(boot, tail),
                    "hit_rate_high": np.quantile(boot, 1 - tail),
                    "gain_vs_population": (v - base).mean(),
                    "gain_low": np.quantile(gain, tail),
                    "gain_high": np.quantile(gain, 1 - tail),
                }
            )
    return pd.DataFrame(rows)
