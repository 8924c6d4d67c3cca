"""The journey analysis runs where the data live on Spark and equals the pandas analysis.

One local SparkSession (as in ``test_spark.py``); the windowed funnel, the paths, flows and
journey-map counts all run as Spark queries (``from_source`` keeps a Spark source lazy), and
every table of the analysis must equal the one computed in pandas on the same data.
"""

from __future__ import annotations

import pandas as pd
import pytest
import test_journey_refs as ref
from conftest import SMALL_DEMO
from test_portable import assert_same

from cjlab import journey as jn
from cjlab.data import STAGES, open_source
from cjlab.features.funnels import ordered_funnel

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

TABLES = (
    "durations",
    "furthest",
    "paths",
    "top_purchase",
    "top_churn",
    "markov",
    "counterfactual",
    "attribution",
    "flows",
    "journey_map",
    "emotion",
)


@pytest.fixture(scope="module")
def spark_src(spark):
    return open_source("spark:" + SMALL_DEMO)


def test_windowed_funnel_on_spark_equals_reference(spark_src):
    tp = spark_src.spark_frame("touchpoints")
    out = ordered_funnel(tp, STAGES[:6], window_days=12.5, first_touch=["device"])
    assert type(out).__module__.startswith("pyspark")  # ran in Spark, not collected
    expected = ref.ordered_funnel(spark_src.table("touchpoints"), STAGES[:6], 12.5, ["device"])
    assert_same(out, expected, ["customer_id"], "windowed funnel on Spark")


def test_journey_analysis_on_spark_equals_pandas(spark_src):
    on_spark = jn.from_source(spark_src, n_boot=0, actions_file="")
    on_pandas = jn.from_source(SMALL_DEMO, engine="pandas", n_boot=0, actions_file="")
    for name in TABLES:
        pd.testing.assert_frame_equal(
            getattr(on_spark, name), getattr(on_pandas, name), check_dtype=False, obj=name
        )
    pd.testing.assert_frame_equal(on_spark.funnel.table, on_pandas.funnel.table, check_dtype=False)
    assert on_spark.headline() == on_pandas.headline()
