"""The only place in tests/ that pauses: poll a condition with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
