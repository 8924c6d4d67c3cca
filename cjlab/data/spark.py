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

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
            f"(e.g. `apt-get install openjdk-{minimum}-jre-headless`) and set JAVA_HOME.")
    if version < minimum:
        raise SparkUnavailableError(
            f"Spark needs Java {minimum} or newer, found Java {version} at {java_executable()}; "
            f"install Java {minimum} and point JAVA_HOME at it.")
    return version


def local_session(cores: int = 2, driver_memory: str = "2g", shuffle_partitions: int = 4,
                  app_name: str = "cjlab", conf: dict[str, str] | None = None) -> Any:
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
    settings = {**DEFAULT_CONF, "spark.sql.shuffle.partitions": str(shuffle_partitions),
                "spark.default.parallelism": str(cores), "spark.driver.memory": driver_memory,
                **(conf or {})}
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
