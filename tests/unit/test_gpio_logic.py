"""The pure parts of GPIO devices: debouncing, the max-on timer, the state at start
(issue 12), the shortest time on or off. Time is passed in by hand."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices.gpio_logic import (
    MIN_HOLD_LIMIT_S,
    MIN_WINDOW_S,
    Debounce,
    Initial,
    OnTimer,
    initial_level,
    too_soon,
)
from raspy.devices.template import JsonValue


def test_a_bouncing_contact_gives_one_change_at_its_first_edge() -> None:
    debounce = Debounce(reported=False)
    reported = [
        debounce.on_edge(active, 0.02, now)
        for active, now in ((True, 10.000), (False, 10.002), (True, 10.004))
    ]
    assert reported == [True, None, None]
    assert debounce.settle_at() == pytest.approx(10.02)
    assert debounce.on_settle(0.02, 10.02) is None  # it ended where it was reported


def test_the_level_after_the_bounce_window_is_reported_if_it_differs() -> None:
    """A short press: down and up within the window; the release is not lost."""
    debounce = Debounce(reported=False)
    assert debounce.on_edge(True, 0.05, 1.0) is True
    assert debounce.on_edge(False, 0.05, 1.01) is None
    assert debounce.on_settle(0.05, 1.04) is None  # the window has not ended
    assert debounce.on_settle(0.05, 1.05) is False
    assert debounce.settle_at() is None


def test_without_a_bounce_time_every_change_a_window_apart_is_reported() -> None:
    debounce = Debounce(reported=False)
    gap = MIN_WINDOW_S
    edges = [(True, 1.0), (False, 1.0 + gap), (True, 1.0 + 2 * gap), (True, 2.0)]
    assert [debounce.on_edge(a, 0.0, t) for a, t in edges] == [True, False, True, None]


def test_a_floating_pin_is_held_to_one_change_a_window_and_ends_at_its_level() -> None:
    """bounce_time_s = 0 and a pin that chatters at 1 kHz: every edge was a tree
    write, a Clone update and a history sample."""
    debounce = Debounce(reported=False)
    reported: list[bool] = []
    now = 0.0
    for n in range(1, 1001):  # one second of edges, 1 ms apart
        now = n / 1000
        for out in (
            debounce.on_settle(0.0, now),
            debounce.on_edge(n % 2 == 1, 0.0, now),
        ):
            if out is not None:
                reported.append(out)
    settle_at = debounce.settle_at()
    if settle_at is not None:
        last = debounce.on_settle(0.0, settle_at)
        if last is not None:
            reported.append(last)
    assert len(reported) <= 2 / MIN_WINDOW_S + 1
    assert reported[-1] is False  # the 1000th edge: inactive


def test_an_edge_to_the_level_already_reported_is_not_a_change() -> None:
    debounce = Debounce(reported=True)
    assert debounce.on_edge(True, 0.02, 5.0) is None
    assert debounce.settle_at() is None


@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(min_value=0.0, max_value=0.1)),
        max_size=40,
    ),
    st.floats(min_value=0.0, max_value=0.05),
)
def test_debounce_reports_only_changes_and_ends_at_the_last_level(
    edges: list[tuple[bool, float]], bounce_s: float
) -> None:
    debounce = Debounce(reported=False)
    now, last, reported = 0.0, False, [False]
    for active, gap_s in edges:
        now += gap_s
        last = active
        for value in (
            debounce.on_settle(bounce_s, now),
            debounce.on_edge(active, bounce_s, now),
        ):
            if value is not None:
                assert value != reported[-1]
                reported.append(value)
    settled = debounce.on_settle(bounce_s, now + bounce_s + 1.0)
    if settled is not None:
        reported.append(settled)
    assert reported[-1] == last


def test_an_output_is_due_off_after_max_on_s_and_a_second_on_does_not_extend_it() -> (
    None
):
    timer = OnTimer()
    timer.switched("heater", True, 30.0, now=100.0)
    timer.switched("heater", True, 30.0, now=120.0)
    assert timer.next_deadline() == 130.0
    assert timer.due(129.9) == []
    assert timer.due(130.0) == ["heater"]
    assert timer.due(200.0) == []
    assert timer.next_deadline() is None


def test_switching_off_or_no_limit_cancels_the_deadline() -> None:
    timer = OnTimer()
    timer.switched("pump", True, 10.0, now=0.0)
    timer.switched("pump", False, 10.0, now=5.0)
    timer.switched("fan", True, 0.0, now=0.0)  # 0: no limit
    assert (timer.next_deadline(), timer.due(1000.0)) == (None, [])
    timer.switched("pump", True, 10.0, now=20.0)  # a new deadline after an off
    assert timer.due(30.0) == ["pump"]


@pytest.mark.parametrize(
    ("initial", "stored", "full", "expected"),
    [
        (Initial.OFF, True, 1, 0),
        (Initial.ON, None, 1, 1),
        (Initial.ON, None, 100, 100),
        (Initial.RESTORE, True, 1, 1),
        (Initial.RESTORE, False, 1, 0),
        (Initial.RESTORE, 40, 100, 40),
        (Initial.RESTORE, None, 1, 0),  # nothing stored: off
        (Initial.RESTORE, 140, 100, 0),  # out of range: off
        (Initial.RESTORE, "on", 1, 0),
    ],
    ids=["off", "on", "on-dimmer", "restore-on", "restore-off", "restore-level",
         "restore-nothing", "restore-out-of-range", "restore-garbage"],
)  # fmt: skip
def test_initial_level_is_off_on_or_the_stored_state(
    initial: Initial, stored: JsonValue, full: int, expected: int
) -> None:
    assert initial_level(initial, stored, full) == expected


@pytest.mark.parametrize(
    ("on", "since", "now", "expected"),
    [
        (False, 1000.0, 1040.0, "off for 40s of min_off_s 300s: on in 260s"),
        (False, 1000.0, 1299.95, "off for 299.9s of min_off_s 300s: on in 0.1s"),
        (False, 1000.0, 1300.0, None),  # off for min_off_s: it may go on
        (True, 1000.0, 1000.0, "on for 0s of min_on_s 60s: off in 60s"),
        (True, 1000.0, 1059.99, "on for 59.9s of min_on_s 60s: off in 0.1s"),
        (True, 1000.0, 1060.0, None),
        (True, 1000.0, 990.0, "on for 0s of min_on_s 60s: off in 60s"),  # a clock gone back
    ],
    ids=["off-early", "off-just-before", "off-long-enough", "on-at-once",
         "on-just-before", "on-long-enough", "since-ahead"],
)  # fmt: skip
def test_a_switch_sooner_than_the_minimum_is_refused_saying_how_long_is_left(
    on: bool, since: float, now: float, expected: str | None
) -> None:
    assert too_soon(on, since, 60.0, 300.0, now) == expected


def test_a_minimum_of_zero_never_holds_an_output() -> None:
    assert (
        too_soon(True, 5.0, 0.0, 300.0, 5.0),
        too_soon(False, 5.0, 60.0, 0.0, 5.0),
    ) == (
        None,
        None,
    )


_SAID = re.compile(
    r"(on|off) for ([0-9.]+)s of (min_on_s|min_off_s) ([0-9.e+-]+)s: (on|off) in ([0-9.]+)s"
)


@given(
    st.booleans(),
    st.floats(0.0, 1e6),
    st.floats(0.0, 1e6),
    st.floats(0.0, MIN_HOLD_LIMIT_S),
    st.floats(0.0, MIN_HOLD_LIMIT_S),
)
def test_an_output_is_held_exactly_until_its_minimum_and_the_reason_says_so(
    on: bool, since: float, now: float, min_on_s: float, min_off_s: float
) -> None:
    """Refused while it has been on (off) for less than its minimum, never after;
    the reason never says more time has passed, nor less is left, than is true."""
    reason = too_soon(on, since, min_on_s, min_off_s, now)
    limit_s = min_on_s if on else min_off_s
    held_s = max(0.0, now - since)
    assert (reason is None) == (held_s >= limit_s)
    if reason is None:
        return
    said = _SAID.fullmatch(reason)
    assert said is not None, reason
    state, held, field, limit, to, left = said.groups()
    assert (state, field, to) == (
        ("on", "min_on_s", "off") if on else ("off", "min_off_s", "on")
    )
    assert float(limit) == pytest.approx(limit_s, rel=1e-5)
    assert 0.0 <= float(held) <= held_s + 1e-6
    assert float(left) > 0.0
    assert float(left) >= limit_s - held_s - 1e-4
    assert float(left) <= limit_s - held_s + 0.1 + 1e-4 or float(left) == 0.1
