"""Survey analysis: NPS / CSAT / CES with uncertainty, re-weighting, drivers, Likert, themes.

Public entry points
-------------------
nps, csat, ces, scorecard, compare_waves     scores with standard errors and intervals
rake, poststratify, margins_from_table       re-weighting to population margins
KeyDrivers, importance_performance           relative importance of touchpoint ratings
touchpoint_scores, stage_scores              per-touchpoint table for the journey map
likert_table, cronbach_alpha                 Likert items and scale reliability
CommentThemes, redact                        comment themes and the pain-point list

Examples
--------
>>> from cjlab.survey import nps
>>> r = nps([10, 9, 7, 3, 0])
>>> round(r.value), r.n
(0, 5)
"""

from ._common import (
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
from .drivers import (
    DEFAULT_STAGE_MAP,
    KeyDrivers,
    importance_performance,
    relative_weights,
    shapley_r2,
    stage_of,
    stage_scores,
    touchpoint_scores,
)
from .likert import AlphaResult, cronbach_alpha, likert_table
from .scores import (
    METRICS,
    ScoreEstimate,
    WaveComparison,
    ces,
    compare_waves,
    csat,
    design_effect,
    estimate,
    kish_n_effective,
    nps,
    scorecard,
    suppress_small,
    weighted_mean_se,
)
from .themes import STOP_WORDS, CommentThemes, name_list, redact
from .weighting import (
    WeightingResult,
    attach_customer_attributes,
    margin_check,
    margins_from_table,
    population_cells,
    poststratify,
    rake,
)
from .workflow import (
    SurveyWeights,
    collapse_rare,
    customer_names,
    population_frame,
    resolve_waves,
    suppression_note,
    wave_order,
    weight_respondents,
)

__all__ = [
    "DEFAULT_STAGE_MAP",
    "METRICS",
    "MIN_N_DEFAULT",
    "SCALES",
    "STOP_WORDS",
    "AlphaResult",
    "CommentThemes",
    "KeyDrivers",
    "MarginError",
    "ScoreEstimate",
    "ScoreRangeError",
    "SurveyInputError",
    "SurveyWeights",
    "WaveComparison",
    "WeightError",
    "WeightingResult",
    "attach_customer_attributes",
    "ces",
    "check_scores",
    "check_weights",
    "collapse_rare",
    "compare_waves",
    "cronbach_alpha",
    "csat",
    "customer_names",
    "design_effect",
    "estimate",
    "importance_performance",
    "kish_n_effective",
    "likert_table",
    "margin_check",
    "margins_from_table",
    "name_list",
    "nps",
    "population_cells",
    "population_frame",
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
    "weight_respondents",
    "weighted_mean_se",
]
