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


def utf8_problem(path: Path, block: int = 1 << 20) -> tuple[int, int, bytes] | None:
    """Where ``path`` first stops being UTF-8: ``(line, byte offset, a few bytes)``, or ``None``.

    Reads the file as a stream (gzip files decompressed), so it costs one pass over the file.
    """
    import codecs
    import gzip

    opener = gzip.open if str(path).lower().endswith(".gz") else open
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset, lines = 0, 1
    with opener(path, "rb") as fh:
        while True:
            chunk = fh.read(block)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return lines + chunk[: exc.start].count(b"\n"), offset + exc.start, chunk[exc.start: exc.start + 4]
            if not chunk:
                return None
            offset += len(chunk)
            lines += chunk.count(b"\n")


def guess_encoding(sample: bytes) -> str:
    """A likely encoding of text that is not UTF-8 (``utf-16``, ``cp1252`` or ``latin-1``)."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def check_readable(path: Path, what: str = "file") -> None:
    """Refuse what is not a readable regular file, without blocking on it.

    A directory, a symlink loop, a named pipe (FIFO), a device or socket, an unreadable or
    empty file each raise :class:`~cjlab.data.errors.DataSourceError` naming ``path`` and
    saying what to do. Nothing is opened unless the path is a regular file, so a FIFO can
    never block the caller.
    """
    import errno
    import os
    import stat

    from cjlab.data.errors import DataSourceError

    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataSourceError(f"{what}: {path} is a symbolic link that points to itself (a loop); "
                                  "point it at the real file") from None
        raise DataSourceError(f"{what}: {path} cannot be read ({exc.strerror})") from None
    mode = st.st_mode
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    for test, kind in kinds:
        if test(mode):
            raise DataSourceError(f"{what}: {path} is {kind}, not a file; put the table's file "
                                  "there (a .csv or .parquet file)")
    if not stat.S_ISREG(mode):
        raise DataSourceError(f"{what}: {path} is not a regular file")
    if st.st_size == 0:
        raise DataSourceError(f"{what}: {path} is empty (0 bytes); export the table again")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataSourceError(f"{what}: {path} cannot be read ({exc.strerror}); check its "
                              "permissions and the disk") from None
