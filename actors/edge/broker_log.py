"""How the edge logs what BrokerCore reports: bounded lines, bad input rate-limited."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from raspy.cores import broker
from raspy.ratelimit import LogRateLimiter

log = structlog.get_logger(component="edge")


def _service(name: bytes) -> str:
    """At most 64 bytes of a peer's service name: a line's size is bounded too."""
    shown = name[:64].decode("ascii", "backslashreplace")
    return shown + ("…" if len(name) > 64 else "")


def log_broker_output(
    out: broker.BrokerOutput, limiter: LogRateLimiter, monotonic: Callable[[], float]
) -> None:
    """Log what the broker reports; bad input at most once per (peer, reason) a
    minute (docs/style.md §5); in-process workers come and go with their actors: debug."""
    match out:
        case broker.Rejected(peer=peer, reason=reason, detail=detail, frames=count):
            if limiter.should_log((peer, reason), monotonic()):
                # a worker's heartbeat to a broker that does not know it: what every
                # remote worker sends once after raspyd restarts (told to reconnect)
                restarted = reason == "unknown_worker" and detail == "Heartbeat"
                emit = log.info if restarted else log.warning
                emit(
                    "frame_rejected",
                    peer=peer.hex(),
                    reason=reason,
                    detail=detail,
                    frames=count,
                )
        case broker.WorkerRegistered(service=service, worker=worker, version=ver):
            emit = log.debug if worker[:1] == broker.LOCAL_PREFIX else log.info
            emit(
                "worker_registered",
                service=_service(service),
                worker=worker.hex(),
                version=str(ver),
            )
        case broker.WorkerRemoved(service=service, worker=worker, reason=reason):
            emit = log.debug if worker[:1] == broker.LOCAL_PREFIX else log.info
            emit(
                "worker_removed",
                service=_service(service),
                worker=worker.hex(),
                reason=reason,
            )
        case broker.RequestDropped(service=service, client=client, reason=reason):
            if limiter.should_log((service, reason), monotonic()):
                log.warning(
                    "request_dropped",
                    service=_service(service),
                    client=client.hex(),
                    reason=reason,
                )
        case _:
            log.warning("unexpected_broker_output", kind=type(out).__name__)
