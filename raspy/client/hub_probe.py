"""One look at a hub from another board: does it take our keys, and who serves which
names.

A raspy-poller whose keys the hub refuses, or whose hostname another board already
serves (an SD card copied from it), would otherwise run on in silence: a refused
CURVE handshake is not an error a ZeroMQ socket reports, and the broker shares a
service's requests among all its workers. A HubProbe asks the broker `mmi.workers`
for a pattern of names on a fresh DEALER whose socket monitor shows how the
handshake ended. It never blocks longer than its caller asks (poll()), so the
caller's loop stays free for its signals and its watchdog while a hub that is away
takes its whole timeout to say nothing. Its sockets are its caller's thread's.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import zmq

from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode, mmi
from raspy.transport.sockets import Context, CurveKeys, make_socket, monitor_event

__all__ = ["HubAnswer", "HubProbe", "refusal"]

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
    sentence for the user), else `workers` maps each service the pattern matched
    to its live workers (None: no answer in time, e.g. the hub is down)."""

    refused: str | None = None
    workers: Mapping[str, int] | None = None


def refusal(event: int, value: int, endpoint: str, curve: bool) -> str | None:
    """The user's sentence for a failed handshake seen by a socket monitor; None for
    any other event. Which side notices a mechanism mismatch first is a race (the
    other then sees the connection dropped), so with keys only a refusal by ZAP is
    told apart here; HubProbe tells a plain hub from a wrong server key."""
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


class HubProbe:
    """One `mmi.workers` question for `pattern` under way: poll() it until it has
    the answer, close() it in any case (its sockets would hold the context's
    term()). A CURVE handshake that fails for another reason than ZAP's refusal
    is tried once more without keys, within a timeout of its own: a hub that
    answers that one does not use CURVE."""

    def __init__(
        self,
        context: Context,
        endpoint: str,
        pattern: bytes,
        *,
        curve: CurveKeys | None,
        timeout_s: float,
    ) -> None:
        self._context = context
        self._endpoint = endpoint
        self._pattern = pattern
        self._curve = curve
        self._timeout_s = timeout_s
        self._attempt = _Attempt(context, endpoint, pattern, curve, timeout_s)
        self._failed: _Outcome | None = None  # the CURVE attempt's, while plain asks

    def poll(self, wait_s: float = 0.0) -> HubAnswer | None:
        """The answer, once there is one (the caller then drops this probe); None
        while the question is under way, after waiting up to `wait_s` for it."""
        outcome = self._attempt.poll(wait_s)
        if outcome is None:
            return None
        self._attempt.close()
        return self._answered(outcome)

    def _answered(self, outcome: _Outcome) -> HubAnswer | None:
        """The answer an attempt's outcome makes, or None with the plain one started."""
        curve = self._curve is not None
        if self._failed is not None:  # the plain attempt's
            failed, self._failed = self._failed, None
            if outcome.event is None and outcome.workers is not None:
                return HubAnswer(refused=_plain_hub(self._endpoint))
            outcome = failed
        elif outcome.event is None:
            return HubAnswer(workers=outcome.workers)
        elif curve and outcome.event != zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self._failed = outcome
            self._attempt = _Attempt(
                self._context, self._endpoint, self._pattern, None, self._timeout_s
            )
            return None
        assert outcome.event is not None  # a failed handshake, as every branch says
        return HubAnswer(
            refused=refusal(outcome.event, outcome.value, self._endpoint, curve)
        )

    def close(self) -> None:
        self._attempt.close()


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one attempt ended: its failed handshake's event (None: none failed) and
    value, or the workers table (None: no answer in time)."""

    event: int | None = None
    value: int = 0
    workers: dict[str, int] | None = None


class _Attempt:
    """One mmi.workers request on a fresh DEALER, with the monitor that shows how its
    handshake ended, until `timeout_s` after it was sent."""

    def __init__(
        self,
        context: Context,
        endpoint: str,
        pattern: bytes,
        curve: CurveKeys | None,
        timeout_s: float,
    ) -> None:
        self._closed = False
        self._sock = make_socket(context, zmq.DEALER, linger_ms=0, curve=curve)
        try:
            self._monitor = self._sock.get_monitor_socket(_EVENTS)
        except BaseException:
            self._sock.close(linger=0)  # left open, it would hold the context's term()
            raise
        try:
            self._sock.connect(endpoint)
            self._sock.send_multipart(
                mdp.encode(mdp.ClientRequest(mdp.Version.V02, mmi.WORKERS, (pattern,)))
            )
        except BaseException:
            self.close()
            raise
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)
        self._deadline = time.monotonic() + timeout_s

    def poll(self, wait_s: float) -> _Outcome | None:
        """The outcome once there is one, else None after up to `wait_s`."""
        until = min(self._deadline, time.monotonic() + wait_s)
        while True:
            wait_ms = max(0, math.ceil((until - time.monotonic()) * 1000))
            ready = dict(self._poller.poll(wait_ms))
            if self._monitor in ready:
                event, value = monitor_event(self._monitor)
                if event in _FAILED:
                    return _Outcome(event, value)
            if self._sock in ready:
                table = _workers(self._sock.recv_multipart())
                if table is not None:
                    return _Outcome(workers=table)
            if ready:
                continue  # not the answer: what else is there, without waiting longer
            if time.monotonic() >= self._deadline:
                return _Outcome()  # no answer in time
            return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sock.disable_monitor()
        self._monitor.close(linger=0)
        self._sock.close(linger=0)


def _workers(frames: list[bytes]) -> dict[str, int] | None:
    """Idle plus busy workers of each service in an mmi.workers reply; None if the
    reply is not one."""
    try:
        reply = mdp_decode.decode_at_client(frames, mdp.Version.V02)
    except MalformedMessage:
        return None
    if reply.service != mmi.WORKERS or len(reply.body) != 2 or reply.body[0] != b"200":
        return None
    try:
        table = json.loads(reply.body[1])
        return {
            str(name): int(counts.get("idle", 0)) + int(counts.get("busy", 0))
            for name, counts in table.items()
        }
    except (ValueError, AttributeError, TypeError, OverflowError):  # 1e999: inf
        return None
