"""Campaign analytics at scale: uplift on Hillstrom (64,000 rows) and next best offer on 1 M orders.

Run (single thread, as on the 2-core CI machine)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/campaigns.py [--orders 1000000] [--skip-hillstrom]

1. Hillstrom (../shared/data/hillstrom.csv): the campaign frame, three uplift models (T-learner,
   X-learner, class transformation on logistic models; and the T-learner on gradient boosting),
   their hold-out Qini coefficients with 200 bootstrap resamples, and the policy comparison —
   cjlab side by side with scikit-uplift's ``qini_auc_score`` on the same predictions (value and
   time).
2. Next best offer: synthetic orders (skewed customers, 10 categories x 4 styles, each customer's
   own style for 65 % of the orders) in DuckDB; ``item_purchases`` on DuckDB for the time split,
   the three rankers evaluated (hit rate, recall, MAP at 1, 3, 5 with 200 resamples) and the
   top-3 offers for every customer.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))


def _clock():
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0


def hillstrom() -> None:
    from cjlab.campaigns.inputs import campaign_frame
    from cjlab.campaigns.targeting import compare_policies, fit_uplift

    raw = pd.read_csv(ROOT.parent / "shared" / "data" / "hillstrom.csv")
    ex = pd.DataFrame(
        {
            "experiment": "hillstrom",
            "variant": raw["segment"],
            "unit_id": np.arange(len(raw)),
            "exposed_at": pd.Timestamp("2008-03-01"),
            "converted": raw["conversion"],
            "revenue": raw["spend"],
            "segment": raw["newbie"].map({1: "new", 0: "existing"}),
            "visited": raw["visit"],
            "recency_months": raw["recency"],
            "history_segment": raw["history_segment"],
            "history": raw["history"],
            "bought_mens": raw["mens"],
            "bought_womens": raw["womens"],
            "zip_code": raw["zip_code"],
            "purchase_channel": raw["channel"],
        }
    )
    for learner in ("logistic", "boosting"):
        methods = (
            ("t_learner", "x_learner", "class_transformation")
            if learner == "logistic"
            else ("t_learner",)
        )
        t = _clock()
        data = campaign_frame({"experiment_exposures": ex})
        up = fit_uplift(data, methods=methods, learner=learner, n_boot=200)
        compare_policies(up.scores, value=30.0, cost=0.5, n_boot=200)
        total = t()
        print(
            f"hillstrom {learner}: {len(data.frame):,} rows, {len(methods)} model(s), fit + hold-out "
            f"evaluation (200 resamples) + policies in {total:.1f} s"
        )
        for r in up.methods.itertuples(index=False):
            print(
                f"  {r.method:22s} Qini {r.qini:+.4f} ({r.qini_low:+.4f} to {r.qini_high:+.4f})  "
                f"AUUC {r.auuc:+.5f}"
            )
        s = up.scores
        try:
            from sklift.metrics import qini_auc_score
        except ImportError:
            print("  scikit-uplift not installed: no peer figure")
            continue
        from cjlab.campaigns.evaluation import qini_coefficient

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = _clock()
            peer = qini_auc_score(s["converted"], s["uplift"], s["treated"])
            tp = t()
        t = _clock()
        ours = qini_coefficient(s["converted"], s["uplift"], s["treated"])
        to = t()
        print(
            f"  peer: scikit-uplift qini_auc_score {peer:+.6f} in {1000 * tp:.1f} ms; cjlab "
            f"{ours:+.6f} in {1000 * to:.1f} ms (difference {abs(peer - ours):.1e})"
        )


def synthetic_orders(n_orders: int, seed: int = 0) -> pd.DataFrame:
    from synthetic_orders import make_orders

    n_customers = max(1000, n_orders // 4)
    o = make_orders(n_orders, n_customers, seed)
    rng = np.random.default_rng(seed + 1)
    style = rng.integers(0, 4, n_customers)
    cat_p = np.arange(10, 0, -1) / np.arange(10, 0, -1).sum()
    cat = rng.choice(10, size=n_orders, p=cat_p)
    own = rng.random(n_orders) < 0.65
    st = np.where(own, style[o["customer_id"].to_numpy()], rng.integers(0, 4, n_orders))
    o["product"] = np.char.add(np.char.add("c", cat.astype(str)), np.char.add("_s", st.astype(str)))
    return o


def offers(n_orders: int) -> None:
    import duckdb

    from cjlab.campaigns.offers import evaluate_offers, make_recommender
    from cjlab.features.campaigns import item_purchases

    o = synthetic_orders(n_orders)
    con = duckdb.connect()
    rel = con.from_df(o)
    cut = "2025-09-30"
    t = _clock()
    train = item_purchases(rel, "product", as_of=cut).df()
    test = item_purchases(rel, "product", after=cut).df()
    agg = t()
    t = _clock()
    table, n = evaluate_offers(train, test, ks=(1, 3, 5), n_boot=200)
    ev = t()
    t = _clock()
    allp = item_purchases(rel, "product").df()
    rec = make_recommender("item_item").fit(allp).recommend(3)
    top = t()
    print(
        f"next best offer: {len(o):,} orders, {o['customer_id'].nunique():,} customers, "
        f"{o['product'].nunique()} products"
    )
    print(
        f"  item_purchases on DuckDB (train + test): {agg:.1f} s; evaluation of 3 methods at k = 1, 3, 5 "
        f"on {n:,} test customers (200 resamples): {ev:.1f} s; top-3 offers for {rec['customer_id'].nunique():,} "
        f"customers (aggregation + item-item): {top:.1f} s; total {agg + ev + top:.1f} s"
    )
    k3 = table[table["k"] == 3].set_index("method")
    for m, r in k3.iterrows():
        print(
            f"  {m:18s} hit@3 {r['hit_rate']:.3f} ({r['hit_rate_low']:.3f} to {r['hit_rate_high']:.3f})  "
            f"recall@3 {r['recall']:.3f}  MAP@3 {r['map']:.3f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--skip-hillstrom", action="store_true")
    args = p.parse_args()
    if not args.skip_hillstrom:
        hillstrom()
    offers(args.orders)


if __name__ == "__main__":
    main()
