"""Survey analysis: NPS / CSAT / CES with uncertainty, re-weighting, drivers, Likert, themes.

Layout (the shape of every cjlab analysis)
------------------------------------------
analysis       analyse(tables, **params) -> SurveyAnalysis (headline, KPIs, skipped sections);
               from_source(data_source, **params)
sections       one function per report section, with the sentence for absent data
scores         nps, csat, ces, estimate, scorecard: scores with standard errors and intervals
waves          wave_order, resolve_waves, compare_waves: the change between two waves
weighting      rake, poststratify: raking and post-stratification to given margins
customer_base  CustomerBaseWeights, margins_from_table: re-weighting to the customer base
drivers        KeyDrivers, importance_performance: what drives recommendation
touchpoints    touchpoint_scores, stage_scores: per-touchpoint table for the journey map
likert         likert_table, cronbach_alpha: Likert items and scale reliability
themes, text   CommentThemes (themes and pain points); redact and the comment tokeniser
checks         the survey errors and input checks
plots, tables  figures and reader tables from results (never from raw tables)

The cleaned answers come from :mod:`cjlab.features.survey` (``survey_scores``).

Examples
--------
>>> from cjlab.survey import nps
>>> r = nps([10, 9, 7, 3, 0])
>>> round(r.value), r.n
(0, 5)
"""

from .analysis import SurveyAnalysis, analyse, from_source
from .checks import (
    MIN_N_DEFAULT,
    SCALES,
    MarginError,
    ScoreRangeError,
    SurveyInputError,
    WeightError,
    check_scores,
    check_weights,
    rating_columns,
)
from .customer_base import (
    CustomerBaseWeights,
    collapse_rare,
    margins_from_table,
    population_cells,
)
from .drivers import KeyDrivers, importance_performance, relative_weights, shapley_r2
from .likert import AlphaResult, cronbach_alpha, likert_table
from .scores import (
    METRICS,
    ScoreEstimate,
    ces,
    csat,
    design_effect,
    estimate,
    kish_n_effective,
    nps,
    scorecard,
    suppress_small,
    suppression_note,
    weighted_mean_se,
)
from .text import STOP_WORDS, name_list, redact
from .themes import CommentThemes
from .touchpoints import DEFAULT_STAGE_MAP, stage_of, stage_scores, touchpoint_scores
from .waves import WaveComparison, compare_waves, resolve_waves, wave_order
from .weighting import WeightingResult, margin_check, poststratify, rake

__all__ = [
    "DEFAULT_STAGE_MAP",
    "METRICS",
    "MIN_N_DEFAULT",
    "SCALES",
    "STOP_WORDS",
    "AlphaResult",
    "CommentThemes",
    "CustomerBaseWeights",
    "KeyDrivers",
    "MarginError",
    "ScoreEstimate",
    "ScoreRangeError",
    "SurveyAnalysis",
    "SurveyInputError",
    "WaveComparison",
    "WeightError",
    "WeightingResult",
    "analyse",
    "ces",
    "check_scores",
    "check_weights",
    "collapse_rare",
    "compare_waves",
    "cronbach_alpha",
    "csat",
    "design_effect",
    "estimate",
    "from_source",
    "importance_performance",
    "kish_n_effective",
    "likert_table",
    "margin_check",
    "margins_from_table",
    "name_list",
    "nps",
    "population_cells",
    "poststratify",
    "rake",
    "rating_columns",
    "redact",
    "relative_weights",
    "resolve_waves",
    "scorecard",
    "shapley_r2",
    "stage_of",
    "stage_scores",
    "suppress_small",
    "suppression_note",
    "touchpoint_scores",
    "wave_order",
    "weighted_mean_se",
]
