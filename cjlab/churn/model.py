"""Churn classifiers (scikit-learn), time-aware validation and evaluation.

* :func:`make_pipeline` — preprocessing + model: ``"logit"`` (L2-regularised logistic
  regression on imputed, standardised features) or ``"hgb"`` (HistGradientBoosting, native
  missing values), categorical columns one-hot encoded.
* :class:`CutoffSplit` — time-aware CV over frames stacked at several cut-offs: train on the
  earlier cut-offs, validate on the next one (never on the past).
* :class:`ChurnModel` — grid search with :class:`CutoffSplit`, optional probability
  calibration, ``predict_proba``.
* :func:`compare_models` — each model tuned on the training frames, judged on the test frame
  (:func:`cjlab.churn.evaluation.evaluate`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
>>> y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * X["a"] - 1)))).astype(int)
>>> m = ChurnModel("logit", tune=False).fit(X, y)
>>> m.predict_proba(X).shape
(2000, 2)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cjlab.churn.evaluation import Evaluation, check_labels, evaluate

__all__ = [
    "MODELS",
    "ChurnModel",
    "CutoffSplit",
    "compare_models",
    "feature_columns",
    "make_pipeline",
]

MODELS = ("logit", "hgb")
NON_FEATURES = ("customer_id", "churned", "cutoff", "segment")

DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "logit": {"model__C": [0.01, 0.1, 1.0]},
    "hgb": {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [7, 15]},
}


def feature_columns(
    frame: pd.DataFrame, exclude: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of a churn frame (all-missing columns left out)."""
    skip = set(NON_FEATURES) | set(exclude)
    num, cat = [], []
    for c in frame.columns:
        if c in skip or not frame[c].notna().any():
            continue  # an all-missing column (an optional input absent) is no feature
        if pd.api.types.is_bool_dtype(frame[c]) or pd.api.types.is_numeric_dtype(frame[c]):
            num.append(c)
        elif pd.api.types.is_datetime64_any_dtype(frame[c]):
            continue
        else:
            cat.append(c)
    return num, cat


def make_pipeline(
    model: str, numeric: Sequence[str], categorical: Sequence[str] = (), random_state: int = 0
) -> Pipeline:
    """Preprocessing + classifier for ``model`` in :data:`MODELS`."""
    ohe = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)
    cat_pipe = Pipeline(
        [("impute", SimpleImputer(strategy="constant", fill_value="missing")), ("onehot", ohe)]
    )
    if model == "logit":
        num_pipe = Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                ),
                ("scale", StandardScaler()),
            ]
        )
        clf = LogisticRegression(C=0.1, max_iter=2000)
    elif model == "hgb":
        num_pipe = "passthrough"
        clf = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_leaf_nodes=15,
            max_iter=300,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=random_state,
        )
    else:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    pre = ColumnTransformer(
        [("num", num_pipe, list(numeric)), ("cat", cat_pipe, list(categorical))],
        verbose_feature_names_out=False,
    )
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
        for c in levels[self.min_train :]:
            yield np.flatnonzero(self.cutoffs < c), np.flatnonzero(self.cutoffs == c)


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

    def __init__(
        self,
        model: str = "hgb",
        tune: bool = True,
        param_grid: Mapping[str, list] | None = None,
        calibrate: str | None = None,
        exclude: Sequence[str] = (),
        random_state: int = 0,
        params: Mapping[str, Any] | None = None,
    ):
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
        check_labels(y)
        if cutoffs is None and "cutoff" in X.columns:
            cutoffs = X["cutoff"].to_numpy()
        self.numeric_, self.categorical_ = feature_columns(X, self.exclude)
        Xf = X[self.numeric_ + self.categorical_]
        pipe = make_pipeline(self.model, self.numeric_, self.categorical_, self.random_state)
        if self.params:
            pipe.set_params(**dict(self.params))
        cv = (
            CutoffSplit(cutoffs)
            if cutoffs is not None and len(np.unique(cutoffs)) > 1
            else StratifiedKFold(3, shuffle=True, random_state=self.random_state)
        )
        self.cv_results_, self.best_params_ = None, {}
        if self.tune:
            grid = dict(self.param_grid or DEFAULT_GRIDS[self.model])
            gs = GridSearchCV(
                pipe,
                grid,
                scoring="roc_auc",
                cv=list(cv.split(Xf, y)),
                refit=False,
                n_jobs=1,
                error_score="raise",
            )
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


def compare_models(
    train: pd.DataFrame,
    test: pd.DataFrame,
    models: Sequence[str] = MODELS,
    label: str = "churned",
    n_boot: int = 200,
    level: float = 0.95,
    **kwargs: Any,
) -> tuple[pd.DataFrame, dict[str, ChurnModel], dict[str, Evaluation]]:
    """Fit each model on ``train`` (time-aware CV over its cut-offs) and score on ``test``.

    Returns
    -------
    (table of metrics per model, fitted models, evaluations)
    """
    fitted, evals, rows = {}, {}, []
    for name in models:
        m = ChurnModel(name, **kwargs).fit(train.drop(columns=[label]), train[label])
        e = evaluate(
            test[label],
            m.predict_proba(test)[:, 1],
            n_boot=n_boot,
            level=level,
            random_state=m.random_state,
        )
        fitted[name], evals[name] = m, e
        rows.append(
            {
                "model": name,
                "roc_auc": e.roc_auc,
                "roc_auc_low": e.roc_auc_ci[0],
                "roc_auc_high": e.roc_auc_ci[1],
                "pr_auc": e.pr_auc,
                "brier": e.brier,
                "top_decile_lift": e.top_decile_lift,
                **{f"param_{k.split('__')[-1]}": v for k, v in m.best_params_.items()},
            }
        )
    return pd.DataFrame(rows), fitted, evals
