"""Funnels vs an independent DuckDB SQL query; stages, paths, the flow figure, journey map, bad input."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from cjlab.data.contract import STAGES
from cjlab.features.sequences import customer_paths
from cjlab.journey import (
    JourneyInputError,
    action_table,
    attribution_paths,
    funnel,
    journey_map,
    plots,
    read_actions,
    stage_durations,
    stage_flows,
    stage_progress,
    top_paths,
)

STEPS = ["awareness", "information", "comparison", "persuasion", "purchase"]


@pytest.fixture(scope="module")
def touches() -> pd.DataFrame:
    """Random, partly out-of-order stage events for 400 customers."""
    rng = np.random.default_rng(17)
    rows = []
    for cid in range(400):
        t0 = pd.Timestamp("2025-01-01") + pd.Timedelta(hours=int(rng.integers(0, 24 * 300)))
        n = int(rng.integers(1, 16))
        for _ in range(n):
            stage = STEPS[min(int(rng.exponential(2.5)), len(STEPS) - 1)]
            ts = t0 + pd.Timedelta(hours=int(rng.integers(0, 24 * 40)))
            rows.append(
                (
                    cid,
                    ts,
                    stage,
                    rng.choice(["web", "email", "paid_search"]),
                    rng.choice(["mobile", "desktop"]),
                )
            )
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "stage", "channel", "device"])
    df["touchpoint"] = df["stage"] + "_page"
    return df.sort_values(["customer_id", "ts"]).reset_index(drop=True)


def _sql_funnel(df: pd.DataFrame, steps: list[str], window_days: float | None) -> pd.DataFrame:
    """Ordered funnel with a window from step 1, written directly in SQL."""
    con = duckdb.connect()
    con.register("ev", df)
    win = "" if window_days is None else f"AND e.ts <= s.t0 + INTERVAL {int(window_days * 24)} HOUR"
    ctes = [
        f"s0 AS (SELECT customer_id, min(ts) AS t0, min(ts) AS t FROM ev WHERE stage = '{steps[0]}' "
        "GROUP BY customer_id)"
    ]
    for k, st in enumerate(steps[1:], start=1):
        ctes.append(
            f"s{k} AS (SELECT e.customer_id, any_value(s.t0) AS t0, min(e.ts) AS t FROM ev e "
            f"JOIN s{k - 1} s ON e.customer_id = s.customer_id WHERE e.stage = '{st}' "
            f"AND e.ts >= s.t {win} GROUP BY e.customer_id)"
        )
    union = " UNION ALL ".join(
        f"SELECT {k} AS k, count(*) AS n, median(epoch(t) - epoch(t0)) / 86400.0 AS med FROM s{k}"
        for k in range(len(steps))
    )
    return con.execute(f"WITH {', '.join(ctes)} {union} ORDER BY k").df()


@pytest.mark.parametrize("window", [None, 35.0])
def test_funnel_counts_match_sql(touches, window):
    ref = _sql_funnel(touches, STEPS, window)
    assert ref["n"].iloc[-1] >= 5  # every step is exercised
    res = funnel(touches, STEPS, window_days=window)
    assert res.table["customers"].tolist() == ref["n"].astype(int).tolist()
    np.testing.assert_allclose(
        res.table["median_days"].to_numpy(), ref["med"].to_numpy(), rtol=1e-9
    )
    # definitions: step conversion, overall conversion, drop-off
    n = ref["n"].to_numpy(float)
    np.testing.assert_allclose(res.table["step_conversion"].to_numpy()[1:], n[1:] / n[:-1])
    np.testing.assert_allclose(res.table["overall_conversion"].to_numpy(), n / n[0])
    np.testing.assert_allclose(res.table["dropoff"].to_numpy()[:-1], n[:-1] - n[1:])


def test_funnel_window_is_binding(touches):
    open_ = funnel(touches, STEPS).table["customers"].to_numpy()
    tight = funnel(touches, STEPS, window_days=2).table["customers"].to_numpy()
    assert tight[0] == open_[0] and (tight <= open_).all() and tight[-1] < open_[-1]


def test_funnel_first_touch_breakdown_matches_sql(touches):
    res = funnel(touches, STEPS, breakdown="device")
    con = duckdb.connect()
    con.register("ev", touches)
    # device of the first step-1 touch (smallest value on ties), then the step-1..2 counts
    ref = con.execute("""
        WITH s0 AS (SELECT customer_id, min(ts) AS t0 FROM ev WHERE stage = 'awareness' GROUP BY 1),
        dev AS (SELECT e.customer_id, min(e.device) AS device FROM ev e JOIN s0 USING (customer_id)
                WHERE e.stage = 'awareness' AND e.ts = s0.t0 GROUP BY 1),
        s1 AS (SELECT e.customer_id FROM ev e JOIN s0 USING (customer_id)
               WHERE e.stage = 'information' AND e.ts >= s0.t0 GROUP BY 1)
        SELECT device, count(*) AS n0, count(s1.customer_id) AS n1
        FROM dev LEFT JOIN s1 USING (customer_id) GROUP BY device ORDER BY device""").df()
    t = res.table
    for dev, n0, n1 in ref.itertuples(index=False):
        g = t[t["device"] == dev].set_index("step")["customers"]
        assert g["awareness"] == n0 and g["information"] == n1


def test_funnel_on_duckdb_relation_equals_pandas(touches):
    con = duckdb.connect()
    rel = con.from_df(touches)
    a = funnel(touches, STEPS, window_days=10).table
    b = funnel(rel, STEPS, window_days=10).table
    pd.testing.assert_frame_equal(a, b)


def test_funnel_customer_breakdown_and_percentiles(touches):
    seg = pd.DataFrame(
        {"customer_id": range(400), "segment": np.where(np.arange(400) % 3 == 0, "A", "B")}
    )
    res = funnel(touches, STEPS, breakdown="segment", customers=seg, percentiles=(0.1, 0.9))
    t = res.table
    assert set(t["segment"]) == {"A", "B"}
    total = funnel(touches, STEPS).table["customers"].to_numpy()
    np.testing.assert_array_equal(
        t.groupby("step", sort=False)["customers"].sum().to_numpy(), total
    )
    assert {"p10_days", "p90_days"} <= set(t.columns)
    assert res.biggest_dropoff in STEPS[:-1]


def test_unknown_stage_raises_or_is_counted(touches):
    bad = touches.copy()
    bad.loc[:2, "stage"] = "checkout_page"
    with pytest.raises(JourneyInputError, match="3 rows with an unknown stage"):
        funnel(bad, STEPS)
    res = funnel(bad, STEPS, on_unknown="drop")
    assert res.handling == {"unknown stage": 3}
    with pytest.raises(JourneyInputError, match="not lifecycle stages"):
        funnel(touches, ["awareness", "buy"])


def test_stage_progress_and_durations():
    df = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2],
            "ts": pd.to_datetime(
                ["2025-01-01", "2025-01-03", "2025-01-02", "2025-02-01", "2025-02-11"]
            ),
            "stage": ["awareness", "comparison", "information", "awareness", "information"],
        }
    )
    p = stage_progress(df).set_index("customer_id")
    assert (
        p.loc[1, "furthest_stage"] == "comparison" and p.loc[2, "furthest_stage"] == "information"
    )
    d = stage_durations(p.reset_index()).set_index("from_stage")
    assert d.loc["awareness", "customers"] == 2
    assert d.loc["awareness", "p50_days"] == pytest.approx(5.5)  # median of 1 and 10 days


def test_paths_before_purchase_by_hand():
    tp = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 3],
            "ts": pd.to_datetime(
                ["2025-01-01", "2025-01-02", "2025-01-05", "2025-01-01", "2025-01-03", "2025-01-01"]
            ),
            "channel": ["social", "email", "web", "email", "email", "display"],
            "touchpoint": [
                "ad",
                "newsletter_click",
                "landing",
                "newsletter_click",
                "newsletter_open",
                "ad",
            ],
            "stage": [
                "awareness",
                "information",
                "comparison",
                "awareness",
                "information",
                "awareness",
            ],
        }
    )
    orders = pd.DataFrame(
        {"customer_id": [1], "ts": pd.to_datetime(["2025-01-04"]), "amount": [10.0]}
    )
    seq = customer_paths(tp, orders).set_index("customer_id")
    assert (
        seq.loc[1, "path"] == "social > email" and seq.loc[1, "outcome"] == 1
    )  # web came after buying
    assert seq.loc[2, "path"] == "email > email" and seq.loc[2, "outcome"] == 0
    p = attribution_paths(tp, orders, collapse_repeats=True).set_index("path")
    assert p.loc["social > email", "conversions"] == 1 and p.loc["email", "null"] == 1
    p2 = attribution_paths(tp, orders, exclude_touchpoints=["newsletter_open"]).set_index("path")
    assert "email" in p2.index and "email > email" not in p2.index
    tops = top_paths(tp, orders, reached=False)
    assert set(tops["path"]) == {"email", "display"} and tops["share"].sum() == pytest.approx(1.0)


def test_flow_figure_is_static_and_small(touches):
    import io

    import matplotlib.pyplot as plt

    flows = stage_flows(touches, max_steps=4)
    assert (flows["value"] > 0).all()
    # every customer starts exactly one flow at step 1 and ends in exactly one end node:
    # "no further stage" where their stages stop, "more stages" when they have more than 4
    n_stages = touches.groupby("customer_id")["stage"].nunique()
    assert flows.loc[flows["source"].str.startswith("1. "), "value"].sum() == len(n_stages)
    ends = flows.groupby("target")["value"].sum()
    assert ends["more stages"] == (n_stages > 4).sum()
    assert ends["no further stage"] == (n_stages <= 4).sum()
    ax = plots.flows(flows, title="Stage flows")
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=110)
    plt.close(ax.figure)
    assert buf.tell() < 400_000  # a picture, not a script: no plotly.js, no toolbar, offline


def test_journey_map_by_hand(tmp_path):
    tp = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3],
            "ts": pd.to_datetime(
                ["2025-01-01", "2025-01-05", "2025-01-01", "2024-12-20", "2025-01-02"]
            ),
            "channel": "web",
            "touchpoint": ["product_page", "cart", "product_page", "cart", "product_page"],
            "stage": ["comparison", "persuasion", "comparison", "persuasion", "comparison"],
        }
    )
    survey = pd.DataFrame(
        {
            "response_id": [1, 2, 3],
            "wave": "w1",
            "nps": [10, 3, 8],
            "rating_product_page": [5, 2, None],
        }
    )
    yaml_file = tmp_path / "actions.yaml"
    yaml_file.write_text(
        "actions:\n  - stage: comparison\n    action: Fix pages\n    owner: Web team\n"
        "  - stage: persuasion\n    touchpoint: cart\n    action: Cart reminder\n"
        "    owner: CRM\n    due: 2026-03-31\n"
    )
    jm = journey_map(tp, survey, read_actions(str(yaml_file))).set_index(["stage", "touchpoint"])
    row = jm.loc[("comparison", "product_page")]
    assert row["customers"] == 3
    # customer 1 reaches persuasion after the product page, 2 only before it, 3 never
    assert row["conversion_next"] == pytest.approx(1 / 3)
    assert row["rating"] == pytest.approx(3.5) and row["rating_n"] == 2
    assert row["nps"] == pytest.approx(0.0)  # one promoter, one detractor
    assert row["action"] == "Fix pages" and row["owner"] == "Web team"
    assert jm.loc[("persuasion", "cart"), "due"] == "2026-03-31"
    ax = plots.journey_map(jm.reset_index())
    assert ax is not None
    with pytest.raises(JourneyInputError, match="unknown stage"):
        action_table([{"stage": "checkout", "action": "x"}])


def test_shipped_action_table_is_valid():
    acts = read_actions("params/journey_actions.yaml")
    assert len(acts) >= 3 and acts["owner"].notna().all()
    assert set(acts["stage"]) <= set(STAGES)
