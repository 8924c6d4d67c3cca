"""One call that runs every A/B analysis of a notebook run: :func:`analyse_experiment`.

Loads ``experiment_exposures`` from a data source, picks the experiment, and returns an
:class:`ExperimentAnalysis` with the comparison, decision, SRM check, daily evolution, prior
sensitivity, verdict grid, optional PyMC models (revenue, segments), a planning simulation and,
for demo data, the check against the planted truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjlab.ab.conversions import (
    ABInputError,
    BetaPrior,
    as_prior,
    compare_conversions,
    prior_sensitivity,
    summarise_exposures,
)
from cjlab.ab.decision import Decision, SRMResult, daily_evolution, decide, srm_check, verdict_grid


@dataclass
class ExperimentAnalysis:
    """Everything a report on one experiment shows (see :func:`analyse_experiment`)."""

    experiment: str
    control: str
    exposures: pd.DataFrame
    counts: pd.DataFrame
    results: pd.DataFrame
    decision: Decision
    srm: SRMResult
    evolution: pd.DataFrame
    sensitivity: pd.DataFrame
    grid: pd.DataFrame
    prior: BetaPrior
    revenue_approx: pd.DataFrame | None = None
    revenue_decision: Decision | None = None
    revenue_model: object | None = None
    segment_models: dict = field(default_factory=dict)
    plan: object | None = None
    power: pd.DataFrame | None = None
    truth_check: pd.DataFrame | None = None
    experiments: list[str] = field(default_factory=list)
    units_in_several_variants: int = 0


def resolve_prior(prior: str, counts: pd.DataFrame, control: str, prior_a: float = 1.0,
                  prior_b: float = 1.0, prior_weight_users: float = 1000.0) -> BetaPrior:
    """``uniform``, ``jeffreys``, ``custom`` (Beta(prior_a, prior_b)) or ``history`` (centred on
    the control's observed rate with ``prior_weight_users`` users of weight — a stand-in for a
    historical baseline when none is given)."""
    if prior == "custom":
        return BetaPrior(prior_a, prior_b, f"custom Beta({prior_a:g}, {prior_b:g})")
    if prior == "history":
        c = counts.set_index("variant").loc[control]
        return BetaPrior.from_history(c.conversions, max(c.users, 1), prior_weight_users)
    return as_prior(prior)


def analyse_experiment(source, experiment: str = "", control: str = "", prior: str = "uniform",
                       prior_a: float = 1.0, prior_b: float = 1.0, prior_weight_users: float = 1000.0,
                       rope: float = 0.01, loss_threshold: float = 0.001, ci: float = 0.95,
                       planned_split: dict | None = None, segment_column: str = "segment",
                       revenue: bool = True, segments: bool = True, pymc_draws: int = 500,
                       plan: bool = True, plan_min_effect: float = 0.05, plan_max_days: int = 28,
                       plan_sims: int = 100, plan_effects=(0.02, 0.05, 0.10, 0.20),
                       seed: int = 0) -> ExperimentAnalysis:
    """Run the A/B analyses of one experiment.

    Parameters
    ----------
    source : a :class:`cjlab.data.DataSource` or a spec for :func:`cjlab.data.open_source`.
    experiment : experiment name ('' = the one with the most exposures).
    control : control variant ('' = automatic: 'control', 'A', or the first).
    prior, prior_a, prior_b, prior_weight_users : see :func:`resolve_prior`.
    rope, loss_threshold, ci : decision settings (see :func:`cjlab.ab.decision.decide`).
    planned_split : planned traffic shares for the SRM check (None: the demo truth when
        available, else an equal split).
    segment_column : column for the hierarchical segment model ('' = skip).
    revenue, segments, plan : run the PyMC revenue model, the segment models, the planning
        simulation.
    plan_min_effect, plan_max_days, plan_sims : planning settings; the traffic per day is the
        experiment's observed average (all arms), split evenly between control and variant.
    plan_effects : relative lifts for the power curve (empty: no curve; half of ``plan_sims``).
    """
    from cjlab.data import open_source

    src = source if hasattr(source, "load") else open_source(source)
    exp_all = src.load("experiment_exposures")["experiment_exposures"]
    if exp_all.empty:
        raise ABInputError("experiment_exposures: no rows (empty data)")
    sizes = exp_all["experiment"].value_counts()
    names = list(sizes.index)
    name = experiment or names[0]
    if name not in names:
        raise ABInputError(f"experiment {name!r} not found; experiments are {sorted(names)}")
    ex = exp_all[exp_all["experiment"] == name].copy()
    counts = summarise_exposures(ex)
    truth = (getattr(src, "truth", None) or {}).get("experiments", {}).get(name)
    ctrl = control or (truth or {}).get("control") or ""
    results0 = compare_conversions(counts, control=ctrl or None, ci=ci)
    ctrl = results0.attrs["control"]
    pr = resolve_prior(prior, counts, ctrl, prior_a, prior_b, prior_weight_users)
    results = compare_conversions(counts, control=ctrl, prior=pr, ci=ci)
    split = planned_split or (truth or {}).get("planned_split")
    srm = srm_check(counts.set_index("variant")["users"], split)
    decision = decide(results, rope=rope, loss_threshold=loss_threshold, srm=srm)
    evolution = daily_evolution(ex, control=ctrl, prior=pr)
    sens = prior_sensitivity(counts, {
        "uniform Beta(1, 1)": "uniform", "Jeffreys Beta(0.5, 0.5)": "jeffreys",
        "control rate, 1,000 users": resolve_prior("history", counts, ctrl, prior_weight_users=1000),
        "control rate, 10,000 users": resolve_prior("history", counts, ctrl, prior_weight_users=10000),
    }, control=ctrl, ci=ci)
    grid = verdict_grid(results)
    out = ExperimentAnalysis(name, ctrl, ex, counts, results, decision, srm, evolution, sens, grid,
                             pr, experiments=names,
                             units_in_several_variants=counts.attrs.get("units_in_several_variants", 0))
    if "revenue" in ex.columns:
        from cjlab.ab.models import RevenueModel, revenue_normal_approx

        rev = ex[["variant", "unit_id", "revenue"]].groupby(["variant", "unit_id"], sort=False)[
            "revenue"].sum().reset_index()
        out.revenue_approx = revenue_normal_approx(rev, control=ctrl, ci=ci)
        out.revenue_decision = decide(out.revenue_approx, rope=rope, loss_threshold=loss_threshold,
                                      srm=srm)
        try:
            out.revenue_model = None if not revenue else RevenueModel(draws=pymc_draws, tune=pymc_draws, ci=ci,
                                             random_seed=seed).fit(rev, control=ctrl)
        except ABInputError:
            out.revenue_model = None
    if segments and segment_column and segment_column in ex.columns:
        from cjlab.ab.models import SegmentUpliftModel

        seg = ex.dropna(subset=[segment_column])
        if seg[segment_column].nunique() >= 2:
            for v in results.loc[~results["is_control"], "variant"]:
                out.segment_models[v] = SegmentUpliftModel(draws=pymc_draws, tune=pymc_draws, ci=ci,
                                                           random_seed=seed).fit(
                    seg, v, control=ctrl, segment=segment_column)
    if plan:
        from cjlab.ab.planning import simulate_plan

        days = max(ex["exposed_at"].dt.normalize().nunique(), 1)
        c = results.set_index("variant").loc[ctrl]
        base = float(np.clip(c.conversions / max(c.users, 1), 0.001, 0.9))
        per_day = max(int(len(ex) / days), 2)
        out.plan = simulate_plan(base, plan_min_effect, per_day, max_days=plan_max_days,
                                 n_sims=plan_sims, rope=rope, loss_threshold=loss_threshold,
                                 prior=pr, seed=seed)
        if plan_effects:
            from cjlab.ab.planning import power_curve

            effects = [e for e in plan_effects if 0 < base * (1 + e) < 1]
            out.power = power_curve(base, effects, per_day, max_days=plan_max_days,
                                    n_sims=max(plan_sims // 2, 20), seed=seed + 1, rope=rope,
                                    loss_threshold=loss_threshold, prior=pr)
    if truth:
        rows = []
        res = results.set_index("variant")
        for v, lift in truth.get("relative_lift", {}).items():
            if v == ctrl or v not in res.index:
                continue
            r = res.loc[v]
            rows.append({"variant": v, "planted_lift": lift, "uplift": r.uplift,
                         "uplift_low": r.uplift_low, "uplift_high": r.uplift_high,
                         "recovered": bool(r.uplift_low <= lift <= r.uplift_high)})
        # the SRM row is "recovered" when the check's flag matches what was planted
        planted = "planted" if truth.get("srm") else "not planted"
        rows.append({"variant": f"sample-ratio mismatch {planted}", "planted_lift": np.nan,
                     "uplift": np.nan, "uplift_low": np.nan, "uplift_high": np.nan,
                     "recovered": bool(truth.get("srm")) == srm.flagged})
        out.truth_check = pd.DataFrame(rows)
    return out
