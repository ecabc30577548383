"""A button's gestures: a single, a double and a long press told apart (pure).

The `gpio` service feeds each debounced press and release of a button into its
Gestures, with the time (monotonic s); what comes back is to be published now, and
deadline() says when due() has something to decide (the service's alarm). No clock,
no thread, no pin: the tests drive time by hand.

The rules, as common wall-button firmware has them (a double press is measured from
the first press's release: a slow first press leaves the second the whole window):
- `long_press_s` > 0: a press held that long is `long`, said at that moment, while
  still held; it is then neither a `single` nor the first of a `double`.
- `double_press_s` > 0: a press that starts sooner than that after the release of a
  short one makes the two a `double`, said as the second starts (holding it on
  makes nothing more); a short press that no second follows in time is a `single`,
  said when the window ends.
- Only `long_press_s`: a short press is a `single` at its release.
- Neither: nothing (the service's `pressed` says every press, as before).
One press never makes two gestures; a press or release out of turn (the first
edge seen may be a release: a button held while the service started) makes none.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from raspy.records import frozen


class Gesture(StrEnum):
    """What a button was seen to do; also the last level of its event key."""

    SINGLE = "single"
    DOUBLE = "double"
    LONG = "long"


@frozen
class Timing:
    """A button's options: 0 turns a gesture off."""

    double_press_s: float = 0.0
    long_press_s: float = 0.0

    @property
    def off(self) -> bool:
        return self.double_press_s <= 0 and self.long_press_s <= 0


class _Phase(Enum):
    IDLE = "idle"  # nothing under way
    DOWN = "down"  # a first press, held, not yet long
    WAITING = "waiting"  # a short press released: a second may make a double
    SPENT = "spent"  # held after its gesture (long, or a double's second press)


class Gestures:
    """One button's state machine: see the module docstring."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self._phase = _Phase.IDLE
        self._since = 0.0  # DOWN: the press's start; WAITING: its release

    def press(self, now: float) -> list[Gesture]:
        """The button went down at `now`: the gestures to publish now."""
        out = self.due(now)  # a window or a hold that ended before this edge
        timing = self.timing
        if self._phase is _Phase.WAITING:
            self._phase = _Phase.SPENT
            return [*out, Gesture.DOUBLE]
        if timing.off:
            self._phase = _Phase.IDLE
            return out
        # IDLE; or DOWN / SPENT with no release seen: that press makes nothing more
        self._phase, self._since = _Phase.DOWN, now
        return out

    def release(self, now: float) -> list[Gesture]:
        """The button went up at `now`: the gestures to publish now."""
        out = self.due(now)  # a long press whose alarm came after the release
        if self._phase is not _Phase.DOWN:
            self._phase = _Phase.IDLE if self._phase is _Phase.SPENT else self._phase
            return out
        if self.timing.double_press_s > 0:
            self._phase, self._since = _Phase.WAITING, now
            return out
        self._phase = _Phase.IDLE
        return [*out, Gesture.SINGLE]  # long_press_s only: a short press

    def deadline(self) -> float | None:
        """When due() has something to decide (monotonic s), or None."""
        if self._phase is _Phase.DOWN and self.timing.long_press_s > 0:
            return self._since + self.timing.long_press_s
        if self._phase is _Phase.WAITING:
            return self._since + self.timing.double_press_s
        return None

    def due(self, now: float) -> list[Gesture]:
        """The gestures whose time came by `now` (the service's alarm)."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        if self._phase is _Phase.DOWN:
            self._phase = _Phase.SPENT
            return [Gesture.LONG]
        self._phase = _Phase.IDLE
        return [Gesture.SINGLE]


class Buttons:
    """The Gestures of a service's buttons by device name: those with an option on
    (the `gpio` service's alarm asks next_deadline() and due())."""

    def __init__(self) -> None:
        self._by_name: dict[str, Gestures] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def start(self, name: str, timing: Timing) -> None:
        """From nothing under way: an input read at its start, or read again."""
        if timing.off:
            self._by_name.pop(name, None)
        else:
            self._by_name[name] = Gestures(timing)

    def retime(self, name: str, timing: Timing) -> bool:
        """New options: started again (a press under way dropped, with nothing
        said) unless they are the ones it has. True if it was."""
        current = self._by_name.get(name)
        if timing == (Timing() if current is None else current.timing):
            return False
        self.start(name, timing)
        return True

    def edge(self, name: str, active: bool, now: float) -> list[Gesture]:
        """A debounced press (`active`) or release of `name` at `now`."""
        gestures = self._by_name.get(name)
        if gestures is None:
            return []
        return gestures.press(now) if active else gestures.release(now)

    def due(self, now: float) -> list[tuple[str, Gesture]]:
        """(name, gesture) of each gesture whose time came by `now`."""
        return [
            (name, gesture)
            for name, gestures in self._by_name.items()
            for gesture in gestures.due(now)
        ]

    def next_deadline(self) -> float | None:
        deadlines = [g.deadline() for g in self._by_name.values()]
        return min((d for d in deadlines if d is not None), default=None)
