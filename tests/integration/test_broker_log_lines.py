"""What the edge logs of the broker's refusals stays small (issue 18): a peer's service
name is cut at 64 bytes, so the log budget in lines is a budget in bytes too; a peer
is named alike on every line (text when printable, else hex)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from raspy import log
from raspy.actors.edge import log_broker_output
from raspy.actors.edge.broker_log import peer_text
from raspy.cores.broker_output import (
    BrokerOutput,
    Rejected,
    RequestDropped,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.protocol.mdp import Version
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


HISTORY = b"\xffhistory.0a1b2c3d"  # an in-process peer (raspy.actors.worker)


def test_each_line_that_names_a_peer_shows_an_in_process_one_by_its_name() -> None:
    """`client=ff686973746f72792e…` left the reader to decode an id the hub gave one
    of its own parts; now every line names such a peer as the others do."""
    outputs: list[BrokerOutput] = [
        RequestDropped(b"hub.history", HISTORY, "expired"),
        WorkerRegistered(b"hub.history", HISTORY, Version.V02),
        WorkerRemoved(b"hub.history", HISTORY, "disconnect"),
    ]
    log.configure("debug", "json")  # an in-process worker's coming and going: debug
    with capture_logs() as logs:
        for out in outputs:
            log_broker_output(out, LogRateLimiter(), lambda: 0.0)
    name, edge = "local:history.0a1b2c3d", {"component": "edge"}
    assert logs == [
        {**edge, "event": "request_dropped", "service": "hub.history",
         "client": name, "reason": "expired", "log_level": "warning"},
        {**edge, "event": "worker_registered", "service": "hub.history",
         "worker": name, "version": "0.2", "log_level": "debug"},
        {**edge, "event": "worker_removed", "service": "hub.history",
         "worker": name, "reason": "disconnect", "log_level": "debug"},
    ]  # fmt: skip


def test_a_network_peer_with_an_in_process_id_is_shown_in_hex() -> None:
    """The broker rejects (`local_id`) a network peer whose routing id starts with
    the in-process marker, which anyone may choose: as `local:history.…` the line
    read as raspyd's own history client rejected. An in-process peer's other
    refusals still name it."""
    limiter = LogRateLimiter()
    with capture_logs() as logs:
        log_broker_output(Rejected(HISTORY, "local_id", "", 3), limiter, lambda: 0.0)
        log_broker_output(
            Rejected(HISTORY, "unexpected_reply", "", 2), limiter, lambda: 0.0
        )
    assert [(e["event"], e["peer"], e["reason"]) for e in logs] == [
        ("frame_rejected", "ff686973746f72792e3061316232633364", "local_id"),
        ("frame_rejected", "local:history.0a1b2c3d", "unexpected_reply"),
    ]


@pytest.mark.parametrize(
    ("peer", "shown"),
    [
        pytest.param(CLIENT, "0080000001", id="libzmq-id-as-hex"),
        pytest.param(b"\xffcore.12345678/w0", "local:core.12345678/w0", id="local-sub"),
        pytest.param(b"board-7", "id:board-7", id="chosen-printable"),
        pytest.param(b"abc def", "61626320646566", id="space-is-hex"),
        pytest.param(b"\xff", "ff", id="bare-marker"),
        pytest.param(b"\xff\x00x", "ff0078", id="local-not-printable"),
        pytest.param(b"\xff" + b"n" * 65, "local:" + "n" * 64 + "…", id="long-name"),
        pytest.param(b"\x01" * 65, "01" * 64 + "…", id="long-binary"),
    ],
)
def test_a_peer_is_text_when_printable_and_hex_otherwise(
    peer: bytes, shown: str
) -> None:
    assert peer_text(peer) == shown
