"""Threads that tell actors Tick at their deadlines: an actor cannot sleep in its
message loop without delaying its messages, so the waiting happens here.

SharedTicker: one thread and one heap for many actors (a ticker thread per scenario
would wake hundreds of threads for nothing). DeadlineTicker: the same for one actor,
on a thread of its own. Each actor has at most one deadline (monotonic s on the
clock): set() replaces it, and after its Tick the actor sets the next one.

An idle wake-up costs on a Pi, so the thread sleeps until the earliest deadline (or
until set() gives an earlier one), as raspy.clock.wait_s says for its clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any

import pykka

from raspy.clock import Clock, listen_if_moving, wait_s
from raspy.records import frozen


@frozen
class Tick:
    """Wake an actor for its timers."""


class SharedTicker:
    """Tells each actor Tick once `clock` reaches the deadline it set last."""

    def __init__(self, clock: Clock, *, name: str = "raspy-core-ticker") -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._deadlines: dict[str, float] = {}
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._stopped = False
        self._unlisten: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._unlisten = listen_if_moving(self._clock, self._moved)
        self._thread.start()

    def _moved(self) -> None:
        with self._cond:
            self._cond.notify()

    def set(self, ref: pykka.ActorRef[Any], deadline: float | None) -> None:
        """Replace `ref`'s deadline (monotonic s on the clock); None forgets it."""
        urn = ref.actor_urn
        with self._cond:
            if deadline is None:
                self._deadlines.pop(urn, None)
                self._refs.pop(urn, None)
                return
            if self._deadlines.get(urn) == deadline:
                return
            earlier = not self._heap or deadline < self._heap[0][0]
            self._deadlines[urn] = deadline
            self._refs[urn] = ref
            heapq.heappush(self._heap, (deadline, next(self._order), urn))
            if len(self._heap) > 4 * len(self._deadlines) + 64:  # drop stale entries
                self._heap = [
                    e for e in self._heap if self._deadlines.get(e[2]) == e[0]
                ]
                heapq.heapify(self._heap)
            if earlier:
                self._cond.notify()

    def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            due = self._wait_due()
            if due is None:
                return
            for ref in due:
                try:
                    ref.tell(Tick())
                except pykka.ActorDeadError:
                    continue

    def _wait_due(self) -> list[pykka.ActorRef[Any]] | None:
        with self._cond:
            while not self._stopped:
                now = self._clock.monotonic()
                due: list[pykka.ActorRef[Any]] = []
                heap = self._heap
                while heap and heap[0][0] <= now:
                    deadline, _, urn = heapq.heappop(heap)
                    if self._deadlines.get(urn) == deadline:  # else replaced: stale
                        del self._deadlines[urn]
                        due.append(self._refs.pop(urn))
                if due:
                    return due
                until_due = heap[0][0] - now if heap else None
                listening = self._unlisten is not None
                self._cond.wait(wait_s(self._clock, until_due, listening=listening))
            return None


class DeadlineTicker:
    """Tells `ref` Tick once `clock` reaches the deadline given last to set()."""

    def __init__(self, ref: pykka.ActorRef[Any], clock: Clock, *, name: str) -> None:
        self._ref = ref
        self._ticker = SharedTicker(clock, name=name)

    def start(self) -> None:
        self._ticker.start()

    def set(self, deadline: float | None) -> None:
        self._ticker.set(self._ref, deadline)

    def stop(self) -> None:
        self._ticker.stop()
