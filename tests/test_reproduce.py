"""Reproducible by construction (issue 18): what the manifest records, ``cjlab reproduce`` from
a report folder alone, refusal when the data changed, and every project notebook run twice
giving the same KPIs (identical, or within the Monte-Carlo tolerance the KPI records)."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cjlab.report.reproduce import (
    DIFFERENT,
    IDENTICAL,
    MISSING,
    NEW,
    WITHIN,
    Reproduction,
    compare_kpis,
    software_warnings,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
SMALL = "demo:n_customers=3000,seed=11"


def _k(name, value, **kw):
    return {"notebook": "01_x", "name": name, "value": value, **kw}


# -- comparing KPIs (no kernel) ----------------------------------------------------------------
@pytest.mark.parametrize(
    "old,new,verdict",
    [
        (_k("n", 1500), _k("n", 1500), IDENTICAL),
        (_k("nps", 31.4, low=28.0, high=34.8), _k("nps", 31.4, low=28.0, high=34.8), IDENTICAL),
        (_k("nps", 31.4), _k("nps", 31.4 + 1e-6), DIFFERENT),  # no tolerance: to rounding
        (_k("nps", 31.4), _k("nps", 31.4 * (1 + 4e-16)), IDENTICAL),  # the last bits of a sum
        (_k("x", 1e-30), _k("x", 2e-30), DIFFERENT),  # relative, also for tiny figures
        (_k("p", 0.50, tolerance=0.01), _k("p", 0.509), WITHIN),
        (_k("p", 0.50, tolerance=0.01), _k("p", 0.52), DIFFERENT),
        (_k("p", 0.5, low=0.4, high=0.6, tolerance=0.01),
         _k("p", 0.5, low=0.4, high=0.65), DIFFERENT),  # the interval moved beyond it
        (_k("p", 0.5, low=0.4, high=0.6, tolerance=0.01),
         _k("p", 0.505, low=0.395, high=0.6), WITHIN),
        (_k("p", 0.5), _k("p", 0.6, tolerance=0.2), WITHIN),  # the new record's tolerance
        (_k("verdict", "B wins"), _k("verdict", "B wins"), IDENTICAL),
        (_k("verdict", "B wins"), _k("verdict", "no difference"), DIFFERENT),
        (_k("x", None), _k("x", None), IDENTICAL),
        (_k("x", None), _k("x", 1.0), DIFFERENT),
    ],
)  # fmt: skip
def test_kpi_verdicts(old, new, verdict):
    (row,) = compare_kpis([old], [new])
    assert row["verdict"] == verdict, row


def test_missing_new_groups_and_repeated_records():
    old = [_k("n", 1), _k("share", 0.1, group="A"), _k("share", 0.2, group="B"), _k("dup", 1),
           _k("dup", 2)]  # fmt: skip
    new = [_k("share", 0.1, group="A"), _k("share", 0.3, group="B"), _k("dup", 1), _k("dup", 2),
           _k("extra", 5)]  # fmt: skip
    rows = {(r["name"], r["group"], r["old"]): r["verdict"] for r in compare_kpis(old, new)}
    assert rows == {
        ("n", "", 1): MISSING,
        ("share", "A", 0.1): IDENTICAL,
        ("share", "B", 0.2): DIFFERENT,
        ("dup", "", 1): IDENTICAL,
        ("dup", "", 2): IDENTICAL,
        ("extra", "", None): NEW,
    }


def test_a_reproduction_fails_on_a_difference_a_missing_kpi_or_another_status():
    same = compare_kpis([_k("n", 1)], [_k("n", 1)])
    nbs = [{"notebook": "01_x", "old": "completed", "new": "completed", "same": True}]
    assert Reproduction(Path("a"), Path("b"), same, nbs).exit_code == 0
    assert Reproduction(Path("a"), Path("b"), compare_kpis([_k("n", 1)], []), nbs).exit_code == 1
    assert Reproduction(Path("a"), Path("b"), compare_kpis([], [_k("n", 1)]), nbs).exit_code == 0
    failed = [{**nbs[0], "new": "failed", "same": False}]
    rep = Reproduction(Path("a"), Path("b"), same, failed)
    assert rep.exit_code == 1 and "01_x: completed -> failed   <-- differs" in rep.text()
    rep = Reproduction(Path("a"), Path("b"), compare_kpis([_k("p", 0.5)], [_k("p", 0.7)]), nbs)
    assert "NOT REPRODUCED" in rep.text() and "0.5 -> 0.7 (different, diff +0.2)" in rep.text()


def test_software_differences_are_warnings(tmp_path):
    from cjlab.report.environment import git_state, package_versions, software

    current = {
        "versions": package_versions(),
        "software": software(ROOT),
        "git": {**git_state(ROOT), "dirty": False},
    }
    assert software_warnings(current, ROOT) == []
    old = {
        **current,
        "versions": {**current["versions"], "pandas": "1.0.0", "gone": "0.1"},
        "software": {**current["software"], "lock": "sha256:" + "0" * 64},
        "git": {"commit": "0" * 40, "dirty": True},
    }
    w = " | ".join(software_warnings(old, ROOT))
    assert f"pandas: 1.0.0 -> {current['versions']['pandas']}" in w and "gone: 0.1 -> absent" in w
    assert "uv.lock differs from the report's" in w and "git commit" in w
    assert "uncommitted changes" in w


# -- through the runner ------------------------------------------------------------------------
def _company(folder: Path, n: int = 400, seed: int = 5) -> Path:
    from cjlab.data.synth import generate

    folder.mkdir(parents=True)
    for name, df in generate(n, seed=seed).tables.items():
        df.to_parquet(folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A report of the data overview on a Parquet folder, made with the real runner."""
    from cjlab.report.runner import run

    base = tmp_path_factory.mktemp("reproduce")
    data = _company(base / "data")
    res = run(
        ["00_data_overview"],
        name="q3",
        root=ROOT,
        data_source=str(data),
        reports_dir=base / "reports",
        progress=False,
    )
    assert res.ok
    return data, res


@pytest.mark.slow
def test_the_manifest_records_what_reproducing_needs(recorded):
    data, res = recorded
    m = json.loads((res.folder / "manifest.json").read_text())
    lock = "sha256:" + hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()
    assert m["software"]["lock"] == lock and m["software"]["python"] == platform.python_version()
    assert m["software"]["lock_files"]["requirements-lock.txt"].startswith("sha256:")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert m["git"]["commit"] == head.stdout.strip() and isinstance(m["git"]["dirty"], bool)
    nb = m["notebooks"][0]
    assert nb["parameters"]["data_source"] == str(data) and "top_n" in nb["parameters"]
    assert m["data_sources"][str(data)]["fingerprint"].startswith("sha256:")
    assert m["seeds"]["00_data_overview"] == {}  # the overview draws nothing at random
    assert m["threads"]["per_notebook"] >= 1 and m["versions"]["pandas"] == pd.__version__
    assert m["limits"]["jobs"] == 1


@pytest.mark.slow
def test_reproduce_from_the_report_folder_alone(recorded, tmp_path, capsys):
    from cjlab.cli import main

    _, res = recorded
    alone = tmp_path / "handed-over" / res.folder.name
    shutil.copytree(res.folder, alone)  # only the folder: no reports dir, no index around it
    new_reports = tmp_path / "new-reports"
    code = main(["reproduce", str(alone), "--reports-dir", str(new_reports), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "cjlab reproduce: REPRODUCED" in out and "0 different, 0 missing" in out
    (folder,) = new_reports.glob("*/q3-reproduce")
    rep = json.loads((folder / "reproduce.json").read_text())
    assert rep["ok"] and rep["counts"]["identical"] == len(rep["kpis"]) > 5
    assert {r["verdict"] for r in rep["kpis"]} == {IDENTICAL}
    assert "REPRODUCED" in (folder / "reproduce.txt").read_text()
    m = json.loads((folder / "manifest.json").read_text())
    assert (
        m["reproduces"]["folder"] == str(alone) and m["reproduces"]["allow_changed_data"] is False
    )
    assert (
        m["notebooks"][0]["parameters"]
        == json.loads((alone / "manifest.json").read_text())["notebooks"][0]["parameters"]
    )


@pytest.mark.slow
def test_changed_data_make_reproduce_refuse_unless_allowed(recorded, tmp_path, capsys):
    from cjlab.cli import main

    data, res = recorded
    changed = tmp_path / "data"
    shutil.copytree(data, changed)
    manifest = json.loads((res.folder / "manifest.json").read_text())
    manifest["notebooks"][0]["parameters"]["data_source"] = str(changed)
    manifest["data_sources"] = {str(changed): manifest["data_sources"][str(data)]}
    report = tmp_path / "2026-01-01" / "q3"
    shutil.copytree(res.folder, report)
    (report / "manifest.json").write_text(json.dumps(manifest))
    orders = pd.read_parquet(changed / "orders.parquet")
    orders.iloc[:-25].to_parquet(changed / "orders.parquet")  # 25 orders fewer
    new_reports = tmp_path / "new"
    args = ["reproduce", str(report), "--reports-dir", str(new_reports), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "cjlab reproduce: REFUSED — the data changed since the report" in err
    assert f"{changed}: fingerprint sha256:" in err and "--allow-changed-data" in err
    assert "Traceback" not in err and not new_reports.exists()

    assert main([*args, "--allow-changed-data"]) == 1  # it ran, and the order KPIs moved
    out, err = capsys.readouterr()
    assert "re-running on the changed data as --allow-changed-data asks" in err
    assert "NOT REPRODUCED" in out and "<-- differs" in out
    (folder,) = new_reports.glob("*/q3-reproduce")
    m = json.loads((folder / "manifest.json").read_text())
    assert m["reproduces"]["allow_changed_data"] is True and m["reproduces"]["data_changed"]
    rep = json.loads((folder / "reproduce.json").read_text())
    assert any(r["verdict"] == DIFFERENT and r["name"] == "orders" for r in rep["kpis"])
    assert "the data changed since the report" in (folder / "reproduce.txt").read_text()


@pytest.mark.slow
def test_reproduce_warns_when_the_software_differs(recorded, tmp_path, capsys):
    from cjlab.cli import main

    _, res = recorded
    report = tmp_path / "2026-01-01" / "q3"
    shutil.copytree(res.folder, report)
    manifest = json.loads((report / "manifest.json").read_text())
    manifest["versions"]["pandas"] = "1.5.0"
    manifest["software"]["lock"] = "sha256:" + "1" * 64
    (report / "manifest.json").write_text(json.dumps(manifest))
    code = main(["reproduce", str(report), "--reports-dir", str(tmp_path / "r"), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, out
    assert "warning: package versions differ from the report's: pandas: 1.5.0 ->" in err
    assert "warning: uv.lock differs from the report's" in err
    assert "warning: package versions differ" in out  # also in the comparison


@pytest.mark.slow
@pytest.mark.xdist_group("browser")  # the shared demo run of the report checks lives there
def test_every_notebook_run_twice_gives_the_same_kpis(tmp_path, tmp_path_factory):
    """Determinism: ``cjlab reproduce`` of the shared demo run (every project notebook, the demo
    run file, the small demo company) repeats every KPI of every notebook."""
    from demo_reports import _env, demo_reports

    from cjlab.report.reproduce import reproduce

    first = demo_reports(tmp_path_factory.getbasetemp())
    assert {n.notebook for n in first.result.notebooks} == {p.stem for p in NOTEBOOKS}
    assert all(n.status == "completed" and n.n_kpis > 0 for n in first.result.notebooks), [
        (n.notebook, n.status, n.error) for n in first.result.notebooks
    ]
    with _env(CJLAB_CACHE=str(first.reports_dir.parent / "cache")):  # the same demo files
        rep = reproduce(first.folder, reports_dir=tmp_path / "reports", root=ROOT, progress=False)
    bad = [r for r in rep.kpis if r["verdict"] not in (IDENTICAL, WITHIN)]
    assert rep.ok and not bad, rep.text()
    assert {r["notebook"] for r in rep.kpis} == {p.stem for p in NOTEBOOKS}
