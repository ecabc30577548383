"""What Titanic's shell (actors/titanic.py) logs and counts of what its core notes,
of frames it refuses and of stored records it cannot read: refusals at most once a
minute per reason (docs/style.md §5).

Off the accept path: the events counted there (QUIET_EVENTS) the actor adds up
itself, once per run of outputs; each other note is one call here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import structlog

from raspy.cores import titanic as core_mod
from raspy.errors import MalformedMessage
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats

log = structlog.get_logger(component="titanic")

# counted, never logged: added up once per run of outputs
QUIET_EVENTS: Final = frozenset(
    {core_mod.Event.ACCEPTED, core_mod.Event.DONE, core_mod.Event.CLOSED}
)


class TitanicLog:
    """The log lines and counters of one TitanicActor; on its thread only."""

    def __init__(
        self,
        stats: Stats,
        monotonic: Callable[[], float],
        quota_usage: Callable[[], tuple[int, int]],
    ) -> None:
        self._stats = stats
        self._monotonic = monotonic
        self._quota_usage = quota_usage  # the core's, read when over quota
        self._limiter = LogRateLimiter()

    def note(self, noted: core_mod.Noted) -> None:
        """Count a note of the core that is not quiet, and log it as its event says."""
        event = noted.event
        self._stats.incr(f"titanic.{event}")
        Event = core_mod.Event
        if event is Event.FAILED:
            log.error("titanic_request_failed", uuid=noted.uuid, reason=noted.reason)
        elif event is Event.RETRIED:
            log.warning(
                "titanic_dispatch_timed_out", uuid=noted.uuid, reason=noted.reason
            )
        elif event is Event.EXPIRED:
            log.info("titanic_request_expired", uuid=noted.uuid)
        elif event is Event.NOT_RELAYED:  # once a request: each is refused once
            log.warning(
                "titanic_request_not_relayed",
                uuid=noted.uuid,
                service=noted.reason,
                reason="stored by an older raspy; the service takes raspyd's own "
                "parts only: answered 403, never sent",
            )
        elif event is Event.REJECTED and self._limiter.should_log(
            (event, noted.reason), self._monotonic()
        ):
            log.warning("titanic_request_rejected", reason=noted.reason)
        elif event is Event.OVER_QUOTA and self._limiter.should_log(
            (event, noted.reason), self._monotonic()
        ):
            requests, size = self._quota_usage()
            log.warning(
                "titanic_over_quota",
                limit=noted.reason,
                requests=requests,
                bytes=size,
                refused=self._stats.get(f"titanic.{event}"),
            )

    def rejected(self, peer_id: bytes, exc: MalformedMessage) -> None:
        """A frame of a peer refused: counted by reason, logged rate-limited."""
        self._stats.incr(f"titanic.rejected.{exc.reason}")
        if self._limiter.should_log((peer_id, exc.reason), self._monotonic()):
            log.warning(
                "frame_rejected",
                peer=peer_id.hex(),
                reason=exc.reason,
                detail=exc.detail,
            )

    def unreadable(self, records: Iterable[tuple[bytes, str]]) -> None:
        """The stored records a start could not read, each counted and named."""
        for key, reason in records:
            self._stats.incr("titanic.load_errors")
            log.error("titanic_record_unreadable", key=key.hex(), reason=reason)
