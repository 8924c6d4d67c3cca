"""Adapters that bring outside data into cjlab's shapes (an example of bringing one's own data).

IBM's sample telco churn file (``telco_churn_ibm.csv``: one row per customer, ``tenure`` in
months, ``Churn`` Yes/No at the snapshot) is a *snapshot*: it has no order or event history.
It maps onto the contract as

* :func:`telco_tables` — a contract-shaped ``customers`` table: ``first_seen`` = snapshot −
  tenure months, ``cancelled_at`` = the snapshot month for churners (contractual churn), plus
  the contract attributes as extra columns; good for retention curves;
* :func:`telco_churn_frame` — a churn frame (``customer_id``, features, ``churned``) that
  :class:`cjlab.churn.model.ChurnModel` and the churn notebook use directly.

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"customerID": ["a", "b"], "tenure": [0, 12], "TotalCharges": [" ", "240.5"],
...                     "MonthlyCharges": [20.0, 20.0], "Contract": ["Month-to-month", "One year"],
...                     "Churn": ["No", "Yes"], "SeniorCitizen": [0, 1]})
>>> f = telco_churn_frame(raw)
>>> f[["customer_id", "tenure_months", "total_charges", "churned"]]
  customer_id  tenure_months  total_charges  churned
0           a            0.0            0.0        0
1           b           12.0          240.5        1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AdapterError", "read_telco", "telco_churn_frame", "telco_tables"]

TELCO_FILE = "telco_churn_ibm.csv"
_YES_NO = ("Partner", "Dependents", "PhoneService", "PaperlessBilling")


class AdapterError(ValueError):
    """The input does not look like the data the adapter expects."""


def read_telco(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read and check the IBM telco churn CSV (or take it as a DataFrame).

    ``TotalCharges`` is blank for the 11 customers with tenure 0 (they have not been billed
    yet); it becomes 0.0 for them. A blank for a customer with tenure > 0 is an error.
    """
    df = source.copy() if isinstance(source, pd.DataFrame) else pd.read_csv(source, dtype={"TotalCharges": str})
    need = ["customerID", "tenure", "Churn"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise AdapterError(f"telco data: missing column(s) {missing}; columns are {list(df.columns)}")
    if df["customerID"].isna().any():
        raise AdapterError(f"telco data: {int(df['customerID'].isna().sum())} row(s) without customerID")
    bad = ~df["Churn"].isin(["Yes", "No"])
    if bad.any():
        raise AdapterError(f"telco data: Churn must be Yes/No; {int(bad.sum())} other value(s), "
                           f"e.g. {df.loc[bad, 'Churn'].head(3).tolist()}")
    if "TotalCharges" in df.columns:
        tc = pd.to_numeric(df["TotalCharges"].astype(str).str.strip().replace("", np.nan), errors="coerce")
        blank = tc.isna()
        if (blank & (df["tenure"] > 0)).any():
            rows = (np.flatnonzero(blank & (df["tenure"] > 0))[:5] + 1).tolist()
            raise AdapterError(f"telco data: TotalCharges blank or not a number for tenure > 0 "
                               f"(rows {rows})")
        df["TotalCharges"] = tc.fillna(0.0)
    return df


def telco_churn_frame(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """One row per customer: ``customer_id``, numeric and categorical features, ``churned``."""
    df = read_telco(source)
    out = pd.DataFrame({"customer_id": df["customerID"].astype(str)})
    out["tenure_months"] = df["tenure"].astype(float)
    if "MonthlyCharges" in df.columns:
        out["monthly_charges"] = df["MonthlyCharges"].astype(float)
    if "TotalCharges" in df.columns:
        out["total_charges"] = df["TotalCharges"].astype(float)
    if "SeniorCitizen" in df.columns:
        out["senior_citizen"] = df["SeniorCitizen"].astype(float)
    for c in _YES_NO:
        if c in df.columns:
            out[_snake(c)] = (df[c] == "Yes").astype(float)
    skip = {"customerID", "tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen", "Churn", *_YES_NO}
    for c in df.columns:
        if c not in skip:
            out[_snake(c)] = df[c].astype(str)
    out["churned"] = (df["Churn"] == "Yes").astype(int).to_numpy()
    return out


def telco_tables(source: str | Path | pd.DataFrame, snapshot: Any = "2025-12-31") -> dict[str, pd.DataFrame]:
    """Contract-shaped ``customers`` table from the telco snapshot.

    ``first_seen`` = snapshot − ``tenure`` months; churners get ``cancelled_at`` = snapshot
    (they left in the last month); ``acquisition_channel`` is not known (empty); the contract
    type, internet service and payment method are kept as extra columns (``contract`` ...) for
    retention curves by group.
    """
    df = read_telco(source)
    snap = pd.Timestamp(snapshot).normalize()
    first = [snap - pd.DateOffset(months=int(m)) for m in df["tenure"]]
    cust = pd.DataFrame({
        "customer_id": df["customerID"].astype(str),
        "first_seen": pd.to_datetime(first),
        "country": None, "acquisition_channel": None, "marketing_opt_in": None,
        "cancelled_at": pd.to_datetime(np.where(df["Churn"] == "Yes", snap, pd.NaT)),
    })
    for c in ("Contract", "InternetService", "PaymentMethod"):
        if c in df.columns:
            cust[_snake(c)] = df[c].astype(str).to_numpy()
    return {"customers": cust}


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper()):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
