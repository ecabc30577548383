"""The edge's socket owner: BrokerCore between the MDP ROUTER and the outbox.

It moves frames between the ROUTER, the outbox and BrokerCore and holds no business
logic: the broker decides (raspy/cores/broker.py), in-process actors are reached
through LocalPeers, logging is broker_log's.
"""

from __future__ import annotations

from typing import Final

import zmq

from raspy.actors import messages as msgs
from raspy.actors.edge.broker_log import log, log_broker_output, peer_text
from raspy.actors.edge.local import LocalPeers
from raspy.actors.edge.router import EdgeSettings, bind_router
from raspy.clock import Clock
from raspy.cores import broker, broker_output, broker_state
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.multipart import drain, send_frames
from raspy.transport.outbox import (
    LOCAL_REPLY_CHANNEL,
    MDP_BATCH_CHANNEL,
    MDP_CHANNEL,
    MDP_REQUEST_CHANNEL,
    Outbox,
    split_records,
    unpack_patience,
)
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.sockets import Socket, router_linger_ms

_DRAIN_BATCH: Final = 256  # messages read from one source per loop turn (fairness)


class EdgeLoop:
    """The Runner owner of the ROUTER and the outbox (see the module docstring)."""

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
        self._gone: list[bytes] = []  # peers found gone (a send failed), for the core
        self._local = LocalPeers(core, stats, self._apply, self._gone.append)
        self._log_limiter = LogRateLimiter()
        self._router: Socket | None = None
        self._now = 0.0  # of the drain in progress
        self._forgetting = False  # in _forget_gone: it carries out what it finds

    def open(self, runner: Runner) -> None:
        router = self._router = bind_router(self._context, self._settings)
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
            self._flush()

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
        if not self._local.command(command, self._now):
            raise UnknownCommand("edge", command)
        self._flush()  # requests queued for a handler that just came
        return None

    # ------------------------------------------------------------ sources
    def _drain_router(self, _events: int) -> None:
        assert self._router is not None
        self._now = self._clock.monotonic()
        try:
            drain(self._router, self._from_router, _DRAIN_BATCH)
        finally:
            self._flush()

    def _from_router(self, frames: list[bytes]) -> None:
        self._apply(self._core.on_router_frames(frames[0], frames[1:], self._now))

    def _drain_outbox(self, _events: int) -> None:
        self._now = self._clock.monotonic()
        try:
            self.outbox.drain(self._from_outbox, _DRAIN_BATCH)
        finally:
            self._flush()  # in-process clients ask titanic.* too

    def _from_outbox(self, message: list[bytes]) -> None:
        channel = message[0] if message else b""
        if channel == MDP_CHANNEL and len(message) >= 2:
            self._apply(self._core.on_frames(message[1], message[2:], self._now))
        elif channel == MDP_REQUEST_CHANNEL and len(message) >= 3:
            self._from_client(message[1], message[2], message[3:])
        elif channel == LOCAL_REPLY_CHANNEL:
            self._local.replies(message, self._send, self._now)
            if self._gone:
                self._forget_gone()
        elif channel == MDP_BATCH_CHANNEL:
            self._apply_batch(message)
        else:
            self._stats.incr("edge.outbox.rejected")

    # ------------------------------------------------------------ outputs
    def _flush(self) -> None:
        """What this turn gathered for in-process peers, told; an actor found dead
        meanwhile is forgotten, and what that sends again is told too."""
        self._local.flush()
        while self._gone:
            self._forget_gone()
            self._local.flush()

    def _apply(self, outputs: list[broker_output.BrokerOutput]) -> None:
        send_type = broker_output.Send
        for out in outputs:
            if type(out) is send_type:
                if out.peer[:1] == broker_state.LOCAL_PREFIX:
                    self._local.deliver(out.peer, out.frames)
                else:
                    self._send(out.peer, out.frames)
            elif type(out) is broker_output.LocalRequest:
                self._local.hand(out)
            elif isinstance(out, broker_output.ServiceAvailability):
                self._local.availability(out.service, out.available)
            else:
                log_broker_output(out, self._log_limiter, self._clock.monotonic)
        if self._gone and not self._forgetting:
            self._forget_gone()

    def _send(self, peer: bytes, frames: list[bytes]) -> None:
        assert self._router is not None
        try:
            send_frames(self._router, [peer, *frames])
        except zmq.Again:  # its pipe is full: a peer that does not read
            self._stats.incr("edge.send_dropped")
            if self._log_limiter.should_log(
                (peer, "send_dropped"), self._clock.monotonic()
            ):
                log.warning("send_dropped", peer=peer_text(peer), reason="hwm")
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            # gone: a client's retry, or a worker whose board rebooted (the core
            # forgets it once these outputs are carried out: _forget_gone)
            self._stats.incr("edge.send_unroutable")
            self._gone.append(peer)

    def _forget_gone(self) -> None:
        """Tell the broker of the peers found gone, after the outputs that met them
        (never from inside its own output loop): a network peer a send could not
        reach (docs/protocols.md §1.3), an in-process actor that died. A worker's
        request is sent again at once, which may meet another gone worker."""
        self._forgetting = True
        try:
            now = self._clock.monotonic()
            gone, core = self._gone, self._core
            while gone:
                peer = gone.pop(0)
                if peer[:1] == broker_state.LOCAL_PREFIX:
                    self._apply(core.forget_local(peer, "owner_dead", now))
                else:
                    self._apply(core.peer_gone(peer, now))
        finally:
            self._forgetting = False

    def _from_client(self, peer: bytes, patience: bytes, frames: list[bytes]) -> None:
        patience_s = unpack_patience(patience)
        if patience_s is None:
            self._stats.incr("edge.outbox.rejected")
        else:
            now = self._now
            self._apply(self._core.on_frames(peer, frames, now, now + patience_s))

    def _apply_batch(self, message: list[bytes]) -> None:
        """[N, *(peer, patience, count, *frames)]: each request as if it came on
        MDP_REQUEST_CHANNEL."""
        records, whole = split_records(message, 3)
        if not whole:
            self._stats.incr("edge.outbox.rejected")
        for (peer, patience), frames in records:
            self._from_client(peer, patience, frames)
