"""The MQTT connection's own state, sans-IO: when to (re)connect, when paho's
housekeeping is due, how many messages paho may hold unacknowledged (and so which
buffered messages go out this turn), and the reconnect backoff. Time comes in; the
link (actors/mqtt/link.py) does the I/O, raspy.mqtt.link_log the reporting.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from raspy.backoff import Backoff, BackoffPolicy
from raspy.mqtt.buffer import CoalescingBuffer, Message
from raspy.records import frozen

MAX_INFLIGHT: Final = 1000  # messages handed to paho and not yet acknowledged
# paho's keepalive check (its only housekeeping): a PINGREQ goes out at most this late
# after KEEPALIVE_S (30 s) of silence, well within the broker's 1.5 x keepalive
MISC_INTERVAL_S: Final = 5.0
TAKE_PER_TURN: Final = 500  # messages handed to paho per turn, at most
RECONNECT: Final = BackoffPolicy(initial_s=0.5, max_s=60.0, stable_s=30.0)


class Phase(Enum):
    DOWN = "down"  # waiting for next_try_at
    CONNECTING = "connecting"  # the TCP (and TLS) connection made, CONNACK awaited
    UP = "up"


@frozen
class Lost:
    """A connection, or an attempt at one, ended: the next try is in `retry_in_s`."""

    was_up: bool  # False: it ended before CONNACK (a failed connect)
    retry_in_s: float


class MqttSession:
    """One client's connection over time; see the module docstring."""

    def __init__(
        self,
        policy: BackoffPolicy = RECONNECT,
        *,
        max_inflight: int = MAX_INFLIGHT,
        misc_interval_s: float = MISC_INTERVAL_S,
    ) -> None:
        self.phase = Phase.DOWN
        self.inflight = 0  # messages handed to paho and not yet acknowledged
        self.next_try_at = 0.0
        self._next_misc_at = 0.0
        self._backoff = Backoff(policy)
        self._max_inflight = max_inflight
        self._misc_interval_s = misc_interval_s

    @property
    def up(self) -> bool:
        return self.phase is Phase.UP

    def next_deadline(self, other: float | None = None) -> float:
        """The next connect attempt, or while a connection lives its housekeeping;
        `other` (the bridge's own timer) if that comes first."""
        own = self.next_try_at if self.phase is Phase.DOWN else self._next_misc_at
        return own if other is None else min(own, other)

    def connect_due(self, now: float) -> bool:
        return self.phase is Phase.DOWN and now >= self.next_try_at

    def connecting(self, now: float) -> None:
        """The connection is made; CONNACK (or its refusal, or a close) comes next."""
        self.phase = Phase.CONNECTING
        self._next_misc_at = now + self._misc_interval_s

    def misc_due(self, now: float) -> bool:
        """paho's keepalive and timeout checks are due (once per interval)."""
        if self.phase is Phase.DOWN or now < self._next_misc_at:
            return False
        self._next_misc_at = now + self._misc_interval_s
        return True

    def connected(self, now: float) -> None:
        self.phase = Phase.UP
        self.inflight = 0  # paho holds nothing: the link took back what it held
        self._backoff.succeeded(now)

    def failed(self, now: float) -> float:
        """A connect that failed or was refused, or a connection lost: back to DOWN;
        the seconds until the next try."""
        self.phase = Phase.DOWN
        self.next_try_at = self._backoff.failed(now)
        return self.next_try_at - now

    def closed(self, now: float) -> Lost | None:
        """The socket closed; None if the session was down already (a refusal at
        CONNACK, counted and reported where it came)."""
        if self.phase is Phase.DOWN:
            return None
        was_up = self.phase is Phase.UP
        return Lost(was_up, self.failed(now))

    def stable(self, now: float) -> None:
        """While up: a connection that lasted forgets the failures before it."""
        if self.phase is Phase.UP:
            self._backoff.check_stable(now)

    def room(self, per_turn: int) -> int:
        """How many messages may be handed to paho now."""
        if self.phase is not Phase.UP:
            return 0
        return max(0, min(self._max_inflight - self.inflight, per_turn))

    def take(
        self, buffer: CoalescingBuffer, per_turn: int = TAKE_PER_TURN
    ) -> tuple[list[Message], bool]:
        """The buffered messages paho may be handed now (counted as in flight), and
        whether to come back at once: more wait and the window has room for them."""
        room = self.room(per_turn)
        if room == 0:
            return [], False
        messages = buffer.take(room)
        self.handed(len(messages))
        return messages, len(buffer) > 0 and not self.full

    def handed(self, count: int) -> None:
        self.inflight += count

    def acknowledged(self) -> None:
        self.inflight = max(0, self.inflight - 1)

    @property
    def full(self) -> bool:
        return self.inflight >= self._max_inflight
