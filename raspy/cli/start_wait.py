"""raspyd's start while a raspy-kv reads its data dir without a reader slot.

Such a read (lock.mdb missing or read-only: a backup at boot, a card mounted
read-only) holds the data dir's lock shared for as long as it lasts, so that no
raspyd writes over the pages being read. Exiting "in use" then, as for another
raspyd, let systemd's restarts (RestartSec=5s, StartLimitBurst=5) run out while a
long read went on: raspyd stayed down until started by hand (raspy-poller, whose
unit does not restart a usage error, for good). So raspyd, and raspy-poller for its
own data dir, wait for the read to end, bounded, and keep systemd's start timeout
(TimeoutStartSec=, Type=notify) from ending them meanwhile with
EXTEND_TIMEOUT_USEC. It must never take the lock while the read holds it. The
start's own long steps ask for more time the same way (StartProgress).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from raspy.errors import StoreBeingReadError
from raspy.sdnotify import Notifier

T = TypeVar("T")

# how long raspyd waits for such a read: a backup of the store without its history
# takes seconds to a few minutes on a Pi
WAIT_LIMIT_S: Final = 600.0
# systemd ends a start that says nothing within the time it last asked for: asked
# every EXTEND_EVERY_S for EXTEND_BY_S, a missed message or two is no matter
EXTEND_EVERY_S: Final = 10.0
# raspyd.service's TimeoutStartSec (60 s) beyond the next message: systemd only ever
# moves the deadline to now + this, so the start after the wait keeps its full 60 s
EXTEND_BY_S: Final = 70.0
_RETRY_S: Final = 0.5
WHY: Final = (
    "data dir is being read by a raspy-kv without a reader slot; starting once it ends"
)


class StartProgress:
    """What raspyd's long start steps call as they go (the store's page walk and
    record check: seconds for a big store on a Pi, which a store of many sensors'
    full history stretches towards the unit's start timeout). At the first call and
    then at most every EXTEND_EVERY_S it asks systemd for EXTEND_BY_S more, as the
    wait above does. Called by the work itself, never by a timer: a start that
    hangs makes no calls, and systemd's timeout still ends it."""

    def __init__(
        self,
        notifier: Notifier,
        status: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notifier = notifier
        self._status = status
        self._clock = clock
        self._next_at: float | None = None

    def __call__(self) -> None:
        now = self._clock()
        if self._next_at is not None and now < self._next_at:
            return
        self._next_at = now + EXTEND_EVERY_S
        self._notifier.notify(
            extend_timeout_usec=str(int(EXTEND_BY_S * 1_000_000)), status=self._status
        )

    def done(self, status: str) -> None:
        """The step is over: systemd's STATUS says the next one (`status`), not this
        one until READY. No more time is asked for: the next step has what is left
        of the last extension."""
        self._status = status
        self._notifier.notify(status=status)


def gave_up(data_dir: Path, limit_s: float, program: str = "raspyd") -> str:
    return (
        f"data dir {data_dir} was still being read by a raspy-kv without a reader slot"
        f" (its lock.mdb missing or read-only) after {limit_s:.0f} s; {program} did"
        " not start, as it would write over the pages being read: let that raspy-kv"
        f" end, or stop it, then start {program} again"
    )


def start_after_slotless_reads(
    start: Callable[[], T],
    data_dir: Path,
    notifier: Notifier,
    stopped: Callable[[float], bool],
    log: Any,
    *,
    limit_s: float = WAIT_LIMIT_S,
    program: str = "raspyd",
) -> T | None:
    """`start()`, tried again while it finds the data dir read without a reader slot
    (StoreBeingReadError), for up to `limit_s` (then StoreBeingReadError saying so).
    `stopped(timeout_s)` waits between tries and says whether a stop came (SIGTERM):
    then None, nothing started. Said once in the log and to systemd (STATUS).
    `program`: the one starting (raspyd, or raspy-poller with its own data dir)."""
    began = time.monotonic()
    extend = StartProgress(notifier, f"waiting: {WHY}")
    said = False
    while True:
        try:
            return start()
        except StoreBeingReadError:
            now = time.monotonic()
            if now - began >= limit_s:
                raise StoreBeingReadError(gave_up(data_dir, limit_s, program)) from None
            if not said:
                said = True
                log.warning(
                    "start_waits_for_reader",
                    data_dir=str(data_dir),
                    limit_s=limit_s,
                    why=WHY,
                )
            extend()
            if stopped(_RETRY_S):
                return None
