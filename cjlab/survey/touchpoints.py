"""Touchpoints along the journey: each rating's lifecycle stage, mean and the NPS of its raters.

The per-touchpoint table (:func:`touchpoint_scores`) feeds the journey map: one row per
``rating_<touchpoint>`` column in lifecycle order, with the mean rating and the NPS of the
respondents who rated that touchpoint, each with its interval.

Examples
--------
>>> stage_of("rating_delivery"), touchpoint_name("rating_delivery")
('logistics', 'delivery')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from cjlab.data.contract import STAGES

from .checks import SCALES, SurveyInputError, check_scores, rating_columns, require_columns
from .scores import nps, weighted_mean_se

#: Lifecycle stage of each standard touchpoint rating (override with ``stage_map=``).
DEFAULT_STAGE_MAP: dict[str, str] = {
    "rating_product_page": "information",
    "rating_comparison": "comparison",
    "rating_checkout": "purchase",
    "rating_payment": "purchase",
    "rating_delivery": "logistics",
    "rating_app": "onboarding",
    "rating_onboarding": "onboarding",
    "rating_support": "support",
    "rating_newsletter": "loyalty",
    "rating_loyalty": "loyalty",
    "rating_returns": "support",
}


def touchpoint_name(column: str) -> str:
    """``rating_product_page`` -> ``product_page``."""
    return column[len("rating_") :] if column.startswith("rating_") else column


def stage_of(column: str, stage_map: Mapping[str, str] | None = None) -> str:
    """Lifecycle stage of a rating column (override map first, then :data:`DEFAULT_STAGE_MAP`);
    ``"unassigned"`` if unknown."""
    m = {**DEFAULT_STAGE_MAP, **(stage_map or {})}
    return m.get(column, m.get(touchpoint_name(column), "unassigned"))


def _rating_row(
    g: pd.DataFrame, column: str, target: str | None, weights: str | None, level: float, z: float
) -> dict[str, float]:
    """Mean rating of ``column`` with its interval, and the NPS of its raters (``g``: raters)."""
    cs = check_scores(
        g[column],
        scale=SCALES["rating"],
        name=column,
        weights=None if weights is None else g[weights],
    )
    if cs.weights is None:
        m = float(cs.values.mean())
        se = (
            float(cs.values.std(ddof=1) / np.sqrt(len(cs.values))) if len(cs.values) > 1 else np.nan
        )
    else:
        m, se = weighted_mean_se(cs.values, cs.weights)
    row = {
        "mean_rating": m,
        "rating_low": m - z * se,
        "rating_high": m + z * se,
        "nps": np.nan,
        "nps_low": np.nan,
        "nps_high": np.nan,
    }
    gn = g[g[target].notna()] if target is not None else g.iloc[:0]
    if len(gn):
        r = nps(gn[target], None if weights is None else gn[weights], level)
        row.update(nps=r.value, nps_low=r.low, nps_high=r.high)
    return row


def touchpoint_scores(
    df: pd.DataFrame,
    ratings: Sequence[str] | None = None,
    stage_map: Mapping[str, str] | None = None,
    weights: str | None = None,
    level: float = 0.95,
    min_n: int = 0,
    target: str = "nps",
) -> pd.DataFrame:
    """Per-touchpoint scores for the journey map.

    Parameters
    ----------
    df : survey rows with ``rating_<touchpoint>`` columns (and ``target``, usually ``nps``).
    ratings : rating columns (default: every ``rating_`` column).
    stage_map : rating column or touchpoint -> lifecycle stage, over :data:`DEFAULT_STAGE_MAP`.
    weights : name of a weight column, or None.
    level : interval mass.
    min_n : touchpoints rated fewer times are suppressed (estimates blanked).
    target : the likelihood-to-recommend column; when ``df`` lacks it, the NPS columns stay empty.

    Returns
    -------
    DataFrame ordered by lifecycle stage: stage, touchpoint, column, n (ratings), mean_rating,
    rating_low, rating_high, nps (NPS of the respondents who rated the touchpoint), nps_low,
    nps_high, suppressed (n < ``min_n``; estimates blanked).

    Examples
    --------
    >>> d = pd.DataFrame({"rating_delivery": [5, 4, 2, None], "nps": [10, 9, 3, 8]})
    >>> r = touchpoint_scores(d).iloc[0]
    >>> r["touchpoint"], int(r["n"]), round(float(r["mean_rating"]), 2), round(float(r["nps"]), 1)
    ('delivery', 3, 3.67, 33.3)
    """
    ratings = list(ratings) if ratings is not None else rating_columns(df)
    if not ratings:
        raise SurveyInputError("survey_responses: no rating_<touchpoint> columns.")
    require_columns(df, ratings)
    target = target if target in df.columns else None
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for c in ratings:
        g = df[df[c].notna()]
        row = {
            "stage": stage_of(c, stage_map),
            "touchpoint": touchpoint_name(c),
            "column": c,
            "n": len(g),
        }
        if len(g) == 0:
            rows.append({**row, "suppressed": True})
            continue
        est = _rating_row(g, c, target, weights, level, z)
        sup = len(g) < min_n
        rows.append(
            {**row, **{k: (np.nan if sup else v) for k, v in est.items()}, "suppressed": sup}
        )
    out = pd.DataFrame(rows)
    order = {s: i for i, s in enumerate(STAGES)}
    out["_o"] = out["stage"].map(order).fillna(len(STAGES))
    return out.sort_values(["_o", "touchpoint"]).drop(columns="_o").reset_index(drop=True)


def stage_scores(touchpoints: pd.DataFrame) -> pd.DataFrame:
    """Roll the touchpoint table up to stages (rating mean weighted by n, total n)."""
    t = touchpoints.dropna(subset=["mean_rating"])
    g = t.assign(_wr=t["mean_rating"] * t["n"]).groupby("stage", sort=False)
    out = pd.DataFrame(
        {
            "mean_rating": g["_wr"].sum() / g["n"].sum(),
            "n": g["n"].sum(),
            "touchpoints": g["touchpoint"].agg(", ".join),
        }
    ).reset_index()
    order = {s: i for i, s in enumerate(STAGES)}
    return out.sort_values("stage", key=lambda s: s.map(order).fillna(99)).reset_index(drop=True)


__all__ = ["DEFAULT_STAGE_MAP", "stage_of", "stage_scores", "touchpoint_name", "touchpoint_scores"]
