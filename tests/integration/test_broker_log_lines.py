"""What the edge logs of the broker's refusals stays small (issue 18): a peer's service
name is cut at 64 bytes, so the log budget in lines is a budget in bytes too."""

from __future__ import annotations

from structlog.testing import capture_logs

from raspy.actors.edge import log_broker_output
from raspy.cores.broker import Rejected, RequestDropped
from raspy.ratelimit import LogRateLimiter

CLIENT = b"\x00\x80\x00\x00\x01"


def test_a_huge_service_name_is_cut_in_the_log_line() -> None:
    dropped = RequestDropped(b"s" * 1_000_000, CLIENT, "too_many_services")
    with capture_logs() as logs:
        log_broker_output(dropped, LogRateLimiter(), lambda: 0.0)
    assert logs == [
        {
            "component": "edge",
            "event": "request_dropped",
            "service": "s" * 64 + "…",
            "client": CLIENT.hex(),
            "reason": "too_many_services",
            "log_level": "warning",
        }
    ]


def test_a_heartbeat_of_a_worker_the_broker_does_not_know_is_no_warning() -> None:
    """Every remote worker's first heartbeat after raspyd restarts is one (it is
    told to reconnect, and does): a warning at each restart, for each board. Other
    frames of an unknown peer stay warnings."""
    limiter = LogRateLimiter()
    with capture_logs() as logs:
        log_broker_output(
            Rejected(CLIENT, "unknown_worker", "Heartbeat", 3), limiter, lambda: 0.0
        )
        log_broker_output(
            Rejected(b"\x00other", "unknown_worker", "Reply", 5), limiter, lambda: 0.0
        )
    assert [(e["detail"], e["log_level"]) for e in logs] == [
        ("Heartbeat", "info"),
        ("Reply", "warning"),
    ]
