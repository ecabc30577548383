"""WorkerCore: heartbeat and reconnect decisions of one MDP worker (docs/protocols.md §2.6).

Sans-IO: frames and `now` (monotonic seconds) in, outputs out. No sockets, threads,
clocks or logging here; the shell (raspy.client.mdp.Worker) carries the outputs out.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import field
from typing import Final

from raspy.backoff import Backoff, BackoffPolicy
from raspy.errors import MalformedMessage, quote
from raspy.protocol import mdp, mdp_decode, mmi
from raspy.protocol.frames import FrameLimits
from raspy.records import frozen


@frozen
class WorkerSettings:
    """Timers of a worker; docs/protocols.md §2.6 raspy defaults."""

    heartbeat_interval_s: float = 2.5
    heartbeat_liveness: int = 3
    reconnect_initial_s: float = 2.5
    reconnect_max_s: float = 32.0
    limits: FrameLimits = field(default_factory=FrameLimits)
    # heartbeats go on while a handler runs (an I/O thread owns the socket): shown
    # to the broker at the first request of each connection (§2.6), so that a
    # worker that dies busy is given up after liveness x interval, not the busy
    # timeout
    show_busy_heartbeats: bool = False

    def __post_init__(self) -> None:
        # a NaN or infinite interval gives timers no deadline a clock can meet
        if not 0 < self.heartbeat_interval_s < math.inf or self.heartbeat_liveness < 1:
            raise ValueError(
                "heartbeat interval must be a finite number > 0 and liveness >= 1, "
                f"got {self.heartbeat_interval_s!r} and {self.heartbeat_liveness!r}"
            )
        if not 0 < self.reconnect_initial_s <= self.reconnect_max_s:
            raise ValueError("reconnect delays must satisfy 0 < initial <= max")


# ---------------------------------------------------------------- outputs


@frozen
class Connect:
    """Make a new socket and connect it; the old one is already closed."""


@frozen
class Send:
    """Send these frames (peer view) on the current socket."""

    frames: list[bytes]


@frozen
class Deliver:
    """Hand this request to the application."""

    request: mdp.WorkerRequest


@frozen
class Reconnect:
    """Close the socket now; a Connect follows after `after_s` (from on_tick).

    reason: `disconnect` (the broker sent DISCONNECT), `broker_silent`, or
    `stalled` (this worker sent nothing for as long as the broker may wait).
    """

    reason: str
    after_s: float


@frozen
class Rejected:
    """A message from the broker that did not decode; it was dropped."""

    reason: str
    detail: str
    frames: int


@frozen
class ReplyDropped:
    """A reply that cannot be sent: its request belongs to a connection now gone.

    reason: `not_connected` or `unknown_client`.
    """

    client: bytes
    reason: str


WorkerOutput = Connect | Send | Deliver | Reconnect | Rejected | ReplyDropped


class WorkerState(enum.Enum):
    CONNECTED = "connected"
    WAITING = "waiting"  # for the reconnect delay to pass
    CLOSED = "closed"


_NEVER: Final = float("inf")
# the least silence of a worker after which raspyd's broker may give it up
# (raspy.config_bounds.MIN_BROKER_SILENCE_S: two of a 2.5 s worker's heartbeats)
BROKER_LEAST_SILENCE_S: Final = 5.0


class WorkerCore:
    """One worker's connection life: READY, heartbeats, broker liveness, reconnects.

    Rules (docs/protocols.md §2.6, §2.7): a new socket and one READY per connection; a
    HEARTBEAT when nothing was sent for one interval, idle or busy; the broker is
    lost after `liveness` intervals without any valid message from it, then the
    socket is closed and a new one made after a delay that starts at
    `reconnect_initial_s` and doubles up to `reconnect_max_s` while the broker
    stays silent. While a request is in progress the broker is not declared lost:
    zguide's and majortomo's brokers heartbeat idle workers only (§2.6), and a
    reply could not be delivered anyway. DISCONNECT from the broker: reconnect at
    once (RFC 7), unless it is the broker's first word on this connection (a
    refused READY), which waits the delay so a refusing broker is not hammered.
    Idle and silent for two heartbeat intervals, and at least 5 s (the thread
    could not run), it starts over at once too: the broker may have given it up,
    and a request read from the old socket must not run beside the broker's
    requeued copy.
    """

    def __init__(
        self,
        service: bytes,
        version: mdp.Version = mdp.Version.V02,
        settings: WorkerSettings | None = None,
    ) -> None:
        if not service:
            raise ValueError("a worker needs a service name")
        if service[:4] == mmi.PREFIX:
            # RFC 8: the broker MUST disconnect it; it could only retry for ever
            raise ValueError(
                f"worker service {quote(service)}: mmi.* names belong to the broker"
            )
        if len(service) > mdp.MAX_SERVICE_BYTES:  # the broker refuses its READY
            raise ValueError(
                f"worker service {quote(service[:64])}...: {len(service)} bytes, "
                f"over the {mdp.MAX_SERVICE_BYTES} a broker takes"
            )
        self.service = service
        self.version = version
        self.settings = settings or WorkerSettings()
        self._silence_s = (
            self.settings.heartbeat_interval_s * self.settings.heartbeat_liveness
        )
        # a broker may give a worker up after two of its heartbeats are missing,
        # sooner than we give the broker up, and counted from what we last sent,
        # not from what it did; raspyd's waits at least BROKER_LEAST_SILENCE_S, so
        # a faster worker's late heartbeat does not start it over for nothing
        self._given_up_after_s = max(
            2 * self.settings.heartbeat_interval_s, BROKER_LEAST_SILENCE_S
        )
        self._ready: Final = mdp.encode(mdp.Ready(version, service))
        self._heartbeat: Final = mdp.encode(mdp.Heartbeat(version))
        self.state = WorkerState.WAITING
        self._reconnect_at = -_NEVER  # the first on_tick connects
        self._reconnects = Backoff(
            BackoffPolicy(
                self.settings.reconnect_initial_s, self.settings.reconnect_max_s
            )
        )
        self._broker_expires_at = _NEVER
        self._next_heartbeat_at = _NEVER
        self._heard = False  # any valid message from the broker on this connection
        # connections on which the broker spoke first with anything but DISCONNECT:
        # it took our READY (a caller sees a new session after a loss by this count)
        self.sessions = 0
        self._outstanding: dict[bytes, int] = {}  # client -> requests not yet final
        self._shown_busy_heartbeats = False  # on this connection

    @property
    def heard(self) -> bool:
        """Has the broker spoken on the connection under way?"""
        return self.state is WorkerState.CONNECTED and self._heard

    @property
    def busy(self) -> bool:
        """True while a request delivered on this connection has no final reply."""
        return bool(self._outstanding)

    def next_deadline(self) -> float | None:
        """Earliest monotonic time at which on_tick has work; None once closed."""
        if self.state is WorkerState.CONNECTED:
            if self._outstanding:
                return self._next_heartbeat_at
            return min(self._next_heartbeat_at, self._broker_expires_at)
        if self.state is WorkerState.WAITING:
            return self._reconnect_at
        return None

    def on_tick(self, now: float) -> list[WorkerOutput]:
        """Heartbeat, broker expiry and reconnect, whichever is due."""
        if self.state is WorkerState.WAITING:
            return self._connect(now) if now >= self._reconnect_at else []
        if self.state is WorkerState.CLOSED:
            return []
        if now >= self._broker_expires_at and not self._outstanding:
            return self._lose("broker_silent", self._next_delay_s(now), now)
        if self._stalled(now):
            return self._start_over(now)
        if now >= self._next_heartbeat_at:
            self._next_heartbeat_at = now + self.settings.heartbeat_interval_s
            return [Send(list(self._heartbeat))]
        return []

    def on_frames(self, frames: Sequence[bytes], now: float) -> list[WorkerOutput]:
        """A message received on the current socket."""
        if self.state is not WorkerState.CONNECTED:
            return []
        if now >= self._broker_expires_at and not self._outstanding:
            # read after the silence ran out (this thread could not run: a SIGSTOP,
            # a network cut healed): on_tick would have found the broker lost, and
            # it gave us up too; a request from then must not run now
            return self._lose("broker_silent", self._next_delay_s(now), now)
        if self._stalled(now):
            # the broker may have given us up before we found it silent: it put
            # the request back in its queue (and dropped it if its client stopped
            # waiting); this copy must not run too
            return self._start_over(now)
        try:
            self.settings.limits.check("mdp", frames)
            message = mdp_decode.decode_at_worker(frames, self.version)
        except MalformedMessage as exc:
            return [Rejected(exc.reason, exc.detail, len(frames))]
        first_word = not self._heard
        self._heard = True
        if isinstance(message, mdp.Disconnect):
            if first_word:
                # A broker that refuses our READY (e.g. mmi.*) gets the growing delay.
                return self._lose("disconnect", self._next_delay_s(now), now)
            self._reconnects.reset()
            # RFC 7: after DISCONNECT, close the socket and start over on a new one.
            return [*self._lose("disconnect", 0.0, now), *self._connect(now)]
        self._reconnects.reset()
        if first_word:
            self.sessions += 1
        self._broker_expires_at = now + self._silence_s
        if isinstance(message, mdp.WorkerRequest):
            self._outstanding[message.client] = (
                self._outstanding.get(message.client, 0) + 1
            )
            if self.settings.show_busy_heartbeats and not self._shown_busy_heartbeats:
                return [*self._show_busy_heartbeats(now), Deliver(message)]
            return [Deliver(message)]
        return []

    def _stalled(self, now: float) -> bool:
        """Idle and silent for as long as the broker may wait (this thread could
        not run: a SIGSTOP, a swapping board): a heartbeat a whole interval late.
        Every send re-arms the heartbeat, so the last one went out an interval
        before it was due."""
        last_sent = self._next_heartbeat_at - self.settings.heartbeat_interval_s
        return not self._outstanding and now - last_sent >= self._given_up_after_s

    def _start_over(self, now: float) -> list[WorkerOutput]:
        """A new connection at once: the broker is likely there, we were not."""
        return [*self._lose("stalled", 0.0, now), *self._connect(now)]

    def _show_busy_heartbeats(self, now: float) -> list[WorkerOutput]:
        """§2.6 raspy: a broker trusts a busy worker's heartbeats once two came in one
        busy period (one may have crossed the REQUEST); sent before the handler runs,
        both arrive while this request is the worker's."""
        self._shown_busy_heartbeats = True
        self._next_heartbeat_at = now + self.settings.heartbeat_interval_s
        return [Send(list(self._heartbeat)), Send(list(self._heartbeat))]

    def reply(
        self, client: bytes, body: Sequence[bytes], now: float, *, final: bool = True
    ) -> list[WorkerOutput]:
        """Frames for a reply to `client`; final=False sends a PARTIAL (0.2 only).

        Raises ValueError for an empty body, or a PARTIAL in MDP/0.1, and
        TypeError for a frame that is not bytes; the request stays outstanding.
        """
        if not body:
            raise ValueError("an MDP reply needs at least one body frame")
        if not final and self.version is mdp.Version.V01:
            raise ValueError("MDP/0.1 has no partial replies")
        for index, frame in enumerate(body):
            if not isinstance(frame, bytes):
                raise TypeError(
                    f"reply frame {index} is a {type(frame).__name__}, not bytes"
                )
        if self.state is not WorkerState.CONNECTED:
            return [ReplyDropped(client, "not_connected")]
        count = self._outstanding.get(client)
        if count is None:
            return [ReplyDropped(client, "unknown_client")]
        # encoded before the request is counted as answered: a reply that cannot
        # be sent must not leave the broker's request unanswered and forgotten
        frames = mdp.encode(mdp.WorkerReply(self.version, client, tuple(body), final))
        if final:
            if count > 1:
                self._outstanding[client] = count - 1
            else:
                del self._outstanding[client]
                if not self._outstanding:
                    # §2.6: brokers heartbeat idle workers only (zguide, majortomo);
                    # the silence that counts starts when we become idle again.
                    self._broker_expires_at = max(
                        self._broker_expires_at, now + self._silence_s
                    )
        self._next_heartbeat_at = now + self.settings.heartbeat_interval_s
        return [Send(frames)]

    def close(self) -> list[WorkerOutput]:
        """Stop for good: DISCONNECT if connected (RFC 7 allows it at any time)."""
        was_connected = self.state is WorkerState.CONNECTED
        self.state = WorkerState.CLOSED
        self._outstanding.clear()
        return [Send(mdp.encode(mdp.Disconnect(self.version)))] if was_connected else []

    def _connect(self, now: float) -> list[WorkerOutput]:
        self.state = WorkerState.CONNECTED
        self._heard = False
        self._shown_busy_heartbeats = False  # a new connection is a new worker
        self._outstanding.clear()
        self._broker_expires_at = now + self._silence_s
        self._next_heartbeat_at = now + self.settings.heartbeat_interval_s
        return [Connect(), Send(list(self._ready))]

    def _next_delay_s(self, now: float) -> float:
        """The reconnect delay: reconnect_initial_s, doubling up to reconnect_max_s."""
        self._reconnects.failed(now)
        return self._reconnects.current_s

    def _lose(self, reason: str, after_s: float, now: float) -> list[WorkerOutput]:
        self.state = WorkerState.WAITING
        self._outstanding.clear()
        self._broker_expires_at = _NEVER
        self._next_heartbeat_at = _NEVER
        self._reconnect_at = now + after_s
        return [Reconnect(reason, after_s)]
