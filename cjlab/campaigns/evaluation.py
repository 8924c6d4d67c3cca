"""Evaluating uplift scores on a hold-out: Qini and uplift curves, AUUC, Qini coefficient.

Customers are ranked by a score (highest first). At each distinct score the curve reads the
top ``k`` customers: among them ``n_t`` treated with ``y_t`` conversions and ``n_c`` controls
with ``y_c``. The **Qini curve** (Radcliffe 2007) is the incremental conversions,
``y_t - y_c · n_t / n_c``; the **uplift curve** is ``(y_t / n_t - y_c / n_c) · k``. Their areas
above the random-targeting diagonal, divided by that of the best possible ranking, give the
**Qini coefficient** and the normalised **AUUC** (the definitions of scikit-uplift's
``qini_auc_score`` and ``uplift_auc_score``; the best ranking for the Qini curve puts treated
converters first and control converters last). 1 is a perfect ranking, 0 is random.

Intervals come from a Poisson bootstrap of the hold-out rows (each row's weight ~ Poisson(1)):
the ranking is fixed, so each resample is a few cumulative sums.

Examples
--------
>>> import numpy as np
>>> y = np.array([1, 0, 1, 0, 0, 1]); t = np.array([1, 1, 1, 0, 0, 0])
>>> x, q = qini_curve(y, np.array([6, 5, 4, 3, 2, 1.0]), t)
>>> x.tolist(), q.tolist()
([0, 1, 2, 3, 4, 5, 6], [0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CurveStats",
    "curve_stats",
    "qini_coefficient",
    "qini_curve",
    "uplift_auc",
    "uplift_curve",
]


def _sorted(y: Any, score: Any, t: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y, score, t = (np.asarray(a) for a in (y, score, t))
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    s = score[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score
    return y[order].astype(float), t[order].astype(float), last, order


def _cum(y: np.ndarray, t: np.ndarray, last: np.ndarray, w: np.ndarray | None = None):
    """Cumulative counts at the thresholds; ``w`` (rows x resamples) weights the rows."""
    if w is None:
        w = np.ones((len(y), 1))
    n_all = np.cumsum(w, axis=0)[last]
    n_t = np.cumsum(w * t[:, None], axis=0)[last]
    y_t = np.cumsum(w * (y * t)[:, None], axis=0)[last]
    y_c = np.cumsum(w * (y * (1 - t))[:, None], axis=0)[last]
    return n_all, n_t, n_all - n_t, y_t, y_c


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b != 0)


def _start(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.zeros((1, *x.shape[1:]))
    return np.concatenate([z, x]), np.concatenate([z, v])


def _qini(y, t, last, w=None):
    n_all, n_t, n_c, y_t, y_c = _cum(y, t, last, w)
    return _start(n_all, y_t - y_c * _div(n_t, n_c))


def _uplift(y, t, last, w=None):
    n_all, n_t, n_c, y_t, y_c = _cum(y, t, last, w)
    return _start(n_all, (_div(y_t, n_t) - _div(y_c, n_c)) * n_all)


def qini_curve(y: Any, score: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Qini curve: customers targeted, incremental conversions (starts at 0, 0)."""
    ys, ts, last, _ = _sorted(y, score, treatment)
    x, q = _qini(ys, ts, last)
    return x[:, 0].astype(int), q[:, 0]


def uplift_curve(y: Any, score: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points of the uplift curve: customers targeted, (rate_t - rate_c) x customers."""
    ys, ts, last, _ = _sorted(y, score, treatment)
    x, u = _uplift(ys, ts, last)
    return x[:, 0].astype(int), u[:, 0]


def _area(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Area under the curve above the straight line from (0, 0) to its end point."""
    a = np.trapezoid(v, x, axis=0)
    return a - x[-1] * v[-1] / 2


def _perfect_qini_score(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return y * t - y * (1 - t)


def _perfect_uplift_score(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    control_responders = np.sum((y == 1) & (t == 0))
    treated_non = np.sum((y == 0) & (t == 1))
    return 2 * (y == t) + (y if control_responders > treated_non else t)


def _normalised(kind: str, y, score, t, w=None) -> np.ndarray:
    curve, best = (
        (_qini, _perfect_qini_score) if kind == "qini" else (_uplift, _perfect_uplift_score)
    )
    y, t = np.asarray(y, dtype=float), np.asarray(t, dtype=float)
    ys, ts, last, order = _sorted(y, score, t)
    wa = None if w is None else w[order]
    actual = _area(*curve(ys, ts, last, wa))
    yp, tp, lastp, order_p = _sorted(y, best(y, t), t)
    wp = None if w is None else w[order_p]
    perfect = _area(*curve(yp, tp, lastp, wp))
    return _div(actual, perfect)


def qini_coefficient(y: Any, score: Any, treatment: Any) -> float:
    """Area between the Qini curve and the diagonal over that of the best ranking (binary y)."""
    return float(_normalised("qini", y, score, treatment)[0])


def uplift_auc(y: Any, score: Any, treatment: Any) -> float:
    """Normalised area under the uplift curve (AUUC; scikit-uplift's ``uplift_auc_score``)."""
    return float(_normalised("uplift", y, score, treatment)[0])


@dataclass(frozen=True)
class CurveStats:
    """One score's hold-out evaluation: the coefficients with bootstrap intervals and the curve.

    Attributes
    ----------
    qini, qini_low, qini_high : Qini coefficient and its interval.
    auuc, auuc_low, auuc_high : normalised area under the uplift curve and its interval.
    curve : share targeted (0..1), incremental conversions per customer of the hold-out
        (Qini curve / n), and the same for random targeting.
    """

    qini: float
    qini_low: float
    qini_high: float
    auuc: float
    auuc_low: float
    auuc_high: float
    curve: pd.DataFrame


def _thin(x: np.ndarray, v: np.ndarray, points: int = 201) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(0, x[-1], points)
    return grid, np.interp(grid, x, v)


def curve_stats(
    y: Any, score: Any, treatment: Any, n_boot: int = 200, level: float = 0.9, random_state: int = 0
) -> CurveStats:
    """Qini coefficient and AUUC with Poisson-bootstrap intervals, and the thinned Qini curve.

    Parameters
    ----------
    y, score, treatment : hold-out outcome (0/1), model score, arm (1 treated, 0 control).
    n_boot : bootstrap resamples (0: no interval).
    level : interval mass.
    random_state : seed of the resampling.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(treatment, dtype=float)
    q, a = qini_coefficient(y, score, t), uplift_auc(y, score, t)
    lo_q = hi_q = lo_a = hi_a = np.nan
    if n_boot:
        rng = np.random.default_rng(random_state)
        qs, aus = [], []
        for start in range(0, n_boot, 50):
            w = rng.poisson(1.0, size=(len(y), min(50, n_boot - start))).astype(float)
            qs.append(_normalised("qini", y, score, t, w))
            aus.append(_normalised("uplift", y, score, t, w))
        tail = (1 - level) / 2
        lo_q, hi_q = np.quantile(np.concatenate(qs), [tail, 1 - tail])
        lo_a, hi_a = np.quantile(np.concatenate(aus), [tail, 1 - tail])
    x, v = qini_curve(y, score, t)
    gx, gv = _thin(x.astype(float), v)
    n = max(len(y), 1)
    curve = pd.DataFrame(
        {
            "share_targeted": gx / n,
            "incremental_per_customer": gv / n,
            "random_per_customer": gx / n * v[-1] / n,
        }
    )
    return CurveStats(q, float(lo_q), float(hi_q), a, float(lo_a), float(hi_a), curve)
