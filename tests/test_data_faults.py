"""Hostile and broken input to the data layer (issue 16, items 1-2): a catalogue of cases.

Each case builds a data folder (valid customers, something wrong with the rest) and runs
``cjlab validate`` on it: exit code 1, a message naming the file or rule and saying what to do,
no traceback, and nothing that blocks (FIFOs and devices are refused without being opened).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cjlab.cli import main
from cjlab.data import open_source
from cjlab.data.errors import DataSourceError
from cjlab.data.synth import generate


@pytest.fixture(scope="module")
def demo():
    return generate(300, seed=2).tables


def _folder(tmp_path: Path, demo, orders: bool = False) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    demo["customers"].to_csv(data / "customers.csv", index=False)
    if orders:
        demo["orders"].to_csv(data / "orders.csv", index=False)
    return data


def _cp1252_orders(demo, data: Path, at: int) -> None:
    o = demo["orders"].copy()
    o["product_category"] = o["product_category"].astype(object)
    o.loc[at, "product_category"] = "Café crème"
    o.to_csv(data / "orders.csv", index=False, encoding="cp1252")


def _big_orders(demo, n: int) -> pd.DataFrame:
    o = demo["orders"]
    big = o.sample(n, replace=True, random_state=1).reset_index(drop=True)
    big["order_id"] = range(n)
    return big


# case -> (build the bad part into the folder, text expected in the output)
CASES = {
    "empty directory as a file": (
        lambda d, demo: (d / "orders.csv").mkdir(),
        "orders.csv is an empty folder",
    ),
    "empty part folder": (lambda d, demo: (d / "orders").mkdir(), "orders is an empty folder"),
    "symlink to itself": (
        lambda d, demo: (d / "orders.csv").symlink_to(d / "orders.csv"),
        "points to itself",
    ),
    "symlink to nothing": (
        lambda d, demo: (d / "orders.csv").symlink_to(d / "gone.csv"),
        "which does not exist",
    ),
    "fifo": (lambda d, demo: os.mkfifo(d / "orders.csv"), "orders.csv is a named pipe (FIFO)"),
    "fifo part file": (
        lambda d, demo: ((d / "orders").mkdir(), os.mkfifo(d / "orders" / "part-0.parquet")),
        "part-0.parquet is a named pipe (FIFO)",
    ),
    "character device": (
        lambda d, demo: (d / "orders.csv").symlink_to("/dev/zero"),
        "is a character device",
    ),
    "empty file": (
        lambda d, demo: (d / "orders.csv").write_bytes(b""),
        "orders.csv is empty (0 bytes)",
    ),
    "unsupported format": (
        lambda d, demo: (d / "orders.xlsx").write_bytes(b"PK\x03\x04 not really"),
        "orders.xlsx is not a format cjlab reads",
    ),
    "latin-1 text in the first rows": (
        lambda d, demo: _cp1252_orders(demo, d, 1),
        "not UTF-8 text (byte 0xe9 on line 3); it looks like cp1252",
    ),
    "latin-1 text after the sniffed rows": (
        lambda d, demo: (
            _big_orders(demo, 60_000).to_csv(d / "orders.csv", index=False),
            _cp1252_orders({"orders": _big_orders(demo, 60_000)}, d, 55_000),
        ),
        "encoding: cp1252",
    ),
    "corrupt parquet": (
        lambda d, demo: (d / "orders.parquet").write_bytes(b"PAR1" + os.urandom(500)),
        "orders.parquet is not a readable Parquet file",
    ),
    "truncated parquet": (
        lambda d, demo: (
            demo["orders"].to_parquet(d / "full.parquet"),
            (d / "orders.parquet").write_bytes((d / "full.parquet").read_bytes()[:3000]),
            (d / "full.parquet").unlink(),
        ),
        "orders.parquet is not a readable Parquet file",
    ),
    "missing customers": (
        lambda d, demo: (
            (d / "customers.csv").unlink(),
            demo["orders"].to_csv(d / "orders.csv", index=False),
        ),
        "the customers table is required",
    ),
    "orders dated 2099": (
        lambda d, demo: (
            demo["orders"]
            .assign(
                ts=demo["orders"]["ts"].where(demo["orders"].index != 3, pd.Timestamp("2099-06-01"))
            )
            .to_csv(d / "orders.csv", index=False)
        ),
        "orders.ts: after_latest_date",
    ),
    "orders dated 1970-01-01": (
        lambda d, demo: (
            demo["orders"]
            .assign(
                ts=demo["orders"]["ts"].where(demo["orders"].index != 3, pd.Timestamp("1970-01-01"))
            )
            .to_csv(d / "orders.csv", index=False)
        ),
        "orders.ts: before_earliest_date",
    ),
    "amount 1e308": (
        lambda d, demo: (
            demo["orders"]
            .assign(amount=demo["orders"]["amount"].where(demo["orders"].index != 4, 1e308))
            .to_csv(d / "orders.csv", index=False)
        ),
        "orders.amount: above_ceiling",
    ),
    "birth date 1900-01-01": (
        lambda d, demo: (
            demo["customers"]
            .assign(
                birth_date=demo["customers"]["birth_date"].where(
                    demo["customers"].index != 0, pd.Timestamp("1900-01-01")
                )
            )
            .to_csv(d / "customers.csv", index=False)
        ),
        "customers.birth_date: before_earliest_date",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_refuses_what_is_not_a_readable_table(tmp_path, demo, capsys, case):
    build, expected = CASES[case]
    data = _folder(tmp_path, demo)
    build(data, demo)
    t0 = time.monotonic()
    code = main(["validate", str(data)])
    out = capsys.readouterr()
    assert time.monotonic() - t0 < 30
    assert code == 1, out
    assert expected in out.out, out.out
    assert "Traceback" not in out.out + out.err


def test_a_fifo_never_blocks_validate_or_run(tmp_path, demo):
    """Through the real command in a child process: exit 1 within seconds, no report written."""
    data = _folder(tmp_path, demo)
    os.mkfifo(data / "orders.csv")
    cjlab = [sys.executable, "-m", "cjlab.cli"]
    t0 = time.monotonic()
    res = subprocess.run(
        [*cjlab, "validate", str(data)], capture_output=True, text=True, timeout=120
    )
    assert time.monotonic() - t0 < 60
    assert res.returncode == 1 and "named pipe" in res.stdout
    reports = tmp_path / "reports"
    res = subprocess.run(
        [
            *cjlab,
            "run",
            "00_data_overview",
            "--data",
            str(data),
            "--reports-dir",
            str(reports),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert res.returncode == 1, res.stderr[-2000:]
    assert "named pipe" in res.stdout + res.stderr and "Traceback" not in res.stderr
    assert not list(reports.glob("*/*/manifest.json"))  # nothing that looks like a report


def test_a_file_that_fails_to_read(tmp_path, demo, capsys, monkeypatch):
    data = _folder(tmp_path, demo, orders=True)
    real_open = open

    def failing_open(path, *a, **kw):
        if str(path).endswith("orders.csv"):
            raise OSError(5, "Input/output error")
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", failing_open)
    assert main(["validate", str(data)]) == 1
    assert "orders.csv cannot be read (Input/output error)" in capsys.readouterr().out


def test_a_garbage_duckdb_file(tmp_path, capsys):
    db = tmp_path / "company.duckdb"
    db.write_bytes(os.urandom(4096))
    assert main(["validate", str(db)]) == 1
    assert "company.duckdb is not a readable DuckDB database" in capsys.readouterr().out
    os.mkfifo(tmp_path / "pipe.duckdb")
    assert main(["validate", str(tmp_path / "pipe.duckdb")]) == 1
    assert "named pipe" in capsys.readouterr().out


def test_reads_are_bounded_in_time(tmp_path, demo, monkeypatch):
    data = _folder(tmp_path, demo)
    _big_orders(demo, 400_000).to_csv(data / "orders.csv", index=False)
    monkeypatch.setenv("CJLAB_READ_TIMEOUT", "0.05")
    t0 = time.monotonic()
    report = open_source(data).validate(raise_errors=False)
    assert time.monotonic() - t0 < 20
    rules = {(p.table, p.rule) for p in report.errors}
    assert ("customers", "unreadable_table") in rules or ("orders", "unreadable_table") in rules
    assert "time limit" in report.format()


def test_a_query_that_starts_after_the_limit_is_stopped_too():
    """DuckDB drops an interrupt that arrives between two queries; the limit must not."""
    import duckdb

    from cjlab.data.files import time_limit

    con = duckdb.connect()
    safety = threading.Timer(15, con.interrupt)  # ends the test's query if the limit fails
    safety.start()
    t0 = time.monotonic()
    with pytest.raises(duckdb.InterruptException):
        with time_limit(con, 0.05):
            time.sleep(0.3)  # the limit passes while Python works, no query running
            con.execute("SELECT sum(hash(i)) FROM range(100000000000) t(i)").fetchall()
    safety.cancel()
    assert time.monotonic() - t0 < 10
    assert con.execute("SELECT 42").fetchone() == (42,)  # the connection is usable after


def test_unreadable_tables_leave_the_others_usable(tmp_path, demo):
    data = _folder(tmp_path, demo)
    os.mkfifo(data / "orders.csv")
    demo["touchpoints"].to_parquet(data / "touchpoints.parquet")
    src = open_source(data)
    assert src.tables == ["customers", "touchpoints"]
    report = src.validate(raise_errors=False)
    assert [p.rule for p in report.errors] == ["unreadable_file"]
    assert len(src.load("customers", validate=False)["customers"]) == len(demo["customers"])


def test_bounds_from_a_mapping_apply_to_the_folder(tmp_path, demo, capsys):
    raw = demo["orders"].assign(
        amount=demo["orders"]["amount"].where(demo["orders"].index != 2, 600.0)
    )
    raw.to_csv(tmp_path / "orders_raw.csv", index=False)
    demo["customers"].to_csv(tmp_path / "customers_raw.csv", index=False)
    mapping = {
        "bounds": {"max_amount": 500, "earliest": "2024-01-01", "latest": "2025-12-31"},
        "inputs": {
            "o": {"path": str(tmp_path / "orders_raw.csv")},
            "c": {"path": str(tmp_path / "customers_raw.csv")},
        },
        "tables": {
            "customers": {
                "from": "c",
                "columns": {"customer_id": "customer_id", "first_seen": "first_seen"},
            },
            "orders": {
                "from": "o",
                "columns": {c: c for c in ("order_id", "customer_id", "ts", "amount")},
            },
        },
    }
    import yaml

    (tmp_path / "m.yaml").write_text(yaml.safe_dump(mapping))
    assert main(["import", str(tmp_path / "m.yaml"), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "orders.amount: above_ceiling" in out and "ceiling 500" in out and "row 3" in out
    assert main(["validate", str(tmp_path / "out")]) == 1  # the bounds travel with the folder
    assert "above_ceiling" in capsys.readouterr().out


def test_bad_demo_specs(capsys):
    for spec in ("demo:n_customers=0", "demo:n_customers=1"):
        with pytest.raises(DataSourceError, match="at least 50"):
            open_source(spec)


def test_import_refuses_a_fifo_or_an_empty_folder_as_input(tmp_path, capsys):
    os.mkfifo(tmp_path / "lines.csv")
    (tmp_path / "parts").mkdir()
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "inputs: {raw: {format: csv}}\n"
        "tables: {customers: {columns: {customer_id: id, first_seen: since}}}\n"
    )
    for given, text in (
        (tmp_path / "lines.csv", "named pipe"),
        (tmp_path / "parts", "empty folder"),
    ):
        assert (
            main(["import", str(mapping), "--input", str(given), "--out", str(tmp_path / "out")])
            == 1
        )
        assert text in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_duckdb_tables_are_validated_like_files(tmp_path, demo):
    db = tmp_path / "c.duckdb"
    con = duckdb.connect(str(db))
    con.register("o", demo["orders"])
    con.execute("CREATE TABLE orders AS SELECT * FROM o")
    con.close()
    report = open_source(db).validate(raise_errors=False)
    assert [(p.table, p.rule) for p in report.errors] == [("customers", "missing_table")]
