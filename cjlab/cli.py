"""The ``cjlab`` command.

Examples (shell)::

    cjlab run --all --name demo                     # every notebook on the demo data
    cjlab run 01_survey -p min_n=50 --data data/acme/
    cjlab run --params params/runs/quarterly.yaml --jobs 2
    cjlab validate data/acme/                        # exit 1 when the data break the contract
    cjlab params 01_survey                           # what a notebook declares
    cjlab demo data/demo --customers 100000          # write the demo company to Parquet
    cjlab index                                      # rebuild reports/index.html

Exit codes: 0 success; 1 a notebook failed or the data are invalid; 2 bad usage or parameters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _kv(text: str) -> tuple[str, object]:
    from cjlab.report.params import parse_cli_value

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    return k.strip(), parse_cli_value(v)


def _cmd_run(a: argparse.Namespace) -> int:
    from cjlab.data import DataSourceError, DataValidationError
    from cjlab.report.params import ParameterError
    from cjlab.report.runner import run

    if not a.notebooks and not a.all and not a.params:
        print("cjlab run: name notebooks, or use --all or --params RUNFILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        res = run(a.notebooks or None, name=a.name, run_file=a.params, overrides=dict(a.p or []),
                  data_source=a.data, jobs=a.jobs, reports_dir=a.reports_dir,
                  cell_timeout=a.cell_timeout, wall_timeout=a.timeout, progress=not a.no_progress)
    except ParameterError as exc:
        print(f"cjlab run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DataValidationError as exc:
        print(f"cjlab run: the data are invalid; no report was written.\n{exc}", file=sys.stderr)
        return EXIT_FAILED
    except DataSourceError as exc:
        print(f"cjlab run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    lines = [f"run {res.name}: {res.status} -> {res.folder}"]
    for nb in res.notebooks:
        err = f" — {nb.error['type']}: {nb.error['message'].splitlines()[0][:200]}" if nb.error else ""
        lines.append(f"  {nb.notebook}: {nb.status} ({nb.duration_s or 0:.1f} s){err}")
    print("\n".join(lines))
    return res.exit_code


def _cmd_validate(a: argparse.Namespace) -> int:
    from cjlab.data import DataSourceError, open_source

    try:
        src = open_source(a.path)
        report = src.validate(raise_errors=False)
    except DataSourceError as exc:
        print(f"cjlab validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(report.to_json() if a.json else report.format())
    return EXIT_OK if report.ok else EXIT_FAILED


def _cmd_params(a: argparse.Namespace) -> int:
    from cjlab.report.params import declared_parameters
    from cjlab.report.runner import find_notebooks, project_root

    for p in find_notebooks([a.notebook], project_root()):
        for prm in declared_parameters(p).values():
            opt = " | None" if prm.optional and prm.type else ""
            print(f"{prm.name}: {prm.type or 'any'}{opt} = {prm.default!r}" + (f"   # {prm.help}" if prm.help else ""))
    return EXIT_OK


def _cmd_demo(a: argparse.Namespace) -> int:
    from cjlab.data.synth import write_parquet

    truth = write_parquet(a.path, a.customers, a.seed, progress=True)
    print(f"demo company with {truth['n_customers']:,} customers written to {a.path} (truth in truth.json)")
    return EXIT_OK


def _cmd_index(a: argparse.Namespace) -> int:
    from cjlab.report.index import write_index
    from cjlab.report.runner import project_root

    print(write_index(Path(a.reports_dir) if a.reports_dir else project_root() / "reports"))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cjlab", description="customer-journey analytics workbench")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute notebooks into a dated HTML report")
    r.add_argument("notebooks", nargs="*", help="notebook names (e.g. 01_survey or 01) or paths")
    r.add_argument("--all", action="store_true", help="every numbered notebook in notebooks/")
    r.add_argument("--name", help="report folder name (default: run file name or 'adhoc')")
    r.add_argument("--params", metavar="RUNFILE", help="run file (params/runs/NAME.yaml or a path)")
    r.add_argument("-p", action="append", type=_kv, metavar="KEY=VALUE",
                   help="parameter override (YAML value); repeatable")
    r.add_argument("--data", metavar="SOURCE", help="data source for every notebook (demo, folder, .duckdb)")
    r.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default 1)")
    r.add_argument("--reports-dir", help="where dated report folders go (default: reports/)")
    r.add_argument("--cell-timeout", type=float, default=900, help="seconds per cell (default 900)")
    r.add_argument("--timeout", type=float, default=3600, help="seconds per notebook (default 3600)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
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
    i = sub.add_parser("index", help="rebuild reports/index.html")
    i.add_argument("--reports-dir")
    i.set_defaults(func=_cmd_index)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("cjlab: interrupted; nothing was replaced", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

