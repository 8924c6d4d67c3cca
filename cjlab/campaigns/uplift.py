"""Uplift models (meta-learners on scikit-learn estimators): who is moved by a campaign.

An uplift model predicts, for each customer, the *difference* a contact makes: the chance to
convert (or the revenue) when contacted minus without contact. Three standard approaches, all
in scikit-learn style (parameters in ``__init__``, ``fit(X, y, treatment)`` returns self,
learned attributes end in ``_``, :meth:`UpliftModel.predict` gives the uplift):

- :class:`TLearner` — two outcome models, one per arm; uplift = difference of predictions;
- :class:`XLearner` — Künzel et al. (2019): the T-learner's models impute each customer's
  individual effect, two effect models are fitted on the imputations and blended by the
  treatment share;
- :class:`ClassTransformation` — Jaskowski & Jaroszewicz (2012): one classifier of
  ``Z = y·t + (1-y)·(1-t)``, with the arms weighted to equal size, so that
  uplift = 2·P(Z = 1 | x) - 1 (binary outcomes only).

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(4000, 1)); t = rng.integers(0, 2, 4000)
>>> y = (rng.random(4000) < 0.2 + 0.15 * t * (X[:, 0] > 0)).astype(int)
>>> m = TLearner(LogisticRegression()).fit(X, y, t)
>>> bool(m.predict(np.array([[2.0]]))[0] > m.predict(np.array([[-2.0]]))[0])
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier

__all__ = ["ClassTransformation", "TLearner", "UpliftModel", "XLearner", "make_learner"]


def _arrays(y: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    t = np.asarray(treatment).astype(int)
    if set(np.unique(t)) - {0, 1}:
        raise ValueError("treatment must be 0 (control) or 1 (treated)")
    if t.min() == t.max():
        raise ValueError("uplift models need treated and control customers")
    return y, t


def _rows(X: Any, mask: np.ndarray) -> Any:
    return X.iloc[mask] if hasattr(X, "iloc") else X[mask]


def _predict(model: Any, X: Any) -> np.ndarray:
    """Probability of the positive class for a classifier, the prediction for a regressor."""
    if is_classifier(model):
        return model.predict_proba(X)[:, 1]
    return np.asarray(model.predict(X), dtype=float)


class UpliftModel(BaseEstimator):
    """Base of the uplift meta-learners: ``fit(X, y, treatment)``, ``predict(X)`` -> uplift."""

    def fit(self, X: Any, y: Any, treatment: Any) -> UpliftModel:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predicted outcome without and with the contact (only learners with outcome models)."""
        raise NotImplementedError(f"{type(self).__name__} has no per-arm outcome models")


class TLearner(UpliftModel):
    """Two outcome models, one fitted on the control arm, one on the treated arm.

    Parameters
    ----------
    estimator : a scikit-learn classifier (binary outcome: probabilities are used) or
        regressor (revenue), cloned for each arm.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, treatment: Any) -> TLearner:
        """Fit the control model ``model_c_`` and the treated model ``model_t_``; returns self."""
        y, t = _arrays(y, treatment)
        self.model_c_ = clone(self.estimator).fit(_rows(X, t == 0), y[t == 0])
        self.model_t_ = clone(self.estimator).fit(_rows(X, t == 1), y[t == 1])
        self.treated_share_ = float(t.mean())
        return self

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return _predict(self.model_c_, X), _predict(self.model_t_, X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift: treated minus control prediction."""
        p0, p1 = self.predict_arms(X)
        return p1 - p0


class XLearner(UpliftModel):
    """The X-learner: T-learner outcome models, imputed effects, two effect regressions.

    Parameters
    ----------
    estimator : outcome model (classifier or regressor), cloned per arm.
    effect_estimator : regressor for the imputed individual effects, cloned per arm.
    """

    def __init__(self, estimator: Any, effect_estimator: Any) -> None:
        self.estimator = estimator
        self.effect_estimator = effect_estimator

    def fit(self, X: Any, y: Any, treatment: Any) -> XLearner:
        """Fit the outcome models, then ``effect_c_`` and ``effect_t_`` on the imputed effects."""
        y, t = _arrays(y, treatment)
        self.outcomes_ = TLearner(self.estimator).fit(X, y, t)
        Xc, Xt = _rows(X, t == 0), _rows(X, t == 1)
        d_t = y[t == 1] - _predict(
            self.outcomes_.model_c_, Xt
        )  # treated: observed - imputed control
        d_c = (
            _predict(self.outcomes_.model_t_, Xc) - y[t == 0]
        )  # control: imputed treated - observed
        self.effect_t_ = clone(self.effect_estimator).fit(Xt, d_t)
        self.effect_c_ = clone(self.effect_estimator).fit(Xc, d_c)
        self.treated_share_ = float(t.mean())
        return self

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.outcomes_.predict_arms(X)

    def predict(self, X: Any) -> np.ndarray:
        """Blend of the two effect models: g·tau_c(x) + (1-g)·tau_t(x), g = treated share."""
        g = self.treated_share_
        return g * self.effect_c_.predict(X) + (1 - g) * self.effect_t_.predict(X)


class ClassTransformation(UpliftModel):
    """One classifier of the transformed class ``Z = y·t + (1-y)·(1-t)`` (binary outcomes).

    The arms are weighted to equal total weight, which makes ``2·P(Z=1|x) - 1`` the uplift
    for any treatment share (the textbook version assumes a 50/50 split).

    Parameters
    ----------
    estimator : a scikit-learn classifier that accepts ``sample_weight`` (through a Pipeline:
        the final step's name is used, ``<step>__sample_weight``).
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, treatment: Any) -> ClassTransformation:
        y, t = _arrays(y, treatment)
        if set(np.unique(y)) - {0.0, 1.0}:
            raise ValueError("ClassTransformation needs a binary outcome (0/1)")
        z = (y * t + (1 - y) * (1 - t)).astype(int)
        share = t.mean()
        w = np.where(t == 1, 0.5 / share, 0.5 / (1 - share))
        model = clone(self.estimator)
        key = "sample_weight"
        if hasattr(model, "steps"):
            key = f"{model.steps[-1][0]}__sample_weight"
        self.model_ = model.fit(X, z, **{key: w})
        return self

    def predict(self, X: Any) -> np.ndarray:
        return 2 * self.model_.predict_proba(X)[:, 1] - 1


def make_learner(
    method: str, kind: str, binary: bool, preprocess: Any, random_state: int = 0
) -> UpliftModel:
    """An uplift model by name on a standard pipeline (``preprocess`` then the estimator).

    Parameters
    ----------
    method : ``"t_learner"``, ``"x_learner"`` or ``"class_transformation"``.
    kind : ``"logistic"`` (regularised linear models: fast, stable on small campaigns) or
        ``"boosting"`` (histogram gradient boosting: interactions, larger data).
    binary : the outcome is 0/1 (classifiers) rather than an amount (regressors).
    preprocess : an unfitted scikit-learn transformer for the feature frame (cloned).
    random_state : seed of the boosting models.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    if kind == "logistic":
        clf, reg = LogisticRegression(C=1.0, max_iter=500), Ridge(alpha=1.0)
    elif kind == "boosting":
        opts = {
            "max_iter": 150,
            "learning_rate": 0.05,
            "max_leaf_nodes": 15,
            "min_samples_leaf": 100,
            "random_state": random_state,
        }
        clf, reg = HistGradientBoostingClassifier(**opts), HistGradientBoostingRegressor(**opts)
    else:
        raise ValueError(f"learner must be 'logistic' or 'boosting', got {kind!r}")
    outcome = make_pipeline(clone(preprocess), clf if binary else reg)
    effect = make_pipeline(clone(preprocess), clone(reg))
    if method == "t_learner":
        return TLearner(outcome)
    if method == "x_learner":
        return XLearner(outcome, effect)
    if method == "class_transformation":
        if not binary:
            raise ValueError("class_transformation needs a binary outcome")
        return ClassTransformation(make_pipeline(clone(preprocess), clf))
    raise ValueError(
        f"unknown uplift method {method!r}: t_learner, x_learner or class_transformation"
    )
