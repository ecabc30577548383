"""Answers at the web face's edges, over real sockets to the real WebServer: targets
no route matches, methods no route takes, bodies cut off. Every one passes the gate
and carries the security headers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.web_browser import Browser
from support.web_served import web_served

from raspy.web.forms import MAX_FORM_BYTES

SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options")


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    with web_served(tmp_path) as (served_port, _):
        yield served_port


def _answer(port: int, request: bytes, cookie: str = "") -> tuple[str, dict[str, str]]:
    """The status line and the headers of the answer to a raw request."""
    if cookie:
        request = request.replace(b"\r\n\r\n", f"\r\nCookie: {cookie}\r\n\r\n".encode())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            assert chunk, f"closed before an answer: {head!r}"
            head += chunk
    status, *lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = (line.split(":", 1) for line in lines)
    return status, {name.lower(): value.strip() for name, value in fields}


def _assert_secured(headers: dict[str, str]) -> None:
    for name in SECURITY:
        assert name in headers, f"no {name}: {headers}"
    assert headers["cache-control"] == "no-store"


def _get(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("latin-1")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("target", ["/x%0aY", "*", "http://127.0.0.1/scenarios"])
def test_a_target_no_route_matches_goes_to_the_login(port: int, target: str) -> None:
    """`/{path:path}` did not match a path with a newline, nor `*` or an absolute
    URL: Starlette answered a bare 404, without a login and without the headers."""
    status, headers = _answer(port, _get(target))
    assert status.startswith("HTTP/1.1 303 "), status
    assert headers["location"].startswith("/login")
    _assert_secured(headers)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("target", ["/x%0aY", "*", "http://127.0.0.1/scenarios"])
def test_a_target_no_route_matches_is_the_missing_page_once_logged_in(
    port: int, target: str
) -> None:
    browser = Browser(port)
    browser.log_in()
    status, headers = _answer(port, _get(target), browser.cookie)
    assert status.startswith("HTTP/1.1 404 "), status
    assert headers["content-type"].startswith("text/html")
    _assert_secured(headers)


@pytest.mark.timeout(30)
def test_a_method_no_route_takes_has_the_headers(port: int) -> None:
    status, headers = _answer(
        port, b"PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    assert status.startswith("HTTP/1.1 405 "), status
    _assert_secured(headers)


@pytest.mark.timeout(30)
def test_a_chunked_body_cut_off_at_the_limit_has_the_headers(port: int) -> None:
    """The 413 raised while a chunked body is read (no length declared) came from
    Starlette's exception handler, without the headers."""
    chunk = b"a" * (MAX_FORM_BYTES + 1)
    status, headers = _answer(
        port,
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk),
    )
    assert status.startswith("HTTP/1.1 413 "), status
    _assert_secured(headers)


@pytest.mark.timeout(30)
def test_a_static_file_may_be_kept_and_has_the_headers(port: int) -> None:
    status, headers = _answer(port, _get("/static/app.css"))
    assert status.startswith("HTTP/1.1 200 "), status
    assert headers["cache-control"] == "private, max-age=3600"
    for name in SECURITY:
        assert name in headers


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=["header", "request-line"],
)
def test_uvicorns_own_400_for_a_malformed_request_has_the_headers(
    port: int, request_bytes: bytes
) -> None:
    """uvicorn answers a request h11 cannot read itself, never asking the app: its
    400 went without the security headers."""
    status, headers = _answer(port, request_bytes)
    assert status.startswith("HTTP/1.1 400 "), status
    _assert_secured(headers)


@pytest.mark.timeout(30)
def test_uvicorns_own_503_over_the_connection_limit_has_the_headers(
    tmp_path: Path,
) -> None:
    """Over limit_concurrency uvicorn answers 503 with an app of its own, outside
    ours: it went without the security headers."""
    with (
        web_served(tmp_path, max_connections=2) as (served_port, _),
        socket.create_connection(("127.0.0.1", served_port), timeout=10) as held,
    ):
        held.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # not ended
        status, headers = _answer(served_port, _get("/login"))
    assert status.startswith("HTTP/1.1 503 "), status
    _assert_secured(headers)
