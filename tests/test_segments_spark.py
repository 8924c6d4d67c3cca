"""RFM and the funnel run unchanged on Spark DataFrames and equal the pandas results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.segments import rfm

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]


def test_rfm_and_funnel_on_spark_equal_pandas(spark):
    from cjlab.journey import funnel

    rng = np.random.default_rng(0)
    orders = pd.DataFrame(
        {
            "order_id": range(2000),
            "customer_id": rng.integers(0, 300, 2000),
            "ts": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 700 * 86400, 2000), unit="s"),
            "amount": np.round(rng.gamma(2, 30, 2000), 2),
        }
    )
    cols = ["customer_id", "recency_days", "frequency", "monetary_total", "rfm_score", "segment"]
    for unit in ("order", "day"):
        a = rfm(orders, "2025-10-01", purchase_unit=unit)
        b = rfm(spark.createDataFrame(orders), "2025-10-01", purchase_unit=unit)
        pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False)
    tp = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 200, 3000),
            "ts": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 90 * 86400, 3000), unit="s"),
            "stage": rng.choice(["awareness", "information", "comparison"], 3000),
        }
    )
    steps = ["awareness", "information", "comparison"]
    for window in (None, 30):
        fa = funnel(tp, steps, window_days=window).table
        fb = funnel(spark.createDataFrame(tp), steps, window_days=window).table
        pd.testing.assert_frame_equal(fa, fb, check_dtype=False)


def test_segmentation_features_on_spark_equal_pandas(spark, small_demo):
    """customer_rfm, last_orders, the checked rfm_aggregate and behaviour_features on Spark."""
    from test_segments_features import _same, ref_customer_rfm, ref_last_orders

    from cjlab.features import to_pandas
    from cjlab.features.behaviour import behaviour_features
    from cjlab.features.rfm import customer_rfm, last_orders, rfm_aggregate

    names = ("customers", "orders", "touchpoints")
    pandas = small_demo.load(*names)
    sp = {t: spark.createDataFrame(pandas[t]) for t in names}
    as_of = "2025-07-01"
    _same(
        to_pandas(customer_rfm(sp["orders"], as_of, purchase_unit="day")),
        ref_customer_rfm(pandas["orders"], as_of, "day"),
        ["customer_id"],
    )
    _same(
        to_pandas(last_orders(sp["orders"], as_of)),
        ref_last_orders(pandas["orders"], as_of),
        ["customer_id"],
    )
    a, ha = rfm_aggregate(pandas["orders"], as_of, customers=pandas["customers"], on_bad="drop")
    b, hb = rfm_aggregate(sp["orders"], as_of, customers=sp["customers"], on_bad="drop")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert ha.counts == hb.counts
    fa = behaviour_features(pandas, as_of=as_of)
    fb = behaviour_features(sp, as_of=as_of)
    pd.testing.assert_frame_equal(
        fa.sort_index(), fb.sort_index()[fa.columns], check_dtype=False, check_index_type=False
    )
