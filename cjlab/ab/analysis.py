"""One experiment, everything its report shows: :func:`analyse` and :func:`from_source`.

:func:`analyse` takes the contract tables (``experiment_exposures``, on any backend: pandas,
DuckDB, Spark), counts them through :mod:`cjlab.features.experiments`, and returns an
:class:`ExperimentAnalysis`: the exact conversion comparison and its decision, the
sample-ratio check against the planned split, the evidence over time, prior sensitivity and
the verdict grid; revenue per user (two-part Bayesian bootstrap; optional PyMC model) when
the exposures carry revenue; uplift per segment with partial pooling (by quadrature, or
sampled with PyMC) when they carry a segment; the
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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import pandas as pd

from cjlab import formatting as fmt
from cjlab.ab import experiment as ex
from cjlab.ab import summary
from cjlab.ab.conversions import ABInputError, BetaPrior
from cjlab.ab.decision import Decision, SRMResult
from cjlab.ab.planning import Plan
from cjlab.ab.settings import Settings
from cjlab.results import KPI, Analysis, Headline, NotApplicable


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
        return summary.headline(self)

    def kpis(self) -> list[KPI]:
        return summary.kpis(self)


def _one_experiment(exposures: Any, name: str) -> Any:
    f = (
        exposures
        if isinstance(exposures, nw.LazyFrame | nw.DataFrame)
        else nw.from_native(exposures)
    )
    return f.filter(nw.col("experiment") == name).to_native()


def analyse(
    tables: Mapping[str, Any], *, truth: Mapping[str, Any] | None = None, **params: Any
) -> ExperimentAnalysis:
    """Run the A/B analyses of one experiment.

    Parameters
    ----------
    tables : contract tables; needs ``experiment_exposures`` (pandas, DuckDB or Spark).
    truth : planted truth of the demo company (``truth["experiments"]``), for the analysts'
        check only.
    params : the :class:`Settings` (experiment, control, metric, planned_split, currency ...).

    Raises
    ------
    NotApplicable
        no ``experiment_exposures`` table.
    ABInputError
        unknown parameter, metric or experiment, several experiments and none chosen, no
        recognisable control, bad counts, a planned split that names other variants.
    """
    s = Settings.of(params)
    if "experiment_exposures" not in tables:
        raise NotApplicable("needs the experiment_exposures table")
    exposures = tables["experiment_exposures"]
    overview = ex.overview(exposures)
    name = ex.choose_experiment(overview, s.experiment)
    one = _one_experiment(exposures, name)
    conv = ex.conversion_part(one, s)
    skipped: dict[str, str] = {}
    rev = ex.revenue_part(one, conv, s, skipped)
    if s.metric == "revenue" and rev.get("revenue") is None:
        reason = skipped["revenue"]
        raise ABInputError(f"metric = revenue, but {reason[0].lower()}{reason[1:]}")
    seg = ex.segment_part(one, conv, s, skipped)
    plan = ex.plan_part(conv, s, skipped)
    stages = ex.stage_part(one, skipped)
    truth_check = ex.truth_part((truth or {}).get(name), conv, skipped)
    several = int(overview.set_index("experiment").loc[name, "units_in_several_variants"])
    notes = (
        (
            f"{several:,} units were exposed to more than one variant; each counts in every "
            "variant it saw, which blurs the difference between the arms.",
        )
        if several
        else ()
    )
    return ExperimentAnalysis(
        experiment=name,
        control=conv["control"],
        metric=s.metric,
        currency=s.currency,
        level=s.level,
        rope=s.rope,
        loss_threshold=s.loss_threshold,
        prior=conv["prior"],
        counts=conv["counts"],
        results=conv["results"],
        decision=conv["decision"],
        srm=conv["srm"],
        evolution=conv["evolution"],
        sensitivity=conv["sensitivity"],
        grid=conv["grid"],
        experiments=overview,
        units_in_several_variants=several,
        segment_column=s.segment_column,
        stages=stages,
        truth_check=truth_check,
        skipped=skipped,
        notes=notes,
        **rev,
        **seg,
        **plan,
    )


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
