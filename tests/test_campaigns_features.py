"""The campaign aggregations (cjlab.features.campaigns) against plain-pandas references.

The references here are also the ``CASES`` of tests/test_portable.py (pandas, DuckDB) and
tests/test_spark.py, so each function is checked on every backend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.features import campaigns as fc

AS_OF = "2025-07-01"


def _engaged(t: pd.DataFrame) -> pd.Series:
    name = t["touchpoint"].str.lower()
    return (t["channel"] == "email") & (name.str.contains("open") | name.str.contains("click"))


def ref_engagement_hours(
    t: pd.DataFrame, as_of: str | None = None, after: str | None = None
) -> pd.DataFrame:
    if as_of is not None:
        t = t[t["ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    if after is not None:
        t = t[t["ts"] >= pd.Timestamp(after) + pd.Timedelta(days=1)]
    t = t[_engaged(t)]
    g = t.groupby(
        [t["customer_id"], t["ts"].dt.weekday.rename("weekday"), t["ts"].dt.hour.rename("hour")]
    )
    return g.size().rename("n").reset_index()


def ref_item_purchases(
    o: pd.DataFrame, as_of: str | None = None, after: str | None = None
) -> pd.DataFrame:
    if as_of is not None:
        o = o[o["ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    if after is not None:
        o = o[o["ts"] >= pd.Timestamp(after) + pd.Timedelta(days=1)]
    o = o[o["product_category"].notna()].assign(item=lambda d: d["product_category"].astype(str))
    g = o.groupby(["customer_id", "item"])
    return pd.DataFrame(
        {
            "n_orders": g["order_id"].count(),
            "first_order": g["ts"].min(),
            "last_order": g["ts"].max(),
            "amount": g["amount"].sum(),
        }
    ).reset_index()


def _wrap(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    off = raw.where(raw.abs() <= 182, raw - 365 * np.sign(raw))
    shift = (raw > 182).astype(int) - (raw < -182).astype(int)
    return off, shift


def ref_annual_window_counts(
    o: pd.DataFrame,
    anchors: pd.DataFrame | None,
    day: int | None,
    offsets=(0, -56, -28, 28, 56),
    h: int = 7,
) -> pd.DataFrame:
    """One order at a time: its offset to the nearest anchor occurrence, then its window."""
    d = o[["customer_id", "ts"]]
    d = d.merge(anchors, on="customer_id") if anchors is not None else d.assign(anchor_day=day)
    off, shift = _wrap(d["ts"].dt.dayofyear - d["anchor_day"])
    rows = []
    for cid, y, x in zip(d["customer_id"], d["ts"].dt.year + shift, off):
        for w in offsets:
            if abs(x - w) <= h:
                rows.append((cid, y, w))
    out = pd.DataFrame(rows, columns=["customer_id", "year", "window"])
    return out.groupby(["customer_id", "year", "window"]).size().rename("n").reset_index()


def ref_birthday_anchor(c: pd.DataFrame) -> pd.DataFrame:
    c = c[c["birth_date"].notna()]
    return pd.DataFrame(
        {
            "customer_id": c["customer_id"],
            "anchor_day": pd.to_datetime(c["birth_date"]).dt.dayofyear,
        }
    )


def ref_first_purchase_anchor(o: pd.DataFrame) -> pd.DataFrame:
    first = o.groupby("customer_id")["ts"].min()
    return pd.DataFrame({"customer_id": first.index, "anchor_day": first.dt.dayofyear.to_numpy()})


@pytest.fixture(scope="module")
def tables(small_demo):
    return small_demo.load("touchpoints", "orders", "customers")


def test_engagement_hours_matches_pandas(tables):
    from test_portable import assert_same

    t = tables["touchpoints"]
    assert_same(fc.engagement_hours(t), ref_engagement_hours(t), ["customer_id", "weekday", "hour"])
    got = fc.engagement_hours(t, as_of=AS_OF)
    assert_same(got, ref_engagement_hours(t, AS_OF), ["customer_id", "weekday", "hour"])
    later = fc.engagement_hours(t, after=AS_OF)
    assert later["n"].sum() + got["n"].sum() == int(_engaged(t).sum())  # the split loses nothing


def test_item_purchases_matches_pandas(tables):
    from test_portable import assert_same

    o = tables["orders"]
    for kw in ({}, {"as_of": AS_OF}, {"after": AS_OF}):
        assert_same(
            fc.item_purchases(o, **kw),
            ref_item_purchases(o, **kw),
            ["customer_id", "item"],
            str(kw),
        )


def test_annual_window_counts_match_a_loop_over_orders(tables):
    from test_portable import assert_same

    o, c = tables["orders"], tables["customers"]
    a = fc.birthday_anchor(c)
    assert_same(a, ref_birthday_anchor(c), ["customer_id"], "birthday anchor")
    assert_same(
        fc.first_purchase_anchor(o), ref_first_purchase_anchor(o), ["customer_id"], "first purchase"
    )
    keys = ["customer_id", "year", "window"]
    assert_same(
        fc.annual_window_counts(o, a), ref_annual_window_counts(o, a, None), keys, "birthday"
    )
    assert_same(
        fc.annual_window_counts(o, anchor_day=350),
        ref_annual_window_counts(o, None, 350),
        keys,
        "christmas",
    )


def test_annual_windows_wrap_around_the_new_year():
    o = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "order_id": [1, 2, 3],
            "ts": pd.to_datetime(["2024-12-30", "2025-01-03", "2025-02-27"]),
        }
    )
    a = pd.DataFrame({"customer_id": [1], "anchor_day": [2]})  # 2 January
    got = fc.annual_window_counts(o, a, offsets=(0, 56))
    # 30 Dec 2024 belongs to the occurrence of 2 Jan 2025 (offset -3), 27 Feb is offset +56
    assert got.to_dict("list") == {
        "customer_id": [1, 1],
        "year": [2025, 2025],
        "window": [0, 56],
        "n": [2, 1],
    }
    with pytest.raises(ValueError, match="either anchors"):
        fc.annual_window_counts(o)


def test_weekday_arithmetic_equals_the_calendar_on_pandas_and_duckdb():
    import duckdb
    import narwhals as nw

    d = pd.DataFrame({"ts": pd.date_range("1970-01-01", "2100-12-31", freq="13D")})
    want = d["ts"].dt.weekday.to_numpy()
    got = nw.from_native(d).select(fc.weekday("ts").alias("w")).to_native()["w"].to_numpy()
    rel = duckdb.connect().from_df(d)
    lazy = nw.from_native(rel).select(fc.weekday("ts").alias("w")).to_native().df()["w"].to_numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(lazy, want)
