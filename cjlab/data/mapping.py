"""Bringing a raw export into the contract: a declarative YAML mapping, run on DuckDB.

(Being built: see issue 11, item 3.) ``cjlab import MAPPING.yaml --out FOLDER``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``cjlab import`` options."""
    parser.add_argument("mapping", help="the YAML mapping (params/mappings/NAME.yaml or a path)")
    parser.add_argument("--out", required=True, help="contract folder to write (Parquet per table)")


def command(args: argparse.Namespace) -> int:
    """``cjlab import``: run the mapping, write the folder and its validation report."""
    raise NotImplementedError("cjlab import is being built")
