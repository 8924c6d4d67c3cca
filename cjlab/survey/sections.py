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
from .drivers import KeyDrivers, importance_performance
from .likert import AlphaResult, cronbach_alpha, likert_table
from .scores import scorecard, suppression_note
from .themes import CommentThemes
from .touchpoints import touchpoint_scores
from .weighting import CustomerBaseWeights

#: Score column (and section) -> what it measures, for the sentences of absent scores.
SCORE_COLUMNS = {"nps": "NPS (likelihood to recommend, 0–10)", "csat": "satisfaction (CSAT, 1–5)",
                 "ces": "effort (CES, 1–7)"}
#: Share of respondents who must have answered a rating for it to join the default scale.
SCALE_COVERAGE = 0.8
#: Comments per theme, and the largest number of themes, when ``n_themes`` is 0 (automatic).
COMMENTS_PER_THEME, MAX_THEMES = 10, 10

Outcome = tuple[Any, str | None]


def _words(cols: Sequence[str]) -> str:
    cols = [str(c) for c in cols]
    return cols[0] if len(cols) == 1 else ", ".join(cols[:-1]) + " or " + cols[-1]


def weighting(data: pd.DataFrame, tables: Mapping[str, Any], *, use_weighting: bool,
              weighting_margins: Sequence[str], weighting_method: str,
              respondent_type_shares: Mapping[str, float] | None,
              trim: Sequence[float] | None) -> tuple[CustomerBaseWeights | None, list[str], str | None]:
    """Weights to the customer base: (fitted weights, notes, reason skipped)."""
    if not use_weighting:
        return None, [], ("Weighting is switched off (use_weighting = False): every answer counts "
                          "equally.")
    customers = tables.get("customers")
    if customers is None:
        return None, [], ("No customers table: the answers are not re-weighted to the customer "
                          "base (a customers table with acquisition_channel or country would "
                          "enable it).")
    if "customer_id" not in data:
        return None, [], ("The survey has no customer_id column: answers cannot be linked to the "
                          "customer base, so they are not re-weighted.")
    cols = [c for c in weighting_margins if c in data]
    notes = []
    shares = dict(respondent_type_shares or {})
    if shares and "respondent_type" not in data:
        notes.append("The survey has no respondent_type column: the respondent-type shares are "
                     "not used for weighting.")
        shares = {}
    if not cols and not shares:
        return None, notes, (f"The customers table has none of the weighting columns "
                             f"({_words(list(weighting_margins)) or 'none given'}): the answers "
                             "are not re-weighted.")
    if not data[cols].notna().all(axis=1).any():
        return None, notes, ("No survey answer matches a customer record: the answers are not "
                             "re-weighted to the customer base.")
    orders = tables.get("orders")
    if orders is None:
        notes.append("No orders table: the answers are weighted to every customer, not only to "
                     "those who bought.")
    population = to_pandas(fs.population_counts(customers, cols, orders))
    model = CustomerBaseWeights(cols, method=weighting_method, respondent_type_shares=shares or None,
                                trim=tuple(trim) if trim else None)
    try:
        model.fit(data, population, count="customers")
    except (MarginError, SurveyInputError) as e:
        return None, notes, f"Re-weighting was not possible, so every answer counts equally: {e}"
    return model, [*notes, *model.notes_], None


def scores(data: pd.DataFrame, metrics: Sequence[str], weights: str | None, level: float,
           min_n: int) -> tuple[pd.DataFrame | None, list[str]]:
    """Scores per wave (suppressed below ``min_n``) and the note on suppressed waves."""
    if not metrics:
        return None, []
    trend = scorecard(data, list(metrics), by="wave", weights=weights, level=level, min_n=min_n)
    note = suppression_note(trend, min_n, "wave", ["wave"])
    return trend, [note] if note else []


def segments(data: pd.DataFrame, segment_columns: Sequence[str], weights: str | None,
             level: float, min_n: int) -> tuple[dict[str, pd.DataFrame], list[str], str | None]:
    """NPS by each segment column present: (tables, notes on suppressed cells, reason skipped)."""
    if "nps" not in data:
        return {}, [], "No nps column: no NPS by segment."
    cols = [c for c in segment_columns if c in data and data[c].notna().any()]
    if not cols:
        return {}, [], (f"None of the segment columns ({_words(list(segment_columns))}) is in the "
                        "data: no NPS by segment (a respondent_type column, or customers with "
                        "acquisition_channel or country, would enable it).")
    out, notes = {}, []
    for col in cols:
        seg = scorecard(data.dropna(subset=[col]), ["nps"], by=col, weights=weights, level=level,
                        min_n=min_n)
        out[col] = seg.assign(**{col: seg[col].astype(str)})
        note = suppression_note(seg, min_n, col.replace("_", " "), [col])
        if note:
            notes.append(note)
    return out, notes, None


def drivers(data: pd.DataFrame, *, n_boot: int, level: float, min_n: int,
            random_state: int | None) -> tuple[KeyDrivers | None, pd.DataFrame | None, str | None]:
    """Key drivers of recommendation and their quadrants: (model, quadrants, reason skipped)."""
    ratings = rating_columns(data)
    if "nps" not in data:
        return None, None, "No nps column: no driver analysis (it explains likelihood to recommend)."
    if len(ratings) < 2:
        return None, None, ("Fewer than two rating_<touchpoint> columns: no driver analysis "
                            "(ratings of at least two touchpoints would enable it).")
    n = int(data["nps"].notna().sum())
    if n < max(min_n, len(ratings) + 3):
        return None, None, (f"Only {fmt.count(n)} answers with an NPS score: too few for a driver "
                            f"analysis (at least {max(min_n, len(ratings) + 3)} needed).")
    try:
        kd = KeyDrivers(n_boot=n_boot, level=level, random_state=random_state).fit(data, drivers=ratings)
    except (SurveyInputError, np.linalg.LinAlgError) as e:
        return None, None, f"The driver analysis could not be computed on these answers: {e}"
    return kd, importance_performance(kd.importance_), None


def touchpoints(data: pd.DataFrame, weights: str | None, level: float,
                min_n: int) -> tuple[pd.DataFrame | None, list[str], str | None]:
    """Scores per touchpoint for the journey map: (table, notes on suppressed rows, reason skipped)."""
    ratings = rating_columns(data)
    if not ratings:
        return None, [], ("No rating_<touchpoint> columns: no scores per touchpoint (touchpoint "
                          "ratings 1–5 would enable them).")
    touch = touchpoint_scores(data, ratings, weights=weights, level=level, min_n=min_n)
    note = suppression_note(touch, min_n, "touchpoint", ["touchpoint"])
    return touch, [note] if note else [], None


def likert(data: pd.DataFrame, weights: str | None, min_n: int) -> tuple[pd.DataFrame | None, list[str], str | None]:
    """Answer distribution per rating (and respondent type): (shown rows, notes, reason skipped)."""
    ratings = rating_columns(data)
    if not ratings:
        return None, [], ("No rating_<touchpoint> columns: no rating distribution (touchpoint "
                          "ratings 1–5 would enable it).")
    by = "respondent_type" if "respondent_type" in data and data["respondent_type"].notna().any() else None
    lik = likert_table(data, ratings, by=by, weights=weights)
    shown = lik[lik["n"] >= min_n]
    if shown.empty:
        return None, [], (f"Every rating has fewer than {min_n} answers per group: the rating "
                          "distribution is not shown.")
    hidden = lik.loc[lik["n"] < min_n, ["item", by] if by else ["item"]].drop_duplicates()
    notes = ([f"{len(hidden)} item/group combination(s) with fewer than {min_n} answers are not "
              "shown."] if len(hidden) else [])
    return shown.assign(item=shown["item"].str.replace("rating_", "", regex=False)), notes, None


def scale_items_for(data: pd.DataFrame, scale_items: Sequence[str]) -> list[str]:
    """The items of the experience scale: those asked for that are present, or (none asked
    for) every rating answered by at least :data:`SCALE_COVERAGE` of the respondents."""
    if scale_items:
        return [c for c in scale_items if c in data]
    return [c for c in rating_columns(data) if data[c].notna().mean() >= SCALE_COVERAGE]


def alpha(data: pd.DataFrame, scale_items: Sequence[str], level: float,
          min_n: int) -> tuple[AlphaResult | None, list[str], str | None]:
    """Cronbach's alpha of the experience scale: (result, items, reason skipped)."""
    items = scale_items_for(data, scale_items)
    if len(items) < 2:
        asked = f" of {_words(list(scale_items))}" if scale_items else " answered by most respondents"
        return None, items, (f"Fewer than two ratings{asked}: no scale reliability (Cronbach's "
                             "alpha).")
    complete = int(data[items].notna().all(axis=1).sum())
    if complete < min_n:
        return None, items, (f"Only {fmt.count(complete)} answers rate every item of the scale: too "
                             f"few for Cronbach's alpha (at least {min_n} needed).")
    try:
        return cronbach_alpha(data, items, level=level), items, None
    except SurveyInputError as e:
        return None, items, f"Cronbach's alpha could not be computed: {e}"


def themes(data: pd.DataFrame, *, n_themes: int, random_state: int | None,
           redact_names: Sequence[str]) -> tuple[CommentThemes | None, str | None]:
    """Comment themes and pain points: (model, reason skipped)."""
    if "comment" not in data:
        return None, "No comment column: no comment themes (free-text comments would enable them)."
    n = int(data["comment"].notna().sum())
    k = n_themes or min(MAX_THEMES, n // COMMENTS_PER_THEME)
    need = COMMENTS_PER_THEME * max(k, 2)
    if k < 2 or n < need:
        what = f"{k} themes" if n_themes else "themes"
        return None, (f"Only {fmt.count(n)} comments: too few for {what} (at least {need} "
                      "needed).")
    score = data["nps"] if "nps" in data else None
    try:
        ct = CommentThemes(n_themes=k, random_state=random_state).fit(data["comment"], score,
                                                                      names=redact_names)
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

__all__ = ["COMMENTS_PER_THEME", "MAX_THEMES", "SCALE_COVERAGE", "SCORE_COLUMNS", "alpha", "drivers",
           "likert", "pain_points", "scale_items_for", "scores", "segments", "themes", "touchpoints", "weighting"]
