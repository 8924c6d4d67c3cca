"""Independent plain-pandas references for the journey aggregations of ``cjlab.features``.

Written with pandas sorting, group-bys and Python loops (the shape of cjlab's pandas code
before the aggregations became portable), so the portable narwhals code can be compared with
them on pandas, DuckDB and Spark (``test_portable.CASES``, ``test_journey_sequences``). The
tests in this file check the references themselves on hand-made data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES

SEP = " > "


def customer_sequences(
    touchpoints: pd.DataFrame,
    orders: pd.DataFrame | None = None,
    *,
    by: str = "channel",
    outcome: str = "purchase",
    customers: pd.DataFrame | None = None,
    channels: Sequence[str] | None = None,
    exclude_touchpoints: Sequence[str] = (),
    stages: Sequence[str] | None = None,
    as_of: Any = None,
    lookback_days: float | None = None,
    collapse_repeats: bool = False,
    max_steps: int | None = None,
) -> pd.DataFrame:
    """One row per customer: steps (tuple), path, outcome (0/1), n_steps."""
    tp = touchpoints
    if channels is not None:
        tp = tp[tp["channel"].isin(list(channels))]
    if exclude_touchpoints:
        tp = tp[~tp["touchpoint"].isin(list(exclude_touchpoints))]
    if stages is not None:
        tp = tp[tp["stage"].isin(list(stages))]
    end_of_day = None if as_of is None else pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    if end_of_day is not None:
        tp = tp[tp["ts"] < end_of_day]
    ref_ts = end_of_day if end_of_day is not None else tp["ts"].max()
    if outcome == "purchase":
        o = (
            orders
            if orders is not None
            else pd.DataFrame({"customer_id": [], "ts": pd.Series([], dtype="M8[ns]")})
        )
        if end_of_day is not None:
            o = o[o["ts"] < end_of_day]
        end = o.groupby("customer_id")["ts"].min()
    else:
        c = customers.dropna(subset=["cancelled_at"])
        end = pd.Series(pd.to_datetime(c["cancelled_at"]).to_numpy(), index=c["customer_id"])
        if end_of_day is not None:
            end = end[end < end_of_day]
    tp = tp[["customer_id", "ts", by]].copy()
    tp["_end"] = tp["customer_id"].map(end)
    tp["_hit"] = tp["_end"].notna()
    keep = ~tp["_hit"] | (tp["ts"] < tp["_end"])
    if lookback_days is not None:
        start = tp["_end"].fillna(ref_ts) - pd.Timedelta(days=float(lookback_days))
        keep &= tp["ts"] >= start
    tp = tp[keep].sort_values(["customer_id", "ts", by], kind="stable")
    tp[by] = tp[by].astype(str)
    if collapse_repeats:
        same = tp["customer_id"].eq(tp["customer_id"].shift()) & tp[by].eq(tp[by].shift())
        tp = tp[~same]
    if max_steps is not None:
        tp = tp.groupby("customer_id", sort=False).tail(max_steps)
    g = tp.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {"steps": g[by].agg(tuple), "outcome": g["_hit"].first().astype(int)}
    ).reset_index()
    out["path"] = out["steps"].map(SEP.join)
    out["n_steps"] = out["steps"].map(len)
    return out


def customer_paths(touchpoints, orders=None, **kwargs) -> pd.DataFrame:
    """Reference of :func:`cjlab.features.sequences.customer_paths`."""
    return customer_sequences(touchpoints, orders, **kwargs)[
        ["customer_id", "path", "outcome", "n_steps"]
    ]


def build_paths(touchpoints, orders=None, **kwargs) -> pd.DataFrame:
    """Reference of :func:`cjlab.features.path_counts`: path, conversions, null."""
    kwargs.setdefault("max_steps", None)
    seq = customer_sequences(touchpoints, orders, **kwargs)
    g = seq.groupby("path")["outcome"]
    return pd.DataFrame({"conversions": g.sum(), "null": g.count() - g.sum()}).reset_index()


def ordered_funnel(
    touchpoints: pd.DataFrame,
    steps: Sequence[str],
    window_days: float | None = None,
    first_touch: Sequence[str] = (),
) -> pd.DataFrame:
    """Reference of :func:`cjlab.features.funnels.ordered_funnel` (pandas merges, step by step)."""
    tp = touchpoints
    s0 = tp[tp["stage"] == steps[0]]
    out = s0.groupby("customer_id")["ts"].min().rename(f"ts_{steps[0]}").to_frame()
    at0 = s0[s0["ts"] == s0["customer_id"].map(out[f"ts_{steps[0]}"])]
    for c in first_touch:
        first = at0.dropna(subset=[c]).groupby("customer_id")[c].min().reindex(out.index)
        out[c] = first.astype(object).where(first.notna(), None)
    prev = out[f"ts_{steps[0]}"]
    deadline = (
        None if window_days is None else prev + pd.Timedelta(seconds=round(window_days * 86400))
    )
    for s in steps[1:]:
        ev = tp[(tp["stage"] == s) & tp["customer_id"].isin(prev.dropna().index)]
        ok = ev["ts"] >= ev["customer_id"].map(prev)
        if deadline is not None:
            ok &= ev["ts"] <= ev["customer_id"].map(deadline)
        prev = ev[ok].groupby("customer_id")["ts"].min().reindex(out.index)
        out[f"ts_{s}"] = prev
    return out.reset_index()


def step_flows(
    touchpoints: pd.DataFrame,
    orders: pd.DataFrame | None = None,
    *,
    by: str = "stage",
    max_steps: int = 5,
    top: int | None = None,
    ends: tuple[str, str] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Reference of the flows: position, source, target, end, customers (Python loops)."""
    if by == "stage":
        first = (
            touchpoints[touchpoints["stage"].isin(STAGES)]
            .groupby(["customer_id", "stage"])["ts"]
            .min()
            .reset_index()
        )
        first["_o"] = first["stage"].map({s: i for i, s in enumerate(STAGES)})
        first = first.sort_values(["customer_id", "ts", "_o"])
        seqs = [tuple(g["stage"]) for _, g in first.groupby("customer_id")]
        if ends is None:
            seqs = [st[:max_steps] for st in seqs]
        else:  # an end node: more stages later, or none
            seqs = [(*st[:max_steps], ends[0] if len(st) > max_steps else ends[1]) for st in seqs]
    else:
        cs = customer_sequences(touchpoints, orders, by=by, collapse_repeats=True, **kwargs)
        steps = list(cs["steps"])
        if top is not None:
            freq = pd.Series([c for st in steps for c in st]).value_counts()
            freq = (
                freq.rename_axis("v")
                .reset_index(name="n")
                .sort_values(["n", "v"], ascending=[False, True])
            )
            keep = set(freq["v"].head(top))
            steps = [tuple(c if c in keep else "other" for c in st) for st in steps]
        outcome = np.where(cs["outcome"] == 1, "purchase", "no purchase")
        seqs = [(*st[:max_steps], e) for st, e in zip(steps, outcome)]
    counts: dict[tuple, int] = {}
    for st in seqs:
        for i in range(len(st) - 1):
            end = int((by != "stage" or ends is not None) and i + 1 == len(st) - 1)
            key = (i + 1, st[i], st[i + 1], end)
            counts[key] = counts.get(key, 0) + 1
    return pd.DataFrame(
        [(*k, v) for k, v in counts.items()],
        columns=["position", "source", "target", "end", "customers"],
    )


def touchpoint_progress(touchpoints: pd.DataFrame) -> pd.DataFrame:
    """Reference of :func:`cjlab.features.funnels.touchpoint_progress` (the old journey-map loop)."""
    tp = touchpoints[touchpoints["stage"].isin(STAGES)]
    last_at = {st: g.groupby("customer_id")["ts"].max() for st, g in tp.groupby("stage")}
    first_at = tp.groupby(["stage", "touchpoint", "customer_id"])["ts"].min().reset_index()
    rows = []
    for (stage, touch), g in first_at.groupby(["stage", "touchpoint"]):
        k = STAGES.index(stage)
        reached = 0
        if k + 1 < len(STAGES) and STAGES[k + 1] in last_at:
            later = last_at[STAGES[k + 1]].reindex(g["customer_id"]).to_numpy()
            reached = int(np.sum(later >= g["ts"].to_numpy()))
        rows.append(
            {
                "stage": stage,
                "stage_index": k,
                "touchpoint": touch,
                "customers": len(g),
                "touches": int(((tp["stage"] == stage) & (tp["touchpoint"] == touch)).sum()),
                "reached_next": reached,
            }
        )
    return pd.DataFrame(rows)


# -- the references on hand-made data ----------------------------------------------------------------


def test_references_by_hand():
    tp = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2],
            "ts": pd.to_datetime(
                ["2025-01-01", "2025-01-02", "2025-01-05", "2025-01-01", "2025-01-03"]
            ),
            "channel": ["social", "email", "web", "email", "email"],
            "touchpoint": ["ad", "click", "landing", "click", "open"],
            "stage": ["awareness", "information", "comparison", "awareness", "comparison"],
        }
    )
    orders = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2025-01-04"])})
    paths = build_paths(tp, orders).set_index("path")
    assert (
        paths.loc["social > email", "conversions"] == 1 and paths.loc["email > email", "null"] == 1
    )
    steps = ["awareness", "information", "comparison"]
    f = ordered_funnel(tp, steps, window_days=4).set_index("customer_id")
    assert f.loc[1, "ts_comparison"] == pd.Timestamp("2025-01-05") and pd.isna(
        f.loc[2, "ts_information"]
    )
    assert pd.isna(
        ordered_funnel(tp, steps, window_days=3).set_index("customer_id").loc[1, "ts_comparison"]
    )
    prog = touchpoint_progress(tp).set_index(["stage", "touchpoint"])
    assert (
        prog.loc[("awareness", "ad"), "reached_next"] == 1
        and prog.loc[("awareness", "click"), "reached_next"] == 0
    )
