"""The sections of the survey report, one function each: what it computes and, when the data
lack what it needs, the one sentence saying which data would enable it.

Each function takes the cleaned per-response table (:func:`cjlab.features.survey.survey_scores`)
and returns ``(result, reason)``: the result, or ``None`` and the reason the section is skipped.
:func:`cjlab.survey.analysis.analyse` calls them in order and collects the reasons into
:attr:`cjlab.results.Analysis.skipped`. Pure functions on DataFrames: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.features import survey as fs
from cjlab.features import to_pandas

from .checks import MarginError, SurveyInputError, rating_columns
from .customer_base import CustomerBaseWeights
from .drivers import KeyDrivers, importance_performance
from .likert import AlphaResult, cronbach_alpha, likert_table
from .scores import METRICS, estimate, scorecard, suppression_note
from .themes import CommentThemes
from .touchpoints import touchpoint_scores
from .waves import compare_waves, resolve_waves, wave_order

#: Score column (and section) -> what it measures, for the sentences of absent scores.
SCORE_COLUMNS = {
    "nps": "NPS (likelihood to recommend, 0–10)",
    "csat": "satisfaction (CSAT, 1–5)",
    "ces": "effort (CES, 1–7)",
}
#: Scores per wave, in the order of the report.
WAVE_METRICS = ("nps", "csat_top2", "ces_mean", "ces_low_effort")
#: Share of respondents who must have answered a rating for it to join the default scale.
SCALE_COVERAGE = 0.8
#: Comments per theme, and the largest number of themes, when ``n_themes`` is 0 (automatic).
COMMENTS_PER_THEME, MAX_THEMES = 10, 10

Outcome = tuple[Any, str | None]


def _words(cols: Sequence[str]) -> str:
    cols = [str(c) for c in cols]
    return cols[0] if len(cols) == 1 else ", ".join(cols[:-1]) + " or " + cols[-1]


def _no_weighting(
    data: pd.DataFrame,
    tables: Mapping[str, Any],
    use_weighting: bool,
    cols: Sequence[str],
    margins: Sequence[str],
    shares: Mapping,
) -> str | None:
    """Why the answers cannot be re-weighted, or None when they can."""
    if not use_weighting:
        return "Weighting is switched off (use_weighting = False): every answer counts equally."
    if tables.get("customers") is None:
        return (
            "No customers table: the answers are not re-weighted to the customer base (a "
            "customers table with acquisition_channel or country would enable it)."
        )
    if "customer_id" not in data:
        return (
            "The survey has no customer_id column: answers cannot be linked to the customer "
            "base, so they are not re-weighted."
        )
    if not cols and not shares:
        return (
            f"The customers table has none of the weighting columns "
            f"({_words(list(margins)) or 'none given'}): the answers are not re-weighted."
        )
    if not data[list(cols)].notna().all(axis=1).any():
        return (
            "No survey answer matches a customer record: the answers are not re-weighted to "
            "the customer base."
        )
    return None


def weighting(
    data: pd.DataFrame,
    tables: Mapping[str, Any],
    *,
    use_weighting: bool,
    weighting_margins: Sequence[str],
    weighting_method: str,
    respondent_type_shares: Mapping[str, float] | None,
    trim: Sequence[float] | None,
) -> tuple[CustomerBaseWeights | None, list[str], str | None]:
    """Weights to the customer base: (fitted weights, notes, reason skipped)."""
    cols = [c for c in weighting_margins if c in data]
    notes = []
    shares = dict(respondent_type_shares or {})
    if shares and "respondent_type" not in data:
        notes.append(
            "The survey has no respondent_type column: the respondent-type shares are "
            "not used for weighting."
        )
        shares = {}
    reason = _no_weighting(data, tables, use_weighting, cols, weighting_margins, shares)
    if reason:
        return None, notes, reason
    orders = tables.get("orders")
    if orders is None:
        notes.append(
            "No orders table: the answers are weighted to every customer, not only to "
            "those who bought."
        )
    population = to_pandas(fs.population_counts(tables["customers"], cols, orders))
    model = CustomerBaseWeights(
        cols,
        method=weighting_method,
        respondent_type_shares=shares or None,
        trim=tuple(trim) if trim else None,
    )
    try:
        model.fit(data, population, count="customers")
    except (MarginError, SurveyInputError) as e:
        return None, notes, f"Re-weighting was not possible, so every answer counts equally: {e}"
    return model, [*notes, *model.notes_], None


def scores(
    data: pd.DataFrame, metrics: Sequence[str], weights: str | None, level: float, min_n: int
) -> tuple[pd.DataFrame | None, list[str]]:
    """Scores per wave (suppressed below ``min_n``) and the note on suppressed waves."""
    if not metrics:
        return None, []
    trend = scorecard(data, list(metrics), by="wave", weights=weights, level=level, min_n=min_n)
    note = suppression_note(trend, min_n, "wave", ["wave"])
    return trend, [note] if note else []


def segments(
    data: pd.DataFrame,
    segment_columns: Sequence[str],
    weights: str | None,
    level: float,
    min_n: int,
) -> tuple[dict[str, pd.DataFrame], list[str], str | None]:
    """NPS by each segment column present: (tables, notes on suppressed cells, reason skipped)."""
    if "nps" not in data:
        return {}, [], "No nps column: no NPS by segment."
    cols = [c for c in segment_columns if c in data and data[c].notna().any()]
    if not cols:
        return (
            {},
            [],
            (
                f"None of the segment columns ({_words(list(segment_columns))}) is in the "
                "data: no NPS by segment (a respondent_type column, or customers with "
                "acquisition_channel or country, would enable it)."
            ),
        )
    out, notes = {}, []
    for col in cols:
        seg = scorecard(
            data.dropna(subset=[col]), ["nps"], by=col, weights=weights, level=level, min_n=min_n
        )
        out[col] = seg.assign(**{col: seg[col].astype(str)})
        note = suppression_note(seg, min_n, col.replace("_", " "), [col])
        if note:
            notes.append(note)
    return out, notes, None


def drivers(
    data: pd.DataFrame, *, n_boot: int, level: float, min_n: int, random_state: int | None
) -> tuple[KeyDrivers | None, pd.DataFrame | None, str | None]:
    """Key drivers of recommendation and their quadrants: (model, quadrants, reason skipped)."""
    ratings = rating_columns(data)
    if "nps" not in data:
        return (
            None,
            None,
            "No nps column: no driver analysis (it explains likelihood to recommend).",
        )
    if len(ratings) < 2:
        return (
            None,
            None,
            (
                "Fewer than two rating_<touchpoint> columns: no driver analysis "
                "(ratings of at least two touchpoints would enable it)."
            ),
        )
    n = int(data["nps"].notna().sum())
    if n < max(min_n, len(ratings) + 3):
        return (
            None,
            None,
            (
                f"Only {fmt.count(n)} answers with an NPS score: too few for a driver "
                f"analysis (at least {max(min_n, len(ratings) + 3)} needed)."
            ),
        )
    try:
        kd = KeyDrivers(n_boot=n_boot, level=level, random_state=random_state).fit(
            data, drivers=ratings
        )
    except (SurveyInputError, np.linalg.LinAlgError) as e:
        return None, None, f"The driver analysis could not be computed on these answers: {e}"
    return kd, importance_performance(kd.importance_), None


def touchpoints(
    data: pd.DataFrame, weights: str | None, level: float, min_n: int
) -> tuple[pd.DataFrame | None, list[str], str | None]:
    """Scores per touchpoint for the journey map: (table, notes on suppressed rows, reason skipped)."""
    ratings = rating_columns(data)
    if not ratings:
        return (
            None,
            [],
            (
                "No rating_<touchpoint> columns: no scores per touchpoint (touchpoint "
                "ratings 1–5 would enable them)."
            ),
        )
    touch = touchpoint_scores(data, ratings, weights=weights, level=level, min_n=min_n)
    note = suppression_note(touch, min_n, "touchpoint", ["touchpoint"])
    return touch, [note] if note else [], None


def likert(
    data: pd.DataFrame, weights: str | None, min_n: int
) -> tuple[pd.DataFrame | None, list[str], str | None]:
    """Answer distribution per rating (and respondent type): (shown rows, notes, reason skipped)."""
    ratings = rating_columns(data)
    if not ratings:
        return (
            None,
            [],
            (
                "No rating_<touchpoint> columns: no rating distribution (touchpoint "
                "ratings 1–5 would enable it)."
            ),
        )
    by = (
        "respondent_type"
        if "respondent_type" in data and data["respondent_type"].notna().any()
        else None
    )
    lik = likert_table(data, ratings, by=by, weights=weights)
    shown = lik[lik["n"] >= min_n]
    if shown.empty:
        return (
            None,
            [],
            (
                f"Every rating has fewer than {min_n} answers per group: the rating "
                "distribution is not shown."
            ),
        )
    hidden = lik.loc[lik["n"] < min_n, ["item", by] if by else ["item"]].drop_duplicates()
    notes = (
        [f"{len(hidden)} item/group combination(s) with fewer than {min_n} answers are not shown."]
        if len(hidden)
        else []
    )
    return shown.assign(item=shown["item"].str.replace("rating_", "", regex=False)), notes, None


def scale_items_for(data: pd.DataFrame, scale_items: Sequence[str]) -> list[str]:
    """The items of the experience scale: those asked for that are present, or (none asked
    for) every rating answered by at least :data:`SCALE_COVERAGE` of the respondents."""
    if scale_items:
        return [c for c in scale_items if c in data]
    return [c for c in rating_columns(data) if data[c].notna().mean() >= SCALE_COVERAGE]


def alpha(
    data: pd.DataFrame, scale_items: Sequence[str], level: float, min_n: int
) -> tuple[AlphaResult | None, list[str], str | None]:
    """Cronbach's alpha of the experience scale: (result, items, reason skipped)."""
    items = scale_items_for(data, scale_items)
    if len(items) < 2:
        asked = (
            f" of {_words(list(scale_items))}" if scale_items else " answered by most respondents"
        )
        return (
            None,
            items,
            (f"Fewer than two ratings{asked}: no scale reliability (Cronbach's alpha)."),
        )
    complete = int(data[items].notna().all(axis=1).sum())
    if complete < min_n:
        return (
            None,
            items,
            (
                f"Only {fmt.count(complete)} answers rate every item of the scale: too "
                f"few for Cronbach's alpha (at least {min_n} needed)."
            ),
        )
    try:
        return cronbach_alpha(data, items, level=level), items, None
    except SurveyInputError as e:
        return None, items, f"Cronbach's alpha could not be computed: {e}"


def themes(
    data: pd.DataFrame, *, n_themes: int, random_state: int | None, redact_names: Sequence[str]
) -> tuple[CommentThemes | None, str | None]:
    """Comment themes and pain points: (model, reason skipped)."""
    if "comment" not in data:
        return None, "No comment column: no comment themes (free-text comments would enable them)."
    n = int(data["comment"].notna().sum())
    k = n_themes or min(MAX_THEMES, n // COMMENTS_PER_THEME)
    need = COMMENTS_PER_THEME * max(k, 2)
    if k < 2 or n < need:
        what = f"{k} themes" if n_themes else "themes"
        return None, (f"Only {fmt.count(n)} comments: too few for {what} (at least {need} needed).")
    score = data["nps"] if "nps" in data else None
    try:
        ct = CommentThemes(n_themes=k, random_state=random_state).fit(
            data["comment"], score, names=redact_names
        )
    except SurveyInputError as e:
        return None, f"No comment themes: {e}"
    return ct, None


def pain_points(themes_model: CommentThemes | None, data: pd.DataFrame) -> str | None:
    """Why the themes are not ranked into pain points, or None when they are."""
    if themes_model is None:
        return None
    if "nps" not in data:
        return "No nps column: themes are not ranked into pain points."
    if not themes_model.themes_["pain_point"].any():
        return "No theme is raised more often by detractors than average."
    return None


def waves(data: pd.DataFrame, waves_to_compare: Sequence[str]) -> tuple[tuple, Any, Any, dict]:
    """(waves in order, earlier compared wave or None, later wave, skipped sections)."""
    order = tuple(wave_order(data))
    if waves_to_compare or len(order) >= 2:
        a, b = resolve_waves(data, waves_to_compare)
        return order, a, b, {}
    only = f"Only one survey wave ({order[0]}): no"
    return order, None, order[-1], {
        "change": f"{only} comparison between waves (a second wave would enable it).",
        "trend": f"{only} trend over waves (a second wave would enable it).",
    }  # fmt: skip


def absent_scores(data: pd.DataFrame) -> dict[str, str]:
    """Section -> sentence for each score column (nps, csat, ces) the survey lacks."""
    out = {s: f"No {s} column: {what} is not reported." for s, what in SCORE_COLUMNS.items()
           if s not in data}  # fmt: skip
    if len(out) == len(SCORE_COLUMNS):
        out["scores"] = (
            "The survey has no nps, csat or ces column: no scores per wave (any of "
            "them would enable this section)."
        )
        out["trend"] = out["change"] = (
            "No scores to follow across waves (an nps, csat or ces column would enable it)."
        )
    return out


def score_fields(
    data: pd.DataFrame,
    wave_a,
    wave_b,
    weights: str | None,
    level: float,
    min_n: int,
    skipped: dict,
    warnings: dict,
) -> dict[str, Any]:
    """Scores per wave, their change between the compared waves and NPS over all waves (fields
    of :class:`~cjlab.survey.SurveyAnalysis`); absent scores are added to ``skipped``."""
    metrics = tuple(m for m in WAVE_METRICS if METRICS[m][0] in data)
    skipped.update(absent_scores(data))
    trend, warnings["scores"] = scores(data, metrics, weights, level, min_n)
    changes = {}
    if wave_a is not None:
        changes = {m: compare_waves(data, wave_a, wave_b, m, weights=weights, level=level,
                                    min_n=min_n) for m in metrics}  # fmt: skip
    overall = estimate(data, "nps", weights=weights, level=level) if "nps" in metrics else None
    return {"metrics": metrics, "trend": trend, "changes": changes, "overall": overall}


def detail_fields(data: pd.DataFrame, weights: str | None, skipped: dict, warnings: dict, *,
                  segment_columns: Sequence[str], n_boot: int, level: float, min_n: int,
                  random_state: int | None, scale_items: Sequence[str], n_themes: int,
                  redact_names: Sequence[str]) -> dict[str, Any]:  # fmt: skip
    """Segments, drivers, touchpoints, ratings, scale reliability and comment themes (fields of
    :class:`~cjlab.survey.SurveyAnalysis`); the reasons of skipped sections go into ``skipped``,
    the notes shown in a section into ``warnings``."""
    segs, warnings["segments"], skipped["segments"] = segments(data, segment_columns, weights,
                                                               level, min_n)  # fmt: skip
    kd, quadrants, skipped["drivers"] = drivers(data, n_boot=n_boot, level=level, min_n=min_n,
                                                random_state=random_state)  # fmt: skip
    touch, warnings["touchpoints"], skipped["touchpoints"] = touchpoints(
        data, weights, level, min_n
    )
    lik, warnings["likert"], skipped["likert"] = likert(data, weights, min_n)
    reliability, items, skipped["alpha"] = alpha(data, scale_items, level, min_n)
    model, skipped["themes"] = themes(data, n_themes=n_themes, random_state=random_state,
                                      redact_names=redact_names)  # fmt: skip
    skipped["pain_points"] = pain_points(model, data)
    return {
        "segments": segs,
        "drivers": kd,
        "quadrants": quadrants,
        "touchpoints": touch,
        "likert": lik,
        "alpha": reliability,
        "scale_items": tuple(items),
        "themes": model,
    }


def overall_notes(data: pd.DataFrame, min_n: int) -> tuple[str, ...]:
    """A remark for the whole report when there are fewer answers than one group needs."""
    if len(data) < min_n:
        return (
            f"Only {fmt.count(len(data))} answers in total: most figures are not shown as "
            f"numbers (groups need at least {min_n} respondents).",
        )
    return ()


__all__ = [
    "COMMENTS_PER_THEME",
    "MAX_THEMES",
    "SCALE_COVERAGE",
    "SCORE_COLUMNS",
    "WAVE_METRICS",
    "absent_scores",
    "alpha",
    "detail_fields",
    "drivers",
    "likert",
    "overall_notes",
    "pain_points",
    "scale_items_for",
    "score_fields",
    "scores",
    "segments",
    "themes",
    "touchpoints",
    "waves",
    "weighting",
]
