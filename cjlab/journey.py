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


def _unused(_: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    return STAGES
