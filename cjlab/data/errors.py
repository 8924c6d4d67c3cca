"""Errors of the data layer (one module, so every part of :mod:`cjlab.data` can raise them)."""

from __future__ import annotations


class DataSourceError(ValueError):
    """The data source cannot be opened or read (missing path, unknown format, unreadable file).

    The message names the file and says what to do; ``cjlab validate`` and ``cjlab run`` print
    it and exit with code 1 (a spec that cannot be parsed at all exits with 2).
    """


class MappingError(ValueError):
    """A data mapping (``cjlab import``) is malformed: the message names the mapping key.

    Attributes
    ----------
    key : dotted path of the offending entry, e.g. ``tables.orders.columns.ts.format``.
    """

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)
