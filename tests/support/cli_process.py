"""A command-line tool run as its own process by a test, its outcome, and a bare
ROUTER answering its one-frame JSON requests as the broker and a service would (the
broker's `mmi.service` too, which `raspy device` and `raspy history` ask first)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from support.zmqctx import recv


def finish(process: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    """Exit status, stdout and stderr; a tool still running after 15 s is killed."""
    try:
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def finish_text(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """finish() with stdout and stderr decoded as UTF-8."""
    status, out, err = finish(process)
    return status, out.decode(), err.decode()


def answer_presence(
    sock: zmq.Socket[bytes], service: bytes, status: bytes = b"200"
) -> None:
    """Take one RFC 8 `mmi.service` request asking for `service` and reply `status`
    (200: a worker serves it, 404: none does), as the broker would."""
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames == [b"MDPC02", b"\x01", b"mmi.service", service]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"mmi.service", status])


def answer_json(
    sock: zmq.Socket[bytes], service: bytes, status: bytes, body: object
) -> dict[str, Any]:
    """Take one RFC 18 request for `service` (one JSON frame), reply `[status, json]`;
    the request's JSON object."""
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames[:3] == [b"MDPC02", b"\x01", service]
    assert len(frames) == 4
    sock.send_multipart(
        [peer, b"MDPC02", b"\x03", service, status, json.dumps(body).encode()]
    )
    request: dict[str, Any] = json.loads(frames[3])
    return request


class Connections:
    """A ROUTER's connections as its monitor tells them: accepted, then ended."""

    def __init__(self, monitor: zmq.Socket[bytes]) -> None:
        self._monitor = monitor
        self.accepted = 0
        self._open = 0

    def wait_all_ended(self, timeout_s: float = 10.0) -> None:
        """Return once at least one connection came and every one has ended.

        libzmq hands on every message it read from a connection before it reports
        that connection's end, so the ROUTER then holds all that its peers got onto
        the wire. That includes a message sent on a connected, idle socket just
        before it closed with LINGER 0: its I/O thread is told of the message before
        it is told of the close, and writes it first (300 sends out of 300 arrived).
        Not one sent on a socket still connecting, which LINGER 0 drops about every
        other time: where that must be ruled out, a test logs what the tool sends
        (support.sent_log).
        """
        deadline = time.monotonic() + timeout_s
        while self.accepted == 0 or self._open > 0:
            wait_ms = max(0, round((deadline - time.monotonic()) * 1000))
            assert self._monitor.poll(wait_ms), (
                f"connections: {self.accepted} accepted, {self._open} not ended "
                f"within {timeout_s}s"
            )
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_ACCEPTED:
                self.accepted += 1
                self._open += 1
            elif event == zmq.EVENT_DISCONNECTED:
                self._open -= 1


@contextmanager
def connections(sock: zmq.Socket[bytes]) -> Iterator[Connections]:
    """Watch `sock`'s connections from now on (before the peers connect)."""
    monitor = sock.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
    try:
        yield Connections(monitor)
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
