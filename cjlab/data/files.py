"""Files of a folder source: which file holds a table, how DuckDB scans it, its fingerprint.

Examples
--------
>>> from pathlib import Path
>>> scan_sql(Path("orders.parquet"))
"read_parquet('orders.parquet')"
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

#: suffixes a table file may have, in the order they are looked for
TABLE_SUFFIXES: tuple[str, ...] = ("", ".parquet", ".csv", ".csv.gz")


def table_candidates(folder: Path, table: str) -> list[Path]:
    """Paths that may hold ``table`` in ``folder``: ``<table>/``, ``.parquet``, ``.csv``, ``.csv.gz``."""
    return [folder / f"{table}{suffix}" for suffix in TABLE_SUFFIXES]


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


PART_SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")
#: what to say when a table's file has a format cjlab does not read
_EXPORT_HINT = "export the table as CSV (UTF-8) or Parquet, or bring it in with `cjlab import`"


def scan_sql(path: Path, parts: list[Path] | None = None) -> str | None:
    """DuckDB table function reading a file or a folder of part files (``None``: not a table).

    ``parts``: the part files of a folder (checked by :func:`find_table`); without it the
    folder is globbed.
    """
    p = str(path)
    if path.is_dir():
        parquet = [f for f in parts or [] if f.name.lower().endswith(".parquet")]
        csv = [f for f in parts or [] if not f.name.lower().endswith(".parquet")]
        if parts is not None and parquet:
            return f"read_parquet([{', '.join(_lit(str(f)) for f in parquet)}], hive_partitioning = true)"
        if parts is not None and csv:
            return (
                f"read_csv([{', '.join(_lit(str(f)) for f in csv)}], header = true, "
                "union_by_name = true)"
            )
        if parts is None and any(path.rglob("*.parquet")):
            return f"read_parquet({_lit(p + '/**/*.parquet')}, hive_partitioning = true)"
        if parts is None and (any(path.rglob("*.csv")) or any(path.rglob("*.csv.gz"))):
            return f"read_csv({_lit(p + '/**/*.csv*')}, header = true, union_by_name = true)"
        return None
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({_lit(p)})"
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return f"read_csv({_lit(p)}, header = true)"
    return None


def _part_files(path: Path) -> tuple[list[Path], str | None]:
    """The readable part files of a table folder, or why there are none."""
    import os

    from cjlab.data.errors import DataSourceError

    parts, problems = [], []
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith((".", "_")) or not name.lower().endswith(PART_SUFFIXES):
                continue
            f = Path(root) / name
            try:
                check_readable(f, "part file")
            except DataSourceError as exc:
                problems.append(str(exc))
                continue
            parts.append(f)
    if problems:
        return [], "; ".join(problems[:3]) + (
            f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        )
    if not parts:
        return [], (
            f"{path} is an empty folder (no .parquet or .csv part files) where the table's "
            "file is expected: put the table there, or remove the folder"
        )
    return parts, None


def find_table(folder: Path, table: str) -> tuple[Path | None, str | None, str | None]:
    """Where ``table`` is in ``folder``: ``(path, DuckDB scan, problem)``.

    ``(None, None, None)``: the table is absent. A problem names the file and says what to do:
    a directory or an empty folder where a file is expected, a symbolic link loop or a link to
    nothing, a FIFO, device or socket, an empty or unreadable file, a format cjlab does not read.
    Nothing that is not a regular file is ever opened.
    """
    import os

    from cjlab.data.errors import DataSourceError

    for cand in table_candidates(folder, table):
        if not os.path.lexists(cand):
            continue
        if cand.is_dir():
            parts, problem = _part_files(cand)
            return cand, (None if problem else scan_sql(cand, parts)), problem
        if cand.name == table:  # a file named like the table, without a suffix
            return cand, None, f"{cand} has no .csv or .parquet suffix: rename it ({_EXPORT_HINT})"
        try:
            check_readable(cand, table)
        except DataSourceError as exc:
            return cand, None, str(exc)
        return cand, scan_sql(cand), None
    others = sorted(p for p in folder.glob(f"{table}.*") if not p.name.startswith("."))
    if others:
        return others[0], None, f"{others[0].name} is not a format cjlab reads: {_EXPORT_HINT}"
    return None, None, None


def encoding_note(path: Path) -> str | None:
    """``"is not UTF-8 text (byte 0xe9 on line 3); it looks like cp1252"``, or ``None``."""
    if path.is_dir() or not path.is_file():
        return None
    bad = utf8_problem(path)
    if bad is None:
        return None
    line, _, sample = bad
    with open(path, "rb") as fh:
        guess = guess_encoding(fh.read(1 << 20))
    return f"is not UTF-8 text (byte 0x{sample[:1].hex()} on line {line}); it looks like {guess}"


def explain_read_error(exc: BaseException, path: Path, table: str) -> str:
    """A DuckDB read error as one message naming the file and what to do."""
    text = str(exc)
    first = (text.strip().splitlines() or [type(exc).__name__])[0][:300]
    if "utf-8" in text.lower() or "unicode" in text.lower():
        files = [path] if not path.is_dir() else sorted(path.rglob("*.csv*"))
        for f in files:
            note = encoding_note(f)
            if note:
                enc = note.rsplit(" ", 1)[-1]
                return (
                    f"{f.name} {note}: save it as UTF-8 (e.g. iconv -f {enc} -t utf-8), or bring "
                    f"it in with `cjlab import` and `encoding: {enc}` in the mapping's input"
                )
    name = path.name.lower()
    if ".parquet" in name or (path.is_dir() and any(path.rglob("*.parquet"))):
        return (
            f"{path.name} is not a readable Parquet file ({first}): write the {table} table "
            "again (the file may be truncated or not Parquet at all)"
        )
    if "Interrupt" in type(exc).__name__:
        return (
            f"reading {path.name} took longer than the time limit (CJLAB_READ_TIMEOUT seconds): "
            "check that the file is on a reachable disk, or raise the limit"
        )
    return f"{path.name} cannot be read as a table ({first}): check that it is a complete CSV or Parquet file"


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


__all__ = [
    "fingerprint_file",
    "fingerprint_paths",
    "fingerprint_tables",
    "redact",
    "scan_sql",
    "table_candidates",
]


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
                return (
                    lines + chunk[: exc.start].count(b"\n"),
                    offset + exc.start,
                    chunk[exc.start : exc.start + 4],
                )
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
            raise DataSourceError(
                f"{what}: {path} is a symbolic link that points to itself (a loop); "
                "point it at the real file"
            ) from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise DataSourceError(
                f"{what}: {path} is a symbolic link to {os.readlink(path)}, which does "
                "not exist; point it at the real file"
            ) from None
        raise DataSourceError(f"{what}: {path} cannot be read ({exc.strerror})") from None
    mode = st.st_mode
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    for test, kind in kinds:
        if test(mode):
            raise DataSourceError(
                f"{what}: {path} is {kind}, not a file; put the table's file "
                "there (a .csv or .parquet file)"
            )
    if not stat.S_ISREG(mode):
        raise DataSourceError(f"{what}: {path} is not a regular file")
    if st.st_size == 0:
        raise DataSourceError(f"{what}: {path} is empty (0 bytes); export the table again")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataSourceError(
            f"{what}: {path} cannot be read ({exc.strerror}); check its permissions and the disk"
        ) from None


def table_path(folder: Path, table: str) -> Path:
    """The file or part folder holding ``table`` in ``folder``."""
    from cjlab.data.errors import DataSourceError

    for cand in table_candidates(folder, table):
        if cand.exists():
            return cand
    raise DataSourceError(f"table {table!r} not found in {folder}")


@contextmanager
def time_limit(con, default: float) -> Iterator[None]:
    """Interrupt the DuckDB connection ``con`` after ``$CJLAB_READ_TIMEOUT`` seconds (else
    ``default``): a read that does not finish becomes an error instead of a hang."""
    try:
        limit = float(os.environ.get("CJLAB_READ_TIMEOUT", default))
    except ValueError:
        limit = default
    done = threading.Event()

    def watch() -> None:
        if done.wait(limit):
            return
        # DuckDB forgets an interrupt that arrives between two queries: keep interrupting
        # until the block ends, so a read that starts after the limit is stopped too
        while True:
            con.interrupt()
            if done.wait(0.02):
                return

    watcher = threading.Thread(target=watch, name="cjlab-read-limit", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
