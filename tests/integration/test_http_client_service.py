"""The `<host>.http` service (HttpClientActor) on a real edge, asked as a scenario asks
it (an in-process MDP client), against a real HTTP server on 127.0.0.1: what arrives
there, and what the service answers for each way a request goes well or wrong
(README "The daemon", its built-in services; docs/scenarios.md "Telling a phone")."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.edge_fixtures import EdgeHandle
from support.http_asker import SERVICE, Asker
from support.http_server import (
    BIG_BYTES,
    HttpServer,
    http_server,
    refusing_port,
    self_signed,
)

from raspy.client.mdp import Client
from raspy.http_reply import MAX_ANSWER_BYTES
from raspy.http_request import (
    JSON_TYPE,
    TEXT_TYPE,
    HttpRequest,
    encode_request,
)


@pytest.fixture
def asker(edge: EdgeHandle) -> Iterator[Asker]:
    made = Asker(edge)
    yield made
    made.close()


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with http_server() as running:
        yield running


def post(url: str, body: bytes = b"", **options: Any) -> HttpRequest:
    return HttpRequest("POST", url, body=body, **options)


def test_a_json_post_arrives_with_its_headers_and_a_2xx_is_200(
    asker: Asker, server: HttpServer
) -> None:
    body = json.dumps({"text": "Freezer at -12.5 °C"}, ensure_ascii=False).encode()
    headers = (
        ("Title", "Freezer wärm"),
        ("Priority", "4"),
        ("Content-Type", JSON_TYPE),
    )
    status, detail = asker.ask(post(f"{server.url}/ok", body, headers=headers))
    assert (status, detail) == (
        b"200",
        {"status": 200, "reason": "OK", "body": '{"id":"x1"}', "truncated": False},
    )
    got = server.take()
    assert (got.method, got.path, got.body) == ("POST", "/ok", body)
    assert got.headers["title"].encode("latin-1").decode() == "Freezer wärm"
    assert (got.headers["priority"], got.headers["content-type"]) == ("4", JSON_TYPE)
    assert got.headers["content-length"] == str(len(body))
    assert got.headers["user-agent"].startswith("raspy/")
    assert "authorization" not in got.headers
    assert asker.stats.get("http_client.requests") == 1


def test_a_text_put_and_a_get_arrive_as_sent(asker: Asker, server: HttpServer) -> None:
    text = HttpRequest(
        "PUT",
        f"{server.url}/empty?topic=a b",
        (("Content-Type", TEXT_TYPE),),
        b"door open",
    )
    assert asker.ask(text)[0] == b"200"
    got = server.take()
    assert (got.method, got.path, got.body) == (
        "PUT",
        "/empty?topic=a%20b",
        b"door open",
    )
    assert got.headers["content-type"] == TEXT_TYPE
    assert asker.ask(HttpRequest("GET", f"{server.url}/ok"))[0] == b"200"
    got = server.take()
    assert (got.method, got.body, got.headers.get("content-length")) == (
        "GET",
        b"",
        None,
    )


def test_the_user_and_password_of_a_url_are_sent_as_basic_auth(
    asker: Asker, server: HttpServer
) -> None:
    url = server.url.replace("://", "://me:s%40cret@") + "/ok"
    assert asker.ask(post(url))[0] == b"200"
    assert server.take().headers["authorization"] == "Basic bWU6c0BjcmV0"  # me:s@cret


def test_a_404_and_a_500_fail_with_the_status_and_the_start_of_the_body(
    asker: Asker, server: HttpServer
) -> None:
    status, detail = asker.ask(post(f"{server.url}/nothing"))
    assert (status, detail["error"], detail["detail"]) == (
        b"502",
        "status",
        "404 Not Found: no such topic here",
    )
    assert (detail["status"], detail["reason"]) == (404, "Not Found")
    status, detail = asker.ask(post(f"{server.url}/fail"))
    assert (status, detail["detail"]) == (
        b"502",
        "500 Internal Server Error: <html> <b>Internal Server Error</b> </html>",
    )
    _, detail = asker.ask(post(f"{server.url}/long-error"))
    assert detail["detail"] == "400 Bad Request: " + ("bad " * 50).strip() + "…"
    assert asker.stats.get("http_client.failed") == 3


def test_a_server_that_never_answers_is_a_504_at_the_timeout(
    asker: Asker, server: HttpServer
) -> None:
    # the request's own timeout answered: its detail names it (Asker.reply waits
    # 8 s at most, so no clock reading here could fail where this passes)
    status, detail = asker.ask(post(f"{server.url}/silent", timeout_s=0.3))
    assert (status, detail) == (
        b"504",
        {"error": "timeout", "detail": "no answer within 0.3s"},
    )
    assert server.take().path == "/silent"


def test_an_answer_dribbled_a_byte_at_a_time_is_cut_off_at_the_timeout(
    asker: Asker, server: HttpServer
) -> None:
    """Each read gets a byte in time; the whole request still ends at its timeout."""
    status, detail = asker.ask(post(f"{server.url}/drip", timeout_s=0.3))
    assert (status, detail) == (
        b"504",
        {"error": "timeout", "detail": "no answer within 0.3s"},
    )


def test_a_refused_connection_and_a_tls_error_are_502_with_the_reason(
    asker: Asker, server: HttpServer
) -> None:
    with refusing_port() as port:
        status, detail = asker.ask(post(f"http://127.0.0.1:{port}/x"))
    assert (status, detail) == (
        b"502",
        {"error": "connect", "detail": "connection refused"},
    )
    # https to a server that speaks plain HTTP: no TLS handshake
    status, detail = asker.ask(post(server.url.replace("http:", "https:") + "/ok"))
    assert (status, detail["error"]) == (b"502", "tls")
    assert detail["detail"].startswith("TLS: ")


def test_https_checks_the_certificate_and_works_with_a_trusted_one(
    edge: EdgeHandle, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with http_server(context) as secure:
        strict = Asker(edge)  # the system's store: the test CA is not in it
        try:
            status, detail = strict.ask(post(f"{secure.url}/ok"))
        finally:
            strict.close()
        assert (status, detail["error"]) == (b"502", "tls")
        assert "certificate verify failed" in detail["detail"]
        trusting = Asker(edge, tls=ssl.create_default_context(cafile=cert))
        try:
            assert trusting.ask(post(f"{secure.url}/ok"))[0] == b"200"
        finally:
            trusting.close()
        assert secure.take().path == "/ok"


def test_redirects_are_followed_at_most_three_times_and_only_to_http(
    asker: Asker, server: HttpServer
) -> None:
    body = b'{"a":1}'
    json_post = post(f"{server.url}/keep", body, headers=(("Content-Type", JSON_TYPE),))
    assert asker.ask(json_post)[0] == b"200"
    first, second = server.take(), server.take()
    assert (first.path, second.method, second.path, second.body) == (
        "/keep",
        "POST",
        "/ok",
        body,
    )  # 307 keeps the method and the body
    assert asker.ask(post(f"{server.url}/see-other", body))[0] == b"200"
    server.take()
    second = server.take()
    assert (second.method, second.path, second.body) == ("GET", "/ok?from=303", b"")
    status, detail = asker.ask(post(f"{server.url}/loop"))
    assert (status, detail) == (
        b"502",
        {"error": "redirect", "detail": "more than 3 redirects"},
    )
    assert [r.path for r in server.taken()] == [
        "/loop",
        "/loop?0",
        "/loop?1",
        "/loop?2",
    ]
    status, detail = asker.ask(post(f"{server.url}/to-ftp"))
    assert (status, detail["error"]) == (b"502", "redirect")
    assert detail["detail"].startswith("a redirect to ftp://127.0.0.1/… refused")


def test_a_body_with_a_secret_is_not_sent_on_to_another_host_by_a_307(
    asker: Asker, server: HttpServer
) -> None:
    """A 307 keeps the method and the body. Another host gets none of the headers
    (a token may be there), and when the request carried a secret, which may be in
    its body, not the body either: the redirect is refused. Without a secret it is
    followed, as any 307."""
    with http_server() as other:
        elsewhere = f"{server.url}/elsewhere?to={other.url}/ok"
        secret = post(elsewhere, b"token=s3cr3t", secrets=(("t", "s3cr3t"),))
        status, detail = asker.ask(secret)
        assert (status, detail["error"]) == (b"502", "redirect")
        assert "another host refused" in detail["detail"]
        assert asker.ask(post(elsewhere, b"plain"))[0] == b"200"
        assert [(r.path, r.body) for r in other.taken()] == [("/ok", b"plain")]


def test_an_answer_over_64_kib_is_read_to_64_kib_only(
    asker: Asker, server: HttpServer
) -> None:
    status, detail = asker.ask(post(f"{server.url}/big"))
    assert status == b"200"
    assert (len(detail["body"]), detail["truncated"]) == (MAX_ANSWER_BYTES, True)
    assert BIG_BYTES > MAX_ANSWER_BYTES


def test_a_line_break_in_a_header_is_refused_and_nothing_is_sent(
    asker: Asker, server: HttpServer
) -> None:
    smuggled = post(f"{server.url}/ok", headers=(("Title", "hi\r\nX-Evil: 1"),))
    status, detail = asker.ask(smuggled)
    assert (status, detail) == (
        b"400",
        {
            "error": "bad_request",
            "detail": "header Title: its value has a line break or another "
            "control character",
        },
    )
    assert asker.ask(post(f"{server.url}/empty"))[0] == b"200"
    assert [r.path for r in server.taken()] == ["/empty"]  # the first never went out
    assert asker.stats.get("http_client.bad_requests") == 1


def test_frames_that_are_no_request_are_a_400(asker: Asker) -> None:
    status, detail = asker.ask((b"not json",))
    assert (status, detail["error"]) == (b"400", "bad_request")
    status, detail = asker.ask(
        (b'{"v": 1, "method": "POST", "url": "file:///etc/passwd"}',)
    )
    assert (status, detail) == (
        b"400",
        {
            "error": "bad_request",
            "detail": "expected a URL starting with http:// or https://, "
            'got "file:///…"',
        },
    )


def test_a_network_client_is_refused_and_nothing_is_sent(
    asker: Asker, server: HttpServer, edge: EdgeHandle
) -> None:
    """Anyone who reaches the broker could have the hub send requests anywhere its
    network reaches: the service answers only raspyd's own parts."""
    frames = encode_request(post(f"{server.url}/ok"))
    with Client(edge.endpoint, context=edge.context, timeout_s=5, retries=1) as client:
        status, detail = client.request(SERVICE.decode(), *frames)
    assert (status, json.loads(detail)["error"]) == (b"403", "forbidden")
    assert server.taken() == []
    assert asker.stats.get("http_client.forbidden") == 1


def test_requests_beyond_the_workers_wait_their_turn_in_the_broker(
    edge: EdgeHandle, server: HttpServer
) -> None:
    """Two workers: two silent requests hold both; a third waits in the broker's
    queue and goes out once one of them times out."""
    asker = Asker(edge, workers=2)
    try:
        for _ in range(2):
            asker.send(post(f"{server.url}/silent", timeout_s=0.3))
        third = asker.send(post(f"{server.url}/ok"))
        assert {server.take().path, server.take().path} == {"/silent"}
        assert server.taken() == []  # the third is not under way yet
        replies = dict(asker.reply() for _ in range(3))
        assert [replies[i][0] for i in (1, 2)] == [b"504", b"504"]
        assert replies[third][0] == b"200"
        assert [r.path for r in server.taken()] == ["/ok"]
    finally:
        asker.close()


def test_a_redirect_to_no_url_is_a_refused_redirect(
    asker: Asker, server: HttpServer
) -> None:
    """A Location with a host in brackets that is no address is no URL: urljoin
    raises on it. That is the server's fault, told as a refused redirect (it was
    an `internal error: ValueError`, logged as a crash of the fetch)."""
    status, detail = asker.ask(post(f"{server.url}/elsewhere?to=http://[nohost]/"))
    assert (status, detail) == (
        b"502",
        {
            "error": "redirect",
            "detail": "a redirect to a Location that is no URL refused",
        },
    )
