"""The aggregation layer: raw contract tables -> one row per customer, path, stage, day or cell.

Every analysis reads its inputs from here; none re-aggregates raw tables its own way. The
functions are pure and backend-portable (written with narwhals): each takes a pandas
DataFrame, a DuckDB relation (:meth:`cjlab.data.DataSource.lazy`) or a Spark DataFrame and
returns a frame of the same backend, so the heavy step runs where the data live; the results
are small and :func:`to_pandas` collects them for modelling. Absent optional columns are
handled here, in one place (:func:`has`). The as-of convention is the same everywhere: facts
dated on the ``as_of`` day or earlier count.

Every function gives the same result on pandas, DuckDB and Spark (``tests/test_portable.py``,
``tests/test_spark.py``). Writing rules that keep it so and fast at 100 million rows: distinct
counts as two group-by steps (no ``n_unique`` over raw rows), value mappings as one chained
``when``/``then`` (a SQL ``CASE``), no conditional aggregations inside ``group_by().agg``
(silently wrong on narwhals' pandas backend), timestamps as time-zone-naive UTC wall-clock values.

Modules: ``orders`` (per-customer orders, point-in-time windows, purchase gaps), ``rfm`` (recency,
frequency, monetary in the segment-scoring convention), ``btyd`` (the calibration/holdout summary
of buy-till-you-die models), ``touchpoints`` (per-customer touches, joined customer features),
``behaviour`` (behavioural shares for segmentation), ``funnels`` (stage funnels, windowed),
``sequences`` and ``paths`` (journeys, flows, paths before the first purchase), ``experiments``
(counts per variant and day), ``survey`` (cleaned scores and cells), ``campaigns`` (engagement
hours, item purchases, windows around yearly dates), ``plan`` (journey states, value by period),
``counts`` (per day, month or cell).

Examples
--------
>>> import pandas as pd
>>> from cjlab import features as ft
>>> orders = pd.DataFrame({"customer_id": [1, 1, 2], "order_id": [10, 11, 12],
...                        "ts": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-02-01"]),
...                        "amount": [10.0, 20.0, 5.0]})
>>> ft.to_pandas(ft.customer_orders(orders)).sort_values("customer_id")["revenue"].tolist()
[30.0, 5.0]
"""

from cjlab.features._frame import as_of_end, columns, has, to_pandas, up_to
from cjlab.features.behaviour import behaviour_features
from cjlab.features.btyd import rfm_summary
from cjlab.features.campaigns import annual_window_counts, engagement_hours, item_purchases
from cjlab.features.counts import counts_by, daily_counts, monthly_counts
from cjlab.features.experiments import (
    experiment_counts,
    experiment_daily,
    experiment_overview,
    experiment_units,
)
from cjlab.features.funnels import (
    known_stages,
    ordered_funnel,
    stage_first_touch,
    stage_funnel,
    touchpoint_progress,
    unknown_stages,
)
from cjlab.features.orders import customer_orders, order_windows, purchase_gap_counts
from cjlab.features.paths import path_counts
from cjlab.features.plan import journey_states, value_by_period
from cjlab.features.rfm import customer_rfm, last_orders, rfm_aggregate
from cjlab.features.sequences import (
    customer_paths,
    customer_steps,
    distinct_steps,
    stage_sequence,
    step_flows,
)
from cjlab.features.survey import population_counts, survey_cells, survey_scores
from cjlab.features.touchpoints import (
    customer_features,
    customer_touchpoints,
    furthest_stage,
    touchpoint_windows,
)

__all__ = [
    "annual_window_counts",
    "as_of_end",
    "behaviour_features",
    "columns",
    "counts_by",
    "customer_features",
    "customer_orders",
    "customer_paths",
    "customer_rfm",
    "customer_steps",
    "customer_touchpoints",
    "daily_counts",
    "distinct_steps",
    "engagement_hours",
    "experiment_counts",
    "experiment_daily",
    "experiment_overview",
    "experiment_units",
    "furthest_stage",
    "has",
    "item_purchases",
    "journey_states",
    "known_stages",
    "last_orders",
    "monthly_counts",
    "order_windows",
    "ordered_funnel",
    "path_counts",
    "population_counts",
    "purchase_gap_counts",
    "rfm_aggregate",
    "rfm_summary",
    "stage_first_touch",
    "stage_funnel",
    "stage_sequence",
    "step_flows",
    "survey_cells",
    "survey_scores",
    "to_pandas",
    "touchpoint_progress",
    "touchpoint_windows",
    "unknown_stages",
    "up_to",
    "value_by_period",
]
