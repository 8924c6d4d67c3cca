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


# -- ranges, choices and secrets declared in the help comment (issue 16) ---------------------
@pytest.mark.parametrize(
    "comment,help_text,rng,choices,secret",
    [
        ("rows shown [1, 1000]", "rows shown", "[1, 1000]", None, False),
        ("interval mass (0, 1)", "interval mass", "(0, 1)", None, False),
        ("resamples [0, inf)", "resamples", "[0, inf)", None, False),
        ("weight [0.5, ]", "weight", "[0.5, inf)", None, False),
        (
            "a share; negative means best [-1, 1]",
            "a share; negative means best",
            "[-1, 1]",
            None,
            False,
        ),
        ("model {logit, hgb, best}", "model", None, ("logit", "hgb", "best"), False),
        (
            'calibration {"", sigmoid, isotonic}',
            "calibration",
            None,
            ("", "sigmoid", "isotonic"),
            False,
        ),
        ("order {1, 2, 3}", "order", None, (1, 2, 3), False),
        ("login of the CRM (secret)", "login of the CRM", None, None, True),
        ("secret", "", None, None, True),
        ("two labels [earlier, later]", "two labels [earlier, later]", None, None, False),
        ("choose one (a or b)", "choose one (a or b)", None, None, False),
        ("steps [1, 10] {1, 2, 5}", "steps", "[1, 10]", (1, 2, 5), False),
    ],
)
def test_help_comment_declares_range_choices_and_secret(comment, help_text, rng, choices, secret):
    from cjlab.report.params import parse_help

    h, r, c, s = parse_help(comment)
    assert (h, None if r is None else str(r), c, s) == (help_text, rng, choices, secret)


@pytest.mark.parametrize(
    "typ,comment,value,problem",
    [
        ("int", "[1, 1000]", 1, None),
        ("int", "[1, 1000]", 1000, None),
        ("int", "[1, 1000]", 0, "top: 0 is out of range; allowed: 1 ≤ top ≤ 1000"),
        ("int", "[1, 1000]", -5, "top: -5 is out of range; allowed: 1 ≤ top ≤ 1000"),
        ("int", "[1, inf)", 10**9, None),
        ("int", "[0, inf)", -10, "top: -10 is out of range; allowed: top ≥ 0"),
        ("float", "(0, 1)", 0.0, "top: 0.0 is out of range; allowed: 0 < top < 1"),
        ("float", "(0, 1)", 1, "top: 1 is out of range; allowed: 0 < top < 1"),
        ("float", "(0, 1)", 0.999, None),
        ("float", "(0, 1)", float("nan"), "top: nan is out of range; allowed: 0 < top < 1"),
        ("float", "(-inf, 0]", 0.0, None),
        ("float", "(-inf, 0]", 0.1, "top: 0.1 is out of range; allowed: top ≤ 0"),
        ("list", "[0, 10]", [0.2, 5.0], None),
        (
            "list",
            "[0, 10]",
            [0.2, 50],
            "top: 50 (in [0.2, 50]) is out of range; allowed: 0 ≤ top ≤ 10",
        ),
        ("str", "{a, b}", "b", None),
        ("str", "{a, b}", "c", "top: 'c' is not allowed; allowed: one of 'a', 'b'"),
        ("list", "{a, b}", ["b", "a"], None),
        (
            "list",
            "{a, b}",
            ["a", "z"],
            "top: 'z' (in ['a', 'z']) is not allowed; allowed: one of 'a', 'b'",
        ),
        ("int", "[1, 5]", "3", "top: expected int, got str '3'"),  # type first
    ],
)
def test_ranges_and_choices_are_checked(typ, comment, value, problem):
    from cjlab.report.params import Parameter, parse_help

    _, rng, choices, _ = parse_help(comment)
    p = Parameter("top", typ, None, range=rng, choices=choices, optional=True)
    assert check_value(p, value) == problem


def test_declared_ranges_secrets_and_papermill_reads_the_same(tmp_path):
    p = make_nb(
        tmp_path / "x.ipynb",
        'data_source: str = "demo"  # where\n'
        "top_n: int = 10  # rows shown [1, 1000]\n"
        "level: float = 0.95  # interval mass (0, 1)\n"
        'model: str = "best"  # the classifier {logit, hgb, best}\n'
        'crm_login: str = ""  # login of the CRM (secret)\n'
        'api_key: str = ""  # key of the export service\n'
        'monkey: str = "x"  # not a secret',
    )
    d = declared_parameters(p)
    assert str(d["top_n"].range) == "[1, 1000]" and d["top_n"].help == "rows shown"
    assert d["level"].range.low_open and d["level"].range.high_open
    assert d["model"].choices == ("logit", "hgb", "best")
    assert d["crm_login"].secret and d["api_key"].secret and not d["monkey"].secret
    assert d["top_n"].to_dict()["range"] == "[1, 1000]"
    theirs = pm.inspect_notebook(str(p))  # the plain papermill CLI reads the same parameters
    assert set(theirs) == set(d) and theirs["top_n"]["default"] == "10"


@pytest.mark.parametrize(
    "name",
    ["api_key", "crm_token", "db_password", "client_secret", "aws_credentials", "KEY", "passwd"],
)
def test_secret_names(name):
    from cjlab.report.params import is_secret_name

    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["monkey", "keyword", "top_n", "tokens_seen", "sort"])
def test_names_that_are_not_secret(name):
    from cjlab.report.params import is_secret_name

    assert not is_secret_name(name)


@pytest.mark.parametrize(
    "config,message",
    [
        ({"params": [1, 2]}, "params: must map parameter names to values (got a list: [1, 2])"),
        ({"params": "x"}, "params: must map parameter names to values (got a str"),
        ({"notebook_params": {"01_x": [1]}}, "notebook_params: 01_x: must map parameter names"),
        ({"notebooks": "01"}, "notebooks: must be a list of notebook names"),
        ({"parms": {}}, "unknown key 'parms' (did you mean 'params'?)"),
        ({"name": ["a"]}, "name: must be text"),
    ],
)
def test_run_file_shape(config, message):
    from cjlab.report.params import check_run_config

    problems = check_run_config(config, "q.yaml")
    assert any(message in p for p in problems), problems
    assert check_run_config({"name": "q", "params": {"a": 1}, "notebooks": ["01"]}, "q") == []


def test_runner_checks_ranges_and_notebook_defaults_before_running(tmp_path):
    from cjlab.report.runner import run

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    make_nb(
        tmp_path / "notebooks" / "01_x.ipynb",
        'data_source: str = "demo"\nmin_n: int = 30  # smallest group [1, inf)\n'
        "level: float = 0.95  # interval mass (0, 1)",
    )
    make_nb(tmp_path / "notebooks" / "02_bad_default.ipynb", "n_boot: int = -1  # [0, inf)")
    with pytest.raises(ParameterError) as exc:
        run(["01_x"], root=tmp_path, overrides={"min_n": -1, "level": 1.5}, progress=False)
    assert exc.value.problems == [
        "01_x: min_n: -1 is out of range; allowed: min_n ≥ 1",
        "01_x: level: 1.5 is out of range; allowed: 0 < level < 1",
    ]
    with pytest.raises(ParameterError, match=r"n_boot: -1 is out of range.*the notebook's default"):
        run(["02_bad_default"], root=tmp_path, progress=False)
    assert not (tmp_path / "reports").exists()


#: the parameters issue 16 found accepting hostile values, and a value each must refuse
HOSTILE_VALUES = {
    "top_n": [-5, 0],
    "min_n": [-1, 0],
    "n_boot": [-10],
    "level": [0, 1, 1.5],
    "random_state": [-1],
}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_project_notebooks_declare_ranges_for_counts_levels_and_seeds(nb):
    """top_n=-5, min_n=-1 (small-cell suppression off), n_boot=-10 ... stop before any kernel."""
    declared = declared_parameters(nb)
    for name, values in HOSTILE_VALUES.items():
        if name not in declared:
            continue
        for v in values:
            assert check_value(declared[name], v), f"{nb.stem}: {name}={v!r} is accepted"
        assert check_value(declared[name], declared[name].default) is None


# -- did-you-mean across notebooks, and the check on the plain papermill path (issue 12.9) ------
@pytest.mark.parametrize(
    "given,candidates,hint",
    [
        ("min_nn", ["min_n", "level"], "min_n"),
        ("waves", ["waves_to_compare", "level", "min_n"], "waves_to_compare"),
        ("api_kye", ["api_key", "crm_login"], "api_key"),
        ("levle", ["level", "top_n"], "level"),
        ("qqq", ["level", "top_n"], None),
    ],
)
def test_did_you_mean(given, candidates, hint):
    from cjlab.report.params import suggest

    assert suggest(given, candidates) == hint


def test_a_misspelt_command_line_parameter_gets_a_did_you_mean_from_every_notebook(tmp_path):
    from cjlab.report.runner import run

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    make_nb(tmp_path / "notebooks" / "01_x.ipynb",
            'data_source: str = "demo"\nwaves_to_compare: list = []  # two waves')  # fmt: skip
    make_nb(
        tmp_path / "notebooks" / "02_y.ipynb", 'data_source: str = "demo"\nhorizon_days: int = 0'
    )
    with pytest.raises(ParameterError) as exc:
        run(["01_x"], root=tmp_path, overrides={"waves": ["2025-09", "2025-12"]}, progress=False)
    assert (
        "'waves' is declared by none of the notebooks (01_x); did you mean 'waves_to_compare'?"
        in str(exc.value)
    )
    with pytest.raises(ParameterError, match="did you mean 'horizon_days'"):
        run(["01_x"], root=tmp_path, overrides={"horizon_day": 3}, progress=False)


PARAMS_CELL = (
    'data_source: str = "demo"  # where\nmin_n: int = 30  # smallest cell [1, inf)\n'
    'waves_to_compare: list = []  # two waves\napi_key: str = ""  # key of the CRM'
)


@pytest.mark.parametrize(
    "injected,problem",
    [
        (
            "min_nn = 50",
            "unknown parameter 'min_nn' (did you mean 'min_n'?); this notebook declares",
        ),
        ('min_n = "fifty"', "min_n: expected int, got str 'fifty'"),
        ("min_n = 0", "min_n: 0 is out of range; allowed: min_n ≥ 1"),
        (
            'waves_to_compare = "[2025-09, 2025-12]"',
            "give a list as YAML: -y 'waves_to_compare: [a, b]'",
        ),
        ("api_key = 12345", "api_key: expected str, got int ***"),
    ],
)
def test_the_notebook_check_refuses_what_papermill_injects(injected, problem):
    from cjlab.report.guard import check_parameters

    history = ["", PARAMS_CELL, f"# Parameters\ndata_source = 'demo'\n{injected}\n", "check()"]
    with pytest.raises(ParameterError) as exc:
        check_parameters(history)
    assert problem in str(exc.value) and "12345" not in str(exc.value)


def test_the_notebook_check_passes_good_values_and_runs_without_an_injection():
    from cjlab.report.guard import check_parameters

    good = "# Parameters\nmin_n = 50\nwaves_to_compare = ['2025-09', '2025-12']\napi_key = 'k'\n"
    assert check_parameters(["", PARAMS_CELL, good, "check()"]) is None
    assert check_parameters(["", PARAMS_CELL, "check()"]) is None  # JupyterLab: nothing injected
    assert (
        check_parameters(["import x", "# Parameters\nmin_nn = 1\n"]) is None
    )  # no parameters cell
    assert check_parameters([]) is None  # outside IPython, an empty history


@pytest.mark.slow
def test_a_misspelt_parameter_fails_loudly_with_the_plain_papermill_cli(tmp_path):
    import subprocess
    import sys

    nb = make_nb(tmp_path / "g.ipynb", PARAMS_CELL,
                 "from cjlab.report.guard import check_parameters; check_parameters()")  # fmt: skip
    out = tmp_path / "out.ipynb"

    def papermill(*args):
        cmd = [sys.executable, "-m", "papermill", str(nb), str(out), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    bad = papermill("-p", "min_nn", "50")
    assert bad.returncode != 0
    assert "unknown parameter 'min_nn' (did you mean 'min_n'?)" in bad.stderr + bad.stdout
    assert papermill("-p", "min_n", "50").returncode == 0


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_project_notebooks_check_their_parameters_on_the_papermill_path(nb):
    """Fails until each notebook's first code cell calls the check (.notes/README_portal.md)."""
    book = nbformat.read(str(nb), as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    params = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    assert "check_parameters()" in code[params + 1].source, (
        f"{nb.name}: its first code cell after the parameters should call "
        "cjlab.report.guard.check_parameters()"
    )
