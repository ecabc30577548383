"""The Clone client's agent: the socket owner of its SUB, DEALER and XPUB, on a Runner.

A thin shell over CloneClientCore (raspy.cores.clone_client), which holds the whole
protocol (docs/protocols.md §6.3-§6.7). A monitor on the SUB tells the core each time
its connection to the publisher is made. The cache lives in the core; the shell calls the
core under `lock`, so other threads may read the cache under it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Final

import zmq

from raspy.client.clone_agent_log import AgentLog
from raspy.cores import clone_client as core_mod
from raspy.cores.clone_client import Change, CloneClientCore
from raspy.errors import ClientTimeout
from raspy.protocol import clone
from raspy.records import frozen
from raspy.transport.monitor import OnEvent
from raspy.transport.multipart import send_frames
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.socket_set import SocketSet
from raspy.transport.sockets import (
    RECONNECT_MAX_MS,
    Context,
    CurveKeys,
    Socket,
    make_socket,
    send_if_connected,
)

__all__ = ["Agent", "Change", "ResyncCommand", "SetCommand"]

_HWM: Final = 100_000


@frozen
class SetCommand:
    key: bytes
    uuid: bytes
    frames: list[bytes]
    result: Future[None]


@frozen
class ResyncCommand:
    """Start over with new sockets and a snapshot (CloneClientCore.resync)."""


# a core's outputs that begin a new snapshot: the cache is no longer in step
_STARTS_OVER: Final = (core_mod.Connect, core_mod.AskSnapshot)


class Agent:
    """Moves bytes between the three sockets and the core; the runner's thread only,
    except `lock`, `core` (read under the lock), `synced` and `syncs` (read).

    `synced` is set while the cache is in step with the server: set at each snapshot
    completed, cleared whenever the core starts over or asks a new snapshot (a
    server lost or restarted, a gap), so that a caller waiting for it after a
    reconnect waits for the new server's copy, not the old one's."""

    def __init__(
        self,
        context: Context,
        endpoints: clone.Endpoints,
        core: CloneClientCore,
        *,
        emit: Callable[[list[Change]], None],
        curve: CurveKeys | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.core = core
        self.synced = threading.Event()
        self.syncs = 0  # snapshots completed; written on the runner's thread only
        self.runner = Runner("clone-client", self, thread_name="raspy-clone-client")
        self._context = context
        self._endpoints = endpoints
        self._emit = emit
        self._curve = curve  # client keys for a CURVE server (docs/protocols.md §8.2)
        self._log = AgentLog()
        self._sockets = SocketSet(self.runner)  # "sub", "xpub", "dealer"
        self._results: dict[bytes, Future[None]] = {}

    # --- the Runner's owner -------------------------------------------------------------
    def open(self, runner: Runner) -> None:
        self._carry_out(self.core.start(time.monotonic()))

    def next_deadline(self) -> float | None:
        return self.core.next_deadline()

    def on_turn(self, now: float) -> None:
        self._call(self.core.on_tick)

    def execute(self, command: object) -> object:
        if isinstance(command, ResyncCommand):
            self._call(self.core.resync)
            return None
        if not isinstance(command, SetCommand):
            raise UnknownCommand("clone client", command)
        self._results[command.uuid] = command.result
        self._call(self.core.set, command.key, command.uuid, command.frames)
        return None

    def close(self) -> None:
        try:
            with self.lock:
                outputs = self.core.close()
            self._log.unconfirmed(outputs)
            self._carry_out(outputs)
        finally:  # whatever the last outputs met: an open socket hangs term()
            self._sockets.close_all()

    # --- sockets ------------------------------------------------------------------------
    def _call(
        self, step: Callable[..., list[core_mod.ClientOutput]], *args: object
    ) -> None:
        with self.lock:
            outputs = step(*args, time.monotonic())
            if any(isinstance(out, _STARTS_OVER) for out in outputs):
                # out of step from this moment: a caller that sees the step's count
                # (stats() takes the lock) is not told synced by the old snapshot
                self.synced.clear()
        self._carry_out(outputs)

    def _open(
        self,
        name: str,
        kind: int,
        step: Callable[..., list[core_mod.ClientOutput]],
        watch: tuple[int, OnEvent] | None = None,
    ) -> Socket:
        sock = make_socket(
            self._context,
            kind,
            linger_ms=0,
            curve=self._curve,
            reconnect_max_ms=RECONNECT_MAX_MS,  # a server away for hours: every 2 s
        )
        sock.setsockopt(zmq.RCVHWM if kind == zmq.SUB else zmq.SNDHWM, _HWM)
        return self._sockets.add(
            name, sock, lambda frames: self._call(step, frames), watch=watch
        )

    def _handshake(self, _event: int, _value: int) -> None:
        """The SUB's connection to the publisher is made (again)."""
        self._call(self.core.on_publisher_connected)

    def _carry_out(self, outputs: list[core_mod.ClientOutput]) -> None:
        for out in outputs:
            match out:
                case core_mod.SendSet(frames=frames):
                    try:
                        send_frames(self._sockets["xpub"], frames)
                    except zmq.Again:  # full: the resend timer tries again
                        self.runner.count("send_dropped")
                case core_mod.Changed(changes=changes):
                    self._emit(list(changes))
                case core_mod.Confirmed(uuid=uuid):
                    if (result := self._results.pop(uuid, None)) is not None:
                        result.set_result(None)
                case core_mod.Failed(uuid=uuid, reason=reason, detail=detail):
                    self._log.failed(reason, detail)
                    if (result := self._results.pop(uuid, None)) is not None:
                        result.set_exception(ClientTimeout(detail))
                case core_mod.Connect(subscriptions=subscriptions):
                    self.synced.clear()  # starting over: in step again at Synced
                    self._connect(subscriptions)
                case core_mod.AskSnapshot(frames=frames):
                    self.synced.clear()  # a gap or a lost echo: the same
                    dealer = self._open("dealer", zmq.DEALER, self.core.on_snapshot)
                    dealer.connect(self._endpoints.snapshot)
                    if not send_if_connected(dealer, frames):
                        # the snapshot's stall timer asks again on a fresh DEALER
                        self.runner.count("snapshot_unsent")
                case core_mod.EndSnapshot():
                    self._sockets.close("dealer")
                case core_mod.Synced():
                    self.syncs += 1
                    self.synced.set()
                case _:
                    self._log.report(out)

    def _connect(self, subscriptions: tuple[bytes, ...]) -> None:
        """§6.3 step 1: SUB subscribed and connected; the XPUB for KVSETs (§1.6)."""
        self._sockets.close("dealer")
        handshakes = (zmq.EVENT_HANDSHAKE_SUCCEEDED, self._handshake)
        sub = self._open("sub", zmq.SUB, self.core.on_update, handshakes)
        for prefix in subscriptions:
            sub.setsockopt(zmq.SUBSCRIBE, prefix)
        sub.connect(self._endpoints.publisher)
        xpub = self._open("xpub", zmq.XPUB, self.core.on_collector)
        xpub.connect(self._endpoints.collector)
