"""The one small base of every attribution model: ``fit(paths)`` returns self, results in ``*_``.

A *paths table* has one row per distinct channel sequence: ``path`` (channels joined by
``" > "``), ``conversions`` (journeys on that path that converted) and ``null`` (journeys that
did not) — what :func:`cjlab.features.path_counts` returns. A model subclass says how it
prepares the structure of the paths (:meth:`Attribution._prepare`) and how it credits channels
given conversion and non-conversion counts per path (:meth:`Attribution._estimate`); the base
cleans the input, builds the result table and the bootstrap intervals.

Bootstrap: journeys are resampled with replacement (one multinomial draw over the
path × outcome cells), the model re-estimated on each resample with the structure of the
observed paths, and percentile intervals of mass ``level`` taken for the columns the model
lists in ``interval_columns``. The draws are reproducible with ``random_state``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cjlab.journey.inputs import PathHandling, clean_paths

__all__ = ["Attribution"]


class Attribution:
    """Base of the attribution fitters (heuristic, Markov, noisy-OR).

    Parameters
    ----------
    n_boot : bootstrap resamples for intervals (0 = none).
    level : interval mass of the percentile intervals.
    collapse_repeats : merge consecutive repeats of a channel before fitting.
    on_empty : ``"raise"`` or ``"drop"`` for empty path steps (see
        :func:`cjlab.journey.inputs.clean_paths`).
    random_state : seed of the bootstrap.

    Attributes
    ----------
    paths_ : the cleaned paths (path, steps, conversions, null, journeys).
    channels_ : channels seen in the paths, sorted.
    handling_ : :class:`~cjlab.journey.inputs.PathHandling` of the input.
    total_conversions_ : observed conversions.
    result_ : one row per channel (columns depend on the model; ``*_low``/``*_high`` with
        ``n_boot``), most credited first.
    bootstrap_ : column -> DataFrame of bootstrap draws (resample x channel), with ``n_boot``.
    """

    #: result columns that get bootstrap intervals
    interval_columns: tuple[str, ...] = ("conversions",)
    #: result column the channels are ranked by
    rank_by: str = "conversions"

    def __init__(
        self,
        *,
        n_boot: int = 0,
        level: float = 0.9,
        collapse_repeats: bool = False,
        on_empty: str = "raise",
        random_state: int | None = 0,
    ):
        self.n_boot = n_boot
        self.level = level
        self.collapse_repeats = collapse_repeats
        self.on_empty = on_empty
        self.random_state = random_state

    # -- what a model provides ---------------------------------------------------------------
    def _prepare(self, paths: pd.DataFrame) -> None:
        """Build the structure the estimate needs from the cleaned paths (once per fit)."""

    def _estimate(
        self, conv: np.ndarray, null: np.ndarray
    ) -> dict[str, np.ndarray]:  # pragma: no cover
        """Per-channel result columns (arrays in the order of ``channels_``) for these counts."""
        raise NotImplementedError

    def _fitted(self, conv: np.ndarray, null: np.ndarray) -> None:
        """Set model-specific fitted attributes after the point estimate (optional)."""

    # -- the shared machinery ----------------------------------------------------------------
    def fit(self, paths: pd.DataFrame) -> Any:
        """Fit the model to a paths table (path, conversions, null); returns self."""
        p, handling = clean_paths(
            paths, on_empty=self.on_empty, collapse_repeats=self.collapse_repeats
        )
        self.paths_: pd.DataFrame = p
        self.handling_: PathHandling = handling
        self.channels_: list[str] = sorted({c for st in p["steps"] for c in st})
        self._prepare(p)
        conv, null = p["conversions"].to_numpy(float), p["null"].to_numpy(float)
        self.total_conversions_ = float(conv.sum())
        res = pd.DataFrame({"channel": self.channels_, **self._estimate(conv, null)})
        self._fitted(conv, null)
        if self.n_boot:
            res = self._bootstrap(res, conv, null)
        self.result_ = res.sort_values(
            [self.rank_by, "channel"], ascending=[False, True]
        ).reset_index(drop=True)
        return self

    def _bootstrap(self, res: pd.DataFrame, conv: np.ndarray, null: np.ndarray) -> pd.DataFrame:
        rng = np.random.default_rng(self.random_state)
        cells = np.concatenate([conv, null])
        total = int(np.rint(cells.sum()))
        probs = cells / cells.sum()
        m = len(conv)
        draws = {
            c: np.empty((int(self.n_boot), len(self.channels_))) for c in self.interval_columns
        }
        for b in range(int(self.n_boot)):
            d = rng.multinomial(total, probs).astype(float)
            est = self._estimate(d[:m], d[m:])
            for c in self.interval_columns:
                draws[c][b] = est[c]
        a = (1 - self.level) / 2
        for c in self.interval_columns:
            res[f"{c}_low"], res[f"{c}_high"] = np.nanquantile(draws[c], [a, 1 - a], axis=0)
        self.bootstrap_ = {c: pd.DataFrame(v, columns=self.channels_) for c, v in draws.items()}
        return res
