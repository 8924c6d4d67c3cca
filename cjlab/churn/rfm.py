"""Calibration/holdout RFM summary for buy-till-you-die models, as one DuckDB query.

The conventions are those of Fader, Hardie & Lee (2005) and PyMC-Marketing's
:func:`pymc_marketing.clv.utils.rfm_summary`:

* purchases are counted per *period* (``period``; default one calendar day): several orders
  on the same day are one purchase, their amounts summed;
* ``frequency`` = number of distinct purchase periods − 1 (repeat purchases);
* ``recency`` = time from the first to the last purchase period, ``T`` = time from the first
  purchase period to the end of the observation (calibration) window, both in ``time_unit``;
* ``monetary_value`` = mean spend per repeat purchase period (first purchase excluded; 0 when
  ``frequency`` is 0), the input of the Gamma-Gamma model.

With ``period="D"`` and ``time_unit="W"`` (the defaults) recency and T are fractional weeks
(days / 7), exactly the CDNOW conventions of the paper; PyMC-Marketing gives the same numbers
with ``rfm_summary(..., time_unit="D", time_scaler=7)``. ``period=time_unit`` reproduces
PyMC-Marketing's ``rfm_summary(..., time_unit=time_unit)`` (whole periods).

Examples
--------
>>> import pandas as pd
>>> from cjlab.churn import rfm_summary
>>> orders = pd.DataFrame({"customer_id": [1, 1, 1, 2],
...     "ts": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 18:00", "2025-01-15 00:00", "2025-01-08 00:00"]),
...     "amount": [10.0, 5.0, 20.0, 7.0]})
>>> rfm_summary(orders, "2025-01-29", time_unit="D")
   customer_id  frequency  recency     T  monetary_value
0            1        1.0     14.0  28.0            20.0
1            2        0.0      0.0  21.0             0.0
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

__all__ = ["PERIODS", "RFMError", "rfm_summary"]

#: period alias -> (DuckDB date_trunc part, DuckDB date_diff part, length in hours or None)
PERIODS: dict[str, tuple[str, str, float | None]] = {
    "h": ("hour", "hour", 1.0),
    "D": ("day", "day", 24.0),
    "W": ("week", "week7", 168.0),
    "M": ("month", "month", None),
}
_ALIASES = {"H": "h", "d": "D", "w": "W", "day": "D", "week": "W", "month": "M", "hour": "h"}


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
    hp, hu = PERIODS[period][2], PERIODS[time_unit][2]
    if hp is None or hu is None:
        raise RFMError(f"cannot express {period!r} periods in {time_unit!r} units (months have no "
                       "fixed length); use period == time_unit or pass time_scaler")
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


def rfm_summary(orders: Any, observation_end: Any, calibration_end: Any = None,
                time_unit: str = "W", *, period: str = "D", time_scaler: float | None = None,
                customer_col: str = "customer_id", time_col: str = "ts",
                value_col: str | None = "amount",
                con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """One row per customer with frequency, recency, T and monetary value (one SQL query).

    Parameters
    ----------
    orders : pandas DataFrame, pyarrow Table or DuckDB relation with one row per order.
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
    con : DuckDB connection to use (a fresh in-memory one by default).

    Returns
    -------
    DataFrame sorted by customer id: ``customer_id, frequency, recency, T[, monetary_value]
    [, test_frequency[, test_monetary_value], test_T]`` (all float but the id).

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
    period = _unit(period, "period")
    time_unit = _unit(time_unit, "time_unit")
    scaler = float(time_scaler) if time_scaler is not None else _scaler(period, time_unit)
    if scaler <= 0:
        raise RFMError(f"time_scaler must be positive, got {scaler}")
    obs_end = _ts(observation_end, "observation_end")
    cal_end = None if calibration_end is None else _ts(calibration_end, "calibration_end")
    if cal_end is not None and cal_end >= obs_end:
        raise RFMError(f"calibration_end ({cal_end}) must be before observation_end ({obs_end})")

    own = con is None
    con = con or duckdb.connect()
    try:
        con.register("__rfm_orders", orders)
        cols = [d[0] for d in con.execute("SELECT * FROM __rfm_orders LIMIT 0").description]
        need = [customer_col, time_col] + ([value_col] if value_col else [])
        missing = [c for c in need if c not in cols]
        if missing:
            raise RFMError(f"orders: missing column(s) {missing}; columns are {cols}")
        q = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
        cid, tcol = q(customer_col), q(time_col)
        bad = con.execute(f"SELECT count(*) FILTER (WHERE {cid} IS NULL), "
                          f"count(*) FILTER (WHERE {tcol} IS NULL), count(*), "
                          f"min({tcol}::TIMESTAMP), max({tcol}::TIMESTAMP) FROM __rfm_orders").fetchall()[0]
        if bad[0] or bad[1]:
            raise RFMError(f"orders: {bad[0]:,} row(s) without {customer_col} and {bad[1]:,} "
                           f"without {time_col}; drop or fix them first")
        if bad[2] == 0:
            raise RFMError("orders: the table is empty")
        first_ts = pd.Timestamp(bad[3])
        if cal_end is not None and cal_end < first_ts:
            raise RFMError(f"calibration_end {cal_end.date()} is before the first order "
                           f"({first_ts.date()}): the calibration window has no orders")
        if obs_end < first_ts:
            raise RFMError(f"observation_end {obs_end.date()} is before the first order "
                           f"({first_ts.date()}): no orders to summarise")
        sql = _sql(cid, tcol, q(value_col) if value_col else None, period,
                   holdout=cal_end is not None)
        end_for_T = cal_end if cal_end is not None else obs_end
        params = {"end_t": end_for_T, "scaler": scaler}
        if cal_end is not None:
            params.update(cal_end=cal_end, obs_end=obs_end)
        out = con.execute(sql, params).df()
    finally:
        try:
            con.unregister("__rfm_orders")
        finally:
            if own:
                con.close()
    out = out.rename(columns={customer_col: "customer_id"})
    for c in out.columns[1:]:
        out[c] = out[c].astype(float)
    return out.reset_index(drop=True)


def _sql(cid: str, tcol: str, val: str | None, period: str, holdout: bool) -> str:
    trunc, diff, _ = PERIODS[period]
    div = ""
    if diff == "week7":  # whole weeks between two Mondays, exactly
        diff, div = "day", " / 7"
    per = f"date_trunc('{trunc}', {tcol}::TIMESTAMP)"
    amt = f", sum({val}::DOUBLE) AS amt" if val else ""
    # calibration orders: period <= period(end) (rfm_summary) or ts <= cal_end (train/test split)
    cal_filter = (f"{tcol}::TIMESTAMP <= $cal_end" if holdout
                  else f"{per} <= date_trunc('{trunc}', $end_t)")
    # mean spend of the repeat periods = (total - spend of the first period) / (periods - 1):
    # one aggregation per customer instead of a join back to the first period
    mon = (", CASE WHEN count(*) > 1 THEN (sum(amt) - arg_min(amt, per)) / (count(*) - 1) "
           "ELSE 0 END AS monetary_value" if val else "")
    sql = f"""
    WITH p AS (
        SELECT {cid} AS cid, {per} AS per{amt}
        FROM __rfm_orders WHERE {cal_filter} GROUP BY ALL
    ), s AS (
        SELECT cid, count(*) - 1 AS frequency,
               date_diff('{diff}', min(per), max(per)){div} / $scaler AS recency,
               date_diff('{diff}', min(per), date_trunc('{trunc}', $end_t)){div} / $scaler AS T
               {mon}
        FROM p GROUP BY cid
    )"""
    if not holdout:
        return sql + f"\nSELECT cid AS {cid}, * EXCLUDE (cid) FROM s ORDER BY cid"
    tmon = ", avg(amt) AS test_monetary_value" if val else ""
    tmon_sel = ", coalesce(h.test_monetary_value, 0) AS test_monetary_value" if val else ""
    return sql + f""", h AS (
        SELECT cid, count(*) AS test_frequency{tmon} FROM (
            SELECT {cid} AS cid, {per} AS per{amt} FROM __rfm_orders
            WHERE {tcol}::TIMESTAMP > $cal_end AND {tcol}::TIMESTAMP <= $obs_end GROUP BY ALL
        ) GROUP BY cid
    )
    SELECT s.cid AS {cid}, s.* EXCLUDE (cid), coalesce(h.test_frequency, 0) AS test_frequency
           {tmon_sel},
           date_diff('{diff}', date_trunc('{trunc}', $cal_end), date_trunc('{trunc}', $obs_end))
             {div} / $scaler AS test_T
    FROM s LEFT JOIN h USING (cid) ORDER BY s.cid"""
