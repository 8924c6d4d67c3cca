"""Channel attribution: fitters on one base (:class:`Attribution`) and the side-by-side table.

:class:`HeuristicAttribution` (first, last, linear, position), :class:`MarkovAttribution`
(removal effects, exact) and :class:`NoisyOrAttribution` (counterfactual) all take a paths
table in ``fit(paths)`` and return self, with ``result_`` one row per channel and bootstrap
intervals with ``n_boot``, ``level`` and ``random_state``.
"""

from collections.abc import Sequence

import pandas as pd

from cjlab.journey.attribution.base import Attribution
from cjlab.journey.attribution.heuristic import MODELS, HeuristicAttribution, heuristic_attribution
from cjlab.journey.attribution.markov import MarkovAttribution, markov_attribution
from cjlab.journey.attribution.noisy_or import NoisyOrAttribution, noisy_or_attribution

__all__ = [
    "MODELS",
    "Attribution",
    "HeuristicAttribution",
    "MarkovAttribution",
    "NoisyOrAttribution",
    "attribution_table",
    "heuristic_attribution",
    "markov_attribution",
    "noisy_or_attribution",
]


def attribution_table(
    paths: pd.DataFrame,
    models: Sequence[str] = ("first", "last", "linear", "position", "markov"),
    order: int = 1,
    on_empty: str = "raise",
) -> pd.DataFrame:
    """Credited conversions per channel (rows) and model (columns), side by side.

    ``models`` are heuristic model names, ``"markov"`` and ``"noisy_or"`` (the noisy-OR column
    holds its contributions: conversions expected to be lost without the channel).

    Examples
    --------
    >>> paths = pd.DataFrame({"path": ["a > b", "b"], "conversions": [2, 1], "null": [1, 1]})
    >>> attribution_table(paths, models=("first", "last")).values.tolist()
    [['a', 2.0, 0.0], ['b', 1.0, 3.0]]
    """
    cols = {}
    for m in models:
        if m == "markov":
            cols[m] = (
                MarkovAttribution(order, on_empty=on_empty)
                .fit(paths)
                .result_.set_index("channel")["conversions"]
            )
        elif m == "noisy_or":
            cols[m] = (
                NoisyOrAttribution(on_empty=on_empty)
                .fit(paths)
                .result_.set_index("channel")["contribution"]
            )
        else:
            cols[m] = (
                HeuristicAttribution(m, on_empty=on_empty)
                .fit(paths)
                .result_.set_index("channel")["conversions"]
            )
    out = pd.DataFrame(cols).fillna(0.0)
    sort_by = "markov" if "markov" in out.columns else out.columns[0]
    return (
        out.sort_values(sort_by, ascending=False, kind="stable")
        .rename_axis("channel")
        .reset_index()
    )
