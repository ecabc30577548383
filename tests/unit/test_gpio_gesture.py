"""A button's gestures (raspy.devices.gpio_gesture): single, double and long presses
told apart from presses, releases and the time, passed in by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices.gpio_gesture import Buttons, Gesture, Gestures, Timing

pytestmark = pytest.mark.timeout(60)

BOTH = Timing(double_press_s=0.5, long_press_s=1.5)


def test_a_short_press_is_a_single_once_the_window_after_its_release_ends() -> None:
    gestures = Gestures(BOTH)
    assert gestures.press(10.0) == []
    assert gestures.deadline() == 11.5  # a long press, if it is held
    assert gestures.release(10.2) == []
    assert gestures.deadline() == pytest.approx(10.7)
    assert gestures.due(10.69) == []
    assert gestures.due(10.7) == [Gesture.SINGLE]
    assert gestures.deadline() is None


def test_a_second_press_within_the_window_is_a_double_said_as_it_starts() -> None:
    gestures = Gestures(BOTH)
    gestures.press(10.0)
    gestures.release(10.4)  # a slow first press still leaves the whole window
    assert gestures.press(10.85) == [Gesture.DOUBLE]
    assert gestures.deadline() is None  # held on: no long, no single
    assert gestures.due(20.0) == []
    assert gestures.release(20.0) == []
    assert gestures.due(30.0) == []


def test_a_press_at_the_end_of_the_window_is_a_single_then_a_new_press() -> None:
    gestures = Gestures(BOTH)
    gestures.press(10.0)
    gestures.release(10.1)
    assert gestures.press(10.6) == [Gesture.SINGLE]  # its alarm not yet come
    assert gestures.release(10.7) == []
    assert gestures.due(11.2) == [Gesture.SINGLE]


def test_a_press_held_long_is_long_while_held_and_nothing_else() -> None:
    gestures = Gestures(BOTH)
    gestures.press(10.0)
    assert gestures.due(11.49) == []
    assert gestures.due(11.5) == [Gesture.LONG]
    assert gestures.deadline() is None
    assert gestures.release(13.0) == []
    assert gestures.press(13.2) == []  # a new first press, not a double
    assert gestures.release(13.3) == []
    assert gestures.due(13.8) == [Gesture.SINGLE]


def test_a_release_after_the_hold_whose_alarm_is_late_is_still_long() -> None:
    gestures = Gestures(BOTH)
    gestures.press(10.0)
    assert gestures.release(11.6) == [Gesture.LONG]
    assert gestures.due(20.0) == []


def test_with_long_press_s_only_a_short_press_is_a_single_at_its_release() -> None:
    gestures = Gestures(Timing(long_press_s=1.0))
    gestures.press(1.0)
    assert gestures.release(1.3) == [Gesture.SINGLE]
    gestures.press(1.4)  # soon after: no double without double_press_s
    assert gestures.due(2.4) == [Gesture.LONG]
    assert gestures.release(3.0) == []


def test_with_double_press_s_only_a_press_held_any_time_is_a_single() -> None:
    gestures = Gestures(Timing(double_press_s=0.4))
    gestures.press(1.0)
    assert gestures.deadline() is None
    assert gestures.release(9.0) == []
    assert gestures.due(9.4) == [Gesture.SINGLE]


def test_with_neither_option_nothing_is_ever_said() -> None:
    gestures = Gestures(Timing())
    for t in (1.0, 1.1, 1.2, 1.3):
        assert gestures.press(t) == []
        assert gestures.release(t + 0.05) == []
    assert gestures.deadline() is None


def test_a_release_first_a_button_held_at_start_makes_nothing() -> None:
    gestures = Gestures(BOTH)
    assert gestures.release(5.0) == []
    assert gestures.deadline() is None
    assert gestures.press(5.1) == []  # a first press, after it
    assert gestures.release(5.2) == []
    assert gestures.due(5.7) == [Gesture.SINGLE]


# --- any sequence of edges and times ----------------------------------------------


@dataclass
class _Button:
    """The presses as they happened, and which press each gesture is for."""

    timing: Timing
    down: bool = False
    starts: list[float] = field(default_factory=list)  # each press's start
    releases: dict[int, float] = field(default_factory=dict)  # press -> its release
    claimed: set[int] = field(default_factory=set)

    def claim(self, press: int) -> None:
        assert press not in self.claimed, f"press {press} made two gestures"
        self.claimed.add(press)

    def said(self, gesture: Gesture, now: float) -> None:
        timing, last = self.timing, len(self.starts) - 1
        if gesture is Gesture.LONG:
            assert timing.long_press_s > 0
            start = self.starts[last]
            assert now - start >= timing.long_press_s  # only after the hold
            assert self.releases.get(last, now) >= start + timing.long_press_s
            self.claim(last)
        elif gesture is Gesture.DOUBLE:
            assert timing.double_press_s > 0
            first = last - 1
            assert self.starts[last] == now
            released = self.releases[first]
            assert 0 <= now - released < timing.double_press_s  # within the window
            self.claim(first)
            self.claim(last)
        else:  # the press last released, short, with no second one in time
            press = max(self.releases)
            held = self.releases[press] - self.starts[press]
            assert timing.long_press_s <= 0 or held < timing.long_press_s
            assert now - self.releases[press] >= timing.double_press_s
            self.claim(press)


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["press", "release", "tick"]),
        st.floats(min_value=0.0, max_value=3.0, allow_nan=False),
    ),
    max_size=40,
)
_TIMINGS = st.builds(
    Timing,
    double_press_s=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    long_press_s=st.sampled_from([0.0, 0.5, 1.5]),
)


@given(_TIMINGS, _STEPS)
def test_any_edges_give_at_most_one_gesture_a_press_each_when_it_may(
    timing: Timing, steps: list[tuple[str, float]]
) -> None:
    """Presses and releases in any order (a missed edge too), the alarm at any time:
    never two gestures for one press, `long` only after the hold, `double` only
    within the window after a release, `single` only once that window ended."""
    gestures, button, now = Gestures(timing), _Button(timing), 100.0
    for what, step_s in steps:
        now += step_s
        if what == "tick":
            _check(button, gestures.due(now), now)
        elif what == "press":
            said = gestures.press(now)
            double = [g for g in said if g is Gesture.DOUBLE]
            _check(button, [g for g in said if g is not Gesture.DOUBLE], now)
            if button.down:  # a press with no release seen: it makes no more
                button.claimed.add(len(button.starts) - 1)
            button.starts.append(now)
            button.down = True
            _check(button, double, now)
        else:
            if button.down:
                button.releases[len(button.starts) - 1] = now
                button.down = False
            _check(button, gestures.release(now), now)


def _check(button: _Button, said: Sequence[Gesture], now: float) -> None:
    assert len(said) <= 1
    for gesture in said:
        button.said(gesture, now)


@given(
    _TIMINGS.filter(lambda t: not t.off),
    st.lists(st.floats(min_value=0.01, max_value=3.0), min_size=2, max_size=30),
)
def test_every_press_makes_exactly_one_gesture_in_the_end(
    timing: Timing, gaps: list[float]
) -> None:
    """Presses and releases in turn, the alarm kept on time, the end waited for:
    each press is a single, a long, or half of a double."""
    gestures, now, presses = Gestures(timing), 0.0, 0
    counts = dict.fromkeys(Gesture, 0)

    def run_to(until: float) -> None:
        while (deadline := gestures.deadline()) is not None and deadline <= until:
            for gesture in gestures.due(deadline):
                counts[gesture] += 1

    for index, gap in enumerate(gaps):
        run_to(now + gap)
        now += gap
        edge = gestures.press if index % 2 == 0 else gestures.release
        presses += index % 2 == 0
        for gesture in edge(now):
            counts[gesture] += 1
    if len(gaps) % 2:  # the last press is released
        now += 0.01
        for gesture in gestures.release(now):
            counts[gesture] += 1
    run_to(now + 100.0)
    assert gestures.deadline() is None
    made = counts[Gesture.SINGLE] + counts[Gesture.LONG] + 2 * counts[Gesture.DOUBLE]
    assert made == presses


def test_buttons_start_afresh_only_when_their_options_change() -> None:
    """A config change over MDP that leaves the gesture options as they were (a
    friendly name) keeps a press under way; new options drop it, unsaid."""
    buttons = Buttons()
    buttons.start("bell", BOTH)
    buttons.start("door", Timing())
    assert "bell" in buttons
    assert "door" not in buttons
    assert buttons.edge("door", True, 1.0) == []
    assert buttons.edge("bell", True, 1.0) == []
    assert not buttons.retime("bell", BOTH)
    assert not buttons.retime("door", Timing())
    assert buttons.next_deadline() == 2.5
    assert buttons.due(2.5) == [("bell", Gesture.LONG)]
    buttons.edge("bell", False, 3.0)
    buttons.edge("bell", True, 4.0)
    assert buttons.retime("bell", Timing(long_press_s=1.0))
    assert buttons.next_deadline() is None  # the press under way: dropped
    assert buttons.edge("bell", False, 9.0) == []
    assert buttons.retime("bell", Timing())
    assert "bell" not in buttons
    assert buttons.retime("door", Timing(double_press_s=0.3))
    assert buttons.edge("door", True, 10.0) == []
    assert buttons.edge("door", False, 10.1) == []
    assert buttons.due(10.4) == [("door", Gesture.SINGLE)]
