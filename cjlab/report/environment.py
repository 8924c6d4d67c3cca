"""What a run needs to be reproduced: the software (lock hash, Python, package versions, git
commit) and the seeds of its notebooks — recorded in every manifest and compared by
``cjlab reproduce``.

Examples
--------
>>> seeds({"random_state": 0, "n_boot": 200, "bootstrap_seed": 7})
{'random_state': 0, 'bootstrap_seed': 7}
>>> demo_seed("demo:n_customers=3000,seed=11")
11
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import re
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

#: packages whose versions each manifest records (and ``cjlab reproduce`` compares)
PACKAGES = (
    "cjlab",
    "numpy",
    "pandas",
    "scipy",
    "duckdb",
    "narwhals",
    "scikit-learn",
    "pymc",
    "pymc-marketing",
    "pytensor",
    "papermill",
    "nbconvert",
    "nbclient",
    "seaborn",
    "matplotlib",
    "ipywidgets",
    "pyspark",
    "filelock",
)
#: lock files whose hashes each manifest records, in the project folder
LOCK_FILES = ("uv.lock", "requirements-lock.txt")
_SEED = re.compile(r"^(random_state|seed|random_seed|.+_seed)$")


def package_versions() -> dict[str, str]:
    """Python and the versions of :data:`PACKAGES` that are installed."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[p] = metadata.version(p)
    return out


def git_state(root: Path) -> dict[str, Any]:
    """The commit of ``root`` and whether tracked files differ from it (``None`` without git)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = (
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            != ""
        )
        return {"commit": sha or None, "dirty": dirty if sha else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def file_sha256(path: Path) -> str | None:
    """``sha256:<hex>`` of a file's content, or None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return "sha256:" + h.hexdigest()


def lock_folder(root: Path) -> Path:
    """Where the lock files are: the project folder, else the checkout cjlab is installed from."""
    if (Path(root) / LOCK_FILES[0]).is_file():
        return Path(root)
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / LOCK_FILES[0]).is_file() else Path(root)


def software(root: Path) -> dict[str, Any]:
    """Python, platform and the hashes of the lock files (``lock`` is the hash of uv.lock)."""
    folder = lock_folder(root)
    locks = {name: file_sha256(folder / name) for name in LOCK_FILES}
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "lock": locks["uv.lock"],
        "lock_files": locks,
    }


def seeds(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The seed parameters (``random_state``, ``seed``, ``*_seed``) of one notebook."""
    return {k: v for k, v in parameters.items() if _SEED.match(k)}


def demo_seed(spec: Any) -> int | None:
    """The generator seed of a ``demo:...`` data source spec, else None."""
    if not isinstance(spec, str) or not (spec == "demo" or spec.startswith("demo:")):
        return None
    with contextlib.suppress(Exception):
        from cjlab.data.demo import parse_demo_spec

        return int(parse_demo_spec(spec)["seed"])
    return None


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Lines naming each entry that differs between two flat records (``pandas 2.2 -> 2.3``)."""
    out = []
    for key in sorted(set(recorded) | set(current)):
        a, b = recorded.get(key), current.get(key)
        if a != b:
            out.append(
                f"{key}: {a if a is not None else 'absent'} -> {b if b is not None else 'absent'}"
            )
    return out
