"""Frozen messages passed between actors with tell() (pykka does not copy them)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import field
from typing import Any, Final

import pykka

from raspy import ticker
from raspy.cores import broker_state
from raspy.cores.clone import Guarded
from raspy.protocol import mdp
from raspy.records import frozen
from raspy.storage.ops import Op

Tick = ticker.Tick
"""Wake an actor for its timers (told by raspy.ticker's threads)."""


@frozen
class MdpFrames:
    """Frames the broker sent to an in-process peer (peer view, no routing id).

    `peer_id` says which peer was addressed: one actor may own several (Titanic's
    workers and dispatcher slots).
    """

    frames: tuple[bytes, ...]
    peer_id: bytes = b""


@frozen
class ServiceAvailabilityChanged:
    """A service went from no live worker to some, or back."""

    service: bytes
    available: bool


ROUTE_SEPARATOR: Final = broker_state.ROUTE_SEPARATOR


@frozen
class AttachLocal:
    """Route the broker's frames for `peer_id`, and for every `peer_id/…`, to `ref`
    (ask on the edge)."""

    peer_id: bytes
    ref: pykka.ActorRef[Any]
    # deliver what one edge turn brings as one MdpFramesBatch (Titanic's dispatch)
    batched: bool = False


@frozen
class DetachLocal:
    peer_id: bytes


@frozen
class WatchServices:
    """Tell `ref` every ServiceAvailabilityChanged, starting with the current ones."""

    ref: pykka.ActorRef[Any]


@frozen
class UnwatchServices:
    """Tell `ref` no more (its actor stops; WatchServices again on a restart)."""

    ref: pykka.ActorRef[Any]


@frozen
class GetStats:
    pass


@frozen
class Settle:
    """Asked at the end of a start. The statistics actor registers every part's
    services now (not at its next second); the edge answers once everything the outbox
    held (the in-process workers' READYs) has reached the broker."""


@frozen
class PartsChanged:
    """Told to the statistics actor when the supervisor's parts are not the same
    names as before, so that it follows them without looking every second."""


@frozen
class Committed:
    """The store committed (error None) or failed a batch submitted by this actor."""

    token: int
    error: BaseException | None = field(default=None)


@frozen
class KeyChanged:
    """A Clone key was set (body) or deleted (empty body) and published with `seq`;
    `uuid` is its writer's (empty: the server's own deletion, or a batch's set)."""

    key: bytes
    seq: int
    body: bytes
    props: tuple[tuple[str, str], ...]
    uuid: bytes = b""


@frozen
class KeyRefused:
    """An in-process write (ClonePublisher.update, which gave it `uuid`) the Clone server
    will never publish: refused (too large, a key it does not take) or lost with a
    failed commit. Told to the subscribers that asked for it (CloneSubscribe)."""

    key: bytes
    uuid: bytes
    reason: str


@frozen
class CloneSubscribe:
    """Tell `ref` a KeyChanged for every published key starting with `prefix` (ask);
    `refusals`: and a KeyRefused for every in-process write under it that is dropped
    (a writer that shows its writes before they come back must take them back).
    `backlog`: how many messages wait for `ref`, called on the Clone I/O thread (by
    default its inbox's length); while it is over a limit the server stops reading
    its collector (raspy.cores.clone_backlog)."""

    prefix: bytes
    ref: pykka.ActorRef[Any]
    refusals: bool = False
    backlog: Callable[[], int] | None = None


@frozen
class CloneUnsubscribe:
    """Stop every subscription of `ref` (ask), or only those to `prefix`."""

    ref: pykka.ActorRef[Any]
    prefix: bytes | None = None


@frozen
class GetPublishOutbox:
    """Ask the Clone server for the outbox its in-process publishers write to
    (ClonePublisher)."""


@frozen
class SubscribeSeeded:
    """CloneSubscribe, with the tree under `prefix` as it stands when the subscription
    begins (ask): `answer` (a clone.seeds.Seed) is resolved on the Clone I/O thread
    once nothing is on its way to the store, so the seed holds every update told
    before it and none told after (raspy.actors.clone.server.subscribe_seeded reads
    it). The asker makes it: one whose ask failed (a timeout, the server busy)
    cancels it, and the server, taking the ask later, neither opens a view nobody
    would close nor subscribes an asker told it failed."""

    prefix: bytes
    ref: pykka.ActorRef[Any]
    refusals: bool = False
    backlog: Callable[[], int] | None = None
    answer: Future[Any] = field(default_factory=Future, compare=False)


@frozen
class GetUnstored:
    """Ask the Clone server for the published coalesced updates under `prefix` that
    the store may not hold yet (storage.scenario_store.live_tree lays them over it).
    As SubscribeSeeded's, `answer` (a list of cores.clone.Update) is resolved on the
    Clone I/O thread later: once every in-process publish sent before the ask is
    published, so stored or in the list (raspy.actors.clone.server.read_tree)."""

    prefix: bytes
    answer: Future[Any] = field(default_factory=Future, compare=False)


@frozen
class SetIfUnchanged:
    """Ask the Clone server to apply each group's sets only if the keys it expects
    are still at the sequence numbers read (compare-and-set, on its I/O thread);
    the answer: the indexes of the groups skipped."""

    groups: tuple[Guarded, ...]


@frozen
class CommitAlong:
    """Ask the Clone server to set `entries` (plain sets, an empty body deletes)
    and store `ops` (records of other tables: a scenario's) in ONE transaction,
    after every in-process publish sent before the ask: one user action that
    changes both the tree and those records is never half stored by a kill.
    `done` resolves once that transaction is synced, or fails with its error
    (raspy.actors.clone.server.commit_along waits for it)."""

    entries: tuple[tuple[bytes, bytes], ...]
    ops: tuple[Op, ...]
    done: Future[None] = field(default_factory=Future, compare=False)


@frozen
class GetCloneEndpoints:
    """Ask the Clone server for its bound snapshot/publisher/collector endpoints."""


@frozen
class HandleLocally:
    """Hand client requests for `service` to `ref` as LocalRequests batches, up to
    `capacity` unanswered at once (ask on the edge); ref None or capacity 0 stops
    it. The handler answers through the outbox on LOCAL_REPLY_CHANNEL."""

    service: bytes
    ref: pykka.ActorRef[Any] | None
    capacity: int = 0


@frozen
class LocalRequests:
    """Client requests for `service` handed over by the edge: (client id, request)."""

    service: bytes
    requests: tuple[tuple[bytes, mdp.ClientRequest], ...]


@frozen
class MdpFramesBatch:
    """MdpFrames for peers of one owner attached with batched=True, in arrival order."""

    messages: tuple[MdpFrames, ...]
