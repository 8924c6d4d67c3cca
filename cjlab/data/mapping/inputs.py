"""Raw inputs of a mapping: where each file is, how DuckDB reads it, and clear read errors.

CSV files are read by DuckDB's CSV reader in place (out of core). Columns the mapping parses
as text (ids, strings, dates with a format, numbers with a decimal comma, yes/no flags) are
read as text, so DuckDB's type guess cannot lose leading zeros or stop at a late odd value;
other columns keep the types DuckDB detects (the whole file is sampled when it is under
256 MB). Encodings other than UTF-8, UTF-16 and Latin-1 are converted to UTF-8 into a
temporary file first, as a stream.

Examples
--------
>>> from cjlab.data.mapping.spec import parse_input
>>> sorted(csv_options(parse_input("raw", {"delimiter": ";", "decimal": ","}), {"Id"}, 10))
['decimal_separator', 'delim', 'header', 'sample_size', 'types']
"""

from __future__ import annotations

import codecs
import glob
import gzip
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from cjlab.data.errors import DataSourceError, MappingError
from cjlab.data.files import guess_encoding, utf8_problem
from cjlab.data.mapping.expr import lit
from cjlab.data.mapping.spec import InputSpec

NATIVE_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-16": "utf-16",
    "utf16": "utf-16",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
}
FULL_SAMPLE_BYTES = 256 << 20
_SUFFIX_FORMAT = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


def resolve_paths(spec: InputSpec, override: str | Path | None, base: Path) -> list[Path]:
    """The files of an input: ``--input`` wins over the mapping's ``path`` (relative to ``base``)."""
    if override is not None:
        text, key = str(Path(override).expanduser()), "--input"
    elif spec.path is not None:
        p = Path(spec.path).expanduser()
        text, key = str(p if p.is_absolute() else base / p), f"{spec.key}.path"
    else:
        raise MappingError(
            f"{spec.key}.path",
            "no file given: set path in the mapping or pass "
            f"--input PATH (or --input {spec.name}=PATH)",
        )
    if any(ch in text for ch in "*?["):
        paths = [Path(p) for p in sorted(glob.glob(text, recursive=True))]
        if not paths:
            raise MappingError(key, f"no file matches {text}")
        return paths
    path = Path(text)
    if not path.exists():
        raise MappingError(key, f"input {spec.name!r}: file not found: {path}")
    if path.is_dir():
        parts = sorted(
            p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
        )
        if not parts:
            raise DataSourceError(
                f"input {spec.name!r}: {path} is an empty folder; give the file "
                "or a folder of part files"
            )
        return parts
    return [path]


def input_format(spec: InputSpec, paths: list[Path]) -> str:
    """``csv``, ``parquet`` or ``json``: from the mapping, else from the file suffix."""
    if spec.format:
        return spec.format
    name = paths[0].name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    for suffix, fmt in _SUFFIX_FORMAT.items():
        if name.endswith(suffix):
            return fmt
    raise MappingError(
        f"{spec.key}.format",
        f"cannot tell the format of {paths[0].name}: set format: csv, parquet or json",
    )


def _transcode(path: Path, encoding: str, tmpdir: Path, name: str, i: int) -> Path:
    """Copy ``path`` as UTF-8 into ``tmpdir`` (a stream; gzip files are decompressed)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise MappingError(
            f"inputs.{name}.encoding",
            f"unknown encoding {encoding!r} (e.g. utf-8, latin-1, cp1252, utf-16)",
        ) from None
    out = tmpdir / f"{name}-{i}.csv"
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with (
            opener(path, "rt", encoding=encoding, newline="") as src,
            out.open("w", encoding="utf-8", newline="") as dst,
        ):
            for block in iter(lambda: src.read(1 << 20), ""):
                dst.write(block)
    except UnicodeDecodeError as exc:
        raise DataSourceError(
            f"input {name!r}: {path} is not {encoding} text ({exc.reason} at byte "
            f"{exc.start}); set inputs.{name}.encoding to the file's encoding"
        ) from None
    return out


def csv_options(spec: InputSpec, text_columns: set[str], size: int) -> dict[str, str]:
    """The ``read_csv`` options (SQL text) of an input."""
    o = spec.options
    opts: dict[str, str] = {"header": lit(bool(o.get("header", True)))}
    if "delimiter" in o:
        opts["delim"] = lit("\t" if o["delimiter"] == "\\t" else o["delimiter"])
    for key, duck in (("quote", "quote"), ("escape", "escape"), ("skip", "skip")):
        if key in o:
            opts[duck] = lit(o[key])
    if o.get("decimal") not in (None, "."):
        opts["decimal_separator"] = lit(o["decimal"])
    if "nulls" in o:
        vals = o["nulls"] if isinstance(o["nulls"], list) else [o["nulls"]]
        opts["nullstr"] = "[" + ", ".join(lit(str(v)) for v in vals) + "]"
    types = {c: "VARCHAR" for c in text_columns}
    types.update({str(k): str(v) for k, v in (o.get("types") or {}).items()})
    if types:
        opts["types"] = "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in types.items()) + "}"
    sample = o.get("sample_size", -1 if size < FULL_SAMPLE_BYTES else None)
    if sample is not None:
        opts["sample_size"] = lit(int(sample))
    return opts


def _listing(paths: list[Path]) -> str:
    return "[" + ", ".join(lit(str(p)) for p in paths) + "]"


def native_paths(
    spec: InputSpec, paths: list[Path], fmt: str, tmpdir: Path
) -> tuple[list[Path], str]:
    """Files DuckDB can read, and their encoding (other encodings are converted to UTF-8)."""
    enc = str(spec.options.get("encoding", "utf-8")).lower()
    native = NATIVE_ENCODINGS.get(enc)
    if fmt != "csv" or native is not None:
        return paths, native or "utf-8"
    return [_transcode(p, enc, tmpdir, spec.name, i) for i, p in enumerate(paths)], "utf-8"


def read_sql(
    spec: InputSpec,
    paths: list[Path],
    fmt: str,
    text_columns: set[str],
    native: str = "utf-8",
    con: duckdb.DuckDBPyConnection | None = None,
) -> str:
    """The DuckDB table function that reads an input (``paths`` from :func:`native_paths`).

    With ``con``, a CSV input is sniffed once (dialect and column types, from its first file)
    and read with those settings fixed, so later queries do not sniff the file again.
    """
    if fmt == "parquet":
        return f"read_parquet({_listing(paths)}, union_by_name = true)"
    if fmt == "json":
        return f"read_json_auto({_listing(paths)})"
    size = sum(p.stat().st_size for p in paths)
    opts = csv_options(spec, set(), size)
    if native != "utf-8":
        opts["encoding"] = lit(native)
    if con is not None:
        opts = _fixed_dialect(con, paths[0], opts, text_columns)
    if len(paths) > 1:
        opts["union_by_name"] = "true"
    return f"read_csv({_listing(paths)}, {', '.join(f'{k} = {v}' for k, v in opts.items())})"


def _fixed_dialect(
    con: duckdb.DuckDBPyConnection, path: Path, opts: dict[str, str], text_columns: set[str]
) -> dict[str, str]:
    """Sniff ``path`` once and return read_csv options with everything fixed (no auto-detect)."""
    given = ", ".join(f"{k} = {v}" for k, v in opts.items())
    row = con.execute(
        f"SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, Columns, "
        f"DateFormat, TimestampFormat FROM sniff_csv({lit(str(path))}, {given})"
    ).fetchone()
    delim, quote, escape, newline, comment, skip, header, columns, datefmt, tsfmt = row

    def text(v: str | None) -> str:
        return "" if v in (None, "(empty)") else str(v)

    types = {c["name"]: ("VARCHAR" if c["name"] in text_columns else c["type"]) for c in columns}
    fixed = {k: v for k, v in opts.items() if k in ("decimal_separator", "nullstr", "encoding")}
    fixed.update(
        {
            "auto_detect": "false",
            "delim": lit(text(delim)),
            "quote": lit(text(quote)),
            "escape": lit(text(escape)),
            "new_line": lit(text(newline)),
            "skip": lit(int(skip)),
            "header": lit(bool(header)),
            "columns": "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in types.items()) + "}",
        }
    )
    if text(comment):
        fixed["comment"] = lit(text(comment))
    if datefmt:
        fixed["dateformat"] = lit(datefmt)
    if tsfmt:
        fixed["timestampformat"] = lit(tsfmt)
    return fixed


def explain_read_error(exc: duckdb.Error, spec: InputSpec, paths: list[Path]) -> DataSourceError:
    """A read error of DuckDB as a message naming the input, the file and the mapping option."""
    text = str(exc)
    where = f"input {spec.name!r} ({', '.join(str(p) for p in paths[:3])})"
    if "not utf-8 encoded" in text or "Invalid unicode" in text:
        for p in paths:
            bad = utf8_problem(p)
            if bad:
                line, offset, sample = bad
                guess = guess_encoding(p.read_bytes()[: 1 << 20])
                return DataSourceError(
                    f"{where}: {p.name} is not UTF-8 text (byte 0x{sample[:1].hex()} on line {line}, "
                    f"offset {offset}); it looks like {guess}: set {spec.key}.encoding: {guess} "
                    "in the mapping"
                )
        return DataSourceError(f"{where}: the file is not UTF-8 text; set {spec.key}.encoding")
    m = re.search(
        r'converting column "([^"]+)"\. Could not convert string "([^"]*)" to \'(\w+)\'', text
    )
    line = re.search(r"CSV Error on Line: (\d+)", text)
    if m:
        col, value, typ = m.groups()
        at = f" on line {line.group(1)}" if line else ""
        return DataSourceError(
            f"{where}: column {col} looked like {typ} in the rows DuckDB sampled, but{at} it holds "
            f"{value[:40]!r}; read it as text with {spec.key}.types: {{{col}: VARCHAR}} (and parse "
            "it with a type in columns), or raise sample_size"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    at = f" (line {line.group(1)})" if line else ""
    return DataSourceError(
        f"{where}: cannot read it{at}: {first[:300]}; check {spec.key} "
        "(delimiter, quote, header, skip, encoding)"
    )


def describe(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column name -> DuckDB type of a view."""
    return {r[0]: r[1] for r in con.execute(f'DESCRIBE SELECT * FROM "{view}"').fetchall()}


def open_input(
    con: duckdb.DuckDBPyConnection,
    spec: InputSpec,
    override: Any,
    base: Path,
    text_columns: set[str],
    tmpdir: Path,
) -> tuple[str, list[Path], dict[str, str]]:
    """Create the view ``in_<name>`` over an input; returns (view, files, column types).

    ``text_columns`` are read as text when present (the mapping parses them itself).
    """
    from cjlab.data.files import check_readable

    paths = resolve_paths(spec, override, base)
    for p in paths:
        check_readable(p, f"input {spec.name!r}")
    fmt = input_format(spec, paths)
    view = f"in_{spec.name}"
    readable, native = native_paths(spec, paths, fmt, tmpdir)
    try:
        sql = read_sql(spec, readable, fmt, text_columns, native, con)
        con.execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT * FROM {sql}')
        return view, paths, describe(con, view)
    except duckdb.Error as exc:
        raise explain_read_error(exc, spec, paths) from None


def input_columns(types: Mapping[str, str]) -> str:
    """The column list of an input, for messages."""
    return ", ".join(types) or "none"
