"""What a new buyer brings: orders and revenue within ``h`` days of the first purchase.

:class:`ValueCurve` keeps, for every buyer, the cumulative orders and revenue week by week after
the first order (:func:`cjlab.features.plan.value_by_period`) and how long the buyer has been
observed. The value a
*new* buyer brings within ``h`` days is drawn from the buyers of the same category observed for
at least ``h`` days (a draw of one real buyer's first ``h`` days, so a simulated sum carries the
spread of real customers: some buy once, some every month); :meth:`ValueCurve.mean` is the
average over those buyers. Categories with fewer than ``min_buyers`` buyers borrow from all
buyers.

Examples
--------
>>> import pandas as pd
>>> w = pd.DataFrame({"customer_id": [1, 1, 2], "period": [0, 2, 0], "orders": [1, 1, 1],
...                   "revenue": [10.0, 5.0, 20.0]})
>>> first = pd.Series([100.0, 120.0], index=[1, 2])
>>> vc = ValueCurve(min_buyers=1).fit(w, first, pd.Series([0, 0], index=[1, 2]), end=200.0)
>>> vc.mean(0, 7.0), vc.mean(0, 30.0)
((1.0, 15.0), (1.5, 17.5))
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ValueCurve"]


class ValueCurve:
    """Orders and revenue of a new buyer within ``h`` days of the first purchase, by category.

    Parameters
    ----------
    min_buyers : a category with fewer buyers borrows the curve of all buyers.
    week_days : days per step of the weekly table.

    Attributes
    ----------
    orders_, revenue_ : cumulative orders and revenue per buyer (rows) by week (columns).
    observed_ : days each buyer has been observed since the first order.
    donors_ : (category, detail) codes -> buyer rows, longest observed first ((c, -1): the
        category's buyers, (-1, -1): all buyers).
    max_days_ : longest observation.
    """

    def __init__(self, min_buyers: int = 30, week_days: float = 7.0):
        self.min_buyers = min_buyers
        self.week_days = week_days

    def fit(
        self,
        weekly: pd.DataFrame,
        first: pd.Series,
        category: pd.Series,
        end: float,
        detail: pd.Series | None = None,
    ) -> ValueCurve:
        """Fit on the weekly table.

        Parameters
        ----------
        weekly : customer_id, period (0 = the week of the first order), orders, revenue
            (:func:`cjlab.features.plan.value_by_period`).
        first : first order day (days since 1970-01-01) per customer_id.
        category : category code per customer_id.
        end : the day the data end (observation end).
        detail : an optional second code per customer_id (the first-touch channel): buyers of
            the same category *and* detail are the donors when there are ``min_buyers`` of them.
        """
        ids = first.index.to_numpy()
        n_weeks = int(max(weekly["period"].max() + 1 if len(weekly) else 1, 1))
        row = pd.Series(np.arange(len(ids)), index=ids)
        w = weekly[weekly["customer_id"].isin(row.index)]
        r, c = row.loc[w["customer_id"]].to_numpy(), w["period"].to_numpy(int)
        orders = np.zeros((len(ids), n_weeks))
        revenue = np.zeros((len(ids), n_weeks))
        np.add.at(orders, (r, c), w["orders"].to_numpy(float))
        np.add.at(revenue, (r, c), w["revenue"].to_numpy(float))
        self.orders_, self.revenue_ = orders.cumsum(axis=1), revenue.cumsum(axis=1)
        self.observed_ = np.maximum(end - first.to_numpy(float), 0.0)
        self.max_days_ = float(self.observed_.max()) if len(ids) else 0.0
        cats = category.reindex(ids).to_numpy()
        dets = (
            np.full(len(ids), -1)
            if detail is None
            else detail.reindex(ids).fillna(-1).to_numpy(int)
        )
        order = np.argsort(-self.observed_, kind="stable")
        self.donors_ = {(-1, -1): order}
        for k in np.unique(cats):
            rows = order[cats[order] == k]
            self.donors_[(int(k), -1)] = rows if len(rows) >= self.min_buyers else order
            for d in np.unique(dets[rows]) if detail is not None else ():
                sub = rows[dets[rows] == d]
                if len(sub) >= self.min_buyers and d >= 0:
                    self.donors_[(int(k), int(d))] = sub
        return self

    def _pool(self, category: int, detail: int = -1) -> np.ndarray:
        d = self.donors_
        return d.get((int(category), int(detail)), d.get((int(category), -1), d[(-1, -1)]))

    def _week(self, h: np.ndarray) -> np.ndarray:
        weeks = self.orders_.shape[1]
        return np.clip(np.floor(np.maximum(h, 0) / self.week_days).astype(int), 0, weeks - 1)

    def sample(
        self,
        category: np.ndarray,
        h: np.ndarray,
        rng: np.random.Generator,
        detail: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Orders and revenue within ``h`` days of one real buyer of each ``category`` (and
        ``detail``), drawn among those observed that long (the longest observed when nobody was)."""
        category, h = np.asarray(category, int), np.asarray(h, float)
        detail = np.full(len(h), -1) if detail is None else np.asarray(detail, int)
        orders, revenue = np.zeros(len(h)), np.zeros(len(h))
        keys = category * 100_000 + detail + 1
        for key in np.unique(keys):
            m = np.flatnonzero(keys == key)
            pool = self._pool(category[m[0]], detail[m[0]])
            seen = self.observed_[pool]
            n_ok = np.searchsorted(-seen, -h[m], side="right")  # donors observed >= h
            n_ok = np.maximum(n_ok, min(10, len(pool)))
            pick = pool[(rng.random(len(m)) * n_ok).astype(int)]
            wk = self._week(h[m])
            orders[m], revenue[m] = self.orders_[pick, wk], self.revenue_[pick, wk]
        return orders, revenue

    def mean(self, category: int, h: float, detail: int = -1) -> tuple[float, float]:
        """Mean orders and revenue within ``h`` days of the first purchase (buyers of the
        category observed that long)."""
        pool = self._pool(category, detail)
        seen = self.observed_[pool]
        rows = pool[seen >= h] if (seen >= h).any() else pool[: min(10, len(pool))]
        wk = int(self._week(np.array([h]))[0])
        return float(self.orders_[rows, wk].mean()), float(self.revenue_[rows, wk].mean())
