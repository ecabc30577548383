"""The edge's in-process side: pykka actors that are MDP peers or local handlers.

Runs on the edge's I/O thread. What the broker sends to an in-process peer, and the
`titanic.*` requests it hands to a local handler, are gathered during one drain turn
and told once per actor at its end (flush), so an actor gets one message per turn,
not one per request; the handlers' answers go back from here to their clients. Who
watches service availability is kept here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from raspy.actors import messages as msgs
from raspy.cores import broker, broker_output, broker_state
from raspy.protocol import mdp
from raspy.stats import Stats
from raspy.transport.outbox import split_records

Ref = pykka.ActorRef[Any]
Send = Callable[[bytes, list[bytes]], None]  # frames to a peer over the ROUTER
Apply = Callable[[list[broker_output.BrokerOutput]], None]  # the edge's output handling
Gone = Callable[[bytes], None]  # a peer found gone, for the broker to forget


class LocalPeers:
    """Routes to in-process actors; see the module docstring."""

    def __init__(
        self, core: broker.BrokerCore, stats: Stats, apply: Apply, gone: Gone
    ) -> None:
        self._core = core
        self._stats = stats
        self._apply = apply
        self._gone = gone  # told of a dead owner; the edge tells the broker later
        self._owners: dict[bytes, Ref] = {}  # route `owner` serves `owner/anything`
        self._batched: set[bytes] = set()  # owners attached with batched=True
        self._handlers: dict[bytes, Ref] = {}  # service -> local handler
        self._watchers: list[Ref] = []
        self._available: set[bytes] = set()
        self._deliveries: dict[bytes, list[msgs.MdpFrames]] = {}  # this turn's
        self._handed: dict[bytes, list[tuple[bytes, mdp.ClientRequest]]] = {}

    def command(self, command: object, now: float) -> bool:
        """Carry out a control command of the edge; False if it is not one of ours."""
        match command:
            case msgs.AttachLocal(peer_id=peer_id, ref=ref, batched=batched):
                self._owners[peer_id] = ref
                if batched:
                    self._batched.add(peer_id)
            case msgs.DetachLocal(peer_id=peer_id):
                self._owners.pop(peer_id, None)
                self._batched.discard(peer_id)
                # workers it did not DISCONNECT would hold their requests for ever
                self._apply(self._core.forget_local(peer_id, "detached", now))
            case msgs.WatchServices(ref=ref):
                self._watchers.append(ref)
                for service in sorted(self._available):
                    ref.tell(msgs.ServiceAvailabilityChanged(service, True))
            case msgs.UnwatchServices(ref=ref):
                urn = ref.actor_urn
                self._watchers = [w for w in self._watchers if w.actor_urn != urn]
            case msgs.HandleLocally(service=service, ref=ref, capacity=capacity):
                if ref is None or capacity <= 0:
                    self._handlers.pop(service, None)
                    self._core.stop_handling(service)
                else:
                    self._handlers[service] = ref
                    self._apply(self._core.handle_locally(service, capacity, now))
            case _:
                return False
        return True

    def deliver(self, peer: bytes, frames: list[bytes]) -> None:
        """Frames the broker sends to the in-process peer `peer` (`owner/sub`)."""
        owner = peer.partition(msgs.ROUTE_SEPARATOR)[0]
        ref = self._owners.get(owner)
        if ref is None:
            self._stats.incr("edge.local_unroutable")
            return
        if owner in self._batched:
            self._deliveries.setdefault(owner, []).append(
                msgs.MdpFrames(tuple(frames), peer)
            )
            return
        try:
            ref.tell(msgs.MdpFrames(tuple(frames), peer))
        except pykka.ActorDeadError:
            self._dead(owner)

    def _dead(self, owner: bytes) -> None:
        """`owner`'s actor died without detaching (e.g. an on_start that failed after
        READY): its route goes, and the broker is to forget its workers, whose
        requests would otherwise wait for ever (in-process workers never expire)."""
        self._stats.incr("edge.local_dead")
        self._owners.pop(owner, None)
        self._batched.discard(owner)
        self._gone(owner)

    def replies(self, message: list[bytes], send: Send, now: float) -> None:
        """A local handler's answers, `[R, *(service, client, count, *frames)]` (the
        outbox's LOCAL_REPLY_CHANNEL): each straight to its client, in-process or
        through `send` (the ROUTER); each frees a place that a queued request takes."""
        records, whole = split_records(message, 3)
        if not whole:
            self._stats.incr("edge.outbox.rejected")
        core = self._core
        for (service, client), frames in records:
            if client[:1] == broker_state.LOCAL_PREFIX:
                self.deliver(client, frames)
            else:
                send(client, frames)
            handed = core.local_answered(service, now)
            if handed:
                self._apply(handed)

    def hand(self, request: broker_output.LocalRequest) -> None:
        """A request the broker gives to the service's local handler."""
        service = request.request.service
        self._handed.setdefault(service, []).append((request.client, request.request))

    def flush(self) -> None:
        """One tell per batched owner and per handler with what this turn gathered."""
        if not self._deliveries and not self._handed:
            return
        deliveries, self._deliveries = self._deliveries, {}
        for owner, messages in deliveries.items():
            ref = self._owners.get(owner)
            try:
                if ref is not None:
                    ref.tell(msgs.MdpFramesBatch(tuple(messages)))
            except pykka.ActorDeadError:
                self._dead(owner)
        handed, self._handed = self._handed, {}
        for service, requests in handed.items():
            ref = self._handlers.get(service)
            try:
                if ref is None:
                    raise pykka.ActorDeadError(service)
                ref.tell(msgs.LocalRequests(service, tuple(requests)))
            except pykka.ActorDeadError:
                # nobody will answer them: the rest of the service's requests go to
                # its workers (their clients retry these, as after any lost request)
                self._stats.incr("edge.local_unroutable", len(requests))
                self._handlers.pop(service, None)
                self._core.stop_handling(service)

    @property
    def watcher_count(self) -> int:
        """How many actors are told of service availability (an actor that stops
        says UnwatchServices; one that dies is dropped at the next event)."""
        return len(self._watchers)

    def availability(self, service: bytes, available: bool) -> None:
        """Tell every watcher that `service` gained or lost its last worker."""
        if available:
            self._available.add(service)
        else:
            self._available.discard(service)
        event = msgs.ServiceAvailabilityChanged(service, available)
        for watcher in list(self._watchers):
            try:
                watcher.tell(event)
            except pykka.ActorDeadError:
                self._watchers.remove(watcher)
