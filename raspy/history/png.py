"""The history chart as a PNG: the same layout as the SVG, drawn by a tiny
rasterizer (spans, thick lines, a 3x5 pixel font) and encoded with zlib.

No dependency beyond the standard library; pure (bytes out, no files).
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Final

from raspy.history.chart import (
    BACKGROUND,
    TEXT_COLOUR,
    Dot,
    Label,
    Point,
    Polygon,
    Polyline,
    Segment,
    layout,
)

_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# 3x5 glyphs, rows top to bottom; lower case is drawn as upper case, anything
# else as "?"
_GLYPHS: Final = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001010010", "8": "111101111101111",
    "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111",
    "F": "111100110100100", "G": "011100101101011", "H": "101101111101101",
    "I": "111010010010111", "J": "001001001101010", "K": "101101110101101",
    "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011",
    "R": "110101110101101", "S": "011100010001110", "T": "111010010010010",
    "U": "101101101101111", "V": "101101101101010", "W": "101101111111101",
    "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    ":": "000010000010000", "-": "000000111000000", ".": "000000000000010",
    "%": "101001010100101", "/": "001001010100100", "_": "000000000000111",
    "°": "010101010000000", "(": "010100100100010", ")": "010001001001010",
    "+": "000010111010000", ",": "000000000010100", " ": "000000000000000",
    "?": "111001010000010",
}  # fmt: skip


def _rgb(colour: str) -> bytes:
    return bytes.fromhex(colour.removeprefix("#"))


class _Canvas:
    """An RGB raster, row-major, 3 bytes a pixel."""

    def __init__(self, width: int, height: int, background: str) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(_rgb(background) * (width * height))

    def span(self, y: int, x0: int, x1: int, colour: bytes) -> None:
        """Fill pixels x0..x1 (inclusive) of row y, clipped to the canvas."""
        x0, x1 = max(x0, 0), min(x1, self.width - 1)
        if 0 <= y < self.height and x0 <= x1:
            start = (y * self.width + x0) * 3
            self.pixels[start : start + (x1 - x0 + 1) * 3] = colour * (x1 - x0 + 1)

    def block(self, x: int, y: int, size: int, colour: bytes) -> None:
        for row in range(y, y + size):
            self.span(row, x, x + size - 1, colour)

    def line(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        width: float,
        colour: bytes,
    ) -> None:
        (x0, y0), (x1, y1) = start, end
        size = max(1, round(width))
        steps = max(1, math.ceil(max(abs(x1 - x0), abs(y1 - y0))))
        half = size // 2
        for i in range(steps + 1):
            x = x0 + (x1 - x0) * i / steps
            y = y0 + (y1 - y0) * i / steps
            self.block(round(x) - half, round(y) - half, size, colour)

    def polygon(self, points: Sequence[tuple[float, float]], colour: bytes) -> None:
        """Even-odd scanline fill at pixel centres; each edge adds its crossings
        to the rows it spans (work in proportion to the edges' heights)."""
        rows: dict[int, list[float]] = {}
        for (xa, ya), (xb, yb) in zip(points, [*points[1:], points[0]], strict=True):
            if ya == yb:
                continue
            low, high = min(ya, yb), max(ya, yb)
            first = max(0, math.ceil(low - 0.5))
            last = min(self.height - 1, math.ceil(high - 0.5) - 1)
            for row in range(first, last + 1):
                centre = row + 0.5
                rows.setdefault(row, []).append(
                    xa + (centre - ya) * (xb - xa) / (yb - ya)
                )
        for row, crossings in rows.items():
            crossings.sort()
            for left, right in zip(crossings[::2], crossings[1::2], strict=False):
                self.span(row, math.ceil(left - 0.5), math.floor(right - 0.5), colour)

    def disc(self, centre: tuple[float, float], radius: float, colour: bytes) -> None:
        """The pixels whose centres lie within `radius` of `centre`."""
        cx, cy = centre
        for row in range(math.floor(cy - radius), math.ceil(cy + radius) + 1):
            dy = row + 0.5 - cy
            if abs(dy) > radius:
                continue
            half = math.sqrt(radius * radius - dy * dy)
            self.span(
                row, math.ceil(cx - half - 0.5), math.floor(cx + half - 0.5), colour
            )

    def text(self, label: Label, colour: bytes) -> None:
        scale = max(1, round(label.size / 6))
        advance = 4 * scale
        width = len(label.text) * advance - scale
        x, baseline = label.at
        if label.anchor == "middle":
            x -= width / 2
        elif label.anchor == "end":
            x -= width
        top = round(baseline) - 5 * scale
        for index, char in enumerate(label.text):
            glyph = _GLYPHS.get(char.upper(), _GLYPHS["?"])
            left = round(x) + index * advance
            for bit, on in enumerate(glyph):
                if on == "1":
                    self.block(
                        left + bit % 3 * scale, top + bit // 3 * scale, scale, colour
                    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rgb: bytes | bytearray) -> bytes:
    """An 8-bit RGB PNG of `rgb` (rows of width * 3 bytes, top first)."""
    if len(rgb) != width * height * 3:
        raise ValueError(f"expected {width * height * 3} bytes of RGB, got {len(rgb)}")
    stride = width * 3
    raw = b"".join(
        b"\x00" + bytes(rgb[row * stride : (row + 1) * stride]) for row in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def png_chart(
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
) -> bytes:
    """The chart of svg_chart() as PNG bytes (text in a small pixel font)."""
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
    canvas = _Canvas(chart.width, chart.height, BACKGROUND)
    text_colour = _rgb(TEXT_COLOUR)
    for shape in chart.shapes:
        match shape:
            case Segment(start=start, end=end, colour=colour, width=line_width):
                canvas.line(start, end, line_width, _rgb(colour))
            case Polyline(points=line_points, colour=colour, width=line_width):
                for a, b in itertools.pairwise(line_points):
                    canvas.line(a, b, line_width, _rgb(colour))
            case Polygon(points=corners, colour=colour):
                canvas.polygon(corners, _rgb(colour))
            case Dot(at=centre, radius=radius, colour=colour):
                canvas.disc(centre, radius, _rgb(colour))
            case Label():
                canvas.text(shape, text_colour)
    return encode_png(canvas.width, canvas.height, canvas.pixels)
