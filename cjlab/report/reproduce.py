"""``cjlab reproduce``: run a past report again from its folder and compare every KPI.

The report's ``manifest.json`` holds what is needed: each notebook's resolved parameters, the
data sources with their fingerprints, the thread budget and limits, the package versions, the
lock hash and the git commit. :func:`reproduce`

1. refuses (:class:`DataChangedError`) when a data source's fingerprint differs from the record,
   unless ``allow_changed_data`` (then it says so, in the terminal and in the new manifest);
2. warns when the package versions, the Python version, the lock or the git commit differ;
3. re-runs the notebooks with their recorded parameters into a new dated folder
   ``<name>-reproduce`` (secret parameters, recorded as ``***``, come from the notebook's
   defaults and the environment again);
4. compares every KPI old against new — *identical* (to floating-point rounding,
   :data:`ROUNDING`), *within tolerance* (the Monte-Carlo
   tolerance the KPI records, :attr:`cjlab.results.KPI.tolerance`), *different*, *missing*
   (recorded before, absent now) or *new* — and writes ``reproduce.json`` and
   ``reproduce.txt`` into the new folder.

The exit code is 0 when every KPI is identical or within its tolerance and every notebook
ends as before, 1 otherwise (or when refused for changed data).

Examples
--------
>>> old = [{"notebook": "a", "name": "n", "value": 1.0, "tolerance": 0.1}]
>>> [r["verdict"] for r in compare_kpis(old, [{"notebook": "a", "name": "n", "value": 1.05}])]
['within tolerance']
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjlab.report.checks import MAX_NAME
from cjlab.report.environment import differences, git_state, package_versions, software
from cjlab.report.params import ParameterError
from cjlab.report.secrets import MASK, mask_text

IDENTICAL, WITHIN, DIFFERENT, MISSING, NEW = (
    "identical",
    "within tolerance",
    "different",
    "missing",
    "new",
)
FAILING = (DIFFERENT, MISSING)
SUFFIX = "-reproduce"


class ReproduceError(ValueError):
    """The folder is no cjlab report, or its record cannot be used (exit code 2)."""


class DataChangedError(RuntimeError):
    """A data source's fingerprint differs from the record (exit code 1)."""


@dataclass
class Reproduction:
    """The outcome of :func:`reproduce`: the new run, the comparison and the warnings."""

    original: Path
    folder: Path | None
    kpis: list[dict[str, Any]]
    notebooks: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    data_changed: list[str] = field(default_factory=list)
    run: Any = None  # the RunResult of the new run

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys((IDENTICAL, WITHIN, DIFFERENT, MISSING, NEW), 0)
        for r in self.kpis:
            out[r["verdict"]] += 1
        return out

    @property
    def ok(self) -> bool:
        return not any(r["verdict"] in FAILING for r in self.kpis) and all(
            n["same"] for n in self.notebooks
        )

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": str(self.original),
            "folder": str(self.folder) if self.folder else None,
            "ok": self.ok,
            "counts": self.counts,
            "warnings": self.warnings,
            "data_changed": self.data_changed,
            "notebooks": self.notebooks,
            "kpis": self.kpis,
        }

    def text(self) -> str:
        """The readable comparison (``reproduce.txt`` and the terminal)."""
        c = self.counts
        verdict = "REPRODUCED" if self.ok else "NOT REPRODUCED"
        lines = [
            f"cjlab reproduce: {verdict} — {c[IDENTICAL]} KPIs identical, {c[WITHIN]} within "
            f"their tolerance, {c[DIFFERENT]} different, {c[MISSING]} missing, {c[NEW]} new",
            f"original: {self.original}",
            f"new run:  {self.folder}",
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        if self.data_changed:
            lines.append("the data changed since the report (reproduced anyway, as asked):")
            lines += [f"  {d}" for d in self.data_changed]
        for n in self.notebooks:
            mark = "" if n["same"] else "   <-- differs"
            lines.append(f"  {n['notebook']}: {n['old']} -> {n['new']}{mark}")
        for r in self.kpis:
            lines.append("  " + _kpi_line(r))
        return "\n".join(lines)


def _kpi_line(r: Mapping[str, Any]) -> str:
    label = f"{r['notebook']}: {r.get('label') or r['name']}" + (
        f" [{r['group']}]" if r.get("group") else ""
    )
    tol = f", tolerance {r['tolerance']:g}" if isinstance(r.get("tolerance"), int | float) else ""
    if r["verdict"] == IDENTICAL:
        return f"{label}: {_v(r['old'])} (identical)"
    if r["verdict"] == MISSING:
        return f"{label}: {_v(r['old'])} -> (missing)   <-- differs"
    if r["verdict"] == NEW:
        return f"{label}: (new) -> {_v(r['new'])}"
    flag = "" if r["verdict"] == WITHIN else "   <-- differs"
    diff = f", diff {r['diff']:+.6g}" if isinstance(r.get("diff"), int | float) else ""
    return f"{label}: {_v(r['old'])} -> {_v(r['new'])} ({r['verdict']}{diff}{tol}){flag}"


def _v(v: Any) -> str:
    return f"{v:.10g}" if isinstance(v, float) else str(v)


# -- comparing KPI records ---------------------------------------------------------------------
def _key(rec: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(rec.get("notebook")), str(rec.get("name")), str(rec.get("group") or ""))


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return None if math.isnan(float(v)) else float(v)


#: figures that agree to this relative precision are identical: parallel sums (BLAS, OpenMP in
#: scikit-learn's gradient boosting) may add in another order and move the last bits of a float
ROUNDING = 1e-9


def _same(a: Any, b: Any) -> bool:
    """Equal, or equal numbers up to floating-point rounding (:data:`ROUNDING`).

    Examples
    --------
    >>> _same(0.05327551957, 0.05327551957 + 1.4e-17), _same(1.0, 1.0001), _same("a", "a")
    (True, False, True)
    """
    if a == b:
        return True
    x, y = _number(a), _number(b)
    return x is not None and y is not None and math.isclose(x, y, rel_tol=ROUNDING, abs_tol=1e-300)


def _verdict(old: Mapping[str, Any], new: Mapping[str, Any], tol: float | None) -> tuple[str, Any]:
    fields = ("value", "low", "high")
    if all(_same(old.get(f), new.get(f)) for f in fields):
        return IDENTICAL, 0.0 if _number(old.get("value")) is not None else None
    diffs = []
    for f in fields:
        a, b = _number(old.get(f)), _number(new.get(f))
        if _same(old.get(f), new.get(f)):
            continue
        if a is None or b is None:
            return DIFFERENT, None
        diffs.append(abs(b - a))
    diff = None
    a, b = _number(old.get("value")), _number(new.get("value"))
    if a is not None and b is not None:
        diff = b - a
    if tol is not None and all(d <= tol for d in diffs):
        return WITHIN, diff
    return DIFFERENT, diff


def compare_kpis(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> list[dict]:
    """Every KPI of ``old`` against ``new``, matched on notebook, name and group.

    A KPI recorded twice under the same key is matched by order of appearance. The tolerance is
    the old record's ``tolerance`` (else the new one's); without one a figure must repeat
    exactly (value and interval).
    """

    def indexed(records):
        seen: dict[tuple, int] = {}
        out = {}
        for r in records:
            k = _key(r)
            seen[k] = seen.get(k, 0) + 1
            out[(*k, seen[k])] = r
        return out

    a, b = indexed(old), indexed(new)
    rows = []
    for k in [*a, *(k for k in b if k not in a)]:
        ra, rb = a.get(k), b.get(k)
        rec = ra or rb
        tol = _number((ra or {}).get("tolerance"))
        tol = tol if tol is not None else _number((rb or {}).get("tolerance"))
        if ra is None:
            verdict, diff = NEW, None
        elif rb is None:
            verdict, diff = MISSING, None
        else:
            verdict, diff = _verdict(ra, rb, tol)
        rows.append(
            {
                "notebook": k[0],
                "name": k[1],
                "group": k[2],
                "label": rec.get("label"),
                "unit": rec.get("unit"),
                "old": (ra or {}).get("value"),
                "new": (rb or {}).get("value"),
                "old_interval": [(ra or {}).get("low"), (ra or {}).get("high")],
                "new_interval": [(rb or {}).get("low"), (rb or {}).get("high")],
                "tolerance": tol,
                "diff": diff,
                "verdict": verdict,
            }
        )
    return rows


# -- reading the record ------------------------------------------------------------------------
def report_folder(given: str | Path, reports_dir: Path) -> Path:
    """A report folder given as a path or as ``YYYY-MM-DD/name`` under ``reports_dir``."""
    for p in (Path(given), reports_dir / str(given)):
        if (p / "manifest.json").is_file():
            return p.resolve()
    raise ReproduceError(
        f"{given} is not a report folder (no manifest.json there or under {reports_dir}); "
        "give the folder of a report, e.g. reports/2026-11-01/quarterly"
    )


def load_record(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The manifest and KPI records of a report folder."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8")).get("kpis", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise ReproduceError(f"{folder}: the report's records cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or "notebooks" not in manifest:
        raise ReproduceError(f"{folder}: manifest.json is not a cjlab run record")
    return manifest, kpis


def software_warnings(manifest: Mapping[str, Any], root: Path) -> list[str]:
    """What differs from the software that made the report (each a warning, not a refusal)."""
    out = []
    changed = differences(manifest.get("versions") or {}, package_versions())
    if changed:
        out.append("package versions differ from the report's: " + "; ".join(changed))
    rec, now = manifest.get("software") or {}, software(root)
    if rec.get("lock") and rec.get("lock") != now["lock"]:
        out.append(
            f"uv.lock differs from the report's (recorded {rec['lock'][:19]}…, now {str(now['lock'])[:19]}…)"
        )
    elif not rec.get("lock"):
        out.append("the report records no lock hash (made before cjlab recorded it)")
    git, here = manifest.get("git") or {}, git_state(root)
    if git.get("commit") and git.get("commit") != here.get("commit"):
        out.append(f"git commit {here.get('commit')} differs from the report's {git['commit']}")
    if git.get("dirty"):
        out.append("the report was made from a tree with uncommitted changes")
    return out


def _data_specs(manifest: Mapping[str, Any], data: str | None) -> dict[str, str]:
    """notebook -> the data source to use (``data`` replaces every recorded one)."""
    out = {}
    for nb in manifest["notebooks"]:
        spec = (nb.get("parameters") or {}).get("data_source")
        if spec is None:
            continue
        if data is None and isinstance(spec, str) and MASK in spec:
            raise ReproduceError(
                f"{nb['notebook']}: the recorded data source {spec} has a masked password; give "
                "the source with --data (its password from the environment)"
            )
        out[nb["notebook"]] = data if data is not None else spec
    return out


def data_changes(manifest: Mapping[str, Any], specs: Mapping[str, str]) -> list[str]:
    """One line per data source whose fingerprint differs from the record."""
    from cjlab.data import open_source

    recorded = manifest.get("data_sources") or {}
    old_specs = {
        nb["notebook"]: (nb.get("parameters") or {}).get("data_source")
        for nb in manifest["notebooks"]
    }
    out, seen = [], {}
    for nb, spec in specs.items():
        before = (recorded.get(old_specs.get(nb)) or {}).get("fingerprint")
        if spec not in seen:
            seen[spec] = open_source(spec).fingerprint()
        if before != seen[spec]:
            out.append(
                f"{mask_text(spec)}: fingerprint {before or 'not recorded'} in the report, "
                f"{seen[spec]} now"
            )
    return list(dict.fromkeys(out))


def _rerun_parameters(manifest: Mapping[str, Any], specs: Mapping[str, str]) -> dict[str, dict]:
    out = {}
    for nb in manifest["notebooks"]:
        secret = set(nb.get("secret_parameters") or [])
        params = {
            k: v
            for k, v in (nb.get("parameters") or {}).items()
            if k not in secret and not (isinstance(v, str) and v == MASK)
        }
        if nb["notebook"] in specs:
            params["data_source"] = specs[nb["notebook"]]
        out[nb["notebook"]] = params
    return out


def _notebooks(manifest: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    now = {n["notebook"]: n["status"] for n in new.get("notebooks", [])}
    return [
        {
            "notebook": n["notebook"],
            "old": n["status"],
            "new": now.get(n["notebook"], "not run"),
            "same": n["status"] == now.get(n["notebook"]),
        }
        for n in manifest["notebooks"]
    ]


def _write(folder: Path, rep: Reproduction) -> None:
    from cjlab.report.runner import write_json

    write_json(folder / "reproduce.json", rep.to_dict())
    tmp = folder / ".reproduce.txt.tmp"
    tmp.write_text(rep.text() + "\n", encoding="utf-8")
    tmp.replace(folder / "reproduce.txt")


def reproduce(
    folder: str | Path,
    *,
    allow_changed_data: bool = False,
    data: str | None = None,
    reports_dir: str | Path | None = None,
    root: str | Path | None = None,
    progress: bool = True,
    lock_wait: float = 0.0,
    today: Any = None,
) -> Reproduction:
    """Re-run the report in ``folder`` and compare its KPIs (see the module docstring).

    Raises
    ------
    ReproduceError : ``folder`` is no report, or its data source must be given (``data``).
    DataChangedError : a data fingerprint differs and ``allow_changed_data`` is off.
    ParameterError : a recorded parameter no longer fits the notebook (it changed since).
    """
    from cjlab.report.plan import RunOptions

    options = RunOptions(root=root, reports_dir=reports_dir)
    original = report_folder(folder, options.reports())
    manifest, old_kpis = load_record(original)
    warnings = software_warnings(manifest, options.project())
    specs = _data_specs(manifest, data)
    changed = data_changes(manifest, specs)
    if changed and not allow_changed_data:
        raise DataChangedError(
            "the data changed since the report, so its figures cannot be reproduced:\n  "
            + "\n  ".join(changed)
            + "\nrun with --allow-changed-data to re-run it on the data as they are now"
        )
    for line in warnings:
        print(f"cjlab reproduce: warning: {line}", file=sys.stderr)
    if changed:
        print(
            "cjlab reproduce: the data changed since the report; re-running on the changed data "
            "as --allow-changed-data asks:\n  " + "\n  ".join(changed),
            file=sys.stderr,
        )
    record = {
        "reproduces": {
            "folder": str(original),
            "name": manifest.get("name"),
            "date": manifest.get("date"),
            "allow_changed_data": bool(allow_changed_data),
            "data_changed": changed,
            "warnings": warnings,
        }
    }
    res = _run_again(
        manifest,
        original,
        _rerun_parameters(manifest, specs),
        record,
        reports_dir=reports_dir,
        root=root,
        progress=progress,
        lock_wait=lock_wait,
        today=today,
    )
    new_kpis = json.loads((res.folder / "kpis.json").read_text(encoding="utf-8")).get("kpis", [])
    rep = Reproduction(
        original,
        res.folder,
        compare_kpis(old_kpis, new_kpis),
        _notebooks(manifest, res.manifest),
        warnings,
        changed,
        res,
    )
    _write(res.folder, rep)
    return rep


def _run_again(
    manifest: Mapping[str, Any],
    original: Path,
    parameters: Mapping[str, Mapping[str, Any]],
    record: Mapping[str, Any],
    **options: Any,
) -> Any:
    """The new run: the recorded notebooks, parameters, threads and limits, a ``-reproduce`` name."""
    from cjlab.report.plan import RunOptions
    from cjlab.report.runner import run

    threads, limits = manifest.get("threads") or {}, manifest.get("limits") or {}
    name = str(manifest.get("name") or original.name)[: MAX_NAME - len(SUFFIX)] + SUFFIX
    try:
        return run(
            options=RunOptions(
                notebooks=[n["notebook"] for n in manifest["notebooks"]],
                name=name,
                notebook_params=parameters,
                jobs=int(limits.get("jobs") or 1),
                threads=threads.get("per_notebook"),
                cell_timeout=float(limits.get("cell_timeout_s") or 900),
                wall_timeout=float(limits.get("wall_timeout_s") or 3600),
                record=record,
                **options,
            )
        )
    except ParameterError as exc:
        raise ParameterError(
            [*exc.problems, "the notebooks changed since the report: its parameters no longer fit"]
        ) from None
