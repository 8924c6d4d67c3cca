"""``cjlab import``: a YAML mapping turns a raw export into a contract folder (DuckDB, Parquet).

Expected values are computed independently from the raw rows with pandas inside each test.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from cjlab.cli import main
from cjlab.data import open_source
from cjlab.data.errors import DataSourceError, MappingError
from cjlab.data.mapping import import_mapping, load_mapping

LINES = pd.DataFrame(
    {
        "Invoice": ["1001", "1001", "1002", "C1003", "1004", "1004", "1005", "1006", "1006"],
        "Item": ["A", "B", "A", "A", "C", "A", "B", "A", "C"],
        "Qty": ["2", "1", "3", "-1", "1", "4", "5", "1", "2"],
        "Price": ["2,50", "10,00", "2,50", "2,50", "1.000,00", "2,50", "1,20", "2,50", "3,00"],
        "When": [
            "03/01/2025 10:00",
            "03/01/2025 10:01",
            "05/01/2025 09:30",
            "06/01/2025 12:00",
            "10/02/2025 08:00",
            "10/02/2025 08:00",
            "11/02/2025 15:00",
            "12/03/2025 11:00",
            "12/03/2025 11:00",
        ],
        "Cust": [
            "13607.0",
            "13607.0",
            "20001.0",
            "13607.0",
            "20001.0",
            "20001.0",
            "",
            "13607.0",
            "13607.0",
        ],
        "Opt": ["Ja", "Ja", "Nein", "Ja", "Nein", "Nein", "Ja", "Ja", "Ja"],
    }
)

RETAIL = {
    "description": "test export: semicolons, decimal commas, day-first dates",
    "inputs": {"lines": {"path": "lines.csv", "delimiter": ";", "decimal": ",", "thousands": "."}},
    "tables": {
        "orders": {
            "from": "lines",
            "filter": [{"column": "Cust", "empty": False}],
            "columns": {
                "order_id": {"column": "Invoice", "type": "id"},
                "customer_id": {"column": "Cust", "type": "id"},
                "ts": {
                    "column": "When",
                    "type": "timestamp",
                    "format": "%d/%m/%Y %H:%M",
                    "aggregate": "min",
                },
                "quantity": {"column": "Qty", "type": "number", "keep": False},
                "price": {"column": "Price", "type": "number", "keep": False},
                "amount": {
                    "sql": "TRY_CAST(Qty AS DOUBLE) * TRY_CAST(replace(replace(Price, '.', ''),"
                    " ',', '.') AS DOUBLE)",
                    "type": "number",
                    "aggregate": "sum",
                },
                "channel": {"value": "online"},
            },
            "group_by": "order_id",
            "returns": {"when": {"column": "Invoice", "starts_with": "C"}, "handle": "drop"},
        },
        "customers": {
            "from": "lines",
            "filter": [
                {"column": "Cust", "empty": False},
                {"column": "Invoice", "not_starts_with": "C"},
            ],
            "columns": {
                "customer_id": {"column": "Cust", "type": "id"},
                "first_seen": {
                    "column": "When",
                    "type": "date",
                    "format": "%d/%m/%Y %H:%M",
                    "aggregate": "min",
                },
                "marketing_opt_in": {
                    "column": "Opt",
                    "true": "Ja",
                    "false": "Nein",
                    "aggregate": "max",
                },
            },
            "group_by": "customer_id",
        },
    },
}


def _write(tmp_path, mapping, lines=LINES, name="lines.csv", sep=";", encoding="utf-8"):
    lines.to_csv(tmp_path / name, sep=sep, index=False, encoding=encoding)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _expected_orders(lines: pd.DataFrame) -> pd.DataFrame:
    d = lines[(lines["Cust"] != "") & ~lines["Invoice"].str.startswith("C")].copy()
    price = d["Price"].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    d["amount"] = d["Qty"].astype(float) * price.astype(float)
    d["ts"] = pd.to_datetime(d["When"], format="%d/%m/%Y %H:%M")
    d["customer_id"] = d["Cust"].str.replace(".0", "", regex=False)
    return (
        d.groupby("Invoice")
        .agg(customer_id=("customer_id", "first"), ts=("ts", "min"), amount=("amount", "sum"))
        .rename_axis("order_id")
        .reset_index()
    )


def test_line_items_become_orders_and_customers(tmp_path):
    mapping = _write(tmp_path, RETAIL)
    report = import_mapping(mapping, tmp_path / "out")
    assert report.ok, report.format()
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    exp = _expected_orders(LINES)
    got = orders.set_index("order_id").loc[exp["order_id"]]
    assert list(orders.columns) == ["order_id", "customer_id", "ts", "amount", "channel"]
    assert (got["customer_id"].to_numpy() == exp["customer_id"].to_numpy()).all()
    assert got["amount"].to_numpy() == pytest.approx(exp["amount"].to_numpy())
    assert (got["ts"].to_numpy() == exp["ts"].to_numpy()).all()  # the invoice's first line
    assert got.loc["1004", "amount"] == pytest.approx(1000.0 + 10.0)  # thousands separator
    customers = pd.read_parquet(tmp_path / "out" / "customers.parquet").set_index("customer_id")
    first = exp.groupby("customer_id")["ts"].min().dt.date
    assert customers["first_seen"].to_dict() == first.to_dict()  # first_seen = first order
    assert (
        customers.loc["13607", "marketing_opt_in"]
        and not customers.loc["20001", "marketing_opt_in"]
    )
    # the steps are counted
    st = report.tables["orders"]
    assert (st.rows_in, st.rows_kept, st.rows_out) == (9, 8, len(exp))
    assert (st.returns.rows, st.returns.orders) == (1, 1)
    saved = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert saved["ok"] and saved["tables"]["orders"]["returns"]["rows"] == 1
    assert (
        "1 return/cancellation rows (1 order keys): dropped"
        in (tmp_path / "out" / "import_report.txt").read_text()
    )


def test_returns_netted_against_the_invoice_they_name(tmp_path):
    raw = pd.DataFrame(
        {
            "inv": ["1", "1", "2", "R1", "R2", "R9"],
            "orig": ["", "", "", "1", "2", "9"],
            "cust": ["a", "a", "b", "a", "b", "a"],
            "amt": [10.0, 5.0, 8.0, -4.0, 8.0, -1.0],
            "ts": [
                "2025-01-01 10:00",
                "2025-01-01 10:00",
                "2025-01-02 09:00",
                "2025-01-05 12:00",
                "2025-01-06 12:00",
                "2025-01-07 12:00",
            ],
        }
    )
    mapping = {
        "inputs": {"raw": {"path": "raw.csv"}},
        "tables": {
            "orders": {
                "columns": {
                    "order_id": "inv",
                    "customer_id": "cust",
                    "ts": {"column": "ts", "aggregate": "min"},
                    "amount": {"column": "amt", "aggregate": "sum"},
                },
                "group_by": "order_id",
                "returns": {
                    "when": {"column": "inv", "starts_with": "R"},
                    "handle": "net",
                    "net_to": "orig",
                },
            },
            "customers": {
                "from": "orders",
                "group_by": "customer_id",
                "columns": {
                    "customer_id": "customer_id",
                    "first_seen": {"column": "ts", "type": "date", "aggregate": "min"},
                },
            },
        },
    }
    raw.to_csv(tmp_path / "raw.csv", index=False)
    report = import_mapping(mapping, tmp_path / "out", input=tmp_path / "raw.csv")
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet").set_index("order_id")
    # order 1: 15 - 4; order 2 fully returned (8 - 8) and dropped; R9's invoice is not in the export
    assert orders["amount"].to_dict() == {"1": pytest.approx(11.0)}
    r = report.tables["orders"].returns
    assert (r.rows, r.netted, r.unmatched, r.orders_fully_returned) == (3, 2, 1, 1)
    assert r.amount_netted == pytest.approx(12.0)
    assert report.tables["customers"].rows_out == 1  # built from the orders table above
    assert report.ok, report.format()


def test_returns_netted_against_the_latest_earlier_order_of_the_same_item(tmp_path):
    raw = pd.DataFrame(
        {
            "inv": ["1", "2", "C3", "C4"],
            "cust": ["a", "a", "a", "a"],
            "item": ["x", "x", "x", "y"],
            "qty": [2, 1, -1, -1],
            "price": [5.0, 5.0, 5.0, 7.0],
            "ts": ["2025-01-01", "2025-02-01", "2025-03-01", "2025-03-02"],
        }
    )
    raw.to_csv(tmp_path / "raw.csv", index=False)
    mapping = {
        "inputs": {"raw": {"path": str(tmp_path / "raw.csv")}},
        "tables": {
            "customers": {
                "group_by": "customer_id",
                "columns": {"customer_id": "cust", "first_seen": {"column": "ts", "type": "date"}},
            },
            "orders": {
                "from": "raw",
                "group_by": "order_id",
                "columns": {
                    "order_id": "inv",
                    "customer_id": "cust",
                    "ts": {"column": "ts", "aggregate": "min"},
                    "item": {"column": "item", "keep": False},
                    "amount": {"sql": "qty * price", "type": "number", "aggregate": "sum"},
                },
                "returns": {
                    "when": {"column": "inv", "starts_with": "C"},
                    "handle": "net",
                    "match": ["customer_id", "item"],
                },
            },
        },
    }
    report = import_mapping(mapping, tmp_path / "out")
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet").set_index("order_id")
    # C3 comes off invoice 2 (the latest earlier one with item x), which is then fully returned;
    # C4 (item y) matches nothing
    assert orders["amount"].to_dict() == {"1": 10.0}
    r = report.tables["orders"].returns
    assert (r.netted, r.unmatched, r.orders_fully_returned) == (1, 1, 1)
    assert list(orders.columns) == ["customer_id", "ts", "amount"]  # item: keep false


def test_other_encodings_are_read_or_named(tmp_path):
    lines = LINES.assign(
        Cust=["13607", "13607", "20001", "13607", "20001", "20001", "", "13607", "13607"]
    )
    lines.loc[:, "Item"] = ["Café", "Crème", "A", "A", "C", "A", "B", "A", "€uro"]
    mapping = {**RETAIL, "inputs": {"lines": {**RETAIL["inputs"]["lines"], "encoding": "cp1252"}}}
    mapping["tables"] = {
        **RETAIL["tables"],
        "orders": {
            **RETAIL["tables"]["orders"],
            "columns": {
                **RETAIL["tables"]["orders"]["columns"],
                "first_item": {"column": "Item", "aggregate": "min"},
            },
        },
    }
    path = _write(tmp_path, mapping, lines=lines, encoding="cp1252")
    report = import_mapping(path, tmp_path / "out")
    assert report.ok, report.format()
    items = pd.read_parquet(tmp_path / "out" / "orders.parquet").set_index("order_id")["first_item"]
    assert items["1001"] == "Café" and items["1006"] == "A"
    # without the encoding option: a clear message naming the option and the likely encoding
    _write(tmp_path, RETAIL, lines=lines, encoding="cp1252")
    with pytest.raises(
        DataSourceError, match=r"not UTF-8 text .* line 2.*inputs\.lines\.encoding: cp1252"
    ):
        import_mapping(tmp_path / "mapping.yaml", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize(
    ("change", "key", "text"),
    [
        (
            lambda m: m["tables"]["orders"].update(colums={}),
            "tables.orders.colums",
            "did you mean 'columns'",
        ),
        (
            lambda m: m["tables"]["orders"]["columns"]["customer_id"].update(column="Cust_id"),
            "tables.orders.columns.customer_id.column",
            "did you mean 'Cust'",
        ),
        (
            lambda m: m["tables"]["orders"]["columns"].pop("ts"),
            "tables.orders.columns",
            "required column(s) ts",
        ),
        (
            lambda m: m["tables"]["orders"]["columns"]["amount"].update(sql="Qty ** nonsense("),
            "tables.orders.columns.amount",
            "",
        ),
        (
            lambda m: m["tables"]["orders"]["columns"]["ts"].update(type="datetime"),
            "tables.orders.columns.ts.type",
            "unknown type 'datetime'",
        ),
        (
            lambda m: m["tables"].update(order=m["tables"].pop("orders")),
            "tables.order",
            "did you mean 'orders'",
        ),
        (
            lambda m: m["tables"]["orders"].update(filter={"column": "Cust", "equal": "x"}),
            "tables.orders.filter.equal",
            "did you mean 'equals'",
        ),
    ],
)
def test_bad_mappings_name_the_key(tmp_path, capsys, change, key, text):
    mapping = json.loads(json.dumps(RETAIL))
    change(mapping)
    path = _write(tmp_path, mapping)
    with pytest.raises(MappingError) as exc:
        import_mapping(path, tmp_path / "out")
    assert exc.value.key == key and text in str(exc.value)
    capsys.readouterr()
    assert main(["import", str(path), "--out", str(tmp_path / "out")]) == 2
    assert key in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_values_that_do_not_parse_are_invalid_data(tmp_path, capsys):
    lines = LINES.copy()
    lines.loc[2, "When"] = "2025-01-05 09:30"  # not day-first
    lines.loc[5, "Opt"] = "vielleicht"
    path = _write(tmp_path, RETAIL, lines=lines)
    assert main(["import", str(path), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "orders.ts: unparsed_value" in out and "tables.orders.columns.ts" in out
    assert "row 3: When='2025-01-05 09:30'" in out  # the input's data row and raw value
    assert "customers.marketing_opt_in: unparsed_value" in out and "row 6: Opt='vielleicht'" in out
    report = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert not report["ok"]
    assert main(["validate", str(tmp_path / "out")]) == 1  # the folder written says the same


def test_values_that_differ_within_an_order_are_flagged(tmp_path):
    lines = LINES.copy()
    lines.loc[1, "Cust"] = "20001.0"  # invoice 1001 now has two customers
    report = import_mapping(_write(tmp_path, RETAIL, lines=lines), tmp_path / "out")
    p = [p for p in report.validation.problems if p.rule == "differs_within_group"]
    assert [(x.table, x.column, x.n_rows, x.severity) for x in p] == [
        ("orders", "customer_id", 1, "warning")
    ]


def test_the_out_folder_is_replaced_only_when_it_holds_an_import(tmp_path, capsys):
    path = _write(tmp_path, RETAIL)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["import", str(path), "--out", str(out)]) == 2
    assert "not an earlier cjlab import" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    assert main(["import", str(path), "--out", str(out)]) == 0
    first = (out / "orders.parquet").read_bytes()
    assert main(["import", str(path), "--out", str(out)]) == 0
    assert "replacing the earlier import" in capsys.readouterr().out
    assert (out / "orders.parquet").read_bytes() == first  # deterministic output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_extra_columns_survive_typed_loading(tmp_path):
    raw = pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "since": ["2025-01-01", "2025-02-01", "2025-03-01"],
            "plan": ["basic", "pro", "pro"],
            "fee": ["9,5", "19,0", "19,0"],
            "left": ["", "2025-06-30", ""],
            "seats": [1, 5, 2],
        }
    )
    raw.to_csv(tmp_path / "raw.csv", index=False)
    mapping = {
        "inputs": {"raw": {"path": str(tmp_path / "raw.csv")}},
        "tables": {
            "customers": {
                "columns": {
                    "customer_id": "id",
                    "first_seen": "since",
                    "cancelled_at": "left",
                    "plan": "plan",
                    "monthly_fee": {"column": "fee", "type": "number", "decimal": ","},
                    "seats": {"column": "seats", "type": "integer"},
                }
            }
        },
    }
    assert import_mapping(mapping, tmp_path / "out").ok
    src = open_source(tmp_path / "out")
    c = src.load("customers")["customers"]
    assert c["plan"].tolist() == ["basic", "pro", "pro"]
    assert c["monthly_fee"].tolist() == [9.5, 19.0, 19.0] and c["seats"].dtype.kind == "i"
    assert c["cancelled_at"].notna().tolist() == [False, True, False]
    assert "plan" in src.available()["customers"]
    assert {p.rule for p in src.validate().problems} == {"extra_column"}


def test_a_large_export_runs_out_of_core(tmp_path, monkeypatch):
    """500,000 lines under a 64 MB DuckDB memory limit (the aggregation spills to disk)."""
    import numpy as np

    rng = np.random.default_rng(1)
    n = 500_000
    inv = rng.integers(0, 150_000, n)
    df = pd.DataFrame(
        {
            "inv": inv.astype(str),
            "cust": (inv % 40_000).astype(str),
            "qty": rng.integers(1, 5, n),
            "price": rng.uniform(1, 20, n).round(2),
            "ts": "2025-01-01 10:00",
        }
    )
    df.to_csv(tmp_path / "big.csv", index=False)
    monkeypatch.setenv("CJLAB_DUCKDB_MEMORY_LIMIT", "64MB")
    monkeypatch.setenv("CJLAB_DUCKDB_THREADS", "1")
    mapping = {
        "inputs": {"big": {"path": str(tmp_path / "big.csv")}},
        "tables": {
            "orders": {
                "group_by": "order_id",
                "columns": {
                    "order_id": "inv",
                    "customer_id": "cust",
                    "ts": "ts",
                    "amount": {"sql": "qty * price", "type": "number", "aggregate": "sum"},
                },
            },
            "customers": {
                "from": "orders",
                "group_by": "customer_id",
                "columns": {
                    "customer_id": "customer_id",
                    "first_seen": {"column": "ts", "type": "date"},
                },
            },
        },
    }
    report = import_mapping(mapping, tmp_path / "out")
    assert report.ok, report.format()
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert len(orders) == df["inv"].nunique()
    assert orders["amount"].sum() == pytest.approx((df["qty"] * df["price"]).sum())


def test_load_mapping_checks_the_shipped_examples():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "params" / "mappings"
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    assert {"hillstrom", "online_retail", "telco"} <= set(names)
    for name in names:  # every shipped mapping is well formed
        spec = load_mapping(folder / f"{name}.yaml")
        assert spec.description and spec.tables


def test_a_read_error_after_the_sniffed_rows_names_the_option(tmp_path):
    rows = pd.DataFrame(
        {"id": [str(i) for i in range(5000)], "since": "2025-01-01", "city": "Paris"}
    )
    rows.loc[4000, "city"] = "Orléans"
    rows.to_csv(tmp_path / "c.csv", index=False, encoding="latin-1")
    mapping = {
        "inputs": {"c": {"path": str(tmp_path / "c.csv"), "sample_size": 100}},
        "tables": {
            "customers": {"columns": {"customer_id": "id", "first_seen": "since", "city": "city"}}
        },
    }
    with pytest.raises(DataSourceError, match=r"not UTF-8 text .*line 4002.*inputs\.c\.encoding"):
        import_mapping(mapping, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    mapping["inputs"]["c"]["encoding"] = "latin-1"
    assert import_mapping(mapping, tmp_path / "out").ok
    assert pd.read_parquet(tmp_path / "out" / "customers.parquet")["city"][4000] == "Orléans"
