"""An input's edge, from gpiozero's thread to the `gpio` service's actor.

gpiozero calls an input's callback on a thread of its own: the callback made here
only tells the actor an InputEdge with the edge's times, and touches nothing of the
actor's state; the actor debounces it on its own thread (raspy.devices.gpio_inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

from raspy.clock import Clock
from raspy.devices.gpio import Notify


@dataclass(frozen=True, slots=True)
class InputEdge:
    """An input changed (gpiozero's thread -> the actor); times of the edge."""

    name: str
    active: bool
    monotonic: float
    wall_ts: float


def notifier(target: pykka.ActorRef[Any], clock: Clock, name: str) -> Notify:
    """The callback of input `name`'s pin: each edge told to `target`, no more."""

    def notify(active: bool) -> None:  # gpiozero's thread: tell, nothing else
        try:
            target.tell(InputEdge(name, active, clock.monotonic(), clock.wall()))
        except pykka.ActorDeadError:
            return

    return notify
