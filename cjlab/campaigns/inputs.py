"""The campaign frame: one row per customer of a campaign experiment, with pre-campaign features.

:func:`pick_campaign` chooses the experiment (the one given, the only one, or the only one whose
control group is named like a campaign holdout), its control and its treated arm(s);
:func:`campaign_frame` builds one row per unit with ``treated`` (0/1), ``converted``,
``revenue``, ``segment`` and the features the uplift models use: the exposures' own extra
columns (customer attributes such as Hillstrom's recency and history) and, when the units are
customers of the data, per-customer features as of the day before the campaign from
:mod:`cjlab.features` (orders, touchpoints, customer attributes). Columns measured after the
contact (``outcome_columns``, e.g. Hillstrom's ``visited``) are never features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjlab import features as ft
from cjlab.ab.conversions import ABInputError, pick_control
from cjlab.features.touchpoints import touchpoint_windows

__all__ = ["CampaignData", "campaign_frame", "pick_campaign"]

#: contract columns of experiment_exposures that are never features
RESERVED = {"experiment", "variant", "unit_id", "exposed_at", "converted", "revenue", "stage"}
#: control names that mark a campaign holdout (compared like cjlab.ab's control names)
HOLDOUT_NAMES = ("holdout", "noemail", "nomail", "nocontact", "notreatment", "untreated", "control")
MAX_LEVELS = 50


class CampaignInputError(ValueError):
    """The experiment, control or treatment cannot be determined (the message lists options)."""


def _key(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def pick_campaign(
    exposures: pd.DataFrame, experiment: str = "", control: str = "", treatment: str = ""
) -> tuple[str, str, list[str]]:
    """The campaign experiment, its control and treated variants.

    Parameters
    ----------
    exposures : the experiment_exposures table (experiment, variant columns suffice).
    experiment : its name; empty = the only experiment, else the only one with a control group
        named like a campaign holdout (holdout, "No E-Mail", no contact ...).
    control : the control variant; empty = the obvious name (see :func:`cjlab.ab.pick_control`).
    treatment : the treated variant; empty = every other variant (pooled).

    Raises
    ------
    CampaignInputError : the choice is ambiguous or a name is unknown (the message lists them).
    """
    arms = exposures.groupby("experiment", observed=True)["variant"].unique()
    names = sorted(map(str, arms.index))
    if experiment:
        if experiment not in names:
            raise CampaignInputError(
                f"experiment {experiment!r} is not in the data; experiments are {names}"
            )
    elif len(names) == 1:
        experiment = names[0]
    else:
        holdouts = [n for n in names if any(_key(v) in HOLDOUT_NAMES[:-1] for v in arms[n])]
        if len(holdouts) != 1:
            raise CampaignInputError(
                f"the data hold {len(names)} experiments ({', '.join(names)}) and "
                f"{'none' if not holdouts else 'several'} has a holdout group: set the parameter "
                "experiment to the campaign to evaluate"
            )
        experiment = holdouts[0]
    variants = [str(v) for v in arms[experiment]]
    try:
        ctrl = pick_control(variants, control or None)
    except ABInputError as exc:
        raise CampaignInputError(str(exc)) from None
    others = [v for v in variants if v != ctrl]
    if treatment:
        if treatment not in others:
            raise CampaignInputError(
                f"treatment {treatment!r} is not a variant; variants are {variants}"
            )
        others = [treatment]
    if not others:
        raise CampaignInputError(f"experiment {experiment!r} has only the control group {ctrl!r}")
    return experiment, ctrl, others


@dataclass(frozen=True)
class CampaignData:
    """One row per unit of the campaign experiment and what the models may use.

    Attributes
    ----------
    experiment, control, treatments : what was compared (treatments pooled when several).
    frame : unit_id, treated (0/1), converted, revenue (0 when absent), segment and features.
    numeric, categorical : feature column names by kind.
    start : the first exposure (features are measured up to the day before).
    joined_customers : the units were found in the customers/orders data (features joined).
    """

    experiment: str
    control: str
    treatments: tuple[str, ...]
    frame: pd.DataFrame
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    start: pd.Timestamp
    joined_customers: bool

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def has_revenue(self) -> bool:
        return bool(self.frame["revenue"].abs().sum() > 0)


def _kinds(df: pd.DataFrame, cols: Sequence[str]) -> tuple[list[str], list[str]]:
    num, cat = [], []
    for c in cols:
        s = df[c]
        if s.notna().sum() == 0 or s.nunique(dropna=True) < 2:
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            num.append(c)
        elif s.nunique(dropna=True) <= MAX_LEVELS:
            cat.append(c)
    return num, cat


def _customer_features(tables: Mapping[str, Any], as_of: pd.Timestamp) -> pd.DataFrame | None:
    """Per-customer features up to ``as_of`` from orders, touchpoints and customers."""
    orders, tp, cust = (tables.get(t) for t in ("orders", "touchpoints", "customers"))
    end = pd.Timestamp(ft.as_of_end(as_of))
    parts = []
    if orders is not None:
        o = ft.to_pandas(ft.customer_orders(orders, as_of=as_of)).set_index("customer_id")
        f = pd.DataFrame(
            {
                "orders_before": o["n_orders"],
                "revenue_before": o["revenue"],
                "mean_order_value": o["mean_order_value"],
                "days_since_last_order": (end - o["last_order"]).dt.days,
                "days_since_first_order": (end - o["first_order"]).dt.days,
            }
        )
        if "promo_orders" in o:
            f["promo_share"] = o["promo_orders"] / o["n_orders"]
        parts.append(f)
    if tp is not None:
        w = ft.to_pandas(touchpoint_windows(tp, as_of, days=(90,))).set_index("customer_id")
        parts.append(
            w.drop(columns=[c for c in w.columns if c.startswith("support")], errors="ignore")
        )
    if cust is not None:
        c = ft.to_pandas(cust).set_index("customer_id")
        keep = pd.DataFrame(index=c.index)
        for col in ("country", "acquisition_channel"):
            if col in c:
                keep[col] = c[col].astype("string")
        if "birth_date" in c:
            keep["age"] = (end - pd.to_datetime(c["birth_date"])).dt.days / 365.25
        if "first_seen" in c:
            keep["tenure_days"] = (end - pd.to_datetime(c["first_seen"])).dt.days
        parts.append(keep)
    if not parts:
        return None
    out = pd.concat(parts, axis=1)
    out.index = out.index.astype(str)
    return out


def campaign_frame(
    tables: Mapping[str, Any],
    experiment: str = "",
    control: str = "",
    treatment: str = "",
    outcome_columns: Sequence[str] = ("visited",),
) -> CampaignData:
    """One row per unit of the campaign, with pre-campaign features (see the module docstring).

    A unit exposed more than once keeps its first exposure; ``converted`` is its maximum and
    ``revenue`` its sum over the campaign's rows.

    Raises
    ------
    CampaignInputError : see :func:`pick_campaign`.
    """
    exp = ft.to_pandas(tables["experiment_exposures"])
    name, ctrl, treats = pick_campaign(exp, experiment, control, treatment)
    ex = exp[(exp["experiment"] == name) & exp["variant"].astype(str).isin([ctrl, *treats])].copy()
    ex["revenue"] = ex["revenue"].fillna(0.0) if "revenue" in ex else 0.0
    ex = ex.sort_values("exposed_at", kind="stable")
    extra = [c for c in ex.columns if c not in RESERVED and c not in set(outcome_columns)]
    agg = {
        "variant": "first",
        "exposed_at": "first",
        "converted": "max",
        "revenue": "sum",
        **dict.fromkeys(extra, "first"),
    }
    units = ex.groupby("unit_id", sort=False).agg(agg).reset_index()
    units["treated"] = (units["variant"].astype(str) != ctrl).astype(int)
    units["converted"] = units["converted"].astype(int)
    if "segment" not in units:
        units["segment"] = "all customers"
    units["segment"] = units["segment"].astype("string").fillna("unknown")
    start = pd.Timestamp(units["exposed_at"].min())
    as_of = (start - pd.Timedelta(days=1)).normalize()
    cf = _customer_features(tables, as_of)
    joined = False
    if cf is not None:
        key = units["unit_id"].astype(str)
        joined = bool(key.isin(cf.index).mean() >= 0.5)
        if joined:
            cf = cf.reindex(key).reset_index(drop=True)
            units = pd.concat([units.reset_index(drop=True), cf], axis=1)
    feats = [c for c in units.columns if c not in RESERVED and c not in {"treated"}]
    num, cat = _kinds(units, feats)
    for c in num:
        units[c] = units[c].astype(float)
    for c in cat:
        units[c] = units[c].astype("string").fillna("unknown").astype(object)
    return CampaignData(name, ctrl, tuple(treats), units, tuple(num), tuple(cat), start, joined)


def preprocessor(data: CampaignData) -> Any:
    """The unfitted feature transformer: numbers imputed (median) and scaled, categories one-hot."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if data.numeric:
        parts.append(
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                list(data.numeric),
            )
        )
    if data.categorical:
        parts.append(
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", min_frequency=20),
                list(data.categorical),
            )
        )
    if not parts:
        raise CampaignInputError("the campaign has no customer attributes to model uplift with")
    return ColumnTransformer(parts)


def train_test(data: CampaignData, test_share: float = 0.3, random_state: int = 0) -> np.ndarray:
    """A boolean mask of the evaluation rows: ``test_share`` of each arm, at random."""
    rng = np.random.default_rng(random_state)
    t = data.frame["treated"].to_numpy()
    test = np.zeros(len(t), bool)
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        test[rng.choice(idx, size=round(test_share * len(idx)), replace=False)] = True
    return test
