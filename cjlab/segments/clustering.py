"""Behavioural segments: clusters of customers by behaviour, with the number of segments chosen
openly by several criteria and names a person would use.

:class:`BehaviouralSegments` is a scikit-learn estimator: imputation and scaling are a
``Pipeline`` (``SimpleImputer`` -> ``StandardScaler`` -> KMeans or a Gaussian mixture),
``fit`` returns the estimator, learned attributes end in ``_``. The segments are named from
their profiles (standardised means): the features on which a segment deviates most from the
average customer become words (:data:`DESCRIPTORS`), e.g. "Mobile & promotion-driven".

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"device_mobile": np.r_[rng.normal(0.9, .05, 50), rng.normal(0.1, .05, 50)],
...                   "spend_mean": np.r_[rng.normal(3, .1, 50), rng.normal(5, .1, 50)]})
>>> seg = BehaviouralSegments(k_range=[2], n_boot=0, exclude=()).fit(X)
>>> sorted(seg.names_.values())
['High spend', 'Low spend & mobile']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "DESCRIPTORS",
    "LIFECYCLE_FEATURES",
    "BehaviouralSegments",
    "describe_profiles",
    "name_segments",
    "profiles",
]

#: Features describing where a customer is in the lifecycle rather than how they behave;
#: left out of clustering by default (they mostly separate buyers from prospects).
LIFECYCLE_FEATURES = ("touches", "stage_reached", "orders", "support_tickets")

#: Words used in segment names and descriptions: feature -> (word when high, word when low).
DESCRIPTORS: dict[str, tuple[str | None, str | None]] = {
    "device_mobile": ("mobile", None),
    "device_app": ("app users", None),
    "device_desktop": ("desktop", None),
    "device_offline": ("offline", None),
    "channel_paid_search": ("search-led", None),
    "channel_social": ("social media", None),
    "channel_display": ("display ads", None),
    "channel_email": ("e-mail engaged", None),
    "channel_app": ("app users", None),
    "channel_web": ("web", None),
    "channel_store": ("store", None),
    "orders": ("frequent buyers", "rare purchases"),
    "spend_mean": ("high spend", "low spend"),
    "promo_share": ("promotion-driven", "few promotions"),
    "discount_share": ("discount-seeking", None),
    "holiday_share": ("seasonal", None),
    "birthday_share": ("birthday buyers", None),
    "order_store": ("store", None),
    "order_phone": ("phone", None),
    "order_online": ("online", None),
    "stage_reached": ("deep in the lifecycle", "early-stage prospects"),
    "support_tickets": ("support-heavy", None),
    "touches": ("highly engaged", "few touches"),
    "survey_rating": ("satisfied", "dissatisfied"),
    "survey_nps": ("promoters", "detractors"),
}
_PREFIX_WORDS = {"device_": "{}", "channel_": "{}", "order_": "{} orders", "category_": "{}"}


def _descriptor(feature: str) -> tuple[str | None, str | None]:
    if feature in DESCRIPTORS:
        return DESCRIPTORS[feature]
    for prefix, template in _PREFIX_WORDS.items():
        if feature.startswith(prefix):  # a share: only a high share says something
            return template.format(feature[len(prefix) :].replace("_", " ")), None
    words = feature.replace("_", " ")
    return f"high {words}", f"low {words}"


def _words(row: pd.Series, n_words: int, threshold: float) -> list[str]:
    """Words for one segment's profile, strongest deviation first."""
    words: list[str] = []
    for feat in row.abs().sort_values(ascending=False, kind="stable").index:
        z = row[feat]
        if abs(z) < threshold or len(words) >= n_words:
            break
        hi, lo = _descriptor(feat)
        w = hi if z > 0 else lo
        if w and w not in words:
            words.append(w)
    return words


def describe_profiles(
    profiles: pd.DataFrame, n_words: int = 4, threshold: float = 0.4
) -> pd.Series:
    """Short descriptions ("mobile, promotion-driven, seasonal") from standardised profiles.

    For each segment, the features whose standardised mean is furthest from 0 (at least
    ``threshold`` SD) are turned into words with :data:`DESCRIPTORS`, strongest first.
    """
    out = {
        seg: ", ".join(_words(row, n_words, threshold)) or "average on every feature"
        for seg, row in profiles.iterrows()
    }
    return pd.Series(out, name="description")


def name_segments(profiles: pd.DataFrame, threshold: float = 0.4) -> dict[Any, str]:
    """A readable, unique name per segment from its two strongest traits ("Mobile & high spend").

    Segments that would share a name get their third trait, then a number; a segment close to
    the average on every feature is "Average customers".
    """
    words = {seg: _words(row, 4, threshold) for seg, row in profiles.iterrows()}
    names: dict[Any, str] = {}
    for seg, w in words.items():
        name = " & ".join(w[:2]) if w else "average customers"
        if name in names.values() and len(w) > 2:
            name = f"{name}, {w[2]}"
        base, i = name, 2
        while name in names.values():
            name, i = f"{base} ({i})", i + 1
        names[seg] = name[0].upper() + name[1:]
    return names


def profiles(features: pd.DataFrame, labels: Any) -> pd.DataFrame:
    """Standardised means per segment: (segment mean - overall mean) / overall SD."""
    mu, sd = features.mean(), features.std(ddof=0).replace(0, np.nan)
    z = (features - mu) / sd
    return z.groupby(np.asarray(labels)).mean().fillna(0.0)


def _prep() -> list[tuple[str, Any]]:
    return [
        ("impute", SimpleImputer(strategy="mean", keep_empty_features=True)),
        ("scale", StandardScaler()),
    ]


class BehaviouralSegments(ClusterMixin, BaseEstimator):
    """Behavioural segments with k chosen by several criteria (silhouette, BIC, stability).

    Parameters
    ----------
    k_range : candidate numbers of segments.
    method : ``"kmeans"`` or ``"gmm"`` (Gaussian mixture, diagonal covariances) for the final
        segments; both are always fitted for the selection table.
    k : force the number of segments (the selection table is still computed).
    n_boot : bootstrap resamples for stability (mean adjusted Rand index between the
        clustering of a resample, applied to all customers, and the full-data clustering).
    sample : customers used to compare k (silhouette, BIC and the bootstrap fits run on a random
        subsample of this size; the final segments are fitted on everyone).
    exclude : features left out of the clustering (default :data:`LIFECYCLE_FEATURES`); they
        still appear in the profiles.
    max_missing_gmm : the Gaussian mixture uses only features missing (imputed) for at most
        this share of customers; KMeans uses all.
    random_state : seed.

    Attributes
    ----------
    features_ : features used for clustering; ``gmm_features_`` those of the mixture model.
    preprocess_ : the fitted imputation and scaling ``Pipeline`` (used to compare k).
    selection_ : DataFrame k, silhouette (KMeans), bic (GMM), stability (KMeans) and which k
        each criterion picks.
    choices_ : dict criterion -> k; ``agree_`` whether they all agree.
    k_ : the number of segments used (majority of the criteria; ties -> the most stable).
    model_ : the fitted ``Pipeline`` (impute, scale, cluster) of the final segments.
    labels_ : Series customer_id -> segment number (segments sorted by size, 0 = largest).
    profiles_ : standardised means per segment (all features); ``descriptions_`` short texts
        from them; ``names_`` readable names from the features used for clustering;
        ``sizes_`` customers per segment.
    """

    def __init__(
        self,
        k_range: Sequence[int] = range(2, 8),
        method: str = "kmeans",
        k: int | None = None,
        n_boot: int = 5,
        sample: int = 4000,
        exclude: Sequence[str] = LIFECYCLE_FEATURES,
        max_missing_gmm: float = 0.2,
        random_state: int = 0,
    ):
        self.k_range = k_range
        self.method = method
        self.k = k
        self.n_boot = n_boot
        self.sample = sample
        self.exclude = exclude
        self.max_missing_gmm = max_missing_gmm
        self.random_state = random_state

    def _estimator(self, k: int, method: str, seed: int) -> Any:
        if method == "kmeans":
            return KMeans(n_clusters=k, n_init=3, max_iter=100, random_state=seed)
        if method == "gmm":
            return GaussianMixture(
                n_components=k,
                covariance_type="diag",
                n_init=1,
                reg_covar=0.05,
                max_iter=100,
                random_state=seed,
            )
        raise ValueError(f"method must be 'kmeans' or 'gmm', got {method!r}")

    def _fit_one(self, X: np.ndarray, k: int, method: str, seed: int) -> Any:
        cols = X if method == "kmeans" else X[:, self._gmm_idx]
        return self._estimator(k, method, seed).fit(cols)

    def _columns(self, features: pd.DataFrame) -> list[str]:
        """Features that vary among the customers who have a value (and are not excluded)."""
        sd = features.std(ddof=0)
        use = [c for c in features.columns if c not in set(self.exclude) and sd[c] > 0]
        if not use:
            raise ValueError("no varying features left to cluster on")
        return use

    def _criteria(self, X: np.ndarray, k: int, rng: np.random.Generator) -> dict[str, float]:
        km = self._fit_one(X, k, "kmeans", self.random_state)
        gm = self._fit_one(X, k, "gmm", self.random_state)
        stab = []
        for b in range(self.n_boot):
            idx = rng.choice(len(X), size=len(X), replace=True)
            kb = self._fit_one(X[idx], k, "kmeans", self.random_state + b + 1)
            stab.append(adjusted_rand_score(km.labels_, kb.predict(X)))
        return {
            "k": k,
            "silhouette": silhouette_score(X, km.labels_),
            "bic": gm.bic(X[:, self._gmm_idx]),
            "stability": float(np.mean(stab)) if stab else np.nan,
            "stability_min": float(np.min(stab)) if stab else np.nan,
        }

    def _select(self, X_all: np.ndarray) -> None:
        """Compare the candidate k on a subsample: selection_, choices_, agree_, k_."""
        rng = np.random.default_rng(self.random_state)
        X = X_all[rng.choice(len(X_all), size=min(self.sample, len(X_all)), replace=False)]
        ks = [k for k in self.k_range if 2 <= k < len(X)]
        if not ks:
            raise ValueError(
                f"too few customers ({len(X)}) for the numbers of segments {list(self.k_range)}"
            )
        sel = pd.DataFrame([self._criteria(X, k, rng) for k in ks])
        choices = {
            "silhouette": int(sel.loc[sel["silhouette"].idxmax(), "k"]),
            "bic": int(sel.loc[sel["bic"].idxmin(), "k"]),
        }
        if self.n_boot:
            # most clusters among the k whose stability is within 0.02 of the best (stable, finer)
            best = sel["stability"].max()
            choices["stability"] = int(sel.loc[sel["stability"] >= best - 0.02, "k"].max())
        for crit, kk in choices.items():
            sel[f"chosen_by_{crit}"] = sel["k"] == kk
        self.selection_, self.choices_ = sel, choices
        self.agree_ = len(set(choices.values())) == 1
        if self.k is not None:
            self.k_ = int(self.k)
            return
        votes = pd.Series(list(choices.values())).value_counts()
        top = votes[votes == votes.max()].index
        st = sel.set_index("k")["stability" if self.n_boot else "silhouette"]
        self.k_ = int(max(top, key=lambda kk: st.get(kk, -np.inf)))

    def fit(self, X: pd.DataFrame, y: Any = None) -> BehaviouralSegments:
        """Impute and scale the features, compare k by all criteria, fit the final segments.

        Parameters
        ----------
        X : features, one row per customer (index customer_id), e.g. from
            :func:`cjlab.features.behaviour.behaviour_features`; NaN = unknown (imputed).
        y : ignored.
        """
        feats = pd.DataFrame(X).astype(float)
        missing = feats.isna().mean()
        use = self._columns(feats)
        self.features_ = use
        self.gmm_features_ = [c for c in use if missing[c] <= self.max_missing_gmm] or use
        self._gmm_idx = np.array([use.index(c) for c in self.gmm_features_])
        self.preprocess_ = Pipeline(_prep()).fit(feats[use])
        self._select(self.preprocess_.transform(feats[use]))
        cols = use if self.method == "kmeans" else self.gmm_features_
        est = self._estimator(self.k_, self.method, self.random_state)
        self.model_ = Pipeline([*_prep(), ("cluster", est)]).fit(feats[cols])
        raw = self.model_.predict(feats[cols])
        order = pd.Series(raw).value_counts().index  # 0 = largest segment
        self._relabel = {old: new for new, old in enumerate(order)}
        self.labels_ = pd.Series([self._relabel[v] for v in raw], index=feats.index, name="segment")
        self.sizes_ = self.labels_.value_counts().sort_index()
        self.profiles_ = profiles(feats.fillna(feats.mean()).fillna(0.0), self.labels_.to_numpy())
        self.descriptions_ = describe_profiles(self.profiles_)
        self.names_ = name_segments(self.profiles_[use])  # named by what the grouping used
        return self

    def predict(self, X: pd.DataFrame) -> pd.Series:
        """Segment number of new customers (same features as in :meth:`fit`)."""
        feats = pd.DataFrame(X).astype(float)
        cols = self.features_ if self.method == "kmeans" else self.gmm_features_
        raw = self.model_.predict(feats[cols])
        return pd.Series([self._relabel[v] for v in raw], index=feats.index, name="segment")

    @property
    def segments_(self) -> pd.Series:
        """Series customer_id -> segment name."""
        return self.labels_.map(self.names_).rename("segment")

    def disagreement(self) -> str:
        """One sentence on whether the criteria agree on k (for analysts)."""
        parts = ", ".join(f"{c} → {k}" for c, k in self.choices_.items())
        if self.agree_:
            return f"All criteria choose k = {self.k_} ({parts})."
        return f"The criteria disagree ({parts}); k = {self.k_} is used (majority, ties to the most stable)."

    def summary(self, value: pd.Series | None = None) -> pd.DataFrame:
        """Segments with label, name, size, share, description (revenue share when ``value`` is given)."""
        out = pd.DataFrame({"label": self.sizes_.index, "customers": self.sizes_.to_numpy()})
        out.insert(1, "segment", out["label"].map(self.names_))
        out["share"] = out["customers"] / out["customers"].sum()
        out["description"] = out["label"].map(self.descriptions_)
        if value is not None:
            v = value.reindex(self.labels_.index).fillna(0).groupby(self.labels_).sum()
            out["revenue_share"] = out["label"].map(v / v.sum())
        return out
