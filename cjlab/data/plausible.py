"""Plausibility rules of the contract: dates after the run's day or before a sane earliest
date, and amounts beyond a ceiling.

They are checked like every other contract rule (table, column, rule, rows, examples) and are
errors: an order dated 2099 or an amount of 1e308 would otherwise reach a headline. The
bounds have defaults and can be stated per data set — in a mapping (``bounds:``, see
:mod:`cjlab.data.mapping`), which ``cjlab import`` keeps next to the tables
(:data:`BOUNDS_FILE`), or from Python (``DataSource.validate(bounds=...)``).

Defaults: nothing dated after the day of the run (``latest`` = today); events (touchpoints,
orders, exposures) not before 1970-01-02 (catches the 1970-01-01 of an empty Unix time);
customer dates (first seen, birth date, cancellation) not before 1900-01-02 (catches
spreadsheet zero dates); an order amount, discount or experiment revenue at most 1e9.

Examples
--------
>>> import datetime as dt
>>> [r[0] for r in rules("orders", "ts", "timestamp", Bounds(), dt.date(2026, 1, 1))]
['after_latest_date', 'before_earliest_date']
>>> rules("orders", "amount", "number", Bounds(max_amount=5000), dt.date(2026, 1, 1))[0][2]
'amount above the plausible ceiling 5,000 (set bounds.max_amount in the mapping if it is real)'
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

#: the file in a contract folder that holds its bounds (written by ``cjlab import``)
BOUNDS_FILE = "bounds.json"
EVENT_EARLIEST = dt.date(1970, 1, 2)
CUSTOMER_EARLIEST = dt.date(1900, 1, 2)
MAX_AMOUNT = 1e9
#: money columns checked against ``max_amount``
MONEY = {("orders", "amount"), ("orders", "discount"), ("experiment_exposures", "revenue")}


@dataclass(frozen=True)
class Bounds:
    """Plausible ranges of a data set (``None``: the default).

    Parameters
    ----------
    earliest : no date or timestamp before this day.
    latest : no date or timestamp after this day (default: the day of the run).
    max_amount : no order amount, discount or experiment revenue above this.
    """

    earliest: dt.date | None = None
    latest: dt.date | None = None
    max_amount: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "earliest": self.earliest and self.earliest.isoformat(),
            "latest": self.latest and self.latest.isoformat(),
            "max_amount": self.max_amount,
        }


def _ts(name: str) -> str:
    q = '"' + name.replace('"', '""') + '"'
    return f"TRY_CAST(CAST({q} AS VARCHAR) AS TIMESTAMP)"


def rules(
    table: str, column: str, kind: str, bounds: Bounds, today: dt.date
) -> list[tuple[str, str, str]]:
    """The plausibility rules of one column: ``(rule, SQL predicate true when broken, message)``."""
    out = []
    if kind in ("date", "timestamp"):
        latest = bounds.latest or today
        why = "the bounds" if bounds.latest else "the day of the run"
        out.append(
            (
                "after_latest_date",
                f"{_ts(column)} >= TIMESTAMP '{latest + dt.timedelta(days=1)}'",
                f"dated after {latest.isoformat()} ({why}); a date in the future is a data error",
            )
        )
        default = CUSTOMER_EARLIEST if table == "customers" else EVENT_EARLIEST
        earliest = bounds.earliest or default
        out.append(
            (
                "before_earliest_date",
                f"{_ts(column)} < TIMESTAMP '{earliest}'",
                f"dated before {earliest.isoformat()}, which is not plausible (a placeholder "
                "date?); set bounds.earliest in the mapping if it is real",
            )
        )
    if (table, column) in MONEY:
        ceiling = bounds.max_amount or MAX_AMOUNT
        num = f'TRY_CAST("{column}" AS DOUBLE)'
        out.append(
            (
                "above_ceiling",
                f"{num} > {ceiling!r} AND NOT isinf({num})",
                f"amount above the plausible ceiling {ceiling:,.0f} (set bounds.max_amount in "
                "the mapping if it is real)",
            )
        )
    return out


def write_bounds_file(folder: Path, bounds: Bounds) -> None:
    """Keep ``bounds`` with a contract folder."""
    (Path(folder) / BOUNDS_FILE).write_text(
        json.dumps(bounds.to_dict(), indent=2) + "\n", encoding="utf-8"
    )


def read_bounds_file(folder: Path) -> Bounds:
    """The bounds kept with a contract folder (defaults when there is no file)."""
    path = Path(folder) / BOUNDS_FILE
    if not path.is_file():
        return Bounds()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Bounds(
            dt.date.fromisoformat(doc["earliest"]) if doc.get("earliest") else None,
            dt.date.fromisoformat(doc["latest"]) if doc.get("latest") else None,
            float(doc["max_amount"]) if doc.get("max_amount") else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        from cjlab.data.errors import DataSourceError

        raise DataSourceError(
            f"{path} is not a valid bounds file ({exc}); delete it or import the data again"
        ) from None
