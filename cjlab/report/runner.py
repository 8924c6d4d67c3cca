"""Run notebooks with Papermill into a dated report folder: :func:`run`.

The steps live in their own modules: :mod:`~cjlab.report.plan` checks parameters, options,
data and each notebook's data requirements before any kernel starts;
:mod:`~cjlab.report.execute` runs the applicable notebooks in spawned workers (own process
group, cell timeout, wall-clock limit, thread budget); :mod:`~cjlab.report.render` turns each
executed notebook into stakeholder HTML; :mod:`~cjlab.report.records` defines what the
manifest records and reads KPIs back; :mod:`~cjlab.report.portal` rebuilds ``index.html`` and
``kpis.html``. This module holds the run together under the reports folder's lock: everything
is written into a hidden temporary folder that is moved into place at the end, so an
interrupted run never leaves a half-written report and never replaces an earlier one:
``reports/YYYY-MM-DD/<name>/`` (``<name>-2``, ``-3`` ... for later runs of the same day).

The runner knows nothing about statistics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cjlab.report.execute import Execution, WorkerJob, _cells_at_limit, execute_all, now
from cjlab.report.plan import (
    NotebookJob,
    Plan,
    RunOptions,
    all_notebooks,
    check_data,
    find_notebooks,
    plan_run,
    project_root,
)
from cjlab.report.portal import write_index
from cjlab.report.records import (
    STATUS_FAILED,
    STATUS_NOT_APPLICABLE,
    STATUS_OK,
    STATUS_TIMEOUT,
    Failure,
    NotebookResult,
    Outcome,
    RenderStats,
    kpis_from_notebook,
)
from cjlab.report.render import ReportMeta

__all__ = [
    "STATUS_FAILED",
    "STATUS_NOT_APPLICABLE",
    "STATUS_OK",
    "STATUS_TIMEOUT",
    "NotebookResult",
    "RunLockedError",
    "RunOptions",
    "RunResult",
    "_cells_at_limit",
    "all_notebooks",
    "find_notebooks",
    "project_root",
    "run",
    "run_lock",
    "unique_folder",
]
PACKAGES = (
    "cjlab",
    "numpy",
    "pandas",
    "scipy",
    "duckdb",
    "narwhals",
    "scikit-learn",
    "pymc",
    "pymc-marketing",
    "pytensor",
    "papermill",
    "nbconvert",
    "nbclient",
    "seaborn",
    "matplotlib",
    "ipywidgets",
    "pyspark",
    "filelock",
)


class RunLockedError(RuntimeError):
    """Another ``cjlab run`` holds the lock of this reports folder."""


@contextlib.contextmanager
def run_lock(reports_dir: str | Path, wait: float = 0.0) -> Iterator[None]:
    """Hold ``reports_dir/.run.lock`` for the whole run; wait up to ``wait`` seconds for it.

    A cross-platform :class:`filelock.FileLock`; the holder (pid and start time) is written
    beside it to ``.run.owner`` so a refused run can say who has the lock.

    Raises
    ------
    RunLockedError : the lock is still held after ``wait`` seconds.
    """
    from filelock import FileLock, Timeout

    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    owner = reports_dir / ".run.owner"
    lock = FileLock(str(reports_dir / ".run.lock"), timeout=max(0.0, wait), poll_interval=0.2)
    try:
        lock.acquire()
    except Timeout:
        holder = owner.read_text().strip() if owner.exists() else "unknown"
        raise RunLockedError(
            f"another cjlab run is writing to {reports_dir} ({holder}); "
            "try again later or pass --wait SECONDS"
        ) from None
    try:
        owner.write_text(f"pid {os.getpid()} since {now()}")
        yield
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


@dataclass
class RunResult:
    """The outcome of :func:`run`: where the report is and what each notebook did."""

    name: str
    folder: Path
    status: str  # completed, failed, or "not applicable" when no notebook applied to the data
    notebooks: list[NotebookResult]
    manifest: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Every applicable notebook completed (not-applicable notebooks are no failure)."""
        return self.status in (STATUS_OK, STATUS_NOT_APPLICABLE)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _git_commit(root: Path) -> dict[str, Any]:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            != ""
        )
        return {"commit": sha or None, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[p] = metadata.version(p)
    return out


def unique_folder(reports_dir: Path, day: str, name: str) -> Path:
    """``reports_dir/day/name``, or ``name-2``, ``name-3`` ... when taken."""
    base = reports_dir / day / name
    if not base.exists():
        return base
    i = 2
    while (reports_dir / day / f"{name}-{i}").exists():
        i += 1
    return reports_dir / day / f"{name}-{i}"


def run(
    notebooks: list[str] | tuple[str, ...] | None = None,
    options: RunOptions | None = None,
    **kwargs: Any,
) -> RunResult:
    """Execute notebooks into ``reports/YYYY-MM-DD/<name>/``.

    Parameters
    ----------
    notebooks : names (``"00_data_overview"``, ``"00"``) or paths; ``None`` = every notebook
        of the run file, or all numbered notebooks.
    options : a :class:`~cjlab.report.plan.RunOptions`; or give its fields as keywords
        (``name=``, ``data_source=``, ``jobs=``, ``threads=``, ``cell_timeout=`` ...), which
        also override the fields of ``options``.

    Returns
    -------
    RunResult (``exit_code`` 0 when every applicable notebook completed, 1 otherwise).

    Raises
    ------
    ParameterError : a parameter or option is unknown, missing or out of range (nothing run).
    cjlab.data.DataValidationError : the data break the contract (nothing is run).
    RunLockedError : another run holds the lock of the reports folder.

    Examples
    --------
    >>> run(["00"], data_source="demo:n_customers=3000,seed=11", jobs=2)  # doctest: +SKIP
    """
    if notebooks is not None:
        kwargs["notebooks"] = notebooks
    options = dataclasses.replace(options, **kwargs) if options else RunOptions(**kwargs)
    plan = plan_run(options)
    with run_lock(options.reports(), options.lock_wait):
        return _run(plan, options)


def _start_manifest(plan: Plan, options: RunOptions, today: dt.date) -> dict[str, Any]:
    b = plan.threads
    return {
        "cjlab_report": 1,
        "name": plan.name,
        "date": today.isoformat(),
        "started_at": now(),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        "run_file": plan.run_file,
        "git": _git_commit(options.project()),
        "versions": package_versions(),
        "data_sources": plan.sources,
        "host": platform.node(),
        "limits": {
            "cell_timeout_s": options.cell_timeout,
            "wall_timeout_s": options.wall_timeout,
            "jobs": options.jobs,
            "threads": b.threads,
        },
        "threads": {
            "per_notebook": b.threads,
            "cores": b.cores,
            "jobs": b.jobs,
            "source": b.source,
            "environment": b.environment(os.environ),
        },
    }


def _worker_job(
    job: NotebookJob, tmp: Path, manifest: dict[str, Any], plan: Plan, options: RunOptions
) -> WorkerJob:
    meta = ReportMeta(
        run=plan.name,
        date=manifest["date"],
        notebook=job.notebook,
        title=job.title,
        parameters=job.parameters,
        data=plan.sources.get(job.data_source),
        git=manifest["git"],
        started_at=manifest["started_at"],
    )
    return WorkerJob(
        job.notebook,
        job.path,
        tmp / f"{job.notebook}.ipynb",
        tmp / f"{job.notebook}.html",
        job.parameters,
        meta,
        options.cell_timeout,
        options.kernel_name,
        manifest["threads"]["environment"],
    )


def _result(job: NotebookJob, ex: Execution | None, tmp: Path) -> tuple[NotebookResult, list]:
    """The manifest entry and the KPI records of one notebook."""
    if not job.applicable:
        return NotebookResult(job.notebook, job.title, job.status, job.reason, job.parameters), []
    if ex is None:
        ex = Execution(
            job.notebook, Outcome(STATUS_FAILED, error=Failure("RunnerError", "no result"))
        )
    ipynb, html = tmp / f"{job.notebook}.ipynb", tmp / f"{job.notebook}.html"
    kpis: list[dict[str, Any]] = []
    if ipynb.exists():  # also after a kill: papermill saves the notebook after every cell
        with contextlib.suppress(Exception):
            kpis = kpis_from_notebook(ipynb, notebook=job.notebook)
    o, r = ex.outcome, ex.render or RenderStats()
    return NotebookResult(
        notebook=job.notebook,
        title=job.title,
        status=o.status,
        parameters=job.parameters,
        started_at=o.started_at,
        finished_at=o.finished_at,
        duration_s=o.duration_s,
        error=o.error,
        html=html.name if html.exists() else None,
        ipynb=ipynb.name if ipynb.exists() else None,
        n_kpis=len(kpis),
        stderr_outputs=r.stderr_outputs,
        widget_views=r.widget_views,
        emails_redacted=r.emails_redacted,
    ), kpis


def _run_status(results: list[NotebookResult]) -> str:
    ran = [r for r in results if r.applicable]
    if not ran:
        return STATUS_NOT_APPLICABLE
    return STATUS_OK if all(r.status == STATUS_OK for r in ran) else STATUS_FAILED


def _move_into_place(
    tmp: Path, reports_dir: Path, day: str, name: str, manifest: dict[str, Any]
) -> Path:
    """Rename ``tmp`` to a free ``day/name[-N]``; never replace an existing folder."""
    final = unique_folder(reports_dir, day, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        final = final if not final.exists() else unique_folder(reports_dir, day, name)
        manifest["folder"] = final.relative_to(reports_dir).as_posix()
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        try:
            os.rename(tmp, final)
            return final
        except OSError:  # another run took the name between the check and the rename
            if not final.exists():
                raise
    raise RuntimeError(f"could not move the report into place; it is kept in {tmp}")


def _execute(
    plan: Plan, options: RunOptions, tmp: Path, manifest: dict[str, Any]
) -> dict[str, Execution]:
    if options.progress:
        for job in plan.jobs:
            if not job.applicable:
                why = (job.reason or "").removeprefix(job.notebook + " ")
                print(f"  {job.notebook}: not applicable ({why})", file=sys.stderr)
    work = [_worker_job(j, tmp, manifest, plan, options) for j in plan.applicable]
    try:
        return (
            execute_all(work, options.jobs, options.wall_timeout, options.progress) if work else {}
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # interrupted: leave nothing half-written
        raise


def _run(plan: Plan, options: RunOptions) -> RunResult:
    """The run itself, under the lock: data check, execution, records, move into place."""
    check_data(plan, validate=options.validate_data, progress=options.progress)
    today = options.today or dt.date.today()
    day, reports_dir = today.isoformat(), options.reports()
    tmp = reports_dir / f".tmp-{day}-{plan.name}-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir(parents=True)
    t0 = time.monotonic()
    manifest = _start_manifest(plan, options, today)
    done = _execute(plan, options, tmp, manifest)
    results, kpis = [], []
    for job in plan.jobs:
        res, nb_kpis = _result(job, done.get(job.notebook), tmp)
        results.append(res)
        kpis += [{**k, "run": k.get("run", plan.name), "date": k.get("date", day)} for k in nb_kpis]
    status = _run_status(results)
    manifest.update(
        {
            "finished_at": now(),
            "duration_s": round(time.monotonic() - t0, 2),
            "status": status,
            "folder": None,
            "notebooks": [asdict(r) for r in results],
        }
    )
    (tmp / "kpis.json").write_text(
        json.dumps(
            {"run": plan.name, "date": day, "status": status, "kpis": kpis}, indent=2, default=str
        )
    )
    final = _move_into_place(tmp, reports_dir, day, plan.name, manifest)
    write_index(reports_dir)
    return RunResult(plan.name, final, status, results, manifest)
