"""Plan a run: which notebooks, with which parameters, on which data, with how many threads.

Nothing runs here: :func:`plan_run` resolves notebook names and checks every parameter against
what the notebooks declare (:class:`~cjlab.report.params.ParameterError` lists every problem);
:func:`check_data` opens each data source once, validates it and marks a notebook whose
minimum data are missing (``metadata.cjlab.requires``, see :mod:`cjlab.data.requirements`)
as *not applicable*, with the reason, before any kernel starts.

The thread budget: each notebook's kernel gets ``cores // jobs`` threads (at least 1) for
OpenMP and BLAS, so parallel notebooks never oversubscribe the machine (HistGradientBoosting
with 2 OpenMP threads per kernel under ``--jobs 2`` ran 8-11x slower than with 1). It is
overridden by ``--threads N``, then by ``$CJLAB_THREADS``, then by an ``OMP_NUM_THREADS``
already set in the caller's environment.

Examples
--------
>>> b = thread_budget(jobs=2, environ={}, cores=8)
>>> b.threads, b.source, b.environment({})["OMP_NUM_THREADS"]
(4, 'cores // jobs', '4')
>>> thread_budget(jobs=4, threads=None, environ={"CJLAB_THREADS": "1"}, cores=8).threads
1
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlab.report.checks import check_name, demo_spec_problem, run_config, unknown_names
from cjlab.report.params import (
    ParameterError,
    check_allowed,
    declared_parameters,
    read_notebook,
    resolve,
)
from cjlab.report.records import STATUS_NOT_APPLICABLE, STATUS_PENDING

#: the variables OpenMP and the BLAS libraries read for their thread count
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
THREADS_ENV = "CJLAB_THREADS"


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


@dataclass(frozen=True)
class RunOptions:
    """Everything :func:`cjlab.report.runner.run` takes, with the defaults in one place.

    Parameters
    ----------
    notebooks : names (``"00_data_overview"``, ``"00"``) or paths; ``None`` = every notebook
        of the run file, or all numbered notebooks.
    name : report folder name (default: the run file's ``name``, its file stem, or ``"adhoc"``).
    run_file : YAML run file (see :mod:`cjlab.report.params`).
    overrides : parameter values from the command line (apply to notebooks declaring them).
    data_source : shortcut for ``overrides["data_source"]``.
    jobs : notebooks executed at once (each in its own spawned process).
    threads : OpenMP/BLAS threads per notebook (default: the thread budget, see the module).
    reports_dir : where dated report folders go (default ``<root>/reports``).
    root : the project folder (default :func:`project_root`).
    cell_timeout : seconds one cell may run; a cell that hits it fails the notebook.
    wall_timeout : seconds one notebook may run in total; then its process group is killed.
    progress : progress bar (a terminal) or one line per notebook (a log).
    kernel_name : Jupyter kernel (default ``python3``).
    today : the run's date (default: today).
    validate_data : validate the data source before any kernel starts (stop on errors).
    lock_wait : seconds to wait when another run holds the lock of the reports folder.
    notebook_params : parameter values per notebook (``{stem: {name: value}}``), checked like a
        run file's ``notebook_params`` (``cjlab reproduce`` gives every recorded value here).
    record : extra entries for the manifest (``cjlab reproduce`` records what it reproduces).

    Examples
    --------
    >>> RunOptions(jobs=0).problems()
    ['jobs: expected a whole number ≥ 1, got 0']
    """

    notebooks: Sequence[str] | None = None
    name: str | None = None
    run_file: str | Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    data_source: str | None = None
    jobs: int = 1
    threads: int | None = None
    reports_dir: str | Path | None = None
    root: str | Path | None = None
    cell_timeout: float = 900
    wall_timeout: float = 3600
    progress: bool = True
    kernel_name: str | None = None
    today: dt.date | None = None
    validate_data: bool = True
    lock_wait: float = 0.0
    notebook_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    record: Mapping[str, Any] = field(default_factory=dict)

    def project(self) -> Path:
        return Path(self.root).resolve() if self.root else project_root()

    def reports(self) -> Path:
        return Path(self.reports_dir) if self.reports_dir else self.project() / "reports"

    def problems(self) -> list[str]:
        """The runner's own options out of range (empty when all are fine)."""
        out = []
        for key in ("jobs", "threads"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                out.append(f"{key}: expected a whole number ≥ 1, got {v!r}")
        for key in ("cell_timeout", "wall_timeout"):
            if not getattr(self, key) > 0:
                out.append(f"{key}: expected seconds > 0, got {getattr(self, key)!r}")
        if not self.lock_wait >= 0:
            out.append(f"lock_wait: expected seconds ≥ 0, got {self.lock_wait!r}")
        return out


@dataclass(frozen=True)
class ThreadBudget:
    """OpenMP/BLAS threads each notebook's kernel (and worker) gets, and where that came from."""

    threads: int
    cores: int
    jobs: int
    source: str  # "--threads", "CJLAB_THREADS", "OMP_NUM_THREADS" or "cores // jobs"

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Variables to set for a kernel (DuckDB's thread count only when not chosen already)."""
        env = dict.fromkeys(THREAD_VARIABLES, str(self.threads))
        if not environ.get("CJLAB_DUCKDB_THREADS"):
            env["CJLAB_DUCKDB_THREADS"] = str(self.threads)
        return env


def cpu_count() -> int:
    """Cores this process may use (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _env_threads(text: str | None) -> int | None:
    try:
        n = int(str(text).split(",")[0].strip())
    except ValueError:
        return None
    return n if n >= 1 else None


def thread_budget(
    jobs: int,
    threads: int | None = None,
    environ: Mapping[str, str] | None = None,
    cores: int | None = None,
) -> ThreadBudget:
    """The thread budget of a run with ``jobs`` notebooks at once (see the module docstring).

    Raises
    ------
    ParameterError : ``$CJLAB_THREADS`` is set but not a whole number ≥ 1.
    """
    environ = os.environ if environ is None else environ
    cores = cores or cpu_count()
    jobs = max(1, jobs)
    if threads is not None:
        return ThreadBudget(threads, cores, jobs, "--threads")
    if environ.get(THREADS_ENV):
        n = _env_threads(environ[THREADS_ENV])
        if n is None:
            raise ParameterError(
                [f"{THREADS_ENV}: expected a whole number ≥ 1, got {environ[THREADS_ENV]!r}"]
            )
        return ThreadBudget(n, cores, jobs, THREADS_ENV)
    n = _env_threads(environ.get("OMP_NUM_THREADS"))
    if n is not None:
        return ThreadBudget(n, cores, jobs, "OMP_NUM_THREADS")
    return ThreadBudget(max(1, cores // jobs), cores, jobs, "cores // jobs")


@dataclass
class NotebookJob:
    """One notebook of a planned run: its parameters, data needs and (once checked) status."""

    notebook: str  # the file stem, e.g. "01_survey"
    path: Path
    title: str
    parameters: dict[str, Any]  # every declared parameter with its value for this run
    requires: list[dict[str, list[str]]] = field(default_factory=list)
    status: str = STATUS_PENDING
    reason: str | None = None
    secrets: tuple[str, ...] = ()  # names of secret parameters (masked in every record)

    @property
    def data_source(self) -> str | None:
        return self.parameters.get("data_source")

    @property
    def applicable(self) -> bool:
        return self.status != STATUS_NOT_APPLICABLE


@dataclass
class Plan:
    """A checked run: its name, its notebooks, the thread budget and the data descriptions."""

    name: str
    run_file: str | None
    jobs: list[NotebookJob]
    threads: ThreadBudget
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def applicable(self) -> list[NotebookJob]:
        return [j for j in self.jobs if j.applicable]


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
        hits = [
            a
            for a in available
            if a.stem == name or a.stem.startswith(name + "_") or a.name == name
        ]
        if len(hits) == 1:
            out.append(hits[0])
        else:
            problems.append(
                f"notebook {name!r} {'is ambiguous' if hits else 'not found'}; "
                "available: " + ", ".join(a.stem for a in available)
            )
    if problems:
        raise ParameterError(problems)
    return out


def all_notebooks(root: Path) -> list[Path]:
    return sorted(p for p in (root / "notebooks").glob("[0-9]*.ipynb"))


def notebook_info(path: Path) -> tuple[str, list[dict[str, list[str]]]]:
    """A notebook's title and data requirements from ``metadata.cjlab``.

    The title falls back to the first ``# heading``, then to the file stem; no requirements
    means the notebook applies to any data.
    """
    nb = read_notebook(path)
    meta = nb.metadata.get("cjlab") or {}
    title = meta.get("title")
    if not title:
        first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        heads = [ln[2:].strip() for ln in first.splitlines() if ln.startswith("# ")]
        title = heads[0] if heads else path.stem
    requires = [
        {t: list(cols or []) for t, cols in dict(alt).items()} for alt in meta.get("requires") or []
    ]
    return str(title), requires


def absolute_source(spec: Any) -> Any:
    """A data source path relative to the caller's folder, made absolute.

    Kernels run in ``notebooks/``, so ``--data data/acme`` (which the runner opens and validates
    from the caller's folder) would name another folder inside the kernel. Specs that are no
    existing relative path (``demo``, a URL, an absolute path) stay as they are; a prefix such as
    ``spark:`` or ``duckdb:`` is kept.

    Examples
    --------
    >>> absolute_source("demo:n_customers=300,seed=1")
    'demo:n_customers=300,seed=1'
    """
    if not isinstance(spec, str) or spec == "demo" or spec.startswith("demo:"):
        return spec
    prefix, rest = "", spec
    m = re.match(r"^([A-Za-z][A-Za-z0-9_]+:)(.*)$", spec)
    if m and not Path(spec).exists():  # a scheme (two letters or more: not a drive letter)
        prefix, rest = m.group(1), m.group(2)
    path = Path(rest).expanduser()
    if rest and not path.is_absolute() and path.exists():
        return prefix + str(path.resolve())
    return spec


def plan_run(options: RunOptions) -> Plan:
    """Resolve notebooks and check every parameter and option (no kernel, nothing written).

    Raises
    ------
    ParameterError : every unknown, missing or mistyped parameter and out-of-range option.
    """
    root = options.project()
    params_dir = root / "params"
    problems = options.problems()
    config, rf = run_config(options.run_file, params_dir)
    if options.notebook_params:
        merged = dict(config.get("notebook_params") or {})
        for stem, values in options.notebook_params.items():
            merged[stem] = {**(merged.get(stem) or {}), **values}
        config = {**config, "notebook_params": merged}
    name = options.name or config.get("name") or (rf.stem if rf else None) or "adhoc"
    if msg := check_name(name):
        raise ParameterError([msg])
    names = [str(n) for n in options.notebooks or config.get("notebooks") or []]
    paths = find_notebooks(names, root) if names else all_notebooks(root)
    if not paths:
        raise ParameterError([f"no notebooks found in {root / 'notebooks'}"])
    overrides = dict(options.overrides or {})
    if options.data_source is not None:
        overrides["data_source"] = options.data_source
    declared = {p: _declared(p) for p in paths}
    project = {**_project_parameters(root), **declared}
    everyone = {k: v for d in project.values() for k, v in d.items()}
    problems += unknown_names(overrides, declared, everyone)
    problems += unknown_names(config.get("params") or {}, project, everyone, f"{rf}: params: ")
    stems = {p.stem for p in project}
    problems += [
        f"{rf}: notebook_params: {stem!r} is not a notebook ({', '.join(sorted(stems))})"
        for stem in config.get("notebook_params") or {}
        if stem not in stems
    ]
    jobs = [_job(p, declared[p], params_dir, config, overrides, problems) for p in paths]
    if problems:
        raise ParameterError(list(dict.fromkeys(problems)))
    threads = thread_budget(options.jobs, options.threads)
    return Plan(str(name), str(options.run_file) if options.run_file else None, jobs, threads)


def _project_parameters(root: Path) -> dict[Path, dict[str, Any]]:
    """The declared parameters of every numbered project notebook that can be read."""
    out = {}
    for p in all_notebooks(root):
        with contextlib.suppress(ValueError, SyntaxError, OSError):
            out[p] = declared_parameters(p)
    return out


def _declared(path: Path) -> dict[str, Any]:
    try:
        return declared_parameters(path)
    except (ValueError, SyntaxError) as exc:
        raise ParameterError([f"{path.name}: cannot read its parameters cell ({exc})"]) from None


def _job(
    path: Path,
    declared: Mapping[str, Any],
    params_dir: Path,
    run_config: Mapping[str, Any],
    overrides: Mapping[str, Any],
    problems: list[str],
) -> NotebookJob:
    """One notebook's job with every declared parameter; problems are appended to ``problems``."""
    values, probs = resolve(path, declared, params_dir, run_config, overrides)
    problems += probs
    for key, prm in declared.items():  # the notebook's own defaults must fit its ranges too
        if (
            key not in values
            and prm.default is not None
            and (msg := check_allowed(prm, prm.default))
        ):
            problems.append(f"{path.stem}: {msg} (the notebook's default)")
    full = {k: values.get(k, d.default) for k, d in declared.items()}
    if msg := demo_spec_problem(full.get("data_source")):
        problems.append(msg)
    if "data_source" in full:
        full["data_source"] = absolute_source(full["data_source"])
    title, requires = notebook_info(path)
    secrets = tuple(k for k, prm in declared.items() if prm.secret)
    return NotebookJob(path.stem, path, title, full, requires, secrets=secrets)


def check_data(plan: Plan, *, validate: bool = True, progress: bool = False) -> None:
    """Open each data source of ``plan`` once, validate it, and mark inapplicable notebooks.

    Fills ``plan.sources`` (spec -> description with fingerprint) and sets the status of each
    notebook whose minimum data are missing to ``"not applicable"``, with the reason
    (``"01_survey needs the survey_responses table"``). Opening a demo source generates its
    cache here, before parallel workers could race for it.

    Raises
    ------
    cjlab.data.DataValidationError : the data break the contract (every problem listed).
    cjlab.data.DataSourceError : a source cannot be opened.
    """
    from cjlab.data import open_source
    from cjlab.data.requirements import unmet

    opened = {}
    for job in plan.jobs:
        spec = job.data_source
        if spec is None:
            continue
        if spec not in opened:
            src = open_source(spec, progress=progress)
            if validate:
                src.validate()  # raises DataValidationError listing every problem
            opened[spec] = src
            plan.sources[spec] = src.describe()
        if job.requires:
            gap = unmet(job.requires, opened[spec].available())
            if gap:
                job.status, job.reason = STATUS_NOT_APPLICABLE, f"{job.notebook} {gap}"
