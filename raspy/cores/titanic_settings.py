"""TitanicSettings: the limits and timers TitanicCore runs with.

Its own module so that the core and its dispatcher share one frozen value, and the
defaults come from one place (raspy.config: TitanicConfig, LimitsConfig).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from raspy import http_reply
from raspy.config import LimitsConfig, TitanicConfig
from raspy.records import frozen

_DEFAULTS: Final = TitanicConfig()
_LIMITS: Final = LimitsConfig()

# the reply stored for a request of a service Titanic does not relay (one an older
# raspy took, found in the store at a start): what `<host>.http` answers a network
# client itself, so `titanic.reply` gives 200 and then these frames
NOT_RELAYED_REPLY: Final = tuple(
    http_reply.encode_outcome(
        http_reply.Failure(
            "forbidden",
            "Titanic does not relay requests for this service: only raspyd's own "
            "parts may use it",
        )
    )
)


def request_size(service: bytes, body: Sequence[bytes]) -> int:
    """A request's bytes as max_body_bytes and the pending-bytes quota count them:
    the target service and its body frames, as it came in and as it is stored."""
    return len(service) + sum(len(frame) for frame in body)


@frozen
class TitanicSettings:
    """Limits and timers; every default comes from raspy.config.TitanicConfig."""

    max_body_bytes: int = _DEFAULTS.max_body_bytes
    max_reply_bytes: int = _DEFAULTS.max_reply_bytes
    retention_s: float = _DEFAULTS.retention_s  # 0: keep until titanic.close
    dispatch_timeout_s: float = _DEFAULTS.dispatch_timeout_s
    retry_initial_s: float = _DEFAULTS.retry_initial_s
    retry_max_s: float = _DEFAULTS.retry_max_s
    dispatch_window: int = _DEFAULTS.dispatch_window  # most in flight per service
    retention_check_s: float = 1.0
    # stale items (closed or held requests) a heap keeps beside its live ones
    # before it is built again: the rebuilds stay rare, the memory follows the
    # requests known (titanic_retention, titanic_dispatch)
    heap_slack: int = 64
    # quota: requests not yet closed, and their request body bytes ([limits])
    pending_requests: int = _LIMITS.titanic_pending_requests
    pending_bytes: int = _LIMITS.titanic_pending_bytes
    # services only raspyd's own parts may call (`<host>.http`): Titanic's dispatch is
    # an in-process client, so storing a network client's request for one would
    # carry it past the service's refusal of network clients
    not_relayed: frozenset[bytes] = frozenset()

    @classmethod
    def from_config(
        cls,
        c: TitanicConfig,
        limits: LimitsConfig = _LIMITS,
        not_relayed: frozenset[bytes] = frozenset(),
    ) -> TitanicSettings:
        return cls(
            not_relayed=not_relayed,
            pending_requests=limits.titanic_pending_requests,
            pending_bytes=limits.titanic_pending_bytes,
            max_body_bytes=c.max_body_bytes,
            max_reply_bytes=c.max_reply_bytes,
            retention_s=c.retention_s,
            dispatch_timeout_s=c.dispatch_timeout_s,
            retry_initial_s=c.retry_initial_s,
            retry_max_s=c.retry_max_s,
            dispatch_window=max(1, c.dispatch_window),
        )
