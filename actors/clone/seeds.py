"""Seeded subscriptions: an in-process part's copy of the tree, taken where its
subscription begins (msgs.SubscribeSeeded).

An update that is not coalesced is stored before it is published, so the store may
hold one no subscriber was told of yet: a part that subscribed and then read the
store could see a change in its seed and again as a KeyChanged (old equal to new, a
`to:` trigger missed), or a later value before an earlier one's KeyChanged. As a
snapshot (§6.3), a seed is taken only while nothing is on its way to the store (the
writes accepted meanwhile are held back): the subscriber is added and a read view
opened at that moment, on the Clone I/O thread, with the published coalesced updates
the store may lack. The asker reads the view on its own thread (a large tree is not
read here) and closes it.

A plain read of the tree (msgs.GetUnstored) is answered the same way, later, but
waits for no quiet store: only until every in-process publish taken in before it
is published (a durable one stored), so that the store and the coalesced updates
answered hold each one its asker sent before. Used only by the Clone I/O thread.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from typing import Protocol

from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import Subscribers
from raspy.actors.clone.snapshot import Pending
from raspy.cores.clone import Update
from raspy.errors import StoreError
from raspy.records import frozen
from raspy.storage.read_view import ReadView
from raspy.storage.store import Store


class Progress(Pending, Protocol):
    """Pending, and how many updates taken in are not published yet
    (raspy.actors.clone.commit.CommitPipeline)."""

    @property
    def unreleased(self) -> int: ...


@frozen
class Seed:
    """The tree under a prefix where a subscription began: the store's records in
    `view` (its asker's to read and close) with the published coalesced updates it
    may lack (`unstored`); `seq`: the last number published then."""

    view: ReadView
    unstored: list[Update]
    seq: int


class SeedRequests:
    """Seeded subscriptions waiting for the writes on their way to the store."""

    def __init__(
        self, store: Store, pending: Progress, subscribers: Subscribers
    ) -> None:
        self._store = store
        self._pending = pending
        self._subscribers = subscribers
        self._waiting: deque[tuple[msgs.SubscribeSeeded, Future[Seed]]] = deque()
        # plain reads, each with the number to publish first (take_sent), in order
        self._reads: deque[tuple[msgs.GetUnstored, int]] = deque()

    @property
    def waiting(self) -> bool:
        """Some seed waits: the writes accepted meanwhile are held back, else a
        busy store would keep it waiting."""
        return bool(self._waiting)

    @property
    def due(self) -> bool:
        """Some request waits, a seed or a plain read: serve() has work."""
        return bool(self._waiting or self._reads)

    def stats(self) -> dict[str, int]:
        return {"clone.seeds.waiting": len(self._waiting)}

    def read(self, ask: msgs.GetUnstored, taken_seq: int) -> Future[list[Update]]:
        """Queue `ask`, to be answered once `taken_seq` (the in-process publishes
        taken in before it are numbered at or below) is published, and serve what
        can be served now."""
        answer: Future[list[Update]] = ask.answer
        if not answer.cancelled():  # its asker gave up before it came
            self._reads.append((ask, taken_seq))
            self.serve()
        return answer

    def request(self, ask: msgs.SubscribeSeeded) -> Future[Seed]:
        """Queue `ask` and serve what can be served now; its answer to come."""
        answer: Future[Seed] = ask.answer
        if answer.cancelled():  # its asker gave up before it came: no hold for it
            return answer
        self._waiting.append((ask, answer))
        self.serve()
        return answer

    def serve(self) -> None:
        """Subscribe and seed every waiting asker, once nothing is on its way to the
        store: the view then holds what was published and nothing later; and
        every plain read whose updates are published."""
        self._serve_reads()
        if self._pending.storing:
            return
        while self._waiting:
            ask, answer = self._waiting.popleft()
            if not answer.set_running_or_notify_cancel():
                continue  # its asker gave up waiting: no view, no subscription
            try:
                view = self._store.read_view()
            except StoreError as exc:
                answer.set_exception(exc)
                continue
            self._subscribers.add(
                ask.prefix, ask.ref, refusals=ask.refusals, backlog=ask.backlog
            )
            unstored = self._pending.overlay(ask.prefix)
            answer.set_result(Seed(view, unstored, self._pending.published_seq))

    def _serve_reads(self) -> None:
        """Answer the reads whose updates are all published, or given up for lost
        (nothing left unreleased: a lost one is never published)."""
        pending = self._pending
        while self._reads:
            ask, taken_seq = self._reads[0]
            if pending.published_seq < taken_seq and pending.unreleased:
                return  # served in order: the later ones wait for more
            self._reads.popleft()
            if ask.answer.set_running_or_notify_cancel():
                ask.answer.set_result(pending.overlay(ask.prefix))

    def close(self) -> None:
        """The server stops: the askers still waiting are told (CancelledError)."""
        while self._waiting:
            _, answer = self._waiting.popleft()
            answer.cancel()
        while self._reads:
            self._reads.popleft()[0].answer.cancel()
