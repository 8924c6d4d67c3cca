"""Experiment counts (cjlab.features.experiments): one counting rule, independent pandas references.

The references here are plain pandas ``groupby`` code written for the tests; they also serve the
pandas/DuckDB/Spark equality cases in ``test_portable.CASES``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab.features.experiments import experiment_counts, experiment_overview, experiment_units


# -- independent references (imported by test_portable) ----------------------------------------
def ref_experiment_units(e: pd.DataFrame, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    keys = ["experiment", "variant", *[c for c in columns if c in e], "unit_id"]
    g = e.groupby(keys, dropna=False)
    out = pd.DataFrame(
        {
            "converted": g["converted"].max(),
            "first_exposed": g["exposed_at"].min(),
            "exposures": g.size(),
        }
    )
    if "revenue" in e:
        out["revenue"] = g["revenue"].sum()
    return out.reset_index()


def ref_experiment_counts(e: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    cols = tuple(c for c in by if c != "day")
    u = ref_experiment_units(e, cols)
    if "day" in by:
        u["day"] = u["first_exposed"].dt.normalize()
    keys = ["experiment", "variant", *[c for c in by if c == "day" or c in e]]
    g = u.groupby(keys, dropna=False)
    out = pd.DataFrame({"users": g.size(), "conversions": g["converted"].sum()})
    if "revenue" in e:
        out["revenue"] = g["revenue"].sum()
    return out.reset_index()


def ref_experiment_overview(e: pd.DataFrame) -> pd.DataFrame:
    g = e.groupby("experiment")
    arms = e.groupby(["experiment", "unit_id"])["variant"].nunique()
    return pd.DataFrame(
        {
            "variants": g["variant"].nunique(),
            "units": g["unit_id"].nunique(),
            "exposures": g.size(),
            "units_in_several_variants": (arms > 1).groupby(level="experiment").sum(),
            "first_exposed": g["exposed_at"].min(),
            "last_exposed": g["exposed_at"].max(),
        }
    ).reset_index()


# -- the counting rule on a hand-made table -----------------------------------------------------
@pytest.fixture()
def exposures() -> pd.DataFrame:
    ts = pd.to_datetime(
        [
            "2025-01-01 10:00",
            "2025-01-02 09:00",
            "2025-01-01 12:00",
            "2025-01-03 08:00",
            "2025-01-03 09:00",
            "2025-01-02 23:59",
        ]
    )
    return pd.DataFrame(
        {
            "experiment": ["e", "e", "e", "e", "e", "f"],
            "variant": ["A", "A", "B", "B", "A", "A"],
            "unit_id": [1, 1, 2, 3, 3, 1],
            "exposed_at": ts,
            "converted": [0, 1, 0, 0, 1, 1],
            "revenue": [0.0, 20.0, 0.0, 0.0, 5.0, 7.0],
            "segment": ["app", "app", "web", "web", "web", "app"],
        }
    )


def test_a_unit_counts_once_and_converts_if_any_exposure_did(exposures):
    c = experiment_counts(exposures).set_index(["experiment", "variant"])
    # unit 1 twice in e/A (converted on its second exposure), unit 3 in both arms of e
    assert c.loc[("e", "A"), ["users", "conversions"]].tolist() == [2, 2]
    assert c.loc[("e", "B"), ["users", "conversions"]].tolist() == [2, 0]
    assert c.loc[("e", "A"), "revenue"] == 25.0 and c.loc[("f", "A"), "revenue"] == 7.0


def test_days_are_first_exposures_and_cells_come_from_columns(exposures):
    d = experiment_counts(exposures, by=["day"])
    e_a = d[(d.experiment == "e") & (d.variant == "A")].set_index("day")
    # unit 1 first seen on Jan 1 (its conversion on Jan 2 counts there), unit 3 on Jan 3
    assert e_a["users"].to_dict() == {pd.Timestamp("2025-01-01"): 1, pd.Timestamp("2025-01-03"): 1}
    s = experiment_counts(exposures, by=["segment", "no_such_column"])
    assert "no_such_column" not in s.columns and set(s["segment"]) == {"app", "web"}


def test_optional_columns_stay_optional(exposures):
    bare = exposures.drop(columns=["revenue", "segment"])
    assert "revenue" not in experiment_counts(bare).columns
    assert "revenue" not in experiment_units(bare, columns=["segment"]).columns
    assert "segment" not in experiment_units(bare, columns=["segment"]).columns


def test_overview_counts_units_in_several_variants(exposures):
    o = experiment_overview(exposures).set_index("experiment")
    assert o.loc["e", ["variants", "units", "exposures", "units_in_several_variants"]].tolist() == [
        2,
        3,
        5,
        1,
    ]
    assert o.loc["f", "units_in_several_variants"] == 0


@pytest.mark.parametrize("by", [(), ("day",), ("segment",), ("day", "segment")])
def test_counts_equal_the_plain_pandas_reference(exposures, by):
    got = (
        experiment_counts(exposures, by=list(by))
        .sort_values(["experiment", "variant", *by])
        .reset_index(drop=True)
    )
    ref = (
        ref_experiment_counts(exposures, by)
        .sort_values(["experiment", "variant", *by])
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(got[ref.columns], ref, check_dtype=False)


def test_demo_counts_equal_the_reference(small_demo):
    ex = small_demo.table("experiment_exposures")
    got = experiment_counts(ex).sort_values(["experiment", "variant"]).reset_index(drop=True)
    ref = ref_experiment_counts(ex).sort_values(["experiment", "variant"]).reset_index(drop=True)
    np.testing.assert_array_equal(got["users"], ref["users"])
    np.testing.assert_array_equal(got["conversions"], ref["conversions"])
    np.testing.assert_allclose(got["revenue"], ref["revenue"], rtol=1e-12)
