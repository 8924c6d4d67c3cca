"""Frame plumbing shared by every aggregation: any backend in, the same backend out.

Each aggregation in :mod:`cjlab.features` takes any frame narwhals understands — a pandas
DataFrame, a DuckDB relation (what :meth:`cjlab.data.DataSource.lazy` gives), a Polars or
PySpark DataFrame — works on it lazily and returns a frame of the *same backend*
(:func:`back`), so the heavy step runs where the data live. :func:`to_pandas` collects a
(small) result for modelling and plotting; it is the one conversion helper of cjlab.

Optional contract columns are handled here too: :func:`has` tells whether a column is present
(analyses never test ``"x" in df.columns`` on raw tables themselves).

The as-of convention of cjlab (one for every analysis): ``as_of`` is the analysis *day*; facts
dated on that day or earlier count, later facts do not (:func:`up_to`); no ``as_of`` means every
fact counts. Recency and ages are measured from the end of the ``as_of`` day
(:func:`as_of_end`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import narwhals as nw
import pandas as pd

from cjlab.data.contract import STAGES


def frame(native: Any) -> nw.LazyFrame:
    """Any supported frame (or a narwhals frame) as a narwhals LazyFrame."""
    f = native if isinstance(native, nw.LazyFrame | nw.DataFrame) else nw.from_native(native)
    return f if isinstance(f, nw.LazyFrame) else f.lazy()


def back(result: nw.LazyFrame, native: Any) -> Any:
    """Return ``result`` in the caller's backend (pandas in -> pandas out; lazy stays lazy)."""
    if isinstance(native, pd.DataFrame):
        return result.collect(backend="pandas").to_native()
    return result.to_native()


def columns(native: Any) -> list[str]:
    """Column names of any supported frame (no data are read)."""
    if isinstance(native, pd.DataFrame):
        return [str(c) for c in native.columns]
    return list(frame(native).collect_schema().names())


def has(native: Any, *names: str) -> bool:
    """True when every column in ``names`` is present in the frame (optional contract columns)."""
    cols = set(columns(native))
    return all(n in cols for n in names)


def as_of_end(as_of: datetime | str) -> datetime:
    """The first instant *after* the ``as_of`` day (midnight of the next day, time-zone naive UTC)."""
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return (ts.normalize() + pd.Timedelta(days=1)).to_pydatetime()


def up_to(f: nw.LazyFrame, as_of: datetime | str | None, col: str = "ts") -> nw.LazyFrame:
    """The as-of convention: facts dated on the ``as_of`` day or earlier count (``None``: all)."""
    if as_of is None:
        return f
    return f.filter(nw.col(col) < as_of_end(as_of))


def ints(f: nw.LazyFrame, names: Sequence[str]) -> nw.LazyFrame:
    """Counts that are sums back to Int64 (DuckDB sums BIGINT to HUGEINT, which pandas gets as float)."""
    return f.with_columns(*[nw.col(c).cast(nw.Int64) for c in names])


def to_pandas(native: Any) -> pd.DataFrame:
    """Collect any narwhals-compatible frame into pandas."""
    if isinstance(native, pd.DataFrame):
        return native
    f = nw.from_native(native)
    if isinstance(f, nw.LazyFrame):
        f = f.collect(backend="pandas")
    return f.to_pandas()


def stage_index(col: str = "stage") -> nw.Expr:
    """Lifecycle stage name -> index 0-10 (-1 for anything else) as one CASE expression.

    A chained when/then is a plain ``CASE`` on every SQL engine; narwhals' ``replace_strict``
    becomes a per-row map lookup on DuckDB, noticeably slower at 100 million rows.
    """
    c = nw.col(col)
    expr = nw.when(c == STAGES[0]).then(nw.lit(0))
    for i, s in enumerate(STAGES[1:], start=1):
        expr = expr.when(c == s).then(nw.lit(i))
    return expr.otherwise(nw.lit(-1)).cast(nw.Int64)
