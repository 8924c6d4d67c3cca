"""Run notebooks with Papermill into a dated report folder.

``run`` checks every notebook's parameters and the data before any kernel starts, executes
the notebooks in spawned worker processes (each in its own process group, with a per-cell
timeout and an outer wall-clock limit), renders each executed notebook to self-contained
HTML with the code hidden, and writes ``manifest.json`` and ``kpis.json``. Everything is
written into a hidden temporary folder that is moved into place at the end, so an
interrupted run never leaves a half-written report and never replaces an earlier one:
``reports/YYYY-MM-DD/<name>/`` (``<name>-2``, ``-3`` ... for later runs of the same day).

The runner knows nothing about statistics.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from cjlab.report.params import ParameterError, declared_parameters, read_yaml, resolve

STATUS_OK = "completed"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timeout"
PACKAGES = ("cjlab", "numpy", "pandas", "scipy", "duckdb", "narwhals", "scikit-learn", "pymc",
            "pymc-marketing", "pytensor", "papermill", "nbconvert", "nbclient", "seaborn",
            "matplotlib", "ipywidgets", "pyspark")


def project_root() -> Path:
    """The project folder: ``$CJLAB_HOME``, else the nearest parent with ``notebooks/``."""
    if os.environ.get("CJLAB_HOME"):
        return Path(os.environ["CJLAB_HOME"]).resolve()
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "notebooks").is_dir() and (p / "params").is_dir():
            return p
    pkg = Path(__file__).resolve().parents[2]
    if (pkg / "notebooks").is_dir():
        return pkg
    return here


class RunLockedError(RuntimeError):
    """Another ``cjlab run`` holds the lock of this reports folder."""


@contextlib.contextmanager
def run_lock(reports_dir: Path, wait: float = 0.0):
    """Hold ``reports_dir/.run.lock`` for the whole run; wait up to ``wait`` seconds for it."""
    import fcntl

    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / ".run.lock"
    fh = open(path, "a+")
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown"
                    raise RunLockedError(
                        f"another cjlab run is writing to {reports_dir} ({holder}); "
                        "try again later or pass --wait SECONDS") from None
                time.sleep(0.5)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {_now()}")
        fh.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


@dataclass
class NotebookResult:
    """What happened to one notebook of a run."""

    notebook: str
    status: str = "pending"
    parameters: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    error: dict[str, Any] | None = None
    html: str | None = None
    ipynb: str | None = None
    n_kpis: int = 0
    stderr_outputs: int = 0  # warnings and other stderr text (kept in .ipynb, not shown in HTML)
    widget_views: int = 0  # widgets replaced by their static fallbacks in the HTML
    emails_redacted: int = 0


@dataclass
class RunResult:
    """The outcome of :func:`run`: where the report is and what each notebook did."""

    name: str
    folder: Path
    status: str
    notebooks: list[NotebookResult]
    manifest: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _git_commit(root: Path) -> dict[str, Any]:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip() != ""
        return {"commit": sha or None, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[p] = metadata.version(p)
    return out


def find_notebooks(names: Sequence[str], root: Path) -> list[Path]:
    """Resolve notebook names (``01_survey``, ``01``, a path) to files in ``notebooks/``."""
    nb_dir = root / "notebooks"
    available = sorted(p for p in nb_dir.glob("*.ipynb") if not p.name.startswith("."))
    out: list[Path] = []
    problems = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.exists():
            out.append(p.resolve())
            continue
        hits = [a for a in available if a.stem == name or a.stem.startswith(name + "_") or a.name == name]
        if len(hits) == 1:
            out.append(hits[0])
        else:
            problems.append(f"notebook {name!r} {'is ambiguous' if hits else 'not found'}; available: "
                            + ", ".join(a.stem for a in available))
    if problems:
        raise ParameterError(problems)
    return out


def all_notebooks(root: Path) -> list[Path]:
    return sorted(p for p in (root / "notebooks").glob("[0-9]*.ipynb"))


def unique_folder(reports_dir: Path, day: str, name: str) -> Path:
    base = reports_dir / day / name
    if not base.exists():
        return base
    i = 2
    while (reports_dir / day / f"{name}-{i}").exists():
        i += 1
    return reports_dir / day / f"{name}-{i}"


# -- worker ----------------------------------------------------------------------------------
def _cells_at_limit(ipynb: Path, cell_timeout: float) -> list[int]:
    """Indexes of cells whose recorded duration reached the cell time limit."""
    import nbformat

    if not ipynb.exists():
        return []
    nb = nbformat.read(str(ipynb), as_version=4)
    out = []
    for i, cell in enumerate(nb.cells):
        d = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if d is not None and float(d) >= 0.98 * cell_timeout:
            out.append(i)
    return out


def _execute(job: dict[str, Any], results: Any) -> None:
    """Worker process: execute one notebook, render its HTML, report back."""
    with contextlib.suppress(OSError):
        os.setsid()  # own process group: the parent can stop the kernel with us
    # kernels draw inline (never inherit a headless Agg backend from the caller)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    os.environ["CJLAB_BATCH"] = "1"  # notebooks show static figures instead of live widgets
    import warnings

    warnings.filterwarnings("ignore")
    import papermill as pm

    from cjlab.report.html import render_html

    out_nb = Path(job["ipynb"])
    res: dict[str, Any] = {"notebook": job["notebook"], "started_at": _now()}
    t0 = time.monotonic()
    try:
        pm.execute_notebook(job["input"], str(out_nb), parameters=job["parameters"],
                            kernel_name=job.get("kernel_name") or "python3",
                            execution_timeout=job["cell_timeout"], progress_bar=False,
                            log_output=False, cwd=job["cwd"], report_mode=False)
        res["status"] = STATUS_OK
        slow = _cells_at_limit(out_nb, job["cell_timeout"])
        if slow:  # nbclient can return after a cell sat until the limit: that is a failure
            res["status"] = STATUS_TIMEOUT
            res["error"] = {"type": "CellTimeout", "cell": slow[0],
                            "message": f"cell {slow[0]} ran until the cell time limit of {job['cell_timeout']:.0f} s"}
    except BaseException as exc:  # papermill wraps cell errors; timeouts raise too
        name = getattr(exc, "ename", type(exc).__name__)
        msg = getattr(exc, "evalue", str(exc))
        timeout = "timeout" in name.lower() or "timed out" in str(msg).lower()
        res["status"] = STATUS_TIMEOUT if timeout else STATUS_FAILED
        res["error"] = {"type": name, "message": str(msg)[:2000],
                        "cell": getattr(exc, "exec_count", None)}
    res["duration_s"] = round(time.monotonic() - t0, 2)
    res["finished_at"] = _now()
    try:
        if out_nb.exists():
            info = render_html(out_nb, Path(job["html"]), job["report_meta"], res)
            res.update(info)
        else:
            res.setdefault("error", {"type": "RunnerError", "message": "no executed notebook written"})
            res["status"] = STATUS_FAILED
    except Exception as exc:
        res["status"] = STATUS_FAILED
        res["error"] = {"type": "HTMLExportError", "message": f"{exc}\n{traceback.format_exc()[-1500:]}"}
    results.put(res)


# -- orchestration -----------------------------------------------------------------------------
def _kill_group(proc: mp.Process) -> None:
    with contextlib.suppress(OSError, ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.kill()


def _execute_all(jobs: list[dict[str, Any]], n_jobs: int, wall_timeout: float,
                 progress: bool) -> dict[str, dict[str, Any]]:
    from tqdm.auto import tqdm

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    pending = list(jobs)
    running: dict[str, tuple[mp.Process, float]] = {}
    done: dict[str, dict[str, Any]] = {}
    interactive = progress and sys.stderr.isatty()
    bar = tqdm(total=len(jobs), desc="cjlab run", unit="notebook", disable=not interactive,
               file=sys.stderr, dynamic_ncols=True)
    try:
        while pending or running:
            while pending and len(running) < n_jobs:
                job = pending.pop(0)
                proc = ctx.Process(target=_execute, args=(job, results), daemon=False)
                proc.start()
                running[job["notebook"]] = (proc, time.monotonic())
                if progress and not interactive:
                    print(f"  {job['notebook']}: started", file=sys.stderr, flush=True)
            bar.set_postfix_str("running: " + ", ".join(running), refresh=True)
            try:
                res = results.get(timeout=0.5)
                done[res["notebook"]] = res
                proc, _ = running.pop(res["notebook"])
                proc.join(timeout=30)
                if proc.is_alive():
                    _kill_group(proc)
                bar.update(1)
                if progress:
                    bar.write(f"  {res['notebook']}: {res['status']} ({res.get('duration_s', 0):.1f} s)",
                              file=sys.stderr)
            except queue.Empty:
                pass
            now = time.monotonic()
            for nbname, (proc, start) in list(running.items()):
                if now - start > wall_timeout or (not proc.is_alive() and nbname not in done):
                    if proc.is_alive():
                        _kill_group(proc)
                        status, msg = STATUS_TIMEOUT, f"stopped after the wall-clock limit of {wall_timeout:.0f} s"
                    else:
                        # the worker died without reporting (e.g. killed, out of memory)
                        with contextlib.suppress(queue.Empty):
                            res = results.get(timeout=2)
                            done[res["notebook"]] = res
                            running.pop(res["notebook"], None)
                            bar.update(1)
                            continue
                        status, msg = STATUS_FAILED, f"worker process died (exit code {proc.exitcode})"
                    running.pop(nbname)
                    done[nbname] = {"notebook": nbname, "status": status, "duration_s": round(now - start, 1),
                                    "error": {"type": "RunnerError", "message": msg}, "finished_at": _now()}
                    bar.update(1)
                    bar.write(f"  {nbname}: {status} — {msg}")
    except BaseException:
        for proc, _ in running.values():
            _kill_group(proc)
        raise
    finally:
        bar.close()
    return done


def _plan(notebooks: Sequence[str] | None, name: str | None, run_file: str | Path | None,
          overrides: Mapping[str, Any] | None, data_source: str | None, root: Path
          ) -> tuple[str, list[tuple[Path, dict[str, Any], dict[str, Any]]]]:
    """Resolve notebooks and check every parameter (no kernel, nothing written)."""
    params_dir = root / "params"
    run_config: dict[str, Any] = {}
    if run_file:
        rf = Path(run_file)
        if not rf.exists() and (params_dir / "runs" / f"{run_file}.yaml").exists():
            rf = params_dir / "runs" / f"{run_file}.yaml"
        if not rf.exists():
            raise ParameterError([f"run file not found: {run_file}"])
        run_config = read_yaml(rf)
        name = name or run_config.get("name") or rf.stem
    name = name or "adhoc"
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ParameterError([f"run name {name!r}: use letters, digits, '-' and '_' only"])
    names = list(notebooks or run_config.get("notebooks") or [])
    paths = find_notebooks(names, root) if names else all_notebooks(root)
    if not paths:
        raise ParameterError([f"no notebooks found in {root / 'notebooks'}"])
    overrides = dict(overrides or {})
    if data_source is not None:
        overrides["data_source"] = data_source
    unknown = [k for k in overrides
               if not any(k in declared_parameters(p) for p in paths)]
    problems = [f"parameter {k!r} is declared by none of the notebooks "
                f"({', '.join(p.stem for p in paths)})" for k in unknown]
    plan = []
    for p in paths:
        declared = declared_parameters(p)
        values, probs = resolve(p, declared, params_dir, run_config, overrides)
        problems += probs
        full = {k: values.get(k, d.default) for k, d in declared.items()}
        plan.append((p, values, full))
    if problems:
        raise ParameterError(problems)
    return name, plan


def run(notebooks: Sequence[str] | None = None, *, name: str | None = None,
        run_file: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
        data_source: str | None = None, jobs: int = 1, reports_dir: str | Path | None = None,
        root: str | Path | None = None, cell_timeout: float = 900, wall_timeout: float = 3600,
        progress: bool = True, kernel_name: str | None = None, today: dt.date | None = None,
        validate_data: bool = True, lock_wait: float = 0.0) -> RunResult:
    """Execute notebooks into ``reports/YYYY-MM-DD/<name>/``.

    Parameters
    ----------
    notebooks : names (``"00_data_overview"``, ``"00"``) or paths; ``None`` = every notebook
        of the run file, or all numbered notebooks.
    name : report folder name (default: the run file's ``name``, its file stem, or ``"adhoc"``).
    run_file : YAML run file (see :mod:`cjlab.report.params`).
    overrides : parameter values from the command line (apply to notebooks declaring them).
    data_source : shortcut for ``overrides["data_source"]``.
    jobs : notebooks executed at once (each in its own spawned process).
    cell_timeout : seconds one cell may run; a cell that hits it fails the notebook.
    wall_timeout : seconds one notebook may run in total; then its process group is killed.
    validate_data : validate the data source before any kernel starts (stop on errors).
    lock_wait : seconds to wait when another run holds the lock of the reports folder
        (a cron job and a manual run never interleave); then :class:`RunLockedError`.

    Returns
    -------
    RunResult (``exit_code`` 0 when every notebook completed, 1 otherwise).

    Raises
    ------
    ParameterError : a parameter is unknown, missing or of the wrong type (nothing is run).
    cjlab.data.DataValidationError : the data break the contract (nothing is run).
    """
    root = Path(root).resolve() if root else project_root()
    reports_dir = Path(reports_dir) if reports_dir else root / "reports"
    name, plan = _plan(notebooks, name, run_file, overrides, data_source, root)
    with run_lock(reports_dir, lock_wait):
        return _run(name, plan, run_file=run_file, jobs=jobs, reports_dir=reports_dir, root=root,
                    cell_timeout=cell_timeout, wall_timeout=wall_timeout, progress=progress,
                    kernel_name=kernel_name, today=today, validate_data=validate_data)


def _run(name: str, plan: list[tuple[Path, dict[str, Any], dict[str, Any]]], *,
         run_file: str | Path | None, jobs: int, reports_dir: Path, root: Path, cell_timeout: float,
         wall_timeout: float, progress: bool, kernel_name: str | None, today: dt.date | None,
         validate_data: bool) -> RunResult:
    """The run itself, under the lock: data check, execution, HTML, records, move into place."""
    # the data: open once (generates the demo cache before workers race for it), validate, fingerprint
    from cjlab.data import open_source

    sources = {}
    for _, _, full in plan:
        spec = full.get("data_source")
        if spec is not None and spec not in sources:
            src = open_source(spec, progress=progress)
            if validate_data:
                src.validate()  # raises DataValidationError listing every problem
            sources[spec] = src.describe()

    today = today or dt.date.today()
    reports_dir.mkdir(parents=True, exist_ok=True)
    final = unique_folder(reports_dir, today.isoformat(), name)
    tmp = reports_dir / f".tmp-{today.isoformat()}-{name}-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir(parents=True)
    started = _now()
    t0 = time.monotonic()
    manifest: dict[str, Any] = {
        "cjlab_report": 1, "name": name, "date": today.isoformat(), "started_at": started,
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        "run_file": str(run_file) if run_file else None, "git": _git_commit(root),
        "versions": package_versions(), "data_sources": sources, "host": platform.node(),
        "limits": {"cell_timeout_s": cell_timeout, "wall_timeout_s": wall_timeout, "jobs": jobs},
    }
    job_list = []
    for p, _given, full in plan:
        report_meta = {"run": name, "date": today.isoformat(), "notebook": p.stem, "parameters": full,
                       "data": sources.get(full.get("data_source")), "git": manifest["git"],
                       "started_at": started}
        job_list.append({"notebook": p.stem, "input": str(p), "ipynb": str(tmp / f"{p.stem}.ipynb"),
                         "html": str(tmp / f"{p.stem}.html"), "parameters": full, "cwd": str(p.parent),
                         "cell_timeout": cell_timeout, "kernel_name": kernel_name,
                         "report_meta": report_meta})
    try:
        done = _execute_all(job_list, max(1, jobs), wall_timeout, progress)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # interrupted: leave nothing half-written
        raise
    from cjlab.report.kpis import kpis_from_notebook

    results, kpis = [], []
    for job in job_list:
        res = done.get(job["notebook"], {"status": STATUS_FAILED, "error": {"type": "RunnerError",
                                                                            "message": "no result"}})
        nb_kpis = []
        if Path(job["ipynb"]).exists():
            with contextlib.suppress(Exception):
                nb_kpis = kpis_from_notebook(job["ipynb"], notebook=job["notebook"])
        kpis += nb_kpis
        results.append(NotebookResult(
            notebook=job["notebook"], status=res.get("status", STATUS_FAILED), parameters=job["parameters"],
            started_at=res.get("started_at"), finished_at=res.get("finished_at"),
            duration_s=res.get("duration_s"), error=res.get("error"),
            html=f"{job['notebook']}.html" if Path(job["html"]).exists() else None,
            ipynb=f"{job['notebook']}.ipynb" if Path(job["ipynb"]).exists() else None,
            n_kpis=len(nb_kpis), stderr_outputs=res.get("stderr_outputs", 0),
            widget_views=res.get("widget_views", 0), emails_redacted=res.get("emails_redacted", 0)))
    status = STATUS_OK if all(r.status == STATUS_OK for r in results) else STATUS_FAILED
    manifest.update({"finished_at": _now(), "duration_s": round(time.monotonic() - t0, 2), "status": status,
                     "folder": None, "notebooks": [asdict(r) for r in results]})
    for rec in kpis:
        rec.setdefault("run", name)
        rec.setdefault("date", today.isoformat())
    (tmp / "kpis.json").write_text(json.dumps({"run": name, "date": today.isoformat(), "status": status,
                                               "kpis": kpis}, indent=2, default=str))
    # move into place; never replace an existing folder (another run may have taken the name)
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        final = final if not final.exists() else unique_folder(reports_dir, today.isoformat(), name)
        manifest["folder"] = final.relative_to(reports_dir).as_posix()
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        try:
            os.rename(tmp, final)
            break
        except OSError:
            if not final.exists():
                raise
    else:
        raise RuntimeError(f"could not move the report into place; it is kept in {tmp}")
    from cjlab.report.index import write_index

    write_index(reports_dir)
    return RunResult(name, final, status, results, manifest)
