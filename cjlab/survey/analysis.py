"""The survey analysis of one report: :func:`analyse` (tables in, :class:`SurveyAnalysis` out)
and :func:`from_source` (a data source in).

The result carries every table, model and figure input the survey report shows, the sections
the data could not support (:attr:`SurveyAnalysis.skipped`, one sentence each), its headline
(:meth:`SurveyAnalysis.headline`) and every KPI it records (:meth:`SurveyAnalysis.kpis`), so a
notebook only shows them.

Examples
--------
>>> from cjlab.data import open_source
>>> src = open_source("demo:n_customers=3000,seed=11")
>>> a = analyse(src.load("survey_responses", "customers", "orders"), n_boot=0)
>>> a.headline().title.startswith("NPS ")
True
>>> sorted(a.skipped)
[]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.features import survey as fs
from cjlab.features import to_pandas
from cjlab.results import KPI, Analysis, Headline, NotApplicable

from . import sections
from .customer_base import CustomerBaseWeights
from .drivers import KeyDrivers
from .likert import AlphaResult
from .scores import METRICS, ScoreEstimate
from .sections import WAVE_METRICS
from .themes import CommentThemes
from .waves import WaveComparison

#: Scores of the latest wave recorded as headline KPIs (``<metric>_latest``).
LATEST_METRICS = ("nps", "csat_top2", "ces_mean")
#: Sections of the report (the keys of :attr:`SurveyAnalysis.skipped`).
SECTIONS = (
    "scores",
    "nps",
    "csat",
    "ces",
    "trend",
    "change",
    "weighting",
    "segments",
    "drivers",
    "touchpoints",
    "likert",
    "alpha",
    "themes",
    "pain_points",
)


@dataclass(frozen=True, kw_only=True)
class SurveyAnalysis(Analysis):
    """Everything the survey report shows (see :func:`analyse`).

    Attributes
    ----------
    responses : the cleaned answers analysed, one row per response (with ``weight`` when
        re-weighted; respondents without a customer record are then left out).
    cells : answers per wave × respondent type (:func:`cjlab.features.survey.survey_cells`).
    waves : waves present, in order; ``wave_a`` / ``wave_b`` the two compared (``wave_a`` is
        None when there is only one wave).
    metrics : the scores the data support (names of :data:`cjlab.survey.METRICS`).
    trend : scores per wave (:func:`cjlab.survey.scorecard`); changes : metric -> change
        between the compared waves; overall : NPS over all waves.
    weighting : the fitted :class:`CustomerBaseWeights`, or None.
    segments : segment column -> NPS per segment; drivers / quadrants : key drivers and their
        importance × performance quadrants; touchpoints : per-touchpoint scores; likert :
        answer shares per rating; alpha / scale_items : reliability of the experience scale;
        themes : comment themes and pain points.
    warnings : section -> notes shown in it (suppressed cells, weighting remarks).
    """

    responses: pd.DataFrame
    cells: pd.DataFrame
    waves: tuple[str, ...]
    wave_a: str | None
    wave_b: str
    metrics: tuple[str, ...]
    min_n: int
    level: float
    trend: pd.DataFrame | None = None
    changes: Mapping[str, WaveComparison] = field(default_factory=dict)
    overall: ScoreEstimate | None = None
    weighting: CustomerBaseWeights | None = None
    segments: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    drivers: KeyDrivers | None = None
    quadrants: pd.DataFrame | None = None
    touchpoints: pd.DataFrame | None = None
    likert: pd.DataFrame | None = None
    alpha: AlphaResult | None = None
    scale_items: tuple[str, ...] = ()
    themes: CommentThemes | None = None
    warnings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def weights(self) -> str | None:
        """Name of the weight column, or None when the answers are not re-weighted."""
        return "weight" if self.weighting is not None else None

    def latest(self) -> pd.DataFrame:
        """Scores of the latest compared wave, indexed by metric (empty without scores)."""
        if self.trend is None:
            return pd.DataFrame()
        return self.trend[self.trend["wave"] == self.wave_b].set_index("metric")

    def pain_points(self) -> pd.DataFrame | None:
        """Themes raised more often by detractors than average, highest priority first."""
        if self.themes is None or "pain_point" not in self.themes.themes_:
            return None
        return self.themes.pain_points()

    def kpis(self) -> list[KPI]:
        """Every figure the survey report records: scores of the latest wave, per wave, their
        change, NPS over all waves, driver importance, scale reliability, pain-point priority."""
        out = self._score_kpis()
        if self.overall is not None:
            o = self.overall
            out.append(
                KPI(
                    "nps_all_waves",
                    o.value,
                    "NPS, all waves pooled",
                    "points",
                    o.low,
                    o.high,
                    n=o.n,
                    higher_is_better=True,
                    topic="segments",
                    level=self.level,
                )
            )
        if self.drivers is not None:
            out += [
                KPI(
                    "driver_importance",
                    r.share,
                    "Driver importance (share of explained recommendation)",
                    "share",
                    r.low,
                    r.high,
                    group=r.touchpoint,
                    n=r.n,
                    topic="drivers",
                    level=self.level,
                )
                for r in self.drivers.importance_.itertuples()
            ]
        if self.alpha is not None:
            a = self.alpha
            out.append(
                KPI(
                    "cronbach_alpha",
                    a.alpha,
                    "Cronbach's alpha of the experience scale",
                    "number",
                    a.low,
                    a.high,
                    n=a.n,
                    topic="scale",
                    level=self.level,
                )
            )
        pains = self.pain_points()
        if pains is not None:
            out += [
                KPI(
                    "pain_point_priority",
                    r.priority,
                    "Pain point priority (share × NPS gap)",
                    "points",
                    group=r.label,
                    n=r.n,
                    higher_is_better=False,
                    topic="themes",
                )
                for r in pains.itertuples()
            ]
        return out

    def _score_kpis(self) -> list[KPI]:
        out = []
        latest = self.latest()
        for m in (m for m in LATEST_METRICS if m in self.metrics):
            r = latest.loc[m]
            out.append(
                KPI(
                    f"{m}_latest",
                    r["value"],
                    f"{r['label']}, wave {self.wave_b}",
                    r["unit"],
                    r["low"],
                    r["high"],
                    n=r["n"],
                    higher_is_better=True,
                    topic="scores",
                    headline=True,
                    level=self.level,
                )
            )
        if self.trend is not None:
            out += [
                KPI(
                    r.metric,
                    r.value,
                    r.label,
                    r.unit,
                    r.low,
                    r.high,
                    group=str(r.wave),
                    n=r.n,
                    higher_is_better=True,
                    topic="waves",
                    level=self.level,
                )
                for r in self.trend.itertuples()
            ]
        for m, c in self.changes.items():
            out.append(
                KPI(
                    f"{m}_change",
                    c.diff,
                    f"Change in {METRICS[m][4]}",
                    c.unit,
                    c.low,
                    c.high,
                    group=f"{c.wave_a}..{c.wave_b}",
                    higher_is_better=True,
                    topic="waves",
                    headline=m == "nps",
                    level=self.level,
                )
            )
        return out

    def headline(self) -> Headline:
        """The report's opening box: the main score of the latest wave, its change, the other
        scores, the strongest driver, the top pain point and how the answers were weighted."""
        k = {x.name: x for x in self._score_kpis() if x.group is None}
        main = next((m for m in LATEST_METRICS if f"{m}_latest" in k), None)
        items: list[tuple[str, str]] = []
        for m in LATEST_METRICS:
            if f"{m}_latest" in k:
                items.append(self._score_item(m, k[f"{m}_latest"]))
            if m == main and m in self.changes:
                items.append((f"Change since {self.wave_a}", self.changes[m].verdict))
        items += self._finding_items()
        change = self.changes.get(main) if main else None
        status = None
        if change is not None and change.distinguishable:
            status = "good" if change.diff > 0 else "bad"
        return Headline(self._title(main, k, change), tuple(items), status)

    def _title(self, main: str | None, k: Mapping[str, KPI], change: WaveComparison | None) -> str:
        wave = self.wave_b
        if main is None:
            return (
                f"{fmt.count(len(self.responses))} survey answers up to {wave}: no NPS, CSAT or CES"
            )
        kpi = k[f"{main}_latest"]
        if fmt.number(kpi.value) == fmt.MISSING:
            return (
                f"Too few respondents in {wave} for a reliable {_short(main)} "
                f"({fmt.count(kpi.n)}, at least {self.min_n} needed)"
            )
        digits = 0 if kpi.unit in ("points", "share") else 2
        head = f"{_short(main)} {fmt.number(kpi.value, kpi.unit, digits=digits)} in {wave}"
        if change is None:
            return head
        if not change.distinguishable:
            return f"{head}: no clear change since {self.wave_a}"
        return f"{head}: a real {'rise' if change.diff > 0 else 'fall'} since {self.wave_a}"

    def _score_item(self, metric: str, kpi: KPI) -> tuple[str, str]:
        label = {
            "nps": f"NPS, wave {self.wave_b}",
            "csat_top2": "Satisfied (CSAT 4–5 of 5)",
            "ces_mean": "Effort (CES, 7 = easiest)",
        }[metric]
        if fmt.number(kpi.value) == fmt.MISSING:
            return label, f"not shown (fewer than {self.min_n} respondents)"
        return label, f"{kpi.text()}, {fmt.count(kpi.n)} respondents"

    def _finding_items(self) -> list[tuple[str, str]]:
        items = []
        if self.drivers is not None:
            top = self.drivers.importance_.iloc[0]
            fix = self.quadrants.loc[
                self.quadrants["quadrant"] == "fix first", "touchpoint"
            ].tolist()
            items.append(
                (
                    "Strongest driver of recommendation",
                    f"{_words(top['touchpoint'])} ({fmt.share(top['share'])} of the explained "
                    "variation)" + (f"; fix first: {', '.join(map(_words, fix))}" if fix else ""),
                )
            )
        pains = self.pain_points()
        if pains is not None and len(pains):
            p = pains.iloc[0]
            items.append(
                (
                    "Top pain point in comments",
                    f"{p['label']} ({fmt.share(p['share'])} of comments; their NPS "
                    f"{fmt.points(p['nps'], 0)}, {fmt.points(p['nps_gap'], 0)} below all "
                    "commenters)",
                )
            )
        if self.weighting is not None:
            r = self.weighting.result_
            on = ", ".join(c.replace("_", " ") for c in self.weighting.margins_)
            items.append(
                (
                    "Weighting",
                    f"re-weighted to the customer base by {on}; the "
                    f"answers count like {fmt.count(r.n_effective)} unweighted ones "
                    f"(of {fmt.count(r.n)})",
                )
            )
        else:
            items.append(("Weighting", "not re-weighted: every answer counts equally"))
        return items


def _words(name: Any) -> str:
    return str(name).replace("_", " ")


def _short(metric: str) -> str:
    return {"nps": "NPS", "csat_top2": "CSAT", "ces_mean": "CES"}[metric]


def _responses(tables: Mapping[str, Any], customer_columns: Sequence[str]) -> pd.DataFrame:
    """The cleaned answers in pandas, in a fixed order, without optional columns left empty."""
    if "survey_responses" not in tables:
        raise NotApplicable("The survey analysis needs the survey_responses table.")
    data = to_pandas(
        fs.survey_scores(tables["survey_responses"], tables.get("customers"), customer_columns)
    )
    empty = [c for c in data.columns if c not in ("response_id", "wave") and data[c].isna().all()]
    data = data.drop(columns=empty)
    if data.empty:
        raise NotApplicable("The survey analysis needs at least one survey answer.")
    return data.sort_values("response_id", kind="stable").reset_index(drop=True)


def analyse(
    tables: Mapping[str, Any],
    *,
    waves_to_compare: Sequence[str] = (),
    use_weighting: bool = True,
    weighting_margins: Sequence[str] = ("acquisition_channel", "country"),
    weighting_method: str = "raking",
    respondent_type_shares: Mapping[str, float] | None = None,
    trim: Sequence[float] | None = (0.2, 5.0),
    segment_columns: Sequence[str] = ("respondent_type", "acquisition_channel", "country"),
    min_n: int = 30,
    level: float = 0.95,
    n_boot: int = 200,
    n_themes: int = 0,
    scale_items: Sequence[str] = (),
    random_state: int | None = 0,
    redact_names: Sequence[str] = (),
) -> SurveyAnalysis:
    """Run the survey analysis on contract tables.

    Parameters
    ----------
    tables : ``survey_responses`` (required), ``customers`` and ``orders`` (optional), as pandas
        frames or lazy frames of one backend (DuckDB relations, Spark DataFrames).
    waves_to_compare : two wave labels [earlier, later]; empty = the last two waves.
    use_weighting : re-weight the answers to the customer base.
    weighting_margins : customer columns whose shares the weighted answers match.
    weighting_method : ``raking`` or ``poststratification``.
    respondent_type_shares : optional population shares of the respondent types.
    trim : weight bounds as multiples of the mean weight; empty = no trimming.
    segment_columns : breakdowns of NPS by segment.
    min_n : groups with fewer respondents are not shown as numbers.
    level : interval mass.
    n_boot : bootstrap resamples for the driver intervals.
    n_themes : number of comment themes; 0 = one per 10 comments, at most 10.
    scale_items : ratings of the experience scale (Cronbach's alpha); empty = every rating
        answered by at least 80 % of the respondents.
    random_state : seed of the bootstrap and of the theme clustering.
    redact_names : customer names removed from example comments.

    Returns
    -------
    SurveyAnalysis

    Raises
    ------
    NotApplicable
        no survey_responses table or no answers.
    SurveyInputError
        ``waves_to_compare`` names a wave without answers.
    """
    wanted = [*(weighting_margins if use_weighting else ()), *segment_columns]
    data = _responses(tables, wanted)
    waves, wave_a, wave_b, skipped = sections.waves(data, waves_to_compare)
    cells = to_pandas(fs.survey_cells(data))
    model, notes, skipped["weighting"] = sections.weighting(
        data, tables, use_weighting=use_weighting, weighting_margins=weighting_margins,
        weighting_method=weighting_method, respondent_type_shares=respondent_type_shares, trim=trim,
    )  # fmt: skip
    warnings = {"weighting": notes}
    if model is not None:
        data = data.assign(weight=model.weights_).dropna(subset=["weight"]).reset_index(drop=True)
    weights = "weight" if model is not None else None
    scores = sections.score_fields(data, wave_a, wave_b, weights, level, min_n, skipped, warnings)
    details = sections.detail_fields(
        data, weights, skipped, warnings, segment_columns=segment_columns, n_boot=n_boot,
        level=level, min_n=min_n, random_state=random_state, scale_items=scale_items,
        n_themes=n_themes, redact_names=redact_names,
    )  # fmt: skip
    return SurveyAnalysis(
        responses=data, cells=cells, waves=waves, wave_a=wave_a, wave_b=wave_b, min_n=min_n,
        level=level, weighting=model, **scores, **details,
        warnings={k: tuple(v) for k, v in warnings.items() if v},
        skipped={k: v for k, v in skipped.items() if v},
        notes=sections.overall_notes(data, min_n),
    )  # fmt: skip


def _customer_names(src) -> list[str]:
    """Customer names (full and parts) to redact from comments; never shown."""
    from .text import name_list

    if "customers" not in src.tables:
        return []
    rel = src.relation("customers")
    if "name" not in rel.columns:
        return []
    return name_list(rel.select("name").df())


def from_source(data_source: Any = "demo", **params: Any) -> SurveyAnalysis:
    """Open ``data_source`` (a spec for :func:`cjlab.data.open_source` or a DataSource), read the
    survey, customers and orders where they live (DuckDB or Spark) and run :func:`analyse`.

    Parameters
    ----------
    data_source : ``"demo"``, ``"demo:n_customers=3000,seed=11"``, a folder, a ``.duckdb`` file
        or a :class:`cjlab.data.DataSource`.
    **params : the keyword arguments of :func:`analyse`.

    Returns
    -------
    SurveyAnalysis
    """
    from cjlab.data import open_source

    src = data_source if hasattr(data_source, "lazy") else open_source(data_source)
    if "survey_responses" not in src.tables:
        raise NotApplicable("The survey analysis needs the survey_responses table.")
    tables = {
        t: src.lazy(t) for t in ("survey_responses", "customers", "orders") if t in src.tables
    }
    return analyse(tables, redact_names=_customer_names(src), **params)


__all__ = ["LATEST_METRICS", "SECTIONS", "WAVE_METRICS", "SurveyAnalysis", "analyse", "from_source"]
