"""The Titanic request life cycle: states, triggers, one transition table, one owner.

Every change of a request's state goes through `Requests.fire`, which looks the pair
(state, trigger) up in TRANSITIONS; a pair that is not in the table changes nothing
and says so (None), and the caller drops what came (a late reply, a second purge).
Nothing else writes `Entry.state`. Pure: no outputs, no I/O, no time.

A request is ACCEPTING while its first commit runs (it counts against the quota but
is not visible: its UUID has not been given out), PENDING until a reply comes back
from its service, STORING while that reply is committed, DONE once it is stored.
Close and retention move it to the CLOSING_* state of where it was, so that a failed
deletion puts it back exactly there; GONE is never stored: the entry is forgotten.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from enum import Enum
from typing import Final

from raspy.cores.titanic_output import Caller


class State(Enum):
    __hash__ = object.__hash__  # members are singletons: identity, not Enum's by name

    ACCEPTING = "accepting"  # request commit running; UUID not given out yet
    PENDING = "pending"  # stored, waiting for its service's reply
    STORING = "storing"  # reply being committed
    DONE = "done"  # reply stored, kept until close (or retention)
    CLOSING_PENDING = "closing_pending"  # deletion committing; was pending
    CLOSING_STORING = "closing_storing"  # deletion committing; reply commit running
    CLOSING_DONE = "closing_done"  # deletion committing; reply was stored
    GONE = "gone"  # deleted (or never accepted): forgotten


class Trigger(Enum):
    __hash__ = object.__hash__

    ACCEPT_COMMITTED = "accept_committed"
    ACCEPT_FAILED = "accept_failed"
    REPLY_RECEIVED = "reply_received"  # a FINAL from the service, for this request
    REPLY_COMMITTED = "reply_committed"
    REPLY_FAILED = "reply_failed"
    CLOSE = "close"  # titanic.close
    EXPIRE = "expire"  # retention purge
    DELETE_COMMITTED = "delete_committed"
    DELETE_FAILED = "delete_failed"


_S = State
_T = Trigger

#: The only place where the life cycle is defined (docs/protocols.md §5.4, §5.5).
TRANSITIONS: Final[dict[tuple[State, Trigger], State]] = {
    (_S.ACCEPTING, _T.ACCEPT_COMMITTED): _S.PENDING,
    (_S.ACCEPTING, _T.ACCEPT_FAILED): _S.GONE,
    (_S.PENDING, _T.REPLY_RECEIVED): _S.STORING,
    (_S.STORING, _T.REPLY_COMMITTED): _S.DONE,
    (_S.STORING, _T.REPLY_FAILED): _S.PENDING,
    (_S.PENDING, _T.CLOSE): _S.CLOSING_PENDING,
    (_S.STORING, _T.CLOSE): _S.CLOSING_STORING,
    (_S.DONE, _T.CLOSE): _S.CLOSING_DONE,
    # a close while closing joins the deletion under way
    (_S.CLOSING_PENDING, _T.CLOSE): _S.CLOSING_PENDING,
    (_S.CLOSING_STORING, _T.CLOSE): _S.CLOSING_STORING,
    (_S.CLOSING_DONE, _T.CLOSE): _S.CLOSING_DONE,
    # retention waits for a reply being stored (no EXPIRE from STORING)
    (_S.PENDING, _T.EXPIRE): _S.CLOSING_PENDING,
    (_S.DONE, _T.EXPIRE): _S.CLOSING_DONE,
    (_S.CLOSING_STORING, _T.REPLY_COMMITTED): _S.CLOSING_DONE,
    (_S.CLOSING_STORING, _T.REPLY_FAILED): _S.CLOSING_PENDING,
    (_S.CLOSING_PENDING, _T.DELETE_COMMITTED): _S.GONE,
    (_S.CLOSING_STORING, _T.DELETE_COMMITTED): _S.GONE,
    (_S.CLOSING_DONE, _T.DELETE_COMMITTED): _S.GONE,
    # a failed deletion puts the request back where it was
    (_S.CLOSING_PENDING, _T.DELETE_FAILED): _S.PENDING,
    (_S.CLOSING_STORING, _T.DELETE_FAILED): _S.STORING,
    (_S.CLOSING_DONE, _T.DELETE_FAILED): _S.DONE,
}

#: States whose titanic.reply answer is the stored reply (200); the others visible
#: answer 300 (pending).
REPLY_READY: Final = frozenset({State.DONE, State.CLOSING_DONE})
CLOSING: Final = frozenset(
    {State.CLOSING_PENDING, State.CLOSING_STORING, State.CLOSING_DONE}
)


class Entry:
    """One request as the life cycle knows it; the dispatcher keeps its own job."""

    __slots__ = ("closers", "created", "expires", "order", "size", "state", "uuid")

    def __init__(
        self, uuid: str, created: float, order: int | None, size: int, state: State
    ) -> None:
        self.uuid = uuid
        self.created = created  # wall_ts, as stored (never used to age it)
        self.expires = math.inf  # monotonic; set by retention once accepted
        self.order = order  # queue counter while a queue entry is stored, else None
        self.size = size  # request body bytes (for the quota)
        self.state = state
        self.closers: list[Caller] = []  # titanic.close callers waiting on a deletion


class Requests:
    """Every request not yet forgotten, and the one way to change their states."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._bytes = 0
        self._done = 0  # entries in REPLY_READY
        self._accepting = 0  # entries in ACCEPTING

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def get(self, uuid: str) -> Entry | None:
        return self._entries.get(uuid)

    def total_bytes(self) -> int:
        return self._bytes

    def visible_count(self) -> int:
        """Requests whose UUID was given out (every one but those ACCEPTING)."""
        return len(self._entries) - self._accepting

    def unanswered_count(self) -> int:
        """Visible requests whose reply is not stored (pending, storing, ...)."""
        return len(self._entries) - self._accepting - self._done

    def add(self, entry: Entry) -> None:
        if entry.uuid in self._entries:
            raise ValueError(f"request {entry.uuid} is known already")
        if entry.state not in (State.ACCEPTING, State.PENDING, State.DONE):
            raise ValueError(f"a request cannot start {entry.state.value}")
        self._entries[entry.uuid] = entry
        self._bytes += entry.size
        self._done += entry.state in REPLY_READY
        self._accepting += entry.state is State.ACCEPTING

    def fire(self, uuid: str, trigger: Trigger) -> Entry | None:
        """Apply `trigger`; the entry in its new state, or None if the table says no.

        An entry that reaches GONE is forgotten (returned once, in state GONE).
        """
        entry = self._entries.get(uuid)
        if entry is None:
            return None
        new = TRANSITIONS.get((entry.state, trigger))
        if new is None:
            return None
        self._done += (new in REPLY_READY) - (entry.state in REPLY_READY)
        self._accepting += (new is State.ACCEPTING) - (entry.state is State.ACCEPTING)
        entry.state = new
        if new is State.GONE:
            del self._entries[uuid]
            self._bytes -= entry.size
        return entry
