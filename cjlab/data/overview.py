"""What a data source holds: the data overview (notebook ``00_data_overview``).

:func:`from_source` opens a source, validates it and summarises what is there — table sizes
and periods, customers and buyers, acquisition channels, furthest lifecycle stages,
touchpoints and orders per month, experiments and survey waves — into an
:class:`OverviewAnalysis` with its headline and KPIs. It follows the data: a section whose
table or column is absent goes into ``skipped`` with one sentence saying which data would
enable it. The summaries are SQL run by DuckDB over the source's typed tables (the data
layer describes itself; it sits below :mod:`cjlab.features`), so they work out of core and on
every kind of source.

Examples
--------
>>> ov = from_source("demo:n_customers=300,seed=1")
>>> ov.headline().title
'Data passed every contract check'
>>> tables_summary(open_source("demo:n_customers=300,seed=1"))["table"].tolist()[:2]
['customers', 'touchpoints']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cjlab import formatting as fmt
from cjlab.data.contract import CONTRACT, STAGES, TABLES
from cjlab.data.requirements import unmet
from cjlab.data.source import DataSource, open_source
from cjlab.data.typed import q
from cjlab.data.validate import ValidationReport
from cjlab.results import KPI, Analysis, Headline

#: section -> (what it shows, the data it needs)
SECTIONS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "channels": ("Customers by acquisition channel", {"customers": ["acquisition_channel"]}),
    "lifecycle": ("The furthest lifecycle stage", {"touchpoints": []}),
    "touchpoints": ("Touchpoints per month", {"touchpoints": []}),
    "devices": ("Touchpoints per device", {"touchpoints": ["device"]}),
    "orders": ("Orders and revenue", {"orders": []}),
    "experiments": ("Experiments", {"experiment_exposures": []}),
    "surveys": ("Survey waves", {"survey_responses": []}),
}


def tables_summary(src: DataSource) -> pd.DataFrame:
    """One row per table: rows, columns, first and last date, customers, share of empty cells."""
    rows = []
    for t in src.tables:
        cols = src.relation(t).columns
        tcol = CONTRACT[t].time_column
        key = "customer_id" if "customer_id" in cols else ("unit_id" if "unit_id" in cols else None)
        parts = ["count(*)"]
        parts.append(
            f"min(CAST({q(tcol)} AS TIMESTAMP)), max(CAST({q(tcol)} AS TIMESTAMP))"
            if tcol in cols
            else "NULL, NULL"
        )
        parts.append(f"count(DISTINCT {q(key)})" if key else "NULL")
        parts.append(" + ".join(f"count_if({q(c)} IS NULL)" for c in cols) or "0")
        n, first, last, customers, empty = src.con.execute(
            f"SELECT {', '.join(parts)} FROM ({src.typed_sql(t)})"
        ).fetchone()
        rows.append(
            {
                "table": t,
                "rows": n,
                "columns": len(cols),
                "first": first,
                "last": last,
                "customers": customers,
                "empty_cells": (empty / (n * len(cols))) if n and cols else 0.0,
            }
        )
    return pd.DataFrame(
        rows, columns=["table", "rows", "columns", "first", "last", "customers", "empty_cells"]
    )


def _df(src: DataSource, sql: str) -> pd.DataFrame:
    return src.con.execute(sql).df()


def _top(df: pd.DataFrame, by: str, top_n: int) -> pd.DataFrame:
    keep = df.groupby(by)["n"].sum().nlargest(top_n).index
    return df[df[by].isin(keep)].reset_index(drop=True)


def _sections(src: DataSource, have: Mapping[str, set[str]], top_n: int) -> dict[str, Any]:
    """The summary tables of every section whose data are present."""
    t = {name: f"({src.typed_sql(name)})" for name in src.tables}
    out: dict[str, Any] = {}
    if "customers" in have and "acquisition_channel" in have["customers"]:
        out["channels"] = _df(
            src,
            f"SELECT acquisition_channel, count(*) AS customers FROM "
            f"{t['customers']} GROUP BY 1 ORDER BY 2 DESC, 1",
        ).head(top_n)
    if "touchpoints" in have:
        stages = "[" + ", ".join(f"'{s}'" for s in STAGES) + "]"
        furthest = _df(
            src,
            f"SELECT i, count(*) AS customers FROM (SELECT customer_id, "
            f"max(list_position({stages}, stage)) AS i FROM {t['touchpoints']} "
            f"GROUP BY 1) WHERE i IS NOT NULL GROUP BY 1",
        )
        counts = dict(zip(furthest["i"].astype(int), furthest["customers"]))
        f = pd.DataFrame(
            {
                "stage": list(STAGES),
                "customers": [int(counts.get(i + 1, 0)) for i in range(len(STAGES))],
            }
        )
        f["share"] = f["customers"] / max(int(f["customers"].sum()), 1)
        out["lifecycle"] = f
        monthly = "date_trunc('month', ts) AS month"
        out["touchpoints"] = _top(
            _df(
                src,
                f"SELECT {monthly}, channel, count(*) AS n FROM "
                f"{t['touchpoints']} GROUP BY 1, 2 ORDER BY 1, 2",
            ),
            "channel",
            top_n,
        )
        if "device" in have["touchpoints"]:
            out["devices"] = _df(
                src,
                f"SELECT {monthly}, device, count(*) AS n FROM {t['touchpoints']} "
                "WHERE device IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
            )
    if "orders" in have:
        out["orders"] = _df(
            src,
            f"SELECT date_trunc('month', ts) AS month, count(*) AS orders, "
            f"sum(amount) AS revenue FROM {t['orders']} GROUP BY 1 ORDER BY 1",
        )
        out["order_totals"] = src.con.execute(
            f"SELECT count(*), count(DISTINCT customer_id), sum(amount) FROM {t['orders']}"
        ).fetchone()
    if "experiment_exposures" in have:
        out["experiments"] = _df(
            src,
            "SELECT experiment, variant, count(DISTINCT unit_id) AS units, "
            "sum(converted) AS conversions, min(exposed_at) AS first, "
            f"max(exposed_at) AS last FROM {t['experiment_exposures']} "
            "GROUP BY 1, 2 ORDER BY 1, 2",
        )
    if "survey_responses" in have:
        out["surveys"] = _df(
            src,
            "SELECT CAST(wave AS VARCHAR) AS wave, count(*) AS responses FROM "
            f"{t['survey_responses']} GROUP BY 1 ORDER BY 1",
        )
    return out


def _day(v: Any) -> str:
    return fmt.date(pd.Timestamp(v).normalize()) if v is not None and not pd.isna(v) else fmt.MISSING


def _examples(v: Any) -> str:
    if v is None or (not isinstance(v, list | tuple) and pd.isna(v)):
        return ""
    return ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)


def describe_source(spec: str) -> str:
    """A data source in words: ``'demo:n_customers=3000,seed=11'`` -> the demo company ...

    Examples
    --------
    >>> describe_source("demo:n_customers=3000,seed=11")
    'the built-in demo company (3,000 customers, seed 11)'
    >>> describe_source("data/acme")
    'the folder data/acme'
    """
    text = str(spec or "")
    if text.startswith("demo"):
        opts = dict(p.split("=", 1) for p in text.partition(":")[2].split(",") if "=" in p)
        if "n_customers" in opts:
            return (
                f"the built-in demo company ({fmt.count(int(opts['n_customers']))} customers, "
                f"seed {opts.get('seed', '?')})"
            )
        return "the built-in demo company"
    if text.startswith("spark:"):
        return f"Spark tables in {text.removeprefix('spark:')}"
    if text.endswith(".duckdb") or text.startswith("duckdb:"):
        return f"the DuckDB file {text.removeprefix('duckdb:')}"
    return f"the folder {text}" if text else "tables given in Python"


@dataclass(frozen=True, kw_only=True)
class OverviewAnalysis(Analysis):
    """What a data source holds, whether it meets the contract, and its sizes and periods.

    Attributes
    ----------
    spec, fingerprint : the data source (no credentials) and a hash of its content.
    validation : the contract check (every problem).
    tables : :func:`tables_summary`.
    n_customers, n_orders, buyers, revenue : totals (``None`` when the table is absent).
    channels, lifecycle, touchpoints, devices, orders, experiments, surveys : the section
        tables (``None`` when the section is in ``skipped``).
    currency : currency of the amounts (``""``: plain amounts).
    """

    spec: str
    fingerprint: str
    validation: ValidationReport
    tables: pd.DataFrame
    n_customers: int | None = None
    n_orders: int | None = None
    buyers: int | None = None
    revenue: float | None = None
    channels: pd.DataFrame | None = None
    lifecycle: pd.DataFrame | None = None
    touchpoints: pd.DataFrame | None = None
    devices: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    experiments: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None
    currency: str = ""

    @property
    def period(self) -> tuple[Any, Any]:
        """First and last date in any table."""
        p = self.tables.dropna(subset=["first"])
        if not len(p):
            return None, None
        return pd.Timestamp(p["first"].min()).date(), pd.Timestamp(p["last"].max()).date()

    @property
    def buyer_share(self) -> float | None:
        if self.buyers is None or not self.n_customers:
            return None
        return self.buyers / self.n_customers

    @property
    def reached_purchase(self) -> float | None:
        """Share of customers with touchpoints whose furthest stage is purchase or later."""
        if self.lifecycle is None or not self.lifecycle["customers"].sum():
            return None
        return float(self.lifecycle.loc[self.lifecycle["stage"].isin(STAGES[4:]), "share"].sum())

    def problems_table(self) -> pd.DataFrame:
        """The validation problems, one row each, for the report."""
        return self.validation.to_frame()[
            ["severity", "table", "column", "rule", "n_rows", "message", "examples"]
        ]

    def problems_report(self) -> pd.DataFrame:
        """:meth:`problems_table` for readers: headers and rule names in words."""
        d = self.problems_table()
        out = pd.DataFrame(
            {
                "Severity": d["severity"],
                "Table": d["table"],
                "Column": d["column"],
                "Check": d["rule"].astype(str).str.replace("_", " "),
                "Rows affected": d["n_rows"],
                "What it means": d["message"],
                "Examples": d["examples"].map(_examples),
            }
        )
        return out if (out["Examples"] != "").any() else out.drop(columns="Examples")

    def tables_report(self) -> pd.DataFrame:
        """:attr:`tables` for readers (dates as days; *Empty cells* a share)."""
        d = self.tables
        return pd.DataFrame(
            {
                "Table": d["table"].str.replace("_", " "),
                "Rows": d["rows"],
                "Columns": d["columns"],
                "First date": d["first"].map(_day),
                "Last date": d["last"].map(_day),
                "Customers": d["customers"],
                "Empty cells": d["empty_cells"],
            }
        )

    def orders_report(self) -> pd.DataFrame:
        """Orders and revenue per month (``YYYY-MM``)."""
        return pd.DataFrame(
            {
                "Month": pd.to_datetime(self.orders["month"]).dt.strftime("%Y-%m"),
                "Orders": self.orders["orders"],
                "Revenue": self.orders["revenue"],
            }
        )

    def experiments_report(self) -> pd.DataFrame:
        """Units and conversions per experiment and variant, with the days of first and last exposure."""
        d = self.experiments
        return pd.DataFrame(
            {
                "Experiment": d["experiment"],
                "Variant": d["variant"],
                "Units": d["units"],
                "Conversions": d["conversions"],
                "First exposure": d["first"].map(_day),
                "Last exposure": d["last"].map(_day),
            }
        )

    def surveys_report(self) -> pd.DataFrame:
        """Answers per survey wave."""
        return self.surveys.rename(columns={"wave": "Wave", "responses": "Answers"})

    def headline(self) -> Headline:
        v = self.validation
        ok = v.ok
        title = (
            "Data passed every contract check"
            if ok
            else f"The data break the contract in {len(v.errors)} way(s): the analyses will not run"
        )
        items: list[tuple[str, str]] = []
        if self.n_customers is not None:
            text = fmt.count(self.n_customers)
            if self.buyers is not None:
                text += f", {fmt.count(self.buyers)} of them bought ({fmt.share(self.buyer_share)})"
            items.append(("Customers", text))
        if self.revenue is not None:
            items.append(
                (
                    "Orders",
                    f"{fmt.count(self.n_orders)}, revenue {fmt.money(self.revenue, self.currency)}",
                )
            )
        first, last = self.period
        if first is not None:
            items.append(("Period covered", f"{fmt.date(first)} to {fmt.date(last)}"))
        rows = dict(zip(self.tables["table"], self.tables["rows"]))
        items.append(
            (
                "Tables",
                ", ".join(f"{t.replace('_', ' ')} ({fmt.count(n)} rows)" for t, n in rows.items()),
            )
        )
        absent = [t for t in TABLES if t not in rows]
        if absent:
            items.append(("Not in the data", ", ".join(t.replace("_", " ") for t in absent)))
        items.append(("Data source", describe_source(self.spec)))
        items.append(("Validation", f"{len(v.errors)} error(s), {len(v.warnings)} warning(s)"))
        return Headline(title, tuple(items), "good" if ok else "bad")

    def kpis(self) -> list[KPI]:
        out = [
            KPI(
                "validation_errors",
                len(self.validation.errors),
                "Contract errors",
                unit="count",
                higher_is_better=False,
                headline=True,
                topic="data",
            )
        ]
        if self.n_customers is not None:
            out.append(
                KPI(
                    "customers",
                    self.n_customers,
                    "Customers",
                    unit="count",
                    headline=True,
                    topic="data",
                )
            )
        if self.buyers is not None:
            out.append(
                KPI("buyers", self.buyers, "Customers who bought", unit="count", topic="data")
            )
            if self.buyer_share is not None:
                out.append(
                    KPI(
                        "buyer_share",
                        self.buyer_share,
                        "Share of customers who bought",
                        unit="share",
                        higher_is_better=True,
                        headline=True,
                        topic="data",
                        n=self.n_customers,
                    )
                )
            out.append(KPI("orders", self.n_orders, "Orders", unit="count", topic="data"))
            out.append(
                KPI(
                    "revenue",
                    self.revenue,
                    "Revenue in the data",
                    unit="money",
                    currency=self.currency or None,
                    headline=True,
                    topic="data",
                )
            )
        if self.reached_purchase is not None:
            out.append(
                KPI(
                    "furthest_stage_purchase_or_later",
                    self.reached_purchase,
                    "Customers who reached purchase or later",
                    unit="share",
                    higher_is_better=True,
                    topic="lifecycle",
                )
            )
        for t, n in zip(self.tables["table"], self.tables["rows"]):
            out.append(KPI("rows", int(n), f"Rows in {t}", unit="count", group=t, topic="data"))
        return out


def analyse(src: DataSource, *, top_n: int = 12, currency: str = "") -> OverviewAnalysis:
    """Summarise an open source (validated here; invalid data are summarised too, and said so)."""
    validation = src.validate(raise_errors=False)
    have = src.available()
    present = {t: have.get(t, set()) for t in src.tables}
    skipped = {}
    for section, (label, needs) in SECTIONS.items():
        gap = unmet([needs], present)
        if gap:
            skipped[section] = f"{label}: not shown, this section {gap}."
    parts = _sections(src, present, top_n)
    summary = tables_summary(src)
    n_customers = (
        int(summary.loc[summary["table"] == "customers", "rows"].iloc[0])
        if "customers" in src.tables
        else None
    )
    totals = parts.pop("order_totals", None)
    return OverviewAnalysis(
        spec=src.describe()["spec"],
        fingerprint=src.fingerprint(),
        validation=validation,
        tables=summary,
        n_customers=n_customers,
        n_orders=None if totals is None else int(totals[0]),
        buyers=None if totals is None else int(totals[1]),
        revenue=None if totals is None else float(totals[2] or 0.0),
        currency=currency,
        skipped=skipped,
        **parts,
    )


def from_source(
    data_source: str | DataSource = "demo", *, top_n: int = 12, currency: str = ""
) -> OverviewAnalysis:
    """Open ``data_source`` (see :func:`cjlab.data.open_source`) and summarise it.

    Parameters
    ----------
    data_source : ``"demo"``, a folder, a ``.duckdb`` file, ``spark:FOLDER`` or a DataSource.
    top_n : categories shown per chart (channels).
    currency : currency of the amounts (``""``: plain amounts).
    """
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    return analyse(open_source(data_source), top_n=top_n, currency=currency)
