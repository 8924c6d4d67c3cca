"""Re-weighting survey respondents to known population margins ("Neugewichtung").

Raking (iterative proportional fitting, :func:`rake`) matches each margin in turn until all
weighted shares equal their targets; post-stratification (:func:`poststratify`) matches a
joint table of cells exactly. Both can trim extreme weights (and re-rake), report
convergence, the Kish design effect and effective sample size, and validate the margins after
weighting. :class:`cjlab.survey.customer_base.CustomerBaseWeights` applies them to the
customer base.

Examples
--------
>>> import pandas as pd
>>> from cjlab.survey import rake
>>> df = pd.DataFrame({"type": ["new", "new", "existing", "existing", "existing", "leaving"],
...                    "channel": ["web", "shop", "web", "web", "shop", "shop"]})
>>> res = rake(df, {"type": {"new": .5, "existing": .3, "leaving": .2},
...                 "channel": {"web": .6, "shop": .4}})
>>> res.converged, res.max_error < 1e-10
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjlab import formatting as fmt

from .checks import MarginError, SurveyInputError, check_weights, require_columns
from .scores import design_effect, kish_n_effective

MarginSpec = Mapping[str, Mapping[Any, float] | pd.Series]


@dataclass
class WeightingResult:
    """Weights and the report that goes with them.

    Attributes
    ----------
    weights : one weight per respondent (index of the input), scaled to sum to ``n`` unless
        a total was requested.
    method : ``"raking"`` or ``"poststratification"``.
    converged : margins met within ``tol`` (and weights within the trimming bounds).
    iterations : raking cycles used.
    max_error : largest absolute difference between a weighted share and its target.
    history : ``max_error`` after each cycle.
    n, n_effective, design_effect : sample size, Kish effective n, Kish design effect.
    n_trimmed : weights at a trimming bound in the final result.
    margins : validation table (variable, category, target, unweighted, weighted, error).
    """

    weights: pd.Series
    method: str
    converged: bool
    iterations: int
    max_error: float
    history: list[float]
    n: int
    n_effective: float
    design_effect: float
    n_trimmed: int
    trim: tuple[float, float] | None
    margins: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Plain dict for reports: method, convergence, n, n_effective, deff, weight range."""
        w = self.weights
        return {
            "method": self.method,
            "converged": self.converged,
            "iterations": self.iterations,
            "max_margin_error": self.max_error,
            "n": self.n,
            "n_effective": self.n_effective,
            "design_effect": self.design_effect,
            "weight_min": float(w.min()),
            "weight_max": float(w.max()),
            "weight_ratio_max_min": float(w.max() / w.min()),
            "n_trimmed": self.n_trimmed,
        }


def _norm_shares(var: str, spec: Mapping[Any, float] | pd.Series) -> pd.Series:
    s = pd.Series(spec, dtype=float) if not isinstance(spec, pd.Series) else spec.astype(float)
    if s.isna().any() or (s < 0).any():
        raise MarginError(
            f"margin {var!r}: target shares must be non-negative numbers, got {s.to_dict()}."
        )
    if s.sum() <= 0:
        raise MarginError(f"margin {var!r}: target shares sum to 0.")
    zero = s.index[s == 0].tolist()
    s = s[s > 0]
    if zero:
        s.attrs["zero"] = zero
    return s / s.sum()


def _codes(df: pd.DataFrame, var: str, targets: pd.Series, what: str) -> np.ndarray:
    x = df[var]
    na = x.isna().to_numpy()
    if na.any():
        raise MarginError(
            f"survey_responses.{var}: {int(na.sum())} respondent(s) have no value "
            f"(rows {list(np.flatnonzero(na)[:5])}); they cannot be {what}. Drop "
            "them or give them a category (e.g. 'unknown') present in the margins."
        )
    present = pd.Index(pd.unique(x))
    zero = targets.attrs.get("zero", [])
    in_zero = [c for c in present if c in zero]
    if in_zero:
        raise MarginError(
            f"margin {var!r}: categories {in_zero} have a target share of 0 but "
            "respondents in the sample; a weight cannot be 0."
        )
    extra = [c for c in present if c not in targets.index]
    if extra:
        counts = x[x.isin(extra)].value_counts().to_dict()
        raise MarginError(
            f"survey_responses.{var}: sample categories {extra} (respondents: "
            f"{counts}) are not in the population margin ({list(targets.index)})."
        )
    missing = [c for c in targets.index if c not in present]
    if missing:
        raise MarginError(
            f"margin {var!r}: categories {missing} (target shares "
            f"{[round(float(targets[c]), 4) for c in missing]}) have no respondent in the sample; "
            "no weight can represent them. Collapse them with a neighbouring category or "
            "remove them from the margin."
        )
    return pd.Categorical(x, categories=targets.index).codes.astype(np.int64)


def _base(df: pd.DataFrame, base_weights) -> np.ndarray:
    if base_weights is None:
        return np.ones(len(df))
    if isinstance(base_weights, str):
        require_columns(df, [base_weights])
        base_weights = df[base_weights].to_numpy()
    return check_weights(base_weights, len(df), "base_weights")


def margin_check(df: pd.DataFrame, weights, margins: MarginSpec) -> pd.DataFrame:
    """Compare weighted shares with target shares, one row per margin category.

    Returns
    -------
    DataFrame: variable, category, target, unweighted, weighted, error (weighted − target), n.
    """
    w = np.asarray(weights, float)
    rows = []
    for var, spec in margins.items():
        t = _norm_shares(var, spec)
        x = df[var].to_numpy()
        for cat, share in t.items():
            m = x == cat
            rows.append(
                {
                    "variable": var,
                    "category": cat,
                    "target": float(share),
                    "unweighted": float(m.mean()),
                    "weighted": float(w[m].sum() / w.sum()),
                    "n": int(m.sum()),
                }
            )
    out = pd.DataFrame(rows)
    out["error"] = out["weighted"] - out["target"]
    return out


def _trim_bounds(trim, w: np.ndarray) -> tuple[float, float] | None:
    if trim is None:
        return None
    lo, hi = trim
    if not (0 <= lo <= 1 <= hi):
        raise ValueError(
            "trim=(lower, upper) are multiples of the mean weight with lower <= 1 <= upper"
        )
    mean = w.mean()
    return lo * mean, hi * mean


def _trim_to_total(
    w: np.ndarray, bounds: tuple[float, float], total: float, max_iter: int = 100
) -> np.ndarray:
    """Clip weights to ``bounds`` while keeping their sum at ``total``: the excess of
    clipped weights is spread over the unclipped ones, repeated until no weight is out."""
    lo, hi = bounds
    w = w.copy()
    for _ in range(max_iter):
        w = np.clip(w, lo, hi)
        fixed = (w <= lo) | (w >= hi)
        free = w[~fixed].sum()
        need = total - w[fixed].sum()
        if free <= 0 or abs(need - free) <= 1e-13 * total:
            break
        w[~fixed] *= need / free
    return w


def rake(
    df: pd.DataFrame,
    margins: MarginSpec,
    base_weights=None,
    *,
    max_iter: int = 500,
    tol: float = 1e-10,
    trim: tuple[float, float] | None = None,
    total: float | None = None,
) -> WeightingResult:
    """Rake (iterative proportional fitting) respondents to population margins.

    Parameters
    ----------
    df : one row per respondent with a column per margin variable.
    margins : ``{variable: {category: share}}`` (shares or counts; normalised per variable).
    base_weights : design weights to start from (column name or array), default 1.
    max_iter : maximum raking cycles (one cycle adjusts every margin once).
    tol : convergence when every weighted share is within ``tol`` of its target.
    trim : ``(lower, upper)`` bounds as multiples of the mean weight, e.g. ``(0.2, 5)``;
        weights are clipped after each cycle and re-raked (trim-and-rake). If the bounds
        and margins cannot both hold, ``converged`` is False and the table shows the gap.
    total : sum of the final weights (default: number of respondents, so the mean weight is 1).

    Returns
    -------
    WeightingResult

    Raises
    ------
    MarginError
        a margin category has no respondent, a sample category has no target, a target
        share is 0 for a category present in the sample, or a respondent lacks the variable.
    """
    if not margins:
        raise MarginError("no margins given")
    require_columns(df, list(margins))
    if len(df) == 0:
        raise SurveyInputError("survey_responses: no respondents to weight.")
    targets = {v: _norm_shares(v, s) for v, s in margins.items()}
    codes = {v: _codes(df, v, t, "raked") for v, t in targets.items()}
    w = _base(df, base_weights).copy()
    T = float(len(df) if total is None else total)
    w *= T / w.sum()
    bounds = _trim_bounds(trim, w)
    history: list[float] = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        for v, t in targets.items():
            sums = np.bincount(codes[v], weights=w, minlength=len(t))
            w *= (T * t.to_numpy() / sums)[codes[v]]
        if bounds is not None:
            w = np.clip(w, *bounds)
        err = max(
            float(
                np.max(
                    np.abs(
                        np.bincount(codes[v], weights=w, minlength=len(t)) / w.sum() - t.to_numpy()
                    )
                )
            )
            for v, t in targets.items()
        )
        history.append(err)
        if err < tol:
            converged = True
            break
    w = w * (T / w.sum()) if bounds is None else _trim_to_total(w, bounds, T)
    return _result(df, w, "raking", converged, it, history, trim, bounds, margins)


def _result(df, w, method, converged, it, history, trim, bounds, margins) -> WeightingResult:
    tab = margin_check(df, w, margins)
    n_trim = (
        0
        if bounds is None
        else int(np.sum((w <= bounds[0] * (1 + 1e-9)) | (w >= bounds[1] * (1 - 1e-9))))
    )
    notes = []
    if not converged:
        notes.append(
            "The weights could not meet every customer-base share"
            + (" within the weight bounds" if bounds else "")
            + f" ({method}, {it} cycle(s)): the largest gap is "
            f"{fmt.pp(tab['error'].abs().max(), 2)}, so the weighted answers only "
            "approximate the customer base."
        )
    return WeightingResult(
        pd.Series(w, index=df.index, name="weight"),
        method,
        converged,
        it,
        float(tab["error"].abs().max()),
        history,
        len(w),
        kish_n_effective(w),
        design_effect(w),
        n_trim,
        trim,
        tab,
        notes,
    )


def poststratify(
    df: pd.DataFrame,
    cells: Sequence[str],
    population: pd.DataFrame,
    share: str = "share",
    base_weights=None,
    *,
    trim: tuple[float, float] | None = None,
    total: float | None = None,
) -> WeightingResult:
    """Post-stratify respondents to the joint population distribution of ``cells``.

    Parameters
    ----------
    df : respondents with the ``cells`` columns.
    cells : columns whose combinations form the post-strata.
    population : one row per cell with the ``cells`` columns and a ``share`` column (shares or
        counts), e.g. from :func:`population_cells`.
    base_weights, trim, total : as in :func:`rake`. After trimming, the cell totals no longer
        match exactly; the margin table shows by how much.

    Raises
    ------
    MarginError
        a population cell with a positive share has no respondent (collapse cells or rake on
        the margins instead), or a respondent's cell is not in the population table.
    """
    cells = list(cells)
    require_columns(df, cells)
    require_columns(population, [*cells, share], "population")
    if len(df) == 0:
        raise SurveyInputError("survey_responses: no respondents to weight.")
    pop = population.groupby(cells, observed=True)[share].sum()
    if pop.isna().any() or (pop < 0).any():
        raise MarginError("population: cell shares must be non-negative numbers.")
    pop = pop[pop > 0] / pop[pop > 0].sum()
    if not isinstance(pop.index, pd.MultiIndex):
        pop.index = pd.MultiIndex.from_arrays([pop.index], names=cells)
    na = df[cells].isna().any(axis=1)
    if na.any():
        raise MarginError(
            f"survey_responses: {int(na.sum())} respondent(s) lack a value in "
            f"{cells}; they cannot be post-stratified."
        )
    key = pd.MultiIndex.from_frame(df[cells])
    code = pop.index.get_indexer(key)
    if (code < 0).any():
        extra = sorted(set(key[code < 0]), key=str)
        raise MarginError(
            f"survey_responses: respondent cells {extra[:10]} ({int((code < 0).sum())} "
            "respondent(s)) are not in the population table."
        )
    counts = np.bincount(code, minlength=len(pop))
    if (counts == 0).any():
        missing = list(pop.index[counts == 0])
        raise MarginError(
            f"post-stratification cells {missing[:10]} ({len(missing)} cell(s), "
            f"population share {float(pop[counts == 0].sum()):.4f} in total) have no "
            "respondent. Collapse sparse cells or rake on the margins instead."
        )
    w = _base(df, base_weights).copy()
    T = float(len(df) if total is None else total)
    w *= T / w.sum()
    sums = np.bincount(code, weights=w, minlength=len(pop))
    w = w * (T * pop.to_numpy() / sums)[code]
    bounds = _trim_bounds(trim, w)
    if bounds is not None:
        w = _trim_to_total(w, bounds, T)
    err = float(
        np.max(np.abs(np.bincount(code, weights=w, minlength=len(pop)) / w.sum() - pop.to_numpy()))
    )
    margins = {c: population.groupby(c, observed=True)[share].sum() for c in cells}
    res = _result(df, w, "poststratification", err < 1e-8, 1, [err], trim, bounds, margins)
    res.max_error = max(res.max_error, err)
    return res


__all__ = ["WeightingResult", "margin_check", "poststratify", "rake"]
