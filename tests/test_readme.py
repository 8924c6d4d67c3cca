"""The README's own examples work: every ``cjlab`` command line of its ```bash blocks is checked
(it parses, its notebooks exist, its parameters are declared and fit) and, marked slow, run on
the small demo with the reports in a temporary folder. A line that needs data that are not on
this machine is skipped with the reason; its command line and parameters are still checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SMALL_DEMO
from demo_reports import MAIN_JOB, SPEC, demo_reports, main_job_args

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PROGRAMS = (".venv/bin/cjlab", "cjlab")
_DATED = re.compile(r"^(?:reports/)?(\d{4}-\d{2}-\d{2})/([A-Za-z0-9_-]+)/?$")


@dataclass(frozen=True)
class Command:
    """One ``cjlab`` command of the README: its line, arguments and environment variables."""

    line: int
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"README.md line {self.line}: cjlab {shlex.join(self.args)}"


def readme_commands(text: str) -> list[Command]:
    """Every ``cjlab`` command in the ```bash blocks of ``text`` (continuation lines joined,
    comments and leading ``VAR=value`` assignments taken apart)."""
    out = []
    for block in re.finditer(r"```bash\n(.*?)```", text, re.S):
        first = text[: block.start()].count("\n") + 2
        lines = block.group(1).splitlines()
        i = 0
        while i < len(lines):
            start, joined = i, lines[i]
            while joined.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                joined = joined.rstrip()[:-1] + " " + lines[i]
            i += 1
            tokens = shlex.split(joined, comments=True)
            env = {}
            while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
                key, _, value = tokens.pop(0).partition("=")
                env[key] = value
            if tokens and tokens[0] in PROGRAMS:
                out.append(Command(first + start, tuple(tokens[1:]), env))
    return out


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_readme_has_cjlab_examples_and_the_parser_finds_them():
    text = "```bash\nX=1 Y=2 \\\n  .venv/bin/cjlab run 00 --data demo   # comment\nmake demo\n```\n"
    cmds = readme_commands("intro\n" + text)
    assert [(c.line, c.args, c.env) for c in cmds] == [
        (3, ("run", "00", "--data", "demo"), {"X": "1", "Y": "2"})
    ]
    assert {c.args[0] for c in COMMANDS} >= {"run", "params", "compare", "validate"}


def _parse(cmd: Command):
    from cjlab.cli import build_parser

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return build_parser().parse_args(list(cmd.args))
        except SystemExit:
            pytest.fail(f"{cmd.text} does not parse: {err.getvalue().strip()}")


def _is_demo(spec) -> bool:
    return spec is None or str(spec) == "demo" or str(spec).startswith("demo:")


def _missing_data(spec) -> str | None:
    """Why the data of ``spec`` are not here (None: they are, or it is the demo)."""
    from cjlab.report.plan import absolute_source

    if _is_demo(spec) or str(spec).removeprefix("spark:") == "demo":
        return None
    path = Path(str(absolute_source(spec)).removeprefix("spark:").removeprefix("duckdb:"))
    return None if path.exists() else f"needs the data at {spec}, which are not on this machine"


def _run_file_data(a) -> object:
    from cjlab.report.checks import run_config

    config, _ = run_config(a.params, ROOT / "params") if a.params else ({}, None)
    return (config.get("params") or {}).get("data_source")


def _run_data(a) -> object:
    overrides = dict(a.p or [])
    return a.data if a.data is not None else overrides.get("data_source", _run_file_data(a))


@pytest.mark.parametrize("cmd", COMMANDS, ids=[f"line{c.line}" for c in COMMANDS])
def test_readme_command_parses_and_its_parameters_are_declared(cmd, monkeypatch):
    """Quick: the command line parses, and a run's notebooks and parameters pass the checks
    made before any kernel starts (unknown names with a did-you-mean, types, ranges)."""
    from cjlab.cli import run_options
    from cjlab.report.params import ParameterError
    from cjlab.report.plan import plan_run

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CJLAB_HOME", str(ROOT))
    a = _parse(cmd)
    if a.command != "run":
        return
    try:
        plan_run(run_options(a))
    except ParameterError as exc:
        pytest.fail(f"{cmd.text} is refused: {exc}")


# -- running them ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A reports folder for the README's commands (runs they refer to are made on demand)."""
    return tmp_path_factory.mktemp("readme") / "reports"


def _ensure_run(reports: Path, day: str, name: str) -> None:
    """A report ``day/name`` for commands that read one (compare, reproduce): notebook 00."""
    from cjlab.report.runner import run

    if (reports / day / name / "manifest.json").exists():
        return
    res = run(["00"], name=name, data_source=SMALL_DEMO, reports_dir=reports, root=ROOT,
              progress=False, today=dt.date.fromisoformat(day))  # fmt: skip
    assert res.ok and res.folder == reports / day / name


def prepared(cmd: Command, reports: Path, tmp: Path) -> tuple[list[str], str | None]:
    """The arguments to run ``cmd`` here (small demo, temporary reports), or why it cannot."""
    a, args = _parse(cmd), list(cmd.args)
    if a.command == "run":
        data = _run_data(a)
        if why := _missing_data(data):
            return args, why
        if a.data is not None or _is_demo(data):
            args = [
                x for i, x in enumerate(args) if x != "--data" and args[i - 1 : i] != ["--data"]
            ]
            args += ["--data", SMALL_DEMO]
        return [*args, "--reports-dir", str(reports), "--no-progress"], None
    if a.command in ("compare", "reproduce"):
        out = []
        for x in args:
            m = _DATED.match(x)
            if m:
                _ensure_run(reports, m.group(1), m.group(2))
                x = str(reports / m.group(1) / m.group(2)) if x.startswith("reports/") else x
            out.append(x)
        return [*out, "--reports-dir", str(reports)], None
    if a.command == "validate" and (why := _missing_data(a.path)):
        return args, why
    if a.command == "demo":
        return ["demo", str(tmp / "demo"), "--customers", "300"], None
    if a.command == "index":
        return [*args, "--reports-dir", str(reports)], None
    if a.command == "import":
        return args, "brings a raw export of its own into the contract (not part of the project)"
    return args, None


def _is_main_job(cmd: Command) -> bool:
    return cmd.args in (MAIN_JOB, ("run", "--params", "params/runs/demo.yaml")) and not cmd.env


def _run_of(args: list[str]) -> dict:
    """What a ``cjlab run`` command line asks for, its run file resolved to one path."""
    from cjlab.cli import build_parser
    from cjlab.report.checks import run_config

    a = vars(build_parser().parse_args(args))
    a["params"] = run_config(a["params"], ROOT / "params")[1].resolve()
    return a


#: the commands run here; the main job is the shared demo run (test_readme_main_job_runs)
TO_RUN = [c for c in COMMANDS if not _is_main_job(c)]


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_readme_main_job_runs(tmp_path_factory):
    """The README's main job (``cjlab run --params demo``) is the command of the shared demo run
    (demo_reports.py) that the browser, consistency, privacy and reproduce tests read: the same
    arguments as :func:`prepared` would give it, plus ``--jobs 2``; every notebook completes."""
    main = [c for c in COMMANDS if _is_main_job(c)]
    assert main, "the README gives the main job: cjlab run --params demo"
    reports = tmp_path_factory.getbasetemp() / "demo-reports" / "reports"
    args, why = prepared(main[0], reports, tmp_path_factory.mktemp("main"))
    assert why is None and SPEC == SMALL_DEMO
    assert _run_of([*args, "--jobs", "2"]) == _run_of(list(main_job_args(reports)))
    run = demo_reports(tmp_path_factory.getbasetemp())
    assert run.result.exit_code == 0
    assert all(n.status == "completed" for n in run.result.notebooks), [
        (n.notebook, n.status) for n in run.result.notebooks
    ]


@pytest.mark.slow
@pytest.mark.xdist_group("runner")
@pytest.mark.parametrize("cmd", TO_RUN, ids=[f"line{c.line}" for c in TO_RUN])
def test_readme_command_runs(cmd, reports, tmp_path, monkeypatch, capsys):
    from cjlab.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CJLAB_HOME", str(ROOT))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for key, value in cmd.env.items():
        if key.endswith(("_DIRECTORY", "_DIR")) and not Path(value).exists():
            value = str(tmp_path)  # a folder of this machine instead of the example's
        monkeypatch.setenv(key, value)
    args, why = prepared(cmd, reports, tmp_path)
    if why:
        pytest.skip(f"{cmd.text}: {why}")
    code = main(args)
    out = capsys.readouterr()
    assert code == 0, f"{cmd.text} exited {code}:\n{out.err[-3000:]}\n{out.out[-3000:]}"
