"""survey.analyse on the small demo and on the demo with optional tables and columns removed.

Every variant runs in process (no kernel): no traceback, the sections that lack their data in
``skipped`` with one sentence, the headline falling back to the scores that exist, and the
figures checked against independent pandas computations on the raw tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjlab import survey
from cjlab.results import UNITS, NotApplicable

FAST = {"n_boot": 10}
ALL_SECTIONS = set(survey.analysis.SECTIONS)


@pytest.fixture(scope="module")
def demo(small_demo):
    return small_demo.load("survey_responses", "customers", "orders")


@pytest.fixture(scope="module")
def full(demo):
    return survey.analyse(demo, **FAST)


def _drop(tables, table=None, columns=()):
    out = {k: v for k, v in tables.items() if k != table}
    s = out["survey_responses"]
    cols = [
        c for c in s.columns if c in columns or (c.startswith("rating_") and "rating_*" in columns)
    ]
    out["survey_responses"] = s.drop(columns=cols)
    return out


def _one_rating(tables):
    s = tables["survey_responses"]
    extra = [c for c in s.columns if c.startswith("rating_") and c != "rating_delivery"]
    return {**tables, "survey_responses": s.drop(columns=extra)}


def _one_wave(tables):
    s = tables["survey_responses"]
    return {**tables, "survey_responses": s[s["wave"] == s["wave"].max()]}


def _few(tables):
    s = tables["survey_responses"]
    return {**tables, "survey_responses": s.sort_values("response_id").head(20)}


#: variant -> (tables transformation, sections that must be skipped)
VARIANTS = {
    "no customers": (lambda t: _drop(t, "customers"), {"weighting"}),
    "no orders": (lambda t: _drop(t, "orders"), set()),
    "customers without channel and country": (
        lambda t: {**t, "customers": t["customers"][["customer_id", "first_seen"]]},
        {"weighting"},
    ),
    "no customer_id": (lambda t: _drop(t, columns=["customer_id"]), {"weighting"}),
    "no respondent_type": (lambda t: _drop(t, columns=["respondent_type"]), set()),
    "no comment": (lambda t: _drop(t, columns=["comment"]), {"themes"}),
    "one rating": (_one_rating, {"drivers", "alpha"}),
    "no ratings": (
        lambda t: _drop(t, columns=["rating_*"]),
        {"drivers", "touchpoints", "likert", "alpha"},
    ),
    "no csat": (lambda t: _drop(t, columns=["csat"]), {"csat"}),
    "no ces": (lambda t: _drop(t, columns=["ces"]), {"ces"}),
    "no nps": (lambda t: _drop(t, columns=["nps"]), {"nps", "segments", "drivers", "pain_points"}),
    "no scores": (
        lambda t: _drop(t, columns=["nps", "csat", "ces"]),
        {"nps", "csat", "ces", "scores", "trend", "change", "segments", "drivers"},
    ),
    "one wave": (_one_wave, {"trend", "change"}),
    "twenty respondents": (_few, {"drivers", "themes", "alpha"}),
    "survey only, scores only": (
        lambda t: {"survey_responses": t["survey_responses"][["response_id", "wave", "nps"]]},
        {
            "weighting",
            "csat",
            "ces",
            "segments",
            "drivers",
            "touchpoints",
            "likert",
            "alpha",
            "themes",
        },
    ),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_sections_follow_the_data(demo, full, variant):
    change, must_skip = VARIANTS[variant]
    a = survey.analyse(change(demo), **FAST)
    assert must_skip <= set(a.skipped), (variant, a.skipped)
    assert set(a.skipped) <= ALL_SECTIONS
    # nothing else is lost (a variant with few respondents may lose more: only check the rest)
    if variant != "twenty respondents":
        assert set(a.skipped) - must_skip <= {"pain_points"} | (
            {"trend", "change"} if variant == "one wave" else set()
        ), (variant, a.skipped)
    for reason in a.skipped.values():  # one sentence, no traceback
        assert reason.endswith(".") and "\n" not in reason and "Traceback" not in reason
    h = a.headline()
    assert h.title and h.items
    kpis = a.kpis()
    assert all(k.unit in UNITS for k in kpis)
    names = {k.name for k in kpis}
    for score, metric in (("nps", "nps"), ("csat", "csat_top2"), ("ces", "ces_mean")):
        assert (f"{metric}_latest" in names) == (score not in a.skipped)


def test_headline_falls_back_to_the_scores_that_exist(demo):
    no_nps = survey.analyse(_drop(demo, columns=["nps"]), **FAST)
    assert no_nps.headline().title.startswith("CSAT ")
    only_ces = survey.analyse(_drop(demo, columns=["nps", "csat"]), **FAST)
    assert only_ces.headline().title.startswith("CES ")
    none = survey.analyse(_drop(demo, columns=["nps", "csat", "ces"]), **FAST)
    assert "no NPS, CSAT or CES" in none.headline().title
    few = survey.analyse(_few(demo), **FAST)
    assert few.headline().title.startswith("Too few respondents") and few.notes
    one = survey.analyse(_one_wave(demo), **FAST)
    assert "change" not in one.headline().title and one.wave_a is None and not one.changes


def test_reasons_name_the_data_that_would_enable_a_section(demo):
    a = survey.analyse(_drop(demo, "customers", ["comment", "rating_*"]), **FAST)
    assert "customers table" in a.skipped["weighting"]
    assert "comment" in a.skipped["themes"]
    assert "rating_" in a.skipped["drivers"]
    one = survey.analyse(_one_wave(demo), **FAST)
    assert "second wave" in one.skipped["change"]


def test_kpis_keep_their_names_units_and_values(demo, full):
    kpis = full.kpis()
    names = {k.name for k in kpis}
    assert names == {
        "nps_latest",
        "csat_top2_latest",
        "ces_mean_latest",
        "nps",
        "csat_top2",
        "ces_mean",
        "ces_low_effort",
        "nps_change",
        "csat_top2_change",
        "ces_mean_change",
        "ces_low_effort_change",
        "nps_all_waves",
        "driver_importance",
        "cronbach_alpha",
        "pain_point_priority",
    }
    unit = {k.name: k.unit for k in kpis}
    assert unit["nps_latest"] == unit["nps_change"] == unit["nps_all_waves"] == "points"
    assert unit["csat_top2_latest"] == unit["driver_importance"] == "share"
    assert unit["csat_top2_change"] == unit["ces_low_effort_change"] == "pp"
    assert unit["ces_mean_latest"] == unit["ces_mean_change"] == "score"
    waves = sorted(demo["survey_responses"]["wave"].unique())
    per_wave = {k.group: k for k in kpis if k.name == "nps"}
    assert set(per_wave) == set(waves)
    for k in per_wave.values():
        assert (k.to_record()["value"] is None) == (k.n < 30)
    # the headline says what the headline KPIs record, in the same words
    text = full.headline().text()
    for k in kpis:
        if k.headline and k.group is None:
            assert k.text() in text, k.name


def test_unweighted_scores_match_plain_pandas(demo):
    a = survey.analyse(demo, use_weighting=False, **FAST)
    s = demo["survey_responses"]
    last = s[s["wave"] == s["wave"].max()]
    k = {x.name: x for x in a.kpis() if x.group is None}
    assert k["nps_latest"].value == pytest.approx(
        100 * ((last.nps >= 9).mean() - (last.nps <= 6).mean())
    )
    assert k["csat_top2_latest"].value == pytest.approx((last.csat >= 4).mean())
    assert k["ces_mean_latest"].value == pytest.approx(last.ces.mean())
    assert k["nps_latest"].n == len(last)
    assert "weighting" in a.skipped and "switched off" in a.skipped["weighting"]


def test_weighted_answers_match_the_buyers(demo, full):
    """After raking, the weighted country and channel shares equal those of the buyers."""
    c, o = demo["customers"], demo["orders"]
    buyers = c[c["customer_id"].isin(o["customer_id"])]
    r = full.responses
    for col in ("country", "acquisition_channel"):
        got = r.groupby(col)["weight"].sum() / r["weight"].sum()
        want = buyers[col].value_counts(normalize=True)
        pd.testing.assert_series_equal(
            got.sort_index(), want.sort_index(), check_names=False, atol=1e-8
        )
    n_eff = r["weight"].sum() ** 2 / (r["weight"] ** 2).sum()
    assert full.weighting.result_.n_effective == pytest.approx(n_eff)


def test_lazy_duckdb_tables_give_the_same_analysis(small_demo, demo):
    lazy = survey.from_source(small_demo, **FAST)
    eager = survey.analyse(demo, **FAST)
    a = {(k.name, k.group): k.to_record() for k in lazy.kpis()}
    b = {(k.name, k.group): k.to_record() for k in eager.kpis()}
    assert a.keys() == b.keys()
    for key, rec in a.items():
        for f in ("value", "low", "high"):
            x, y = rec[f], b[key][f]
            assert (x is None and y is None) or x == pytest.approx(y, rel=1e-9, abs=1e-12), key


def test_automatic_number_of_themes_and_scale_items(demo, full):
    n = full.responses["comment"].notna().sum()
    assert full.themes.n_themes == min(10, n // 10)
    r = full.responses
    assert list(full.scale_items) == [
        c for c in r.columns if c.startswith("rating_") and r[c].notna().mean() >= 0.8
    ]
    small = survey.analyse(demo, n_themes=3, scale_items=["rating_delivery", "rating_app"], **FAST)
    assert small.themes.n_themes == 3 and small.scale_items == ("rating_delivery", "rating_app")


def test_bad_wave_and_missing_table_are_clear(demo):
    with pytest.raises(survey.SurveyInputError, match="have no responses"):
        survey.analyse(demo, waves_to_compare=["1999-01", "2025-12"], **FAST)
    with pytest.raises(NotApplicable, match="survey_responses"):
        survey.analyse({"customers": demo["customers"]})


def test_reader_tables_show_units_and_no_raw_codes(full):
    from cjlab.survey import tables

    sc = tables.scorecard(full)
    assert sc["Estimate (interval)"].str.contains(" points").any()
    assert sc["Estimate (interval)"].str.contains(" %").any()
    ch = tables.changes(full).set_index("Score")
    assert ch.loc["CSAT top-2-box (4–5 of 5)", "Change (interval)"].split(" (")[0].endswith(" pp")
    assert list(tables.weighting(full).columns) == ["Measure", "Value"]
    assert not tables.themes(full).empty and "Examples" in tables.themes(full, pain_points=False)
    total = tables.responses(full)["All answers"].str.replace(",", "").astype(int).sum()
    assert total == full.cells["responses"].sum()
    assert np.isfinite(full.alpha.alpha) and "Cronbach" in tables.alpha_note(full)
