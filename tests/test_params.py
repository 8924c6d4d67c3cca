"""Parameters are read statically from notebooks and checked before any kernel starts."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

from cjlab.report.params import (
    ParameterError,
    check_value,
    declared_parameters,
    parse_cli_value,
    resolve,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def make_nb(path: Path, source: str, body: str = "print(data_source)") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, str(path))
    return path


def test_declared_types_defaults_and_help(tmp_path):
    p = make_nb(
        tmp_path / "x.ipynb",
        'data_source: str = "demo"  # where the data are\n'
        "min_n: int = 30\nlevel: float = 0.95\nflag: bool = False\nwaves: list = []\n"
        "cutoff: str = None  # optional date\nplain = 3",
    )
    d = declared_parameters(p)
    assert list(d) == ["data_source", "min_n", "level", "flag", "waves", "cutoff", "plain"]
    assert d["data_source"].help == "where the data are" and d["data_source"].type == "str"
    assert d["cutoff"].optional and not d["min_n"].optional
    assert d["plain"].type == "int" and d["plain"].default == 3


@pytest.mark.parametrize(
    "typ,value,ok",
    [
        ("int", 3, True),
        ("int", 3.5, False),
        ("int", True, False),
        ("int", "3", False),
        ("float", 3, True),
        ("float", 0.5, True),
        ("float", "x", False),
        ("bool", False, True),
        ("bool", 0, False),
        ("list", [1], True),
        ("list", "a", False),
        ("str", "2025-01-01", True),
        ("str", 5, False),
        ("dict", {"a": 1}, True),
    ],
)
def test_type_checks(typ, value, ok):
    from cjlab.report.params import Parameter

    assert (check_value(Parameter("p", typ, None if typ == "str" else 0), value) is None) == ok


def test_missing_value_for_required():
    from cjlab.report.params import Parameter

    assert "missing value" in check_value(Parameter("n", "int", 3), None)
    assert check_value(Parameter("c", "str", None, optional=True), None) is None


def test_cli_values_are_yaml():
    assert parse_cli_value("30") == 30
    assert parse_cli_value("0.5") == 0.5
    assert parse_cli_value("[2025-09, 2025-12]") == ["2025-09", "2025-12"]
    assert parse_cli_value("2025-03-01") == "2025-03-01"
    assert parse_cli_value("null") is None


def test_resolve_layers_and_errors(tmp_path):
    p = make_nb(
        tmp_path / "01_x.ipynb", 'data_source: str = "demo"\nmin_n: int = 30\nlevel: float = 0.95'
    )
    params = tmp_path / "params"
    params.mkdir()
    (params / "01_x.yaml").write_text("min_n: 40\n")
    d = declared_parameters(p)
    values, problems = resolve(
        p, d, params, {"params": {"level": 0.9, "not_here": 1}}, {"min_n": 50}
    )
    assert problems == [] and values == {"min_n": 50, "level": 0.9}
    (params / "01_x.yaml").write_text("min_nn: 40\nlevel: high\n")
    _, problems = resolve(p, d, params)
    assert any("unknown parameter 'min_nn'" in m and "did you mean 'min_n'" in m for m in problems)
    assert any("level: expected float, got str 'high'" in m for m in problems)


def test_runner_rejects_bad_parameters_before_running(tmp_path):
    from cjlab.report.runner import run

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    make_nb(tmp_path / "notebooks" / "01_x.ipynb", 'data_source: str = "demo"\nmin_n: int = 30')
    with pytest.raises(ParameterError) as exc:
        run(["01_x"], root=tmp_path, overrides={"min_n": "many", "bogus": 1}, progress=False)
    text = str(exc.value)
    assert "min_n: expected int" in text and "'bogus' is declared by none" in text
    assert not (tmp_path / "reports").exists()  # nothing was started or written


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_project_notebooks_declare_parameters_papermill_reads_alike(nb):
    """Our static reading and papermill's agree, so the plain papermill CLI works too."""
    ours = declared_parameters(nb)
    theirs = pm.inspect_notebook(str(nb))
    assert "data_source" in ours
    assert set(ours) == set(theirs)
    assert (ROOT / "params" / f"{nb.stem}.yaml").exists(), "every notebook has a defaults file"
    _, problems = resolve(nb, ours, ROOT / "params")
    assert problems == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_project_notebooks_are_stored_without_outputs_and_thin(nb):
    book = nbformat.read(str(nb), as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                "store notebooks without outputs"
            )
            assert "\ndef " not in "\n" + cell.source and "\nclass " not in "\n" + cell.source, (
                "functions belong in the cjlab package"
            )
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")
