"""What BrokerCore decides, carried out on the edge's I/O thread.

Sends to network peers go over the ROUTER (RouterSender), to in-process peers and
local handlers through LocalPeers, service availability to its watchers; the rest is
logged (broker_log). A peer found gone on the way, one a send could not reach or an
in-process actor that died, is told to the broker once the outputs that met it are
carried out: never from inside the broker's own output loop.
"""

from __future__ import annotations

from raspy.actors.edge.broker_log import log_broker_output
from raspy.actors.edge.local import LocalPeers
from raspy.actors.edge.router import RouterSender
from raspy.clock import Clock
from raspy.cores import broker, broker_output, broker_state
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.sockets import Socket


class EdgeOutputs:
    """Carries out the broker's outputs (see the module docstring)."""

    def __init__(
        self, router: Socket, core: broker.BrokerCore, clock: Clock, stats: Stats
    ) -> None:
        self._core = core
        self._monotonic = clock.monotonic
        self._limiter = LogRateLimiter()  # one line per (peer, reason) a minute
        self._gone: list[bytes] = []  # peers found gone, for the broker to forget
        self._forgetting = False  # in _forget_gone: it carries out what it finds
        self._local = LocalPeers(core, stats, self.apply, self._gone.append)
        sender = RouterSender(
            router, stats, self._limiter, self._monotonic, self._gone.append
        )
        self._send = sender.send

    def apply(self, outputs: list[broker_output.BrokerOutput]) -> None:
        """Carry out `outputs`; in-process peers are told at the next flush()."""
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
                log_broker_output(out, self._limiter, self._monotonic)
        if self._gone and not self._forgetting:
            self._forget_gone()

    def flush(self) -> None:
        """What this turn gathered for in-process peers, told; an actor found dead
        meanwhile is forgotten, and what that sends again is told too."""
        self._local.flush()
        while self._gone:
            self._forget_gone()
            self._local.flush()

    def command(self, command: object, now: float) -> bool:
        """A control command of the in-process peers (LocalPeers.command) carried out
        and what it queued told (requests waiting for a handler that just came);
        False if it is not one of theirs."""
        if not self._local.command(command, now):
            return False
        self.flush()
        return True

    def replies(self, message: list[bytes], now: float) -> None:
        """A local handler's answers (LOCAL_REPLY_CHANNEL), each to its client."""
        self._local.replies(message, self._send, now)
        if self._gone:
            self._forget_gone()

    def _forget_gone(self) -> None:
        """Tell the broker of the peers found gone: a network peer a send could not
        reach (docs/protocols.md §1.3), an in-process actor that died. A worker's
        request is sent again at once, which may meet another gone worker."""
        self._forgetting = True
        try:
            now = self._monotonic()
            gone, core = self._gone, self._core
            while gone:
                peer = gone.pop(0)
                if peer[:1] == broker_state.LOCAL_PREFIX:
                    self.apply(core.forget_local(peer, "owner_dead", now))
                else:
                    self.apply(core.peer_gone(peer, now))
        finally:
            self._forgetting = False
