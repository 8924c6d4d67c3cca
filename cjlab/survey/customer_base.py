"""Weights that make survey respondents speak for the customer base.

:class:`CustomerBaseWeights` rakes (or post-stratifies) respondents to the shares of customer
attributes among the customers (or buyers) — :func:`cjlab.features.survey.population_counts`
gives those counts — leaving out respondents without a customer record and merging margin
categories that have no respondent (:func:`collapse_rare`). :func:`margins_from_table` and
:func:`population_cells` turn a population table (one row per person, or per cell with a count)
into target shares.

Examples
--------
>>> import pandas as pd
>>> s = pd.DataFrame({"country": ["DE", "DE", "DE", "AT"]})
>>> pop = pd.DataFrame({"country": ["DE", "AT"], "customers": [50, 50]})
>>> w = CustomerBaseWeights(["country"], trim=None).fit(s, pop, count="customers").weights_
>>> w.round(3).tolist()
[0.667, 0.667, 0.667, 2.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .checks import MarginError, require_columns
from .weighting import poststratify, rake


def margins_from_table(
    table: pd.DataFrame, columns: Sequence[str], *, count: str | None = None, dropna: bool = True
) -> dict[str, pd.Series]:
    """Population shares of each of ``columns`` in ``table``.

    Parameters
    ----------
    table : one row per person (e.g. customers), or one row per cell with a ``count`` column
        (e.g. :func:`cjlab.features.survey.population_counts`).
    columns : the margin variables.
    count : column holding the number of people per row; None = one person per row.
    dropna : leave missing categories out of the shares.

    Returns
    -------
    variable -> Series of shares (category index).

    Examples
    --------
    >>> import pandas as pd
    >>> m = margins_from_table(pd.DataFrame({"country": ["DE", "DE", "AT", "CH"]}), ["country"])
    >>> m["country"].to_dict()
    {'DE': 0.5, 'AT': 0.25, 'CH': 0.25}
    >>> cells = pd.DataFrame({"country": ["DE", "AT", "CH"], "customers": [2, 1, 1]})
    >>> margins_from_table(cells, ["country"], count="customers")["country"].to_dict()
    {'DE': 0.5, 'AT': 0.25, 'CH': 0.25}
    """
    require_columns(table, [*columns, *([count] if count else [])], "population")
    if count is None:
        return {c: table[c].value_counts(normalize=True, dropna=dropna).rename(c) for c in columns}
    out = {}
    for c in columns:
        s = (
            table.groupby(c, dropna=dropna, sort=False)[count]
            .sum()
            .sort_values(ascending=False, kind="stable")
        )
        out[c] = (s / s.sum()).rename(c)
    return out


def population_cells(
    table: pd.DataFrame, columns: Sequence[str], count: str | None = None
) -> pd.DataFrame:
    """Joint population shares of ``columns`` (one row per cell, column ``share``).

    ``table`` holds one row per person, or one row per cell with a ``count`` column (see
    :func:`margins_from_table`); cells with a missing value are left out.
    """
    cols = list(columns)
    require_columns(table, [*cols, *([count] if count else [])], "population")
    g = table.groupby(cols, observed=True)
    out = (g.size() if count is None else g[count].sum()).rename("share").reset_index()
    out["share"] = out["share"] / out["share"].sum()
    return out


def collapse_rare(
    population: pd.Series, sample: pd.Series, other: str = "other", min_share: float = 0.0
) -> tuple[pd.Series, pd.Series]:
    """Merge margin categories without respondents into ``other``.

    Categories that have no respondent (or a population share below ``min_share``) are merged;
    if those alone have no respondent, the smallest category that has respondents joins them.

    Returns
    -------
    (population shares, sample labels) after merging.

    Examples
    --------
    >>> pop = pd.Series({"DE": 0.6, "AT": 0.3, "LU": 0.1})
    >>> p, s = collapse_rare(pop, pd.Series(["DE", "AT", "DE"]))
    >>> p.round(2).to_dict(), s.tolist()
    ({'DE': 0.6, 'other': 0.4}, ['DE', 'other', 'DE'])
    """
    present = set(sample.dropna())
    rare = [c for c in population.index if c not in present or population[c] < min_share]
    if not rare:
        return population, sample
    if not any(c in present for c in rare):
        candidates = population[[c for c in population.index if c in present and c not in rare]]
        if candidates.empty:
            raise MarginError(f"margin categories {rare}: no respondent in any category.")
        rare.append(candidates.idxmin())
    pop = population.rename(lambda c: other if c in rare else c).groupby(level=0).sum()
    smp = sample.where(~sample.isin(rare), other)
    return pop, smp


class CustomerBaseWeights:
    """Weights that make survey respondents represent the customer base (raking or post-strata).

    Parameters
    ----------
    columns : customer attributes whose population shares the weighted respondents match
        (each respondent needs them, e.g. from :func:`cjlab.features.survey.survey_scores`).
    method : ``"raking"`` (each margin) or ``"poststratification"`` (every combination of
        ``columns``; every population cell then needs respondents, and respondent-type shares
        cannot be added).
    respondent_type_shares : optional population shares of new / existing / leaving /
        returning customers, added as one more raking margin.
    trim : ``(lower, upper)`` weight bounds as multiples of the mean weight, or None.
    collapse_missing : merge a margin category without any respondent into ``other`` (said so in
        ``notes_``) instead of stopping; otherwise it is a :class:`MarginError`.

    Attributes
    ----------
    weights_ : Series aligned with the survey rows (NaN = respondent without a customer
        record, not weighted).
    result_ : the :class:`WeightingResult` (convergence, design effect, margin table).
    margins_ : variable -> population shares used.
    notes_ : short remarks for readers (unlinked respondents, merged categories, convergence).

    Examples
    --------
    >>> s = pd.DataFrame({"country": ["DE", "DE", "DE", "AT"]})
    >>> pop = pd.DataFrame({"country": ["DE", "AT"], "customers": [50, 50]})
    >>> CustomerBaseWeights(["country"], trim=None).fit(s, pop, count="customers").weights_.tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """

    def __init__(
        self,
        columns: Sequence[str] = ("acquisition_channel", "country"),
        method: str = "raking",
        respondent_type_shares: Mapping[str, float] | None = None,
        trim: tuple[float, float] | None = (0.2, 5.0),
        collapse_missing: bool = True,
    ):
        self.columns = columns
        self.method = method
        self.respondent_type_shares = respondent_type_shares
        self.trim = trim
        self.collapse_missing = collapse_missing

    def fit(
        self, survey: pd.DataFrame, population: pd.DataFrame, count: str | None = None
    ) -> CustomerBaseWeights:
        """Weight ``survey`` rows to ``population`` (one row per customer, or per cell with ``count``).

        Returns
        -------
        self
        """
        columns = list(self.columns)
        if self.method not in ("raking", "poststratification"):
            raise ValueError("method must be 'raking' or 'poststratification'")
        if self.method == "poststratification" and (self.respondent_type_shares or not columns):
            raise MarginError(
                "post-stratification uses the joint cells of customer columns only; "
                "use method='raking' to add respondent-type shares."
            )
        notes: list[str] = []
        linked = survey[columns].notna().all(axis=1) if columns else pd.Series(True, survey.index)
        if (~linked).any():
            notes.append(
                f"{int((~linked).sum())} response(s) without a matching customer record "
                "are left out of the weighted estimates."
            )
        d = survey[linked].copy()
        margins = margins_from_table(population, columns, count=count) if columns else {}
        if self.respondent_type_shares:
            require_columns(d, ["respondent_type"])
            margins["respondent_type"] = pd.Series(dict(self.respondent_type_shares), dtype=float)
        if not margins:
            raise MarginError(
                "no weighting margins: give customer columns or respondent-type shares."
            )
        if self.method == "poststratification":
            res = poststratify(
                d, columns, population_cells(population, columns, count), trim=self.trim
            )
        else:
            if self.collapse_missing:
                notes += _collapse_margins(margins, d)
            res = rake(d, margins, trim=self.trim)
        if not res.converged:
            notes.extend(res.notes)
        self.weights_ = pd.Series(np.nan, index=survey.index, name="weight")
        self.weights_.loc[d.index] = res.weights
        self.result_, self.margins_, self.notes_ = res, margins, tuple(notes)
        return self


def _collapse_margins(margins: dict[str, pd.Series], d: pd.DataFrame) -> list[str]:
    """Merge each margin's categories without respondents (in place); returns the notes."""
    notes = []
    for var in list(margins):
        new, d[var] = collapse_rare(margins[var] / margins[var].sum(), d[var])
        merged = sorted(set(margins[var].index) - set(new.index), key=str)
        if merged:
            notes.append(
                f"{var}: categories {merged} were merged into 'other' for weighting "
                "(some of them have no respondent)."
            )
        margins[var] = new
    return notes


__all__ = ["CustomerBaseWeights", "collapse_rare", "margins_from_table", "population_cells"]
