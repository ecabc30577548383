"""The MQTT connection's own state, sans-IO: when to (re)connect, when paho's
housekeeping is due, how many messages paho may hold unacknowledged, and the reconnect
backoff. Time comes in; the link (actors/mqtt/link.py) does the I/O and the logging.
"""

from __future__ import annotations

from enum import Enum

from raspy.backoff import Backoff, BackoffPolicy


class Phase(Enum):
    DOWN = "down"  # waiting for next_try_at
    CONNECTING = "connecting"  # the TCP (and TLS) connection made, CONNACK awaited
    UP = "up"


class MqttSession:
    """One client's connection over time; see the module docstring."""

    def __init__(
        self, policy: BackoffPolicy, *, max_inflight: int, misc_interval_s: float
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

    def next_deadline(self) -> float:
        """The next connect attempt, or while a connection lives its housekeeping."""
        return self.next_try_at if self.phase is Phase.DOWN else self._next_misc_at

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
        self.inflight = 0  # a clean session: paho starts again from nothing
        self._backoff.succeeded(now)

    def failed(self, now: float) -> float:
        """A connect that failed or was refused, or a connection lost: back to DOWN;
        the seconds until the next try."""
        self.phase = Phase.DOWN
        self.next_try_at = self._backoff.failed(now)
        return self.next_try_at - now

    def next_delay_s(self) -> float:
        """What failed() will wait if the attempt under way fails."""
        return self._backoff.policy.delay_s(self._backoff.failures + 1)

    def stable(self, now: float) -> None:
        """While up: a connection that lasted forgets the failures before it."""
        if self.phase is Phase.UP:
            self._backoff.check_stable(now)

    def room(self, per_turn: int) -> int:
        """How many messages may be handed to paho now."""
        if self.phase is not Phase.UP:
            return 0
        return max(0, min(self._max_inflight - self.inflight, per_turn))

    def handed(self, count: int) -> None:
        self.inflight += count

    def acknowledged(self) -> None:
        self.inflight = max(0, self.inflight - 1)

    @property
    def full(self) -> bool:
        return self.inflight >= self._max_inflight
