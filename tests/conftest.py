"""Shared fixtures: a private demo cache per test session, small demo sources, paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SMALL_DEMO = "demo:n_customers=3000,seed=11"


def pytest_configure(config):
    # registered here too, so `-p no:xdist` runs (strict markers) collect the grouped tests
    config.addinivalue_line("markers", "xdist_group(name): tests that share one xdist worker")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    _thread_budget_per_worker()


def _thread_budget_per_worker() -> None:
    """The runner's thread budget applied to the test workers: with ``-n W`` each worker (and
    every kernel it starts) gets ``cores // W`` OpenMP/BLAS threads. Without it two workers on
    two cores each ran scikit-learn with two spinning OpenMP threads (tests/test_churn_analysis.py
    80 s -> 31 s with it). A thread count already in the environment wins, as in ``cjlab run``."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers < 2:
        return
    from cjlab.report.plan import thread_budget

    budget = thread_budget(jobs=workers)
    for name, value in budget.environment(os.environ).items():
        os.environ.setdefault(name, value)  # read by OpenMP when scikit-learn loads it
    # numpy (and its BLAS) is already loaded by a plugin: limit it in this process too
    from threadpoolctl import threadpool_limits

    threadpool_limits(budget.threads)


@pytest.fixture(scope="session", autouse=True)
def _demo_cache(tmp_path_factory):
    """Generated demo data go to a cache shared by the xdist workers of this run."""
    if "CJLAB_CACHE" not in os.environ:
        base = tmp_path_factory.getbasetemp()
        root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
        os.environ["CJLAB_CACHE"] = str(root / "cjlab-cache")
    yield


@pytest.fixture(scope="session")
def small_demo():
    """A small demo source (3,000 customers)."""
    from cjlab.data import open_source

    return open_source(SMALL_DEMO)


@pytest.fixture(scope="session")
def spark():
    """One local-mode SparkSession per test process (the Spark tests share the xdist group
    "spark", so one JVM serves them all); skipped with the reason when Java is missing."""
    import logging

    from cjlab.data.spark import SparkUnavailableError, check_java, local_session

    try:
        check_java()
    except SparkUnavailableError as exc:
        pytest.skip(str(exc))
    # py4j logs "Closing down clientserver connection" from __del__ after pytest closed its
    # streams ("--- Logging error ---" at the end of the run): keep its INFO lines out
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = local_session(cores=2, shuffle_partitions=2, driver_memory="1g")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared datasets not available at {SHARED_DATA} (only on developer machines and CI)"
        )
    return SHARED_DATA


def run_notebook_on_tables(tables, tmp_path: Path, notebook: str, name: str, **run_kw):
    """Write ``tables`` as a Parquet folder, run ``notebook`` on it through the real runner and
    return (RunResult, report folder, HTML text)."""
    from cjlab.report.runner import run

    data = tmp_path / "data"
    data.mkdir()
    for table, df in tables.items():
        df.to_parquet(data / f"{table}.parquet")
    res = run(
        [notebook],
        data_source=str(data),
        reports_dir=tmp_path / "reports",
        root=ROOT,
        progress=False,
        name=name,
        **run_kw,
    )
    assert res.ok, res
    folder = next((tmp_path / "reports").glob(f"*/{name}"))
    return res, folder, (folder / f"{notebook}.html").read_text(encoding="utf-8")


def assert_clean_report_notebook(nb) -> list:
    """An executed notebook fit for a report: no errors, no stderr, the headline box first.
    Returns all code-cell outputs."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    first_html = next(o for o in outputs if "text/html" in o.get("data", {}))
    assert 'id="headline"' in first_html["data"]["text/html"]
    return outputs
