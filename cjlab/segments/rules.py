"""Named RFM segments: rule tables over the R x F x M score grid, checked for gaps and overlaps.

A rule gives inclusive score ranges for ``r``, ``f`` and ``m`` (``"4-5"``, a single score, or
missing for "any score"). A rule table must cover every score combination exactly once
(:func:`check_rules`), so that every customer gets exactly one named segment
(:func:`assign_segments`).

Examples
--------
>>> import pandas as pd
>>> scores = pd.DataFrame({"r_score": [5, 1], "f_score": [5, 1], "m_score": [3, 3]})
>>> assign_segments(scores).tolist()
['Champions', 'Lost']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_RFM_RULES", "RuleTableError", "assign_segments", "check_rules", "rules_table"]


class RuleTableError(ValueError):
    """A segment rule table that leaves score combinations uncovered or covers some twice."""


#: Default named segments on the R x F grid (scores 1..5, M unrestricted). Each rule gives
#: inclusive score ranges ``"lo-hi"`` (or a single score); a missing key means "any score".
#: Every (r, f, m) combination falls in exactly one rule (checked by :func:`check_rules`).
#:
#: R \\ F   1               2                    3                    4                5
#: 5       New customers   Potential loyalists  Potential loyalists  Champions        Champions
#: 4       Promising       Potential loyalists  Potential loyalists  Loyal            Loyal
#: 3       About to sleep  About to sleep       Need attention       Loyal            Loyal
#: 2       Hibernating     Hibernating          At risk              At risk          Can't lose them
#: 1       Lost            Lost                 At risk              At risk          Can't lose them
DEFAULT_RFM_RULES: list[dict[str, Any]] = [
    {"segment": "Champions", "r": "5", "f": "4-5"},
    {"segment": "Loyal", "r": "3-4", "f": "4-5"},
    {"segment": "Potential loyalists", "r": "4-5", "f": "2-3"},
    {"segment": "New customers", "r": "5", "f": "1"},
    {"segment": "Promising", "r": "4", "f": "1"},
    {"segment": "Need attention", "r": "3", "f": "3"},
    {"segment": "About to sleep", "r": "3", "f": "1-2"},
    {"segment": "At risk", "r": "1-2", "f": "3-4"},
    {"segment": "Can't lose them", "r": "1-2", "f": "5"},
    {"segment": "Hibernating", "r": "2", "f": "1-2"},
    {"segment": "Lost", "r": "1", "f": "1-2"},
]


def _parse_range(value: Any, n_bins: int, rule: str, key: str) -> tuple[int, int]:
    if value is None or (isinstance(value, str) and value.strip() in ("", "*", "any")):
        return 1, n_bins
    if isinstance(value, bool):
        raise RuleTableError(f"rule {rule!r}: {key} = {value!r} is not a score range")
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        lo, hi = value
    else:
        parts = str(value).replace("–", "-").split("-")
        if len(parts) == 1:
            lo = hi = parts[0]
        elif len(parts) == 2:
            lo, hi = parts
        else:
            raise RuleTableError(
                f"rule {rule!r}: cannot read {key} = {value!r}; use e.g. '4-5' or 3"
            )
    try:
        lo_i, hi_i = int(str(lo).strip()), int(str(hi).strip())
    except ValueError as err:
        raise RuleTableError(
            f"rule {rule!r}: cannot read {key} = {value!r}; use e.g. '4-5' or 3"
        ) from err
    if not 1 <= lo_i <= hi_i <= n_bins:
        raise RuleTableError(f"rule {rule!r}: {key} = {value!r} is outside 1..{n_bins} or reversed")
    return lo_i, hi_i


def rules_table(
    rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None, n_bins: int = 5
) -> pd.DataFrame:
    """The rule table as a readable DataFrame with inclusive ``*_min``/``*_max`` score bounds.

    Parameters
    ----------
    rules : list of mappings with keys ``segment`` and optional ``r``, ``f``, ``m``
        (``"lo-hi"``, an int, ``[lo, hi]`` or missing for "any"), or a DataFrame with those
        columns or with ``r_min ... m_max`` columns. ``None`` uses :data:`DEFAULT_RFM_RULES`.
    n_bins : scores run 1..n_bins.

    Returns
    -------
    DataFrame with columns segment, r_min, r_max, f_min, f_max, m_min, m_max (rule order kept).
    """
    if rules is None:
        rules = DEFAULT_RFM_RULES
    if isinstance(rules, pd.DataFrame):
        if {"r_min", "r_max"}.issubset(rules.columns):
            out = rules.copy()
            for k in "rfm":
                out[f"{k}_min"] = out.get(f"{k}_min", 1)
                out[f"{k}_max"] = out.get(f"{k}_max", n_bins)
            return out[
                ["segment", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"]
            ].reset_index(drop=True)
        rules = rules.to_dict("records")
    rows = []
    for i, rule in enumerate(rules):
        if "segment" not in rule or not str(rule["segment"]).strip():
            raise RuleTableError(f"rule #{i + 1} has no segment name: {dict(rule)!r}")
        name = str(rule["segment"])
        unknown = set(rule) - {"segment", "r", "f", "m", "description"}
        if unknown:
            raise RuleTableError(f"rule {name!r}: unknown keys {sorted(unknown)} (use r, f, m)")
        row: dict[str, Any] = {"segment": name}
        for k in "rfm":
            v = rule.get(k)
            if isinstance(v, float) and np.isnan(v):
                v = None
            row[f"{k}_min"], row[f"{k}_max"] = _parse_range(v, n_bins, name, k)
        rows.append(row)
    if not rows:
        raise RuleTableError("the rule table is empty")
    return pd.DataFrame(rows)


def _grid(n_bins: int) -> pd.DataFrame:
    s = np.arange(1, n_bins + 1)
    r, f, m = np.meshgrid(s, s, s, indexing="ij")
    return pd.DataFrame({"r_score": r.ravel(), "f_score": f.ravel(), "m_score": m.ravel()})


def _match_matrix(scores: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    r = scores["r_score"].to_numpy()[:, None]
    f = scores["f_score"].to_numpy()[:, None]
    m = scores["m_score"].to_numpy()[:, None]
    t = {c: table[c].to_numpy()[None, :] for c in table.columns if c != "segment"}
    return (
        (r >= t["r_min"])
        & (r <= t["r_max"])
        & (f >= t["f_min"])
        & (f <= t["f_max"])
        & (m >= t["m_min"])
        & (m <= t["m_max"])
    )


def check_rules(
    rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
    n_bins: int = 5,
    allow_gaps: bool = False,
) -> pd.DataFrame:
    """Check that every (r, f, m) score combination is covered by exactly one rule.

    Parameters
    ----------
    rules : see :func:`rules_table`.
    n_bins : scores run 1..n_bins.
    allow_gaps : accept uncovered combinations (they go to a fill segment such as "Other").

    Returns
    -------
    The normalised rule table with a ``cells`` column (how many score combinations it covers).

    Raises
    ------
    RuleTableError naming the overlapping rules and the uncovered combinations (a few examples).
    """
    table = rules_table(rules, n_bins)
    grid = _grid(n_bins)
    hits = _match_matrix(grid, table)
    n_hits = hits.sum(axis=1)
    problems = []
    over = np.flatnonzero(n_hits > 1)
    if over.size:
        ex = []
        for i in over[:5]:
            segs = table["segment"].to_numpy()[hits[i]]
            g = grid.iloc[i]
            ex.append(f"r={g.r_score} f={g.f_score} m={g.m_score} -> {', '.join(segs)}")
        problems.append(
            f"{over.size} score combinations match more than one rule, e.g. " + "; ".join(ex)
        )
    gaps = np.flatnonzero(n_hits == 0)
    if gaps.size and not allow_gaps:
        ex = [
            f"r={g.r_score} f={g.f_score} m={g.m_score}" for g in grid.iloc[gaps[:5]].itertuples()
        ]
        problems.append(f"{gaps.size} score combinations match no rule, e.g. " + "; ".join(ex))
    if problems:
        raise RuleTableError("segment rule table: " + " | ".join(problems))
    out = table.copy()
    out["cells"] = hits.sum(axis=0)
    return out


def assign_segments(
    scores: pd.DataFrame,
    rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
    n_bins: int = 5,
    fill: str | None = None,
) -> pd.Series:
    """Name each row's segment from its ``r_score``, ``f_score`` and ``m_score``.

    The rule table must cover every score combination exactly once (checked first), unless a
    ``fill`` segment name is given, in which case uncovered rows get ``fill`` (overlaps are
    still an error).
    """
    table = check_rules(rules, n_bins, allow_gaps=fill is not None)
    # the rules are evaluated once per score combination, customers look their cell up
    grid = _grid(n_bins)
    hits = _match_matrix(grid, table.drop(columns="cells"))
    cell_names = np.where(
        hits.any(axis=1), table["segment"].to_numpy(dtype=object)[hits.argmax(axis=1)], fill
    )
    r, f, m = (scores[c].to_numpy(dtype=np.int64) for c in ("r_score", "f_score", "m_score"))
    bad = (r < 1) | (r > n_bins) | (f < 1) | (f > n_bins) | (m < 1) | (m > n_bins)
    if bad.any():
        raise RuleTableError(f"{int(bad.sum())} rows have scores outside 1..{n_bins}")
    idx = ((r - 1) * n_bins + (f - 1)) * n_bins + (m - 1)
    return pd.Series(cell_names[idx], index=scores.index, name="segment")
