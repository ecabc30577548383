"""When to read which device: fixed intervals without drift, failed reads retried
with backoff (raspy.backoff), devices added together spread out. Pure: `now` comes in;
the poller's reader thread (raspy.actors.poller) owns one PollSchedule.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from raspy.backoff import BackoffPolicy

RETRY_INITIAL_S: Final = 1.0  # first retry after a failed read ...
RETRY_MAX_S: Final = 60.0  # ... doubling up to this, or the interval if longer
STAGGER_MAX_S: Final = 1.0  # devices added together are spread over at most this


class Scheduled(Protocol):
    """A device as the schedule sees it."""

    @property
    def name(self) -> str: ...

    @property
    def interval_s(self) -> float: ...


@dataclass(slots=True)
class _Slot:
    interval_s: float
    due: float
    failures: int = 0
    busy: bool = False  # taken by take_due(), not yet done()
    again: bool = False  # poll_now() while busy: read again at once
    generation: int = 0


class PollSchedule:
    """When to read which device: fixed intervals without drift, backoff on failure.

    Pure and single-threaded: every method takes `now` (monotonic s).
    """

    def __init__(
        self,
        *,
        retry_initial_s: float = RETRY_INITIAL_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._slots: dict[str, _Slot] = {}
        self._heap: list[tuple[float, int, str, int]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, name: str, interval_s: float, due: float) -> None:
        """Poll `name` every `interval_s`, first at `due`; a known name is rescheduled."""
        if interval_s <= 0:
            raise ValueError(f"{name}: interval must be > 0, got {interval_s}")
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = _Slot(interval_s, due)
        slot.interval_s = interval_s
        if not slot.busy:
            self._push(name, slot, due)

    def remove(self, name: str) -> None:
        self._slots.pop(name, None)

    def set_interval(self, name: str, interval_s: float, now: float) -> None:
        """A new interval, effective from now (a shorter one brings the next read in)."""
        slot = self._slots.get(name)
        if slot is None:
            return
        if interval_s <= 0:
            raise ValueError(f"{name}: interval must be > 0, got {interval_s}")
        slot.interval_s = interval_s
        if not slot.busy:
            self._push(name, slot, min(slot.due, now + interval_s))

    def poll_now(self, name: str, now: float) -> None:
        slot = self._slots.get(name)
        if slot is None:
            return
        if slot.busy:
            slot.again = True
        else:
            self._push(name, slot, now)

    def take_due(self, now: float) -> list[str]:
        """The devices due at `now`, earliest first; each is busy until done()."""
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, name, generation = heapq.heappop(self._heap)
            slot = self._slots.get(name)
            if slot is None or slot.generation != generation or slot.busy:
                continue
            slot.busy = True
            due.append(name)
        return due

    def done(self, name: str, ok: bool, now: float) -> None:
        """A read of `name` ended at `now`; schedule the next one."""
        slot = self._slots.get(name)
        if slot is None or not slot.busy:
            return
        slot.busy = False
        slot.failures = 0 if ok else slot.failures + 1
        if slot.again:
            slot.again = False
            due = now
        elif ok:
            due = slot.due + slot.interval_s
            if due <= now:  # fell behind (a slow bus): skip the missed turns
                due += (math.floor((now - due) / slot.interval_s) + 1) * slot.interval_s
                if due <= now:  # the division rounded down one turn too many
                    due += slot.interval_s
        else:
            due = now + self.backoff_s(slot.interval_s, slot.failures)
        self._push(name, slot, due)

    def backoff_s(self, interval_s: float, failures: int) -> float:
        """The wait before retry number `failures` (>= 1) of a failing device."""
        ceiling = max(interval_s, self._retry_max_s)
        return BackoffPolicy(self._retry_initial_s, ceiling).delay_s(failures)

    def failures(self, name: str) -> int:
        slot = self._slots.get(name)
        return 0 if slot is None else slot.failures

    def next_deadline(self) -> float | None:
        """When the next device is due (monotonic s), or None if none is waiting."""
        heap = self._heap
        while heap:
            _, _, name, generation = heap[0]
            slot = self._slots.get(name)
            if slot is not None and slot.generation == generation and not slot.busy:
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def _push(self, name: str, slot: _Slot, due: float) -> None:
        slot.generation += 1
        slot.due = due
        heapq.heappush(self._heap, (due, next(self._order), name, slot.generation))


def stagger(devices: Sequence[Scheduled], now: float) -> list[tuple[str, float]]:
    """First due times spreading devices added together over min(interval, 1 s)."""
    count = max(1, len(devices))
    return [
        (d.name, now + min(d.interval_s, STAGGER_MAX_S) * index / count)
        for index, d in enumerate(devices)
    ]
