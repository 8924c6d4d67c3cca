"""Themes in free-text comments (German and English) with TF-IDF and k-means or NMF.

Each theme gets its top terms, its share of comments, the mean NPS (0–10) and NPS
(points) of its commenters, a few example comments, and — for themes whose commenters
are more often detractors than average — a priority ``share × NPS gap`` (gap = overall NPS
of commenters minus the theme's NPS, in points). Detractor themes come first: the
pain-point list.

Example comments are redacted (e-mail addresses, phone numbers and any customer names
passed in are replaced, :func:`cjlab.survey.text.redact`) but *not* HTML-escaped here: the
report helpers in :mod:`cjlab.notebook` escape every cell, so ``<script>`` shows as text.

Examples
--------
>>> import pandas as pd
>>> text = pd.Series(["late delivery", "delivery late again", "parcel late"] * 4
...                  + ["great quality", "quality great, happy", "happy with quality"] * 4)
>>> ct = CommentThemes(n_themes=2, min_df=1).fit(text, pd.Series([2] * 12 + [10] * 12))
>>> ct.pain_points()["top_terms"].str.contains("late").tolist()
[True]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .checks import SCALES, SurveyInputError, check_scores
from .text import GLOSSARY_DE_EN, make_analyzer, redact

#: Columns of :attr:`CommentThemes.themes_` when NPS scores are given.
THEME_COLUMNS = [
    "theme",
    "label",
    "top_terms",
    "n",
    "share",
    "mean_nps",
    "nps",
    "nps_gap",
    "detractor_share",
    "pain_point",
    "priority",
    "examples",
]


def _nps_points(s: np.ndarray) -> float:
    """NPS in points of 0–10 scores (no missing values)."""
    return float(100 * ((s >= 9).mean() - (s <= 6).mean()))


class CommentThemes:
    """Find themes in comments with TF-IDF and spherical k-means (or NMF).

    Parameters
    ----------
    n_themes : number of themes.
    method : ``"kmeans"`` (default; one theme per comment, spherical k-means on the TF-IDF
        rows, 10 restarts — recovered planted topics in short comments where NMF split a
        large topic and merged two small ones) or ``"nmf"`` (non-negative matrix
        factorisation; a comment's theme is its largest loading).
    n_terms : top terms listed per theme.
    n_examples : example comments per theme.
    min_df : a term must occur in at least this many comments.
    max_features : vocabulary size cap.
    extra_stop_words : added to the built-in German + English lists.
    glossary : term -> canonical term applied after tokenising (default
        :data:`cjlab.survey.text.GLOSSARY_DE_EN`, so German and English comments on one topic
        meet).
    random_state : seed of k-means / NMF.

    Attributes
    ----------
    themes_ : DataFrame ordered pain points first: theme, label, top_terms, n, share,
        mean_nps (0–10 mean of commenters), nps (points), nps_gap, detractor_share,
        pain_point (bool), priority, examples.
    assignment_ : Series (index of the input) with each comment's theme (-1 = none).
    overall_nps_ : NPS (points) of all commenters with a score.
    n_comments_ : non-empty comments used.
    vectorizer_, model_ : the fitted TF-IDF vectoriser and clustering model.
    """

    def __init__(
        self,
        n_themes: int = 6,
        method: str = "kmeans",
        n_terms: int = 8,
        n_examples: int = 3,
        min_df: int = 3,
        max_features: int = 3000,
        extra_stop_words: Sequence[str] = (),
        glossary: dict[str, str] | None = None,
        random_state: int | None = 0,
    ):
        self.n_themes = n_themes
        self.method = method
        self.n_terms = n_terms
        self.n_examples = n_examples
        self.min_df = min_df
        self.max_features = max_features
        self.extra_stop_words = extra_stop_words
        self.glossary = glossary
        self.random_state = random_state

    def fit(
        self, comments: pd.Series, nps: pd.Series | None = None, names: Iterable[str] = ()
    ) -> CommentThemes:
        """Fit on ``comments`` (NaN/empty ignored).

        Parameters
        ----------
        comments : free-text comments.
        nps : optional likelihood-to-recommend scores (0–10) aligned with ``comments`` by index;
            they give each theme its NPS and mark the pain points.
        names : customer names to redact from the example comments.

        Returns
        -------
        self
        """
        if self.method not in ("kmeans", "nmf"):
            raise ValueError("method must be 'kmeans' or 'nmf'")
        comments = pd.Series(comments)
        text = comments.fillna("").astype(str).str.strip()
        text = text[text.str.len() > 0]
        score = None
        if nps is not None:
            nps = pd.Series(nps, index=comments.index)
            check_scores(nps, scale=SCALES["nps"], name="nps")
            score = nps.loc[text.index].to_numpy(float)
        if len(text) < self.n_themes * 3:
            raise SurveyInputError(
                f"comments: only {len(text)} non-empty comments for {self.n_themes} themes."
            )
        X = self._vectorise(text)
        W, H, assign = self._cluster(X)
        self.assignment_ = pd.Series(-1, index=comments.index, name="theme")
        self.assignment_.loc[text.index] = assign
        terms = np.array(self.vectorizer_.get_feature_names_out())
        rows = [
            {
                **self._describe(k, terms, H, W, assign, text, names),
                **_theme_scores(score, assign == k),
            }
            for k in range(self.n_themes)
        ]
        self.overall_nps_ = np.nan
        if score is not None and (~np.isnan(score)).any():
            self.overall_nps_ = _nps_points(score[~np.isnan(score)])
        self.themes_ = _order_themes(pd.DataFrame(rows), score, self.overall_nps_)
        self.n_comments_ = len(text)
        return self

    def _vectorise(self, text: pd.Series):
        """TF-IDF matrix of the comments (sets ``vectorizer_``)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        analyzer = make_analyzer(
            self.extra_stop_words, GLOSSARY_DE_EN if self.glossary is None else self.glossary
        )
        vec = TfidfVectorizer(
            analyzer=analyzer,
            min_df=min(self.min_df, max(1, len(text) // 20)),
            max_df=0.5,
            max_features=self.max_features,
            sublinear_tf=True,
        )
        X = vec.fit_transform(text)
        if X.shape[1] < self.n_themes:
            raise SurveyInputError(
                f"comments: vocabulary of {X.shape[1]} terms is too small for "
                f"{self.n_themes} themes."
            )
        self.vectorizer_ = vec
        return X

    def _cluster(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Comment-theme loadings W, theme-term weights H and each comment's theme (sets ``model_``)."""
        from sklearn.cluster import KMeans
        from sklearn.decomposition import NMF

        if self.method == "nmf":
            model = NMF(
                n_components=self.n_themes,
                init="nndsvda",
                random_state=self.random_state,
                max_iter=500,
            )
            W = model.fit_transform(X)
            H = model.components_
            assign = np.where(W.max(axis=1) > 0, W.argmax(axis=1), -1)
        else:
            model = KMeans(n_clusters=self.n_themes, n_init=10, random_state=self.random_state)
            labels = model.fit_predict(X)
            H = np.clip(model.cluster_centers_, 0, None)
            W = np.asarray(X @ H.T)  # similarity of each comment to each theme centre
            assign = np.where(np.asarray(X.sum(axis=1)).ravel() > 0, labels, -1)
        self.model_ = model
        return W, H, assign

    def _describe(
        self,
        k: int,
        terms: np.ndarray,
        H: np.ndarray,
        W: np.ndarray,
        assign: np.ndarray,
        text: pd.Series,
        names: Iterable[str],
    ) -> dict:
        """Theme ``k``: label, top terms, size and the most typical (redacted) example comments."""
        o = np.argsort(-H[k])[: self.n_terms]
        o = o[H[k, o] >= 0.1 * H[k, o[0]]]  # leave out terms barely in the theme
        top = terms[o]
        m = assign == k
        idx = np.flatnonzero(m)
        ex: list[str] = []
        for i in idx[np.argsort(-W[idx, k])]:  # most typical first, no repeats
            e = redact(text.iloc[i], names)[:240]
            if e not in ex:
                ex.append(e)
            if len(ex) == self.n_examples:
                break
        return {
            "theme": k,
            "label": " / ".join(top[:3]),
            "top_terms": ", ".join(top),
            "n": int(m.sum()),
            "share": float(m.mean()),
            "examples": " · ".join(f"“{e}”" for e in ex),
        }

    def pain_points(self) -> pd.DataFrame:
        """Detractor themes only, highest priority first."""
        if "pain_point" not in self.themes_:
            raise SurveyInputError("pain points need NPS scores: fit with nps=...")
        return self.themes_[self.themes_["pain_point"]].reset_index(drop=True)


def _theme_scores(score: np.ndarray | None, members: np.ndarray) -> dict[str, float]:
    """Mean score, NPS and detractor share of a theme's commenters (empty without scores)."""
    if score is None:
        return {}
    sk = score[members & ~np.isnan(score)]
    if not len(sk):
        return {"mean_nps": np.nan, "nps": np.nan, "detractor_share": np.nan}
    return {
        "mean_nps": float(sk.mean()),
        "nps": _nps_points(sk),
        "detractor_share": float((sk <= 6).mean()),
    }


def _order_themes(t: pd.DataFrame, score: np.ndarray | None, overall: float) -> pd.DataFrame:
    """Pain points first (by priority = share × NPS gap), then the others by share."""
    if score is None:
        cols = [c for c in THEME_COLUMNS if c in t]
        return t.sort_values("share", ascending=False)[cols].reset_index(drop=True)
    s = score[~np.isnan(score)]
    overall_det = float((s <= 6).mean()) if len(s) else np.nan
    t["nps_gap"] = overall - t["nps"]
    t["pain_point"] = (t["detractor_share"] > overall_det) & (t["nps_gap"] > 0)
    t["priority"] = np.where(t["pain_point"], t["share"] * t["nps_gap"], 0.0)
    t = t.sort_values(["pain_point", "priority", "share"], ascending=[False, False, False])
    return t[THEME_COLUMNS].reset_index(drop=True)


__all__ = ["THEME_COLUMNS", "CommentThemes"]
