"""Scale benchmark: per-customer features and the stage funnel at 1 M, 10 M and 100 M touchpoints.

The same portable code (:func:`cjlab.features.customer_features`,
:func:`cjlab.features.stage_funnel`) runs on DuckDB reading the Parquet parts in place
(``memory_limit`` and ``temp_directory`` set, so it spills instead of running out of memory)
and on Spark local mode; a plain pandas ``groupby`` implementation (read Parquet, group,
join) is the baseline where it fits in memory. Every measurement runs in its own child
process; the parent samples the resident memory of the child and all its descendants (the
Spark JVM included) with psutil every 50 ms and reports the peak.

The data are the demo company (:func:`cjlab.data.synth.write_parquet`, one Parquet part per
block of 25,000 customers, about 15 touchpoints and 1.8 orders per customer), generated once::

    .venv/bin/python benchmarks/scale.py generate --touchpoints 1e6 1e7 1e8 --out /tmp/cjlab_scale

and then measured (one JSON line per measurement appended to ``--log``)::

    .venv/bin/python benchmarks/scale.py run --data /tmp/cjlab_scale --sizes 1m 10m \\
        --engines duckdb spark pandas
    .venv/bin/python benchmarks/scale.py run --data /tmp/cjlab_scale --sizes 100m --engines duckdb

``report`` prints the table of a log again. Wall times exclude interpreter start-up and, for
Spark, the session start (reported separately as ``startup_s``); they include reading the
Parquet files and collecting the result to pandas (one row per customer for the features,
one row per stage for the funnel).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SIZES = {"1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}
TASKS = ("features", "funnel")
ENGINES = ("duckdb", "spark", "pandas")
TP_COLS = ["customer_id", "ts", "channel", "touchpoint", "stage", "device"]
OR_COLS = ["customer_id", "order_id", "ts", "amount", "promo"]


def _label(n: int) -> str:
    return next((k for k, v in SIZES.items() if v == n), f"{n}")


# -- generation ------------------------------------------------------------------------------------

def generate(out: Path, touchpoints: list[float], seed: int = 42) -> None:
    from cjlab.data.synth import customers_for_touchpoints, write_parquet

    for n in touchpoints:
        n = int(n)
        folder = out / f"tp{_label(n)}"
        if (folder / "truth.json").exists():
            print(f"{folder} exists: reused")
            continue
        tmp = out / (folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        customers = customers_for_touchpoints(n, seed)
        t0 = time.perf_counter()
        write_parquet(tmp, customers, seed, progress=False)
        tmp.rename(folder)
        print(f"{folder}: {customers:,} customers in {time.perf_counter() - t0:.0f} s", flush=True)


# -- one measurement (runs in a child process) ---------------------------------------------------

def _duckdb(folder: Path, task: str, memory_limit: str, threads: int, temp: Path) -> tuple[object, float]:
    from cjlab.data import open_source

    src = open_source(str(folder))
    temp.mkdir(parents=True, exist_ok=True)
    src.con.execute(f"SET memory_limit = '{memory_limit}'")
    src.con.execute(f"SET threads = {threads}")
    src.con.execute(f"SET temp_directory = '{temp}'")
    src.con.execute("SET preserve_insertion_order = false")
    t0 = time.perf_counter()
    out = _aggregate(src, task)
    return out, t0


def _aggregate(src, task: str):
    """The measured step, the same code whatever engine ``src`` hands out frames from."""
    from cjlab import features as ft

    tp = src.lazy("touchpoints", validate=False)
    if task == "features":
        return ft.to_pandas(ft.customer_features(tp, src.lazy("orders", validate=False)))
    return ft.stage_funnel(tp)


def _spark(folder: Path, task: str, driver_memory: str, threads: int) -> tuple[object, float, float]:
    from cjlab.data import DataSource
    from cjlab.data.spark import local_session

    s0 = time.perf_counter()
    spark = local_session(cores=threads, driver_memory=driver_memory, shuffle_partitions=8)
    src = DataSource.from_spark(spark, folder)
    startup = time.perf_counter() - s0
    t0 = time.perf_counter()
    out = _aggregate(src, task)
    return out, t0, startup


def _pandas(folder: Path, task: str) -> tuple[object, float]:
    """Plain pandas: read the needed columns, groupby, join (no narwhals, no DuckDB)."""
    import numpy as np
    import pandas as pd

    from cjlab.data.contract import STAGES

    t0 = time.perf_counter()
    tp = pd.read_parquet(folder / "touchpoints", columns=TP_COLS)
    idx = tp["stage"].map({s: i for i, s in enumerate(STAGES)}).fillna(-1).astype("int64")
    if task == "funnel":
        furthest = idx.groupby(tp["customer_id"]).max()
        stopped = furthest.value_counts()
        touched = tp.groupby("stage")["customer_id"].nunique()
        rows = []
        for i, s in enumerate(STAGES):
            reached = int(stopped[stopped.index >= i].sum())
            rows.append({"stage": s, "stage_index": i, "touched": int(touched.get(s, 0)),
                         "stopped": int(stopped.get(i, 0)), "reached": reached})
        out = pd.DataFrame(rows)
        out["step_conversion"] = (out["reached"] / out["reached"].shift(1)).fillna(1.0)
        out["overall_conversion"] = out["reached"] / len(furthest)
        return out, t0
    tp = tp.assign(_s=(tp["touchpoint"] == "support_ticket").astype("int64"),
                   _a=(tp["device"] == "app").astype("int64"), _i=idx)
    g = tp.groupby("customer_id")
    feats = pd.DataFrame({"n_touchpoints": g.size(), "first_touch": g["ts"].min(), "last_touch": g["ts"].max(),
                          "n_channels": g["channel"].nunique(dropna=False), "support_tickets": g["_s"].sum(),
                          "app_touchpoints": g["_a"].sum(), "stage_index": g["_i"].max()})
    del tp, g
    o = pd.read_parquet(folder / "orders", columns=OR_COLS)
    o["_day"] = o["ts"].dt.normalize()
    o["_promo"] = o["promo"].astype("int64")
    go = o.groupby("customer_id")
    orders = pd.DataFrame({"n_orders": go["order_id"].count(), "n_purchase_days": go["_day"].nunique(),
                           "first_order": go["ts"].min(), "last_order": go["ts"].max(),
                           "revenue": go["amount"].sum(), "mean_order_value": go["amount"].mean(),
                           "promo_orders": go["_promo"].sum()})
    out = feats.join(orders, how="left").reset_index()
    for c in ("n_orders", "n_purchase_days", "revenue", "promo_orders"):
        out[c] = out[c].fillna(0)
    out["app_share"] = out["app_touchpoints"] / out["n_touchpoints"]
    out["promo_share"] = np.where(out["n_orders"] > 0, out["promo_orders"] / out["n_orders"].where(out["n_orders"] > 0), np.nan)
    return out, t0


def measure(args: argparse.Namespace) -> None:
    import resource

    folder = Path(args.folder)
    startup = 0.0
    if args.engine == "duckdb":
        out, t0 = _duckdb(folder, args.task, args.memory_limit, args.threads, Path(args.temp))
    elif args.engine == "spark":
        out, t0, startup = _spark(folder, args.task, args.driver_memory, args.threads)
    else:
        out, t0 = _pandas(folder, args.task)
    wall = time.perf_counter() - t0
    # column sums of the result, compared across engines by `report`
    check = {c: float(out[c].sum()) for c in out.columns
             if out[c].dtype.kind in "iuf" and c != "customer_id"}
    print(json.dumps({"wall_s": wall, "startup_s": startup, "rows_out": len(out), "check": check,
                      "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# -- the parent: child processes, memory sampling, table ------------------------------------------

def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def _dir_bytes(folder: Path) -> int:
    """Bytes in the files under ``folder`` (DuckDB's spill files)."""
    total = 0
    try:
        for root, _dirs, files in os.walk(folder):
            for f in files:
                try:
                    total += os.path.getsize(os.path.join(root, f))
                except OSError:
                    pass
    except OSError:
        return 0
    return total


def run_one(folder: Path, engine: str, task: str, opts: argparse.Namespace) -> dict:
    import psutil

    cmd = [sys.executable, __file__, "measure", "--folder", str(folder), "--engine", engine, "--task", task,
           "--memory-limit", opts.memory_limit, "--threads", str(opts.threads), "--temp", opts.temp,
           "--driver-memory", opts.driver_memory]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
    proc = psutil.Process(child.pid)
    peak = spill = 0
    temp = Path(opts.temp)
    while child.poll() is None:
        peak = max(peak, _tree_rss(proc))
        if engine == "duckdb":
            spill = max(spill, _dir_bytes(temp))
        time.sleep(0.05)
        if opts.timeout and time.perf_counter() - t0 > opts.timeout:
            for p in [*proc.children(recursive=True), proc]:
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            break
    out, err = child.communicate()
    rec = {"size": None, "folder": str(folder), "engine": engine, "task": task, "peak_rss_mb": peak / 2**20,
           "peak_spill_mb": spill / 2**20,
           "process_s": time.perf_counter() - t0, "returncode": child.returncode,
           "memory_limit": opts.memory_limit if engine == "duckdb" else None,
           "driver_memory": opts.driver_memory if engine == "spark" else None, "threads": opts.threads,
           "load_avg_1m_before": os.getloadavg()[0]}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if child.returncode == 0 and lines:
        rec.update(json.loads(lines[-1]))
    else:
        rec["error"] = (err or out).strip().splitlines()[-3:]
    return rec


def _rows(folder: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    return {t: con.execute(f"SELECT count(*) FROM read_parquet('{folder}/{t}/*.parquet')").fetchone()[0]
            for t in ("touchpoints", "orders", "customers")}


def run(opts: argparse.Namespace) -> None:
    log = Path(opts.log)
    for size in opts.sizes:
        folder = Path(opts.data) / f"tp{size}"
        if not (folder / "truth.json").exists():
            print(f"skip {size}: {folder} not generated (run `generate` first)")
            continue
        rows = _rows(folder)
        for engine in opts.engines:
            if engine == "spark" and SIZES[size] > 10_000_000 and not opts.force:
                continue
            if engine == "pandas" and SIZES[size] > opts.pandas_max and not opts.force:
                continue
            for task in opts.tasks:
                rec = run_one(folder, engine, task, opts)
                rec.update(size=size, touchpoints=rows["touchpoints"], orders=rows["orders"],
                           customers=rows["customers"], at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                with log.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
                print(_line(rec), flush=True)
    report(log)


def _line(r: dict) -> str:
    if "error" in r:
        return f"{r['size']:>5} {r['engine']:<7} {r['task']:<9} FAILED rc={r['returncode']}: {r['error']}"
    return (f"{r['size']:>5} {r['engine']:<7} {r['task']:<9} {r['wall_s']:8.1f} s  peak {r['peak_rss_mb']:8.0f} MB"
            f"  rows_out {r['rows_out']:>9,}" + (f"  (+{r['startup_s']:.0f} s session start)" if r.get("startup_s") else ""))


def _same(a: dict, b: dict) -> bool:
    """Same number of rows and the same column sums (to 1e-9 relative) as the pandas result."""
    if a["rows_out"] != b["rows_out"] or set(a["check"]) != set(b["check"]):
        return False
    return all(abs(a["check"][c] - b["check"][c]) <= 1e-9 * max(1.0, abs(a["check"][c])) for c in a["check"])


def report(log: Path) -> None:
    recs = [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]
    latest: dict[tuple, dict] = {}
    for r in recs:
        latest[(r["size"], r["engine"], r["task"])] = r
    print("\n| touchpoints | orders | customers | task | engine | wall s | peak RSS MB | spilled MB "
          "| pandas / engine | check |")
    print("|---:|---:|---:|---|---|---:|---:|---:|---:|---|")
    for (size, engine, task), r in sorted(latest.items(), key=lambda kv: (SIZES.get(kv[0][0], 0), kv[0][2],
                                                                          ENGINES.index(kv[0][1]))):
        if "error" in r:
            print(f"| {r.get('touchpoints', 0):,} | | | {task} | {engine} | failed | {r['peak_rss_mb']:.0f} | | | |")
            continue
        base = latest.get((size, "pandas", task))
        ratio = f"{base['wall_s'] / r['wall_s']:.1f}x" if base and "error" not in base else "n/a"
        same = ""
        if base and "error" not in base:
            same = "same" if _same(base, r) else "DIFFERS"
        print(f"| {r['touchpoints']:,} | {r['orders']:,} | {r['customers']:,} | {task} | {engine} | "
              f"{r['wall_s']:.1f} | {r['peak_rss_mb']:,.0f} | {r.get('peak_spill_mb') or 0:,.0f} | {ratio} | {same} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--touchpoints", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    g.add_argument("--out", default="/tmp/cjlab_scale")
    g.add_argument("--seed", type=int, default=42)
    for name in ("run", "measure"):
        p = sub.add_parser(name)
        p.add_argument("--memory-limit", default="6GB", help="DuckDB memory_limit")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--temp", default="/tmp/cjlab_scale/duckdb_tmp", help="DuckDB temp_directory (spill)")
        p.add_argument("--driver-memory", default="6g", help="Spark driver heap")
    r = sub.choices["run"]
    r.add_argument("--data", default="/tmp/cjlab_scale")
    r.add_argument("--sizes", nargs="+", default=["1m", "10m", "100m"], choices=list(SIZES))
    r.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    r.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    r.add_argument("--pandas-max", type=int, default=10_000_000, help="largest size given to pandas")
    r.add_argument("--force", action="store_true", help="also Spark above 10 M and pandas above --pandas-max")
    r.add_argument("--timeout", type=float, default=1800, help="kill a measurement after this many seconds")
    r.add_argument("--log", default="/tmp/cjlab_scale/results.jsonl")
    m = sub.choices["measure"]
    m.add_argument("--folder", required=True)
    m.add_argument("--engine", choices=ENGINES, required=True)
    m.add_argument("--task", choices=TASKS, required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--log", default="/tmp/cjlab_scale/results.jsonl")
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        generate(Path(args.out), args.touchpoints, args.seed)
    elif args.cmd == "measure":
        measure(args)
    elif args.cmd == "run":
        run(args)
    else:
        report(Path(args.log))


if __name__ == "__main__":
    main()
