"""Data sources: where the five contract tables come from.

A source is opened from one string, so notebooks take it as a single parameter:

``"demo"``
    the built-in demo company (20,000 customers, seed 42), generated once into a cache folder
    (``$CJLAB_CACHE`` or ``~/.cache/cjlab``); ``"demo:n_customers=2000,seed=7"`` for other sizes.
a folder
    ``<table>.parquet``, ``<table>.csv`` (also ``.csv.gz``) or a sub-folder ``<table>/`` of
    Parquet/CSV part files, for each contract table present.
``*.duckdb`` / ``duckdb:PATH``
    a DuckDB database file holding tables named after the contract tables (opened read-only).
``spark:FOLDER`` / ``spark:demo[:...]``
    the same folder forms read by Spark (the active SparkSession, else a local-mode one from
    :func:`cjlab.data.spark.session`): :meth:`DataSource.lazy` hands out Spark DataFrames, so
    the portable aggregations run in Spark; validation and ``con`` read the same files with
    DuckDB.

From Python, :meth:`DataSource.from_frames` wraps in-memory DataFrames,
:meth:`DataSource.from_spark` wraps Spark DataFrames, catalog tables or file paths, and
:meth:`DataSource.from_sql` runs one SQL query per table on an existing database connection
(credentials stay in the connection; only the queries are recorded).

Every source exposes the raw tables to DuckDB, validates them with SQL
(:mod:`cjlab.data.validate`) and hands out typed pandas DataFrames (:meth:`DataSource.load`) or
lazy narwhals frames for portable aggregation (:meth:`DataSource.lazy`).

Examples
--------
>>> import pandas as pd
>>> src = DataSource.from_frames({"customers": pd.DataFrame(
...     {"customer_id": [1, 2], "first_seen": ["2025-01-01", "2025-02-01"]})})
>>> src.load("customers")["customers"]["first_seen"].dtype.kind
'M'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cjlab.data.contract import CONTRACT, TABLES
from cjlab.data.demo import DEFAULT_DEMO, cache_dir, demo_folder, parse_demo_spec
from cjlab.data.errors import DataSourceError
from cjlab.data.files import (
    check_readable,
    explain_read_error,
    find_table,
    fingerprint_paths,
    fingerprint_tables,
    redact,
    table_path,
    time_limit,
)
from cjlab.data.plausible import Bounds, read_bounds_file
from cjlab.data.spark import open_spark, spark_frames_source, spark_read, spark_typed
from cjlab.data.typed import q as _q
from cjlab.data.typed import typed_select
from cjlab.data.validate import DataValidationError, Problem, ValidationReport, validate_views

#: seconds a validation may read before it is stopped (``$CJLAB_READ_TIMEOUT``)
READ_TIMEOUT = 900.0

__all__ = [
    "DEFAULT_DEMO",
    "DataSource",
    "DataSourceError",
    "cache_dir",
    "demo_folder",
    "open_source",
    "parse_demo_spec",
]


class DataSource:
    """The contract tables of one source, exposed to DuckDB.

    Use :func:`open_source` to create one from a string.

    Attributes
    ----------
    kind : ``"demo"``, ``"folder"``, ``"duckdb"``, ``"frames"``, ``"sql"`` or ``"spark"``.
    location : where the data come from (no credentials).
    truth : planted ground truth for demo sources, otherwise ``None``.
    con : the DuckDB connection that sees the raw tables as views ``raw_<table>``.
    """

    _spark_folder: Path | None = None

    def __init__(
        self,
        kind: str,
        location: str,
        con: duckdb.DuckDBPyConnection,
        views: Mapping[str, str],
        truth: dict[str, Any] | None = None,
        fingerprint: Callable[[], str] | str | None = None,
        spec: str | None = None,
    ):
        self.kind = kind
        self.location = location
        self.con = con
        self.views = dict(views)
        self.truth = truth
        self.spec = spec or location
        self._fingerprint = fingerprint
        self._report: ValidationReport | None = None
        self._validated: set[str] = set()
        self.spark: Any = None  # the SparkSession of a Spark source
        self.spark_frames: dict[str, Any] = {}  # raw Spark DataFrames of a Spark source
        self.bounds = Bounds()  # plausibility bounds (a folder's bounds.json, or set by the caller)
        self.files: dict[str, Path] = {}  # table -> its file or part folder (folder sources)
        self.problems: list[Problem] = []  # tables that could not be opened (reported by validate)

    # -- constructors -------------------------------------------------------------------
    @staticmethod
    def _connect() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        # opt-in bounds for large data (notebooks only take data_source): spill instead of
        # using up to DuckDB's default of 80% of the machine's memory
        if os.environ.get("CJLAB_DUCKDB_MEMORY_LIMIT"):
            con.execute("SET memory_limit = ?", [os.environ["CJLAB_DUCKDB_MEMORY_LIMIT"]])
        if os.environ.get("CJLAB_DUCKDB_TEMP_DIRECTORY"):
            con.execute("SET temp_directory = ?", [os.environ["CJLAB_DUCKDB_TEMP_DIRECTORY"]])
        if os.environ.get("CJLAB_DUCKDB_THREADS"):
            con.execute("SET threads = ?", [int(os.environ["CJLAB_DUCKDB_THREADS"])])
        return con

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        kind: str = "folder",
        truth: dict | None = None,
        spec: str | None = None,
    ) -> DataSource:
        """Tables from ``<table>.parquet|.csv|.csv.gz`` files or ``<table>/`` part folders.

        A table whose file cannot be read (a directory or empty folder where a file is expected,
        a symbolic link loop, a FIFO or device, an empty, unreadable or corrupt file, a format
        cjlab does not read) is left out and reported by :meth:`validate` as an error naming the
        file; nothing but regular files is opened, so a FIFO never blocks.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise DataSourceError(f"data folder not found: {folder}")
        con = cls._connect()
        views: dict[str, str] = {}
        files: dict[str, Path] = {}
        problems: list[Problem] = []
        for table in TABLES:
            path, scan, problem = find_table(folder, table)
            if path is None:
                continue
            files[table] = path
            if problem is None and scan is not None:
                try:
                    con.execute(f"CREATE VIEW {_q('raw_' + table)} AS SELECT * FROM {scan}")
                    views[table] = "raw_" + table
                except duckdb.Error as exc:
                    problem = explain_read_error(exc, path, table)
            if problem is not None:
                problems.append(Problem(table, None, "unreadable_file", 0, problem))
        if not views and not problems:
            raise DataSourceError(
                f"no contract tables found in {folder}: expected files named "
                + ", ".join(f"{t}.csv/.parquet" for t in TABLES)
            )
        src = cls(
            kind,
            str(folder),
            con,
            views,
            truth,
            fingerprint=lambda: fingerprint_paths(folder, views),
            spec=spec,
        )
        src.files, src.problems = files, problems
        src.bounds = read_bounds_file(folder)
        return src

    @classmethod
    def from_duckdb(cls, path: str | Path, spec: str | None = None) -> DataSource:
        """Tables named after the contract tables in a DuckDB database file (read-only).

        A file that is not a readable DuckDB database is reported by :meth:`validate` as an
        error naming it.
        """
        path = Path(path)
        if not os.path.lexists(path):
            raise DataSourceError(f"DuckDB file not found: {path}")
        con = cls._connect()
        views: dict[str, str] = {}
        try:
            check_readable(path, "DuckDB database")
            con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS src (READ_ONLY)")
        except (DataSourceError, duckdb.Error) as exc:
            text = (
                str(exc)
                if isinstance(exc, DataSourceError)
                else (
                    f"{path.name} is not a readable DuckDB database ({str(exc).strip().splitlines()[0][:200]}): "
                    "give a database written by DuckDB, or the folder of the tables' files"
                )
            )
            src = cls("duckdb", str(path), con, views, spec=spec, fingerprint="unreadable")
            src.problems = [Problem(path.name, None, "unreadable_file", 0, text)]
            return src
        present = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src'"
            ).fetchall()
        }
        for t in TABLES:
            if t in present:
                con.execute(f"CREATE VIEW {_q('raw_' + t)} AS SELECT * FROM src.{_q(t)}")
                views[t] = "raw_" + t
        if not views:
            raise DataSourceError(f"{path} holds none of the contract tables ({', '.join(TABLES)})")
        return cls(
            "duckdb",
            str(path),
            con,
            views,
            spec=spec,
            fingerprint=lambda: fingerprint_tables(con, views),
        )

    @classmethod
    def from_frames(
        cls, frames: Mapping[str, pd.DataFrame], truth: dict | None = None
    ) -> DataSource:
        """Wrap in-memory pandas DataFrames (one per contract table)."""
        con = cls._connect()
        views = {}
        for name, df in frames.items():
            con.register("raw_" + name, df)
            views[name] = "raw_" + name
        return cls(
            "frames",
            "in-memory DataFrames",
            con,
            views,
            truth,
            fingerprint=lambda: fingerprint_tables(con, views),
        )

    @classmethod
    def from_sql(
        cls, connection: Any, queries: Mapping[str, str], location: str = "SQL"
    ) -> DataSource:
        """Run one SQL query per table on a DB-API/SQLAlchemy connection or a DuckDB connection.

        Credentials belong in the connection (read them from environment variables); only
        the queries are recorded in the report manifest.
        """
        con = cls._connect()
        views = {}
        for name, sql in queries.items():
            if isinstance(connection, duckdb.DuckDBPyConnection):
                df = connection.execute(sql).df()
            else:
                df = pd.read_sql(sql, connection)
            con.register("raw_" + name, df)
            views[name] = "raw_" + name
        src = cls("sql", location, con, views, fingerprint=lambda: fingerprint_tables(con, views))
        src.queries = dict(queries)
        return src

    @classmethod
    def from_spark(
        cls,
        spark: Any,
        tables: str | Path | Mapping[str, Any],
        *,
        truth: dict | None = None,
        spec: str | None = None,
        collect_limit: int = 2_000_000,
    ) -> DataSource:
        """Tables held by Spark: a folder of Parquet/CSV, or per table a DataFrame, path or catalog name.

        :meth:`lazy` returns the typed Spark DataFrame (wrapped by narwhals), so the portable
        aggregations of :mod:`cjlab.features` run in Spark and only their small results
        are collected. Validation, :meth:`typed_sql`, :meth:`relation` and ``con`` use DuckDB
        over the *same files* (``DataFrame.inputFiles()``), read in place and out of core.
        A DataFrame without local files (computed, or on remote storage) is copied into the
        DuckDB side through Arrow when it has at most ``collect_limit`` rows.

        Parameters
        ----------
        spark : a ``pyspark.sql.SparkSession`` (local, cluster or Spark Connect); for a folder it
            may be ``None``: :func:`cjlab.data.spark.session` is then called on first use.
        tables : a folder laid out as for :meth:`from_folder`, or a mapping table name ->
            Spark DataFrame, file/folder path, or catalog table name.
        truth : planted ground truth (demo data).
        spec : the spec string recorded in manifests.
        collect_limit : largest number of rows copied to DuckDB for a DataFrame without files.

        Examples
        --------
        >>> from cjlab.data.spark import local_session  # doctest: +SKIP
        >>> src = DataSource.from_spark(local_session(), "/data/events")  # doctest: +SKIP
        >>> aggregate.customer_orders(src.lazy("orders"))  # runs in Spark  # doctest: +SKIP
        """
        if isinstance(tables, (str, Path)):
            folder = Path(tables)
            src = cls.from_folder(folder, kind="spark", truth=truth, spec=spec)
            src._spark_folder = folder
            src.spark = spark  # None: started on first use (validation alone needs no JVM)
            if spark is not None:
                for t in src.tables:
                    src.spark_frames[t] = spark_read(spark, table_path(folder, t))
            return src
        return spark_frames_source(
            cls, spark, tables, truth=truth, spec=spec, collect_limit=collect_limit
        )

    # -- access -----------------------------------------------------------------------------
    @property
    def tables(self) -> list[str]:
        """Contract tables present in this source."""
        return [t for t in TABLES if t in self.views]

    def raw(self, table: str) -> duckdb.DuckDBPyRelation:
        """The raw table as a DuckDB relation (columns as delivered)."""
        self._require(table)
        return self.con.table(self.views[table])

    def _require(self, table: str) -> None:
        if table not in CONTRACT:
            raise DataSourceError(f"unknown table {table!r}; contract tables: {', '.join(TABLES)}")
        if table not in self.views:
            raise DataSourceError(
                f"table {table!r} is not in the data source {self.location} "
                f"(present: {', '.join(self.tables) or 'none'})"
            )

    def typed_sql(self, table: str) -> str:
        """SQL selecting ``table`` with every contract column cast to its type.

        Columns outside the contract (customer attributes such as a contract type) are kept
        with their own type, so analyses can use them.
        """
        self._require(table)
        view = self.views[table]
        types = {
            r[0]: r[1] for r in self.con.execute(f"DESCRIBE SELECT * FROM {_q(view)}").fetchall()
        }
        return f"SELECT {', '.join(typed_select(types, CONTRACT[table]))} FROM {_q(view)}"

    def available(self) -> dict[str, set[str]]:
        """Table -> the columns that hold at least one value (what requirements are checked on).

        An optional column that is present but empty in every row does not count: a section
        that needs it is skipped just as when the column is absent. Computed once per source.
        """
        if getattr(self, "_available", None) is None:
            out: dict[str, set[str]] = {}
            for t in self.tables:
                cols = list(self.raw(t).columns)
                if not cols:
                    out[t] = set()
                    continue
                counts = self.con.execute(
                    "SELECT "
                    + ", ".join(f"count({_q(c)})" for c in cols)
                    + f" FROM {_q(self.views[t])}"
                ).fetchone()
                out[t] = {c for c, n in zip(cols, counts) if n}
            self._available = out
        return {t: set(c) for t, c in self._available.items()}

    def relation(self, table: str) -> duckdb.DuckDBPyRelation:
        """Typed DuckDB relation of ``table`` (lazy; nothing is read yet)."""
        return self.con.sql(self.typed_sql(table))

    def lazy(self, table: str, validate: bool = True):
        """Typed ``table`` as a narwhals LazyFrame for portable aggregation.

        Backed by DuckDB, or by Spark for a Spark source (:meth:`spark_frame`).
        """
        import narwhals as nw

        if validate:
            self.validate([table])
        if self.kind == "spark":
            return nw.from_native(self.spark_frame(table))
        return nw.from_native(self.relation(table))

    def spark_frame(self, table: str) -> Any:
        """Typed ``table`` as a Spark DataFrame (Spark sources only); columns cast as in :meth:`typed_sql`."""
        self._require(table)
        if table not in self.spark_frames and getattr(self, "_spark_folder", None) is not None:
            if self.spark is None:
                from cjlab.data.spark import session

                self.spark = session()
            self.spark_frames[table] = spark_read(self.spark, table_path(self._spark_folder, table))
        if table not in self.spark_frames:
            raise DataSourceError(
                f"{self!r} is not a Spark source; open it with 'spark:...' or from_spark"
            )
        return spark_typed(self.spark_frames[table], CONTRACT[table])

    def validate(
        self, tables: Iterable[str] | None = None, raise_errors: bool = True
    ) -> ValidationReport:
        """Validate ``tables`` (default: all present) and the customer keys they use.

        Tables that could not be opened or read are errors of the report (``unreadable_file``,
        ``unreadable_table``: the message names the file and what to do) and are dropped from
        the source. Reading is bounded in time by ``$CJLAB_READ_TIMEOUT`` seconds (default 900).

        Raises :class:`~cjlab.data.validate.DataValidationError` with every problem when
        ``raise_errors`` and anything is wrong.
        """
        wanted = list(tables) if tables is not None else self.tables
        for t in wanted:
            self._require(t)
        check = set(wanted) | ({"customers"} if "customers" in self.views else set())
        if not check <= self._validated or self._report is None:
            views = {t: self.views[t] for t in TABLES if t in check | self._validated}
            with time_limit(self.con, READ_TIMEOUT):
                found = validate_views(
                    self.con, views, require=wanted, bounds=self.bounds, explain=self._explain
                )
            self._report = self._with_open_problems(found)
            self._validated = set(views)
        report = self._report
        if raise_errors and not report.ok:
            relevant = [
                p
                for p in report.errors
                if p.table in set(wanted) | {"customers"} or p.rule == "unreadable_file"
            ]
            if relevant:
                raise DataValidationError(ValidationReport(relevant, report.n_rows))
        return report

    def _explain(self, table: str, exc: BaseException) -> str:
        path = self.files.get(table)
        if path is None:
            return f"the {table} table cannot be read: {str(exc).strip().splitlines()[0][:300]}"
        return explain_read_error(exc, path, table)

    def _with_open_problems(self, report: ValidationReport) -> ValidationReport:
        """Add the tables that could not be opened; drop the tables that could not be read."""
        broken = {p.table for p in report.problems if p.rule == "unreadable_table"}
        for t in broken:
            self.views.pop(t, None)
        gone = broken | {p.table for p in self.problems}
        kept = [p for p in report.problems if not (p.rule == "missing_table" and p.table in gone)]
        report = ValidationReport([*self.problems, *kept], report.n_rows)
        order = {"error": 0, "warning": 1, "info": 2}
        report.problems.sort(key=lambda p: order.get(p.severity, 3))
        return report

    def load(self, *tables: str, validate: bool = True) -> dict[str, pd.DataFrame]:
        """Typed pandas DataFrames of ``tables`` (validated first unless ``validate=False``).

        PII columns (``email``, ``name``) are dropped: analyses never need them.
        """
        names = list(tables) or self.tables
        if validate:
            self.validate(names)
        out = {}
        for t in names:
            df = self.relation(t).df()
            pii = [c for c in CONTRACT[t].pii if c in df.columns]
            out[t] = df.drop(columns=pii)
        return out

    def table(self, table: str, validate: bool = True) -> pd.DataFrame:
        """One typed table as a pandas DataFrame (see :meth:`load`)."""
        return self.load(table, validate=validate)[table]

    def row_counts(self) -> dict[str, int]:
        return {
            t: int(self.con.execute(f"SELECT count(*) FROM {_q(self.views[t])}").fetchone()[0])
            for t in self.tables
        }

    def fingerprint(self) -> str:
        """A short hash identifying the data content (for the report manifest)."""
        fp = self._fingerprint
        if callable(fp):
            fp = fp()
            self._fingerprint = fp
        return fp or "unknown"

    def describe(self) -> dict[str, Any]:
        """Kind, location (no credentials), fingerprint and row counts — for manifests."""
        return {
            "kind": self.kind,
            "spec": redact(self.spec),
            "location": redact(self.location),
            "fingerprint": self.fingerprint(),
            "tables": self.row_counts(),
            **({"queries": self.queries} if hasattr(self, "queries") else {}),
        }

    def __repr__(self) -> str:
        return f"DataSource(kind={self.kind!r}, location={redact(self.location)!r}, tables={self.tables})"


def open_source(
    spec: str | Path | DataSource | None = "demo", progress: bool = False
) -> DataSource:
    """Open a data source from a string (see the module docstring for the forms).

    Parameters
    ----------
    spec : ``"demo"``, ``"demo:n_customers=2000,seed=7"``, a folder, a ``.duckdb`` file,
        ``"duckdb:PATH"``, ``"spark:FOLDER"`` / ``"spark:demo..."`` (Spark), or an existing
        :class:`DataSource` (returned as is).
    progress : show a progress bar while generating demo data.

    Examples
    --------
    >>> src = open_source("demo:n_customers=300,seed=1")
    >>> src.kind, src.tables[0]
    ('demo', 'customers')
    """
    if isinstance(spec, DataSource):
        return spec
    text = "demo" if spec is None or str(spec).strip() == "" else str(spec).strip()
    if text == "demo" or text.startswith("demo:"):
        opts = parse_demo_spec(text)
        folder = demo_folder(progress=progress, **opts)
        truth = json.loads((folder / "truth.json").read_text())
        return DataSource.from_folder(
            folder,
            kind="demo",
            truth=truth,
            spec=f"demo:n_customers={opts['n_customers']},seed={opts['seed']}",
        )
    if text.startswith("spark:"):
        return open_spark(DataSource, text)
    if text.startswith("telco:"):
        raise DataSourceError(
            "the telco: source is gone: bring IBM's telco file into the contract with its mapping, "
            "`cjlab import params/mappings/telco.yaml --input "
            f"{text.split(':', 1)[1] or 'telco_churn_ibm.csv'} --out data/telco`, then use --data data/telco"
        )
    if text.startswith("duckdb:"):
        return DataSource.from_duckdb(text.split(":", 1)[1], spec=text)
    path = Path(text).expanduser()
    if path.is_dir():
        return DataSource.from_folder(path, spec=text)
    if path.suffix.lower() in (".duckdb", ".db", ".ddb") and os.path.lexists(path):
        return DataSource.from_duckdb(path, spec=text)
    if os.path.lexists(path) and not path.exists():
        check_readable(path, "data source")  # a symbolic link loop or a link to nothing
    if not path.exists():
        raise DataSourceError(
            f"data source {text!r} not found: give 'demo', a folder of <table>.csv/.parquet files, "
            "or a .duckdb file"
        )
    raise DataSourceError(
        f"data source {text!r} is a file of an unknown kind; give its folder or a .duckdb file"
    )
