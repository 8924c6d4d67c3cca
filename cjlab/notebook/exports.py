"""Customer-level exports that cannot be turned against their readers: :func:`export_csv`.

Every CSV a notebook hands to someone (a contact list for the CRM, a table for a spreadsheet)
goes through :func:`export_csv`:

* text cells (and column names) that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return get a leading single quote (OWASP's rule against CSV/formula injection), so a
  customer id ``=HYPERLINK("http://…")`` shows as text in Excel or LibreOffice instead of
  running; numbers stay numbers;
* the file goes into the run's export folder — ``$CJLAB_OUTPUT_DIR``, which ``cjlab run``
  sets to ``<report folder>/exports/`` — or, outside a run, an ``exports/`` folder next to the
  notebook. A name that would leave that folder (``../../crm.csv``, an absolute path, a
  link pointing elsewhere) is refused;
* an existing file is never replaced silently: the new file gets a suffix (``-2``, ``-3`` …)
  and the note says so, or ``overwrite=True`` replaces it and the note says that;
* columns with personal data (e-mail, name, phone, address) are refused: the CRM joins them
  on ``customer_id`` itself;
* the report shows a link to the file with a note (rows, columns, what was neutralised) and
  never the data themselves.

Examples
--------
>>> import pandas as pd
>>> neutralise(pd.DataFrame({"id": ["=1+1", "ok", "-5"], "n": [-5, 2, 3]})).to_dict("list")
{'id': ["'=1+1", 'ok', "'-5"], 'n': [-5, 2, 3]}
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

#: the environment variable through which the runner names the export folder
OUTPUT_DIR_ENV = "CJLAB_OUTPUT_DIR"
#: the folder the report's HTML lives in (export links are relative to it)
REPORT_DIR_ENV = "CJLAB_REPORT_DIR"
#: first characters a spreadsheet may read as a formula (OWASP CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: columns with personal data, never exported
PERSONAL_COLUMNS = frozenset({"email", "name", "first_name", "last_name", "phone", "address"})


class ExportError(ValueError):
    """An export was refused (a name leaving the export folder, personal data columns)."""


@dataclass(frozen=True)
class Export:
    """One written export: where it is, how the report links to it, and what was done."""

    path: Path
    link: str
    rows: int
    columns: int
    neutralised: int
    note: str


def _neutral(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str) and value.lstrip(" ")[:1] in FORMULA_START and value.lstrip(" "):
        return "'" + value, True
    return value, False


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names cannot start a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return (also after leading
    spaces) gets a leading ``'``; numeric, boolean and date columns are unchanged.
    """
    return _neutralise(df)[0]


def _neutralise(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    out = df.copy()
    count = 0
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype | pd.CategoricalDtype):
            pairs = [_neutral(v) for v in s.astype(object)]
            hits = sum(hit for _, hit in pairs)
            if hits:
                out[col] = pd.Series([v for v, _ in pairs], index=s.index, dtype=object)
                count += hits
    names = [_neutral(str(c)) for c in out.columns]
    count += sum(hit for _, hit in names)
    out.columns = [v for v, _ in names]
    if not isinstance(out.index, pd.RangeIndex):
        idx = [_neutral(v) for v in out.index]
        count += sum(hit for _, hit in idx)
        out.index = pd.Index([v for v, _ in idx], name=out.index.name)
    return out, count


def export_folder() -> Path:
    """The folder exports go to: ``$CJLAB_OUTPUT_DIR``, else ``./exports`` (next to the notebook)."""
    given = os.environ.get(OUTPUT_DIR_ENV)
    return Path(given) if given else Path.cwd() / "exports"


def _target(folder: Path, name: str) -> Path:
    text = str(name).strip()
    plain = Path(text)
    if (
        not text
        or plain.is_absolute()
        or len(plain.parts) != 1
        or text.startswith(".")
        or "\\" in text
        or "\0" in text
    ):
        raise ExportError(
            f"export name {name!r} would leave the export folder: give a plain file name "
            "such as 'contact_list.csv' (the file goes into the report's exports/ folder)"
        )
    if plain.suffix.lower() != ".csv":
        plain = plain.with_name(plain.name + ".csv")
    return folder / plain.name


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _free(path: Path, folder: Path) -> Path:
    """``path``, or ``<stem>-2.csv``, ``-3`` … when taken (a link counts as taken)."""
    if not os.path.lexists(path):
        return path
    i = 2
    while os.path.lexists(folder / f"{path.stem}-{i}{path.suffix}"):
        i += 1
    return folder / f"{path.stem}-{i}{path.suffix}"


def _write(text: str, path: Path, overwrite: bool) -> None:
    """Write ``text`` to ``path`` atomically; without ``overwrite`` never replace a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails when the name was taken meanwhile: nothing replaced
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def export_csv(
    df: pd.DataFrame,
    name: str,
    *,
    label: str = "Export",
    overwrite: bool = False,
    index: bool = False,
    float_format: str | None = None,
    show: bool = True,
) -> Export:
    """Write ``df`` as a CSV file into the export folder and show a link to it in the report.

    Parameters
    ----------
    df : the rows to export (customer-level tables carry ``customer_id``, never personal data).
    name : a plain file name (``"contact_list.csv"``; ``.csv`` is added when missing).
    label : what the link in the report says (``"Contact list for the CRM"``).
    overwrite : replace an existing file of that name (the note says so); otherwise a free
        name ``<stem>-2.csv`` … is used and the note says that.
    index : also write the index.
    float_format : passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``"%.4f"``).
    show : display the link and note (off in tests or scripts).

    Returns
    -------
    Export (path, link relative to the report page, rows, columns, cells neutralised, note).

    Raises
    ------
    ExportError : the name leaves the export folder, or ``df`` holds personal data columns.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> os.environ["CJLAB_OUTPUT_DIR"] = tempfile.mkdtemp()
    >>> e = export_csv(pd.DataFrame({"customer_id": ["=cmd|x"]}), "list", show=False)
    >>> e.path.name, e.path.read_text()
    ('list.csv', "customer_id\\n'=cmd|x\\n")
    >>> del os.environ["CJLAB_OUTPUT_DIR"]
    """
    personal = sorted(c for c in df.columns if str(c).lower() in PERSONAL_COLUMNS)
    if personal:
        raise ExportError(
            f"export {name!r} holds personal data columns {personal}: drop them and export "
            "customer_id only (the CRM joins names and addresses itself)"
        )
    folder = export_folder()
    wanted = _target(folder, name)
    folder.mkdir(parents=True, exist_ok=True)
    path = wanted if overwrite else _free(wanted, folder)
    if not _inside(path, folder) or (path.is_symlink()):
        raise ExportError(f"export {wanted.name!r} points outside the export folder {folder}")
    clean, count = _neutralise(df)
    # CRLF line ends (RFC 4180): the writer then quotes every cell holding a CR or LF
    text = clean.to_csv(index=index, float_format=float_format, lineterminator="\r\n")
    _write(text, path, overwrite)
    base = Path(os.environ.get(REPORT_DIR_ENV) or Path.cwd())
    link = Path(os.path.relpath(path, base)).as_posix()
    note = _note(label, path, wanted, overwrite, len(df), len(df.columns), count)
    if show:
        _show(link, label, note)
    return Export(path, link, len(df), len(df.columns), count, note)


def _note(
    label: str, path: Path, wanted: Path, overwrite: bool, rows: int, cols: int, count: int
) -> str:
    from cjlab import formatting

    parts = [f"{label}: {path.name}, {formatting.count(rows)} rows and {cols} columns"]
    if path != wanted:
        parts.append(f"{wanted.name} existed already, so this file is {path.name}")
    elif overwrite:
        parts.append("it replaces an earlier file of that name")
    if count:
        cells = (
            "1 cell that a spreadsheet would read as a formula starts"
            if count == 1
            else (
                f"{formatting.count(count)} cells that a spreadsheet would read as a formula start"
            )
        )
        parts.append(f"{cells} with a ' so they show as text")
    parts.append("the file sits in the report folder; its rows are not shown here")
    return "; ".join(parts) + "."


def _show(link: str, label: str, note: str) -> None:
    from cjlab.notebook.display import _display_html, esc

    _display_html(
        f'<div class="cj-note cj-export"><a href="{esc(link)}" download>{esc(label)}</a>'
        f"<br>{esc(note)}</div>"
    )
