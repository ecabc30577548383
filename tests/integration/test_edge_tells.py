"""A failed tell never stops the edge (the whole broker); a failed ask still raises."""

from __future__ import annotations

from typing import Any

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until
from support.zmqctx import dealer, recv

from raspy.actors.messages import WatchServices


class _Gone(pykka.ThreadingActor):
    """An actor that has stopped: telling it raises ActorDeadError."""


def _dead_ref() -> pykka.ActorRef[Any]:
    ref = _Gone.start()
    ref.stop(block=True, timeout=5)
    return ref


def _echo_worker(edge: EdgeHandle) -> zmq.Socket[bytes]:
    """An RFC 7 worker of `echo`, ready once mmi.service (RFC 8) says so."""
    worker = dealer(edge.context, edge.endpoint)
    worker.send_multipart([b"", b"MDPW01", b"\x01", b"echo"])
    probe = dealer(edge.context, edge.endpoint)
    try:

        def _has_worker() -> bool:
            probe.send_multipart([b"MDPC02", b"\x01", b"mmi.service", b"echo"])
            return recv(probe)[-1] == b"200"

        wait_until(_has_worker, what="a worker for echo")
    finally:
        probe.close()
    return worker


def _served(edge: EdgeHandle, worker: zmq.Socket[bytes]) -> list[bytes]:
    """One RFC 7 request from a real client, answered by `worker`: the reply."""
    client = dealer(edge.context, edge.endpoint)
    try:
        client.send_multipart([b"", b"MDPC01", b"echo", b"ping"])
        request = recv(worker)
        worker.send_multipart([b"", b"MDPW01", b"\x03", request[3], b"", b"pong"])
        return recv(client)
    finally:
        client.close()


def test_a_told_command_that_fails_is_counted_and_the_edge_routes_on(
    edge: EdgeHandle,
) -> None:
    """WatchServices for a dead actor fails on the I/O thread (it tells the dead
    actor that `echo` is up). Told, nobody waits: the edge logs and counts it and
    still answers asks and routes a real request."""
    worker = _echo_worker(edge)
    try:
        with capture_logs() as logs:
            edge.ref.tell(WatchServices(_dead_ref()))
            wait_until(
                lambda: edge.stats.get("edge.told_failed") == 1,
                what="the failed tell counted",
            )
            # logged a moment after it is counted, on the I/O thread
            wait_until(
                lambda: any(e["event"] == "told_message_failed" for e in logs),
                what="the failed tell logged",
            )
        failed = [
            {k: v for k, v in entry.items() if k != "exc_info"}
            for entry in logs
            if entry["event"] == "told_message_failed"
        ]
        assert failed == [
            {
                "event": "told_message_failed",
                "log_level": "error",
                "component": "actor",
                "actor": "edge",
                "kind": "WatchServices",
                "error": failed[0]["error"],
            }
        ]
        assert failed[0]["error"].startswith("ActorDeadError: ")
        assert edge.ref.is_alive()
        assert edge.ref.ask(WatchServices(edge.ref), timeout=5) is None
        assert _served(edge, worker) == [b"", b"MDPC01", b"echo", b"pong"]
    finally:
        worker.close()


def test_an_asked_command_that_fails_raises_at_the_asker(edge: EdgeHandle) -> None:
    """Asked, the same failure reaches the asker; it is not a failed tell."""
    worker = _echo_worker(edge)
    try:
        with pytest.raises(pykka.ActorDeadError):
            edge.ref.ask(WatchServices(_dead_ref()), timeout=5)
        assert edge.ref.is_alive()
        assert edge.stats.get("edge.told_failed") == 0
        assert _served(edge, worker) == [b"", b"MDPC01", b"echo", b"pong"]
    finally:
        worker.close()
