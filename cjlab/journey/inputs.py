"""Input checks of the journey analyses: paths tables, lifecycle stages and the action table.

All pure: a paths table (``path``, ``conversions``, ``null``), the touchpoints or the parsed
action entries come in; cleaned tables and counted handling go out. Reading the action table
from its YAML file is the job of :func:`cjlab.journey.analysis.read_actions`.

Examples
--------
>>> import pandas as pd
>>> p, handling = clean_paths(pd.DataFrame({"path": ["a > b", "a >  > b"], "conversions": [1, 1],
...                                         "null": [0, 2]}), on_empty="drop")
>>> p[["path", "conversions", "null"]].values.tolist(), handling.counts
([['a > b', 2.0, 2.0]], {'empty steps dropped': 1})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features.funnels import known_stages, unknown_stages

__all__ = [
    "SEP",
    "JourneyInputError",
    "PathHandling",
    "action_table",
    "check_stages",
    "clean_paths",
]

SEP = " > "
ACTION_COLUMNS = ["stage", "touchpoint", "action", "owner", "due"]


class JourneyInputError(ValueError):
    """Journey data that cannot be analysed as given (empty path steps, unknown stages ...)."""


@dataclass
class PathHandling:
    """Counted handling of problem paths (shown in reports)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, issue: str, n: int) -> None:
        """Count ``n`` cases of ``issue`` (nothing when ``n`` is 0)."""
        if n:
            self.counts[issue] = self.counts.get(issue, 0) + int(n)


def _split(text: pd.Series, sep: str) -> list[tuple[str, ...]]:
    return [tuple(s.strip() for s in p.split(sep.strip())) if p.strip() else () for p in text]


def clean_paths(
    paths: pd.DataFrame, on_empty: str = "raise", collapse_repeats: bool = False, sep: str = SEP
) -> tuple[pd.DataFrame, PathHandling]:
    """Validate and normalise a paths table; split each path into its steps.

    Parameters
    ----------
    paths : DataFrame with ``path``, ``conversions``, ``null``.
    on_empty : what to do with empty steps (``"a >  > b"``) or empty paths:
        ``"raise"`` (default) raises :class:`JourneyInputError` naming the rows;
        ``"drop"`` removes the empty steps (and paths left empty) and counts them.
    collapse_repeats : merge consecutive repeats (``a > a > b`` -> ``a > b``).
    sep : the separator of steps.

    Returns
    -------
    (DataFrame with path, steps (tuple), conversions, null, journeys — duplicate paths summed;
    :class:`PathHandling`)
    """
    missing = [c for c in ("path", "conversions", "null") if c not in paths.columns]
    if missing:
        raise JourneyInputError(
            f"paths: missing column(s) {missing}; expected path, conversions, null"
        )
    if on_empty not in ("raise", "drop"):
        raise ValueError(f"on_empty must be 'raise' or 'drop', got {on_empty!r}")
    handling = PathHandling()
    conv = pd.to_numeric(paths["conversions"], errors="coerce")
    null = pd.to_numeric(paths["null"], errors="coerce")
    bad = conv.isna() | null.isna() | (conv < 0) | (null < 0)
    if bad.any():
        ex = paths.loc[bad].head(5).to_dict("records")
        raise JourneyInputError(
            f"paths: {int(bad.sum())} rows with missing or negative conversions/null "
            f"counts, e.g. {ex}"
        )
    text = paths["path"].astype("string").fillna("")
    steps = _split(text, sep)
    n_empty_steps = sum(sum(1 for s in st if not s) for st in steps)
    n_empty_paths = sum(1 for st in steps if not any(st))
    if (n_empty_steps or n_empty_paths) and on_empty == "raise":
        rows = [i for i, st in enumerate(steps) if not st or not all(st)][:5]
        raise JourneyInputError(
            f"paths: {n_empty_steps} empty steps and {n_empty_paths} empty paths, e.g. rows {rows}: "
            f"{[str(text.iloc[i]) for i in rows]!r}. Fix the data or pass on_empty='drop' to drop "
            "and count them."
        )
    steps = [tuple(s for s in st if s) for st in steps]
    handling.add("empty steps dropped", n_empty_steps)
    if collapse_repeats:
        steps = [tuple(s for i, s in enumerate(st) if i == 0 or s != st[i - 1]) for st in steps]
    out = pd.DataFrame(
        {"steps": steps, "conversions": conv.to_numpy(float), "null": null.to_numpy(float)}
    )
    keep = out["steps"].map(len) > 0
    handling.add(
        "empty paths dropped (journeys)",
        int((out.loc[~keep, "conversions"] + out.loc[~keep, "null"]).sum()),
    )
    out = out[keep].groupby("steps", sort=False, as_index=False)[["conversions", "null"]].sum()
    out.insert(0, "path", out["steps"].map(SEP.join))
    out["journeys"] = out["conversions"] + out["null"]
    out = out[out["journeys"] > 0].reset_index(drop=True)
    if out.empty:
        raise JourneyInputError("paths: no journeys left to analyse")
    return out, handling


def check_stages(
    touchpoints: Any, stage_col: str = "stage", on_unknown: str = "raise"
) -> tuple[Any, dict[str, int]]:
    """Rows whose stage is not one of the lifecycle stages: raise, or drop and count.

    Works on any frame :mod:`cjlab.features` takes (pandas, DuckDB, Spark); the rows are
    counted where the data live.

    Returns
    -------
    (touchpoints without unknown-stage rows, {"unknown stage": n_rows} when any were dropped)
    """
    from cjlab.features import has

    if not has(touchpoints, stage_col):
        raise JourneyInputError(f"touchpoints: column {stage_col!r} is missing")
    if on_unknown not in ("raise", "drop"):
        raise ValueError(f"on_unknown must be 'raise' or 'drop', got {on_unknown!r}")
    bad = unknown_stages(touchpoints, stage_col)
    n_bad = int(bad["rows"].sum()) if len(bad) else 0
    if not n_bad:
        return touchpoints, {}
    values = {str(v): int(n) for v, n in zip(bad[stage_col], bad["rows"])}
    if on_unknown == "raise":
        examples = dict(list(values.items())[:5])
        raise JourneyInputError(
            f"touchpoints.{stage_col}: {n_bad} rows with an unknown stage, e.g. {examples}; "
            f"known stages: {', '.join(STAGES)}. "
            "Map them to a lifecycle stage, or pass on_unknown='drop' to drop and count them."
        )
    return known_stages(touchpoints, stage_col), {"unknown stage": n_bad}


def action_table(
    spec: Mapping[str, Any] | Sequence[Mapping[str, Any]] | pd.DataFrame | None,
) -> pd.DataFrame:
    """The analysts' action and owner table as a DataFrame (stage, touchpoint, action, owner, due).

    Parameters
    ----------
    spec : the parsed action file (a mapping with an ``actions`` list, or the list itself), a
        DataFrame with those columns, or None (no actions). Each entry has ``stage`` and
        optionally ``touchpoint`` (empty = the whole stage), ``action``, ``owner``, ``due``.

    Raises
    ------
    JourneyInputError : an entry names an unknown stage.

    Examples
    --------
    >>> action_table({"actions": [{"stage": "support", "action": "Call back", "due": "2026-Q2"}]}
    ...              ).loc[0, ["stage", "touchpoint", "due"]].tolist()
    ['support', None, '2026-Q2']
    """
    if spec is None:
        return pd.DataFrame(columns=ACTION_COLUMNS)
    if isinstance(spec, pd.DataFrame):
        df = spec.copy()
    else:
        items = spec.get("actions", []) if isinstance(spec, Mapping) else list(spec)
        df = pd.DataFrame(list(items or []))
    for c in ACTION_COLUMNS:
        if c not in df.columns:
            df[c] = None
    bad = df[~df["stage"].isin(STAGES)]
    if len(bad):
        raise JourneyInputError(
            f"journey actions: {len(bad)} entries with an unknown stage "
            f"{bad['stage'].tolist()[:5]}; use one of {', '.join(STAGES)}"
        )
    df = df.astype({c: object for c in ACTION_COLUMNS})
    for c in ACTION_COLUMNS[1:]:
        df[c] = [
            None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in df[c]
        ]
    return df[ACTION_COLUMNS].reset_index(drop=True)
