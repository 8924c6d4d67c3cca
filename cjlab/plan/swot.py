"""A strengths / weaknesses / opportunities / threats summary per stage, for the workshop.

Each cell is a few short sentences drawn from the figures of the plan:

* **strengths** — praise themes of the stage's touchpoints, step conversion of 90 % or more,
  touchpoint ratings above the average rating;
* **weaknesses** — the stage's pain points (with their priority), the step with the lowest
  conversion, ratings below the average;
* **opportunities** — the gap between the best and the weakest customer category at the step
  (the buyers a year closing half of it would bring), and the stage's actions that pay;
* **threats** — ratings that fell between the last two survey waves, pain points whose share of
  comments grew between them.

Examples
--------
>>> steps = pd.DataFrame({"stage": ["comparison"], "rate": [0.6], "reached": [1000]})
>>> swot(step_rates=steps).loc[0, ["stage", "weaknesses"]].tolist()
['comparison', 'lowest step conversion on the journey: 60.0 % move on to persuasion']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cjlab import formatting as fmt
from cjlab.data.contract import STAGES

__all__ = ["SWOT_COLUMNS", "category_gaps", "rating_trends", "swot"]

SWOT_COLUMNS = ["stage", "strengths", "weaknesses", "opportunities", "threats"]
WHOLE = "whole journey"


def _add(cells: dict, stage: str, part: str, text: str) -> None:
    cells.setdefault(stage, {}).setdefault(part, []).append(text)


def rating_trends(survey: pd.DataFrame | None, stage_of) -> pd.DataFrame:
    """Mean of each rating in the last two waves: rating, stage, before, last, change."""
    cols = ["rating", "stage", "before", "last", "change"]
    if survey is None or "wave" not in survey or survey["wave"].nunique() < 2:
        return pd.DataFrame(columns=cols)
    waves = sorted(survey["wave"].dropna().unique())[-2:]
    rows = []
    for c in [c for c in survey.columns if str(c).startswith("rating_")]:
        m = survey.groupby("wave")[c].mean()
        if all(w in m.index and np.isfinite(m[w]) for w in waves):
            rows.append(
                (
                    c[len("rating_") :],
                    stage_of(c),
                    m[waves[0]],
                    m[waves[1]],
                    m[waves[1]] - m[waves[0]],
                )
            )
    return pd.DataFrame(rows, columns=cols)


def category_gaps(transitions: pd.DataFrame, buy_after: Mapping[str, float]) -> pd.DataFrame:
    """Per pre-purchase step: the best and the weakest category's rate and the buyers a year
    closing half the gap would bring (``buy_after``: chance of buying after the next stage)."""
    rows = []
    t = transitions[transitions["reached"] >= 30]
    for stage, g in t.groupby("stage", sort=False):
        if len(g) < 2:
            continue
        best, worst = g.loc[g["rate"].idxmax()], g.loc[g["rate"].idxmin()]
        gain = (
            0.5 * (best["rate"] - worst["rate"]) * worst["reached"] * buy_after.get(stage, np.nan)
        )
        rows.append(
            {
                "stage": stage,
                "best": best["category"],
                "best_rate": best["rate"],
                "weakest": worst["category"],
                "weakest_rate": worst["rate"],
                "buyers": gain,
            }
        )
    return pd.DataFrame(
        rows, columns=["stage", "best", "best_rate", "weakest", "weakest_rate", "buyers"]
    )


def swot(
    *,
    pains: pd.DataFrame | None = None,
    strengths: pd.DataFrame | None = None,
    step_rates: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    trends: pd.DataFrame | None = None,
    currency: str = "",
) -> pd.DataFrame:
    """The summary table: one row per stage with something to say (lifecycle order), then the
    whole journey; each cell the ``; ``-joined sentences (``–`` when there is nothing).

    Parameters
    ----------
    pains, strengths : :attr:`PainPoints.table_` and :attr:`PainPoints.strengths_`.
    step_rates : stage, rate (to the next stage), reached (the pooled funnel).
    ratings : stage, touchpoint, rating (mean survey rating of the touchpoint).
    gaps : :func:`category_gaps`.
    actions : id, stage, action, net_value (the evaluated actions).
    trends : :func:`rating_trends` (ratings) — and pains' growth is read from ``pains`` when it
        has a ``change`` column.
    currency : currency of the money figures.
    """
    cells: dict[str, dict[str, list[str]]] = {}
    for r in pains.itertuples(index=False) if pains is not None else ():
        _add(
            cells,
            r.stage if r.stage in STAGES else WHOLE,
            "weaknesses",
            f"pain point {r.touchpoint} (priority {fmt.plain(r.priority, 0)}: {r.themes})",
        )
    for r in strengths.itertuples(index=False) if strengths is not None else ():
        if r.prevalence >= 0.05:
            _add(
                cells,
                r.stage if r.stage in STAGES else WHOLE,
                "strengths",
                f"praise: {r.themes} ({fmt.share(r.prevalence)} of comments)",
            )
    if step_rates is not None and len(step_rates):
        low = step_rates.loc[step_rates["rate"].idxmin()]
        nxt = STAGES[STAGES.index(low["stage"]) + 1] if low["stage"] != STAGES[-1] else "the end"
        _add(
            cells,
            low["stage"],
            "weaknesses",
            f"lowest step conversion on the journey: {fmt.share(low['rate'])} move on to {nxt}",
        )
        for r in step_rates[step_rates["rate"] >= 0.9].itertuples(index=False):
            _add(cells, r.stage, "strengths", f"{fmt.share(r.rate)} move on to the next stage")
    _ratings(cells, ratings)
    _opportunities(cells, gaps, actions, currency)
    for r in trends.itertuples(index=False) if trends is not None else ():
        if r.change <= -0.1:
            _add(
                cells,
                r.stage if r.stage in STAGES else WHOLE,
                "threats",
                f"{r.rating} rating fell from {fmt.number(r.before, 'score')} to {fmt.number(r.last, 'score')} in the last wave",
            )
    order = [s for s in (*STAGES, WHOLE) if s in cells]
    rows = [
        {"stage": s, **{p: "; ".join(cells[s].get(p, [])) or "–" for p in SWOT_COLUMNS[1:]}}
        for s in order
    ]
    return pd.DataFrame(rows, columns=SWOT_COLUMNS)


def _ratings(cells: dict, ratings: pd.DataFrame | None) -> None:
    """Touchpoints rated clearly above (strength) or below (weakness) the average rating."""
    if ratings is None or not len(ratings):
        return
    mean = ratings["rating"].mean()
    for r in ratings.itertuples(index=False):
        if abs(r.rating - mean) < 0.1:
            continue
        part = "strengths" if r.rating > mean else "weaknesses"
        avg = fmt.number(mean, "score")
        _add(
            cells,
            r.stage,
            part,
            f"{r.touchpoint} rated {fmt.number(r.rating, 'score')} (average {avg})",
        )


def _opportunities(cells, gaps, actions, currency) -> None:
    for r in gaps.itertuples(index=False) if gaps is not None else ():
        if r.best_rate - r.weakest_rate >= 0.03:
            gain = (
                f" (about {fmt.count(r.buyers)} more buyers a year)"
                if np.isfinite(r.buyers)
                else ""
            )
            _add(
                cells,
                r.stage,
                "opportunities",
                f"{r.weakest} customers move on {fmt.share(r.weakest_rate)} vs {fmt.share(r.best_rate)} "
                f"for {r.best}: closing half the gap{gain}",
            )
    if actions is None or "net_value" not in actions:
        return
    for r in actions.itertuples(index=False):
        if np.isfinite(r.net_value) and r.net_value > 0:
            _add(
                cells,
                r.stage,
                "opportunities",
                f"{r.action or r.id}: {fmt.money(r.net_value, currency)} net expected",
            )
