"""Survey waves: their order, the two to compare, and the change of a score between them.

A wave is a label (``2025-09``, ``2025-Q3``) or a date; waves sort as text, so ISO dates and
year-first labels come out in time order. :func:`compare_waves` gives the difference of a score
between two waves (independent samples) with its interval and a plain verdict whether it is
larger than sampling noise.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"wave": ["2025-06", "2024-12", "2025-03"]})
>>> wave_order(df), resolve_waves(df)
(['2024-12', '2025-03', '2025-06'], ('2025-03', '2025-06'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cjlab import formatting as fmt

from .checks import SurveyInputError, require_columns
from .scores import METRICS, ScoreEstimate, estimate


def wave_order(survey: pd.DataFrame, wave_col: str = "wave") -> list:
    """Waves present, in order (dates/labels sorted as text, e.g. ``2025-03`` < ``2025-06``)."""
    require_columns(survey, [wave_col])
    waves = survey[wave_col].dropna().unique().tolist()
    if not waves:
        raise SurveyInputError(f"survey_responses.{wave_col}: no waves (table empty?).")
    return sorted(waves, key=lambda w: (str(type(w)), str(w)))


def resolve_waves(
    survey: pd.DataFrame, waves: Sequence | None = None, wave_col: str = "wave"
) -> tuple:
    """The two waves to compare: ``waves`` (two labels, earlier first) or the last two.

    Parameters
    ----------
    survey : survey rows with a ``wave_col`` column.
    waves : two wave labels (or dates as ``YYYY-MM-DD``); empty or None = the last two waves.
    wave_col : the wave column.

    Returns
    -------
    (earlier wave, later wave), as they appear in the data.

    Raises
    ------
    SurveyInputError
        fewer than two waves, or a requested wave with no responses.

    Examples
    --------
    >>> resolve_waves(pd.DataFrame({"wave": ["a", "b", "c"]}), ["a", "c"])
    ('a', 'c')
    """
    order = wave_order(survey, wave_col)
    if waves:
        if len(waves) != 2:
            raise SurveyInputError(f"waves_to_compare needs exactly two waves, got {list(waves)}.")
        present = {str(w): w for w in order}
        present.update({w.strftime("%Y-%m-%d"): w for w in order if isinstance(w, pd.Timestamp)})
        missing = [w for w in waves if str(w) not in present]
        if missing:
            raise SurveyInputError(
                f"survey_responses.{wave_col}: wave(s) {missing} have no "
                f"responses (waves present: {order})."
            )
        return present[str(waves[0])], present[str(waves[1])]
    if len(order) < 2:
        raise SurveyInputError(
            f"survey_responses.{wave_col}: only one wave ({order}); nothing to compare."
        )
    return order[-2], order[-1]


@dataclass(frozen=True)
class WaveComparison:
    """Change of a score between two waves (``b`` minus ``a``) at interval mass ``level``."""

    metric: str
    wave_a: Any
    wave_b: Any
    a: ScoreEstimate
    b: ScoreEstimate
    diff: float
    se: float
    low: float
    high: float
    p_value: float
    level: float
    distinguishable: bool
    verdict: str

    @property
    def unit(self) -> str | None:
        """Unit of the change: percentage points for shares, else the score's own unit."""
        unit = METRICS[self.metric][3]
        return "pp" if unit == "share" else unit

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (one table row)."""
        return {
            "metric": self.metric,
            "wave_a": self.wave_a,
            "wave_b": self.wave_b,
            "value_a": self.a.value,
            "value_b": self.b.value,
            "n_a": self.a.n,
            "n_b": self.b.n,
            "diff": self.diff,
            "se": self.se,
            "low": self.low,
            "high": self.high,
            "p_value": self.p_value,
            "distinguishable": self.distinguishable,
            "verdict": self.verdict,
        }


def _span(diff: float, low: float, high: float, unit: str | None, level: float) -> str:
    """``'+2.0 pp (95 % interval -1.0 to +5.0)'``: a signed change with its interval."""
    lo, hi = fmt.number(low, unit), fmt.number(high, unit)
    for word in (" points", " pp"):
        lo, hi = lo.removesuffix(word), hi.removesuffix(word)
    return f"{fmt.change(diff, unit)} ({fmt.share(level, 0)} interval {lo} to {hi})"


def _verdict(
    metric: str,
    wave_a,
    wave_b,
    a: ScoreEstimate,
    b: ScoreEstimate,
    diff: float,
    low: float,
    high: float,
    level: float,
    distinguishable: bool,
) -> str:
    """One plain sentence on the change of ``metric`` from ``wave_a`` to ``wave_b``."""
    label, unit = METRICS[metric][4], METRICS[metric][3]
    moved = ("rose" if diff > 0 else "fell") if distinguishable else "moved"
    tail = (
        "larger than sampling noise"
        if distinguishable
        else "not distinguishable from sampling noise"
    )
    span = _span(diff, low, high, "pp" if unit == "share" else unit, level)
    return (
        f"{label} {moved} from {fmt.number(a.value, unit)} in {wave_a} to "
        f"{fmt.number(b.value, unit)} in {wave_b}: a change of {span}, {tail}."
    )


def compare_waves(
    df: pd.DataFrame,
    wave_a,
    wave_b,
    metric: str = "nps",
    wave_col: str = "wave",
    weights: str | None = None,
    level: float = 0.95,
    min_n: int = 0,
    **kwargs,
) -> WaveComparison:
    """Difference of a score between two waves (independent samples) with interval and a
    plain verdict whether it is distinguishable from sampling noise.

    The difference ``b − a`` has ``se = sqrt(se_a² + se_b²)`` and a normal interval; the
    change is called distinguishable when that interval excludes 0. When a wave has fewer
    than ``min_n`` respondents the difference is not computed (NaN) and the verdict says so.

    Parameters
    ----------
    df : survey rows with ``wave_col`` and the metric's column.
    wave_a, wave_b : the earlier and the later wave.
    metric : a name from :data:`cjlab.survey.METRICS`.
    weights : name of a weight column, or None.
    level : interval mass.
    min_n : minimum respondents per wave.

    Returns
    -------
    WaveComparison

    Examples
    --------
    >>> d = pd.DataFrame({"wave": ["a"] * 4 + ["b"] * 4, "nps": [10, 9, 3, 7, 10, 10, 9, 8]})
    >>> round(compare_waves(d, "a", "b").diff, 1)
    50.0
    """
    a, b = (
        _wave_estimate(df, wv, wave_col, metric, weights, level, **kwargs)
        for wv in (wave_a, wave_b)
    )
    small = [(wv, e.n) for wv, e in ((wave_a, a), (wave_b, b)) if e.n < min_n]
    if small:
        txt = ", ".join(f"{wv} (n={n})" for wv, n in small)
        nan = float("nan")
        verdict = (
            f"{METRICS[metric][4]}: too few respondents in {txt} (minimum {min_n}) to compare "
            "the waves."
        )
        return WaveComparison(metric, wave_a, wave_b, a, b, nan, nan, nan, nan, nan, level, False,
                              verdict)  # fmt: skip
    z = float(stats.norm.ppf(0.5 + level / 2))
    diff = float(b.value - a.value)
    se = float(np.hypot(a.se, b.se))
    low, high = diff - z * se, diff + z * se
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    dist = bool(low > 0 or high < 0)
    verdict = _verdict(metric, wave_a, wave_b, a, b, diff, low, high, level, dist)
    return WaveComparison(metric, wave_a, wave_b, a, b, diff, se, float(low), float(high), p, level,
                          dist, verdict)  # fmt: skip


def _wave_estimate(
    df: pd.DataFrame, wave, wave_col: str, metric: str, weights: str | None, level: float, **kwargs
) -> ScoreEstimate:
    """``metric`` estimated on the answers of one wave (an error names the waves present)."""
    require_columns(df, [wave_col])
    g = df[df[wave_col] == wave]
    if len(g) == 0:
        waves = sorted(df[wave_col].dropna().unique().tolist(), key=str)
        raise SurveyInputError(
            f"survey_responses.{wave_col}: wave {wave!r} has no responses (waves present: {waves})."
        )
    return estimate(g, metric, weights=weights, level=level, **kwargs)


__all__ = ["WaveComparison", "compare_waves", "resolve_waves", "wave_order"]
