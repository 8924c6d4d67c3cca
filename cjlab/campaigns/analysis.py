"""The campaign analysis of notebooks/06_campaigns.ipynb: :func:`analyse` and :func:`from_source`.

:func:`analyse` takes the contract tables and returns a :class:`CampaignAnalysis`. Each section
runs when its data are there and is otherwise listed in ``skipped`` with the sentence the
report shows in its place:

==================  ==========================================================================
section             needs
==================  ==========================================================================
``incrementality``  experiment_exposures with a campaign and its random holdout
``uplift``          the same, with at least 200 customers and attributes to tell them apart
``churn_policy``    the customers' cancellations (cancelled_at) or their later orders
``offers``          orders with an item column (product, product_id, sku or product_category)
``send_time``       touchpoints with e-mail opens or clicks
``triggers``        orders (birthday: the birth_date column of customers)
``exports``         customers with marketing_opt_in (consent), and a list to export
``demo_check``      the demo company's planted truth
==================  ==========================================================================

:func:`from_source` opens a data source, checks that at least one section can run and calls
:func:`analyse`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from cjlab.campaigns import sections
from cjlab.campaigns.offers import OFFER_METHODS
from cjlab.campaigns.results import CampaignAnalysis
from cjlab.campaigns.targeting import METHODS
from cjlab.features.sequences import latest
from cjlab.results import NotApplicable

__all__ = ["REQUIRES", "CampaignAnalysis", "CampaignOptions", "analyse", "from_source"]

#: what notebook 06 needs at minimum: any one of these (its metadata says the same)
REQUIRES = [{"experiment_exposures": []}, {"orders": []}, {"touchpoints": []}]
TRIGGERS = ("birthday", "first_purchase_anniversary", "christmas", "black_friday")


@dataclass(frozen=True)
class CampaignOptions:
    """The parameters of :func:`analyse`, named as the notebook's parameters they come from.

    Parameters
    ----------
    as_of : analysis day; empty means the demo's observation end or the last order or touch.
    experiment, control, treatment : the campaign (empty: automatic, see
        :func:`cjlab.campaigns.inputs.pick_campaign`).
    outcome_columns : exposures' columns measured after the contact (never features).
    segment_column : exposures' breakdown column of the incremental effects ('' = none).
    uplift_methods : uplift models compared (t_learner, x_learner, class_transformation).
    learner : base models, ``logistic`` or ``boosting``.
    test_share : share of the campaign's customers kept aside to evaluate the models.
    margin : share of revenue that is profit; conversion_value : revenue of one conversion (0 =
        the campaign's mean revenue per converter); contact_cost : cost of one contact.
    item : orders' column of what is offered ('' = the first of product, product_id, sku and
        product_category that the orders have); k : offers per customer; offer_methods;
        min_support : smallest share of customers for a pair in the merchandisers' table (pairs
        need at least 5 customers buying both in any case).
    test_days : the last days of data held out for the time splits (offers, send times).
    send_time_by : customers' column whose groups the send-time profiles shrink toward ('' = all).
    min_engagements : e-mail engagements for a customer's own send time ("enough history").
    tolerance_hours : an open within this many hours of the recommended hour is a hit.
    triggers, window_days, baseline_offsets : yearly triggers, half window, baseline windows.
    inactivity_days, inactivity_window : thresholds of the inactivity trigger and its window.
    n_boot, level, random_state, currency : intervals, their seed, the money unit.
    """

    as_of: Any = None
    experiment: str = ""
    control: str = ""
    treatment: str = ""
    outcome_columns: Sequence[str] = ("visited",)
    segment_column: str = "segment"
    uplift_methods: Sequence[str] = METHODS
    learner: str = "logistic"
    test_share: float = 0.3
    margin: float = 0.3
    conversion_value: float = 0.0
    contact_cost: float = 0.5
    item: str = ""
    k: int = 3
    offer_methods: Sequence[str] = OFFER_METHODS
    min_support: float = 0.0
    test_days: int = 90
    send_time_by: str = ""
    min_engagements: int = 5
    tolerance_hours: int = 1
    triggers: Sequence[str] = TRIGGERS
    window_days: int = 7
    baseline_offsets: Sequence[int] = (-56, -28, 28, 56)
    inactivity_days: Sequence[int] = (30, 60, 90, 180)
    inactivity_window: int = 30
    n_boot: int = 200
    level: float = 0.9
    random_state: int = 0
    currency: str = ""


def _as_of(as_of: Any, truth: Mapping[str, Any] | None, tables: Mapping[str, Any]) -> pd.Timestamp:
    if as_of not in (None, ""):
        return pd.Timestamp(as_of).normalize()
    if (truth or {}).get("observation_end"):
        return pd.Timestamp(truth["observation_end"])
    ends = []
    for t, col in (("orders", "ts"), ("touchpoints", "ts"), ("experiment_exposures", "exposed_at")):
        if tables.get(t) is not None:
            v = latest(tables[t], col)
            if v is not None:
                ends.append(pd.Timestamp(v))
    if not ends:
        raise NotApplicable(
            "The campaign analysis needs orders, touchpoints or experiment exposures."
        )
    return max(ends).normalize()


def analyse(
    tables: Mapping[str, Any], *, truth: Mapping[str, Any] | None = None, **params: Any
) -> CampaignAnalysis:
    """Incrementality, uplift targeting, next best offer, send time and triggers for one data set.

    Parameters
    ----------
    tables : contract tables (pandas, DuckDB or Spark frames); any of experiment_exposures,
        orders and touchpoints enables sections, customers adds attributes and consent.
    truth : the demo company's planted truth (for the analysts' check), if any.
    **params : the fields of :class:`CampaignOptions`.

    Raises
    ------
    NotApplicable : none of experiment_exposures, orders and touchpoints is there.
    """
    if all(tables.get(t) is None for t in ("experiment_exposures", "orders", "touchpoints")):
        raise NotApplicable(
            "The campaign analysis needs experiment_exposures, orders or touchpoints."
        )
    o = CampaignOptions(**params)
    as_of = _as_of(o.as_of, truth, tables)
    skipped: dict[str, str] = {}
    parts: dict[str, Any] = {}
    for section in (
        sections.uplift_section,
        sections.offers_section,
        sections.send_time_section,
        sections.triggers_section,
    ):
        parts |= section(tables, o, as_of, skipped)
    check = sections.truth_check(truth, parts)
    exports = sections.export_lists(tables, parts, skipped)
    if check is None:
        skipped["demo_check"] = (
            "No planted truth to compare with: these are not the demo company's data."
        )
    return CampaignAnalysis(
        as_of=str(as_of.date()),
        currency=o.currency,
        level=o.level,
        exports=exports,
        truth_check=check,
        skipped=skipped,
        **parts,
    )


#: sources with up to this many orders and touchpoints are analysed in pandas (engine="auto")
PANDAS_ROWS = 5_000_000
#: tables that stay where the data live with engine="lazy" (one backend, so they join there)
LAZY_TABLES = ("orders", "touchpoints", "customers")


def _tables(src: Any, engine: str) -> dict[str, Any]:
    """The source's tables, without optional columns that hold no value: pandas for small
    data; orders, touchpoints and customers as DuckDB/Spark frames for large data."""
    names = [
        t for t in ("experiment_exposures", "orders", "touchpoints", "customers") if t in src.tables
    ]
    if engine == "auto":
        rows = src.row_counts() if src.kind != "spark" else {}
        big = src.kind == "spark" or sum(rows.get(t, 0) for t in LAZY_TABLES) > PANDAS_ROWS
        engine = "lazy" if big else "pandas"
    if engine not in ("pandas", "lazy"):
        raise ValueError(f"engine must be 'auto', 'pandas' or 'lazy', got {engine!r}")
    avail, out = src.available(), {}
    for t in names:
        if engine == "lazy" and t in LAZY_TABLES:
            frame = src.lazy(t)
            keep = [c for c in frame.collect_schema().names() if c in avail.get(t, ())]
            out[t] = frame.select(*keep)
        else:
            frame = src.load(t)[t]
            out[t] = frame[[c for c in frame.columns if c in avail.get(t, ())]]
    return out


def from_source(
    data_source: Any = "demo", *, engine: str = "auto", **params: Any
) -> CampaignAnalysis:
    """:func:`analyse` on a cjlab data source (``"demo"``, a folder, a .duckdb file, ``spark:...``).

    With ``engine="auto"`` sources of up to :data:`PANDAS_ROWS` orders and touchpoints are
    loaded into pandas; larger ones (and Spark) keep orders, touchpoints and customers where they are
    (``"lazy"``) and aggregate them there through :mod:`cjlab.features`, with the same results.
    Optional columns without any value count as absent.

    Raises
    ------
    NotApplicable : the source has none of experiment_exposures, orders and touchpoints.
    """
    from cjlab.data import open_source
    from cjlab.data.requirements import unmet

    src = open_source(data_source)
    reason = unmet(REQUIRES, src.available())
    if reason:
        raise NotApplicable(f"The campaign analysis {reason}.")
    tables = _tables(src, engine)
    known = {f.name for f in fields(CampaignOptions)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f"unknown campaign parameter(s) {unknown}")
    return analyse(tables, truth=getattr(src, "truth", None), **params)
