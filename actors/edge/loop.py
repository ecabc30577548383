"""The edge's socket owner: BrokerCore between the MDP ROUTER and the outbox.

It reads the ROUTER and the outbox into BrokerCore, runs its timers and the control
commands, and holds no business logic: the broker decides (raspy/cores/broker.py),
EdgeOutputs carries out what it decides (outputs.py), RouterSender sends (router.py).
"""

from __future__ import annotations

from typing import Final

import zmq

from raspy.actors import messages as msgs
from raspy.actors.edge.broker_log import log
from raspy.actors.edge.local import Apply
from raspy.actors.edge.outputs import EdgeOutputs
from raspy.actors.edge.router import EdgeSettings, bind_router
from raspy.clock import Clock
from raspy.cores import broker
from raspy.stats import Stats
from raspy.transport.multipart import drain
from raspy.transport.outbox import (
    LOCAL_REPLY_CHANNEL,
    MDP_BATCH_CHANNEL,
    MDP_CHANNEL,
    MDP_REQUEST_CHANNEL,
    Outbox,
    client_requests,
)
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.sockets import Socket, router_linger_ms

_DRAIN_BATCH: Final = 256  # messages read from one source per loop turn (fairness)


class EdgeLoop:
    """The Runner owner of the ROUTER and the outbox (see the module docstring)."""

    _out: EdgeOutputs  # from open() on
    _apply: Apply  # _out.apply, looked up once

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        settings: EdgeSettings,
        core: broker.BrokerCore,
        clock: Clock,
        stats: Stats,
    ) -> None:
        self.outbox = Outbox()
        self.bound_endpoint = ""
        self._context, self._settings, self._clock = context, settings, clock
        self._core, self._stats = core, stats
        self._router: Socket | None = None
        self._now = 0.0  # of the drain in progress

    def open(self, runner: Runner) -> None:
        router = self._router = bind_router(self._context, self._settings)
        self._out = EdgeOutputs(router, self._core, self._clock, self._stats)
        self._apply = self._out.apply
        self.bound_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info("broker_bound", endpoint=self.bound_endpoint)
        runner.register(router, self._drain_router)
        runner.register(self.outbox.read_fd, self._drain_outbox)

    def next_deadline(self) -> float | None:
        return self._core.next_deadline()

    def on_turn(self, now: float) -> None:
        deadline = self._core.next_deadline()
        if deadline is not None and deadline <= now:
            self._apply(self._core.on_tick(now))
            self._out.flush()

    def close(self) -> None:
        """Last words (DISCONNECT to every worker), then the ROUTER closes whatever
        they met: an open socket would hang the context's term() for ever."""
        if self._router is not None:
            try:
                self._apply(self._core.shutdown())
            except zmq.ZMQError as exc:  # e.g. ETERM: the context is terminating
                log.debug("last_words_dropped", reason=str(exc))
            finally:
                self._router.close(linger=router_linger_ms(self._settings.linger_ms))

    def execute(self, command: object) -> object:
        # what in-process peers wrote before asking (a READY) is the broker's first:
        # all of it, however many drains it takes (one stops at _DRAIN_BATCH; a start
        # may write more READYs than that, and Settle says they are all in)
        for _ in range(max(1, -(-self.outbox.pending // _DRAIN_BATCH))):
            self._drain_outbox(0)
        if isinstance(command, msgs.Settle):
            return None
        if isinstance(command, msgs.GetStats):
            return {
                f"broker.{name}": value for name, value in self._core.stats().items()
            }
        if not self._out.command(command, self._now):
            raise UnknownCommand("edge", command)
        return None

    # ------------------------------------------------------------ sources
    def _drain_router(self, _events: int) -> None:
        assert self._router is not None
        self._now = self._clock.monotonic()
        try:
            drain(self._router, self._from_router, _DRAIN_BATCH)
        finally:
            self._out.flush()

    def _from_router(self, frames: list[bytes]) -> None:
        self._apply(self._core.on_router_frames(frames[0], frames[1:], self._now))

    def _drain_outbox(self, _events: int) -> None:
        self._now = self._clock.monotonic()
        try:
            self.outbox.drain(self._from_outbox, _DRAIN_BATCH)
        finally:
            self._out.flush()  # in-process clients ask titanic.* too

    def _from_outbox(self, message: list[bytes]) -> None:
        channel = message[0] if message else b""
        if channel == MDP_CHANNEL and len(message) >= 2:
            self._apply(self._core.on_frames(message[1], message[2:], self._now))
        elif channel in (MDP_REQUEST_CHANNEL, MDP_BATCH_CHANNEL):
            requests, faults = client_requests(message)
            if faults:
                self._stats.incr("edge.outbox.rejected", faults)
            now, on_frames = self._now, self._core.on_frames
            for peer, patience_s, frames in requests:
                self._apply(on_frames(peer, frames, now, now + patience_s))
        elif channel == LOCAL_REPLY_CHANNEL:
            self._out.replies(message, self._now)
        else:
            self._stats.incr("edge.outbox.rejected")
