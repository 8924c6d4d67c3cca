"""Checks before anything runs: the run file's shape, the run name, names no notebook declares,
demo specs, and the reports folder.

Each check returns problem texts (or raises :class:`~cjlab.report.params.ParameterError`, which
the command line turns into exit code 2 with every problem listed); nothing is written.

Examples
--------
>>> check_name("q3-2026") is None, check_name("../up")
(True, "run name '../up': use letters, digits, '-' and '_' only (starting with a letter or digit)")
>>> demo_spec_problem("demo:n_customers=0")[:40]
"data_source: bad demo spec 'demo:n_custo"
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cjlab.report.params import ParameterError, check_run_config, did_you_mean, read_yaml

#: the longest run name (it becomes a folder name)
MAX_NAME = 80
#: folders a report never goes into
SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")


def run_config(run_file: str | Path | None, params_dir: Path) -> tuple[dict[str, Any], Path | None]:
    """The run file's content (``params/runs/<name>.yaml`` or a path), its shape checked.

    Raises
    ------
    ParameterError : the file is missing, unreadable, not YAML, or of the wrong shape.
    """
    if not run_file:
        return {}, None
    rf = Path(run_file)
    if not rf.is_file() and (params_dir / "runs" / f"{run_file}.yaml").is_file():
        rf = params_dir / "runs" / f"{run_file}.yaml"
    if not rf.is_file():
        raise ParameterError([f"run file not found: {run_file}"])
    try:
        config = read_yaml(rf)
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError([f"run file {rf} cannot be read: {exc}"]) from None
    problems = check_run_config(config, rf)
    if problems:
        raise ParameterError(problems)
    return config, rf


def check_name(name: Any) -> str | None:
    """Why ``name`` cannot name a report folder, else None."""
    text = str(name)
    if len(text) > MAX_NAME:
        return f"run name: at most {MAX_NAME} characters (got {len(text)}: {text[:40]}...)"
    if not text or not text.replace("-", "").replace("_", "").isalnum() or not text[0].isalnum():
        return (
            f"run name {text!r}: use letters, digits, '-' and '_' only "
            "(starting with a letter or digit)"
        )
    return None


def unknown_names(
    given: Mapping[str, Any],
    run: Mapping[Path, Mapping[str, Any]],
    everyone: Mapping[str, Any],
    where: str = "",
) -> list[str]:
    """Names in ``given`` that no notebook in ``run`` declares, with a did-you-mean taken from
    the parameters of ``everyone`` (every notebook of the project)."""
    out = []
    for key in given:
        if any(key in d for d in run.values()):
            continue
        out.append(
            f"{where}parameter {key!r} is declared by none of the notebooks "
            f"({', '.join(p.stem for p in run)})" + did_you_mean(str(key), everyone, sep="; ")
        )
    return out


def demo_spec_problem(spec: Any) -> str | None:
    """A demo spec that cannot be parsed (``demo:n_customers=0``) is a parameter error."""
    if not isinstance(spec, str) or not (spec == "demo" or spec.startswith("demo:")):
        return None
    from cjlab.data import DataSourceError
    from cjlab.data.demo import parse_demo_spec

    try:
        parse_demo_spec(spec)
    except DataSourceError as exc:
        return f"data_source: {exc}"
    return None


def reports_dir_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot hold reports (a file, a system folder, not writable), else None.

    A folder that does not exist yet is fine when it can be created; the check leaves nothing
    behind.
    """
    given = Path(path).expanduser()
    try:
        full = given.resolve()
    except (OSError, RuntimeError) as exc:
        return f"reports folder {given}: cannot be resolved ({exc})"
    if os.name == "posix":
        for system in SYSTEM_FOLDERS:
            if full == Path(system) or Path(system) in full.parents:
                return (
                    f"reports folder {given} is inside {system}, a system folder: "
                    "give a folder of your own (--reports-dir)"
                )
    existing = next(p for p in (full, *full.parents) if os.path.lexists(p))
    if not existing.is_dir():
        what = "is a file" if existing == full else f"lies under {existing}, which is a file"
        return f"reports folder {given} {what}, not a folder: give a folder (--reports-dir)"
    try:
        probe = tempfile.mkdtemp(prefix=".cjlab-probe-", dir=existing)
    except OSError as exc:
        where = "" if existing == full else f" (in {existing})"
        return f"reports folder {given} cannot be written{where}: {exc.strerror or exc}"
    with contextlib.suppress(OSError):  # a run cleaning up may have removed it already
        os.rmdir(probe)
    return None


def check_reports_dir(path: str | Path) -> None:
    """Raise :class:`ParameterError` when ``path`` cannot hold reports."""
    if msg := reports_dir_problem(path):
        raise ParameterError([msg], what="cannot use the reports folder")
