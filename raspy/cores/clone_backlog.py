"""Back-pressure on the Clone collector: when to stop reading it, and when to read on.

Every update the Clone server publishes is told to every in-process subscriber (the
scenario core, the web face, the MQTT bridge, history, the statistics), and an actor's
inbox has no bound. A client that writes faster than one of them handles the changes
would grow raspyd's memory for as long as it writes. So while a subscriber is behind
(its backlog, messages waiting, over BACKLOG_LIMIT) the Clone loop stops reading the
collector; the sockets' high-water marks then bound what waits, and what overflows is
dropped by the sockets, as RFC 12's collector allows. Below RESUME_AT it reads on.
In-process writers (device readings, the core's own keys) are never paused: raspyd
bounds their rates, and the core waits on its own writes.

Pure: the largest backlog and `now` (monotonic seconds) in, decisions out.
"""

from __future__ import annotations

from typing import Final

from raspy.records import frozen

# Messages waiting for one in-process subscriber before the collector is paused: the
# core handles one in some 20 µs on a desktop, a few times that on a Pi, so this is
# well under a second of its work; a KeyChanged holds its value (64 KiB at most by
# default, shared by every subscriber it is told to).
BACKLOG_LIMIT: Final = 2000
RESUME_AT: Final = BACKLOG_LIMIT // 2  # read on once every backlog is this low
# while paused, the loop turns this often to see the backlogs fall
PAUSED_CHECK_S: Final = 0.005


@frozen
class Paused:
    """The collector is no longer read: `backlog` messages wait for a subscriber."""

    backlog: int


@frozen
class Resumed:
    """The collector is read again, after `paused_s` seconds."""

    paused_s: float


class CollectorGate:
    """Paused or reading, by the largest backlog of the in-process subscribers."""

    def __init__(self, limit: int = BACKLOG_LIMIT, resume_at: int = RESUME_AT) -> None:
        if not 0 <= resume_at < limit:
            raise ValueError(f"resume_at must be in 0..{limit - 1}, got {resume_at}")
        self._limit = limit
        self._resume_at = resume_at
        self._paused_at: float | None = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def on_backlog(self, backlog: int, now: float) -> Paused | Resumed | None:
        """The largest backlog now: a pause or a resume, or None (no change)."""
        paused_at = self._paused_at
        if paused_at is None:
            if backlog > self._limit:
                self._paused_at = now
                return Paused(backlog)
            return None
        if backlog <= self._resume_at:
            self._paused_at = None
            return Resumed(max(0.0, now - paused_at))
        return None

    def next_check(self, now: float) -> float | None:
        """While paused, the loop must turn again by then (on `now`'s clock)."""
        return None if self._paused_at is None else now + PAUSED_CHECK_S
