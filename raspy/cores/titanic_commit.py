"""Commits: the Persist tokens TitanicCore waits on, and what each write was for.

Its own module because matching a store result (on_committed) to its cause is
bookkeeping apart from the request lifecycle: a token is issued with each Persist and
taken back, once, when the shell reports the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from raspy.cores.titanic_output import Caller
from raspy.records import frozen


@dataclass(slots=True)  # not frozen: built per request (hot path)
class Accept:
    """A request's first commit: who to answer, and what to dispatch once stored."""

    caller: Caller
    uuid: str
    service: bytes
    body: tuple[bytes, ...]


@dataclass(slots=True)  # not frozen: built per request (hot path)
class StoreReply:
    uuid: str


@frozen
class Delete:
    uuid: str


@frozen
class Orphans:
    count: int


Commit = Accept | StoreReply | Delete | Orphans


class Commits:
    """Commits not reported yet, by token; tokens are never reused."""

    def __init__(self) -> None:
        self._next_token = 1
        self._commits: dict[int, Commit] = {}

    def add(self, commit: Commit) -> int:
        """A new token for a Persist being handed to the shell."""
        token = self._next_token
        self._next_token += 1
        self._commits[token] = commit
        return token

    def pop(self, token: int) -> Commit | None:
        """What the Persist with this token was for; None if unknown."""
        return self._commits.pop(token, None)
