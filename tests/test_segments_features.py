"""The segmentation inputs of cjlab.features (RFM aggregation, last orders, behavioural features)
on pandas and DuckDB, against independent plain-pandas references.

The references here are also used by the portable cases in ``test_portable.CASES`` (which run
on Spark in ``test_spark.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.features.behaviour import PASSIVE_TOUCHPOINTS, behaviour_features, missing_inputs
from cjlab.features.rfm import RFMInputError, customer_rfm, last_orders, rfm_aggregate

AS_OF = "2025-07-01"


def _upto(o: pd.DataFrame, as_of: str | None) -> pd.DataFrame:
    return o if as_of is None else o[o["ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]


def ref_customer_rfm(
    orders: pd.DataFrame, as_of: str | None = None, purchase_unit: str = "order"
) -> pd.DataFrame:
    o = _upto(orders, as_of).assign(day=lambda d: d["ts"].dt.normalize())
    g = o.groupby("customer_id")
    freq = g["order_id"].count() if purchase_unit == "order" else g["day"].nunique()
    out = pd.DataFrame(
        {
            "first_purchase": g["day"].min(),
            "last_purchase": g["day"].max(),
            "n_orders": g["order_id"].count(),
            "frequency": freq,
            "monetary_total": g["amount"].sum(),
        }
    )
    out["monetary_mean"] = out["monetary_total"] / out["frequency"]
    return out.reset_index()


def ref_last_orders(orders: pd.DataFrame, as_of: str | None = None) -> pd.DataFrame:
    o = _upto(orders, as_of).sort_values(["customer_id", "ts"])
    rows = []
    for cid, ts in o.groupby("customer_id")["ts"]:
        last = ts.max()
        earlier = ts[ts < last]
        rows.append(
            {
                "customer_id": cid,
                "first_order": ts.min(),
                "previous_order": earlier.max() if len(earlier) else pd.NaT,
                "last_order": last,
            }
        )
    return pd.DataFrame(rows)


def ref_behaviour(tables: dict, min_share: float = 0.01) -> pd.DataFrame:
    """A few behavioural features the plain-pandas way (crosstabs and group means)."""
    tp, od, cu = tables["touchpoints"], tables["orders"], tables["customers"]
    out = pd.DataFrame(index=pd.Index(sorted(set(tp["customer_id"]) | set(od["customer_id"]))))
    dev = pd.crosstab(tp["customer_id"], tp["device"], normalize="index").add_prefix("device_")
    first = od.groupby("customer_id")["ts"].min()
    fo = tp["customer_id"].map(first)
    pre = tp[(fo.isna() | (tp["ts"] < fo)) & ~tp["touchpoint"].isin(PASSIVE_TOUCHPOINTS)]
    share = pre["channel"].value_counts(normalize=True)
    pre = pre[pre["channel"].isin(share.index[share >= min_share])]
    ch = pd.crosstab(pre["customer_id"], pre["channel"], normalize="index").add_prefix("channel_")
    g = od.groupby("customer_id")
    f = pd.DataFrame(
        {
            "orders": np.log1p(g.size()),
            "spend_mean": np.log1p(g["amount"].mean()),
            "promo_share": g["promo"].mean(),
            "discount_share": g["discount"].sum() / (g["amount"].sum() + g["discount"].sum()),
            "holiday_share": od["ts"].dt.month.isin([11, 12]).groupby(od["customer_id"]).mean(),
        }
    )
    bd = pd.to_datetime(od["customer_id"].map(cu.set_index("customer_id")["birth_date"]))
    dist = (od["ts"].dt.dayofyear - bd.dt.dayofyear).abs()
    f["birthday_share"] = (
        (bd.notna() & (np.minimum(dist, 365 - dist) <= 14)).groupby(od["customer_id"]).mean()
    )
    oc = pd.crosstab(od["customer_id"], od["channel"], normalize="index").add_prefix("order_")
    out = out.join([dev, ch, f, oc])
    for c in [*dev.columns, *ch.columns, "orders"]:
        out[c] = out[c].fillna(0.0)
    return out


@pytest.fixture(scope="module")
def frames(small_demo):
    names = ("customers", "orders", "touchpoints")
    return small_demo.load(*names), {
        t: small_demo.lazy(t, validate=False).to_native() for t in names
    }


def _same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> None:
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)[list(a.columns)]
    for c in a.columns:
        if a[c].dtype.kind == "M" or b[c].dtype.kind == "M":
            pd.testing.assert_series_equal(
                pd.to_datetime(a[c]).astype("datetime64[ns]"),
                pd.to_datetime(b[c]).astype("datetime64[ns]"),
                check_names=False,
            )
        else:
            np.testing.assert_allclose(
                a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-9, err_msg=c
            )


@pytest.mark.parametrize("unit", ["order", "day"])
def test_customer_rfm_pandas_duckdb_and_reference(frames, unit):
    pandas, duck = frames
    a = customer_rfm(pandas["orders"], AS_OF, purchase_unit=unit)
    b = customer_rfm(duck["orders"], AS_OF, purchase_unit=unit)
    assert isinstance(a, pd.DataFrame) and not isinstance(b, pd.DataFrame)  # lazy stays lazy
    ref = ref_customer_rfm(pandas["orders"], AS_OF, unit)
    _same(a, ref, ["customer_id"])
    _same(b.df(), ref, ["customer_id"])


def test_rfm_aggregate_recency_and_handling(frames):
    pandas, duck = frames
    a, ha = rfm_aggregate(pandas["orders"], AS_OF, customers=pandas["customers"], on_bad="drop")
    b, hb = rfm_aggregate(duck["orders"], AS_OF, customers=duck["customers"], on_bad="drop")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert ha.counts == hb.counts and ha.counts["orders after as_of"] > 0
    ref = ref_customer_rfm(pandas["orders"], AS_OF).set_index("customer_id").loc[a["customer_id"]]
    days = (pd.Timestamp(AS_OF) - ref["last_purchase"]).dt.days.to_numpy()
    np.testing.assert_array_equal(a["recency_days"].to_numpy(), days)
    with pytest.raises(RFMInputError, match="same backend"):
        rfm_aggregate(duck["orders"], AS_OF, customers=pandas["customers"])


def test_last_orders_pandas_duckdb_and_reference(frames):
    pandas, duck = frames
    ref = ref_last_orders(pandas["orders"], AS_OF)
    _same(last_orders(pandas["orders"], AS_OF), ref, ["customer_id"])
    _same(last_orders(duck["orders"], AS_OF).df(), ref, ["customer_id"])


def test_behaviour_features_pandas_duckdb_and_reference(frames):
    pandas, duck = frames
    a = behaviour_features(pandas)
    b = behaviour_features(duck)
    pd.testing.assert_frame_equal(
        a.sort_index(), b.sort_index()[a.columns], check_dtype=False, check_index_type=False
    )
    ref = ref_behaviour(pandas)
    assert list(a.index.sort_values()) == list(ref.index)
    for c in ref.columns:
        np.testing.assert_allclose(
            a[c].reindex(ref.index).to_numpy(float),
            ref[c].to_numpy(float),
            rtol=1e-9,
            atol=1e-12,
            err_msg=c,
        )
    # customers without orders: counts 0, order shares unknown (NaN), touch shares 0
    no_orders = a["orders"] == 0
    assert no_orders.any() and a.loc[no_orders, "promo_share"].isna().all()
    assert a.filter(like="device_").notna().all().all()


def test_behaviour_features_from_orders_only_say_what_is_missing(frames):
    pandas, _ = frames
    orders = pandas["orders"][["order_id", "customer_id", "ts", "amount"]]
    f = behaviour_features({"orders": orders})
    assert set(f.columns) == {"orders", "spend_mean", "holiday_share"}
    assert len(f) == orders["customer_id"].nunique()
    missing = missing_inputs({"orders": orders})
    assert [m[0] for m in missing] == [
        "devices, channels and journey stages",
        "promotions",
        "discounts",
        "order channels",
        "product categories",
        "birthday purchases",
    ]
    assert missing_inputs(pandas) == []


@pytest.mark.parametrize("ids", ["compact", "sparse", "strings"])
@pytest.mark.parametrize("unit", ["order", "day"])
def test_rfm_aggregate_numpy_path_equals_the_duckdb_path(ids, unit):
    """A pandas frame is summarised with NumPy; a DuckDB relation by the narwhals code."""
    import duckdb

    rng = np.random.default_rng(8)
    n = 3000
    raw = rng.integers(0, 400, n)
    cid = {
        "compact": raw,
        "sparse": raw * 10**12 + 7,
        "strings": np.char.add("c", raw.astype(str)),
    }[ids]
    orders = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "customer_id": cid,
            "ts": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 700 * 86400, n), unit="s"),
            "amount": np.round(rng.gamma(2, 20, n), 2),
        }
    )
    orders.loc[::97, "amount"] = np.nan  # unknown amounts are left out on both paths
    orders.loc[::89, "amount"] = -1.0  # returns: dropped and counted
    first = orders.groupby("customer_id")["ts"].min().dt.normalize() + pd.Timedelta(days=3)
    customers = first.rename("first_seen").reset_index()
    with duckdb.connect() as con:
        b, hb = rfm_aggregate(
            con.from_df(orders),
            "2025-10-01",
            customers=con.from_df(customers),
            purchase_unit=unit,
            on_bad="drop",
        )
    a, ha = rfm_aggregate(
        orders, "2025-10-01", customers=customers, purchase_unit=unit, on_bad="drop"
    )
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert ha.counts == hb.counts and set(ha.counts) == {
        "orders after as_of",
        "negative amount",
        "order before first_seen",
    }
    with pytest.raises(RFMInputError, match="negative amount"):
        rfm_aggregate(orders, "2025-10-01")
