"""The data overview follows the data: figures checked against pandas, sections skipped with a
sentence when their table or column is absent, and the notebook runs on customers and orders only."""

from __future__ import annotations

import pandas as pd
import pytest

from cjlab.data import STAGES, DataSource
from cjlab.data.overview import SECTIONS, from_source
from cjlab.data.synth import generate


@pytest.fixture(scope="module")
def demo():
    return generate(600, seed=4).tables


def test_figures_match_pandas(demo):
    ov = from_source(DataSource.from_frames(demo), currency="EUR")
    c, o, tp = demo["customers"], demo["orders"], demo["touchpoints"]
    assert ov.validation.ok and not ov.skipped
    assert ov.n_customers == len(c) and ov.n_orders == len(o)
    assert ov.buyers == o["customer_id"].nunique()
    assert ov.revenue == pytest.approx(o["amount"].sum())
    furthest = tp.assign(i=tp["stage"].map(STAGES.index)).groupby("customer_id")["i"].max()
    assert ov.reached_purchase == pytest.approx((furthest >= STAGES.index("purchase")).mean())
    assert ov.lifecycle["customers"].tolist() == [
        int((furthest == i).sum()) for i in range(len(STAGES))
    ]
    ref = c["acquisition_channel"].value_counts()
    assert (
        dict(zip(ov.channels["acquisition_channel"], ov.channels["customers"]))
        == ref.head(12).to_dict()
    )
    monthly = o.groupby(o["ts"].dt.to_period("M"))["amount"].sum()
    assert ov.orders["revenue"].to_numpy() == pytest.approx(monthly.to_numpy())
    h = ov.headline()
    assert h.status == "good" and h.title == "Data passed every contract check"
    items = dict(h.items)
    assert items["Orders"].endswith(f"revenue EUR {o['amount'].sum():,.0f}")
    kpis = {(k.name, k.group): k for k in ov.kpis()}
    assert kpis[("revenue", None)].unit == "money" and kpis[("revenue", None)].currency == "EUR"
    assert kpis[("buyer_share", None)].value == pytest.approx(ov.buyers / len(c))
    assert kpis[("rows", "touchpoints")].value == len(tp)


OPTIONAL = [
    ("touchpoints", None),
    ("orders", None),
    ("survey_responses", None),
    ("experiment_exposures", None),
    ("customers", "acquisition_channel"),
    ("touchpoints", "device"),
]


@pytest.mark.parametrize(("table", "column"), OPTIONAL, ids=lambda v: str(v))
def test_sections_follow_the_data(demo, table, column):
    tables = dict(demo)
    if column is None:
        tables.pop(table)
    else:
        tables[table] = tables[table].drop(columns=column)
    ov = from_source(DataSource.from_frames(tables))
    need = f"the {table} table" if column is None else f"the {column} column of {table}"
    expect = {
        s
        for s, (_, req) in SECTIONS.items()
        if table in req and (column is None or column in req[table])
    }
    assert set(ov.skipped) == expect
    for s in expect:
        assert ov.skipped[s].endswith(f"needs {need}.")
    ov.headline(), ov.kpis()  # no error on any combination
    if table == "orders":
        assert ov.revenue is None and "Orders" not in dict(ov.headline().items)


def test_an_all_empty_optional_column_counts_as_absent(demo):
    tables = {**demo, "customers": demo["customers"].assign(acquisition_channel=None)}
    assert "channels" in from_source(DataSource.from_frames(tables)).skipped


def test_invalid_data_are_said_in_the_headline(demo):
    orders = demo["orders"].copy()
    orders.loc[0, "amount"] = -1.0
    orders.loc[1, "ts"] = pd.Timestamp("2099-06-01")
    ov = from_source(DataSource.from_frames({**demo, "orders": orders}))
    assert ov.headline().status == "bad" and "break the contract in 2 way(s)" in ov.headline().title
    rules = set(ov.problems_table()["rule"])
    assert {"below_minimum", "after_latest_date"} <= rules
    assert {k.name: k.value for k in ov.kpis()}["validation_errors"] == 2


def test_the_notebook_runs_on_customers_and_orders_only(tmp_path, small_demo):
    import nbformat
    from conftest import assert_clean_report_notebook, run_notebook_on_tables

    tables = small_demo.load("customers", "orders")
    tables["customers"] = tables["customers"].drop(columns=["acquisition_channel"])
    _, folder, html = run_notebook_on_tables(tables, tmp_path, "00_data_overview", "two-tables")
    nb = nbformat.read(folder / "00_data_overview.ipynb", as_version=4)
    assert_clean_report_notebook(nb)
    for sentence in (
        "this section needs the acquisition_channel column of customers",
        "this section needs the touchpoints table",
        "this section needs the experiment_exposures table",
    ):
        assert sentence in html
    assert "Traceback" not in html and "BinderException" not in html
