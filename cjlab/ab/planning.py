"""Planning by simulation: days to decision, power and false-positive rate under daily looks.

Simulates the test day by day (binomial conversions for the planned traffic), applies the
same decision rule as the analysis (:func:`cjlab.ab.decision.fast_verdict`, exact metrics)
after every day, and stops at the first decision. Two worlds are simulated: the variant has
the minimum effect of interest (power = share that ends in "ship"), and it has no effect
(false-positive rate = share that ends in "ship" although nothing changed). Reported rates
are Monte Carlo estimates with their standard errors.

Examples
--------
>>> from cjlab.ab.planning import simulate_plan
>>> plan = simulate_plan(0.10, 0.20, users_per_day=2000, max_days=10, n_sims=20, random_state=1)
>>> plan.summary["power"] > 0.9
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjlab.ab.conversions import ABInputError, as_prior
from cjlab.ab.decision import fast_verdict


@dataclass(frozen=True)
class Plan:
    """Result of :func:`simulate_plan`.

    Attributes
    ----------
    summary : dict with power, false_positive_rate (and ``*_se``), days_to_decision_median,
        days_to_decision_mean (among decided runs), undecided_share, inputs.
    curve : DataFrame (day, scenario, decided, shipped): cumulative shares of runs by day.
    runs : DataFrame, one row per simulated run (scenario, day decided or NaN, verdict).
    """

    summary: dict
    curve: pd.DataFrame
    runs: pd.DataFrame


def simulate_plan(
    baseline: float,
    min_effect: float,
    users_per_day: int,
    max_days: int = 28,
    n_sims: int = 200,
    rope: float = 0.01,
    loss_threshold: float = 0.001,
    prior="uniform",
    split: float = 0.5,
    random_state: int | None = 0,
) -> Plan:
    """Simulate a two-arm test with daily looks under the planned traffic.

    Parameters
    ----------
    baseline : control conversion rate.
    min_effect : relative lift of the variant in the "effect" world (0.05 = +5 %).
    users_per_day : users entering the test per day (both arms together).
    max_days : longest the test may run.
    n_sims : simulated runs per world.
    rope, loss_threshold, prior : the decision rule's settings (as in :func:`~cjlab.ab.decision.decide`).
    split : share of traffic in the variant.
    random_state : seed of the simulation.
    """
    if not 0 < baseline < 1 or not 0 < baseline * (1 + min_effect) < 1:
        raise ABInputError(
            f"rates must lie in (0, 1): baseline={baseline}, variant={baseline * (1 + min_effect)}"
        )
    if users_per_day < 2 or max_days < 1 or n_sims < 1 or not 0 < split < 1:
        raise ABInputError("need users_per_day >= 2, max_days >= 1, n_sims >= 1, 0 < split < 1")
    pr = as_prior(prior)
    rng = np.random.default_rng(random_state)
    n_v = round(users_per_day * split)
    n_c = users_per_day - n_v
    rows = []
    for scenario, p_v in (("effect", baseline * (1 + min_effect)), ("no effect", baseline)):
        conv_c = rng.binomial(n_c, baseline, size=(n_sims, max_days)).cumsum(axis=1)
        conv_v = rng.binomial(n_v, p_v, size=(n_sims, max_days)).cumsum(axis=1)
        for s in range(n_sims):
            day, verdict = _first_decision(conv_c[s], conv_v[s], n_c, n_v, pr, rope, loss_threshold)
            rows.append({"scenario": scenario, "run": s, "day": day, "verdict": verdict})
    runs = pd.DataFrame(rows)
    return Plan(
        _summary(
            runs,
            baseline=baseline,
            min_effect=min_effect,
            users_per_day=users_per_day,
            max_days=max_days,
            n_sims=n_sims,
            rope=rope,
            loss_threshold=loss_threshold,
        ),
        _curve(runs, max_days),
        runs,
    )


def _first_decision(
    conv_c: np.ndarray,
    conv_v: np.ndarray,
    n_c: int,
    n_v: int,
    pr,
    rope: float,
    loss_threshold: float,
) -> tuple[float, str]:
    """Look at one simulated test every day; the first day and verdict that is not "keep testing"."""
    for t in range(len(conv_c)):
        uc, uv = n_c * (t + 1), n_v * (t + 1)
        v = fast_verdict(
            pr.a + conv_c[t],
            pr.b + uc - conv_c[t],
            pr.a + conv_v[t],
            pr.b + uv - conv_v[t],
            rope,
            loss_threshold,
        )
        if v != "keep testing":
            return t + 1, v
    return np.nan, "keep testing"


def _curve(runs: pd.DataFrame, max_days: int) -> pd.DataFrame:
    curve_rows = []
    for scenario, g in runs.groupby("scenario"):
        for d in range(1, max_days + 1):
            done = g["day"] <= d
            curve_rows.append(
                {
                    "day": d,
                    "scenario": scenario,
                    "decided": done.mean(),
                    "shipped": (done & (g["verdict"] == "ship")).mean(),
                }
            )
    return pd.DataFrame(curve_rows)


def _summary(runs: pd.DataFrame, **inputs) -> dict:
    n_sims = inputs["n_sims"]
    eff, null = runs[runs.scenario == "effect"], runs[runs.scenario == "no effect"]
    power = float((eff.verdict == "ship").mean())
    fpr = float((null.verdict == "ship").mean())
    decided = eff["day"].dropna()
    summary = {
        "power": power,
        "power_se": float(np.sqrt(power * (1 - power) / n_sims)),
        "false_positive_rate": fpr,
        "false_positive_rate_se": float(np.sqrt(fpr * (1 - fpr) / n_sims)),
        "days_to_decision_median": float(decided.median()) if len(decided) else np.nan,
        "days_to_decision_mean": float(decided.mean()) if len(decided) else np.nan,
        "undecided_share": float(eff["day"].isna().mean()),
        **inputs,
    }
    return summary


def power_curve(
    baseline: float,
    effects,
    users_per_day: int,
    max_days: int = 28,
    n_sims: int = 100,
    random_state: int = 0,
    **kw,
) -> pd.DataFrame:
    """:func:`simulate_plan` over several minimum effects: one row per effect."""
    rows = []
    for i, e in enumerate(effects):
        p = simulate_plan(
            baseline, float(e), users_per_day, max_days, n_sims, random_state=random_state + i, **kw
        )
        rows.append(
            {
                k: p.summary[k]
                for k in (
                    "min_effect",
                    "power",
                    "power_se",
                    "false_positive_rate",
                    "false_positive_rate_se",
                    "days_to_decision_median",
                    "undecided_share",
                )
            }
        )
    return pd.DataFrame(rows)
