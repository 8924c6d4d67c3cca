"""Numbers as stakeholders read them: one place for every unit, currency and date.

Analyses write their headline sentences with these helpers, the notebook display formats
tables with them, and the report portal and terminal summaries print KPIs with them, so a
figure looks the same wherever it appears.

Units (the ``unit`` of a :class:`cjlab.results.KPI`):

``share``   a proportion 0..1, printed as a percentage (``12.3 %``; small rates get more digits)
``pp``      a difference of two shares, in percentage points (``+2.0 pp``)
``points``  NPS-style points on -100..100 (``31.4 points``)
``money``   an amount in the data's currency (``EUR 1,234`` or ``€1,234``)
``count``   customers, orders, rows (``12,345``)
``days``    a duration (``4.5 days``)
``ratio``   a multiple (``1.8×``)
``score``   a mean on a rating scale (``4.12``)
``number``  anything else (``0.847``)
``text``    a word or phrase (a verdict, a stage name)

Examples
--------
>>> share(0.1234), share(0.0042), pp(0.02), pp(-0.0001)
('12.3 %', '0.42 %', '+2.0 pp', '0.0 pp')
>>> money(1234.5, "EUR"), money(1234.5, "€"), money(-0.001, "EUR")
('EUR 1,234', '€1,234', 'EUR 0.00')
>>> interval(31.44, 28.0, 34.8, "points")
'31.4 points (28.0 to 34.8)'
>>> number(float("nan"))
'–'
"""

from __future__ import annotations

import math
from typing import Any

UNITS: tuple[str, ...] = ("share", "pp", "points", "money", "count", "days", "ratio", "score",
                          "number", "text")
MISSING = "–"
DATE_FORMAT = "%Y-%m-%d"


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool | str):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _fixed(x: float, decimals: int, sign: bool = False) -> str:
    """``x`` with thousands separators and ``decimals`` places; never ``-0``."""
    text = f"{x:+,.{decimals}f}" if sign else f"{x:,.{decimals}f}"
    if text.lstrip("+-").strip("0.,") == "":  # rounds to zero: drop the sign
        text = f"{0:,.{decimals}f}"
    return text


def _share_decimals(x: float) -> int:
    a = abs(x)
    if a == 0 or a >= 0.01:
        return 1
    if a >= 0.001:
        return 2
    return 3


def share(v: Any, digits: int | None = None, sign: bool = False) -> str:
    """A proportion as a percentage: ``0.1234`` -> ``'12.3 %'`` (rates below 1 % get more digits)."""
    x = _num(v)
    if x is None:
        return MISSING
    return f"{_fixed(100 * x, _share_decimals(x) if digits is None else digits, sign)} %"


def pp(v: Any, digits: int = 1) -> str:
    """A difference of two shares in percentage points: ``0.02`` -> ``'+2.0 pp'``."""
    x = _num(v)
    if x is None:
        return MISSING
    return f"{_fixed(100 * x, digits, sign=True)} pp"


def points(v: Any, digits: int = 1, sign: bool = False) -> str:
    """NPS-style points: ``31.44`` -> ``'31.4 points'``."""
    x = _num(v)
    return MISSING if x is None else f"{_fixed(x, digits, sign)} points"


def money(v: Any, currency: str | None = None, digits: int | None = None, sign: bool = False) -> str:
    """An amount in ``currency``: a symbol goes in front (``€1,234``), a code before with a space
    (``EUR 1,234``); amounts under 100 keep cents unless ``digits`` says otherwise."""
    x = _num(v)
    if x is None:
        return MISSING
    d = (0 if abs(x) >= 100 else 2) if digits is None else digits
    body = _fixed(x, d, sign)
    if not currency:
        return body
    if len(currency) == 1 or not currency.isalpha():  # a symbol
        neg = body.startswith(("-", "+"))
        return f"{body[0]}{currency}{body[1:]}" if neg else f"{currency}{body}"
    return f"{currency} {body}"


def count(v: Any) -> str:
    """A whole number with thousands separators."""
    x = _num(v)
    return MISSING if x is None else _fixed(round(x), 0)


def days(v: Any, digits: int | None = None) -> str:
    """A duration: ``4.5 days``; whole numbers without decimals (``90 days``) unless ``digits``."""
    x = _num(v)
    if x is None:
        return MISSING
    return f"{_fixed(x, (0 if x.is_integer() else 1) if digits is None else digits)} days"


def ratio(v: Any, digits: int = 1) -> str:
    x = _num(v)
    return MISSING if x is None else f"{_fixed(x, digits)}×"


def plain(v: Any, digits: int | None = None, sign: bool = False) -> str:
    """A number without unit: 3 significant digits below 1, 2 decimals up to 1,000, else whole."""
    x = _num(v)
    if x is None:
        return MISSING if not isinstance(v, str) else v
    if digits is not None:
        return _fixed(x, digits, sign)
    if x.is_integer() and abs(x) < 1e15:
        return _fixed(x, 0, sign)
    if abs(x) < 1:
        return _fixed(x, max(3, 2 - math.floor(math.log10(abs(x)))) if x else 3, sign)
    return _fixed(x, 2 if abs(x) < 1000 else 0, sign)


def date(v: Any) -> str:
    """One date format everywhere: ISO ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM`` when a time is set)."""
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return MISSING
    ts = pd.Timestamp(v)
    return ts.strftime(DATE_FORMAT if ts == ts.normalize() else DATE_FORMAT + " %H:%M")


def number(v: Any, unit: str | None = None, currency: str | None = None,
           digits: int | None = None, sign: bool = False) -> str:
    """Format ``v`` in ``unit`` (see the module docstring); text values pass through."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if _num(v) is None:
        return MISSING
    if unit == "share":
        return share(v, digits, sign)
    if unit == "pp":
        return pp(v, 1 if digits is None else digits)
    if unit == "points":
        return points(v, 1 if digits is None else digits, sign)
    if unit == "money":
        return money(v, currency, digits, sign)
    if unit == "count":
        return count(v)
    if unit == "days":
        return days(v, digits)
    if unit == "ratio":
        return ratio(v, 1 if digits is None else digits)
    if unit == "score":
        return plain(v, 2 if digits is None else digits, sign)
    return plain(v, digits, sign)


def interval(value: Any, low: Any, high: Any, unit: str | None = None, currency: str | None = None,
             digits: int | None = None) -> str:
    """``'31.4 points (28.0 to 34.8)'``; the unit word is written once, after the value."""
    main = number(value, unit, currency, digits)
    if _num(low) is None or _num(high) is None:
        return main
    lo, hi = (number(x, unit, currency, digits) for x in (low, high))
    for word in (" points", " days"):  # the unit word once
        if main.endswith(word):
            lo, hi = lo.removesuffix(word), hi.removesuffix(word)
    if unit == "pp":
        lo, hi = lo.removesuffix(" pp"), hi.removesuffix(" pp")
    return f"{main} ({lo} to {hi})"


def change(diff: Any, unit: str | None, currency: str | None = None) -> str:
    """A change between two values of ``unit``: shares change in percentage points."""
    if unit == "share":
        return pp(diff)
    return number(diff, unit, currency, sign=True)
