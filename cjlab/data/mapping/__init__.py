"""Bringing a raw export into the contract: a declarative YAML mapping, run on DuckDB.

``cjlab import MAPPING.yaml --out FOLDER [--input PATH]`` reads the raw file(s), writes one
Parquet file per contract table into ``FOLDER`` with ``import_report.txt`` / ``.json`` (rows
per step, returns, values that did not parse, and the contract validation), prints the
report, and exits 0 (valid), 1 (the data break the contract or cannot be read) or 2 (the
mapping is malformed). From Python: :func:`import_mapping`. Examples for three shapes of
export are in ``params/mappings/`` (``online_retail.yaml``, ``hillstrom.yaml``, ``telco.yaml``).

The mapping
-----------
.. code-block:: yaml

    description: what the export is                # optional
    snapshot: 2025-12-31                           # the day the export was taken ($snapshot)
    bounds: {earliest: 2009-01-01, latest: 2011-12-31, max_amount: 100000}  # plausibility
    inputs:
      lines:                                       # a name for each raw file
        path: exports/lines.csv                    # relative to the mapping; --input overrides;
                                                   # a glob or a folder reads part files
        format: csv                                # csv | parquet | json (default: by suffix)
        delimiter: ";"                             # csv: delimiter, quote, escape, header, skip,
        encoding: cp1252                           #   encoding (any Python codec), decimal ",",
        decimal: ","                               #   thousands ".", nulls [NA, "-"],
        types: {Quantity: VARCHAR}                 #   types (read a raw column as given),
                                                   #   sample_size
    tables:                                        # contract tables, built in this order
      orders:
        from: lines                                # an input, or a table built above
        filter:                                    # rows kept (all must hold)
          - {column: CustomerID, empty: false}
          - {column: InvoiceNo, not_starts_with: A}
        columns:                                   # output column -> where it comes from
          order_id: InvoiceNo                      # a raw column (renamed)
          customer_id: {column: CustomerID, type: id}          # "13607.0" -> "13607"
          ts: {column: InvoiceDate, type: timestamp, format: "%d/%m/%Y %H:%M", aggregate: min}
          amount: {sql: "Quantity * UnitPrice", type: number, aggregate: sum}
          channel: {value: online}                 # a constant
        group_by: order_id                         # line items -> one row per order
        returns:                                   # returns and cancellations
          when: {column: InvoiceNo, starts_with: C}
          handle: drop                             # drop | net (net_to: COLUMN or match: [...])

Column entries: exactly one source — ``column`` (a raw column), ``value`` (a constant;
``$snapshot`` is the snapshot date), ``sql`` (a DuckDB expression over the raw columns) or
``row_number: true`` (the row's position, e.g. as a unit id) — and optionally ``type`` (id,
string, number, integer, bool, date, timestamp, label; default: the contract's type, else
text), ``format`` (strptime format(s) of a date/timestamp), ``decimal`` / ``thousands``
(separators of a number), ``true`` / ``false`` (the words of a yes/no column), ``map`` (raw
value -> value), ``default`` (for empty values), ``when`` (a condition; empty otherwise),
``minus`` / ``plus`` (``{months: tenure}``: shift a date by a raw column or a number of days,
weeks, months or years), ``aggregate`` (with ``group_by``: min, max, sum, mean, count,
count_distinct, first, last (by ``order_by``), any; default min, and a warning when the
rows of a group disagree) and ``keep: false`` (computed for ``match`` but not written).
Columns outside the contract are written as extra columns and kept by the source.

Conditions (``filter``, ``when``, ``returns.when``): a DuckDB SQL string, a list (all of),
``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``, or ``{column: RAW, OP: value}`` with OP one
of equals, not_equals, in, not_in, starts_with, not_starts_with, contains, matches (regex),
empty (true/false), above, below, at_least, at_most (text is compared trimmed).

Examples
--------
>>> report = import_mapping({"inputs": {"raw": {"path": "customers.csv"}},
...                          "tables": {"customers": {"columns": {"customer_id": "id",
...                                     "first_seen": "since"}}}}, "data/mine")  # doctest: +SKIP
>>> report.ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cjlab.data.errors import DataSourceError, MappingError
from cjlab.data.mapping.report import ImportReport, ReturnStats, TableStats
from cjlab.data.mapping.run import import_mapping, load_mapping
from cjlab.data.mapping.spec import MappingSpec, parse_mapping

__all__ = [
    "ImportReport",
    "MappingError",
    "MappingSpec",
    "ReturnStats",
    "TableStats",
    "command",
    "find_mapping",
    "import_mapping",
    "load_mapping",
    "parse_mapping",
]

EXIT_OK, EXIT_INVALID, EXIT_MAPPING = 0, 1, 2


def find_mapping(name: str | Path) -> Path:
    """A mapping file: the path itself, else ``params/mappings/NAME[.yaml]`` (here or in the project)."""
    p = Path(name).expanduser()
    if p.is_file():
        return p
    roots = [Path.cwd(), Path(__file__).resolve().parents[3]]
    for root in roots:
        for cand in (root / "params" / "mappings" / p, root / "params" / "mappings" / f"{p}.yaml"):
            if cand.is_file():
                return cand
    return p  # load_mapping says it is not found


def _inputs(values: list[str] | None, mapping: MappingSpec) -> str | dict[str, str] | None:
    if not values:
        return None
    named = {}
    for v in values:
        name, sep, path = v.partition("=")
        if sep and name in mapping.inputs:
            named[name] = path
        elif len(values) == 1:
            return v
        else:
            raise MappingError(
                "--input",
                f"{v!r}: with several --input give NAME=PATH (inputs: {', '.join(mapping.inputs)})",
            )
    return named


def command(args: argparse.Namespace) -> int:
    """``cjlab import``: run the mapping, write the folder and its report; exit 0, 1 or 2."""
    try:
        spec = load_mapping(find_mapping(args.mapping))
        report: ImportReport = import_mapping(spec, args.out, _inputs(args.input, spec))
    except MappingError as exc:
        print(f"cjlab import: bad mapping: {exc}", file=sys.stderr)
        return EXIT_MAPPING
    except DataSourceError as exc:
        print(f"cjlab import: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(report.to_json() if args.json else report.format())
    return EXIT_OK if report.ok else EXIT_INVALID
