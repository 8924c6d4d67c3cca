"""A small trend chart as inline SVG: a KPI's values over runs with their intervals.

No plotting library and no image: a few hundred bytes of SVG per chart, so a page with
hundreds of KPIs stays small and opens offline. Each point carries a tooltip (the run and the
formatted value); runs outside the series (ad-hoc runs) are grey diamonds that the trend line
does not pass through; a red ring marks a last change larger than the uncertainty of both runs.

Examples
--------
>>> svg = sparkline([Point(0, 1.0, 0.8, 1.2, "a"), Point(1, 2.0, 1.7, 2.3, "b")])
>>> svg.startswith("<svg") and "<polyline" in svg and svg.count("<title>") == 2
True
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 168, 38, 5
LINE, BAND, OTHER, RING = "#3b6ea8", "#9bb5d6", "#8a8a8a", "#c62828"


@dataclass(frozen=True)
class Point:
    """One run's value of a KPI: its position on the time axis, value, interval, tooltip."""

    x: int
    value: float
    low: float | None = None
    high: float | None = None
    tip: str = ""


def _finite(v: float | None) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def _scale(points: list[Point]) -> tuple[float, float]:
    ys = [y for p in points for y in (p.value, p.low, p.high) if _finite(y)]
    lo, hi = min(ys), max(ys)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def sparkline(
    series: list[Point], others: list[Point] = (), n_slots: int | None = None, ring: bool = False
) -> str:
    """The chart: ``series`` joined by a line, ``others`` as separate markers.

    ``x`` of each point is its slot on a shared time axis of ``n_slots`` slots (default: the
    largest ``x`` + 1); ``ring`` circles the last point of the series.
    """
    points = [p for p in [*series, *others] if _finite(p.value)]
    if not points:
        return ""
    slots = max(n_slots or 0, max(p.x for p in points) + 1)
    lo, hi = _scale(points)

    def xy(x: float, y: float) -> tuple[str, str]:
        px = PAD + (WIDTH - 2 * PAD) * (x / (slots - 1) if slots > 1 else 0.5)
        py = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (y - lo) / (hi - lo)
        return _f(px), _f(py)

    def bar(p: Point) -> str:
        (x, top), (_, bottom) = xy(p.x, p.high), xy(p.x, p.low)
        return f"M{x} {top}V{bottom}"

    line = [p for p in series if _finite(p.value)]
    bars = "".join(bar(p) for p in points if _finite(p.low) and _finite(p.high))
    parts = [
        f'<svg class="spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'role="img" xmlns="http://www.w3.org/2000/svg">'
    ]
    if bars:
        parts.append(f'<path d="{bars}" stroke="{BAND}" stroke-width="3" fill="none"/>')
    if len(line) > 1:
        coords = " ".join(",".join(xy(p.x, p.value)) for p in line)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{LINE}" stroke-width="1.5"/>'
        )
    for i, p in enumerate(line):
        cx, cy = xy(p.x, p.value)
        r = 3 if i == len(line) - 1 else 2
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{LINE}">{_tip(p)}</circle>')
    for p in others:
        if _finite(p.value):
            cx, cy = (float(v) for v in xy(p.x, p.value))
            d = f"M{_f(cx)} {_f(cy - 3.5)}l3.5 3.5l-3.5 3.5l-3.5-3.5z"
            parts.append(f'<path d="{d}" fill="#fff" stroke="{OTHER}">{_tip(p)}</path>')
    if ring and line:
        cx, cy = xy(line[-1].x, line[-1].value)
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="5.5" fill="none" stroke="{RING}" stroke-width="1.6"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _tip(p: Point) -> str:
    return f"<title>{html.escape(p.tip)}</title>" if p.tip else ""
