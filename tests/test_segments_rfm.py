"""RFM: hand-computed case, PyMC-Marketing's rfm_summary / rfm_segments, rule tables, bad input,
heavy ties (planted one-time buyers) and every named segment on a real retailer's orders."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd
import pytest

from cjlab.segments import (
    DEFAULT_RFM_RULES,
    RFMInputError,
    RuleTableError,
    assign_segments,
    check_rules,
    jenks_breaks,
    rfm,
    score,
)


@pytest.fixture
def hand_orders() -> pd.DataFrame:
    rows = [
        ("a", "2025-06-30 09:00", 10.0),
        ("a", "2025-06-01 12:00", 20.0),
        ("b", "2025-05-31 18:00", 100.0),
        ("c", "2025-01-01 08:00", 5.0),
        ("c", "2025-01-01 20:00", 5.0),
        ("c", "2025-03-01 10:00", 5.0),
        ("d", "2025-07-05 10:00", 50.0),  # after as_of: ignored
        ("d", "2025-06-29 23:59", 40.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "amount"])
    df["ts"] = pd.to_datetime(df["ts"])
    df.insert(0, "order_id", range(1, len(df) + 1))
    return df


ONE_SEGMENT = [{"segment": "All"}]


def test_rfm_hand_computed(hand_orders):
    out = rfm(hand_orders, "2025-06-30", n_bins=2, rules=ONE_SEGMENT).set_index("customer_id")
    # by hand: days from the last purchase day to 2025-06-30
    assert out["recency_days"].to_dict() == {"a": 0, "b": 30, "c": 121, "d": 1}
    assert out["frequency"].to_dict() == {"a": 2, "b": 1, "c": 3, "d": 1}
    assert out["monetary_total"].to_dict() == {"a": 30.0, "b": 100.0, "c": 15.0, "d": 40.0}
    assert out["monetary_mean"].to_dict() == {"a": 15.0, "b": 100.0, "c": 5.0, "d": 40.0}
    # 2 bins of equal size (2 customers each), tied values kept together
    # recency (lower is better): worst-to-best c=121, b=30, d=1, a=0 -> {c, b} 1, {d, a} 2
    assert out["r_score"].to_dict() == {"a": 2, "b": 1, "c": 1, "d": 2}
    # frequency: b and d tie at 1 -> {b, d} 1; a 2 and c 3 -> 2
    assert out["f_score"].to_dict() == {"a": 2, "b": 1, "c": 2, "d": 1}
    # monetary total: c 15, a 30 -> 1; d 40, b 100 -> 2
    assert out["m_score"].to_dict() == {"a": 1, "b": 2, "c": 1, "d": 2}
    assert set(out["segment"]) == {"All"}
    handling = pd.DataFrame(out.attrs["rfm_handling"])
    assert handling.set_index("issue").loc["orders after as_of", "rows"] == 1


def test_rfm_day_unit(hand_orders):
    out = rfm(
        hand_orders, "2025-06-30", n_bins=2, rules=ONE_SEGMENT, purchase_unit="day"
    ).set_index("customer_id")
    assert out.loc["c", "frequency"] == 2  # two orders on 2025-01-01 are one purchase
    assert out.loc["c", "monetary_mean"] == 7.5
    assert out.loc["c", "n_orders"] == 3


def _random_orders(n_orders: int = 4000, n_customers: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    cust = rng.integers(0, n_customers, n_orders)
    secs = rng.integers(0, 730 * 86400, n_orders)
    return pd.DataFrame(
        {
            "order_id": np.arange(n_orders),
            "customer_id": cust,
            "ts": start + pd.to_timedelta(secs, unit="s"),
            "amount": np.round(rng.gamma(2.0, 30.0, n_orders), 2),
        }
    )


def test_rfm_matches_pymc_marketing_rfm_summary():
    from pymc_marketing.clv.utils import rfm_summary

    orders = _random_orders()
    as_of = "2025-09-30"
    ref = rfm_summary(
        orders,
        "customer_id",
        "ts",
        "amount",
        observation_period_end=as_of,
        time_unit="D",
        include_first_transaction=True,
    ).set_index("customer_id")
    ours = rfm(orders, as_of, purchase_unit="day").set_index("customer_id")
    ref.index = ref.index.astype(ours.index.dtype)
    assert sorted(ours.index) == sorted(ref.index)
    ref = ref.loc[ours.index]
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_array_equal(ours["recency_days"].to_numpy(), ref["recency"].to_numpy())
    np.testing.assert_allclose(
        ours["monetary_mean"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-12
    )


def test_rfm_quartile_scores_and_segments_match_pymc_marketing_rfm_segments():
    from pymc_marketing.clv.utils import _default_rfm_segment_config, rfm_segments

    orders = _random_orders(seed=11)
    as_of = "2025-12-31"
    ref = rfm_segments(
        orders, "customer_id", "ts", "amount", observation_period_end=as_of
    ).set_index("customer_id")
    # PyMC-Marketing's configuration, as one rule per score code; codes it does not list
    # fall to its catch-all "Other"
    rules, seen = [], set()
    for seg, codes in _default_rfm_segment_config.items():
        for code in codes:
            if code in seen:  # pragma: no cover - the default config has no duplicates
                continue
            seen.add(code)
            rules.append({"segment": seg, "r": int(code[0]), "f": int(code[1]), "m": int(code[2])})
    ours = rfm(
        orders,
        as_of,
        n_bins=4,
        method="quantile",
        monetary="mean",
        purchase_unit="day",
        rules=rules,
        fill="Other",
    ).set_index("customer_id")
    ref = ref.loc[ours.index]
    assert (ours["rfm_score"] == ref["rfm_score"].astype(str)).all()
    assert (ours["segment"] == ref["segment"]).all()
    assert ref["segment"].nunique() >= 4  # the comparison exercised several segments


def test_rfm_duckdb_relation_equals_pandas():
    orders = _random_orders(seed=5)
    con = duckdb.connect()
    rel = con.from_df(orders)
    a = rfm(orders, "2025-10-01")
    b = rfm(rel, "2025-10-01")
    c = rfm(orders, "2025-10-01", engine="duckdb")
    cols = [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary_total",
        "r_score",
        "f_score",
        "m_score",
        "segment",
    ]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)
    pd.testing.assert_frame_equal(a[cols], c[cols], check_dtype=False)


def test_default_rules_cover_every_combination_exactly_once():
    table = check_rules(DEFAULT_RFM_RULES, 5)
    assert table["cells"].sum() == 5**3
    names = {r["segment"] for r in DEFAULT_RFM_RULES}
    for must in (
        "Champions",
        "Loyal",
        "Potential loyalists",
        "At risk",
        "Can't lose them",
        "Hibernating",
        "Lost",
    ):
        assert must in names
    # brute force, independent of the vectorised matcher
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        hits = []
        for rule in DEFAULT_RFM_RULES:
            ok = True
            for key, v in (("r", r), ("f", f), ("m", m)):
                spec = str(rule.get(key, "1-5"))
                lo, _, hi = spec.partition("-")
                ok &= int(lo) <= v <= int(hi or lo)
            if ok:
                hits.append(rule["segment"])
        assert len(hits) == 1, (r, f, m, hits)


def test_every_customer_gets_exactly_one_named_segment():
    out = rfm(_random_orders(seed=9), "2025-12-31")
    assert out["customer_id"].is_unique
    assert out["segment"].notna().all()
    assert "Other" not in set(out["segment"])
    expected = [
        next(
            rule["segment"]
            for rule in DEFAULT_RFM_RULES
            if all(_in(rule.get(k), v) for k, v in (("r", r), ("f", f), ("m", m)))
        )
        for r, f, m in out[["r_score", "f_score", "m_score"]].itertuples(index=False)
    ]
    assert list(out["segment"]) == expected


def _in(spec, v: int) -> bool:
    if spec is None:
        return True
    lo, _, hi = str(spec).partition("-")
    return int(lo) <= v <= int(hi or lo)


def test_rule_table_gaps_and_overlaps_are_errors():
    gap = [r for r in DEFAULT_RFM_RULES if r["segment"] != "Lost"]
    with pytest.raises(RuleTableError, match=r"match no rule.*r=1 f=1"):
        check_rules(gap)
    overlap = [*DEFAULT_RFM_RULES, {"segment": "VIP", "r": "5", "f": "5", "m": "5"}]
    with pytest.raises(RuleTableError, match=r"more than one rule.*Champions, VIP"):
        check_rules(overlap)
    with pytest.raises(RuleTableError, match=r"outside 1\.\.5"):
        check_rules([{"segment": "x", "r": "0-5"}])
    # gaps are allowed only with an explicit catch-all
    s = assign_segments(
        pd.DataFrame({"r_score": [1], "f_score": [1], "m_score": [1]}), gap, fill="Other"
    )
    assert s.tolist() == ["Other"]


def test_scores_ties_share_a_score_and_quantile_equals_qcut():
    rng = np.random.default_rng(0)
    x = rng.poisson(1.2, 500) + 1  # heavy ties, as frequencies are
    for method in ("rank", "quantile"):
        s = score(x, 5, method)
        for v in np.unique(x):
            assert len(set(s[x == v])) == 1
        assert s.min() >= 1 and s.max() <= 5
        # monotone in the value
        order = np.argsort(x, kind="stable")
        assert np.all(np.diff(s[order]) >= 0)
    q = pd.qcut(x, 5, labels=False, duplicates="drop") + 1
    np.testing.assert_array_equal(score(x, 5, "quantile"), q)
    # continuous values: the rank scores are equal-sized quintiles
    y = rng.normal(size=1000)
    assert np.bincount(score(y, 5, "rank"))[1:].tolist() == [200] * 5


def test_custom_cut_points_are_right_closed():
    x = np.array([0, 30, 31, 90, 91, 365, 366, 1000])
    s = score(x, 5, "cuts", cuts=[30, 90, 180, 365], higher_is_better=False)
    assert s.tolist() == [5, 5, 4, 4, 3, 2, 1, 1]
    with pytest.raises(ValueError, match="4 inner cut points"):
        score(x, 5, "cuts", cuts=[1, 2])


def test_jenks_matches_brute_force():
    rng = np.random.default_rng(2)
    x = np.round(np.r_[rng.normal(0, 1, 15), rng.normal(6, 1, 10), rng.normal(12, 1, 8)], 2)
    u = np.unique(x)

    def ssd(parts):
        return sum(((p - p.mean()) ** 2).sum() for p in parts)

    best = min(
        itertools.combinations(range(1, len(u)), 2),
        key=lambda ij: ssd(
            [x[x <= u[ij[0] - 1]], x[(x > u[ij[0] - 1]) & (x <= u[ij[1] - 1])], x[x > u[ij[1] - 1]]]
        ),
    )
    np.testing.assert_allclose(jenks_breaks(x, 3), [u[best[0] - 1], u[best[1] - 1]])


def test_negative_amounts_raise_or_are_counted(hand_orders):
    bad = hand_orders.copy()
    bad.loc[[0, 3], "amount"] = [-5.0, -1.0]
    with pytest.raises(RFMInputError, match="2 rows with a negative amount"):
        rfm(bad, "2025-06-30", n_bins=2, rules=ONE_SEGMENT)
    out = rfm(bad, "2025-06-30", n_bins=2, rules=ONE_SEGMENT, on_bad="drop")
    h = pd.DataFrame(out.attrs["rfm_handling"]).set_index("issue")
    assert h.loc["negative amount", "rows"] == 2
    assert out.set_index("customer_id").loc["a", "frequency"] == 1


def test_orders_before_first_seen(hand_orders):
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "first_seen": pd.to_datetime(["2025-01-01", "2025-06-01", "2024-12-01", "2025-01-01"]),
        }
    )
    with pytest.raises(RFMInputError, match="1 orders dated before the customer's first_seen"):
        rfm(hand_orders, "2025-06-30", customers=customers, n_bins=2, rules=ONE_SEGMENT)
    out = rfm(
        hand_orders, "2025-06-30", customers=customers, n_bins=2, rules=ONE_SEGMENT, on_bad="drop"
    )
    assert "b" not in set(out["customer_id"])
    h = pd.DataFrame(out.attrs["rfm_handling"]).set_index("issue")
    assert h.loc["order before first_seen", "rows"] == 1


SHARED = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.shared_data
def test_rfm_on_uci_online_retail_sample():
    path = SHARED / "online_retail_sample40k.csv"
    if not path.exists():
        pytest.skip(f"shared data not available: {path} is missing")
    from pymc_marketing.clv.utils import rfm_summary

    raw = pd.read_csv(path, dtype={"InvoiceNo": str})
    raw = raw.dropna(subset=["CustomerID"])
    raw["line"] = raw["Quantity"] * raw["UnitPrice"]
    orders = (
        raw.groupby(["InvoiceNo", "CustomerID"], as_index=False)
        .agg(ts=("InvoiceDate", "min"), amount=("line", "sum"))
        .rename(columns={"InvoiceNo": "order_id", "CustomerID": "customer_id"})
    )
    orders["ts"] = pd.to_datetime(orders["ts"])
    returns = int((orders["amount"] < 0).sum())
    assert returns > 0 and orders["order_id"].str.startswith("C").sum() >= returns
    # returns are negative orders: a clear error by default, counted when dropped
    with pytest.raises(RFMInputError, match=f"{returns} rows with a negative amount"):
        rfm(orders, "2011-12-09")
    out = rfm(orders, "2011-12-09", purchase_unit="day", on_bad="drop")
    h = pd.DataFrame(out.attrs["rfm_handling"]).set_index("issue")
    assert h.loc["negative amount", "rows"] == returns
    kept = orders[orders["amount"] >= 0]
    ref = (
        rfm_summary(
            kept,
            "customer_id",
            "ts",
            "amount",
            observation_period_end="2011-12-09",
            include_first_transaction=True,
        )
        .set_index("customer_id")
        .loc[out["customer_id"]]
    )
    np.testing.assert_array_equal(out["frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_array_equal(out["recency_days"].to_numpy(), ref["recency"].to_numpy())
    np.testing.assert_allclose(
        out["monetary_mean"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-9
    )
    assert out["segment"].notna().all() and out["customer_id"].is_unique


# -- heavy ties: most customers bought once ----------------------------------------------------

#: Segments whose rules need F >= 2: a one-time buyer must never land in one of them.
REPEAT_SEGMENTS = {
    "Champions",
    "Loyal",
    "Potential loyalists",
    "Need attention",
    "At risk",
    "Can't lose them",
}
NAMED = {r["segment"] for r in DEFAULT_RFM_RULES}


def _heavy_tie_orders(
    n: int = 4000, one_time: float = 0.6, seed: int = 21
) -> tuple[pd.DataFrame, set]:
    """Planted one-time buyers (60 %), the others 2 + geometric orders, over two years."""
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(n) < one_time, 1, 2 + rng.geometric(0.25, n) - 1)
    owner = np.repeat(np.arange(n), counts)
    secs = rng.integers(0, 730 * 86400, owner.size)
    orders = pd.DataFrame(
        {
            "order_id": np.arange(owner.size),
            "customer_id": owner,
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(secs, unit="s"),
            "amount": np.round(rng.gamma(2.0, 25.0, owner.size), 2),
        }
    )
    return orders, set(np.flatnonzero(counts == 1))


def test_planted_one_time_buyers_get_f1_and_are_never_loyalists():
    orders, planted = _heavy_tie_orders()
    out = rfm(orders, "2025-12-31")
    once = out["customer_id"].isin(planted)
    assert once.mean() == pytest.approx(0.6, abs=0.03)
    # exactly the planted one-time buyers have F = 1
    assert set(out.loc[out["f_score"] == 1, "customer_id"]) == planted
    assert not set(out.loc[once, "segment"]) & REPEAT_SEGMENTS
    assert set(out.loc[once, "segment"]) == {
        "New customers",
        "Promising",
        "About to sleep",
        "Hibernating",
        "Lost",
    }
    # every score is used and every named segment is reachable
    assert sorted(out["f_score"].unique()) == [1, 2, 3, 4, 5]
    assert set(out["segment"]) == NAMED
    # the repeat buyers share F = 2..5 in groups as equal as their ties allow: no group
    # holds more than twice its fair share of them
    rep = out.loc[~once, "f_score"].value_counts()
    assert rep.max() <= 2 * (~once).sum() / 4
    # mid-rank percentile scores (the former default) would give every one-time buyer F = 2 ("Potential loyalists" when recent)
    midrank = np.ceil(5 * (out["frequency"].rank() - 0.5) / len(out))
    assert set(midrank[once]) == {2.0}


@pytest.mark.parametrize("method", ["rank", "quantile", "jenks"])
def test_one_time_buyers_have_the_lowest_frequency_score_with_every_method(method):
    orders, planted = _heavy_tie_orders(n=1500, one_time=0.45, seed=4)
    rules = [{"segment": "All"}]
    out = rfm(orders, "2025-12-31", method=method, rules=rules)
    assert set(out.loc[out["customer_id"].isin(planted), "f_score"]) == {1}


def _uci_orders(path) -> pd.DataFrame:
    """UCI online-retail lines -> invoices: amount = sum of quantity x price per InvoiceNo,
    cancellations ('C...') dropped, ids like "13607.0" read as "13607"."""
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "CustomerID": str})
    raw = raw[raw["CustomerID"].notna() & ~raw["InvoiceNo"].str.startswith("C")]
    raw = raw.assign(
        customer_id=raw["CustomerID"].str.removesuffix(".0"),
        line=raw["Quantity"] * raw["UnitPrice"],
    )
    orders = (
        raw.groupby("InvoiceNo", as_index=False)
        .agg(
            customer_id=("customer_id", "first"), ts=("InvoiceDate", "min"), amount=("line", "sum")
        )
        .rename(columns={"InvoiceNo": "order_id"})
    )
    orders["ts"] = pd.to_datetime(orders["ts"])
    return orders


@pytest.mark.shared_data
def test_every_named_segment_is_reachable_on_the_uci_online_retail_sample():
    path = SHARED / "online_retail_sample40k.csv"
    if not path.exists():
        pytest.skip(f"shared data not available: {path} is missing")
    orders = _uci_orders(path)
    assert orders["customer_id"].str.fullmatch(r"\d+").all()
    out = rfm(orders, "2011-12-09", on_bad="drop")
    once = out["frequency"] == 1
    assert 0.35 < once.mean() < 0.5  # a real retailer: four in ten customers bought once
    assert set(out.loc[once, "f_score"]) == {1}
    assert not set(out.loc[once, "segment"]) & REPEAT_SEGMENTS
    assert set(out["segment"]) == NAMED, NAMED - set(out["segment"])
    for col in ("r_score", "f_score", "m_score"):
        assert sorted(out[col].unique()) == [1, 2, 3, 4, 5], col
    # recency and spend have few ties: five groups of equal size (within 1 %)
    for col in ("r_score", "m_score"):
        sizes = out[col].value_counts()
        assert sizes.max() - sizes.min() <= 0.05 * len(out) / 5, (col, sizes.tolist())
    # the frequency in the table is the number of invoices, counted independently here
    n_inv = orders[orders["amount"] >= 0].groupby("customer_id")["order_id"].nunique()
    assert out.set_index("customer_id")["frequency"].equals(
        n_inv.loc[out["customer_id"]].rename("frequency")
    )
