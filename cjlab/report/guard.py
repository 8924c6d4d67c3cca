"""Parameters that cannot be misspelt on the plain papermill path either.

``cjlab run`` checks every parameter before a kernel starts. The plain ``papermill`` CLI only
warns about a name the notebook does not declare (``-p min_nn 50`` then runs to exit 0 on
the default) and never checks a type. :func:`check_parameters`, called in a notebook's first
code cell, closes that gap from inside the kernel: it finds papermill's injected cell (the
input that starts with ``# Parameters``) and the ``parameters`` cell right before it in
IPython's input history, reads both with the same rules as the runner
(:func:`cjlab.report.params.parameters_from_source`: types, ranges, choices, secrets) and
raises :class:`~cjlab.report.params.ParameterError` listing every problem — so papermill fails
(exit 1) with the message instead of reporting a run on the wrong values. Without an injected
cell (JupyterLab, or papermill without ``-p``) it does nothing.

Notebook use (the first code cell, after the imports)::

    from cjlab.report.guard import check_parameters
    check_parameters()

It imports nothing heavy (no nbformat, no pandas), so the call costs milliseconds.

Examples
--------
>>> cells = ['min_n: int = 30  # smallest cell [1, inf)', '# Parameters\\nmin_nn = 50\\n']
>>> check_parameters(cells)
Traceback (most recent call last):
...
cjlab.report.params.ParameterError: invalid parameters given to this notebook:
  unknown parameter 'min_nn' (did you mean 'min_n'?); this notebook declares: min_n
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from cjlab.report.params import (
    Parameter,
    ParameterError,
    check_value,
    did_you_mean,
    parameters_from_source,
)

#: the first line of the cell papermill injects (its Python translator writes this comment)
INJECTED_MARK = "# Parameters"


def injected_values(source: str) -> dict[str, Any]:
    """The ``name = literal`` assignments of papermill's injected cell, in order.

    Examples
    --------
    >>> injected_values('# Parameters\\nmin_nn = 50\\nwaves = "[2025-09]"\\n')
    {'min_nn': 50, 'waves': '[2025-09]'}
    """
    out: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    out[target.id] = ast.unparse(node.value)  # not a literal: checked as text
    return out


def _type_hint(p: Parameter, value: Any) -> str:
    if p.type in ("list", "dict") and isinstance(value, str):
        return (
            f" (papermill -p passes text; give a {p.type} as YAML: -y '{p.name}: "
            f"{'[a, b]' if p.type == 'list' else '{a: 1}'}')"
        )
    return ""


def problems_in(declared: Mapping[str, Parameter], values: Mapping[str, Any]) -> list[str]:
    """Every injected value that is not declared, or does not fit its declaration.

    Examples
    --------
    >>> from cjlab.report.params import parameters_from_source
    >>> d = parameters_from_source("min_n: int = 30  # smallest cell [1, inf)")
    >>> problems_in(d, {"min_nn": 50})
    ["unknown parameter 'min_nn' (did you mean 'min_n'?); this notebook declares: min_n"]
    >>> problems_in(d, {"min_n": "fifty"})
    ["min_n: expected int, got str 'fifty'"]
    """
    out = []
    for key, value in values.items():
        p = declared.get(key)
        if p is None:
            out.append(
                f"unknown parameter {key!r}{did_you_mean(key, declared)}; "
                f"this notebook declares: {', '.join(declared)}"
            )
        elif msg := check_value(p, value):
            out.append(msg + _type_hint(p, value))
    return out


def injected_cells(history: Sequence[str]) -> tuple[str, str] | None:
    """``(parameters cell, injected cell)`` from an input history, the newest injection."""
    for i in range(len(history) - 1, 0, -1):
        if str(history[i]).lstrip().startswith(INJECTED_MARK):
            return str(history[i - 1]), str(history[i])
    return None


def _history() -> list[str]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always run under IPython
        return []
    ip = get_ipython()
    if ip is None:
        return []
    return list(ip.user_ns.get("In") or getattr(ip.history_manager, "input_hist_raw", []))


def check_parameters(history: Sequence[str] | None = None) -> None:
    """Raise :class:`ParameterError` when papermill injected an unknown or unfit parameter.

    Parameters
    ----------
    history : the cells executed so far (default: the kernel's input history).

    Raises
    ------
    ParameterError : every problem, e.g. ``unknown parameter 'min_nn' (did you mean 'min_n'?)``.
    """
    cells = injected_cells(_history() if history is None else history)
    if cells is None:
        return
    try:
        declared = parameters_from_source(cells[0])
    except (ValueError, SyntaxError):
        return  # the cell before the injection is no parameters cell: nothing to check against
    if not declared:
        return
    problems = problems_in(declared, injected_values(cells[1]))
    if problems:
        raise ParameterError(problems, what="invalid parameters given to this notebook")
