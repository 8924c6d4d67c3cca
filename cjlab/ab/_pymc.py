"""What the PyMC models of :mod:`cjlab.ab` share: configuration in PyMC-Marketing's style,
a compile cache that outlives the process, quiet sampling, Monte Carlo standard errors.

Like PyMC-Marketing's model builders, each model takes a ``model_config`` (its priors, merged
over :attr:`default_model_config`) and a ``sampler_config`` (keyword arguments of
``pymc.sample``, merged over :attr:`default_sampler_config`); the seed is ``random_state``
(it becomes the sampler's ``random_seed``) and the interval mass ``level``.

PyMC is imported through :func:`import_pymc`, which first points PyTensor's compile cache
(its C modules, its Numba cache and the generated source files) at
``$CJLAB_COMPILE_CACHE`` or ``<cache_dir()>/pytensor`` (:func:`cjlab.data.demo.cache_dir`:
``$CJLAB_CACHE`` or ``~/.cache/cjlab``), so a second run, in a new kernel, loads the compiled
model instead of compiling it again (measured in ``benchmarks/sampling.py``).

Examples
--------
>>> from cjlab.ab._pymc import compile_cache_flags
>>> compile_cache_flags("/tmp/c", "")
'base_compiledir=/tmp/c,generated_src_dir=/tmp/c/src'
>>> compile_cache_flags("/tmp/c", "floatX=float32,base_compiledir=/x")  # the user's choice wins
'floatX=float32,base_compiledir=/x'
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

#: environment variable naming the compile cache (default: ``<cache_dir()>/pytensor``)
COMPILE_CACHE_ENV = "CJLAB_COMPILE_CACHE"


def compile_cache_dir() -> Path:
    """Where compiled PyTensor models are kept: ``$CJLAB_COMPILE_CACHE`` or
    ``<cache_dir()>/pytensor``."""
    from cjlab.data.demo import cache_dir

    return Path(os.environ.get(COMPILE_CACHE_ENV) or cache_dir() / "pytensor")


def compile_cache_flags(folder: str | Path, flags: str) -> str:
    """``PYTENSOR_FLAGS`` with the compile cache under ``folder``, unless ``flags`` already
    choose a compile directory (then they are returned unchanged)."""
    if any(k in flags for k in ("base_compiledir", "compiledir=", "generated_src_dir")):
        return flags
    folder = Path(folder)
    ours = f"base_compiledir={folder},generated_src_dir={folder / 'src'}"
    return f"{flags},{ours}" if flags else ours


def import_pymc():
    """``import pymc`` with PyTensor's compile cache in the project cache folder.

    PyTensor reads its compile directory once, when it is first imported; if it was imported
    before (by the caller), its own setting stays.
    """
    if "pytensor" not in sys.modules:
        folder = compile_cache_dir()
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            os.environ["PYTENSOR_FLAGS"] = compile_cache_flags(
                folder, os.environ.get("PYTENSOR_FLAGS", "")
            )
    with warnings.catch_warnings():  # generated_src_dir is new in PyTensor 3.3
        warnings.filterwarnings("ignore", "PyTensor does not recognise this flag")
        import pymc

    return pymc


#: Sampler settings every model starts from (small: A/B posteriors are simple).
DEFAULT_SAMPLER_CONFIG: dict[str, Any] = {
    "draws": 500,
    "tune": 500,
    "chains": 2,
    "cores": 1,
    "progressbar": False,
    "nuts_sampler": "pymc",
    "compute_convergence_checks": False,
}


class PyMCModel:
    """Base: ``model_config`` / ``sampler_config`` dictionaries, ``level``, ``random_state``."""

    #: the model's own priors (subclasses override)
    default_model_config: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        model_config: Mapping[str, Any] | None = None,
        sampler_config: Mapping[str, Any] | None = None,
        level: float = 0.95,
        random_state: int | None = 0,
    ) -> None:
        unknown = set(model_config or {}) - set(self.default_model_config)
        if unknown:
            raise ValueError(
                f"unknown model_config key(s) {sorted(unknown)}; "
                f"{type(self).__name__} knows {sorted(self.default_model_config)}"
            )
        self.model_config = {**self.default_model_config, **(model_config or {})}
        self.sampler_config = {**self.default_sampler_config, **(sampler_config or {})}
        self.level, self.random_state = level, random_state

    @property
    def default_sampler_config(self) -> dict[str, Any]:
        return dict(DEFAULT_SAMPLER_CONFIG)

    def _sample(self, **extra: Any):
        """``pymc.sample`` inside the current model context with the merged configuration."""
        pm = import_pymc()
        kw = {**self.sampler_config, **extra}
        kw.setdefault("random_seed", self.random_state)
        with quiet_pymc():
            return pm.sample(**kw)

    @property
    def _chains(self) -> int:
        return int(self.sampler_config.get("chains", 1))


def mcse(x: np.ndarray, chains: int = 1, batches: int = 10) -> float:
    """Monte Carlo standard error of the mean of MCMC draws by batch means.

    ``x`` is the flattened (chain-major) draw vector; each chain is cut into ``batches``
    consecutive batches whose means are treated as independent.
    """
    x = np.asarray(x, dtype=float).reshape(chains, -1)
    n = x.shape[1] // batches
    if n < 1:
        return float(np.std(x) / np.sqrt(x.size))
    means = x[:, : n * batches].reshape(chains, batches, n).mean(axis=2).ravel()
    return float(np.std(means, ddof=1) / np.sqrt(len(means)))


@contextlib.contextmanager
def quiet_pymc() -> Iterator[None]:
    """Keep PyMC's sampler chatter ("NUTS[...]", "Sampling ...") out of reports."""
    loggers = [logging.getLogger(n) for n in ("pymc", "pymc.sampling", "pymc.sampling.mcmc")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, old):
            lg.setLevel(lvl)
