"""The segmentation analysis of notebook 04: :func:`analyse` on tables, :func:`from_source` on a source.

:class:`SegmentAnalysis` holds every result the report shows (RFM segments, behavioural
segments, customer status, response by channel/device/season), its headline and its KPIs.
Sections whose inputs are absent are listed in ``skipped`` with the sentence saying which data
would enable them: without touchpoints the behavioural segments use order features only and
response is skipped; without a customers table status has no prospects or cancellations.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"order_id": range(8), "customer_id": [1, 1, 2, 3, 3, 3, 4, 5],
...     "ts": pd.to_datetime(["2025-01-05", "2025-06-01", "2025-03-01", "2025-02-01", "2025-04-01",
...                           "2025-06-20", "2025-05-05", "2025-06-02"]),
...     "amount": [10.0, 20.0, 5.0, 40.0, 30.0, 50.0, 8.0, 90.0]})
>>> a = analyse({"orders": orders}, n_bins=2, rules=[{"segment": "All buyers"}], k_min=2, k_max=2)
>>> a.headline().title
'All buyers — 100.0 % of buyers — bring 100.0 % of revenue'
>>> sorted(a.skipped)
['behaviour_inputs', 'response', 'status_inputs']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.features import has
from cjlab.features.behaviour import behaviour_features, missing_inputs
from cjlab.features.rfm import as_of_day
from cjlab.results import KPI, Analysis, Headline, NotApplicable
from cjlab.segments import tables as tb
from cjlab.segments.clustering import BehaviouralSegments
from cjlab.segments.response import DERIVED, response_table
from cjlab.segments.rfm import rfm, segment_summary
from cjlab.segments.rules import check_rules
from cjlab.segments.status import customer_status, status_summary

__all__ = ["SegmentAnalysis", "SegmentParams", "analyse", "from_source"]

#: Topics of the KPIs (sections of the report).
TOPIC_RFM, TOPIC_BEHAVIOUR, TOPIC_STATUS = "RFM segments", "Behavioural segments", "Customer status"


@dataclass(frozen=True, kw_only=True)
class SegmentParams:
    """The parameters of :func:`analyse` (the notebook's parameters carry the same names).

    Parameters
    ----------
    as_of : analysis day (default: the day of the last order); later facts are ignored.
    currency : currency of the amounts, for money figures ("" = plain amounts).
    n_bins, method, monetary, purchase_unit, rules, on_bad : the RFM scores and named segments
        (see :func:`cjlab.segments.rfm.rfm`); ``rules`` None or empty = the default table.
    k_min, k_max, cluster_method, n_boot, sample, random_state : behavioural segments
        (:class:`~cjlab.segments.clustering.BehaviouralSegments`; k from k_min to k_max).
    new_days, active_days, churn_days, return_gap_days : status rules
        (:func:`~cjlab.segments.status.customer_status`).
    response_by, response_window_days, min_customers : response and lift
        (:func:`~cjlab.segments.response.response_table`).
    """

    as_of: Any = None
    currency: str = ""
    n_bins: int = 5
    method: str = "rank"
    monetary: str = "total"
    purchase_unit: str = "order"
    rules: Any = None
    on_bad: str = "drop"
    k_min: int = 2
    k_max: int = 7
    cluster_method: str = "kmeans"
    n_boot: int = 5
    sample: int = 4000
    random_state: int = 0
    new_days: float = 90
    active_days: float = 180
    churn_days: float = 365
    return_gap_days: float = 180
    response_by: Sequence[str] = ("channel", "device", "season")
    response_window_days: float = 7.0
    min_customers: int = 30

    def status_rules(self) -> dict[str, float]:
        """The status rules as :func:`~cjlab.segments.status.customer_status` takes them."""
        return {
            "new_days": self.new_days,
            "active_days": self.active_days,
            "churn_days": self.churn_days,
            "return_gap_days": self.return_gap_days,
        }

    def clustering(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~cjlab.segments.clustering.BehaviouralSegments`."""
        return {
            "k_range": range(self.k_min, self.k_max + 1),
            "method": self.cluster_method,
            "n_boot": self.n_boot,
            "sample": self.sample,
            "random_state": self.random_state,
        }


@dataclass(frozen=True, kw_only=True)
class SegmentAnalysis(Analysis):
    """Everything notebooks/04_segmentation.ipynb shows (see :func:`analyse`).

    Tables for readers come from the methods ending in ``_table`` as ``(frame, formats,
    caption)``, ready for ``cjlab.notebook.table(*a.rfm_table())``.
    """

    as_of: str
    params: SegmentParams = field(default_factory=SegmentParams)
    rfm: pd.DataFrame
    rfm_summary: pd.DataFrame
    rules: pd.DataFrame
    handling: pd.DataFrame
    status: pd.DataFrame
    status_summary: pd.DataFrame
    features: pd.DataFrame | None = None
    behaviour: BehaviouralSegments | None = None
    behaviour_summary: pd.DataFrame | None = None
    response: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    cross: pd.DataFrame | None = None
    recovery: Mapping[str, Any] = field(default_factory=dict)

    # -- headline and KPIs --------------------------------------------------------------------
    @property
    def one_time_share(self) -> float:
        """Share of buyers with a single purchase."""
        return float((self.rfm["frequency"] == 1).mean()) if len(self.rfm) else float("nan")

    def headline(self) -> Headline:
        """The top of the report: which segments carry the revenue, who the customers are."""
        s = self.rfm_summary
        top = s.head(2)
        title = (
            f"{' and '.join(top['segment'])} — {fmt.share(top['customer_share'].sum())} of buyers "
            f"— bring {fmt.share(top['revenue_share'].sum())} of revenue"
        )
        items = {
            "Buyers": f"{fmt.count(len(self.rfm))} buyers spent "
            f"{fmt.money(self.rfm['monetary_total'].sum(), self.currency)} up to {self.as_of}; "
            f"{fmt.share(self.one_time_share)} of them bought only once",
            "Top RFM segments": "; ".join(
                f"{r.segment}: {fmt.count(r.customers)} buyers ({fmt.share(r.customer_share)}), "
                f"{fmt.share(r.revenue_share)} of revenue"
                for r in top.itertuples()
            ),
        }
        if self.behaviour_summary is not None:
            items["Behavioural segments"] = "; ".join(
                f"{r.segment} ({fmt.share(r.share)})" for r in self.behaviour_summary.itertuples()
            )
        st = self.status_summary[self.status_summary["customers"] > 0]
        items["Customer status"] = ", ".join(
            f"{r.status} {fmt.share(r.share)}" for r in st.itertuples()
        )
        return Headline(title, tuple(items.items()))

    @property
    def currency(self) -> str:
        """Currency of the money figures ("" = plain amounts)."""
        return self.params.currency

    @property
    def response_window_days(self) -> float:
        """Days within which an order answers a touch."""
        return self.params.response_window_days

    def kpis(self) -> list[KPI]:
        """Every figure the report records (``kpis.json``), under stable names."""
        return [*self._rfm_kpis(), *self._behaviour_kpis(), *self._status_kpis()]

    def _rfm_kpis(self) -> list[KPI]:
        kpi = partial(KPI, topic=TOPIC_RFM)
        s, n = self.rfm_summary, len(self.rfm)
        revenue = float(self.rfm["monetary_total"].sum())
        out = [
            kpi("buyers", n, "Buyers", unit="count", headline=True),
            kpi(
                "revenue",
                revenue,
                "Revenue of all buyers",
                unit="money",
                currency=self.currency or None,
                headline=True,
            ),
            kpi(
                "one_time_buyer_share",
                self.one_time_share,
                "Buyers who bought only once",
                unit="share",
                n=n,
            ),
        ]
        top = set(s["segment"].head(2))
        for r in s.itertuples():
            out += [
                kpi(
                    "rfm_segment_customers",
                    int(r.customers),
                    "Customers in RFM segment",
                    unit="count",
                    group=r.segment,
                ),
                kpi(
                    "rfm_segment_revenue_share",
                    float(r.revenue_share),
                    "Revenue share of RFM segment",
                    unit="share",
                    group=r.segment,
                    headline=r.segment in top,
                ),
            ]
        return out

    def _behaviour_kpis(self) -> list[KPI]:
        if self.behaviour is None or self.behaviour_summary is None:
            return []
        kpi = partial(KPI, topic=TOPIC_BEHAVIOUR)
        return [
            kpi(
                "behaviour_k",
                int(self.behaviour.k_),
                "Number of behavioural segments",
                unit="count",
            ),
            *(
                kpi(
                    "behaviour_segment_share",
                    float(r.share),
                    "Share of customers in behavioural segment",
                    unit="share",
                    group=r.segment,
                    n=int(r.customers),
                )
                for r in self.behaviour_summary.itertuples()
            ),
        ]

    def _status_kpis(self) -> list[KPI]:
        return [
            KPI(
                "status_share",
                float(r.share),
                "Share of customers by status",
                unit="share",
                group=r.status,
                n=int(r.customers),
                topic=TOPIC_STATUS,
            )
            for r in self.status_summary.itertuples()
        ]

    # -- tables for readers (frame, formats, caption) -----------------------------------------
    def rfm_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """Size and value of each RFM segment."""
        return tb.rfm_table(
            self.rfm_summary,
            self.as_of,
            self.params.n_bins,
            self.params.method,
            self.params.monetary,
            self.currency,
        )

    def rules_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """The named-segment rules and how many buyers each holds."""
        return tb.rules_table(self.rules, self.rfm_summary)

    def behaviour_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """Behavioural segments: size, what distinguishes them, revenue share."""
        return tb.behaviour_table(self.behaviour_summary)

    def status_mix_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """Status mix of each RFM segment."""
        return tb.status_mix_table(self.rfm, self.status)

    def response_top_table(self, by: str, top: int = 5) -> tuple[pd.DataFrame, dict[str, str], str]:
        """The strongest responders by ``by`` (channel, device, season ...)."""
        return tb.response_top_table(self.response[by], by, top)

    def cross_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """Behavioural segment mix of each RFM segment."""
        return tb.cross_table(self.cross)

    def selection_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """For analysts: the criteria compared for the number of behavioural segments."""
        return tb.selection_table(self.behaviour.selection_)

    def recovery_text(self) -> str:
        """For analysts, demo data only: how well the planted segments are found."""
        r = self.recovery
        return (
            f"Demo data: the {len(r['planted'])} planted segments are recovered with an adjusted "
            f"Rand index of {fmt.number(r['ari'], 'score')} (1 = perfect, 0 = chance)."
        )

    def recovery_table(self) -> tuple[pd.DataFrame, dict[str, str], str]:
        """For analysts, demo data only: planted segments (rows) against the segments found."""
        ct = self.recovery["crosstab"]
        frame = ct.reset_index()
        frame.columns.name = None
        return (
            frame,
            {c: "int" for c in ct.columns},
            "Demo data: planted segments (rows) against the segments found (columns)",
        )


def _handling_text(handling: pd.DataFrame) -> str | None:
    """One sentence on problem rows and what was done with them (None when there were none)."""
    if not len(handling):
        return None
    return (
        "Input handling: "
        + "; ".join(
            f"{r.issue}: {fmt.count(r.rows)} rows {r.action}" for r in handling.itertuples()
        )
        + "."
    )


# -- the analysis ------------------------------------------------------------------------------
def _rfm_part(
    orders: Any, customers: Any, day: pd.Timestamp | None, p: SegmentParams
) -> dict[str, Any]:
    rules = p.rules or None
    table = rfm(
        orders,
        day,
        customers=customers,
        n_bins=p.n_bins,
        method=p.method,
        monetary=p.monetary,
        purchase_unit=p.purchase_unit,
        rules=rules,
        on_bad=p.on_bad,
    )
    if not len(table):
        when = f" on or before {day.date()}" if day is not None else ""
        raise NotApplicable(f"needs orders{when} (none are left after the checks)")
    handling = pd.DataFrame(
        table.attrs.get("rfm_handling", []), columns=["issue", "rows", "action"]
    )
    return {
        "rfm": table,
        "rfm_summary": segment_summary(table),
        "handling": handling,
        "rules": check_rules(rules, p.n_bins),
    }


def _and(words: Sequence[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _missing_sentence(missing: Sequence[tuple[str, str, str | None]]) -> str:
    """'The behavioural segments do not use promotions and discounts: they need the promo and
    discount columns of orders.'"""
    whole = [t for _, t, c in missing if c is None]
    cols: dict[str, list[str]] = {}
    for _, t, c in missing:
        if c is not None:
            cols.setdefault(t, []).append(c)
    needs = [f"the {t} table" for t in whole]
    needs += [f"the {_and(c)} column{'s' if len(c) > 1 else ''} of {t}" for t, c in cols.items()]
    return (
        f"The behavioural segments do not use {_and([w for w, _, _ in missing])}: "
        f"they need {_and(needs)}."
    )


def _behaviour_part(
    tables: Mapping[str, Any],
    day: pd.Timestamp,
    revenue: pd.Series,
    skipped: dict[str, str],
    **fit: Any,
) -> dict[str, Any]:
    missing = missing_inputs(tables)
    if missing:
        skipped["behaviour_inputs"] = _missing_sentence(missing)
    feats = behaviour_features(tables, as_of=day)
    try:
        beh = BehaviouralSegments(**fit).fit(feats)
    except ValueError as err:
        skipped["behaviour"] = (
            f"No behavioural segments: {err} (needs more customers or behaviour data)."
        )
        return {"features": feats}
    return {"features": feats, "behaviour": beh, "behaviour_summary": beh.summary(revenue)}


def _status_part(
    orders: Any,
    customers: Any,
    day: pd.Timestamp,
    rules: Mapping[str, float],
    skipped: dict[str, str],
) -> dict[str, Any]:
    if customers is None:
        skipped["status_inputs"] = (
            "Prospects (customers without orders) and cancelled memberships "
            "need the customers table; statuses here come from orders only."
        )
    elif not has(customers, "cancelled_at"):
        skipped["status_inputs"] = (
            f"Cancelled memberships need the cancelled_at column of customers; "
            f"churned here means no order for more than {rules['churn_days']:g} days."
        )
    status = customer_status(orders, customers, day, rules)
    return {"status": status, "status_summary": status_summary(status)}


def _response_part(
    tables: Mapping[str, Any], labels: pd.Series, p: SegmentParams, skipped: dict[str, str]
) -> dict[str, Any]:
    tp = tables.get("touchpoints")
    if tp is None:
        skipped["response"] = "Response by channel, device and season needs the touchpoints table."
        return {}
    by = p.response_by
    wanted = [by] if isinstance(by, str) else list(by)
    lacking = [b for b in wanted if b not in DERIVED and not has(tp, b)]
    if lacking:
        skipped["response_by"] = (
            f"Response by {' and '.join(lacking)} needs the "
            f"{' and '.join(lacking)} column{'s' if len(lacking) > 1 else ''} of touchpoints."
        )
    resp = {
        b: response_table(
            tp,
            tables["orders"],
            b,
            labels,
            window_days=p.response_window_days,
            min_customers=p.min_customers,
        )
        for b in wanted
        if b not in lacking
    }
    few = [b for b, t in resp.items() if t.empty]
    if few:
        skipped["response_by"] = " ".join(
            filter(
                None,
                [
                    skipped.get("response_by"),
                    (
                        f"Response by {' and '.join(few)}: no segment has {p.min_customers} customers reached, "
                        "too few for a rate."
                    ),
                ],
            )
        )
    return {"response": {b: t for b, t in resp.items() if not t.empty}}


def _recovery(truth: pd.DataFrame, beh: BehaviouralSegments) -> dict[str, Any]:
    """Demo data: the planted segments against the segments found (for analysts, never a KPI)."""
    from sklearn.metrics import adjusted_rand_score

    t = truth.set_index("customer_id")["segment"].reindex(beh.labels_.index)
    ok = t.notna()
    found = beh.segments_[ok]
    return {
        "ari": float(adjusted_rand_score(t[ok], beh.labels_[ok])),
        "planted": list(pd.unique(t[ok])),
        "crosstab": pd.crosstab(t[ok].rename("Planted segment"), found.rename("Segment found")),
    }


def analyse(
    tables: Mapping[str, Any], *, truth: pd.DataFrame | None = None, **params: Any
) -> SegmentAnalysis:
    """RFM, behavioural segments, status and response for one data set.

    Parameters
    ----------
    tables : contract tables (pandas, or DuckDB/Spark frames of one source): ``orders``
        required; ``customers`` and ``touchpoints`` used when present.
    truth : demo only: planted segment per customer (customer_id, segment), compared with the
        behavioural segments in ``recovery`` (for analysts, never a KPI).
    **params : the fields of :class:`SegmentParams` (an unknown name is a ``TypeError``).

    Returns
    -------
    :class:`SegmentAnalysis`

    Raises
    ------
    NotApplicable when there is no orders table or no order up to ``as_of``.
    """
    p = SegmentParams(**params)
    orders, customers = tables.get("orders"), tables.get("customers")
    if orders is None:
        raise NotApplicable("needs the orders table")
    day = pd.Timestamp(as_of_day(p.as_of)) if p.as_of not in (None, "") else None
    part = _rfm_part(orders, customers, day, p)
    day = pd.Timestamp(part["rfm"].attrs["as_of"])
    skipped: dict[str, str] = {}
    segment = part["rfm"].set_index("customer_id")["segment"]
    revenue = part["rfm"].set_index("customer_id")["monetary_total"]
    part |= _behaviour_part(tables, day, revenue, skipped, **p.clustering())
    part |= _status_part(orders, customers, day, p.status_rules(), skipped)
    beh = part.get("behaviour")
    labels = beh.segments_ if beh is not None else segment
    part |= _response_part(tables, labels, p, skipped)
    if beh is not None:
        found = beh.segments_.reindex(segment.index).fillna("(no behaviour data)")
        part["cross"] = pd.crosstab(segment, found.to_numpy(), normalize="index")
        if truth is not None and "segment" in truth.columns:
            part["recovery"] = _recovery(truth, beh)
    notes = tuple(filter(None, [_handling_text(part["handling"])]))
    return SegmentAnalysis(as_of=str(day.date()), params=p, skipped=skipped, notes=notes, **part)


def _demo_truth(src: Any) -> pd.DataFrame | None:
    """The planted segment per customer of a demo source (stored beside its tables)."""
    from pathlib import Path

    folder = Path(str(src.location)) / "customer_truth"
    if src.kind != "demo" or not folder.exists():
        return None
    return pd.read_parquet(folder, columns=["customer_id", "segment"])


def from_source(data_source: Any = "demo", **params: Any) -> SegmentAnalysis:
    """:func:`analyse` on a cjlab data source (``"demo"``, a folder, a .duckdb file, ``spark:``...).

    The tables stay where they are (DuckDB relations or Spark DataFrames); the per-customer
    aggregation runs there and only its results come into pandas. On demo data ``as_of``
    defaults to the demo's observation end and the planted segments are compared in
    ``recovery``.

    Raises
    ------
    NotApplicable when the source has no orders.
    """
    from cjlab.data import open_source
    from cjlab.data.requirements import unmet

    src = open_source(data_source)
    reason = unmet([{"orders": []}], src.available())
    if reason:
        raise NotApplicable(reason)
    tables = {
        t: src.lazy(t).to_native()
        for t in ("customers", "orders", "touchpoints")
        if t in src.tables
    }
    if params.get("as_of") in (None, "") and src.truth:
        params["as_of"] = src.truth.get("observation_end")
    return analyse(tables, truth=_demo_truth(src), **params)
