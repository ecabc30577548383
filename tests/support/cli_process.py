"""A command-line tool run as its own process by a test, its outcome, and a bare
ROUTER answering its one-frame JSON requests as the broker and a service would (the
broker's `mmi.service` too, which `raspy device` and `raspy history` ask first)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import zmq

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
