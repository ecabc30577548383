"""One look at a hub from another board: does it take our keys, and who serves which
names.

A raspy-poller whose keys the hub refuses, or whose hostname another board already
serves (an SD card copied from it), would otherwise run on in silence: a refused
CURVE handshake is not an error a ZeroMQ socket reports, and the broker shares a
service's requests among all its workers. A HubProbe asks the broker `mmi.workers`
for a pattern of names on a fresh DEALER whose socket monitor shows how the
handshake ended. Both are read on an I/O Runner of the probe's own, which ends
with the answer; poll() never blocks longer than its caller asks, so the caller's
loop stays free for its signals and its watchdog while a hub that is away takes
its whole timeout to say nothing.
"""

from __future__ import annotations

import functools
import json
import operator
import threading
import time
from collections.abc import Mapping
from typing import Final

import zmq

from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode, mmi
from raspy.records import frozen
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.socket_set import SocketSet
from raspy.transport.sockets import (
    Context,
    CurveKeys,
    make_socket,
    send_if_connected,
)

__all__ = ["HubAnswer", "HubProbe", "refusal"]

_FAILED: Final = frozenset(
    {
        zmq.EVENT_HANDSHAKE_FAILED_AUTH,
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    }
)
_EVENTS: Final = functools.reduce(operator.or_, _FAILED)  # the monitor's mask


@frozen
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
    """One `mmi.workers` question for `pattern` under way, on a Runner of its own
    (its sockets are that thread's): poll() it until it has the answer, close() it
    in any case (its sockets would hold the context's term()). A CURVE handshake
    that fails for another reason than ZAP's refusal is tried once more without
    keys, within a timeout of its own: a hub that answers that one does not use
    CURVE."""

    def __init__(
        self,
        context: Context,
        endpoint: str,
        pattern: bytes,
        *,
        curve: CurveKeys | None,
        timeout_s: float,
    ) -> None:
        self._asker = _Asker(context, endpoint, pattern, curve, timeout_s)
        self._runner = Runner("hub-probe", self._asker, on_failure=self._asker.failed)
        try:
            self._runner.start()
        except RuntimeError:
            self._runner.stop()
            if self._runner.failure is not None:  # the socket's own error, as ever
                raise self._runner.failure from None
            raise

    def poll(self, wait_s: float = 0.0) -> HubAnswer | None:
        """The answer, once there is one (the caller then drops this probe); None
        while the question is under way, after waiting up to `wait_s` for it. What
        failed the question on the runner's thread is raised here."""
        asker = self._asker
        if not asker.answered.wait(wait_s):
            return None
        if asker.failure is not None:
            raise asker.failure
        return asker.answer

    def close(self) -> None:
        self._runner.stop()


@frozen
class _Outcome:
    """How one attempt ended: its failed handshake's event (None: none failed) and
    value, or the workers table (None: no answer in time)."""

    event: int | None = None
    value: int = 0
    workers: dict[str, int] | None = None


class _Asker:
    """The Runner's owner: one attempt after the other on a fresh DEALER, whose
    monitor shows how its handshake ended, and the answer they make. `answer` (or
    `failure`) is written before `answered` is set; the runner then stops."""

    _runner: Runner  # from open() on
    _sockets: SocketSet  # from open() on

    def __init__(
        self,
        context: Context,
        endpoint: str,
        pattern: bytes,
        curve: CurveKeys | None,
        timeout_s: float,
    ) -> None:
        self.answered = threading.Event()
        self.answer: HubAnswer | None = None
        self.failure: BaseException | None = None
        self._context = context
        self._endpoint = endpoint
        self._pattern = pattern
        self._curve = curve
        self._timeout_s = timeout_s
        self._deadline: float | None = None  # of the attempt under way
        self._outcome: _Outcome | None = None  # set by the first to tell
        self._failed: _Outcome | None = None  # the CURVE attempt's, while plain asks

    def open(self, runner: Runner) -> None:
        self._sockets = SocketSet(runner)  # first: close() closes what it holds
        self._runner = runner
        self._ask(self._curve)

    def next_deadline(self) -> float | None:
        return self._deadline

    def on_turn(self, now: float) -> None:
        if self._deadline is None:
            return
        outcome = self._outcome
        if outcome is None:
            if now < self._deadline:
                return
            outcome = _Outcome()  # no answer in time
        self._deadline = self._outcome = None
        self._sockets.close("dealer")
        answer = self._answered(outcome)
        if answer is not None:
            self.answer = answer
            self.answered.set()
            self._runner.request_stop()

    def execute(self, command: object) -> object:
        raise UnknownCommand("hub probe", command)

    def close(self) -> None:
        self._sockets.close_all()

    def failed(self, error: BaseException) -> None:
        self.failure = error
        self.answered.set()

    def _ask(self, curve: CurveKeys | None) -> None:
        sock = make_socket(self._context, zmq.DEALER, linger_ms=0, curve=curve)
        self._sockets.add(
            "dealer", sock, self._on_reply, watch=(_EVENTS, self._on_event)
        )
        sock.connect(self._endpoint)
        self._deadline = time.monotonic() + self._timeout_s
        question = mdp.ClientRequest(mdp.Version.V02, mmi.WORKERS, (self._pattern,))
        # unsent: the monitor holds the refused handshake's event already, which
        # makes the outcome; else the deadline does
        send_if_connected(sock, mdp.encode(question))

    def _on_event(self, event: int, value: int) -> None:
        if self._outcome is None and event in _FAILED:
            self._outcome = _Outcome(event, value)

    def _on_reply(self, frames: list[bytes]) -> None:
        if self._outcome is None:
            table = _workers(frames)  # None: not the answer, read on
            if table is not None:
                self._outcome = _Outcome(workers=table)

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
            self._ask(None)
            return None
        assert outcome.event is not None  # a failed handshake, as every branch says
        return HubAnswer(
            refused=refusal(outcome.event, outcome.value, self._endpoint, curve)
        )


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
