"""Customer segmentation: RFM scores and named segments, behavioural segments, status, response.

One concern per module:

* :mod:`~cjlab.segments.rules` — named-segment rule tables over the R x F x M score grid;
* :mod:`~cjlab.segments.scoring` — scores 1..n_bins (balanced groups that keep ties together,
  quantiles, natural breaks, cut points);
* :mod:`~cjlab.segments.rfm` — the RFM table (aggregation in :mod:`cjlab.features.rfm`);
* :mod:`~cjlab.segments.clustering` — :class:`BehaviouralSegments` (a scikit-learn estimator)
  and readable segment names (features in :mod:`cjlab.features.behaviour`);
* :mod:`~cjlab.segments.status` — customer status by explicit rules;
* :mod:`~cjlab.segments.response` — response rate and lift by channel, device, season;
* :mod:`~cjlab.segments.analysis` — :func:`analyse` / :func:`from_source` ->
  :class:`SegmentAnalysis` (headline, KPIs, skipped sections);
* :mod:`~cjlab.segments.tables`, :mod:`~cjlab.segments.plots` — tables and figures for readers.

Examples
--------
>>> import pandas as pd
>>> from cjlab import segments as sg
>>> orders = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": ["a", "a", "b"],
...     "ts": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"]), "amount": [10.0, 30.0, 5.0]})
>>> sg.rfm(orders, "2025-03-31", n_bins=2, rules=[{"segment": "All buyers"}])["f_score"].tolist()
[2, 1]
"""

from cjlab.features.behaviour import behaviour_features
from cjlab.features.rfm import InputHandling, RFMInputError, rfm_aggregate
from cjlab.segments.analysis import SegmentAnalysis, SegmentParams, analyse, from_source
from cjlab.segments.clustering import (
    DESCRIPTORS,
    LIFECYCLE_FEATURES,
    BehaviouralSegments,
    describe_profiles,
    name_segments,
    profiles,
)
from cjlab.segments.response import lift_matrix, response_table
from cjlab.segments.rfm import rfm, segment_summary
from cjlab.segments.rules import (
    DEFAULT_RFM_RULES,
    RuleTableError,
    assign_segments,
    check_rules,
    rules_table,
)
from cjlab.segments.scoring import balanced_breaks, jenks_breaks, score
from cjlab.segments.status import (
    DEFAULT_STATUS_RULES,
    STATUS_ORDER,
    customer_status,
    status_summary,
)

__all__ = [
    "DEFAULT_RFM_RULES",
    "DEFAULT_STATUS_RULES",
    "DESCRIPTORS",
    "LIFECYCLE_FEATURES",
    "STATUS_ORDER",
    "BehaviouralSegments",
    "InputHandling",
    "RFMInputError",
    "RuleTableError",
    "SegmentAnalysis",
    "SegmentParams",
    "analyse",
    "assign_segments",
    "balanced_breaks",
    "behaviour_features",
    "check_rules",
    "customer_status",
    "describe_profiles",
    "from_source",
    "jenks_breaks",
    "lift_matrix",
    "name_segments",
    "profiles",
    "response_table",
    "rfm",
    "rfm_aggregate",
    "rules_table",
    "score",
    "segment_summary",
    "status_summary",
]
