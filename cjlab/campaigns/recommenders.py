"""Next-best-offer rankers: what each customer is most likely to buy next, among items not bought.

Three models in scikit-learn style on a customer x item purchase matrix (``fit(purchases)``
returns self; ``scores(customers)`` gives a score per customer and item; items a customer has
bought get ``-inf``; :meth:`Recommender.recommend` takes the top ``k``):

- :class:`Popularity` — the baseline: items by the number of customers who bought them;
- :class:`AssociationRules` — pairs of items bought by the same customer: support,
  confidence and lift (the merchandisers' pair table, :attr:`AssociationRules.rules_`); a
  customer's score for an item is the highest confidence of a rule from an item they bought;
- :class:`ItemItem` — item-based collaborative filtering: cosine similarity between the items'
  buyer vectors; the score sums the similarities to the items the customer bought.

``purchases`` is the output of :func:`cjlab.features.campaigns.item_purchases` (customer_id,
item, n_orders ...): a customer "bought" an item when they have an order of it.

Examples
--------
>>> import pandas as pd
>>> p = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "b", "a"]})
>>> ItemItem(shrinkage=0).fit(p).recommend(k=1).round(3).to_dict("list")
{'customer_id': [3], 'rank': [1], 'item': ['b'], 'score': [0.816]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["AssociationRules", "ItemItem", "Popularity", "Recommender", "purchase_matrix"]


def purchase_matrix(
    purchases: pd.DataFrame, items: Sequence[str] | None = None
) -> tuple[sparse.csr_matrix, pd.Index, pd.Index]:
    """Binary customers x items matrix (CSR), with the customer and item indexes."""
    cust = pd.Index(pd.unique(purchases["customer_id"]))
    item_index = pd.Index(
        sorted(pd.unique(purchases["item"].astype(str))) if items is None else items
    )
    r = cust.get_indexer(purchases["customer_id"])
    c = item_index.get_indexer(purchases["item"].astype(str))
    ok = (r >= 0) & (c >= 0)
    m = sparse.csr_matrix((np.ones(ok.sum()), (r[ok], c[ok])), shape=(len(cust), len(item_index)))
    m.data[:] = 1.0  # duplicates summed: back to 0/1
    return m, cust, item_index


class Recommender:
    """Base: ``fit(purchases)`` learns from the purchase matrix; ``recommend(k)`` ranks."""

    def fit(self, purchases: pd.DataFrame) -> Recommender:
        self.matrix_, self.customers_, self.items_ = purchase_matrix(purchases)
        self.item_buyers_ = np.asarray(self.matrix_.sum(axis=0)).ravel()
        self._learn()
        return self

    def _learn(self) -> None:  # pragma: no cover - models override it
        pass

    def _raw(self, rows: sparse.csr_matrix) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def scores(self, rows: slice | np.ndarray | None = None) -> np.ndarray:
        """Scores (customers x items) of the fitted customers; bought items are ``-inf``."""
        m = self.matrix_ if rows is None else self.matrix_[rows]
        s = np.asarray(self._raw(m), dtype=float)
        s = s + 1e-9 * self.item_buyers_ / max(self.item_buyers_.max(), 1)  # ties: popularity
        s[m.toarray() > 0] = -np.inf
        return s

    def recommend(
        self, k: int = 3, customers: Sequence[Any] | None = None, chunk: int | None = None
    ) -> pd.DataFrame:
        """Top-``k`` items not yet bought: customer_id, rank (1 = best), item, score.

        Customers not in the fitted data get nothing (no purchase to start from); items no
        fitted customer bought are never recommended. ``customers`` limits the output.
        """
        rows = np.arange(len(self.customers_))
        if customers is not None:
            rows = self.customers_.get_indexer(pd.Index(customers))
            rows = rows[rows >= 0]
        k = int(min(k, len(self.items_)))
        chunk = chunk or max(1, 2_000_000 // max(len(self.items_), 1))
        out = []
        for s in range(0, len(rows), chunk):
            idx = rows[s : s + chunk]
            sc = self.scores(idx)
            top = np.argsort(-sc, axis=1, kind="stable")[:, :k]
            val = np.take_along_axis(sc, top, axis=1)
            out.append(
                pd.DataFrame(
                    {
                        "customer_id": np.repeat(self.customers_[idx], k),
                        "rank": np.tile(np.arange(1, k + 1), len(idx)),
                        "item": np.asarray(self.items_)[top.ravel()],
                        "score": val.ravel(),
                    }
                )
            )
        rec = (
            pd.concat(out, ignore_index=True)
            if out
            else pd.DataFrame(columns=["customer_id", "rank", "item", "score"])
        )
        rec = rec[np.isfinite(rec["score"].astype(float))]
        rec["score"] = rec["score"].astype(float).round(9)
        return rec.reset_index(drop=True)


class Popularity(Recommender):
    """The baseline: every customer gets the most bought items they do not have yet."""

    def _raw(self, rows):
        return np.tile(self.item_buyers_ / max(len(self.customers_), 1), (rows.shape[0], 1))


class AssociationRules(Recommender):
    """Item pairs bought by the same customer: support, confidence and lift.

    Parameters
    ----------
    min_support : pairs bought together by fewer than this share of customers are dropped
        from the pair table (scores use every pair).
    min_customers : pairs bought together by fewer customers are dropped from the pair table
        (a lift from two customers says little).
    """

    def __init__(self, min_support: float = 0.0, min_customers: int = 5) -> None:
        self.min_support = min_support
        self.min_customers = min_customers

    def _learn(self) -> None:
        m = self.matrix_
        n = max(m.shape[0], 1)
        co = (m.T @ m).toarray().astype(float)
        supp = self.item_buyers_ / n
        with np.errstate(divide="ignore", invalid="ignore"):
            conf = np.where(self.item_buyers_[:, None] > 0, co / self.item_buyers_[:, None], 0.0)
            lift = np.where(supp[None, :] > 0, conf / supp[None, :], 0.0)
        np.fill_diagonal(conf, 0.0)
        self.confidence_ = conf
        a, b = np.nonzero(np.triu(co, 1) > 0) if len(co) else (np.array([], int), np.array([], int))
        rules = pd.DataFrame(
            {
                "item": np.asarray(self.items_)[a],
                "also_bought": np.asarray(self.items_)[b],
                "customers_both": co[a, b].astype(int),
                "support": co[a, b] / n,
                "confidence": conf[a, b],
                "confidence_reverse": conf[b, a],
                "lift": lift[a, b],
            }
        )
        rules = rules[
            (rules["support"] >= self.min_support) & (rules["customers_both"] >= self.min_customers)
        ]
        self.rules_ = rules.sort_values(["lift", "support"], ascending=False).reset_index(drop=True)

    def _raw(self, rows):
        out = np.zeros((rows.shape[0], len(self.items_)))
        for i in range(rows.shape[0]):
            bought = rows.indices[rows.indptr[i] : rows.indptr[i + 1]]
            if len(bought):
                out[i] = self.confidence_[bought].max(axis=0)
        return out


class ItemItem(Recommender):
    """Item-based collaborative filtering with cosine similarity of the buyer vectors.

    Parameters
    ----------
    shrinkage : added to the norm product (similarities of rarely bought items shrink to 0).
    """

    def __init__(self, shrinkage: float = 10.0) -> None:
        self.shrinkage = shrinkage

    def _learn(self) -> None:
        m = self.matrix_
        co = (m.T @ m).toarray().astype(float)
        norm = np.sqrt(np.diag(co))
        sim = co / (np.outer(norm, norm) + self.shrinkage)
        np.fill_diagonal(sim, 0.0)
        self.similarity_ = sim

    def _raw(self, rows):
        return np.asarray(rows @ self.similarity_)
