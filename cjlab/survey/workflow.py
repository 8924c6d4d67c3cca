"""Glue for the survey notebook: population frame, weighting respondents to the customer
base, choosing waves, notes on suppressed cells. Pure functions on DataFrames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._common import MarginError, SurveyInputError, require_columns
from .weighting import (
    WeightingResult,
    attach_customer_attributes,
    margins_from_table,
    population_cells,
    poststratify,
    rake,
)


def wave_order(survey: pd.DataFrame, wave_col: str = "wave") -> list:
    """Waves present, in order (dates/labels sorted as text, e.g. ``2025-03`` < ``2025-06``)."""
    require_columns(survey, [wave_col])
    waves = survey[wave_col].dropna().unique().tolist()
    if not waves:
        raise SurveyInputError(f"survey_responses.{wave_col}: no waves (table empty?).")
    return sorted(waves, key=lambda w: (str(type(w)), str(w)))


def resolve_waves(survey: pd.DataFrame, waves: Sequence | None = None,
                  wave_col: str = "wave") -> tuple:
    """The two waves to compare: ``waves`` (two labels, earlier first) or the last two.

    Raises
    ------
    SurveyInputError
        fewer than two waves, or a requested wave with no responses.
    """
    order = wave_order(survey, wave_col)
    if waves:
        if len(waves) != 2:
            raise SurveyInputError(f"waves_to_compare needs exactly two waves, got {list(waves)}.")
        present = {str(w): w for w in order}
        present.update({w.strftime("%Y-%m-%d"): w for w in order if isinstance(w, pd.Timestamp)})
        missing = [w for w in waves if str(w) not in present]
        if missing:
            raise SurveyInputError(f"survey_responses.{wave_col}: wave(s) {missing} have no "
                                   f"responses (waves present: {order}).")
        return present[str(waves[0])], present[str(waves[1])]
    if len(order) < 2:
        raise SurveyInputError(f"survey_responses.{wave_col}: only one wave ({order}); nothing to "
                               "compare.")
    return order[-2], order[-1]


def population_frame(customers: pd.DataFrame, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """The customers a survey speaks for: every customer, or — with ``orders`` — only those
    who bought at least once (surveys are sent to buyers)."""
    require_columns(customers, ["customer_id"], "customers")
    if orders is None:
        return customers
    require_columns(orders, ["customer_id"], "orders")
    return customers[customers["customer_id"].isin(orders["customer_id"])]


@dataclass
class SurveyWeights:
    """Weights for the survey table and how they were made."""

    weights: pd.Series                       # aligned with the survey index (NaN = not weighted)
    result: WeightingResult | None
    margins: dict[str, pd.Series]
    notes: list[str] = field(default_factory=list)


def collapse_rare(population: pd.Series, sample: pd.Series, other: str = "other",
                  min_share: float = 0.0) -> tuple[pd.Series, pd.Series]:
    """Merge margin categories that have no respondent (or a population share below
    ``min_share``) into ``other``; if those alone have no respondent, the smallest
    category that has respondents joins them. Returns (population shares, sample labels)."""
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


def weight_respondents(survey: pd.DataFrame, customers: pd.DataFrame,
                       columns: Sequence[str] = ("acquisition_channel", "country"),
                       orders: pd.DataFrame | None = None,
                       respondent_type_shares: Mapping[str, float] | None = None,
                       trim: tuple[float, float] | None = (0.2, 5.0),
                       collapse_missing: bool = True, method: str = "raking") -> SurveyWeights:
    """Rake (or post-stratify) respondents to the customer base.

    ``method="poststratification"`` matches the joint distribution of ``columns`` (every
    cell, e.g. channel × country) instead of each margin; every population cell then needs
    respondents (else a :class:`MarginError` suggests raking) and respondent-type shares
    cannot be added.

    Margins: the shares of ``columns`` among the population (customers, or buyers when
    ``orders`` is given), plus optional respondent-type shares. Respondents without a
    customer record are left unweighted (NaN) and counted in ``notes``. With
    ``collapse_missing`` a margin category without any respondent is merged into ``other``
    (and said so in ``notes``) instead of stopping the report; otherwise it is an error.
    """
    columns = list(columns)
    if method not in ("raking", "poststratification"):
        raise ValueError("method must be 'raking' or 'poststratification'")
    if method == "poststratification" and (respondent_type_shares or not columns):
        raise MarginError("post-stratification uses the joint cells of customer columns only; "
                          "use method='raking' to add respondent-type shares.")
    notes: list[str] = []
    pop = population_frame(customers, orders)
    data = attach_customer_attributes(survey, customers, columns) if columns else survey.copy()
    linked = data[columns].notna().all(axis=1) if columns else pd.Series(True, index=data.index)
    if (~linked).any():
        notes.append(f"{int((~linked).sum())} response(s) without a matching customer record are "
                     "left out of the weighted estimates.")
    d = data[linked].copy()
    margins = margins_from_table(pop, columns) if columns else {}
    if respondent_type_shares:
        require_columns(d, ["respondent_type"])
        margins["respondent_type"] = pd.Series(dict(respondent_type_shares), dtype=float)
    if not margins:
        raise MarginError("no weighting margins: give customer columns or respondent-type shares.")
    if method == "poststratification":
        res = poststratify(d, columns, population_cells(pop, columns), trim=trim)
        if not res.converged:
            notes.extend(res.notes)
        w = pd.Series(np.nan, index=survey.index, name="weight")
        w.loc[d.index] = res.weights
        return SurveyWeights(w, res, margins, notes)
    if collapse_missing:
        for var in list(margins):
            new, d[var] = collapse_rare(margins[var] / margins[var].sum(), d[var])
            merged = sorted(set(margins[var].index) - set(new.index), key=str)
            if merged:
                notes.append(f"{var}: categories {merged} were merged into 'other' for weighting "
                             "(some of them have no respondent).")
            margins[var] = new
    res = rake(d, margins, trim=trim)
    if not res.converged:
        notes.extend(res.notes)
    w = pd.Series(np.nan, index=survey.index, name="weight")
    w.loc[d.index] = res.weights
    return SurveyWeights(w, res, margins, notes)


def customer_names(source) -> list[str]:
    """Customer names (full and parts) from a :class:`cjlab.data.DataSource`, used only to
    redact them from comments (:func:`cjlab.survey.redact`); never shown. Empty when the
    source has no ``customers.name`` column."""
    from .themes import name_list

    if "customers" not in getattr(source, "tables", ()):
        return []
    rel = source.relation("customers")
    if "name" not in rel.columns:
        return []
    return name_list(rel.select("name").df())


def suppression_note(table: pd.DataFrame, min_n: int, what: str = "cell",
                     label_cols: Sequence[str] = ()) -> str | None:
    """Text for the cells suppressed for having fewer than ``min_n`` respondents, or None."""
    if "suppressed" not in table or not table["suppressed"].any():
        return None
    sup = table[table["suppressed"]]
    cols = [c for c in label_cols if c in sup]
    names = (sorted({" · ".join(str(v) for v in r) for r in sup[cols].itertuples(index=False)})
             if cols else [])
    listed = f": {', '.join(names[:12])}" + (" …" if len(names) > 12 else "") if names else ""
    return (f"{len(names) or len(sup)} {what}(s) with fewer than {min_n} respondents are not "
            f"shown as numbers{listed}.")


__all__ = ["SurveyWeights", "collapse_rare", "customer_names", "population_frame", "resolve_waves",
           "suppression_note", "wave_order", "weight_respondents"]
