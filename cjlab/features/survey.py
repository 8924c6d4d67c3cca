"""Cleaned survey scores and the customer base they speak for (portable: pandas, DuckDB, Spark).

:func:`survey_scores` is the per-response table every survey analysis reads: the contract
columns that are present, scores as floating-point numbers, waves as text labels, comments
trimmed (empty = missing) and, on request, customer attributes (acquisition channel, country)
joined by ``customer_id``. :func:`survey_cells` counts answers per wave × respondent type
(promoters, detractors, top-2-box ...), and :func:`population_counts` counts the customers
(or the buyers) per combination of customer attributes: the margins survey weighting aims at.

Every optional column (``customer_id``, ``respondent_type``, ``nps``, ``csat``, ``ces``,
``rating_*``, ``comment``) may be absent: the functions use what is there and leave the rest
out, so the analysis can say which section the data do not support.

Examples
--------
>>> import pandas as pd
>>> s = pd.DataFrame({"response_id": ["a", "b", "c"], "wave": ["2025-06", "2025-06", "2025-09"],
...                   "nps": [10, 3, 9], "comment": ["  late  ", "", None]})
>>> survey_scores(s)["comment"].fillna("(none)").tolist()
['late', '(none)', '(none)']
>>> survey_cells(s)[["wave", "responses", "nps_n", "nps_promoters"]].values.tolist()
[['2025-06', 2, 2, 1], ['2025-09', 1, 1, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw

from cjlab.data.contract import pii_columns
from cjlab.features._frame import back, columns, frame, ints

#: The score columns of the contract and their answer categories counted by :func:`survey_cells`:
#: column -> (count name, lowest value counted, highest value counted).
SCORE_CELLS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "nps": (("promoters", 9, 10), ("passives", 7, 8), ("detractors", 0, 6)),
    "csat": (("top2", 4, 5),),
    "ces": (("low_effort", 5, 7),),
}
#: Survey columns kept by :func:`survey_scores` (besides ``rating_*``), in this order.
SURVEY_COLUMNS = ("response_id", "wave", "customer_id", "respondent_type", "nps", "csat", "ces")


def rating_names(cols: Sequence[str]) -> list[str]:
    """The ``rating_<touchpoint>`` columns among ``cols``, in their order."""
    return [c for c in cols if c.startswith("rating_") and len(c) > len("rating_")]


def _wave_label(f: nw.LazyFrame) -> nw.Expr:
    """Waves as text: dates as ``YYYY-MM-DD``, labels as they are."""
    dtype = f.collect_schema()["wave"]
    if dtype.is_temporal():
        return nw.col("wave").dt.to_string("%Y-%m-%d")
    return nw.col("wave") if dtype == nw.String else nw.col("wave").cast(nw.String)


def survey_scores(survey: Any, customers: Any = None, customer_columns: Sequence[str] = ()) -> Any:
    """The cleaned per-response survey table.

    Parameters
    ----------
    survey : survey_responses (response_id, wave; every other column optional).
    customers : the customers table, for ``customer_columns`` (same backend as ``survey``).
    customer_columns : customer attributes to add by ``customer_id`` (e.g. acquisition_channel,
        country); those absent from ``customers`` or already in the survey are left out, and
        nothing is joined when the survey has no ``customer_id``. Personal data (name, e-mail)
        are refused.

    Returns
    -------
    Frame with response_id, wave (text), then whichever of customer_id, respondent_type, nps,
    csat, ces, rating_* (floats), comment (trimmed; empty = missing) are present, then the
    customer columns (missing for respondents without a customer record). Same backend as
    ``survey``.
    """
    f = frame(survey)
    cols = columns(survey)
    ratings = rating_names(cols)
    exprs = []
    for c in [*(c for c in SURVEY_COLUMNS if c in cols), *ratings]:
        if c == "wave":
            exprs.append(_wave_label(f).alias("wave"))
        elif c in SCORE_CELLS or c in ratings:
            exprs.append(nw.col(c).cast(nw.Float64))
        else:
            exprs.append(nw.col(c))
    if "comment" in cols:
        txt = nw.col("comment").cast(nw.String).str.strip_chars()
        exprs.append(nw.when(txt.str.len_chars() > 0).then(txt).alias("comment"))
    out = f.select(*exprs)
    wanted = _customer_columns(customers, customer_columns, cols)
    if wanted:
        look = frame(customers).select("customer_id", *wanted)
        out = out.join(look, on="customer_id", how="left")
    return back(out, survey)


def _customer_columns(
    customers: Any, wanted: Sequence[str], survey_cols: Sequence[str]
) -> list[str]:
    """The customer attributes to join: asked for, present in customers, not in the survey."""
    if customers is None or not wanted or "customer_id" not in survey_cols:
        return []
    pii = sorted(set(pii_columns("customers")) & set(wanted))
    if pii:
        raise ValueError(f"refusing to attach personal data columns {pii} to survey answers")
    have = set(columns(customers))
    return [
        c
        for c in dict.fromkeys(wanted)
        if c in have and c not in survey_cols and c != "customer_id"
    ]


def survey_cells(survey: Any, by: Sequence[str] = ("wave", "respondent_type")) -> Any:
    """Answers per cell (default wave × respondent type) and score.

    Parameters
    ----------
    survey : survey_responses (raw or from :func:`survey_scores`).
    by : cell columns; those absent from the survey are left out.

    Returns
    -------
    Frame with the ``by`` columns present, ``responses`` and, per score column present
    (nps, csat, ces): ``<score>_n`` (answers), ``<score>_sum`` (sum of the answers) and the
    category counts of :data:`SCORE_CELLS` (``nps_promoters``, ``nps_passives``,
    ``nps_detractors``, ``csat_top2``, ``ces_low_effort``). Counts are integers.
    """
    f = frame(survey)
    cols = columns(survey)
    by = [c for c in by if c in cols]
    if "wave" in by:
        f = f.with_columns(_wave_label(f).alias("wave"))
    aggs, counts = [nw.len().alias("responses")], ["responses"]
    prep = []  # helper columns first: plain column aggregations only (no conditional ones)
    for score, cats in SCORE_CELLS.items():
        if score not in cols:
            continue
        x = nw.col(score).cast(nw.Float64)
        prep += [x.alias(f"_{score}"), x.fill_null(0.0).alias(f"_{score}_0")]
        for name, lo, hi in cats:
            prep.append(
                nw.when((x >= lo) & (x <= hi))
                .then(nw.lit(1))
                .otherwise(nw.lit(0))
                .alias(f"_{score}_{name}")
            )
            aggs.append(nw.col(f"_{score}_{name}").sum().alias(f"{score}_{name}"))
            counts.append(f"{score}_{name}")
        aggs += [
            nw.col(f"_{score}").count().alias(f"{score}_n"),
            nw.col(f"_{score}_0").sum().alias(f"{score}_sum"),
        ]
        counts.append(f"{score}_n")
    f = f.with_columns(*prep) if prep else f
    g = f.group_by(by).agg(*aggs) if by else f.select(*aggs)
    g = ints(g, counts)
    return back(g.sort(by) if by else g, survey)


def population_counts(customers: Any, columns: Sequence[str], orders: Any = None) -> Any:
    """Customers per combination of ``columns``: the population a survey is weighted to.

    Parameters
    ----------
    customers : the customers table (customer_id and the attribute columns).
    columns : customer attributes (e.g. acquisition_channel, country); a combination with a
        missing value is a cell of its own.
    orders : optional orders table: then only customers who bought at least once count
        (surveys are sent to buyers).

    Returns
    -------
    Frame with ``columns`` and ``customers`` (a count), sorted by ``columns``. Same backend as
    ``customers``.
    """
    cols = list(columns)
    f = frame(customers).select("customer_id", *cols)
    if orders is not None:
        buyers = frame(orders).group_by("customer_id").agg(nw.len().alias("_orders"))
        f = f.join(buyers.select("customer_id"), on="customer_id", how="inner")
    g = (
        f.group_by(cols).agg(nw.len().alias("customers"))
        if cols
        else f.select(nw.len().alias("customers"))
    )
    g = ints(g, ["customers"])
    return back(g.sort(cols, nulls_last=True) if cols else g, customers)


__all__ = [
    "SCORE_CELLS",
    "SURVEY_COLUMNS",
    "population_counts",
    "rating_names",
    "survey_cells",
    "survey_scores",
]
