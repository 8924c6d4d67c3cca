"""Sampling that pays for itself (issue 17, item 3): what the PyMC models of 02_ab_test cost.

Every figure comes from fresh processes (a notebook kernel is one), interleaved: each round runs
every contender once, in turn, so load from other jobs hits them alike; the load average is
printed beside each round. Parts:

``models``   each PyMC model of the report (the two-part revenue model on all variants, the
             hierarchical segment model for one variant and then a second one in the same
             process) with PyMC's NUTS and with nutpie, against a cold compile cache (a new,
             empty ``CJLAB_COMPILE_CACHE``) and a warm one (the folder the cold run filled):
             import, first fit (graph, compilation, sampling), second fit.
``step``     the notebook's model step (``revenue_part`` + ``segment_part`` of
             :mod:`cjlab.ab.experiment`, imports included) before — both PyMC models sampled
             with PyMC's NUTS, the defaults until this change — and after (the defaults now:
             no revenue model, segments by quadrature), cold and warm cache.
``notebook`` ``cjlab run 02_ab_test`` end to end on the small demo, before (the package at
             ``--before COMMIT``, unpacked with ``git archive`` and put first on PYTHONPATH)
             and after (this checkout).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sampling.py [--part models|step|notebook]
[--rounds 3] [--before 2242af8]``.
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
DEMO = "demo:n_customers=3000,seed=11"
EXPERIMENT = "checkout_layout"
BEFORE = {
    "revenue_model": True,
    "segment_method": "mcmc",
    "sampler_config": {"nuts_sampler": "pymc"},
}
AFTER: dict = {}


# ----------------------------------------------------------------------------- children
def _child_models(model: str, sampler: str) -> dict:
    """One fresh process: import PyMC, fit ``model`` twice (segment: two variants)."""
    t0 = time.perf_counter()
    from cjlab.ab import experiment as ex
    from cjlab.ab._pymc import import_pymc
    from cjlab.ab.analysis import _one_experiment
    from cjlab.ab.settings import Settings
    from cjlab.data import open_source

    one = _one_experiment(open_source(DEMO).lazy("experiment_exposures"), EXPERIMENT)
    s = Settings.of({"experiment": EXPERIMENT})
    conv = ex.conversion_part(one, s)
    t1 = time.perf_counter()
    import_pymc()
    t2 = time.perf_counter()
    config = {"nuts_sampler": sampler}
    fits = []
    if model == "revenue":
        from cjlab.ab.revenue_model import RevenueModel

        units = ex._units(one, conv["control"])
        for _ in range(2):
            t = time.perf_counter()
            RevenueModel(sampler_config=config).fit(units, control=conv["control"])
            fits.append(time.perf_counter() - t)
    else:
        from cjlab.ab.segment_model import SegmentUpliftModel
        from cjlab.features import to_pandas
        from cjlab.features.experiments import experiment_counts

        counts = to_pandas(experiment_counts(one, by=["segment"]))
        counts = counts.assign(variant=counts["variant"].astype(str))
        for v in ("express", "one_page"):
            t = time.perf_counter()
            SegmentUpliftModel("mcmc", sampler_config=config).fit(counts, v, control="control")
            fits.append(time.perf_counter() - t)
    return {"data": t1 - t0, "import": t2 - t1, "first": fits[0], "second": fits[1]}


def _child_step(params: dict) -> dict:
    """One fresh process: the notebook's model step with ``params``, imports included."""
    t0 = time.perf_counter()
    from cjlab.ab import experiment as ex
    from cjlab.ab.analysis import _one_experiment
    from cjlab.ab.settings import Settings
    from cjlab.data import open_source

    one = _one_experiment(open_source(DEMO).lazy("experiment_exposures"), EXPERIMENT)
    s = Settings.of({"experiment": EXPERIMENT, **params})
    conv = ex.conversion_part(one, s)
    t1 = time.perf_counter()
    skipped: dict = {}
    ex.revenue_part(one, conv, s, skipped)
    t2 = time.perf_counter()
    ex.segment_part(one, conv, s, skipped)
    t3 = time.perf_counter()
    return {
        "setup": t1 - t0,
        "revenue": t2 - t1,
        "segments": t3 - t2,
        "step": t3 - t1,
        "pymc": "pymc" in sys.modules,
    }


def _spawn(args: list[str], cache: Path) -> dict:
    env = {**os.environ, "CJLAB_COMPILE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    env.pop("PYTENSOR_FLAGS", None)
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# ----------------------------------------------------------------------------- parts
def part_models(rounds: int, tmp: Path) -> None:
    keys = [(m, s) for m in ("revenue", "segment") for s in ("pymc", "nutpie")]
    rows: dict[tuple, list[dict]] = {}
    for r in range(rounds):
        print(f"round {r + 1} ({_load()})", flush=True)
        for m, s in keys:
            cache = tmp / f"models-{m}-{s}-{r}"
            for state in ("cold", "warm"):  # cold fills the folder the warm run reads
                res = _spawn(["models", m, s], cache)
                rows.setdefault((m, s, state), []).append(res)
                print(f"  {m:8s} {s:7s} {state}: " + _fmt(res), flush=True)
    print(f"\nmedians over {rounds} rounds (seconds; {_load()})")
    print("| model | sampler | cache | import PyMC | first fit | second fit | import + first |")
    print("|---|---|---|---:|---:|---:|---:|")
    for (m, s, state), res in rows.items():
        med = {k: statistics.median(x[k] for x in res) for k in ("import", "first", "second")}
        print(
            f"| {m} | {s} | {state} | {med['import']:.1f} | {med['first']:.1f} | "
            f"{med['second']:.1f} | {med['import'] + med['first']:.1f} |"
        )
    for m in ("revenue", "segment"):
        for state in ("cold", "warm"):
            a = [x["import"] + x["first"] for x in rows[(m, "pymc", state)]]
            b = [x["import"] + x["first"] for x in rows[(m, "nutpie", state)]]
            ratio = statistics.median(y / x for x, y in zip(a, b))
            print(f"{m} {state}: nutpie / pymc (import + first fit) = {ratio:.2f}")
        for s in ("pymc", "nutpie"):
            c = [x["import"] + x["first"] for x in rows[(m, s, "cold")]]
            w = [x["import"] + x["first"] for x in rows[(m, s, "warm")]]
            print(f"{m} {s}: cold / warm = {statistics.median(x / y for x, y in zip(c, w)):.2f}")


def part_step(rounds: int, tmp: Path) -> None:
    rows: dict[tuple, list[dict]] = {}
    for r in range(rounds):
        print(f"round {r + 1} ({_load()})", flush=True)
        for label, params in (("before", BEFORE), ("after", AFTER)):
            cache = tmp / f"step-{label}-{r}"
            for state in ("cold", "warm"):
                res = _spawn(["step", json.dumps(params)], cache)
                rows.setdefault((label, state), []).append(res)
                print(f"  {label:6s} {state}: " + _fmt(res), flush=True)
    print(f"\nmedians over {rounds} rounds (seconds; {_load()})")
    print("| model step | cache | revenue part | segment part | step | PyMC imported |")
    print("|---|---|---:|---:|---:|---|")
    for (label, state), res in rows.items():
        med = {k: statistics.median(x[k] for x in res) for k in ("revenue", "segments", "step")}
        print(
            f"| {label} | {state} | {med['revenue']:.2f} | {med['segments']:.2f} | "
            f"{med['step']:.2f} | {res[0]['pymc']} |"
        )
    for state in ("cold", "warm"):
        b = [x["step"] for x in rows[("before", state)]]
        a = [x["step"] for x in rows[("after", state)]]
        print(f"{state}: before / after = {statistics.median(x / y for x, y in zip(b, a)):.0f}x")


def part_notebook(rounds: int, tmp: Path, before: str) -> None:
    old = tmp / f"before-{before}"
    if not old.exists():
        old.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", before], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    cli = Path(sys.executable).with_name("cjlab")
    times: dict[str, list[float]] = {"before": [], "after": []}
    for r in range(rounds):
        for label, home in (("before", old), ("after", ROOT)):
            env = {**os.environ, "OMP_NUM_THREADS": "1", "CJLAB_HOME": str(home)}
            if label == "before":
                env["PYTHONPATH"] = str(old)
            cmd = [str(cli), "run", "02_ab_test", "--data", DEMO, "-p", f"experiment={EXPERIMENT}"]
            cmd += ["--reports-dir", str(tmp / f"reports-{label}"), "--no-progress"]
            load = _load()
            t = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=home, capture_output=True, check=True)
            times[label].append(time.perf_counter() - t)
            print(f"round {r + 1} {label:6s}: {times[label][-1]:.1f} s ({load})", flush=True)
    b, a = times["before"], times["after"]
    print(
        f"\nmedian before {statistics.median(b):.1f} s, after {statistics.median(a):.1f} s, "
        f"before / after = {statistics.median(x / y for x, y in zip(b, a)):.2f} ({_load()})"
    )


def _fmt(res: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in res.items())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        res = _child_models(*rest) if kind == "models" else _child_step(json.loads(rest[0]))
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["models", "step", "notebook", "all"], default="all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", default="2242af8", help="commit for the notebook's 'before'")
    args = ap.parse_args()
    print(f"{_load()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="cjlab-sampling-") as tmp:
        if args.part in ("models", "all"):
            part_models(args.rounds, Path(tmp))
        if args.part in ("step", "all"):
            part_step(args.rounds, Path(tmp))
        if args.part in ("notebook", "all"):
            part_notebook(args.rounds, Path(tmp), args.before)


if __name__ == "__main__":
    main()
