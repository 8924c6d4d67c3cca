"""What every analysis hands to the presentation layer: KPIs, a headline, skipped sections.

Every analysis subpackage (``cjlab.survey``, ``cjlab.ab``, ...) returns a frozen dataclass
that derives from :class:`Analysis`. It carries its own headline (:meth:`Analysis.headline`)
and its headline figures (:meth:`Analysis.kpis`), so notebooks only show them
(``cjlab.notebook.show(analysis)``) and the report, ``kpis.json``, the terminal summary and
the KPI trend page all read the *same* figure under the *same* name.

This module is pure: no I/O, no plotting, no IPython. It sits at the bottom of the package
(``data`` and ``features`` may import it; it imports nothing of cjlab except
:mod:`cjlab.formatting`).

Examples
--------
>>> k = KPI("nps", 31.4, "Net Promoter Score", unit="points", low=28.0, high=34.8, n=812)
>>> k.text()
'31.4 points (28.0 to 34.8)'
>>> k.to_record()["value"]
31.4
>>> Headline("NPS 31 in 2026-Q3", (("Respondents", "812"),)).items[0][0]
'Respondents'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cjlab import formatting as fmt

#: MIME type under which a notebook output carries one KPI record (the runner collects them).
KPI_MIME = "application/vnd.cjlab.kpi+json"
#: MIME type under which a notebook output carries its headline (title, items, status), so the
#: runner, the terminal summary and the portal read a notebook's top headline without its HTML.
HEADLINE_MIME = "application/vnd.cjlab.headline+json"
#: Marker placed right after the headline box of a report (the contents list goes there).
HEADLINE_END = "<!--/cj-headline-->"

#: Units a KPI may carry; :mod:`cjlab.formatting` knows how to print each.
UNITS = fmt.UNITS


class NotApplicable(Exception):
    """The data lack what an analysis (or one of its sections) needs at minimum.

    The message says which data would enable it, e.g. ``"needs the survey_responses table"``.
    The runner checks notebooks' requirements before any kernel starts and marks such a
    notebook *not applicable* (not failed).
    """


def _clean(v: Any) -> Any:
    """NaN/inf -> None; numpy scalars -> Python numbers; other values unchanged."""
    if v is None or isinstance(v, str | bool):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    if math.isnan(f) or math.isinf(f):
        return None
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu"):
        return int(v)
    return f


@dataclass(frozen=True)
class KPI:
    """One headline figure, recorded in ``kpis.json`` and monitored across runs.

    Parameters
    ----------
    name : stable machine name (``nps``, ``conversion_rate``); with ``group`` it identifies the
        KPI across runs.
    value : the figure (a number, or short text such as a verdict).
    label : what a stakeholder reads ("Net Promoter Score, wave 2026-Q3").
    unit : one of :data:`UNITS` (``share`` 0..1, ``pp`` a difference of shares, ``points`` NPS
        points, ``money`` in ``currency``, ``count``, ``days``, ``ratio``, ``score``, ``number``,
        ``text``).
    low, high : interval bounds when the figure is uncertain (``level`` gives their mass).
    group : a breakdown value (wave, variant, segment), if any.
    n : sample size behind the figure.
    higher_is_better : direction, for marking changes good or bad.
    currency : ISO code or symbol of a ``money`` figure (``EUR``, ``$``).
    topic : section of the report the figure belongs to (groups the KPI trend page).
    headline : part of the notebook's top summary (terminal summary, ``--notify``, index).
    tolerance : absolute Monte-Carlo tolerance of a simulated figure (``cjlab reproduce`` accepts
        differences within it); ``None`` means the figure is exact and must repeat exactly.
    level : interval mass of ``low``/``high``.
    """

    name: str
    value: Any
    label: str
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    group: str | None = None
    n: int | None = None
    higher_is_better: bool | None = None
    currency: str | None = None
    topic: str | None = None
    headline: bool = False
    tolerance: float | None = None
    level: float | None = None

    def __post_init__(self) -> None:
        if self.unit is not None and self.unit not in UNITS:
            raise ValueError(
                f"KPI {self.name!r}: unit {self.unit!r} is not one of {', '.join(UNITS)}"
            )

    def text(self, digits: int | None = None) -> str:
        """The value (and interval) formatted for readers, e.g. ``'12.3 % (10.1 % to 14.6 %)'``."""
        return fmt.interval(
            self.value, self.low, self.high, self.unit, currency=self.currency, digits=digits
        )

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict (the ``kpis.json`` record)."""
        return {
            "name": self.name,
            "value": _clean(self.value),
            "low": _clean(self.low),
            "high": _clean(self.high),
            "unit": self.unit,
            "label": self.label,
            "group": None if self.group is None else str(self.group),
            "n": None if self.n is None or _clean(self.n) is None else int(self.n),
            "higher_is_better": self.higher_is_better,
            "currency": self.currency,
            "topic": self.topic,
            "headline": self.headline,
            "tolerance": _clean(self.tolerance),
            "level": self.level,
        }


@dataclass(frozen=True)
class Headline:
    """The box a report opens with: one sentence, then labelled points.

    ``items`` are ``(label, text)`` pairs in plain words (no model jargon); ``status`` is
    ``"good"``, ``"bad"`` or ``None`` (neutral).
    """

    title: str
    items: tuple[tuple[str, str], ...] = ()
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status not in (None, "good", "bad"):
            raise ValueError(f"headline status must be 'good', 'bad' or None, got {self.status!r}")
        object.__setattr__(self, "items", tuple((str(k), str(v)) for k, v in _pairs(self.items)))

    def text(self) -> str:
        """Plain-text version (terminal summary, notify file)."""
        return "\n".join([self.title, *(f"- {k}: {v}" for k, v in self.items)])

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict (the :data:`HEADLINE_MIME` record a notebook emits).

        Examples
        --------
        >>> Headline("NPS up", (("NPS", "31 points"),), "good").to_record()
        {'title': 'NPS up', 'items': [['NPS', '31 points']], 'status': 'good'}
        """
        return {"title": self.title, "items": [list(p) for p in self.items], "status": self.status}

    @classmethod
    def from_record(cls, rec: Mapping[str, Any] | None) -> Headline | None:
        """The headline of a record (tolerant: missing or malformed parts are dropped).

        Examples
        --------
        >>> Headline.from_record({"title": "NPS up", "items": [["NPS", "31"], "bad"]}).items
        (('NPS', '31'),)
        >>> Headline.from_record({"items": []}) is None
        True
        """
        if not isinstance(rec, Mapping) or not str(rec.get("title") or "").strip():
            return None
        items = [
            (str(p[0]), str(p[1]))
            for p in rec.get("items") or ()
            if isinstance(p, list | tuple) and len(p) == 2
        ]
        status = rec.get("status") if rec.get("status") in ("good", "bad") else None
        return cls(str(rec["title"]), tuple(items), status)


def _pairs(items: Iterable[tuple[str, str]] | Mapping[str, str]) -> Iterable[tuple[str, str]]:
    return items.items() if isinstance(items, Mapping) else items


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """Base of every analysis result (a frozen dataclass per analysis).

    Subclasses add their tables and fitted models as fields and implement :meth:`headline`
    and :meth:`kpis`. ``skipped`` maps a section name to the sentence saying which data would
    enable it (shown in its place in the report); ``notes`` are short remarks for readers.
    """

    skipped: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def headline(self) -> Headline:  # pragma: no cover - every analysis overrides it
        raise NotImplementedError

    def kpis(self) -> list[KPI]:  # pragma: no cover - every analysis overrides it
        raise NotImplementedError

    def available(self, section: str) -> bool:
        """True when ``section`` ran (it is not in :attr:`skipped`)."""
        return section not in self.skipped
