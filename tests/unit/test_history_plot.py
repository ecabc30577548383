"""The history chart's SVG: well-formed, self-contained, text escaped, data drawn."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.history.chart import LINE_COLOUR
from raspy.history.plot import svg_chart
from raspy.history.png import png_chart
from raspy.history.time_ticks import time_ticks

_SVG = "{http://www.w3.org/2000/svg}"
_DAY = 86400.0
_START = 1_780_012_800.0  # 2026-05-29 00:00 UTC: no clock in these tests


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, not outside data


def _tags(svg: str, tag: str) -> list[ET.Element]:
    return list(_parse(svg).iter(f"{_SVG}{tag}"))


def _day_of_points() -> list[list[float]]:
    return [
        [_START + i * 300, 20.0 + i % 7, 19.0 + i % 7, 21.0 + i % 7] for i in range(288)
    ]


def test_svg_chart_draws_the_band_and_the_average_line_of_every_point() -> None:
    svg = svg_chart(_day_of_points(), title="attic", unit="°C")
    (band,) = _tags(svg, "polygon")
    (line,) = _tags(svg, "polyline")
    assert len(line.attrib["points"].split()) == 288
    assert len(band.attrib["points"].split()) == 2 * 288
    texts = [t.text for t in _tags(svg, "text")]
    assert texts[0] == "attic"
    assert "°C" in texts
    assert "UTC" in texts


def test_svg_chart_labels_a_day_every_three_hours_and_midnight_with_the_date() -> None:
    svg = svg_chart(_day_of_points(), title="t", unit="W")
    labels = [t.text for t in _tags(svg, "text")]
    hours = ["05-29", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"]
    assert labels[-len(hours) - 2 : -2] == hours


def test_svg_chart_labels_and_names_the_zone_it_is_given() -> None:
    """The hub's zone (Berlin is UTC+2 in May): ticks on its hours and midnight,
    the zone's name under the axis, not UTC."""
    svg = svg_chart(
        _day_of_points(), title="t", unit="W", zone=ZoneInfo("Europe/Berlin")
    )
    labels = [t.text for t in _tags(svg, "text")]
    hours = ["03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "05-30"]
    assert labels[-len(hours) - 2 : -2] == hours
    assert labels[-1] == "Europe/Berlin"
    assert "UTC" not in labels


def test_svg_chart_breaks_the_line_across_a_gap() -> None:
    points = _day_of_points()
    del points[100:200]
    svg = svg_chart(points, title="t", unit="")
    assert [len(p.attrib["points"].split()) for p in _tags(svg, "polyline")] == [
        100,
        88,
    ]


def test_two_points_farther_apart_than_three_steps_are_two_dots() -> None:
    """Gaps were judged by the points' median spacing alone, which for two points
    is their own: a day with no reading was drawn as a line across it."""
    two = [[_START, 20.0, 20.0, 20.0], [_START + _DAY, 21.0, 21.0, 21.0]]
    svg = svg_chart(two, title="t", unit="", step_s=900)
    assert (len(_tags(svg, "polyline")), len(_tags(svg, "circle"))) == (0, 2)
    near = [[_START, 20.0, 20.0, 20.0], [_START + 1800, 21.0, 21.0, 21.0]]
    svg = svg_chart(near, title="t", unit="", step_s=900)
    assert (len(_tags(svg, "polyline")), len(_tags(svg, "circle"))) == (1, 0)


def test_three_points_with_one_gap_are_a_line_and_a_dot() -> None:
    """Of two spacings the median was the longer, the gap itself."""
    three = [[_START + t, 20.0, 20.0, 20.0] for t in (0, 300, 300 + _DAY)]
    svg = svg_chart(three, title="t", unit="", step_s=300)
    assert (len(_tags(svg, "polyline")), len(_tags(svg, "circle"))) == (1, 1)


def test_a_sensor_read_less_often_than_the_step_is_one_line() -> None:
    """A reading a minute in a tier of 10 s: the points' usual spacing, longer
    than the step, is what has no gap."""
    minutes = [[_START + 60 * i, 20.0, 20.0, 20.0] for i in range(30)]
    svg = svg_chart(minutes, title="t", unit="", step_s=10)
    assert (len(_tags(svg, "polyline")), len(_tags(svg, "circle"))) == (1, 0)
    del minutes[10:20]  # ten minutes with no reading
    svg = svg_chart(minutes, title="t", unit="", step_s=10)
    assert (len(_tags(svg, "polyline")), len(_tags(svg, "circle"))) == (2, 0)


def test_svg_chart_escapes_title_and_unit_and_fetches_nothing() -> None:
    hostile = '<script>alert("x")</script> & <a href="http://example.invalid">'
    svg = svg_chart(_day_of_points(), title=hostile, unit=hostile + "\x00")
    root = _parse(svg)
    assert not list(root.iter(f"{_SVG}script"))
    assert not list(root.iter(f"{_SVG}a"))
    assert [t.text for t in _tags(svg, "title")] == [hostile]
    attributes = [(k, v) for e in root.iter() for k, v in e.attrib.items()]
    assert [k for k, v in attributes if "href" in k or "url(" in v or "//" in v] == []


def test_svg_chart_of_no_points_says_so() -> None:
    svg = svg_chart([], title="empty", unit="°C")
    assert [t.text for t in _tags(svg, "text")] == ["empty", "no data"]


def test_svg_chart_of_one_flat_point_still_has_a_value_axis() -> None:
    svg = svg_chart([[_START, 5.0, 5.0, 5.0]], title="one", unit="%")
    assert not _tags(svg, "polygon")
    assert len(_tags(svg, "line")) > 2


def test_a_lone_point_is_a_dot_in_the_svg() -> None:
    """A single point (the first after a forget, one between gaps) was a dash 4 px
    wide and 2 high: in a household's screenshot, barely there."""
    points = [[_START, 5.0, 5.0, 5.0]]
    (dot,) = _tags(svg_chart(points, title="one", unit="%"), "circle")
    assert float(dot.attrib["r"]) >= 3
    assert dot.attrib["fill"] == LINE_COLOUR
    gapped = [*_day_of_points()[:50], [_START + 200 * 300, 22.0, 21.0, 23.0]]
    assert len(_tags(svg_chart(gapped, title="t", unit=""), "circle")) == 1


def _png_pixels(data: bytes) -> list[bytes]:
    """The RGB pixels of one of our PNGs (8-bit RGB, filter 0 on every row)."""
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    raw = zlib.decompress(data[idat + 4 : idat + 4 + length])
    stride = width * 3 + 1
    rows = [raw[r * stride + 1 : (r + 1) * stride] for r in range(height)]
    return [row[i : i + 3] for row in rows for i in range(0, len(row), 3)]


def test_a_lone_point_is_a_dot_in_the_png() -> None:
    data = png_chart([[_START, 5.0, 5.0, 5.0]], title="one", unit="%")
    line = bytes.fromhex(LINE_COLOUR.removeprefix("#"))
    assert _png_pixels(data).count(line) >= 30  # a disc of radius 3.5: ~38 pixels


_number = st.floats(allow_nan=True, allow_infinity=True, width=32)


@given(
    st.lists(st.lists(_number, min_size=0, max_size=5), max_size=40),
    st.text(max_size=30),
    st.integers(min_value=-10, max_value=5000),
)
def test_svg_chart_is_well_formed_xml_for_any_points_and_text(
    points: list[list[float]], title: str, width: int
) -> None:
    svg = svg_chart(points, title=title, unit=title, width=width, height=width)
    root = _parse(svg)
    assert root.tag == f"{_SVG}svg"


def test_value_ticks_show_the_decimals_of_their_step() -> None:
    values = [10.0 + i / 10 for i in range(136)]  # 10.0 .. 23.5: a tick every 2.5
    points = [[_START + 60 * i, v, v, v] for i, v in enumerate(values)]
    labels = [t.text for t in _tags(svg_chart(points, title="t", unit="°C"), "text")]
    assert labels[1:7] == ["10.0", "12.5", "15.0", "17.5", "20.0", "22.5"]


def test_value_ticks_of_tiny_and_huge_steps_name_their_values() -> None:
    """A step that `%g` writes with an exponent (2e-07, 2e+06) was given six
    decimals whatever its size: every tick of a µA sensor in amperes read "0",
    and a water meter's in litres "96000000.000000", wider than the margin."""
    tiny = [[_START + 60 * i, i * 1e-7, i * 1e-7, i * 1e-7] for i in range(11)]
    labels = [t.text for t in _tags(svg_chart(tiny, title="t", unit="A"), "text")]
    assert labels[1:6] == ["0", "0.0000002", "0.0000004", "0.0000006", "0.0000008"]
    huge = [[_START + 60 * i, 1e8, 1e8, 1e8] for i in range(11)]
    labels = [t.text for t in _tags(svg_chart(huge, title="t", unit="l"), "text")]
    assert labels[1:6] == [
        "96000000",
        "98000000",
        "100000000",
        "102000000",
        "104000000",
    ]


def test_values_the_recorder_keeps_are_drawn_with_labels_that_fit() -> None:
    """The recorder keeps numbers up to 1e200; the chart took only those under
    1e15 and said "no data" for a meter counting beyond."""
    for scale in (1e16, 1e199):
        points = [[_START + 60 * i, v, v, v] for i, v in enumerate((scale, 3 * scale))]
        svg = svg_chart(points, title="t", unit="")
        assert "no data" not in [t.text for t in _tags(svg, "text")]
        assert len(_tags(svg, "polyline")) == 1
        labels = [text for text, _ in _value_labels(svg)]
        assert len(labels) >= 3
        assert len(set(labels)) == len(labels)
        assert all(len(text) <= 10 for text in labels), labels
        assert [float(text) for text in labels] == sorted(float(t) for t in labels)
        assert scale <= float(labels[-1]) <= 3.2 * scale


def test_a_tiny_but_real_spread_gets_its_own_axis() -> None:
    """Values spanning less than 1e-9 (a µA sensor in amperes) were drawn as a flat
    line on an axis of -1..1; a spread is flat only against the values' size."""
    tiny = [[_START + 60 * i, i * 1e-10, i * 1e-10, i * 1e-10] for i in range(10)]
    labels = [
        float(text) for text, _ in _value_labels(svg_chart(tiny, title="t", unit="A"))
    ]
    assert len(labels) >= 3
    assert -1e-10 <= labels[0] < labels[-1] <= 1e-9
    flat = [[_START + 60 * i, 1e14 + 1, 1e14 + 1, 1e14 + 1] for i in range(3)]
    labels = [
        float(text) for text, _ in _value_labels(svg_chart(flat, title="t", unit=""))
    ]
    assert labels[0] < 1e14 + 1 < labels[-1]


def test_svg_chart_of_text_no_utf8_holds_is_still_utf8() -> None:
    """`raspy history --unit` typed in a Latin-1 terminal: Python reads the byte
    0xb0 of its ° as the lone surrogate U+DCB0, which no UTF-8 encodes, so the
    chart's .encode() raised and the command ended in a traceback. U+FFFF (a
    device name in a URL) is no XML character either: the SVG was not well-formed."""
    svg = svg_chart(_day_of_points(), title="t\ud800\uffff", unit="\udcb0C")
    root = _parse(svg.encode("utf-8").decode("utf-8"))
    assert root.tag == f"{_SVG}svg"
    assert "\ufffdC" in [t.text for t in _tags(svg, "text")]


def test_a_week_across_a_clock_change_has_its_ticks_on_the_zones_midnights() -> None:
    """Berlin goes from UTC+2 to UTC+1 on 2026-10-25. The ticks kept the offset of
    the chart's start: after the change each fell at 23:00 and bore the date of the
    day it ended, so "10-25" was written twice and every later date a day early."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 22, tzinfo=zone).timestamp()
    points = [[start + 3600 * i, 1.0, 1.0, 1.0] for i in range(7 * 24 + 1)]
    svg = svg_chart(points, title="t", unit="W", zone=zone)
    dates = [t for t in _tags(svg, "text") if "-" in (t.text or "")]
    assert [t.text for t in dates] == [f"10-{day}" for day in range(22, 29)]
    width_s = points[-1][0] - start
    for day, text in zip(range(22, 29), dates, strict=True):
        at = start + (float(text.attrib["x"]) - 64) / (800 - 16 - 64) * width_s
        assert abs(at - datetime(2026, 10, day, tzinfo=zone).timestamp()) < 120


@pytest.mark.parametrize(
    ("start", "span", "clock"),
    [
        # Berlin skips 02:00..03:00 on 2026-03-29 (01:00 UTC): ticks stopped at
        # 03:45, the local range worked out with the offset of the chart's start,
        # and the last hour had none (03:00..03:30 came twice instead)
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC).timestamp(), 7200, "01:30 01:45 "
         "03:00 03:15 03:30 03:45 04:00 04:15 04:30"),
        # and lives 02:00..03:00 twice on 2026-10-25 (from 01:00 UTC): the
        # repeated hour had no ticks of its own
        (datetime(2026, 10, 25, 0, 0, tzinfo=UTC).timestamp(), 7200, "02:00 02:15 "
         "02:30 02:45 02:00 02:15 02:30 02:45 03:00"),
        # a chart shorter than the change: a minute's ticks on both sides of it
        (datetime(2026, 10, 25, 0, 56, tzinfo=UTC).timestamp(), 480, "02:56 02:57 "
         "02:58 02:59 02:00 02:01 02:02 02:03 02:04"),
        (datetime(2026, 3, 29, 0, 56, tzinfo=UTC).timestamp(), 480, "01:56 01:57 "
         "01:58 01:59 03:00 03:01 03:02 03:03 03:04"),
    ],
    ids=["spring", "autumn", "autumn-minutes", "spring-minutes"],
)  # fmt: skip
def test_a_short_chart_across_a_clock_change_has_ticks_all_along(
    start: float, span: float, clock: str
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    ticks = time_ticks(start, start + span, zone)
    assert " ".join(text for _, text in ticks) == clock
    times = [t for t, _ in ticks]
    assert times == [start + span / 8 * i for i in range(9)]  # even, in order


def _x_time(label: ET.Element, start: float, end: float, width: int = 800) -> float:
    """The instant at a label's x on a chart of start..end drawn `width` wide."""
    plot_width = width - 16 - 64
    return start + (float(label.attrib["x"]) - 64) / plot_width * (end - start)


def _labels_at(svg: str, start: float, end: float) -> list[tuple[str, float]]:
    texts = _tags(svg, "text")
    return [
        (t.text or "", _x_time(t, start, end))
        for t in texts
        if t.attrib.get("y") == "280"  # the time axis's labels (height 300)
    ]


def test_a_years_chart_labels_its_quarters_on_their_first_days() -> None:
    """The ticks were multiples of 91 days from 1970 labelled as months: in
    Europe/Berlin "2025-01" stood at 23 January."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2025, 1, 1, tzinfo=zone).timestamp()
    end = datetime(2025, 12, 31, tzinfo=zone).timestamp()
    points = [[t, 1.0, 1.0, 1.0] for t in range(int(start), int(end) + 1, 86400)]
    end = points[-1][0]
    svg = svg_chart(points, title="t", unit="W", zone=zone)
    labels = _labels_at(svg, start, end)
    assert [text for text, _ in labels] == ["2025-01", "2025-04", "2025-07", "2025-10"]
    for (_, at), month in zip(labels, (1, 4, 7, 10), strict=True):
        assert abs(at - datetime(2025, month, 1, tzinfo=zone).timestamp()) < 3 * 3600


def test_a_five_year_chart_labels_each_year_on_its_first_of_january() -> None:
    """ "2021" stood at 2021-12-19: a multiple of 365 days from 1970."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2021, 1, 1, tzinfo=zone).timestamp()
    points = [[start + i * 86400 * 7, 1.0, 0.0, 2.0] for i in range(5 * 52 + 1)]
    end = points[-1][0]
    labels = _labels_at(svg_chart(points, title="t", unit="", zone=zone), start, end)
    assert [text for text, _ in labels] == ["2021", "2022", "2023", "2024", "2025"]
    for (_, at), year in zip(labels, range(2021, 2026), strict=True):
        assert abs(at - datetime(year, 1, 1, tzinfo=zone).timestamp()) < 12 * 3600


@given(
    st.floats(min_value=0, max_value=4e9),
    st.floats(min_value=113 * _DAY, max_value=30 * 365 * _DAY),
    st.sampled_from(["UTC", "Europe/Berlin", "America/Denver", "Asia/Kolkata"]),
)
def test_month_and_year_ticks_fall_on_the_first_of_their_month(
    start: float, span: float, zone_name: str
) -> None:
    """Each tick of a chart of more than a month is midnight on the 1st of the
    month (or year) it names, in the chart's zone, and names no month twice."""
    zone = ZoneInfo(zone_name)
    ticks = time_ticks(start, start + span, zone)
    assert ticks
    assert len({text for _, text in ticks}) == len(ticks)
    for tick, text in ticks:
        moment = datetime.fromtimestamp(tick, zone)
        assert (moment.day, moment.hour, moment.minute) == (1, 0, 0)
        assert text == moment.strftime("%Y" if len(text) == 4 else "%Y-%m")
        assert start <= tick <= start + span


def test_the_time_axis_spans_the_range_asked_with_the_points_where_they_fall() -> None:
    """A "24h" chart of a sensor recorded for the last hour spanned that hour: its
    axis read 23:00 .. 00:00 as if the day were all there."""
    day_start = _START - _DAY
    points = [[_START - 3600 + 60 * i, 5.0, 5.0, 5.0] for i in range(61)]
    svg = svg_chart(points, title="t", unit="", since=day_start, until=_START)
    labels = [text for text, _ in _labels_at(svg, day_start, _START)]
    assert labels == ["05-28", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00",
                      "21:00", "05-29"]  # fmt: skip
    (line,) = _tags(svg, "polyline")
    xs = [float(xy.split(",")[0]) for xy in line.attrib["points"].split()]
    assert (round(xs[0]), round(xs[-1])) == (round(64 + 720 * 23 / 24), 784)


def _value_labels(svg: str) -> list[tuple[str, float]]:
    return [
        (t.text or "", float(t.attrib["y"]))
        for t in _tags(svg, "text")
        if t.attrib.get("text-anchor") == "end" and t.attrib.get("x") == "58"
    ]


def test_a_switch_always_on_has_an_axis_of_0_to_1_not_0_to_2() -> None:
    """A value that does not change had an axis of value +- 1: a lamp left on all
    day was drawn at the middle of 0..2, a lamp left off at the middle of -1..1."""
    for value in (1.0, 0.0):
        points = [[_START + 60 * i, value, value, value] for i in range(100)]
        labels = _value_labels(svg_chart(points, title="t", unit=""))
        assert [text for text, _ in labels] == ["0", "1"]
        (_, y0), (_, y1) = labels
        assert (y0 > 240, y1 < 60) == (True, True)  # near the foot, near the top


def test_a_switchs_values_are_labelled_off_and_on_and_averages_stay_between() -> None:
    """Merged points of a switch average the share of the time it was on: the
    axis stays 0..1 (it ran 0, 0.2, ... 1.0 with padding below 0 and above 1)."""
    points = [[_START + 3600 * i, (i % 5) / 4, 0.0, 1.0] for i in range(24)]
    points += [[_START + 3600 * 24, 1.0, 1.0, 1.0]]
    svg = svg_chart(points, title="t", unit="", switch=True)
    assert [text for text, _ in _value_labels(svg)] == ["off", "on"]


def test_values_other_than_0_and_1_keep_their_round_steps() -> None:
    points = [[_START + 60 * i, v, v, v] for i, v in enumerate((0.0, 1.0, 2.0))]
    labels = _value_labels(svg_chart(points, title="t", unit="", switch=True))
    assert [text for text, _ in labels] == ["0", "0.5", "1.0", "1.5", "2.0"]
