"""One experiment, everything its report shows: :func:`analyse` and :func:`from_source`.

:func:`analyse` takes the contract tables (``experiment_exposures``, on any backend: pandas,
DuckDB, Spark), counts them through :mod:`cjlab.features.experiments`, and returns an
:class:`ExperimentAnalysis`: the exact conversion comparison and its decision, the
sample-ratio check against the planned split, the evidence over time, prior sensitivity and
the verdict grid; revenue per user (two-part Bayesian bootstrap; optional PyMC model) when
the exposures carry revenue; uplift per segment (PyMC) when they carry a segment; the
journey stage; a planning simulation; and, for the demo company only, a check against the
planted truth for the analysts' section (never in the headline or ``kpis.json``).
:func:`from_source` opens a data source and calls it.

Examples
--------
>>> from cjlab.ab.analysis import from_source
>>> a = from_source("demo:n_customers=3000,seed=11", experiment="checkout_layout",
...                 run_pymc=False, plan_sims=0, revenue_draws=500)
>>> a.control, a.headline().title.startswith("Verdict:")
('control', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import pandas as pd

from cjlab import formatting as fmt
from cjlab.ab import experiment as ex
from cjlab.ab.conversions import ABInputError, BetaPrior
from cjlab.ab.decision import Decision, SRMResult
from cjlab.ab.planning import Plan
from cjlab.results import KPI, Analysis, Headline, NotApplicable

METRICS = ("conversion", "revenue")


@dataclass(frozen=True, kw_only=True)
class ExperimentAnalysis(Analysis):
    """Everything a report on one experiment shows (see :func:`analyse`).

    ``decided`` is the decision on the chosen ``metric`` (conversion rate or revenue per
    user); its verdict, uplift and expected loss lead the headline and the KPIs.
    """

    experiment: str
    control: str
    metric: str
    currency: str
    level: float
    rope: float
    loss_threshold: float
    prior: BetaPrior
    counts: pd.DataFrame
    results: pd.DataFrame
    decision: Decision
    srm: SRMResult
    evolution: pd.DataFrame
    sensitivity: pd.DataFrame
    grid: pd.DataFrame
    experiments: pd.DataFrame
    units_in_several_variants: int = 0
    revenue: pd.DataFrame | None = None
    revenue_decision: Decision | None = None
    revenue_normal: pd.DataFrame | None = None
    revenue_model: Any = None
    segment_column: str = ""
    segment_counts: pd.DataFrame | None = None
    segment_models: Mapping[str, Any] = field(default_factory=dict)
    stages: pd.DataFrame | None = None
    plan: Plan | None = None
    power: pd.DataFrame | None = None
    truth_check: pd.DataFrame | None = None

    @property
    def decided(self) -> Decision:
        """The decision on the chosen metric."""
        return self.revenue_decision if self.metric == "revenue" else self.decision

    @property
    def metric_label(self) -> str:
        return "revenue per user" if self.metric == "revenue" else "conversion rate"

    def best_variant(self) -> str:
        """The non-control variant most likely to be best on the chosen metric."""
        t = self.decided.table
        return str(t.sort_values("chance_to_be_best", ascending=False).iloc[0]["variant"])

    def headline(self) -> Headline:
        from cjlab.ab.summary import headline

        return headline(self)

    def kpis(self) -> list[KPI]:
        from cjlab.ab.summary import kpis

        return kpis(self)


def _one_experiment(exposures: Any, name: str) -> Any:
    f = exposures if isinstance(exposures, nw.LazyFrame | nw.DataFrame) else nw.from_native(exposures)
    return f.filter(nw.col("experiment") == name).to_native()


def analyse(tables: Mapping[str, Any], *, experiment: str = "", control: str = "",
            metric: str = "conversion", prior: str = "uniform", prior_a: float = 1.0,
            prior_b: float = 1.0, prior_weight_users: float = 1000.0, rope: float = 0.01,
            loss_threshold: float = 0.001, level: float = 0.95,
            planned_split: Mapping[str, float] | None = None, currency: str = "",
            segment_column: str = "segment", run_pymc: bool = True,
            sampler_config: Mapping[str, Any] | None = None, revenue_draws: int = 4000,
            plan_min_effect: float = 0.05, plan_max_days: int = 28, plan_sims: int = 100,
            plan_effects: Sequence[float] = (0.02, 0.05, 0.10, 0.20), random_state: int = 0,
            truth: Mapping[str, Any] | None = None) -> ExperimentAnalysis:
    """Run the A/B analyses of one experiment.

    Parameters
    ----------
    tables : contract tables; needs ``experiment_exposures`` (pandas, DuckDB or Spark).
    experiment : experiment name; ``""`` = the only one (an error lists them when there are
        several).
    control : control variant; ``""`` = the variant with an obvious name (control, holdout,
        "No E-Mail", baseline, A ...); otherwise an error lists the variants.
    metric : ``"conversion"`` or ``"revenue"`` (revenue per user decides the verdict).
    prior, prior_a, prior_b, prior_weight_users : see :func:`cjlab.ab.experiment.resolve_prior`.
    rope, loss_threshold, level : decision settings (see :func:`cjlab.ab.decision.decide`).
    planned_split : planned traffic share per variant for the sample-ratio check
        (``None``/empty: an equal split).
    currency : ISO code or symbol for money figures (``""``: plain amounts).
    segment_column : column for uplift by segment (``""`` = skip).
    run_pymc : fit the PyMC models (revenue, segments).
    sampler_config : ``pymc.sample`` settings for both models (e.g. ``{"draws": 200}``).
    revenue_draws : posterior draws of the revenue bootstrap.
    plan_min_effect, plan_max_days, plan_sims, plan_effects : planning settings
        (``plan_sims = 0``: no planning); traffic per day is the experiment's observed average.
    random_state : seed of every simulation and sampler.
    truth : planted truth of the demo company (``truth["experiments"]``), for the analysts'
        check only.

    Raises
    ------
    NotApplicable
        no ``experiment_exposures`` table.
    ABInputError
        unknown metric or experiment, several experiments and none chosen, no recognisable
        control, bad counts, a planned split that names other variants.
    """
    if metric not in METRICS:
        raise ABInputError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if "experiment_exposures" not in tables:
        raise NotApplicable("needs the experiment_exposures table")
    exposures = tables["experiment_exposures"]
    overview = ex.overview(exposures)
    name = ex.choose_experiment(overview, experiment)
    one = _one_experiment(exposures, name)
    conv = ex.conversion_part(one, control=control, prior=prior, prior_a=prior_a, prior_b=prior_b,
                              prior_weight_users=prior_weight_users, rope=rope,
                              loss_threshold=loss_threshold, level=level,
                              planned_split=planned_split)
    ctrl, skipped = conv["control"], {}
    rev = ex.revenue_part(one, ctrl, conv["prior"], conv["srm"], rope=rope,
                          loss_threshold=loss_threshold, level=level, run_pymc=run_pymc,
                          sampler_config=sampler_config, n_draws=revenue_draws,
                          random_state=random_state, skipped=skipped)
    if metric == "revenue" and rev.get("revenue") is None:
        raise ABInputError(f"metric = revenue, but {skipped['revenue'][0].lower()}"
                           f"{skipped['revenue'][1:]}")
    seg = ex.segment_part(one, ctrl, conv["results"], segment_column, run_pymc=run_pymc,
                          sampler_config=sampler_config, level=level, random_state=random_state,
                          skipped=skipped)
    stages = ex.stage_part(one, skipped)
    plan = ex.plan_part(conv, plan_min_effect, plan_max_days, plan_sims, plan_effects, rope,
                        loss_threshold, random_state, skipped)
    truth_check = ex.truth_part((truth or {}).get(name), conv, skipped)
    row = overview.set_index("experiment").loc[name]
    several = int(row["units_in_several_variants"])
    notes = (f"{several:,} units were exposed to more than one variant; each counts in every "
             "variant it saw, which blurs the difference between the arms.",) if several else ()
    return ExperimentAnalysis(
        experiment=name, control=ctrl, metric=metric, currency=currency, level=level, rope=rope,
        loss_threshold=loss_threshold, prior=conv["prior"], counts=conv["counts"],
        results=conv["results"], decision=conv["decision"], srm=conv["srm"],
        evolution=conv["evolution"], sensitivity=conv["sensitivity"], grid=conv["grid"],
        experiments=overview, units_in_several_variants=several, segment_column=segment_column,
        stages=stages, truth_check=truth_check, skipped=skipped, notes=notes, **rev, **seg, **plan)


def from_source(data_source: Any = "demo", **params: Any) -> ExperimentAnalysis:
    """Open ``data_source`` (anything :func:`cjlab.data.open_source` takes), check that it has
    experiment exposures, and run :func:`analyse` on them where they live (DuckDB or Spark).

    ``params`` are the keyword arguments of :func:`analyse`; the demo company's planted truth
    is passed along for the analysts' check.
    """
    from cjlab.data import open_source

    src = open_source(data_source)
    if "experiment_exposures" not in src.tables:
        raise NotApplicable("needs the experiment_exposures table")
    tables = {"experiment_exposures": src.lazy("experiment_exposures")}
    truth = (getattr(src, "truth", None) or {}).get("experiments")
    return analyse(tables, truth=truth, **params)


def planned_split_text(split: Mapping[str, float] | None) -> str:
    """``"control 50 %, B 50 %"`` for a planned split (``"equal split"`` when empty)."""
    if not split:
        return "equal split"
    total = float(sum(split.values()))
    return ", ".join(f"{k} {fmt.share(v / total)}" for k, v in split.items())

