"""Customer journeys: stage funnels, paths, channel attribution, flows and the journey map.

Where things live
-----------------
=====================  ================================================================
``analysis``           :func:`analyse` (tables -> :class:`JourneyAnalysis`, with headline
                       and KPIs) and :func:`from_source` (opens a source, reads the action file)
``funnels``            :func:`funnel` (ordered, with a conversion window), :func:`funnel_by`,
                       stage timing (:func:`stage_progress`, :func:`stage_durations`)
``paths``              :func:`top_paths`, :func:`attribution_paths` (from
                       :func:`cjlab.features.path_counts`)
``attribution``        the fitters on one base: :class:`HeuristicAttribution`,
                       :class:`MarkovAttribution`, :class:`NoisyOrAttribution`;
                       :func:`attribution_table`
``flows``              :func:`stage_flows` (bands of the flow diagram)
``journey_map``        :func:`journey_map`, :func:`stage_emotion`
``inputs``             :func:`clean_paths`, :func:`check_stages`, :func:`action_table`
``plots``              figures from the results (funnel, breakdown, attribution, map, flows)
=====================  ================================================================

Every aggregation of raw rows runs in :mod:`cjlab.features` (pandas, DuckDB or Spark); the
models fit the small aggregated tables in pandas.

Examples
--------
>>> import pandas as pd
>>> from cjlab.journey import markov_attribution
>>> paths = pd.DataFrame({"path": ["a > b", "b", "a"], "conversions": [30, 20, 0], "null": [10, 20, 20]})
>>> markov_attribution(paths).round(3)[["channel", "removal_effect", "conversions"]].to_dict("list")
{'channel': ['b', 'a'], 'removal_effect': [1.0, 0.5], 'conversions': [33.333, 16.667]}
"""

from cjlab.journey.analysis import (
    MODELS,
    JourneyAnalysis,
    analyse,
    from_source,
    read_actions,
    resolve_actions_file,
)
from cjlab.journey.attribution import (
    Attribution,
    HeuristicAttribution,
    MarkovAttribution,
    NoisyOrAttribution,
    attribution_table,
    heuristic_attribution,
    markov_attribution,
    noisy_or_attribution,
)
from cjlab.journey.flows import stage_flows
from cjlab.journey.funnels import (
    FunnelResult,
    funnel,
    funnel_by,
    funnel_table,
    furthest_stages,
    stage_durations,
    stage_progress,
)
from cjlab.journey.inputs import (
    SEP,
    JourneyInputError,
    PathHandling,
    action_table,
    check_stages,
    clean_paths,
)
from cjlab.journey.journey_map import journey_map, stage_emotion
from cjlab.journey.paths import attribution_paths, rank_paths, top_paths

__all__ = [
    "MODELS",
    "SEP",
    "Attribution",
    "FunnelResult",
    "HeuristicAttribution",
    "JourneyAnalysis",
    "JourneyInputError",
    "MarkovAttribution",
    "NoisyOrAttribution",
    "PathHandling",
    "action_table",
    "analyse",
    "attribution_paths",
    "attribution_table",
    "check_stages",
    "clean_paths",
    "from_source",
    "funnel",
    "funnel_by",
    "funnel_table",
    "furthest_stages",
    "heuristic_attribution",
    "journey_map",
    "markov_attribution",
    "noisy_or_attribution",
    "rank_paths",
    "read_actions",
    "resolve_actions_file",
    "stage_durations",
    "stage_emotion",
    "stage_flows",
    "stage_progress",
    "top_paths",
]
