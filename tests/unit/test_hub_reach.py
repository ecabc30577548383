"""raspy.cli.hub_reach: why a board cannot reach its hub, said once then rarely.
Real TCP on 127.0.0.1: a port nobody listens on, and one that listens; the times
of check() are the test's."""

from __future__ import annotations

import socket
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.net import free_port_base
from support.wait import wait_until

from raspy.cli.endpoints import host_port, port_base_argument
from raspy.cli.hub_reach import SAY_AGAIN_S, HubReach
from raspy.cli.poller_run import _reach


def _looked(reach: HubReach, now: float) -> None:
    """check() at `now` until the look it started has ended, then once more."""
    reach.check(heard=False, now=now)
    wait_until(
        lambda: reach._looking is None or not reach._looking.is_alive(),
        what="the TCP look",
    )
    reach.check(heard=False, now=now)


def _said(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == event]


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_a_refused_port_is_named_once_then_rarely_and_its_return_said() -> None:
    port = free_port_base()
    reach = HubReach("127.0.0.1", port, first_look_s=10.0, look_every_s=30.0)
    with capture_logs() as logs:
        _looked(reach, 0.0)
        _looked(reach, 5.0)
        assert not _said(logs, "hub_unreachable")  # a hub restarting is back soon
        _looked(reach, 10.0)
        (said,) = _said(logs, "hub_unreachable")
        assert said == {
            "component": "raspy-poller",
            "event": "hub_unreachable",
            "hub": f"127.0.0.1:{port}",
            "reason": "Connection refused",
            "since_s": 10,
            "log_level": "warning",
        }
        for now in (40.0, 70.0, 100.0):  # looked at again, not said again
            _looked(reach, now)
        assert len(_said(logs, "hub_unreachable")) == 1
        _looked(reach, 10.0 + SAY_AGAIN_S + 30.0)
        assert len(_said(logs, "hub_unreachable")) == 2
        reach.check(heard=True, now=1000.0)
        reach.check(heard=True, now=1001.0)
    assert [e["hub"] for e in _said(logs, "hub_reached")] == [f"127.0.0.1:{port}"]


def test_a_port_that_takes_the_connect_is_not_named(listening: int) -> None:
    reach = HubReach("127.0.0.1", listening, first_look_s=0.0)
    with capture_logs() as logs:
        _looked(reach, 0.0)
        _looked(reach, 1.0)
    assert not _said(logs, "hub_unreachable")


def test_a_host_name_that_does_not_resolve_is_said_so() -> None:
    reach = HubReach("no-such-hub.invalid", 5514, first_look_s=0.0)
    with capture_logs() as logs:
        _looked(reach, 0.0)
        _looked(reach, 0.0)
    (said,) = _said(logs, "hub_unreachable")
    assert str(said["reason"]).startswith("cannot resolve the host name: ")


@pytest.mark.parametrize("host", ["hub..lan", "h" * 64 + ".lan"])
def test_a_host_name_no_dns_name_can_be_is_said_so(host: str) -> None:
    """The endpoint's check lets `hub..lan` through (ZeroMQ retries it quietly);
    the idna codec refuses it with a UnicodeError, which ended the look's thread
    with a traceback every 30 s and said nothing."""
    reach = HubReach(host, 5514, first_look_s=0.0)
    with capture_logs() as logs:
        _looked(reach, 0.0)
        _looked(reach, 0.0)
    (said,) = _said(logs, "hub_unreachable")
    assert str(said["reason"]).startswith("cannot resolve the host name: not a DNS")


def test_a_changed_reason_is_said_at_once_and_a_repeated_one_rarely() -> None:
    """Only the reason said last is held back for SAY_AGAIN_S: one that changes is
    said at once, and so is a return to an earlier one."""
    reach = HubReach("127.0.0.1", free_port_base(), first_look_s=SAY_AGAIN_S)
    reach.check(heard=False, now=0.0)  # unheard since 0; no look yet
    with capture_logs() as logs:
        for now, reason in enumerate(
            ["Connection refused", "No route to host", "Connection refused"]
            + ["Connection refused"] * 2,
            start=1,
        ):
            reach._said_what(reason, float(now))
    assert [(e["reason"], e["since_s"]) for e in _said(logs, "hub_unreachable")] == [
        ("Connection refused", 1),
        ("No route to host", 2),
        ("Connection refused", 3),
    ]


def test_a_look_ended_after_the_hub_spoke_is_not_said_at_the_next_silence() -> None:
    """A look whose answer came in while the broker spoke again is dropped with it:
    a later silence starts afresh, said only after its own first look."""
    port = free_port_base()
    reach = HubReach("127.0.0.1", port, first_look_s=10.0, look_every_s=30.0)
    with capture_logs() as logs:
        reach.check(heard=False, now=0.0)
        reach.check(heard=False, now=10.0)  # a look starts
        wait_until(
            lambda: reach._looking is not None and not reach._looking.is_alive(),
            what="the TCP look",
        )
        reach.check(heard=True, now=11.0)  # the hub is back before it was said
        reach.check(heard=False, now=500.0)  # silent again: not yet FIRST_LOOK_S
    assert not _said(logs, "hub_unreachable")


@pytest.mark.parametrize(
    ("given", "hub", "address"),
    [
        ("tcp://127.0.0.1:5555", "127.0.0.1:5555", ("127.0.0.1", 5555)),
        ("hub.local:5555", "hub.local:5555", ("hub.local", 5555)),
        ("tcp://[::1]:5555", "[::1]:5555", ("::1", 5555)),
        ("[fe80::1]:65532", "[fe80::1]:65532", ("fe80::1", 65532)),
    ],
)
def test_raspy_pollers_hub_is_split_by_the_parser_that_checked_it(
    given: str, hub: str, address: tuple[str, int]
) -> None:
    """--connect is checked by endpoints' one parser; the TCP look at the hub's port
    splits it with the same parser, not a second one of its own."""
    reach = _reach(port_base_argument(given))
    assert reach.hub == hub
    assert reach._address == address


def test_a_hub_address_the_parser_refuses_is_refused_with_its_message() -> None:
    with pytest.raises(ValueError, match=r"expected tcp://HOST:PORT-BASE, got"):
        host_port("tcp://[::1]", max_port=65532, port="PORT-BASE")
    with pytest.raises(ValueError, match=r"expected a PORT-BASE 1\.\.65532"):
        host_port("tcp://[::1]:65535", max_port=65532, port="PORT-BASE")
