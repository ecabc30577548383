"""The broker's timers and limits, from the [broker] and [limits] sections of the config.

Kept apart from BrokerCore so that the config layer and the edge can build settings
without reading the core; docs/protocols.md §2.6 (heartbeats), §2.5.8 (queues) and
§2.8 (limits).
"""

from __future__ import annotations

from dataclasses import field

from raspy.config import BrokerConfig, LimitsConfig
from raspy.protocol.frames import FrameLimits
from raspy.records import frozen

_LIMITS = LimitsConfig()


@frozen
class BrokerSettings:
    """Timers and limits of a BrokerCore; seconds are monotonic.

    Queue sizes are in bytes as Pending.size charges them (payload plus the cost of
    the objects around it), so they bound memory; the request count is a backstop.
    """

    heartbeat_interval_s: float = 2.5
    heartbeat_liveness: int = 3
    busy_timeout_s: float = 900.0
    request_ttl_s: float = 30.0
    max_queue_per_service: int = _LIMITS.broker_queue_requests_per_service
    queue_bytes_per_service: int = _LIMITS.broker_queue_bytes_per_service
    queue_bytes_total: int = _LIMITS.broker_queue_bytes_total
    max_services: int = _LIMITS.max_services
    max_workers: int = _LIMITS.max_workers
    limits: FrameLimits = field(default_factory=FrameLimits)
    accept_majortomo: bool = True

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval_s", "busy_timeout_s", "request_ttl_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        for name in (
            "heartbeat_liveness",
            "max_queue_per_service",
            "queue_bytes_per_service",
            "queue_bytes_total",
            "max_services",
            "max_workers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")

    @classmethod
    def from_config(
        cls, c: BrokerConfig, limits: LimitsConfig = _LIMITS
    ) -> BrokerSettings:
        """Settings from the [broker] section and the broker's part of [limits].

        The queue count comes from `limits.broker_queue_requests_per_service`.
        """
        return cls(
            heartbeat_interval_s=c.heartbeat_interval_s,
            heartbeat_liveness=c.heartbeat_liveness,
            busy_timeout_s=c.busy_timeout_s,
            request_ttl_s=c.request_ttl_s,
            max_queue_per_service=limits.broker_queue_requests_per_service,
            queue_bytes_per_service=limits.broker_queue_bytes_per_service,
            queue_bytes_total=limits.broker_queue_bytes_total,
            max_services=limits.max_services,
            max_workers=limits.max_workers,
            limits=FrameLimits(c.max_frames, c.max_frame_bytes, c.max_message_bytes),
            accept_majortomo=c.accept_majortomo,
        )
