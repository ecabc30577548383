"""How the edge logs what BrokerCore reports: bounded lines, bad input rate-limited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import structlog

from raspy.cores import broker_output, broker_state
from raspy.ratelimit import LogRateLimiter

log = structlog.get_logger(component="edge")

_SHOWN_BYTES: Final = 64  # of a peer's service name or routing id: lines stay small


def peer_text(peer: bytes) -> str:
    """A routing id as every broker line names a peer: an in-process one (0xff, then
    its name) as `local:NAME`, one a peer chose in printable ASCII (ZMQ_ROUTING_ID)
    as `id:NAME`, and libzmq's own (0x00, then a number) and any other as hex, as
    before. The prefixes keep a name from passing for hex. At most 64 bytes shown."""
    local = peer[:1] == broker_state.LOCAL_PREFIX
    name = peer[1:] if local else peer
    if name and all(0x21 <= byte <= 0x7E for byte in name):
        cut = "…" if len(name) > _SHOWN_BYTES else ""
        return ("local:" if local else "id:") + name[:_SHOWN_BYTES].decode() + cut
    return _hex(peer)


def _hex(peer: bytes) -> str:
    return peer[:_SHOWN_BYTES].hex() + ("…" if len(peer) > _SHOWN_BYTES else "")


def _service(name: bytes) -> str:
    """At most 64 bytes of a peer's service name: a line's size is bounded too."""
    shown = name[:_SHOWN_BYTES].decode("ascii", "backslashreplace")
    return shown + ("…" if len(name) > _SHOWN_BYTES else "")


def log_broker_output(
    out: broker_output.BrokerOutput,
    limiter: LogRateLimiter,
    monotonic: Callable[[], float],
) -> None:
    """Log what the broker reports; bad input at most once per (peer, reason) a
    minute (docs/style.md §5); in-process workers come and go with their actors: debug."""
    match out:
        case broker_output.Rejected(
            peer=peer, reason=reason, detail=detail, frames=count
        ):
            if limiter.should_log((peer, reason), monotonic()):
                # a worker's heartbeat to a broker that does not know it: what every
                # remote worker sends once after raspyd restarts (told to reconnect)
                restarted = reason == "unknown_worker" and detail == "Heartbeat"
                emit = log.info if restarted else log.warning
                # local_id: a network peer that chose an id with the in-process
                # marker; as local:NAME it would pass for one of raspyd's own parts
                shown = _hex(peer) if reason == "local_id" else peer_text(peer)
                emit(
                    "frame_rejected",
                    peer=shown,
                    reason=reason,
                    detail=detail,
                    frames=count,
                )
        case broker_output.WorkerRegistered(
            service=service, worker=worker, version=ver
        ):
            emit = log.debug if worker[:1] == broker_state.LOCAL_PREFIX else log.info
            emit(
                "worker_registered",
                service=_service(service),
                worker=peer_text(worker),
                version=str(ver),
            )
        case broker_output.WorkerRemoved(service=service, worker=worker, reason=reason):
            emit = log.debug if worker[:1] == broker_state.LOCAL_PREFIX else log.info
            emit(
                "worker_removed",
                service=_service(service),
                worker=peer_text(worker),
                reason=reason,
            )
        case broker_output.RequestDropped(
            service=service, client=client, reason=reason
        ):
            if limiter.should_log((service, reason), monotonic()):
                log.warning(
                    "request_dropped",
                    service=_service(service),
                    client=peer_text(client),
                    reason=reason,
                )
        case _:
            log.warning("unexpected_broker_output", kind=type(out).__name__)
