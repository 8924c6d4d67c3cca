"""RFM table: recency, frequency and monetary scores and the named segment of every buyer.

The per-customer aggregation runs on the backend of the orders (pandas, DuckDB, Spark ...:
:func:`cjlab.features.rfm.rfm_aggregate`); only the one-row-per-customer table is scored in
pandas. Conventions (as-of day, purchase unit, monetary measure) are those of
:mod:`cjlab.features.rfm`; scores run 1..``n_bins`` with higher = better for all three.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": ["a", "a", "b"],
...     "ts": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"]), "amount": [10.0, 30.0, 5.0]})
>>> out = rfm(orders, "2025-03-31", n_bins=2, rules=[{"segment": "All buyers"}])
>>> out[["customer_id", "recency_days", "frequency", "monetary_total", "monetary_mean"]].to_dict("list")
{'customer_id': ['a', 'b'], 'recency_days': [30, 58], 'frequency': [2, 1], 'monetary_total': [40.0, 5.0], 'monetary_mean': [20.0, 5.0]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjlab.features.rfm import as_of_day, rfm_aggregate
from cjlab.segments.rules import assign_segments
from cjlab.segments.scoring import score

__all__ = ["RFM_OUTPUT", "rfm", "segment_summary"]

#: Columns of :func:`rfm`'s table, in order.
RFM_OUTPUT = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_mean",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "segment",
    "first_purchase",
    "last_purchase",
    "n_orders",
]


def _aggregate(
    orders: Any, as_of: Any, customers: Any, purchase_unit: str, on_bad: str, engine: str
) -> tuple[pd.DataFrame, Any]:
    """:func:`rfm_aggregate` on the chosen engine (a pandas input may go through DuckDB)."""
    if engine == "auto":
        engine = "native"
    if engine not in ("native", "duckdb"):
        raise ValueError(f"engine must be 'auto', 'native' or 'duckdb', got {engine!r}")
    if engine == "native" or not isinstance(orders, pd.DataFrame):
        return rfm_aggregate(
            orders, as_of, customers=customers, purchase_unit=purchase_unit, on_bad=on_bad
        )
    import duckdb

    with duckdb.connect() as con:
        rel = con.from_df(orders)
        if isinstance(customers, pd.DataFrame):
            customers = con.from_df(customers)
        return rfm_aggregate(
            rel, as_of, customers=customers, purchase_unit=purchase_unit, on_bad=on_bad
        )


def _scores(
    agg: pd.DataFrame,
    n_bins: int,
    method: str,
    cuts: Mapping[str, Sequence[float]] | None,
    monetary: str,
) -> dict[str, np.ndarray]:
    """r_score, f_score, m_score and rfm_score (e.g. "545") of each row of ``agg``."""
    cuts = dict(cuts or {})
    mcol = "monetary_total" if monetary == "total" else "monetary_mean"

    def one(col: str, key: str, higher_is_better: bool) -> np.ndarray:
        c = cuts.get(key, cuts.get(col)) if method == "cuts" else None
        if method == "cuts" and c is None:
            raise ValueError(f"method='cuts' needs cut points for {key!r}")
        return score(agg[col].to_numpy(), n_bins, method, c, higher_is_better=higher_is_better)

    r, f, m = (
        one("recency_days", "recency_days", False),
        one("frequency", "frequency", True),
        one(mcol, "monetary", True),
    )
    if n_bins < 10:  # one digit per score: "545"
        lookup = np.array([f"{c:03d}" for c in range(1000)], dtype=object)
        code = lookup[r * 100 + f * 10 + m]
    else:
        code = np.char.add(
            np.char.add(np.char.add(np.char.add(r.astype(str), "-"), f.astype(str)), "-"),
            m.astype(str),
        ).astype(object)
    return {"r_score": r, "f_score": f, "m_score": m, "rfm_score": code}


def rfm(
    orders: Any,
    as_of: Any = None,
    *,
    customers: Any = None,
    n_bins: int = 5,
    method: str = "rank",
    cuts: Mapping[str, Sequence[float]] | None = None,
    monetary: str = "total",
    purchase_unit: str = "order",
    rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
    fill: str | None = None,
    on_bad: str = "raise",
    engine: str = "auto",
) -> pd.DataFrame:
    """RFM table: one row per customer with recency, frequency, monetary, scores and segment.

    Parameters
    ----------
    orders : orders table (pandas, DuckDB relation, any narwhals backend) with
        ``customer_id``, ``ts``, ``amount`` (and ``order_id``).
    as_of : analysis day (default: day of the last order). Later orders are ignored.
    customers : optional customers table to check orders against ``first_seen``.
    n_bins : number of scores per measure (5 gives the classic 1..5 scale).
    method : ``"rank"``, ``"quantile"``, ``"cuts"`` or ``"jenks"`` (see
        :func:`cjlab.segments.scoring.score`); ``"rank"`` keeps tied values together, so
        one-time buyers always get F = 1.
    cuts : for ``method="cuts"``: ``{"recency_days": [...], "frequency": [...], "monetary": [...]}``
        with ``n_bins - 1`` inner cut points each (recency cuts in days; right-closed bins).
    monetary : ``"total"`` or ``"mean"`` — which monetary measure gives ``m_score``.
    purchase_unit : ``"order"`` or ``"day"`` (see :mod:`cjlab.features.rfm`).
    rules : named-segment rule table (default :data:`~cjlab.segments.rules.DEFAULT_RFM_RULES`);
        must cover every score combination exactly once unless ``fill`` names a catch-all.
    on_bad : ``"raise"`` or ``"drop"`` for negative amounts / orders before first_seen.
    engine : ``"native"`` (= ``"auto"``, the default) runs the aggregation on the backend of
        ``orders`` (NumPy for a pandas frame, the fastest way from pandas); ``"duckdb"`` hands a
        pandas input to an in-memory DuckDB first (streams the table instead of holding a few
        arrays of its length in memory).

    Returns
    -------
    DataFrame with the columns of :data:`RFM_OUTPUT`. ``attrs["rfm_handling"]`` lists counted
    input handling and ``attrs["as_of"]`` the analysis day.
    """
    if monetary not in ("total", "mean"):
        raise ValueError(f"monetary must be 'total' or 'mean', got {monetary!r}")
    agg, handling = _aggregate(orders, as_of, customers, purchase_unit, on_bad, engine)
    cols = {c: agg[c].to_numpy() for c in agg.columns} | _scores(
        agg, n_bins, method, cuts, monetary
    )
    scores = pd.DataFrame({c: cols[c] for c in ("r_score", "f_score", "m_score")}, copy=False)
    cols["segment"] = assign_segments(scores, rules, n_bins, fill=fill).to_numpy()
    out = pd.DataFrame({c: cols[c] for c in RFM_OUTPUT}, copy=False)
    out.attrs["rfm_handling"] = handling.to_frame().to_dict("records")
    if as_of is not None:
        out.attrs["as_of"] = str(pd.Timestamp(as_of_day(as_of)).date())
    else:
        out.attrs["as_of"] = str(agg["last_purchase"].max().date()) if len(agg) else None
    return out


def segment_summary(
    table: pd.DataFrame, segment_col: str = "segment", value_col: str = "monetary_total"
) -> pd.DataFrame:
    """Size and value per segment: customers, share, revenue, revenue share, mean R/F/M.

    Parameters
    ----------
    table : output of :func:`rfm` (or any table with a segment and a value column).

    Returns
    -------
    One row per segment, largest revenue first: segment, customers, revenue,
    mean_recency_days, mean_frequency, mean_monetary_mean (those present), customer_share,
    revenue_share.

    Examples
    --------
    >>> t = pd.DataFrame({"segment": ["a", "a", "b"], "monetary_total": [10.0, 30.0, 60.0]})
    >>> segment_summary(t)[["segment", "customers", "revenue_share"]].values.tolist()
    [['b', 1, 0.6], ['a', 2, 0.4]]
    """
    g = table.groupby(segment_col, observed=True)
    out = pd.DataFrame({"customers": g.size(), "revenue": g[value_col].sum()})
    for c in ("recency_days", "frequency", "monetary_mean"):
        if c in table.columns:
            out[f"mean_{c}"] = g[c].mean()
    out["customer_share"] = out["customers"] / out["customers"].sum()
    tot = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / tot if tot else np.nan
    return out.sort_values("revenue", ascending=False).reset_index()
