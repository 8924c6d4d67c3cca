"""Hostile input, the catalogue (issue 16): every bad parameter, option, run file, name and
folder gets one clear line and the exit code the README documents — before any kernel starts.

Each case asserts the exit code, the message, that no Python traceback reaches the terminal,
that no report that looks valid is written, that nothing temporary is left, and that the
earlier report and the index are unchanged. Faults that need kernels (signals, disk full,
secrets and exports through a run) are in ``test_hostile_faults.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from cjlab.cli import main

SMALL = "demo:n_customers=3000,seed=11"
RANGES = (
    'data_source: str = "demo"  # where the data are\n'
    "top_n: int = 10  # rows shown [1, 1000]\n"
    "min_n: int = 30  # smallest group shown [1, inf)\n"
    "n_boot: int = 200  # bootstrap resamples [0, inf)\n"
    "level: float = 0.95  # interval mass (0, 1)\n"
    'model: str = "best"  # the classifier {logit, hgb, best}\n'
    'api_key: str = ""  # key of the CRM export'
)


def write_nb(path: Path, params: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A test notebook"), p]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Two tiny notebooks, hostile run files and an earlier report with an index."""
    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    runs = root / "params" / "runs"
    runs.mkdir(parents=True)
    write_nb(root / "notebooks" / "01_ranges.ipynb", RANGES, "raise SystemExit('never run')")
    write_nb(
        root / "notebooks" / "02_other.ipynb",
        'data_source: str = "demo"  # where\nseconds: int = 1  # how long [0, 600]',
        "raise SystemExit('never run')",
    )
    (runs / "list_params.yaml").write_text("params: [1, 2]\n")
    (runs / "unknown.yaml").write_text("params:\n  api_kye: abc\n")
    (runs / "bad_key.yaml").write_text("parms:\n  top_n: 3\n")
    (runs / "not_yaml.yaml").write_text("params: {a: [\n")
    (runs / "notebooks_text.yaml").write_text("notebooks: 01_ranges\n")
    (runs / "section_list.yaml").write_text("notebook_params:\n  01_ranges: [1]\n")
    (runs / "out_of_range.yaml").write_text("notebook_params:\n  01_ranges: {top_n: -5}\n")
    earlier = root / "reports" / "2026-01-01" / "earlier"
    earlier.mkdir(parents=True)
    (earlier / "manifest.json").write_text(json.dumps({"name": "earlier", "notebooks": []}))
    (earlier / "kpis.json").write_text(json.dumps({"kpis": [{"name": "x", "value": 1}]}))
    (earlier / "01_ranges.html").write_text("<html>earlier</html>")
    (root / "reports" / "index.html").write_text("<html>index</html>")
    monkeypatch.setenv("CJLAB_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    return root


def snapshot(reports: Path) -> dict[str, str]:
    """Every file under ``reports`` with its hash (the lock, its owner and the log excepted)."""
    skip = {".run.lock", ".run.owner", "cjlab.log"}
    return {
        p.relative_to(reports).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(reports.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def _read_only(folder: Path):
    """Make ``folder`` read-only even for root (chattr +i); None when that is impossible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)]).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(folder)])
    return None


# (id, arguments, exit code, message on stderr)
CASES = [
    ("top_n negative", ["run", "01", "-p", "top_n=-5"], 2,
     "top_n: -5 is out of range; allowed: 1 ≤ top_n ≤ 1000"),
    ("top_n zero", ["run", "01", "-p", "top_n=0"], 2, "top_n: 0 is out of range"),
    ("min_n negative turns suppression off", ["run", "01", "-p", "min_n=-1"], 2,
     "min_n: -1 is out of range; allowed: min_n ≥ 1"),
    ("n_boot negative", ["run", "01", "-p", "n_boot=-10"], 2, "allowed: n_boot ≥ 0"),
    ("level above one", ["run", "01", "-p", "level=1.5"], 2, "allowed: 0 < level < 1"),
    ("level zero", ["run", "01", "-p", "level=0"], 2, "allowed: 0 < level < 1"),
    ("level not a number", ["run", "01", "-p", "level=.nan"], 2, "level: nan is out of range"),
    ("unknown choice", ["run", "01", "-p", "model=forest"], 2,
     "model: 'forest' is not allowed; allowed: one of 'logit', 'hgb', 'best'"),
    ("wrong type", ["run", "01", "-p", "top_n=many"], 2, "top_n: expected int, got str 'many'"),
    ("secret value never echoed", ["run", "01", "-p", "api_key=12345678"], 2,
     "api_key: expected str, got int ***"),
    ("unknown -p with did-you-mean", ["run", "01", "-p", "api_kee=1"], 2,
     "parameter 'api_kee' is declared by none of the notebooks (01_ranges); did you mean 'api_key'?"),
    ("-p of another notebook", ["run", "01", "-p", "seconds=3"], 2,
     "declared by none of the notebooks (01_ranges); did you mean 'seconds'?"),
    ("jobs 0", ["run", "01", "--jobs", "0"], 2, "jobs: expected a whole number ≥ 1, got 0"),
    ("threads 0", ["run", "01", "--threads", "0"], 2, "threads: expected a whole number ≥ 1"),
    ("cell timeout 0", ["run", "01", "--cell-timeout", "0"], 2, "cell_timeout: expected seconds > 0"),
    ("timeout negative", ["run", "01", "--timeout", "-1"], 2, "wall_timeout: expected seconds > 0"),
    ("wait negative", ["run", "01", "--wait", "-1"], 2, "lock_wait: expected seconds ≥ 0"),
    ("run file params is a list", ["run", "--params", "list_params"], 2,
     "params: must map parameter names to values (got a list: [1, 2])"),
    ("run file unknown parameter", ["run", "--params", "unknown"], 2,
     "params: parameter 'api_kye' is declared by none of the notebooks (01_ranges, 02_other); "
     "did you mean 'api_key'?"),
    ("run file unknown key", ["run", "--params", "bad_key"], 2,
     "unknown key 'parms' (did you mean 'params'?)"),
    ("run file not YAML", ["run", "--params", "not_yaml"], 2, "not valid YAML"),
    ("run file notebooks as text", ["run", "--params", "notebooks_text"], 2,
     "notebooks: must be a list of notebook names"),
    ("run file section is a list", ["run", "--params", "section_list"], 2,
     "notebook_params: 01_ranges: must map parameter names to values"),
    ("run file value out of range", ["run", "--params", "out_of_range"], 2,
     "01_ranges: top_n: -5 is out of range"),
    ("run file missing", ["run", "--params", "nope"], 2, "run file not found: nope"),
    ("250-character name", ["run", "01", "--name", "x" * 250], 2,
     "run name: at most 80 characters (got 250"),
    ("name leaving the folder", ["run", "01", "--name", "../up"], 2, "run name '../up': use letters"),
    ("name starting with a dash", ["run", "01", "--name=-x"], 2, "run name '-x'"),
    ("demo with no customers", ["run", "01", "--data", "demo:n_customers=0"], 2,
     "n_customers must be at least"),
    ("demo with one customer", ["run", "01", "--data", "demo:n_customers=1"], 2,
     "n_customers must be at least"),
    ("demo spec garbage", ["run", "01", "--data", "demo:n_customers=lots"], 2, "bad demo spec"),
    ("unknown notebook", ["run", "99"], 2, "notebook '99' not found"),
    ("nothing to run", ["run"], 2, "name notebooks, or use --all or --params RUNFILE"),
    ("missing data folder", ["run", "01", "--data", "no/such/folder"], 1, "not found"),
    ("password in a connection string", ["run", "01", "--data",
     "postgresql://admin:PASSWORD@db.example.org/shop"], 1, "postgresql://admin:***@db.example.org"),
    ("validate a bad demo spec", ["validate", "demo:n_customers=0"], 2, "n_customers must be"),
    ("reproduce no report", ["reproduce", "nowhere/2026-01-01/x"], 2, "is not a report folder"),
    ("compare unknown runs", ["compare", "a", "b"], 2, "no run 'a'"),
]  # fmt: skip


@pytest.mark.parametrize("args,code,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line_and_nothing_is_written(project, capsys, args, code, message):
    reports = project / "reports"
    before = snapshot(reports)
    assert main([*args, "--no-progress"] if args[0] == "run" else args) == code
    out, err = capsys.readouterr()
    assert message in err, err
    assert "Traceback" not in out + err and 'File "' not in err
    assert "PASSWORD" not in out + err and "12345678" not in out + err
    assert snapshot(reports) == before  # no new report, no earlier report or index changed
    assert not list(reports.glob(".tmp-*"))
    log = reports / "cjlab.log"
    if log.exists():  # the full detail went to the log, with secrets masked there too
        assert "PASSWORD" not in log.read_text() and "12345678" not in log.read_text()


@pytest.mark.parametrize(
    "where,message",
    [
        ("file", "is a file, not a folder"),
        ("under_file", "which is a file, not a folder"),
        ("proc", "is inside /proc, a system folder"),
        ("dev", "is inside /dev, a system folder"),
    ],
)
def test_unusable_reports_folder_exit_2(project, tmp_path, capsys, where, message):
    target = {
        "file": tmp_path / "reports.txt",
        "under_file": tmp_path / "reports.txt" / "sub",
        "proc": Path("/proc/cjlab-reports"),
        "dev": Path("/dev/null"),
    }[where]
    (tmp_path / "reports.txt").write_text("not a folder")
    for args in (["run", "01", "--no-progress"], ["index"], ["reproduce", "x"]):
        assert main([*args, "--reports-dir", str(target)]) == 2, args
        err = capsys.readouterr().err
        assert message in err or "is not a report folder" in err, err
        assert "Traceback" not in err
    assert (tmp_path / "reports.txt").read_text() == "not a folder"


def test_read_only_reports_folder_exit_2(project, tmp_path, capsys):
    ro = tmp_path / "ro-reports"
    ro.mkdir()
    undo = _read_only(ro)
    if undo is None:
        pytest.skip("cannot make a folder read-only here")
    try:
        assert main(["run", "01", "--no-progress", "--reports-dir", str(ro)]) == 2
        err = capsys.readouterr().err
        assert f"reports folder {ro} cannot be written" in err and "Traceback" not in err
        assert main(["run", "01", "--no-progress", "--reports-dir", str(ro / "new" / "sub")]) == 2
        assert "cannot be written (in " in capsys.readouterr().err
    finally:
        undo()
    assert list(ro.iterdir()) == []


def test_an_unexpected_error_is_one_line_with_the_traceback_in_the_log(
    project, capsys, monkeypatch
):
    def boom(*a, **k):
        raise RuntimeError("something deep broke\nsecond line postgresql://u:PASSWORD@h/db")

    monkeypatch.setattr("cjlab.report.runner.run", boom)
    assert main(["run", "01", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: something deep broke)" in err
    assert f"the full detail is in {project / 'reports' / 'cjlab.log'}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    log = (project / "reports" / "cjlab.log").read_text()
    assert "Traceback" in log and "something deep broke" in log and "u:***@h" in log
    assert "PASSWORD" not in log


def test_interrupt_and_terminate_exit_codes_from_the_command(project, capsys, monkeypatch):
    from cjlab.report.cleanup import Terminated

    for exc, code in ((KeyboardInterrupt(), 130), (Terminated(15), 143), (Terminated(1), 129)):

        def stop(*a, _exc=exc, **k):
            raise _exc

        monkeypatch.setattr("cjlab.report.runner.run", stop)
        assert main(["run", "01", "--no-progress"]) == code
        assert "nothing was replaced" in capsys.readouterr().err


def test_notify_gets_the_refusal_and_a_summary_file_that_cannot_be_written_is_a_warning(
    project, tmp_path, capsys
):
    note = tmp_path / "note.txt"
    assert main(["run", "01", "-p", "top_n=-5", "--no-progress", "--notify", str(note)]) == 2
    assert "NOT RUN" in note.read_text() and "top_n: -5 is out of range" in note.read_text()
    if Path("/dev/full").exists():
        assert main(["run", "01", "-p", "top_n=-5", "--no-progress", "--notify", "/dev/full"]) == 2
        err = capsys.readouterr().err
        assert "the summary could not be written to /dev/full" in err and "Traceback" not in err


def test_params_command_shows_ranges_choices_and_secrets(project, capsys):
    assert main(["params", "01"]) == 0
    out = capsys.readouterr().out
    assert "top_n: int = 10   # rows shown (1 ≤ top_n ≤ 1000)" in out
    assert "model: str = 'best'   # the classifier (one of 'logit', 'hgb', 'best')" in out
    assert "api_key: str = ***   # key of the CRM export (secret: masked in every record)" in out
