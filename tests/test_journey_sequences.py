"""The portable journey aggregations (sequences, paths, windowed funnel, flows, map counts) equal
independent plain-pandas references on pandas and on DuckDB (Spark: ``test_journey_spark.py`` and
the shared ``test_portable.CASES``)."""

from __future__ import annotations

import pandas as pd
import pytest
import test_journey_refs as ref
from test_portable import assert_same

from cjlab import features as ft
from cjlab.data import STAGES
from cjlab.features.funnels import ordered_funnel, touchpoint_progress
from cjlab.features.sequences import customer_paths, customer_steps, stage_sequence, step_flows
from cjlab.journey import funnel
from cjlab.journey.flows import ENDS, STAGE_ENDS

MKT = ["paid_search", "social", "display", "email", "web"]
AS_OF = "2025-09-30"


@pytest.fixture(scope="module")
def frames(small_demo):
    tables = ("customers", "touchpoints", "orders")
    return small_demo.load(*tables), {t: small_demo.lazy(t, validate=False) for t in tables}


def _both(frames, call, reference, keys, what):
    pandas, duck = frames
    expected = reference(pandas)
    assert len(expected) > 0, what
    on_pandas = call(pandas)
    assert isinstance(on_pandas, pd.DataFrame)
    assert_same(on_pandas, expected, keys, f"{what}: pandas vs reference")
    assert_same(call(duck), expected, keys, f"{what}: duckdb vs reference")


PATH_OPTIONS = {
    "all steps, marketing channels": dict(
        channels=MKT, exclude_touchpoints=["newsletter_open"], as_of=AS_OF
    ),
    "last 3 steps, repeats merged": dict(max_steps=3, collapse_repeats=True),
    "touchpoints at two stages": dict(
        by="touchpoint", stages=["awareness", "information"], max_steps=5
    ),
    "stage sequences": dict(by="stage", as_of=AS_OF),
}


@pytest.mark.parametrize("name", list(PATH_OPTIONS))
def test_customer_paths_equal_reference(frames, name):
    kw = PATH_OPTIONS[name]
    _both(
        frames,
        lambda f: customer_paths(f["touchpoints"], f["orders"], **kw),
        lambda p: ref.customer_paths(p["touchpoints"], p["orders"], **kw),
        ["customer_id"],
        name,
    )


def test_churn_paths_with_lookback_equal_reference(frames):
    kw = dict(
        outcome="churn",
        by="touchpoint",
        lookback_days=90,
        collapse_repeats=True,
        max_steps=6,
        exclude_touchpoints=["newsletter_open"],
        as_of=AS_OF,
    )
    _both(
        frames,
        lambda f: ft.path_counts(f["touchpoints"], None, customers=f["customers"], **kw),
        lambda p: ref.build_paths(p["touchpoints"], None, customers=p["customers"], **kw),
        ["path"],
        "churn",
    )


def test_paths_without_orders_are_all_non_conversions(frames):
    pandas, _ = frames
    p = ft.path_counts(pandas["touchpoints"], None, max_steps=2)
    assert (
        p["conversions"].sum() == 0
        and p["null"].sum() == pandas["touchpoints"]["customer_id"].nunique()
    )


@pytest.mark.parametrize("window", [None, 12.5])
def test_windowed_funnel_equals_reference(frames, window):
    steps = list(STAGES[:6])
    _both(
        frames,
        lambda f: ordered_funnel(
            f["touchpoints"], steps, window_days=window, first_touch=["device", "campaign"]
        ),
        lambda p: ref.ordered_funnel(p["touchpoints"], steps, window, ["device", "campaign"]),
        ["customer_id"],
        f"funnel window={window}",
    )


def test_windowed_funnel_table_on_duckdb_equals_pandas(frames):
    pandas, duck = frames
    a = funnel(pandas["touchpoints"], STAGES[:5], window_days=20, breakdown="device").table
    b = funnel(duck["touchpoints"], STAGES[:5], window_days=20, breakdown="device").table
    pd.testing.assert_frame_equal(a, b)


def test_channel_flows_equal_reference(frames):
    _both(
        frames,
        lambda f: step_flows(
            customer_steps(f["touchpoints"], f["orders"], channels=MKT, collapse_repeats=True),
            max_steps=4,
            top=4,
            ends=ENDS,
        ),
        lambda p: ref.step_flows(
            p["touchpoints"], p["orders"], by="channel", max_steps=4, top=4, channels=MKT
        ),
        ["position", "source", "target"],
        "channel flows",
    )


def test_stage_flows_with_end_nodes_equal_reference(frames):
    _both(
        frames,
        lambda f: step_flows(
            stage_sequence(f["touchpoints"], beyond=4), max_steps=4, ends=STAGE_ENDS
        ),
        lambda p: ref.step_flows(p["touchpoints"], by="stage", max_steps=4, ends=STAGE_ENDS),
        ["position", "source", "target"],
        "stage flows with end nodes",
    )


def test_stage_flows_equal_reference(frames):
    _both(
        frames,
        lambda f: step_flows(stage_sequence(f["touchpoints"]), max_steps=5),
        lambda p: ref.step_flows(p["touchpoints"], by="stage", max_steps=5),
        ["position", "source", "target"],
        "stage flows",
    )


def test_touchpoint_progress_equals_reference(frames):
    _both(
        frames,
        lambda f: touchpoint_progress(f["touchpoints"]),
        lambda p: ref.touchpoint_progress(p["touchpoints"]),
        ["stage", "touchpoint"],
        "journey map counts",
    )


def test_steps_are_numbered_both_ways():
    tp = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2],
            "channel": ["web", "web", "app", "email"],
            "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01"]),
        }
    )
    s = customer_steps(tp).set_index(["customer_id", "position"])
    assert (
        s.loc[(1, 1), "from_end"] == 3
        and s.loc[(1, 3), "from_end"] == 1
        and s.loc[(2, 1), "from_end"] == 1
    )
    long = pd.DataFrame(
        {
            "customer_id": 1,
            "channel": [f"c{i}" for i in range(11)],
            "ts": pd.date_range("2025-01-01", periods=11),
        }
    )
    # 11 steps take four doubling rounds: every step kept, oldest first
    assert customer_paths(long)["path"].iloc[0] == " > ".join(f"c{i}" for i in range(11))
    assert customer_paths(long, max_steps=3)["path"].iloc[0] == "c8 > c9 > c10"
