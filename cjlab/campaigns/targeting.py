"""Whom to target: uplift models fitted and compared on a hold-out, and targeting policies.

:func:`fit_uplift` splits the campaign's customers into a training part and a hold-out (each
arm at random), fits the chosen uplift models (:mod:`cjlab.campaigns.uplift`) and evaluates
them on the hold-out (:func:`cjlab.campaigns.evaluation.curve_stats`). :func:`compare_policies`
then ranks the hold-out customers three ways and reads, for every contact share, the
incremental profit the campaign earned among the customers contacted —
``value × incremental conversions − cost × contacts`` (from the uplift curve: the hold-out's
treated and control customers among the top ranked):

- **expected incremental profit** — ``uplift × value − cost`` from the best uplift model;
  its own cut-off contacts those with a positive expected profit;
- **response probability** — the classic response model (chance to buy when contacted);
- **churn probability** — a simple churn classifier fitted here on the control customers'
  later behaviour (cancelled, or no order after the campaign), on the same features.

Response and churn targeting are read at the same number of contacts as the profit policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjlab.campaigns.evaluation import _cum, _sorted, curve_stats
from cjlab.campaigns.inputs import CampaignData, preprocessor, train_test
from cjlab.campaigns.uplift import TLearner, make_learner

__all__ = ["METHODS", "UpliftResult", "compare_policies", "fit_uplift"]

METHODS = ("t_learner", "x_learner", "class_transformation")
LABELS = {
    "t_learner": "T-learner",
    "x_learner": "X-learner",
    "class_transformation": "Class transformation",
    "profit": "Expected incremental profit",
    "response": "Response probability",
    "churn": "Churn probability",
    "everyone": "Everyone",
    "nobody": "Nobody",
}


@dataclass(frozen=True)
class UpliftResult:
    """Uplift models on the hold-out.

    Attributes
    ----------
    methods : method, qini, qini_low, qini_high, auuc, auuc_low, auuc_high (hold-out).
    curves : method, share_targeted, incremental_per_customer, random_per_customer.
    best : the method with the highest Qini coefficient.
    scores : the hold-out rows: unit_id, segment, treated, converted, revenue, uplift (best
        model), response (P(convert | contacted)), churn (when a churn label exists).
    all_scores : unit_id, segment, uplift of the best model for every customer (the export).
    segments : segment, customers, predicted_uplift (mean on the hold-out), observed_uplift.
    models : the fitted models by method.
    """

    methods: pd.DataFrame
    curves: pd.DataFrame
    best: str
    scores: pd.DataFrame
    all_scores: pd.DataFrame
    segments: pd.DataFrame
    models: dict[str, Any] = field(repr=False)


def _churn_scores(
    data: CampaignData, churned: pd.Series | None, train: np.ndarray, X: pd.DataFrame, kind: str
) -> np.ndarray | None:
    """P(churn) from a classifier fitted on the training part's control customers."""
    if churned is None:
        return None
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    lab = churned.reindex(data.frame["unit_id"].astype(str)).to_numpy()
    fit = train & (data.frame["treated"].to_numpy() == 0) & ~pd.isna(lab)
    y = lab[fit].astype(int)
    if len(np.unique(y)) < 2:
        return None
    model = make_pipeline(clone(preprocessor(data)), LogisticRegression(max_iter=500))
    model.fit(X[fit], y)
    return model.predict_proba(X)[:, 1]


def fit_uplift(
    data: CampaignData,
    methods: Sequence[str] = METHODS,
    learner: str = "logistic",
    test_share: float = 0.3,
    churned: pd.Series | None = None,
    n_boot: int = 200,
    level: float = 0.9,
    random_state: int = 0,
) -> UpliftResult:
    """Fit uplift models on a training part and evaluate them on the hold-out.

    Parameters
    ----------
    data : the campaign frame (:func:`cjlab.campaigns.inputs.campaign_frame`).
    methods : uplift methods (:data:`METHODS`).
    learner : ``"logistic"`` or ``"boosting"`` base models (:func:`make_learner`).
    test_share : share of each arm kept for the evaluation.
    churned : optional 0/1 churn label by unit id (as text) for the churn-risk comparison.
    n_boot, level : bootstrap resamples and mass of the Qini/AUUC intervals.
    random_state : seed of the split, the models and the bootstrap.
    """
    f = data.frame
    X = f[data.features]
    y, t = f["converted"].to_numpy(), f["treated"].to_numpy()
    test = train_test(data, test_share, random_state)
    train = ~test
    pre = preprocessor(data)
    rows, curves, models, preds = [], [], {}, {}
    for m in methods:
        model = make_learner(m, learner, True, pre, random_state).fit(X[train], y[train], t[train])
        models[m], preds[m] = model, model.predict(X)
        cs = curve_stats(y[test], preds[m][test], t[test], n_boot, level, random_state)
        rows.append(
            {
                "method": m,
                "qini": cs.qini,
                "qini_low": cs.qini_low,
                "qini_high": cs.qini_high,
                "auuc": cs.auuc,
                "auuc_low": cs.auuc_low,
                "auuc_high": cs.auuc_high,
            }
        )
        curves.append(cs.curve.assign(method=m))
    table = pd.DataFrame(rows)
    best = str(table.loc[table["qini"].idxmax(), "method"])
    response = models[best] if hasattr(models[best], "model_t_") else None
    if response is None:
        response = TLearner(make_learner("t_learner", learner, True, pre).estimator)
        response.fit(X[train], y[train], t[train])
    p_contacted = response.predict_arms(X)[1]
    churn = _churn_scores(data, churned, train, X, learner)
    scores = pd.DataFrame(
        {
            "unit_id": f["unit_id"],
            "segment": f["segment"],
            "treated": t,
            "converted": y,
            "revenue": f["revenue"],
            "uplift": preds[best],
            "response": p_contacted,
        }
    )
    if churn is not None:
        scores["churn"] = churn
    held = scores[test].reset_index(drop=True)
    seg = held.groupby("segment", observed=True).apply(_segment_row, include_groups=False)
    seg = seg.reset_index().sort_values("predicted_uplift", ascending=False, kind="stable")
    return UpliftResult(
        table,
        pd.concat(curves, ignore_index=True),
        best,
        held,
        scores[["unit_id", "segment", "uplift"]],
        seg.reset_index(drop=True),
        models,
    )


def _segment_row(d: pd.DataFrame) -> pd.Series:
    rt = d.loc[d["treated"] == 1, "converted"].mean()
    rc = d.loc[d["treated"] == 0, "converted"].mean()
    return pd.Series(
        {"customers": len(d), "predicted_uplift": d["uplift"].mean(), "observed_uplift": rt - rc}
    )


def _profit_at(y, score, t, shares, value, cost, w) -> np.ndarray:
    """Incremental profit per hold-out customer when the top ``shares`` are contacted."""
    ys, ts, last, order = _sorted(y, score, t)
    n_all, n_t, n_c, y_t, y_c = _cum(ys, ts, last, w[order])
    inc = (
        np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t > 0)
        - np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c > 0)
    ) * n_all
    total = n_all[-1]
    out = np.empty((len(shares), w.shape[1]))
    for j in range(w.shape[1]):
        x = np.r_[0.0, n_all[:, j]]
        v = np.r_[0.0, value * inc[:, j] - cost * n_all[:, j]]
        out[:, j] = np.interp(np.asarray(shares) * total[j], x, v) / total[j]
    return out


def compare_policies(
    scores: pd.DataFrame,
    value: float,
    cost: float,
    n_boot: int = 200,
    level: float = 0.9,
    random_state: int = 0,
    points: int = 51,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Targeting policies on the hold-out (see the module docstring).

    Parameters
    ----------
    scores : :attr:`UpliftResult.scores` (treated, converted, uplift, response, churn).
    value : profit of one incremental conversion (money).
    cost : cost of one contact (money).
    n_boot, level : Poisson-bootstrap resamples and interval mass.
    random_state : seed of the bootstrap.
    points : shares on the profit curves.

    Returns
    -------
    (policies, curves): one row per policy with share_contacted, profit_per_1000 (profit per
    1,000 customers of the population, + _low/_high) and gain_vs_everyone_per_1000; the
    profit curves (policy, share_contacted, profit_per_1000).
    """
    y, t = scores["converted"].to_numpy(float), scores["treated"].to_numpy(float)
    expected = scores["uplift"].to_numpy() * value - cost
    share = float(np.mean(expected > 0))
    pol = {"profit": expected, "response": scores["response"].to_numpy()}
    if "churn" in scores:
        pol["churn"] = scores["churn"].to_numpy()
    rng = np.random.default_rng(random_state)
    w = np.column_stack([np.ones(len(y)), rng.poisson(1.0, size=(len(y), n_boot))]).astype(float)
    grid = np.linspace(0, 1, points)
    tail = (1 - level) / 2
    rows, curves = [], []
    for name, s in pol.items():
        at = _profit_at(y, s, t, [share, 1.0], value, cost, w) * 1000
        curve = _profit_at(y, s, t, grid, value, cost, w[:, :1])[:, 0] * 1000
        curves.append(
            pd.DataFrame({"policy": name, "share_contacted": grid, "profit_per_1000": curve})
        )
        gain = at[0] - at[1]
        rows.append(
            {
                "policy": name,
                "share_contacted": share,
                "profit_per_1000": at[0, 0],
                "profit_per_1000_low": np.quantile(at[0, 1:], tail),
                "profit_per_1000_high": np.quantile(at[0, 1:], 1 - tail),
                "gain_vs_everyone_per_1000": gain[0],
                "gain_low": np.quantile(gain[1:], tail),
                "gain_high": np.quantile(gain[1:], 1 - tail),
            }
        )
    every = _profit_at(y, expected, t, [1.0], value, cost, w)[0] * 1000
    rows.append(
        {
            "policy": "everyone",
            "share_contacted": 1.0,
            "profit_per_1000": every[0],
            "profit_per_1000_low": np.quantile(every[1:], tail),
            "profit_per_1000_high": np.quantile(every[1:], 1 - tail),
            "gain_vs_everyone_per_1000": 0.0,
            "gain_low": 0.0,
            "gain_high": 0.0,
        }
    )
    out = pd.DataFrame(rows)
    out.insert(1, "label", out["policy"].map(LABELS))
    return out, pd.concat(curves, ignore_index=True)
