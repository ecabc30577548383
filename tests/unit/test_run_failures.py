"""A scenario's failed runs in its log: a condition that faults at every trigger
(a sensor read every few seconds, away all day) was a `scenario_run_failed` line
each time, thousands a day on an SD card."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from raspy.rules.run_failures import SAY_AGAIN_S, RunFailures, failure_kind

AWAY = "condition 1: temp: no value at /device/pi.fake.temp/value"


def _said(logs: list[MutableMapping[str, Any]]) -> list[tuple[object, ...]]:
    return [
        (e["event"], e.get("reason"), e.get("in_a_row"), e.get("left_out"))
        for e in logs
    ]


def test_a_hundred_identical_failures_log_one_line_until_the_window_ends() -> None:
    failures = RunFailures("fan")
    with capture_logs() as logs:
        for second in range(100):
            failures.failed(AWAY, float(second * 5))  # 500 s: within the window
    assert _said(logs) == [("scenario_run_failed", AWAY, 1, None)]
    assert logs[0]["scenario"] == "fan"


def test_the_same_failure_is_said_again_with_its_count_once_a_window() -> None:
    failures = RunFailures("fan")
    with capture_logs() as logs:
        for second in range(0, 1800, 5):  # half an hour, every 5 s: 360 failures
            failures.failed(AWAY, float(second))
    # at 0, 600 and 1200 s: the lines in between counted
    assert _said(logs) == [
        ("scenario_run_failed", AWAY, 1, None),
        ("scenario_run_failed", AWAY, 121, 119),
        ("scenario_run_failed", AWAY, 241, 119),
    ]
    assert SAY_AGAIN_S == 600.0


def test_a_different_error_is_said_at_once_and_so_is_the_first_one_back() -> None:
    failures = RunFailures("fan")
    other = "condition 1: text and number: cannot compare"
    with capture_logs() as logs:
        failures.failed(AWAY, 0.0)
        failures.failed(AWAY, 1.0)
        failures.failed(other, 2.0)
        failures.failed(AWAY, 3.0)
    assert _said(logs) == [
        ("scenario_run_failed", AWAY, 1, None),
        ("scenario_run_failed", other, 3, 1),
        ("scenario_run_failed", AWAY, 4, None),
    ]


def test_a_failure_whose_text_holds_a_changing_reading_is_one_failure() -> None:
    """The bound is per kind of failure, not per text: a reading in the reason (a
    comparison that faults at each new value) does not make each run a new line."""
    failures = RunFailures("fan")

    def compared(reading: float) -> str:
        return f"condition 1: cannot compare {reading} > 'warm'"

    with capture_logs() as logs:
        for step in range(100):  # 500 s: within the window
            failures.failed(compared(20.0 + step / 10), float(step * 5))
        failures.failed(AWAY, 501.0)  # another failure: said at once
    assert _said(logs) == [
        ("scenario_run_failed", compared(20.0), 1, None),
        ("scenario_run_failed", AWAY, 101, 99),
    ]


def test_the_kind_of_a_failure_folds_numbers_standing_alone_only() -> None:
    """A number that is part of a name (a device `relay2`, `sensor.12`, a key's
    `/devices/1/temp`, a URL's host) or a condition's own number says which one
    failed; a reading, a time or an address and port standing alone does not."""
    assert failure_kind(
        "http GET http://192.168.1.5:40123/x: timed out at 12:30:05 after 1.5s"
    ) == ("http GET http://192.168.1.5:40123/x: timed out at # after #s")
    assert failure_kind("no route to 10.0.0.5:8080, 21.5°C, 5min.") == (
        "no route to #, #°C, #min."
    )
    assert failure_kind("got 1.2e-05 and 1e400 at 5km/h") == "got # and # at #km/h"
    assert failure_kind("condition 2: cannot compare -3.25 > 'a'") == (
        "condition 2: cannot compare # > 'a'"
    )
    assert failure_kind("device pi.relay2: on answered 500") == (
        "device pi.relay2: on answered #"
    )
    assert failure_kind("device pi.relay2: x") != failure_kind("device pi.relay3: x")
    # a name's (or a condition's) number of two digits is whole too: not `relay2#`
    assert failure_kind("device pi.relay22: x") != failure_kind("device pi.relay23: x")
    assert failure_kind("condition 12: x") == "condition 12: x"
    # a number in a key, after a dot or a dash, names a device too
    for one, other in (
        ('key "/devices/1/temp"', 'key "/devices/2/temp"'),
        ("device pi.sensor.12", "device pi.sensor.13"),
        ("device pi.relay-2", "device pi.relay-3"),
    ):
        assert failure_kind(one) == one
        assert failure_kind(one) != failure_kind(other)


@given(
    text=st.text(max_size=80),
    one=st.floats(-1000, 1000, allow_nan=False),
    other=st.floats(-1000, 1000, allow_nan=False),
)
def test_readings_written_alike_are_one_kind_and_folding_twice_changes_nothing(
    text: str, one: float, other: float
) -> None:
    assert failure_kind(failure_kind(text)) == failure_kind(text)
    said = "condition 1: cannot compare {:.1f} > 'warm' at {}"
    assert failure_kind(said.format(one, "12:30")) == failure_kind(
        said.format(other, "07:05")
    )
    # as Python writes a float (`1e-05`, `-3.5e+20`), as a reading comes
    said = "condition 1: cannot compare {!r} > 'warm'"
    assert failure_kind(said.format(one)) == failure_kind(said.format(other))


def test_a_success_after_failures_is_said_once_and_the_next_failure_at_once() -> None:
    failures = RunFailures("fan")
    with capture_logs() as logs:
        for second in range(100):
            failures.failed(AWAY, float(second))
        failures.succeeded()
        failures.succeeded()  # no streak: nothing to say
        failures.failed(AWAY, 101.0)
    assert [(e["event"], e.get("failures")) for e in logs] == [
        ("scenario_run_failed", None),
        ("scenario_run_recovered", 100),
        ("scenario_run_failed", None),
    ]
    assert logs[-1]["in_a_row"] == 1


def test_a_success_without_failures_says_nothing() -> None:
    with capture_logs() as logs:
        RunFailures("fan").succeeded()
    assert logs == []
