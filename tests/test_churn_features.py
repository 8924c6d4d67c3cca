"""Churn labels on hand-made cases, point-in-time features (leakage test), bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.churn.features import (
    ChurnDataError,
    churn_features,
    churn_frame,
    churn_labels,
    rolling_cutoffs,
)

D = pd.Timestamp


@pytest.fixture(scope="module")
def demo_small():
    from cjlab.data.synth import generate

    return generate(n_customers=4000, seed=5)


def hand_tables() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5, 6],
        "first_seen": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-01", "2025-02-01",
                                      "2025-06-15", "2025-01-01"]),
        "cancelled_at": pd.to_datetime(["2025-06-10",   # cancelled inside [c, c+30) -> churn
                                        "2025-07-20",   # cancelled after the horizon -> 0
                                        None,           # active -> 0
                                        "2025-05-01",   # cancelled before the cut-off -> not eligible
                                        None,           # first seen after the cut-off -> not eligible
                                        "2025-06-01"]),  # cancelled exactly at the cut-off -> churn
        "marketing_opt_in": [True, False, True, True, True, False],
    })
    orders = pd.DataFrame({
        "order_id": range(1, 9),
        "customer_id": [1, 2, 2, 3, 4, 6, 3, 2],
        "ts": pd.to_datetime(["2025-01-05", "2025-01-10", "2025-05-30 23:59", "2025-03-01",
                              "2025-02-10", "2025-02-01", "2025-06-30 23:00", "2025-07-01"], format="ISO8601"),
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
        "promo": [True, False, True, False, False, False, True, False],
        "discount": [1.0, 0.0, 3.0, 0.0, 0.0, 0.0, 7.0, 0.0],
    })
    return {"customers": customers, "orders": orders}


def test_contractual_labels_hand_made():
    y = churn_labels(hand_tables(), "2025-06-01", horizon_days=30, observation_end="2025-12-31")
    assert y.set_index("customer_id")["churned"].to_dict() == {1: 1, 2: 0, 3: 0, 6: 1}


def test_contractual_without_require_order_counts_prospects():
    t = hand_tables()
    t["customers"] = pd.concat([t["customers"], pd.DataFrame({
        "customer_id": [7], "first_seen": [D("2025-03-01")], "cancelled_at": [pd.NaT],
        "marketing_opt_in": [True]})], ignore_index=True)
    a = churn_labels(t, "2025-06-01", 30, observation_end="2025-12-31")
    b = churn_labels(t, "2025-06-01", 30, observation_end="2025-12-31", require_order=False)
    assert 7 not in set(a["customer_id"]) and 7 in set(b["customer_id"])


def test_inactivity_labels_hand_made():
    # cut-off 2025-06-01, horizon 30 days: window [06-01, 07-01)
    y = churn_labels(hand_tables(), "2025-06-01", horizon_days=30, definition="inactivity",
                     observation_end="2025-12-31")
    # 1: no order in window -> 1; 2: order 07-01 is just outside -> 1; 3: order 06-30 -> 0;
    # 4: cancelled before the cut-off -> not eligible; 6: cancelled at the cut-off but still
    # eligible (cancellation not before c), no order -> 1
    assert y.set_index("customer_id")["churned"].to_dict() == {1: 1, 2: 1, 3: 0, 6: 1}
    y31 = churn_labels(hand_tables(), "2025-06-01", 31, definition="inactivity",
                       observation_end="2025-12-31")
    assert y31.set_index("customer_id")["churned"][2] == 0


def test_features_hand_made():
    f = churn_features(hand_tables(), "2025-06-01").set_index("customer_id")
    assert list(f.index) == [1, 2, 3, 6]
    assert f.loc[2, "n_orders"] == 2 and f.loc[2, "spend_total"] == 50.0
    assert f.loc[2, "promo_share"] == 0.5
    assert f.loc[2, "discount_share"] == pytest.approx(3 / 53)
    assert f.loc[2, "recency_days"] == pytest.approx(1 + 1 / (24 * 60))  # last order 05-30 23:59
    assert f.loc[3, "orders_90d"] == 0 and f.loc[3, "orders_prev_90d"] == 1  # 03-01 is 92 days before
    assert f.loc[1, "tenure_days"] == (D("2025-06-01") - D("2025-01-01")).days
    assert f.loc[6, "marketing_opt_in"] == 0.0


def _mutate_after(tables: dict[str, pd.DataFrame], cut: pd.Timestamp, rng) -> dict[str, pd.DataFrame]:
    """Change every fact dated on/after ``cut``: values, deletions, new rows, cancellations."""
    out = {}
    for name, df in tables.items():
        df = df.copy()
        if name == "customers":
            c = pd.to_datetime(df["cancelled_at"])
            late = c >= cut
            shift = pd.to_timedelta(rng.integers(0, 400, late.sum()), unit="D")
            df.loc[late, "cancelled_at"] = (c[late] + shift).to_numpy()
            never = c.isna() & (rng.random(len(df)) < 0.3)
            df.loc[never, "cancelled_at"] = cut + pd.Timedelta(days=5)
            out[name] = df
            continue
        tcol = "ts" if "ts" in df.columns else None
        if name == "survey_responses":
            late = pd.Series([pd.Period(w).start_time >= cut for w in df["wave"]], index=df.index)
        elif tcol:
            late = pd.to_datetime(df[tcol]) >= cut
        else:
            out[name] = df
            continue
        post = df.loc[late]
        # scramble numbers and categories of post-cut-off rows
        for col in post.columns:
            if col in ("customer_id", "ts", "wave", "order_id", "response_id"):
                continue
            df.loc[late, col] = post[col].sample(frac=1, random_state=1).to_numpy()
        # drop half of them and duplicate the rest onto other customers
        drop = post.sample(frac=0.5, random_state=2).index
        extra = df.loc[late].drop(index=drop, errors="ignore").copy()
        extra["customer_id"] = rng.permutation(extra["customer_id"].to_numpy())
        for key in ("order_id", "response_id"):
            if key in extra.columns:
                extra[key] = [f"x{i}" for i in range(len(extra))]
        df = pd.concat([df.drop(index=drop), extra], ignore_index=True)
        out[name] = df
    return out


@pytest.mark.parametrize("definition", ["contractual", "inactivity"])
def test_no_leakage_features_ignore_everything_after_cutoff(demo_small, definition):
    tables = demo_small.tables
    cut = D("2025-04-01")
    rng = np.random.default_rng(0)
    before = churn_features(tables, cut, definition=definition)
    mutated = _mutate_after(tables, cut, rng)
    after = churn_features(mutated, cut, definition=definition)
    pd.testing.assert_frame_equal(before, after)
    # ... and the mutation did change the labels (so the test can fail)
    y0 = churn_labels(tables, cut, 180, definition)
    y1 = churn_labels(mutated, cut, 180, definition, observation_end=tables["orders"]["ts"].max())
    assert (y0["churned"].to_numpy() != y1["churned"].to_numpy()).any()
    assert len(before) > 200
    # ... and features at a later cut-off do see the mutation (so the check has teeth)
    later = D("2025-09-01")
    assert not churn_features(tables, later, definition=definition).equals(
        churn_features(mutated, later, definition=definition))


def test_labels_ignore_everything_before_cutoff(demo_small):
    """Labels depend only on the window: deleting older orders does not change them
    (for the inactivity definition the eligibility needs one earlier order, so keep the first)."""
    t = demo_small.tables
    cut = D("2025-04-01")
    y0 = churn_labels(t, cut, 90, "contractual")
    o = t["orders"]
    t2 = dict(t, orders=o.loc[(o["ts"] >= cut) | o.groupby("customer_id")["ts"].transform("min").eq(o["ts"])])
    pd.testing.assert_frame_equal(y0, churn_labels(t2, cut, 90, "contractual"))


def test_churn_frame_stacks_cutoffs(demo_small):
    cuts = rolling_cutoffs("2025-12-31", 90, n=3)
    assert cuts[-1] == D("2025-10-03") and (cuts[1] - cuts[0]).days == 90
    f = churn_frame(demo_small.tables, cuts[0], 90)
    assert {"customer_id", "churned", "cutoff", "support_tickets", "promo_share", "app_share"} <= set(f.columns)
    assert f["customer_id"].is_unique


def test_bad_input_clear_errors():
    t = hand_tables()
    with pytest.raises(ChurnDataError, match="outside the data"):
        churn_labels(t, "2020-01-01", 30, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="outside the data"):
        churn_labels(t, "2030-01-01", 30, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="no complete labels"):
        churn_labels(t, "2025-12-01", 90, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="definition"):
        churn_labels(t, "2025-06-01", 30, definition="vibes", observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="horizon_days"):
        churn_labels(t, "2025-06-01", 0, observation_end="2025-12-31")
    bad = dict(t, orders=t["orders"].astype({"customer_id": "float"}))
    bad["orders"].loc[[2, 5], "customer_id"] = np.nan
    with pytest.raises(ChurnDataError, match=r"orders.customer_id: 2 row\(s\) without a customer id \(e.g. rows \[3, 6\]\)"):
        churn_labels(bad, "2025-06-01", 30, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="missing column"):
        churn_labels({"customers": t["customers"].drop(columns="customer_id")}, "2025-06-01", 30)
    with pytest.raises(ChurnDataError, match="no customers are eligible"):
        churn_labels(t, "2025-01-02", 30, observation_end="2025-12-31")


def test_pipeline_horizon_without_churners_is_a_clear_error(demo_small):
    """No cancellation in any label window: the model cannot learn, and says so."""
    from cjlab.churn.pipeline import analyse_churn

    t = dict(demo_small.tables)
    t["customers"] = t["customers"].assign(cancelled_at=pd.NaT)
    with pytest.raises(ChurnDataError, match="single-class label"):
        analyse_churn(t, horizon_days=60, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="two cut-offs"):
        analyse_churn(demo_small.tables, horizon_days=700, observation_end="2025-12-31")
