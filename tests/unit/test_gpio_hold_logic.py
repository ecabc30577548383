"""A switch's change held by min_on_s / min_off_s, the pure part (gpio_logic.decide):
what each command does, and a hypothesis state machine of a switch driven by commands
at random times with the alarm firing at each deadline: the latest command wins, and
no switch ever comes sooner than its limit. Time is passed in by hand."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from raspy.devices.gpio_logic import (
    Deadlines,
    Decision,
    Hold,
    Verdict,
    decide,
    heading_to,
    hold_left_s,
)
from raspy.devices.template import JsonValue

EARLY_ON = "off for 40s of min_off_s 300s: on in 260s"


def _decide(
    command: str, value: JsonValue, on: bool, pending: bool | None, now: float
) -> Decision | None:
    """A switch on (off) since 1000.0, min_on_s 60, min_off_s 300."""
    return decide(
        command,
        value,
        on=on,
        since=1000.0,
        pending=pending,
        min_on_s=60.0,
        min_off_s=300.0,
        now=now,
    )


def test_an_on_too_soon_is_held_until_min_off_s_ends_saying_when() -> None:
    """The freezer's thermostat: `on` 40 s after the compressor stopped is not
    dropped (no second `on` comes: a trigger fires on a crossing) but held."""
    held = Decision(Verdict.HOLD, Hold(True, 1300.0, 260.0, EARLY_ON))
    assert [
        _decide(command, value, False, None, 1040.0)
        for command, value in (("on", None), ("toggle", None), ("state", True))
    ] == [held] * 3
    assert held.hold is not None
    assert held.hold.as_json() == {"state": True, "in_s": 260.0, "detail": EARLY_ON}


def test_a_second_on_keeps_the_time_of_the_first() -> None:
    """The time runs from the last change of the pin, not from the command."""
    again = _decide("on", None, False, True, 1100.0)
    assert again == Decision(
        Verdict.HOLD,
        Hold(True, 1300.0, 200.0, "off for 100s of min_off_s 300s: on in 200s"),
    )


@pytest.mark.parametrize(
    ("command", "value", "on", "pending", "expected"),
    [
        ("off", None, False, True, Verdict.CANCEL),  # off while off, on pending
        ("state", False, False, True, Verdict.CANCEL),
        ("toggle", None, False, True, Verdict.CANCEL),  # flips where it is headed
        ("on", None, True, False, Verdict.CANCEL),  # on while on, off pending
        ("off", None, False, None, Verdict.NOW),  # as before: changes nothing
        ("on", None, True, None, Verdict.NOW),
    ],
    ids=["off", "state-false", "toggle", "on-while-on", "off-plain", "on-plain"],
)
def test_a_command_to_the_state_the_switch_has_drops_what_was_held(
    command: str, value: JsonValue, on: bool, pending: bool | None, expected: Verdict
) -> None:
    assert _decide(command, value, on, pending, 1010.0) == Decision(expected)


def test_a_switch_may_go_once_its_limit_is_up_and_other_commands_are_not_decided() -> (
    None
):
    assert [
        _decide("on", None, False, None, 1300.0),  # off for 300 s
        _decide("on", None, False, True, 1300.0),  # held, and due: now
        _decide("off", None, True, None, 1060.0),  # on for 60 s
        _decide("state", None, False, None, 1000.0),  # a read
        _decide("off", True, False, None, 1000.0),  # a 400 elsewhere
        _decide("level", 40, False, None, 1000.0),
    ] == [Decision(Verdict.NOW)] * 3 + [None] * 3


@pytest.mark.parametrize(
    ("command", "value", "on", "pending", "expected"),
    [
        ("toggle", None, False, None, True),
        ("toggle", None, False, True, False),
        ("toggle", None, True, False, True),
        ("on", None, False, True, True),
        ("state", True, True, None, True),
        ("state", "yes", True, None, None),
        ("up", None, True, None, None),
    ],
)
def test_toggle_flips_the_state_a_switch_is_headed_for(
    command: str, value: JsonValue, on: bool, pending: bool | None, expected: bool
) -> None:
    assert heading_to(command, value, on, pending) == expected


def test_the_wait_left_is_never_below_zero_nor_above_the_limit() -> None:
    assert [
        hold_left_s(False, 1000.0, 60.0, 300.0, 1040.0),
        hold_left_s(False, 1000.0, 60.0, 300.0, 1400.0),
        hold_left_s(True, 1000.0, 60.0, 300.0, 990.0),  # a since ahead: from now
        hold_left_s(True, 1000.0, 0.0, 300.0, 1000.0),  # 0: no limit
    ] == [260.0, 0.0, 60.0, 0.0]


def test_deadlines_replace_and_forget() -> None:
    deadlines = Deadlines()
    deadlines.set("fan", 20.0)
    deadlines.set("pump", 10.0)
    deadlines.set("pump", 30.0)  # replaced: 10 no longer counts
    deadlines.forget("fan")
    assert (deadlines.next_deadline(), deadlines.due(25.0), deadlines.due(30.0)) == (
        30.0,
        [],
        ["pump"],
    )
    assert deadlines.next_deadline() is None


# ---------------------------------------------------------------- the machine

COMMANDS = st.sampled_from(
    [("on", None), ("off", None), ("toggle", None), ("state", True), ("state", False)]
)


class HeldSwitchMachine(RuleBasedStateMachine):
    """A switch as the gpio service drives it: commands decided by decide(), a held
    change carried out at its deadline as the service's alarm does (Deadlines),
    and raspy's own switch-offs (max_on_s, reset), which drop what was held."""

    @initialize(
        min_on_s=st.sampled_from([0.0, 0.5, 60.0]),
        min_off_s=st.sampled_from([0.0, 1.0, 300.0]),
    )
    def start(self, min_on_s: float, min_off_s: float) -> None:
        self.min_on_s, self.min_off_s = min_on_s, min_off_s
        self.now = 1000.0
        self.on, self.since = False, self.now
        self.pending: bool | None = None
        self.deadlines = Deadlines()
        self.latest: bool | None = None  # the state the latest command asked for
        self.due_at: float | None = None  # of the change held

    def _switch(self, on: bool, at: float, *, forced: bool = False) -> None:
        if on != self.on:
            limit_s = self.min_on_s if self.on else self.min_off_s
            assert forced or at - self.since >= limit_s - 1e-9, "switched too soon"
            self.on, self.since = on, at
        self.pending, self.due_at = None, None
        self.deadlines.forget("switch")

    @rule(command=COMMANDS)
    def command(self, command: tuple[str, JsonValue]) -> None:
        name, value = command
        self.latest = heading_to(name, value, self.on, self.pending)
        decision = decide(
            name,
            value,
            on=self.on,
            since=self.since,
            pending=self.pending,
            min_on_s=self.min_on_s,
            min_off_s=self.min_off_s,
            now=self.now,
        )
        assert decision is not None
        if decision.verdict is Verdict.HOLD:
            hold = decision.hold
            assert hold is not None
            if self.pending is not None:  # asked again: the time does not restart
                assert hold.due == pytest.approx(self.due_at)
            assert 0.0 < hold.due - self.now <= hold.in_s + 1e-9  # said rounded up
            self.pending, self.due_at = hold.state, hold.due
            self.deadlines.set("switch", hold.due)
        elif decision.verdict is Verdict.CANCEL:
            assert self.pending is not None
            self._switch(self.on, self.now)
        else:
            assert self.latest is not None
            self._switch(self.latest, self.now)

    @rule(seconds=st.sampled_from([0.001, 0.3, 1.0, 30.0, 299.0, 400.0]))
    def time_passes(self, seconds: float) -> None:
        """The alarm fires at the deadline, not later, whatever the step."""
        deadline = self.deadlines.next_deadline()
        end = self.now + seconds
        if deadline is not None and deadline <= end:
            assert self.deadlines.due(deadline) == ["switch"]
            assert self.pending is not None
            self.now = deadline
            self._switch(self.pending, deadline)
        self.now = end

    @rule()
    def switched_off_by_raspy(self) -> None:
        """max_on_s or reset: never held, and what was held is dropped."""
        self._switch(False, self.now, forced=True)
        self.latest = None

    @invariant()
    def the_latest_command_wins(self) -> None:
        """The switch is headed for what the latest command asked: it is there,
        or it is held to go there by itself."""
        if not hasattr(self, "on"):
            return
        heading = self.on if self.pending is None else self.pending
        if self.latest is not None:
            assert heading == self.latest
        assert self.pending is None or self.pending != self.on
        assert (self.pending is None) == (self.deadlines.next_deadline() is None)


HeldSwitchMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None
)
test_held_switch_machine = HeldSwitchMachine.TestCase
