"""The devices pages' bodies from typed rows (pure: rows and `now` in, HTML out):
the Devices page and a device's own page with its chart (the scenarios' pages are
in scenario_pages.py, the Services and Titanic pages in service_pages.py).

Live elements carry `data-key` (the Clone key they show); app.js updates them from
the `/events` stream. Controls carry the devices service and device name; app.js
posts their commands to `/api/device` with the session's CSRF token.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import UTC, tzinfo
from itertools import groupby
from typing import Final
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from raspy.records import frozen
from raspy.web.html import epoch_seconds, esc, notice, show_time, show_value
from raspy.web.models import DeviceRow

RANGES: Final = {
    "1h": 3600.0,  # the last hour in detail (a fresh sensor's first points too)
    "24h": 24 * 3600.0,
    "7d": 7 * 24 * 3600.0,
    "1y": 365 * 24 * 3600.0,
}
_SWITCHES: Final = frozenset({"switch"})
# kinds whose value is seconds since the epoch: shown as the time it is, as the
# readings' own timestamps are (app.js updates a <time class="value"> likewise)
_TIMES: Final = frozenset({"clock.rtc"})
_DIMMERS: Final = frozenset({"dimmer"})


def device_href(fullname: str, span: str = "") -> str:
    path = "/device/" + url_quote(fullname, safe="")
    return f"{path}?range={span}" if span else path


def _control(row: DeviceRow) -> str:
    """A switch to press or a slider to drag, for the kinds that take them."""
    common = (
        f'data-service="{esc(row.service)}.devices" data-device="{esc(row.name)}" '
        f'data-key="{esc(row.key)}value"'
    )
    if row.oid in _SWITCHES:
        on = row.value is True
        # the change its device holds (min_off_s), said under it for every browser
        return (
            f'<button type="button" class="switch" role="switch" '
            f'aria-checked="{"true" if on else "false"}" aria-label="{esc(row.label)}" '
            f'{common} data-pending-key="{esc(row.key)}pending"><span></span></button>'
        )
    if row.oid in _DIMMERS:
        return (
            f'<input type="range" class="dimmer" min="0" max="100" step="1" '
            f'value="{_level(row.value)}" aria-label="{esc(row.label)} level" {common}>'
        )
    return ""


def _level(value: object) -> int:
    """A dimmer's slider position; 0 for what is not a finite number (a remote
    board's reply may hold NaN, infinity or an integer too large for a float)."""
    if isinstance(value, int | float):
        with contextlib.suppress(ValueError, OverflowError):
            return round(float(value))
    return 0


def status_class(status: str, prefix: str = "status-") -> str:
    """The CSS class of a device's status (or a scenario's state): one class,
    whatever the tree says (a status is any text a remote board writes; `ok login`
    made two classes). app.js makes the same of a live one."""
    return prefix + re.sub(r"[^a-z0-9_-]", "-", status.lower()[:40])


def _reading(row: DeviceRow, key: str, now: float, zone: tzinfo) -> str:
    """The value and its unit; a clock's value as the time it says (no unit)."""
    value = row.value
    if row.oid in _TIMES:
        # none yet (or NaN, sent to app.js as none): a dash; 1e400: out of range
        seconds = epoch_seconds(value)
        shown = show_value(value) if seconds is None else show_time(seconds, now, zone)
        return (
            f'<span class="reading"><time class="value" data-key="{key}value">'
            f"{esc(shown)}</time></span>"
        )
    return (
        f'<span class="reading"><span class="value" data-key="{key}value">'
        f"{esc(show_value(value))}</span> "
        f'<span class="unit" data-key="{key}unit">{esc(row.unit)}</span></span>'
    )


def _device_item(row: DeviceRow, now: float, zone: tzinfo = UTC) -> str:
    key = esc(row.key)
    return (
        f'<li class="device {status_class(row.status)}" data-status-key="{key}status">'
        f'<a class="name" href="{esc(device_href(row.fullname))}">{esc(row.label)}</a>'
        f"{_reading(row, key, now, zone)}"
        f'<span class="meta"><span class="status" data-key="{key}status">'
        f'{esc(row.status)}</span> <time data-key="{key}timestamp">'
        f"{esc(show_time(row.wall_ts, now, zone))}</time></span>"
        f'{_control(row)}<span class="error" role="alert"></span></li>'
    )


def devices_body(
    rows: Sequence[DeviceRow],
    problems: Sequence[str],
    now: float,
    zone: tzinfo = UTC,
) -> str:
    """Devices grouped by service (the `<host>.<svc>` of their full names)."""
    parts = [notice(problem, error=True) for problem in problems]
    if not rows and not problems:
        parts.append(notice("No device service answers (enable one in [devices])."))
    for service, group in groupby(
        sorted(rows, key=lambda r: r.service), lambda r: r.service
    ):
        items = "".join(_device_item(row, now, zone) for row in group)
        parts.append(
            f'<section class="group"><h2>{esc(service)}</h2>'
            f'<ul class="devices">{items}</ul></section>'
        )
    return "".join(parts)


@frozen
class Graph:
    """The device page's graph: the chosen range, the SVG or why there is none."""

    span: str
    problem: str = ""
    unit: str = ""
    unrecorded: bool = False  # the problem is the device's log off (app.js clears it)


# the Record switch is on the same page, below the graph: it says which to turn on
NOT_RECORDED: Final = "Not recorded yet: turn on Record below."


def chart_href(fullname: str, span: str, width: int, unit: str, kind: str = "") -> str:
    """The chart's URL; `kind` (the device's) when its chart says more of it: a
    switch's 0 and 1 are off and on."""
    fields: dict[str, str | int] = {"range": span, "width": width, "unit": unit}
    if is_switch(kind):
        fields["kind"] = kind
    return f"/device/{url_quote(fullname, safe='')}/chart.svg?{urlencode(fields)}"


def is_switch(kind: str) -> bool:
    """A kind whose value is on or off (true/false, recorded as 1/0)."""
    return kind in _SWITCHES


# the chart's widths (px, and its height), each fetched where the page shows it at
# least that wide (the viewport less the page's margins, 42 px): its 11 px labels
# are never drawn smaller (at 400 px on a 390 px phone they were 9.6 px)
CHART_SIZES: Final = {340: 250, 400: 260, 600: 280, 800: 300}
_CHART_MARGINS_PX: Final = 42
# a range as the chart's title says it
RANGE_WORDS: Final = {
    "1h": "last hour",
    "24h": "last 24 hours",
    "7d": "last 7 days",
    "1y": "last year",
}


def _picture(row: DeviceRow, graph: Graph) -> str:
    """The chart at the largest of CHART_SIZES the page shows whole: the browser
    fetches only the one it shows, drawn with text that stays readable there."""
    widths = sorted(CHART_SIZES, reverse=True)
    sources = "".join(
        f'<source media="(min-width: {width + _CHART_MARGINS_PX}px)" '
        f'srcset="{esc(chart_href(row.fullname, graph.span, width, graph.unit, row.oid))}">'
        for width in widths[:-1]
    )
    narrow = widths[-1]
    src = chart_href(row.fullname, graph.span, narrow, graph.unit, row.oid)
    return (
        f'<picture>{sources}<img src="{esc(src)}" alt="history of {esc(row.label)}" '
        f'width="{narrow}" height="{CHART_SIZES[narrow]}"></picture>'
    )


def device_body(row: DeviceRow, graph: Graph, now: float, zone: tzinfo = UTC) -> str:
    current = ' aria-current="page"'
    ranges = "".join(
        f'<a href="{esc(device_href(row.fullname, span))}"'
        f"{current if span == graph.span else ''}>{esc(span)}</a>"
        for span in RANGES
    )
    if graph.unrecorded:  # gone once Record is on (app.js)
        chart = notice(graph.problem, mark="data-unrecorded")
    else:
        chart = notice(graph.problem) if graph.problem else _picture(row, graph)
    record = (
        f'<button type="button" class="switch" role="switch" data-action="log" '
        f'aria-checked="{"true" if row.logged else "false"}" '
        f'aria-label="record history" data-service="{esc(row.service)}.devices" '
        f'data-device="{esc(row.name)}"><span></span></button>'
    )
    return (
        f'<ul class="devices single">{_device_item(row, now, zone)}</ul>'
        f'<dl class="facts"><dt>Full name</dt><dd>{esc(row.fullname)}</dd>'
        f"<dt>Kind</dt><dd>{esc(row.oid)}</dd></dl>"
        f'<h2>History</h2><nav class="ranges" aria-label="range">{ranges}</nav>'
        f'<figure class="chart">{chart}</figure>'
        f'<p class="record">{record}<span>Record this device\'s history '
        "(its <code>log</code> setting)</span>"
        '<span class="error" role="alert"></span></p>'
    )
