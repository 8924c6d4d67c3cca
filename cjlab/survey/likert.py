"""Likert items: answer distributions by segment and scale reliability (Cronbach's alpha).

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"q1": [1, 2, 4, 5, 5], "q2": [2, 2, 4, 4, 5], "q3": [1, 3, 5, 4, 5]})
>>> a = cronbach_alpha(df, ["q1", "q2", "q3"])
>>> round(a.alpha, 3)
0.956
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .checks import SurveyInputError, check_scores, check_weights, require_columns


def likert_table(
    df: pd.DataFrame,
    items: Sequence[str],
    by: str | None = None,
    scale: tuple[int, int] = (1, 5),
    weights: str | None = None,
) -> pd.DataFrame:
    """Share of each answer level per item (and segment).

    Returns
    -------
    Long DataFrame: [by], item, level, share, n (answers in the item/segment).
    """
    items = list(items)
    require_columns(df, items + ([by] if by else []) + ([weights] if weights else []))
    levels = list(range(scale[0], scale[1] + 1))
    groups = [(None, df)] if by is None else df.groupby(by, observed=True, sort=True)
    rows = []
    for key, g in groups:
        for it in items:
            if g[it].notna().sum() == 0:  # nobody in this group answered the item
                rows.extend(
                    {
                        **({by: key} if by is not None else {}),
                        "item": it,
                        "level": lv,
                        "share": np.nan,
                        "n": 0,
                    }
                    for lv in levels
                )
                continue
            c = check_scores(
                g[it], scale=scale, name=it, weights=None if weights is None else g[weights]
            )
            w = np.ones(len(c.values)) if c.weights is None else c.weights
            for lv in levels:
                r = {
                    "item": it,
                    "level": lv,
                    "share": float(w[c.values == lv].sum() / w.sum()),
                    "n": len(c.values),
                }
                if by is not None:
                    r = {by: key, **r}
                rows.append(r)
    return pd.DataFrame(rows)


@dataclass
class AlphaResult:
    """Cronbach's alpha with a Feldt (1965) confidence interval."""

    alpha: float
    low: float
    high: float
    n: int
    k: int
    level: float


def cronbach_alpha(
    df: pd.DataFrame, items: Sequence[str], level: float = 0.95, weights=None
) -> AlphaResult:
    """Cronbach's alpha of a multi-item scale (complete cases) with Feldt's interval.

    ``alpha = k/(k−1) · (1 − Σ var(item) / var(sum))``. Feldt: ``(1 − α)/(1 − α̂)`` follows an
    F distribution with ``n−1`` and ``(n−1)(k−1)`` degrees of freedom, so the interval is
    ``1 − (1 − α̂)·F_{1−γ/2}`` to ``1 − (1 − α̂)·F_{γ/2}``. (The interval assumes unweighted,
    independent respondents; with weights only the point estimate is weighted.)
    """
    items = list(items)
    k = len(items)
    if k < 2:
        raise SurveyInputError("Cronbach's alpha needs at least 2 items.")
    require_columns(df, items)
    for it in items:
        check_scores(df[it], name=it, integer=False)
    mask = df[items].notna().all(axis=1).to_numpy()
    X = df.loc[mask, items].to_numpy(float)
    n = len(X)
    if n < 3:
        raise SurveyInputError(f"Cronbach's alpha: only {n} complete responses.")
    w = np.ones(n) if weights is None else check_weights(np.asarray(weights)[mask], n)

    def wvar(x):
        m = np.average(x, weights=w, axis=0)
        return np.average((x - m) ** 2, weights=w, axis=0) * n / (n - 1)

    item_var = wvar(X)
    total_var = float(wvar(X.sum(axis=1)))
    if total_var <= 0:
        raise SurveyInputError("Cronbach's alpha: the scale sum has no variance.")
    a = k / (k - 1) * (1 - item_var.sum() / total_var)
    g = 1 - level
    d1, d2 = n - 1, (n - 1) * (k - 1)
    low = 1 - (1 - a) * stats.f.ppf(1 - g / 2, d1, d2)
    high = 1 - (1 - a) * stats.f.ppf(g / 2, d1, d2)
    return AlphaResult(float(a), float(low), float(high), n, k, level)


__all__ = ["AlphaResult", "cronbach_alpha", "likert_table"]
