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
``telco:PATH``
    IBM's telco churn CSV through :mod:`cjlab.data.adapters` (a ``customers`` table), an
    example of bringing one's own data.
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

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cjlab.data.contract import CONTRACT, TABLES, Column
from cjlab.data.validate import (
    DataValidationError,
    ValidationReport,
    _q,
    validate_views,
)

DEFAULT_DEMO = {"n_customers": 20_000, "seed": 42}
_TRUE = "('true','t','1','yes','y','1.0')"
_FALSE = "('false','f','0','no','n','0.0')"


class DataSourceError(ValueError):
    """The data source cannot be opened (missing path, unknown format, bad spec)."""


def cache_dir() -> Path:
    """Folder for generated demo data (``$CJLAB_CACHE`` or ``~/.cache/cjlab``)."""
    return Path(os.environ.get("CJLAB_CACHE", Path.home() / ".cache" / "cjlab"))


def _generator_version() -> str:
    from cjlab.data import synth

    return hashlib.sha256(Path(synth.__file__).read_bytes()).hexdigest()[:12]


def parse_demo_spec(spec: str) -> dict[str, int]:
    """``"demo:n_customers=2000,seed=7"`` -> ``{"n_customers": 2000, "seed": 7}``."""
    opts = dict(DEFAULT_DEMO)
    if ":" in spec:
        for part in filter(None, spec.split(":", 1)[1].split(",")):
            key, _, value = part.partition("=")
            key = key.strip()
            if key not in opts or not value.strip().isdigit():
                raise DataSourceError(
                    f"bad demo spec {spec!r}: use demo:n_customers=<int>,seed=<int> (got {part!r})")
            opts[key] = int(value)
    return opts


def demo_folder(n_customers: int = 20_000, seed: int = 42, progress: bool = False) -> Path:
    """Generate (once) and return the cached Parquet folder of the demo company."""
    folder = cache_dir() / "demo" / f"v{_generator_version()}-n{n_customers}-s{seed}"
    if (folder / "truth.json").exists():
        return folder
    from cjlab.data.synth import write_parquet

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        write_parquet(tmp, n_customers, seed, progress=progress)
        try:
            tmp.rename(folder)
        except OSError:  # another process won the race: use its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _scan_sql(path: Path) -> str | None:
    """DuckDB table function reading a file or a folder of part files."""
    p = str(path).replace("'", "''")
    if path.is_dir():
        if any(path.rglob("*.parquet")):
            return f"read_parquet('{p}/**/*.parquet', hive_partitioning = true)"
        if any(path.rglob("*.csv")) or any(path.rglob("*.csv.gz")):
            return f"read_csv('{p}/**/*.csv*', header = true, union_by_name = true)"
        return None
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet('{p}')"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return f"read_csv('{p}', header = true)"
    return None


def _typed_expr(col: Column, name: str, sql_type: str) -> str:
    q = _q(name)
    txt = f"lower(trim(CAST({q} AS VARCHAR)))"
    if col.kind == "number":
        return f"TRY_CAST({q} AS DOUBLE) AS {q}"
    if col.kind == "integer":
        return f"TRY_CAST({q} AS {'BIGINT' if col.required else 'DOUBLE'}) AS {q}"
    if col.kind == "date":
        if sql_type.upper().startswith("TIMESTAMP"):
            return f"CAST({q} AS DATE) AS {q}"
        return f"TRY_CAST(CAST({q} AS VARCHAR) AS DATE) AS {q}"
    if col.kind == "timestamp":
        if sql_type.upper().startswith(("TIMESTAMP", "DATE")):
            return f"CAST({q} AS TIMESTAMP) AS {q}"
        return f"TRY_CAST(CAST({q} AS VARCHAR) AS TIMESTAMP) AS {q}"
    if col.kind == "bool":
        return f"CASE WHEN {txt} IN {_TRUE} THEN TRUE WHEN {txt} IN {_FALSE} THEN FALSE END AS {q}"
    if col.kind in ("string", "label"):
        return f"CAST({q} AS VARCHAR) AS {q}"
    return q  # ids keep their own type


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

    def __init__(self, kind: str, location: str, con: duckdb.DuckDBPyConnection,
                 views: Mapping[str, str], truth: dict[str, Any] | None = None,
                 fingerprint: Callable[[], str] | str | None = None, spec: str | None = None):
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
    def from_folder(cls, folder: str | Path, kind: str = "folder", truth: dict | None = None,
                    spec: str | None = None) -> DataSource:
        """Tables from ``<table>.parquet|.csv|.csv.gz`` files or ``<table>/`` part folders."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DataSourceError(f"data folder not found: {folder}")
        con = cls._connect()
        views: dict[str, str] = {}
        for table in TABLES:
            for cand in (folder / table, folder / f"{table}.parquet", folder / f"{table}.csv",
                         folder / f"{table}.csv.gz"):
                if cand.exists():
                    scan = _scan_sql(cand)
                    if scan:
                        con.execute(f"CREATE VIEW {_q('raw_' + table)} AS SELECT * FROM {scan}")
                        views[table] = "raw_" + table
                        break
        if not views:
            raise DataSourceError(
                f"no contract tables found in {folder}: expected files named "
                + ", ".join(f"{t}.csv/.parquet" for t in TABLES))
        return cls(kind, str(folder), con, views, truth,
                   fingerprint=lambda: _fingerprint_paths(folder, views), spec=spec)

    @classmethod
    def from_duckdb(cls, path: str | Path, spec: str | None = None) -> DataSource:
        """Tables named after the contract tables in a DuckDB database file (read-only)."""
        path = Path(path)
        if not path.exists():
            raise DataSourceError(f"DuckDB file not found: {path}")
        con = cls._connect()
        con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS src (READ_ONLY)")
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src'").fetchall()}
        views = {}
        for t in TABLES:
            if t in present:
                con.execute(f"CREATE VIEW {_q('raw_' + t)} AS SELECT * FROM src.{_q(t)}")
                views[t] = "raw_" + t
        if not views:
            raise DataSourceError(f"{path} holds none of the contract tables ({', '.join(TABLES)})")
        return cls("duckdb", str(path), con, views, spec=spec,
                   fingerprint=lambda: _fingerprint_tables(con, views))

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], truth: dict | None = None) -> DataSource:
        """Wrap in-memory pandas DataFrames (one per contract table)."""
        con = cls._connect()
        views = {}
        for name, df in frames.items():
            con.register("raw_" + name, df)
            views[name] = "raw_" + name
        return cls("frames", "in-memory DataFrames", con, views, truth,
                   fingerprint=lambda: _fingerprint_tables(con, views))

    @classmethod
    def from_sql(cls, connection: Any, queries: Mapping[str, str], location: str = "SQL") -> DataSource:
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
        src = cls("sql", location, con, views, fingerprint=lambda: _fingerprint_tables(con, views))
        src.queries = dict(queries)
        return src

    @classmethod
    def from_spark(cls, spark: Any, tables: str | Path | Mapping[str, Any], *,
                   truth: dict | None = None, spec: str | None = None,
                   collect_limit: int = 2_000_000) -> DataSource:
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
                    src.spark_frames[t] = _spark_read(spark, _table_path(folder, t))
            return src
        if spark is None:
            raise DataSourceError("from_spark with DataFrames or table names needs the SparkSession")
        con = cls._connect()
        views: dict[str, str] = {}
        frames: dict[str, Any] = {}
        for name, obj in tables.items():
            if name not in CONTRACT:
                raise DataSourceError(f"unknown table {name!r}; contract tables: {', '.join(TABLES)}")
            if isinstance(obj, (str, Path)) and (Path(obj).exists() or "/" in str(obj) or ":" in str(obj)):
                df = _spark_read(spark, Path(obj))
            elif isinstance(obj, str):
                df = spark.table(obj)
            else:
                df = obj
            frames[name] = df
            _duckdb_mirror(con, "raw_" + name, df, collect_limit)
            views[name] = "raw_" + name
        src = cls("spark", "Spark: " + ", ".join(f"{t}" for t in frames), con, views, truth,
                  fingerprint=lambda: _fingerprint_tables(con, views), spec=spec or "spark")
        src.spark = spark
        src.spark_frames = frames
        return src

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
                f"(present: {', '.join(self.tables) or 'none'})")

    def typed_sql(self, table: str) -> str:
        """SQL selecting ``table`` with every contract column cast to its type."""
        self._require(table)
        view = self.views[table]
        types = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE SELECT * FROM {_q(view)}").fetchall()}
        schema = CONTRACT[table]
        cols = [_typed_expr(schema.column_for(n), n, t) for n, t in types.items()
                if schema.column_for(n) is not None]
        return f"SELECT {', '.join(cols)} FROM {_q(view)}"

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
                    "SELECT " + ", ".join(f"count({_q(c)})" for c in cols)
                    + f" FROM {_q(self.views[t])}").fetchone()
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
            self.spark_frames[table] = _spark_read(self.spark, _table_path(self._spark_folder, table))
        if table not in self.spark_frames:
            raise DataSourceError(f"{self!r} is not a Spark source; open it with 'spark:...' or from_spark")
        return _spark_typed(self.spark_frames[table], CONTRACT[table])

    def validate(self, tables: Iterable[str] | None = None, raise_errors: bool = True) -> ValidationReport:
        """Validate ``tables`` (default: all present) and the customer keys they use.

        Raises :class:`~cjlab.data.validate.DataValidationError` with every problem when
        ``raise_errors`` and anything is wrong.
        """
        wanted = list(tables) if tables is not None else self.tables
        for t in wanted:
            self._require(t)
        check = set(wanted) | ({"customers"} if "customers" in self.views else set())
        if not check <= self._validated or self._report is None:
            views = {t: self.views[t] for t in TABLES if t in check | self._validated}
            self._report = validate_views(self.con, views, require=wanted)
            self._validated = set(views)
        report = self._report
        if raise_errors and not report.ok:
            relevant = [p for p in report.errors if p.table in set(wanted) | {"customers"}]
            if relevant:
                raise DataValidationError(ValidationReport(relevant, report.n_rows))
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
        return {t: int(self.con.execute(f"SELECT count(*) FROM {_q(self.views[t])}").fetchone()[0])
                for t in self.tables}

    def fingerprint(self) -> str:
        """A short hash identifying the data content (for the report manifest)."""
        fp = self._fingerprint
        if callable(fp):
            fp = fp()
            self._fingerprint = fp
        return fp or "unknown"

    def describe(self) -> dict[str, Any]:
        """Kind, location (no credentials), fingerprint and row counts — for manifests."""
        return {"kind": self.kind, "spec": _redact(self.spec), "location": _redact(self.location),
                "fingerprint": self.fingerprint(), "tables": self.row_counts(),
                **({"queries": self.queries} if hasattr(self, "queries") else {})}

    def __repr__(self) -> str:
        return f"DataSource(kind={self.kind!r}, location={_redact(self.location)!r}, tables={self.tables})"


def _table_path(folder: Path, table: str) -> Path:
    for cand in (folder / table, folder / f"{table}.parquet", folder / f"{table}.csv",
                 folder / f"{table}.csv.gz"):
        if cand.exists():
            return cand
    raise DataSourceError(f"table {table!r} not found in {folder}")


def _spark_read(spark: Any, path: Path) -> Any:
    """Read a Parquet/CSV file or part folder with Spark (CSV as text; typing comes later).

    Folders with ``key=value`` sub-folders are read with Spark's partition discovery (the
    partition keys become columns, as DuckDB's ``hive_partitioning`` does); other nested
    folders with a recursive file lookup.
    """
    p = str(path)
    files = [path] if not path.is_dir() else [
        f for f in sorted(path.rglob("*")) if f.is_file() and not f.name.startswith((".", "_"))]
    name = files[0].name.lower() if files else path.name.lower()
    hive = path.is_dir() and any("=" in d.name for d in path.rglob("*") if d.is_dir())
    if name.endswith(".parquet"):
        reader = spark.read
    elif name.endswith((".csv", ".csv.gz")):
        reader = spark.read.option("header", "true").option("inferSchema", "false")
    else:
        raise DataSourceError(f"Spark source: cannot tell the format of {path} (expected Parquet or CSV)")
    if path.is_dir() and not hive:
        reader = reader.option("recursiveFileLookup", "true")
    return reader.parquet(p) if name.endswith(".parquet") else reader.csv(p)


def _plain_scan(df: Any) -> bool:
    """True when the Spark DataFrame reads files as they are (no filter, join or computed column)."""
    try:
        plan = df._jdf.queryExecution().optimizedPlan()
    except Exception:  # Spark Connect: no JVM handle
        return False
    return plan.getClass().getSimpleName().startswith("LogicalRelation")


def _local_files(df: Any) -> list[str] | None:
    """The local Parquet files behind a plain Spark file scan, else None."""
    from urllib.parse import unquote, urlparse

    if not _plain_scan(df):
        return None
    try:
        files = list(df.inputFiles())
    except Exception:  # computed frames
        return None
    out = []
    for f in files:
        u = urlparse(f)
        if u.scheme not in ("", "file"):
            return None
        local = unquote(u.path) if u.scheme else f
        if not local.endswith(".parquet") or not Path(local).exists():
            return None
        out.append(local)
    return out or None


def _duckdb_mirror(con: duckdb.DuckDBPyConnection, view: str, df: Any, collect_limit: int) -> None:
    """Expose a Spark DataFrame to DuckDB: a view over its Parquet files, else an Arrow copy."""
    files = _local_files(df)
    if files is not None:
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        scan = con.sql(f"SELECT * FROM read_parquet([{listing}])")
        if list(scan.columns) == list(df.columns):
            con.execute(f"CREATE VIEW {_q(view)} AS SELECT * FROM read_parquet([{listing}])")
            return
    n = df.count()
    if n > collect_limit:
        raise DataSourceError(
            f"the Spark DataFrame for {view[4:]!r} has {n:,} rows and no local Parquet files DuckDB "
            f"could read for validation; write it to Parquet and open the folder with 'spark:FOLDER', "
            f"or raise collect_limit (now {collect_limit:,})")
    con.register(view, df.toArrow())


_SPARK_TRUE = ("true", "t", "1", "yes", "y", "1.0")
_SPARK_FALSE = ("false", "f", "0", "no", "n", "0.0")


def _spark_typed(df: Any, schema: Any) -> Any:
    """Cast contract columns like :func:`_typed_expr` does in DuckDB (bad values become null).

    Timestamps become ``timestamp_ntz`` (wall-clock time, as in DuckDB and pandas), so days and
    months do not depend on the session time zone.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    types = dict(df.dtypes)
    cols = []
    for name in df.columns:
        col = schema.column_for(name)
        if col is None:
            continue
        c = F.col(name)
        typ = types[name]
        if col.kind == "number":
            c = c.try_cast("double")
        elif col.kind == "integer":
            c = c.try_cast("bigint" if col.required else "double")
        elif col.kind == "date":
            c = c.cast("date") if typ.startswith(("timestamp", "date")) else c.cast("string").try_cast("date")
        elif col.kind == "timestamp":
            if typ.startswith("date"):
                c = c.cast("timestamp_ntz")
            elif typ == "timestamp":  # an instant: its wall-clock time in the session zone (UTC)
                c = c.cast(T.TimestampNTZType())
            elif typ != "timestamp_ntz":
                c = c.cast("string").try_cast("timestamp_ntz")
        elif col.kind == "bool":
            txt = F.lower(F.trim(c.cast("string")))
            c = F.when(txt.isin(*_SPARK_TRUE), F.lit(True)).when(txt.isin(*_SPARK_FALSE), F.lit(False))
        elif col.kind in ("string", "label"):
            c = c.cast("string")
        cols.append(c.alias(name))
    return df.select(*cols)


def _redact(text: str) -> str:
    """Hide passwords in connection-like strings (``user:secret@host``)."""
    return re.sub(r"(://[^:/@]+):[^@]+@", r"\1:***@", str(text))


def _fingerprint_paths(folder: Path, views: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = f.relative_to(folder).as_posix()
        if rel.split("/")[0].split(".")[0] not in views:
            continue
        h.update(rel.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with f.open("rb") as fh:
            if size <= 64 << 20:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            else:  # large files: head, tail and size
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    return "sha256:" + h.hexdigest()[:16]


def _fingerprint_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _fingerprint_tables(con, views: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for t, v in sorted(views.items()):
        cnt, digest = con.execute(f"SELECT count(*), sum(hash(t)) FROM {_q(v)} t").fetchone()
        h.update(f"{t}:{cnt}:{digest}".encode())
    return "sha256:" + h.hexdigest()[:16]


def _open_spark(text: str) -> DataSource:
    """``spark:FOLDER`` or ``spark:demo[:opts]``: the folder read by Spark."""
    inner = text.split(":", 1)[1].strip()
    truth = None
    if inner == "demo" or inner.startswith("demo:"):
        opts = parse_demo_spec(inner)
        folder = demo_folder(**opts)
        truth = json.loads((folder / "truth.json").read_text())
        text = f"spark:demo:n_customers={opts['n_customers']},seed={opts['seed']}"
    else:
        folder = Path(inner).expanduser()
        if not folder.is_dir():
            raise DataSourceError(f"Spark data source {text!r}: folder {folder} not found "
                                  "(give spark:FOLDER of <table>.parquet/.csv files or part folders)")
    # the session starts when a table is first handed out (lazy/spark_frame): opening and
    # validating the source (as `cjlab run` does before any kernel starts) needs no JVM
    return DataSource.from_spark(None, folder, truth=truth, spec=text)


def open_source(spec: str | Path | DataSource | None = "demo", progress: bool = False) -> DataSource:
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
        return DataSource.from_folder(folder, kind="demo", truth=truth,
                                      spec=f"demo:n_customers={opts['n_customers']},seed={opts['seed']}")
    if text.startswith("spark:"):
        return _open_spark(text)
    if text.startswith("telco:"):  # IBM telco churn snapshot, through its adapter
        from cjlab.data.adapters import telco_tables

        path = Path(text.split(":", 1)[1]).expanduser()
        if not path.is_file():
            raise DataSourceError(f"telco file not found: {path}")
        src = DataSource.from_frames(telco_tables(path))
        src.kind, src.location, src.spec = "telco", str(path), text
        src._fingerprint = lambda: _fingerprint_file(path)
        return src
    if text.startswith("duckdb:"):
        return DataSource.from_duckdb(text.split(":", 1)[1], spec=text)
    path = Path(text).expanduser()
    if path.is_dir():
        return DataSource.from_folder(path, spec=text)
    if path.suffix.lower() in (".duckdb", ".db", ".ddb") and path.is_file():
        return DataSource.from_duckdb(path, spec=text)
    if not path.exists():
        raise DataSourceError(
            f"data source {text!r} not found: give 'demo', a folder of <table>.csv/.parquet files, "
            "or a .duckdb file")
    raise DataSourceError(f"data source {text!r} is a file of an unknown kind; give its folder or a .duckdb file")
