"""Inbox: items from any thread to one Runner's thread, woken through its pipe.

An item is put on a thread-safe queue; the runner's wake-up pipe is written only when
the owner may be asleep (the first item since it last looked), not once per item, so
a burst costs one write. The owner takes a bounded number per turn (fairness).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Generic, TypeVar

from raspy.transport.wakeup import Wakeup

T = TypeVar("T")


class Inbox(Generic[T]):
    """put() from any thread; drain() on the owner's (see the module docstring)."""

    def __init__(self, wakeup: Wakeup) -> None:
        self._items: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._wakeup = wakeup
        # set by put(), cleared by the owner before it drains: an item put after
        # that either is drained in this turn or wakes the owner again (never lost)
        self._woken = False

    def put(self, item: T) -> None:
        self._items.put(item)
        if not self._woken:
            self._woken = True
            self._wakeup.notify()

    def drain(self, handle: Callable[[T], object], limit: int) -> bool:
        """handle(item) for at most `limit` items; True if it stopped at the limit
        (more may wait: the owner's next poll should not sleep)."""
        self._woken = False
        items = self._items
        for _ in range(limit):
            try:
                item = items.get_nowait()
            except queue.Empty:
                return False
            handle(item)
        return True
