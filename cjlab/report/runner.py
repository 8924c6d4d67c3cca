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

Clean ends (:mod:`~cjlab.report.cleanup`): SIGTERM and SIGHUP are handled like Ctrl-C (every
worker and kernel killed, the temporary folder removed); the temporary folder records the
run's processes, so the next run removes what a killed run (SIGKILL) left behind. A full or
read-only disk stops the run with :class:`ReportWriteError` and removes the temporary folder:
no 0-byte ``kpis.json`` or truncated notebook is ever moved into place.

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
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cjlab.report.checks import check_reports_dir
from cjlab.report.cleanup import RunRecord, remove_stale, signals_as_interrupt
from cjlab.report.environment import (
    PACKAGES,
    demo_seed,
    file_sha256,
    git_state,
    package_versions,
    seeds,
    software,
)
from cjlab.report.execute import (
    WRITE_ERRNOS,
    WRITE_ERROR,
    Execution,
    WorkerJob,
    _cells_at_limit,
    mask_secrets,
    now,
)
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
from cjlab.report.pool import WorkerPool, execute_all
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
    ReportMeta,
    notebook_records,
)
from cjlab.report.secrets import mask_parameters, mask_text, mask_value, secret_values

__all__ = [
    "PACKAGES",
    "STATUS_FAILED",
    "STATUS_NOT_APPLICABLE",
    "STATUS_OK",
    "STATUS_TIMEOUT",
    "NotebookResult",
    "ReportWriteError",
    "RunLockedError",
    "RunOptions",
    "RunResult",
    "_cells_at_limit",
    "all_notebooks",
    "find_notebooks",
    "package_versions",
    "project_root",
    "run",
    "run_lock",
    "unique_folder",
]


#: where notebooks write exports and find the report folder: the names
#: :mod:`cjlab.notebook.exports` reads (equal, tested; not imported, which would load pandas)
OUTPUT_DIR_ENV = "CJLAB_OUTPUT_DIR"
REPORT_DIR_ENV = "CJLAB_REPORT_DIR"


class RunLockedError(RuntimeError):
    """Another ``cjlab run`` holds the lock of this reports folder."""


class ReportWriteError(RuntimeError):
    """The report could not be written (disk full, read-only folder); nothing was moved into
    place and earlier reports are unchanged."""


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
        with contextlib.suppress(OSError):  # a full disk: the lock itself still holds
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
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every applicable notebook completed (not-applicable notebooks are no failure)."""
        return self.status in (STATUS_OK, STATUS_NOT_APPLICABLE)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _git_commit(root: Path) -> dict[str, Any]:
    return git_state(root)


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
    ParameterError : a parameter or option is unknown, missing or out of range, or the
        reports folder cannot be used (nothing run).
    cjlab.data.DataValidationError : the data break the contract (nothing is run).
    RunLockedError : another run holds the lock of the reports folder.
    ReportWriteError : the disk is full or read-only (nothing moved into place).
    cjlab.report.cleanup.Terminated : SIGTERM/SIGHUP (a ``KeyboardInterrupt``): every worker
        and kernel killed, the temporary folder removed.

    Examples
    --------
    >>> run(["00"], data_source="demo:n_customers=3000,seed=11", jobs=2)  # doctest: +SKIP
    """
    if notebooks is not None:
        kwargs["notebooks"] = notebooks
    options = dataclasses.replace(options, **kwargs) if options else RunOptions(**kwargs)
    with signals_as_interrupt():
        pool = WorkerPool(warm_workers(options))  # they import while the run is checked
        try:
            plan = plan_run(options)
            check_reports_dir(options.reports())
            with run_lock(options.reports(), options.lock_wait):
                result = _run(plan, options, pool)
        except OSError as exc:
            pool.close(kill=True)
            if is_write_error(exc, options.reports()):
                raise ReportWriteError(_write_message(options.reports(), exc)) from exc
            raise
        except BaseException:
            pool.close(kill=True)
            raise
        pool.close()
        return result


def warm_workers(options: RunOptions) -> int:
    """Workers to start before the run is planned: one per notebook run at once (at most the
    notebooks named), none when the options are out of range (the run stops at once)."""
    if options.problems():
        return 0
    named = len(options.notebooks) if options.notebooks else options.jobs
    return max(0, min(options.jobs, named))


def is_write_error(exc: BaseException, reports_dir: Path) -> bool:
    """A full or read-only disk, or a refused write inside the reports folder."""
    if not isinstance(exc, OSError):
        return False
    if exc.errno in WRITE_ERRNOS:
        return True
    if isinstance(exc, PermissionError) and exc.filename:
        with contextlib.suppress(OSError, ValueError):
            return Path(exc.filename).resolve().is_relative_to(Path(reports_dir).resolve())
    return False


def _write_message(reports_dir: Path, exc: BaseException) -> str:
    what = getattr(exc, "strerror", None) or str(exc)
    where = f" ({Path(exc.filename).name})" if getattr(exc, "filename", None) else ""
    return (
        f"cannot write the report into {reports_dir}: {what}{where}; nothing was moved into "
        "place and earlier reports are unchanged"
    )


def _start_manifest(plan: Plan, options: RunOptions, today: dt.date) -> dict[str, Any]:
    b = plan.threads
    root = options.project()
    secrets = [v for j in plan.jobs for v in secret_values(j.parameters, j.secrets)]
    command = " ".join(sys.argv) if sys.argv and sys.argv[0] else None
    return {
        "cjlab_report": 1,
        "name": plan.name,
        "date": today.isoformat(),
        "started_at": now(),
        "command": mask_text(command, secrets),
        "run_file": plan.run_file,
        "run_file_sha256": file_sha256(Path(plan.run_file)) if plan.run_file else None,
        "git": git_state(root),
        "software": software(root),
        "versions": package_versions(),
        "data_sources": mask_value(plan.sources),
        "seeds": {
            **{j.notebook: seeds(j.parameters) for j in plan.jobs},
            "data_sources": {
                mask_text(s): demo_seed(s) for s in plan.sources if demo_seed(s) is not None
            },
        },
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
        **dict(options.record or {}),
    }


def _worker_job(
    job: NotebookJob, tmp: Path, manifest: dict[str, Any], plan: Plan, options: RunOptions
) -> WorkerJob:
    meta = ReportMeta(
        run=plan.name,
        date=manifest["date"],
        notebook=job.notebook,
        title=job.title,
        parameters=mask_parameters(job.parameters, job.secrets),
        data=mask_value(plan.sources.get(job.data_source)),
        git=manifest["git"],
        started_at=manifest["started_at"],
    )
    env = {
        **manifest["threads"]["environment"],
        OUTPUT_DIR_ENV: str(tmp / "exports"),
        REPORT_DIR_ENV: str(tmp),
    }
    return WorkerJob(
        job.notebook,
        job.path,
        tmp / f"{job.notebook}.ipynb",
        tmp / f"{job.notebook}.html",
        job.parameters,
        meta,
        options.cell_timeout,
        options.kernel_name,
        env,
        job.secrets,
        tmp / f".stderr-{job.notebook}.log",
    )


def _collect_stderr(tmp: Path, reports_dir: Path) -> None:
    """Append the workers' stderr to ``cjlab.log`` in the reports folder; remove the files."""
    for f in sorted(tmp.glob(".stderr-*.log")):
        with contextlib.suppress(OSError):
            text = f.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                with (reports_dir / "cjlab.log").open("a", encoding="utf-8") as log:
                    log.write(f"--- {now()} {tmp.name} {f.stem.removeprefix('.stderr-')}\n")
                    log.write(mask_text(text) + "\n")
        with contextlib.suppress(OSError):
            f.unlink()


def _complete_notebook(ipynb: Path, job: NotebookJob) -> tuple[list, list] | None:
    """The KPI and headline records of an executed notebook, or None when the file is cut off.

    Papermill saves the notebook after every cell, so KPIs recorded before a kill are kept.
    A notebook killed while it was being saved is cut off: it is removed, never moved into
    place. Secrets are masked here too (a killed worker could not mask them).
    """
    try:
        mask_secrets(ipynb, job.secrets, job.parameters)
        return notebook_records(ipynb, notebook=job.notebook)
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise
    except Exception:  # unreadable JSON: a truncated file
        pass
    with contextlib.suppress(OSError):
        ipynb.unlink()
    return None


def _result(job: NotebookJob, ex: Execution | None, tmp: Path) -> tuple[NotebookResult, list]:
    """The manifest entry and the KPI records of one notebook."""
    params = mask_parameters(job.parameters, job.secrets)
    if not job.applicable:
        return NotebookResult(
            job.notebook, job.title, job.status, job.reason, params,
            secret_parameters=list(job.secrets),
        ), []  # fmt: skip
    if ex is None:
        ex = Execution(
            job.notebook, Outcome(STATUS_FAILED, error=Failure("RunnerError", "no result"))
        )
    ipynb, html = tmp / f"{job.notebook}.ipynb", tmp / f"{job.notebook}.html"
    kpis: list[dict[str, Any]] = []
    heads: list[dict[str, Any]] = []
    o, r = ex.outcome, ex.render or RenderStats()
    if ipynb.exists() and ex.masked and ex.kpis is not None:  # the worker read them
        kpis, heads = ex.kpis, ex.headlines or []
    elif ipynb.exists():
        got = _complete_notebook(ipynb, job)
        if got is None:
            o.status = STATUS_FAILED
            o.error = Failure("RunnerError", "the executed notebook was cut off while being saved")
        kpis, heads = got or ([], [])
    secrets = secret_values(job.parameters, job.secrets)
    error = o.error and Failure(o.error.type, mask_text(o.error.message, secrets), o.error.cell)
    return NotebookResult(
        notebook=job.notebook,
        title=job.title,
        status=o.status,
        parameters=params,
        started_at=o.started_at,
        finished_at=o.finished_at,
        duration_s=o.duration_s,
        error=error,
        html=html.name if html.exists() else None,
        ipynb=ipynb.name if ipynb.exists() else None,
        n_kpis=len(kpis),
        stderr_outputs=r.stderr_outputs,
        widget_views=r.widget_views,
        emails_redacted=r.emails_redacted,
        secret_parameters=list(job.secrets),
        headline=_masked_headline(heads[0] if heads else None, secrets),
    ), kpis


def _masked_headline(rec: dict[str, Any] | None, secrets: list[str]) -> dict[str, Any] | None:
    """The top headline record, tidied (tolerant of malformed records), secrets masked."""
    from cjlab.results import Headline

    head = Headline.from_record(rec)
    if head is None:
        return None
    out = head.to_record()
    out["title"] = mask_text(out["title"], secrets)
    out["items"] = [[mask_text(k, secrets), mask_text(v, secrets)] for k, v in out["items"]]
    return out


def _run_status(results: list[NotebookResult]) -> str:
    ran = [r for r in results if r.applicable]
    if not ran:
        return STATUS_NOT_APPLICABLE
    return STATUS_OK if all(r.status == STATUS_OK for r in ran) else STATUS_FAILED


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, fsync, rename).

    A full disk raises before anything named ``path`` exists: a 0-byte or truncated file is
    never left under the real name.
    """
    import tempfile

    text = json.dumps(data, indent=2, default=str)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".write-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def file_mode() -> int:
    """The mode a new file gets under the current umask (temporary files start private)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _move_into_place(
    tmp: Path, reports_dir: Path, day: str, name: str, manifest: dict[str, Any]
) -> Path:
    """Rename ``tmp`` to a free ``day/name[-N]``; never replace an existing folder."""
    final = unique_folder(reports_dir, day, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        final = final if not final.exists() else unique_folder(reports_dir, day, name)
        manifest["folder"] = final.relative_to(reports_dir).as_posix()
        write_json(tmp / "manifest.json", manifest)
        try:
            os.rename(tmp, final)
            return final
        except OSError:  # another run took the name between the check and the rename
            if not final.exists():
                raise
    raise RuntimeError(f"could not move the report into place; it is kept in {tmp}")


def _execute(
    plan: Plan,
    options: RunOptions,
    tmp: Path,
    manifest: dict[str, Any],
    record: RunRecord,
    pool: WorkerPool | None = None,
) -> dict[str, Execution]:
    if options.progress:
        for job in plan.jobs:
            if not job.applicable:
                why = (job.reason or "").removeprefix(job.notebook + " ")
                print(f"  {job.notebook}: not applicable ({why})", file=sys.stderr)
    work = [_worker_job(j, tmp, manifest, plan, options) for j in plan.applicable]
    if not work:
        return {}
    done = execute_all(work, options.jobs, options.wall_timeout, options.progress, record, pool)
    for ex in done.values():
        if ex.outcome.error is not None and ex.outcome.error.type == WRITE_ERROR:
            raise ReportWriteError(
                f"cannot write the report into {tmp.parent}: {ex.outcome.error.message} "
                f"({ex.notebook}); nothing was moved into place and earlier reports are unchanged"
            )
    return done


@contextlib.contextmanager
def _temporary(tmp: Path) -> Iterator[RunRecord]:
    """Create the run's temporary folder; remove it on any error or interruption."""
    try:
        tmp.mkdir(parents=True)
        yield RunRecord(tmp)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_write_error(exc, tmp.parent):
            raise ReportWriteError(_write_message(tmp.parent, exc)) from exc
        raise


def _exports(tmp: Path) -> list[dict[str, Any]]:
    """The files notebooks exported (``exports/``), with their sizes and hashes."""
    folder = tmp / "exports"
    if not folder.is_dir():
        return []
    return [
        {"file": f.relative_to(tmp).as_posix(), "bytes": f.stat().st_size, "sha256": file_sha256(f)}
        for f in sorted(folder.iterdir())
        if f.is_file() and not f.name.startswith(".")
    ]


def _run(plan: Plan, options: RunOptions, pool: WorkerPool | None = None) -> RunResult:
    """The run itself, under the lock: clean-up, data check, execution, records, move."""
    reports_dir = options.reports()
    cleaned = remove_stale(reports_dir)
    for line in cleaned:
        print(f"cjlab run: {line}", file=sys.stderr)
    check_data(plan, validate=options.validate_data, progress=options.progress)
    today = options.today or dt.date.today()
    day = today.isoformat()
    tmp = reports_dir / f".tmp-{day}-{plan.name}-{os.getpid()}-{int(time.time() * 1000)}"
    t0 = time.monotonic()
    with _temporary(tmp) as record:
        manifest = _start_manifest(plan, options, today)
        manifest["cleaned_up"] = cleaned
        done = _execute(plan, options, tmp, manifest, record, pool)
        results, kpis = [], []
        for job in plan.jobs:
            res, nb_kpis = _result(job, done.get(job.notebook), tmp)
            results.append(res)
            kpis += [
                {**k, "run": k.get("run", plan.name), "date": k.get("date", day)} for k in nb_kpis
            ]
        status = _run_status(results)
        manifest.update(
            {
                "finished_at": now(),
                "duration_s": round(time.monotonic() - t0, 2),
                "status": status,
                "folder": None,
                "notebooks": [asdict(r) for r in results],
                "exports": _exports(tmp),
            }
        )
        write_json(
            tmp / "kpis.json", {"run": plan.name, "date": day, "status": status, "kpis": kpis}
        )
        _collect_stderr(tmp, reports_dir)
        record.remove()
        final = _move_into_place(tmp, reports_dir, day, plan.name, manifest)
    warnings = []
    try:
        write_index(reports_dir)
    except OSError as exc:
        warnings.append(f"the report is complete, but index.html could not be updated: {exc}")
    return RunResult(plan.name, final, status, results, manifest, warnings)
