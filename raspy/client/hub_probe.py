"""One look at a hub from another board: does it take our keys, and who serves a name.

A raspy-poller whose keys the hub refuses, or whose hostname another board already
serves (an SD card copied from it), would otherwise run on in silence: a refused
CURVE handshake is not an error a ZeroMQ socket reports, and the broker shares a
service's requests among all its workers. `probe_hub` asks the broker `mmi.workers`
for one service on a fresh DEALER whose socket monitor shows how the handshake ended.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Final

import zmq
from zmq.utils.monitor import recv_monitor_message

from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode, mmi
from raspy.transport.sockets import Context, CurveKeys, make_socket

__all__ = ["HubAnswer", "probe_hub", "refusal"]

_SLICE_MS: Final = 250
_FAILED: Final = frozenset(
    {
        zmq.EVENT_HANDSHAKE_FAILED_AUTH,
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    }
)
_EVENTS: Final = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


@dataclass(frozen=True, slots=True)
class HubAnswer:
    """What one probe learned: `refused` says why the hub would not talk to us (a
    sentence for the user), else `workers` is the live workers of the service asked
    about (None: no answer in time, e.g. the hub is down)."""

    refused: str | None = None
    workers: int | None = None


def refusal(event: int, value: int, endpoint: str, curve: bool) -> str | None:
    """The user's sentence for a failed handshake seen by a socket monitor; None for
    any other event. Which side notices a mechanism mismatch first is a race (the
    other then sees the connection dropped), so with keys only a refusal by ZAP is
    told apart here; probe_hub tells a plain hub from a wrong server key."""
    if event not in _FAILED:
        return None
    if not curve:
        return (
            f"the hub at {endpoint} requires CURVE: give raspy-poller --server-key "
            "(the hub's public certificate) and --client-cert (this board's secret one)"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (
            f"the hub at {endpoint} refused this board's key (ZAP status {value}): "
            "copy the public half of --client-cert (its .key file) into the hub's "
            "[security] authorized_keys_dir"
        )
    return (
        f"the CURVE handshake with the hub at {endpoint} failed: --server-key is not "
        "the public certificate of the hub's curve_secret_key_file"
    )


def _plain_hub(endpoint: str) -> str:
    return (
        f"the hub at {endpoint} does not use CURVE: start raspy-poller without "
        "--server-key and --client-cert, or turn on the hub's [security]"
    )


def probe_hub(
    context: Context,
    endpoint: str,
    service: bytes,
    *,
    curve: CurveKeys | None,
    timeout_s: float,
) -> HubAnswer:
    """Ask `mmi.workers` for `service` once, within `timeout_s` (twice that when
    a CURVE handshake fails: a plain one is tried then)."""
    failed, value, workers = _ask(context, endpoint, service, curve, timeout_s)
    if failed is None:
        return HubAnswer(workers=workers)
    if curve is not None and failed != zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        plain, _, answered = _ask(context, endpoint, service, None, timeout_s)
        if plain is None and answered is not None:
            return HubAnswer(refused=_plain_hub(endpoint))
    return HubAnswer(refused=refusal(failed, value, endpoint, curve is not None))


def _ask(
    context: Context,
    endpoint: str,
    service: bytes,
    curve: CurveKeys | None,
    timeout_s: float,
) -> tuple[int | None, int, int | None]:
    """(the failed handshake's event or None, its value, the workers or None)."""
    sock = make_socket(context, zmq.DEALER, linger_ms=0, curve=curve)
    try:
        monitor = sock.get_monitor_socket(_EVENTS)
    except BaseException:
        sock.close(linger=0)  # left open, it would hold the context's term()
        raise
    try:
        sock.connect(endpoint)
        sock.send_multipart(
            mdp.encode(mdp.ClientRequest(mdp.Version.V02, mmi.WORKERS, (service,)))
        )
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        deadline = time.monotonic() + timeout_s
        while (wait_ms := math.ceil((deadline - time.monotonic()) * 1000)) > 0:
            ready = dict(poller.poll(min(wait_ms, _SLICE_MS)))
            if monitor in ready:
                event = recv_monitor_message(monitor)
                if int(event["event"]) in _FAILED:
                    return int(event["event"]), int(event["value"]), None
            if sock in ready:
                count = _workers(sock.recv_multipart(), service)
                if count is not None:
                    return None, 0, count
        return None, 0, None
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)


def _workers(frames: list[bytes], service: bytes) -> int | None:
    """Idle plus busy workers of `service` in an mmi.workers reply; None if the
    reply is not one."""
    try:
        reply = mdp_decode.decode_at_client(frames, mdp.Version.V02)
    except MalformedMessage:
        return None
    if reply.service != mmi.WORKERS or len(reply.body) != 2 or reply.body[0] != b"200":
        return None
    try:
        table = json.loads(reply.body[1])
        counts = table.get(service.decode("ascii", "backslashreplace"), {})
        return int(counts.get("idle", 0)) + int(counts.get("busy", 0))
    except (ValueError, AttributeError, TypeError):
        return None
