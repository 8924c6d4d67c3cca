"""Validation reports every problem at once: table, column, rule, row count, example rows."""

from __future__ import annotations

import pandas as pd
import pytest

from cjlab.data import DataValidationError, open_source, validate_frames
from cjlab.data.synth import generate


def _rules(report):
    return {(p.table, p.column, p.rule): p for p in report.problems}


@pytest.fixture(scope="module")
def good():
    return generate(400, seed=5).tables


def test_demo_data_pass(good):
    report = validate_frames(good)
    assert report.ok, report.format()
    assert report.n_rows["customers"] == 400


def test_every_problem_is_reported_with_counts_and_examples():
    customers = pd.DataFrame({"customer_id": [1, 2, 2, 4], "first_seen": ["2025-01-01", "2025-01-02", "x", None],
                              "marketing_opt_in": ["yes", "maybe", "0", "1"]})
    orders = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": [1, 9, 2],
                           "ts": ["2024-12-31 10:00", "2025-02-01", "2025-03-01"],
                           "amount": [10.0, -1.0, "ten"]})
    survey = pd.DataFrame({"response_id": ["a", "b", "c"], "wave": ["2025-03", "2025-03", None],
                           "nps": [11, 7.5, 3], "csat": [0, 5, 6], "rating_delivery": [1, 9, 3],
                           "respondent_type": ["new", "alien", "existing"]})
    report = validate_frames({"customers": customers, "orders": orders, "survey_responses": survey})
    r = _rules(report)
    expected = {
        ("customers", "customer_id", "duplicate_key"): 2,
        ("customers", "first_seen", "not_a_date"): 1,
        ("customers", "first_seen", "missing_value"): 1,
        ("customers", "marketing_opt_in", "not_a_boolean"): 1,
        ("orders", "amount", "below_minimum"): 1,
        ("orders", "amount", "not_a_number"): 1,
        ("orders", "customer_id", "unknown_customer"): 1,
        ("orders", "ts", "before_first_seen"): 1,
        ("survey_responses", "nps", "above_maximum"): 1,
        ("survey_responses", "nps", "not_whole_number"): 1,
        ("survey_responses", "csat", "below_minimum"): 1,
        ("survey_responses", "csat", "above_maximum"): 1,
        ("survey_responses", "rating_delivery", "above_maximum"): 1,
        ("survey_responses", "respondent_type", "not_allowed"): 1,
        ("survey_responses", "wave", "missing_value"): 1,
    }
    for key, n in expected.items():
        assert key in r, f"missing {key}; got:\n{report.format()}"
        assert r[key].n_rows == n, (key, r[key].n_rows)
    # examples carry 1-based row numbers and the offending value
    ex = r[("orders", "amount", "below_minimum")].examples
    assert len(ex) == 1 and ex[0]["row"] == 2 and float(ex[0]["amount"]) == -1.0
    assert r[("survey_responses", "respondent_type", "not_allowed")].examples[0]["respondent_type"] == "alien"
    assert not report.ok
    with pytest.raises(DataValidationError) as exc:
        report.raise_for_errors()
    text = str(exc.value)
    assert "orders.amount: below_minimum" in text and "row 2" in text


def test_missing_columns_tables_and_empty_table():
    report = validate_frames({"orders": pd.DataFrame({"order_id": [1], "customer_id": [1]}),
                              "touchpoints": pd.DataFrame(columns=["customer_id", "ts", "channel", "touchpoint", "stage"])},
                             require=["orders", "customers"])
    r = _rules(report)
    assert ("orders", "ts", "missing_column") in r
    assert ("orders", "amount", "missing_column") in r
    assert ("customers", None, "missing_table") in r
    assert ("touchpoints", None, "empty_table") in r


def test_stage_and_experiment_rules():
    tp = pd.DataFrame({"customer_id": [1, 1], "ts": ["2025-01-01", "2025-01-02"], "channel": ["web", "web"],
                       "touchpoint": ["x", "y"], "stage": ["purchase", "checkout_page"], "device": ["mobile", "tv"]})
    ex = pd.DataFrame({"experiment": ["e"] * 3, "variant": ["a", "b", "a"], "unit_id": [1, 1, 2],
                       "exposed_at": ["2025-01-01"] * 3, "converted": [0, 1, 2]})
    r = _rules(validate_frames({"touchpoints": tp, "experiment_exposures": ex}))
    assert r[("touchpoints", "stage", "not_allowed")].examples == [{"row": 2, "stage": "checkout_page"}]
    assert ("touchpoints", "device", "not_allowed") in r
    assert r[("experiment_exposures", "unit_id", "unit_in_several_variants")].n_rows == 1
    assert ("experiment_exposures", "converted", "above_maximum") in r


def test_pii_values_are_not_echoed():
    customers = pd.DataFrame({"customer_id": [1, 1], "first_seen": ["2025-01-01", "2025-01-01"],
                              "email": ["a@x.org", "b@x.org"]})
    text = validate_frames({"customers": customers}).format()
    assert "a@x.org" not in text and "b@x.org" not in text


def test_csv_folder_validation_and_cli(tmp_path, good, capsys):
    from cjlab.cli import main

    for name, df in good.items():
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    assert main(["validate", str(tmp_path)]) == 0
    orders = good["orders"].copy()
    orders["amount"] = orders["amount"].astype(object)
    orders.loc[3, "amount"] = "n/a"
    orders.loc[5, "amount"] = -3
    orders.to_csv(tmp_path / "orders.csv", index=False)
    capsys.readouterr()
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "orders.amount: not_a_number" in out and "row 4" in out
    assert "orders.amount: below_minimum" in out and "row 6" in out
    src = open_source(tmp_path)
    with pytest.raises(DataValidationError):
        src.load("orders")
