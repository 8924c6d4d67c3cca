"""What every survey statistic checks first: the survey errors, score scales, valid inputs.

The survey's own exceptions (:class:`SurveyInputError` and its kinds) name the column, the rule
broken and how many rows; :func:`check_scores` and :func:`check_weights` validate one column of
answers or weights before any estimate is computed.

Examples
--------
>>> check_scores([9, None, 3], scale=SCALES["nps"], name="nps").n_missing
1
>>> scale_for("rating_delivery")
(1, 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Scale of each standard score column (inclusive bounds).
SCALES: dict[str, tuple[int, int]] = {
    "nps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "rating": (1, 5),
}

#: Default minimum number of respondents before a cell is shown as a number.
MIN_N_DEFAULT = 30


class SurveyInputError(ValueError):
    """Survey data that cannot be analysed as given (names column, rule and count)."""


class ScoreRangeError(SurveyInputError):
    """Scores outside their scale."""


class WeightError(SurveyInputError):
    """Survey weights that are missing, non-finite or not positive."""


class MarginError(SurveyInputError):
    """Population margins that do not fit the sample (missing categories, bad shares)."""


@dataclass(frozen=True)
class CleanScores:
    """Checked scores with their (aligned) weights."""

    values: np.ndarray
    weights: np.ndarray | None
    n_missing: int
    n_dropped: int


def _examples(values: Sequence, k: int = 5) -> str:
    vals = list(values)[:k]
    return ", ".join(repr(v) for v in vals)


def scale_for(name: str | None) -> tuple[int, int] | None:
    """The (low, high) scale of a score column by its name (``rating_*`` included)."""
    if name is None:
        return None
    if name in SCALES:
        return SCALES[name]
    if name.startswith("rating_"):
        return SCALES["rating"]
    return None


def check_weights(weights, n: int, name: str = "weights") -> np.ndarray:
    """Return ``weights`` as a float array of length ``n``; raise :class:`WeightError` if any
    weight is missing, infinite, zero or negative."""
    w = pd.to_numeric(pd.Series(np.asarray(weights).ravel()), errors="coerce").to_numpy(float)
    if w.shape[0] != n:
        raise WeightError(
            f"{name}: {w.shape[0]} weights for {n} responses; they must align one to one."
        )
    bad_nan = np.flatnonzero(~np.isfinite(w))
    if bad_nan.size:
        raise WeightError(
            f"{name}: {bad_nan.size} weight(s) are missing or not finite "
            f"(rows {_examples(bad_nan)}); every response needs a positive weight."
        )
    bad = np.flatnonzero(w <= 0)
    if bad.size:
        raise WeightError(
            f"{name}: {bad.size} weight(s) are <= 0 (rows {_examples(bad)}, values "
            f"{_examples(w[bad])}); weights must be positive."
        )
    return w


def check_scores(
    scores,
    *,
    scale: tuple[int, int] | None = None,
    name: str = "score",
    weights=None,
    out_of_range: str = "raise",
    integer: bool = True,
) -> CleanScores:
    """Validate one column of scores and drop item non-response.

    Parameters
    ----------
    scores : array-like of numbers; missing values (NaN/None) are item non-response and
        are left out (counted in ``n_missing``).
    scale : inclusive (low, high) bounds, e.g. ``(0, 10)`` for NPS.
    name : column name used in messages.
    weights : optional weights aligned with ``scores`` (checked with :func:`check_weights`).
    out_of_range : ``"raise"`` (default) or ``"drop"`` (drop them and count them).
    integer : scores must be whole numbers.

    Returns
    -------
    CleanScores
    """
    if out_of_range not in ("raise", "drop"):
        raise ValueError("out_of_range must be 'raise' or 'drop'")
    s = pd.Series(
        np.asarray(scores, dtype=object).ravel()
        if not isinstance(scores, pd.Series)
        else scores.to_numpy(dtype=object)
    )
    n = len(s)
    if n == 0:
        raise SurveyInputError(f"{name}: no responses (empty column or empty wave).")
    w = None if weights is None else check_weights(weights, n)
    missing = s.isna().to_numpy()
    num = pd.to_numeric(s, errors="coerce")
    non_numeric = np.flatnonzero(num.isna().to_numpy() & ~missing)
    if non_numeric.size:
        raise SurveyInputError(
            f"{name}: {non_numeric.size} non-numeric value(s), e.g. "
            f"{_examples(s.iloc[non_numeric])} (rows {_examples(non_numeric)})."
        )
    x = num.to_numpy(float)
    if missing.all():
        raise SurveyInputError(f"{name}: all {n} values are missing; nothing to estimate.")
    keep = ~missing
    n_dropped = 0
    if integer:
        frac = np.flatnonzero(keep & (x != np.round(x)))
        if frac.size:
            raise SurveyInputError(
                f"{name}: {frac.size} value(s) are not whole numbers, e.g. "
                f"{_examples(x[frac])} (rows {_examples(frac)})."
            )
    if scale is not None:
        lo, hi = scale
        out = keep & ((x < lo) | (x > hi))
        idx = np.flatnonzero(out)
        if idx.size:
            if out_of_range == "raise":
                raise ScoreRangeError(
                    f"{name}: {idx.size} value(s) outside the scale {lo}–{hi}, e.g. "
                    f"{_examples(x[idx])} (rows {_examples(idx)}). Fix the data or pass "
                    "out_of_range='drop' to leave them out (they are then counted)."
                )
            keep &= ~out
            n_dropped = int(idx.size)
            if not keep.any():
                raise ScoreRangeError(f"{name}: every value is outside the scale {lo}–{hi}.")
    return CleanScores(
        values=x[keep],
        weights=None if w is None else w[keep],
        n_missing=int(missing.sum()),
        n_dropped=n_dropped,
    )


def require_columns(
    df: pd.DataFrame, columns: Sequence[str], table: str = "survey_responses"
) -> None:
    """Raise :class:`SurveyInputError` naming every column of ``columns`` missing from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SurveyInputError(
            f"{table}: missing column(s) {missing}; present: {list(df.columns)}."
        )


def rating_columns(df: pd.DataFrame) -> list[str]:
    """The ``rating_<touchpoint>`` columns of a survey table, in table order."""
    return [c for c in df.columns if c.startswith("rating_") and len(c) > len("rating_")]
