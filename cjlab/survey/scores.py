"""NPS, CSAT and CES with honest uncertainty: point estimate, standard error, interval.

Unweighted NPS uses the multinomial closed form
``Var(NPS) = 100² (p_P + p_D − (p_P − p_D)²) / n``; weighted estimates use the
design-based (Taylor-linearised) variance of a weighted mean, treating respondents as a
with-replacement sample, ``v = n/(n−1) Σ w_i² (y_i − ȳ)² / (Σ w)²``, and report the Kish
effective sample size ``(Σw)² / Σw²``. For NPS a Bayesian interval from the
Dirichlet-multinomial posterior is available (``method="bayes"``).

Examples
--------
>>> from cjlab.survey import nps
>>> r = nps([10, 9, 8, 7, 6, 0, 10, 10])
>>> round(r.value, 1), r.n
(25.0, 8)
>>> round(r["promoters"], 3)
0.5
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .checks import (
    MIN_N_DEFAULT,
    SCALES,
    SurveyInputError,
    check_scores,
    require_columns,
)

#: Top-2-box threshold for CSAT (1–5): 4 or 5 = satisfied.
CSAT_TOP2_MIN = 4
#: Low-effort threshold for CES (1–7 agreement "the company made it easy"): 5, 6 or 7.
CES_LOW_EFFORT_MIN = 5


@dataclass
class ScoreEstimate:
    """One survey score with its uncertainty.

    Attributes
    ----------
    metric : ``"nps"``, ``"csat_top2"``, ``"csat_mean"``, ``"ces_mean"``, ``"ces_low_effort"``.
    value : point estimate (NPS in points −100..100; shares in 0..1; means on the scale).
    se : standard error (posterior sd for ``method="bayes"``).
    low, high : interval bounds at ``level``.
    n : respondents used (after dropping missing / out-of-range answers).
    n_effective : Kish effective sample size (``n`` when unweighted).
    promoters, passives, detractors : shares (NPS only).
    n_missing, n_dropped : item non-response and out-of-range answers dropped on request.
    """

    metric: str
    value: float
    se: float
    low: float
    high: float
    n: int
    n_effective: float
    level: float = 0.95
    method: str = "normal"
    weighted: bool = False
    promoters: float | None = None
    passives: float | None = None
    detractors: float | None = None
    n_missing: int = 0
    n_dropped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def keys(self) -> Iterator[str]:
        return iter(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d.update(self.extra)
        return d


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


def kish_n_effective(weights) -> float:
    """Kish effective sample size ``(Σw)² / Σw²``."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / np.square(w).sum())


def design_effect(weights) -> float:
    """Kish design effect of unequal weighting, ``n Σw² / (Σw)² = 1 + CV²``."""
    w = np.asarray(weights, float)
    return float(len(w) * np.square(w).sum() / w.sum() ** 2)


def weighted_mean_se(y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and its linearised (with-replacement) standard error."""
    y = np.asarray(y, float)
    w = np.asarray(w, float)
    n = len(y)
    tw = w.sum()
    m = float(np.dot(w, y) / tw)
    if n < 2:
        return m, float("nan")
    v = n / (n - 1) * float(np.sum(np.square(w * (y - m)))) / tw**2
    return m, float(np.sqrt(v))


def _interval(
    value: float, se: float, z: float, bounds: tuple[float, float]
) -> tuple[float, float]:
    lo, hi = value - z * se, value + z * se
    return float(max(bounds[0], lo)), float(min(bounds[1], hi))


def _dirichlet_nps_draws(
    counts: np.ndarray, prior: float, draws: int, random_state: int
) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    theta = rng.dirichlet(counts + prior, size=draws)
    return 100.0 * (theta[:, 0] - theta[:, 2])


def nps(
    scores,
    weights=None,
    level: float = 0.95,
    *,
    method: str = "normal",
    out_of_range: str = "raise",
    prior: float = 1.0,
    draws: int = 40_000,
    random_state: int = 0,
) -> ScoreEstimate:
    """Net Promoter Score with standard error and interval.

    Parameters
    ----------
    scores : likelihood-to-recommend answers on 0–10 (NaN = no answer, left out).
    weights : optional survey weights aligned with ``scores`` (positive, finite).
    level : interval level.
    method : ``"normal"`` (closed-form multinomial / linearised SE, normal interval clipped
        to −100..100) or ``"bayes"`` (Dirichlet-multinomial posterior with a symmetric
        Dirichlet(``prior``) prior; with weights the counts are the weighted shares times the
        Kish effective n). For ``"bayes"``, ``value`` is the posterior mean and ``se`` the
        posterior sd.
    out_of_range : ``"raise"`` (default) or ``"drop"`` (drop scores outside 0–10 and count them).
    prior, draws, random_state : Dirichlet prior concentration and Monte-Carlo settings for ``"bayes"``.

    Returns
    -------
    ScoreEstimate
        ``value`` in points (−100..100), ``se``, ``low``, ``high``, ``n``, ``n_effective``,
        ``promoters``, ``passives``, ``detractors`` (shares). Also indexable like a dict.

    Examples
    --------
    >>> r = nps([10] * 50 + [8] * 30 + [3] * 20)
    >>> round(r.value, 1), round(r.se, 2)
    (30.0, 7.81)
    """
    if method not in ("normal", "bayes"):
        raise ValueError("method must be 'normal' or 'bayes'")
    z = _z(level)
    c = check_scores(
        scores, scale=SCALES["nps"], name="nps", weights=weights, out_of_range=out_of_range
    )
    x = c.values
    n = len(x)
    cat = np.where(x >= 9, 0, np.where(x >= 7, 1, 2))
    w = c.weights if c.weights is not None else np.ones(n)
    shares = np.array([w[cat == k].sum() for k in range(3)]) / w.sum()
    pP, p0, pD = shares
    value = 100.0 * (pP - pD)
    n_eff = kish_n_effective(w) if c.weights is not None else float(n)
    if method == "normal":
        if c.weights is None:
            se = 100.0 * np.sqrt(max(pP + pD - (pP - pD) ** 2, 0.0) / n)
        else:
            y = np.select([cat == 0, cat == 2], [100.0, -100.0], 0.0)
            _, se = weighted_mean_se(y, w)
        low, high = _interval(value, se, z, (-100.0, 100.0))
    else:
        counts = shares * n_eff
        d = _dirichlet_nps_draws(counts, prior, draws, random_state)
        value, se = float(d.mean()), float(d.std(ddof=1))
        low, high = (float(v) for v in np.quantile(d, [0.5 - level / 2, 0.5 + level / 2]))
    return ScoreEstimate(
        "nps", float(value), float(se), low, high, n, n_eff, level, method,
        c.weights is not None, float(pP), float(p0), float(pD), c.n_missing, c.n_dropped,
    )  # fmt: skip


def _mean_like(
    metric: str,
    y: np.ndarray,
    weights: np.ndarray | None,
    level: float,
    bounds: tuple[float, float],
    n_missing: int,
    n_dropped: int,
    proportion: bool,
) -> ScoreEstimate:
    z = _z(level)
    n = len(y)
    if weights is None:
        m = float(y.mean())
        if proportion:
            se = float(np.sqrt(m * (1 - m) / n))
        else:
            se = float(y.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        n_eff = float(n)
    else:
        m, se = weighted_mean_se(y, weights)
        n_eff = kish_n_effective(weights)
    low, high = _interval(m, se, z, bounds)
    return ScoreEstimate(
        metric,
        m,
        se,
        low,
        high,
        n,
        n_eff,
        level,
        "normal",
        weights is not None,
        n_missing=n_missing,
        n_dropped=n_dropped,
    )


def csat(
    scores,
    weights=None,
    level: float = 0.95,
    *,
    statistic: str = "top2",
    out_of_range: str = "raise",
) -> ScoreEstimate:
    """Customer satisfaction (1–5): ``statistic="top2"`` share answering 4 or 5 (0..1) or
    ``"mean"``. Standard errors as for :func:`nps` (closed form / linearised).

    Examples
    --------
    >>> round(csat([5, 4, 3, 2, 5]).value, 2)
    0.6
    """
    return _on_scale("csat", scores, weights, level, statistic, "top2", CSAT_TOP2_MIN, out_of_range)


def ces(
    scores,
    weights=None,
    level: float = 0.95,
    *,
    statistic: str = "mean",
    out_of_range: str = "raise",
) -> ScoreEstimate:
    """Customer effort (1–7, 7 = easiest): ``statistic="mean"`` or ``"low_effort"`` (share
    answering 5–7, 0..1).

    Examples
    --------
    >>> round(ces([7, 6, 2, 5]).value, 2)
    5.0
    """
    return _on_scale(
        "ces", scores, weights, level, statistic, "low_effort", CES_LOW_EFFORT_MIN, out_of_range
    )


def _on_scale(
    name: str,
    scores,
    weights,
    level: float,
    statistic: str,
    share: str,
    share_min: int,
    out_of_range: str,
) -> ScoreEstimate:
    """A score on the scale ``SCALES[name]``: the mean (``statistic="mean"``) or, for
    ``statistic=share``, the share of answers at least ``share_min`` (0..1)."""
    if statistic not in (share, "mean"):
        raise ValueError(f"statistic must be '{share}' or 'mean'")
    scale = SCALES[name]
    c = check_scores(scores, scale=scale, name=name, weights=weights, out_of_range=out_of_range)
    if statistic == share:
        y = (c.values >= share_min).astype(float)
        return _mean_like(
            f"{name}_{share}", y, c.weights, level, (0.0, 1.0), c.n_missing, c.n_dropped, True
        )
    bounds = (float(scale[0]), float(scale[1]))
    return _mean_like(
        f"{name}_mean", c.values, c.weights, level, bounds, c.n_missing, c.n_dropped, False
    )


#: metric name -> (column, function, keyword arguments, unit (``score`` = a mean on the scale), label)
METRICS: dict[str, tuple[str, Any, dict[str, Any], str | None, str]] = {
    "nps": ("nps", nps, {}, "points", "Net Promoter Score"),
    "csat_top2": ("csat", csat, {"statistic": "top2"}, "share", "CSAT top-2-box (4–5 of 5)"),
    "csat_mean": ("csat", csat, {"statistic": "mean"}, "score", "CSAT mean (1–5)"),
    "ces_mean": ("ces", ces, {"statistic": "mean"}, "score", "CES mean (1–7, 7 = easiest)"),
    "ces_low_effort": (
        "ces",
        ces,
        {"statistic": "low_effort"},
        "share",
        "CES low-effort share (5–7 of 7)",
    ),
}


def estimate(
    df: pd.DataFrame,
    metric: str,
    weights: str | Sequence[float] | None = None,
    level: float = 0.95,
    **kwargs,
) -> ScoreEstimate:
    """Estimate one of :data:`METRICS` from a survey table (``weights`` a column name or array)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {list(METRICS)}")
    col, fn, kw, _, _ = METRICS[metric]
    require_columns(df, [col])
    w = df[weights].to_numpy() if isinstance(weights, str) else weights
    return fn(df[col], w, level, **kw, **kwargs)


def scorecard(
    df: pd.DataFrame,
    metrics: Sequence[str] = ("nps", "csat_top2", "ces_mean"),
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    level: float = 0.95,
    min_n: int = 0,
    **kwargs,
) -> pd.DataFrame:
    """Scores by domain, each estimated from the domain's own respondents.

    Parameters
    ----------
    df : survey_responses rows.
    metrics : names from :data:`METRICS`.
    by : column(s) defining domains (respondent type, segment, channel, wave); None = total.
    weights : name of a weight column, or None.
    level : interval level.
    min_n : cells with fewer respondents are suppressed (value/se/low/high set to NaN and
        ``suppressed`` True) — they are shown as a note, not as a number.

    Returns
    -------
    DataFrame with the ``by`` columns, metric, label, unit, value, se, low, high, n,
    n_effective, suppressed.
    """
    if isinstance(weights, str):
        require_columns(df, [weights])
    by_cols = [] if by is None else ([by] if isinstance(by, str) else list(by))
    require_columns(df, by_cols)
    if len(df) == 0:
        raise SurveyInputError("survey_responses: no rows to summarise.")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; choose from {list(METRICS)}")
        col = METRICS[m][0]
        require_columns(df, [col])
        if df[col].isna().all():
            raise SurveyInputError(
                f"survey_responses.{col}: all {len(df)} values are missing; cannot estimate {m}."
            )
    groups = (
        [((), df)] if not by_cols else df.groupby(by_cols, observed=True, sort=True, dropna=False)
    )
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for m in metrics:
            col, _, _, unit, label = METRICS[m]
            base = dict(zip(by_cols, key))
            base.update(metric=m, label=label, unit=unit)
            if g[col].notna().sum() == 0:
                rows.append(
                    {
                        **base,
                        "value": np.nan,
                        "se": np.nan,
                        "low": np.nan,
                        "high": np.nan,
                        "n": 0,
                        "n_effective": 0.0,
                        "suppressed": True,
                    }
                )
                continue
            r = estimate(g, m, weights=weights, level=level, **kwargs)
            sup = r.n < min_n
            rows.append(
                {
                    **base,
                    "value": np.nan if sup else r.value,
                    "se": np.nan if sup else r.se,
                    "low": np.nan if sup else r.low,
                    "high": np.nan if sup else r.high,
                    "n": r.n,
                    "n_effective": r.n_effective,
                    "suppressed": bool(sup),
                }
            )
    return pd.DataFrame(rows)


def suppress_small(
    table: pd.DataFrame,
    min_n: int = MIN_N_DEFAULT,
    n_col: str = "n",
    value_cols: Sequence[str] = ("value", "se", "low", "high"),
) -> pd.DataFrame:
    """Blank out estimates of cells with fewer than ``min_n`` respondents (adds ``suppressed``)."""
    out = table.copy()
    small = out[n_col] < min_n
    for c in value_cols:
        if c in out:
            out.loc[small, c] = np.nan
    out["suppressed"] = small | (out["suppressed"] if "suppressed" in out else False)
    return out


def suppression_note(
    table: pd.DataFrame, min_n: int, what: str = "cell", label_cols: Sequence[str] = ()
) -> str | None:
    """Text for the cells suppressed for having fewer than ``min_n`` respondents, or None.

    Examples
    --------
    >>> t = pd.DataFrame({"wave": ["a", "b"], "suppressed": [True, False]})
    >>> suppression_note(t, 30, "wave", ["wave"])
    '1 wave(s) with fewer than 30 respondents are not shown as numbers: a.'
    """
    if "suppressed" not in table or not table["suppressed"].any():
        return None
    sup = table[table["suppressed"]]
    cols = [c for c in label_cols if c in sup]
    names = (
        sorted({" · ".join(str(v) for v in r) for r in sup[cols].itertuples(index=False)})
        if cols
        else []
    )
    listed = f": {', '.join(names[:12])}" + (" …" if len(names) > 12 else "") if names else ""
    return (
        f"{len(names) or len(sup)} {what}(s) with fewer than {min_n} respondents are not "
        f"shown as numbers{listed}."
    )


__all__ = [
    "CES_LOW_EFFORT_MIN",
    "CSAT_TOP2_MIN",
    "METRICS",
    "ScoreEstimate",
    "ces",
    "csat",
    "design_effect",
    "estimate",
    "kish_n_effective",
    "nps",
    "scorecard",
    "suppress_small",
    "suppression_note",
    "weighted_mean_se",
]
