"""The journey analysis (analyse / from_source) on the demo and on data that lack optional
tables or columns, its headline and KPIs, the breakdown widget, and notebook 05 end to end."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pandas as pd
import pytest
from conftest import SMALL_DEMO, assert_clean_report_notebook, run_notebook_on_tables

from cjlab import journey as jn
from cjlab.notebook import widgets
from cjlab.results import NotApplicable

KPIS_RECORDED = {
    "funnel_customers",
    "stage_conversion",
    "biggest_dropoff_stage",
    "attribution_share_markov",
    "attribution_share_counterfactual",
    "stage_rating",
}


@pytest.fixture(scope="module")
def demo():
    from cjlab.data.synth import generate

    return generate(n_customers=2000, seed=5)


@pytest.fixture(scope="module")
def full(demo):
    return jn.analyse(
        demo.tables,
        truth=demo.truth,
        n_boot=10,
        actions=jn.read_actions("params/journey_actions.yaml"),
    )


def test_journey_pipeline_and_widget(full, demo):
    a = full
    assert a.funnel.steps[0] == "awareness" and len(a.funnel.table) == 11
    assert set(a.attribution.columns) >= {
        "first",
        "last",
        "linear",
        "position",
        "markov",
        "noisy_or",
    }
    assert a.markov["conversions"].sum() == pytest.approx(a.paths["conversions"].sum())
    assert {"conversions_low", "conversions_high"} <= set(a.markov.columns)
    assert a.journey_map["action"].notna().any()
    assert a.biggest_dropoff in a.funnel.steps
    assert "lost after" in a.headline_title()
    assert not {"paths", "attribution", "emotion", "churn_paths", "actions", "demo_check"} & set(
        a.skipped
    )
    w = widgets.breakdown_widget(a)
    dd, out = w.children
    assert dd.value is None and len(out.outputs) == 0  # nothing drawn until picked
    assert set(dd.options) >= {"device", "channel", "campaign"}
    dd.value = "channel"  # the callback redraws from the analysis, without the raw data
    with pytest.raises(FrozenInstanceError):
        a.as_of = "2020-01-01"


def test_kpis_headline_and_planted_truth(full):
    kpis = full.kpis()
    assert KPIS_RECORDED <= {k.name for k in kpis}  # every KPI the notebook recorded before
    text = full.headline().text()
    for k in kpis:
        if k.headline:  # the headline shows each headline figure as recorded
            assert k.text() in text or str(k.value).replace("_", " ") in text, k
    # planted truth stays out of the stakeholder headline and the KPIs; it goes to the analysts
    assert "planted" not in text.lower() and "demo" not in text.lower()
    assert not [k for k in kpis if "truth" in k.name or "planted" in (k.label or "").lower()]
    check = full.truth_check.set_index("check")
    assert check.loc["Stage after which most customers are lost", "agrees"]
    assert check.loc["Channel ranking (counterfactual)", "agrees"]
    markov = {k.group: k for k in kpis if k.name == "attribution_share_markov"}
    top = full.markov.iloc[0]
    assert markov[top["channel"]].low == pytest.approx(
        top["conversions_low"] / full.markov["conversions"].sum()
    )


def test_touchpoints_only(demo):
    a = jn.analyse({"touchpoints": demo.tables["touchpoints"]}, n_boot=0)
    assert {"paths", "attribution", "emotion", "churn_paths", "actions", "demo_check"} <= set(
        a.skipped
    )
    assert "orders" in a.skipped["attribution"] and "survey_responses" in a.skipped["emotion"]
    assert "cancelled_at" in a.skipped["churn_paths"]
    assert a.markov is None and a.paths is None and a.flows_by == "stage" and len(a.flows)
    assert any("flow diagram" in n for n in a.notes)
    names = {k.name for k in a.kpis()}
    assert {"funnel_customers", "biggest_dropoff_stage"} <= names
    assert not names & {"attribution_share_markov", "stage_rating"}
    assert "contributes most" not in a.headline().title and "orders" in a.headline().text()


def test_without_survey_and_customers(demo):
    t = demo.tables
    a = jn.analyse({"touchpoints": t["touchpoints"], "orders": t["orders"]}, n_boot=0)
    assert set(a.skipped) == {"emotion", "churn_paths", "actions", "demo_check"}
    assert a.markov is not None and a.journey_map["rating"].isna().all()
    assert a.funnel_breakdown.breakdown == "device"


def test_breakdown_falls_back_to_channel_or_uses_a_customer_column(demo):
    t = demo.tables
    tp = t["touchpoints"].drop(columns=["device", "campaign"])
    a = jn.analyse({"touchpoints": tp, "orders": t["orders"]}, n_boot=0, breakdown="device")
    assert a.funnel_breakdown.breakdown == "channel" and any("device column" in n for n in a.notes)
    b = jn.analyse(
        {"touchpoints": tp, "customers": t["customers"]}, n_boot=0, breakdown="acquisition_channel"
    )
    assert b.funnel_breakdown.breakdown == "acquisition_channel"
    assert (
        b.funnel_breakdown.table.groupby("step", sort=False)["customers"].sum().tolist()
        == b.funnel.table["customers"].tolist()
    )
    c = jn.analyse({"touchpoints": tp}, n_boot=0, breakdown="")
    assert c.funnel_breakdown is None and "breakdown" in c.skipped


def test_unknown_stages_are_dropped_and_counted(demo):
    tp = demo.tables["touchpoints"].copy()
    tp.loc[tp.index[:5], "stage"] = "checkout_page"
    a = jn.analyse({"touchpoints": tp}, n_boot=0)
    assert a.handling["unknown stage"] == 5 and any("unknown stage: 5" in n for n in a.notes)
    with pytest.raises(jn.JourneyInputError, match="5 rows with an unknown stage"):
        jn.analyse({"touchpoints": tp}, n_boot=0, on_unknown="raise")


def _folder(tmp_path, tables):
    folder = tmp_path / "data"
    folder.mkdir()
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet")
    return str(folder)


def _bare_customers(demo) -> pd.DataFrame:
    """The contract's minimum of customers (touchpoints refer to them): no cancelled_at."""
    return demo.tables["customers"][["customer_id", "first_seen"]]


def test_from_source_follows_the_data(demo, tmp_path):
    t = demo.tables
    a = jn.from_source(
        _folder(tmp_path, {"touchpoints": t["touchpoints"], "customers": _bare_customers(demo)}),
        n_boot=0,
    )
    assert {"paths", "attribution", "emotion", "churn_paths"} <= set(
        a.skipped
    ) and "actions" not in a.skipped
    other = tmp_path / "other"
    other.mkdir()
    for name in ("customers", "orders"):
        t[name].to_parquet(other / f"{name}.parquet")
    with pytest.raises(NotApplicable, match="needs the touchpoints table"):
        jn.from_source(str(other))


def test_actions_file_is_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "params").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "params" / "acts.yaml").write_text(
        "actions:\n  - stage: support\n    action: Call back\n"
    )
    monkeypatch.delenv("CJLAB_HOME", raising=False)
    monkeypatch.chdir(project / "notebooks")  # where papermill runs a notebook
    assert jn.resolve_actions_file("params/acts.yaml") == project / "params" / "acts.yaml"
    assert jn.read_actions("params/acts.yaml").loc[0, "action"] == "Call back"
    monkeypatch.chdir(tmp_path)
    assert jn.resolve_actions_file("params/acts.yaml") is None
    monkeypatch.setenv("CJLAB_HOME", str(project))
    assert jn.resolve_actions_file("params/acts.yaml") == project / "params" / "acts.yaml"
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        jn.read_actions("params/missing.yaml")


@pytest.mark.slow
def test_from_source_in_duckdb_equals_pandas(tmp_path):
    a = jn.from_source(SMALL_DEMO, engine="pandas", n_boot=5, actions_file="params/missing.yaml")
    b = jn.from_source(SMALL_DEMO, engine="lazy", n_boot=5, actions_file="params/missing.yaml")
    assert "missing.yaml" in a.skipped["actions"]
    for name in (
        "durations",
        "furthest",
        "paths",
        "top_purchase",
        "top_churn",
        "markov",
        "counterfactual",
        "attribution",
        "flows",
        "journey_map",
        "emotion",
    ):
        pd.testing.assert_frame_equal(
            getattr(a, name), getattr(b, name), check_dtype=False, obj=name
        )
    pd.testing.assert_frame_equal(a.funnel.table, b.funnel.table, check_dtype=False)
    assert a.headline() == b.headline()


@pytest.mark.slow
def test_notebook_on_touchpoints_only(demo, tmp_path):
    import nbformat

    tables = {
        "touchpoints": demo.tables["touchpoints"].drop(columns=["device", "campaign"]),
        "customers": _bare_customers(demo),
    }
    _, folder, html = run_notebook_on_tables(tables, tmp_path, "05_journey", "journey_touchpoints")
    assert_clean_report_notebook(nbformat.read(folder / "05_journey.ipynb", as_version=4))
    assert "Paths before a purchase need the orders table" in html
    assert "Channel attribution needs the orders table" in html
    assert "rating_&lt;touchpoint&gt; columns" in html or "rating_<touchpoint> columns" in html
    assert "cancelled_at" in html and "plotly" not in html.lower() and "Traceback" not in html
    assert "no device column" in html  # the breakdown falls back to the first-touch channel
    assert len(html.encode()) < 1_500_000
    names = {k["name"] for k in json.loads((folder / "kpis.json").read_text())["kpis"]}
    assert "funnel_customers" in names and "attribution_share_markov" not in names


@pytest.mark.slow
def test_notebook_report_is_light_and_offline(tmp_path):
    from cjlab.report.runner import run

    res = run(
        ["05_journey"],
        data_source=SMALL_DEMO,
        reports_dir=tmp_path / "reports",
        progress=False,
        name="j",
    )
    assert res.ok
    folder = next((tmp_path / "reports").glob("*/j"))
    html = (folder / "05_journey.html").read_text(encoding="utf-8")
    assert (
        len(html.encode()) < 1_500_000 and "plotly" not in html.lower() and 'src="http' not in html
    )
    head = html.split("<!--/cj-headline-->")[0]
    assert "Demo check" not in head and "planted" not in head.lower()
    assert html.index("Demo check") > html.index("For analysts")
    kpis = json.loads((folder / "kpis.json").read_text())["kpis"]
    assert KPIS_RECORDED <= {k["name"] for k in kpis}


def test_as_of_before_the_data_is_a_clear_error(demo):
    with pytest.raises(jn.JourneyInputError, match="no touchpoints on or before as_of=2000-01-01"):
        jn.analyse({"touchpoints": demo.tables["touchpoints"]}, as_of="2000-01-01", n_boot=0)
