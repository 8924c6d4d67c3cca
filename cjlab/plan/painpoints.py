"""Pain points with priorities: what customers say, joined with what it costs.

:class:`PainPoints` maps every comment theme (:class:`cjlab.survey.CommentThemes`, German and
English) to the touchpoint whose rating its commenters give lowest compared with everybody else
(or, without such a rating gap, to a touchpoint named in its top terms), so themes about one
touchpoint become one pain point per stage and touchpoint. Each pain point then gets:

============================  =============================================================
``prevalence``                share of the comments in its themes
``nps_gap``                   NPS of all commenters minus NPS of its commenters (points)
``nps_at_stake``              prevalence × NPS gap: NPS points regained if it went away
``importance``                the touchpoint rating's share of the explained NPS variance
                              (Johnson's relative weights, :func:`cjlab.survey.relative_weights`)
``dropoff``                   share of customers with the touchpoint who did not reach the
                              next stage afterwards (the journey map's conversion)
``customers_affected``        prevalence × customers who reached the stage
``revenue_affected``          customers affected × the mean revenue of its commenters
``priority``                  a 0-100 score: the weighted mean of the four parts above, each
                              divided by its largest value over the pain points
============================  =============================================================

Intervals and ``rank_stability`` (share of bootstrap resamples with the same rank) come from
resampling the respondents (themes stay as fitted). Themes that are not pain points (praise)
are kept in :attr:`PainPoints.strengths_` for the workshop summary.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cjlab.survey import CommentThemes
>>> rng = np.random.default_rng(0)
>>> n = 600
>>> d = pd.DataFrame({"rating_delivery": rng.integers(1, 6, n).astype(float),
...                   "rating_checkout": rng.integers(1, 6, n).astype(float)})
>>> d["nps"] = np.clip(np.round(2 * d.rating_delivery + rng.normal(0, 1, n)), 0, 10)
>>> d["comment"] = np.where(d.rating_delivery == 1, "late delivery again",
...                         np.where(d.nps >= 8, "great quality", "nice shop"))
>>> ct = CommentThemes(n_themes=3, min_df=1).fit(d["comment"], d["nps"])
>>> pp = PainPoints(n_boot=20).fit(d, ct)
>>> pp.table_[["touchpoint", "stage"]].values.tolist()
[['delivery', 'logistics']]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.survey import relative_weights, stage_of

__all__ = ["PAIN_COLUMNS", "WEIGHTS", "PainPoints"]

#: weights of the priority score's parts (voice, importance, drop-off, revenue)
WEIGHTS = {"nps_at_stake": 0.35, "importance": 0.25, "dropoff": 0.15, "revenue_affected": 0.25}
PAIN_COLUMNS = [
    "rank", "stage", "touchpoint", "themes", "comments", "prevalence", "nps", "nps_gap",
    "nps_at_stake", "importance", "dropoff", "customers_affected", "revenue_affected",
    "priority", "priority_low", "priority_high", "rank_stability", "examples",
]  # fmt: skip


def _nps(s: np.ndarray) -> float:
    return float(100 * ((s >= 9).mean() - (s <= 6).mean())) if len(s) else np.nan


def _ratings(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if str(c).startswith("rating_") and df[c].notna().any()]


def _touchpoint_of(
    theme_rows: np.ndarray, df: pd.DataFrame, ratings: Sequence[str], terms: str, min_gap: float
) -> str | None:
    """The rating column whose raters in the theme rate lowest against everybody else (by at
    least ``min_gap`` points), else one whose touchpoint name is among the theme's terms."""
    gaps = {}
    for r in ratings:
        x = df[r].to_numpy(float)
        mine, rest = x[theme_rows], x[~theme_rows]
        if np.isfinite(mine).sum() >= 5 and np.isfinite(rest).sum() >= 5:
            gaps[r] = np.nanmean(rest) - np.nanmean(mine)
    best = max(gaps, key=gaps.get) if gaps else None
    if best is not None and gaps[best] >= min_gap:
        return best
    words = {w.strip() for w in terms.split(",")}
    named = [r for r in ratings if r[len("rating_") :] in words]
    return named[0] if named else None


class PainPoints:
    """Pain points per stage and touchpoint with a priority score and its uncertainty.

    Parameters
    ----------
    weights : weights of the score's parts (:data:`WEIGHTS`); missing parts count zero.
    n_boot : bootstrap resamples of the respondents.
    level : interval mass.
    min_gap : rating points by which a theme's commenters must rate a touchpoint below
        everybody else for the theme to be about that touchpoint.
    stage_map : rating column -> lifecycle stage, over :data:`cjlab.survey.DEFAULT_STAGE_MAP`.
    random_state : seed of the bootstrap.

    Attributes
    ----------
    table_ : one row per pain point, highest priority first (:data:`PAIN_COLUMNS`).
    strengths_ : praise themes (not pain points): stage, touchpoint, themes, comments,
        prevalence, nps.
    draws_ : pain point (touchpoint or theme label) -> {"prevalence", "gap"} bootstrap draws.
    theme_map_ : theme number -> pain point key.
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        n_boot: int = 200,
        level: float = 0.9,
        min_gap: float = 0.5,
        stage_map: Mapping[str, str] | None = None,
        random_state: int | None = 0,
    ):
        self.weights = weights
        self.n_boot = n_boot
        self.level = level
        self.min_gap = min_gap
        self.stage_map = stage_map
        self.random_state = random_state

    def fit(
        self,
        responses: pd.DataFrame,
        themes,
        revenue: pd.Series | None = None,
        stage_customers: Mapping[str, int] | None = None,
        progress: pd.DataFrame | None = None,
    ) -> PainPoints:
        """Fit on survey answers and their fitted themes.

        Parameters
        ----------
        responses : cleaned answers (:func:`cjlab.features.survey.survey_scores`): nps,
            rating_* columns, comment, customer_id (for revenue); the index the themes were
            fitted on.
        themes : a fitted :class:`cjlab.survey.CommentThemes` (with NPS scores).
        revenue : revenue per customer_id (e.g. of the last 12 months); None: no revenue part.
        stage_customers : customers who reached each stage (the funnel); None: no customers
            affected.
        progress : :func:`cjlab.features.funnels.touchpoint_progress` (stage, touchpoint,
            customers, reached_next) for the drop-off; None: no drop-off part.
        """
        df = responses.loc[themes.assignment_.index]
        assign = themes.assignment_.to_numpy()
        info = themes.themes_.set_index("theme")
        ratings = _ratings(df)
        keys, self.theme_map_ = {}, {}
        for k, row in info.iterrows():
            col = _touchpoint_of(assign == k, df, ratings, str(row["top_terms"]), self.min_gap)
            key = col[len("rating_") :] if col else str(row["label"])
            self.theme_map_[int(k)] = key
            keys.setdefault((key, col, bool(row.get("pain_point", False))), []).append(int(k))
        self._setup(df, assign, info, keys, revenue, stage_customers, progress)
        self._bootstrap(df, assign)
        return self

    def _setup(self, df, assign, info, keys, revenue, stage_customers, progress) -> None:
        score = df["nps"].to_numpy(float) if "nps" in df else np.full(len(df), np.nan)
        commented = assign >= 0
        self._score, self._commented = score, commented
        self._revenue = (
            None
            if revenue is None or "customer_id" not in df
            else df["customer_id"].map(revenue).fillna(0.0).to_numpy(float)
        )
        rows, strengths, self._groups = [], [], []
        for (key, col, pain), members in keys.items():
            stage = stage_of(col, self.stage_map) if col else "unassigned"
            base = {
                "stage": stage,
                "touchpoint": key,
                "rating": col,
                "themes": " | ".join(str(info.loc[k, "label"]) for k in members),
                "comments": int(np.isin(assign, members).sum()),
            }
            if pain:
                base["examples"] = " · ".join(str(info.loc[k, "examples"]) for k in members[:1])
                rows.append(base)
                self._groups.append(np.isin(assign, members))
            else:
                m = np.isin(assign, members)
                strengths.append(
                    {
                        **base,
                        "prevalence": m.sum() / max(commented.sum(), 1),
                        "nps": _nps(score[m & np.isfinite(score)]),
                    }
                )
        self.strengths_ = pd.DataFrame(
            strengths,
            columns=["stage", "touchpoint", "rating", "themes", "comments", "prevalence", "nps"],
        )
        self._rows = pd.DataFrame(
            rows, columns=["stage", "touchpoint", "rating", "themes", "comments", "examples"]
        )
        self._stage_customers = dict(stage_customers or {})
        self._dropoff = self._dropoffs(progress)
        self._ratings = _ratings(df)

    def _dropoffs(self, progress: pd.DataFrame | None) -> np.ndarray:
        out = np.full(len(self._rows), np.nan)
        if progress is None or not len(progress):
            return out
        for i, r in enumerate(self._rows.itertuples(index=False)):
            name = str(r.touchpoint)
            p = progress[
                (progress["touchpoint"] == name) | progress["touchpoint"].str.startswith(name + "_")
            ]
            at = p[p["stage"] == r.stage] if (p["stage"] == r.stage).any() else p
            if len(at) and at["customers"].sum() > 0 and r.stage != STAGES[-1]:
                out[i] = 1 - at["reached_next"].sum() / at["customers"].sum()
        return out

    def _parts(self, idx: np.ndarray, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """Prevalence, gap, importance, revenue of each pain point on the resample ``idx``."""
        score, com = self._score[idx], self._commented[idx]
        ok = np.isfinite(score)
        overall = _nps(score[com & ok])
        n_com = max(com.sum(), 1)
        prev, gap, rev = [], [], []
        for g in self._groups:
            m = g[idx]
            prev.append(m.sum() / n_com)
            gap.append(overall - _nps(score[m & ok]) if (m & ok).any() else np.nan)
            rev.append(
                self._revenue[idx][m].mean() if self._revenue is not None and m.any() else np.nan
            )
        return {
            "prevalence": np.array(prev),
            "nps_gap": np.array(gap),
            "importance": self._importance(df.iloc[idx]),
            "revenue_mean": np.array(rev),
        }

    def _importance(self, df: pd.DataFrame) -> np.ndarray:
        cols = self._ratings
        out = np.full(len(self._rows), np.nan)
        if len(cols) < 2 or "nps" not in df:
            return out
        try:
            R = df[[*cols, "nps"]].astype(float).corr().to_numpy()
            raw = relative_weights(R)
        except (ValueError, np.linalg.LinAlgError):
            return out
        share = dict(zip(cols, raw / raw.sum()))
        return np.array([share.get(c, np.nan) for c in self._rows["rating"]], float)

    def _score_of(self, parts: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        customers = np.array(
            [self._stage_customers.get(s, np.nan) for s in self._rows["stage"]], float
        )
        full = {
            "nps_at_stake": parts["prevalence"] * np.clip(parts["nps_gap"], 0, None),
            "importance": parts["importance"],
            "dropoff": self._dropoff,
            "customers_affected": parts["prevalence"] * customers,
        }
        full["revenue_affected"] = full["customers_affected"] * parts["revenue_mean"]
        weights = self.weights or WEIGHTS
        total = np.zeros(len(self._rows))
        for name, w in weights.items():
            x = np.nan_to_num(np.asarray(full[name], float), nan=0.0)
            top = x.max() if len(x) else 0.0
            total += w * (x / top if top > 0 else 0.0)
        return 100 * total / sum(weights.values()), full

    def _bootstrap(self, df: pd.DataFrame, assign: np.ndarray) -> None:
        n = len(df)
        point = self._parts(np.arange(n), df)
        score, full = self._score_of(point)
        rng = np.random.default_rng(self.random_state)
        boots, prevs, gaps = [], [], []
        for _ in range(int(self.n_boot)):
            p = self._parts(rng.integers(0, n, n), df)
            boots.append(self._score_of(p)[0])
            prevs.append(p["prevalence"])
            gaps.append(p["nps_gap"])
        t = self._rows.assign(
            prevalence=point["prevalence"],
            nps=_nps_of(self, point),
            nps_gap=point["nps_gap"],
            **full,
            priority=score,
        )
        a = (1 - self.level) / 2
        B = np.array(boots) if boots else np.full((1, len(t)), np.nan)
        t["priority_low"], t["priority_high"] = (
            np.nanquantile(B, [a, 1 - a], axis=0) if len(t) and boots else (np.nan, np.nan)
        )
        order = np.argsort(-score, kind="stable")
        ranks = np.argsort(np.argsort(-B, axis=1, kind="stable"), axis=1)
        t["rank_stability"] = (ranks == np.argsort(order)).mean(axis=0) if boots else np.nan
        t = t.iloc[order].reset_index(drop=True)
        t.insert(0, "rank", np.arange(1, len(t) + 1))
        self.table_ = t[[c for c in PAIN_COLUMNS if c in t.columns] + ["rating"]]
        P = np.array(prevs) if prevs else point["prevalence"][None, :]
        G = np.array(gaps) if gaps else point["nps_gap"][None, :]
        self.draws_ = {
            k: {"prevalence": P[:, i], "gap": np.nan_to_num(G[:, i])}
            for i, k in enumerate(self._rows["touchpoint"])
        }


def _nps_of(pp: PainPoints, parts: Mapping[str, np.ndarray]) -> np.ndarray:
    overall = _nps(pp._score[pp._commented & np.isfinite(pp._score)])
    return overall - parts["nps_gap"]
