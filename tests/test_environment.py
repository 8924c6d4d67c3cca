"""The installation is locked: uv.lock pins every package, requirements-lock.txt (for conda and
plain pip) carries exactly the lock's versions, and environment.yml installs from it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, set[str]]:
    data = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for p in data["package"]:
        out.setdefault(p["name"], set()).add(p.get("version", ""))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_locked_package_has_hashes():
    data = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    for p in data["package"]:
        if p["name"] == "cjlab":
            continue
        files = [*p.get("wheels", []), *([p["sdist"]] if "sdist" in p else [])]
        assert files and all(f.get("hash", "").startswith("sha256:") for f in files), p["name"]


def test_requirements_lock_matches_uv_lock():
    lock = _lock()
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    assert len(pins) > 100
    lock_norm = {_norm(k): v for k, v in lock.items()}
    wrong = {k: (v, lock_norm.get(k)) for k, v in pins.items() if v not in lock_norm.get(k, set())}
    assert not wrong, f"requirements-lock.txt differs from uv.lock (run `make lock`): {wrong}"
    for key in ("pymc", "pymc-marketing", "pandas", "duckdb", "papermill", "scikit-learn"):
        assert key in pins, key


def test_environment_yml_installs_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-r requirements-lock.txt" in pip
    assert any(line.endswith("-e .") for line in pip)
    py = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.12" and py == "python=3.12"


GROUPED = '''
import os
import pytest

pytestmark = pytest.mark.xdist_group("one")


@pytest.mark.parametrize("i", range(6))
def test_worker(i):
    with open(os.environ["GROUP_LOG"], "a") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
'''


def test_xdist_groups_keep_their_tests_on_one_worker(tmp_path):
    """The suite relies on ``--dist loadgroup``: a shared demo run per group, runner tests that
    must not run beside each other. pytest 9.2 with pytest-xdist 3.8 silently ignored the groups
    (the pin in pyproject.toml); this fails if a version pair breaks it again."""
    import os
    import subprocess
    import sys

    (tmp_path / "test_grouped.py").write_text(GROUPED)
    log = tmp_path / "workers.txt"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q",
         "-p", "no:cacheprovider", "test_grouped.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "GROUP_LOG": str(log)},
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    workers = log.read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, workers
