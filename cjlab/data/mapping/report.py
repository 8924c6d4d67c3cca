"""What an import did: rows read, kept and written per table, returns, and the validation.

The report is printed by ``cjlab import`` and written next to the tables it describes
(``import_report.txt`` for people, ``import_report.json`` for programs).

Examples
--------
>>> from cjlab.data.validate import ValidationReport
>>> r = ImportReport("m.yaml", "out", validation=ValidationReport(n_rows={"customers": 2}))
>>> r.tables["customers"] = TableStats(rows_in=3, rows_kept=2, rows_out=2)
>>> print(r.format().splitlines()[1])
  customers: 3 rows read, 1 filtered out, 2 written
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cjlab import formatting as fmt
from cjlab.data.validate import ValidationReport

REPORT_TXT = "import_report.txt"
REPORT_JSON = "import_report.json"


@dataclass
class ReturnStats:
    """Returns and cancellations of one table and what became of them.

    Attributes
    ----------
    handle : ``drop`` or ``net``.
    rows : rows flagged as returns or cancellations.
    orders : distinct order keys among them.
    netted : rows netted against their original order (``net``).
    unmatched : rows whose original order is not in the export (dropped).
    amount_netted : amount subtracted from original orders (positive number).
    orders_fully_returned : orders whose netted amount was zero or less (dropped).
    """

    handle: str
    rows: int = 0
    orders: int = 0
    netted: int = 0
    unmatched: int = 0
    amount_netted: float = 0.0
    orders_fully_returned: int = 0

    def format(self) -> str:
        head = (
            f"{fmt.count(self.rows)} return/cancellation rows ({fmt.count(self.orders)} order keys)"
        )
        if self.handle == "drop":
            return head + ": dropped"
        return (
            head + f": {fmt.count(self.netted)} netted against their original order "
            f"({fmt.plain(self.amount_netted, 2)} subtracted), {fmt.count(self.unmatched)} "
            f"without their original order in the export dropped, "
            f"{fmt.count(self.orders_fully_returned)} orders fully returned dropped"
        )


@dataclass
class TableStats:
    """Row counts of one table through the import steps."""

    rows_in: int = 0  # rows of its input
    rows_kept: int = 0  # after the filter (and before returns and grouping)
    rows_out: int = 0  # rows written
    grouped_by: tuple[str, ...] = ()
    returns: ReturnStats | None = None
    written: bool = True

    def format(self, name: str) -> str:
        parts = [f"{fmt.count(self.rows_in)} rows read"]
        if self.rows_kept != self.rows_in:
            parts.append(f"{fmt.count(self.rows_in - self.rows_kept)} filtered out")
        if self.returns is not None:
            parts.append(self.returns.format())
        if self.grouped_by:
            parts.append(f"one row per {', '.join(self.grouped_by)}")
        parts.append(
            f"{fmt.count(self.rows_out)} written"
            if self.written
            else f"{fmt.count(self.rows_out)} rows (not written: feeds other tables)"
        )
        return f"  {name}: " + ", ".join(parts)


@dataclass
class ImportReport:
    """The result of :func:`cjlab.data.mapping.import_mapping`.

    Attributes
    ----------
    mapping : the mapping file (or ``<mapping>`` for a dict).
    out : the contract folder written.
    inputs : input name -> files read and rows.
    tables : table name -> :class:`TableStats`.
    validation : the contract validation of the folder written, including values that did
        not parse (rule ``unparsed_value``) and columns that differ within a group
        (``differs_within_group``).
    replaced : an earlier import in ``out`` was replaced.
    """

    mapping: str
    out: str
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, TableStats] = field(default_factory=dict)
    validation: ValidationReport = field(default_factory=ValidationReport)
    replaced: bool = False

    @property
    def ok(self) -> bool:
        """True when the folder meets the contract (warnings allowed)."""
        return self.validation.ok

    def format(self) -> str:
        lines = [
            f"Imported {self.mapping} into {self.out}"
            + (" (replacing the earlier import there)" if self.replaced else "")
            + ":"
        ]
        for name, info in self.inputs.items():
            files = ", ".join(info["files"][:3]) + (" …" if len(info["files"]) > 3 else "")
            lines.append(f"  input {name}: {fmt.count(info['rows'])} rows from {files}")
        lines += [s.format(name) for name, s in self.tables.items()]
        lines.append(self.validation.format())
        return "\n".join(lines)

    __str__ = format

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mapping": self.mapping,
            "out": self.out,
            "inputs": self.inputs,
            "tables": {k: asdict(v) for k, v in self.tables.items()},
            "validation": self.validation.to_dict(),
            "replaced": self.replaced,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2)
