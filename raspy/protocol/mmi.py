"""MMI (RFC 8): service names the broker answers itself, and their reply bodies.

Pure helpers, no state and no I/O (docs/protocols.md §4). Every reply body opens with a
three-digit status frame: b"200" ok, b"400" bad request, b"404" not found,
b"501" not implemented.

``mmi.service`` (RFC 8)
    Request body frame 0 is a service name. Reply body: one frame, ``200`` if at least
    one live worker (registered, not expired, idle or busy, any MDP version) serves
    that name, else ``404``. Further request frames are ignored.

``mmi.services`` (raspy extension)
    Request body frame 0 is a glob pattern (``*``, ``?``, ``[...]`` as in Python's
    ``fnmatch.fnmatchcase``), matched case-sensitively against each service name;
    both are decoded as ASCII with ``backslashreplace``, so a byte 0xFF is written
    ``\\xff``. An empty frame matches every service. Reply body: ``200`` followed by
    one frame per matching service that has at least one live worker, sorted by
    bytes. A pattern longer than 255 bytes gets the one-frame body ``400``.

``mmi.workers`` (raspy extension)
    Request body frame 0 is a glob pattern as for ``mmi.services``. Reply body: two
    frames, ``200`` and a UTF-8 JSON object with sorted keys and no spaces::

        {"echo":{"busy":1,"idle":2,"versions":{"0.1":0,"0.2":3,"majortomo":0}}}

    one key per matching service with at least one live worker (the name decoded as
    ASCII with ``backslashreplace``); ``idle`` and ``busy`` count its workers,
    ``versions`` counts them by the MDP version they registered with. A pattern
    longer than 255 bytes gets ``400``.

Any other ``mmi.*`` name is answered ``501``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from fnmatch import translate
from typing import Final

from raspy.records import frozen

PREFIX: Final = b"mmi."
SERVICE: Final = b"mmi.service"
SERVICES: Final = b"mmi.services"
WORKERS: Final = b"mmi.workers"

OK: Final = b"200"
BAD_REQUEST: Final = b"400"
NOT_FOUND: Final = b"404"
NOT_IMPLEMENTED: Final = b"501"

MAX_PATTERN_BYTES: Final = 255


def is_mmi(service: bytes) -> bool:
    """True for names in the reserved b"mmi." namespace (RFC 8)."""
    return service[:4] == PREFIX


@frozen
class WorkerCounts:
    """Live workers of one service, for mmi.workers."""

    idle: int = 0
    busy: int = 0
    v01: int = 0
    v02: int = 0
    majortomo: int = 0


def _name(raw: bytes) -> str:
    return raw.decode("ascii", "backslashreplace")


def service_reply(available: bool) -> tuple[bytes, ...]:
    """Body of an mmi.service reply: b"200" if the service has a live worker."""
    return (OK,) if available else (NOT_FOUND,)


def _all(_name: str) -> bool:
    return True


def _matcher(pattern: bytes) -> Callable[[str], object] | None:
    """The pattern's test of a name (the empty one takes all), None if too long.

    Compiled here, not by fnmatchcase: its cache keeps 32,768 patterns, ~4 kB each,
    and a peer asking with new ones would leave ~120 MB behind (re's keeps 512).
    """
    if len(pattern) > MAX_PATTERN_BYTES:
        return None
    if not pattern:
        return _all
    return re.compile(translate(_name(pattern))).match


def services_reply(pattern: bytes, live: Iterable[bytes]) -> tuple[bytes, ...]:
    """Body of an mmi.services reply; `live` names the services with live workers."""
    matches = _matcher(pattern)
    if matches is None:
        return (BAD_REQUEST,)
    names = sorted(name for name in live if matches(_name(name)))
    return (OK, *names)


def workers_reply(
    pattern: bytes, live: Mapping[bytes, WorkerCounts]
) -> tuple[bytes, ...]:
    """Body of an mmi.workers reply; `live` maps each service to its live workers."""
    matches = _matcher(pattern)
    if matches is None:
        return (BAD_REQUEST,)
    table: dict[str, object] = {}
    for raw, counts in live.items():
        name = _name(raw)
        if not matches(name):
            continue
        table[name] = {
            "idle": counts.idle,
            "busy": counts.busy,
            "versions": {
                "0.1": counts.v01,
                "0.2": counts.v02,
                "majortomo": counts.majortomo,
            },
        }
    text = json.dumps(table, sort_keys=True, separators=(",", ":"))
    return (OK, text.encode("utf-8"))


def not_implemented_reply() -> tuple[bytes, ...]:
    """Body for any mmi.* name this broker does not implement."""
    return (NOT_IMPLEMENTED,)
