"""Planning a run (no kernel starts): options in range, the thread budget, notebook titles and
data requirements, and notebooks marked not applicable before anything runs."""

from __future__ import annotations

import nbformat
import pytest

from cjlab.report.params import ParameterError
from cjlab.report.plan import (
    RunOptions,
    check_data,
    notebook_info,
    plan_run,
    thread_budget,
)


def _nb(path, meta=None, first="# A heading title\n\nText."):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if meta is not None:
        nb.metadata["cjlab"] = meta
    p = nbformat.v4.new_code_cell('data_source: str = "demo"')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(first), p, nbformat.v4.new_code_cell("1")]
    nbformat.write(nb, str(path))
    return path


def test_thread_budget_default_and_overrides():
    assert thread_budget(1, environ={}, cores=2).threads == 2
    assert thread_budget(2, environ={}, cores=2).threads == 1
    assert thread_budget(3, environ={}, cores=2).threads == 1  # never below one
    assert thread_budget(2, environ={}, cores=8).threads == 4
    b = thread_budget(2, environ={"OMP_NUM_THREADS": "3"}, cores=8)
    assert (b.threads, b.source) == (3, "OMP_NUM_THREADS")  # a caller's explicit choice counts
    b = thread_budget(2, environ={"OMP_NUM_THREADS": "3", "CJLAB_THREADS": "5"}, cores=8)
    assert (b.threads, b.source) == (5, "CJLAB_THREADS")
    b = thread_budget(2, threads=6, environ={"CJLAB_THREADS": "5"}, cores=8)
    assert (b.threads, b.source) == (6, "--threads")
    assert thread_budget(1, environ={"OMP_NUM_THREADS": "junk"}, cores=4).threads == 4
    with pytest.raises(ParameterError, match="CJLAB_THREADS: expected a whole number"):
        thread_budget(1, environ={"CJLAB_THREADS": "many"}, cores=4)


def test_thread_environment_sets_openmp_and_blas_and_keeps_a_chosen_duckdb_count():
    b = thread_budget(2, environ={}, cores=4)
    env = b.environment({})
    assert env == {
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        "NUMEXPR_NUM_THREADS": "2",
        "CJLAB_DUCKDB_THREADS": "2",
    }
    assert "CJLAB_DUCKDB_THREADS" not in b.environment({"CJLAB_DUCKDB_THREADS": "8"})


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"jobs": 0}, "jobs: expected a whole number ≥ 1, got 0"),
        ({"threads": 0}, "threads: expected a whole number ≥ 1, got 0"),
        ({"cell_timeout": 0}, "cell_timeout: expected seconds > 0"),
        ({"wall_timeout": -1}, "wall_timeout: expected seconds > 0"),
        ({"lock_wait": -5}, "lock_wait: expected seconds ≥ 0"),
    ],
)
def test_runner_options_out_of_range(kw, msg):
    assert RunOptions().problems() == []
    assert any(msg in p for p in RunOptions(**kw).problems())


def test_bad_options_exit_2_before_anything_runs(tmp_path, monkeypatch, capsys):
    from cjlab.cli import main

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    _nb(tmp_path / "notebooks" / "01_x.ipynb")
    monkeypatch.setenv("CJLAB_HOME", str(tmp_path))
    assert main(["run", "01", "--jobs", "0", "--no-progress"]) == 2
    assert "jobs: expected a whole number ≥ 1" in capsys.readouterr().err
    assert main(["run", "01", "--threads", "0", "--no-progress"]) == 2
    monkeypatch.setenv("CJLAB_THREADS", "lots")
    assert main(["run", "01", "--no-progress"]) == 2
    assert "CJLAB_THREADS" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_notebook_title_and_requirements(tmp_path):
    a = _nb(tmp_path / "a.ipynb", {"title": "From metadata", "requires": [{"orders": []}]})
    assert notebook_info(a) == ("From metadata", [{"orders": []}])
    assert notebook_info(_nb(tmp_path / "b.ipynb")) == ("A heading title", [])
    assert notebook_info(_nb(tmp_path / "c.ipynb", first="no heading")) == ("c", [])


def test_plan_marks_notebooks_whose_minimum_is_missing(tmp_path):
    from cjlab.data.synth import generate

    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    _nb(root / "notebooks" / "01_any.ipynb")
    _nb(
        root / "notebooks" / "02_churn.ipynb",
        {"title": "Churn", "requires": [{"customers": ["cancelled_at"]}, {"touchpoints": []}]},
    )
    _nb(root / "notebooks" / "03_orders.ipynb", {"title": "Orders", "requires": [{"orders": []}]})
    data = tmp_path / "data"
    data.mkdir()
    tables = generate(200, seed=2).tables
    tables["customers"].assign(cancelled_at=None).to_parquet(data / "customers.parquet")
    tables["orders"].to_parquet(data / "orders.parquet")
    plan = plan_run(RunOptions(root=root, data_source=str(data), jobs=2, threads=1))
    assert [j.title for j in plan.jobs] == ["A heading title", "Churn", "Orders"]
    assert plan.threads.threads == 1 and all(j.status == "pending" for j in plan.jobs)
    check_data(plan)
    status = {j.notebook: (j.status, j.reason) for j in plan.jobs}
    assert status == {
        "01_any": ("pending", None),
        # an optional column that is empty in every row counts as absent
        "02_churn": (
            "not applicable",
            "02_churn needs the cancelled_at column of customers, or the touchpoints table",
        ),
        "03_orders": ("pending", None),
    }
    assert [j.notebook for j in plan.applicable] == ["01_any", "03_orders"]
    assert plan.sources[str(data)]["tables"] == {"customers": 200, "orders": len(tables["orders"])}


def test_a_relative_data_path_is_made_absolute_for_the_kernel(tmp_path, monkeypatch):
    """Kernels run in notebooks/: `--data data/acme` must name the caller's folder there too."""
    from cjlab.report.plan import absolute_source

    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    _nb(root / "notebooks" / "01_any.ipynb")
    (tmp_path / "acme").mkdir()
    (tmp_path / "shop.duckdb").write_text("")
    monkeypatch.chdir(tmp_path)
    plan = plan_run(RunOptions(root=root, data_source="acme"))
    assert plan.jobs[0].data_source == str(tmp_path / "acme")
    assert absolute_source("spark:acme") == f"spark:{tmp_path / 'acme'}"
    assert absolute_source("duckdb:shop.duckdb") == f"duckdb:{tmp_path / 'shop.duckdb'}"
    for unchanged in (
        "demo",
        "demo:n_customers=300,seed=1",
        "missing/folder",
        str(tmp_path),
        "postgresql://user@host/db",
        None,
    ):
        assert absolute_source(unchanged) == unchanged
