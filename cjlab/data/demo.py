"""The demo company on disk: ``demo:...`` specs and the cached Parquet folder.

Examples
--------
>>> parse_demo_spec("demo:n_customers=2000,seed=7")
{'n_customers': 2000, 'seed': 7}
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from cjlab.data.errors import DataSourceError

DEFAULT_DEMO = {"n_customers": 20_000, "seed": 42}
#: the generator needs a few customers per block for its planted effects
MIN_DEMO_CUSTOMERS = 50


def cache_dir() -> Path:
    """Folder for generated demo data (``$CJLAB_CACHE`` or ``~/.cache/cjlab``)."""
    return Path(os.environ.get("CJLAB_CACHE", Path.home() / ".cache" / "cjlab"))


def _generator_version() -> str:
    from cjlab.data import synth

    return hashlib.sha256(Path(synth.__file__).read_bytes()).hexdigest()[:12]


def parse_demo_spec(spec: str) -> dict[str, int]:
    """``"demo:n_customers=2000,seed=7"`` -> ``{"n_customers": 2000, "seed": 7}``.

    Raises
    ------
    DataSourceError : an unknown option, a value that is not a whole number, or fewer than
        :data:`MIN_DEMO_CUSTOMERS` customers.
    """
    opts = dict(DEFAULT_DEMO)
    if ":" in spec:
        for part in filter(None, spec.split(":", 1)[1].split(",")):
            key, _, value = part.partition("=")
            key = key.strip()
            if key not in opts or not value.strip().isdigit():
                raise DataSourceError(
                    f"bad demo spec {spec!r}: use demo:n_customers=<int>,seed=<int> (got {part!r})"
                )
            opts[key] = int(value)
    if opts["n_customers"] < MIN_DEMO_CUSTOMERS:
        raise DataSourceError(
            f"bad demo spec {spec!r}: n_customers must be at least {MIN_DEMO_CUSTOMERS} "
            f"(got {opts['n_customers']})"
        )
    return opts


def demo_folder(n_customers: int = 20_000, seed: int = 42, progress: bool = False) -> Path:
    """Generate (once) and return the cached Parquet folder of the demo company."""
    folder = cache_dir() / "demo" / f"v{_generator_version()}-n{n_customers}-s{seed}"
    if (folder / "truth.json").exists():
        return folder
    from cjlab.data.synth import write_parquet

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        write_parquet(tmp, n_customers, seed, progress=progress)
        try:
            tmp.rename(folder)
        except OSError:  # another process won the race: use its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
