"""Running a mapping on DuckDB: inputs -> parsed rows -> returns -> one row per key -> Parquet.

Each table is one chain of SQL views ending in a ``COPY ... TO`` Parquet statement, so DuckDB
streams the export and spills to disk when memory is short (``CJLAB_DUCKDB_MEMORY_LIMIT``,
``CJLAB_DUCKDB_TEMP_DIRECTORY``). The folder is written under a temporary name and moved into
place at the end: an interrupted import never leaves half a folder behind, and never
replaces an earlier import.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import yaml

from cjlab.data.errors import DataSourceError, MappingError
from cjlab.data.mapping.expr import SQL_TYPES, aggregate_sql, condition_sql, parsed
from cjlab.data.mapping.inputs import explain_read_error, open_input
from cjlab.data.mapping.report import REPORT_JSON, REPORT_TXT, ImportReport, ReturnStats, TableStats
from cjlab.data.mapping.returns import NETTED, RETURN, TARGET, drop_returns, net_returns
from cjlab.data.mapping.spec import (
    ColumnSpec,
    MappingSpec,
    TableSpec,
    condition_columns,
    parse_mapping,
)
from cjlab.data.plausible import Bounds, write_bounds_file
from cjlab.data.typed import q
from cjlab.data.validate import N_EXAMPLES, Problem, ValidationReport

ROW = "__cj_row"
_TEXT_KINDS = ("id", "string", "label")


def load_mapping(mapping: str | Path | Mapping[str, Any]) -> MappingSpec:
    """Read and check a mapping: a YAML file, or the same structure as a dict."""
    if isinstance(mapping, Mapping):
        return parse_mapping(mapping, Path.cwd(), "<mapping>")
    path = Path(mapping).expanduser()
    if not path.is_file():
        raise MappingError("", f"mapping file not found: {path}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError("", f"{path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise MappingError("", f"{path} is not UTF-8 text") from None
    return parse_mapping(doc, path.parent.resolve(), str(path))


def _needs_text(c: ColumnSpec) -> bool:
    return c.source == "column" and (
        c.kind in _TEXT_KINDS
        or bool(c.formats or c.decimal or c.thousands or c.true or c.false or c.map)
    )


def _text_columns(t: TableSpec) -> set[str]:
    """Raw columns of a table's input that the mapping reads as text."""
    out = {str(c.ref) for c in t.columns.values() if _needs_text(c)}
    for cond in (
        t.filter,
        t.returns.when if t.returns else None,
        *(c.when for c in t.columns.values()),
    ):
        out |= condition_columns(cond, text_only=True)
    if t.returns is not None and t.returns.net_to:
        out.add(t.returns.net_to)
    return out


def _with_input_defaults(t: TableSpec, opts: Mapping[str, Any]) -> TableSpec:
    """Number columns take the input's decimal and thousands separators unless they set their own."""
    cols = {}
    for name, c in t.columns.items():
        if c.kind in ("number", "integer") and c.source == "column":
            c = dataclasses.replace(
                c,
                decimal=c.decimal or opts.get("decimal"),
                thousands=c.thousands or opts.get("thousands"),
            )
            if c.decimal == ".":
                c = dataclasses.replace(c, decimal=None)
        cols[name] = c
    return dataclasses.replace(t, columns=cols)


def _check_columns(t: TableSpec, types: Mapping[str, str], source: str) -> None:
    """Every raw column the table names exists in its input (else a MappingError with a hint)."""

    def need(col: str, key: str) -> None:
        if col not in types:
            near = difflib.get_close_matches(col, list(types), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise MappingError(
                key, f"no column {col!r} in {source} (columns: {', '.join(types) or 'none'}){hint}"
            )

    for c in t.columns.values():
        if c.source == "column":
            need(str(c.ref), f"{c.key}.column")
        for _, unit, amount in c.shifts:
            if isinstance(amount, str):
                need(amount, f"{c.key}.{unit}")
        for col in condition_columns(c.when):
            need(col, f"{c.key}.when")
    for col in condition_columns(t.filter):
        need(col, f"{t.key}.filter")
    if t.returns is not None:
        for col in condition_columns(t.returns.when):
            need(col, f"{t.returns.key}.when")
        if t.returns.net_to:
            need(t.returns.net_to, f"{t.returns.key}.net_to")


class _Importer:
    """Builds the tables of one mapping on one DuckDB connection."""

    def __init__(
        self,
        spec: MappingSpec,
        con: duckdb.DuckDBPyConnection,
        out: Path,
        work: Path,
        overrides: Mapping[str, Any],
    ):
        self.spec, self.con, self.out, self.work = spec, con, out, work
        self.overrides = overrides
        self.views: dict[str, tuple[str, dict[str, str], str]] = {}  # source -> view, types, label
        self.report = ImportReport(spec.origin, str(out))
        self.problems: list[Problem] = []

    # -- inputs --------------------------------------------------------------------------------
    def open_inputs(self) -> None:
        used = {t.source for t in self.spec.tables.values()}
        for name, ispec in self.spec.inputs.items():
            if name not in used:
                continue
            text: set[str] = set()
            for t in self.spec.tables.values():
                if t.source == name:
                    text |= _text_columns(_with_input_defaults(t, ispec.options))
            view, paths, types = open_input(
                self.con, ispec, self.overrides.get(name), self.spec.base, text, self.work
            )
            self.views[name] = (view, types, f"input {name!r}")
            self.report.inputs[name] = {
                "files": [str(p) for p in paths],
                "rows": None,
                "columns": list(types),
            }

    def _sql(self, key: str, sql: str) -> Any:
        """Run SQL built from the mapping; DuckDB errors become MappingErrors naming ``key``."""
        try:
            return self.con.execute(sql)
        except (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException) as exc:
            first = str(exc).strip().splitlines()[0]
            raise MappingError(key, first[:400]) from None

    # -- one table -----------------------------------------------------------------------------
    def build_or_explain(self, t: TableSpec) -> None:
        """:meth:`build`, with a read error of the table's input said as a DataSourceError."""
        try:
            self.build(t)
        except duckdb.Error as exc:
            root = t.source
            while root in self.spec.tables:  # a table built from another: its input
                root = self.spec.tables[root].source
            ispec = self.spec.inputs.get(root)
            text = str(exc)
            reading = any(w in text.lower() for w in ("csv error", "unicode", "utf-8", "parquet"))
            if ispec is None or root not in self.report.inputs or not reading:
                raise DataSourceError(f"{t.key}: {text.strip().splitlines()[0][:300]}") from None
            paths = [Path(f) for f in self.report.inputs[root]["files"]]
            raise explain_read_error(exc, ispec, paths) from None

    def build(self, t: TableSpec) -> None:
        view, types, label = self.views[t.source]
        if t.source in self.spec.inputs:
            t = _with_input_defaults(t, self.spec.inputs[t.source].options)
        _check_columns(t, types, label)
        cols = {c.name: parsed(c, types, self.spec.snapshot) for c in t.columns.values()}
        for c in t.columns.values():  # bind each expression alone: errors name their key
            self._sql(c.key, f"SELECT {cols[c.name].expr} FROM {q(view)} LIMIT 0")
        where = condition_sql(t.filter) if t.filter is not None else "TRUE"
        if t.filter is not None:
            self._sql(t.filter.key, f"SELECT {where} FROM {q(view)} LIMIT 0")
        stats = TableStats(grouped_by=t.group_by)
        self._parse_checks(t, view, where, cols, stats)
        select = [f"{p.expr} AS {q(name)}" for name, p in cols.items()]
        if t.returns is not None:
            flag = condition_sql(t.returns.when)
            self._sql(t.returns.when.key, f"SELECT {flag} FROM {q(view)} LIMIT 0")
            select.append(f"{flag} AS {RETURN}")
            if t.returns.net_to:
                key_spec = t.columns[t.group_by[0]]
                target = dataclasses.replace(
                    key_spec, ref=t.returns.net_to, when=None, default=None
                )
                select.append(f"{parsed(target, types, self.spec.snapshot).expr} AS {TARGET}")
        stage = f"st_{t.name}"
        self._sql(
            t.key,
            f"CREATE OR REPLACE TEMP VIEW {stage} AS SELECT {', '.join(select)} "
            f"FROM {q(view)} WHERE {where}",
        )
        if t.returns is not None:
            stage = self._returns(t, stage, stats)
        final = self._group(t, stage, stats) if t.group_by else self._plain(t, stage)
        path = self.out / f"{t.name}.parquet"
        self._sql(
            t.key, f"COPY ({final}) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)"
        )
        self.con.execute(
            f"CREATE OR REPLACE VIEW {q('tb_' + t.name)} AS SELECT * FROM "
            f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
        )
        out_types = {
            r[0]: r[1] for r in self.con.execute(f"DESCRIBE {q('tb_' + t.name)}").fetchall()
        }
        self.views[t.name] = ("tb_" + t.name, out_types, f"table {t.name!r}")
        stats.rows_out = int(
            self.con.execute(f"SELECT count(*) FROM {q('tb_' + t.name)}").fetchone()[0]
        )
        self.report.tables[t.name] = stats

    def _parse_checks(
        self, t: TableSpec, view: str, where: str, cols: Mapping[str, Any], stats: TableStats
    ) -> None:
        """Count rows read and kept, and values that did not parse (with example rows)."""
        checks = [(t.columns[n], p) for n, p in cols.items() if p.check]
        parts = ["count(*)", f"count_if({where})"] + [
            f"count_if({where} AND {p.check})" for _, p in checks
        ]
        counts = self._sql(t.key, f"SELECT {', '.join(parts)} FROM {q(view)}").fetchone()
        stats.rows_in, stats.rows_kept = int(counts[0]), int(counts[1])
        if t.source in self.report.inputs:
            self.report.inputs[t.source]["rows"] = stats.rows_in
        for (c, p), n in zip(checks, counts[2:]):
            if not n:
                continue
            raw = str(c.ref) if c.source == "column" else None
            shown = f", {q(raw)}" if raw else ""
            rows = self.con.execute(
                f"SELECT {ROW}{shown} FROM (SELECT row_number() OVER () AS {ROW}, * FROM {q(view)}) "
                f"WHERE {where} AND {p.check} ORDER BY {ROW} LIMIT {N_EXAMPLES}"
            ).fetchall()
            examples = [{"row": int(r[0]), **({raw: r[1]} if raw else {})} for r in rows]
            source = f"{raw} " if raw else ""
            self.problems.append(
                Problem(
                    t.name,
                    c.name,
                    "unparsed_value",
                    int(n),
                    f"{source}values are not {p.what} ({c.key}); they were left empty — fix the data, "
                    "a filter, or the column's format/type in the mapping",
                    examples=examples,
                )
            )

    def _plain(self, t: TableSpec, stage: str) -> str:
        cols = [c for c in t.columns.values() if c.keep]
        select = ", ".join(_cast(c, q(c.name)) for c in cols)
        return f"SELECT {select} FROM {stage}"  # in the input's order (deterministic, row numbers kept)

    def _group(self, t: TableSpec, stage: str, stats: TableStats) -> str:
        keys = ", ".join(q(g) for g in t.group_by)
        aggs = [c for c in t.columns.values() if c.name not in t.group_by]
        defaulted = [c for c in aggs if c.aggregate is None and c.keep and c.name != t.order_by]
        if defaulted:
            d = ", ".join(f"count(DISTINCT {q(c.name)}) AS d{i}" for i, c in enumerate(defaulted))
            n = self._sql(
                t.key,
                f"SELECT {', '.join(f'count_if(d{i} > 1)' for i in range(len(defaulted)))} "
                f"FROM (SELECT {d} FROM {stage} GROUP BY {keys})",
            ).fetchone()
            for c, k in zip(defaulted, n):
                if k:
                    self.problems.append(
                        Problem(
                            t.name,
                            c.name,
                            "differs_within_group",
                            int(k),
                            f"the value differs between the rows of {int(k):,} {'/'.join(t.group_by)} "
                            f"group(s); the smallest was kept — state aggregate: (first, last, min, max, "
                            f"...) at {c.key}",
                            severity="warning",
                        )
                    )
        select = [f"{q(g)}" for g in t.group_by]
        select += [f"{aggregate_sql(c, t.order_by)} AS {q(c.name)}" for c in aggs]
        netted = t.returns is not None and t.returns.handle == "net"
        if netted:
            select.append(f"bool_or({NETTED}) AS {NETTED}")
        grouped = f"SELECT {', '.join(select)} FROM {stage} GROUP BY {keys}"
        outer = [c for c in t.columns.values() if c.keep]
        where = f" WHERE NOT (COALESCE({NETTED}, FALSE) AND amount <= 0)" if netted else ""
        if netted:
            full = self.con.execute(
                f"SELECT count(*) FROM ({grouped}) WHERE COALESCE({NETTED}, FALSE) AND amount <= 0"
            ).fetchone()[0]
            stats.returns.orders_fully_returned = int(full)  # type: ignore[union-attr]
        order = ", ".join(q(g) for g in t.group_by)
        return (
            f"SELECT {', '.join(_cast(c, q(c.name)) for c in outer)} FROM ({grouped}){where} "
            f"ORDER BY {order}"
        )

    def _returns(self, t: TableSpec, stage: str, stats: TableStats) -> str:
        r = t.returns
        assert r is not None
        stats.returns = ReturnStats(r.handle)
        if r.handle == "drop":
            return drop_returns(self.con, t, stage, stats.returns)
        return net_returns(self.con, t, stage, stats.returns)


def _cast(c: ColumnSpec, expr: str) -> str:
    if c.kind is None or c.aggregate in ("count", "count_distinct"):
        return f"{expr} AS {q(c.name)}"
    return f"CAST({expr} AS {SQL_TYPES[c.kind]}) AS {q(c.name)}"


def _prepare_out(out: Path) -> bool:
    """Check ``out`` can take the import; True when it holds an earlier import (replaced)."""
    if out.exists() and not out.is_dir():
        raise MappingError("--out", f"{out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / REPORT_JSON).exists():
            raise MappingError(
                "--out",
                f"{out} exists and holds other files (it is not an earlier "
                "cjlab import); choose a new folder or empty it",
            )
        return True
    return False


def _connect(work: Path) -> duckdb.DuckDBPyConnection:
    from cjlab.data.source import DataSource

    con = DataSource._connect()
    con.execute("SET enable_progress_bar = false")
    if not os.environ.get("CJLAB_DUCKDB_TEMP_DIRECTORY"):
        con.execute("SET temp_directory = ?", [str(work / "spill")])
    return con


def _validate(folder: Path, problems: list[Problem]) -> ValidationReport:
    from cjlab.data.source import DataSource

    src = DataSource.from_folder(folder)
    try:
        report = src.validate(raise_errors=False)
    finally:
        src.con.close()
    report = ValidationReport(list(report.problems) + problems, dict(report.n_rows))
    order = {"error": 0, "warning": 1, "info": 2}
    report.problems.sort(key=lambda p: order.get(p.severity, 3))
    return report


def _overrides(spec: MappingSpec, input: Any) -> dict[str, Any]:
    """``--input`` values: one path for a single-input mapping, or ``{name: path}``."""
    if input is None:
        return {}
    if isinstance(input, Mapping):
        unknown = [k for k in input if k not in spec.inputs]
        if unknown:
            raise MappingError(
                "--input",
                f"unknown input(s) {', '.join(unknown)} (inputs: {', '.join(spec.inputs)})",
            )
        return dict(input)
    used = [n for n in spec.inputs if any(t.source == n for t in spec.tables.values())]
    if len(used) != 1:
        raise MappingError(
            "--input",
            f"the mapping has several inputs: give --input NAME=PATH for each ({', '.join(used)})",
        )
    return {used[0]: input}


def import_mapping(
    mapping: str | Path | Mapping[str, Any] | MappingSpec,
    out: str | Path,
    input: str | Path | Mapping[str, str | Path] | None = None,
) -> ImportReport:
    """Bring a raw export into the contract: run ``mapping`` and write the folder ``out``.

    Parameters
    ----------
    mapping : a YAML mapping file, the same structure as a dict, or a parsed mapping.
    out : the contract folder to write (one Parquet file per table, plus ``import_report.txt``
        and ``import_report.json``). An earlier import there is replaced; a folder holding
        anything else is refused.
    input : the raw file of a single-input mapping, or ``{input name: path}``; overrides the
        mapping's ``path`` entries.

    Returns
    -------
    ImportReport : rows per step, returns, values that did not parse, and the contract
        validation of the folder (``report.ok``).

    Raises
    ------
    MappingError : the mapping is malformed or names what the input does not have.
    DataSourceError : an input cannot be read (missing, not a file, wrong encoding, ...).

    Examples
    --------
    >>> import_mapping("params/mappings/telco.yaml", "data/telco",
    ...                input="../shared/data/telco_churn_ibm.csv").ok  # doctest: +SKIP
    True
    """
    spec = mapping if isinstance(mapping, MappingSpec) else load_mapping(mapping)
    overrides = _overrides(spec, input)
    out = Path(out).expanduser()
    replaced = _prepare_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.importing-{os.getpid()}"
    work = out.parent / f".{out.name}.work-{os.getpid()}"
    for d in (tmp, work):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
    con = _connect(work)
    try:
        imp = _Importer(spec, con, tmp, work, overrides)
        imp.open_inputs()
        for t in spec.tables.values():
            imp.build_or_explain(t)
        con.close()
        report = imp.report
        report.out = str(out)
        write_bounds(tmp, spec)
        report.validation = _validate(tmp, imp.problems)
        report.replaced = replaced
        (tmp / REPORT_TXT).write_text(report.format() + "\n", encoding="utf-8")
        (tmp / REPORT_JSON).write_text(report.to_json() + "\n", encoding="utf-8")
        _move_into_place(tmp, out)
        return report
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def write_bounds(folder: Path, spec: MappingSpec) -> None:
    """Keep the mapping's plausibility bounds with the folder (read again by validation)."""
    if spec.bounds != Bounds():
        write_bounds_file(folder, spec.bounds)


def _move_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
