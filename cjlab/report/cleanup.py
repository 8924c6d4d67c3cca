"""Clean ends: signals handled like Ctrl-C, process trees killed, and what a killed run left
behind removed by the next one.

* :func:`signals_as_interrupt` turns SIGTERM (what ``systemd`` and ``timeout`` send) and SIGHUP
  into :class:`Terminated`, a :class:`KeyboardInterrupt`, so the runner's interrupt path kills
  every worker and kernel and removes the temporary folder; the command exits with
  ``128 + signal`` (143 for SIGTERM).
* :class:`RunRecord` writes ``.run.json`` into the run's temporary folder: the pid, process
  group and start time of the run and of each worker and kernel it started.
* :func:`remove_stale` runs at the start of every run, under the reports lock: a ``.tmp-*``
  folder there belongs to a run that died without cleaning up (SIGKILL, power loss); the
  processes its record names (when they are still the same processes) are killed and the
  folder is removed.

Examples
--------
>>> Terminated(15).exit_code
143
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RUN_RECORD = ".run.json"
#: what a killed run can leave in the reports folder
STALE_PATTERNS = (".tmp-*", ".index-*.tmp", ".cjlab-probe-*", ".write-*.tmp")


class Terminated(KeyboardInterrupt):
    """The run received SIGTERM or SIGHUP; handled like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"stopped by signal {signal.Signals(self.signum).name}"


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM/SIGHUP inside the block (main thread only).

    Only the first signal raises: a second one during the clean-up is ignored, so the
    clean-up itself is never interrupted.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise Terminated(signum)

    sigs = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]
    old = {s: signal.signal(getattr(signal, s), handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(getattr(signal, s), h)


def _psutil():
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return None
    return psutil


def process_info(pid: int) -> dict[str, Any] | None:
    """``{"pid", "pgid", "started"}`` of a running process (``started``: its start time)."""
    ps = _psutil()
    try:
        started = ps.Process(pid).create_time() if ps else None
        pgid = os.getpgid(pid) if hasattr(os, "getpgid") else None
    except (OSError, Exception):
        return None
    return {"pid": pid, "pgid": pgid, "started": started}


def same_process(info: dict[str, Any] | None) -> bool:
    """The recorded process still runs (same pid and start time, so not a reused pid)."""
    ps = _psutil()
    if not info or not info.get("pid") or ps is None:
        return False
    try:
        p = ps.Process(int(info["pid"]))
        if p.status() == ps.STATUS_ZOMBIE:
            return False
        return info.get("started") is None or abs(p.create_time() - info["started"]) < 1.0
    except ps.Error:
        return False


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children ...), e.g. a worker's kernel."""
    ps = _psutil()
    if ps is None:
        return []
    try:
        return [c.pid for c in ps.Process(pid).children(recursive=True)]
    except ps.Error:
        return []


def kill_tree(pid: int, own_group: bool = True) -> int:
    """Kill ``pid``, every process below it and (``own_group``) its process group.

    The descendants are collected first: a kernel started by a worker runs in a session of its
    own, so killing the worker's group alone would leave it running. Returns how many
    processes were signalled.
    """
    return kill_all([*descendants(pid), pid], own_group)


def kill_all(victims: list[int], own_group: bool = True) -> int:
    """Kill each pid of ``victims`` (and, ``own_group``, the groups they lead); return how many."""
    victims = list(dict.fromkeys(victims))
    n = 0
    for p in victims:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
            n += 1
    if own_group and hasattr(os, "killpg"):
        for p in victims:
            with contextlib.suppress(OSError):
                if os.getpgid(p) == p:
                    os.killpg(p, signal.SIGKILL)
    return n


class RunRecord:
    """``.run.json`` in a run's temporary folder: who the run is and which processes it started."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / RUN_RECORD
        me = process_info(os.getpid()) or {"pid": os.getpid()}
        self.data: dict[str, Any] = {"run": me, "workers": {}, "kernels": {}, "written": None}
        self.save()

    def save(self) -> None:
        self.data["written"] = time.time()
        tmp = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(OSError):  # a full disk must not stop the run from cleaning up
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)

    def worker(self, notebook: str, pid: int) -> None:
        self.data["workers"][notebook] = process_info(pid) or {"pid": pid}
        self.save()

    def kernels(self, notebook: str, pids: list[int]) -> None:
        known = {k["pid"] for k in self.data["kernels"].get(notebook, [])}
        new = [p for p in pids if p not in known]
        if new:
            infos = [i for i in map(process_info, new) if i]
            self.data["kernels"].setdefault(notebook, []).extend(infos)
            self.save()

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def _read_record(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return {}


def remove_stale(reports_dir: Path, keep: Path | None = None) -> list[str]:
    """Kill the processes of dead runs and remove what they left in ``reports_dir``.

    Call it while holding the reports lock (then no other live run can own a temporary
    folder). A folder whose run process still runs is left alone. Returns one line per
    folder removed.
    """
    notes = []
    for pattern in STALE_PATTERNS:
        for path in sorted(Path(reports_dir).glob(pattern)):
            if keep is not None and path == keep:
                continue
            rec = _read_record(path) if path.is_dir() else {}
            if same_process(rec.get("run")) and rec["run"]["pid"] != os.getpid():
                continue
            procs = [*rec.get("workers", {}).values()]
            procs += [k for ks in rec.get("kernels", {}).values() for k in ks]
            alive = [int(p["pid"]) for p in procs if same_process(p)]
            killed = kill_all([v for pid in alive for v in (*descendants(pid), pid)])
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
            if path.name.startswith(".tmp-"):
                pid = (rec.get("run") or {}).get("pid", "unknown")
                notes.append(
                    f"removed {path.name}, left by a run that did not end cleanly (pid {pid})"
                    + (f"; stopped {killed} of its processes" if killed else "")
                )
    return notes
