"""End to end: real Papermill kernels, real nbconvert HTML, the report folder and its records."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from cjlab.report.runner import run

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner")]
SMALL = "demo:n_customers=1500,seed=3"


def _nb(path: Path, params: str, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Test notebook"),
        p,
        *[nbformat.v4.new_code_cell(c) for c in cells],
    ]
    nbformat.write(nb, str(path))


@pytest.fixture
def project(tmp_path):
    """A throw-away project: the real data overview notebook plus a failing and a slow one."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params" / "runs").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "00_data_overview.ipynb", tmp_path / "notebooks")
    shutil.copy(ROOT / "params" / "00_data_overview.yaml", tmp_path / "params")
    _nb(
        tmp_path / "notebooks" / "01_fails.ipynb",
        'data_source: str = "demo"',
        "from cjlab import notebook as rd\nrd.headline('Before the failure', ['step one ran'])\n"
        "rd.kpi('steps_done', 1)",
        "raise ValueError('planted failure: orders table has no rows for 2025')",
        "print('never reached')",
    )
    _nb(
        tmp_path / "notebooks" / "02_slow.ipynb",
        'data_source: str = "demo"\nseconds: int = 1',
        "import time\ntime.sleep(seconds)\nprint('slept')",
    )
    _nb(
        tmp_path / "notebooks" / "03_records_then_sleeps.ipynb",
        'data_source: str = "demo"\nseconds: int = 1',
        "from cjlab.notebook import display as rd\nrd.kpi('recorded_before_the_kill', 7)",
        "import time\ntime.sleep(seconds)",
    )
    return tmp_path


def test_run_writes_dated_report_manifest_kpis_and_index(project):
    day = dt.date(2026, 1, 15)
    res = run(
        ["00_data_overview", "01_fails"],
        name="e2e",
        root=project,
        data_source=SMALL,
        jobs=2,
        progress=False,
        today=day,
    )
    folder = project / "reports" / "2026-01-15" / "e2e"
    assert res.folder == folder and folder.is_dir()
    assert res.status == "failed" and res.exit_code == 1
    status = {r.notebook: r.status for r in res.notebooks}
    assert status == {"00_data_overview": "completed", "01_fails": "failed"}

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["name"] == "e2e"
    assert manifest["data_sources"][SMALL]["fingerprint"].startswith("sha256:")
    assert manifest["data_sources"][SMALL]["tables"]["customers"] == 1500
    assert manifest["versions"]["papermill"] and manifest["versions"]["python"]
    nbs = {n["notebook"]: n for n in manifest["notebooks"]}
    assert nbs["00_data_overview"]["parameters"]["data_source"] == SMALL
    assert nbs["01_fails"]["error"]["type"] == "ValueError"
    assert "planted failure" in nbs["01_fails"]["error"]["message"]
    for n in nbs.values():
        assert n["duration_s"] > 0 and n["started_at"] and n["finished_at"]

    kpis = json.loads((folder / "kpis.json").read_text())["kpis"]
    by_name = {(k["notebook"], k["name"]): k for k in kpis}
    assert by_name[("00_data_overview", "customers")]["value"] == 1500
    assert ("01_fails", "steps_done") in by_name  # recorded before the failure

    good = (folder / "00_data_overview.html").read_text()
    assert 'id="headline"' in good and "<img" in good and 'id="run-parameters"' in good
    assert "import cjlab" not in good and "open_source(" not in good  # no code
    assert "Traceback" not in good, good[
        good.find("Traceback") - 500 : good.find("Traceback") + 300
    ]
    assert 'id="failure"' not in good
    assert '<script src="http' not in good and "cdnjs" not in good  # opens offline

    bad = (folder / "01_fails.html").read_text()
    assert "This report is incomplete" in bad and "planted failure" in bad
    assert "Before the failure" in bad  # rendered up to the failing cell
    assert "never reached" not in bad and "Traceback" not in bad

    index = (project / "reports" / "index.html").read_text()
    assert "2026-01-15/e2e/00_data_overview.html" in index and "failed" in index
    assert not list((project / "reports").glob(".tmp-*"))


def test_same_day_runs_get_distinct_folders_and_never_overwrite(project):
    day = dt.date(2026, 2, 1)
    a = run(["02_slow"], name="same", root=project, data_source=SMALL, progress=False, today=day)
    marker = a.folder / "manifest.json"
    before = marker.read_text()
    b = run(["02_slow"], name="same", root=project, data_source=SMALL, progress=False, today=day)
    assert a.ok and b.ok
    assert a.folder.name == "same" and b.folder.name == "same-2"
    assert marker.read_text() == before
    index = (project / "reports" / "index.html").read_text()
    assert index.index("same-2") < index.index("2026-02-01/same/")  # newest first


def test_cell_timeout_fails_the_notebook(project):
    res = run(
        ["02_slow"],
        name="slow",
        root=project,
        data_source=SMALL,
        progress=False,
        overrides={"seconds": 60},
        cell_timeout=3,
        today=dt.date(2026, 3, 1),
    )
    nb = res.notebooks[0]
    assert nb.status in ("timeout", "failed") and res.exit_code == 1
    assert nb.duration_s < 50


def test_wall_clock_limit_kills_the_notebook(project):
    res = run(
        ["03_records_then_sleeps"],
        name="wall",
        root=project,
        data_source=SMALL,
        progress=False,
        overrides={"seconds": 120},
        wall_timeout=15,
        today=dt.date(2026, 3, 2),
    )
    nb = res.notebooks[0]
    assert nb.status == "timeout" and "wall-clock" in nb.error.message
    assert res.folder.is_dir() and res.exit_code == 1
    # KPIs recorded before the kill are collected from the notebook papermill saved
    kpis = json.loads((res.folder / "kpis.json").read_text())["kpis"]
    assert [(k["name"], k["value"]) for k in kpis] == [("recorded_before_the_kill", 7)]


def test_invalid_data_stop_the_run_before_any_report(project, tmp_path):
    from cjlab.data import DataValidationError
    from cjlab.data.synth import generate

    data = tmp_path / "bad"
    data.mkdir()
    tables = generate(300, seed=1).tables
    tables["orders"].loc[0, "amount"] = -10.0
    for name, df in tables.items():
        df.to_parquet(data / f"{name}.parquet")
    with pytest.raises(DataValidationError, match=r"orders\.amount: below_minimum"):
        run(["00_data_overview"], name="bad", root=project, data_source=str(data), progress=False)
    assert not (project / "reports").exists() or not list((project / "reports").glob("*/bad"))


def test_cli_exit_codes(project, monkeypatch, capsys):
    from cjlab.cli import main

    monkeypatch.setenv("CJLAB_HOME", str(project))
    assert main(["run", "02_slow", "--data", SMALL, "--no-progress", "--name", "cli"]) == 0
    assert main(["run", "02_slow", "-p", "seconds=soon", "--no-progress"]) == 2
    assert "seconds: expected int" in capsys.readouterr().err
    assert main(["run", "01_fails", "--data", SMALL, "--no-progress"]) == 1


def test_plain_papermill_cli_runs_the_notebooks(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "o.ipynb"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(ROOT / "notebooks" / "00_data_overview.ipynb"),
            str(out),
            "-p",
            "data_source",
            SMALL,
            "--cwd",
            str(ROOT / "notebooks"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    from cjlab.report.kpis import kpis_from_notebook

    assert {k["name"] for k in kpis_from_notebook(out)} >= {"customers", "revenue"}


def test_run_lock_stops_a_second_concurrent_run(project):
    from cjlab.report.runner import RunLockedError, run_lock

    reports = project / "reports"
    with run_lock(reports), pytest.raises(RunLockedError, match="another cjlab run"):
        run(["02_slow"], name="locked", root=project, data_source=SMALL, progress=False)
    assert not list(reports.glob("*/locked"))


def test_notify_and_compare(project, monkeypatch, capsys, tmp_path):
    from cjlab.cli import main

    monkeypatch.setenv("CJLAB_HOME", str(project))
    note = tmp_path / "summary.txt"
    assert (
        main(["run", "00", "--data", SMALL, "--no-progress", "--name", "m", "--notify", str(note)])
        == 0
    )
    text = note.read_text()
    assert "COMPLETED" in text and "Customers = 1,500" in text
    assert (
        main(
            ["run", "00", "--data", "demo:n_customers=1800,seed=3", "--no-progress", "--name", "m"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["compare", "m", "m-2"]) in (0,)
    out = capsys.readouterr().out
    assert "Customers: 1,500 -> 1,800 (+300)" in out
    assert main(["run", "00", "-p", "top_n=x", "--no-progress", "--notify", str(note)]) == 2
    assert "NOT RUN" in note.read_text()
    kpi_page = (project / "reports" / "kpis.html").read_text()
    assert "KPI trends across runs" in kpi_page and "Customers" in kpi_page


# -- notebooks that follow the data, the thread budget, the lock ------------------------------
THREADS_CELL = (
    "import os\nfrom cjlab import notebook as rd\n"
    "rd.kpi('omp_threads', int(os.environ['OMP_NUM_THREADS']))\n"
    "rd.kpi('blas_threads', int(os.environ['OPENBLAS_NUM_THREADS']))\n"
    "rd.kpi('duckdb_threads', int(os.environ['CJLAB_DUCKDB_THREADS']))"
)


def _nb_needing(path: Path, title: str, requires: list, *cells: str) -> None:
    _nb(path, 'data_source: str = "demo"', *cells)
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata["cjlab"] = {"title": title, "requires": requires}
    nbformat.write(nb, str(path))


@pytest.fixture
def retailer(tmp_path, monkeypatch):
    """A project of tiny notebooks with data requirements, and a company with only customers
    and orders (no survey, no touchpoints); the thread budget left to its default."""
    from cjlab.data.synth import generate

    for var in ("OMP_NUM_THREADS", "CJLAB_THREADS", "CJLAB_DUCKDB_THREADS"):
        monkeypatch.delenv(var, raising=False)
    proj = tmp_path / "proj"
    nbs = proj / "notebooks"
    nbs.mkdir(parents=True)
    (proj / "params").mkdir()
    _nb_needing(
        nbs / "10_survey.ipynb",
        "Survey answers",
        [{"survey_responses": []}],
        "raise RuntimeError('a not-applicable notebook must never start a kernel')",
    )
    _nb_needing(nbs / "11_orders.ipynb", "Orders and threads", [{"orders": []}], THREADS_CELL)
    _nb_needing(
        nbs / "12_breaks.ipynb",
        "Breaks after recording",
        [{"customers": []}],
        THREADS_CELL,
        "raise ValueError('planted failure')",
    )
    _nb_needing(nbs / "13_journey.ipynb", "Journeys", [{"touchpoints": ["campaign"]}], "1")
    data = tmp_path / "retailer"
    data.mkdir()
    tables = generate(300, seed=1).tables
    for name in ("customers", "orders"):
        tables[name].to_parquet(data / f"{name}.parquet")
    monkeypatch.setenv("CJLAB_HOME", str(proj))
    return proj, data


def _manifest(proj: Path, name: str) -> dict:
    return json.loads(next((proj / "reports").glob(f"*/{name}/manifest.json")).read_text())


def test_notebooks_the_data_cannot_serve_are_not_applicable_not_failed(retailer, tmp_path):
    from cjlab.cli import main
    from cjlab.report.plan import cpu_count

    proj, data = retailer
    note = tmp_path / "note.txt"
    code = main(
        [
            "run",
            "10",
            "11",
            "13",
            "--data",
            str(data),
            "--name",
            "shop",
            "--no-progress",
            "--notify",
            str(note),
        ]
    )
    assert code == 0
    m = _manifest(proj, "shop")
    assert m["status"] == "completed"
    nbs = {n["notebook"]: n for n in m["notebooks"]}
    assert nbs["10_survey"]["status"] == "not applicable"
    assert nbs["10_survey"]["reason"] == "10_survey needs the survey_responses table"
    assert nbs["13_journey"]["reason"] == "13_journey needs the touchpoints table"
    assert nbs["10_survey"]["html"] is None and nbs["10_survey"]["ipynb"] is None
    assert nbs["11_orders"]["status"] == "completed" and nbs["11_orders"]["reason"] is None
    folder = proj / "reports" / m["folder"]
    assert not (folder / "10_survey.ipynb").exists()  # no kernel was started for it
    assert (folder / "11_orders.html").exists()

    text = note.read_text()
    assert "COMPLETED (1/1 notebooks, 2 not applicable)" in text
    assert "10_survey: not applicable (needs the survey_responses table)" in text
    assert "13_journey: not applicable (needs the touchpoints table)" in text
    assert "11_orders: completed" in text

    index = (proj / "reports" / "index.html").read_text()
    assert (
        "Survey answers" in index
        and "not applicable: 10_survey needs the survey_responses table" in index
    )
    assert (
        f'href="{m["folder"]}/11_orders.html">Orders and threads</a>' in index
    )  # titles, not stems

    # the thread budget: cores // jobs, in the kernel's environment and in the manifest
    budget = max(1, cpu_count() // 1)
    assert m["threads"]["per_notebook"] == budget and m["threads"]["source"] == "cores // jobs"
    assert m["threads"]["environment"]["OMP_NUM_THREADS"] == str(budget)
    kpis = {k["name"]: k["value"] for k in json.loads((folder / "kpis.json").read_text())["kpis"]}
    assert kpis == {"omp_threads": budget, "blas_threads": budget, "duckdb_threads": budget}


def test_one_failing_and_one_not_applicable_notebook_exit_1(retailer, monkeypatch):
    from cjlab.cli import main

    proj, data = retailer
    monkeypatch.setenv("CJLAB_THREADS", "1")  # the environment override of the budget
    monkeypatch.setenv("CJLAB_DUCKDB_THREADS", "3")  # chosen by the user: kept
    assert main(["run", "10", "12", "--data", str(data), "--name", "mixed", "--no-progress"]) == 1
    m = _manifest(proj, "mixed")
    assert m["status"] == "failed"
    assert {n["notebook"]: n["status"] for n in m["notebooks"]} == {
        "10_survey": "not applicable",
        "12_breaks": "failed",
    }
    assert m["threads"]["per_notebook"] == 1 and m["threads"]["source"] == "CJLAB_THREADS"
    folder = proj / "reports" / m["folder"]
    kpis = {k["name"]: k["value"] for k in json.loads((folder / "kpis.json").read_text())["kpis"]}
    assert kpis == {"omp_threads": 1, "blas_threads": 1, "duckdb_threads": 3}
    assert "This report is incomplete" in (folder / "12_breaks.html").read_text()


def test_a_run_where_nothing_applies_still_writes_its_report(retailer, capsys):
    from cjlab.cli import main

    proj, data = retailer
    assert main(["run", "10", "13", "--data", str(data), "--name", "none", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "NOT APPLICABLE (0/0 notebooks, 2 not applicable)" in out
    assert "no notebook applies to these data" in out
    m = _manifest(proj, "none")
    assert m["status"] == "not applicable"
    assert [n["status"] for n in m["notebooks"]] == ["not applicable"] * 2
    folder = proj / "reports" / m["folder"]
    assert json.loads((folder / "kpis.json").read_text())["kpis"] == []
    assert sorted(p.name for p in folder.iterdir()) == ["kpis.json", "manifest.json"]
    assert "not applicable" in (proj / "reports" / "index.html").read_text()


def _hold_lock(reports: Path, seconds: float):
    """A separate process holding the reports lock for ``seconds``; returns once it holds it."""
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\nfrom cjlab.report.runner import run_lock\n"
        f"with run_lock({str(reports)!r}):\n    print('held', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    time.sleep(0.1)
    return proc


def test_the_file_lock_stops_a_second_run_from_another_process(retailer, capsys):
    from cjlab.cli import main

    proj, data = retailer
    reports = proj / "reports"
    holder = _hold_lock(reports, 4)
    try:
        assert main(["run", "10", "--data", str(data), "--name", "second", "--no-progress"]) == 3
        err = capsys.readouterr().err
        assert "another cjlab run is writing to" in err and f"pid {holder.pid}" in err
        assert not list(reports.glob("*/second"))
        assert main(["index", "--wait", "0"]) == 3  # `cjlab index` takes the same lock
    finally:
        holder.wait(timeout=30)
    # ... and a run that may wait gets the lock once the holder lets go
    holder = _hold_lock(reports, 1)
    try:
        assert (
            main(
                [
                    "run",
                    "10",
                    "--data",
                    str(data),
                    "--name",
                    "later",
                    "--no-progress",
                    "--wait",
                    "20",
                ]
            )
            == 0
        )
    finally:
        holder.wait(timeout=30)
    assert list(reports.glob("*/later/manifest.json"))


# -- progress inside a notebook, headline records, warm workers, a quiet kernel ----------------
HEADLINE_CELL = (
    "from IPython.display import display\nfrom cjlab.results import HEADLINE_MIME, Headline\n"
    "from cjlab import notebook as rd\n"
    "display({HEADLINE_MIME: Headline('Churn fell to 4 %', (('Why', 'a better app'),), 'good')"
    ".to_record()}, raw=True)\n"
    "rd.kpi('parent_pid', os.getppid())"
)


@pytest.fixture
def story(tmp_path):
    """Notebooks with sections, a headline record, and the worker's pid as a KPI."""
    proj = tmp_path / "story"
    (proj / "notebooks").mkdir(parents=True)
    (proj / "params").mkdir()
    for stem in ("21_story", "22_again"):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        p = nbformat.v4.new_code_cell('data_source: str = "demo"  # where')
        p.metadata["tags"] = ["parameters"]
        nb.cells = [
            nbformat.v4.new_markdown_cell("# A story"), p,
            nbformat.v4.new_code_cell("import os, time"),
            nbformat.v4.new_markdown_cell("## Where customers leave\ntext"),
            nbformat.v4.new_code_cell(HEADLINE_CELL),
            nbformat.v4.new_code_cell("time.sleep(0.5)"),
            nbformat.v4.new_markdown_cell("## What to do"),
            nbformat.v4.new_code_cell("time.sleep(0.5)"),
        ]  # fmt: skip
        nb.metadata["cjlab"] = {"title": f"Story {stem[:2]}", "requires": []}
        nbformat.write(nb, str(proj / "notebooks" / f"{stem}.ipynb"))
    return proj


def test_progress_names_each_section_and_workers_are_warm_and_reused(story, capsys, monkeypatch):
    from cjlab.cli import main

    monkeypatch.setenv("CJLAB_HOME", str(story))
    note = story / "note.txt"
    assert main(["run", "21", "22", "--data", SMALL, "--name", "s", "--notify", str(note)]) == 0
    err = capsys.readouterr().err  # not a terminal: plain lines, one per section
    for nb in ("21_story", "22_again"):
        assert f"  {nb}: started" in err
        assert err.count(f"  {nb}: cell 4/6 · Where customers leave") == 1
        assert err.count(f"  {nb}: cell 6/6 · What to do") == 1
        assert f"  {nb}: cell 5/6" not in err  # no line for a cell of the same section
    assert err.index("21_story: cell 4/6") < err.index("21_story: completed")

    m = _manifest(story, "s")
    folder = story / "reports" / m["folder"]
    heads = {n["notebook"]: n["headline"] for n in m["notebooks"]}
    assert heads["21_story"] == {
        "title": "Churn fell to 4 %",
        "items": [["Why", "a better app"]],
        "status": "good",
    }
    text = note.read_text()
    assert "Story 21 (21_story)\n  Churn fell to 4 %\n  - Why: a better app" in text
    index = (story / "reports" / "index.html").read_text()
    assert "Churn fell to 4 %" in index
    html = (folder / "21_story.html").read_text()
    assert "vnd.cjlab.headline" not in html and '"status": "good"' not in html
    # both notebooks ran in the same warm worker (the kernels' parent), one after the other
    kpis = json.loads((folder / "kpis.json").read_text())["kpis"]
    pids = {k["notebook"]: k["value"] for k in kpis if k["name"] == "parent_pid"}
    assert pids["21_story"] == pids["22_again"]
    # kernel noise (e.g. ipykernel's TCP warning) goes to the log, never to the terminal
    assert "without encryption" not in err


def test_the_export_folder_variables_are_those_the_notebook_layer_reads():
    from cjlab.notebook import exports
    from cjlab.report import runner

    assert (runner.OUTPUT_DIR_ENV, runner.REPORT_DIR_ENV) == (
        exports.OUTPUT_DIR_ENV,
        exports.REPORT_DIR_ENV,
    )


def test_a_run_starts_no_worker_for_bad_options_and_stops_its_warm_workers(story, monkeypatch):
    import psutil

    from cjlab.report.params import ParameterError
    from cjlab.report.runner import RunOptions, warm_workers

    assert warm_workers(RunOptions(jobs=0)) == 0
    assert warm_workers(RunOptions(notebooks=["21"], jobs=4)) == 1
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(ParameterError):
        run(["21"], root=story, overrides={"nope": 1}, progress=False)
    time.sleep(0.5)
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before
            and p.is_running() and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]  # fmt: skip
    assert left == []


def test_the_cli_starts_its_workers_before_any_data_library_loads():
    """`cjlab run` spawns its warm workers first thing in :func:`run`; everything the command
    line imports before that (the parser of every sub-command and the runner) must leave
    pandas, DuckDB and numpy unloaded, or the workers start seconds late (2.1 s here when
    the ``import`` sub-command's parser imported the mapping package)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cjlab.cli import build_parser\n"
        "build_parser().parse_args(['run', '00'])\n"
        "import cjlab.report.runner, cjlab.report.pool\n"
        "print(sorted(m for m in ('pandas', 'duckdb', 'numpy', 'narwhals') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
