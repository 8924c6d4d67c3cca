"""The runner's cost: ``cjlab run`` against the plain ``papermill`` CLI, and the demo suite with
and without the thread budget — side by side, interleaved, several repeats.

* **one notebook**: ``cjlab run NB --data DATA`` (checks, execution, HTML, records, index) and
  ``papermill notebooks/NB.ipynb out.ipynb -p data_source DATA`` (execution only), each a fresh
  process, alternating A, B, A, B ...; both with ``OMP_NUM_THREADS=1``. The ratio of each pair
  (cjlab / papermill) is reported with its median and range.
* **the demo suite**: ``cjlab run --params demo --jobs 2`` with the thread budget (the default:
  cores // jobs threads per kernel) and without it (``--threads <cores>``: every kernel may use
  every core), alternating; the environment holds no ``OMP_NUM_THREADS``.

The machine's load (1-minute load average) is printed before and after each measurement: on a
shared machine, read the ratios of interleaved pairs, not the absolute times.

Run::

    .venv/bin/python benchmarks/runner.py one --repeats 5 [--notebook 00_data_overview]
    .venv/bin/python benchmarks/runner.py suite --repeats 2 [--data demo]
    .venv/bin/python benchmarks/runner.py both --json /tmp/runner.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SMALL = "demo:n_customers=3000,seed=11"


def _load() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd`` in a fresh process; its wall time, exit code and the load around it."""
    before = _load()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return {"s": round(took, 2), "load_before": before, "load_after": _load()}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "CJLAB_THREADS")}
    env.update(extra)
    return env


def _summary(pairs: list[tuple[dict, dict]], a: str, b: str) -> dict:
    ratios = [x["s"] / y["s"] for x, y in pairs]
    loads = [v for x, y in pairs for v in (x["load_before"], y["load_before"])]
    return {
        a: [x["s"] for x, _ in pairs],
        b: [y["s"] for _, y in pairs],
        f"median_{a}_s": round(statistics.median(x["s"] for x, _ in pairs), 2),
        f"median_{b}_s": round(statistics.median(y["s"] for _, y in pairs), 2),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "load_min": min(loads),
        "load_max": max(loads),
    }


def one(notebook: str, data: str, repeats: int) -> dict:
    """``cjlab run`` vs the papermill CLI on one notebook, interleaved."""
    env = _env(OMP_NUM_THREADS="1")
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        cj = [str(BIN / "cjlab"), "run", notebook, "--data", data, "--no-progress",
              "--reports-dir", f"{tmp}/reports"]  # fmt: skip
        path = next((ROOT / "notebooks").glob(f"{notebook}*.ipynb"))
        pm = [str(BIN / "papermill"), str(path), f"{tmp}/out.ipynb", "-p", "data_source", data,
              "--cwd", str(ROOT / "notebooks")]  # fmt: skip
        timed(cj, env)  # warm the demo cache and the OS file cache once, unmeasured
        for i in range(repeats):
            order = [("cjlab", cj), ("papermill", pm)] if i % 2 == 0 else [("papermill", pm), ("cjlab", cj)]
            got = {name: timed(cmd, env) for name, cmd in order}
            pairs.append((got["cjlab"], got["papermill"]))
            print(f"  {notebook} #{i + 1}: cjlab {got['cjlab']['s']:.1f} s, papermill "
                  f"{got['papermill']['s']:.1f} s (load {got['cjlab']['load_before']})", flush=True)  # fmt: skip
    return {"notebook": notebook, "data": data, **_summary(pairs, "cjlab", "papermill")}


def suite(data: str, repeats: int, jobs: int = 2) -> dict:
    """The demo run file with and without the thread budget, interleaved."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        base = [str(BIN / "cjlab"), "run", "--params", "demo", "--jobs", str(jobs), "--data", data,
                "--no-progress", "--reports-dir", f"{tmp}/reports"]  # fmt: skip
        budget, free = base, [*base, "--threads", str(cores)]
        for i in range(repeats):
            order = [("budget", budget), ("no_budget", free)]
            got = {name: timed(cmd, _env()) for name, cmd in (order if i % 2 == 0 else order[::-1])}
            pairs.append((got["budget"], got["no_budget"]))
            print(f"  suite #{i + 1}: with the budget {got['budget']['s']:.1f} s, without "
                  f"{got['no_budget']['s']:.1f} s (load {got['budget']['load_before']})", flush=True)  # fmt: skip
    return {"data": data, "jobs": jobs, "cores": cores, **_summary(pairs, "budget", "no_budget")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("one", "suite", "both"))
    ap.add_argument("--notebook", default="00_data_overview")
    ap.add_argument("--data", default=None, help=f"one: {SMALL}; suite: demo (20,000 customers)")
    ap.add_argument("--repeats", type=int, default=None, help="one: 5; suite: 2")
    ap.add_argument("--json", help="write the figures to this file")
    a = ap.parse_args(argv)
    out = {"cores": os.cpu_count(), "python": sys.version.split()[0]}
    if a.what in ("one", "both"):
        out["one"] = one(a.notebook, a.data or SMALL, a.repeats or 5)
        print(json.dumps(out["one"], indent=1))
    if a.what in ("suite", "both"):
        out["suite"] = suite(a.data or "demo", a.repeats or 2)
        print(json.dumps(out["suite"], indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
