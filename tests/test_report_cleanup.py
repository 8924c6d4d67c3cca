"""Clean ends without kernels: SIGTERM as an interrupt, killing process trees (a child in a
session of its own, like a Jupyter kernel), and removing what a killed run left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cjlab.report.cleanup import (
    RUN_RECORD,
    RunRecord,
    Terminated,
    kill_tree,
    process_info,
    remove_stale,
    same_process,
    signals_as_interrupt,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and sessions")

# a "worker" that starts a "kernel" in a session of its own (as jupyter_client does), prints
# both pids and waits
TREE = (
    "import subprocess, sys, time\n"
    "k = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
    " start_new_session=True)\n"
    "print(k.pid, flush=True)\n"
    "time.sleep(300)\n"
)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone(pids, timeout=10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def tree():
    worker = subprocess.Popen(
        [sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    kernel = int(worker.stdout.readline())
    yield worker, kernel
    for p in (kernel, worker.pid):
        with __import__("contextlib").suppress(OSError):
            os.kill(p, signal.SIGKILL)
    worker.wait(timeout=10)


def test_sigterm_becomes_terminated_with_exit_code_143_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as exc, signals_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert exc.value.exit_code == 143 and isinstance(exc.value, KeyboardInterrupt)
    assert "SIGTERM" in str(exc.value)
    assert signal.getsignal(signal.SIGTERM) is before


def test_kill_tree_also_kills_a_child_in_a_session_of_its_own(tree):
    worker, kernel = tree
    assert os.getsid(kernel) != os.getsid(worker.pid)  # killing the worker's group would miss it
    assert kill_tree(worker.pid) >= 2
    worker.wait(timeout=10)
    assert _gone([kernel, worker.pid])


def test_same_process_sees_a_reused_pid(tree):
    worker, _ = tree
    info = process_info(worker.pid)
    assert same_process(info)
    assert not same_process({**info, "started": info["started"] - 3600})  # another process
    assert not same_process({"pid": 2**22 + 12345, "started": 1.0})


def test_a_later_run_kills_the_processes_of_a_dead_run_and_removes_its_folder(tree, tmp_path):
    worker, kernel = tree
    reports = tmp_path / "reports"
    stale = reports / ".tmp-2026-01-01-demo-99999-1"
    stale.mkdir(parents=True)
    (stale / "00_x.ipynb").write_text("{")  # half-written
    record = {
        "run": {"pid": 2**22 + 54321, "pgid": None, "started": 1.0},  # dead
        "workers": {"00_x": process_info(worker.pid)},
        "kernels": {"00_x": [process_info(kernel)]},
    }
    (stale / RUN_RECORD).write_text(json.dumps(record))
    (reports / ".index-abc.tmp").write_text("partial")
    (reports / "2026-01-01" / "demo").mkdir(parents=True)  # a finished report: untouched
    notes = remove_stale(reports)
    assert len(notes) == 1 and "stopped 2 of its processes" in notes[0], notes
    worker.wait(timeout=10)
    assert _gone([worker.pid, kernel])
    assert sorted(p.name for p in reports.iterdir()) == ["2026-01-01"]


def test_a_folder_whose_run_still_runs_is_left_alone(tree, tmp_path):
    worker, _ = tree
    folder = tmp_path / ".tmp-live"
    folder.mkdir()
    (folder / RUN_RECORD).write_text(json.dumps({"run": process_info(worker.pid)}))
    assert remove_stale(tmp_path) == [] and folder.is_dir() and _alive(worker.pid)


def test_run_record_lists_the_run_its_workers_and_kernels(tree, tmp_path):
    worker, kernel = tree
    rec = RunRecord(tmp_path)
    rec.worker("00_x", worker.pid)
    rec.kernels("00_x", [kernel])
    rec.kernels("00_x", [kernel])  # once only
    data = json.loads((tmp_path / RUN_RECORD).read_text())
    assert data["run"]["pid"] == os.getpid() and data["run"]["pgid"] == os.getpgid(0)
    assert data["workers"]["00_x"]["pid"] == worker.pid
    assert [k["pid"] for k in data["kernels"]["00_x"]] == [kernel]
    rec.remove()
    assert not (tmp_path / RUN_RECORD).exists()
