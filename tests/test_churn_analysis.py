"""The churn analysis on data as companies have them: only customers and orders, a
customers-only snapshot, and the honest headline (guessing models, customers already gone).

Planted truth: synthetic snapshots whose churn depends on known columns (or on nothing), and
the purchase gaps of the data themselves for the derived inactivity horizon.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_churn_frames import ref_purchase_gap_counts

from cjlab.churn import analyse
from cjlab.results import NotApplicable

FAST = {"n_boot": 60, "n_repeats": 2, "clv_holdout_weeks": 0}


@pytest.fixture(scope="module")
def demo_tables(small_demo):
    return small_demo.load("customers", "orders", "touchpoints", "survey_responses")


@pytest.fixture(scope="module")
def orders_only(demo_tables):
    """A retailer with customers and orders only: no touchpoints, survey, promo, discount,
    consent or cancellations."""
    return {
        "customers": demo_tables["customers"][["customer_id", "first_seen"]],
        "orders": demo_tables["orders"][["order_id", "customer_id", "ts", "amount"]],
    }


@pytest.fixture(scope="module")
def orders_only_analysis(orders_only):
    return analyse(orders_only, **FAST)


def snapshot(n: int = 3000, seed: int = 0, signal: bool = True) -> pd.DataFrame:
    """One row per customer: tenure, contract type, monthly charges; churners (planted:
    month-to-month and high charges leave more, or nobody in particular) have cancelled_at =
    the snapshot day."""
    rng = np.random.default_rng(seed)
    snap = pd.Timestamp("2025-12-31")
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.5, 0.3, 0.2])
    charges = rng.uniform(20, 110, n).round(2)
    tenure = rng.integers(1, 72, n)
    eta = (
        -2.0 + 1.8 * (contract == "Month-to-month") + 0.02 * (charges - 65) - 0.03 * tenure
        if signal
        else np.full(n, -1.0)
    )
    left = rng.random(n) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "first_seen": [snap - pd.DateOffset(months=int(m)) for m in tenure],
            "cancelled_at": pd.to_datetime(np.where(left, snap, pd.NaT)),
            "contract": contract,
            "monthly_charges": charges,
            "paperless_billing": rng.random(n) < 0.6,
        }
    )


def test_customers_and_orders_only_run_with_a_stated_inactivity_horizon(
    orders_only, orders_only_analysis
):
    a = orders_only_analysis
    assert a.churn_definition == "inactivity" and not a.snapshot
    ref = ref_purchase_gap_counts(orders_only["orders"])
    q = np.quantile(np.repeat(ref["gap_days"], ref["n"]), 0.9, method="inverted_cdf")
    assert a.horizon_days == max(7, 7 * math.ceil(q / 7))
    assert f"horizon {a.horizon_days} days" in a.horizon_reason
    text = a.headline().text()
    assert f"within {a.horizon_days} days" in text and "no cancellations" in text
    labels = {k.name: k.label for k in a.kpis()}
    assert f"within {a.horizon_days} days" in labels["churn_rate"]
    assert "90 days" not in text or a.horizon_days == 90
    # absent optional inputs: no such feature, one sentence per skipped section
    assert {"promo_share", "discount_share", "app_share", "support_tickets"}.isdisjoint(
        a.model.feature_names_in_
    )
    assert {"touchpoint_drivers", "survey_drivers", "consent", "retention"} <= set(a.skipped)
    assert all(s.endswith(".") and len(s) < 200 for s in a.skipped.values())


def test_orders_only_contact_list_holds_no_customer_already_gone(orders_only, orders_only_analysis):
    """Inactive for longer than the horizon is gone already: such customers are not scored."""
    a = orders_only_analysis
    last = orders_only["orders"].groupby("customer_id")["ts"].max()
    gone = last[last < a.score_date - pd.Timedelta(days=a.horizon_days)].index
    assert len(gone) > 100  # the data do have such customers
    assert not set(a.action_list["customer_id"]) & set(gone)
    assert set(a.action_list["customer_id"]) == set(a.scores["customer_id"])


def test_contact_list_never_holds_a_customer_cancelled_before_the_score_date(demo_tables):
    a = analyse(demo_tables, **FAST)
    assert a.churn_definition == "contractual"
    canc = demo_tables["customers"].set_index("customer_id")["cancelled_at"]
    assert (canc < a.score_date).sum() > 100
    listed = canc.reindex(a.action_list["customer_id"])
    assert (listed.isna() | (listed >= a.score_date)).all()
    assert a.action_list["contact"].sum() > 0
    # value at risk sums over the listed (active) customers only
    assert a.value_at_risk == pytest.approx(
        (a.action_list["churn_probability"] * a.action_list["clv"]).sum()
    )


def test_snapshot_scores_only_customers_still_active_and_states_no_horizon():
    c = snapshot()
    a = analyse({"customers": c}, **FAST)
    assert a.snapshot and a.horizon_days is None and a.score_date is None
    leavers = set(c.loc[c["cancelled_at"].notna(), "customer_id"])
    assert len(leavers) > 300
    assert not leavers & set(a.action_list["customer_id"])
    assert len(a.scores) == len(c) - len(leavers)
    assert a.evaluation.roc_auc > 0.65 and not a.guessing  # planted signal found
    assert a.drivers["feature"].iloc[0] in ("contract", "tenure_days", "monthly_charges")
    text = a.headline().text() + " ".join(k.label for k in a.kpis())
    assert "within" not in text and "days" not in text
    assert "clv" in a.skipped and "mean_clv" not in {k.name for k in a.kpis()}
    money = {k.name: k for k in a.kpis() if k.unit == "money"}
    assert money and all(k.currency is None for k in money.values())
    euro = {k.name: k for k in dataclasses.replace(a, currency="EUR").kpis() if k.unit == "money"}
    assert all(k.currency == "EUR" for k in euro.values())


def test_a_model_no_better_than_guessing_says_so_in_the_headline():
    """Labels independent of every column (planted: no signal): the ROC-AUC interval includes
    0.5 and the headline says the model cannot tell leavers from stayers."""
    a = analyse({"customers": snapshot(seed=3, signal=False)}, **FAST)
    lo, hi = a.evaluation.roc_auc_ci
    assert lo <= 0.5 <= hi and a.guessing
    h = a.headline()
    assert h.status == "bad" and "includes 0.5" in h.title
    assert "no better than guessing" in dict(h.items)["Early-warning model"]
    good = analyse({"customers": snapshot(seed=3)}, **FAST)
    assert good.headline().status is None and "includes 0.5" not in good.headline().title
    fake = dataclasses.replace(
        good, evaluation=dataclasses.replace(good.evaluation, roc_auc_ci=(0.49, 0.7))
    )
    assert fake.headline().status == "bad"


def test_neither_orders_nor_cancellations_is_not_applicable(demo_tables):
    with pytest.raises(NotApplicable, match="orders"):
        analyse({"customers": demo_tables["customers"].drop(columns="cancelled_at")})


MAPPINGS = Path(__file__).resolve().parents[1] / "params" / "mappings"


def _imported(name: str, file: str, shared_data: Path, out: Path) -> Path:
    """The raw public file through its shipped mapping (what `cjlab import` does)."""
    from cjlab.data.mapping import import_mapping

    assert import_mapping(MAPPINGS / f"{name}.yaml", out, input=shared_data / file).ok
    return out


@pytest.mark.slow
@pytest.mark.shared_data
def test_telco_snapshot_contact_list_and_published_auc(shared_data, tmp_path):
    """IBM telco through its mapping (customers only, contract attributes as extra columns):
    held-out ROC-AUC as published (0.84-0.85), none of the 1,869 leavers in the contact list,
    and no horizon claimed."""
    from cjlab.churn import from_source

    folder = _imported("telco", "telco_churn_ibm.csv", shared_data, tmp_path / "telco")
    a = from_source(str(folder), currency="$")
    assert a.snapshot and 0.82 < a.evaluation.roc_auc < 0.87
    cust = pd.read_parquet(folder / "customers.parquet")
    leavers = set(cust.loc[cust["cancelled_at"].notna(), "customer_id"].astype(str))
    assert len(leavers) == 1869
    assert not leavers & set(a.action_list["customer_id"].astype(str))
    assert len(a.scores) == 7043 - 1869
    assert "contract" in a.retention and {"contract", "monthly_charges"} <= set(
        a.model.feature_names_in_
    )
    k = {x.name: x for x in a.kpis()}
    assert k["revenue_at_risk"].currency == "$" and "within" not in k["churn_rate"].label


@pytest.mark.slow
@pytest.mark.shared_data
def test_online_retail_clv_is_marked_unreliable(shared_data, tmp_path):
    """UCI online-retail sample through its mapping (customers and orders only): the BG/NBD
    dropout part is not identified there, so CLV is marked unreliable instead of presented."""
    from cjlab.churn import from_source

    folder = _imported(
        "online_retail", "online_retail_sample40k.csv", shared_data, tmp_path / "retail"
    )
    a = from_source(str(folder), **FAST)
    assert a.churn_definition == "inactivity" and a.clv is not None
    assert not a.clv_reliable and not a.clv.check.dropout_identified
    assert "mean_clv" not in {k.name for k in a.kpis()}
    assert "not shown" in dict(a.headline().items)["Customer lifetime value"]
    assert a.value_basis == "spend of the last 365 days"
