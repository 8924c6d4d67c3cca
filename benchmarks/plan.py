"""Speed and honesty of the journey plan (cjlab.plan) on the demo company.

1. ``speed`` — fitting the journey simulator on the 20,000-customer demo (journey states, value
   curve) and one what-if with 1,000 draws on the observed journeys and on the next year's
   cohort; then the whole analysis (``cjlab.plan.from_source``: pain points, simulator, three
   what-if questions, eight actions, six tree leaves, tests, plan).
2. ``validate`` — the demo company generated again with each of three interventions applied
   (:mod:`cjlab.data.synth_journey`); observed change vs the simulator's prediction (95 %
   intervals), for several sizes and seeds, with the mean relative error per size.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/plan.py speed
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/plan.py validate --sizes 2000,20000 --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def speed() -> None:
    from cjlab.data import open_source
    from cjlab.plan import cohort, from_source, steps
    from cjlab.plan.interventions import Transition
    from cjlab.plan.simulator import JourneySimulator

    tables = open_source("demo").load("touchpoints", "orders", "customers")
    t = time.perf_counter()
    data, value, _ = steps.journeys(tables, "device", "2025-12-31", ["newsletter_open"])
    sim = JourneySimulator(n_draws=1000).fit(data, value)
    fit = time.perf_counter() - t
    coh = cohort(data, rng=np.random.default_rng(0), value=value)
    iv = [Transition(stage="comparison", effect=(0.03, 0.06), category="mobile")]
    times = {}
    for name, pop in (("history", None), ("cohort", coh)):
        t = time.perf_counter()
        w = sim.what_if(iv, pop)
        times[name] = (time.perf_counter() - t, w.mean("revenue"), *w.interval("revenue"))
    t = time.perf_counter()
    a = from_source("demo", currency="EUR")
    whole = time.perf_counter() - t
    print(
        f"journeys: {data.n:,}, buyers {int(data.bought.sum()):,}; fit (states + value curve + rates): {fit:.1f} s"
    )
    for name, (dt, m, lo, hi) in times.items():
        print(
            f"what-if, 1,000 draws, {name:7s}: {dt:.2f} s  revenue {m:,.0f} ({lo:,.0f} to {hi:,.0f})"
        )
    print(f"whole analysis (from_source, demo 20,000): {whole:.1f} s; {len(a.kpis())} KPIs")


def validate(sizes: list[int], seeds: list[int]) -> None:
    from test_plan_validation import checks

    for n in sizes:
        rows = []
        for seed in seeds:
            t = time.perf_counter()
            r = checks(n, seed, n_draws=1000)
            rows += r
            for x in r:
                print(
                    f"{n:>6} {seed} {x['case']:34s} {x['metric']:8s} observed {x['observed']:>10,.0f} "
                    f"predicted {x['predicted']:>10,.0f} ({x['low']:>10,.0f} to {x['high']:>10,.0f}) "
                    f"{'inside' if x['inside'] else 'OUTSIDE'}"
                )
            print(f"  ({time.perf_counter() - t:.0f} s)")
        inside = np.mean([x["inside"] for x in rows])
        err = np.mean([x["error"] for x in rows])
        print(
            f"n={n:,}: {len(rows)} checks, {100 * inside:.1f} % inside the 95 % interval, "
            f"mean relative error {100 * err:.1f} %"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["speed", "validate"])
    p.add_argument("--sizes", default="2000,20000")
    p.add_argument("--seeds", default="1,2,3")
    a = p.parse_args()
    if a.what == "speed":
        speed()
    else:
        validate([int(x) for x in a.sizes.split(",")], [int(x) for x in a.seeds.split(",")])


if __name__ == "__main__":
    main()
