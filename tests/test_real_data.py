"""The three public datasets reach the contract through their shipped mappings (``cjlab import``),
and the figures match the published ones (../shared/data/SOURCES.md) or an independent pandas
computation on the raw file. Skipped with a reason when ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cjlab.cli import main
from cjlab.data import open_source

pytestmark = pytest.mark.shared_data
MAPPINGS = Path(__file__).resolve().parents[1] / "params" / "mappings"
FILES = {
    "online_retail": "online_retail_sample40k.csv",
    "hillstrom": "hillstrom.csv",
    "telco": "telco_churn_ibm.csv",
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory, shared_data):
    """name -> contract folder written by `cjlab import` (once per module)."""
    base = tmp_path_factory.mktemp("imported")
    out = {}
    for name, file in FILES.items():
        folder = base / name
        code = main(
            [
                "import",
                str(MAPPINGS / f"{name}.yaml"),
                "--input",
                str(shared_data / file),
                "--out",
                str(folder),
            ]
        )
        assert code == 0, f"cjlab import {name} exited {code}"
        out[name] = folder
    return out


def test_hillstrom_arms_match_the_published_figures(imported):
    src = open_source(imported["hillstrom"])
    assert src.tables == ["experiment_exposures"] and src.validate().ok
    e = src.table("experiment_exposures")
    arms = e.groupby("variant").agg(
        n=("unit_id", "size"),
        visit=("visited", "mean"),
        conversion=("converted", "mean"),
        spend=("revenue", "mean"),
    )
    published = {
        "Mens E-Mail": (21_307, 0.1828, 0.01253, 1.4226),
        "Womens E-Mail": (21_387, 0.1514, 0.00884, 1.0772),
        "No E-Mail": (21_306, 0.1062, 0.00573, 0.6528),
    }
    for arm, (n, visit, conv, spend) in published.items():
        row = arms.loc[arm]
        assert row["n"] == n
        assert row["visit"] == pytest.approx(visit, abs=5e-5)
        assert row["conversion"] == pytest.approx(conv, abs=5e-6)
        assert row["spend"] == pytest.approx(spend, abs=5e-5)
    assert e["unit_id"].is_unique and e["experiment"].nunique() == 1


def test_telco_churn_matches_the_published_figures(imported, shared_data):
    src = open_source(imported["telco"])
    assert src.tables == ["customers"] and src.validate().ok
    c = src.table("customers")
    assert len(c) == 7_043 and c["cancelled_at"].notna().sum() == 1_869
    by_contract = c.assign(churned=c["cancelled_at"].notna()).groupby("contract")["churned"].mean()
    assert by_contract["Month-to-month"] == pytest.approx(0.427, abs=5e-4)
    assert by_contract["One year"] == pytest.approx(0.113, abs=5e-4)
    assert by_contract["Two year"] == pytest.approx(0.028, abs=5e-4)
    # first_seen = snapshot - tenure months; the 11 blank TotalCharges (tenure 0) become 0
    raw = pd.read_csv(shared_data / FILES["telco"], dtype={"TotalCharges": str}).set_index(
        "customerID"
    )
    c = c.set_index("customer_id").loc[raw.index]
    expect = [pd.Timestamp("2025-12-31") - pd.DateOffset(months=int(m)) for m in raw["tenure"]]
    assert (c["first_seen"].to_numpy() == pd.to_datetime(expect).to_numpy()).all()
    blank = raw["TotalCharges"].str.strip() == ""
    assert blank.sum() == 11 and (raw.loc[blank, "tenure"] == 0).all()
    assert (c.loc[blank, "total_charges"] == 0).all()
    assert c["monthly_charges"].to_numpy() == pytest.approx(raw["MonthlyCharges"].to_numpy())
    assert (
        c["senior_citizen"].dtype == bool
        and c["senior_citizen"].sum() == raw["SeniorCitizen"].sum()
    )


def _reference_orders(raw: pd.DataFrame) -> pd.DataFrame:
    """Invoices the way an analyst would compute them from the lines, in pandas."""
    d = raw[raw["CustomerID"].notna()]
    d = d[~d["InvoiceNo"].str.startswith(("C", "A")) & (d["Quantity"] >= 0)]
    d = d.assign(
        line=d["Quantity"] * d["UnitPrice"],
        customer=d["CustomerID"].astype(int).astype(str),
        ts=pd.to_datetime(d["InvoiceDate"]),
    )
    return d.groupby("InvoiceNo").agg(
        customer_id=("customer", "first"),
        ts=("ts", "min"),
        amount=("line", "sum"),
        n_lines=("line", "size"),
    )


def test_online_retail_invoices_match_an_independent_count(imported, shared_data):
    raw = pd.read_csv(
        shared_data / FILES["online_retail"], dtype={"InvoiceNo": str, "StockCode": str}
    )
    ref = _reference_orders(raw)
    src = open_source(imported["online_retail"])
    assert src.tables == ["customers", "orders"] and src.validate().ok
    orders = src.table("orders").set_index("order_id")
    assert len(orders) == len(ref) and set(orders.index) == set(ref.index)
    got = orders.loc[ref.index]
    assert got["amount"].to_numpy() == pytest.approx(ref["amount"].to_numpy())
    assert (got["customer_id"] == ref["customer_id"]).all() and (got["ts"] == ref["ts"]).all()
    assert (got["n_lines"] == ref["n_lines"]).all()
    customers = src.table("customers").set_index("customer_id")
    first = ref.groupby("customer_id")["ts"].min().dt.normalize()
    assert set(customers.index) == set(first.index)
    assert (customers.loc[first.index, "first_seen"] == first).all()
    # cancellations of known customers are counted and dropped
    report = (imported["online_retail"] / "import_report.txt").read_text()
    cancelled = raw["CustomerID"].notna() & raw["InvoiceNo"].str.startswith("C")
    n_inv = raw.loc[cancelled, "InvoiceNo"].nunique()
    assert f"{cancelled.sum():,} return/cancellation rows ({n_inv:,} order keys): dropped" in report
