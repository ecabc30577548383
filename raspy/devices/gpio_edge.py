"""An input's edge, from gpiozero's thread to the `gpio` service's actor.

gpiozero calls an input's callback on a thread of its own: the callback made here
only tells the actor an InputEdge with the edge's times, and touches nothing of the
actor's state; the actor debounces it on its own thread (raspy.devices.gpio_inputs).
"""

from __future__ import annotations

from collections.abc import Callable

from raspy.clock import Clock
from raspy.devices.gpio_binary import Notify
from raspy.records import frozen


@frozen
class InputEdge:
    """An input changed (gpiozero's thread -> the actor); times of the edge."""

    name: str
    active: bool
    monotonic: float
    wall_ts: float


def notifier(tell: Callable[[InputEdge], None], clock: Clock, name: str) -> Notify:
    """The callback of input `name`'s pin: each edge given to `tell` (the actor's,
    which passes over an actor already stopped), no more."""

    def notify(active: bool) -> None:  # gpiozero's thread: tell, nothing else
        tell(InputEdge(name, active, clock.monotonic(), clock.wall()))

    return notify
