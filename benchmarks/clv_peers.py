"""CLV fits: cjlab's closed-form MAP against lifetimes (and PyMC-Marketing's MAP), side by side.

Data: CDNOW (2,357 customers, 39-week calibration; the sample shipped with ``lifetimes``), the
data of Fader, Hardie & Lee (2005). For each model — BG/NBD, Pareto/NBD, Gamma-Gamma — the
estimates of every library are printed next to the published ones, then

* **warm**: the fit repeated in one process, the libraries interleaved, median of the repeats;
* **cold**: a fresh process per library and repeat: the time of the first fit (after the
  imports), the import time, and the whole process (start to exit).

Ratios are lifetimes (or PyMC-Marketing) time / cjlab time. PyMC-Marketing's MAP is measured
only with ``--pymc`` and for BG/NBD (its first call compiles the model: tens of seconds).

Run::

    .venv/bin/python benchmarks/clv_peers.py [--repeats 7] [--cold 3] [--pymc]

(``pip install lifetimes`` into .venv; it ships CDNOW.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from importlib.resources import files

import numpy as np
import pandas as pd

PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "pareto": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
    "gg": {"p": 6.25, "q": 3.74, "v": 15.44},
}


def cdnow() -> pd.DataFrame:
    s = pd.read_csv(
        files("lifetimes") / "datasets" / "cdnow_customers_summary_with_transactions.csv"
    )
    return s.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


def fit(lib: str, model: str, d: pd.DataFrame) -> dict:
    """One fit; returns the estimates."""
    rep = d[d["frequency"] > 0]
    if lib == "cjlab":
        from cjlab.churn.bgnbd import BetaGeo
        from cjlab.churn.gamma_gamma import GammaGamma
        from cjlab.churn.pareto_nbd import ParetoNBD

        est = {"bgnbd": BetaGeo, "pareto": ParetoNBD, "gg": GammaGamma}[model]()
        return est.fit(rep if model == "gg" else d).params_
    if lib == "lifetimes":
        import lifetimes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if model == "gg":
                return (
                    lifetimes.GammaGammaFitter()
                    .fit(rep["frequency"], rep["monetary_value"])
                    .params_.to_dict()
                )
            cls = lifetimes.BetaGeoFitter if model == "bgnbd" else lifetimes.ParetoNBDFitter
            return cls().fit(d["frequency"], d["recency"], d["T"]).params_.to_dict()
    from cjlab.churn import clv_pymc

    data = d[["customer_id", "frequency", "recency", "T"]]
    tm, _ = clv_pymc.fit_pymc(model, "map", "flat", data, None, 0, 0, 1, 0)
    p = clv_pymc.params_pymc(model, tm, None)
    return dict(zip(p["parameter"], p["mean"], strict=True))


def cold_worker(lib: str, model: str) -> None:
    t0 = time.perf_counter()
    d = cdnow()
    if lib == "cjlab":
        import cjlab.churn.bgnbd  # noqa: F401  (the estimators and scipy)
    elif lib == "lifetimes":
        import lifetimes  # noqa: F401
    else:
        import pymc_marketing.clv  # noqa: F401
    t1 = time.perf_counter()
    fit(lib, model, d)
    t2 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "first_fit": t2 - t1}))


def cold(lib: str, model: str, repeats: int) -> list[dict]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, __file__, "--worker", lib, model],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if p.returncode:
            raise RuntimeError(p.stderr[-2000:])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r["process"] = time.perf_counter() - t0
        out.append(r)
    return out


def warm(libs: list[str], model: str, d: pd.DataFrame, repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {lib: [] for lib in libs}
    for lib in libs:  # once untimed: imports and (PyMC) compilation
        fit(lib, model, d)
    for _ in range(repeats):
        for lib in libs:
            t0 = time.perf_counter()
            fit(lib, model, d)
            times[lib].append(time.perf_counter() - t0)
    return {lib: float(np.median(v)) for lib, v in times.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cold", type=int, default=3)
    ap.add_argument("--pymc", action="store_true", help="also PyMC-Marketing's MAP (slow)")
    ap.add_argument("--worker", nargs=2)
    args = ap.parse_args(argv)
    if args.worker:
        cold_worker(*args.worker)
        return
    d = cdnow()
    print(f"CDNOW: {len(d):,} customers, {(d['frequency'] > 0).sum():,} repeat buyers")
    for model in ("bgnbd", "pareto", "gg"):
        libs = ["cjlab", "lifetimes"] + (["pymc"] if args.pymc and model == "bgnbd" else [])
        print(f"\n[{model}] published {PUBLISHED[model]}")
        for lib in libs:
            est = fit(lib, model, d)
            dev = max(abs(est[k] / v - 1) for k, v in PUBLISHED[model].items())
            print(
                f"  {lib:9s} "
                + ", ".join(f"{k}={v:.4f}" for k, v in est.items())
                + f"   (largest deviation from published {100 * dev:.2f} %)"
            )
        w = warm(libs, model, d, args.repeats)
        for lib in libs:
            ratio = "" if lib == "cjlab" else f"   {w[lib] / w['cjlab']:.1f}x cjlab"
            print(f"  warm  {lib:9s} {1000 * w[lib]:8.1f} ms (median of {args.repeats}){ratio}")
        for lib in libs:
            c = cold(lib, model, args.cold)
            ff = np.median([r["first_fit"] for r in c])
            imp = np.median([r["import"] for r in c])
            proc = np.median([r["process"] for r in c])
            print(
                f"  cold  {lib:9s} first fit {1000 * ff:8.1f} ms, imports {imp:5.2f} s, "
                f"whole process {proc:5.2f} s (median of {args.cold})"
            )


if __name__ == "__main__":
    main()
