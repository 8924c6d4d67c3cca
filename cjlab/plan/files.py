"""Writing the plan document: the one part of :mod:`cjlab.plan` that touches files.

The CSV of the plan goes through :func:`cjlab.notebook.export_csv` (formula-safe, never
overwritten); :func:`write_markdown` writes the Markdown document beside it, under a name that
is free (it never replaces a file).
"""

from __future__ import annotations

import os
from pathlib import Path

from cjlab.plan.journey_plan import plan_markdown

__all__ = ["write_markdown"]


def write_markdown(a, path: str | os.PathLike, title: str = "The journey plan") -> Path:
    """Write the plan of ``a`` (a :class:`~cjlab.plan.results.PlanAnalysis`) as Markdown.

    Parameters
    ----------
    a : the plan analysis (its ``actions`` table).
    path : where to write; when the file exists, ``<stem>-2.md``, ``-3`` … is used instead.
    title : the document's title.

    Returns
    -------
    The path written.
    """
    path = Path(path)
    text = plan_markdown(
        a.actions,
        title=title,
        as_of=a.as_of,
        review=a.review,
        currency=a.currency,
        level=a.level,
        has_value=a.has_value,
    )
    target, i = path, 2
    while True:
        try:
            with open(target, "x", encoding="utf-8", newline="\n") as fh:
                fh.write(text + "\n")
            return target
        except FileExistsError:
            target, i = path.with_name(f"{path.stem}-{i}{path.suffix}"), i + 1
