"""Does the PyMC two-part revenue model add anything to the report? (issue 17, item 3)

The report's revenue per user is the two-part Bayesian bootstrap (:func:`cjlab.ab.revenue.
compare_revenue`: paying share x Bayesian bootstrap of the payers' spend). The PyMC model
(:class:`cjlab.ab.revenue_model.RevenueModel`) replaces the bootstrap of the spend by a
log-normal. It could add something only if its uplift interval were better: as reliable
(coverage) and narrower. Measured here on simulated tests the size of the demo's
checkout_layout test (320 users per arm, about 70 paying), 95 % intervals of the relative
uplift of revenue per user, the same data for both methods:

``lognormal``  spend log-normal in both arms (the model is right), the variant's spend 5 %
               higher and its paying share 0.25 against 0.21;
``hillstrom``  the spend of the Hillstrom e-mail test's buyers (resampled, ../shared/data),
               the same in both arms, paying share 0.25 against 0.21;
``tail``       the variant moves a tenth of its buyers to larger baskets (gamma, mean 240
               instead of 68); the control's spend is gamma (shape 4, mean 68) as in the demo.

Per scenario: coverage of the true uplift (with its binomial standard error), median interval
width of the model relative to the bootstrap, mean absolute error of the point estimate, and the
seconds per fit. And on the real Hillstrom test (64,000 users), each method's uplift per arm.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sampling_revenue.py [--reps 60]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cjlab.ab.revenue import compare_revenue
from cjlab.ab.revenue_model import RevenueModel

HILLSTROM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hillstrom.csv"
N = 320
P = (0.21, 0.25)


def _spend_makers(hill: np.ndarray):
    """Each scenario: (draw spend for arm i, true mean spend of arm i)."""

    def lognormal(rng, i, k):
        return rng.lognormal(4.1 + np.log(1.05) * i, 0.5, k)

    def hillstrom(rng, i, k):
        return rng.choice(hill, k)

    def tail(rng, i, k):
        big = rng.random(k) < 0.1 * i
        return np.where(big, rng.gamma(4.0, 60.0, k), rng.gamma(4.0, 17.0, k))

    means = {
        "lognormal": [np.exp(4.1 + np.log(1.05) * i + 0.125) for i in (0, 1)],
        "hillstrom": [hill.mean()] * 2,
        "tail": [68.0, 0.9 * 68.0 + 0.1 * 240.0],
    }
    return {"lognormal": lognormal, "hillstrom": hillstrom, "tail": tail}, means


def _one(rng, draw, seed: int) -> tuple[dict, dict, float]:
    frames = []
    for i, v in enumerate(("control", "B")):
        k = rng.binomial(N, P[i])
        y = np.zeros(N)
        y[:k] = draw(rng, i, k)
        frames.append(pd.DataFrame({"variant": v, "revenue": y}))
    units = pd.concat(frames, ignore_index=True)
    boot = compare_revenue(units, control="control", n_draws=4000, random_state=seed)
    t = time.perf_counter()
    model = RevenueModel(random_state=seed).fit(units, control="control").summary_
    return _row(boot), _row(model), time.perf_counter() - t


def _row(df: pd.DataFrame) -> dict:
    r = df.set_index("variant").loc["B"]
    return {"est": r.uplift, "low": r.uplift_low, "high": r.uplift_high}


def scenarios(reps: int) -> None:
    hill = pd.read_csv(HILLSTROM)["spend"].to_numpy()
    makers, means = _spend_makers(hill[hill > 0])
    print("| scenario | method | coverage of 95 % interval | width vs bootstrap | mean abs. error |")
    print("|---|---|---:|---:|---:|")
    for name, draw in makers.items():
        truth = P[1] * means[name][1] / (P[0] * means[name][0]) - 1
        rng = np.random.default_rng(17)
        res: dict[str, list[dict]] = {"bootstrap": [], "PyMC log-normal": []}
        secs = []
        for s in range(reps):
            b, m, dt = _one(rng, draw, s)
            res["bootstrap"].append(b)
            res["PyMC log-normal"].append(m)
            secs.append(dt)
        width_b = np.array([r["high"] - r["low"] for r in res["bootstrap"]])
        for method, rows in res.items():
            hit = np.mean([r["low"] <= truth <= r["high"] for r in rows])
            width = np.array([r["high"] - r["low"] for r in rows]) / width_b
            err = np.mean([abs(r["est"] - truth) for r in rows])
            print(
                f"| {name} (true uplift {truth:+.1%}) | {method} | {hit:.1%} "
                f"(± {np.sqrt(hit * (1 - hit) / reps):.1%}) | {np.median(width):.2f} | "
                f"{err:.3f} |",
                flush=True,
            )
        print(f"(PyMC fit: median {np.median(secs):.1f} s; load {os.getloadavg()[0]:.2f})")


def hillstrom_real() -> None:
    h = pd.read_csv(HILLSTROM)
    units = pd.DataFrame({"variant": h["segment"], "revenue": h["spend"]})
    boot = compare_revenue(units, control="No E-Mail", n_draws=4000, random_state=0)
    model = RevenueModel(random_state=0).fit(units, control="No E-Mail").summary_
    print("\nHillstrom (64,000 users): uplift of revenue per user against No E-Mail")
    print("| arm | observed | bootstrap | PyMC log-normal |")
    print("|---|---:|---:|---:|")
    obs = units.groupby("variant")["revenue"].mean()
    for v in ("Mens E-Mail", "Womens E-Mail"):
        b = boot.set_index("variant").loc[v]
        m = model.set_index("variant").loc[v]
        print(
            f"| {v} | {obs[v] / obs['No E-Mail'] - 1:+.1%} | {b.uplift:+.1%} "
            f"({b.uplift_low:+.1%} to {b.uplift_high:+.1%}) | {m.uplift:+.1%} "
            f"({m.uplift_low:+.1%} to {m.uplift_high:+.1%}) |"
        )
    spend = units[units.revenue > 0].groupby("variant")["revenue"].mean()
    print("mean spend of buyers, observed vs the log-normal model's exp(mu + sigma^2 / 2):")
    for v in spend.index:
        fitted = model.set_index("variant").loc[v, "spend_per_converter"]
        print(f"  {v}: {spend[v]:.2f} vs {fitted:.2f} ({fitted / spend[v] - 1:+.1%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=60)
    args = ap.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}; {args.reps} simulated tests per scenario")
    scenarios(args.reps)
    hillstrom_real()


if __name__ == "__main__":
    main()
