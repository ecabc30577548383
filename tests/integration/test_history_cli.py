"""`raspy history` as a real process against a raw ROUTER playing the broker and
`<host>.logger.history`: the request it sends, and what it prints for each reply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import pytest
import zmq
from support.cli_process import answer_json, answer_presence, connections
from support.cli_process import finish_text as finish

Context = zmq.Context[zmq.Socket[bytes]]
Router = zmq.Socket[bytes]
SERVICE: Final = b"hub.logger.history"
T_2026_12_03_13_30_UTC: Final = 1_796_304_600.0
# a POSIX rule 3:30 west of UTC: no zone file needed, and unlike any test machine's
WEST_3_30: Final = {"TZ": "XST+3:30"}


def start(
    endpoint: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "history", *args]
    options = ["--server", endpoint, "--host", "hub", "--timeout", "5"]
    return subprocess.Popen(
        command + options,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(WEST_3_30 if env is None else env)},
    )


def answer(sock: Router, body: object) -> dict[str, Any]:
    """The broker says the history service is there, and the service replies 200
    with `body` to the one request it gets; the request's JSON."""
    answer_presence(sock, SERVICE)
    return answer_json(sock, SERVICE, b"200", body)


def _reply(points: list[list[Any]]) -> dict[str, Any]:
    return {
        "v": 1, "action": "history", "key": "/device/hub.fake.attic/value",
        "tier": "5m", "step_s": 300, "since": T_2026_12_03_13_30_UTC,
        "until": T_2026_12_03_13_30_UTC + 600, "points": points,
    }  # fmt: skip


def test_points_print_in_this_machines_zone_with_its_offset(
    router: tuple[Router, str],
) -> None:
    """They printed `2026-12-03 10:00:00`: which 10:00, on a CLI that may not run in
    the hub's zone, was left to guess."""
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic", "--since", "2026-12-03T10:00")
    t = T_2026_12_03_13_30_UTC
    request = answer(sock, _reply([[t, 1.5, 1, 2], [t + 300, 2, 2, 2]]))
    assert request["since"] == t  # a date without a zone: this machine's local time
    assert finish(process) == (
        0,
        "# /device/hub.fake.attic/value: tier 5m, a point every 5m, 2 points "
        "(time, avg, min, max)\n"
        "2026-12-03 10:00:00 -03:30  1.5  1  2\n"
        "2026-12-03 10:05:00 -03:30    2  2  2\n",
        "",
    )


def test_a_name_that_begins_with_a_dot_is_under_the_hubs_host_name(
    router: tuple[Router, str],
) -> None:
    """As `raspy device .fake.hall` and `raspy call .echo`: `.fake.attic` is
    `hub.fake.attic` with `--host hub` (it was sent as it was, `/device/.fake.attic`,
    which no device is)."""
    sock, endpoint = router
    process = start(endpoint, ".fake.attic", "--since", "2026-12-03T10:00")
    request = answer(sock, _reply([]))
    assert request["key"] == "hub.fake.attic"
    assert finish(process)[0] == 0


def test_a_printed_time_is_a_since_that_names_its_zone(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic", "--since", "2026-12-03 13:30:00 +00:00")
    request = answer(sock, _reply([]))
    assert (request["since"], finish(process)[0]) == (T_2026_12_03_13_30_UTC, 0)


def test_json_prints_the_reply_as_it_came(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic", "--json")
    reply = _reply([[T_2026_12_03_13_30_UTC, 1.5, 1, 2]])
    answer(sock, reply)
    status, out, err = finish(process)
    assert (status, json.loads(out), err) == (0, reply, "")


def test_a_time_no_calendar_holds_prints_as_its_number(
    router: tuple[Router, str],
) -> None:
    """It was a traceback (time.localtime of 1e300)."""
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic")
    answer(sock, _reply([[1e300, 1, 1, 1]]))
    status, out, err = finish(process)
    assert (status, out.splitlines()[1:], err) == (0, ["1e+300  1  1  1"], "")


def test_a_value_prints_every_digit_it_holds_and_no_exponent(
    router: tuple[Router, str],
) -> None:
    """An energy meter's 12345678 Wh printed as `1.23457e+07` (`.6g`): the digits a
    household reads were lost. A value prints as the shortest text that reads back
    as it (as `--json` and the tree print it), a whole number without `.0`."""
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic")
    t = T_2026_12_03_13_30_UTC
    answer(
        sock,
        _reply(
            [
                [t, 12345678.5, 12345678.0, 12345679],
                [t + 300, 0.1 + 0.2, -2.5e-3, 1234567890123.0],
            ]
        ),
    )
    status, out, err = finish(process)
    assert (status, out.splitlines()[1:], err) == (
        0,
        [
            "2026-12-03 10:00:00 -03:30           12345678.5  12345678       12345679",
            "2026-12-03 10:05:00 -03:30  0.30000000000000004   -0.0025  1234567890123",
        ],
        "",
    )  # fmt: skip


def test_the_columns_line_up_with_the_numbers_right_aligned(
    router: tuple[Router, str],
) -> None:
    """Times and values of different widths made ragged columns; each column is as
    wide as its widest text now, the numbers right-aligned, two spaces between
    (whitespace still parts the fields: a time is three of them)."""
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic")
    t = T_2026_12_03_13_30_UTC
    points = [[t, 9.5, -12.25, 10], [t + 300, 21.125, 7, 1234.5], [1e300, 1, 1, 1]]
    answer(sock, _reply(points))
    status, out, err = finish(process)
    assert (status, out.splitlines()[1:], err) == (
        0,
        [
            "2026-12-03 10:00:00 -03:30     9.5  -12.25      10",
            "2026-12-03 10:05:00 -03:30  21.125       7  1234.5",
            "1e+300                           1       1       1",
        ],
        "",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_reply([[T_2026_12_03_13_30_UTC, 1, 1]]), "sent a point that is not [t, avg, min, max]"),
        (_reply([[T_2026_12_03_13_30_UTC, "warm", 1, 2]]), "sent a point that is not [t, avg, min, max]"),
        ({"points": []}, "sent a reply without key, tier, step_s"),
    ],
    ids=["three-numbers", "text-value", "no-header-fields"],
)  # fmt: skip
def test_a_reply_off_protocol_is_one_line_and_exit_1(
    router: tuple[Router, str], body: dict[str, Any], message: str
) -> None:
    """Each was a traceback."""
    sock, endpoint = router
    process = start(endpoint, "hub.fake.attic")
    answer(sock, body)
    assert finish(process) == (1, "", f"raspy history: hub.logger.history {message}\n")


def test_a_hub_without_the_history_service_is_told_and_nothing_is_sent(
    router: tuple[Router, str],
) -> None:
    """The broker says no worker serves the history service: the user is pointed at
    what to check on the hub, and no request is sent (it would follow the question
    on the same connection: none has come once that connection has ended)."""
    sock, endpoint = router
    with connections(sock) as watched:
        process = start(endpoint, "hub.fake.attic")
        answer_presence(sock, SERVICE, b"404")
        status, out, err = finish(process)
        # the request would go on the connection that asked: read to its end
        watched.wait_all_ended()
    assert (status, out) == (1, "")
    assert err == (
        "raspy history: no worker serves hub.logger.history now (is [history] enabled"
        " at the hub, and --host its name?): nothing was sent\n"
    )
    assert sock.poll(0) == 0


def test_a_plot_across_a_summer_time_change_keeps_to_the_zones_midnights(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """It drew in the fixed offset of the moment it ran: after Berlin's change from
    UTC+2 to UTC+1 (2026-10-25) every midnight tick stood an hour off, at 23:00 the
    day before (in December the other way round), and the chart named the zone by
    the abbreviation of the day it ran (CET)."""
    sock, endpoint = router
    zone = ZoneInfo("Europe/Berlin")
    start_t = datetime(2026, 10, 22, tzinfo=zone).timestamp()
    points = [[start_t + 3600 * i, 1, 1, 1] for i in range(7 * 24 + 1)]
    chart = tmp_path / "attic.svg"
    process = start(
        endpoint, "hub.fake.attic", "--plot", str(chart), env={"TZ": "Europe/Berlin"}
    )
    answer(sock, {**_reply(points), "since": start_t, "until": points[-1][0]})
    assert finish(process)[0] == 0
    root = ET.fromstring(chart.read_text("utf-8"))  # noqa: S314 -- our own output
    texts = list(root.iter("{http://www.w3.org/2000/svg}text"))
    assert texts[-1].text == "Europe/Berlin"
    dates = [t for t in texts if (t.text or "").startswith("10-")]
    assert [t.text for t in dates] == [f"10-{day}" for day in range(22, 29)]
    width_s = points[-1][0] - start_t
    for day, text in zip(range(22, 29), dates, strict=True):
        at = start_t + (float(text.attrib["x"]) - 64) / (800 - 16 - 64) * width_s
        assert abs(at - datetime(2026, 10, day, tzinfo=zone).timestamp()) < 120


@pytest.mark.parametrize(
    ("tz", "option", "text"),
    [
        ("XST+3:30", "--until", "9999-12-31T23:59"),  # west: past the year 9999
        ("XST-3:30", "--since", "0001-01-01T00:00"),  # east: before the year 1
    ],
)
def test_a_date_at_the_calendars_edge_is_a_usage_error(
    router: tuple[Router, str], tz: str, option: str, text: str
) -> None:
    """It ended in `internal error: OverflowError`, exit 70: the local date in UTC
    lies beyond the calendar datetime holds."""
    _, endpoint = router
    process = start(endpoint, "hub.fake.attic", option, text, env={"TZ": tz})
    assert finish(process) == (
        2,
        "",
        f"raspy history: {option}: expected a duration back from now (24h, 7d), "
        f'epoch seconds or an ISO date, got "{text}"\n',
    )


def test_a_plot_spans_the_range_asked_not_only_its_points(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """A day asked of a sensor recorded for ten minutes was a chart ten minutes
    wide: the time axis is the day (a tick every 3 hours), its points at the end."""
    sock, endpoint = router
    t = T_2026_12_03_13_30_UTC
    chart = tmp_path / "attic.svg"
    process = start(endpoint, "hub.fake.attic", "--plot", str(chart), env={"TZ": "UTC"})
    answer(
        sock,
        {**_reply([[t - 600, 1, 1, 1], [t, 2, 2, 2]]), "since": t - 86400, "until": t},
    )
    assert finish(process)[0] == 0
    root = ET.fromstring(chart.read_text("utf-8"))  # noqa: S314 -- our own output
    axis = [
        e.text
        for e in root.iter("{http://www.w3.org/2000/svg}text")
        if e.attrib.get("y") == "280"
    ]
    assert axis == [
        "15:00",
        "18:00",
        "21:00",
        "12-03",
        "03:00",
        "06:00",
        "09:00",
        "12:00",
    ]


def test_a_plot_of_two_points_a_day_apart_draws_no_line_across_the_day(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """The reply's step says how far apart points are where the data has no gap;
    two alone were judged by their own spacing, and joined."""
    sock, endpoint = router
    t = T_2026_12_03_13_30_UTC
    chart = tmp_path / "attic.svg"
    process = start(endpoint, "hub.fake.attic", "--plot", str(chart), env={"TZ": "UTC"})
    answer(sock, {**_reply([[t - 86400, 1, 1, 1], [t, 2, 2, 2]]), "since": t - 2e5})
    assert finish(process)[0] == 0
    root = ET.fromstring(chart.read_text("utf-8"))  # noqa: S314 -- our own output
    drawn = [e.tag.rpartition("}")[2] for e in root.iter()]
    assert (drawn.count("polyline"), drawn.count("circle")) == (0, 2)


def test_a_plot_into_a_named_pipe_by_a_link_ending_in_svg_is_written_into_it(
    router: tuple[Router, str], tmp_path: Path
) -> None:
    """docs/history.md: a FILE that is a named pipe is written into, not replaced
    by a renamed temporary file; `chart.svg -> the pipe` names its format."""
    sock, endpoint = router
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    chart = tmp_path / "chart.svg"
    chart.symlink_to(pipe)
    process = start(endpoint, "hub.fake.attic", "--plot", str(chart))
    t = T_2026_12_03_13_30_UTC
    answer(sock, _reply([[t, 1, 1, 1], [t + 300, 2, 2, 2]]))
    with pipe.open("rb") as reader:  # waits for the command's open of it
        data = reader.read()
    status, out, err = finish(process)
    assert (status, err) == (0, "")
    assert out == f"{chart}: 2 points\n"
    assert ET.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"  # noqa: S314
    assert chart.is_symlink()
    assert pipe.is_fifo()


def test_a_plot_to_dev_stdout_is_refused_before_the_hub_is_asked(
    router: tuple[Router, str],
) -> None:
    """The suffix is all that says which format: `--plot /dev/stdout` is refused
    (exit 2, one line) before the hub is asked."""
    _, endpoint = router
    process = start(endpoint, "hub.fake.attic", "--plot", "/dev/stdout")
    assert finish(process) == (
        2,
        "",
        "raspy history: --plot: expected a FILE ending in .svg or .png, got "
        '"/dev/stdout"\n',
    )
