"""Portable aggregations give the same result on pandas and DuckDB, and match plain pandas.

The narwhals code in :mod:`cjlab.features` runs once on the typed pandas tables and once
on the DuckDB relations of the same source (reading the Parquet files in place); both must
equal an independent plain-pandas ``groupby`` written here. Spark is covered by
``test_spark.py`` with the same cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab import features as ft
from cjlab.data import STAGES
from cjlab.features import survey as fs

AS_OF = "2025-07-01"


def normalise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sort by ``keys``, datetimes as naive ns, whole floats as int64 (engines differ in widths)."""
    out = ft.to_pandas(df).copy()
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[c] = s.dt.tz_convert("UTC").dt.tz_localize(None)
        if s.dtype == object and len(s.dropna()) and hasattr(s.dropna().iloc[0], "year"):
            out[c] = pd.to_datetime(s)
        if out[c].dtype.kind == "M":
            out[c] = out[c].astype("datetime64[ns]")
        elif out[c].dtype.kind in "iu" or str(out[c].dtype) in ("Int64", "Int32", "UInt32", "Int8"):
            out[c] = out[c].astype("float64")  # compared as numbers; nulls allowed
    return out.sort_values(keys).reset_index(drop=True)[sorted(out.columns)]


def assert_same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], what: str = "") -> None:
    """Equal rows; integer, string and date columns exactly, floats to 1e-9 relative."""
    a, b = normalise(a, keys), normalise(b, keys)
    assert list(a.columns) == list(b.columns), (what, list(a.columns), list(b.columns))
    assert len(a) == len(b), (what, len(a), len(b))
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9, atol=1e-9,
                                       equal_nan=True, err_msg=f"{what}: column {c}")
        else:
            pd.testing.assert_series_equal(x, y, check_dtype=False, check_names=False, obj=f"{what}: {c}")


# -- independent plain-pandas references -------------------------------------------------------

def ref_customer_orders(o: pd.DataFrame, as_of: str | None = None) -> pd.DataFrame:
    if as_of is not None:
        o = o[o["ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]  # the as_of day counts
    o = o.assign(_day=o["ts"].dt.normalize(), _promo=o["promo"].astype("Int64"))
    g = o.groupby("customer_id")
    return pd.DataFrame({"n_orders": g["order_id"].count(), "n_purchase_days": g["_day"].nunique(),
                         "first_order": g["ts"].min(), "last_order": g["ts"].max(),
                         "revenue": g["amount"].sum(), "mean_order_value": g["amount"].mean(),
                         "promo_orders": g["_promo"].sum()}).reset_index()


def ref_counts(t: pd.DataFrame, period: str, col: str, by: list[str]) -> pd.DataFrame:
    key = t["ts"].dt.normalize() if period == "day" else t["ts"].dt.to_period("M").dt.to_timestamp()
    return t.assign(**{period: key}).groupby([period, *by], dropna=False).size().rename("n").reset_index()


def ref_counts_by(t: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = t.groupby(by, dropna=False)
    out = g.size().rename("n").to_frame()
    if "customer_id" in t:
        out["customers"] = g["customer_id"].nunique()
    return out.reset_index()


def ref_experiment_daily(e: pd.DataFrame) -> pd.DataFrame:
    g = e.assign(day=e["exposed_at"].dt.normalize()).groupby(["experiment", "variant", "day"])
    return pd.DataFrame({"users": g["unit_id"].nunique(), "conversions": g["converted"].sum(),
                         "revenue": g["revenue"].sum()}).reset_index()


def ref_customer_touchpoints(t: pd.DataFrame) -> pd.DataFrame:
    t = t.assign(_s=(t["touchpoint"] == "support_ticket").astype(int), _a=(t["device"] == "app").astype(int),
                 _i=t["stage"].map({s: i for i, s in enumerate(STAGES)}).fillna(-1).astype(int))
    g = t.groupby("customer_id")
    return pd.DataFrame({"n_touchpoints": g.size(), "first_touch": g["ts"].min(), "last_touch": g["ts"].max(),
                         "n_channels": g["channel"].nunique(dropna=False), "support_tickets": g["_s"].sum(),
                         "app_touchpoints": g["_a"].sum(), "stage_index": g["_i"].max()}).reset_index()


def ref_customer_features(t: pd.DataFrame, o: pd.DataFrame) -> pd.DataFrame:
    out = ref_customer_touchpoints(t).merge(ref_customer_orders(o), on="customer_id", how="left")
    for c in ("n_orders", "n_purchase_days", "revenue", "promo_orders"):
        out[c] = out[c].fillna(0)
    out["app_share"] = out["app_touchpoints"] / out["n_touchpoints"]
    out["promo_share"] = (out["promo_orders"] / out["n_orders"]).where(out["n_orders"] > 0)
    return out


def ref_stage_funnel(t: pd.DataFrame) -> pd.DataFrame:
    idx = t["stage"].map({s: i for i, s in enumerate(STAGES)})
    furthest = idx.groupby(t["customer_id"]).max()
    rows = []
    for i, s in enumerate(STAGES):
        reached = int((furthest >= i).sum())
        prev = int((furthest >= i - 1).sum()) if i else reached
        rows.append({"stage": s, "stage_index": i,
                     "touched": int(t.loc[t["stage"] == s, "customer_id"].nunique()),
                     "stopped": int((furthest == i).sum()), "reached": reached,
                     "step_conversion": reached / prev if prev else np.nan,
                     "overall_conversion": reached / len(furthest)})
    return pd.DataFrame(rows)


MKT = ["paid_search", "social", "display", "email", "web"]


def _journey():
    """The independent plain-pandas references of the journey aggregations."""
    import test_journey_refs

    return test_journey_refs


def _survey():
    import test_survey_features

    return test_survey_features


#: name -> (call taking a dict of frames, independent pandas reference, sort keys)
CASES = {
    "customer_orders": (lambda f: ft.customer_orders(f["orders"]),
                        lambda p: ref_customer_orders(p["orders"]), ["customer_id"]),
    "customer_orders_as_of": (lambda f: ft.customer_orders(f["orders"], as_of=AS_OF),
                              lambda p: ref_customer_orders(p["orders"], AS_OF), ["customer_id"]),
    "daily_counts": (lambda f: ft.daily_counts(f["touchpoints"]),
                     lambda p: ref_counts(p["touchpoints"], "day", "ts", []), ["day"]),
    "daily_counts_by_channel": (lambda f: ft.daily_counts(f["orders"], by=["channel"]),
                                lambda p: ref_counts(p["orders"], "day", "ts", ["channel"]), ["day", "channel"]),
    "monthly_counts_by_device": (lambda f: ft.monthly_counts(f["touchpoints"], by=["device"]),
                                 lambda p: ref_counts(p["touchpoints"], "month", "ts", ["device"]),
                                 ["month", "device"]),
    "counts_by_acquisition": (lambda f: ft.counts_by(f["customers"], ["acquisition_channel"]),
                              lambda p: ref_counts_by(p["customers"], ["acquisition_channel"]),
                              ["acquisition_channel"]),
    "survey_cells": (lambda f: ft.counts_by(f["survey_responses"], ["wave", "respondent_type"]),
                     lambda p: ref_counts_by(p["survey_responses"], ["wave", "respondent_type"]),
                     ["wave", "respondent_type"]),
    "survey_scores": (lambda f: fs.survey_scores(f["survey_responses"], f["customers"], ["acquisition_channel", "country"]),
                      lambda p: _survey().ref_survey_scores(p["survey_responses"], p["customers"],
                                                            ["acquisition_channel", "country"]), ["response_id"]),
    "survey_cells_scores": (lambda f: fs.survey_cells(f["survey_responses"]),
                            lambda p: _survey().ref_survey_cells(p["survey_responses"], ["wave", "respondent_type"]),
                            ["wave", "respondent_type"]),
    "population_counts_buyers": (lambda f: fs.population_counts(f["customers"], ["acquisition_channel", "country"],
                                                                f["orders"]),
                                 lambda p: _survey().ref_population_counts(p["customers"], ["acquisition_channel",
                                                                                            "country"], p["orders"]),
                                 ["acquisition_channel", "country"]),
    "experiment_daily": (lambda f: ft.experiment_daily(f["experiment_exposures"]),
                         lambda p: ref_experiment_daily(p["experiment_exposures"]), ["experiment", "variant", "day"]),
    "experiment_counts": (lambda f: __import__("cjlab.features.experiments", fromlist=["x"]).experiment_counts(
                              f["experiment_exposures"]),
                          lambda p: __import__("test_ab_features").ref_experiment_counts(p["experiment_exposures"]),
                          ["experiment", "variant"]),
    "experiment_counts_by_day_segment": (
        lambda f: __import__("cjlab.features.experiments", fromlist=["x"]).experiment_counts(
            f["experiment_exposures"], by=["day", "segment"]),
        lambda p: __import__("test_ab_features").ref_experiment_counts(p["experiment_exposures"], ("day", "segment")),
        ["experiment", "variant", "day", "segment"]),
    "experiment_units": (lambda f: __import__("cjlab.features.experiments", fromlist=["x"]).experiment_units(
                             f["experiment_exposures"], columns=["segment"]),
                         lambda p: __import__("test_ab_features").ref_experiment_units(p["experiment_exposures"],
                                                                                       ("segment",)),
                         ["experiment", "variant", "segment", "unit_id"]),
    "experiment_overview": (lambda f: __import__("cjlab.features.experiments", fromlist=["x"]).experiment_overview(
                                f["experiment_exposures"]),
                            lambda p: __import__("test_ab_features").ref_experiment_overview(p["experiment_exposures"]),
                            ["experiment"]),
    "furthest_stage": (lambda f: ft.furthest_stage(f["touchpoints"]),
                       lambda p: ref_customer_touchpoints(p["touchpoints"])[["customer_id", "stage_index"]]
                       .assign(stage=lambda d: d["stage_index"].map(dict(enumerate(STAGES)))), ["customer_id"]),
    "customer_touchpoints": (lambda f: ft.customer_touchpoints(f["touchpoints"]),
                             lambda p: ref_customer_touchpoints(p["touchpoints"]), ["customer_id"]),
    "customer_features": (lambda f: ft.customer_features(f["touchpoints"], f["orders"]),
                          lambda p: ref_customer_features(p["touchpoints"], p["orders"]), ["customer_id"]),
    "stage_funnel": (lambda f: ft.stage_funnel(f["touchpoints"]),
                     lambda p: ref_stage_funnel(p["touchpoints"]), ["stage_index"]),
    # peer reference: the journey module's pandas path builder
    "path_counts": (lambda f: ft.path_counts(f["touchpoints"], f["orders"], max_steps=3),
                    lambda p: _journey().build_paths(p["touchpoints"], p["orders"], max_steps=3), ["path"]),
    "path_counts_marketing": (lambda f: ft.path_counts(f["touchpoints"], f["orders"], max_steps=4, channels=MKT),
                              lambda p: _journey().build_paths(p["touchpoints"], p["orders"], max_steps=4,
                                                               channels=MKT), ["path"]),
    "customer_paths_all_steps": (lambda f: ft.sequences.customer_paths(f["touchpoints"], f["orders"], channels=MKT,
                                                                       as_of=AS_OF),
                                 lambda p: _journey().customer_paths(p["touchpoints"], p["orders"], channels=MKT,
                                                                     as_of=AS_OF), ["customer_id"]),
    "path_counts_before_cancelling": (lambda f: ft.path_counts(f["touchpoints"], customers=f["customers"], outcome="churn",
                                                               by="touchpoint", lookback_days=90, max_steps=6,
                                                               collapse_repeats=True, as_of=AS_OF),
                                      lambda p: _journey().build_paths(p["touchpoints"], customers=p["customers"],
                                                                       outcome="churn", by="touchpoint", max_steps=6,
                                                                       lookback_days=90, collapse_repeats=True,
                                                                       as_of=AS_OF), ["path"]),
    "ordered_funnel_window": (lambda f: ft.funnels.ordered_funnel(f["touchpoints"], STAGES[:5], window_days=30,
                                                                  first_touch=["device"]),
                              lambda p: _journey().ordered_funnel(p["touchpoints"], STAGES[:5], 30, ["device"]),
                              ["customer_id"]),
    "channel_flows": (lambda f: ft.sequences.step_flows(ft.sequences.customer_steps(
                          f["touchpoints"], f["orders"], channels=MKT, collapse_repeats=True), max_steps=4, top=4,
                          ends=("purchase", "no purchase")),
                      lambda p: _journey().step_flows(p["touchpoints"], p["orders"], by="channel", max_steps=4, top=4,
                                                      channels=MKT), ["position", "source", "target"]),
    "touchpoint_progress": (lambda f: ft.funnels.touchpoint_progress(f["touchpoints"]),
                            lambda p: _journey().touchpoint_progress(p["touchpoints"]), ["stage", "touchpoint"]),
    # churn: point-in-time windows, purchase gaps and the BTYD summary (references in tests/test_churn_*.py)
    "order_windows": (lambda f: ft.orders.order_windows(f["orders"], AS_OF),
                      lambda p: __import__("test_churn_frames").ref_order_windows(p["orders"], AS_OF),
                      ["customer_id"]),
    "touchpoint_windows": (lambda f: ft.touchpoints.touchpoint_windows(f["touchpoints"], AS_OF, days=(30, 90)),
                           lambda p: __import__("test_churn_frames").ref_touchpoint_windows(
                               p["touchpoints"], AS_OF, days=(30, 90)), ["customer_id"]),
    "purchase_gap_counts": (lambda f: ft.orders.purchase_gap_counts(f["orders"], AS_OF),
                            lambda p: __import__("test_churn_frames").ref_purchase_gap_counts(p["orders"], AS_OF),
                            ["gap_days"]),
    "btyd_summary_holdout": (lambda f: __import__("cjlab.features.btyd", fromlist=["x"]).rfm_summary(
                                 f["orders"], "2025-12-31", calibration_end=AS_OF),
                             lambda p: __import__("test_churn_btyd").ref_btyd_summary(p["orders"], "2025-12-31",
                                                                                     AS_OF), ["customer_id"]),
    "btyd_summary_whole_weeks": (lambda f: __import__("cjlab.features.btyd", fromlist=["x"]).rfm_summary(
                                     f["orders"], "2025-12-31", period="W"),
                                 lambda p: __import__("test_churn_btyd").ref_btyd_summary(
                                     p["orders"], "2025-12-31", time_unit="W"), ["customer_id"]),
    # segments: the RFM summary and the last orders (references in tests/test_segments_features.py)
    "segments_customer_rfm": (lambda f: __import__("cjlab.features.rfm", fromlist=["x"]).customer_rfm(
                                  f["orders"], AS_OF, purchase_unit="day"),
                              lambda p: __import__("test_segments_features").ref_customer_rfm(
                                  p["orders"], AS_OF, "day"), ["customer_id"]),
    "segments_last_orders": (lambda f: __import__("cjlab.features.rfm", fromlist=["x"]).last_orders(f["orders"], AS_OF),
                             lambda p: __import__("test_segments_features").ref_last_orders(p["orders"], AS_OF),
                             ["customer_id"]),
    # campaigns: e-mail engagement hours, item purchases, windows around yearly triggers
    # (references in tests/test_campaigns_features.py)
    "engagement_hours_after": (lambda f: __import__("cjlab.features.campaigns", fromlist=["x"]).engagement_hours(
                                   f["touchpoints"], after=AS_OF),
                               lambda p: __import__("test_campaigns_features").ref_engagement_hours(
                                   p["touchpoints"], after=AS_OF), ["customer_id", "weekday", "hour"]),
    "item_purchases_as_of": (lambda f: __import__("cjlab.features.campaigns", fromlist=["x"]).item_purchases(
                                 f["orders"], as_of=AS_OF),
                             lambda p: __import__("test_campaigns_features").ref_item_purchases(p["orders"], AS_OF),
                             ["customer_id", "item"]),
    "annual_window_counts_birthday": (
        lambda f: (lambda fc: fc.annual_window_counts(f["orders"], fc.birthday_anchor(f["customers"])))(
            __import__("cjlab.features.campaigns", fromlist=["x"])),
        lambda p: (lambda r: r.ref_annual_window_counts(p["orders"], r.ref_birthday_anchor(p["customers"]), None))(
            __import__("test_campaigns_features")), ["customer_id", "year", "window"]),
    "annual_window_counts_anniversary": (
        lambda f: (lambda fc: fc.annual_window_counts(f["orders"], fc.first_purchase_anchor(f["orders"])))(
            __import__("cjlab.features.campaigns", fromlist=["x"])),
        lambda p: (lambda r: r.ref_annual_window_counts(p["orders"], r.ref_first_purchase_anchor(p["orders"]), None))(
            __import__("test_campaigns_features")), ["customer_id", "year", "window"]),
    # journey plan: one row per journey and per buyer-week (references in tests/test_plan_features.py)
    "plan_journey_states": (lambda f: __import__("cjlab.features.plan", fromlist=["x"]).journey_states(
                                f["touchpoints"], f["orders"], f["customers"], category="device", as_of=AS_OF,
                                exclude_touchpoints=["newsletter_open"]),
                            lambda p: __import__("test_plan_features").ref_journey_states(
                                p["touchpoints"], p["orders"], p["customers"], "device", AS_OF), ["customer_id"]),
    "plan_value_by_period": (lambda f: __import__("cjlab.features.plan", fromlist=["x"]).value_by_period(
                                 f["orders"], as_of=AS_OF, days=7),
                             lambda p: __import__("test_plan_features").ref_value_by_period(p["orders"], AS_OF, 7),
                             ["customer_id", "period"]),
}
TABLES = ("customers", "touchpoints", "orders", "survey_responses", "experiment_exposures")


@pytest.fixture(scope="module")
def frames(small_demo):
    pandas = small_demo.load(*TABLES)
    duck = {t: small_demo.lazy(t, validate=False) for t in TABLES}
    return pandas, duck


@pytest.mark.parametrize("name", list(CASES))
def test_pandas_duckdb_and_reference_agree(frames, name):
    call, ref, keys = CASES[name]
    pandas, duck = frames
    on_pandas = call(pandas)
    assert isinstance(on_pandas, pd.DataFrame)  # pandas in, pandas out
    on_duckdb = call(duck)
    if name != "stage_funnel":
        assert not isinstance(on_duckdb, pd.DataFrame)  # stays lazy in DuckDB until collected
    assert len(ft.to_pandas(on_pandas)) > 0
    assert_same(on_pandas, ref(pandas), keys, f"{name}: pandas vs reference")
    assert_same(on_duckdb, on_pandas, keys, f"{name}: duckdb vs pandas")


def test_stage_funnel_matches_demo_truth(small_demo, frames):
    """The stage where most non-buyers stop is the planted one."""
    fun = ft.stage_funnel(frames[1]["touchpoints"])
    pre = fun[fun["stage_index"] < STAGES.index("purchase")]
    assert pre.loc[pre["stopped"].idxmax(), "stage"] == small_demo.truth["funnel"]["biggest_drop_after"]


def test_other_portable_aggregations_pandas_vs_duckdb(small_demo, frames):
    """segments.rfm, journey.funnel and churn.rfm_summary give the same result on DuckDB input."""
    from cjlab import journey, segments
    from cjlab.churn import rfm_summary

    pandas, duck = frames
    a = segments.rfm(pandas["orders"], as_of=AS_OF)
    b = segments.rfm(duck["orders"].to_native(), as_of=AS_OF)
    assert_same(a, b, ["customer_id"], "segments.rfm")
    fa = journey.funnel(pandas["touchpoints"], steps=STAGES[:5], window_days=90)
    fb = journey.funnel(duck["touchpoints"].to_native(), steps=STAGES[:5], window_days=90)
    assert_same(fa.table, fb.table, ["step_index"], "journey.funnel")
    ra = rfm_summary(pandas["orders"], "2025-12-31")
    rb = rfm_summary(small_demo.relation("orders"), "2025-12-31", con=small_demo.con)
    assert_same(ra, rb, ["customer_id"], "churn.rfm_summary")
