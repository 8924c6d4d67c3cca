"""Faults with real kernels (issue 16): signals, a killed run, a full disk, an unwritable
summary, secrets and exports through a run — through the real command in child processes.

Each case asserts the exit code, the message, that no process and no temporary folder is left,
that no report that looks valid is written and that the earlier report is unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_hostile import snapshot, write_nb

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("runner"),
    pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process groups"),
]
SMALL = "demo:n_customers=3000,seed=11"
TOKEN, LOGIN = "tok-9f8e7d6c5b4a", "alice-login-77x"
QUICK = (
    "from cjlab import notebook as rd\nimport pandas as pd\n"
    "rd.headline('Quick', ['it ran'])\nrd.kpi('ran', 1)\n"
    "print('using', api_key, crm_login)\n"
    "rd.note(f'connected with {api_key}')",
    "rd.export_csv(pd.DataFrame({'customer_id': ['=HYPERLINK(\"http://evil.example\")', 'c2'],"
    " 'p_churn': [0.9, 0.1]}), 'contacts.csv', label='Contact list for the CRM')",
)


def _psutil():
    return pytest.importorskip("psutil")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Notebooks that record, sleep, print a lot or export outside; and an earlier report."""
    root = tmp_path_factory.mktemp("faults") / "proj"
    nbs = root / "notebooks"
    nbs.mkdir(parents=True)
    (root / "params").mkdir()
    write_nb(
        nbs / "01_quick.ipynb",
        'data_source: str = "demo"  # where\napi_key: str = ""  # key of the CRM\n'
        'crm_login: str = ""  # login of the CRM (secret)',
        *QUICK,
    )
    write_nb(
        nbs / "02_sleep.ipynb",
        'data_source: str = "demo"  # where\nseconds: int = 1  # how long [0, 3600]',
        "from cjlab import notebook as rd\nrd.kpi('started', 1)",
        "import time\ntime.sleep(seconds)",
    )
    write_nb(
        nbs / "03_big.ipynb",
        'data_source: str = "demo"  # where\nmegabytes: int = 1  # output size [1, 100]',
        "print('x' * (megabytes << 20))",
    )
    write_nb(
        nbs / "04_escape.ipynb",
        'data_source: str = "demo"  # where',
        "from cjlab import notebook as rd\nimport pandas as pd\n"
        "rd.export_csv(pd.DataFrame({'customer_id': [1]}), '../../crm_out.csv')",
    )
    res = cjlab(root, "run", "02", "--name", "earlier")
    assert res.returncode == 0, res.stderr
    return root


def cjlab(root: Path, *args: str, wait: bool = True, **env: str):
    """The real ``cjlab`` command in its own session (as cron or systemd starts it)."""
    full_env = {**os.environ, "CJLAB_HOME": str(root), "OMP_NUM_THREADS": "1", **env}
    cmd = [sys.executable, "-m", "cjlab.cli", *args]
    if args and args[0] == "run":
        cmd += ["--data", SMALL, "--no-progress"]
    if not wait:
        return subprocess.Popen(
            cmd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=600)


def _running_record(reports: Path, timeout: float = 180) -> dict:
    """The ``.run.json`` of the running run, once it lists a kernel."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for rec in reports.glob(".tmp-*/.run.json"):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(rec.read_text())
                if any(data.get("kernels", {}).values()):
                    return data
        time.sleep(0.3)
    raise AssertionError("the run never started a kernel")


def _pids(record: dict) -> list[int]:
    procs = [record["run"], *record["workers"].values()]
    procs += [k for ks in record["kernels"].values() for k in ks]
    return [p["pid"] for p in procs]


def _all_gone(pids: list[int], timeout: float = 15) -> list[int]:
    ps = _psutil()
    end = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < end:
        alive = []
        for p in pids:
            with contextlib.suppress(ps.NoSuchProcess):
                if ps.Process(p).status() != ps.STATUS_ZOMBIE:
                    alive.append(p)
        if not alive:
            return []
        time.sleep(0.2)
    return alive


@pytest.mark.parametrize(
    "sig,code,name",
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, None), (signal.SIGHUP, 129, "SIGHUP")],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
def test_a_signal_stops_every_process_and_leaves_nothing(project, sig, code, name):
    reports = project / "reports"
    before = snapshot(reports)
    proc = cjlab(project, "run", "02", "-p", "seconds=600", "--name", "stopped", wait=False)
    try:
        record = _running_record(reports)
        os.kill(proc.pid, sig)  # the main process only, as `timeout` and `kill` do
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert "nothing was replaced" in err and "Traceback" not in err
    if name:
        assert f"stopped by signal {name}" in err
    assert _all_gone(_pids(record)) == []  # worker and kernel (a session of its own) too
    assert not list(reports.glob(".tmp-*")) and not list(reports.glob("*/stopped"))
    assert snapshot(reports) == before


def test_after_sigkill_the_next_run_removes_the_folder_and_the_stray_processes(project):
    ps = _psutil()
    reports = project / "reports"
    earlier = snapshot(reports / next(reports.glob("*/earlier")).relative_to(reports))
    proc = cjlab(project, "run", "02", "-p", "seconds=600", "--name", "killed", wait=False)
    record = _running_record(reports)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)  # the strays hold its pipes open: no communicate()
    proc.stdout.close()
    proc.stderr.close()
    strays = [p for p in _pids(record)[1:] if ps.pid_exists(p)]
    try:
        assert strays, "the worker and kernel outlive a SIGKILL of the run"
        stale = list(reports.glob(".tmp-*"))
        assert len(stale) == 1
        res = cjlab(project, "run", "02", "--name", "next")
    finally:
        gone_or_killed = _all_gone(strays, timeout=60)
        for p in gone_or_killed:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
    assert res.returncode == 0, res.stderr
    assert f"removed {stale[0].name}, left by a run that did not end cleanly" in res.stderr
    assert f"(pid {record['run']['pid']})" in res.stderr
    assert gone_or_killed == []
    assert not list(reports.glob(".tmp-*")) and not list(reports.glob("*/killed"))
    assert snapshot(next(reports.glob("*/earlier"))) == earlier
    manifest = json.loads(next(reports.glob("*/next/manifest.json")).read_text())
    assert manifest["cleaned_up"] and "left by a run" in manifest["cleaned_up"][0]


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (a disk that fills up); skipped where mounting is not allowed."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_gives_one_line_and_leaves_nothing_half_written(project, small_disk):
    reports = small_disk / "reports"
    first = cjlab(project, "run", "02", "--name", "fits", "--reports-dir", str(reports))
    assert first.returncode == 0, first.stderr
    before = snapshot(reports)
    res = cjlab(project, "run", "03", "-p", "megabytes=4", "--name", "full", "--reports-dir",
                str(reports))  # fmt: skip
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert "cannot write the report into" in lines[0] and "No space left on device" in lines[0]
    assert "earlier reports are unchanged" in lines[0] and "Traceback" not in res.stderr
    assert not list(reports.glob(".tmp-*")) and not list(reports.glob("*/full"))
    assert snapshot(reports) == before


def test_records_are_written_atomically(tmp_path, monkeypatch):
    from cjlab.report.runner import write_json

    write_json(tmp_path / "kpis.json", {"kpis": [1]})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_json(tmp_path / "kpis.json", {"kpis": [1, 2]})
    with pytest.raises(OSError):
        write_json(tmp_path / "new.json", {"kpis": []})
    assert json.loads((tmp_path / "kpis.json").read_text()) == {"kpis": [1]}  # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kpis.json"]  # no 0-byte file


def test_secrets_exports_and_an_unwritable_summary_through_a_run(project):
    reports = project / "reports"
    res = cjlab(
        project, "run", "01", "--name", "secrets", "-p", f"api_key={TOKEN}", "-p",
        f"crm_login={LOGIN}", "--notify", "/dev/full",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr  # the report is complete: a summary error is a warning
    assert "warning: the summary could not be written to /dev/full" in res.stderr
    assert "IPKernelApp" not in res.stderr and "Traceback" not in res.stderr
    folder = next(reports.glob("*/secrets"))
    texts = {p.name: p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}
    texts["terminal"] = res.stdout + res.stderr
    if (reports / "cjlab.log").exists():
        texts["cjlab.log"] = (reports / "cjlab.log").read_text()
    for where, text in texts.items():
        assert TOKEN not in text and LOGIN not in text, where
    nb = json.loads(texts["01_quick.ipynb"])
    injected = next(
        c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    )
    assert 'api_key = "***"' in "".join(injected["source"])
    assert "using *** ***" in texts["01_quick.ipynb"]
    manifest = json.loads(texts["manifest.json"])
    nbm = manifest["notebooks"][0]
    assert nbm["parameters"]["api_key"] == "***" and nbm["parameters"]["crm_login"] == "***"
    assert nbm["secret_parameters"] == ["api_key", "crm_login"]
    assert "api_key=***" in manifest["command"]
    # the export: in the report folder, neutralised, linked, its rows not in the page
    assert texts["contacts.csv"].splitlines()[1].startswith("\"'=HYPERLINK(")
    assert manifest["exports"][0]["file"] == "exports/contacts.csv"
    html = texts["01_quick.html"]
    assert 'href="exports/contacts.csv"' in html and "HYPERLINK" not in html


def test_an_export_leaving_the_report_folder_fails_the_notebook_only(project):
    reports = project / "reports"
    res = cjlab(project, "run", "04", "--name", "escape")
    assert res.returncode == 1
    assert "would leave the export folder" in res.stdout and "Traceback" not in res.stderr
    assert not list(project.rglob("crm_out.csv")) and not list(reports.rglob("crm_out.csv"))
    m = json.loads(next(reports.glob("*/escape/manifest.json")).read_text())
    assert m["notebooks"][0]["error"]["type"] == "ExportError" and m["exports"] == []
