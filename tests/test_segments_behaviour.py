"""Behavioural segments (k selection on known blobs), descriptions, customer status, response/lift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cjlab.features.behaviour import behaviour_features
from cjlab.segments import (
    BehaviouralSegments,
    customer_status,
    describe_profiles,
    lift_matrix,
    profiles,
    response_table,
)
from cjlab.segments.plots import plot_profiles


def _blobs(k: int = 3, n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, size=(k, 4))
    lab = rng.integers(0, k, n)
    X = centres[lab] + rng.normal(size=(n, 4))
    return pd.DataFrame(
        X, columns=["device_mobile", "promo_share", "holiday_share", "spend_mean"]
    ), lab


@pytest.mark.slow
def test_k_selection_on_well_separated_blobs():
    X, lab = _blobs()
    seg = BehaviouralSegments(k_range=range(2, 5), n_boot=2, sample=600, exclude=()).fit(X)
    assert seg.choices_ == {"silhouette": 3, "bic": 3, "stability": 3}
    assert seg.agree_ and "All criteria choose k = 3" in seg.disagreement()
    assert adjusted_rand_score(lab, seg.labels_) == pytest.approx(1.0)
    gmm = BehaviouralSegments(k_range=[3], method="gmm", n_boot=0, exclude=()).fit(X)
    assert adjusted_rand_score(lab, gmm.labels_) == pytest.approx(1.0)
    # segments are numbered by size
    assert list(seg.sizes_) == sorted(seg.sizes_, reverse=True)


def test_disagreement_is_reported():
    X, _ = _blobs(k=3)
    seg = BehaviouralSegments(k_range=range(2, 4), n_boot=0, sample=600, exclude=()).fit(X)
    seg.choices_ = {"silhouette": 3, "bic": 5}
    seg.agree_ = False
    assert "disagree" in seg.disagreement()


def test_profiles_and_descriptions():
    f = pd.DataFrame(
        {
            "device_mobile": [1.0, 1.0, 0.0, 0.0],
            "promo_share": [0.9, 0.8, 0.1, 0.0],
            "spend_mean": [3.0, 3.1, 5.0, 5.2],
        }
    )
    p = profiles(f, [0, 0, 1, 1])
    # standardised mean by hand: (1 - 0.5) / 0.5 = 1
    assert p.loc[0, "device_mobile"] == pytest.approx(1.0)
    d = describe_profiles(p)
    assert d[0].startswith(("mobile", "promotion-driven")) and "low spend" in d[0]
    assert "high spend" in d[1]
    ax = plot_profiles(p, descriptions=d)
    assert ax.get_title()


def test_customer_status_rules_by_hand():
    orders = pd.DataFrame(
        {
            "customer_id": ["new", "act", "act", "ret", "ret", "risk", "lost", "canc"],
            "ts": pd.to_datetime(
                [
                    "2025-11-01",
                    "2025-06-01",
                    "2025-10-01",
                    "2024-01-10",
                    "2025-09-01",
                    "2025-03-01",
                    "2024-06-01",
                    "2025-11-20",
                ]
            ),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["new", "act", "ret", "risk", "lost", "canc", "pros"],
            "cancelled_at": pd.to_datetime([None, None, None, None, None, "2025-12-01", None]),
        }
    )
    st = customer_status(orders, customers, as_of="2025-12-31").set_index("customer_id")["status"]
    assert st.to_dict() == {
        "new": "new",
        "act": "active",
        "ret": "returning",
        "risk": "at risk",
        "lost": "churned",
        "canc": "churned",
        "pros": "prospect",
    }
    # rules are parameters: with a 500-day gap rule only the 599-day pause counts as a return
    st2 = customer_status(orders, customers, "2025-12-31", rules={"return_gap_days": 500})
    assert st2.set_index("customer_id").loc["ret", "status"] == "returning"  # gap 599 days
    st3 = customer_status(orders, customers, "2025-12-31", rules={"return_gap_days": 600})
    assert st3.set_index("customer_id").loc["ret", "status"] == "active"
    with pytest.raises(ValueError, match="unknown status rules"):
        customer_status(orders, customers, rules={"churn": 1})


def test_response_and_lift_by_hand():
    tp = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 1, 2],
            "ts": pd.to_datetime(
                ["2025-03-01", "2025-03-01", "2025-03-01", "2025-03-01", "2025-06-01", "2025-06-01"]
            ),
            "campaign": ["spring", "spring", "spring", "spring", "summer", "summer"],
        }
    )
    orders = pd.DataFrame(
        {"customer_id": [1, 2, 3], "ts": pd.to_datetime(["2025-03-03", "2025-03-20", "2025-03-05"])}
    )
    seg = pd.Series({1: "A", 2: "A", 3: "B", 4: "B"})
    t = response_table(tp, orders, "campaign", seg, window_days=7, min_customers=1)
    spring = t[t["campaign"] == "spring"].set_index("segment")
    # responders within 7 days: 1 (A) and 3 (B); overall 2 of 4
    assert spring.loc["A", "response_rate"] == 0.5 and spring.loc["B", "response_rate"] == 0.5
    assert spring.loc["A", "lift"] == pytest.approx(1.0)
    summer = t[t["campaign"] == "summer"]
    assert summer["responders"].sum() == 0
    m = lift_matrix(t, "campaign")
    assert m.loc["A", "spring"] == pytest.approx(1.0)
    s = response_table(tp, orders, "season", None, window_days=30, min_customers=1).set_index(
        "season"
    )
    assert s.loc["spring", "response_rate"] == pytest.approx(3 / 4)


@pytest.mark.slow
def test_planted_segments_are_recovered_on_demo_data():
    from cjlab.data.synth import generate

    demo = generate(n_customers=6000, seed=3)
    feats = behaviour_features(demo.tables)
    truth = demo.customer_truth.set_index("customer_id")["segment"].reindex(feats.index)
    seg = BehaviouralSegments(k_range=range(3, 6), n_boot=2, sample=2000).fit(feats)
    ari = adjusted_rand_score(truth, seg.labels_)
    assert ari > 0.35, ari
    four = BehaviouralSegments(k_range=[4], k=4, n_boot=0).fit(feats)
    ari4 = adjusted_rand_score(truth, four.labels_)
    assert ari4 > 0.45, ari4
    # each planted segment is most over-represented in a cluster of its own, and that
    # cluster's generated description names the segment's planted traits
    ct = pd.crosstab(truth, four.labels_)
    lift = ct.div(ct.sum(axis=0), axis=1).div(ct.sum(axis=1) / ct.to_numpy().sum(), axis=0)
    home = lift.idxmax(axis=1)
    assert home.nunique() == 4, lift
    desc = four.descriptions_
    assert any(
        w in desc[home["bargain_hunters"]] for w in ("mobile", "promotion-driven", "social media")
    )
    assert any(w in desc[home["loyal_regulars"]] for w in ("app users", "e-mail engaged"))
    assert any(w in desc[home["occasional_browsers"]] for w in ("desktop", "search-led"))
    assert any(w in desc[home["premium_shoppers"]] for w in ("store", "high spend", "phone"))


def test_behavioural_segments_is_a_scikit_learn_estimator_with_a_pipeline():
    from sklearn.base import clone
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline

    X, _ = _blobs(k=3, n=300, seed=4)
    X.iloc[::7, 1] = np.nan  # unknown values are imputed at the mean
    seg = BehaviouralSegments(k_range=[3], n_boot=0, exclude=(), random_state=3)
    assert seg.fit(X) is seg
    assert set(seg.get_params()) >= {
        "k_range",
        "method",
        "n_boot",
        "sample",
        "exclude",
        "random_state",
    }
    assert clone(seg).get_params()["random_state"] == 3 and not hasattr(clone(seg), "labels_")
    assert isinstance(seg.model_, Pipeline) and [n for n, _ in seg.model_.steps] == [
        "impute",
        "scale",
        "cluster",
    ]
    # the pipeline does what a hand-written imputation and scaling would
    filled = X.fillna(X.mean())
    Z = ((filled - filled.mean()) / filled.std(ddof=0)).to_numpy()
    ref = KMeans(n_clusters=3, n_init=3, max_iter=100, random_state=3).fit_predict(Z)
    assert adjusted_rand_score(ref, seg.labels_) == pytest.approx(1.0)
    assert (seg.predict(X) == seg.labels_).all()
    assert len(set(seg.names_.values())) == 3 and set(seg.segments_) == set(seg.names_.values())
