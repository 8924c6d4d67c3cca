"""Key drivers of recommendation: which touchpoint ratings explain likelihood to recommend.

Relative importance of touchpoint ratings for NPS (likelihood to recommend, 0–10):

* Johnson's relative weights (Johnson 2000): regress the outcome on the orthogonal
  counterparts of the standardised predictors and map back; the raw weights sum to R².
* Shapley decomposition of R² (a.k.a. LMG / general dominance): each driver's average gain
  in R² over all orders of entry; also sums to R².

Both are computed from the correlation matrix, with percentile bootstrap intervals.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 3))
>>> R = np.corrcoef(np.column_stack([X, X @ [3, 2, 1] + rng.normal(size=500)]), rowvar=False)
>>> rw, sh = relative_weights(R), shapley_r2(R)
>>> bool(np.argmax(rw) == 0 and np.argmax(sh) == 0), bool(abs(rw.sum() - sh.sum()) < 1e-12)
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

from .checks import (
    SurveyInputError,
    check_scores,
    check_weights,
    rating_columns,
    require_columns,
    scale_for,
)
from .scores import weighted_mean_se
from .touchpoints import stage_of, touchpoint_name

QUADRANTS = {
    (True, False): "fix first",
    (True, True): "keep up",
    (False, False): "low priority",
    (False, True): "possible overkill",
}


def _weighted_corr(Z: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Correlation matrix of the columns of ``Z``; NaN handled pairwise."""
    n, p = Z.shape
    w = np.ones(n) if w is None else w
    if not np.isnan(Z).any():
        m = np.average(Z, axis=0, weights=w)
        D = Z - m
        C = (D * w[:, None]).T @ D
        d = np.sqrt(np.diag(C))
        return C / np.outer(d, d)
    R = np.eye(p)
    ok = ~np.isnan(Z)
    for i in range(p):
        for j in range(i + 1, p):
            m = ok[:, i] & ok[:, j]
            if m.sum() < 3:
                R[i, j] = R[j, i] = np.nan
                continue
            a, b, ww = Z[m, i], Z[m, j], w[m]
            a = a - np.average(a, weights=ww)
            b = b - np.average(b, weights=ww)
            R[i, j] = R[j, i] = np.sum(ww * a * b) / np.sqrt(
                np.sum(ww * a * a) * np.sum(ww * b * b)
            )
    return R


def _split(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.isnan(R).any():
        raise SurveyInputError(
            "driver correlations are undefined (a rating without variance or "
            "too few joint answers)."
        )
    return R[:-1, :-1], R[:-1, -1]


def _psd(Rxx: np.ndarray) -> np.ndarray:
    ev, V = np.linalg.eigh(Rxx)
    if ev.min() > 1e-10:
        return Rxx
    ev = np.clip(ev, 1e-8, None)
    A = (V * ev) @ V.T
    d = np.sqrt(np.diag(A))
    return A / np.outer(d, d)


def relative_weights(R: np.ndarray) -> np.ndarray:
    """Johnson's raw relative weights from the correlation matrix of ``[X..., y]`` (y last).

    The weights are non-negative and sum to the model R².
    """
    Rxx, rxy = _split(np.asarray(R, float))
    Rxx = _psd(Rxx)
    ev, V = np.linalg.eigh(Rxx)
    lam = (V * np.sqrt(ev)) @ V.T  # correlations between X and orthogonal Z
    beta = np.linalg.solve(lam, rxy)  # regression of y on Z
    return (lam**2) @ (beta**2)


def _r2(Rxx: np.ndarray, rxy: np.ndarray, idx: tuple[int, ...]) -> float:
    if not idx:
        return 0.0
    ix = list(idx)
    r = rxy[ix]
    return float(r @ np.linalg.solve(Rxx[np.ix_(ix, ix)], r))


def shapley_r2(R: np.ndarray) -> np.ndarray:
    """Shapley (LMG) decomposition of R² from the correlation matrix of ``[X..., y]``.

    Exact over all ``2^p`` subsets; fine up to ~15 drivers.
    """
    Rxx, rxy = _split(np.asarray(R, float))
    Rxx = _psd(Rxx)
    p = len(rxy)
    if p > 15:
        raise SurveyInputError(
            f"Shapley decomposition with {p} drivers is too costly; use method='relative_weights'."
        )
    r2 = {(): 0.0}
    for k in range(1, p + 1):
        for s in combinations(range(p), k):
            r2[s] = _r2(Rxx, rxy, s)
    out = np.zeros(p)
    for j in range(p):
        others = [i for i in range(p) if i != j]
        for k in range(p):
            wt = factorial(k) * factorial(p - k - 1) / factorial(p)
            for s in combinations(others, k):
                out[j] += wt * (r2[tuple(sorted((*s, j)))] - r2[s])
    return out


_METHODS = {"relative_weights": relative_weights, "shapley": shapley_r2}


class KeyDrivers:
    """Relative importance of drivers (touchpoint ratings) for an outcome (NPS 0–10).

    Parameters
    ----------
    method : ``"relative_weights"`` (Johnson) or ``"shapley"`` (Shapley/LMG R² decomposition).
    n_boot : bootstrap resamples for the intervals (0 = none).
    level : interval level.
    missing : ``"pairwise"`` (default: pairwise-complete correlations, for surveys where each
        respondent rates only the touchpoints they used; the correlation matrix is projected
        to the nearest positive-definite one if needed) or ``"complete"`` (only respondents
        who answered every driver).
    random_state : seed for the bootstrap.

    Attributes
    ----------
    importance_ : DataFrame, one row per driver: driver, touchpoint, stage, importance (raw,
        sums to R²), share (of R²), low, high (bootstrap interval of ``share``), beta
        (standardised multiple-regression coefficient, for reference), rank_stability (share
        of bootstrap resamples giving the same rank), rank, performance (mean rating), n.
    r2_, r2_low_, r2_high_ : model R² and its bootstrap interval.
    n_ : respondents used.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame(rng.integers(1, 6, size=(400, 3)), columns=["rating_a", "rating_b", "rating_c"])
    >>> df["nps"] = np.clip(np.round(2 * df.rating_a + df.rating_b - 3 + rng.normal(0, 1, 400)), 0, 10)
    >>> kd = KeyDrivers(n_boot=50).fit(df)
    >>> kd.importance_["driver"].tolist()[0]
    'rating_a'
    """

    def __init__(
        self,
        method: str = "relative_weights",
        n_boot: int = 200,
        level: float = 0.95,
        missing: str = "pairwise",
        random_state: int | None = 0,
    ):
        self.method = method
        self.n_boot = n_boot
        self.level = level
        self.missing = missing
        self.random_state = random_state

    def fit(
        self,
        df: pd.DataFrame,
        target: str = "nps",
        drivers: Sequence[str] | None = None,
        weights: str | None = None,
        stage_map: Mapping[str, str] | None = None,
    ) -> KeyDrivers:
        """Fit on survey rows: ``target`` (0–10) explained by the ``drivers`` ratings.

        Parameters
        ----------
        df : survey rows.
        target : outcome column (likelihood to recommend).
        drivers : rating columns (default: every ``rating_`` column of ``df``).
        weights : name of a weight column, or None.
        stage_map : rating column -> lifecycle stage, over the default map.

        Returns
        -------
        self
        """
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {list(_METHODS)}")
        if self.missing not in ("complete", "pairwise"):
            raise ValueError("missing must be 'complete' or 'pairwise'")
        drivers = list(drivers) if drivers is not None else rating_columns(df)
        if len(drivers) < 2:
            raise SurveyInputError(
                f"key-driver analysis needs at least 2 driver columns, got {drivers}."
            )
        require_columns(df, [target, *drivers])
        for c in [target, *drivers]:
            check_scores(df[c], scale=scale_for(c), name=c)
        d = df[df[target].notna()]
        if self.missing == "complete":
            d = d.dropna(subset=drivers)
        Z = d[[*drivers, target]].to_numpy(float)
        if len(Z) < len(drivers) + 3:
            raise SurveyInputError(
                f"key-driver analysis: only {len(Z)} usable respondents for "
                f"{len(drivers)} drivers (missing={self.missing!r})."
            )
        w = None if weights is None else check_weights(d[weights].to_numpy(), len(d), weights)
        fn = _METHODS[self.method]
        R = _weighted_corr(Z, w)
        raw = fn(R)
        Rxx, rxy = _split(R)
        beta = np.linalg.solve(_psd(Rxx), rxy)
        low, high, r2_low, r2_high, stability = self._bootstrap(Z, w, raw)
        perf = [_performance(df, c, weights) for c in drivers]
        imp = pd.DataFrame(
            {
                "driver": drivers,
                "touchpoint": [touchpoint_name(c) for c in drivers],
                "stage": [stage_of(c, stage_map) for c in drivers],
                "importance": raw,
                "share": raw / raw.sum(),
                "low": low,
                "high": high,
                "beta": beta,
                "rank_stability": stability,
                "performance": [p for p, _ in perf],
                "n": [k for _, k in perf],
            }
        )
        imp = imp.sort_values("importance", ascending=False).reset_index(drop=True)
        imp.insert(0, "rank", np.arange(1, len(imp) + 1))
        self.importance_ = imp
        self.r2_, self.r2_low_, self.r2_high_ = float(raw.sum()), float(r2_low), float(r2_high)
        self.n_ = len(Z)
        self.target_ = target
        return self

    def _bootstrap(self, Z: np.ndarray, w: np.ndarray | None, raw: np.ndarray) -> tuple:
        """Percentile intervals of the shares and of R², and the rank stability, by resampling."""
        fn = _METHODS[self.method]
        p = len(raw)
        boots = []
        if self.n_boot:
            rng = np.random.default_rng(self.random_state)
            n = len(Z)
            for _ in range(self.n_boot):
                i = rng.integers(0, n, n)
                try:
                    boots.append(fn(_weighted_corr(Z[i], None if w is None else w[i])))
                except (SurveyInputError, np.linalg.LinAlgError):
                    continue
        if not boots:
            nan = np.full(p, np.nan)
            return nan, nan, np.nan, np.nan, nan
        a = (1 - self.level) / 2
        B = np.array(boots)
        Bs = B / B.sum(axis=1, keepdims=True)
        low, high = np.quantile(Bs, a, axis=0), np.quantile(Bs, 1 - a, axis=0)
        r2_low, r2_high = np.quantile(B.sum(axis=1), [a, 1 - a])
        stability = (
            np.argsort(np.argsort(-B, axis=1), axis=1) == np.argsort(np.argsort(-raw))
        ).mean(axis=0)
        return low, high, r2_low, r2_high, stability


def _performance(df: pd.DataFrame, column: str, weights: str | None) -> tuple[float, int]:
    """Mean rating of ``column`` (weighted when ``weights`` is given) and the number of ratings."""
    x = df[column].dropna().to_numpy(float)
    if weights is None:
        return float(x.mean()), len(x)
    ww = df.loc[df[column].notna(), weights].to_numpy(float)
    return weighted_mean_se(x, ww)[0], len(x)


def importance_performance(
    importance: pd.DataFrame,
    importance_col: str = "share",
    performance_col: str = "performance",
    importance_cut: float | None = None,
    performance_cut: float | None = None,
) -> pd.DataFrame:
    """Classify drivers into the importance × performance quadrants.

    Cuts default to the average importance share (1/p) and the mean performance across
    drivers. ``"fix first"`` = important and rated below the cut; ``"keep up"`` = important
    and rated well; ``"low priority"``; ``"possible overkill"`` = rated well but unimportant.
    """
    out = importance.copy()
    ic = 1.0 / len(out) if importance_cut is None else importance_cut
    pc = float(out[performance_col].mean()) if performance_cut is None else performance_cut
    out["quadrant"] = [
        QUADRANTS[(bool(i > ic), bool(p >= pc))]
        for i, p in zip(out[importance_col], out[performance_col])
    ]
    out.attrs.update(importance_cut=ic, performance_cut=pc)
    order = {"fix first": 0, "keep up": 1, "possible overkill": 2, "low priority": 3}
    return out.sort_values(
        ["quadrant", importance_col], key=lambda s: s.map(order) if s.name == "quadrant" else -s
    ).reset_index(drop=True)


__all__ = ["KeyDrivers", "importance_performance", "relative_weights", "shapley_r2"]
