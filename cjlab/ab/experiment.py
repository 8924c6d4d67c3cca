"""The steps of :func:`cjlab.ab.analysis.analyse`, one function per section of the report.

Each step takes the exposures of one experiment (any backend), counts them through
:mod:`cjlab.features.experiments` and returns the pieces of the analysis; a step whose
optional columns are absent writes one sentence into ``skipped`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cjlab.ab.conversions import (
    ABInputError,
    BetaPrior,
    as_prior,
    compare_conversions,
    pick_control,
    prior_sensitivity,
)
from cjlab.ab.decision import decide, evolution_from_counts, srm_check, verdict_grid
from cjlab.ab.settings import Settings
from cjlab.features import has, to_pandas
from cjlab.features.experiments import experiment_counts, experiment_overview, experiment_units


def resolve_prior(
    prior: str,
    counts: pd.DataFrame,
    control: str,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
    prior_weight_users: float = 1000.0,
) -> BetaPrior:
    """``uniform``, ``jeffreys``, ``custom`` (Beta(prior_a, prior_b)) or ``history`` (centred on
    the control's observed rate with ``prior_weight_users`` users of weight — a stand-in for a
    historical baseline when none is given)."""
    if prior == "custom":
        return BetaPrior(prior_a, prior_b, f"custom Beta({prior_a:g}, {prior_b:g})")
    if prior == "history":
        c = counts.set_index("variant").loc[control]
        return BetaPrior.from_history(c.conversions, max(c.users, 1), prior_weight_users)
    return as_prior(prior)


def overview(exposures: Any) -> pd.DataFrame:
    """One row per experiment (:func:`cjlab.features.experiments.experiment_overview`)."""
    out = to_pandas(experiment_overview(exposures)).reset_index(drop=True)
    if out.empty:
        raise ABInputError("experiment_exposures: no rows (empty data)")
    return out


def choose_experiment(overview: pd.DataFrame, experiment: str = "") -> str:
    """``experiment`` if it exists; ``""``: the only one; otherwise an error listing them."""
    names = [str(n) for n in overview["experiment"]]
    listing = "; ".join(
        f"{r.experiment} ({r.variants} variants, {r.units:,} units)" for r in overview.itertuples()
    )
    if experiment:
        if experiment not in names:
            raise ABInputError(f"experiment {experiment!r} not found; the data hold: {listing}")
        return experiment
    if len(names) == 1:
        return names[0]
    raise ABInputError(
        f"experiment_exposures holds {len(names)} experiments: {listing}. Choose "
        "one with the experiment parameter (e.g. -p experiment=NAME)."
    )


def _ordered(counts: pd.DataFrame, ctrl: str) -> pd.DataFrame:
    """Control first, then the variants in name order."""
    key = counts["variant"].map(lambda v: (v != ctrl, v))
    return counts.assign(_k=key).sort_values("_k").drop(columns="_k").reset_index(drop=True)


def conversion_part(one: Any, s: Settings) -> dict[str, Any]:
    """Counts, exact comparison, SRM, decision, evolution, prior sensitivity, verdict grid."""
    counts = to_pandas(experiment_counts(one))
    counts = counts.assign(variant=counts["variant"].astype(str))
    ctrl = pick_control(list(counts["variant"]), s.control or None)
    counts = _ordered(counts.drop(columns="experiment"), ctrl)
    pr = resolve_prior(s.prior, counts, ctrl, s.prior_a, s.prior_b, s.prior_weight_users)
    three = counts[["variant", "users", "conversions"]]
    results = compare_conversions(three, control=ctrl, prior=pr, level=s.level)
    srm = srm_check(counts.set_index("variant")["users"], dict(s.planned_split or {}) or None)
    daily = to_pandas(experiment_counts(one, by=["day"]))
    priors = {"uniform Beta(1, 1)": "uniform", "Jeffreys Beta(0.5, 0.5)": "jeffreys"}
    for w in (1000, 10000):
        priors[f"control rate, {w:,} users"] = resolve_prior(
            "history", counts, ctrl, prior_weight_users=w
        )
    return {
        "control": ctrl,
        "counts": counts,
        "prior": pr,
        "results": results,
        "srm": srm,
        "decision": decide(results, rope=s.rope, loss_threshold=s.loss_threshold, srm=srm),
        "evolution": evolution_from_counts(daily, control=ctrl, prior=pr),
        "sensitivity": prior_sensitivity(three, priors, control=ctrl, level=s.level),
        "grid": verdict_grid(results),
        "days": max(int(pd.to_datetime(daily["day"]).nunique()), 1),
    }


def _units(one: Any, ctrl: str) -> pd.DataFrame:
    """Per-unit revenue, control first."""
    units = to_pandas(experiment_units(one))[["variant", "unit_id", "revenue"]]
    units = units.assign(variant=units["variant"].astype(str), revenue=units["revenue"].fillna(0.0))
    key = units["variant"].map(lambda v: (v != ctrl, v))
    return units.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k")


def revenue_part(
    one: Any, conv: Mapping[str, Any], s: Settings, skipped: dict[str, str]
) -> dict[str, Any]:
    """Revenue per user (two-part Bayesian bootstrap), its decision, the normal approximation
    and, when ``revenue_model`` (and ``run_pymc``), the PyMC two-part model."""
    from cjlab.ab.revenue import compare_revenue, revenue_normal_approx

    if not has(one, "revenue"):
        skipped["revenue"] = (
            "Revenue per user needs a revenue column in experiment_exposures "
            "(the amount each exposed user spent)."
        )
        skipped["revenue_model"] = skipped["revenue"]
        return {}
    ctrl = conv["control"]
    units = _units(one, ctrl)
    try:
        rev = compare_revenue(
            units,
            control=ctrl,
            level=s.level,
            prior=conv["prior"],
            n_draws=s.revenue_draws,
            random_state=s.random_state,
        )
    except ABInputError as err:
        skipped["revenue"] = f"Revenue per user is not shown: {err}."
        skipped["revenue_model"] = skipped["revenue"]
        return {}
    normal = revenue_normal_approx(units, control=ctrl, level=s.level)
    decision = decide(rev, rope=s.rope, loss_threshold=s.loss_threshold, srm=conv["srm"])
    out: dict[str, Any] = {
        "revenue": rev,
        "revenue_decision": decision,
        "revenue_normal": normal.set_index("variant").loc[list(rev["variant"])].reset_index(),
    }
    if not (s.run_pymc and s.revenue_model):
        skipped["revenue_model"] = (
            "The PyMC two-part revenue model (log-normal spend) is not part of this report; "
            "set revenue_model to compare it with the methods above."
            if s.run_pymc
            else "The PyMC two-part revenue model was not fitted (run_pymc is off)."
        )
        return out
    from cjlab.ab.revenue_model import RevenueModel

    model = RevenueModel(
        sampler_config=s.sampler_config, level=s.level, random_state=s.random_state
    )
    out["revenue_model"] = model.fit(units, control=ctrl)
    return out


def segment_part(
    one: Any, conv: Mapping[str, Any], s: Settings, skipped: dict[str, str]
) -> dict[str, Any]:
    """Counts per segment and a partially pooled uplift model per variant (by quadrature, or
    sampled with PyMC when ``segment_method="mcmc"`` and ``run_pymc``)."""
    col = s.segment_column
    if not col:
        skipped["segments"] = "Uplift by segment was not requested (segment_column is empty)."
        return {}
    if not has(one, col):
        skipped["segments"] = (
            f"Uplift by segment needs a {col} column in experiment_exposures "
            "(for example the device or customer type)."
        )
        return {}
    counts = to_pandas(experiment_counts(one, by=[col])).dropna(subset=[col])
    counts = counts.assign(variant=counts["variant"].astype(str)).drop(columns="experiment")
    if counts[col].nunique() < 2:
        skipped["segments"] = (
            f"Uplift by segment needs at least two values of {col}; this experiment has one."
        )
        return {}
    out: dict[str, Any] = {"segment_counts": counts.reset_index(drop=True)}
    from cjlab.ab.segment_model import SegmentUpliftModel

    method = s.segment_method if s.run_pymc else "quadrature"
    res = conv["results"]
    models = {}
    for v in res.loc[~res["is_control"], "variant"]:
        m = SegmentUpliftModel(
            method, sampler_config=s.sampler_config, level=s.level, random_state=s.random_state
        )
        models[v] = m.fit(out["segment_counts"], v, control=conv["control"], segment=col)
    out["segment_models"] = models
    return out


def stage_part(one: Any, skipped: dict[str, str]) -> pd.DataFrame | None:
    """Units and conversions per journey stage the experiment ran at."""
    if not has(one, "stage"):
        skipped["stage"] = (
            "The journey stage of the test needs a stage column in experiment_exposures."
        )
        return None
    st = to_pandas(experiment_counts(one, by=["stage"])).dropna(subset=["stage"])
    if st.empty:
        skipped["stage"] = "The stage column of this experiment is empty."
        return None
    return st.drop(columns="experiment").reset_index(drop=True)


def plan_part(conv: Mapping[str, Any], s: Settings, skipped: dict[str, str]) -> dict[str, Any]:
    """Planning by simulation at the experiment's baseline rate and traffic."""
    if s.plan_sims <= 0:
        skipped["planning"] = "Planning was not simulated (plan_sims = 0)."
        return {}
    from cjlab.ab.planning import power_curve, simulate_plan

    counts = conv["counts"].set_index("variant")
    c = counts.loc[conv["control"]]
    base = float(np.clip(c.conversions / max(c.users, 1), 0.001, 0.9))
    per_day = max(int(counts["users"].sum() / conv["days"]), 2)
    kw = {
        "rope": s.rope,
        "loss_threshold": s.loss_threshold,
        "prior": conv["prior"],
        "max_days": s.plan_max_days,
    }
    plan = simulate_plan(
        base, s.plan_min_effect, per_day, n_sims=s.plan_sims, random_state=s.random_state, **kw
    )
    ok = [e for e in s.plan_effects if 0 < base * (1 + e) < 1]
    power = None
    if ok:
        power = power_curve(
            base,
            ok,
            per_day,
            n_sims=max(s.plan_sims // 2, 20),
            random_state=s.random_state + 1,
            **kw,
        )
    return {"plan": plan, "power": power}


def truth_part(
    truth: Mapping[str, Any] | None, conv: Mapping[str, Any], skipped: dict[str, str]
) -> pd.DataFrame | None:
    """Demo company only: are the planted lifts inside their intervals, is a planted SRM flagged?"""
    if not truth:
        skipped["truth"] = (
            "No planted truth to compare with: only the built-in demo company has one."
        )
        return None
    res = conv["results"].set_index("variant")
    rows = []
    for v, lift in truth.get("relative_lift", {}).items():
        if v == conv["control"] or v not in res.index:
            continue
        r = res.loc[v]
        rows.append(
            {
                "check": f"planted lift of {v}",
                "planted": lift,
                "estimate": r.uplift,
                "low": r.uplift_low,
                "high": r.uplift_high,
                "recovered": bool(r.uplift_low <= lift <= r.uplift_high),
            }
        )
    planted = bool(truth.get("srm"))
    rows.append(
        {
            "check": "sample-ratio mismatch " + ("planted" if planted else "not planted"),
            "planted": np.nan,
            "estimate": conv["srm"].p_value,
            "low": np.nan,
            "high": np.nan,
            "recovered": planted == conv["srm"].flagged,
        }
    )
    return pd.DataFrame(rows)
