"""What validation finds: :class:`Problem` (one broken rule) and :class:`ValidationReport`.

Each problem names the table, the column, the rule, how many rows break it and a few
example rows (1-based data row numbers, i.e. the header line of a CSV is not counted).

Examples
--------
>>> p = Problem("orders", "amount", "below_minimum", 1, "value below the minimum 0",
...             examples=[{"row": 2, "amount": -1.0}])
>>> p.format()
'[error] orders.amount: below_minimum — value below the minimum 0 (1 row); e.g. row 2: amount=-1.0'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

#: example rows shown per problem
N_EXAMPLES = 5


@dataclass
class Problem:
    """One broken rule: where, what, how often, and a few example rows."""

    table: str
    column: str | None
    rule: str
    n_rows: int
    message: str
    severity: str = "error"  # "error" stops a run, "warning" is reported, "info" is a remark
    examples: list[dict[str, Any]] = field(default_factory=list)

    def format(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = "row" if self.n_rows == 1 else "rows"
        head = f"[{self.severity}] {where}: {self.rule} — {self.message}"
        if self.n_rows:
            head += f" ({self.n_rows:,} {rows})"
        if self.examples:
            ex = ", ".join(_format_example(e) for e in self.examples)
            head += f"; e.g. {ex}"
        return head


def _format_example(e: Mapping[str, Any]) -> str:
    items = [f"{k}={v!r}" for k, v in e.items() if k != "row"]
    return f"row {e['row']}: " + ", ".join(items) if "row" in e else ", ".join(items)


@dataclass
class ValidationReport:
    """All problems found in a set of tables.

    Attributes
    ----------
    problems : every broken rule, errors first.
    n_rows : rows per table that was checked.
    """

    problems: list[Problem] = field(default_factory=list)
    n_rows: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[Problem]:
        """Remarks that need no action (e.g. columns kept outside the contract)."""
        return [p for p in self.problems if p.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: table, column, rule, severity, n_rows, message, examples."""
        cols = ["table", "column", "rule", "severity", "n_rows", "message", "examples"]
        rows = [
            {
                **{k: getattr(p, k) for k in cols[:-1]},
                "examples": "; ".join(_format_example(e) for e in p.examples),
            }
            for p in self.problems
        ]
        return pd.DataFrame(rows, columns=cols)

    def format(self) -> str:
        tables = ", ".join(f"{t} ({n:,} rows)" for t, n in self.n_rows.items())
        if not self.errors and not self.warnings:
            lines = [f"Validation passed: {tables}."]
            return "\n".join([*lines, *("  " + p.format() for p in self.problems)])
        head = (
            f"Validation found {len(self.errors)} error(s) and {len(self.warnings)} warning(s) "
            f"in {tables}:"
        )
        return "\n".join([head, *("  " + p.format() for p in self.problems)])

    __str__ = format

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "problems": [asdict(p) for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2)

    def raise_for_errors(self) -> ValidationReport:
        """Raise :class:`DataValidationError` when any error was found; return self otherwise."""
        if not self.ok:
            raise DataValidationError(self)
        return self


class DataValidationError(ValueError):
    """Input data break the contract; ``.report`` holds every problem."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.format())
