"""Notebook parameters: what a notebook declares, what YAML files and the command line give,
and checking the two against each other before any kernel starts.

A notebook declares its parameters in the cell tagged ``parameters`` as simple typed
assignments, each with an optional trailing comment as help text::

    data_source: str = "demo"   # "demo", a folder of CSV/Parquet files or a .duckdb file
    min_n: int = 30             # suppress cells with fewer respondents
    cutoff: str = None          # ISO date; None means 90 days before the data end

A default of ``None`` makes the parameter optional (``None`` accepted); any other default
makes ``None`` a "missing value" error.

The end of a help comment may declare what values are allowed, in a form the plain papermill
CLI reads as part of the help text (and ignores):

* a range, in interval notation: ``[1, 1000]`` (both ends allowed), ``(0, 1)`` (neither),
  ``[0, inf)`` (no upper end); it applies to numbers, and to each number of a list;
* choices, in braces: ``{logit, hgb, best}`` (``""`` for the empty text); for a list, each
  element must be one of them;
* ``(secret)``: the value is masked (``***``) in the HTML, the executed notebook and the
  manifest. Names containing the word key, token, password, passwd, secret or credentials
  (``api_key``, ``crm_token``) are secret without the marker.

::

    top_n: int = 10             # rows shown [1, 1000]
    level: float = 0.95         # interval mass (0, 1)
    model: str = "best"         # the classifier {logit, hgb, best}
    crm_login: str = ""         # login of the CRM export (secret) Keep help comments free of ``=`` and annotations to
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
>>> q = Parameter("level", "float", 0.95, range=Range(0, 1, True, True))
>>> check_value(q, 1.5)
'level: 1.5 is out of range; allowed: 0 < level < 1'
>>> parse_help("interval mass (0, 1)")
('interval mass', Range(low=0.0, high=1.0, low_open=True, high_open=True), None, False)
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import nbformat

_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}


class ParameterError(ValueError):
    """Parameters do not match what a notebook declares; ``.problems`` lists every one.

    ``what`` heads the message (``"invalid parameters"``; ``"cannot use the reports folder"``
    for a runner option). The command line exits with code 2.
    """

    def __init__(self, problems: list[str], what: str = "invalid parameters"):
        self.problems = problems
        super().__init__(f"{what}:\n  " + "\n  ".join(problems))


_NUMBER = r"\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|[-+]?∞)?\s*"
_RANGE = re.compile(r"([\[(])" + _NUMBER + "," + _NUMBER + r"([\])])\s*$")
_CHOICES = re.compile(r"\{([^{}]*)\}\s*$")
_SECRET_TAG = re.compile(r"(?:^secret|\(secret\))\s*$", re.I)
_SECRET_NAME = re.compile(r"(?:^|_)(?:key|token|password|passwd|secret|credentials?)(?:_|$)", re.I)


@dataclass(frozen=True)
class Range:
    """Allowed numbers of a parameter: ``low``/``high`` (``None``: no end), each end open or not.

    Examples
    --------
    >>> r = Range(1, None)
    >>> r.contains(1), r.contains(0), r.text("top_n"), str(r)
    (True, False, 'top_n ≥ 1', '[1, inf)')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        v = float(value)
        if math.isnan(v):
            return False
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return not (self.high is not None and (v >= self.high if self.high_open else v > self.high))

    def text(self, name: str) -> str:
        """The range as a condition on ``name``: ``0 < level < 1``, ``n_boot ≥ 0``."""
        lo = f"{_num(self.low)} {'<' if self.low_open else '≤'} " if self.low is not None else ""
        hi = f" {'<' if self.high_open else '≤'} {_num(self.high)}" if self.high is not None else ""
        if not lo and not hi:
            return f"any number for {name}"
        if not lo:
            return f"{name}{hi}"
        if not hi:
            return f"{name} {'>' if self.low_open else '≥'} {_num(self.low)}"
        return f"{lo}{name}{hi}"

    def __str__(self) -> str:
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"{left}{lo}, {hi}{right}"


def _num(v: float | None) -> str:
    return "" if v is None else (str(int(v)) if float(v).is_integer() else repr(float(v)))


def _bound(text: str | None) -> float | None:
    if text is None or text.lstrip("+-") in ("inf", "∞"):
        return None
    return float(text)


def parse_help(comment: str) -> tuple[str, Range | None, tuple[Any, ...] | None, bool]:
    """Split a help comment into (help text, range, choices, secret) — see the module docstring."""
    text, rng, choices, secret = comment.strip(), None, None, False
    while True:
        if m := _RANGE.search(text):
            if rng is not None:
                break
            lo, hi = _bound(m.group(2)), _bound(m.group(3))
            rng = Range(lo, hi, m.group(1) == "(", m.group(4) == ")")
        elif (m := _CHOICES.search(text)) and choices is None:
            items = [c.strip() for c in m.group(1).split(",")]
            choices = tuple(_choice(c) for c in items if c)
        elif (m := _SECRET_TAG.search(text)) and not secret:
            secret = True
        else:
            break
        text = text[: m.start()].rstrip(" ;,:")
    return text, rng, choices, secret


def _choice(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, int | float | bool) else text


def suggest(name: str, candidates: Any) -> str | None:
    """The declared name ``name`` was probably meant to be, or None.

    Close spellings first (``min_nn`` -> ``min_n``), then a name that starts with it
    (``waves`` -> ``waves_to_compare``) or is one of its words.

    Examples
    --------
    >>> suggest("min_nn", ["min_n", "level"]), suggest("waves", ["waves_to_compare", "wave"])
    ('min_n', 'wave')
    >>> suggest("waves", ["waves_to_compare", "level"]), suggest("zzz", ["level"])
    ('waves_to_compare', None)
    """
    cands = list(dict.fromkeys(str(c) for c in candidates))
    hits = difflib.get_close_matches(str(name), cands, n=1, cutoff=0.6)
    if hits:
        return hits[0]
    low = str(name).lower()
    if len(low) >= 3:
        part = [
            c
            for c in cands
            if c.lower().startswith(low)
            or low in c.lower().split("_")
            or low.startswith(c.lower() + "_")
        ]
        if part:
            return min(part, key=len)
    hits = difflib.get_close_matches(str(name), cands, n=1, cutoff=0.5)
    return hits[0] if hits else None


def did_you_mean(name: str, candidates: Any, sep: str = " ") -> str:
    """``" (did you mean 'min_n'?)"``-style hint, or ``""``."""
    hint = suggest(name, candidates)
    if not hint:
        return ""
    return f" (did you mean {hint!r}?)" if sep == " " else f"{sep}did you mean {hint!r}?"


def is_secret_name(name: str) -> bool:
    """Parameter names that hold credentials (``api_key``, ``crm_token``, ``db_password``)."""
    return bool(_SECRET_NAME.search(name))


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter."""

    name: str
    type: str | None  # "str", "int", "float", "bool", "list", "dict" or None (any)
    default: Any
    help: str = ""
    optional: bool = False  # None is an accepted value
    range: Range | None = None  # allowed numbers (also for each number of a list)
    choices: tuple[Any, ...] | None = None  # allowed values
    secret: bool = False  # masked in every record (see the module docstring)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
            "optional": self.optional,
            "range": None if self.range is None else str(self.range),
            "choices": None if self.choices is None else list(self.choices),
            "secret": self.secret,
        }

    def allowed(self) -> str:
        """What values are allowed, in words (empty when anything of the type is)."""
        parts = [self.range.text(self.name)] if self.range else []
        if self.choices is not None:
            parts.append("one of " + ", ".join(repr(c) for c in self.choices))
        return "; ".join(parts)


class _Node(dict):
    """A dict with attribute access, as :class:`nbformat.NotebookNode` gives (``cell.source``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def _node(value: Any) -> Any:
    if isinstance(value, dict):
        return _Node({k: _node(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def read_notebook(path: str | Path) -> Any:
    """A notebook file read as plain JSON, in :func:`nbformat.read`'s shape (attribute access,
    each cell's source as one string) — without nbformat's schema validation, which costs more
    than the whole check of a run. Notebooks older than format 4 go through nbformat.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("nbformat", 0) < 4 or "cells" not in data:
        import nbformat

        return nbformat.read(str(path), as_version=4)
    for cell in data["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell.setdefault("metadata", {})
    data.setdefault("metadata", {})
    return _node(data)


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
    nb = notebook if hasattr(notebook, "cells") else read_notebook(notebook)
    name = getattr(notebook, "name", None) or str(notebook)
    cell = parameters_cell(nb)
    if cell is None:
        raise ValueError(f"{name}: no code cell tagged 'parameters'")
    return parameters_from_source(cell.source, name)


def parameters_from_source(src: str, name: str = "notebook") -> dict[str, Parameter]:
    """The parameters a ``parameters`` cell's source declares (see the module docstring).

    Examples
    --------
    >>> list(parameters_from_source('min_n: int = 30  # smallest cell [1, inf)'))
    ['min_n']
    """
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
        line = lines[node.end_lineno - 1]
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        help_text, rng, choices, secret = parse_help(comment)
        out[target] = Parameter(
            target,
            typ,
            default,
            help_text,
            opt or default is None,
            rng,
            choices,
            secret or is_secret_name(target),
        )
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
        return f"{p.name}: expected {p.type}, got {type(value).__name__} {_show(p, value)}"
    return check_allowed(p, value)


def check_allowed(p: Parameter, value: Any) -> str | None:
    """A problem text when ``value`` is outside the declared range or choices, else None."""
    if p.choices is not None:
        items = value if isinstance(value, list) else [value]
        wrong = [v for v in items if v not in p.choices]
        if wrong:
            what = f"{wrong[0]!r} (in {value!r})" if isinstance(value, list) else _show(p, value)
            return f"{p.name}: {what} is not allowed; allowed: {p.allowed()}"
    if p.range is None:
        return None
    numbers = value if isinstance(value, list) else [value]
    for v in numbers:
        if isinstance(v, int | float) and not isinstance(v, bool) and not p.range.contains(v):
            what = f"{v!r} (in {value!r})" if isinstance(value, list) else repr(v)
            return f"{p.name}: {what} is out of range; allowed: {p.range.text(p.name)}"
    return None


def _show(p: Parameter, value: Any) -> str:
    return "***" if p.secret else repr(value)


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


#: what a run file may hold
RUN_FILE_KEYS = ("name", "description", "notebooks", "params", "notebook_params")


def check_run_config(config: Mapping[str, Any], path: str | Path) -> list[str]:
    """Problems with the shape of a run file (before its values are checked).

    Examples
    --------
    >>> check_run_config({"params": [1, 2]}, "q.yaml")
    ['q.yaml: params: must map parameter names to values (got a list: [1, 2])']
    """
    out = []
    for key in config:
        if key not in RUN_FILE_KEYS:
            out.append(
                f"{path}: unknown key {key!r}{did_you_mean(str(key), RUN_FILE_KEYS)}"
                f"; a run file holds {', '.join(RUN_FILE_KEYS)}"
            )
    for key in ("params", "notebook_params"):
        value = config.get(key)
        if value is not None and not isinstance(value, dict):
            out.append(
                f"{path}: {key}: must map parameter names to values "
                f"(got a {type(value).__name__}: {str(value)[:80]})"
            )
    for nb, value in (config.get("notebook_params") or {}).items():
        if isinstance(config.get("notebook_params"), dict) and not isinstance(value, dict):
            out.append(f"{path}: notebook_params: {nb}: must map parameter names to values")
    nbs = config.get("notebooks")
    if nbs is not None and (
        not isinstance(nbs, list) or not all(isinstance(n, str | int) for n in nbs)
    ):
        out.append(f"{path}: notebooks: must be a list of notebook names (got {str(nbs)[:80]})")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        out.append(f"{path}: name: must be text (got {name!r})")
    return out


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
            problems.append(
                f"{stem}: unknown parameter {key!r}{did_you_mean(key, declared)}"
                f"; declared: {', '.join(declared)}"
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
