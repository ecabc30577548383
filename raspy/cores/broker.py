"""BrokerCore: the sans-IO Majordomo broker (MDP 0.1, RFC 18, majortomo; MMI).

Frames and `now` (monotonic seconds) in, a list of outputs out; docs/protocols.md §2.5-§2.8,
§3.3-§3.6 and §4. No sockets, threads, clocks or logging here. Invariants: nothing is
sent to a worker after its DISCONNECT or expiry; a worker is idle or busy with exactly
one request; a service never has both queued requests and idle workers.

Raspy choices beyond the spec:
- A request whose worker expires, DISCONNECTs, is disconnected for a protocol error
  or is found unreachable (`peer_gone`: the ROUTER could not send to it) before its
  FINAL/REPLY goes back to the front of its queue and is dispatched again
  (issue 3, over §2.5.6); a 0.1 client's PARTIAL buffer restarts. Not so once a
  PARTIAL of it went to a 0.2 or majortomo client (§3.7): a new attempt's stream
  would follow the failed one's parts, so the request is dropped
  (`dropped.partial_lost`) and the client's timeout asks again on a clean stream.
  After the third worker lost with it, the request is dropped
  (`dropped.workers_lost`). A busy worker's message over the limits is its reply:
  that request fails (`reply_overflow`) instead, as any worker would answer it so.
- A queued request expires (`RequestDropped(expired)`, never dispatched) once
  `request_ttl_s` has passed since both its first arrival (also when re-queued) and
  its service's last dispatch: a queue that a live worker keeps draining does not
  expire, so a client that pipelines 100,000 requests is served whole however slow
  the worker (issue 18; zguide's broker never expires), while requests for a service
  with no worker, or one stuck on a request, are dropped as before.
- An in-process client (a scenario, the web face, the MQTT bridge, the history,
  Titanic's dispatch) gives its request the moment it stops waiting (`give_up_at`):
  a request still queued then is dropped (`abandoned`), never dispatched, so a
  command that its sender reported as failed is not carried out later when a board
  comes back. A network client's patience is not on the wire: its requests keep the
  TTL.
- Memory is bounded (issue 18): queued requests in bytes per service and in total
  (`Pending.size`), plus a request count per service; over them a new request is
  dropped (`queue_full`, `queue_total_full`). A re-queued request may take a queue
  past them (by at most the number of workers): it was accepted already.
- At most `max_services` services (with workers or queued requests) and
  `max_workers` external workers: a request to one more service is dropped
  (`too_many_services`; MDP has no error reply, so the client's timeout tells it, as
  for an expired request), a READY over either cap is answered with DISCONNECT and
  rejected (`too_many_services`, `too_many_workers`). In-process workers are raspyd's
  own services and are never refused. A service name is at most MAX_SERVICE_BYTES: a
  longer one in a request or READY is rejected (`service_too_long`; a READY also gets
  DISCONNECT), so a thousand services cannot hold a gigabyte of names. An mmi.* name
  is never kept, so any length is answered (RFC 8: 501 if unknown).
- A busy worker has shown it heartbeats while busy (§2.6) once two HEARTBEATs came
  in one busy period (one may have crossed the REQUEST on the wire); the flag stays
  for as long as the worker is registered.
- Unexpected messages are reported as `Rejected` too (reasons `unknown_worker`,
  `unexpected_ready`, `unexpected_reply`, `unexpected_request`, `mmi_ready`,
  `dialect_changed`), so they are counted and logged like invalid ones.
- `shutdown()` sends DISCONNECT to external workers only: in-process workers are
  stopped by their supervisor, and a DISCONNECT would make them register again.
- In-process workers are never heartbeated or expired: those of an actor that died
  without DISCONNECT, or detached from the edge, are forgotten when the edge says so
  (`forget_local`), and their requests go to other workers or wait.
- In-process handlers (`handle_locally`, Titanic): up to `capacity` requests for such
  a service at once go straight to its handler (LocalRequest), one hop instead of a
  worker round trip. Past that they go to an idle registered worker or queue, under
  the usual budgets and TTL; each answer of the handler (`local_answered`) hands it
  the oldest queued request, so a full handler delays requests but never needs
  workers to get them through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from raspy.cores.broker_book import MAX_SERVICE_BYTES
from raspy.cores.broker_departures import BrokerDepartures
from raspy.cores.broker_output import (
    BrokerOutput,
    LocalRequest,
    Send,
    ServiceAvailability,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.cores.broker_state import LOCAL_PREFIX, Pending, Service, Worker
from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode, mmi

__all__ = ["BrokerCore"]  # other names: import them from where they are defined

_INF: Final = float("inf")
# FrameLimits reasons: from a busy worker, its reply is over them
_OVER_LIMITS: Final = frozenset(
    ("too_many_frames", "frame_too_large", "message_too_large")
)
_V01: Final = mdp.Version.V01


class BrokerCore(BrokerDepartures):
    """Services, idle and busy workers, bounded request queues, heartbeats and MMI:
    what each input does. Its state, bookkeeping, queries and MMI answers are
    BrokerBook's (`broker_book`), its in-process handlers BrokerHandlers'
    (`broker_handlers`), the workers that went away BrokerDepartures'
    (`broker_departures`): base classes, so the per-message path takes no extra hop.

    Not thread-safe: one owner (the edge's I/O thread) calls every method.
    """

    # ------------------------------------------------------------ inputs

    def on_router_frames(
        self, peer: bytes, frames: Sequence[bytes], now: float
    ) -> list[BrokerOutput]:
        """on_frames for a message that came in on the ROUTER, from a network peer.

        libzmq lets a peer choose its routing id; one starting with LOCAL_PREFIX
        would pass for an in-process peer (never heartbeated or expired, uncapped,
        answered through the outbox) and could DISCONNECT raspyd's own workers, so
        it is rejected (`local_id`) without a reply.
        """
        if peer[:1] == LOCAL_PREFIX:
            out = self._out = []
            self._reject(peer, "local_id", "", len(frames))
            return out
        return self.on_frames(peer, frames, now)

    def on_frames(
        self,
        peer: bytes,
        frames: Sequence[bytes],
        now: float,
        give_up_at: float = _INF,
    ) -> list[BrokerOutput]:
        """Handle one message from `peer` (routing id stripped); never raises.

        Also in-process peers' messages; a network peer's go through
        on_router_frames. `give_up_at`: when an in-process client stops waiting for
        this request's reply; a request still queued then is never dispatched."""
        out = self._out = []
        try:
            self._limits.check("mdp", frames)
            message = mdp_decode.decode_at_broker(
                frames, accept_majortomo=self._majortomo
            )
        except MalformedMessage as exc:
            self._reject(peer, exc.reason, exc.detail, len(frames))
            if (worker := self._workers.get(peer)) is not None:
                pending = worker.request
                if pending is not None and exc.reason in _OVER_LIMITS:
                    # its reply, too big: any worker would answer so (§3.6 overflow)
                    pending.failed = True
                    self._drop(worker.service, pending, "reply_overflow")
                self._disconnect(worker, "protocol_error", now)
            return out
        if isinstance(message, mdp.ClientRequest):
            service = message.service
            # RFC 8: every mmi.* name is answered, 501 if unknown; only the names the
            # broker keeps (queues) are capped
            if len(service) > MAX_SERVICE_BYTES and service[:4] != mmi.PREFIX:
                self._reject(peer, "service_too_long", "", len(frames))
            else:
                self._on_request(peer, message, now, give_up_at)
            return out
        worker = self._workers.get(peer)
        if worker is None:
            self._from_unknown(peer, message, len(frames), now)
        elif message.version is not worker.version:
            # §3.5: the dialect never changes for a registered worker
            self._reject(peer, "dialect_changed", message.version, len(frames))
            self._disconnect(worker, "protocol_error", now)
        elif isinstance(message, mdp.WorkerReply):
            if (pending := worker.request) is None or pending.client != message.client:
                # §2.8: REPLY while idle or for another client: not forwarded
                self._reject(peer, "unexpected_reply", "", len(frames))
                self._disconnect(worker, "protocol_error", now)
            else:
                self._on_reply(worker, pending, message, now)
        elif isinstance(message, mdp.Heartbeat):
            self._counts["heartbeats_received"] += 1
            if worker.heard_heartbeat(now):
                self._at(now + self._silence_s)
        elif isinstance(message, mdp.Disconnect):
            self._forget(worker, "disconnect", now)
        else:
            # §2.7: a second READY, or a REQUEST sent by a worker
            ready = isinstance(message, mdp.Ready)
            reason = "unexpected_ready" if ready else "unexpected_request"
            self._reject(peer, reason, "", len(frames))
            self._disconnect(worker, "protocol_error", now)
        return out

    def on_tick(self, now: float) -> list[BrokerOutput]:
        """Send due heartbeats, expire silent workers, drop requests past their TTL."""
        out = self._out = []
        for worker in list(self._workers.values()):
            if worker.local:
                continue  # in-process: never heartbeated, never expired
            if now >= worker.expires_at(self._silence_s, self._busy_s):
                self._counts["expired_workers"] += 1
                self._forget(worker, "expired", now)  # §2.6 raspy: silently
            elif now >= worker.last_sent_at + self._interval_s:
                worker.last_sent_at = now
                self._counts["heartbeats_sent"] += 1
                out.append(Send(worker.id, mdp.heartbeat_frames(worker.version)))
        for service in list(self._services.values()):
            queue = service.queue
            while queue and now >= service.expires_at(queue[0], self._ttl_s):
                self._drop_expired(service, self._pop(service), now)
            self._tidy(service)
        self._next_at = self._earliest()
        return out

    def next_deadline(self) -> float | None:
        """When on_tick next has work (maybe early, never late); None if never."""
        return None if self._next_at == _INF else self._next_at

    def shutdown(self) -> list[BrokerOutput]:
        """DISCONNECT every external worker; forget all workers and queued requests."""
        out = self._out = []
        for worker in self._workers.values():
            if not worker.local:
                out.append(Send(worker.id, mdp.disconnect_frames(worker.version)))
            out.append(WorkerRemoved(worker.service.name, worker.id, "shutdown"))
        for service in self._services.values():
            for pending in service.queue:
                self._drop(service, pending, "shutdown")
            if service.live:
                out.append(ServiceAvailability(service.name, False))
        self._workers.clear()
        self._services.clear()
        self._queued_bytes = self._external_workers = 0
        self._next_at = _INF
        return out

    # ------------------------------------------------------------ requests

    def _on_request(
        self, peer: bytes, request: mdp.ClientRequest, now: float, give_up_at: float
    ) -> None:
        name = request.service
        if name[:4] == mmi.PREFIX:
            self._on_mmi(peer, request)
            return
        self._counts["requests"] += 1
        if now >= give_up_at:  # read after its sender stopped waiting
            self._drop(Service(name), Pending(peer, request, now), "abandoned")
            return
        handler = self._handlers.get(name)
        if handler is not None and handler[1] < handler[0]:
            handler[1] += 1
            self._out.append(LocalRequest(peer, request))
            return
        service = self._services.get(name)
        pending = Pending(peer, request, now, give_up_at)
        if service is None:
            if len(self._services) >= self._max_services:
                self._drop(Service(name), pending, "too_many_services")
                return
            service = self._services[name] = Service(name)
        queue = service.queue
        if not queue and service.idle:  # fast path: straight to the LRU worker
            self._assign(service.idle.popleft(), pending, now)
            return
        reason = self._over_budget(service, pending.size)
        if reason:
            self._drop(service, pending, reason)
            self._tidy(service)
        else:
            self._push(service, pending)
            self._at(service.expires_at(pending, self._ttl_s))

    def _on_reply(
        self, worker: Worker, pending: Pending, reply: mdp.WorkerReply, now: float
    ) -> None:
        worker.last_recv_at = now
        service = worker.service
        body = reply.body
        if pending.version is _V01 and (not reply.final or pending.buffer is not None):
            # §3.6 raspy: a 0.1 client gets all PARTIAL bodies and the FINAL in one
            if pending.collect(body, self._limits):
                self._drop(service, pending, "reply_overflow")
            if not reply.final:
                self._counts["partials"] += 1
                return
            body = () if pending.buffer is None else tuple(pending.buffer)
        if not reply.final:
            self._counts["partials"] += 1
            pending.streamed = True
            frames = mdp.client_reply_frames(pending.version, service.name, body, False)
            self._out.append(Send(pending.client, frames))
            return
        worker.request = None
        # The worker's next request goes out before this reply: the worker's
        # turnaround, not the broker, bounds MDP throughput (tools/bench_mdp.py).
        self._make_idle(worker, now)
        if not pending.failed:
            self._counts["replies"] += 1
            frames = mdp.client_reply_frames(pending.version, service.name, body)
            self._out.append(Send(pending.client, frames))

    def _dispatch(self, service: Service, now: float) -> None:
        """§2.5.2: the oldest request to the worker idle longest."""
        queue = service.queue
        idle = service.idle
        while queue and idle:
            pending = self._pop(service)
            if now >= service.expires_at(pending, self._ttl_s):
                self._drop_expired(service, pending, now)
            else:
                self._assign(idle.popleft(), pending, now)
                service.dispatched_at = now

    def _assign(self, worker: Worker, pending: Pending, now: float) -> None:
        worker.start(pending, now)
        frames = mdp.worker_request_frames(worker.version, pending.client, pending.body)
        self._out.append(Send(worker.id, frames))

    # ------------------------------------------------------------ workers

    def _from_unknown(
        self, peer: bytes, message: mdp.BrokerInbound, count: int, now: float
    ) -> None:
        if isinstance(message, mdp.Disconnect):
            return  # §2.8: allowed, ignored
        if isinstance(message, mdp.Ready) and not mmi.is_mmi(message.service):
            reason = self._over_cap(peer, message.service)
            if reason:
                self._reject(peer, reason, "", count)
                self._out.append(Send(peer, mdp.disconnect_frames(message.version)))
            else:
                self._register(peer, message, now)
            return
        # §2.8: READY for mmi.* (RFC 8 MUST), or HEARTBEAT/REPLY/PARTIAL/FINAL/REQUEST
        # from an unknown peer
        ready = isinstance(message, mdp.Ready)
        reason = "mmi_ready" if ready else "unknown_worker"
        self._reject(peer, reason, "" if ready else type(message).__name__, count)
        self._out.append(Send(peer, mdp.disconnect_frames(message.version)))

    def _register(self, peer: bytes, ready: mdp.Ready, now: float) -> None:
        name = ready.service
        service = self._services.get(name)
        if service is None:
            service = self._services[name] = Service(name)
        worker = self._workers[peer] = Worker(peer, service, ready.version, now)
        service.live += 1
        if not worker.local:
            self._external_workers += 1
        self._out.append(WorkerRegistered(name, peer, ready.version))
        if service.live == 1:
            self._out.append(ServiceAvailability(name, True))
        if not worker.local:
            self._at(now + self._interval_s)
        self._make_idle(worker, now)

    def _make_idle(self, worker: Worker, now: float) -> None:
        if not worker.local:
            self._at(now + self._silence_s)
        service = worker.service
        service.idle.append(worker)
        if service.queue:
            self._dispatch(service, now)
