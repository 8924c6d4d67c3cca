"""Next best offer: rankers and metrics against brute force, the demo's planted affinities, online retail.

* association rules (support, confidence, lift) equal a count over every pair of items;
* item-item similarities equal scikit-learn's cosine similarity (without shrinkage);
* hit rate, recall and average precision equal their textbook definitions written as loops;
* on the demo company, the products offered carry each customer's planted style, the models
  beat the popularity baseline on a time split, and the category pair lifts follow the lift
  the planted segment mixes imply;
* on the online-retail sample (products = StockCode), the evaluation runs on a time split and
  the models are no worse than the most popular products.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cjlab.campaigns.offers import evaluate_offers, new_items, rank_metrics
from cjlab.campaigns.recommenders import AssociationRules, ItemItem, Popularity


def _baskets(seed: int = 0, n: int = 300, items: str = "abcdefg") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (c, i)
        for c in range(n)
        for i in items
        if rng.random() < (0.15 + 0.5 * (c % 3 == items.index(i) % 3))
    ]
    return pd.DataFrame(rows, columns=["customer_id", "item"])


def test_association_rules_equal_a_count_over_pairs():
    p = _baskets()
    r = AssociationRules().fit(p).rules_.set_index(["item", "also_bought"])
    sets = p.groupby("customer_id")["item"].apply(set)
    n = len(sets)
    for a, b in itertools.combinations(sorted(p["item"].unique()), 2):
        both = sum(a in s and b in s for s in sets)
        na, nb = sum(a in s for s in sets), sum(b in s for s in sets)
        row = r.loc[(a, b)]
        assert row["customers_both"] == both
        assert row["support"] == pytest.approx(both / n)
        assert row["confidence"] == pytest.approx(both / na)
        assert row["confidence_reverse"] == pytest.approx(both / nb)
        assert row["lift"] == pytest.approx((both / na) / (nb / n))


def test_item_item_similarity_is_the_cosine_of_buyer_vectors():
    from sklearn.metrics.pairwise import cosine_similarity

    p = _baskets(1)
    m = ItemItem(shrinkage=0.0).fit(p)
    ref = cosine_similarity(m.matrix_.T.toarray())
    np.fill_diagonal(ref, 0.0)
    np.testing.assert_allclose(m.similarity_, ref, atol=1e-12)


def test_recommendations_skip_bought_items_and_popularity_orders_by_buyers():
    p = _baskets(2)
    for model in (Popularity(), AssociationRules(), ItemItem()):
        rec = model.fit(p).recommend(k=3)
        bought = set(map(tuple, p[["customer_id", "item"]].to_numpy()))
        assert not any((c, i) in bought for c, i in zip(rec["customer_id"], rec["item"]))
        assert rec.groupby("customer_id")["rank"].apply(list).map(lambda r: r == sorted(r)).all()
    counts = p.groupby("item")["customer_id"].nunique()
    rec = Popularity().fit(p).recommend(k=7)
    for _, r in rec.groupby("customer_id"):
        assert list(counts[r["item"]]) == sorted(counts[r["item"]], reverse=True)


def test_rank_metrics_equal_their_definitions():
    rng = np.random.default_rng(3)
    items = list("abcdefghij")
    rec = pd.DataFrame(
        [(c, r + 1, it) for c in range(50) for r, it in enumerate(rng.permutation(items)[:5])],
        columns=["customer_id", "rank", "item"],
    )
    rel = pd.DataFrame(
        [(c, it) for c in range(50) for it in rng.choice(items, rng.integers(1, 4), replace=False)],
        columns=["customer_id", "item"],
    )
    got = rank_metrics(rec, rel, k=3).set_index("customer_id")
    for c in range(50):
        top = list(rec[rec.customer_id == c].sort_values("rank")["item"][:3])
        want = set(rel[rel.customer_id == c]["item"])
        hits = [it in want for it in top]
        ap = sum(sum(hits[: i + 1]) / (i + 1) for i, h in enumerate(hits) if h) / min(3, len(want))
        assert got.loc[c, "hit"] == float(any(hits))
        assert got.loc[c, "recall"] == pytest.approx(sum(hits) / len(want))
        assert got.loc[c, "ap"] == pytest.approx(ap)


def test_new_items_are_first_purchases_after_the_cutoff():
    train = pd.DataFrame({"customer_id": [1, 1, 2], "item": ["a", "b", "a"]})
    test = pd.DataFrame({"customer_id": [1, 1, 2, 3], "item": ["a", "c", "b", "a"]})
    assert new_items(train, test).to_dict("list") == {"customer_id": [1, 2], "item": ["c", "b"]}


@pytest.fixture(scope="module")
def demo():
    from cjlab.data import open_source
    from cjlab.data.demo import demo_folder
    from cjlab.features.campaigns import item_purchases

    src = open_source("demo:n_customers=20000,seed=42")
    ct = pd.read_parquet(
        demo_folder(20_000, 42) / "customer_truth",
        columns=["customer_id", "segment", "product_style"],
    ).set_index("customer_id")
    return src.truth, src.lazy("orders"), ct, item_purchases


def test_demo_offers_recover_the_planted_styles(demo):
    """Each customer's products follow a style of their own across categories: the models'
    top offers carry the customer's planted style far more often than the most popular ones."""
    truth, orders, ct, item_purchases = demo
    assert truth["campaigns"]["next_best_offer"]["item"] == "product"
    purchases = item_purchases(orders, item="product").df()
    agree = {}
    for name, model in (
        ("popularity", Popularity()),
        ("rules", AssociationRules()),
        ("item_item", ItemItem()),
    ):
        top = model.fit(purchases).recommend(k=1).set_index("customer_id")["item"]
        style = top.str.split("_").str[-1]
        agree[name] = float((style == ct["product_style"].reindex(top.index)).mean())
    assert agree["item_item"] > agree["popularity"] + 0.2, agree
    assert agree["rules"] > agree["popularity"] + 0.1, agree


def test_demo_pair_lifts_follow_the_lift_the_mixes_imply(demo):
    truth, orders, ct, item_purchases = demo
    purchases = item_purchases(orders).df()  # product categories
    mix = pd.DataFrame(
        truth["campaigns"]["next_best_offer"]["category_mix"]
    ).T  # segments x categories
    share = ct["segment"].value_counts(normalize=True).reindex(mix.index)
    # two purchases of one customer: P(a, b) = sum_s share_s m_sa m_sb, against P(a) P(b)
    pa = share @ mix
    implied = {
        tuple(sorted((a, b))): float((share * mix[a] * mix[b]).sum() / (pa[a] * pa[b]))
        for a, b in itertools.combinations(mix.columns, 2)
    }
    rules = AssociationRules().fit(purchases).rules_
    found = {tuple(sorted((r.item, r.also_bought))): r.lift for r in rules.itertuples()}
    keys = sorted(implied)
    rho = spearmanr([implied[k] for k in keys], [found[k] for k in keys]).statistic
    assert rho > 0.5, rho


def test_demo_time_split_beats_popularity(demo):
    _truth, orders, _ct, item_purchases = demo
    train = item_purchases(orders, item="product", as_of="2025-09-30").df()
    test = item_purchases(orders, item="product", after="2025-09-30").df()
    table, n = evaluate_offers(train, test, ks=(1, 3), n_boot=100)
    assert n > 500
    t = table.set_index(["method", "k"])
    for m in ("popularity", "association_rules", "item_item"):
        r = t.loc[(m, 1)]
        assert r["hit_rate_low"] <= r["hit_rate"] <= r["hit_rate_high"]
        assert r["recall"] <= r["hit_rate"] and r["map"] == pytest.approx(r["hit_rate"])  # k = 1
    assert (t.xs(3, level="k")["hit_rate"] >= t.xs(1, level="k")["hit_rate"]).all()
    cf = t.loc[("item_item", 3)]
    assert cf["hit_rate_vs_popularity_low"] > 0 and cf["map_vs_popularity_low"] > 0


@pytest.mark.shared_data
def test_online_retail_products_on_a_time_split(shared_data):
    """The real example: one purchase per invoice and product (StockCode; the shipped mapping
    params/mappings/online_retail_products.yaml names products by their Description); train
    before 2011-09-10."""
    raw = pd.read_csv(
        shared_data / "online_retail_sample40k.csv", dtype={"StockCode": str, "InvoiceNo": str}
    )
    raw = raw[
        raw["CustomerID"].notna()
        & ~raw["InvoiceNo"].str.startswith(("A", "C"))
        & (raw["Quantity"] > 0)
    ]
    lines = pd.DataFrame(
        {
            "customer_id": raw["CustomerID"].astype(int).astype(str),
            "item": raw["StockCode"],
            "ts": pd.to_datetime(raw["InvoiceDate"]),
        }
    )
    cut = pd.Timestamp("2011-09-10")
    train = lines[lines["ts"] < cut].drop_duplicates(["customer_id", "item"])
    test = lines[lines["ts"] >= cut].drop_duplicates(["customer_id", "item"])
    table, n = evaluate_offers(train, test, ks=(10,), n_boot=100)
    assert n > 1000
    t = table.set_index("method")
    assert 0.03 < t.loc["popularity", "hit_rate"] < 0.3
    # item-item finds at least as many buyers as the most popular products (about 10 % at k = 10)
    assert t.loc["item_item", "hit_rate"] >= t.loc["popularity", "hit_rate"] - 0.005
