"""The segmentation analysis (analyse / from_source): sections follow the data, the headline and
KPIs speak plain language, planted-truth checks stay out of the KPIs, and the widget works."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cjlab import formatting as fmt
from cjlab import segments as sg
from cjlab.results import NotApplicable

FAST = {"k_min": 3, "k_max": 4, "n_boot": 0, "sample": 1500}
JARGON = re.compile(
    r"silhouette|\bbic\b|rand index|stability|planted|^\d+:|…|mean_|_share|_days", re.I
)


@pytest.fixture(scope="module")
def demo():
    from cjlab.data.synth import generate

    return generate(n_customers=2000, seed=5)


@pytest.fixture(scope="module")
def full(demo):
    truth = demo.customer_truth[["customer_id", "segment"]]
    return sg.analyse(
        demo.tables, truth=truth, as_of=demo.truth["observation_end"], currency="EUR", **FAST
    )


def _texts(a: sg.SegmentAnalysis) -> list[str]:
    h = a.headline()
    return [h.title, *(k for k, _ in h.items), *(v for _, v in h.items)]


@pytest.mark.slow
def test_pipeline_on_the_demo(demo, full):
    a = full
    assert a.rfm["customer_id"].is_unique and a.rfm["segment"].notna().all()
    assert a.rfm_summary["customers"].sum() == len(a.rfm)
    assert a.status_summary["customers"].sum() == len(demo.tables["customers"])
    assert 0 <= a.recovery["ari"] <= 1
    assert set(a.response) == {"channel", "device", "season"}
    assert isinstance(a.cross, pd.DataFrame)
    assert not a.skipped  # every input is there


@pytest.mark.slow
def test_headline_and_kpis_speak_plain_language(full):
    a = full
    for text in _texts(a):
        assert not JARGON.search(text), text
    names = {k.name for k in a.kpis()}
    assert names >= {
        "buyers",
        "revenue",
        "rfm_segment_customers",
        "rfm_segment_revenue_share",
        "behaviour_k",
        "behaviour_segment_share",
        "status_share",
    }
    assert not any("ari" in n or "recovery" in n for n in names)  # planted truth never a KPI
    # behavioural segments have readable, unique, untruncated names
    seg_names = list(a.behaviour_summary["segment"])
    assert len(set(seg_names)) == len(seg_names)
    assert all(re.fullmatch(r"[A-Z][\w &,'()-]+", n) and "…" not in n for n in seg_names), seg_names
    groups = {k.group for k in a.kpis() if k.name == "behaviour_segment_share"}
    assert groups == set(seg_names)
    # one number per concept: the headline shows the KPI values, money in the currency
    h = dict(a.headline().items)
    kp = {(k.name, k.group): k for k in a.kpis()}
    assert fmt.money(kp[("revenue", None)].value, "EUR") in h["Buyers"]
    assert kp[("revenue", None)].currency == "EUR"
    top = a.rfm_summary["segment"].iloc[0]
    assert fmt.share(kp[("rfm_segment_revenue_share", top)].value) in h["Top RFM segments"]
    assert kp[("rfm_segment_revenue_share", top)].headline


@pytest.mark.slow
def test_tables_for_readers_have_words_for_headers(full):
    a = full
    for frame, formats, caption in (
        a.rfm_table(),
        a.rules_table(),
        a.behaviour_table(),
        a.status_mix_table(),
        a.cross_table(),
        a.response_top_table("channel"),
        a.selection_table(),
    ):
        assert caption and set(formats) <= set(frame.columns)
        for col in frame.columns:
            assert "_" not in str(col), (caption, col)
    rules, _, _ = a.rules_table()
    assert rules["Buyers"].sum() == len(a.rfm)
    assert a.rfm_table()[0].columns[3] == "Revenue (EUR)"


@pytest.mark.slow
def test_segment_widget(full):
    from cjlab.notebook import widgets

    w = widgets.segment_widget(full)
    dd, out = w.children
    assert dd.value is None and len(out.outputs) == 0  # nothing drawn until picked
    dd.value = full.rfm_summary["segment"].iloc[0]


def test_customers_and_orders_only(demo):
    tables = {
        "customers": demo.tables["customers"][["customer_id", "first_seen"]],
        "orders": demo.tables["orders"][["order_id", "customer_id", "ts", "amount"]],
    }
    a = sg.analyse(tables, as_of="2025-12-31", **FAST)
    assert set(a.skipped) == {"behaviour_inputs", "status_inputs", "response"}
    assert (
        a.skipped["response"]
        == "Response by channel, device and season needs the touchpoints table."
    )
    assert "the touchpoints table" in a.skipped["behaviour_inputs"]
    assert "cancelled_at column of customers" in a.skipped["status_inputs"]
    assert a.response == {}
    # behaviour from orders only: the buyers, described by their orders
    assert set(a.features.columns) == {"orders", "spend_mean", "holiday_share"}
    assert set(a.behaviour.labels_.index) == set(a.rfm["customer_id"])
    # prospects come from the customers table; nobody is churned by a cancellation
    st = a.status_summary.set_index("status")["customers"]
    assert st["prospect"] == len(tables["customers"]) - len(a.rfm)
    assert st.sum() == len(tables["customers"])
    for text in _texts(a):
        assert not JARGON.search(text), text
    # one-time buyers are never loyalists
    once = a.rfm[a.rfm["frequency"] == 1]
    assert set(once["f_score"]) == {1} and not set(once["segment"]) & {
        "Potential loyalists",
        "Loyal",
        "Champions",
    }


def test_orders_only_and_no_orders(demo):
    orders = demo.tables["orders"][["order_id", "customer_id", "ts", "amount"]]
    a = sg.analyse({"orders": orders}, **FAST)
    assert a.skipped["status_inputs"].startswith("Prospects (customers without orders)")
    assert a.status_summary.set_index("status").loc["prospect", "customers"] == 0
    assert a.as_of == str(orders["ts"].max().date())
    with pytest.raises(NotApplicable, match="needs the orders table"):
        sg.analyse({"customers": demo.tables["customers"]})


def test_from_source_on_a_folder_with_customers_and_orders(demo, tmp_path):
    demo.tables["customers"].drop(columns=["email", "name"], errors="ignore").to_parquet(
        tmp_path / "customers.parquet"
    )
    demo.tables["orders"].to_parquet(tmp_path / "orders.parquet")
    a = sg.from_source(str(tmp_path), currency="€", **FAST)
    assert "response" in a.skipped and "behaviour_inputs" in a.skipped and not a.recovery
    assert "product categories" not in a.skipped["behaviour_inputs"]  # the orders carry them
    assert any(c.startswith("category_") for c in a.features.columns)
    assert a.headline().items[0][1].count("€") == 1
    b = sg.analyse(
        {t: demo.tables[t] for t in ("customers", "orders")}, as_of=a.as_of, currency="€", **FAST
    )
    pd.testing.assert_frame_equal(a.rfm_summary, b.rfm_summary, check_dtype=False)
    (tmp_path / "orders.parquet").unlink()
    with pytest.raises(NotApplicable, match="needs the orders table"):
        sg.from_source(str(tmp_path))
