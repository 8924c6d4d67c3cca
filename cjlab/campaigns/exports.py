"""Customer lists for the CRM: only customers who consented, never inside the report.

:func:`consented` keeps the customers whose ``marketing_opt_in`` is true (a list is not made at
all when the data carry no consent). The lists — the uplift target list, the next best offers
and the send-time schedule — are customer-level, so reports never show them: a notebook writes
them as separate CSV files into the run's export folder with
:func:`cjlab.notebook.exports.export_csv` (formula-safe, linked from the report, never embedded)
and shows only :func:`export_summary` (what each list holds and its size).

Examples
--------
>>> import pandas as pd
>>> c = pd.DataFrame({"customer_id": [1, 2, 3], "marketing_opt_in": [True, False, None]})
>>> consented(pd.DataFrame({"customer_id": [1, 2, 3], "x": [0, 1, 2]}), c)["customer_id"].tolist()
[1]
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["DESCRIPTIONS", "consented", "export_summary"]
#: what each list holds, for the summary table
DESCRIPTIONS = {
    "uplift_targets": "customers to contact next time, by expected incremental profit",
    "next_best_offers": "the top offers per customer (items not bought yet)",
    "send_time_schedule": "each customer's best day and hour to send e-mail",
}


def consented(frame: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame | None:
    """Rows of ``frame`` (with customer_id) whose customer has ``marketing_opt_in`` true.

    None when there is no consent column: a list without known consent is never made.
    """
    if customers is None or "marketing_opt_in" not in customers:
        return None
    c = customers[["customer_id", "marketing_opt_in"]]
    ok = c.loc[c["marketing_opt_in"].astype("boolean").fillna(False).astype(bool), "customer_id"]
    key = frame["customer_id"].astype(str)
    return frame[key.isin(set(ok.astype(str)))].reset_index(drop=True)


def export_summary(exports: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per list: the file name, what it holds, customers and rows (no customer data)."""
    rows = [
        {
            "File": f"{name}.csv",
            "Holds": DESCRIPTIONS.get(name, ""),
            "Customers": int(df["customer_id"].nunique()) if "customer_id" in df else 0,
            "Rows": len(df),
        }
        for name, df in exports.items()
    ]
    return pd.DataFrame(rows, columns=["File", "Holds", "Customers", "Rows"])
