"""cjlab.features.btyd.rfm_summary against PyMC-Marketing's own rfm_summary / rfm_train_test_split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymc_marketing.clv.utils import rfm_summary as pmm_rfm_summary
from pymc_marketing.clv.utils import rfm_train_test_split as pmm_split

from cjlab.features.btyd import RFMError, rfm_summary


def random_orders(n_customers: int = 400, seed: int = 0, id_kind: str = "int") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.poisson(4, n_customers) + 1
    cid = np.repeat(np.arange(n_customers), n)
    start = pd.Timestamp("2024-01-01")
    first = rng.integers(0, 600, n_customers)
    # orders cluster after the first day; some on the same day/hour, times of day random
    offs = first[cid] * 86400 + (
        rng.exponential(60, cid.size) * 86400 * (rng.random(cid.size) > 0.15)
    ).astype(int)
    offs = offs + rng.integers(0, 86400, cid.size)
    ts = start + pd.to_timedelta(offs, unit="s")
    ids = cid if id_kind == "int" else np.char.add("c", cid.astype(str))
    df = pd.DataFrame({"customer_id": ids, "ts": ts, "amount": rng.gamma(2, 20, cid.size).round(2)})
    return df.sample(frac=1, random_state=seed).reset_index(drop=True)


def ref_btyd_summary(
    orders: pd.DataFrame, observation_end, calibration_end=None, **pmm_kw
) -> pd.DataFrame:
    """PyMC-Marketing's own summary, by default in cjlab's conventions (distinct days, fractional
    weeks); ``calibration_end`` adds the holdout columns (``rfm_train_test_split``). The peer
    reference of ``tests/test_portable.py`` (pandas, DuckDB, Spark)."""
    kw = pmm_kw or {"time_unit": "D", "time_scaler": 7}
    if calibration_end is None:
        return pmm_rfm_summary(
            orders,
            "customer_id",
            "ts",
            monetary_value_col="amount",
            observation_period_end=observation_end,
            **kw,
        )
    return pmm_split(
        orders,
        "customer_id",
        "ts",
        train_period_end=calibration_end,
        test_period_end=observation_end,
        monetary_value_col="amount",
        **kw,
    )


def _cmp(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    ref = ref.sort_values("customer_id").reset_index(drop=True)
    assert list(ours.columns) == list(ref.columns)
    assert len(ours) == len(ref)
    assert (ours["customer_id"].to_numpy() == ref["customer_id"].to_numpy()).all()
    for c in ours.columns[1:]:
        np.testing.assert_allclose(
            ours[c].to_numpy(), ref[c].to_numpy(), rtol=1e-12, atol=1e-9, err_msg=c
        )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("ours_kw", "ref_kw"),
    [
        ({"time_unit": "D", "period": "D"}, {"time_unit": "D"}),
        ({"time_unit": "W", "period": "W"}, {"time_unit": "W"}),
        ({"time_unit": "M", "period": "M"}, {"time_unit": "M"}),
        ({"time_unit": "h", "period": "h"}, {"time_unit": "h"}),
        # Fader-Hardie conventions: distinct days, fractional weeks
        ({"time_unit": "W"}, {"time_unit": "D", "time_scaler": 7}),
        (
            {"time_unit": "D", "period": "D", "time_scaler": 30},
            {"time_unit": "D", "time_scaler": 30},
        ),
    ],
)
def test_rfm_summary_equals_pymc_marketing(seed, ours_kw, ref_kw):
    orders = random_orders(seed=seed)
    end = "2025-09-17 13:00"
    ours = rfm_summary(orders, end, **ours_kw)
    ref = pmm_rfm_summary(
        orders,
        "customer_id",
        "ts",
        monetary_value_col="amount",
        observation_period_end=end,
        **ref_kw,
    )
    _cmp(ours, ref)
    assert (ours["frequency"] > 0).mean() > 0.5  # data really have repeat purchases


def test_rfm_summary_string_ids_and_no_value():
    orders = random_orders(seed=3, id_kind="str")
    ours = rfm_summary(orders, "2025-12-31", value_col=None, time_unit="D", period="D")
    ref = pmm_rfm_summary(orders, "customer_id", "ts", observation_period_end="2025-12-31")
    _cmp(ours, ref)


@pytest.mark.parametrize(
    ("ours_kw", "ref_kw"),
    [
        ({"time_unit": "D", "period": "D"}, {"time_unit": "D"}),
        ({"time_unit": "W", "period": "W"}, {"time_unit": "W"}),
        ({"time_unit": "W"}, {"time_unit": "D", "time_scaler": 7}),
    ],
)
def test_rfm_holdout_equals_pymc_train_test_split(ours_kw, ref_kw):
    orders = random_orders(seed=5)
    ours = rfm_summary(orders, "2025-12-31", calibration_end="2025-03-31 12:00", **ours_kw)
    ref = pmm_split(
        orders,
        "customer_id",
        "ts",
        train_period_end="2025-03-31 12:00",
        test_period_end="2025-12-31",
        monetary_value_col="amount",
        **ref_kw,
    )
    _cmp(ours, ref)
    assert ours["test_frequency"].sum() > 100


def test_rfm_hand_made_case():
    o = pd.DataFrame(
        {
            "customer_id": [7, 7, 7, 7, 8],
            "ts": pd.to_datetime(
                [
                    "2025-01-06 09:00",
                    "2025-01-06 17:00",
                    "2025-01-20 10:00",
                    "2025-02-03 10:00",
                    "2025-01-13 08:00",
                ]
            ),
            "amount": [10.0, 5.0, 30.0, 50.0, 9.0],
        }
    )
    s = rfm_summary(o, "2025-01-27").set_index("customer_id")
    # customer 7: days 06, 20 (02-03 is after the end) -> frequency 1; recency 14 days, T 21 days
    assert s.loc[7, "frequency"] == 1
    assert s.loc[7, "recency"] == pytest.approx(2.0)
    assert s.loc[7, "T"] == pytest.approx(3.0)
    assert s.loc[7, "monetary_value"] == 30.0
    assert s.loc[8].tolist() == [0.0, 0.0, 2.0, 0.0]


def test_rfm_bad_input():
    o = random_orders(n_customers=20)
    with pytest.raises(RFMError, match="missing column"):
        rfm_summary(o.drop(columns="customer_id"), "2025-12-31")
    bad = o.copy()
    bad.loc[0, "customer_id"] = None
    with pytest.raises(RFMError, match="without customer_id"):
        rfm_summary(bad.astype({"customer_id": "float"}), "2025-12-31")
    with pytest.raises(RFMError, match="before the first order"):
        rfm_summary(o, "2020-01-01")
    with pytest.raises(RFMError, match="must be before"):
        rfm_summary(o, "2025-01-01", calibration_end="2025-02-01")
    with pytest.raises(RFMError, match="not supported"):
        rfm_summary(o, "2025-12-31", time_unit="Q")
    with pytest.raises(RFMError, match="months have no"):
        rfm_summary(o, "2025-12-31", time_unit="M", period="D")
