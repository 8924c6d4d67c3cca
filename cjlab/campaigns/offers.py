"""Next best offer: the rankers evaluated on a time split, and the offer list.

The rankers (:mod:`cjlab.campaigns.recommenders`) learn from the purchases up to a cut-off day;
the test is what customers bought *after* it that they had not bought before (new items).
For each customer with such a purchase, the top ``k`` recommendations are scored:

- **hit rate@k** — share of customers with at least one new item in their top ``k``;
- **recall@k** — share of a customer's new items found in the top ``k``;
- **MAP@k** — mean average precision: precision at each hit, averaged over
  ``min(k, new items)``, so early hits count more.

Intervals resample the test customers (the same resamples for every method, so differences to
the popularity baseline are paired).

Examples
--------
>>> import pandas as pd
>>> rec = pd.DataFrame({"customer_id": [1, 1, 2, 2], "rank": [1, 2, 1, 2], "item": ["a", "b", "c", "a"]})
>>> new = pd.DataFrame({"customer_id": [1, 2], "item": ["b", "x"]})
>>> rank_metrics(rec, new, k=2)[["hit", "recall", "ap"]].to_dict("list")
{'hit': [1.0, 0.0], 'recall': [1.0, 0.0], 'ap': [0.5, 0.0]}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjlab.campaigns.recommenders import AssociationRules, ItemItem, Popularity, Recommender

__all__ = ["OFFER_METHODS", "evaluate_offers", "make_recommender", "new_items", "rank_metrics"]

OFFER_METHODS = ("popularity", "association_rules", "item_item")
LABELS = {
    "popularity": "Most popular (baseline)",
    "association_rules": "Association rules",
    "item_item": "Item-item collaborative filtering",
}


def make_recommender(method: str, min_support: float = 0.0) -> Recommender:
    """A ranker by name: ``popularity``, ``association_rules`` or ``item_item``."""
    if method == "popularity":
        return Popularity()
    if method == "association_rules":
        return AssociationRules(min_support=min_support)
    if method == "item_item":
        return ItemItem()
    raise ValueError(f"unknown next-best-offer method {method!r}: {', '.join(OFFER_METHODS)}")


def new_items(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Test purchases of items the customer had not bought before, by customers seen in training."""
    seen = train[["customer_id", "item"]].drop_duplicates()
    t = test[["customer_id", "item"]].drop_duplicates()
    t = t[t["customer_id"].isin(seen["customer_id"])]
    m = t.merge(seen.assign(_seen=True), on=["customer_id", "item"], how="left")
    return m[m["_seen"].isna()].drop(columns="_seen").reset_index(drop=True)


def rank_metrics(rec: pd.DataFrame, relevant: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per customer of ``relevant``: hit, recall and average precision of the top ``k``."""
    top = rec[rec["rank"] <= k][["customer_id", "rank", "item"]]
    hits = top.merge(relevant.assign(_rel=1), on=["customer_id", "item"], how="left")
    hits["_rel"] = hits["_rel"].fillna(0.0)
    hits = hits.sort_values(["customer_id", "rank"])
    hits["_cum"] = hits.groupby("customer_id")["_rel"].cumsum()
    hits["_prec"] = hits["_rel"] * hits["_cum"] / hits["rank"]
    per = hits.groupby("customer_id").agg(found=("_rel", "sum"), prec=("_prec", "sum"))
    n_rel = relevant.groupby("customer_id").size().rename("n_relevant")
    out = n_rel.to_frame().join(per, how="left").fillna(0.0)
    out["hit"] = (out["found"] > 0).astype(float)
    out["recall"] = out["found"] / out["n_relevant"]
    out["ap"] = out["prec"] / np.minimum(k, out["n_relevant"])
    return out.reset_index()[["customer_id", "n_relevant", "hit", "recall", "ap"]]


def _summaries(
    per: dict[str, pd.DataFrame], k: int, n_boot: int, level: float, random_state: int
) -> list[dict]:
    rng = np.random.default_rng(random_state)
    n = len(next(iter(per.values())))
    idx = rng.integers(0, n, size=(n_boot, n)) if n_boot and n else None
    tail = (1 - level) / 2
    base = per.get("popularity")
    rows = []
    for method, m in per.items():
        row = {"method": method, "label": LABELS.get(method, method), "k": k, "customers": n}
        for metric in ("hit", "recall", "ap"):
            v = m[metric].to_numpy()
            name = {"hit": "hit_rate", "recall": "recall", "ap": "map"}[metric]
            row[name] = float(v.mean()) if n else np.nan
            boot = v[idx].mean(axis=1) if idx is not None else np.array([np.nan])
            row[f"{name}_low"], row[f"{name}_high"] = np.quantile(boot, [tail, 1 - tail])
            if base is not None and method != "popularity" and idx is not None:
                d = (v - base[metric].to_numpy())[idx].mean(axis=1)
                row[f"{name}_vs_popularity_low"], row[f"{name}_vs_popularity_high"] = np.quantile(
                    d, [tail, 1 - tail]
                )
        rows.append(row)
    return rows


def evaluate_offers(
    train: pd.DataFrame,
    test: pd.DataFrame,
    methods: Sequence[str] = OFFER_METHODS,
    ks: Sequence[int] = (1, 2, 3, 5),
    n_boot: int = 200,
    level: float = 0.9,
    random_state: int = 0,
    min_support: float = 0.0,
) -> tuple[pd.DataFrame, int]:
    """Hit rate, recall and MAP at each ``k`` per method on the time split.

    Parameters
    ----------
    train, test : :func:`cjlab.features.campaigns.item_purchases` before and after the cut-off.
    methods : rankers (:data:`OFFER_METHODS`; include ``popularity`` for the comparison).
    ks : list lengths evaluated.
    n_boot, level : customer resamples and interval mass.
    random_state : seed of the resampling.
    min_support : for the association rules' pair table.

    Returns
    -------
    (table, n): one row per method and ``k`` with hit_rate, recall, map (+ _low/_high, and the
    paired difference to popularity ``*_vs_popularity_low/_high``); ``n`` test customers.
    """
    relevant = new_items(train, test)
    customers = relevant["customer_id"].unique()
    rows = []
    if len(customers) == 0:
        return pd.DataFrame(rows), 0
    recs = {
        m: make_recommender(m, min_support).fit(train).recommend(max(ks), customers)
        for m in methods
    }
    order = pd.Index(np.sort(customers))
    for k in ks:
        per = {
            m: rank_metrics(r, relevant, k).set_index("customer_id").reindex(order).fillna(0.0)
            for m, r in recs.items()
        }
        rows += _summaries(per, k, n_boot, level, random_state)
    return pd.DataFrame(rows), len(customers)
