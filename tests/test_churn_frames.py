"""Churn labels on hand-made cases, point-in-time features (leakage test), bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.churn.frames import (
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
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6],
            "first_seen": pd.to_datetime(
                ["2025-01-01", "2025-01-01", "2025-01-01", "2025-02-01", "2025-06-15", "2025-01-01"]
            ),
            "cancelled_at": pd.to_datetime(
                [
                    "2025-06-10",  # cancelled inside [c, c+30) -> churn
                    "2025-07-20",  # cancelled after the horizon -> 0
                    None,  # active -> 0
                    "2025-05-01",  # cancelled before the cut-off -> not eligible
                    None,  # first seen after the cut-off -> not eligible
                    "2025-06-01",
                ]
            ),  # cancelled exactly at the cut-off -> churn
            "marketing_opt_in": [True, False, True, True, True, False],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": range(1, 9),
            "customer_id": [1, 2, 2, 3, 4, 6, 3, 2],
            "ts": pd.to_datetime(
                [
                    "2025-01-05",
                    "2025-01-10",
                    "2025-05-30 23:59",
                    "2025-03-01",
                    "2025-02-10",
                    "2025-02-01",
                    "2025-06-30 23:00",
                    "2025-07-01",
                ],
                format="ISO8601",
            ),
            "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
            "promo": [True, False, True, False, False, False, True, False],
            "discount": [1.0, 0.0, 3.0, 0.0, 0.0, 0.0, 7.0, 0.0],
        }
    )
    return {"customers": customers, "orders": orders}


def test_contractual_labels_hand_made():
    y = churn_labels(hand_tables(), "2025-06-01", horizon_days=30, observation_end="2025-12-31")
    assert y.set_index("customer_id")["churned"].to_dict() == {1: 1, 2: 0, 3: 0, 6: 1}


def test_contractual_without_require_order_counts_prospects():
    t = hand_tables()
    t["customers"] = pd.concat(
        [
            t["customers"],
            pd.DataFrame(
                {
                    "customer_id": [7],
                    "first_seen": [D("2025-03-01")],
                    "cancelled_at": [pd.NaT],
                    "marketing_opt_in": [True],
                }
            ),
        ],
        ignore_index=True,
    )
    a = churn_labels(t, "2025-06-01", 30, observation_end="2025-12-31")
    b = churn_labels(t, "2025-06-01", 30, observation_end="2025-12-31", require_order=False)
    assert 7 not in set(a["customer_id"]) and 7 in set(b["customer_id"])


def test_inactivity_labels_hand_made():
    # cut-off 2025-06-01, horizon 30 days: window [06-01, 07-01)
    y = churn_labels(
        hand_tables(),
        "2025-06-01",
        horizon_days=30,
        churn_definition="inactivity",
        observation_end="2025-12-31",
    )
    # 1: no order in window -> 1; 2: order 07-01 is just outside -> 1; 3: order 06-30 -> 0;
    # 4: cancelled before the cut-off -> not eligible; 6: cancelled at the cut-off but still
    # eligible (cancellation not before c), no order -> 1
    assert y.set_index("customer_id")["churned"].to_dict() == {1: 1, 2: 1, 3: 0, 6: 1}
    y31 = churn_labels(
        hand_tables(), "2025-06-01", 31, churn_definition="inactivity", observation_end="2025-12-31"
    )
    assert y31.set_index("customer_id")["churned"][2] == 0


def test_features_hand_made():
    f = churn_features(hand_tables(), "2025-06-01").set_index("customer_id")
    assert list(f.index) == [1, 2, 3, 6]
    assert f.loc[2, "n_orders"] == 2 and f.loc[2, "spend_total"] == 50.0
    assert f.loc[2, "promo_share"] == 0.5
    assert f.loc[2, "discount_share"] == pytest.approx(3 / 53)
    assert f.loc[2, "recency_days"] == pytest.approx(1 + 1 / (24 * 60))  # last order 05-30 23:59
    assert (
        f.loc[3, "orders_90d"] == 0 and f.loc[3, "orders_prev_90d"] == 1
    )  # 03-01 is 92 days before
    assert f.loc[1, "tenure_days"] == (D("2025-06-01") - D("2025-01-01")).days
    assert f.loc[6, "marketing_opt_in"] == 0.0


def _mutate_after(
    tables: dict[str, pd.DataFrame], cut: pd.Timestamp, rng
) -> dict[str, pd.DataFrame]:
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
    before = churn_features(tables, cut, churn_definition=definition)
    mutated = _mutate_after(tables, cut, rng)
    after = churn_features(mutated, cut, churn_definition=definition)
    pd.testing.assert_frame_equal(before, after)
    # ... and the mutation did change the labels (so the test can fail)
    y0 = churn_labels(tables, cut, 180, definition)
    y1 = churn_labels(mutated, cut, 180, definition, observation_end=tables["orders"]["ts"].max())
    assert (y0["churned"].to_numpy() != y1["churned"].to_numpy()).any()
    assert len(before) > 200
    # ... and features at a later cut-off do see the mutation (so the check has teeth)
    later = D("2025-09-01")
    assert not churn_features(tables, later, churn_definition=definition).equals(
        churn_features(mutated, later, churn_definition=definition)
    )


def test_labels_ignore_everything_before_cutoff(demo_small):
    """Labels depend only on the window: deleting older orders does not change them
    (for the inactivity definition the eligibility needs one earlier order, so keep the first)."""
    t = demo_small.tables
    cut = D("2025-04-01")
    y0 = churn_labels(t, cut, 90, "contractual")
    o = t["orders"]
    t2 = dict(
        t,
        orders=o.loc[
            (o["ts"] >= cut) | o.groupby("customer_id")["ts"].transform("min").eq(o["ts"])
        ],
    )
    pd.testing.assert_frame_equal(y0, churn_labels(t2, cut, 90, "contractual"))


def test_churn_frame_stacks_cutoffs(demo_small):
    cuts = rolling_cutoffs("2025-12-31", 90, n=3)
    assert cuts[-1] == D("2025-10-03") and (cuts[1] - cuts[0]).days == 90
    f = churn_frame(demo_small.tables, cuts[0], 90)
    assert {
        "customer_id",
        "churned",
        "cutoff",
        "support_tickets",
        "promo_share",
        "app_share",
    } <= set(f.columns)
    assert f["customer_id"].is_unique


def test_bad_input_clear_errors():
    t = hand_tables()
    with pytest.raises(ChurnDataError, match="outside the data"):
        churn_labels(t, "2020-01-01", 30, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="outside the data"):
        churn_labels(t, "2030-01-01", 30, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="no complete labels"):
        churn_labels(t, "2025-12-01", 90, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="churn_definition"):
        churn_labels(t, "2025-06-01", 30, churn_definition="vibes", observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="horizon_days"):
        churn_labels(t, "2025-06-01", 0, observation_end="2025-12-31")
    bad = dict(t, orders=t["orders"].astype({"customer_id": "float"}))
    bad["orders"].loc[[2, 5], "customer_id"] = np.nan
    with pytest.raises(
        ChurnDataError,
        match=r"orders.customer_id: 2 row\(s\) without a customer id \(e.g. rows \[3, 6\]\)",
    ):
        churn_labels(bad, "2025-06-01", 30, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="missing column"):
        churn_labels({"customers": t["customers"].drop(columns="customer_id")}, "2025-06-01", 30)
    with pytest.raises(ChurnDataError, match="no customers are eligible"):
        churn_labels(t, "2025-01-02", 30, observation_end="2025-12-31")


def test_pipeline_horizon_without_churners_is_a_clear_error(demo_small):
    """No cancellation in any label window: the model cannot learn, and says so."""
    from cjlab.churn import analyse

    t = dict(demo_small.tables)
    t["customers"] = t["customers"].assign(cancelled_at=pd.NaT)
    with pytest.raises(ChurnDataError, match="single-class label"):
        analyse(t, churn_definition="contractual", horizon_days=60, observation_end="2025-12-31")
    with pytest.raises(ChurnDataError, match="two cut-offs"):
        analyse(demo_small.tables, horizon_days=700, observation_end="2025-12-31")


# -- the aggregations churn adds to cjlab.features, against plain pandas ----------------------------
# (the same references serve tests/test_portable.py, which runs them on DuckDB and Spark too)


def ref_order_windows(o: pd.DataFrame, as_of, days=(90, 180, 365)) -> pd.DataFrame:
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    o = o[o["ts"] < end]
    out = pd.DataFrame({"customer_id": np.sort(o["customer_id"].unique())}).set_index("customer_id")
    for d in days:
        inside = o["ts"] >= end - pd.Timedelta(days=d)
        g = o.assign(_i=inside.astype(int), _r=o["amount"].where(inside, 0.0)).groupby(
            "customer_id"
        )
        out[f"orders_{d}d"] = g["_i"].sum()
        out[f"revenue_{d}d"] = g["_r"].sum()
    if "discount" in o.columns:
        out["discount"] = o["discount"].fillna(0.0).groupby(o["customer_id"]).sum()
    return out.reset_index()


def ref_touchpoint_windows(t: pd.DataFrame, as_of, days=(90,)) -> pd.DataFrame:
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    t = t[t["ts"] < end]
    name = t["touchpoint"].str.lower()
    opened = (
        (t["channel"] == "email") & (name.str.contains("open") | name.str.contains("click"))
    ).astype(int)
    support = (t["touchpoint"] == "support_ticket").astype(int)
    g = t.assign(_o=opened, _m=(t["device"] == "mobile").astype(int)).groupby("customer_id")
    out = pd.DataFrame({"email_opens": g["_o"].sum(), "mobile_touchpoints": g["_m"].sum()})
    for d in days:
        inside = (t["ts"] >= end - pd.Timedelta(days=d)).astype(int)
        gi = pd.DataFrame(
            {"i": inside, "s": inside * support, "o": inside * opened, "c": t["customer_id"]}
        ).groupby("c")
        out[f"touchpoints_{d}d"] = gi["i"].sum()
        out[f"support_tickets_{d}d"] = gi["s"].sum()
        out[f"email_opens_{d}d"] = gi["o"].sum()
    return out.rename_axis("customer_id").reset_index()


def ref_purchase_gap_counts(o: pd.DataFrame, as_of=None) -> pd.DataFrame:
    if as_of is not None:
        o = o[o["ts"] < pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)]
    days = o.assign(d=o["ts"].dt.normalize())[["customer_id", "d"]].drop_duplicates()
    gaps = (
        days.sort_values(["customer_id", "d"]).groupby("customer_id")["d"].diff().dt.days.dropna()
    )
    vc = gaps.astype(int).value_counts().sort_index()
    return pd.DataFrame({"gap_days": vc.index.to_numpy(), "n": vc.to_numpy()})


def test_windows_and_gaps_match_plain_pandas(demo_small):
    from test_portable import assert_same

    from cjlab.features.orders import order_windows, purchase_gap_counts
    from cjlab.features.touchpoints import touchpoint_windows

    t = demo_small.tables
    as_of = "2025-06-30"
    assert_same(
        order_windows(t["orders"], as_of), ref_order_windows(t["orders"], as_of), ["customer_id"]
    )
    assert_same(
        touchpoint_windows(t["touchpoints"], as_of, days=(30, 90)),
        ref_touchpoint_windows(t["touchpoints"], as_of, days=(30, 90)),
        ["customer_id"],
    )
    assert_same(
        purchase_gap_counts(t["orders"], as_of),
        ref_purchase_gap_counts(t["orders"], as_of),
        ["gap_days"],
    )
    # optional columns absent: no such output
    bare = t["orders"][["order_id", "customer_id", "ts", "amount"]]
    assert "discount" not in order_windows(bare, as_of).columns
    assert (
        "mobile_touchpoints"
        not in touchpoint_windows(t["touchpoints"].drop(columns="device"), as_of).columns
    )


def test_features_without_optional_columns_give_no_such_feature(demo_small):
    """Orders without promo/discount and no touchpoints: the features simply leave them out
    (nothing all-missing that could break a model)."""
    t = demo_small.tables
    bare = {
        "customers": t["customers"][["customer_id", "first_seen"]],
        "orders": t["orders"][["order_id", "customer_id", "ts", "amount"]],
    }
    f = churn_features(bare, "2025-06-01", churn_definition="inactivity")
    assert {"promo_share", "discount_share", "app_share", "support_tickets", "nps_last"}.isdisjoint(
        f.columns
    )
    assert {"recency_days", "n_orders", "spend_365d", "tenure_days"} <= set(f.columns)
    assert not f.drop(columns="customer_id").isna().all().any()


def test_inactivity_horizon_is_the_gap_quantile_in_whole_weeks(demo_small):
    import math

    from cjlab.churn.frames import choose_definition, inactivity_horizon

    o = demo_small.tables["orders"]
    ref = ref_purchase_gap_counts(o)
    gaps = np.repeat(ref["gap_days"].to_numpy(), ref["n"].to_numpy())
    q = np.quantile(gaps, 0.9, method="inverted_cdf")
    days, why = inactivity_horizon(o, quantile=0.9)
    assert days == max(7, 7 * math.ceil(q / 7)) and days % 7 == 0 and days >= q
    assert f"{days} days" in why and f"{q:.0f} days or shorter" in why
    t = dict(demo_small.tables)
    assert choose_definition(t)[0] == "contractual"
    t["customers"] = t["customers"].drop(columns="cancelled_at")
    assert choose_definition(t)[0] == "inactivity"
    t["customers"] = demo_small.tables["customers"].assign(cancelled_at=pd.NaT)
    assert choose_definition(t)[0] == "inactivity"
    assert choose_definition(t, "contractual")[0] == "contractual"
    with pytest.raises(ChurnDataError, match="too few"):
        inactivity_horizon(o.head(20))


def test_inactivity_eligibility_can_require_recent_activity():
    """active_days: customers inactive for longer than that before the cut-off are already gone."""
    t = hand_tables()
    y = churn_labels(
        t,
        "2025-06-01",
        30,
        churn_definition="inactivity",
        observation_end="2025-12-31",
        active_days=100,
    )
    # last orders before 06-01: 1 on 01-05, 2 on 05-30, 3 on 03-01, 6 on 02-01 -> 2 and 3 remain
    assert y.set_index("customer_id")["churned"].to_dict() == {2: 1, 3: 0}
