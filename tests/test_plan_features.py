"""The journey plan's aggregations (cjlab.features.plan) against plain-pandas references.

The references are written here independently (``groupby`` over the raw rows) and also used by
``tests/test_portable.py`` (pandas, DuckDB) and the Spark tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.data import STAGES
from cjlab.features.plan import first_touch_values, journey_states, value_by_period

AS_OF = "2025-07-01"


def _up_to(df: pd.DataFrame, as_of: str | None, col: str = "ts") -> pd.DataFrame:
    return df if as_of is None else df[df[col] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]


def ref_first_touch(tp: pd.DataFrame, columns, as_of=None) -> pd.DataFrame:
    t = _up_to(tp, as_of)
    first = t.groupby("customer_id")["ts"].min().rename("first_touch")
    out = first.reset_index()
    at0 = t.merge(first, on="customer_id")
    at0 = at0[at0["ts"] == at0["first_touch"]]
    for c in columns:
        v = at0.dropna(subset=[c]).groupby("customer_id")[c].min().astype(str)
        out = out.merge(v.rename(c), on="customer_id", how="left")
    return out


def ref_journey_states(
    tp, orders, customers=None, category="device", as_of=None, exclude=("newsletter_open",)
) -> pd.DataFrame:
    t = _up_to(tp, as_of)
    t = t.assign(k=t["stage"].map({s: i for i, s in enumerate(STAGES)}))
    t = t[t["k"].notna()]
    cols = ["channel"] + ([category] if category in t.columns and category != "channel" else [])
    out = ref_first_touch(t, cols)
    if category == "channel":
        out["category"] = out["channel"]
    elif category in t.columns:
        out = out.rename(columns={category: "category"})
    elif customers is not None and category in customers.columns:
        out = out.merge(
            customers[["customer_id", category]].rename(columns={category: "category"}),
            on="customer_id",
            how="left",
        )
        out["category"] = out["category"].astype("string")
    else:
        out["category"] = np.nan
    if orders is not None:
        buy = _up_to(orders, as_of).groupby("customer_id")["ts"].min().rename("purchase")
    else:
        buy = t[t["k"] >= 4].groupby("customer_id")["ts"].min().rename("purchase")
    pre = t[(t["k"] <= 3) & ~t["touchpoint"].isin(list(exclude))].merge(
        buy, on="customer_id", how="left"
    )
    pre = pre[pre["purchase"].isna() | (pre["ts"] < pre["purchase"])]
    last = pre.groupby("customer_id").agg(last_touch=("ts", "max"), pre=("k", "max"))
    out = out.merge(last, on="customer_id", how="left").merge(buy, on="customer_id", how="left")
    out["reached"] = np.where(out["purchase"].notna(), 4, out["pre"].fillna(-1)).astype(int)
    return out[
        ["customer_id", "category", "channel", "first_touch", "last_touch", "reached", "purchase"]
    ]


def ref_value_by_period(orders: pd.DataFrame, as_of=None, days: int = 7) -> pd.DataFrame:
    o = _up_to(orders, as_of)
    day = (o["ts"].dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    first = day.groupby(o["customer_id"]).transform("min")
    o = o.assign(period=((day - first) // days).astype(int))
    g = o.groupby(["customer_id", "period"])
    return pd.DataFrame({"orders": g.size(), "revenue": g["amount"].sum()}).reset_index()


@pytest.fixture(scope="module")
def tables(small_demo):
    return small_demo.load("touchpoints", "orders", "customers")


@pytest.mark.parametrize("category", ["device", "channel", "country", "nothing"])
def test_journey_states_match_the_reference(tables, category):
    from test_portable import assert_same

    t = tables
    got = journey_states(
        t["touchpoints"],
        t["orders"],
        t["customers"],
        category=category,
        as_of=AS_OF,
        exclude_touchpoints=["newsletter_open"],
    )
    ref = ref_journey_states(t["touchpoints"], t["orders"], t["customers"], category, AS_OF)
    assert_same(got, ref, ["customer_id"], f"journey_states {category}")
    assert set(got["reached"]) <= {-1, 0, 1, 2, 3, 4}


def test_journey_states_without_orders_use_the_purchase_stage(tables):
    from test_portable import assert_same

    tp = tables["touchpoints"]
    got = journey_states(tp, None, category="device")
    assert_same(got, ref_journey_states(tp, None, None, "device", exclude=()), ["customer_id"])
    # every customer who reached the purchase stage in the touchpoints counts as a buyer
    bought = set(tp.loc[tp["stage"].map(STAGES.index) >= 4, "customer_id"])
    assert set(got.loc[got["reached"] == 4, "customer_id"]) == bought


@pytest.mark.parametrize("days", [1, 7, 30])
def test_value_by_period_matches_the_reference(tables, days):
    from test_portable import assert_same

    got = value_by_period(tables["orders"], as_of=AS_OF, days=days)
    assert_same(got, ref_value_by_period(tables["orders"], AS_OF, days), ["customer_id", "period"])
    total = tables["orders"][tables["orders"]["ts"] < "2025-07-02"]["amount"].sum()
    assert got["revenue"].sum() == pytest.approx(total)


def test_first_touch_ties_take_the_smallest_value():
    tp = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "ts": pd.to_datetime(["2025-01-01"] * 2 + ["2025-01-02"]),
            "device": ["mobile", "app", None],
        }
    )
    got = first_touch_values(tp, ["device"]).sort_values("customer_id")
    assert got["device"].tolist()[0] == "app" and pd.isna(got["device"].tolist()[1])


def test_value_by_period_rejects_a_bad_period():
    with pytest.raises(ValueError, match="days"):
        value_by_period(
            pd.DataFrame(
                {"customer_id": [1], "ts": pd.to_datetime(["2025-01-01"]), "amount": [1.0]}
            ),
            days=0,
        )
