"""Customer segmentation: RFM scores and named segments, behavioural clusters, status, response.

The heavy part of RFM (one pass over the raw order table) is written with `narwhals`, so the
same code runs on a pandas DataFrame, a DuckDB relation or any other narwhals backend; only
the per-customer table (one row per customer) is scored in pandas.

Conventions (stated once, used everywhere)
------------------------------------------
* ``as_of`` is a calendar day; orders on that whole day count, later orders are ignored
  (their number is reported in ``result.attrs["rfm_handling"]``).
* ``recency_days`` = days from the (day of the) customer's last purchase to ``as_of``.
* ``frequency`` = number of purchases: orders (``purchase_unit="order"``, default) or distinct
  purchase days (``purchase_unit="day"``, the convention of PyMC-Marketing's ``rfm_summary``,
  where orders on one day are one purchase).
* ``monetary_total`` = sum of order amounts; ``monetary_mean`` = ``monetary_total / frequency``.
* Scores run 1..``n_bins``; higher is better for all three (recent, frequent, valuable).

Examples
--------
>>> import pandas as pd
>>> from cjlab.segments import rfm
>>> orders = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": ["a", "a", "b"],
...     "ts": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"]), "amount": [10.0, 30.0, 5.0]})
>>> out = rfm(orders, "2025-03-31", n_bins=2, rules=[{"segment": "All buyers"}])
>>> out[["customer_id", "recency_days", "frequency", "monetary_total", "monetary_mean"]].to_dict("list")
{'customer_id': ['a', 'b'], 'recency_days': [30, 58], 'frequency': [2, 1], 'monetary_total': [40.0, 5.0], 'monetary_mean': [20.0, 5.0]}
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_RFM_RULES",
    "RFMInputError",
    "RuleTableError",
    "assign_segments",
    "check_rules",
    "jenks_breaks",
    "rfm",
    "rfm_aggregate",
    "rules_table",
    "score",
]


class RFMInputError(ValueError):
    """Orders that cannot be summarised (negative amounts, orders before first_seen ...)."""


class RuleTableError(ValueError):
    """A segment rule table that leaves score combinations uncovered or covers some twice."""


# --------------------------------------------------------------------------------------------
# Named segment rules
# --------------------------------------------------------------------------------------------

#: Default named segments on the R x F grid (scores 1..5, M unrestricted). Each rule gives
#: inclusive score ranges ``"lo-hi"`` (or a single score); a missing key means "any score".
#: Every (r, f, m) combination falls in exactly one rule (checked by :func:`check_rules`).
#:
#:
#: R \\ F   1               2                    3                    4                5
#: 5       New customers   Potential loyalists  Potential loyalists  Champions        Champions
#: 4       Promising       Potential loyalists  Potential loyalists  Loyal            Loyal
#: 3       About to sleep  About to sleep       Need attention       Loyal            Loyal
#: 2       Hibernating     Hibernating          At risk              At risk          Can't lose them
#: 1       Lost            Lost                 At risk              At risk          Can't lose them
DEFAULT_RFM_RULES: list[dict[str, Any]] = [
    {"segment": "Champions", "r": "5", "f": "4-5"},
    {"segment": "Loyal", "r": "3-4", "f": "4-5"},
    {"segment": "Potential loyalists", "r": "4-5", "f": "2-3"},
    {"segment": "New customers", "r": "5", "f": "1"},
    {"segment": "Promising", "r": "4", "f": "1"},
    {"segment": "Need attention", "r": "3", "f": "3"},
    {"segment": "About to sleep", "r": "3", "f": "1-2"},
    {"segment": "At risk", "r": "1-2", "f": "3-4"},
    {"segment": "Can't lose them", "r": "1-2", "f": "5"},
    {"segment": "Hibernating", "r": "2", "f": "1-2"},
    {"segment": "Lost", "r": "1", "f": "1-2"},
]


def _parse_range(value: Any, n_bins: int, rule: str, key: str) -> tuple[int, int]:
    if value is None or (isinstance(value, str) and value.strip() in ("", "*", "any")):
        return 1, n_bins
    if isinstance(value, bool):
        raise RuleTableError(f"rule {rule!r}: {key} = {value!r} is not a score range")
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        lo, hi = value
    else:
        parts = str(value).replace("–", "-").split("-")
        if len(parts) == 1:
            lo = hi = parts[0]
        elif len(parts) == 2:
            lo, hi = parts
        else:
            raise RuleTableError(f"rule {rule!r}: cannot read {key} = {value!r}; use e.g. '4-5' or 3")
    try:
        lo_i, hi_i = int(str(lo).strip()), int(str(hi).strip())
    except ValueError as err:
        raise RuleTableError(f"rule {rule!r}: cannot read {key} = {value!r}; use e.g. '4-5' or 3") from err
    if not 1 <= lo_i <= hi_i <= n_bins:
        raise RuleTableError(f"rule {rule!r}: {key} = {value!r} is outside 1..{n_bins} or reversed")
    return lo_i, hi_i


def rules_table(rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
                n_bins: int = 5) -> pd.DataFrame:
    """The rule table as a readable DataFrame with inclusive ``*_min``/``*_max`` score bounds.

    Parameters
    ----------
    rules : list of mappings with keys ``segment`` and optional ``r``, ``f``, ``m``
        (``"lo-hi"``, an int, ``[lo, hi]`` or missing for "any"), or a DataFrame with those
        columns or with ``r_min ... m_max`` columns. ``None`` uses :data:`DEFAULT_RFM_RULES`.
    n_bins : scores run 1..n_bins.

    Returns
    -------
    DataFrame with columns segment, r_min, r_max, f_min, f_max, m_min, m_max (rule order kept).
    """
    if rules is None:
        rules = DEFAULT_RFM_RULES
    if isinstance(rules, pd.DataFrame):
        if {"r_min", "r_max"}.issubset(rules.columns):
            out = rules.copy()
            for k in "rfm":
                out[f"{k}_min"] = out.get(f"{k}_min", 1)
                out[f"{k}_max"] = out.get(f"{k}_max", n_bins)
            return out[["segment", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"]].reset_index(drop=True)
        rules = rules.to_dict("records")
    rows = []
    for i, rule in enumerate(rules):
        if "segment" not in rule or not str(rule["segment"]).strip():
            raise RuleTableError(f"rule #{i + 1} has no segment name: {dict(rule)!r}")
        name = str(rule["segment"])
        unknown = set(rule) - {"segment", "r", "f", "m", "description"}
        if unknown:
            raise RuleTableError(f"rule {name!r}: unknown keys {sorted(unknown)} (use r, f, m)")
        row: dict[str, Any] = {"segment": name}
        for k in "rfm":
            v = rule.get(k)
            if isinstance(v, float) and np.isnan(v):
                v = None
            row[f"{k}_min"], row[f"{k}_max"] = _parse_range(v, n_bins, name, k)
        rows.append(row)
    if not rows:
        raise RuleTableError("the rule table is empty")
    return pd.DataFrame(rows)


def _grid(n_bins: int) -> pd.DataFrame:
    s = np.arange(1, n_bins + 1)
    r, f, m = np.meshgrid(s, s, s, indexing="ij")
    return pd.DataFrame({"r_score": r.ravel(), "f_score": f.ravel(), "m_score": m.ravel()})


def _match_matrix(scores: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    r = scores["r_score"].to_numpy()[:, None]
    f = scores["f_score"].to_numpy()[:, None]
    m = scores["m_score"].to_numpy()[:, None]
    t = {c: table[c].to_numpy()[None, :] for c in table.columns if c != "segment"}
    return ((r >= t["r_min"]) & (r <= t["r_max"]) & (f >= t["f_min"]) & (f <= t["f_max"])
            & (m >= t["m_min"]) & (m <= t["m_max"]))


def check_rules(rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None, n_bins: int = 5,
                allow_gaps: bool = False) -> pd.DataFrame:
    """Check that every (r, f, m) score combination is covered by exactly one rule.

    Parameters
    ----------
    rules : see :func:`rules_table`.
    n_bins : scores run 1..n_bins.
    allow_gaps : accept uncovered combinations (they go to a fill segment such as "Other").

    Returns
    -------
    The normalised rule table with a ``cells`` column (how many score combinations it covers).

    Raises
    ------
    RuleTableError naming the overlapping rules and the uncovered combinations (a few examples).
    """
    table = rules_table(rules, n_bins)
    grid = _grid(n_bins)
    hits = _match_matrix(grid, table)
    n_hits = hits.sum(axis=1)
    problems = []
    over = np.flatnonzero(n_hits > 1)
    if over.size:
        ex = []
        for i in over[:5]:
            segs = table["segment"].to_numpy()[hits[i]]
            g = grid.iloc[i]
            ex.append(f"r={g.r_score} f={g.f_score} m={g.m_score} -> {', '.join(segs)}")
        problems.append(f"{over.size} score combinations match more than one rule, e.g. " + "; ".join(ex))
    gaps = np.flatnonzero(n_hits == 0)
    if gaps.size and not allow_gaps:
        ex = [f"r={g.r_score} f={g.f_score} m={g.m_score}" for g in grid.iloc[gaps[:5]].itertuples()]
        problems.append(f"{gaps.size} score combinations match no rule, e.g. " + "; ".join(ex))
    if problems:
        raise RuleTableError("segment rule table: " + " | ".join(problems))
    out = table.copy()
    out["cells"] = hits.sum(axis=0)
    return out


def assign_segments(scores: pd.DataFrame, rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
                    n_bins: int = 5, fill: str | None = None) -> pd.Series:
    """Name each row's segment from its ``r_score``, ``f_score`` and ``m_score``.

    The rule table must cover every score combination exactly once (checked first), unless a
    ``fill`` segment name is given, in which case uncovered rows get ``fill`` (overlaps are
    still an error).
    """
    table = check_rules(rules, n_bins, allow_gaps=fill is not None)
    # the rules are evaluated once per score combination, customers look their cell up
    grid = _grid(n_bins)
    hits = _match_matrix(grid, table.drop(columns="cells"))
    cell_names = np.where(hits.any(axis=1), table["segment"].to_numpy(dtype=object)[hits.argmax(axis=1)], fill)
    r, f, m = (scores[c].to_numpy(dtype=np.int64) for c in ("r_score", "f_score", "m_score"))
    bad = (r < 1) | (r > n_bins) | (f < 1) | (f > n_bins) | (m < 1) | (m > n_bins)
    if bad.any():
        raise RuleTableError(f"{int(bad.sum())} rows have scores outside 1..{n_bins}")
    idx = ((r - 1) * n_bins + (f - 1)) * n_bins + (m - 1)
    return pd.Series(cell_names[idx], index=scores.index, name="segment")


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

def jenks_breaks(values: Any, n_classes: int, max_points: int = 400) -> np.ndarray:
    """Fisher–Jenks natural breaks: the ``n_classes - 1`` inner class limits.

    Minimises the total within-class sum of squared deviations exactly (dynamic programming)
    over the distinct values, weighted by their counts. When there are more than
    ``max_points`` distinct values, they are first pooled into ``max_points`` quantile groups
    (each represented by its weighted mean), which makes the breaks approximate but keeps the
    cost at ``O(n_classes * max_points**2)``.

    Returns
    -------
    array of inner limits ``b``: class ``j`` holds values ``b[j-1] < x <= b[j]``.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("jenks_breaks: no finite values")
    u, w = np.unique(x, return_counts=True)
    w = w.astype(float)
    if u.size > max_points:
        grp = np.minimum((np.cumsum(w) - w / 2) / w.sum() * max_points, max_points - 1).astype(int)
        ws = np.bincount(grp, weights=w)
        keep = ws > 0
        mean = np.bincount(grp, weights=w * u)[keep] / ws[keep]
        upper = pd.Series(u).groupby(grp).max().to_numpy()
        u, w = mean, ws[keep]
    else:
        upper = u
    m = u.size
    k = min(n_classes, m)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cwx = np.concatenate([[0.0], np.cumsum(w * u)])
    cwx2 = np.concatenate([[0.0], np.cumsum(w * u * u)])

    def ssd(lo: np.ndarray, hi: int) -> np.ndarray:  # points lo..hi-1 (0-based, half open)
        sw = cw[hi] - cw[lo]
        sx = cwx[hi] - cwx[lo]
        return cwx2[hi] - cwx2[lo] - sx * sx / sw

    cost = np.full((k + 1, m + 1), np.inf)
    back = np.zeros((k + 1, m + 1), dtype=int)
    cost[0, 0] = 0.0
    for c in range(1, k + 1):
        for hi in range(c, m + 1):
            lo = np.arange(c - 1, hi)
            tot = cost[c - 1, lo] + ssd(lo, hi)
            j = int(np.argmin(tot))
            cost[c, hi] = tot[j]
            back[c, hi] = lo[j]
    cuts = []
    hi = m
    for c in range(k, 0, -1):
        lo = back[c, hi]
        if c > 1:
            cuts.append(upper[lo - 1])
        hi = lo
    return np.array(sorted(cuts), dtype=float)


def score(values: pd.Series | np.ndarray, n_bins: int = 5, method: str = "rank",
          cuts: Sequence[float] | None = None, higher_is_better: bool = True) -> np.ndarray:
    """Score values 1..n_bins (``n_bins`` = best).

    Parameters
    ----------
    values : the measure (recency, frequency or monetary).
    n_bins : number of scores.
    method :
        ``"rank"`` (default) — mid-rank percentile: ``ceil(n_bins * (rank - 0.5) / n)`` with tied
        values sharing their average rank, so equal values always share a score and a value
        held by many customers sits in the middle of the ranks it occupies.
        ``"quantile"`` — ``pandas.qcut`` edges (linear-interpolated quantiles); equal edges
        caused by ties are merged and scores relabelled 1..k (k <= n_bins), the convention of
        PyMC-Marketing's ``rfm_segments``.
        ``"cuts"`` — the given inner cut points (``n_bins - 1`` of them, right-closed bins:
        ``cuts[j-1] < x <= cuts[j]`` gets score ``j + 1`` before reversal).
        ``"jenks"`` — Fisher–Jenks natural breaks (:func:`jenks_breaks`).
    cuts : inner cut points for ``method="cuts"``, in the units of ``values``.
    higher_is_better : False for recency (fewer days since the last purchase is better).

    Returns
    -------
    int array of scores.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=int)
    if method == "rank":
        v = x if higher_is_better else -x
        r = pd.Series(v).rank(method="average").to_numpy()
        return np.clip(np.ceil(n_bins * (r - 0.5) / n), 1, n_bins).astype(int)
    if method == "quantile":
        edges = np.unique(pd.Series(x).quantile(np.linspace(0, 1, n_bins + 1)).to_numpy())
        inner = edges[1:-1]
        k = max(len(edges) - 1, 1)
        s = 1 + np.searchsorted(inner, x, side="left")
        return (s if higher_is_better else k + 1 - s).astype(int)
    if method in ("cuts", "jenks"):
        if method == "jenks":
            inner = jenks_breaks(x, n_bins)
            k = len(inner) + 1
        else:
            if cuts is None or len(cuts) != n_bins - 1:
                raise ValueError(f"score(method='cuts') needs {n_bins - 1} inner cut points, got {cuts!r}")
            inner = np.asarray(cuts, dtype=float)
            if np.any(np.diff(inner) <= 0):
                raise ValueError(f"cut points must increase strictly: {list(cuts)!r}")
            k = n_bins
        s = 1 + np.searchsorted(inner, x, side="left")
        return (s if higher_is_better else k + 1 - s).astype(int)
    raise ValueError(f"unknown scoring method {method!r}; use rank, quantile, cuts or jenks")


# --------------------------------------------------------------------------------------------
# Aggregation (narwhals: pandas, DuckDB, Spark ...)
# --------------------------------------------------------------------------------------------

def _as_day(as_of: Any) -> _dt.datetime:
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize().to_pydatetime()


def _day(frame: Any, col: str) -> Any:
    """Calendar day of a timestamp column: a cheap cast to date on SQL engines, truncation on
    pandas-like frames (where a date cast would leave NumPy)."""
    if frame.implementation.is_pandas_like():
        return nw.col(col).dt.truncate("1d")
    return nw.col(col).cast(nw.Date)


def _count(frame: Any) -> int:
    """Row count of a narwhals frame (eager or lazy)."""
    out = frame.select(nw.len().alias("n"))
    if isinstance(out, nw.LazyFrame):
        out = out.collect()
    return int(out.item(0, "n"))


def _examples(frame: Any, columns: Sequence[str], n: int = 5) -> list[dict[str, Any]]:
    out = frame.select(list(columns)).head(n)
    if isinstance(out, nw.LazyFrame):
        out = out.collect()
    return out.to_pandas().to_dict("records")


def _collect_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()


@dataclass
class InputHandling:
    """What was done with problem rows (reported in notebooks)."""

    counts: dict[str, int] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)

    def add(self, issue: str, n: int, action: str) -> None:
        self.counts[issue] = self.counts.get(issue, 0) + int(n)
        self.actions[issue] = action

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"issue": list(self.counts), "rows": list(self.counts.values()),
                             "action": [self.actions[k] for k in self.counts]})


def rfm_aggregate(orders: Any, as_of: Any = None, *, customers: Any = None,
                  purchase_unit: str = "order", on_bad: str = "raise",
                  customer_col: str = "customer_id", ts_col: str = "ts",
                  amount_col: str = "amount") -> tuple[pd.DataFrame, InputHandling]:
    """Per-customer recency/frequency/monetary from raw orders (the scalable part of :func:`rfm`).

    ``orders`` (and ``customers``) may be any narwhals-supported native frame: pandas, a DuckDB
    relation, Polars, PySpark ... Only the one-row-per-customer result is materialised.

    Parameters
    ----------
    orders : table with ``customer_id``, ``ts``, ``amount``.
    as_of : day of the analysis; default the day of the last order.
    customers : optional ``customers`` table; when given, orders dated before the customer's
        ``first_seen`` day are bad rows.
    purchase_unit : ``"order"`` or ``"day"`` (orders on the same day are one purchase).
    on_bad : ``"raise"`` (default) raises :class:`RFMInputError` for negative amounts or orders
        before first_seen; ``"drop"`` drops them and counts them in the returned handling.

    Returns
    -------
    (DataFrame with customer_id, first_purchase, last_purchase, recency_days, frequency,
    n_orders, monetary_total, monetary_mean; :class:`InputHandling`)
    """
    if purchase_unit not in ("order", "day"):
        raise ValueError(f"purchase_unit must be 'order' or 'day', got {purchase_unit!r}")
    if on_bad not in ("raise", "drop"):
        raise ValueError(f"on_bad must be 'raise' or 'drop', got {on_bad!r}")
    f = nw.from_native(orders)
    missing = [c for c in (customer_col, ts_col, amount_col) if c not in f.columns]
    if missing:
        raise RFMInputError(f"orders: missing column(s) {missing}; have {list(f.columns)}")
    handling = InputHandling()
    if as_of is None:
        mx = f.select(nw.col(ts_col).max())
        mx = mx.collect() if isinstance(mx, nw.LazyFrame) else mx
        as_of = mx.item(0, 0)
    day = _as_day(as_of)
    end = day + _dt.timedelta(days=1)

    f = f.filter(~nw.col(amount_col).is_null() & ~nw.col(ts_col).is_null())
    # one scan for both checks
    chk = f.select((nw.col(ts_col) >= end).cast(nw.Int64).sum().alias("later"),
                   ((nw.col(amount_col) < 0) & (nw.col(ts_col) < end)).cast(nw.Int64).sum().alias("neg"))
    chk = chk.collect() if isinstance(chk, nw.LazyFrame) else chk
    later, n_neg = int(chk.item(0, "later") or 0), int(chk.item(0, "neg") or 0)
    if later:
        handling.add("orders after as_of", later, "ignored (outside the analysis window)")
    f = f.filter(nw.col(ts_col) < end)

    neg = f.filter(nw.col(amount_col) < 0)
    if n_neg:
        if on_bad == "raise":
            ex = _examples(neg, [customer_col, ts_col, amount_col])
            raise RFMInputError(f"orders.{amount_col}: {n_neg} rows with a negative amount (refunds?); "
                                f"examples {ex}. Net them against their orders first, or pass "
                                "on_bad='drop' to drop and count them.")
        handling.add("negative amount", n_neg, "dropped")
        f = f.filter(nw.col(amount_col) >= 0)

    if customers is not None:
        c = nw.from_native(customers)
        if "first_seen" not in c.columns:
            raise RFMInputError("customers: column 'first_seen' is missing")
        c = c.select(nw.col(customer_col), nw.col("first_seen").cast(nw.Datetime()).alias("__first_seen"))
        if isinstance(f, nw.LazyFrame) and not isinstance(c, nw.LazyFrame):
            c = c.lazy()
        j = f.join(c, on=customer_col, how="left")
        early = j.filter(nw.col(ts_col).dt.truncate("1d") < nw.col("__first_seen").dt.truncate("1d"))
        n_early = _count(early)
        if n_early:
            if on_bad == "raise":
                ex = _examples(early, [customer_col, ts_col, "__first_seen"])
                raise RFMInputError(f"orders: {n_early} orders dated before the customer's first_seen; "
                                    f"examples {ex}. Fix first_seen, or pass on_bad='drop' to drop and "
                                    "count them.")
            handling.add("order before first_seen", n_early, "dropped")
            f = j.filter(~(nw.col(ts_col).dt.truncate("1d") < nw.col("__first_seen").dt.truncate("1d"))
                         | nw.col("__first_seen").is_null()).drop("__first_seen")

    f = f.with_columns(_day(f, ts_col).alias("__day"))
    aggs = [nw.col("__day").min().alias("first_purchase"),
            nw.col("__day").max().alias("last_purchase"),
            nw.len().alias("n_orders"),
            nw.col(amount_col).sum().alias("monetary_total")]
    if purchase_unit == "day":  # distinct counting is the costly part: only when asked
        aggs.append(nw.col("__day").n_unique().alias("n_days"))
    g = f.group_by(customer_col).agg(*aggs)
    out = _collect_pandas(g)
    out = out.rename(columns={customer_col: "customer_id"})
    for c in ("first_purchase", "last_purchase"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
    out["recency_days"] = ((pd.Timestamp(day) - out["last_purchase"]).dt.days).astype("int64")
    out["n_orders"] = out["n_orders"].astype("int64")
    out["frequency"] = (out["n_orders"] if purchase_unit == "order" else out["n_days"]).astype("int64")
    # rounded to 1e-9 so that scores do not depend on an engine's summation order
    out["monetary_total"] = out["monetary_total"].astype(float).round(9)
    out["monetary_mean"] = out["monetary_total"] / out["frequency"]
    out = out.sort_values("customer_id", kind="stable").reset_index(drop=True)
    cols = ["customer_id", "first_purchase", "last_purchase", "recency_days", "frequency",
            "n_orders", "monetary_total", "monetary_mean"]
    return out[cols], handling


def rfm(orders: Any, as_of: Any = None, *, customers: Any = None, n_bins: int = 5,
        method: str = "rank", cuts: Mapping[str, Sequence[float]] | None = None,
        monetary: str = "total", purchase_unit: str = "order",
        rules: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None, fill: str | None = None,
        on_bad: str = "raise", engine: str = "auto") -> pd.DataFrame:
    """RFM table: one row per customer with recency, frequency, monetary, scores and segment.

    Parameters
    ----------
    orders : orders table (pandas, DuckDB relation, any narwhals backend) with
        ``customer_id``, ``ts``, ``amount``.
    as_of : analysis day (default: day of the last order). Later orders are ignored.
    customers : optional customers table to check orders against ``first_seen``.
    n_bins : number of scores per measure (5 gives the classic 1..5 scale).
    method : ``"rank"``, ``"quantile"``, ``"cuts"`` or ``"jenks"`` (see :func:`score`).
    cuts : for ``method="cuts"``: ``{"recency_days": [...], "frequency": [...], "monetary": [...]}``
        with ``n_bins - 1`` inner cut points each (recency cuts in days; right-closed bins).
    monetary : ``"total"`` or ``"mean"`` — which monetary measure gives ``m_score``.
    purchase_unit : ``"order"`` or ``"day"`` (see module docstring).
    rules : named-segment rule table (default :data:`DEFAULT_RFM_RULES`); must cover every
        score combination exactly once unless ``fill`` names a catch-all segment.
    on_bad : ``"raise"`` or ``"drop"`` for negative amounts / orders before first_seen.
    engine : ``"native"`` runs the aggregation on the backend of ``orders``; ``"duckdb"``
        hands a pandas input to an in-memory DuckDB first (about twice as fast for millions of
        rows); ``"auto"`` (default) does that for pandas inputs over a million rows.

    Returns
    -------
    DataFrame with customer_id, recency_days, frequency, monetary_total, monetary_mean,
    r_score, f_score, m_score, rfm_score (e.g. "545"), segment, plus first_purchase,
    last_purchase, n_orders. ``attrs["rfm_handling"]`` lists counted input handling and
    ``attrs["as_of"]`` the analysis day.
    """
    if monetary not in ("total", "mean"):
        raise ValueError(f"monetary must be 'total' or 'mean', got {monetary!r}")
    native = orders
    con = None
    if engine == "auto":
        engine = "duckdb" if isinstance(orders, pd.DataFrame) and len(orders) > 1_000_000 else "native"
    if engine == "duckdb" and isinstance(orders, pd.DataFrame):
        import duckdb

        con = duckdb.connect()
        native = con.from_df(orders)
        if customers is not None and isinstance(customers, pd.DataFrame):
            customers = con.from_df(customers)
    elif engine not in ("native", "duckdb"):
        raise ValueError(f"engine must be 'auto', 'native' or 'duckdb', got {engine!r}")
    try:
        agg, handling = rfm_aggregate(native, as_of, customers=customers,
                                      purchase_unit=purchase_unit, on_bad=on_bad)
    finally:
        if con is not None:
            con.close()
    cuts = dict(cuts or {})
    mcol = "monetary_total" if monetary == "total" else "monetary_mean"

    def _s(col: str, key: str, hib: bool) -> np.ndarray:
        c = cuts.get(key, cuts.get(col)) if method == "cuts" else None
        if method == "cuts" and c is None:
            raise ValueError(f"method='cuts' needs cut points for {key!r}")
        return score(agg[col], n_bins, method, c, higher_is_better=hib)

    agg["r_score"] = _s("recency_days", "recency_days", False)
    agg["f_score"] = _s("frequency", "frequency", True)
    agg["m_score"] = _s(mcol, "monetary", True)
    if n_bins < 10:  # one digit per score: "545"
        code = agg["r_score"] * 100 + agg["f_score"] * 10 + agg["m_score"]
        lookup = {int(c): f"{c:03d}" for c in np.unique(code)}
        agg["rfm_score"] = code.map(lookup)
    else:
        agg["rfm_score"] = (agg["r_score"].astype(str) + "-" + agg["f_score"].astype(str) + "-"
                            + agg["m_score"].astype(str))
    agg["segment"] = assign_segments(agg, rules, n_bins, fill=fill).to_numpy()
    cols = ["customer_id", "recency_days", "frequency", "monetary_total", "monetary_mean",
            "r_score", "f_score", "m_score", "rfm_score", "segment", "first_purchase",
            "last_purchase", "n_orders"]
    out = agg[cols]
    out.attrs["rfm_handling"] = handling.to_frame().to_dict("records")
    out.attrs["as_of"] = str(pd.Timestamp(_as_day(as_of)).date()) if as_of is not None else \
        str(pd.Timestamp(agg["last_purchase"].max()).date()) if len(agg) else None
    return out


def segment_summary(table: pd.DataFrame, segment_col: str = "segment",
                    value_col: str = "monetary_total") -> pd.DataFrame:
    """Size and value per segment: customers, share, revenue, revenue share, mean R/F/M.

    Parameters
    ----------
    table : output of :func:`rfm` (or any table with a segment and a value column).

    Returns
    -------
    One row per segment, largest revenue first.
    """
    g = table.groupby(segment_col, observed=True)
    out = pd.DataFrame({
        "customers": g.size(),
        "revenue": g[value_col].sum(),
    })
    for c in ("recency_days", "frequency", "monetary_mean"):
        if c in table.columns:
            out[f"mean_{c}"] = g[c].mean()
    out["customer_share"] = out["customers"] / out["customers"].sum()
    tot = out["revenue"].sum()
    out["revenue_share"] = out["revenue"] / tot if tot else np.nan
    out = out.sort_values("revenue", ascending=False).reset_index()
    return out


# --------------------------------------------------------------------------------------------
# Behavioural features and segments
# --------------------------------------------------------------------------------------------

HOLIDAY_MONTHS = (11, 12)
#: Touchpoints that every subscriber receives (not the customer's own choice of channel).
PASSIVE_TOUCHPOINTS = ("newsletter_open",)
#: Features describing where a customer is in the lifecycle rather than how they behave;
#: left out of clustering by default (they mostly separate buyers from prospects).
LIFECYCLE_FEATURES = ("touches", "stage_reached", "orders", "support_tickets")


def _shares(df: pd.DataFrame, key: str, col: str, prefix: str, values: Sequence[str] | None = None) -> pd.DataFrame:
    ct = pd.crosstab(df[key], df[col].astype(str))
    if values is not None:
        ct = ct.reindex(columns=list(values), fill_value=0)
    sh = ct.div(ct.sum(axis=1).replace(0, np.nan), axis=0)
    return sh.add_prefix(prefix)


def customer_features(tables: Mapping[str, pd.DataFrame], as_of: Any = None, *,
                      include_survey: bool = False, min_share: float = 0.01) -> pd.DataFrame:
    """Behavioural features per customer from all contract tables (one row per customer).

    Features (those whose inputs are missing are left out):

    * touchpoints: ``device_<d>`` and ``channel_<c>`` shares of the customer's touches (channels
      with < ``min_share`` of all touches are pooled away), ``touches`` (log1p count),
      ``stage_reached`` (index of the furthest lifecycle stage), ``support_tickets`` (count);
    * orders: ``orders`` (log1p count), ``spend_mean`` (log1p mean amount), ``promo_share``,
      ``discount_share`` (discount / (amount + discount)), ``holiday_share`` (orders in
      November/December), ``birthday_share`` (orders within 14 days of the birthday, needs
      ``customers.birth_date``), ``order_<channel>`` shares;
    * survey (``include_survey``): mean touchpoint rating and NPS of the latest response
      (NaN where the customer did not answer).

    Customers without orders get 0 for counts; their order shares and means are NaN (unknown),
    which :class:`BehaviouralSegments` imputes at the buyers' average.

    Returns
    -------
    DataFrame indexed by customer_id.
    """
    cust = tables.get("customers")
    tp = tables.get("touchpoints")
    od = tables.get("orders")
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else None
    if as_of_ts is not None:
        tp = tp[tp["ts"] <= as_of_ts] if tp is not None else None
        od = od[od["ts"] <= as_of_ts] if od is not None else None
    parts = []
    ids = pd.Index([], name="customer_id")
    if cust is not None:
        ids = ids.union(pd.Index(cust["customer_id"].unique()))
    if tp is not None and len(tp):
        ids = ids.union(pd.Index(tp["customer_id"].unique()))
        if "device" in tp.columns:
            parts.append(_shares(tp.dropna(subset=["device"]), "customer_id", "device", "device_"))
        # channel mix of the customer's own choices: touches before the first order (or all,
        # for non-buyers), without opens of newsletters every subscriber receives
        pre = tp
        if od is not None and len(od):
            first = od.groupby("customer_id")["ts"].min()
            fo = pre["customer_id"].map(first)
            pre = pre[fo.isna() | (pre["ts"] < fo)]
        if "touchpoint" in pre.columns:
            pre = pre[~pre["touchpoint"].isin(PASSIVE_TOUCHPOINTS)]
        ch_share = pre["channel"].value_counts(normalize=True)
        keep = ch_share.index[ch_share >= min_share]
        parts.append(_shares(pre[pre["channel"].isin(keep)], "customer_id", "channel", "channel_"))
        g = tp.groupby("customer_id")
        f = pd.DataFrame({"touches": np.log1p(g.size())})
        from cjlab.data.contract import STAGES

        f["stage_reached"] = tp["stage"].map({s: i for i, s in enumerate(STAGES)}).groupby(tp["customer_id"]).max()
        if "touchpoint" in tp.columns:
            f["support_tickets"] = (tp["touchpoint"] == "support_ticket").groupby(tp["customer_id"]).sum()
        parts.append(f)
    if od is not None and len(od):
        ids = ids.union(pd.Index(od["customer_id"].unique()))
        g = od.groupby("customer_id")
        f = pd.DataFrame({"orders": np.log1p(g.size()), "spend_mean": np.log1p(g["amount"].mean())})
        if "promo" in od.columns:
            f["promo_share"] = g["promo"].mean()
        if "discount" in od.columns:
            tot = g["amount"].sum() + g["discount"].sum()
            f["discount_share"] = g["discount"].sum() / tot.replace(0, np.nan)
        f["holiday_share"] = od["ts"].dt.month.isin(HOLIDAY_MONTHS).groupby(od["customer_id"]).mean()
        if cust is not None and "birth_date" in cust.columns:
            bd = od["customer_id"].map(cust.set_index("customer_id")["birth_date"])
            ok = bd.notna()
            doy_o = od["ts"].dt.dayofyear
            doy_b = pd.to_datetime(bd).dt.dayofyear
            dist = (doy_o - doy_b).abs()
            near = ok & (np.minimum(dist, 365 - dist) <= 14)
            f["birthday_share"] = near.groupby(od["customer_id"]).mean()
        if "channel" in od.columns:
            parts.append(_shares(od.dropna(subset=["channel"]), "customer_id", "channel", "order_"))
        parts.append(f)
    if include_survey and tables.get("survey_responses") is not None:
        sv = tables["survey_responses"].dropna(subset=["customer_id"])
        rcols = [c for c in sv.columns if c.startswith("rating_")]
        if len(sv) and rcols:
            last = sv.sort_values("wave").groupby("customer_id").tail(1).set_index("customer_id")
            f = pd.DataFrame({"survey_rating": last[rcols].astype(float).mean(axis=1)})
            if "nps" in last.columns:
                f["survey_nps"] = last["nps"].astype(float)
            parts.append(f)
    out = pd.DataFrame(index=ids)
    for p in parts:
        out = out.join(p, how="left")
    # counts are 0 when absent; shares and means of orders stay NaN for non-buyers (unknown,
    # not zero) so that clustering does not just split buyers from prospects
    zero = [c for c in ("touches", "orders", "support_tickets") if c in out.columns]
    out = out.astype(float)
    out[zero] = out[zero].fillna(0.0)
    touch_shares = [c for c in out.columns if c.startswith(("device_", "channel_"))]
    out[touch_shares] = out[touch_shares].fillna(0.0)
    out.index.name = "customer_id"
    return out


#: Words used in generated segment descriptions: feature -> (word when high, word when low).
DESCRIPTORS: dict[str, tuple[str | None, str | None]] = {
    "device_mobile": ("mobile", None), "device_app": ("app users", None),
    "device_desktop": ("desktop", None), "device_offline": ("offline", None),
    "channel_paid_search": ("search-led", None), "channel_social": ("social media", None),
    "channel_display": ("display ads", None), "channel_email": ("e-mail engaged", None),
    "channel_app": ("app users", None), "channel_web": ("web", None), "channel_store": ("store", None),
    "orders": ("frequent buyers", "rare purchases"), "spend_mean": ("high spend", "low spend"),
    "promo_share": ("promotion-driven", "few promotions"), "discount_share": ("discount-seeking", None),
    "holiday_share": ("seasonal", None), "birthday_share": ("birthday buyers", None),
    "order_store": ("store", None), "order_phone": ("phone", None), "order_online": ("online", None),
    "stage_reached": ("deep in the lifecycle", "early-stage prospects"),
    "support_tickets": ("support-heavy", None), "touches": ("highly engaged", "few touches"),
    "survey_rating": ("satisfied", "dissatisfied"), "survey_nps": ("promoters", "detractors"),
}


def describe_profiles(profiles: pd.DataFrame, n_words: int = 4, threshold: float = 0.4) -> pd.Series:
    """Short descriptions ("mobile, promotion-driven, seasonal") from standardised profiles.

    For each segment, the features whose standardised mean is furthest from 0 (at least
    ``threshold`` SD) are turned into words with :data:`DESCRIPTORS`, strongest first.
    """
    out = {}
    for seg, row in profiles.iterrows():
        words: list[str] = []
        for feat in row.abs().sort_values(ascending=False).index:
            z = row[feat]
            if abs(z) < threshold or len(words) >= n_words:
                break
            hi, lo = DESCRIPTORS.get(feat, (f"high {feat.replace('_', ' ')}", f"low {feat.replace('_', ' ')}"))
            w = hi if z > 0 else lo
            if w and w not in words:
                words.append(w)
        out[seg] = ", ".join(words) if words else "average on every feature"
    return pd.Series(out, name="description")


def profiles(features: pd.DataFrame, labels: Any) -> pd.DataFrame:
    """Standardised means per segment: (segment mean - overall mean) / overall SD."""
    mu, sd = features.mean(), features.std(ddof=0).replace(0, np.nan)
    z = (features - mu) / sd
    return z.groupby(np.asarray(labels)).mean().fillna(0.0)


class BehaviouralSegments:
    """Behavioural segments with k chosen by several criteria (silhouette, BIC, stability).

    Parameters
    ----------
    k_range : candidate numbers of segments.
    method : ``"kmeans"`` or ``"gmm"`` (Gaussian mixture, diagonal covariances) for the final
        segments; both are always fitted for the selection table.
    k : force the number of segments (the selection table is still computed).
    n_boot : bootstrap resamples for stability (mean adjusted Rand index between the
        clustering of a resample, applied to all customers, and the full-data clustering).
    sample : customers used to compare k (silhouette, BIC and the bootstrap fits run on a random
        subsample of this size; the final segments are fitted on everyone).
    exclude : features left out of the clustering (default :data:`LIFECYCLE_FEATURES`); they
        still appear in the profiles.
    max_missing_gmm : the Gaussian mixture uses only features missing (imputed) for at most
        this share of customers; KMeans uses all.
    random_state : seed.

    Attributes
    ----------
    selection_ : DataFrame k, silhouette (KMeans), bic (GMM), stability (KMeans) and which k
        each criterion picks.
    choices_ : dict criterion -> k; ``agree_`` whether they all agree.
    k_ : the number of segments used (majority of the criteria; ties -> the most stable).
    labels_ : Series customer_id -> segment number (segments sorted by size, 0 = largest).
    profiles_ : standardised means per segment; ``descriptions_`` short texts; ``sizes_``.
    scaler_, model_ : the fitted StandardScaler and clustering model.
    """

    def __init__(self, k_range: Sequence[int] = range(2, 8), method: str = "kmeans", k: int | None = None,
                 n_boot: int = 5, sample: int = 4000, exclude: Sequence[str] = LIFECYCLE_FEATURES,
                 max_missing_gmm: float = 0.2, random_state: int = 0):
        self.max_missing_gmm = max_missing_gmm
        self.k_range = k_range
        self.method = method
        self.k = k
        self.n_boot = n_boot
        self.sample = sample
        self.exclude = exclude
        self.random_state = random_state

    def _fit_one(self, X: np.ndarray, k: int, method: str, seed: int):
        from sklearn.cluster import KMeans
        from sklearn.mixture import GaussianMixture

        if method == "kmeans":
            return KMeans(n_clusters=k, n_init=3, max_iter=100, random_state=seed).fit(X)
        if method == "gmm":
            return GaussianMixture(n_components=k, covariance_type="diag", n_init=1, reg_covar=0.05,
                                   max_iter=100, random_state=seed).fit(X[:, self._gmm_idx])
        raise ValueError(f"method must be 'kmeans' or 'gmm', got {method!r}")

    def fit(self, features: pd.DataFrame) -> BehaviouralSegments:
        """Scale the features, compare k by all criteria, fit the final segments."""
        from sklearn.metrics import adjusted_rand_score, silhouette_score
        from sklearn.preprocessing import StandardScaler

        all_feats = features.astype(float)
        missing = all_feats.isna().mean()
        all_feats = all_feats.fillna(all_feats.mean()).fillna(0.0)
        use = [c for c in all_feats.columns if c not in set(self.exclude) and all_feats[c].std(ddof=0) > 0]
        if not use:
            raise ValueError("no varying features left to cluster on")
        feats = all_feats[use]
        # a mixture model turns the spike of imputed values into a component of its own:
        # it only sees features known for (nearly) everyone
        self.gmm_features_ = [c for c in use if missing[c] <= self.max_missing_gmm] or use
        self._gmm_idx = np.array([use.index(c) for c in self.gmm_features_])
        self.features_ = feats
        self.scaler_ = StandardScaler().fit(feats.to_numpy(float))
        X_all = self.scaler_.transform(feats.to_numpy(float))
        rng = np.random.default_rng(self.random_state)
        n_all = len(X_all)
        X = X_all[rng.choice(n_all, size=min(self.sample, n_all), replace=False)]
        n = len(X)
        rows = []
        ks = [k for k in self.k_range if 2 <= k < n]
        for k in ks:
            km = self._fit_one(X, k, "kmeans", self.random_state)
            gm = self._fit_one(X, k, "gmm", self.random_state)
            sil = silhouette_score(X, km.labels_)
            stab = []
            for b in range(self.n_boot):
                idx = rng.choice(n, size=n, replace=True)
                kb = self._fit_one(X[idx], k, "kmeans", self.random_state + b + 1)
                stab.append(adjusted_rand_score(km.labels_, kb.predict(X)))
            rows.append({"k": k, "silhouette": sil, "bic": gm.bic(X[:, self._gmm_idx]),
                         "stability": float(np.mean(stab)) if stab else np.nan,
                         "stability_min": float(np.min(stab)) if stab else np.nan})
        sel = pd.DataFrame(rows)
        choices = {"silhouette": int(sel.loc[sel["silhouette"].idxmax(), "k"]),
                   "bic": int(sel.loc[sel["bic"].idxmin(), "k"])}
        if self.n_boot:
            # most clusters among the k whose stability is within 0.02 of the best (stable, finer)
            best = sel["stability"].max()
            choices["stability"] = int(sel.loc[sel["stability"] >= best - 0.02, "k"].max())
        for crit, kk in choices.items():
            sel[f"chosen_by_{crit}"] = sel["k"] == kk
        self.selection_ = sel
        self.choices_ = choices
        self.agree_ = len(set(choices.values())) == 1
        if self.k is not None:
            self.k_ = int(self.k)
        else:
            votes = pd.Series(list(choices.values())).value_counts()
            top = votes[votes == votes.max()].index
            st = sel.set_index("k")["stability"] if self.n_boot else sel.set_index("k")["silhouette"]
            self.k_ = int(max(top, key=lambda kk: st.get(kk, -np.inf)))
        self.model_ = self._fit_one(X_all, self.k_, self.method, self.random_state)
        raw = self.model_.predict(X_all if self.method == "kmeans" else X_all[:, self._gmm_idx])
        order = pd.Series(raw).value_counts().index  # 0 = largest segment
        relabel = {old: new for new, old in enumerate(order)}
        self.labels_ = pd.Series([relabel[v] for v in raw], index=feats.index, name="segment")
        self.sizes_ = self.labels_.value_counts().sort_index()
        self.profiles_ = profiles(all_feats, self.labels_.to_numpy())
        self.descriptions_ = describe_profiles(self.profiles_)
        return self

    def disagreement(self) -> str:
        """One sentence on whether the criteria agree on k (for the report)."""
        parts = ", ".join(f"{c} → {k}" for c, k in self.choices_.items())
        if self.agree_:
            return f"All criteria choose k = {self.k_} ({parts})."
        return f"The criteria disagree ({parts}); k = {self.k_} is used (majority, ties to the most stable)."

    def summary(self, value: pd.Series | None = None) -> pd.DataFrame:
        """Segments with size, share, description (and revenue share when ``value`` is given)."""
        out = pd.DataFrame({"segment": self.sizes_.index, "customers": self.sizes_.to_numpy()})
        out["share"] = out["customers"] / out["customers"].sum()
        out["description"] = out["segment"].map(self.descriptions_)
        if value is not None:
            v = value.reindex(self.labels_.index).fillna(0).groupby(self.labels_).sum()
            out["revenue_share"] = out["segment"].map(v / v.sum())
        return out


def plot_profiles(profile: pd.DataFrame, ax=None, descriptions: pd.Series | None = None,
                  max_features: int = 18, title: str = "Segment profiles (standardised means)"):
    """Heat-map of standardised means (segments x features), diverging around 0."""
    import seaborn as sns

    from cjlab.plotting import new_axes

    cols = profile.abs().max().sort_values(ascending=False).index[:max_features]
    p = profile[cols]
    if descriptions is not None:
        p = p.rename(index=lambda s: f"{s}: {descriptions.get(s, '')}"[:48])
    ax = new_axes(ax, figsize=(min(1.0 + 0.55 * len(cols), 14), 1.2 + 0.55 * len(p)))
    lim = min(max(1.0, float(np.nanmax(np.abs(p.to_numpy())))), 2.0)  # colours saturate at 2 SD
    with warnings.catch_warnings():  # seaborn's own use of a matplotlib API being deprecated
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(p, cmap="RdBu_r", center=0, vmin=-lim, vmax=lim, annot=True, fmt=".1f",
                    annot_kws={"size": 7}, cbar_kws={"label": "SD from average"}, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=45)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    return ax


# --------------------------------------------------------------------------------------------
# Customer status
# --------------------------------------------------------------------------------------------

#: Status rules (days), applied in the order of :data:`STATUS_ORDER`.
DEFAULT_STATUS_RULES: dict[str, float] = {"new_days": 90, "active_days": 180, "churn_days": 365,
                                          "return_gap_days": 180}
STATUS_ORDER = ("churned", "new", "returning", "active", "at risk", "prospect")


def customer_status(orders: pd.DataFrame, customers: pd.DataFrame | None = None, as_of: Any = None,
                    rules: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Customer status as of a day, by explicit rules (first matching rule wins).

    1. **churned** — membership cancelled on or before ``as_of`` (``customers.cancelled_at``),
       or buyers whose last order is more than ``churn_days`` ago;
    2. **new** — first order within the last ``new_days``;
    3. **returning** — last order within ``active_days`` and the gap before it longer than
       ``return_gap_days`` (came back after a pause);
    4. **active** — last order within ``active_days``;
    5. **at risk** — last order between ``active_days`` and ``churn_days`` ago;
    6. **prospect** — known customer (in ``customers``) without any order yet.

    Returns
    -------
    DataFrame customer_id, status, first_order, last_order, previous_gap_days, recency_days.
    """
    r = {**DEFAULT_STATUS_RULES, **dict(rules or {})}
    unknown = set(r) - set(DEFAULT_STATUS_RULES)
    if unknown:
        raise ValueError(f"unknown status rules {sorted(unknown)}; use {sorted(DEFAULT_STATUS_RULES)}")
    day = pd.Timestamp(_as_day(as_of if as_of is not None else orders["ts"].max()))
    o = orders[orders["ts"] < day + pd.Timedelta(days=1)].sort_values(["customer_id", "ts"])
    g = o.groupby("customer_id")["ts"]
    last = g.max()
    prev = o.groupby("customer_id")["ts"].apply(lambda s: s.iloc[-2] if len(s) > 1 else pd.NaT)
    df = pd.DataFrame({"first_order": g.min(), "last_order": last, "previous_order": prev})
    if customers is not None:
        df = df.reindex(df.index.union(pd.Index(customers["customer_id"].unique())))
    df.index.name = "customer_id"
    recency = (day - df["last_order"].dt.normalize()).dt.days
    since_first = (day - df["first_order"].dt.normalize()).dt.days
    gap = (df["last_order"] - df["previous_order"]).dt.total_seconds() / 86400
    cancelled = pd.Series(False, index=df.index)
    if customers is not None and "cancelled_at" in customers.columns:
        c = pd.to_datetime(customers.set_index("customer_id")["cancelled_at"]).reindex(df.index)
        cancelled = c.notna() & (c <= day)
    has = df["last_order"].notna()
    conds = [
        cancelled | (has & (recency > r["churn_days"])),
        has & (since_first <= r["new_days"]),
        has & (recency <= r["active_days"]) & (gap > r["return_gap_days"]),
        has & (recency <= r["active_days"]),
        has & (recency > r["active_days"]),
        ~has,
    ]
    status = np.select(conds, list(STATUS_ORDER), default="prospect")
    out = pd.DataFrame({"status": status, "first_order": df["first_order"], "last_order": df["last_order"],
                        "previous_gap_days": gap, "recency_days": recency}, index=df.index)
    out.attrs["rules"] = r
    return out.reset_index()


# --------------------------------------------------------------------------------------------
# Response and lift
# --------------------------------------------------------------------------------------------

def _season(ts: pd.Series) -> pd.Series:
    m = ts.dt.month
    return pd.Series(np.select([m.isin([12, 1, 2]), m.isin([3, 4, 5]), m.isin([6, 7, 8])],
                               ["winter", "spring", "summer"], "autumn"), index=ts.index)


def response_table(touchpoints: pd.DataFrame, orders: pd.DataFrame, by: str = "campaign",
                   segments: pd.Series | pd.DataFrame | None = None, window_days: float = 7.0,
                   min_customers: int = 30) -> pd.DataFrame:
    """Who responds to what: response rate and lift per value of ``by`` and segment.

    A customer *responds* to a value of ``by`` (a campaign, a channel, a device, or the derived
    ``"season"``/``"weekday"`` of the touch) when they place an order within ``window_days``
    after any touch with that value. Lift = the segment's response rate / the response rate of
    all customers exposed to that value (1 = responds like everyone else).

    Parameters
    ----------
    segments : Series (index customer_id) or DataFrame (customer_id, segment) of segment labels;
        None gives one row per value.
    min_customers : rows with fewer exposed customers are dropped (rates too noisy).

    Returns
    -------
    DataFrame <by>, segment, exposed, responders, response_rate, overall_rate, lift.
    """
    tp = touchpoints.copy()
    if by == "season":
        tp["season"] = _season(tp["ts"])
    elif by == "weekday":
        tp["weekday"] = tp["ts"].dt.day_name()
    if by not in tp.columns:
        raise ValueError(f"touchpoints has no column {by!r}")
    tp = tp.dropna(subset=[by])[["customer_id", "ts", by]].sort_values("ts")
    od = orders[["customer_id", "ts"]].rename(columns={"ts": "order_ts"}).sort_values("order_ts")
    m = pd.merge_asof(tp, od, left_on="ts", right_on="order_ts", by="customer_id", direction="forward")
    m["resp"] = (m["order_ts"] - m["ts"]).dt.total_seconds() <= window_days * 86400
    per = m.groupby(["customer_id", by], observed=True)["resp"].max().reset_index()
    if segments is None:
        per["segment"] = "all"
    else:
        seg = segments if isinstance(segments, pd.Series) else segments.set_index("customer_id")["segment"]
        per["segment"] = per["customer_id"].map(seg).fillna("(none)")
    overall = per.groupby(by, observed=True)["resp"].mean().rename("overall_rate")
    g = per.groupby([by, "segment"], observed=True)["resp"]
    out = pd.DataFrame({"exposed": g.size(), "responders": g.sum()}).reset_index()
    out["response_rate"] = out["responders"] / out["exposed"]
    out = out.merge(overall.reset_index(), on=by)
    out["lift"] = out["response_rate"] / out["overall_rate"].replace(0, np.nan)
    out = out[out["exposed"] >= min_customers]
    return out.sort_values([by, "lift"], ascending=[True, False]).reset_index(drop=True)


def lift_matrix(table: pd.DataFrame, by: str, top: int | None = 12) -> pd.DataFrame:
    """Pivot of :func:`response_table`: segments (rows) x values of ``by`` (columns) of lift."""
    t = table
    if top is not None:
        keep = t.groupby(by)["exposed"].sum().nlargest(top).index
        t = t[t[by].isin(keep)]
    return t.pivot_table(index="segment", columns=by, values="lift", observed=True)


# --------------------------------------------------------------------------------------------
# The whole analysis for the segmentation notebook
# --------------------------------------------------------------------------------------------

@dataclass
class SegmentAnalysis:
    """Everything notebooks/04_segmentation.ipynb shows (see :func:`analyse_segments`)."""

    as_of: str
    rfm: pd.DataFrame
    rfm_summary: pd.DataFrame
    rules: pd.DataFrame
    handling: pd.DataFrame
    features: pd.DataFrame
    behaviour: BehaviouralSegments
    behaviour_summary: pd.DataFrame
    status: pd.DataFrame
    status_summary: pd.DataFrame
    response: dict[str, pd.DataFrame]
    cross: pd.DataFrame
    recovery: dict[str, Any] = field(default_factory=dict)

    def headline_title(self) -> str:
        s = self.rfm_summary
        top = s.head(2)
        share = float(top["revenue_share"].sum())
        cust = float(top["customer_share"].sum())
        return (f"{' and '.join(top['segment'])} — {cust:.0%} of buyers — bring {share:.0%} of revenue")


def analyse_segments(tables: Mapping[str, pd.DataFrame], truth: Mapping[str, Any] | None = None,
                     customer_truth: pd.DataFrame | None = None, *, as_of: Any = None,
                     rfm_method: str = "rank", rfm_bins: int = 5, rfm_monetary: str = "total",
                     rfm_rules: Any = None, k_range: Sequence[int] = range(2, 8),
                     cluster_method: str = "kmeans", n_boot: int = 5, sample: int = 4000,
                     status_rules: Mapping[str, float] | None = None,
                     response_by: Sequence[str] = ("channel", "device", "season"),
                     response_window_days: float = 7.0, on_bad: str = "drop",
                     random_state: int = 0) -> SegmentAnalysis:
    """RFM, behavioural segments, status and response for one data set.

    ``tables`` holds the contract tables (orders required; customers, touchpoints and survey
    responses used when present). ``as_of`` defaults to the demo's observation end or the last
    order. Bad orders (negative amounts, before first_seen) are dropped and counted
    (``on_bad="drop"``) or raise (``"raise"``).
    """
    orders = tables["orders"]
    customers = tables.get("customers")
    tp = tables.get("touchpoints")
    if as_of in (None, ""):
        as_of = (truth or {}).get("observation_end") or orders["ts"].max()
    day = pd.Timestamp(_as_day(as_of))
    rules = rfm_rules or None
    table = rfm(orders, day, customers=customers, n_bins=rfm_bins, method=rfm_method,
                monetary=rfm_monetary, rules=rules, on_bad=on_bad)
    handling = pd.DataFrame(table.attrs.get("rfm_handling", []), columns=["issue", "rows", "action"])
    summary = segment_summary(table)
    rule_tab = check_rules(rules, rfm_bins)
    feats = customer_features(tables, as_of=day)
    beh = BehaviouralSegments(k_range=k_range, method=cluster_method, n_boot=n_boot, sample=sample,
                              random_state=random_state).fit(feats)
    revenue = table.set_index("customer_id")["monetary_total"]
    beh_sum = beh.summary(revenue)
    status = customer_status(orders, customers, day, status_rules)
    st_sum = status["status"].value_counts().reindex(list(STATUS_ORDER), fill_value=0).rename("customers").reset_index()
    st_sum["share"] = st_sum["customers"] / st_sum["customers"].sum()
    resp: dict[str, pd.DataFrame] = {}
    if tp is not None and len(tp):
        labels = beh.labels_.map(lambda k: f"{k}: {beh.descriptions_.get(k, '')}")
        for by in ([response_by] if isinstance(response_by, str) else response_by):
            resp[by] = response_table(tp, orders, by, labels, window_days=response_window_days)
    cross = pd.crosstab(table.set_index("customer_id")["segment"],
                        beh.labels_.reindex(table["customer_id"]).to_numpy(), normalize="index")
    recovery: dict[str, Any] = {}
    if customer_truth is not None and "segment" in customer_truth.columns:
        from sklearn.metrics import adjusted_rand_score

        t = customer_truth.set_index("customer_id")["segment"].reindex(beh.labels_.index)
        ok = t.notna()
        recovery["ari"] = float(adjusted_rand_score(t[ok], beh.labels_[ok]))
        recovery["planted"] = list(pd.unique(t[ok]))
        recovery["crosstab"] = pd.crosstab(t[ok], beh.labels_[ok])
    return SegmentAnalysis(str(day.date()), table, summary, rule_tab, handling, feats, beh, beh_sum, status,
                           st_sum, resp, cross, recovery)


def analyse_source(data_source: str = "demo", **params: Any) -> SegmentAnalysis:
    """:func:`analyse_segments` on a cjlab data source (``"demo"``, a folder, a .duckdb file)."""
    from cjlab.data import open_source

    src = open_source(data_source)
    want = ("customers", "orders", "touchpoints", "survey_responses")
    tables = src.load(*[t for t in want if t in src.tables])
    customer_truth = None
    if src.truth is not None:
        customer_truth = _demo_customer_truth(data_source)
    return analyse_segments(tables, src.truth, customer_truth, **params)


def _demo_customer_truth(data_source: str) -> pd.DataFrame | None:
    """The planted latent segment per customer of a demo source (regenerated, deterministic)."""
    try:
        from cjlab.data.source import parse_demo_spec
        from cjlab.data.synth import generate
    except ImportError:  # pragma: no cover
        return None
    if not str(data_source).startswith("demo"):
        return None
    return generate(**parse_demo_spec(str(data_source))).customer_truth[["customer_id", "segment"]]
