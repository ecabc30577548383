"""Entry: what TitanicCore knows about one request, and the states it moves through.

Its own module because both the core (store results, close, retention) and the
dispatcher (queues, attempts) read and update the same record. Mutable, no outputs,
no I/O.
"""

from __future__ import annotations

from enum import Enum

from raspy.cores.titanic_output import Caller


class State(Enum):
    PENDING = "pending"  # accepted, not answered yet
    STORING = "storing"  # reply being committed
    DONE = "done"  # reply stored
    CLOSING = "closing"  # deletion being committed (close or retention)


class Where(Enum):
    NOWHERE = 0
    READY = 1  # in its service's ready heap
    WAITING = 2  # in the backoff heap
    FLIGHT = 3  # an attempt is out


class Entry:
    __slots__ = (
        "attempts",
        "backoff_s",
        "body",
        "closers",
        "created",
        "order",
        "prev",
        "reply_stored",
        "service",
        "state",
        "ticket",
        "uuid",
        "where",
    )

    def __init__(
        self,
        uuid: str,
        service: bytes,
        body: tuple[bytes, ...],
        created: float,
        order: int | None,
    ) -> None:
        self.uuid = uuid
        self.service = service
        self.body = body
        self.created = created
        self.order = order  # queue counter while pending, None once done
        self.state = State.PENDING
        self.prev = State.PENDING  # state before CLOSING, for a failed deletion
        self.where = Where.NOWHERE
        self.ticket = 0  # bumped on every (re)schedule; stale heap items are skipped
        self.attempts = 0
        self.backoff_s = 0.0
        self.closers: list[Caller] = []
        self.reply_stored = False
