"""The large-output generator and the scale benchmark's baseline (small sizes; fast)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_portable import assert_same

from cjlab import features as ft
from cjlab.data import open_source
from cjlab.data.synth import CHUNK, customers_for_touchpoints, generate, write_parquet

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("cjlab_bench_scale", ROOT / "benchmarks" / "scale.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_customers_for_touchpoints_hits_the_target():
    n = customers_for_touchpoints(200_000, seed=5)
    tp = len(generate(n, seed=5).tables["touchpoints"])
    assert abs(tp / 200_000 - 1) < 0.02
    with pytest.raises(ValueError, match="at least 1"):
        customers_for_touchpoints(0)


def test_write_parquet_blocks_tables_and_row_groups(tmp_path):
    """Part files per block hold exactly the in-memory data; table subset and row groups honoured."""
    n = CHUNK + 1_500  # two blocks
    truth = write_parquet(tmp_path, n, seed=3, tables=["touchpoints", "orders"], row_group_size=50_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders", "touchpoints", "truth.json"]
    parts = sorted((tmp_path / "touchpoints").glob("*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"]
    meta = pq.ParquetFile(parts[0]).metadata
    assert meta.num_row_groups > 1 and max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 50_000
    ref = generate(n, seed=3)
    assert truth == json.loads(json.dumps(ref.truth))
    for t in ("touchpoints", "orders"):
        got = pd.read_parquet(tmp_path / t)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.tables[t].reset_index(drop=True),
                                      check_dtype=False)


def test_benchmark_pandas_baseline_equals_portable_code(small_demo):
    """benchmarks/scale.py's plain-pandas implementation computes what the portable code computes."""
    bench = _bench()
    folder = Path(small_demo.location)
    feats, _ = bench._pandas(folder, "features")
    funnel, _ = bench._pandas(folder, "funnel")
    src = open_source(str(folder))
    tp, orders = src.lazy("touchpoints", validate=False), src.lazy("orders", validate=False)
    assert_same(feats, ft.customer_features(tp, orders), ["customer_id"], "bench pandas features")
    assert_same(funnel, ft.stage_funnel(tp), ["stage_index"], "bench pandas funnel")
    duck, _ = bench._duckdb(folder, "features", "1GB", 1, folder.parent / "duckdb_tmp")
    assert_same(duck, feats, ["customer_id"], "bench duckdb features")


def test_duckdb_memory_bounds_from_environment(small_demo, monkeypatch, tmp_path):
    """CJLAB_DUCKDB_* bound every source's connection (opt-in; defaults unchanged)."""
    default = open_source(small_demo.location).con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    monkeypatch.setenv("CJLAB_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("CJLAB_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    monkeypatch.setenv("CJLAB_DUCKDB_THREADS", "1")
    con = open_source(small_demo.location).con
    limit, temp, threads = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
                                       "current_setting('threads')").fetchone()
    assert limit != default and limit.endswith("MiB") and 900 <= float(limit.split()[0]) <= 1000
    assert temp == str(tmp_path / "spill") and int(threads) == 1
