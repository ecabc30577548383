"""Which threads are raspy's, for the leak guard in tests/conftest.py.

raspy's threads are daemon threads (a forgotten close() must not hang the process),
so the daemon flag cannot tell a leak. Their names can: raspy names every thread it
starts `raspy-…`, and pykka names an actor's `<its class>-<n>`, a daemon one too
(raspy-poller's device service runs on one, so that a stuck one cannot hold the
process at its exit).
"""

from __future__ import annotations

import re
import threading
from typing import Final

import pykka

OWN_PREFIX: Final = "raspy-"
_ACTOR_THREAD: Final = re.compile(r"(\w+)-\d+")


def is_ours(thread: threading.Thread) -> bool:
    """Would `thread` left running after a test be a leak of the test's?"""
    if not thread.daemon or thread.name.startswith(OWN_PREFIX):
        return True
    named = _ACTOR_THREAD.fullmatch(thread.name)
    return named is not None and named.group(1) in _actor_classes()


def _actor_classes() -> set[str]:
    """The names of every pykka actor class defined so far."""
    names: set[str] = set()
    pending: list[type] = [pykka.Actor]
    while pending:
        subclasses: list[type] = pending.pop().__subclasses__()
        for sub in subclasses:
            if sub.__name__ not in names:
                names.add(sub.__name__)
                pending.append(sub)
    return names
