"""The history chart as SVG text: self-contained (no scripts, no external
resources, no fonts to fetch), every piece of text escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from xml.sax.saxutils import escape, quoteattr

from raspy.history.chart import (
    BACKGROUND,
    TEXT_COLOUR,
    Dot,
    Label,
    Point,
    Polygon,
    Polyline,
    Segment,
    Shape,
    layout,
)

_FONT = "sans-serif"


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_number(x)},{_number(y)}" for x, y in points)


def _not_xml(c: str) -> bool:
    return "\ud800" <= c <= "\udfff" or c in "\ufffe\uffff"


def _text(value: str) -> str:
    # control characters are not allowed in XML 1.0 text at all, nor U+FFFE and
    # U+FFFF; a lone surrogate (a byte of argv that was not UTF-8) has no UTF-8
    cleaned = "".join(
        " " if c < " " and c != "\t" else "\ufffd" if _not_xml(c) else c for c in value
    )
    return escape(cleaned)


def _element(shape: Shape) -> str:
    match shape:
        case Segment(start=(x1, y1), end=(x2, y2), colour=colour, width=width):
            return (
                f'<line x1="{_number(x1)}" y1="{_number(y1)}" x2="{_number(x2)}" '
                f'y2="{_number(y2)}" stroke="{colour}" stroke-width="{width}"/>'
            )
        case Polyline(points=points, colour=colour, width=width):
            return (
                f'<polyline points="{_path(points)}" fill="none" stroke="{colour}" '
                f'stroke-width="{width}" stroke-linejoin="round"/>'
            )
        case Polygon(points=points, colour=colour):
            return f'<polygon points="{_path(points)}" fill="{colour}" stroke="none"/>'
        case Dot(at=(x, y), radius=radius, colour=colour):
            return (
                f'<circle cx="{_number(x)}" cy="{_number(y)}" r="{radius}" '
                f'fill="{colour}"/>'
            )
        case Label(at=(x, y), text=text, anchor=anchor, size=size):
            return (
                f'<text x="{_number(x)}" y="{_number(y)}" text-anchor={quoteattr(anchor)} '
                f'font-size="{size}">{_text(text)}</text>'
            )
    raise TypeError(type(shape).__name__)


def svg_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: str,
    width: int = 800,
    height: int = 300,
    zone: tzinfo = UTC,
    since: float | None = None,
    until: float | None = None,
    switch: bool = False,
    step_s: float | None = None,
) -> str:
    """An SVG document charting `points` ([t, avg, min, max], t epoch s, ascending):
    the min..max band, the average line, time (in `zone`, over since..until when
    given: the range asked) and value axes (0..1 for 0/1 values, off and on for a
    `switch`), the unit.
    """
    chart = layout(
        points,
        title=title,
        unit=unit,
        width=width,
        height=height,
        zone=zone,
        since=since,
        until=until,
        switch=switch,
        step_s=step_s,
    )
    body = "\n".join(_element(shape) for shape in chart.shapes)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart.width}" '
        f'height="{chart.height}" viewBox="0 0 {chart.width} {chart.height}" '
        f'role="img" font-family="{_FONT}" fill="{TEXT_COLOUR}">\n'
        f"<title>{_text(title)}</title>\n"
        f'<rect width="100%" height="100%" fill="{BACKGROUND}"/>\n'
        f"{body}\n</svg>\n"
    )
