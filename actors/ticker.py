"""A thread that tells an actor Tick when its next deadline has come.

An actor cannot sleep in its message loop without delaying its messages, so the
waiting happens here: the actor says set(deadline) after each turn (monotonic s on
its clock), and gets Tick once that time is reached. The clock is re-read at least
every _MAX_WAIT_S, so a test's FakeClock moving forward is seen.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import pykka

from raspy.actors import messages as msgs
from raspy.clock import Clock

_MAX_WAIT_S: Final = 0.25


class DeadlineTicker:
    """Tells `ref` Tick once `clock` reaches the deadline given last to set()."""

    def __init__(self, ref: pykka.ActorRef[Any], clock: Clock, *, name: str) -> None:
        self._ref = ref
        self._clock = clock
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set(self, deadline: float | None) -> None:
        with self._cond:
            earlier = deadline is not None and (
                self._deadline is None or deadline < self._deadline
            )
            self._deadline = deadline
            if earlier:
                self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while self._wait_due():
            try:
                self._ref.tell(msgs.Tick())
            except pykka.ActorDeadError:
                return

    def _wait_due(self) -> bool:
        with self._cond:
            while not self._stopped:
                deadline = self._deadline
                if deadline is None:
                    self._cond.wait(_MAX_WAIT_S)
                    continue
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    self._deadline = None  # the actor sets the next one
                    return True
                self._cond.wait(min(remaining, _MAX_WAIT_S))
            return False
