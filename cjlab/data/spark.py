"""A local-mode Spark session configured for cjlab (UTC, small shuffles, quiet logs).

On a cluster, build the session the way the cluster wants (``SparkSession.builder.remote(...)``,
``spark-submit``, Databricks) and pass it to :meth:`cjlab.data.DataSource.from_spark`; the
helper here is for a laptop or a CI machine, where Spark runs inside the driver JVM.

PySpark 4 needs Java 17 or newer. :func:`java_version` finds the ``java`` that Spark will use
(``$JAVA_HOME/bin/java``, else ``java`` on the ``PATH``) and :func:`local_session` raises
:class:`SparkUnavailableError` with what to install when it is missing or too old.

Examples
--------
>>> spark = local_session()  # doctest: +SKIP
>>> spark.conf.get("spark.sql.session.timeZone")  # doctest: +SKIP
'UTC'
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from cjlab.data.contract import CONTRACT, TABLES
from cjlab.data.demo import demo_folder, parse_demo_spec
from cjlab.data.errors import DataSourceError
from cjlab.data.typed import FALSE_TEXT, TRUE_TEXT, q

MIN_JAVA = 17

#: Settings of every session made here: UTC (dates and day boundaries as in DuckDB and
#: pandas), Arrow transfers, no UI, few shuffle partitions (small machines), exact
#: Parquet timestamps without a time zone (as pandas writes them).
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


class SparkUnavailableError(RuntimeError):
    """PySpark or a suitable Java runtime is missing."""


def java_executable() -> str | None:
    """The ``java`` that Spark will start: ``$JAVA_HOME/bin/java`` or ``java`` on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_version() -> int | None:
    """Major version of the Java runtime Spark would use (``None`` when there is none)."""
    exe = java_executable()
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major  # "1.8" -> 8


def check_java(minimum: int = MIN_JAVA) -> int:
    """Return the Java major version, or raise :class:`SparkUnavailableError` saying what to do."""
    version = java_version()
    if version is None:
        raise SparkUnavailableError(
            f"Spark needs Java {minimum} or newer, but no java was found (JAVA_HOME="
            f"{os.environ.get('JAVA_HOME')!r}, PATH has no java). Install a JDK/JRE {minimum} "
            f"(e.g. `apt-get install openjdk-{minimum}-jre-headless`) and set JAVA_HOME."
        )
    if version < minimum:
        raise SparkUnavailableError(
            f"Spark needs Java {minimum} or newer, found Java {version} at {java_executable()}; "
            f"install Java {minimum} and point JAVA_HOME at it."
        )
    return version


def local_session(
    cores: int = 2,
    driver_memory: str = "2g",
    shuffle_partitions: int = 4,
    app_name: str = "cjlab",
    conf: dict[str, str] | None = None,
) -> Any:
    """Get (or create) a local-mode SparkSession set up for cjlab.

    Parameters
    ----------
    cores : worker threads (``local[cores]``).
    driver_memory : JVM heap, e.g. ``"2g"`` (only effective when the JVM is started here).
    shuffle_partitions : partitions after a shuffle (group-by); keep small on one machine.
    app_name : Spark application name.
    conf : extra Spark settings (override :data:`DEFAULT_CONF`).

    Returns
    -------
    pyspark.sql.SparkSession with the session time zone set to UTC.

    Raises
    ------
    SparkUnavailableError
        PySpark is not installed or Java is missing or older than 17.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is installed with cjlab[spark]
        raise SparkUnavailableError("PySpark is not installed: pip install 'pyspark>=4'") from exc
    check_java()
    # workers must run the interpreter of this process (same packages, same Python version)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    settings = {
        **DEFAULT_CONF,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(cores),
        "spark.driver.memory": driver_memory,
        **(conf or {}),
    }
    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # an existing session keeps its static settings, but these runtime ones must hold
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    spark.conf.set("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
    return spark


def session(**kwargs: Any) -> Any:
    """The active SparkSession (cluster, Databricks, ``spark-submit``), else :func:`local_session`.

    The session time zone is set to UTC either way, so days and months match DuckDB and pandas.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover
        raise SparkUnavailableError("PySpark is not installed: pip install 'pyspark>=4'") from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    return local_session(**kwargs)


# -- reading files and DataFrames for a Spark source (DataSource.from_spark) ------------------
def spark_read(spark: Any, path: Path) -> Any:
    """Read a Parquet/CSV file or part folder with Spark (CSV as text; typing comes later).

    Folders with ``key=value`` sub-folders are read with Spark's partition discovery (the
    partition keys become columns, as DuckDB's ``hive_partitioning`` does); other nested
    folders with a recursive file lookup.
    """
    p = str(path)
    files = (
        [path]
        if not path.is_dir()
        else [
            f for f in sorted(path.rglob("*")) if f.is_file() and not f.name.startswith((".", "_"))
        ]
    )
    name = files[0].name.lower() if files else path.name.lower()
    hive = path.is_dir() and any("=" in d.name for d in path.rglob("*") if d.is_dir())
    if name.endswith(".parquet"):
        reader = spark.read
    elif name.endswith((".csv", ".csv.gz")):
        reader = spark.read.option("header", "true").option("inferSchema", "false")
    else:
        raise DataSourceError(
            f"Spark source: cannot tell the format of {path} (expected Parquet or CSV)"
        )
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


def duckdb_mirror(con: duckdb.DuckDBPyConnection, view: str, df: Any, collect_limit: int) -> None:
    """Expose a Spark DataFrame to DuckDB: a view over its Parquet files, else an Arrow copy."""
    files = _local_files(df)
    if files is not None:
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        scan = con.sql(f"SELECT * FROM read_parquet([{listing}])")
        if list(scan.columns) == list(df.columns):
            con.execute(f"CREATE VIEW {q(view)} AS SELECT * FROM read_parquet([{listing}])")
            return
    n = df.count()
    if n > collect_limit:
        raise DataSourceError(
            f"the Spark DataFrame for {view[4:]!r} has {n:,} rows and no local Parquet files DuckDB "
            f"could read for validation; write it to Parquet and open the folder with 'spark:FOLDER', "
            f"or raise collect_limit (now {collect_limit:,})"
        )
    con.register(view, df.toArrow())


def spark_typed(df: Any, schema: Any) -> Any:
    """Cast contract columns like :func:`cjlab.data.typed.typed_expr` does in DuckDB (bad values become null).

    Timestamps become ``timestamp_ntz`` (wall-clock time, as in DuckDB and pandas), so days and
    months do not depend on the session time zone.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    types = dict(df.dtypes)
    cols = []
    for name in df.columns:
        col = schema.column_for(name)
        c = F.col(name)
        if col is None:  # an extra column keeps its own type
            cols.append(c)
            continue
        typ = types[name]
        if col.kind == "number":
            c = c.try_cast("double")
        elif col.kind == "integer":
            c = c.try_cast("bigint" if col.required else "double")
        elif col.kind == "date":
            c = (
                c.cast("date")
                if typ.startswith(("timestamp", "date"))
                else c.cast("string").try_cast("date")
            )
        elif col.kind == "timestamp":
            if typ.startswith("date"):
                c = c.cast("timestamp_ntz")
            elif typ == "timestamp":  # an instant: its wall-clock time in the session zone (UTC)
                c = c.cast(T.TimestampNTZType())
            elif typ != "timestamp_ntz":
                c = c.cast("string").try_cast("timestamp_ntz")
        elif col.kind == "bool":
            txt = F.lower(F.trim(c.cast("string")))
            c = F.when(txt.isin(*TRUE_TEXT), F.lit(True)).when(txt.isin(*FALSE_TEXT), F.lit(False))
        elif col.kind in ("string", "label"):
            c = c.cast("string")
        cols.append(c.alias(name))
    return df.select(*cols)


def spark_frames_source(
    cls: Any, spark: Any, tables: Any, *, truth: dict | None, spec: str | None, collect_limit: int
) -> Any:
    """A source of Spark DataFrames, file paths or catalog tables (``DataSource.from_spark``)."""
    from cjlab.data.files import fingerprint_tables

    if spark is None:
        raise DataSourceError("from_spark with DataFrames or table names needs the SparkSession")
    con = cls._connect()
    views: dict[str, str] = {}
    frames: dict[str, Any] = {}
    for name, obj in tables.items():
        if name not in CONTRACT:
            raise DataSourceError(f"unknown table {name!r}; contract tables: {', '.join(TABLES)}")
        if isinstance(obj, str | Path) and (
            Path(obj).exists() or "/" in str(obj) or ":" in str(obj)
        ):
            df = spark_read(spark, Path(obj))
        elif isinstance(obj, str):
            df = spark.table(obj)
        else:
            df = obj
        frames[name] = df
        duckdb_mirror(con, "raw_" + name, df, collect_limit)
        views[name] = "raw_" + name
    src = cls(
        "spark",
        "Spark: " + ", ".join(frames),
        con,
        views,
        truth,
        fingerprint=lambda: fingerprint_tables(con, views),
        spec=spec or "spark",
    )
    src.spark = spark
    src.spark_frames = frames
    return src


def open_spark(cls: Any, text: str) -> Any:
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
            raise DataSourceError(
                f"Spark data source {text!r}: folder {folder} not found "
                "(give spark:FOLDER of <table>.parquet/.csv files or part folders)"
            )
    # the session starts when a table is first handed out (lazy/spark_frame): opening and
    # validating the source (as `cjlab run` does before any kernel starts) needs no JVM
    return cls.from_spark(None, folder, truth=truth, spec=text)
