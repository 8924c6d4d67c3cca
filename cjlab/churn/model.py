"""Churn classifiers (scikit-learn), time-aware validation and evaluation.

* :func:`make_pipeline` — preprocessing + model: ``"logit"`` (L2-regularised logistic
  regression on imputed, standardised features) or ``"hgb"`` (HistGradientBoosting, native
  missing values), categorical columns one-hot encoded.
* :class:`CutoffSplit` — time-aware CV over frames stacked at several cut-offs: train on the
  earlier cut-offs, validate on the next one (never on the past).
* :class:`ChurnModel` — grid search with :class:`CutoffSplit`, optional probability
  calibration, ``predict_proba``.
* :func:`evaluate` — ROC-AUC and PR-AUC with bootstrap intervals, Brier score, reliability
  table, cumulative gains / lift, top-decile lift.
* :func:`driver_importance` (permutation importance), :func:`partial_dependence_table`,
  :func:`top_reasons` (per-customer reasons).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
>>> y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * X["a"] - 1)))).astype(int)
>>> m = ChurnModel("logit", tune=False).fit(X, y)
>>> round(evaluate(y, m.predict_proba(X)[:, 1], n_boot=0)["roc_auc"], 2) > 0.8
True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import partial_dependence
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cjlab.churn.features import ChurnDataError

__all__ = [
    "MODELS",
    "ChurnModel",
    "CutoffSplit",
    "Evaluation",
    "compare_models",
    "driver_importance",
    "evaluate",
    "feature_columns",
    "gains_table",
    "make_pipeline",
    "partial_dependence_table",
    "reliability_table",
    "top_reasons",
]

MODELS = ("logit", "hgb")
NON_FEATURES = ("customer_id", "churned", "cutoff", "segment")

#: Related features judged together in :func:`driver_importance` (see ``groups``).
DRIVER_GROUPS: dict[str, list[str]] = {
    "support_tickets": ["support_tickets", "support_tickets_90d", "support_per_year"],
    "promo_share": ["promo_share", "discount_share"],
    "app_share": ["app_share"],
    "mobile_share": ["mobile_share"],
    "satisfaction": ["nps_last", "csat_mean", "n_surveys"],
    "purchase_activity": ["n_orders", "n_purchase_days", "orders_90d", "orders_prev_90d",
                          "order_trend", "recency_days"],
    "spend": ["spend_total", "avg_order_value", "spend_365d"],
    "engagement": ["n_touchpoints", "touch_90d", "days_since_touch", "email_opens_90d", "max_stage"],
}

DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "logit": {"model__C": [0.01, 0.1, 1.0]},
    "hgb": {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [7, 15]},
}


def feature_columns(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of a churn frame."""
    skip = set(NON_FEATURES) | set(exclude)
    num, cat = [], []
    for c in frame.columns:
        if c in skip:
            continue
        if pd.api.types.is_bool_dtype(frame[c]) or pd.api.types.is_numeric_dtype(frame[c]):
            num.append(c)
        elif pd.api.types.is_datetime64_any_dtype(frame[c]):
            continue
        else:
            cat.append(c)
    return num, cat


def make_pipeline(model: str, numeric: Sequence[str], categorical: Sequence[str] = (),
                  random_state: int = 0) -> Pipeline:
    """Preprocessing + classifier for ``model`` in :data:`MODELS`."""
    ohe = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)
    cat_pipe = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                         ("onehot", ohe)])
    if model == "logit":
        num_pipe = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True,
                                                      keep_empty_features=True)),
                             ("scale", StandardScaler())])
        clf = LogisticRegression(C=0.1, max_iter=2000)
    elif model == "hgb":
        num_pipe = "passthrough"
        clf = HistGradientBoostingClassifier(learning_rate=0.05, max_leaf_nodes=15, max_iter=300,
                                             l2_regularization=1.0, early_stopping=True,
                                             validation_fraction=0.15, n_iter_no_change=20,
                                             random_state=random_state)
    else:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    pre = ColumnTransformer([("num", num_pipe, list(numeric)), ("cat", cat_pipe, list(categorical))],
                            verbose_feature_names_out=False)
    return Pipeline([("pre", pre), ("model", clf)])


class CutoffSplit:
    """Time-aware CV: fold *j* trains on cut-offs before the *j*-th and validates on it.

    Parameters
    ----------
    cutoffs : the cut-off of every row (same length as the data).
    min_train : number of earliest cut-offs always in training.
    """

    def __init__(self, cutoffs: Sequence[Any], min_train: int = 1):
        self.cutoffs = pd.to_datetime(pd.Series(np.asarray(cutoffs))).to_numpy()
        self.min_train = min_train

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return max(len(np.unique(self.cutoffs)) - self.min_train, 0)

    def split(self, X=None, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        levels = np.unique(self.cutoffs)
        for c in levels[self.min_train:]:
            yield np.flatnonzero(self.cutoffs < c), np.flatnonzero(self.cutoffs == c)


def _check_labels(y: np.ndarray, what: str = "training") -> None:
    vals, counts = np.unique(y, return_counts=True)
    if len(vals) < 2:
        raise ChurnDataError(
            f"single-class label in the {what} data: all {len(y):,} customers have churned="
            f"{vals[0] if len(vals) else '?'}; choose a longer horizon, another cut-off or "
            "another churn definition")
    if counts.min() < 5:
        raise ChurnDataError(f"only {counts.min()} customers in the rarer class of the {what} "
                             "data; too few to fit or validate a churn model")


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Churn classifier with time-aware tuning and optional calibration.

    Parameters
    ----------
    model : ``"logit"`` or ``"hgb"``.
    tune : grid-search the hyper-parameters (``param_grid`` or a small default grid).
    param_grid : grid for :class:`~sklearn.model_selection.GridSearchCV` (pipeline names,
        e.g. ``{"model__C": [0.1, 1]}``).
    calibrate : ``None``, ``"sigmoid"`` or ``"isotonic"`` (fitted on later cut-offs when
        ``cutoffs`` are given, else 3-fold).
    exclude : columns never used as features.
    random_state : seed of the gradient boosting and the folds.
    params : fixed pipeline parameters (e.g. tuned ones, ``{"model__C": 0.1}``) set before
        fitting (and before any tuning).

    Attributes
    ----------
    estimator_ : the fitted (calibrated) pipeline.
    best_params_ : chosen hyper-parameters (empty without tuning).
    cv_results_ : grid-search table (``None`` without tuning).
    numeric_, categorical_ : feature columns used.
    """

    def __init__(self, model: str = "hgb", tune: bool = True,
                 param_grid: Mapping[str, list] | None = None, calibrate: str | None = None,
                 exclude: Sequence[str] = (), random_state: int = 0,
                 params: Mapping[str, Any] | None = None):
        self.model = model
        self.params = params
        self.tune = tune
        self.param_grid = param_grid
        self.calibrate = calibrate
        self.exclude = exclude
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any, cutoffs: Sequence[Any] | None = None) -> ChurnModel:
        """Fit on features ``X`` and labels ``y``; ``cutoffs`` (one per row) enables time-aware CV."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        y = np.asarray(y).astype(int)
        _check_labels(y)
        if cutoffs is None and "cutoff" in X.columns:
            cutoffs = X["cutoff"].to_numpy()
        self.numeric_, self.categorical_ = feature_columns(X, self.exclude)
        Xf = X[self.numeric_ + self.categorical_]
        pipe = make_pipeline(self.model, self.numeric_, self.categorical_, self.random_state)
        if self.params:
            pipe.set_params(**dict(self.params))
        cv = (CutoffSplit(cutoffs) if cutoffs is not None and len(np.unique(cutoffs)) > 1
              else StratifiedKFold(3, shuffle=True, random_state=self.random_state))
        self.cv_results_, self.best_params_ = None, {}
        if self.tune:
            grid = dict(self.param_grid or DEFAULT_GRIDS[self.model])
            gs = GridSearchCV(pipe, grid, scoring="roc_auc", cv=list(cv.split(Xf, y)),
                              refit=False, n_jobs=1, error_score="raise")
            gs.fit(Xf, y)
            self.cv_results_ = pd.DataFrame(gs.cv_results_)
            self.best_params_ = gs.best_params_
            pipe.set_params(**gs.best_params_)
        if self.calibrate:
            est = CalibratedClassifierCV(pipe, method=self.calibrate, cv=list(cv.split(Xf, y)))
            est.fit(Xf, y)
        else:
            est = pipe.fit(Xf, y)
        self.estimator_ = est
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(self.numeric_ + self.categorical_, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``[P(stay), P(churn)]`` per row."""
        return self.estimator_.predict_proba(X[list(self.feature_names_in_)])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


# ---------------------------------------------------------------- evaluation
def reliability_table(y: Any, p: Any, n_bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Observed churn rate against mean predicted probability per bin (reliability curve)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    else:
        edges = np.linspace(0, 1, n_bins + 1)
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    df = pd.DataFrame({"bin": b, "y": y, "p": p}).groupby("bin")
    out = pd.DataFrame({"mean_predicted": df["p"].mean(), "observed_rate": df["y"].mean(),
                        "n": df.size()}).reset_index(drop=True)
    se = np.sqrt(out["observed_rate"] * (1 - out["observed_rate"]) / out["n"])
    out["low"], out["high"] = (out["observed_rate"] - 1.96 * se).clip(0), (out["observed_rate"] + 1.96 * se).clip(upper=1)
    return out


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
        rows.append({"contact_share": m / n, "customers": m, "churners_captured": ys[:m].sum(),
                     "gain": captured, "lift": captured / (m / n) if m else np.nan,
                     "churn_rate_in_group": ys[:m].mean() if m else np.nan})
    return pd.DataFrame(rows)


@dataclass
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
    reliability: pd.DataFrame = field(repr=False)
    gains: pd.DataFrame = field(repr=False)
    gains_curve: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def summary(self) -> pd.DataFrame:
        """One row per metric with its interval."""
        return pd.DataFrame([
            {"metric": "ROC-AUC", "value": self.roc_auc, "low": self.roc_auc_ci[0], "high": self.roc_auc_ci[1]},
            {"metric": "PR-AUC", "value": self.pr_auc, "low": self.pr_auc_ci[0], "high": self.pr_auc_ci[1]},
            {"metric": "Brier score", "value": self.brier, "low": np.nan, "high": np.nan},
            {"metric": "Brier score of base rate", "value": self.brier_reference, "low": np.nan, "high": np.nan},
            {"metric": "Top-decile lift", "value": self.top_decile_lift, "low": np.nan, "high": np.nan},
            {"metric": "Churn rate", "value": self.base_rate, "low": np.nan, "high": np.nan},
        ])


def evaluate(y: Any, p: Any, n_boot: int = 300, level: float = 0.95, seed: int = 0,
             n_bins: int = 10) -> Evaluation:
    """ROC-AUC / PR-AUC with percentile-bootstrap intervals, Brier score, reliability, gains.

    Parameters
    ----------
    y : 0/1 labels; p : predicted churn probabilities.
    n_boot : bootstrap resamples (0: no intervals). Resamples are stratified by class so both
        classes are always present.
    """
    y, p = np.asarray(y).astype(int), np.asarray(p, float)
    if len(y) != len(p):
        raise ValueError(f"y has {len(y)} rows but p has {len(p)}")
    _check_labels(y, "evaluation")
    auc, ap = roc_auc_score(y, p), average_precision_score(y, p)
    ci_auc = ci_ap = (np.nan, np.nan)
    if n_boot:
        rng = np.random.default_rng(seed)
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        aucs, aps = np.empty(n_boot), np.empty(n_boot)
        for b in range(n_boot):
            idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
            aucs[b] = roc_auc_score(y[idx], p[idx])
            aps[b] = average_precision_score(y[idx], p[idx])
        a = (1 - level) / 2
        ci_auc = tuple(np.quantile(aucs, [a, 1 - a]))
        ci_ap = tuple(np.quantile(aps, [a, 1 - a]))
    gains = gains_table(y, p, n_bins)
    base = y.mean()
    return Evaluation(n=len(y), base_rate=float(base), roc_auc=float(auc), roc_auc_ci=ci_auc,
                      pr_auc=float(ap), pr_auc_ci=ci_ap, brier=float(brier_score_loss(y, p)),
                      brier_reference=float(base * (1 - base)),
                      top_decile_lift=float(gains["lift"].iloc[0]),
                      reliability=reliability_table(y, p, n_bins), gains=gains,
                      gains_curve=gains_table(y, p, 50))


# ---------------------------------------------------------------- drivers
def driver_importance(model: ChurnModel, X: pd.DataFrame, y: Any, n_repeats: int = 5,
                      seed: int = 0, max_rows: int | None = 20000,
                      groups: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Permutation importance: drop in held-out ROC-AUC when a feature is shuffled.

    Parameters
    ----------
    model : fitted :class:`ChurnModel`; X, y : held-out features and labels.
    n_repeats : shuffles per feature (the mean and standard deviation are reported).
    max_rows : evaluate on a random subset of this many rows.
    groups : optional ``{name: [columns]}``; the columns of a group are shuffled *together*
        (one permutation of rows), so related features (e.g. all support-ticket counts) are
        judged as one driver instead of sharing the credit. Columns in no group stand alone.

    Returns
    -------
    DataFrame ``feature, importance, std, rank`` (largest first).
    """
    cols = list(model.feature_names_in_)
    Xf, yv = X[cols].reset_index(drop=True), np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    if max_rows and len(Xf) > max_rows:
        idx = rng.choice(len(Xf), max_rows, replace=False)
        Xf, yv = Xf.iloc[idx].reset_index(drop=True), yv[idx]
    _check_labels(yv, "importance")
    grouped: dict[str, list[str]] = {}
    used: set[str] = set()
    for name, members in (groups or {}).items():
        m = [c for c in members if c in cols]
        if m:
            grouped[name] = m
            used.update(m)
    for c in cols:
        if c not in used:
            grouped[c] = [c]
    base = roc_auc_score(yv, model.predict_proba(Xf)[:, 1])
    rows = []
    for name, members in grouped.items():
        drops = []
        for _ in range(n_repeats):
            perm = rng.permutation(len(Xf))
            Xp = Xf.copy()
            Xp[members] = Xf[members].iloc[perm].to_numpy()
            drops.append(base - roc_auc_score(yv, model.predict_proba(Xp)[:, 1]))
        rows.append({"feature": name, "importance": float(np.mean(drops)),
                     "std": float(np.std(drops)), "columns": ", ".join(members)})
    out = pd.DataFrame(rows).sort_values("importance", ascending=False).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def partial_dependence_table(model: ChurnModel, X: pd.DataFrame, features: Sequence[str],
                             grid_resolution: int = 20, max_rows: int = 5000,
                             seed: int = 0) -> pd.DataFrame:
    """Average predicted churn probability over a grid of each feature (partial dependence)."""
    Xf = X[list(model.feature_names_in_)]
    if len(Xf) > max_rows:
        Xf = Xf.sample(max_rows, random_state=seed)
    rows = []
    for f in features:
        if f not in model.numeric_:
            continue
        r = partial_dependence(model.estimator_, Xf, [f], grid_resolution=grid_resolution,
                               percentiles=(0.02, 0.98), kind="average")
        for v, a in zip(r["grid_values"][0], r["average"][0]):
            rows.append({"feature": f, "value": float(v), "churn_probability": float(a)})
    return pd.DataFrame(rows, columns=["feature", "value", "churn_probability"])


def top_reasons(model: ChurnModel, X: pd.DataFrame, features: Sequence[str], k: int = 3,
                reference: pd.DataFrame | None = None, min_delta: float = 0.005) -> pd.Series:
    """Per customer, the features that raise their churn probability most.

    For each candidate feature the customer's value is replaced by the typical (median) value
    of ``reference`` (default ``X``); the reasons are the features whose replacement lowers the
    predicted probability most (only drops of at least ``min_delta`` are listed).

    Returns
    -------
    Series of ``"; "``-joined feature names, aligned with ``X``.
    """
    ref = X if reference is None else reference
    cols = list(model.feature_names_in_)
    Xf = X[cols]
    base = model.predict_proba(Xf)[:, 1]
    feats = [f for f in features if f in model.numeric_]
    deltas = np.zeros((len(Xf), len(feats)))
    for j, f in enumerate(feats):
        Xc = Xf.copy()
        Xc[f] = float(np.nanmedian(ref[f].to_numpy(dtype=float)))
        deltas[:, j] = base - model.predict_proba(Xc)[:, 1]
    order = np.argsort(-deltas, axis=1)[:, :k]
    names = np.array(feats, dtype=object)
    out = []
    for i in range(len(Xf)):
        sel = [names[j] for j in order[i] if deltas[i, j] >= min_delta]
        out.append("; ".join(sel))
    return pd.Series(out, index=X.index, name="top_reasons")


def compare_models(train: pd.DataFrame, test: pd.DataFrame, models: Sequence[str] = MODELS,
                   label: str = "churned", n_boot: int = 200, **kwargs: Any
                   ) -> tuple[pd.DataFrame, dict[str, ChurnModel], dict[str, Evaluation]]:
    """Fit each model on ``train`` (time-aware CV over its cut-offs) and score on ``test``.

    Returns
    -------
    (table of metrics per model, fitted models, evaluations)
    """
    fitted, evals, rows = {}, {}, []
    for name in models:
        m = ChurnModel(name, **kwargs).fit(train.drop(columns=[label]), train[label])
        e = evaluate(test[label], m.predict_proba(test)[:, 1], n_boot=n_boot)
        fitted[name], evals[name] = m, e
        rows.append({"model": name, "roc_auc": e.roc_auc, "roc_auc_low": e.roc_auc_ci[0],
                     "roc_auc_high": e.roc_auc_ci[1], "pr_auc": e.pr_auc, "brier": e.brier,
                     "top_decile_lift": e.top_decile_lift, **{f"param_{k.split('__')[-1]}": v
                                                             for k, v in m.best_params_.items()}})
    return pd.DataFrame(rows), fitted, evals



