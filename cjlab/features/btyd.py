"""The RFM summary of buy-till-you-die models: calibration and holdout (portable).

One row per customer in the conventions of Fader, Hardie & Lee (2005) and PyMC-Marketing's
:func:`pymc_marketing.clv.utils.rfm_summary`, the input of BG/NBD, Pareto/NBD and Gamma-Gamma:

* purchases are counted per *period* (``period``; default one calendar day): several orders
  in the same period are one purchase, their amounts summed;
* ``frequency`` = number of distinct purchase periods − 1 (repeat purchases);
* ``recency`` = time from the first to the last purchase period, ``T`` = time from the first
  purchase period to the end of the observation (calibration) window, both in ``time_unit``;
* ``monetary_value`` = mean spend per repeat purchase period (first purchase excluded; 0 when
  ``frequency`` is 0), the input of the Gamma-Gamma model.

With ``period="D"`` and ``time_unit="W"`` (the defaults) recency and T are fractional weeks
(days / 7), exactly the CDNOW conventions of the paper; PyMC-Marketing gives the same numbers
with ``rfm_summary(..., time_unit="D", time_scaler=7)``. ``period=time_unit`` reproduces
PyMC-Marketing's ``rfm_summary(..., time_unit=time_unit)`` (whole periods).

Written with narwhals like the rest of :mod:`cjlab.features`: a pandas frame in gives pandas
out, a DuckDB relation or Spark DataFrame stays lazy (periods are whole numbers computed from
seconds since 1970, so every engine counts them alike; weeks start on Monday).

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"customer_id": [1, 1, 1, 2],
...     "ts": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 18:00", "2025-01-15 00:00", "2025-01-08 00:00"]),
...     "amount": [10.0, 5.0, 20.0, 7.0]})
>>> rfm_summary(orders, "2025-01-29", time_unit="D")
   customer_id  frequency  recency     T  monetary_value
0            1        1.0     14.0  28.0            20.0
1            2        0.0      0.0  21.0             0.0
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import narwhals as nw
import pandas as pd

from cjlab.features._frame import back, frame, to_pandas

__all__ = ["PERIODS", "RFMError", "rfm_summary"]

#: period alias -> length in hours (``None``: months have no fixed length)
PERIODS: dict[str, float | None] = {"h": 1.0, "D": 24.0, "W": 168.0, "M": None}
_ALIASES = {"H": "h", "d": "D", "w": "W", "day": "D", "week": "W", "month": "M", "hour": "h"}
_EPOCH = datetime(1970, 1, 1)
_MONDAY = 4  # 1970-01-05, the first Monday, is day 4 since the epoch


class RFMError(ValueError):
    """Bad input to :func:`rfm_summary` (missing column, window outside the data ...)."""


def _unit(u: str, what: str) -> str:
    u = _ALIASES.get(u, u)
    if u not in PERIODS:
        raise RFMError(f"{what}={u!r} is not supported; use one of {sorted(PERIODS)}")
    return u


def _scaler(period: str, time_unit: str) -> float:
    if period == time_unit:
        return 1.0
    hp, hu = PERIODS[period], PERIODS[time_unit]
    if hp is None or hu is None:
        raise RFMError(
            f"cannot express {period!r} periods in {time_unit!r} units (months have no "
            "fixed length); use period == time_unit or pass time_scaler"
        )
    return hu / hp


def _ts(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise RFMError(f"{name}={value!r} is not a date or timestamp") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise RFMError(f"{name} is missing")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _div(e: nw.Expr, k: int) -> nw.Expr:
    """Floor division by a constant as a plain ``floor(e / k)`` (narwhals' ``//`` becomes a long
    CASE expression per row in SQL)."""
    return (e / k).floor().cast(nw.Int64)


def _leap_days(year: nw.Expr) -> nw.Expr:
    """Leap days from year 0 up to and including ``year`` (Gregorian)."""
    return _div(year, 4) - _div(year, 100) + _div(year, 400)


#: leap days up to 1969 (1969 // 4 - 1969 // 100 + 1969 // 400)
_LEAP_1969 = 477


def day_number(col: str) -> nw.Expr:
    """Whole days since 1970-01-01 of a timestamp column (integer arithmetic on year and day of
    year, which every engine has; no duration types)."""
    y = nw.col(col).dt.year().cast(nw.Int64)
    before = 365 * (y - 1970) + _leap_days(y - 1) - _LEAP_1969
    return before + nw.col(col).dt.ordinal_day().cast(nw.Int64) - 1


def period_index(col: str, period: str) -> nw.Expr:
    """Whole number of the ``period`` (h, D, W from Monday, M) a timestamp falls in."""
    if period == "M":
        return nw.col(col).dt.year().cast(nw.Int64) * 12 + nw.col(col).dt.month().cast(nw.Int64)
    day = day_number(col)
    if period == "h":
        return day * 24 + nw.col(col).dt.hour().cast(nw.Int64)
    return day if period == "D" else _div(day - _MONDAY, 7)


def _period_of(ts: pd.Timestamp, period: str) -> int:
    """:func:`period_index` of one timestamp (the window ends)."""
    if period == "M":
        return ts.year * 12 + ts.month
    seconds = int((ts - pd.Timestamp(_EPOCH)).total_seconds() // 1)
    if period == "h":
        return seconds // 3600
    day = seconds // 86400
    return day if period == "D" else (day - _MONDAY) // 7


def _check(f: nw.LazyFrame, cid: str, tcol: str, value_col: str | None) -> pd.Timestamp:
    """Columns present, no missing ids or times, not empty; returns the first order time."""
    cols = f.collect_schema().names()
    need = [cid, tcol] + ([value_col] if value_col else [])
    missing = [c for c in need if c not in cols]
    if missing:
        raise RFMError(f"orders: missing column(s) {missing}; columns are {cols}")
    s = to_pandas(
        f.select(
            nw.col(cid).is_null().cast(nw.Int64).sum().alias("no_id"),
            nw.col(tcol).is_null().cast(nw.Int64).sum().alias("no_ts"),
            nw.len().alias("n"),
            nw.col(tcol).min().alias("first"),
        )
    )
    no_id, no_ts, n = (int(s[c].iloc[0] or 0) for c in ("no_id", "no_ts", "n"))
    if no_id or no_ts:
        raise RFMError(
            f"orders: {no_id:,} row(s) without {cid} and {no_ts:,} without {tcol}; "
            "drop or fix them first"
        )
    if n == 0:
        raise RFMError("orders: the table is empty")
    return pd.Timestamp(s["first"].iloc[0])


def _purchases(f: nw.LazyFrame, cid: str, value_col: str | None) -> nw.LazyFrame:
    """One row per customer and purchase period (amounts summed)."""
    aggs = [nw.col("_amt").sum().alias("_amt")] if value_col else [nw.len().alias("_n")]
    return f.group_by("_cid", "_per").agg(*aggs)


def _calibration(p: nw.LazyFrame, end_per: int, scaler: float, value: bool) -> nw.LazyFrame:
    """frequency, recency, T (and monetary value) from the purchase periods."""
    aggs = [
        nw.len().alias("_k"),
        nw.col("_per").min().alias("_first"),
        nw.col("_per").max().alias("_last"),
    ]
    if value:
        # mean spend of the repeat periods = (total - spend of the first period) / (periods - 1)
        p = p.with_columns(nw.col("_per").min().over("_cid").alias("_p0"))
        p = p.with_columns(
            nw.when(nw.col("_per") == nw.col("_p0"))
            .then(nw.col("_amt"))
            .otherwise(nw.lit(0.0))
            .alias("_amt0")
        )
        aggs += [nw.col("_amt").sum().alias("_sum"), nw.col("_amt0").sum().alias("_sum0")]
    s = p.group_by("_cid").agg(*aggs)
    cols = [
        (nw.col("_k") - 1).cast(nw.Float64).alias("frequency"),
        ((nw.col("_last") - nw.col("_first")) / scaler).cast(nw.Float64).alias("recency"),
        ((nw.lit(end_per) - nw.col("_first")) / scaler).cast(nw.Float64).alias("T"),
    ]
    if value:
        cols.append(
            nw.when(nw.col("_k") > 1)
            .then((nw.col("_sum") - nw.col("_sum0")) / (nw.col("_k") - 1))
            .otherwise(nw.lit(0.0))
            .cast(nw.Float64)
            .alias("monetary_value")
        )
    return s.select("_cid", *cols)


def _holdout(
    f: nw.LazyFrame, cal_end: pd.Timestamp, obs_end: pd.Timestamp, value: bool
) -> nw.LazyFrame:
    """Distinct purchase periods (and their mean spend) in the holdout window."""
    h = _purchases(
        f.filter((nw.col("_ts") > cal_end) & (nw.col("_ts") <= obs_end)),
        "_cid",
        "_amt" if value else None,
    )
    aggs = [nw.len().alias("test_frequency")]
    if value:
        aggs.append(nw.col("_amt").mean().alias("test_monetary_value"))
    names = ["test_frequency", *(["test_monetary_value"] if value else [])]
    return h.group_by("_cid").agg(*aggs).with_columns(*[nw.col(c).cast(nw.Float64) for c in names])


def _summary(
    f: nw.LazyFrame,
    period: str,
    scaler: float,
    obs_end: pd.Timestamp,
    cal_end: pd.Timestamp | None,
    value: bool,
) -> nw.LazyFrame:
    """The calibration summary (and the holdout columns) from ``_cid, _ts[, _amt]``."""
    f = f.with_columns(period_index("_ts", period).alias("_per"))
    end_t = cal_end if cal_end is not None else obs_end
    cal = (
        f.filter(nw.col("_ts") <= cal_end)
        if cal_end is not None
        else f.filter(nw.col("_per") <= _period_of(obs_end, period))
    )
    out = _calibration(
        _purchases(cal, "_cid", "_amt" if value else None), _period_of(end_t, period), scaler, value
    )
    if cal_end is not None:
        h = _holdout(f, cal_end, obs_end, value)
        out = out.join(h, on="_cid", how="left").with_columns(
            nw.col("test_frequency").fill_null(0.0),
            *([nw.col("test_monetary_value").fill_null(0.0)] if value else []),
            nw.lit((_period_of(obs_end, period) - _period_of(cal_end, period)) / scaler)
            .cast(nw.Float64)
            .alias("test_T"),
        )
    return out


def _windows(
    f: nw.LazyFrame,
    observation_end: Any,
    calibration_end: Any,
    time_unit: str,
    period: str,
    time_scaler: float | None,
    cols: tuple[str, str, str | None],
) -> tuple[str, float, pd.Timestamp, pd.Timestamp | None]:
    """Checked period, scaler and window ends (errors name what is wrong)."""
    period, time_unit = _unit(period, "period"), _unit(time_unit, "time_unit")
    scaler = float(time_scaler) if time_scaler is not None else _scaler(period, time_unit)
    if scaler <= 0:
        raise RFMError(f"time_scaler must be positive, got {scaler}")
    obs_end = _ts(observation_end, "observation_end")
    cal_end = None if calibration_end is None else _ts(calibration_end, "calibration_end")
    if cal_end is not None and cal_end >= obs_end:
        raise RFMError(f"calibration_end ({cal_end}) must be before observation_end ({obs_end})")
    first_ts = _check(f, *cols)
    for end, what in ((cal_end, "calibration_end"), (obs_end, "observation_end")):
        if end is not None and end < first_ts:
            raise RFMError(
                f"{what} {end.date()} is before the first order ({first_ts.date()}): "
                "no orders to summarise"
            )
    return period, scaler, obs_end, cal_end


def rfm_summary(
    orders: Any,
    observation_end: Any,
    calibration_end: Any = None,
    time_unit: str = "W",
    *,
    period: str = "D",
    time_scaler: float | None = None,
    customer_col: str = "customer_id",
    time_col: str = "ts",
    value_col: str | None = "amount",
    con: Any = None,
) -> Any:
    """One row per customer with frequency, recency, T and monetary value (portable).

    Parameters
    ----------
    orders : orders as a pandas DataFrame, DuckDB relation or Spark DataFrame (one row per order).
    observation_end : end of the observation window. Without ``calibration_end`` orders whose
        period is on or before the period of ``observation_end`` count (PyMC-Marketing's
        ``rfm_summary``); with it, ``observation_end`` closes the holdout window
        (``calibration_end < ts <= observation_end``, PyMC-Marketing's ``rfm_train_test_split``).
    calibration_end : optional end of the calibration window (orders with
        ``ts <= calibration_end``). Adds ``test_frequency`` (distinct purchase periods in the
        holdout), ``test_monetary_value`` (mean spend per holdout period) and ``test_T``.
        Customers whose first purchase falls in the holdout are not in the result.
    time_unit : unit of ``recency``, ``T`` and ``test_T``: ``"h"``, ``"D"``, ``"W"`` or ``"M"``.
    period : granularity at which purchases are counted (``"D"``: one purchase per day).
    time_scaler : divide recency/T by this number of periods instead of converting
        ``period`` to ``time_unit`` (PyMC-Marketing's ``time_scaler``).
    customer_col, time_col, value_col : column names; ``value_col=None`` skips monetary value.
    con : ignored (the summary runs where the frame lives); kept for old callers.

    Returns
    -------
    Frame of the input's backend sorted by customer id: ``customer_id, frequency, recency,
    T[, monetary_value][, test_frequency[, test_monetary_value], test_T]`` (all float but the id).

    Raises
    ------
    RFMError : missing columns, missing customer ids or timestamps, a window with no orders,
        ``calibration_end`` not before ``observation_end``.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [1.0, 3.0, 2.0],
    ...                   "ts": pd.to_datetime(["2025-01-01", "2025-01-15", "2025-01-20"])})
    >>> s = rfm_summary(o, "2025-01-29", calibration_end="2025-01-10", time_unit="D")
    >>> s[["customer_id", "frequency", "T", "test_frequency", "test_monetary_value", "test_T"]]
      customer_id  frequency    T  test_frequency  test_monetary_value  test_T
    0           a        0.0  9.0             1.0                  3.0    19.0
    """
    f = frame(orders)
    period, scaler, obs_end, cal_end = _windows(
        f,
        observation_end,
        calibration_end,
        time_unit,
        period,
        time_scaler,
        (customer_col, time_col, value_col),
    )
    value = value_col is not None
    f = f.select(
        nw.col(customer_col).alias("_cid"),
        nw.col(time_col).alias("_ts"),
        *([nw.col(value_col).cast(nw.Float64).alias("_amt")] if value else []),
    )
    out = _summary(f, period, scaler, obs_end, cal_end, value)
    out = out.rename({"_cid": "customer_id"}).sort("customer_id")
    result = back(out, orders)
    return result.reset_index(drop=True) if isinstance(result, pd.DataFrame) else result
