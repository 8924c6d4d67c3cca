"""Execute notebooks in spawned worker processes, each in its own process group.

One worker per notebook: it sets the thread budget in the environment its kernel inherits,
runs Papermill with a per-cell timeout, renders the HTML (:mod:`cjlab.report.render`) and
reports an :class:`Execution` back through a queue. The parent starts up to ``jobs`` workers
at once and kills a worker's whole process group (worker and kernel) when the notebook
exceeds its wall-clock limit or the run is interrupted. Spawned (not forked) workers and a
cell timeout that counts as a failure guard against the hangs papermill shows in parallel
runs (DESIGN.md section 4).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import multiprocessing as mp
import os
import queue
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlab.report.cleanup import RunRecord, descendants, kill_tree
from cjlab.report.records import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_TIMEOUT,
    Failure,
    Outcome,
    RenderStats,
)
from cjlab.report.render import ReportMeta

#: errors of writing a file that mean the disk (not the notebook) failed: the run stops
WRITE_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, errno.EFBIG, errno.EROFS, getattr(errno, "EDQUOT", None)) if e
)
WRITE_ERROR = "WriteError"


def write_failure(exc: BaseException) -> Failure | None:
    """A :class:`Failure` of type ``WriteError`` when ``exc`` is a full or read-only disk."""
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        where = f" {exc.filename}" if exc.filename else ""
        return Failure(WRITE_ERROR, f"cannot write{where}: {exc.strerror or exc}")
    return None


def now() -> str:
    """The current UTC time as ISO text with a ``Z``."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs to execute and render one notebook (pickled to the worker)."""

    notebook: str
    input: Path
    ipynb: Path
    html: Path
    parameters: dict[str, Any]
    meta: ReportMeta
    cell_timeout: float = 900
    kernel_name: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # thread budget and other variables
    secrets: tuple[str, ...] = ()  # names of secret parameters (masked in the .ipynb and HTML)
    stderr_log: Path | None = None  # the worker's and kernel's stderr (kept off the terminal)


@dataclass
class Execution:
    """What a worker reports: how the notebook ended and what rendering removed."""

    notebook: str
    outcome: Outcome
    render: RenderStats | None = None


def _cells_at_limit(ipynb: Path, cell_timeout: float) -> list[int]:
    """Indexes of cells whose recorded duration reached the cell time limit."""
    import nbformat

    if not Path(ipynb).exists():
        return []
    nb = nbformat.read(str(ipynb), as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        d = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if d is not None and float(d) >= 0.98 * cell_timeout:
            out.append(i)
    return out


def _prepare_environment(job: WorkerJob) -> None:
    if hasattr(os, "setsid"):  # POSIX: own process group, so the parent can stop the kernel with us
        with contextlib.suppress(OSError):
            os.setsid()
    if (
        job.stderr_log is not None
    ):  # kernel warnings and library noise: to the log, not the terminal
        with contextlib.suppress(OSError):
            fd = os.open(job.stderr_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            sys.stderr.flush()
            os.dup2(fd, 2)
            os.close(fd)
    os.environ.update(job.env)  # before numpy & co. load; the kernel inherits it
    # kernels draw inline (never inherit a headless Agg backend from the caller)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    os.environ["CJLAB_BATCH"] = "1"  # notebooks show static figures instead of live widgets


def _papermill(job: WorkerJob) -> Outcome:
    import papermill as pm

    out = Outcome(started_at=now())
    t0 = time.monotonic()
    try:
        pm.execute_notebook(
            str(job.input),
            str(job.ipynb),
            parameters=job.parameters,
            kernel_name=job.kernel_name or "python3",
            execution_timeout=job.cell_timeout,
            progress_bar=False,
            log_output=False,
            cwd=str(job.input.parent),
            report_mode=False,
        )
        out.status = STATUS_OK
        slow = _cells_at_limit(job.ipynb, job.cell_timeout)
        if slow:  # nbclient can return after a cell sat until the limit: that is a failure
            out.status = STATUS_TIMEOUT
            out.error = Failure(
                "CellTimeout",
                f"cell {slow[0]} ran until the cell time limit of {job.cell_timeout:.0f} s",
                slow[0],
            )
    except BaseException as exc:  # papermill wraps cell errors; timeouts raise too
        name = getattr(exc, "ename", type(exc).__name__)
        msg = str(getattr(exc, "evalue", str(exc)))
        timeout = "timeout" in name.lower() or "timed out" in msg.lower()
        out.status = STATUS_TIMEOUT if timeout else STATUS_FAILED
        out.error = write_failure(exc) or Failure(
            name, msg[:2000], getattr(exc, "exec_count", None)
        )
    out.duration_s = round(time.monotonic() - t0, 2)
    out.finished_at = now()
    return out


def mask_secrets(ipynb: Path, secrets: tuple[str, ...], parameters: dict[str, Any]) -> None:
    """Mask secret parameter values and connection-string passwords in an executed notebook.

    The file is replaced atomically (a full disk leaves the old file, and raises).
    """
    import nbformat

    from cjlab.report.secrets import mask_notebook

    nb = nbformat.read(str(ipynb), as_version=4)
    if mask_notebook(nb, secrets, parameters):
        tmp = ipynb.with_name(f".{ipynb.name}.masked")
        try:
            nbformat.write(nb, str(tmp))
            os.replace(tmp, ipynb)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def work(job: WorkerJob, results: Any) -> None:
    """Worker process: execute one notebook, render its HTML, put an :class:`Execution`."""
    _prepare_environment(job)
    import warnings

    warnings.filterwarnings("ignore")
    from cjlab.report.render import render_html

    outcome = _papermill(job)
    stats = None
    if outcome.error is not None and outcome.error.type == WRITE_ERROR:
        results.put(Execution(job.notebook, outcome))  # the run stops; nothing is rendered
        return
    try:
        if job.ipynb.exists():
            mask_secrets(job.ipynb, job.secrets, job.parameters)
            stats = render_html(job.ipynb, job.html, job.meta, outcome)
        else:
            outcome.status = STATUS_FAILED
            outcome.error = outcome.error or Failure("RunnerError", "no executed notebook written")
    except Exception as exc:
        outcome.status = STATUS_FAILED
        outcome.error = write_failure(exc) or Failure(
            "HTMLExportError", f"{exc}\n{traceback.format_exc()[-1500:]}"
        )
    results.put(Execution(job.notebook, outcome, stats))


def _kill_group(proc: mp.Process) -> None:
    """Kill the worker, its kernel (a session of its own) and the worker's process group."""
    if proc.pid is not None:
        kill_tree(proc.pid)
    with contextlib.suppress(Exception):
        proc.kill()


class _Pool:
    """The running workers of one run, their start times and what they reported."""

    def __init__(
        self,
        n_jobs: int,
        wall_timeout: float,
        progress: bool,
        total: int,
        record: RunRecord | None = None,
    ):
        from tqdm.auto import tqdm

        self.record = record
        self.ctx = mp.get_context("spawn")
        self.results = self.ctx.Queue()
        self.n_jobs, self.wall_timeout, self.progress = n_jobs, wall_timeout, progress
        self.running: dict[str, tuple[mp.Process, float]] = {}
        self.done: dict[str, Execution] = {}
        self.interactive = progress and sys.stderr.isatty()
        self.bar = tqdm(
            total=total,
            desc="cjlab run",
            unit="notebook",
            file=sys.stderr,
            disable=not self.interactive,
            dynamic_ncols=True,
        )

    def start(self, job: WorkerJob) -> None:
        proc = self.ctx.Process(target=work, args=(job, self.results), daemon=False)
        proc.start()
        self.running[job.notebook] = (proc, time.monotonic())
        if self.record is not None:
            self.record.worker(job.notebook, proc.pid)
        if self.progress and not self.interactive:
            print(f"  {job.notebook}: started", file=sys.stderr, flush=True)

    def finish(self, ex: Execution) -> None:
        self.done[ex.notebook] = ex
        entry = self.running.pop(ex.notebook, None)
        if entry:
            entry[0].join(timeout=30)
            if entry[0].is_alive():
                _kill_group(entry[0])
        self.bar.update(1)
        if self.progress:
            o = ex.outcome
            msg = f"  {ex.notebook}: {o.status} ({o.duration_s or 0:.1f} s)"
            self.bar.write(
                msg + (f" — {o.error.message.splitlines()[0][:200]}" if o.error else ""),
                file=sys.stderr,
            )

    def poll(self) -> None:
        """Take one report, then stop notebooks over the wall clock or whose worker died."""
        self.bar.set_postfix_str("running: " + ", ".join(self.running), refresh=True)
        with contextlib.suppress(queue.Empty):
            self.finish(self.results.get(timeout=0.5))
        now_ = time.monotonic()
        for name, (proc, start) in list(self.running.items()):
            if self.record is not None and proc.pid is not None:
                self.record.kernels(name, descendants(proc.pid))
            if now_ - start > self.wall_timeout and proc.is_alive():
                _kill_group(proc)
                msg = f"stopped after the wall-clock limit of {self.wall_timeout:.0f} s"
                self._lost(name, start, STATUS_TIMEOUT, msg)
            elif not proc.is_alive() and name not in self.done:
                try:  # a report may still be in the queue
                    self.finish(self.results.get(timeout=2))
                except queue.Empty:  # the worker died without reporting (killed, out of memory)
                    msg = f"worker process died (exit code {proc.exitcode})"
                    self._lost(name, start, STATUS_FAILED, msg)

    def _lost(self, name: str, start: float, status: str, msg: str) -> None:
        outcome = Outcome(
            status, None, now(), round(time.monotonic() - start, 1), Failure("RunnerError", msg)
        )
        self.finish(Execution(name, outcome))

    def stop_all(self) -> None:
        for proc, _ in self.running.values():
            _kill_group(proc)


def execute_all(
    jobs: list[WorkerJob],
    n_jobs: int,
    wall_timeout: float,
    progress: bool,
    record: RunRecord | None = None,
) -> dict[str, Execution]:
    """Run ``jobs``, ``n_jobs`` at a time; return each notebook's :class:`Execution`.

    On any exception (also ``KeyboardInterrupt`` and
    :class:`~cjlab.report.cleanup.Terminated`) every running worker, its kernel and its process
    group are killed before the exception propagates. ``record`` (the run's ``.run.json``)
    learns each worker and kernel, so a later run can stop them if this one is killed.
    """
    pending = list(jobs)
    pool = _Pool(max(1, n_jobs), wall_timeout, progress, len(jobs), record)
    try:
        while pending or pool.running:
            while pending and len(pool.running) < pool.n_jobs:
                pool.start(pending.pop(0))
            pool.poll()
    except BaseException:
        pool.stop_all()
        raise
    finally:
        pool.bar.close()
    return pool.done
