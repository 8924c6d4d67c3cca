"""Loading the contract tables from every kind of source, typed, validated, PII-free."""

from __future__ import annotations

import sqlite3

import duckdb
import pandas as pd
import pytest

from cjlab import features as ft
from cjlab.data import DataSource, DataSourceError, DataValidationError, open_source
from cjlab.data.synth import generate


@pytest.fixture(scope="module")
def demo():
    return generate(500, seed=8)


def _check_typed(tables: dict[str, pd.DataFrame]) -> None:
    c, o = tables["customers"], tables["orders"]
    assert c["first_seen"].dtype.kind == "M" and c["cancelled_at"].dtype.kind == "M"
    assert c["marketing_opt_in"].dtype == bool
    assert o["ts"].dtype.kind == "M" and o["amount"].dtype.kind == "f"
    assert "email" not in c.columns and "name" not in c.columns  # PII never leaves the source


@pytest.mark.parametrize("fmt", ["csv", "parquet", "csv.gz", "parts"])
def test_folder_sources(tmp_path, demo, fmt):
    for name, df in demo.tables.items():
        if fmt == "parts":
            (tmp_path / name).mkdir()
            half = len(df) // 2
            df.iloc[:half].to_parquet(tmp_path / name / "part-0.parquet")
            df.iloc[half:].to_parquet(tmp_path / name / "part-1.parquet")
        elif fmt == "parquet":
            df.to_parquet(tmp_path / f"{name}.parquet")
        else:
            df.to_csv(tmp_path / f"{name}.{fmt}", index=False)
    src = open_source(str(tmp_path))
    assert src.kind == "folder" and src.tables == list(demo.tables)
    tables = src.load("customers", "orders")
    _check_typed(tables)
    assert len(tables["orders"]) == len(demo.tables["orders"])
    assert tables["orders"]["amount"].sum() == pytest.approx(demo.tables["orders"]["amount"].sum())
    assert src.fingerprint().startswith("sha256:")


def test_duckdb_file_and_fingerprint_tracks_content(tmp_path, demo):
    db = tmp_path / "company.duckdb"
    con = duckdb.connect(str(db))
    for name, df in demo.tables.items():
        con.register("df", df)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM df")
        con.unregister("df")
    con.close()
    src = open_source(str(db))
    assert src.kind == "duckdb"
    _check_typed(src.load("customers", "orders"))
    fp = src.fingerprint()
    src.con.close()
    con = duckdb.connect(str(db))
    con.execute(
        "UPDATE orders SET amount = amount + 1 WHERE order_id = (SELECT min(order_id) FROM orders)"
    )
    con.close()
    assert open_source(f"duckdb:{db}").fingerprint() != fp


def test_sql_source_with_a_dbapi_connection(demo):
    con = sqlite3.connect(":memory:")
    for name in ("customers", "orders"):
        df = demo.tables[name].copy()
        for col in df.columns:
            if df[col].dtype.kind == "M":
                df[col] = df[col].dt.strftime("%Y-%m-%d %H:%M:%S").where(df[col].notna(), None)
        df.to_sql(name, con, index=False)
    src = DataSource.from_sql(
        con,
        {"customers": "SELECT * FROM customers", "orders": "SELECT * FROM orders WHERE amount > 0"},
        location="sqlite demo",
    )
    tables = src.load("customers", "orders")
    _check_typed(tables)
    assert src.describe()["queries"]["orders"].startswith("SELECT")


def test_bad_specs_are_clear(tmp_path):
    with pytest.raises(DataSourceError, match="not found"):
        open_source(str(tmp_path / "nope"))
    with pytest.raises(DataSourceError, match="no contract tables"):
        open_source(str(tmp_path))
    with pytest.raises(DataSourceError, match="bad demo spec"):
        open_source("demo:customers=5")
    src = DataSource.from_frames({"customers": generate(50, seed=1).tables["customers"]})
    with pytest.raises(DataSourceError, match="'orders' is not in the data source"):
        src.load("orders")


def test_demo_source_carries_truth(small_demo):
    assert small_demo.kind == "demo" and small_demo.truth["n_customers"] == 3000
    assert small_demo.describe()["tables"]["customers"] == 3000


def test_load_raises_with_every_problem(demo):
    orders = demo.tables["orders"].copy()
    orders.loc[0, "amount"] = -5
    orders.loc[1, "customer_id"] = 10**9
    src = DataSource.from_frames({"customers": demo.tables["customers"], "orders": orders})
    with pytest.raises(DataValidationError) as exc:
        src.load("orders")
    rules = {p.rule for p in exc.value.report.problems}
    assert {"below_minimum", "unknown_customer"} <= rules


def test_portable_aggregations_agree_with_plain_pandas(small_demo):
    """DuckDB relations and pandas frames give the same answer as a hand-written groupby."""
    orders = small_demo.table("orders")
    cut = pd.Timestamp("2025-07-01")
    ref = (
        orders[orders["ts"] < cut + pd.Timedelta(days=1)]
        .assign(day=lambda d: d["ts"].dt.normalize())
        .groupby("customer_id")
        .agg(
            n_orders=("order_id", "size"),
            n_purchase_days=("day", "nunique"),
            revenue=("amount", "sum"),
            promo_orders=("promo", "sum"),
        )
        .sort_index()
    )
    for native in (orders, small_demo.relation("orders")):
        got = (
            ft.to_pandas(ft.customer_orders(native, as_of=cut))
            .set_index("customer_id")
            .sort_index()
        )
        pd.testing.assert_series_equal(got["n_orders"], ref["n_orders"], check_dtype=False)
        pd.testing.assert_series_equal(
            got["n_purchase_days"], ref["n_purchase_days"], check_dtype=False
        )
        pd.testing.assert_series_equal(got["revenue"], ref["revenue"], check_dtype=False, rtol=1e-9)
        pd.testing.assert_series_equal(got["promo_orders"], ref["promo_orders"], check_dtype=False)

    ex = small_demo.table("experiment_exposures")
    ref = (
        ex.assign(day=ex["exposed_at"].dt.normalize())
        .groupby(["experiment", "variant", "day"])
        .agg(users=("unit_id", "nunique"), conversions=("converted", "sum"))
        .reset_index()
    )
    got = ft.to_pandas(ft.experiment_daily(small_demo.relation("experiment_exposures")))
    merged = ref.merge(got, on=["experiment", "variant", "day"], suffixes=("", "_got"))
    assert len(merged) == len(ref) == len(got)
    assert (merged["users"] == merged["users_got"]).all()
    assert (merged["conversions"] == merged["conversions_got"]).all()

    tp = small_demo.table("touchpoints")
    from cjlab.data.contract import STAGES

    ref = tp.assign(i=tp["stage"].map(STAGES.index)).groupby("customer_id")["i"].max()
    got = ft.to_pandas(ft.furthest_stage(small_demo.relation("touchpoints"))).set_index(
        "customer_id"
    )
    assert (got["stage_index"].sort_index() == ref.sort_index()).all()


def test_extra_columns_keep_their_type_in_every_backend(tmp_path, demo):
    """Columns outside the contract (a customer's plan) survive typed loading with their own type."""
    customers = demo.tables["customers"].assign(plan=["basic", "pro"] * 250, seats=range(500))
    customers.to_parquet(tmp_path / "customers.parquet")
    src = open_source(str(tmp_path))
    c = src.load("customers")["customers"]
    assert c["plan"].tolist()[:2] == ["basic", "pro"] and c["seats"].dtype.kind == "i"
    assert {"plan", "seats"} <= set(src.relation("customers").columns)
    frames = DataSource.from_frames({"customers": customers}).load("customers")["customers"]
    assert frames["seats"].sum() == sum(range(500))
    assert {p.rule for p in src.validate().problems} == {"extra_column"}


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.xdist_group("spark")  # the one JVM of the Spark tests (conftest's ``spark``)
def test_extra_columns_survive_in_spark(tmp_path, demo, spark):
    demo.tables["customers"].assign(plan="pro").to_parquet(tmp_path / "customers.parquet")
    src = open_source(f"spark:{tmp_path}")
    types = dict(src.spark_frame("customers").dtypes)
    assert types["plan"] == "string" and types["first_seen"] == "date"
