"""What ended an actor's on_start, for the supervisor to say as the part's reason.

pykka keeps nothing of an exception raised in on_start: it logs it ("Unhandled
exception in X (urn:uuid:…)", on the actor's own thread, before the actor counts as
stopped) and answers what was asked of the actor with "X stopped before handling the
message". A handler on pykka's logger keeps each such exception by the actor's urn, so
that the part's reason (`.mmi`, /stats/) is what the log says, `OSError: no such bus`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Final

_KEPT: Final = 32  # the newest; an actor no one asks about (a part's own) is forgotten
_URN: Final = re.compile(r"\((urn:uuid:[0-9a-f-]+)\):?$")


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._guard = threading.Lock()
        self._by_urn: OrderedDict[str, str] = OrderedDict()

    def emit(self, record: logging.LogRecord) -> None:
        found = _URN.search(record.getMessage())
        if found is None or record.exc_info is None or record.exc_info[1] is None:
            return
        exc = record.exc_info[1]
        with self._guard:
            self._by_urn[found.group(1)] = f"{type(exc).__name__}: {exc}"
            while len(self._by_urn) > _KEPT:
                self._by_urn.popitem(last=False)

    def take(self, urn: str) -> str | None:
        with self._guard:
            return self._by_urn.pop(urn, None)


_failures: Final = _Failures()
_installed = threading.Lock()


def watch() -> None:
    """Keep pykka's failures from now on (once per process; idempotent)."""
    with _installed:
        pykka_log = logging.getLogger("pykka")
        if _failures not in pykka_log.handlers:
            pykka_log.addHandler(_failures)


def take(urn: str) -> str | None:
    """`Type: message` of what the actor `urn` raised last (forgotten once taken);
    None if it raised nothing pykka logged."""
    return _failures.take(urn)
