"""The `<host>.http` service's bounds in time, on a real edge against a real HTTP
server on 127.0.0.1: a host's lookup ends with its request's timeout and frees its
worker (the resolver passed in, one that hangs until the test lets it go), names are
kept for the Host header and the certificate while the connection goes to the
address looked up, and a request whose sender has stopped waiting when its turn
comes is not made (the service's clock a test's; docs/scenarios.md "Telling a
phone")."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.clock import FakeClock
from support.edge_fixtures import EdgeHandle
from support.http_asker import Asker, HangingResolver
from support.http_server import HttpServer, http_server, self_signed
from support.wait import wait_until

from raspy.actors.http_client import REPLY_MARGIN_S
from raspy.http_lookup import HostLookup
from raspy.http_request import HttpRequest


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with http_server() as running:
        yield running


@pytest.fixture
def resolver() -> Iterator[HangingResolver]:
    made = HangingResolver()
    yield made
    made.release.set()


def _port(server: HttpServer) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


def test_a_hung_lookup_is_a_timeout_and_its_worker_serves_the_next_request(
    edge: EdgeHandle, server: HttpServer, resolver: HangingResolver
) -> None:
    """One worker: a lookup that never ends fails its request at its timeout, and
    the next request is made while that lookup still hangs."""
    asker = Asker(edge, workers=1, lookup=HostLookup(1, resolver))
    try:
        hung = HttpRequest(
            "POST", f"http://hung.test:{_port(server)}/ok", timeout_s=0.3
        )
        assert asker.ask(hung) == (
            b"504",
            {
                "error": "timeout",
                "detail": "no answer within 0.3s (looking up hung.test)",
            },
        )
        assert asker.ask(HttpRequest("POST", f"{server.url}/ok"))[0] == b"200"
        # still hung, on a lookup thread of its own, not the worker's
        wait_until(lambda: resolver.running == 1, what="the lookup still hung")
        assert resolver.calls == ["hung.test"]
        assert [r.path for r in server.taken()] == ["/ok"]
    finally:
        asker.close()


def test_a_restarted_service_adds_no_lookup_threads_beside_the_hung_ones(
    edge: EdgeHandle, server: HttpServer, resolver: HangingResolver
) -> None:
    """raspyd gives every life of the service one bound on its lookups: a service
    the supervisor restarted while a resolver hangs finds the slots still taken
    (its request a timeout), and never starts more threads into that resolver."""
    lookup = HostLookup(1, resolver)
    hung = HttpRequest("POST", f"http://hung.test:{_port(server)}/ok", timeout_s=0.3)
    first = Asker(edge, workers=1, lookup=lookup)
    try:
        assert first.ask(hung)[0] == b"504"
    finally:
        first.close()  # the service's end; its lookup still hangs
    again = Asker(edge, workers=1, lookup=lookup)
    try:
        other = HttpRequest(
            "POST", f"http://other.test:{_port(server)}/ok", timeout_s=0.3
        )
        assert again.ask(other) == (
            b"504",
            {
                "error": "timeout",
                "detail": "no answer within 0.3s (looking up other.test)",
            },
        )
        # the hung lookup's thread may reach the resolver after both timeouts
        wait_until(lambda: resolver.running == 1, what="the first lookup hung")
        assert resolver.calls == ["hung.test"]
        resolver.release.set()  # the resolver answers again: so does the service
        wait_until(lambda: resolver.running == 0, what="the hung lookup's end")
        assert again.ask(other)[0] == b"200"
    finally:
        again.close()


def test_a_name_looked_up_is_kept_for_the_host_header_and_the_certificate(
    edge: EdgeHandle, server: HttpServer, resolver: HangingResolver, tmp_path: Path
) -> None:
    """The connection goes to the address the lookup gave; the Host header, TLS's
    server name and the certificate's check are the URL's host name."""
    cert, key = self_signed(tmp_path, "DNS:notify.test")
    trusting = ssl.create_default_context(cafile=cert)
    asker = Asker(edge, lookup=HostLookup(2, resolver), tls=trusting)
    try:
        port = _port(server)
        assert asker.ask(HttpRequest("GET", f"http://notify.test:{port}/ok"))[0] == (
            b"200"
        )
        assert server.take().headers["host"] == f"notify.test:{port}"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        with http_server(context) as secure:
            port = _port(secure)
            ok = asker.ask(HttpRequest("GET", f"https://notify.test:{port}/ok"))
            assert ok[0] == b"200"
            status, detail = asker.ask(
                HttpRequest("GET", f"https://other.test:{port}/ok")
            )
            assert (status, detail["error"]) == (b"502", "tls")
            assert "certificate verify failed" in detail["detail"]
            assert [r.path for r in secure.taken()] == ["/ok"]
        assert resolver.calls == ["notify.test", "notify.test", "other.test"]
    finally:
        asker.close()


def test_a_request_whose_turn_comes_after_its_sender_gave_up_is_not_made(
    edge: EdgeHandle, server: HttpServer
) -> None:
    """One worker, held by a silent server; a second request waits its turn in the
    broker, and by the service's clock its sender has given up when it comes: it is
    answered as a timeout, counted, and never reaches the server."""
    clock = FakeClock()
    asker = Asker(edge, workers=1, clock=clock)
    try:
        silent = HttpRequest("POST", f"{server.url}/silent", timeout_s=0.3)
        first = asker.send(silent)
        assert server.take().path == "/silent"
        late = HttpRequest(
            "POST", f"{server.url}/ok", give_up_at=clock.monotonic() + 15.0
        )
        clock.advance(15.0)  # by the time its turn comes, its sender has given up
        second = asker.send(late)
        replies = dict(asker.reply() for _ in range(2))
        assert replies[first][0] == b"504"
        assert replies[second] == (
            b"504",
            {
                "error": "timeout",
                "detail": "not sent: its turn came after its sender stopped waiting",
            },
        )
        assert server.taken() == []
        assert (
            asker.stats.get("http_client.late"),
            asker.stats.get("http_client.requests"),
        ) == (1, 1)
    finally:
        asker.close()


def test_a_request_is_cut_to_the_time_its_sender_still_waits(
    edge: EdgeHandle, server: HttpServer
) -> None:
    """Its sender waits 0.5s more (and the answer's way back): its 10s timeout is
    cut to that, and its failure says why the time was shorter."""
    clock = FakeClock()
    asker = Asker(edge, clock=clock)
    try:
        request = HttpRequest(
            "POST",
            f"{server.url}/silent",
            timeout_s=10.0,
            give_up_at=clock.monotonic() + REPLY_MARGIN_S + 0.5,
        )
        assert asker.ask(request) == (
            b"504",
            {
                "error": "timeout",
                "detail": "no answer within 0.5s (the time left after it waited "
                "its turn)",
            },
        )
        given_time = HttpRequest(
            "POST", f"{server.url}/ok", give_up_at=clock.monotonic() + 60.0
        )
        assert asker.ask(given_time)[0] == b"200"
    finally:
        asker.close()
