"""Notebook parameters: what a notebook declares, what YAML files and the command line give,
and checking the two against each other before any kernel starts.

A notebook declares its parameters in the cell tagged ``parameters`` as simple typed
assignments, each with an optional trailing comment as help text::

    data_source: str = "demo"   # "demo", a folder of CSV/Parquet files or a .duckdb file
    min_n: int = 30             # suppress cells with fewer respondents
    cutoff: str = None          # ISO date; None means 90 days before the data end

A default of ``None`` makes the parameter optional (``None`` accepted); any other default
makes ``None`` a "missing value" error. Keep help comments free of ``=`` and annotations to
plain names (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``) so that the plain
``papermill`` CLI reads the same parameters.

Values come, lowest precedence first, from the notebook itself, ``params/<notebook>.yaml``,
a run file ``params/runs/<name>.yaml`` (``params:`` for every notebook that declares them,
``notebooks:`` to choose notebooks, ``notebook_params: {<notebook>: {...}}``), and the
command line.

Examples
--------
>>> p = Parameter("min_n", "int", 30, "", optional=False)
>>> check_value(p, 50), check_value(p, "50")
(None, "min_n: expected int, got str '50'")
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}


class ParameterError(ValueError):
    """Parameters do not match what a notebook declares; ``.problems`` lists every one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid parameters:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter."""

    name: str
    type: str | None  # "str", "int", "float", "bool", "list", "dict" or None (any)
    default: Any
    help: str = ""
    optional: bool = False  # None is an accepted value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
            "optional": self.optional,
        }


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def _annotation(node: ast.expr | None) -> tuple[str | None, bool]:
    if node is None:
        return None, False
    text = ast.unparse(node).replace(" ", "")
    optional = False
    if text.startswith("Optional[") and text.endswith("]"):
        text, optional = text[len("Optional[") : -1], True
    parts = [p for p in text.split("|") if p]
    if "None" in parts:
        optional = True
        parts = [p for p in parts if p != "None"]
    base = parts[0].split("[")[0] if len(parts) == 1 else None
    return (base if base in _TYPES else None), optional


def declared_parameters(notebook: str | Path | nbformat.NotebookNode) -> dict[str, Parameter]:
    """Parameters declared in the ``parameters`` cell (read statically, no kernel).

    Raises
    ------
    ValueError when the notebook has no ``parameters`` cell or a default is not a literal.
    """
    nb = notebook if hasattr(notebook, "cells") else nbformat.read(str(notebook), as_version=4)
    name = getattr(notebook, "name", None) or str(notebook)
    cell = parameters_cell(nb)
    if cell is None:
        raise ValueError(f"{name}: no code cell tagged 'parameters'")
    src = cell.source
    lines = src.splitlines()
    out: dict[str, Parameter] = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value, (typ, opt) = node.target.id, node.value, _annotation(node.annotation)
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, value, typ, opt = node.targets[0].id, node.value, None, False
        else:
            continue
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError as exc:
            raise ValueError(f"{name}: parameter {target!r} needs a literal default value") from exc
        if typ is None and default is not None:
            typ = type(default).__name__ if type(default).__name__ in _TYPES else None
        line = lines[node.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line else ""
        out[target] = Parameter(target, typ, default, help_text, opt or default is None)
    return out


def check_value(p: Parameter, value: Any) -> str | None:
    """A problem text when ``value`` does not fit parameter ``p``, else None."""
    if value is None:
        return (
            None if p.optional else f"{p.name}: missing value (a {p.type or 'value'} is required)"
        )
    if p.type is None:
        return None
    want = _TYPES[p.type]
    ok = isinstance(value, want)
    if p.type == "int" and isinstance(value, bool):
        ok = False
    if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        return f"{p.name}: expected {p.type}, got {type(value).__name__} {value!r}"
    return None


def normalise(value: Any) -> Any:
    """YAML dates -> ISO strings (notebooks take dates as text)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def parse_cli_value(text: str) -> Any:
    """``-p key=value`` values are YAML: ``30`` is an int, ``[a, b]`` a list, ``null`` None."""
    try:
        return normalise(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParameterError([f"{path}: not valid YAML ({exc})"]) from exc
    if not isinstance(data, dict):
        raise ParameterError([f"{path}: expected a mapping of parameter names to values"])
    return normalise(data)


def resolve(
    notebook: Path,
    declared: Mapping[str, Parameter],
    params_dir: Path | None,
    run_config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    strict_keys: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Merge the parameter layers for ``notebook`` and check them.

    ``strict_keys`` are values that must be declared (a notebook's own YAML file, its
    section of the run file); other layers (``params:`` of a run file, command-line
    overrides) apply to the notebooks that declare them.

    Returns
    -------
    (values passed to papermill, problems)
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    stem = notebook.stem
    strict: dict[str, Any] = {}
    if params_dir is not None and (params_dir / f"{stem}.yaml").exists():
        strict.update(read_yaml(params_dir / f"{stem}.yaml"))
    run_config = run_config or {}
    loose = dict(run_config.get("params") or {})
    strict.update((run_config.get("notebook_params") or {}).get(stem) or {})
    strict.update(strict_keys or {})
    for key, value in strict.items():
        if key not in declared:
            hint = difflib.get_close_matches(key, declared, n=1)
            problems.append(
                f"{stem}: unknown parameter {key!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; declared: {', '.join(declared)}"
            )
            continue
        values[key] = value
    for key, value in {**loose, **(overrides or {})}.items():
        if key in declared:
            values[key] = value
    for key, value in values.items():
        msg = check_value(declared[key], value)
        if msg:
            problems.append(f"{stem}: {msg}")
    return values, problems
