"""Distinct journey paths before an outcome, with their counts (portable: pandas, DuckDB, Spark)."""

from __future__ import annotations

from typing import Any

import narwhals as nw

from cjlab.features._frame import back, ints
from cjlab.features.sequences import _paths


def path_counts(
    touchpoints: Any,
    orders: Any = None,
    *,
    by: str = "channel",
    max_steps: int | None = 4,
    sep: str = " > ",
    **kwargs: Any,
) -> Any:
    """Distinct journey paths before the first purchase (or another outcome): path, conversions, null.

    Each customer's touches before the outcome (:func:`cjlab.features.customer_steps`: strictly
    before the first order; every touch for customers who never ordered), the last
    ``max_steps`` of them (closest to the outcome; None = all) joined oldest first by ``sep``;
    then per path the customers whose outcome happened (``conversions``) and the others
    (``null``). This is the paths table every attribution model of :mod:`cjlab.journey` fits.

    Parameters
    ----------
    touchpoints : customer_id, ts and ``by`` (channel, touchpoint and stage when filtered on).
    orders : orders (customer_id, ts); without them every path is a non-conversion.
    by : the column whose values make the steps (channel, touchpoint, stage).
    max_steps : steps kept per customer (the last ones); None keeps every step.
    sep : separator of steps in ``path``.
    **kwargs : the other arguments of :func:`cjlab.features.customer_steps` (``channels``,
        ``exclude_touchpoints``, ``stages``, ``as_of``, ``outcome``, ``customers``,
        ``lookback_days``, ``collapse_repeats``).

    Returns
    -------
    Frame (the input's backend) with path, conversions and null, sorted by path.

    Examples
    --------
    >>> import pandas as pd
    >>> tp = pd.DataFrame({"customer_id": [1, 1, 2], "channel": ["social", "email", "email"],
    ...                    "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"])})
    >>> orders = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2025-01-04"])})
    >>> path_counts(tp, orders).values.tolist()
    [['email', 0, 1], ['social > email', 1, 0]]
    """
    c = _paths(touchpoints, orders, by=by, max_steps=max_steps, sep=sep, **kwargs)
    g = ints(
        c.group_by("path").agg(nw.col("outcome").sum().alias("conversions"), nw.len().alias("_n")),
        ["conversions", "_n"],
    )
    g = g.with_columns((nw.col("_n") - nw.col("conversions")).alias("null")).drop("_n")
    return back(g.sort("path"), touchpoints)
