"""Why customers churn: grouped permutation importance, partial dependence, per-customer reasons.

* :func:`driver_importance` — drop in held-out ROC-AUC when a driver (a group of related
  features) is shuffled;
* :func:`partial_dependence_table` — average predicted churn probability along a feature;
* :func:`top_reasons` — per customer, the features that raise their churn probability most.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cjlab.churn.model import ChurnModel
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
>>> y = (rng.random(600) < 1 / (1 + np.exp(-2 * X["a"]))).astype(int)
>>> m = ChurnModel("logit", tune=False).fit(X, y)
>>> driver_importance(m, X, y, n_repeats=2)["feature"].iloc[0]
'a'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import partial_dependence
from sklearn.metrics import roc_auc_score

from cjlab.churn.evaluation import check_labels
from cjlab.churn.model import ChurnModel

__all__ = ["DRIVER_GROUPS", "driver_importance", "partial_dependence_table", "top_reasons"]

#: Related features judged together in :func:`driver_importance` (see ``groups``).
DRIVER_GROUPS: dict[str, list[str]] = {
    "support_tickets": ["support_tickets", "support_tickets_90d", "support_per_year"],
    "promo_share": ["promo_share", "discount_share"],
    "app_share": ["app_share"],
    "mobile_share": ["mobile_share"],
    "satisfaction": ["nps_last", "csat_mean", "n_surveys"],
    "purchase_activity": [
        "n_orders",
        "n_purchase_days",
        "orders_90d",
        "orders_prev_90d",
        "order_trend",
        "recency_days",
    ],
    "spend": ["spend_total", "avg_order_value", "spend_365d"],
    "engagement": [
        "n_touchpoints",
        "touch_90d",
        "days_since_touch",
        "email_opens_90d",
        "max_stage",
    ],
}


def driver_importance(
    model: ChurnModel,
    X: pd.DataFrame,
    y: Any,
    n_repeats: int = 5,
    random_state: int = 0,
    max_rows: int | None = 20000,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
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
    rng = np.random.default_rng(random_state)
    if max_rows and len(Xf) > max_rows:
        idx = rng.choice(len(Xf), max_rows, replace=False)
        Xf, yv = Xf.iloc[idx].reset_index(drop=True), yv[idx]
    check_labels(yv, "importance")
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
        rows.append(
            {
                "feature": name,
                "importance": float(np.mean(drops)),
                "std": float(np.std(drops)),
                "columns": ", ".join(members),
            }
        )
    out = pd.DataFrame(rows).sort_values("importance", ascending=False).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def partial_dependence_table(
    model: ChurnModel,
    X: pd.DataFrame,
    features: Sequence[str],
    grid_resolution: int = 20,
    max_rows: int = 5000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Average predicted churn probability over a grid of each feature (partial dependence)."""
    Xf = X[list(model.feature_names_in_)]
    if len(Xf) > max_rows:
        Xf = Xf.sample(max_rows, random_state=random_state)
    rows = []
    for f in features:
        values = Xf[f].to_numpy(dtype=float) if f in model.numeric_ else np.array([])
        if np.unique(values[np.isfinite(values)]).size < 2:
            continue  # not a numeric feature, or no variation to draw a curve along
        r = partial_dependence(
            model.estimator_,
            Xf,
            [f],
            grid_resolution=grid_resolution,
            percentiles=(0.02, 0.98),
            kind="average",
        )
        for v, a in zip(r["grid_values"][0], r["average"][0]):
            rows.append({"feature": f, "value": float(v), "churn_probability": float(a)})
    return pd.DataFrame(rows, columns=["feature", "value", "churn_probability"])


def top_reasons(
    model: ChurnModel,
    X: pd.DataFrame,
    features: Sequence[str],
    k: int = 3,
    reference: pd.DataFrame | None = None,
    min_delta: float = 0.005,
) -> pd.Series:
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
