"""Retention targeting: the profit curve over "contact the top x %" and the at-risk list.

Expected profit of contacting customer *i* with a retention offer:
``p_i × success_rate × value_i − offer_cost`` — the churn probability ``p_i``, the chance the
offer keeps a would-be churner, the value kept (CLV) and the cost of the offer. Customers are
ranked by risk (``rank_by="risk"``) or by value at risk ``p_i × value_i``; the profit curve
adds up the top x % and the best cut-off is its maximum.

Examples
--------
>>> import numpy as np
>>> from cjlab.churn.targeting import profit_curve, best_cutoff
>>> curve = profit_curve([0.9, 0.5, 0.1, 0.05], [100, 100, 100, 100], offer_cost=10,
...                      success_rate=0.3, shares=[0, 0.25, 0.5, 0.75, 1.0])
>>> curve["profit"].round(2).tolist()
[0.0, 17.0, 22.0, 15.0, 6.5]
>>> float(best_cutoff(curve)["contact_share"])
0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import pii_columns

__all__ = [
    "TargetingError",
    "at_risk_list",
    "best_cutoff",
    "consent",
    "crm_list",
    "profit_curve",
    "risk_value_segment",
]

AT_RISK_COLUMNS = (
    "customer_id",
    "churn_probability",
    "clv",
    "value",
    "value_at_risk",
    "expected_profit",
    "top_reasons",
    "segment",
    "marketing_opt_in",
    "contact",
)


class TargetingError(ValueError):
    """Bad input to targeting (lengths differ, rates outside 0..1 ...)."""


def _check(p, value, offer_cost, success_rate):
    p, value = np.asarray(p, float), np.asarray(value, float)
    if p.shape != value.shape:
        raise TargetingError(
            f"churn probabilities ({p.size}) and values ({value.size}) differ in length"
        )
    if np.isnan(p).any() or ((p < 0) | (p > 1)).any():
        raise TargetingError("churn probabilities must be between 0 and 1 (no missing values)")
    if not 0 <= success_rate <= 1:
        raise TargetingError(f"success_rate must be between 0 and 1, got {success_rate}")
    if offer_cost < 0:
        raise TargetingError(f"offer_cost must be >= 0, got {offer_cost}")
    return p, np.nan_to_num(value, nan=0.0)


def _order(p, value, rank_by):
    if rank_by == "risk":
        return np.argsort(-p, kind="stable")
    if rank_by == "value_at_risk":
        return np.argsort(-(p * value), kind="stable")
    raise TargetingError(f"rank_by must be 'risk' or 'value_at_risk', got {rank_by!r}")


def profit_curve(
    p: Any,
    value: Any,
    offer_cost: float,
    success_rate: float,
    shares: Sequence[float] | None = None,
    rank_by: str = "risk",
    contactable: Any = None,
) -> pd.DataFrame:
    """Expected profit of contacting the top x % of (contactable) customers.

    Parameters
    ----------
    p : churn probabilities; value : value kept if a churner is retained (e.g. CLV).
    offer_cost : cost per contacted customer; success_rate : share of would-be churners the
        offer keeps.
    shares : contact shares to evaluate (default 0, 1 %, ..., 100 %).
    rank_by : ``"risk"`` or ``"value_at_risk"``.
    contactable : boolean mask (e.g. marketing consent); others are never contacted.

    Returns
    -------
    DataFrame ``contact_share, customers, min_probability, saved_value, cost, profit``.
    """
    p, value = _check(p, value, offer_cost, success_rate)
    if contactable is not None:
        mask = np.asarray(contactable, bool)
        p, value = p[mask], value[mask]
    order = _order(p, value, rank_by)
    gain = (p * success_rate * value)[order]
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    shares = np.linspace(0, 1, 101) if shares is None else np.asarray(shares, float)
    k = np.round(shares * len(p)).astype(int)
    ps = p[order]
    return pd.DataFrame(
        {
            "contact_share": shares,
            "customers": k,
            "min_probability": [ps[i - 1] if i else np.nan for i in k],
            "saved_value": cum[k],
            "cost": k * offer_cost,
            "profit": cum[k] - k * offer_cost,
        }
    )


def best_cutoff(curve: pd.DataFrame) -> pd.Series:
    """Row of the profit curve with the highest profit."""
    return curve.loc[curve["profit"].idxmax()]


def risk_value_segment(
    p: Any, value: Any, p_cut: float | None = None, value_cut: float | None = None
) -> np.ndarray:
    """Four action segments by churn risk and value (cuts default to the medians)."""
    p, value = np.asarray(p, float), np.asarray(value, float)
    pc = np.nanmedian(p) if p_cut is None else p_cut
    vc = np.nanmedian(value) if value_cut is None else value_cut
    hi_r, hi_v = p >= pc, value >= vc
    return np.select(
        [hi_r & hi_v, hi_r & ~hi_v, ~hi_r & hi_v],
        ["save: high value at risk", "low value at risk", "keep: high value, safe"],
        "low value, safe",
    )


def consent(scores: pd.DataFrame) -> np.ndarray:
    """Marketing consent per customer; everyone when the data record no consent at all."""
    if "marketing_opt_in" not in scores.columns or scores["marketing_opt_in"].isna().all():
        return np.ones(len(scores), bool)
    return scores["marketing_opt_in"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def at_risk_list(
    scores: pd.DataFrame,
    offer_cost: float,
    success_rate: float,
    contact_share: float | None = None,
    min_probability: float | None = None,
    include_no_consent: bool = False,
    rank_by: str = "risk",
    value_col: str = "clv",
) -> pd.DataFrame:
    """The CRM action list: one row per customer, riskiest first, with a ``contact`` flag.

    Parameters
    ----------
    scores : ``customer_id, churn_probability`` and the value column, optionally
        ``top_reasons, segment, marketing_opt_in``. Personal data columns (name, e-mail) are
        dropped if present. Give only customers who can still leave (not those already gone).
    contact_share : contact the top share of contactable customers (default: the best
        cut-off of the profit curve); or give ``min_probability``.
    include_no_consent : also contact customers without marketing consent (off by default:
        they are listed but never marked for contact; data without any consent record count
        everyone as contactable).
    value_col : the value kept when a leaver stays (``clv``, or another value such as the
        spend of the last year).

    Returns
    -------
    DataFrame with :data:`AT_RISK_COLUMNS` (those available), sorted by rank.
    """
    need = ["customer_id", "churn_probability", value_col]
    missing = [c for c in need if c not in scores.columns]
    if missing:
        raise TargetingError(f"scores: missing column(s) {missing}")
    df = scores.drop(columns=[c for c in pii_columns("customers") if c in scores.columns]).copy()
    p, v = _check(df["churn_probability"], df[value_col], offer_cost, success_rate)
    df[value_col] = v
    df["value_at_risk"] = p * v
    df["expected_profit"] = p * success_rate * v - offer_cost
    ok = np.ones(len(df), bool) if include_no_consent else consent(df)
    order = _order(p, v, rank_by)
    df = df.iloc[order].reset_index(drop=True)
    ok = ok[order]
    if min_probability is not None:
        contact = ok & (df["churn_probability"].to_numpy() >= min_probability)
    else:
        if contact_share is None:
            curve = profit_curve(
                p, v, offer_cost, success_rate, rank_by=rank_by, contactable=ok[np.argsort(order)]
            )
            contact_share = float(best_cutoff(curve)["contact_share"])
        n_ok = int(ok.sum())
        k = round(contact_share * n_ok)
        rank_ok = np.cumsum(ok)
        contact = ok & (rank_ok <= k)
    df["contact"] = contact
    return df[[c for c in AT_RISK_COLUMNS if c in df.columns]]


def crm_list(action_list: pd.DataFrame, contact_only: bool = True) -> pd.DataFrame:
    """The rows of the action list that go to the CRM (``cjlab.notebook.export_csv`` writes them).

    Personal data columns are refused: the list carries ``customer_id`` only, the CRM joins
    names and addresses itself.
    """
    pii = [c for c in action_list.columns if c in pii_columns("customers")]
    if pii:
        raise TargetingError(f"action list contains personal data columns {pii}; drop them first")
    if contact_only and "contact" in action_list.columns:
        return action_list[action_list["contact"]]
    return action_list
