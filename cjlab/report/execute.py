"""Execute one notebook in a worker process: Papermill with a cell timeout, then the HTML.

A worker (:func:`serve`, started by :mod:`cjlab.report.pool`) is a *spawned* process in a
process group of its own that imports Papermill, nbclient and the HTML exporter once, before
it gets its first notebook, and then executes the notebooks the parent hands it, one at a
time (:func:`work`): it sets the thread budget in the environment its kernel inherits, runs
Papermill with a per-cell timeout, renders the HTML (:mod:`cjlab.report.render`), reads the
notebook's KPI and headline records and reports an :class:`Execution` back through a queue —
and, while the notebook runs, a :class:`Progress` per cell (its number and section). Spawned
(not forked) workers and a cell timeout that counts as a failure guard against the hangs
papermill shows in parallel runs (DESIGN.md section 4).

Kernels talk to their worker over local TCP (papermill's default). IPC sockets would drop
the kernel's "running over TCP without encryption" warning (which goes to the run's log), but
with them nbclient no longer enforces the cell timeout (a 15 s cell ran to its end under a
3 s limit), so they are not used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import queue
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlab.report.records import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_TIMEOUT,
    Failure,
    Outcome,
    RenderStats,
    notebook_records,
)

#: errors of writing a file that mean the disk (not the notebook) failed: the run stops
WRITE_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, errno.EFBIG, errno.EROFS, getattr(errno, "EDQUOT", None)) if e
)
WRITE_ERROR = "WriteError"
#: an optional dependency of jsonschema whose import takes 2 s (it compiles a grammar) and that
#: nbformat never uses (it checks no string formats): kept out of the runner's processes
SLOW_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


def quiet_imports() -> None:
    """Keep :data:`SLOW_OPTIONAL_IMPORTS` from loading in this process (their users skip them)."""
    for name in SLOW_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]


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
    meta: Any  # cjlab.report.render.ReportMeta
    cell_timeout: float = 900
    kernel_name: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # thread budget and other variables
    secrets: tuple[str, ...] = ()  # names of secret parameters (masked in the .ipynb and HTML)
    stderr_log: Path | None = None  # the worker's and kernel's stderr (kept off the terminal)


@dataclass
class Execution:
    """What a worker reports: how the notebook ended, what rendering removed, its records.

    ``kpis`` and ``headlines`` are ``None`` when the worker could not read them (the parent
    then reads the saved notebook); ``masked`` says the worker masked the notebook's secrets.
    """

    notebook: str
    outcome: Outcome
    render: RenderStats | None = None
    kpis: list[dict[str, Any]] | None = None
    headlines: list[dict[str, Any]] | None = None
    masked: bool = False


@dataclass(frozen=True)
class Progress:
    """A notebook's current code cell (1-based, of ``cells``) and its section heading."""

    notebook: str
    cell: int
    cells: int
    section: str | None = None


def _cells_at_limit(ipynb: Path, cell_timeout: float) -> list[int]:
    """Indexes of cells whose recorded duration reached the cell time limit."""
    if not Path(ipynb).exists():
        return []
    nb = json.loads(Path(ipynb).read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        d = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if d is not None and float(d) >= 0.98 * cell_timeout:
            out.append(i)
    return out


def heading(markdown: str) -> str | None:
    """The last heading of a markdown cell (``## Drivers`` -> ``'Drivers'``), if any.

    Examples
    --------
    >>> heading("# A/B tests\\nintro\\n## Posterior and decision ##")
    'Posterior and decision'
    """
    found = None
    for line in markdown.splitlines():
        text = line.strip()
        if text.startswith("#") and text.lstrip("#").startswith(" "):
            found = text.strip("#").strip() or found
    return found


class CellReporter:
    """nbclient's ``on_cell_start`` hook: a :class:`Progress` for each code cell that starts.

    Markdown cells pass by first, so the section of a code cell is the last heading above it.
    """

    def __init__(self, job: WorkerJob, results: Any):
        self.notebook, self.results = job.notebook, results
        self.section: str | None = None
        self.done = 0
        try:
            cells = json.loads(Path(job.input).read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            cells = []
        # papermill adds the injected-parameters cell when it is given parameters
        self.cells = sum(c.get("cell_type") == "code" for c in cells) + bool(job.parameters)

    def __call__(self, cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        if cell is None:
            return
        if cell.get("cell_type") == "markdown":
            source = cell.get("source") or ""
            self.section = heading("".join(source) if isinstance(source, list) else source) or (
                self.section
            )
            return
        if cell.get("cell_type") == "code":
            self.done += 1
            with contextlib.suppress(Exception):  # progress must never break a run
                self.results.put(
                    Progress(self.notebook, self.done, max(self.cells, self.done), self.section)
                )


def _prepare_job(job: WorkerJob, previous: dict[str, str]) -> dict[str, str]:
    """Set the job's environment (replacing the previous job's) and send stderr to its log."""
    if job.stderr_log is not None:  # kernel warnings and library noise: to the log
        with contextlib.suppress(OSError):
            fd = os.open(job.stderr_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            sys.stderr.flush()
            os.dup2(fd, 2)
            os.close(fd)
    for key in set(previous) - set(job.env):
        os.environ.pop(key, None)
    os.environ.update(job.env)  # before numpy & co. load in the kernel, which inherits it
    return dict(job.env)


def _papermill(job: WorkerJob, hook: Any = None) -> Outcome:
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
            **({"on_cell_start": hook} if hook is not None else {}),
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


def work(job: WorkerJob, results: Any, previous_env: dict[str, str] | None = None) -> dict:
    """Execute one notebook, render its HTML and put its :class:`Execution` on ``results``.

    Returns the environment variables it set (the next job replaces them).
    """
    env = _prepare_job(job, previous_env or {})
    from cjlab.report.render import render_html

    outcome = _papermill(job, CellReporter(job, results))
    if outcome.error is not None and outcome.error.type == WRITE_ERROR:
        results.put(Execution(job.notebook, outcome))  # the run stops; nothing is rendered
        return env
    ex = Execution(job.notebook, outcome)
    try:
        if job.ipynb.exists():
            mask_secrets(job.ipynb, job.secrets, job.parameters)
            ex.masked = True
            ex.kpis, ex.headlines = notebook_records(job.ipynb, job.notebook)
            ex.render = render_html(job.ipynb, job.html, job.meta, outcome)
        else:
            outcome.status = STATUS_FAILED
            outcome.error = outcome.error or Failure("RunnerError", "no executed notebook written")
    except Exception as exc:
        outcome.status = STATUS_FAILED
        outcome.error = write_failure(exc) or Failure(
            "HTMLExportError", f"{exc}\n{traceback.format_exc()[-1500:]}"
        )
    results.put(ex)
    return env


def preload() -> None:
    """Import what every notebook's execution needs, and build the HTML exporter, once."""
    quiet_imports()
    import warnings

    warnings.filterwarnings("ignore")
    with contextlib.suppress(Exception):  # best effort: a real import error shows in work()
        import nbclient  # noqa: F401
        import papermill  # noqa: F401

        from cjlab.report import render

        render._exporter()
        import jupyter_client.manager  # noqa: F401


def _parent_alive(parent: int) -> bool:
    return os.getppid() == parent if hasattr(os, "getppid") else True


def serve(tasks: Any, results: Any, parent: int) -> None:
    """A warm worker: its own process group, the imports done, then one notebook at a time.

    ``tasks`` brings :class:`WorkerJob` objects (``None`` ends the worker); the worker also
    ends when its parent process is gone, so an idle worker never outlives a killed run.
    """
    if hasattr(os, "setsid"):  # POSIX: own process group, so the parent can stop the kernel
        with contextlib.suppress(OSError):
            os.setsid()
    with contextlib.suppress(OSError):  # imports and idle time: nothing to the terminal
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        os.close(fd)
    # kernels draw inline (never inherit a headless Agg backend from the caller)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    os.environ["CJLAB_BATCH"] = "1"  # notebooks show static figures instead of live widgets
    preload()
    env: dict[str, str] = {}
    while True:
        try:
            job = tasks.get(timeout=1.0)
        except queue.Empty:
            if not _parent_alive(parent):
                return
            continue
        except (EOFError, OSError):
            return
        if job is None:
            return
        env = work(job, results, env)
