"""Exponential backoff: one rule for every retry in raspy (supervisor, pollers,
Titanic dispatch, worker reconnect, the MQTT link, writes the store or a pin
refused, a Titanic client's polls for its reply). Pure: time is passed in, nothing
sleeps here.
"""

from __future__ import annotations

from raspy.records import frozen


@frozen
class BackoffPolicy:
    """Delays `initial_s`, doubling (by `factor`) up to `max_s`.

    `stable_s`: a success only resets the delay once the thing has stayed up that long
    (0 resets at once); so a part that fails right after each start backs off instead
    of being retried at `initial_s` forever.
    """

    initial_s: float
    max_s: float
    factor: float = 2.0
    stable_s: float = 0.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ValueError(
                f"backoff: need 0 < initial_s <= max_s and factor >= 1, got {self}"
            )

    def delay_s(self, failures: int) -> float:
        """The delay after `failures` failures in a row (1 → initial_s; 0 → 0)."""
        if failures <= 0:
            return 0.0
        # Bound the exponent: 2.0 ** 2000 overflows a float.
        exponent = min(failures - 1, 64)
        return min(self.initial_s * self.factor**exponent, self.max_s)


class Backoff:
    """The state of one retried thing under a BackoffPolicy."""

    __slots__ = ("_up_since", "failures", "policy")

    def __init__(self, policy: BackoffPolicy) -> None:
        self.policy = policy
        self.failures = 0
        self._up_since: float | None = None

    @property
    def current_s(self) -> float:
        """The delay that the last failure asks for (0 before any failure)."""
        return self.policy.delay_s(self.failures)

    def failed(self, now: float) -> float:
        """Count a failure at `now`; return when the next try is due (same clock)."""
        self._up_since = None
        self.failures += 1
        return now + self.current_s

    def succeeded(self, now: float) -> None:
        """The thing is up since `now`; the delay resets once it stays up `stable_s`."""
        if self._up_since is None:
            self._up_since = now
        self.check_stable(now)

    def check_stable(self, now: float) -> None:
        """Reset the failure count if the thing has been up `stable_s` by `now`."""
        if self._up_since is not None and now - self._up_since >= self.policy.stable_s:
            self.failures = 0

    def reset(self) -> None:
        self.failures = 0
        self._up_since = None
