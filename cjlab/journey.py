"""Journey analytics: paths, attribution, stage funnels, Sankey flows and the journey map.

Attribution
-----------
Paths are one row per distinct channel sequence: ``path`` (channels joined by ``" > "``),
``conversions`` (journeys on that path that converted) and ``null`` (journeys that did not).

*Markov-chain attribution* (:func:`markov_attribution`, :class:`MarkovAttribution`) estimates a
Markov chain with a ``start`` state, one transient state per channel (per tuple of the last
``order`` channels for higher orders) and two absorbing states, ``conversion`` and ``null``,
from the transition counts of the paths. With ``Q`` the transient-to-transient and ``r`` the
transient-to-conversion transition probabilities, the probability of converting from each
transient state is ``x = N r`` with the fundamental matrix ``N = (I - Q)^-1`` (computed by
solving ``(I - Q) x = r``, exactly, no simulation). The *removal effect* of a channel ``c`` is

    RE_c = 1 - P(conversion | c removed) / P(conversion),

where removing ``c`` sends every transition into a state that contains ``c`` to ``null``.
**Credit rule:** the observed conversions are shared out in proportion to the removal effects,
``credit_c = total_conversions * RE_c / sum_k RE_k`` (removal effects themselves do not add up
to one because of channel interactions).

Heuristic models (:func:`heuristic_attribution`): first touch, last touch, linear (equal share
per touch) and position-based (40 % first, 40 % last, 20 % shared by the middle touches; a
one-touch path gives its touch 100 %, a two-touch path 50/50).

Examples
--------
>>> import pandas as pd
>>> from cjlab.journey import markov_attribution
>>> paths = pd.DataFrame({"path": ["a > b", "b", "a"], "conversions": [30, 20, 0], "null": [10, 20, 20]})
>>> markov_attribution(paths).round(3)[["channel", "removal_effect", "conversions"]].to_dict("list")
{'channel': ['b', 'a'], 'removal_effect': [1.0, 0.5], 'conversions': [33.333, 16.667]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES

__all__ = [
    "SEP",
    "JourneyInputError",
    "MarkovAttribution",
    "attribution_table",
    "clean_paths",
    "heuristic_attribution",
    "markov_attribution",
]

SEP = " > "
START, CONV, NULL = "(start)", "(conversion)", "(null)"


class JourneyInputError(ValueError):
    """Journey data that cannot be analysed as given (empty path steps, unknown stages ...)."""


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------

@dataclass
class PathHandling:
    """Counted handling of problem paths (shown in reports)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, issue: str, n: int) -> None:
        if n:
            self.counts[issue] = self.counts.get(issue, 0) + int(n)


def clean_paths(paths: pd.DataFrame, on_empty: str = "raise", collapse_repeats: bool = False,
                sep: str = SEP) -> tuple[pd.DataFrame, PathHandling]:
    """Validate and normalise a paths table; split each path into its steps.

    Parameters
    ----------
    paths : DataFrame with ``path``, ``conversions``, ``null``.
    on_empty : what to do with empty steps (``"a >  > b"``) or empty paths:
        ``"raise"`` (default) raises :class:`JourneyInputError` naming the rows;
        ``"drop"`` removes the empty steps (and paths left empty) and counts them.
    collapse_repeats : merge consecutive repeats (``a > a > b`` -> ``a > b``).

    Returns
    -------
    (DataFrame with path, steps (tuple), conversions, null, journeys — duplicate paths summed;
    :class:`PathHandling`)
    """
    missing = [c for c in ("path", "conversions", "null") if c not in paths.columns]
    if missing:
        raise JourneyInputError(f"paths: missing column(s) {missing}; expected path, conversions, null")
    handling = PathHandling()
    conv = pd.to_numeric(paths["conversions"], errors="coerce")
    null = pd.to_numeric(paths["null"], errors="coerce")
    bad = conv.isna() | null.isna() | (conv < 0) | (null < 0)
    if bad.any():
        ex = paths.loc[bad].head(5).to_dict("records")
        raise JourneyInputError(f"paths: {int(bad.sum())} rows with missing or negative conversions/null "
                                f"counts, e.g. {ex}")
    text = paths["path"].astype("string").fillna("")
    steps = [tuple(s.strip() for s in p.split(sep.strip())) if p.strip() else () for p in text]
    n_empty_steps = sum(sum(1 for s in st if not s) for st in steps)
    n_empty_paths = sum(1 for st in steps if not any(st))
    if (n_empty_steps or n_empty_paths) and on_empty == "raise":
        rows = [i for i, st in enumerate(steps) if not st or not all(st)][:5]
        raise JourneyInputError(
            f"paths: {n_empty_steps} empty steps and {n_empty_paths} empty paths, e.g. rows {rows}: "
            f"{[str(text.iloc[i]) for i in rows]!r}. Fix the data or pass on_empty='drop' to drop "
            "and count them.")
    if on_empty not in ("raise", "drop"):
        raise ValueError(f"on_empty must be 'raise' or 'drop', got {on_empty!r}")
    steps = [tuple(s for s in st if s) for st in steps]
    handling.add("empty steps dropped", n_empty_steps)
    if collapse_repeats:
        steps = [tuple(s for i, s in enumerate(st) if i == 0 or s != st[i - 1]) for st in steps]
    out = pd.DataFrame({"steps": steps, "conversions": conv.to_numpy(float), "null": null.to_numpy(float)})
    keep = out["steps"].map(len) > 0
    handling.add("empty paths dropped (journeys)", int((out.loc[~keep, "conversions"]
                                                        + out.loc[~keep, "null"]).sum()))
    out = out[keep]
    out = out.groupby("steps", sort=False, as_index=False)[["conversions", "null"]].sum()
    out.insert(0, "path", out["steps"].map(SEP.join))
    out["journeys"] = out["conversions"] + out["null"]
    out = out[out["journeys"] > 0].reset_index(drop=True)
    if out.empty:
        raise JourneyInputError("paths: no journeys left to analyse")
    return out, handling


# --------------------------------------------------------------------------------------------
# Heuristic attribution
# --------------------------------------------------------------------------------------------

def _touch_weights(n: int, model: str, position: tuple[float, float, float]) -> np.ndarray:
    if model == "first":
        w = np.zeros(n)
        w[0] = 1
    elif model == "last":
        w = np.zeros(n)
        w[-1] = 1
    elif model == "linear":
        w = np.full(n, 1 / n)
    elif model in ("position", "position_based"):
        first, middle, last = position
        if n == 1:
            w = np.ones(1)
        elif n == 2:
            w = np.array([0.5, 0.5])
        else:
            w = np.full(n, middle / (n - 2))
            w[0], w[-1] = first, last
    else:
        raise ValueError(f"unknown attribution model {model!r}; use first, last, linear, position")
    return w


def heuristic_attribution(paths: pd.DataFrame, model: str = "last",
                          position: tuple[float, float, float] = (0.4, 0.2, 0.4),
                          on_empty: str = "raise") -> pd.DataFrame:
    """Rule-based attribution of the conversions of each path to its touches.

    Parameters
    ----------
    paths : path, conversions, null.
    model : ``"first"``, ``"last"``, ``"linear"`` or ``"position"`` (position-based, weights
        ``position`` = (first, middle total, last)).

    Returns
    -------
    DataFrame channel, conversions (credited, summing to the total conversions), share.
    """
    if abs(sum(position) - 1) > 1e-9:
        raise ValueError(f"position weights must sum to 1, got {position}")
    p, _ = clean_paths(paths, on_empty=on_empty)
    credit: dict[str, float] = {}
    for steps, conv in zip(p["steps"], p["conversions"]):
        if conv == 0:
            continue
        for ch, wt in zip(steps, _touch_weights(len(steps), model, position)):
            credit[ch] = credit.get(ch, 0.0) + conv * wt
    channels = sorted({c for st in p["steps"] for c in st})
    out = pd.DataFrame({"channel": channels, "conversions": [credit.get(c, 0.0) for c in channels]})
    tot = out["conversions"].sum()
    out["share"] = out["conversions"] / tot if tot else np.nan
    return out.sort_values(["conversions", "channel"], ascending=[False, True]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Markov-chain attribution
# --------------------------------------------------------------------------------------------

class MarkovAttribution:
    """Markov-chain attribution with exact removal effects (absorbing-chain algebra).

    Parameters
    ----------
    order : Markov order; a state is the tuple of the last ``order`` channels (the first
        states of a path hold the shorter prefixes).
    n_boot : bootstrap resamples for intervals (0 = none). Journeys are resampled with
        replacement (multinomial over the path x outcome cells), the chain re-estimated and
        the removal effects and credit recomputed exactly.
    ci : interval coverage (percentile intervals).
    collapse_repeats : merge consecutive repeats of a channel before fitting.
    on_empty : ``"raise"`` or ``"drop"`` for empty path steps (see :func:`clean_paths`).
    seed : random seed for the bootstrap.

    Attributes
    ----------
    states_ : list of transient state labels (``"(start)"`` first).
    transition_matrix_ : DataFrame of transition probabilities (transient + absorbing states).
    conversion_probability_ : P(conversion) from the start state.
    removal_effects_ : Series channel -> removal effect.
    result_ : DataFrame channel, removal_effect, conversions (credited), share [, *_low, *_high].
    handling_ : :class:`PathHandling` of the input.

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({"path": ["a > b", "b"], "conversions": [1, 1], "null": [1, 1]})
    >>> m = MarkovAttribution().fit(paths)
    >>> round(m.conversion_probability_, 3)
    0.5
    """

    def __init__(self, order: int = 1, n_boot: int = 0, ci: float = 0.9, collapse_repeats: bool = False,
                 on_empty: str = "raise", seed: int = 0):
        self.order = order
        self.n_boot = n_boot
        self.ci = ci
        self.collapse_repeats = collapse_repeats
        self.on_empty = on_empty
        self.seed = seed

    # -- structure ---------------------------------------------------------------------------
    def _structure(self, p: pd.DataFrame) -> None:
        k = int(self.order)
        if k < 1:
            raise ValueError(f"order must be >= 1, got {self.order}")
        index: dict[Any, int] = {START: 0}
        inner_rows, inner_cols, inner_path = [], [], []
        last_state = np.zeros(len(p), dtype=int)
        for j, steps in enumerate(p["steps"]):
            prev = 0
            for i in range(len(steps)):
                st = tuple(steps[max(0, i - k + 1): i + 1])
                s = index.setdefault(st, len(index))
                inner_rows.append(prev)
                inner_cols.append(s)
                inner_path.append(j)
                prev = s
            last_state[j] = prev
        self._index = index
        self._n = len(index)
        self._inner = (np.array(inner_rows), np.array(inner_cols), np.array(inner_path))
        self._last = last_state
        self.channels_ = sorted({c for st in p["steps"] for c in st})
        labels = [START] + [SEP.join(s) for s in list(index)[1:]]
        self.states_ = labels
        # which transient states contain each channel
        self._contains = {c: np.array([i for st, i in index.items() if st != START and c in st])
                          for c in self.channels_}

    def _counts(self, conv: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self._n
        rows, cols, path = self._inner
        w = (conv + null)[path]
        T = np.zeros((n, n))
        np.add.at(T, (rows, cols), w)
        to_conv = np.bincount(self._last, weights=conv, minlength=n).astype(float)
        to_null = np.bincount(self._last, weights=null, minlength=n).astype(float)
        return T, to_conv, to_null

    @staticmethod
    def _solve(T: np.ndarray, to_conv: np.ndarray, to_null: np.ndarray,
               removed: np.ndarray | None = None) -> float:
        out = T.sum(axis=1) + to_conv + to_null
        with np.errstate(invalid="ignore", divide="ignore"):
            Q = np.where(out[:, None] > 0, T / out[:, None], 0.0)
            r = np.where(out > 0, to_conv / out, 0.0)
        if removed is not None and removed.size:
            # removing a state sends all traffic into it to null: it converts with probability 0
            Q[removed, :] = 0.0
            r[removed] = 0.0
        n = len(r)
        # x = N r with N = (I - Q)^-1, the fundamental matrix of the absorbing chain
        try:
            x = np.linalg.solve(np.eye(n) - Q, r)
        except np.linalg.LinAlgError:  # pragma: no cover - a closed loop without exit
            x = np.linalg.lstsq(np.eye(n) - Q, r, rcond=None)[0]
        return float(x[0])

    def _effects(self, conv: np.ndarray, null: np.ndarray) -> tuple[float, np.ndarray]:
        T, tc, tn = self._counts(conv, null)
        base = self._solve(T, tc, tn)
        re = np.array([1 - self._solve(T, tc, tn, self._contains[c]) / base if base > 0 else np.nan
                       for c in self.channels_])
        return base, re

    @staticmethod
    def _credit(re: np.ndarray, total: float) -> np.ndarray:
        s = np.nansum(re)
        return total * re / s if s > 0 else np.full_like(re, np.nan)

    # -- API ---------------------------------------------------------------------------------
    def fit(self, paths: pd.DataFrame) -> MarkovAttribution:
        """Estimate the chain from ``paths`` and compute removal effects and credit."""
        p, self.handling_ = clean_paths(paths, on_empty=self.on_empty,
                                        collapse_repeats=self.collapse_repeats)
        self.paths_ = p
        self._structure(p)
        conv, null = p["conversions"].to_numpy(float), p["null"].to_numpy(float)
        T, tc, tn = self._counts(conv, null)
        out = T.sum(axis=1) + tc + tn
        labels = [*self.states_, CONV, NULL]
        full = np.zeros((self._n + 2, self._n + 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            full[: self._n, : self._n] = np.where(out[:, None] > 0, T / out[:, None], 0.0)
            full[: self._n, self._n] = np.where(out > 0, tc / out, 0.0)
            full[: self._n, self._n + 1] = np.where(out > 0, tn / out, 0.0)
        full[self._n, self._n] = full[self._n + 1, self._n + 1] = 1.0
        self.transition_matrix_ = pd.DataFrame(full, index=labels, columns=labels)
        base, re = self._effects(conv, null)
        self.conversion_probability_ = base
        self.total_conversions_ = float(conv.sum())
        self.removal_effects_ = pd.Series(re, index=self.channels_, name="removal_effect")
        res = pd.DataFrame({"channel": self.channels_, "removal_effect": re,
                            "conversions": self._credit(re, self.total_conversions_)})
        res["share"] = res["conversions"] / self.total_conversions_ if self.total_conversions_ else np.nan
        if self.n_boot:
            res = self._bootstrap(res, conv, null)
        self.result_ = res.sort_values(["conversions", "channel"], ascending=[False, True]).reset_index(drop=True)
        return self

    def _bootstrap(self, res: pd.DataFrame, conv: np.ndarray, null: np.ndarray) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed)
        cells = np.concatenate([conv, null])
        total = int(np.rint(cells.sum()))
        probs = cells / cells.sum()
        m = len(conv)
        re_b = np.empty((self.n_boot, len(self.channels_)))
        cr_b = np.empty_like(re_b)
        for b in range(self.n_boot):
            draw = rng.multinomial(total, probs).astype(float)
            c_b, n_b = draw[:m], draw[m:]
            _, re = self._effects(c_b, n_b)
            re_b[b] = re
            cr_b[b] = self._credit(re, c_b.sum())
        a = (1 - self.ci) / 2
        res["removal_effect_low"], res["removal_effect_high"] = np.nanquantile(re_b, [a, 1 - a], axis=0)
        res["conversions_low"], res["conversions_high"] = np.nanquantile(cr_b, [a, 1 - a], axis=0)
        self.bootstrap_removal_effects_ = pd.DataFrame(re_b, columns=self.channels_)
        self.bootstrap_conversions_ = pd.DataFrame(cr_b, columns=self.channels_)
        return res

    def conversion_probability_without(self, channels: Iterable[str]) -> float:
        """P(conversion) from start when all states containing any of ``channels`` are removed."""
        conv, null = self.paths_["conversions"].to_numpy(float), self.paths_["null"].to_numpy(float)
        T, tc, tn = self._counts(conv, null)
        removed = np.unique(np.concatenate([self._contains[c] for c in channels] or [np.array([], int)]))
        return self._solve(T, tc, tn, removed.astype(int))


def markov_attribution(paths: pd.DataFrame, order: int = 1, n_boot: int = 0, ci: float = 0.9,
                       collapse_repeats: bool = False, on_empty: str = "raise",
                       seed: int = 0) -> pd.DataFrame:
    """Markov-chain attribution: one row per channel with removal_effect and credited conversions.

    See :class:`MarkovAttribution` for the parameters and the module docstring for the exact
    computation and the credit rule (conversions shared in proportion to removal effects).

    Returns
    -------
    DataFrame channel, removal_effect, conversions, share (+ ``*_low``/``*_high`` bootstrap
    percentile bounds when ``n_boot > 0``), most credited channel first.
    """
    return MarkovAttribution(order=order, n_boot=n_boot, ci=ci, collapse_repeats=collapse_repeats,
                             on_empty=on_empty, seed=seed).fit(paths).result_


def attribution_table(paths: pd.DataFrame, models: Sequence[str] = ("first", "last", "linear", "position", "markov"),
                      order: int = 1, on_empty: str = "raise") -> pd.DataFrame:
    """Credited conversions per channel (rows) and model (columns), side by side."""
    cols = {}
    for m in models:
        if m == "markov":
            r = markov_attribution(paths, order=order, on_empty=on_empty)
        else:
            r = heuristic_attribution(paths, m, on_empty=on_empty)
        cols[m] = r.set_index("channel")["conversions"]
    out = pd.DataFrame(cols).fillna(0.0)
    sort_by = "markov" if "markov" in out.columns else out.columns[0]
    return out.sort_values(sort_by, ascending=False).rename_axis("channel").reset_index()


# --------------------------------------------------------------------------------------------
# Input checks shared by the stage functions
# --------------------------------------------------------------------------------------------

def check_stages(touchpoints: pd.DataFrame, stage_col: str = "stage", on_unknown: str = "raise",
                 stages: Sequence[str] = STAGES) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows whose stage is not one of the lifecycle stages: raise, or drop and count.

    Returns
    -------
    (touchpoints without unknown-stage rows, {"unknown stage": n_rows} when any were dropped)
    """
    if stage_col not in touchpoints.columns:
        raise JourneyInputError(f"touchpoints: column {stage_col!r} is missing")
    st = touchpoints[stage_col]
    bad = ~st.isin(list(stages))
    n_bad = int(bad.sum())
    if not n_bad:
        return touchpoints, {}
    values = st[bad].astype(str).value_counts().head(5).to_dict()
    if on_unknown == "raise":
        raise JourneyInputError(
            f"touchpoints.{stage_col}: {n_bad} rows with an unknown stage, e.g. {values} "
            f"(rows {list(np.flatnonzero(bad.to_numpy())[:5])}); known stages: {', '.join(stages)}. "
            "Map them to a lifecycle stage, or pass on_unknown='drop' to drop and count them.")
    if on_unknown != "drop":
        raise ValueError(f"on_unknown must be 'raise' or 'drop', got {on_unknown!r}")
    return touchpoints[~bad], {"unknown stage": n_bad}


# --------------------------------------------------------------------------------------------
# Paths from the raw tables
# --------------------------------------------------------------------------------------------

def _first_orders(orders: pd.DataFrame | None, as_of: pd.Timestamp | None) -> pd.Series:
    if orders is None or orders.empty:
        return pd.Series(dtype="datetime64[ns]")
    o = orders if as_of is None else orders[orders["ts"] <= as_of]
    return o.groupby("customer_id")["ts"].min()


def customer_sequences(touchpoints: pd.DataFrame, orders: pd.DataFrame | None = None, *,
                       by: str = "channel", outcome: str = "purchase",
                       customers: pd.DataFrame | None = None, channels: Sequence[str] | None = None,
                       exclude_touchpoints: Sequence[str] = (), stages: Sequence[str] | None = None,
                       as_of: Any = None, lookback_days: float | None = None,
                       collapse_repeats: bool = False, max_steps: int | None = None) -> pd.DataFrame:
    """One row per customer: the ordered touch sequence before an outcome, and whether it happened.

    Parameters
    ----------
    touchpoints, orders : contract tables.
    by : column whose values make the steps (``"channel"``, ``"touchpoint"``, ``"stage"``).
    outcome : ``"purchase"`` — touches strictly before the first order (customers without an
        order: all touches up to ``as_of``, outcome 0); ``"churn"`` — touches before
        ``customers.cancelled_at`` (customers without: up to ``as_of``, outcome 0).
    channels, exclude_touchpoints, stages : filters on the touches used.
    lookback_days : only touches within this many days before the outcome (or ``as_of``).
    collapse_repeats : merge consecutive repeats of a step.
    max_steps : keep only the last ``max_steps`` steps (closest to the outcome).

    Returns
    -------
    DataFrame customer_id, steps (tuple), path (joined by " > "), outcome (0/1), end_ts.
    """
    tp = touchpoints
    if channels is not None:
        tp = tp[tp["channel"].isin(list(channels))]
    if exclude_touchpoints:
        tp = tp[~tp["touchpoint"].isin(list(exclude_touchpoints))]
    if stages is not None:
        tp = tp[tp["stage"].isin(list(stages))]
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else tp["ts"].max()
    if outcome == "purchase":
        end = _first_orders(orders, as_of_ts)
    elif outcome == "churn":
        if customers is None or "cancelled_at" not in customers.columns:
            raise JourneyInputError("outcome='churn' needs the customers table with cancelled_at")
        c = customers.dropna(subset=["cancelled_at"])
        end = pd.Series(pd.to_datetime(c["cancelled_at"]).to_numpy(), index=c["customer_id"])
        end = end[end <= as_of_ts]
    else:
        raise ValueError(f"outcome must be 'purchase' or 'churn', got {outcome!r}")
    tp = tp[["customer_id", "ts", by]].copy()
    tp["_end"] = tp["customer_id"].map(end)
    tp["_hit"] = tp["_end"].notna()
    tp["_end"] = tp["_end"].fillna(as_of_ts)
    keep = (tp["ts"] < tp["_end"]) | (~tp["_hit"] & (tp["ts"] <= tp["_end"]))
    if lookback_days is not None:
        keep &= tp["ts"] >= tp["_end"] - pd.Timedelta(days=float(lookback_days))
    tp = tp[keep].sort_values(["customer_id", "ts"], kind="stable")
    tp[by] = tp[by].astype(str)
    if collapse_repeats:
        prev_same = (tp["customer_id"].eq(tp["customer_id"].shift())) & tp[by].eq(tp[by].shift())
        tp = tp[~prev_same]
    if max_steps is not None:
        tp = tp.groupby("customer_id", sort=False).tail(max_steps)
    g = tp.groupby("customer_id", sort=True)
    out = pd.DataFrame({"steps": g[by].agg(tuple), "outcome": g["_hit"].first().astype(int),
                        "end_ts": g["_end"].first()}).reset_index()
    out.insert(2, "path", out["steps"].map(SEP.join))
    return out


def build_paths(touchpoints: pd.DataFrame, orders: pd.DataFrame | None = None, **kwargs: Any) -> pd.DataFrame:
    """Paths table for attribution: path, conversions, null (one row per distinct path).

    Takes the arguments of :func:`customer_sequences` (default: channels before the first
    purchase). Customers without any touch in scope have no path and are not counted.
    """
    seq = customer_sequences(touchpoints, orders, **kwargs)
    seq = seq[seq["steps"].map(len) > 0]
    g = seq.groupby("path", sort=False)["outcome"]
    out = pd.DataFrame({"conversions": g.sum(), "null": g.count() - g.sum()}).reset_index()
    return out.sort_values(["conversions", "null"], ascending=False).reset_index(drop=True)


def top_paths(touchpoints: pd.DataFrame, orders: pd.DataFrame | None = None, n: int = 10,
              outcome: str = "purchase", reached: bool = True, **kwargs: Any) -> pd.DataFrame:
    """The most common sequences before an outcome (``reached=False``: of those without it).

    Defaults: channel sequences, consecutive repeats collapsed, last 6 steps.

    Returns
    -------
    DataFrame path, customers, share (of customers with / without the outcome), steps.
    """
    kwargs.setdefault("collapse_repeats", True)
    kwargs.setdefault("max_steps", 6)
    seq = customer_sequences(touchpoints, orders, outcome=outcome, **kwargs)
    seq = seq[(seq["outcome"] == int(reached)) & (seq["steps"].map(len) > 0)]
    vc = seq["path"].value_counts()
    out = pd.DataFrame({"path": vc.index, "customers": vc.to_numpy()})
    out["share"] = out["customers"] / max(len(seq), 1)
    out["steps"] = out["path"].str.count(SEP.strip()) + 1
    return out.head(n).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Stages and funnels
# --------------------------------------------------------------------------------------------

def stage_progress(touchpoints: pd.DataFrame, on_unknown: str = "raise") -> pd.DataFrame:
    """Per customer: first time at each stage, the furthest stage reached and its index.

    Returns
    -------
    DataFrame customer_id, furthest_stage, furthest_index, first_<stage> (timestamps) ...
    """
    tp, _ = check_stages(touchpoints, on_unknown=on_unknown)
    first = tp.groupby(["customer_id", "stage"], observed=True)["ts"].min().unstack("stage")
    first = first.reindex(columns=[s for s in STAGES if s in first.columns])
    idx = tp["stage"].map({s: i for i, s in enumerate(STAGES)})
    furthest = idx.groupby(tp["customer_id"]).max()
    out = pd.DataFrame({"furthest_index": furthest.astype(int),
                        "furthest_stage": furthest.map(dict(enumerate(STAGES)))})
    out = out.join(first.add_prefix("first_"))
    return out.reset_index()


def stage_durations(progress: pd.DataFrame, percentiles: Sequence[float] = (0.25, 0.5, 0.75, 0.9)) -> pd.DataFrame:
    """Days between reaching consecutive stages (first time at each), over customers with both.

    Returns
    -------
    DataFrame from_stage, to_stage, customers, mean_days, p25_days, p50_days, ...
    """
    rows = []
    cols = [s for s in STAGES if f"first_{s}" in progress.columns]
    for a, b in pairwise(cols):
        d = (progress[f"first_{b}"] - progress[f"first_{a}"]).dt.total_seconds() / 86400
        d = d.dropna()
        d = d[d >= 0]
        row = {"from_stage": a, "to_stage": b, "customers": len(d), "mean_days": d.mean()}
        for q in percentiles:
            row[f"p{round(q * 100)}_days"] = d.quantile(q) if len(d) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class FunnelResult:
    """Output of :func:`funnel`.

    Attributes
    ----------
    table : one row per step (and breakdown group): step, customers, step_conversion,
        overall_conversion, dropoff (customers lost after this step), dropoff_share (of all
        customers lost before the last step), time-to-convert percentiles (days from step 1).
    customer_steps : one row per customer (and breakdown value): ts_<step> of each step reached.
    steps, window_days, breakdown : the definition.
    handling : counted input handling.
    """

    table: pd.DataFrame
    customer_steps: pd.DataFrame
    steps: list[str]
    window_days: float | None
    breakdown: str | None
    handling: dict[str, int] = field(default_factory=dict)

    @property
    def biggest_dropoff(self) -> str:
        """The step after which most customers are lost (overall, not per group)."""
        t = self.table if self.breakdown is None else _funnel_table(self.customer_steps, self.steps, None,
                                                                    (0.5,))
        t = t[t["step"] != self.steps[-1]]
        return str(t.loc[t["dropoff"].idxmax(), "step"])


def _collect(frame: Any) -> pd.DataFrame:
    import narwhals as nw

    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()


def funnel(touchpoints: Any, steps: Sequence[str] = STAGES, *, window_days: float | None = None,
           breakdown: str | None = None, customers: pd.DataFrame | None = None,
           step_col: str = "stage", percentiles: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
           on_unknown: str = "raise") -> FunnelResult:
    """Ordered funnel with a conversion window, as product-analytics tools define it.

    A customer enters at the first time they do step 1. They complete step ``k`` at the first
    time they do step ``k`` at or after completing step ``k-1`` and, when ``window_days`` is
    given, no later than ``window_days`` after entering. Steps done out of order do not count.

    The per-step search runs with narwhals (join, filter, group-by minimum), so ``touchpoints``
    may be a pandas DataFrame or a DuckDB relation; only one row per customer and step is
    materialised.

    Parameters
    ----------
    touchpoints : customer_id, ts and ``step_col`` (plus the breakdown column, if it is a
        touch property).
    steps : ordered step values (default the 11 lifecycle stages).
    window_days : conversion window measured from step 1 (None = unlimited).
    breakdown : a touch column (first-touch breakdown: its value on the customer's step-1
        touch, ties broken by the smallest value) or a column of ``customers``.
    customers : per-customer attributes for a customer-level breakdown (e.g. an RFM segment).
    percentiles : time-to-convert percentiles reported (days from step 1).
    on_unknown : ``"raise"`` or ``"drop"`` for rows whose stage is not a lifecycle stage
        (only checked when ``step_col == "stage"`` and the input is pandas).

    Returns
    -------
    :class:`FunnelResult`.
    """
    import narwhals as nw

    steps = list(steps)
    if len(steps) < 2:
        raise ValueError("a funnel needs at least two steps")
    handling: dict[str, int] = {}
    if isinstance(touchpoints, pd.DataFrame) and step_col == "stage":
        touchpoints, handling = check_stages(touchpoints, on_unknown=on_unknown)
        unknown_steps = [s for s in steps if s not in STAGES]
        if unknown_steps:
            raise JourneyInputError(f"funnel steps {unknown_steps} are not lifecycle stages ({', '.join(STAGES)})")
    f = nw.from_native(touchpoints)
    f = f if isinstance(f, nw.LazyFrame) else f.lazy()
    names = f.collect_schema().names()
    touch_breakdown = breakdown is not None and breakdown in names
    if breakdown is not None and not touch_breakdown and (customers is None or breakdown not in customers.columns):
        raise JourneyInputError(f"breakdown {breakdown!r} is neither a touchpoints column nor a column of "
                                "the customers table passed")
    ev = f.select("customer_id", "ts", step_col, *([breakdown] if touch_breakdown else []))
    step0 = ev.filter(nw.col(step_col) == steps[0])
    state = step0.group_by("customer_id").agg(nw.col("ts").min().alias("t0"))
    per_step = [_collect(state.select("customer_id", nw.col("t0").alias("ts_0")))]
    first_touch = None
    if touch_breakdown:
        ft = (step0.join(state, on="customer_id").filter(nw.col("ts") == nw.col("t0"))
              .group_by("customer_id").agg(nw.col(breakdown).min().alias(breakdown)))
        first_touch = _collect(ft)
    if window_days is not None:  # deadline per customer (offset_by runs on pandas, DuckDB and Spark)
        state = state.with_columns(
            nw.col("t0").dt.offset_by(f"{round(float(window_days) * 86400)}s").alias("t_end"))
    cur = state.with_columns(nw.col("t0").alias("t_prev"))
    for k, s in enumerate(steps[1:], start=1):
        e = ev.filter(nw.col(step_col) == s).select("customer_id", "ts")
        keep = ["customer_id", "t0", "t_prev", *(["t_end"] if window_days is not None else [])]
        j = e.join(cur.select(*keep), on="customer_id").filter(nw.col("ts") >= nw.col("t_prev"))
        if window_days is not None:
            j = j.filter(nw.col("ts") <= nw.col("t_end"))
        nxt = j.group_by("customer_id").agg(nw.col("ts").min().alias("t_prev"))
        cur = nxt.join(state, on="customer_id")
        per_step.append(_collect(nxt.select("customer_id", nw.col("t_prev").alias(f"ts_{k}"))))
    cs = per_step[0]
    for d in per_step[1:]:
        cs = cs.merge(d, on="customer_id", how="left")
    cs = cs.rename(columns={f"ts_{k}": f"ts_{s}" for k, s in enumerate(steps)})
    if breakdown is not None:
        src = first_touch if touch_breakdown else customers[["customer_id", breakdown]]
        cs = cs.merge(src, on="customer_id", how="left")
        cs[breakdown] = cs[breakdown].astype(object).where(cs[breakdown].notna(), "(unknown)")
    cs = cs.sort_values("customer_id").reset_index(drop=True)
    table = _funnel_table(cs, steps, breakdown, percentiles)
    return FunnelResult(table, cs, steps, window_days, breakdown, handling)


def _funnel_table(cs: pd.DataFrame, steps: list[str], breakdown: str | None,
                  percentiles: Sequence[float]) -> pd.DataFrame:
    groups = [(None, cs)] if breakdown is None else list(cs.groupby(breakdown, sort=True))
    rows = []
    for g, d in groups:
        n0 = d[f"ts_{steps[0]}"].notna().sum()
        counts = [int(d[f"ts_{s}"].notna().sum()) for s in steps]
        lost_total = counts[0] - counts[-1]
        for k, s in enumerate(steps):
            row: dict[str, Any] = {} if breakdown is None else {breakdown: g}
            nxt = counts[k + 1] if k + 1 < len(steps) else np.nan
            row.update(step=s, step_index=k, customers=counts[k],
                       step_conversion=counts[k] / counts[k - 1] if k and counts[k - 1] else (1.0 if k == 0 else np.nan),
                       overall_conversion=counts[k] / n0 if n0 else np.nan,
                       dropoff=counts[k] - nxt if k + 1 < len(steps) else np.nan)
            row["dropoff_share"] = row["dropoff"] / lost_total if lost_total and k + 1 < len(steps) else np.nan
            days = (d[f"ts_{s}"] - d[f"ts_{steps[0]}"]).dt.total_seconds().dropna() / 86400
            row["median_days"] = days.median() if len(days) else np.nan
            for q in percentiles:
                row[f"p{round(q * 100)}_days"] = days.quantile(q) if len(days) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Counterfactual (noisy-OR) attribution
# --------------------------------------------------------------------------------------------

def _touch_counts(paths: pd.DataFrame, on_empty: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    p, _ = clean_paths(paths, on_empty=on_empty)
    channels = sorted({c for st in p["steps"] for c in st})
    pos = {c: i for i, c in enumerate(channels)}
    X = np.zeros((len(p), len(channels)))
    for i, st in enumerate(p["steps"]):
        for c in st:
            X[i, pos[c]] += 1
    return X, p["conversions"].to_numpy(float), p["null"].to_numpy(float), channels


def noisy_or_attribution(paths: pd.DataFrame, n_boot: int = 0, ci: float = 0.9, seed: int = 0,
                         on_empty: str = "raise") -> pd.DataFrame:
    """Counterfactual attribution with a fitted noisy-OR conversion model.

    Each touch on channel ``c`` independently converts the journey with probability ``w_c``
    and a journey converts without any touch with probability ``b``:
    ``P(convert) = 1 - (1 - b) * prod_c (1 - w_c) ** n_c`` with ``n_c`` the number of touches
    on ``c``. ``b`` and ``w`` are fitted by maximum likelihood over the journeys. A channel's
    *contribution* is the expected number of conversions lost if its touches were taken out of
    every journey (the rest of the journey kept): ``sum_i P_i - P_i(n_c = 0)``. Unlike the
    Markov removal effect (which ends a journey at the removed channel), this separates a
    channel's effect per touch from how often it is used.

    Returns
    -------
    DataFrame channel, effect (w_c), contribution, share (of the summed contributions)
    [+ bootstrap ``contribution_low``/``contribution_high``], largest contribution first.
    """
    from scipy.optimize import minimize

    X, conv, null, channels = _touch_counts(paths, on_empty)

    def fit(c: np.ndarray, n: np.ndarray) -> np.ndarray:
        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            lq = -np.logaddexp(0, theta)  # log(1 - sigmoid(theta)) = log q
            log_no = lq[0] + X @ lq[1:]
            p_no = np.exp(log_no)
            p_yes = np.clip(-np.expm1(log_no), 1e-300, None)
            val = -(c * np.log(p_yes) + n * log_no).sum()
            # d loglik / d log_no = n - c * p_no / p_yes;  d log_no / d theta_j = -sigmoid * count_j
            s = 1 / (1 + np.exp(-theta))
            dl = n - c * p_no / p_yes
            A = np.column_stack([np.ones(len(X)), X])
            return val, (A * dl[:, None]).sum(axis=0) * s
        theta0 = np.full(X.shape[1] + 1, -3.0)
        res = minimize(nll, theta0, jac=True, method="L-BFGS-B", bounds=[(-15, 15)] * len(theta0))
        return 1 / (1 + np.exp(-res.x))

    def contributions(par: np.ndarray, c: np.ndarray, n: np.ndarray) -> np.ndarray:
        lq = np.log1p(-par)
        log_no = lq[0] + X @ lq[1:]
        p = -np.expm1(log_no)
        w = c + n
        return np.array([(w * (p + np.expm1(log_no - X[:, j] * lq[j + 1]))).sum() for j in range(len(channels))])

    par = fit(conv, null)
    contrib = contributions(par, conv, null)
    out = pd.DataFrame({"channel": channels, "effect": par[1:], "contribution": contrib})
    out["share"] = out["contribution"] / out["contribution"].sum()
    if n_boot:
        rng = np.random.default_rng(seed)
        cells = np.concatenate([conv, null])
        total = int(np.rint(cells.sum()))
        draws = np.empty((n_boot, len(channels)))
        for b in range(n_boot):
            d = rng.multinomial(total, cells / cells.sum()).astype(float)
            c_b, n_b = d[: len(conv)], d[len(conv):]
            draws[b] = contributions(fit(c_b, n_b), c_b, n_b)
        a = (1 - ci) / 2
        out["contribution_low"], out["contribution_high"] = np.quantile(draws, [a, 1 - a], axis=0)
    out.attrs["base"] = float(par[0])
    return out.sort_values("contribution", ascending=False).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Flows (Sankey)
# --------------------------------------------------------------------------------------------

def stage_flows(touchpoints: pd.DataFrame, orders: pd.DataFrame | None = None, *, by: str = "stage",
                max_steps: int = 5, top: int | None = 8, stages: Sequence[str] | None = None,
                channels: Sequence[str] | None = None, exclude_touchpoints: Sequence[str] = (),
                on_unknown: str = "raise") -> pd.DataFrame:
    """Flows between consecutive steps of each customer's journey, for a Sankey diagram.

    ``by="stage"``: each customer's stages in the order first reached (from all touches);
    ``by="channel"`` (or another touch column): the sequence of touches before the first
    purchase with consecutive repeats merged, first ``max_steps`` steps. Every journey ends in
    ``"purchase"`` or ``"no purchase"`` (channel flows) or in its last stage (stage flows).
    Values outside the ``top`` most frequent are pooled as ``"other"``.

    Returns
    -------
    DataFrame source, target, value (customers); nodes are labelled ``"<position>. <value>"``.
    """
    if by == "stage":
        tp, _ = check_stages(touchpoints, on_unknown=on_unknown)
        if stages is not None:
            tp = tp[tp["stage"].isin(list(stages))]
        first = tp.groupby(["customer_id", "stage"], observed=True)["ts"].min().reset_index()
        first["_o"] = first["stage"].map({s: i for i, s in enumerate(STAGES)})
        first = first.sort_values(["customer_id", "ts", "_o"], kind="stable")
        seqs = first.groupby("customer_id", sort=False)["stage"].agg(tuple)
        seqs = seqs.map(lambda s: s[:max_steps])
    else:
        cs = customer_sequences(touchpoints, orders, by=by, channels=channels, stages=stages,
                                exclude_touchpoints=exclude_touchpoints, collapse_repeats=True)
        cs = cs[cs["steps"].map(len) > 0]
        if top is not None:
            freq = pd.Series([c for st in cs["steps"] for c in st]).value_counts()
            keep = set(freq.index[:top])
            cs["steps"] = cs["steps"].map(lambda st: tuple(c if c in keep else "other" for c in st))
        end = np.where(cs["outcome"] == 1, "purchase", "no purchase")
        seqs = pd.Series([(*st[:max_steps], e) for st, e in zip(cs["steps"], end)], index=cs["customer_id"])
    rows: dict[tuple[str, str], int] = {}
    for st in seqs:
        for i in range(len(st) - 1):
            src = f"{i + 1}. {st[i]}"
            tgt = f"{i + 2}. {st[i + 1]}" if not (by != "stage" and i + 1 == len(st) - 1) else st[i + 1]
            rows[(src, tgt)] = rows.get((src, tgt), 0) + 1
    out = pd.DataFrame([(s, t, v) for (s, t), v in rows.items()], columns=["source", "target", "value"])
    return out.sort_values("value", ascending=False).reset_index(drop=True)


def sankey_figure(flows: pd.DataFrame, title: str | None = None, min_value: int = 1):
    """A plotly Sankey of :func:`stage_flows` (one figure; see :func:`figure_html` to embed it)."""
    import plotly.graph_objects as go

    from cjlab.plotting import PALETTE

    f = flows[flows["value"] >= min_value]
    labels = list(dict.fromkeys([*f["source"], *f["target"]]))
    pos = {lab: i for i, lab in enumerate(labels)}

    def colour(lab: str) -> str:
        name = lab.split(". ", 1)[-1]
        if name == "purchase":
            return "#2e7d32"
        if name == "no purchase":
            return "#c62828"
        return PALETTE[abs(hash(name)) % len(PALETTE)]

    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": labels, "pad": 12, "thickness": 14, "color": [colour(x) for x in labels]},
        link={"source": [pos[s] for s in f["source"]], "target": [pos[t] for t in f["target"]],
              "value": f["value"].tolist(), "color": "rgba(120,120,120,0.25)"}))
    fig.update_layout(title=title, height=480, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      font={"size": 11})
    return fig


def figure_html(fig, include_plotlyjs: bool = True) -> str:
    """Self-contained HTML of a plotly figure (plotly.js inlined, no CDN), for reports."""
    return fig.to_html(include_plotlyjs=include_plotlyjs, full_html=False,
                       config={"displaylogo": False, "responsive": True})


# --------------------------------------------------------------------------------------------
# Journey map
# --------------------------------------------------------------------------------------------

def load_actions(spec: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> pd.DataFrame:
    """The analyst-edited action/owner table (``params/journey_actions.yaml``).

    Accepts a path to a YAML file, its parsed content (a mapping with an ``actions`` list or the
    list itself) or None. Each entry has ``stage`` and optionally ``touchpoint`` (empty = the
    whole stage), ``action``, ``owner``, ``due``. Unknown stages are an error.
    """
    cols = ["stage", "touchpoint", "action", "owner", "due"]
    if spec is None:
        return pd.DataFrame(columns=cols)
    if isinstance(spec, str):
        import yaml

        with open(_resolve(spec), encoding="utf-8") as fh:
            spec = yaml.safe_load(fh) or {}
    items = spec.get("actions", []) if isinstance(spec, Mapping) else list(spec)
    df = pd.DataFrame(list(items))
    for c in cols:
        if c not in df.columns:
            df[c] = None
    bad = df[~df["stage"].isin(STAGES)]
    if len(bad):
        raise JourneyInputError(f"journey actions: {len(bad)} entries with an unknown stage "
                                f"{bad['stage'].tolist()[:5]}; use one of {', '.join(STAGES)}")
    df["due"] = df["due"].astype(object).where(df["due"].notna(), None).map(lambda v: None if v is None else str(v))
    return df[cols]


def _rating_rows(survey: pd.DataFrame, touch_keys: pd.DataFrame) -> pd.DataFrame:
    """Mean rating and NPS per rating_<touchpoint> column, matched to (stage, touchpoint) rows."""
    cols = [c for c in survey.columns if c.startswith("rating_")]
    try:  # the survey module's scores (intervals, small-n suppression) when available
        from cjlab.survey import stage_of, touchpoint_scores

        ts = touchpoint_scores(survey, cols) if cols and "nps" in survey.columns else None
    except ImportError:  # pragma: no cover - survey module not installed
        ts, stage_of = None, None
    rows = []
    for c in cols:
        name = c[len("rating_"):]
        match = touch_keys[(touch_keys["touchpoint"] == name)
                           | touch_keys["touchpoint"].str.startswith(name + "_")]
        r = survey[c].dropna().astype(float)
        if ts is not None:
            rec = ts.set_index("column").loc[c]
            mean, nps_v = rec.get("mean_rating", np.nan), rec.get("nps", np.nan)
        else:
            mean = r.mean() if len(r) else np.nan
            s = survey.loc[survey[c].notna(), "nps"].dropna().astype(float) if "nps" in survey.columns else pd.Series(dtype=float)
            nps_v = 100 * ((s >= 9).mean() - (s <= 6).mean()) if len(s) else np.nan
        home = stage_of(c) if stage_of is not None else None
        if len(match):
            # one row per rating: the survey's stage for it when it has that touchpoint,
            # otherwise the matching touchpoint with the most customers
            at_home = match[match["stage"] == home]
            pick = at_home if len(at_home) else match
            st, tp = pick.sort_values("customers", ascending=False)[["stage", "touchpoint"]].iloc[0]
            rows.append({"stage": st, "touchpoint": tp, "rating": mean, "rating_n": len(r), "nps": nps_v})
        elif home in STAGES:
            rows.append({"stage": home, "touchpoint": name, "rating": mean, "rating_n": len(r), "nps": nps_v})
    return pd.DataFrame(rows, columns=["stage", "touchpoint", "rating", "rating_n", "nps"])


def _pain_points(survey: pd.DataFrame, n_themes: int = 6, min_lift: float = 1.2) -> dict[str, str]:
    """Per rating column, the pain-point comment theme most over-represented (lift >= ``min_lift``)
    among the respondents who rated it 1 or 2 (themes from :class:`cjlab.survey.CommentThemes`)."""
    try:
        from cjlab.survey import CommentThemes
    except ImportError:  # pragma: no cover
        return {}
    if "comment" not in survey.columns or survey["comment"].notna().sum() < 30:
        return {}
    com = survey["comment"].dropna()
    try:
        th = CommentThemes(n_themes=n_themes).fit(com, survey.loc[com.index, "nps"] if "nps" in survey.columns else None)
    except ValueError:
        return {}
    labels = th.themes_.set_index("theme")["label"] if "label" in th.themes_.columns else None
    assign = th.assignment_
    base = assign[assign >= 0].value_counts(normalize=True)
    pains = (set(th.themes_.loc[th.themes_["pain_point"].astype(bool), "theme"])
             if "pain_point" in th.themes_.columns else None)
    out = {}
    for c in (c for c in survey.columns if c.startswith("rating_")):
        low = survey.index[(survey[c].astype(float) <= 2).fillna(False)]
        a = assign.reindex(low).dropna()
        a = a[a >= 0]
        if len(a) >= 5:
            # the theme most over-represented among this touchpoint's low raters
            lift = (a.value_counts(normalize=True) / base).dropna()
            if pains is not None:
                lift = lift[lift.index.isin(pains)]
            lift = lift[lift >= min_lift]
            if len(lift):
                top = lift.idxmax()
                out[c[len("rating_"):]] = str(labels.get(top, top)) if labels is not None else str(top)
    return out


def journey_map(touchpoints: pd.DataFrame, survey: pd.DataFrame | None = None,
                actions: pd.DataFrame | None = None, *, pain_points: bool = True,
                min_customers: int = 1, on_unknown: str = "raise") -> pd.DataFrame:
    """The journey map table: stages x touchpoints with volume, conversion, ratings, NPS, actions.

    Columns
    -------
    stage, touchpoint, customers, touches, conversion_next (share of the customers who had
    this touchpoint at this stage and reached the next lifecycle stage afterwards; none for the
    last stage), rating (mean survey rating of the touchpoint, where asked), rating_n, nps (of
    the respondents who rated it), pain_point (top comment theme of low raters, when the survey
    module finds themes), action, owner, due (from the action table; a stage-wide action
    applies to every touchpoint of its stage unless a touchpoint-specific one exists).
    """
    tp, _ = check_stages(touchpoints, on_unknown=on_unknown)
    # each customer's last time at each stage: "reached the next stage after this touch"
    last_at = {st: g.groupby("customer_id")["ts"].max() for st, g in tp.groupby("stage", observed=True)}
    first_at = tp.groupby(["stage", "touchpoint", "customer_id"], observed=True)["ts"].min().reset_index()
    rows = []
    for (stage, touch), g in first_at.groupby(["stage", "touchpoint"], observed=True, sort=False):
        k = STAGES.index(stage)
        conv = np.nan
        if k + 1 < len(STAGES):
            later = last_at.get(STAGES[k + 1], pd.Series(dtype="datetime64[ns]"))
            reached = later.reindex(g["customer_id"]).to_numpy() >= g["ts"].to_numpy()
            conv = float(np.mean(reached))
        rows.append({"stage": stage, "touchpoint": touch, "customers": len(g), "conversion_next": conv})
    touches = tp.groupby(["stage", "touchpoint"], observed=True).size().rename("touches").reset_index()
    out = pd.DataFrame(rows).merge(touches, on=["stage", "touchpoint"])
    out = out[out["customers"] >= min_customers]
    if survey is not None and len(survey):
        rr = _rating_rows(survey, out[["stage", "touchpoint", "customers"]])
        out = out.merge(rr, on=["stage", "touchpoint"], how="outer")
        if pain_points:
            pp = _pain_points(survey)
            out["pain_point"] = [pp.get(str(t)) if pd.notna(r) else None
                                 for t, r in zip(out["touchpoint"], out["rating"])]
            for k, v in pp.items():  # ratings matched to a longer touchpoint name (support -> support_ticket)
                hit = out["touchpoint"].astype(str).str.startswith(k + "_") & out["rating"].notna()
                out.loc[hit & out["pain_point"].isna(), "pain_point"] = v
    for c in ("rating", "rating_n", "nps", "pain_point"):
        if c not in out.columns:
            out[c] = np.nan if c != "pain_point" else None
    act = actions if actions is not None else pd.DataFrame(columns=["stage", "touchpoint", "action", "owner", "due"])
    specific = act[act["touchpoint"].notna() & (act["touchpoint"].astype(str) != "")]
    general = act[~act.index.isin(specific.index)].drop(columns="touchpoint").drop_duplicates("stage")
    out = out.merge(specific, on=["stage", "touchpoint"], how="left")
    out = out.merge(general, on="stage", how="left", suffixes=("", "_stage"))
    for c in ("action", "owner", "due"):
        out[c] = out[c].where(out[c].notna(), out.pop(f"{c}_stage")) if f"{c}_stage" in out.columns else out[c]
    out["_o"] = out["stage"].map({s: i for i, s in enumerate(STAGES)})
    out = out.sort_values(["_o", "customers"], ascending=[True, False]).drop(columns="_o")
    cols = ["stage", "touchpoint", "customers", "touches", "conversion_next", "rating", "rating_n", "nps",
            "pain_point", "action", "owner", "due"]
    return out[cols].reset_index(drop=True)


def stage_emotion(jmap: pd.DataFrame) -> pd.DataFrame:
    """Per stage: customers (max over touchpoints), rating weighted by rating_n, NPS (emotion curve)."""
    rows = []
    for st in STAGES:
        g = jmap[jmap["stage"] == st]
        if g.empty:
            continue
        r = g.dropna(subset=["rating"])
        w = r["rating_n"].astype(float)
        rows.append({"stage": st, "customers": g["customers"].max(),
                     "rating": float((r["rating"] * w).sum() / w.sum()) if w.sum() else np.nan,
                     "nps": float((r["nps"] * w).sum() / w.sum()) if w.sum() and r["nps"].notna().all() else np.nan})
    return pd.DataFrame(rows)


def plot_journey_map(jmap: pd.DataFrame, value: str = "conversion_next", ax=None, max_touchpoints: int = 3):
    """Journey-map figure: stages as columns, their main touchpoints as cells coloured by
    ``value`` (conversion to the next stage), the emotion curve (mean rating) on top.

    Returns the axes of the grid (the emotion curve is a twin axes above it).
    """
    import matplotlib.pyplot as plt

    stages = [s for s in STAGES if s in set(jmap["stage"])]
    if ax is None:
        _, (ax_top, ax) = plt.subplots(2, 1, figsize=(max(8, 1.15 * len(stages)), 6.2),
                                         gridspec_kw={"height_ratios": [1, 2.4]}, sharex=True)
    else:
        ax_top = None
    cmap = plt.get_cmap("RdYlGn")
    for i, st in enumerate(stages):
        g = jmap[(jmap["stage"] == st) & jmap["touches"].notna()].nlargest(max_touchpoints, "customers")
        for j, rec in enumerate(g.itertuples(index=False)):
            v = getattr(rec, value)
            colour = cmap(float(v)) if pd.notna(v) else "#eeeeee"
            ax.add_patch(plt.Rectangle((i - 0.46, -j - 0.45), 0.92, 0.9, color=colour, alpha=0.85))
            label = f"{rec.touchpoint.replace('_', ' ')}\n{int(rec.customers):,}"
            if pd.notna(v):
                label += f"\n→ {100 * v:.0f} %"
            if pd.notna(rec.rating):
                label += f"\nrating {rec.rating:.1f}"
            if isinstance(rec.action, str) and rec.action:
                label += "\n★"
            ax.text(i, -j, label, ha="center", va="center", fontsize=7.5)
    ax.set_xlim(-0.5, len(stages) - 0.5)
    ax.set_ylim(-max_touchpoints + 0.45, 0.55)
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels([s.replace("_", " ") for s in stages], rotation=30, ha="right")
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlabel("cells: touchpoint, customers, → share reaching the next stage (★ = action planned)")
    if ax_top is not None:
        emo = stage_emotion(jmap).set_index("stage").reindex(stages)
        x = np.arange(len(stages))
        ok = emo["rating"].notna().to_numpy()
        ax_top.plot(x[ok], emo["rating"].to_numpy()[ok], marker="o", color="#3b6ea8")
        for xi, v in zip(x[ok], emo["rating"].to_numpy()[ok]):
            ax_top.annotate(f"{v:.1f}", (xi, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        ax_top.set_ylim(1, 5)
        ax_top.set_ylabel("mean rating (1–5)")
        ax_top.set_title("Journey map: how each stage feels and where customers move on")
    return ax


# --------------------------------------------------------------------------------------------
# The whole analysis for the journey notebook
# --------------------------------------------------------------------------------------------

def _resolve(path: str) -> str:
    """A params file path as given, or relative to the project root (notebooks run in notebooks/)."""
    from pathlib import Path

    p = Path(path)
    if p.exists() or p.is_absolute():
        return str(p)
    root = Path(__file__).resolve().parents[1]
    return str(root / p) if (root / p).exists() else str(p)


@dataclass
class JourneyAnalysis:
    """Everything notebooks/05_journey.ipynb shows (see :func:`analyse_journey`)."""

    as_of: str
    funnel: FunnelResult
    funnel_breakdown: FunnelResult | None
    durations: pd.DataFrame
    furthest: pd.DataFrame
    paths: pd.DataFrame
    top_purchase: pd.DataFrame
    top_no_purchase: pd.DataFrame
    top_churn: pd.DataFrame
    attribution: pd.DataFrame
    markov: pd.DataFrame
    counterfactual: pd.DataFrame
    flows: pd.DataFrame
    journey_map: pd.DataFrame
    emotion: pd.DataFrame
    handling: dict[str, int]
    channels: list[str]
    recovery: dict[str, Any] = field(default_factory=dict)

    @property
    def biggest_dropoff(self) -> str:
        return self.funnel.biggest_dropoff

    def headline_title(self) -> str:
        t = self.funnel.table.set_index("step")
        s = self.biggest_dropoff
        lost = t.loc[s, "dropoff"]
        top = self.markov["channel"].iloc[0]
        return (f"Most customers are lost after '{s.replace('_', ' ')}' ({lost:,.0f} customers); "
                f"{top.replace('_', ' ')} contributes most to purchases")


def analyse_journey(tables: Mapping[str, pd.DataFrame], truth: Mapping[str, Any] | None = None, *,
                    as_of: Any = None, funnel_steps: Sequence[str] | None = None,
                    window_days: float | None = None, breakdown: str | None = "device",
                    channels: Sequence[str] | None = None,
                    exclude_touchpoints: Sequence[str] = ("newsletter_open",),
                    markov_order: int = 1, n_boot: int = 100, top_n: int = 10,
                    sankey_by: str = "channel", sankey_steps: int = 5,
                    actions: str | Mapping[str, Any] | None = "params/journey_actions.yaml",
                    on_unknown: str = "drop", seed: int = 0) -> JourneyAnalysis:
    """Funnel, stage timing, paths, attribution, flows and the journey map for one data set.

    ``channels`` defaults to the channels customers meet in the pre-purchase stages
    (awareness .. persuasion); ``exclude_touchpoints`` drops passive touches (newsletter opens
    every subscriber receives) from paths and attribution. Unknown stages are dropped and
    counted (``on_unknown="drop"``) or raise (``"raise"``).
    """
    tp = tables["touchpoints"]
    orders = tables.get("orders")
    customers = tables.get("customers")
    survey = tables.get("survey_responses")
    tp, handling = check_stages(tp, on_unknown=on_unknown)
    handling = dict(handling)
    if as_of in (None, ""):
        as_of = (truth or {}).get("observation_end") or tp["ts"].max()
    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    tp = tp[tp["ts"] < end]
    if orders is not None:
        orders = orders[orders["ts"] < end]
    steps = list(funnel_steps) if funnel_steps else list(STAGES)
    fun = funnel(tp, steps, window_days=window_days or None)
    fb = None
    if breakdown:
        fb = funnel(tp, steps, window_days=window_days or None, breakdown=breakdown,
                    customers=customers if (customers is not None and breakdown in customers.columns) else None)
    prog = stage_progress(tp)
    durations = stage_durations(prog)
    furthest = prog["furthest_stage"].value_counts().reindex(list(STAGES), fill_value=0).rename("customers")
    furthest = furthest.reset_index().rename(columns={"index": "stage", "furthest_stage": "stage"})
    furthest["share"] = furthest["customers"] / furthest["customers"].sum()
    if channels is None:
        pre = tp[tp["stage"].isin(STAGES[:4]) & ~tp["touchpoint"].isin(list(exclude_touchpoints))]
        channels = sorted(pre["channel"].dropna().unique())
    channels = list(channels)
    kw = {"channels": channels, "exclude_touchpoints": exclude_touchpoints, "as_of": end}
    paths = build_paths(tp, orders, **kw)
    n_empty = int(len(set(tp["customer_id"])) - (paths["conversions"].sum() + paths["null"].sum()))
    if n_empty > 0:
        handling["customers without a touch on these channels (no path)"] = n_empty
    top_purchase = top_paths(tp, orders, n=top_n, **kw)
    top_no = top_paths(tp, orders, n=top_n, reached=False, **kw)
    top_churn = pd.DataFrame(columns=["path", "customers", "share", "steps"])
    if customers is not None and "cancelled_at" in customers.columns and customers["cancelled_at"].notna().any():
        top_churn = top_paths(tp, orders, n=top_n, outcome="churn", customers=customers, by="touchpoint",
                              lookback_days=90, as_of=end,
                              exclude_touchpoints=exclude_touchpoints)
    markov = markov_attribution(paths, order=markov_order, n_boot=n_boot, seed=seed)
    cf = noisy_or_attribution(paths, n_boot=min(n_boot, 50), seed=seed)
    attr = attribution_table(paths, order=markov_order)
    attr = attr.merge(cf.set_index("channel")["contribution"].rename("noisy_or"), left_on="channel",
                      right_index=True, how="left")
    flows = stage_flows(tp, orders, by=sankey_by, max_steps=sankey_steps, channels=channels if sankey_by == "channel" else None,
                        exclude_touchpoints=exclude_touchpoints)
    act = load_actions(_resolve(actions) if isinstance(actions, str) else actions) if actions else None
    jm = journey_map(tp, survey if survey is not None and len(survey) else None, act)
    recovery: dict[str, Any] = {}
    if truth:
        if "funnel" in truth:
            recovery["biggest_drop_after"] = truth["funnel"].get("biggest_drop_after")
        if "attribution" in truth:
            recovery["rank"] = truth["attribution"].get("rank")
    return JourneyAnalysis(str(pd.Timestamp(as_of).date()), fun, fb, durations, furthest, paths, top_purchase,
                           top_no, top_churn, attr, markov, cf, flows, jm, stage_emotion(jm), handling,
                           channels, recovery)


def analyse_source(data_source: str = "demo", **params: Any) -> JourneyAnalysis:
    """:func:`analyse_journey` on a cjlab data source (``"demo"``, a folder, a .duckdb file)."""
    from cjlab.data import open_source

    src = open_source(data_source)
    want = ("customers", "orders", "touchpoints", "survey_responses")
    tables = src.load(*[t for t in want if t in src.tables])
    return analyse_journey(tables, src.truth, **params)


def plot_funnel(result: FunnelResult, ax=None, title: str = "Funnel over the lifecycle stages"):
    """Horizontal bars of customers per step with step conversion and drop-off annotated."""
    from cjlab.plotting import BAD, NEUTRAL, new_axes

    t = result.table if result.breakdown is None else _funnel_table(result.customer_steps, result.steps, None, (0.5,))
    ax = new_axes(ax, figsize=(8.5, 0.45 * len(t) + 1.2))
    y = np.arange(len(t))[::-1]
    big = result.biggest_dropoff
    colours = [BAD if s == big else NEUTRAL for s in t["step"]]
    ax.barh(y, t["customers"], color=colours, alpha=0.85)
    top = t["customers"].max()
    for yi, rec in zip(y, t.itertuples(index=False)):
        txt = f"{rec.customers:,.0f}  ({rec.overall_conversion:.0%} of entrants"
        txt += f"; {rec.step_conversion:.0%} of previous step)" if rec.step_index else ")"
        ax.text(rec.customers + top * 0.01, yi, txt, va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([s.replace("_", " ") for s in t["step"]])
    ax.set_xlim(0, top * 1.55)
    ax.set_xlabel("customers reaching the step (in order)")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return ax


def plot_breakdown(result: FunnelResult, ax=None, title: str | None = None):
    """Overall conversion per step, one line per breakdown group."""
    from cjlab.plotting import new_axes, percent_axis

    ax = new_axes(ax, figsize=(8.5, 4))
    t = result.table
    for g, d in t.groupby(result.breakdown, sort=True):
        ax.plot(d["step_index"], d["overall_conversion"], marker="o", label=str(g))
    ax.set_xticks(range(len(result.steps)))
    ax.set_xticklabels([s.replace("_", " ") for s in result.steps], rotation=30, ha="right")
    percent_axis(ax, "y")
    ax.set_ylabel("share of entrants reaching the step")
    ax.legend(title=str(result.breakdown).replace("_", " "))
    ax.set_title(title or f"Funnel by {str(result.breakdown).replace('_', ' ')} (first touch)")
    return ax


def plot_attribution(table: pd.DataFrame, ax=None, models: Sequence[str] | None = None,
                     title: str = "Conversions credited to each channel, by model"):
    """Grouped bars: credited conversions per channel (rows of :func:`attribution_table`) and model."""
    from cjlab.plotting import new_axes

    models = [m for m in (models or [c for c in table.columns if c != "channel"]) if m in table.columns]
    ax = new_axes(ax, figsize=(9, 4.2))
    x = np.arange(len(table))
    w = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        ax.bar(x + (i - (len(models) - 1) / 2) * w, table[m], width=w, label=m.replace("_", " "))
    ax.set_xticks(x)
    ax.set_xticklabels([c.replace("_", " ") for c in table["channel"]])
    ax.set_ylabel("conversions credited")
    ax.legend(ncol=3, fontsize=8)
    ax.set_title(title)
    return ax
