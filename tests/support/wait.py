"""The only place in tests/ that pauses: poll a condition with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_PAUSE = threading.Event()  # never set: an interruptible pause between polls


def wait_until(check: Callable[[], T], *, what: str, timeout_s: float = 5.0) -> T:
    """Return check()'s first truthy result, or fail naming what never happened."""
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s}s for {what}")
        _PAUSE.wait(0.01)
    return result


@contextmanager
def repeated(
    action: Callable[[], object], *, every_s: float, what: str
) -> Iterator[None]:
    """`action()` at once, then every `every_s`, on a thread of its own until the
    block ends: a server's HUGZ while a test reads what its client holds (a client
    that hears nothing for its server_ttl_s starts over, and a loaded machine can
    pause the test's thread longer than that). Whatever `action` uses, the test's
    thread leaves alone meanwhile (a ZeroMQ socket is one thread's at a time)."""
    done = threading.Event()

    def run() -> None:
        while True:
            action()
            if done.wait(every_s):
                return

    thread = threading.Thread(target=run, name=f"test-{what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), f"{what} did not stop"
