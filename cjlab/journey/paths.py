"""The most common paths before a purchase (or before leaving), from the portable path counts.

Paths are counted where the data live by :func:`cjlab.features.path_counts`; this module ranks
them for the report.

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"path": ["a", "a > b", "b"], "conversions": [5, 3, 0], "null": [1, 0, 4]})
>>> rank_paths(counts)[["path", "customers", "share", "steps"]].values.tolist()
[['a', 5, 0.625, 1], ['a > b', 3, 0.375, 2]]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cjlab.features import path_counts, to_pandas
from cjlab.journey.inputs import SEP

__all__ = ["attribution_paths", "rank_paths", "top_paths"]


def rank_paths(counts: pd.DataFrame, n: int | None = 10, reached: bool = True) -> pd.DataFrame:
    """The ``n`` most common paths of customers with (``reached``) or without the outcome.

    Parameters
    ----------
    counts : path, conversions, null (:func:`cjlab.features.path_counts`).
    n : paths listed (None = all).
    reached : rank the paths of customers whose outcome happened (else of the others).

    Returns
    -------
    DataFrame path, customers, share (of the customers with / without the outcome), steps.
    """
    col = "conversions" if reached else "null"
    c = to_pandas(counts)
    c = c.loc[c[col] > 0, ["path", col]].rename(columns={col: "customers"})
    c["customers"] = c["customers"].astype("int64")
    c = c.sort_values(["customers", "path"], ascending=[False, True], kind="stable")
    total = c["customers"].sum()
    c["share"] = c["customers"] / total if total else float("nan")
    c["steps"] = c["path"].str.count(SEP.strip()) + 1
    return (c if n is None else c.head(n)).reset_index(drop=True)


def top_paths(
    touchpoints: Any, orders: Any = None, n: int = 10, reached: bool = True, **kwargs: Any
) -> pd.DataFrame:
    """The most common sequences before an outcome (``reached=False``: of those without it).

    Takes the arguments of :func:`cjlab.features.path_counts`; defaults: channel sequences,
    consecutive repeats collapsed, the last 6 steps.

    Returns
    -------
    DataFrame path, customers, share (of customers with / without the outcome), steps.
    """
    kwargs.setdefault("collapse_repeats", True)
    kwargs.setdefault("max_steps", 6)
    return rank_paths(path_counts(touchpoints, orders, **kwargs), n=n, reached=reached)


def attribution_paths(touchpoints: Any, orders: Any = None, **kwargs: Any) -> pd.DataFrame:
    """The paths table the attribution models fit: every step before the first purchase.

    Takes the arguments of :func:`cjlab.features.path_counts` (``max_steps`` defaults to None:
    all steps). Customers without any touch in scope have no path and are not counted.

    Returns
    -------
    DataFrame path, conversions, null — most conversions first.
    """
    kwargs.setdefault("max_steps", None)
    out = to_pandas(path_counts(touchpoints, orders, **kwargs))
    return out.sort_values(
        ["conversions", "null", "path"], ascending=[False, False, True]
    ).reset_index(drop=True)
