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

Modules: :mod:`~cjlab.features.orders` (per-customer orders), :mod:`~cjlab.features.touchpoints`
(per-customer touches and the joined customer features), :mod:`~cjlab.features.funnels`
(stage funnel), :mod:`~cjlab.features.paths` (paths before the first purchase),
:mod:`~cjlab.features.counts` (per day, month or cell), :mod:`~cjlab.features.experiments`
(experiment counts).

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
from cjlab.features.counts import counts_by, daily_counts, monthly_counts
from cjlab.features.experiments import experiment_daily
from cjlab.features.funnels import stage_funnel
from cjlab.features.orders import customer_orders
from cjlab.features.paths import path_counts
from cjlab.features.survey import population_counts, survey_cells, survey_scores
from cjlab.features.touchpoints import customer_features, customer_touchpoints, furthest_stage

__all__ = [
    "as_of_end",
    "columns",
    "counts_by",
    "customer_features",
    "customer_orders",
    "customer_touchpoints",
    "daily_counts",
    "experiment_daily",
    "furthest_stage",
    "has",
    "monthly_counts",
    "path_counts",
    "population_counts",
    "stage_funnel",
    "survey_cells",
    "survey_scores",
    "to_pandas",
    "up_to",
]
