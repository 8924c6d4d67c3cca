"""Synthetic order tables shared by the benchmark scripts (imported as a sibling module)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_orders(n_orders: int, n_customers: int, seed: int = 0) -> pd.DataFrame:
    """Skewed purchase counts (a few customers buy often), times spread over two years."""
    rng = np.random.default_rng(seed)
    w = rng.gamma(0.6, 1.0, n_customers)
    cust = rng.choice(n_customers, size=n_orders, p=w / w.sum())
    secs = rng.integers(0, 730 * 86_400, n_orders)
    return pd.DataFrame({
        "order_id": np.arange(n_orders, dtype="int64"),
        "customer_id": cust.astype("int64"),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(secs, unit="s"),
        "amount": np.round(rng.gamma(2.0, 30.0, n_orders), 2),
    })
