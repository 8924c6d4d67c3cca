"""One place formats numbers for readers: units, currency, no negative zero, one date format."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cjlab import formatting as fmt
from cjlab.results import KPI, Headline


@pytest.mark.parametrize("value", [-0.0, -1e-9, -0.00049, 0.00049])
def test_no_negative_zero(value):
    for unit in ("share", "pp", "points", "money", "number", "score", "days"):
        text = fmt.number(value, unit, currency="EUR")
        digits = [c for c in text if c.isdigit()]
        if set(digits) <= {"0"}:  # the value prints as zero: then without a sign
            assert "-" not in text, (unit, value, text)


def test_shares_and_percentage_points():
    assert fmt.share(0.1234) == "12.3 %"
    assert fmt.share(0.0042) == "0.42 %"        # small rates keep enough digits
    assert fmt.share(0.00042) == "0.042 %"
    assert fmt.pp(0.02) == "+2.0 pp" and fmt.pp(-0.015) == "-1.5 pp"
    assert fmt.change(0.02, "share") == "+2.0 pp"  # differences of shares are points, not %
    assert fmt.change(3.0, "points") == "+3.0 points"


def test_money_with_currency():
    assert fmt.money(1234.5, "EUR") == "EUR 1,234"
    assert fmt.money(12.345, "€") == "€12.35"
    assert fmt.money(-250.0, "$") == "-$250"
    assert fmt.money(1234.5) == "1,234"


def test_interval_writes_the_unit_once():
    assert fmt.interval(31.44, 28.0, 34.81, "points") == "31.4 points (28.0 to 34.8)"
    assert fmt.interval(0.12, 0.1, 0.14, "share") == "12.0 % (10.0 % to 14.0 %)"
    assert fmt.interval(0.02, -0.01, 0.05, "pp") == "+2.0 pp (-1.0 to +5.0)"
    assert fmt.interval(1.0, None, 2.0, "share") == "100.0 %"


def test_one_date_format():
    assert fmt.date(pd.Timestamp("2026-03-01")) == "2026-03-01"
    assert fmt.date("2026-03-01 14:30") == "2026-03-01 14:30"
    assert fmt.date(None) == fmt.MISSING and fmt.date(pd.NaT) == fmt.MISSING


def test_missing_and_text():
    assert fmt.number(float("nan"), "share") == fmt.MISSING
    assert fmt.number(math.inf) == fmt.MISSING
    assert fmt.number("ship", "text") == "ship"


def test_kpi_records_and_units():
    k = KPI("revenue", 1234.5, "Revenue", unit="money", currency="EUR", low=1000, high=1500)
    assert k.text() == "EUR 1,234 (EUR 1,000 to EUR 1,500)"
    rec = k.to_record()
    assert rec["value"] == 1234.5 and rec["currency"] == "EUR" and rec["low"] == 1000
    assert KPI("x", float("nan"), "X").to_record()["value"] is None
    with pytest.raises(ValueError, match="unit"):
        KPI("x", 1.0, "X", unit="EUR")
    with pytest.raises(ValueError, match="status"):
        Headline("t", (), status="great")
    assert Headline("t", {"a": "b"}).items == (("a", "b"),)
