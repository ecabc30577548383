"""BrokerBook: the Majordomo broker's books, under BrokerCore (`broker.py`).

Its settings, its tables (services, workers, pending requests: `broker_state`), its
counters and its next deadline; the bookkeeping that every input shares (the queues'
byte totals, the budgets and caps a request or a READY must fit, a service forgotten
once it is empty, a rejection or a dropped request counted and reported), and what is
read from the books without a worker: the queries and the MMI answers (RFC 8). A
base class, not a part BrokerCore holds, so that the per-message path reaches these
methods and tables with no extra hop (tools/bench_mdp.py).
"""

from __future__ import annotations

from typing import Final

from raspy.cores.broker_output import BrokerOutput, Rejected, RequestDropped, Send
from raspy.cores.broker_settings import BrokerSettings
from raspy.cores.broker_state import (
    LOCAL_PREFIX,
    ROUTE_SEPARATOR,
    Pending,
    Service,
    Worker,
)
from raspy.protocol import mdp, mmi

MAX_SERVICE_BYTES: Final = mdp.MAX_SERVICE_BYTES
_INF: Final = float("inf")
_VERSION_SLOT: Final = {
    mdp.Version.V01: 2,
    mdp.Version.V02: 3,
    mdp.Version.MAJORTOMO: 4,
}


class BrokerBook:
    """The broker's state and its bookkeeping; BrokerCore's inputs drive it.

    Not thread-safe: one owner (the edge's I/O thread) calls every method.
    """

    def __init__(self, settings: BrokerSettings | None = None) -> None:
        settings = settings if settings is not None else BrokerSettings()
        self._interval_s = settings.heartbeat_interval_s
        self._silence_s = settings.heartbeat_interval_s * settings.heartbeat_liveness
        self._busy_s = settings.busy_timeout_s
        self._ttl_s = settings.request_ttl_s
        self._max_queue = settings.max_queue_per_service
        self._queue_bytes = settings.queue_bytes_per_service
        self._total_bytes = settings.queue_bytes_total
        self._max_services = settings.max_services
        self._max_workers = settings.max_workers
        self._queued_bytes = 0  # all services' queued_bytes
        self._external_workers = 0
        self._limits = settings.limits
        self._majortomo = settings.accept_majortomo
        self._services: dict[bytes, Service] = {}
        self._workers: dict[bytes, Worker] = {}
        self._next_at = _INF  # never later than any deadline; exact after on_tick
        self._out: list[BrokerOutput] = []  # outputs of the call in progress
        self._counts: dict[str, int] = dict.fromkeys(
            ("requests", "replies", "partials", "mmi", "redispatched"), 0
        )
        self._counts.update(
            expired_workers=0,
            unreachable_workers=0,
            heartbeats_sent=0,
            heartbeats_received=0,
        )
        self._handlers: dict[bytes, list[int]] = {}  # service -> [capacity, handed]

    # ------------------------------------------------------------ queries

    def has_workers(self, service: bytes) -> bool:
        """True if `service` has at least one live worker."""
        record = self._services.get(service)
        return record is not None and record.live > 0

    def services(self) -> list[bytes]:
        """Names of the services with live workers, sorted."""
        return sorted(name for name, s in self._services.items() if s.live)

    def worker_counts(self) -> dict[bytes, mmi.WorkerCounts]:
        """Live workers per service: idle, busy, and by MDP version."""
        rows: dict[bytes, list[int]] = {}
        for worker in self._workers.values():
            row = rows.setdefault(worker.service.name, [0, 0, 0, 0, 0])
            row[0 if worker.request is None else 1] += 1
            row[_VERSION_SLOT[worker.version]] += 1
        return {name: mmi.WorkerCounts(*row) for name, row in rows.items()}

    def _local_workers(self, owner: bytes) -> list[Worker]:
        """The in-process workers routed to the actor attached as `owner`: `owner`
        itself and every `owner/…`."""
        prefix = owner + ROUTE_SEPARATOR
        return [
            worker
            for worker in self._workers.values()
            if worker.local and (worker.id == owner or worker.id.startswith(prefix))
        ]

    def stats(self) -> dict[str, int]:
        """Counters since start (rejected.<reason>, dropped.<reason> too) and gauges."""
        live = [s for s in self._services.values() if s.live]
        return {
            **self._counts,
            "workers": len(self._workers),
            "services": len(live),
            "queued": sum(len(s.queue) for s in self._services.values()),
            "queued_bytes": self._queued_bytes,
        }

    # ------------------------------------------------------------ MMI

    def _on_mmi(self, peer: bytes, request: mdp.ClientRequest) -> None:
        # §4 raspy: the name is the FIRST body frame
        self._counts["mmi"] += 1
        name = request.service
        argument = request.body[0]
        if name == mmi.SERVICE:
            body = mmi.service_reply(self.has_workers(argument))
        elif name == mmi.SERVICES:
            body = mmi.services_reply(argument, self.services())
        elif name == mmi.WORKERS:
            body = mmi.workers_reply(argument, self.worker_counts())
        else:
            body = mmi.not_implemented_reply()
        reply = mdp.client_reply_frames(request.version, name, body)
        self._out.append(Send(peer, reply))

    # ------------------------------------------------------------ queues, budgets, caps

    def _over_budget(self, service: Service, size: int) -> str:
        """Why one more request of `size` bytes may not be queued; '' if it may."""
        if len(service.queue) >= self._max_queue:
            return "queue_full"
        if service.queued_bytes + size > self._queue_bytes:
            return "queue_full"
        if self._queued_bytes + size > self._total_bytes:
            return "queue_total_full"
        return ""

    # the queues change only here, so that the total of all services' bytes follows

    def _push(
        self, service: Service, pending: Pending, *, requeue: bool = False
    ) -> None:
        """Queue at the back (a new request) or at the front (one to send again)."""
        if requeue:
            service.requeue(pending)
        else:
            service.push(pending)
        self._queued_bytes += pending.size

    def _pop(self, service: Service) -> Pending:
        pending = service.pop()
        self._queued_bytes -= pending.size
        return pending

    def _over_cap(self, peer: bytes, name: bytes) -> str:
        """Why an external worker may not register for `name`; '' if it may."""
        if peer[:1] == LOCAL_PREFIX:
            return ""  # raspyd's own services always come up
        if len(name) > MAX_SERVICE_BYTES:
            return "service_too_long"
        if self._external_workers >= self._max_workers:
            return "too_many_workers"
        if name not in self._services and len(self._services) >= self._max_services:
            return "too_many_services"
        return ""

    def _tidy(self, service: Service) -> None:
        """Forget a service with neither workers nor queued requests."""
        if not service.live and not service.queue:
            self._services.pop(service.name, None)

    # ------------------------------------------------------------ timers, reports

    def _earliest(self) -> float:
        earliest = _INF
        for worker in self._workers.values():
            if not worker.local:
                expires_at = worker.expires_at(self._silence_s, self._busy_s)
                heartbeat_at = worker.last_sent_at + self._interval_s
                earliest = min(earliest, expires_at, heartbeat_at)
        for service in self._services.values():
            if service.queue:
                expires_at = service.expires_at(service.queue[0], self._ttl_s)
                earliest = min(earliest, expires_at)
        return earliest

    def _at(self, deadline: float) -> None:
        self._next_at = min(self._next_at, deadline)

    def _reject(self, peer: bytes, reason: str, detail: str, frames: int) -> None:
        key = f"rejected.{reason}"
        self._counts[key] = self._counts.get(key, 0) + 1
        self._out.append(Rejected(peer, reason, detail, frames))

    def _drop_expired(self, service: Service, pending: Pending, now: float) -> None:
        reason = "abandoned" if now >= pending.give_up_at else "expired"
        self._drop(service, pending, reason)

    def _drop(self, service: Service, pending: Pending, reason: str) -> None:
        key = f"dropped.{reason}"
        self._counts[key] = self._counts.get(key, 0) + 1
        self._out.append(RequestDropped(service.name, pending.client, reason))
