"""Conformance audit against the real raspyd: raw MDP peers of every dialect on one
service, the broker's heartbeats and expiry as its config sets them, MMI for the
daemon's own services, and DISCONNECT to every worker on SIGTERM (RFC 7, RFC 18,
RFC 8; docs/protocols.md §2.6, §3.6, §4). Frames are written out from the specs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq
from support.daemon import hostname, running_daemon
from support.mdp_spec import (
    DIALECTS,
    V01,
    V02,
    VMJ,
    Dealers,
    client_final,
    client_request,
    disconnect,
    final,
    heartbeat,
    mmi_service,
    ready,
    split_request,
    wait_status,
)
from support.wait import wait_until
from support.zmqctx import checked_context, recv

INTERVAL_S = 0.5
CONFIG = f"""
[broker]
heartbeat_interval_s = {INTERVAL_S}
heartbeat_liveness = 10
"""


def _next_request(worker: zmq.Socket[bytes], dialect: str) -> tuple[bytes, list[bytes]]:
    """The next REQUEST within 3 s; the broker's HEARTBEATs on the way are answered."""
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        frames = recv(worker)
        if frames != heartbeat(dialect):
            return split_request(dialect, frames)
        worker.send_multipart(heartbeat(dialect))
    raise AssertionError(
        f"no REQUEST to the {dialect} worker within 3 s, only HEARTBEATs"
    )


def _heartbeats_only(worker: zmq.Socket[bytes], dialect: str) -> bool:
    """Answer the broker's HEARTBEATs until none waits; True if one came."""
    came = False
    while worker.poll(0):
        assert worker.recv_multipart() == heartbeat(dialect)
        worker.send_multipart(heartbeat(dialect))
        came = True
    return came


@pytest.mark.timeout(60)
def test_raspyd_serves_every_dialect_on_one_service_heartbeats_and_expires_workers(
    tmp_path: Path,
) -> None:
    """The daemon as a whole: §3.6 mixing, §2.6 heartbeats at the configured interval
    and expiry after liveness x interval (5 s) of silence, RFC 8 codes, §2.8 garbage,
    and on SIGTERM a DISCONNECT to each worker in its own dialect."""
    echo = f"{hostname()}.echo".encode()
    with (
        running_daemon(tmp_path / "data", config_text=CONFIG) as daemon,
        checked_context() as ctx,
    ):
        dealers = Dealers(ctx)
        try:
            endpoint = daemon.endpoint
            workers: dict[str, zmq.Socket[bytes]] = {}
            for dialect in DIALECTS:
                # one at a time: separate sockets connect in any order, and the
                # broker's first HEARTBEAT to a worker proves its READY was taken
                workers[dialect] = dealers.open(endpoint)
                workers[dialect].send_multipart(ready(dialect, b"mixed"))
                wait_until(
                    lambda d=dialect: d in _pump_heard(workers),  # type: ignore[misc]
                    what=f"the broker to take the {dialect} worker's READY",
                )
            # READY order is V01, V02, majortomo: least recently used first (§2.5.2)
            for client_dialect, worker_dialect in [(V02, V01), (VMJ, V02), (V01, VMJ)]:
                _pump(workers)  # the workers stay alive (answer HEARTBEATs)
                client = dealers.open(endpoint)
                for service, status in [
                    (b"mmi.service", b"200"),
                    (b"mmi.absent", b"501"),
                ]:
                    client.send_multipart(client_request(client_dialect, service, echo))
                    assert recv(client) == client_final(client_dialect, service, status)
                client.send_multipart(client_request(client_dialect, echo, b"e"))
                assert recv(client) == client_final(client_dialect, echo, b"e")
                client.send_multipart(client_request(client_dialect, b"mixed", b"m"))
                worker = workers[worker_dialect]
                address, body = _next_request(worker, worker_dialect)
                assert body == [b"m"]
                worker.send_multipart(final(worker_dialect, address, b"M"))
                assert recv(client) == client_final(client_dialect, b"mixed", b"M")
            for dialect in DIALECTS:
                # every worker hears the broker's HEARTBEAT in its own dialect
                wait_until(
                    lambda d=dialect: _heartbeats_only(workers[d], d),  # type: ignore[misc]
                    what=f"a HEARTBEAT to the {dialect} worker",
                )
            # a worker that goes silent expires; the others answer heartbeats
            silent = dealers.open(endpoint)
            silent.send_multipart(ready(V02, b"solo"))
            wait_until(
                lambda: (
                    _pump(workers) and mmi_service(ctx, endpoint, b"solo") == b"200"
                ),
                what="the silent worker's READY",
            )
            wait_until(
                lambda: (
                    _pump(workers) and mmi_service(ctx, endpoint, b"solo") == b"404"
                ),
                what="the silent worker to expire",
                timeout_s=15,
            )
            silent.send_multipart(heartbeat(V02))
            assert _drain_to_disconnect(silent, V02)
            client = dealers.open(endpoint)
            client.send_multipart(client_request(V02, b"mixed", b"job"))
            dialect, worker = V01, workers[V01]
            address, body = _next_request(worker, dialect)
            assert body == [b"job"]
            worker.send_multipart(final(dialect, address, b"done"))
            assert recv(client) == client_final(V02, b"mixed", b"done")
            _pump(workers)
            wait_status(ctx, endpoint, b"mixed", b"200")
            # §2.8: garbage from a registered worker gets DISCONNECT in its dialect;
            # from an unknown peer it gets nothing, and the daemon goes on serving
            garbled = dealers.open(endpoint)
            garbled.send_multipart(ready(VMJ, b"junk"))
            wait_status(ctx, endpoint, b"junk", b"200")
            garbled.send_multipart([b"", b"MDPW02", b"\x09"])
            assert _drain_to_disconnect(garbled, VMJ)
            stranger = dealers.open(endpoint)
            stranger.send_multipart([b"HELLO", b"MDPC02"])
            wait_status(ctx, endpoint, b"junk", b"404")
            # the broker reads a peer's messages in order, and the ROUTER sends to
            # it in order: the first the stranger gets answers what it sent next
            stranger.send_multipart(client_request(V02, b"mmi.service", b"junk"))
            assert recv(stranger) == client_final(V02, b"mmi.service", b"404")
            _pump(workers)
            assert daemon.terminate(timeout_s=10) == 0
            for dialect, worker in workers.items():
                assert _drain_to_disconnect(worker, dialect)
        finally:
            dealers.close_all()


def _pump(workers: dict[str, zmq.Socket[bytes]]) -> bool:
    """Answer every HEARTBEAT waiting at the workers; always True."""
    _pump_heard(workers)
    return True


def _pump_heard(workers: dict[str, zmq.Socket[bytes]]) -> set[str]:
    """Answer every HEARTBEAT waiting at the workers; the dialects that had one."""
    return {d for d, worker in workers.items() if _heartbeats_only(worker, d)}


def _drain_to_disconnect(worker: zmq.Socket[bytes], dialect: str) -> bool:
    """Skip HEARTBEATs; True when the next other message is DISCONNECT."""
    while True:
        frames = recv(worker)
        if frames != heartbeat(dialect):
            return frames == disconnect(dialect)
