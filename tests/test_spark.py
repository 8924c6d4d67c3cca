"""The portable aggregations give the same results on a local-mode Spark session.

One SparkSession for the module (local[2], 2 shuffle partitions, UTC). Every case of
``test_portable.CASES`` runs on the Spark DataFrames of a ``spark:demo`` source and must equal
the independent plain-pandas reference computed on the same data; the data overview
notebook runs end to end through the runner with a Spark source.
"""

from __future__ import annotations

import json
import os
import sys

import pandas as pd
import pytest
from conftest import SMALL_DEMO
from test_portable import AS_OF, CASES, TABLES, assert_same

from cjlab import features as ft
from cjlab.data import STAGES, open_source

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def spark_src(spark):
    return open_source("spark:" + SMALL_DEMO)


@pytest.fixture(scope="module")
def pandas_tables(spark_src):
    return spark_src.load(*TABLES)


def test_session_is_utc_and_uses_this_interpreter(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    # a Python UDF runs in a worker started from PYSPARK_PYTHON
    from pyspark.sql import functions as F

    exe = spark.range(1).select(F.udf(lambda _: sys.executable)("id").alias("exe")).first()["exe"]
    assert exe == sys.executable


def test_spark_source_types_and_counts(spark_src):
    assert spark_src.kind == "spark"
    assert spark_src.truth is not None and spark_src.tables == list(TABLES)
    tp = spark_src.spark_frame("touchpoints")
    types = dict(tp.dtypes)
    assert types["ts"] == "timestamp_ntz" and types["customer_id"] == "bigint"
    assert tp.count() == spark_src.row_counts()["touchpoints"]  # Spark and DuckDB read the same files
    assert dict(spark_src.spark_frame("customers").dtypes)["first_seen"] == "date"


@pytest.mark.parametrize("name", list(CASES))
def test_spark_matches_pandas_reference(spark_src, pandas_tables, name):
    call, ref, keys = CASES[name]
    frames = {t: spark_src.lazy(t, validate=False) for t in TABLES}
    out = call(frames)
    if name != "stage_funnel":
        assert type(out).__module__.startswith("pyspark"), type(out)  # ran in Spark, not collected
    assert_same(out, ref(pandas_tables), keys, f"{name}: spark vs reference")


def test_day_boundaries_are_utc_wall_clock(spark, spark_src):
    """Events just before/after midnight land on their own calendar day on every engine."""
    ts = pd.to_datetime(["2025-03-30 00:30:00", "2025-03-29 23:59:59", "2025-10-26 01:30:00",
                         "2025-12-31 23:59:59"])
    df = pd.DataFrame({"customer_id": [1, 1, 2, 3], "ts": ts})
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")  # a user's setting must not matter ...
    try:
        sdf = spark.createDataFrame(df.assign(ts=df["ts"].astype(str))).selectExpr(
            "customer_id", "CAST(ts AS timestamp_ntz) AS ts")
        days = ft.to_pandas(ft.daily_counts(sdf))
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    expected = df.assign(day=df["ts"].dt.normalize()).groupby("day").size()
    got = days.set_index(pd.to_datetime(days["day"]))["n"]
    assert got.to_dict() == expected.to_dict()


def test_from_spark_with_dataframes(spark, spark_src, pandas_tables):
    """from_spark with DataFrames: file scans are validated by DuckDB in place, others copied."""
    from cjlab.data import DataSource

    spark_src.spark_frame("orders")
    orders = spark_src.spark_frames["orders"]  # the raw file scan
    computed = spark.createDataFrame(pandas_tables["customers"].drop(columns=["cancelled_at", "birth_date"]))
    src = DataSource.from_spark(spark, {"orders": orders, "customers": computed})
    assert src.kind == "spark" and src.tables == ["customers", "orders"]
    report = src.validate(raise_errors=False)
    assert report.ok, report.format()
    assert_same(ft.customer_orders(src.lazy("orders")), ft.customer_orders(pandas_tables["orders"]),
                ["customer_id"], "from_spark customer_orders")
    # a filtered DataFrame reads the same files but is not a plain scan: DuckDB must see the
    # filtered rows, not the files
    big = orders.filter("amount > 100")
    src2 = DataSource.from_spark(spark, {"orders": big})
    expected = pandas_tables["orders"][pandas_tables["orders"]["amount"] > 100]
    assert src2.row_counts()["orders"] == len(expected) < len(pandas_tables["orders"])
    assert_same(ft.customer_orders(src2.lazy("orders", validate=False)), ft.customer_orders(expected),
                ["customer_id"], "from_spark filtered")


def test_other_engineers_aggregations_on_spark(spark_src, pandas_tables):
    """segments.rfm and journey.funnel (no window) are written with narwhals: same result on Spark."""
    from cjlab import journey, segments

    a = segments.rfm(pandas_tables["orders"], as_of=AS_OF)
    b = segments.rfm(spark_src.spark_frame("orders"), as_of=AS_OF)
    assert_same(a, b, ["customer_id"], "segments.rfm on Spark")
    # without a conversion window: journey.funnel(window_days=...) uses dt.total_seconds(),
    # which narwhals does not implement for Spark
    fa = journey.funnel(pandas_tables["touchpoints"], steps=STAGES[:5])
    fb = journey.funnel(spark_src.spark_frame("touchpoints"), steps=STAGES[:5])
    assert_same(fa.table, fb.table, ["step_index"], "journey.funnel on Spark")


def test_overview_notebook_runs_with_spark_source(spark_src, tmp_path):
    """notebooks/00_data_overview.ipynb end to end through the runner with data_source=spark:..."""
    from cjlab.report.runner import run

    spec = "spark:" + SMALL_DEMO
    result = run(["notebooks/00_data_overview.ipynb"], data_source=spec, reports_dir=tmp_path,
                 progress=False, name="spark-overview")
    nb = result.notebooks[0]
    assert result.ok, nb.error
    assert nb.stderr_outputs == 0
    kpis = {k["name"]: k["value"] for k in json.loads((result.folder / "kpis.json").read_text())["kpis"]}
    orders = pd.read_parquet(spark_src.location + "/orders")
    assert kpis["customers"] == spark_src.row_counts()["customers"]
    assert kpis["buyers"] == orders["customer_id"].nunique()
    assert kpis["revenue"] == pytest.approx(float(orders["amount"].sum()), rel=1e-9)
    assert kpis["validation_errors"] == 0
    assert "spark:demo" in json.dumps(result.manifest["data_sources"])
