"""The shape of the code (DESIGN.md section 3), checked from the source text.

* imports flow one way: foundations -> data -> features -> analyses -> notebook -> report -> cli,
  with no circle anywhere (imports inside functions count too);
* nothing but notebooks and the report imports the presentation layer ``cjlab.notebook``;
* the report knows no statistics (it imports no analysis);
* no module over 600 lines, no function over 80 lines (the demo generator excepted);
* notebooks stay thin: under 65 lines of code besides the parameters cell, stored without outputs.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "cjlab"

ANALYSES = ("survey", "ab", "churn", "segments", "journey", "campaigns", "plan")
#: layer of each top-level part of the package; a module may import only its own layer or lower
LAYER = {"formatting": 0, "results": 0, "data": 1, "features": 2, "plotting": 3,
         **dict.fromkeys(ANALYSES, 3), "notebook": 4, "report": 5, "cli": 6, "__init__": 0}
GENERATOR = {"cjlab.data.synth"}  # the demo company: long by nature, tested by its planted truth


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(path: Path, name: str) -> set[str]:
    """cjlab modules imported anywhere in the file (absolute and relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "cjlab"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "cjlab":
                continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from cjlab import features`
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        targets = set()
        for imp in _imports(path, name):
            while imp and imp not in mods:
                imp = imp.rpartition(".")[0]
            if imp and imp != name:
                targets.add(imp)
        graph[name] = targets
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _strong_components(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    graph, mods = _graph(), _modules()
    # a package's __init__ re-exporting its own modules is not a circle of logic
    pruned = {m: {t for t in ts if not (mods[m].name == "__init__.py" and t.startswith(m + "."))}
              for m, ts in graph.items()}
    circles = [sorted(c) for c in _strong_components(pruned) if len(c) > 1]
    assert not circles, f"import circles: {circles}"


def test_imports_flow_one_way():
    bad = []
    for mod, targets in _graph().items():
        src = _part(mod)
        for t in targets:
            dst = _part(t)
            if dst == "__init__" or src == dst:
                continue
            assert src in LAYER and dst in LAYER, f"unknown part of the package: {src} or {dst}"
            if LAYER[dst] > LAYER[src]:
                bad.append(f"{mod} imports {t} (layer {dst} is above {src})")
    assert not bad, "imports that run upward:\n" + "\n".join(sorted(bad))


def test_only_notebooks_and_the_report_use_the_presentation_layer():
    users = sorted(m for m, ts in _graph().items()
                   if any(_part(t) == "notebook" for t in ts) and _part(m) not in ("notebook", "report"))
    assert not users, f"modules importing cjlab.notebook: {users}"


def test_the_report_knows_no_statistics():
    bad = sorted(f"{m} -> {t}" for m, ts in _graph().items() if _part(m) == "report"
                 for t in ts if _part(t) in ANALYSES)
    assert not bad, bad


def test_module_and_function_sizes():
    long_modules, long_functions = [], []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > 600 and name not in GENERATOR:
            long_modules.append(f"{name}: {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and name not in GENERATOR:
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long_functions.append(f"{name}.{node.name}: {length} lines")
    assert not long_modules, long_modules
    assert not long_functions, long_functions


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_are_thin_and_stored_without_outputs(notebook):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    # the parameters cell is the notebook's interface (one declaration per line), not logic
    logic = [c for c in code if "parameters" not in c.get("metadata", {}).get("tags", [])]
    lines = sum(
        len([ln for ln in "".join(c["source"]).splitlines() if ln.strip() and not ln.lstrip().startswith("#")])
        for c in logic
    )
    assert lines < 65, f"{notebook.name}: {lines} lines of code besides the parameters"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
        f"{notebook.name} is stored with outputs"
    assert not [ln for c in code for ln in "".join(c["source"]).splitlines()
                if ln.lstrip().startswith(("def ", "class "))], "functions belong in cjlab, not in notebooks"
    meta = nb["metadata"].get("cjlab") or {}
    assert meta.get("title") and isinstance(meta.get("requires"), list), \
        f"{notebook.name}: metadata.cjlab needs a title and its data requirements"
