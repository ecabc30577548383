"""The layout of a history chart: points in, shapes in pixel coordinates out.

Pure and shared by the SVG and PNG writers, so both draw the same picture: axes,
grid, time labels (in the zone passed, named on the chart), value labels with the
unit, the min..max band and the average line. No I/O, no clock.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Final

from raspy.history.recorder import MAX_VALUE
from raspy.history.time_ticks import tick_indices, time_ticks
from raspy.records import frozen

Point = Sequence[float]  # [t, avg, min, max]
XY = tuple[float, float]

MARGIN_LEFT: Final = 64
MARGIN_RIGHT: Final = 16
MARGIN_TOP: Final = 28
MARGIN_BOTTOM: Final = 36
MIN_WIDTH: Final = 160
MIN_HEIGHT: Final = 100
MAX_SIDE: Final = 4000
# epoch s a calendar date holds in any zone (years 2 to 5138): datetime fails beyond
MIN_TIME_S: Final = -6.2e10
MAX_TIME_S: Final = 1e11
AXIS_COLOUR: Final = "#444444"
GRID_COLOUR: Final = "#dddddd"
BAND_COLOUR: Final = "#9ec5e8"
LINE_COLOUR: Final = "#1f5fa8"
TEXT_COLOUR: Final = "#222222"
BACKGROUND: Final = "#ffffff"
TWO_VALUED_PAD: Final = 0.08  # a line at 0 or 1 is not hidden under an edge
DOT_RADIUS: Final = 3.5  # a lone point: seen at a glance, unlike a 4 px dash
# a gap in the data wider than this many typical steps breaks the line
GAP_STEPS: Final = 3.0
_MAX_VALUE_TICKS: Final = 6
_LABEL_CHARS: Final = 10  # what the left margin holds; longer: with an exponent
# a spread below this (or 1e-9 of the values) is flat: the step of a smaller one
# would underflow
_MIN_SPREAD: Final = 1e-300


@frozen
class Segment:
    """A straight line from `start` to `end`."""

    start: XY
    end: XY
    colour: str
    width: float


@frozen
class Polyline:
    """A connected line through `points` (at least two)."""

    points: tuple[XY, ...]
    colour: str
    width: float


@frozen
class Polygon:
    """A filled closed shape (the min..max band of one unbroken run)."""

    points: tuple[XY, ...]
    colour: str


@frozen
class Dot:
    """A filled disc: a point with no neighbour to draw a line to."""

    at: XY
    radius: float
    colour: str


@frozen
class Label:
    """Text whose baseline starts (anchor "start"), centres or ends at `at`."""

    at: XY
    text: str
    anchor: str
    size: int


Shape = Segment | Polyline | Polygon | Dot | Label


@frozen
class Chart:
    """Everything to draw, back to front, on a `width` x `height` canvas."""

    width: int
    height: int
    shapes: tuple[Shape, ...]


def _finite(points: Sequence[Point]) -> list[tuple[float, float, float, float]]:
    """The drawable points, sorted: four finite numbers, within the recorder's
    MAX_VALUE (what it keeps, it draws)."""
    kept = []
    for point in points:
        if len(point) < 4:
            continue
        t, avg, low, high = (float(v) for v in point[:4])
        if MIN_TIME_S < t < MAX_TIME_S and all(
            abs(v) <= MAX_VALUE for v in (avg, low, high)
        ):
            kept.append((t, avg, min(low, avg, high), max(low, avg, high)))
    kept.sort()
    return kept


def _runs(
    points: list[tuple[float, float, float, float]], step_s: float | None
) -> list[list[tuple[float, float, float, float]]]:
    """The points split where the data has a gap (no line drawn across it): a
    spacing over GAP_STEPS expected ones. The expected spacing is the reply's step
    (`step_s`), or the points' usual spacing when that is longer (a sensor read
    each minute in a tier of 10 s has no gap each minute): the lower median of the
    spacings, of two at least, since one spacing alone is also the one judged
    (two points a day apart were one line). With no step given, the median."""
    if len(points) < 2:
        return [points] if points else []
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    if step_s is None:
        expected = steps[len(steps) // 2]
    elif len(steps) < 2:
        expected = step_s
    else:
        expected = max(step_s, steps[(len(steps) - 1) // 2])
    expected = expected or 1.0
    runs = [[points[0]]]
    for previous, point in itertools.pairwise(points):
        if point[0] - previous[0] > GAP_STEPS * expected:
            runs.append([])
        runs[-1].append(point)
    return runs


def _value_step(span: float) -> float:
    raw = span / _MAX_VALUE_TICKS
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def _value_text(value: float, step: float) -> str:
    """The tick's value with as many decimals as the step has (2.5 -> one,
    2.5e-07 -> eight, 2e+06 -> none); one wider than the margin (1e+16, 2e-12)
    with an exponent and the digits the step needs, if that is shorter."""
    mantissa, _, exponent = f"{step:.6g}".partition("e")
    decimals = max(0, len(mantissa.partition(".")[2]) - int(exponent or 0))
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        return "0"
    if len(text) > _LABEL_CHARS:
        short = _exponent_text(value, step)
        return short if len(short) < len(text) else text
    return text


def _exponent_text(value: float, step: float) -> str:
    """The value as 1.02e+16, with the digits that tell ticks `step` apart, no
    trailing zeros (2.5e+15, 5e+15, 7.5e+15, 1e+16)."""
    step_digits, _, step_exponent = f"{step:.5e}".partition("e")
    places = len(step_digits.rstrip("0").partition(".")[2])
    places += int(f"{value:e}".partition("e")[2]) - int(step_exponent)
    digits, _, exponent = f"{value:.{max(0, places)}e}".partition("e")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return f"{digits}e{exponent}"


def _value_range(
    points: list[tuple[float, float, float, float]],
) -> tuple[float, float]:
    low = min(p[2] for p in points)
    high = max(p[3] for p in points)
    # flat against the values' size: a tiny spread of tiny values gets its axis
    if high - low <= max(1e-9 * max(abs(high), abs(low)), _MIN_SPREAD):
        pad = max(1.0, abs(high) * 0.05)
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _two_valued(points: list[tuple[float, float, float, float]]) -> bool:
    """Every min and max 0 or 1: a switch's values (true/false are recorded as 1/0;
    a merged point's average is the share of the time it was on)."""
    return all(p[2] in (0.0, 1.0) and p[3] in (0.0, 1.0) for p in points)


def _value_ticks(
    two_valued: bool, v_low: float, v_high: float, switch: bool
) -> list[tuple[float, str]]:
    """The value axis's ticks and labels: 0 and 1 alone for 0/1 values (off and
    on for a switch), else round steps of the range."""
    if two_valued:
        return [(0.0, "off" if switch else "0"), (1.0, "on" if switch else "1")]
    step = _value_step(v_high - v_low)
    return [
        (index * step, _value_text(index * step, step))
        for index in tick_indices(v_low, v_high, step)
    ]


def _drawable_range(since: float, until: float) -> bool:
    return MIN_TIME_S < since < until < MAX_TIME_S


def layout(
    points: Sequence[Point],
    *,
    title: str,
    unit: str,
    width: int,
    height: int,
    zone: tzinfo = UTC,
    since: float | None = None,
    until: float | None = None,
    switch: bool = False,
    step_s: float | None = None,
) -> Chart:
    """The shapes of the chart of `points` ([t, avg, min, max], t epoch s), its time
    axis in `zone` (named under it), spanning since..until when given (the range
    asked: a day's chart of a sensor recorded for an hour is a day wide, its points
    where they fall), else the points' times. Values that are all 0 or 1 get an axis
    of 0..1, labelled off and on for a `switch`. `step_s`: the reply's, the spacing
    of points with no gap between them."""
    width = min(max(int(width), MIN_WIDTH), MAX_SIDE)
    height = min(max(int(height), MIN_HEIGHT), MAX_SIDE)
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    shapes: list[Shape] = [Label((left, 18), title, "start", 14)]
    data = _finite(points)
    axes = [
        Segment((left, top), (left, bottom), AXIS_COLOUR, 1),
        Segment((left, bottom), (right, bottom), AXIS_COLOUR, 1),
    ]
    if not data:
        shapes += axes
        shapes.append(
            Label(((left + right) / 2, (top + bottom) / 2), "no data", "middle", 12)
        )
        return Chart(width, height, tuple(shapes))
    t_start, t_end = data[0][0], data[-1][0]
    if since is not None and until is not None and _drawable_range(since, until):
        t_start, t_end = min(since, t_start), max(until, t_end)
    if t_end - t_start < 1:
        t_start, t_end = t_start - 30, t_end + 30
    two_valued = _two_valued(data)  # a switch (or any 0/1): an axis of 0..1, not 0..2
    v_low, v_high = (
        (-TWO_VALUED_PAD, 1 + TWO_VALUED_PAD) if two_valued else _value_range(data)
    )

    def x_of(t: float) -> float:
        return left + (t - t_start) / (t_end - t_start) * (right - left)

    def y_of(v: float) -> float:
        return bottom - (v - v_low) / (v_high - v_low) * (bottom - top)

    for tick, text in _value_ticks(two_valued, v_low, v_high, switch):
        y = y_of(tick)
        shapes.append(Segment((left, y), (right, y), GRID_COLOUR, 1))
        shapes.append(Label((left - 6, y + 4), text, "end", 11))
    for tick, text in time_ticks(t_start, t_end, zone):
        x = x_of(tick)
        shapes.append(Segment((x, top), (x, bottom), GRID_COLOUR, 1))
        shapes.append(Segment((x, bottom), (x, bottom + 4), AXIS_COLOUR, 1))
        shapes.append(Label((x, bottom + 16), text, "middle", 11))
    shapes.append(Label((right, 18), unit, "end", 12))
    shapes.append(Label((right, height - 4), str(zone), "end", 10))
    good_step = step_s if step_s is not None and 0 < step_s < math.inf else None
    for run in _runs(data, good_step):
        if len(run) == 1:  # alone (the first after a forget, one between gaps)
            t, avg, low, high = run[0]
            x = x_of(t)
            if low != high:
                shapes.append(Segment((x, y_of(low)), (x, y_of(high)), BAND_COLOUR, 3))
            shapes.append(Dot((x, y_of(avg)), DOT_RADIUS, LINE_COLOUR))
            continue
        upper = tuple((x_of(p[0]), y_of(p[3])) for p in run)
        lower = tuple((x_of(p[0]), y_of(p[2])) for p in reversed(run))
        if any(p[2] != p[3] for p in run):
            shapes.append(Polygon(upper + lower, BAND_COLOUR))
        shapes.append(
            Polyline(tuple((x_of(p[0]), y_of(p[1])) for p in run), LINE_COLOUR, 1.5)
        )
    shapes += axes
    return Chart(width, height, tuple(shapes))
