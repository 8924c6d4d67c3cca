"""Scale of the churn module.

1. ``rfm`` — :func:`cjlab.features.btyd.rfm_summary` (narwhals; run here on a DuckDB relation
   over the Parquet file, or on the pandas frame with ``--pandas``) against PyMC-Marketing's
   ``rfm_summary`` on the same synthetic orders (default 10 million orders, 1 million customers,
   two years), in both conventions: Fader–Hardie (distinct days, recency/T in fractional weeks;
   PyMC-Marketing ``time_unit="D", time_scaler=7``) and whole weeks (``time_unit="W"``). The
   outputs must be equal (same customers, same values to 1e-9 relative) before a ratio is printed.
2. ``pipeline`` — :func:`cjlab.churn.analyse` (features and labels at four
   cut-offs, two tuned models, drivers, CLV, targeting, retention) on the demo company with
   1 million customers, generated block by block by ``cjlab.data.synth.write_parquet``.

Each measurement runs in its own process so that peak memory (max RSS) belongs to it alone;
the memory of the loaded input is reported separately ("input").

Usage::

    .venv/bin/python benchmarks/churn_scale.py rfm                      # 10M orders
    .venv/bin/python benchmarks/churn_scale.py rfm --orders 1000000 --customers 100000 [--pandas]
    .venv/bin/python benchmarks/churn_scale.py pipeline --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from synthetic_orders import make_orders  # sibling module in benchmarks/

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ workers (own process)
CONVENTIONS = {
    "fader_hardie": ({"time_unit": "W", "period": "D"}, {"time_unit": "D", "time_scaler": 7}),
    "whole_weeks": ({"time_unit": "W", "period": "W"}, {"time_unit": "W"}),
}


def worker_rfm(args) -> dict:
    orders = pd.read_parquet(args.input)
    base = _rss_mb()
    ours_kw, ref_kw = CONVENTIONS[args.convention]
    t0 = time.perf_counter()
    if args.impl == "cjlab":
        import duckdb

        from cjlab.features import to_pandas
        from cjlab.features.btyd import rfm_summary

        data = orders if args.pandas else duckdb.sql(f"SELECT * FROM '{args.input}'")
        out = to_pandas(rfm_summary(data, args.end, **ours_kw))
    else:
        from pymc_marketing.clv.utils import rfm_summary as pmm

        out = pmm(
            orders,
            "customer_id",
            "ts",
            monetary_value_col="amount",
            observation_period_end=args.end,
            **ref_kw,
        )
    secs = time.perf_counter() - t0
    out.sort_values("customer_id").reset_index(drop=True).to_parquet(args.output)
    return {"seconds": secs, "input_mb": base, "peak_mb": _peak_mb(), "rows": len(out)}


def worker_pipeline(args) -> dict:
    from cjlab.churn import analyse
    from cjlab.data import open_source

    t0 = time.perf_counter()
    src = open_source(args.input)
    tables = src.load("customers", "orders", "touchpoints", "survey_responses")
    load = time.perf_counter() - t0
    base = _rss_mb()
    t0 = time.perf_counter()
    a = analyse(tables, horizon_days=args.horizon, n_boot=args.n_boot)
    secs = time.perf_counter() - t0
    rows = {k: len(v) for k, v in tables.items()}
    return {
        "seconds": secs,
        "load_seconds": load,
        "input_mb": base,
        "peak_mb": _peak_mb(),
        "rows": rows,
        "timings": a.timings,
        "roc_auc": a.evaluation.roc_auc,
        "model": a.model_name,
        "n_train": a.n_train,
        "n_test": a.n_test,
        "scored": len(a.scores),
        "kpis": {k.name: k.value for k in a.kpis()},
    }


def _run_worker(cmd: list[str]) -> dict:
    p = subprocess.run([sys.executable, __file__, *cmd], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ drivers
def bench_rfm(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        orders = make_orders(args.orders, args.customers, args.seed)
        inp = Path(tmp) / "orders.parquet"
        orders.to_parquet(inp)
        del orders
        print(
            f"data: {args.orders:,} orders of {args.customers:,} customers "
            f"(generated in {time.perf_counter() - t0:.1f} s)"
        )
        for conv in CONVENTIONS:
            res = {}
            for impl in ("cjlab", "pymc"):
                out = Path(tmp) / f"{conv}-{impl}.parquet"
                res[impl] = _run_worker(
                    [
                        "--worker",
                        "rfm",
                        "--impl",
                        impl,
                        "--convention",
                        conv,
                        "--input",
                        str(inp),
                        "--output",
                        str(out),
                        "--end",
                        args.end,
                        *(["--pandas"] if args.pandas else []),
                    ]
                )
                res[impl]["out"] = out
            a, b = (pd.read_parquet(res[i]["out"]) for i in ("cjlab", "pymc"))
            same = (
                list(a.columns) == list(b.columns)
                and len(a) == len(b)
                and (a["customer_id"].to_numpy() == b["customer_id"].to_numpy()).all()
            )
            maxrel = 0.0
            if same:
                for c in a.columns[1:]:
                    x, y = a[c].to_numpy(), b[c].to_numpy()
                    maxrel = max(maxrel, float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-9))))
                same = maxrel < 1e-9
            print(
                f"\n[{conv}] identical output: {same} ({len(a):,} customers, max relative "
                f"difference {maxrel:.1e})"
            )
            for impl in ("cjlab", "pymc"):
                r = res[impl]
                print(
                    f"  {impl:6s} {r['seconds']:7.2f} s   peak RSS {r['peak_mb']:7.0f} MB "
                    f"(input {r['input_mb']:.0f} MB, extra {r['peak_mb'] - r['input_mb']:.0f} MB)"
                )
            if same:
                print(
                    f"  ratio pymc / cjlab: {res['pymc']['seconds'] / res['cjlab']['seconds']:.1f}x time, "
                    f"{(res['pymc']['peak_mb'] - res['pymc']['input_mb']) / max(res['cjlab']['peak_mb'] - res['cjlab']['input_mb'], 1):.1f}x extra memory"
                )
            else:
                print("  outputs differ: no ratio printed")


def bench_pipeline(args) -> None:
    from cjlab.data.synth import write_parquet

    folder = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="churn-bench-"))
    if not (folder / "customers").exists() and not any(folder.glob("customers*")):
        t0 = time.perf_counter()
        write_parquet(folder, n_customers=args.customers, seed=args.seed)
        print(
            f"data: demo company with {args.customers:,} customers written in "
            f"{time.perf_counter() - t0:.0f} s to {folder}"
        )
    r = _run_worker(
        [
            "--worker",
            "pipeline",
            "--input",
            str(folder),
            "--horizon",
            str(args.horizon),
            "--n-boot",
            str(args.n_boot),
        ]
    )
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()))
    print(f"load + validate: {r['load_seconds']:.1f} s, input in memory {r['input_mb']:.0f} MB")
    print(
        f"analyse: {r['seconds']:.1f} s, peak RSS {r['peak_mb']:.0f} MB "
        f"(extra over input {r['peak_mb'] - r['input_mb']:.0f} MB)"
    )
    for k, v in r["timings"].items():
        print(f"  {k:28s} {v:7.1f} s")
    print(
        f"model {r['model']}: out-of-time ROC-AUC {r['roc_auc']:.3f} on {r['n_test']:,} customers "
        f"(trained on {r['n_train']:,} rows); {r['scored']:,} customers scored"
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("task", nargs="?", choices=["rfm", "pipeline", "all"], default="all")
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=None)
    ap.add_argument("--end", default="2025-12-31")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="pipeline: existing demo Parquet folder")
    ap.add_argument("--horizon", type=int, default=90)
    ap.add_argument(
        "--pandas", action="store_true", help="rfm: cjlab on the pandas frame, not DuckDB"
    )
    ap.add_argument("--n-boot", type=int, default=200)
    # worker mode
    ap.add_argument("--worker", choices=["rfm", "pipeline"])
    ap.add_argument("--impl")
    ap.add_argument("--convention")
    ap.add_argument("--input")
    ap.add_argument("--output")
    args = ap.parse_args(argv)
    if args.worker:
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        res = worker_rfm(args) if args.worker == "rfm" else worker_pipeline(args)
        print(json.dumps(res, default=float))
        return
    if args.task in ("rfm", "all"):
        args_rfm = argparse.Namespace(**vars(args))
        args_rfm.customers = args.customers or args.orders // 10
        bench_rfm(args_rfm)
    if args.task in ("pipeline", "all"):
        args_p = argparse.Namespace(**vars(args))
        args_p.customers = args.customers or 1_000_000
        bench_pipeline(args_p)


if __name__ == "__main__":
    main()
