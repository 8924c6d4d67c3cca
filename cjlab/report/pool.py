"""Warm workers and the execution of a run's notebooks, with a progress display that moves.

:class:`WorkerPool` starts *spawned* worker processes (:func:`cjlab.report.execute.serve`) as
soon as a run begins, so their imports (Papermill, nbclient, the HTML exporter) happen while
the parent still checks parameters and data; each worker then executes one notebook after
another. :func:`execute_all` hands the notebooks to the workers, ``jobs`` at a time, and kills
a worker's whole process group (worker and kernel) when its notebook exceeds the wall-clock
limit or the run is interrupted; a killed or dead worker is replaced by a fresh one.

Progress: a bar on a terminal whose text names each running notebook's current cell and
section (the last markdown heading above the cell); in a log (no terminal), one line when a
notebook starts, one per section it enters, and one when it ends.

Examples
--------
>>> progress_text("02_ab_test", Progress("02_ab_test", 12, 40, "Posterior and decision"))
'02_ab_test: cell 12/40 · Posterior and decision'
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from cjlab.report.cleanup import RunRecord, descendants, kill_tree
from cjlab.report.execute import Execution, Progress, WorkerJob, now, serve
from cjlab.report.records import STATUS_FAILED, STATUS_TIMEOUT, Failure, Outcome


@dataclass
class Worker:
    """One spawned worker process, its own task queue and the notebook it runs (if any)."""

    proc: Any
    tasks: Any
    job: WorkerJob | None = None
    started: float = 0.0
    progress: Progress | None = None
    sections: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.is_alive()


class WorkerPool:
    """Spawned, pre-imported workers that execute notebooks one after another.

    Parameters
    ----------
    size : workers to start at once (they import while the caller plans the run).
    """

    def __init__(self, size: int = 0):
        self.ctx = mp.get_context("spawn")
        self.results = self.ctx.Queue()
        self.workers: list[Worker] = []
        self.warm(size)

    def warm(self, n: int) -> None:
        """Start workers until ``n`` are alive."""
        while sum(w.alive() for w in self.workers) < n:
            self._spawn()

    def _spawn(self) -> Worker:
        tasks = self.ctx.Queue()
        proc = self.ctx.Process(target=serve, args=(tasks, self.results, os.getpid()))
        proc.start()
        w = Worker(proc, tasks)
        self.workers.append(w)
        return w

    def idle(self) -> Worker:
        """A live worker without a notebook (a new one when none is free)."""
        self.workers = [w for w in self.workers if w.alive() or w.job is not None]
        for w in self.workers:
            if w.job is None and w.alive():
                return w
        return self._spawn()

    def assign(self, job: WorkerJob) -> Worker:
        w = self.idle()
        w.job, w.started, w.progress, w.sections = job, time.monotonic(), None, []
        w.tasks.put(job)
        return w

    def discard(self, w: Worker) -> None:
        """Kill ``w``, its kernel and its process group; forget it."""
        _kill(w.proc)
        if w in self.workers:
            self.workers.remove(w)

    def close(self, kill: bool = False) -> None:
        """End idle workers (``kill``: every worker at once), kill busy ones; wait briefly."""
        for w in self.workers:
            if kill or w.job is not None:
                _kill(w.proc)
            else:
                with contextlib.suppress(Exception):
                    w.tasks.put(None)
        end = time.monotonic() + 5
        for w in self.workers:
            w.proc.join(timeout=max(0.0, end - time.monotonic()))
            if w.proc.is_alive():
                _kill(w.proc)
        self.workers = []


def _kill(proc: Any) -> None:
    """Kill the worker, its kernel (a session of its own) and the worker's process group."""
    if proc.pid is not None:
        kill_tree(proc.pid)
    with contextlib.suppress(Exception):
        proc.kill()


def progress_text(notebook: str, p: Progress | None) -> str:
    """One running notebook for the progress display."""
    if p is None:
        return f"{notebook}: starting"
    return f"{notebook}: cell {p.cell}/{p.cells}" + (f" · {p.section}" if p.section else "")


class _Run:
    """The notebooks of one run on a :class:`WorkerPool`: scheduling, limits and progress."""

    def __init__(self, pool: WorkerPool, n_jobs: int, wall_timeout: float, progress: bool,
                 total: int, record: RunRecord | None = None):  # fmt: skip
        from tqdm.auto import tqdm

        self.pool, self.record = pool, record
        self.n_jobs, self.wall_timeout, self.progress = n_jobs, wall_timeout, progress
        self.done: dict[str, Execution] = {}
        self.interactive = progress and sys.stderr.isatty()
        self.bar = tqdm(
            total=total, desc="cjlab run", unit="notebook", file=sys.stderr,
            disable=not self.interactive, dynamic_ncols=True,
        )  # fmt: skip

    @property
    def running(self) -> list[Worker]:
        return [w for w in self.pool.workers if w.job is not None]

    def start(self, job: WorkerJob) -> None:
        w = self.pool.assign(job)
        if self.record is not None and w.pid is not None:
            self.record.worker(job.notebook, w.pid)
        if self.progress and not self.interactive:
            print(f"  {job.notebook}: started", file=sys.stderr, flush=True)

    def _worker_of(self, notebook: str) -> Worker | None:
        return next((w for w in self.running if w.job.notebook == notebook), None)

    def finish(self, ex: Execution) -> None:
        self.done[ex.notebook] = ex
        w = self._worker_of(ex.notebook)
        if w is not None:
            w.job = None
        self.bar.update(1)
        if self.progress:
            o = ex.outcome
            msg = f"  {ex.notebook}: {o.status} ({o.duration_s or 0:.1f} s)"
            self.bar.write(
                msg + (f" — {o.error.message.splitlines()[0][:200]}" if o.error else ""),
                file=sys.stderr,
            )

    def _moved(self, p: Progress) -> None:
        w = self._worker_of(p.notebook)
        if w is None:
            return
        w.progress = p
        if self.progress and not self.interactive and p.section and p.section not in w.sections:
            w.sections.append(p.section)
            print(f"  {progress_text(p.notebook, p)}", file=sys.stderr, flush=True)

    def _message(self, timeout: float) -> None:
        msg = self.pool.results.get(timeout=timeout)
        if isinstance(msg, Progress):
            self._moved(msg)
        elif isinstance(msg, Execution):
            self.finish(msg)

    def poll(self) -> None:
        """Take the reports, then stop notebooks over the wall clock or whose worker died."""
        self.bar.set_postfix_str(
            " | ".join(progress_text(w.job.notebook, w.progress) for w in self.running),
            refresh=True,
        )
        with contextlib.suppress(queue.Empty):
            self._message(0.5)
            while True:  # drain what else arrived (progress comes cell by cell)
                self._message(0.0)
        now_ = time.monotonic()
        for w in self.running:
            name = w.job.notebook
            if self.record is not None and w.pid is not None:
                self.record.kernels(name, descendants(w.pid))
            if now_ - w.started > self.wall_timeout and w.alive():
                self.pool.discard(w)
                msg = f"stopped after the wall-clock limit of {self.wall_timeout:.0f} s"
                self._lost(name, w.started, STATUS_TIMEOUT, msg)
            elif not w.alive():
                self._after_death(w)

    def _after_death(self, w: Worker) -> None:
        name, start = w.job.notebook, w.started
        with contextlib.suppress(queue.Empty):  # its report may still be in the queue
            end = time.monotonic() + 2
            while name not in self.done and time.monotonic() < end:
                self._message(max(0.0, end - time.monotonic()))
        if name not in self.done:  # died without reporting (killed, out of memory)
            self.pool.discard(w)
            self._lost(
                name, start, STATUS_FAILED, f"worker process died (exit code {w.proc.exitcode})"
            )
        elif w in self.pool.workers:
            self.pool.discard(w)

    def _lost(self, name: str, start: float, status: str, msg: str) -> None:
        outcome = Outcome(
            status, None, now(), round(time.monotonic() - start, 1), Failure("RunnerError", msg)
        )
        self.finish(Execution(name, outcome))


def execute_all(
    jobs: list[WorkerJob],
    n_jobs: int,
    wall_timeout: float,
    progress: bool,
    record: RunRecord | None = None,
    pool: WorkerPool | None = None,
) -> dict[str, Execution]:
    """Run ``jobs``, ``n_jobs`` at a time, on ``pool`` (or a pool of its own); return each
    notebook's :class:`Execution`.

    On any exception (also ``KeyboardInterrupt`` and
    :class:`~cjlab.report.cleanup.Terminated`) every running worker, its kernel and its process
    group are killed before the exception propagates. ``record`` (the run's ``.run.json``)
    learns each worker and kernel, so a later run can stop them if this one is killed.
    """
    own = pool is None
    pool = pool or WorkerPool()
    pending = list(jobs)
    run = _Run(pool, max(1, n_jobs), wall_timeout, progress, len(jobs), record)
    try:
        while pending or run.running:
            while pending and len(run.running) < run.n_jobs:
                run.start(pending.pop(0))
            run.poll()
    except BaseException:
        for w in run.running:
            pool.discard(w)
        raise
    finally:
        run.bar.close()
        if own:
            pool.close()
    return run.done
