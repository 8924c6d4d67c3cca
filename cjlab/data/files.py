"""Files of a folder source: which file holds a table, how DuckDB scans it, its fingerprint.

Examples
--------
>>> from pathlib import Path
>>> scan_sql(Path("orders.parquet"))
"read_parquet('orders.parquet')"
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

#: suffixes a table file may have, in the order they are looked for
TABLE_SUFFIXES: tuple[str, ...] = ("", ".parquet", ".csv", ".csv.gz")


def table_candidates(folder: Path, table: str) -> list[Path]:
    """Paths that may hold ``table`` in ``folder``: ``<table>/``, ``.parquet``, ``.csv``, ``.csv.gz``."""
    return [folder / f"{table}{suffix}" for suffix in TABLE_SUFFIXES]


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def scan_sql(path: Path) -> str | None:
    """DuckDB table function reading a file or a folder of part files (``None``: not a table)."""
    p = str(path)
    if path.is_dir():
        if any(path.rglob("*.parquet")):
            return f"read_parquet({_lit(p + '/**/*.parquet')}, hive_partitioning = true)"
        if any(path.rglob("*.csv")) or any(path.rglob("*.csv.gz")):
            return f"read_csv({_lit(p + '/**/*.csv*')}, header = true, union_by_name = true)"
        return None
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({_lit(p)})"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return f"read_csv({_lit(p)}, header = true)"
    return None


def redact(text: str) -> str:
    """Hide passwords in connection-like strings (``user:secret@host``)."""
    return re.sub(r"(://[^:/@]+):[^@]+@", r"\1:***@", str(text))


def fingerprint_paths(folder: Path, views: Mapping[str, str]) -> str:
    """Hash of the table files in ``folder`` (whole files up to 64 MB, else head, tail and size)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = f.relative_to(folder).as_posix()
        if rel.split("/")[0].split(".")[0] not in views:
            continue
        h.update(rel.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with f.open("rb") as fh:
            if size <= 64 << 20:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            else:  # large files: head, tail and size
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    return "sha256:" + h.hexdigest()[:16]


def fingerprint_file(path: Path) -> str:
    """Hash of one file's content."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()[:16]


def fingerprint_tables(con, views: Mapping[str, str]) -> str:
    """Hash of the rows of tables visible to a DuckDB connection."""
    h = hashlib.sha256()
    for t, v in sorted(views.items()):
        q = '"' + v.replace('"', '""') + '"'
        cnt, digest = con.execute(f"SELECT count(*), sum(hash(t)) FROM {q} t").fetchone()
        h.update(f"{t}:{cnt}:{digest}".encode())
    return "sha256:" + h.hexdigest()[:16]


__all__ = ["fingerprint_file", "fingerprint_paths", "fingerprint_tables", "redact",
           "scan_sql", "table_candidates"]
