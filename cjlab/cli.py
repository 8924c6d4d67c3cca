"""The ``cjlab`` command.

Examples (shell)::

    cjlab run --all --name demo                     # every notebook on the demo data
    cjlab run 01_survey -p min_n=50 --data data/acme/
    cjlab run --params params/runs/quarterly.yaml --jobs 2   # 2 at once, cores // 2 threads each
    cjlab run --all --threads 2                     # OpenMP/BLAS threads per notebook
    cjlab validate data/acme/                        # exit 1 when the data break the contract
    cjlab params 01_survey                           # what a notebook declares
    cjlab demo data/demo --customers 100000          # write the demo company to Parquet
    cjlab import params/mappings/online_retail.yaml --out data/retail   # raw export -> contract
    cjlab index                                      # rebuild reports/index.html

    cjlab compare 2026-08-01/quarterly 2026-11-01/quarterly   # KPI differences between two runs
    cjlab reproduce reports/2026-11-01/quarterly     # re-run a past report, compare every KPI

Exit codes: 0 success (every notebook completed or was not applicable to the data; a
reproduction gave the same KPIs); 1 a notebook failed, the data are invalid or unreadable, the
report could not be written (disk full), or a reproduction differs or was refused because the
data changed; 2 bad usage, parameters or options (also a reports folder that is a file, a
system folder or read-only); 3 another run holds the lock of the reports folder; 130 Ctrl-C,
143 SIGTERM (129 SIGHUP): every notebook stopped, nothing replaced.

No Python traceback reaches the terminal for an input error: the message says what to do, and
the full detail goes to ``cjlab.log`` in the reports folder (``CJLAB_DEBUG=1`` shows
tracebacks).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
LOG_NAME = "cjlab.log"


def _kv(text: str) -> tuple[str, object]:
    from cjlab.report.params import parse_cli_value

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    return k.strip(), parse_cli_value(v)


def _reports_dir(a: argparse.Namespace) -> Path:
    from cjlab.report.plan import project_root

    given = getattr(a, "reports_dir", None)
    return Path(given) if given else project_root() / "reports"


def _log(a: argparse.Namespace | None, exc: BaseException) -> Path | None:
    """Append the full detail of ``exc`` to ``cjlab.log`` in the reports folder (masked).

    Returns the log's path, or None when no log could be written (the message still says
    what happened).
    """
    from cjlab.report.secrets import mask_text

    text = "".join(traceback.format_exception(exc))
    entry = f"--- {dt.datetime.now().isoformat(timespec='seconds')} {' '.join(sys.argv)}\n{text}"
    try:
        folder = _reports_dir(a) if a is not None else None
    except Exception:
        folder = None
    cache = Path(os.environ.get("CJLAB_CACHE") or Path.home() / ".cache" / "cjlab")
    for where in (folder, cache):
        if where is None:
            continue
        try:
            if not where.is_dir():
                if where is folder:
                    continue  # never create a reports folder just for the log
                where.mkdir(parents=True, exist_ok=True)
            log = where / LOG_NAME
            with log.open("a", encoding="utf-8") as fh:
                fh.write(mask_text(entry))
            return log
        except OSError:
            continue
    return None


def _failure(exc: Exception, a: argparse.Namespace | None, lead: str) -> tuple[int, str]:
    """The exit code and the one message for an error (its detail goes to the log)."""
    from cjlab.data import DataSourceError, DataValidationError
    from cjlab.report.params import ParameterError
    from cjlab.report.reproduce import DataChangedError, ReproduceError
    from cjlab.report.runner import ReportWriteError, RunLockedError
    from cjlab.report.secrets import mask_text

    known = (
        (ParameterError, EXIT_USAGE, ""),
        (ReproduceError, EXIT_USAGE, ""),
        (RunLockedError, EXIT_LOCKED, ""),
        (DataValidationError, EXIT_FAILED, "the data are invalid; no report was written.\n"),
        (DataChangedError, EXIT_FAILED, "REFUSED — "),
        (DataSourceError, EXIT_FAILED, ""),
        (ReportWriteError, EXIT_FAILED, ""),
    )
    log = _log(a, exc)
    for cls, code, prefix in known:
        if isinstance(exc, cls):
            return code, f"{lead}{prefix}{mask_text(str(exc))}"
    where = f"; the full detail is in {log}" if log else ""
    if isinstance(exc, OSError):
        name = f" ({exc.filename})" if exc.filename else ""
        return EXIT_FAILED, f"{lead}{mask_text(exc.strerror or str(exc))}{mask_text(name)}{where}"
    first = mask_text(str(exc).strip().splitlines()[0][:300]) if str(exc).strip() else ""
    return EXIT_FAILED, f"{lead}internal error ({type(exc).__name__}: {first}){where}"


def _notify(target: str | None, text: str) -> None:
    """Write the run summary for a mail/chat step (``-`` = standard output).

    A summary that cannot be written (``/dev/full``, a missing disk) is a warning on stderr:
    the report itself is complete, so the exit code stays that of the run.
    """
    if not target:
        return
    if target == "-":
        print(text)
        return
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        print(
            f"cjlab run: warning: the summary could not be written to {target} "
            f"({exc.strerror or exc}); the run's result is unaffected",
            file=sys.stderr,
        )


def _summary(res) -> str:
    """The terminal summary and ``--notify`` text of a run: every notebook's status, then
    every notebook's top headline and headline figures (see :mod:`cjlab.report.summary`)."""
    from cjlab.report.summary import run_summary

    return run_summary(res)


def run_options(a: argparse.Namespace):
    """The :class:`~cjlab.report.plan.RunOptions` of a parsed ``cjlab run`` command line."""
    from cjlab.report.plan import RunOptions

    return RunOptions(
        notebooks=a.notebooks or None,
        name=a.name,
        run_file=a.params,
        overrides=dict(a.p or []),
        data_source=a.data,
        jobs=a.jobs,
        threads=a.threads,
        reports_dir=a.reports_dir,
        cell_timeout=a.cell_timeout,
        wall_timeout=a.timeout,
        progress=not a.no_progress,
        lock_wait=a.wait,
    )


def _cmd_run(a: argparse.Namespace) -> int:
    from cjlab.report.runner import run
    from cjlab.report.secrets import mask_text

    if not a.notebooks and not a.all and not a.params:
        print("cjlab run: name notebooks, or use --all or --params RUNFILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        res = run(options=run_options(a))
    except KeyboardInterrupt as exc:
        _notify(a.notify, f"cjlab run: NOT RUN — {exc or 'interrupted'}; nothing was replaced")
        raise
    except Exception as exc:
        code, text = _failure(exc, a, "cjlab run: NOT RUN — ")
        print(text, file=sys.stderr)
        _notify(a.notify, text)
        return code
    text = mask_text(_summary(res))
    print(text)
    for w in res.warnings:
        print(f"cjlab run: warning: {w}", file=sys.stderr)
    _notify(a.notify, text)
    return res.exit_code


def _cmd_reproduce(a: argparse.Namespace) -> int:
    from cjlab.report.reproduce import reproduce

    try:
        rep = reproduce(
            a.folder,
            allow_changed_data=a.allow_changed_data,
            data=a.data,
            reports_dir=a.reports_dir,
            progress=not a.no_progress,
            lock_wait=a.wait,
        )
    except Exception as exc:
        code, text = _failure(exc, a, "cjlab reproduce: ")
        print(text, file=sys.stderr)
        return code
    print(rep.text())
    print(f"comparison: {rep.folder / 'reproduce.txt'} (and reproduce.json)")
    return rep.exit_code


def _cmd_compare(a: argparse.Namespace) -> int:
    from cjlab.report.plan import project_root
    from cjlab.report.records import compare, format_compare, run_folder

    reports = Path(a.reports_dir) if a.reports_dir else project_root() / "reports"
    try:
        fa, fb = run_folder(reports, a.run_a), run_folder(reports, a.run_b)
    except FileNotFoundError as exc:
        print(f"cjlab compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    df = compare(fa, fb)
    if a.csv:
        print(df.to_csv(index=False), end="")
    else:
        print(format_compare(df, a.run_a, a.run_b))
    return EXIT_OK


def _cmd_validate(a: argparse.Namespace) -> int:
    from cjlab.data import open_source
    from cjlab.report.checks import demo_spec_problem

    if msg := demo_spec_problem(a.path):
        print(f"cjlab validate: {msg}", file=sys.stderr)
        return EXIT_USAGE
    try:
        src = open_source(a.path)
        report = src.validate(raise_errors=False)
    except Exception as exc:
        code, text = _failure(exc, a, "cjlab validate: ")
        print(text, file=sys.stderr)
        return code
    print(report.to_json() if a.json else report.format())
    return EXIT_OK if report.ok else EXIT_FAILED


def _cmd_params(a: argparse.Namespace) -> int:
    from cjlab.report.params import declared_parameters
    from cjlab.report.plan import find_notebooks, project_root

    for p in find_notebooks([a.notebook], project_root()):
        for prm in declared_parameters(p).values():
            opt = " | None" if prm.optional and prm.type else ""
            extra = [prm.allowed()] if prm.allowed() else []
            extra += ["secret: masked in every record"] if prm.secret else []
            print(
                f"{prm.name}: {prm.type or 'any'}{opt} = {'***' if prm.secret else repr(prm.default)}"
                + (f"   # {prm.help}" if prm.help else "")
                + (f" ({'; '.join(extra)})" if extra else "")
            )
    return EXIT_OK


def _cmd_demo(a: argparse.Namespace) -> int:
    from cjlab.data.synth import write_parquet

    truth = write_parquet(a.path, a.customers, a.seed, progress=True)
    print(
        f"demo company with {truth['n_customers']:,} customers written to {a.path} (truth in truth.json)"
    )
    return EXIT_OK


def _cmd_index(a: argparse.Namespace) -> int:
    from cjlab.report.checks import check_reports_dir
    from cjlab.report.plan import project_root
    from cjlab.report.portal import write_index
    from cjlab.report.runner import RunLockedError, run_lock

    reports = Path(a.reports_dir) if a.reports_dir else project_root() / "reports"
    try:
        check_reports_dir(reports)
        with run_lock(reports, a.wait):
            print(write_index(reports))
    except RunLockedError as exc:
        print(f"cjlab index: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    return EXIT_OK


def _add_run(sub) -> None:
    """The ``run`` sub-command and its options."""
    r = sub.add_parser("run", help="execute notebooks into a dated HTML report")
    r.add_argument("notebooks", nargs="*", help="notebook names (e.g. 01_survey or 01) or paths")
    r.add_argument("--all", action="store_true", help="every numbered notebook in notebooks/")
    r.add_argument("--name", help="report folder name (default: run file name or 'adhoc')")
    r.add_argument("--params", metavar="RUNFILE", help="run file (params/runs/NAME.yaml or a path)")
    r.add_argument(
        "-p",
        action="append",
        type=_kv,
        metavar="KEY=VALUE",
        help="parameter override (YAML value); repeatable",
    )
    r.add_argument(
        "--data",
        metavar="SOURCE",
        help="data source for every notebook (demo, demo:n_customers=N,seed=S, a folder, a .duckdb file, spark:FOLDER)",
    )
    r.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default 1)")
    r.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="OpenMP/BLAS threads per notebook (default: $CJLAB_THREADS, else "
        "$OMP_NUM_THREADS, else cores // jobs)",
    )
    r.add_argument("--reports-dir", help="where dated report folders go (default: reports/)")
    r.add_argument("--cell-timeout", type=float, default=900, help="seconds per cell (default 900)")
    r.add_argument(
        "--timeout", type=float, default=3600, help="seconds per notebook (default 3600)"
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to wait when another run holds the reports lock (default: fail at once)",
    )
    r.add_argument(
        "--notify",
        metavar="FILE",
        help="write a short summary (status, failures, headline figures) to FILE, or - for stdout",
    )
    r.set_defaults(func=_cmd_run)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cjlab", description="customer-journey analytics workbench")
    sub = ap.add_subparsers(dest="command", required=True)
    _add_run(sub)
    c = sub.add_parser("compare", help="KPI differences between two runs")
    c.add_argument("run_a", help="YYYY-MM-DD/name, a run folder, or a run name (newest)")
    c.add_argument("run_b")
    c.add_argument("--reports-dir")
    c.add_argument("--csv", action="store_true", help="CSV output")
    c.set_defaults(func=_cmd_compare)
    v = sub.add_parser("validate", help="check data against the contract")
    v.add_argument("path", help="demo, a folder of CSV/Parquet files or a .duckdb file")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(func=_cmd_validate)
    p = sub.add_parser("params", help="show a notebook's parameters")
    p.add_argument("notebook")
    p.set_defaults(func=_cmd_params)
    d = sub.add_parser("demo", help="write the demo company to a Parquet folder")
    d.add_argument("path")
    d.add_argument("--customers", type=int, default=20_000)
    d.add_argument("--seed", type=int, default=42)
    d.set_defaults(func=_cmd_demo)
    m = sub.add_parser("import", help="bring a raw export into the contract through a YAML mapping")
    _add_import_arguments(m)
    m.set_defaults(func=_cmd_import)
    i = sub.add_parser("index", help="rebuild reports/index.html")
    i.add_argument("--reports-dir")
    i.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait while a run holds the reports lock (default 60)",
    )
    i.set_defaults(func=_cmd_index)
    _add_reproduce(sub)
    return ap


def _add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``cjlab import`` options (defined here so that building the parser imports no
    data library: ``cjlab run`` starts its workers before pandas and DuckDB load)."""
    parser.add_argument(
        "mapping", help="the YAML mapping (params/mappings/NAME.yaml, NAME, or a path)"
    )
    parser.add_argument("--out", required=True, help="contract folder to write (Parquet per table)")
    parser.add_argument(
        "--input",
        action="append",
        metavar="PATH|NAME=PATH",
        help="the raw file (overrides the mapping's path); NAME=PATH for a mapping "
        "with several inputs; repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _cmd_import(a: argparse.Namespace) -> int:
    from cjlab.data import mapping

    return mapping.command(a)


def _add_reproduce(sub) -> None:
    """The ``reproduce`` sub-command and its options."""
    r = sub.add_parser(
        "reproduce",
        help="re-run a past report with its recorded parameters and data; compare every KPI",
    )
    r.add_argument("folder", help="the report folder (reports/YYYY-MM-DD/name or YYYY-MM-DD/name)")
    r.add_argument(
        "--allow-changed-data",
        action="store_true",
        help="re-run even when the data fingerprint differs from the record (says so)",
    )
    r.add_argument("--data", metavar="SOURCE", help="the data source (when the recorded one moved)")
    r.add_argument("--reports-dir", help="where the new report folder goes (default: reports/)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the reports lock")
    r.set_defaults(func=_cmd_reproduce)


def main(argv: list[str] | None = None) -> int:
    from cjlab.report.cleanup import Terminated, signals_as_interrupt
    from cjlab.report.execute import quiet_imports

    quiet_imports()  # keep a 2 s optional import of jsonschema out of this process
    args = build_parser().parse_args(argv)
    try:
        with signals_as_interrupt():
            return args.func(args)
    except Terminated as exc:
        print(f"cjlab: {exc}; every notebook was stopped and nothing was replaced", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cjlab: interrupted; nothing was replaced", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("CJLAB_DEBUG"):
            raise
        code, text = _failure(exc, args, f"cjlab {args.command}: ")
        print(text, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
