"""What an analysis needs of the data, and whether a source has it.

A notebook declares, in its metadata (``metadata.cjlab.requires``), the tables and columns it
needs at minimum, as a list of alternatives: the notebook applies when *any* alternative is
met. Each alternative maps a contract table to the columns it needs beyond the table's
required ones (an optional column counts only when at least one row has a value). The runner
checks this before any kernel starts and marks a notebook whose minimum is missing as *not
applicable*, with the sentence :func:`unmet` returns; analyses use the same check for their
optional sections.

Examples
--------
>>> avail = {"customers": {"customer_id", "first_seen"}, "orders": {"order_id", "customer_id", "ts", "amount"}}
>>> unmet([{"survey_responses": []}], avail)
'needs the survey_responses table'
>>> unmet([{"customers": ["cancelled_at"]}, {"orders": []}], avail) is None
True
>>> unmet([{"customers": ["cancelled_at"]}], avail)
'needs the cancelled_at column of customers'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

#: table -> columns needed (beyond the table's required columns)
Requirement = Mapping[str, Sequence[str]]


def _one(req: Requirement, available: Mapping[str, Iterable[str]]) -> list[str]:
    """The missing pieces of one alternative, as phrases."""
    out = []
    for table, cols in req.items():
        if table not in available:
            out.append(f"the {table} table")
            continue
        have = set(available[table])
        missing = [c for c in cols if c not in have]
        if missing:
            word = "column" if len(missing) == 1 else "columns"
            out.append(f"the {' and '.join(missing)} {word} of {table}")
    return out


def _phrase(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def unmet(alternatives: Sequence[Requirement], available: Mapping[str, Iterable[str]]) -> str | None:
    """``None`` when one alternative is met, else a sentence saying which data would enable it.

    Parameters
    ----------
    alternatives : requirements, any one of which suffices (an empty list: always met).
    available : table -> columns that hold at least one value
        (:meth:`cjlab.data.DataSource.available`).
    """
    if not alternatives:
        return None
    gaps = [_one(req, available) for req in alternatives]
    if any(not g for g in gaps):
        return None
    return "needs " + ", or ".join(_phrase(g) for g in gaps)


def has_columns(available: Mapping[str, Iterable[str]], table: str, *columns: str) -> bool:
    """True when ``table`` is present and each of ``columns`` holds at least one value."""
    return table in available and set(columns) <= set(available[table])
