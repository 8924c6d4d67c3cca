"""Tables for readers: the segmentation results with headers in words and units.

Each function returns ``(frame, formats, caption)``: the frame with readable column names,
the display format of each numeric column (``share``, ``int``, ``money`` ... as
``cjlab.notebook.table`` understands them) and a caption; a notebook shows one with
``rd.table(*a.rfm_table())``. Money headers carry the currency when one is given.

Examples
--------
>>> import pandas as pd
>>> s = pd.DataFrame({"segment": ["Champions"], "customers": [10], "customer_share": [1.0],
...                   "revenue": [500.0], "revenue_share": [1.0]})
>>> frame, formats, caption = rfm_table(s, "2025-12-31", 5, "rank", "total", "EUR")
>>> list(frame.columns)
['Segment', 'Buyers', 'Share of buyers', 'Revenue (EUR)', 'Share of revenue']
"""

from __future__ import annotations

import pandas as pd

from cjlab.segments.status import STATUS_ORDER

__all__ = [
    "behaviour_table",
    "cross_table",
    "response_top_table",
    "rfm_table",
    "rules_table",
    "selection_table",
    "status_mix_table",
]

Table = tuple[pd.DataFrame, dict[str, str], str]

_METHOD_WORDS = {
    "rank": "groups of equal size, tied values kept together",
    "quantile": "quantiles",
    "jenks": "natural breaks",
    "cuts": "fixed cut points",
}


def _money(label: str, currency: str) -> str:
    return f"{label} ({currency})" if currency else label


def rfm_table(
    summary: pd.DataFrame, as_of: str, n_bins: int, method: str, monetary: str, currency: str = ""
) -> Table:
    """Size and value of each RFM segment (from :func:`cjlab.segments.rfm.segment_summary`)."""
    cols = {
        "segment": "Segment",
        "customers": "Buyers",
        "customer_share": "Share of buyers",
        "revenue": _money("Revenue", currency),
        "revenue_share": "Share of revenue",
        "mean_recency_days": "Days since last purchase (mean)",
        "mean_frequency": "Purchases (mean)",
        "mean_monetary_mean": _money("Spend per purchase (mean)", currency),
    }
    frame = summary[[c for c in cols if c in summary.columns]].rename(columns=cols)
    formats = {
        "Buyers": "int",
        "Share of buyers": "share",
        cols["revenue"]: "int",
        "Share of revenue": "share",
        "Days since last purchase (mean)": "int",
        "Purchases (mean)": "{:.1f}",
        cols["mean_monetary_mean"]: "money",
    }
    m = "revenue" if monetary == "total" else "spend per purchase"
    caption = (
        f"RFM segments as of {as_of} (scores 1–{n_bins}: {_METHOD_WORDS.get(method, method)}; "
        f"M from {m})"
    )
    return frame, formats, caption


def _ranges(lo: pd.Series, hi: pd.Series) -> list[str]:
    return [f"{a}" if a == b else f"{a}–{b}" for a, b in zip(lo, hi)]


def rules_table(rules: pd.DataFrame, summary: pd.DataFrame) -> Table:
    """The rule table (score ranges per named segment) with the buyers each segment holds."""
    out = pd.DataFrame({"Segment": rules["segment"]})
    for k in "rfm":
        out[k.upper()] = _ranges(rules[f"{k}_min"], rules[f"{k}_max"])
    out["Score combinations"] = rules["cells"].to_numpy()
    buyers = summary.set_index("segment")["customers"]
    out["Buyers"] = rules["segment"].map(buyers).fillna(0).astype(int).to_numpy()
    return out, {"Score combinations": "int", "Buyers": "int"}, "Named RFM segments (rules)"


def behaviour_table(summary: pd.DataFrame) -> Table:
    """Behavioural segments: size, what sets them apart, and their share of revenue."""
    cols = {
        "segment": "Segment",
        "customers": "Customers",
        "share": "Share of customers",
        "description": "What sets them apart",
        "revenue_share": "Share of revenue",
    }
    frame = summary[[c for c in cols if c in summary.columns]].rename(columns=cols)
    formats = {"Customers": "int", "Share of customers": "share", "Share of revenue": "share"}
    return frame, formats, "Behavioural segments (share of revenue: of the buyers' revenue)"


def status_mix_table(rfm: pd.DataFrame, status: pd.DataFrame) -> Table:
    """Share of each status within each RFM segment (rows add up to 100 %)."""
    st = status.set_index("customer_id")["status"].reindex(rfm["customer_id"]).to_numpy()
    mix = pd.crosstab(rfm["segment"].to_numpy(), st, normalize="index")
    mix = mix[[c for c in STATUS_ORDER if c in mix.columns]]
    mix.columns = [str(c).capitalize() for c in mix.columns]
    frame = mix.rename_axis("Segment").reset_index()
    return frame, dict.fromkeys(mix.columns, "share"), "Status mix of each RFM segment"


def response_top_table(table: pd.DataFrame, by: str, top: int = 5) -> Table:
    """The segments responding most above the average, for one response dimension."""
    label = by.replace("_", " ").capitalize()
    best = table.sort_values("lift", ascending=False).head(top)
    values = best[by].astype(str).str.replace("_", " ")
    frame = pd.DataFrame(
        {
            "Segment": best["segment"],
            label: values,
            "Customers reached": best["exposed"],
            "Responded": best["responders"],
            "Response rate": best["response_rate"],
            "Rate of everyone reached": best["overall_rate"],
            "Lift": best["lift"],
        }
    )
    formats = {
        "Customers reached": "int",
        "Responded": "int",
        "Response rate": "share",
        "Rate of everyone reached": "share",
        "Lift": "{:.2f}",
    }
    return frame.reset_index(drop=True), formats, f"Strongest responders by {by.replace('_', ' ')}"


def cross_table(cross: pd.DataFrame) -> Table:
    """Behavioural segment mix of each RFM segment (rows add up to 100 %)."""
    frame = cross.rename_axis("RFM segment").reset_index()
    frame.columns.name = None
    return (
        frame,
        {c: "share" for c in cross.columns},
        "Behavioural segments within each RFM segment",
    )


def selection_table(selection: pd.DataFrame) -> Table:
    """For analysts: silhouette, BIC and stability for each number of segments tried."""
    chosen = [c for c in selection.columns if c.startswith("chosen_by_")]
    by = selection[chosen].apply(
        lambda r: ", ".join(c.removeprefix("chosen_by_") for c in chosen if r[c]), axis=1
    )
    frame = pd.DataFrame(
        {
            "Segments (k)": selection["k"],
            "Silhouette": selection["silhouette"],
            "BIC": selection["bic"],
            "Stability": selection["stability"],
            "Stability (lowest)": selection["stability_min"],
            "Chosen by": by,
        }
    )
    formats = {
        "Segments (k)": "int",
        "Silhouette": "float3",
        "BIC": "int",
        "Stability": "float3",
        "Stability (lowest)": "float3",
    }
    return (
        frame,
        formats,
        (
            "Choosing the number of behavioural segments (silhouette and stability: "
            "higher is better; BIC: lower is better)"
        ),
    )
