"""How good are churn probabilities on held-out customers: ROC-AUC and PR-AUC with bootstrap
intervals, Brier score, reliability (scikit-learn's ``calibration_curve`` plus a Wilson
interval per bin), cumulative gains and lift.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 400)
>>> e = evaluate(y, np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1), n_boot=0)
>>> round(e.roc_auc, 2) > 0.6, e.n
(True, 400)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from cjlab.churn.labels import ChurnDataError

__all__ = ["Evaluation", "check_labels", "evaluate", "gains_table", "reliability_table"]


def check_labels(y: np.ndarray, what: str = "training") -> None:
    """Both classes present, and at least 5 customers in the rarer one (else a clear error)."""
    vals, counts = np.unique(y, return_counts=True)
    if len(vals) < 2:
        raise ChurnDataError(
            f"single-class label in the {what} data: all {len(y):,} customers have churned="
            f"{vals[0] if len(vals) else '?'}; choose a longer horizon, another cut-off or "
            "another churn definition"
        )
    if counts.min() < 5:
        raise ChurnDataError(
            f"only {counts.min()} customers in the rarer class of the {what} "
            "data; too few to fit or validate a churn model"
        )


def _wilson(k: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``k`` successes in ``n`` trials."""
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def reliability_table(
    y: Any, p: Any, n_bins: int = 10, strategy: str = "quantile", level: float = 0.95
) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability per bin (reliability curve).

    The bins and rates are :func:`sklearn.calibration.calibration_curve`'s; ``n`` counts the
    customers per bin and ``low``/``high`` are the Wilson interval of the observed rate.

    Returns
    -------
    DataFrame ``mean_predicted, observed_rate, n, low, high`` (non-empty bins, lowest first).
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    edges = (
        np.percentile(p, np.linspace(0, 100, n_bins + 1))
        if strategy == "quantile"
        else np.linspace(0.0, 1.0, n_bins + 1)
    )
    n = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)
    n = n[n > 0].astype(float)
    low, high = _wilson(observed * n, n, level)
    return pd.DataFrame(
        {
            "mean_predicted": predicted,
            "observed_rate": observed,
            "n": n.astype(int),
            "low": low,
            "high": high,
        }
    )


def gains_table(y: Any, p: Any, n_bins: int = 10) -> pd.DataFrame:
    """Cumulative gains and lift by contact share (customers sorted by predicted risk)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    n, tot = len(y), max(y.sum(), 1e-12)
    rows = []
    for k in range(1, n_bins + 1):
        m = round(n * k / n_bins)
        captured = ys[:m].sum() / tot
        rows.append(
            {
                "contact_share": m / n,
                "customers": m,
                "churners_captured": ys[:m].sum(),
                "gain": captured,
                "lift": captured / (m / n) if m else np.nan,
                "churn_rate_in_group": ys[:m].mean() if m else np.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Quality of churn probabilities on held-out data."""

    n: int
    base_rate: float
    roc_auc: float
    roc_auc_ci: tuple[float, float]
    pr_auc: float
    pr_auc_ci: tuple[float, float]
    brier: float
    brier_reference: float
    top_decile_lift: float
    level: float = 0.95
    reliability: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    gains: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    gains_curve: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    @property
    def no_better_than_chance(self) -> bool:
        """True when the ROC-AUC interval includes 0.5 (the model may be guessing)."""
        lo, hi = self.roc_auc_ci
        return bool(np.isfinite(lo) and lo <= 0.5 <= hi)

    def summary(self) -> pd.DataFrame:
        """One row per metric with its interval."""
        nan = np.nan
        return pd.DataFrame(
            [
                {
                    "metric": "ROC-AUC",
                    "value": self.roc_auc,
                    "low": self.roc_auc_ci[0],
                    "high": self.roc_auc_ci[1],
                },
                {
                    "metric": "PR-AUC",
                    "value": self.pr_auc,
                    "low": self.pr_auc_ci[0],
                    "high": self.pr_auc_ci[1],
                },
                {"metric": "Brier score", "value": self.brier, "low": nan, "high": nan},
                {
                    "metric": "Brier score of base rate",
                    "value": self.brier_reference,
                    "low": nan,
                    "high": nan,
                },
                {
                    "metric": "Top-decile lift",
                    "value": self.top_decile_lift,
                    "low": nan,
                    "high": nan,
                },
                {"metric": "Churn rate", "value": self.base_rate, "low": nan, "high": nan},
            ]
        )


def _bootstrap(y: np.ndarray, p: np.ndarray, n_boot: int, level: float, random_state: int):
    rng = np.random.default_rng(random_state)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    aucs, aps = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        aucs[b] = roc_auc_score(y[idx], p[idx])
        aps[b] = average_precision_score(y[idx], p[idx])
    a = (1 - level) / 2
    return tuple(np.quantile(aucs, [a, 1 - a])), tuple(np.quantile(aps, [a, 1 - a]))


def evaluate(
    y: Any, p: Any, n_boot: int = 300, level: float = 0.95, random_state: int = 0, n_bins: int = 10
) -> Evaluation:
    """ROC-AUC / PR-AUC with percentile-bootstrap intervals, Brier score, reliability, gains.

    Parameters
    ----------
    y : 0/1 labels; p : predicted churn probabilities.
    n_boot : bootstrap resamples (0: no intervals). Resamples are stratified by class so both
        classes are always present.
    level : interval mass of the bootstrap and reliability intervals.
    random_state : seed of the bootstrap.
    """
    y, p = np.asarray(y).astype(int), np.asarray(p, float)
    if len(y) != len(p):
        raise ValueError(f"y has {len(y)} rows but p has {len(p)}")
    check_labels(y, "evaluation")
    auc, ap = roc_auc_score(y, p), average_precision_score(y, p)
    ci_auc = ci_ap = (np.nan, np.nan)
    if n_boot:
        ci_auc, ci_ap = _bootstrap(y, p, n_boot, level, random_state)
    gains = gains_table(y, p, n_bins)
    base = y.mean()
    return Evaluation(
        n=len(y),
        base_rate=float(base),
        roc_auc=float(auc),
        roc_auc_ci=tuple(map(float, ci_auc)),
        pr_auc=float(ap),
        pr_auc_ci=tuple(map(float, ci_ap)),
        brier=float(brier_score_loss(y, p)),
        brier_reference=float(base * (1 - base)),
        top_decile_lift=float(gains["lift"].iloc[0]),
        level=level,
        reliability=reliability_table(y, p, n_bins, level=level),
        gains=gains,
        gains_curve=gains_table(y, p, 50),
    )
