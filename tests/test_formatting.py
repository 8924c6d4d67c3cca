"""One place formats numbers for readers: units, currency, no negative zero, one date format."""

from __future__ import annotations

import math
import re

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


def test_days_whole_numbers_without_decimals():
    assert fmt.days(90) == "90 days" and fmt.days(12.31) == "12.3 days"
    assert fmt.number(90.0, "days") == "90 days" and fmt.days(4.0, digits=1) == "4.0 days"


# --- report tables (cjlab.notebook.display): the same formatting, a layout that fits ----------


def _cells(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", page)]


def test_tables_format_through_cjlab_formatting():
    from cjlab.notebook.display import table_html

    df = pd.DataFrame(
        {
            "Share": [0.0019, 0.5],
            "Revenue": [36.76, 1234.5],
            "Change": [0.02, -0.00001],
            "Month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "Day": pd.to_datetime(["2024-01-08 08:09", "2024-02-01 00:00"]),
            "Gap": [-0.0001, 2.0],
        }
    )
    page = table_html(
        df,
        formats={"Share": "share", "Revenue": "money", "Change": "pp", "Month": "month", "Gap": "{:.2f}"},
        currency="EUR",
    )
    cells = _cells(page)
    # small rates keep digits; one number of decimals per money column, with the currency;
    # differences of shares in points; months as YYYY-MM, dates ISO; never "-0.00"
    assert cells[:6] == ["0.19 %", "EUR 37", "+2.0 pp", "2024-01", "2024-01-08 08:09", "0.00"]
    assert cells[6:] == ["50.0 %", "EUR 1,234", "0.0 pp", "2024-02", "2024-02-01", "2.00"]


def test_a_number_never_breaks_from_its_unit_and_numbers_align_right():
    from cjlab.notebook.display import table_html

    df = pd.DataFrame(
        {
            "Variant": ["control", "B"],
            "Conversion rate": ["20.7 % (16.5 % to 25.3 %)", "22.1 % (18.0 % to 26.9 %)"],
            "Users": ["1,234", "–"],
            "Verdict": ["–", "keep testing"],
        }
    )
    page = table_html(df)
    assert '<span class="cj-n">20.7 %</span> (<span class="cj-n">16.5 %</span> to' in page
    heads = {name: cls for cls, name in re.findall(r"<th(?: class=\"(\S+)\")?>(.*?)</th>", page)}
    assert heads["Variant"] == heads["Verdict"] == ""  # text: left
    assert heads["Conversion rate"] == heads["Users"] == "cj-num"  # numbers, also as text: right


def test_table_css_wraps_text_and_never_forbids_wrapping_text():
    from cjlab.notebook.display import _CSS

    assert "table-layout:auto" in _CSS and "max-width:100%" in _CSS
    assert "overflow-wrap:break-word" in _CSS and "word-break:normal" in _CSS
    nowrap = [line for line in _CSS.splitlines() if "nowrap" in line]
    assert nowrap == [".cj-n{white-space:nowrap}"]  # only a number with its unit


def test_percent_ticks_have_no_negative_zero_and_enough_digits():
    from cjlab.plotting import _percent_tick

    assert [_percent_tick(v) for v in (-0.0, 0.025, 0.1, 0.125, -0.00001)] == [
        "0%",
        "2.5%",
        "10%",
        "12.5%",
        "0%",
    ]
