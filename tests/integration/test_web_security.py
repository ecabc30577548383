"""The web face's HTTP edges, over real HTTP to the real Starlette app on uvicorn
(WebServer, build_app) with a token login: a logout ends the live stream, the login
throttle holds against tries sent at once, and a request body is bounded before it
is read."""

from __future__ import annotations

import html
import http.client
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from support.wait import wait_until
from support.web_browser import TOKEN, Answer, Browser, allow_login, renew_login

from raspy.actors.web import backend as app_mod
from raspy.actors.web.app import build_app
from raspy.actors.web.backend import Backend, ServiceRequest
from raspy.actors.web.server import HEADER_TIMEOUT_S, WebServer, bind_socket
from raspy.clock import SystemClock
from raspy.web.forms import MAX_FORM_BYTES
from raspy.web.login import SecretHash, hash_secret, verify
from raspy.web.login_files import LoginFiles, write_private

HOST = "testhost"
JSON = "application/json"


def _no_services(message: object) -> None:
    """These tests ask no service: a request reaching here is a test error."""
    raise AssertionError(f"unexpected request to the services: {message!r}")


@dataclass
class Served:
    server: WebServer
    backend: Backend
    port: int

    def browser(self) -> Browser:
        return Browser(self.port)

    def csrf(self, browser: Browser) -> str:
        sid = browser.cookie.split("=", 1)[1]
        session = self.backend.session_of(sid)
        assert session is not None
        return session.csrf


@contextmanager
def _serving(
    data_dir: Path,
    tell: Callable[[object], None],
    header_timeout_s: float = HEADER_TIMEOUT_S,
) -> Iterator[Served]:
    allow_login(data_dir)
    backend = Backend(
        hostname=HOST,
        tell=tell,
        logins=LoginFiles(data_dir, ""),
        session_s=3600.0,
        clock=SystemClock(),
        hosts=("hub.lan",),  # the name a TLS proxy passes on
    )
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = WebServer(
        lambda hub: build_app(backend, hub), sock, header_timeout_s=header_timeout_s
    )
    server.start()
    try:
        yield Served(server, backend, port)
    finally:
        server.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with _serving(tmp_path, _no_services) as serving:
        yield serving


def _tree_change(n: int) -> list[tuple[str, bytes]]:
    return [(f"/device/{HOST}.fake.attic/value", str(n).encode())]


@pytest.mark.timeout(60)
def test_a_logout_ends_the_live_stream_even_while_values_keep_changing(
    served: Served,
) -> None:
    """The stream checked the session only when it had been idle for 15 s: with
    values changing more often than that, a logged-out (or expired) session kept
    receiving the live values for as long as the connection lasted."""
    browser = served.browser()
    browser.log_in()
    stream = http.client.HTTPConnection("127.0.0.1", served.port, timeout=1)
    stream.request("GET", "/events", headers={"Cookie": browser.cookie})
    response = stream.getresponse()
    assert response.status == 200
    changes = iter(range(1_000_000))

    def received(marker: bytes) -> bool:
        served.server.feed(_tree_change(next(changes)))
        try:
            return marker in response.read1(65536)
        except TimeoutError:
            return False

    try:
        wait_until(lambda: received(b"event: kv"), what="a first batch of values")
        csrf = served.csrf(browser)
        assert browser.exchange("POST", "/logout", f"csrf={csrf}").status == 303
        ended: list[bool] = []

        def stream_ended() -> bool:
            served.server.feed(_tree_change(next(changes)))
            try:
                ended.append(response.read1(65536) == b"")
            except TimeoutError:
                ended.append(False)
            return ended[-1]

        wait_until(stream_ended, what="the stream's end after the logout")
    finally:
        stream.close()


def _login_form(served: Served) -> tuple[str, str]:
    """The login cookie and the form's matching token."""
    form = served.browser().exchange("GET", "/login")
    cookie = form.cookies[0].split(";")[0]
    token = form.body.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return cookie, token


@pytest.mark.timeout(60)
def test_wrong_logins_sent_at_once_are_throttled_as_those_sent_one_by_one(
    served: Served,
) -> None:
    """The throttle counted a failure only once its scrypt check had ended, so tries
    sent together all passed the check before the first was counted: 30 at once
    were 30 guesses, not the 10 a minute the docs promise."""
    cookie, token = _login_form(served)
    start = threading.Barrier(30)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        try:
            start.wait(10)
            connection.request(
                "POST",
                "/login",
                body=f"csrf={token}&secret=wrong-{n}",
                headers={
                    "Cookie": cookie,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            status = connection.getresponse().status
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert (statuses.count(401), statuses.count(429)) == (10, 20)


@pytest.mark.timeout(60)
def test_a_client_that_keeps_failing_locks_out_only_itself(served: Served) -> None:
    """The throttle counted failures from everyone together: a gadget on the LAN
    guessing ten times a minute kept the household out of its own web face."""
    guesser = Browser(served.port, source="127.0.0.2")
    statuses = [guesser.try_login(f"wrong-{n}").status for n in range(11)]
    assert statuses == [401] * 10 + [429]
    assert "from this address" in guesser.try_login("wrong").body
    household = Browser(served.port, source="127.0.0.3")
    household.log_in()  # 303 with a session (it was 429)
    assert household.cookie.startswith("raspy_session=")


def _raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(head.encode("ascii"))
    return sock


def _status_line(sock: socket.socket) -> str:
    try:
        return sock.recv(4096).split(b"\r\n", 1)[0].decode("ascii")
    except TimeoutError:
        return "no answer"


@pytest.mark.timeout(60)
def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    served: Served,
) -> None:
    """Every body was read whole before its size was checked: a login form (no
    session needed) of a declared gigabyte was read into memory to the end."""
    sock = _raw_request(
        served.port,
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {10**9}\r\n\r\n",
    )
    try:
        sock.sendall(b"a" * 65536)
        assert _status_line(sock).startswith("HTTP/1.1 413 ")
    finally:
        sock.close()


@pytest.mark.timeout(60)
def test_a_chunked_body_is_cut_off_at_the_limit(served: Served) -> None:
    """A body without a declared length is refused once it passes the limit, not
    collected for as long as the sender goes on."""
    sock = _raw_request(
        served.port,
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"a" * 4096
    sent = 0
    answer = ""
    deadline = time.monotonic() + 10
    sock.settimeout(0.05)
    try:
        while not answer and time.monotonic() < deadline:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except OSError:  # the server closed the connection after answering
                pass
            answer = _status_line(sock) if sent > MAX_FORM_BYTES else ""
            if answer == "no answer":
                answer = ""
    finally:
        sock.close()
    assert answer.startswith("HTTP/1.1 413 ")


@pytest.mark.timeout(60)
def test_a_body_within_the_limit_still_logs_in(served: Served) -> None:
    browser = served.browser()
    browser.log_in()
    assert browser.exchange("GET", "/static/app.css").status == 200


@pytest.mark.timeout(60)
def test_pages_say_so_when_the_broker_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking the broker whether a service has a worker (mmi.service) could time
    out into a 500 on the scenarios, Titanic and device pages; the docs promise the
    page, with the silent service named. A page's wait is shortened here (the same
    path, without its 5 s a time)."""
    monkeypatch.setattr(app_mod, "REQUEST_TIMEOUT_S", 0.5)
    with _serving(tmp_path, lambda _message: None) as silent:
        browser = silent.browser()
        browser.log_in()
        answers: dict[str, tuple[int, bool]] = {}

        def ask(path: str) -> None:
            answer = browser.exchange("GET", path)
            answers[path] = (
                answer.status,
                "no reply within a few seconds" in answer.body,
            )

        paths = ["/scenarios", "/titanic", f"/device/{HOST}.fake.attic"]
        threads = [threading.Thread(target=ask, args=(path,)) for path in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert answers == {
        "/scenarios": (200, True),
        "/titanic": (200, True),
        f"/device/{HOST}.fake.attic": (404, True),
    }


def _logout_from(served: Served, browser: Browser, origin: str, host: str) -> int:
    """POST /logout with the session's CSRF token, as a browser at `origin` sends it
    to a server it reaches as `host`; the HTTP status."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/logout",
            body=f"csrf={served.csrf(browser)}",
            headers={
                "Cookie": browser.cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Host": host,
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_a_post_through_a_tls_proxy_passes_and_one_from_another_site_does_not(
    served: Served,
) -> None:
    """Behind a TLS proxy the browser's Origin says https:// while raspyd speaks
    plain HTTP (docs/web.md advises such a proxy): same host, so the POST is taken.
    Another site's Origin is refused, even with the right token."""
    browser = served.browser()
    browser.log_in()
    assert _logout_from(served, browser, "http://evil.example", "hub.lan") == 403
    assert _logout_from(served, browser, "https://hub.lan", "hub.lan") == 303


def test_a_request_whose_headers_never_end_is_cut_off(tmp_path: Path) -> None:
    """uvicorn has no deadline for a request's headers: without one, 256 clients
    that never finish theirs hold every connection (limit_concurrency) and shut
    the household out. Fresh connections and kept-alive ones alike are closed."""
    with _serving(tmp_path, _no_services, header_timeout_s=0.3) as served:
        fresh = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        kept = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        try:
            fresh.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no more
            kept.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while b"</html>" not in answer:
                chunk = kept.recv(65536)
                assert chunk, "closed before its answer"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
            kept.sendall(b"GET /login HTTP/1.1\r\n")  # the next one never ends
            assert fresh.recv(1024) == b""  # closed by the server (a timeout raises)
            assert kept.recv(1024) == b""
            assert served.browser().exchange("GET", "/login").status == 200
        finally:
            fresh.close()
            kept.close()


def test_a_request_whose_body_never_ends_is_cut_off(tmp_path: Path) -> None:
    """The headers had a deadline and the body none: a client that sent a login
    form's headers, then its body a byte now and then (or never), held its
    connection for ever, and 256 of them, with no login, shut the household out."""
    with _serving(tmp_path, _no_services, header_timeout_s=0.3) as served:
        slow = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        try:
            slow.sendall(
                b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100\r\n\r\ncsrf=a"  # and no more
            )
            assert slow.recv(1024) == b""  # closed by the server (a timeout raises)
            assert served.browser().exchange("GET", "/login").status == 200
        finally:
            slow.close()


def test_a_client_that_leaves_mid_body_leaves_no_error_in_the_log(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as client:
        client.sendall(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\ncsrf=a"
        )
    # the server has seen the close once it serves the next request
    wait_until(
        lambda: served.browser().exchange("GET", "/login").status == 200,
        what="the next request served",
    )
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_new_login_token_logs_every_browser_out(
    served: Served, tmp_path: Path
) -> None:
    """Sessions made with the old token stayed valid until they expired (a week by
    default) or raspyd restarted: a token that leaked could not be taken back."""
    browser = served.browser()
    browser.log_in()
    assert browser.exchange("GET", "/login").status == 303  # logged in: to "/"
    renew_login(tmp_path)  # as `raspy web-token` does: the hash file written anew
    assert browser.exchange("GET", "/login").status == 200  # the form: logged out
    browser.log_in()  # with the new token
    assert browser.exchange("GET", "/login").status == 303


def _answering(
    reply: list[bytes], served: tuple[bytes, ...] | None = None
) -> Callable[[object], None]:
    """A `tell` standing for the WebActor: every service request gets `reply`; the
    broker's `mmi.service` says a worker serves each service (or those `served`)."""

    def tell(message: object) -> None:
        assert isinstance(message, ServiceRequest), message
        if message.service == b"mmi.service":
            up = served is None or message.body[0] in served
            message.result.set_result([b"200" if up else b"404"])
            return
        message.result.set_result(reply)

    return tell


def _command(
    served: Served,
    browser: Browser,
    service: str = f"{HOST}.board.devices",
    device: str = "relay",
) -> tuple[int, str, bytes]:
    """A switch press as app.js sends it: the HTTP status, content type and body."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/device",
            body=json.dumps({"service": service, "device": device, "action": "on"}),
            headers={
                "Cookie": browser.cookie,
                "Content-Type": "application/json",
                "X-CSRF-Token": served.csrf(browser),
            },
        )
        response = connection.getresponse()
        body = response.read()
        return response.status, response.getheader("content-type") or "", body
    finally:
        connection.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "body",
    [
        rb'{"reading": {"value": NaN}}',
        rb'{"reading": {"value": 1e400}}',
        b'{"reading": {"value": ' + b"9" * 400 + b"}}",
        rb'{"reading": {"value": "\ud800"}}',
        rb'{"error": "bad", "detail": "\udfff"}',
    ],
)
@pytest.mark.parametrize("status", [b"200", b"400"])
def test_a_devices_service_answering_odd_json_costs_no_500(
    tmp_path: Path, status: bytes, body: bytes
) -> None:
    """Any MDP worker may serve `<host>.<svc>.devices` (a remote board does). Python
    reads NaN, 1e400 and lone surrogates (`\\ud800`) from its reply, which the JSON
    answer to app.js could not carry: the switch got a 500 and a parse error."""
    with _serving(tmp_path, _answering([status, body])) as served:
        browser = served.browser()
        browser.log_in()
        code, _, raw = _command(served, browser)
    reply = json.loads(raw)
    assert isinstance(reply, dict)
    if status == b"200":
        assert (code, reply["ok"]) == (200, True)
    else:
        assert (code, reply["error"].startswith("relay: ")) == (400, True)


@pytest.mark.timeout(60)
def test_a_devices_refusal_keeps_its_status_and_a_failure_is_502(
    tmp_path: Path,
) -> None:
    """A refusal of the devices service (400, 404, 501) is the user's to read: it
    comes back with its own status and the device's reason; a failure of the
    service (a 500, a status outside the vocabulary, 409 since no switch refuses
    a command too soon any more, a reply that is no JSON object) is the hub's,
    502. Every one was 502 before."""
    reply: list[bytes] = []
    answers = []
    cases = [
        [b"409", b'{"v": 1, "action": "on", "error": "too_soon", "detail": "wait"}'],
        [b"400", b'{"v": 1, "action": "on", "error": "invalid_value"}'],
        [b"404", b'{"v": 1, "error": "unknown_device", "detail": "no relay"}'],
        [b"500", b'{"v": 1, "error": "device_error", "detail": "pin failed"}'],
        [b"501", b'{"v": 1, "error": "unknown_action"}'],
        [b"401", b'{"v": 1, "error": "login", "detail": "who?"}'],
        [b"400", b"not json"],
        [b"404"],
    ]
    with _serving(tmp_path, _answering(reply)) as served:
        browser = served.browser()
        browser.log_in()
        for case in cases:
            reply[:] = case
            code, kind, raw = _command(served, browser)
            answers.append((code, kind, json.loads(raw)))
    assert answers == [
        (502, JSON, {"error": "relay: wait (409)"}),
        (400, JSON, {"error": "relay: invalid_value", "code": "invalid_value"}),
        (404, JSON, {"error": "relay: no relay", "code": "unknown_device"}),
        (502, JSON, {"error": "relay: pin failed (500)"}),
        (501, JSON, {"error": "relay: unknown_action", "code": "unknown_action"}),
        (502, JSON, {"error": "relay: who? (401)"}),
        (502, JSON, {"error": "relay: refused (400)"}),
        (502, JSON, {"error": "relay: refused (404)"}),
    ]


@pytest.mark.timeout(60)
def test_a_devices_reply_nested_deep_costs_a_switch_no_500(tmp_path: Path) -> None:
    """A reply nested as deep as the handler's stack could read was too deep for
    the JSON answer to be written a few calls further down: a 500, not JSON."""
    reply: list[bytes] = []
    answers: list[tuple[int, int, str]] = []
    with _serving(tmp_path, _answering(reply)) as served:
        browser = served.browser()
        browser.log_in()
        for depth in range(940, 1000, 4):
            deep = b"[" * depth + b"]" * depth
            reply[:] = [b"200", b'{"reading": {"value": ' + deep + b"}}"]
            code, kind, _ = _command(served, browser, f"{HOST}.b.devices", "r")
            answers.append((depth, code, kind))
    assert [a for a in answers if a[1:] not in {(200, JSON), (502, JSON)}] == []


@pytest.mark.timeout(60)
def test_a_value_nested_deep_in_the_tree_costs_the_devices_page_no_500(
    tmp_path: Path,
) -> None:
    """The live values were read as JSON once at the change, on the loop's shallow
    stack, and read again for every page, from a handler's deeper one: a value
    nested some 950 deep (any Clone client may write one) passed the first read and
    failed the second with a RecursionError, a 500 for as long as it stayed."""
    with _serving(tmp_path, _answering([b"200"])) as served:  # no devices service
        browser = served.browser()
        browser.log_in()
        depths = range(900, 1000, 10)
        served.server.feed(
            [
                (f"/device/{HOST}.board.d{depth}/value", b"[" * depth + b"]" * depth)
                for depth in depths
            ]
            + [(f"/device/{HOST}.board.last/value", b"21.5")]
        )

        def shown() -> list[Answer]:
            answer = browser.exchange("GET", "/")
            done = answer.status != 200 or f"{HOST}.board" in answer.body
            return [answer] if done else []

        [page] = wait_until(shown, what="the devices page with the board's values")
    assert (page.status, page.body.count('class="device ')) == (200, len(depths) + 1)


@pytest.mark.timeout(60)
def test_a_switch_of_a_board_that_is_away_is_not_sent(tmp_path: Path) -> None:
    """No worker serves the board's devices service (the board is away): the page is
    told at once that it is away (503) and nothing is sent, where the request waited
    in the broker for the page's 5 s and answered 504, "no reply"."""
    sent: list[bytes] = []
    answer = _answering([b"200", b'{"v": 1, "reading": {"value": true}}'], served=())

    def tell(message: object) -> None:
        assert isinstance(message, ServiceRequest), message
        sent.append(message.service)
        answer(message)

    with _serving(tmp_path, tell) as served:
        browser = served.browser()
        browser.log_in()
        code, kind, raw = _command(served, browser)
    service = f"{HOST}.board.devices"
    assert (code, kind, json.loads(raw)) == (
        503,
        JSON,
        {"error": f"relay: no worker serves {service} now: nothing was sent"},
    )
    assert sent == [b"mmi.service"]


def _get(served: Served, path: str, cookie: str) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read().decode("utf-8")
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, body
    finally:
        connection.close()


def test_a_path_with_no_page_is_a_page_with_the_menu_behind_the_login(
    served: Served,
) -> None:
    """An old bookmark or a typo got Starlette's bare "Not Found", without the
    menu to go on from and without the security headers every other answer has;
    and it answered without a login."""
    status, headers, _ = _get(served, "/scenario/hall-motion", "")
    assert (status, headers["location"]) == (303, "/login?next=/scenario/hall-motion")
    browser = served.browser()
    browser.log_in()
    status, headers, body = _get(served, "/scenario/<b>hall-motion", browser.cookie)
    assert status == 404
    assert "no page &#x27;/scenario/&lt;b&gt;hall-motion&#x27; here" in body
    assert '<a href="/scenarios">Scenarios</a>' in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


def _login_with(browser: Browser, login_path: str, secret: str) -> Answer:
    """The login form fetched from `login_path` and sent as a browser would (its
    fields, `next` among them when the form holds one)."""
    form = browser.exchange("GET", login_path)
    browser.cookie = form.cookies[0].split(";")[0]
    fields = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.body)
    )
    fields = {name: html.unescape(value) for name, value in fields.items()}
    return browser.exchange("POST", "/login", urlencode({**fields, "secret": secret}))


@pytest.mark.timeout(60)
def test_a_login_goes_back_to_the_page_it_was_asked_for(served: Served) -> None:
    """A login went to the devices page whatever page the browser was on (the
    edit page of a scenario, whose draft the editor keeps)."""
    status, headers, _ = _get(served, "/scenarios/hall%20lamp/edit?x=1&y=2", "")
    assert (status, headers["location"]) == (
        303,
        "/login?next=/scenarios/hall%2520lamp/edit%3Fx%3D1%26y%3D2",
    )
    browser = served.browser()
    wrong = _login_with(browser, headers["location"], "not-the-token")
    kept = 'name="next" value="/scenarios/hall%20lamp/edit?x=1&amp;y=2"'
    assert (wrong.status, kept in wrong.body) == (401, True)  # a second try goes too
    answer = _login_with(browser, headers["location"], TOKEN)
    assert (answer.status, answer.location) == (
        303,
        "/scenarios/hall%20lamp/edit?x=1&y=2",
    )
    browser.cookie = answer.cookies[0].split(";")[0]  # logged in: the form goes on
    again = browser.exchange("GET", "/login?next=/services")
    assert (again.status, again.location) == (303, "/services")


@pytest.mark.timeout(60)
def test_a_post_without_a_session_is_not_remembered(served: Served) -> None:
    """The target of a POST is no page to go back to."""
    answer = served.browser().exchange("POST", "/scenarios/hall/run", "csrf=x")
    assert (answer.status, answer.location) == (303, "/login")


@pytest.mark.timeout(60)
def test_the_login_form_says_when_a_session_ended_and_that_the_editor_kept_the_text(
    served: Served, tmp_path: Path
) -> None:
    """After a session ended (here a new token; or its time), the login form
    gave no reason, and a Save of the editor led to it and then to the devices
    page, away from the text app.js had kept."""
    browser = served.browser()
    browser.log_in()
    stale = browser.cookie
    renew_login(tmp_path)  # a new token: every session ends
    page = browser.exchange("GET", "/services")
    save = browser.exchange("POST", "/scenarios/hall%20lamp/edit", "csrf=x")
    run = browser.exchange("POST", "/scenarios/hall/run", "csrf=x")
    never = served.browser().exchange("GET", "/services")  # no session ever
    assert page.location == "/login?next=/services&ended=1"
    assert save.location == "/login?next=/scenarios/hall%2520lamp/edit&ended=edit"
    assert run.location == "/login?ended=1"
    assert never.location == "/login?next=/services"
    told = browser.exchange("GET", page.location).body
    assert (
        '<p class="notice" role="status">Your session ended; log in again.</p>' in told
    )
    kept = browser.exchange("GET", save.location).body
    assert (
        "Your session ended; log in again. The text you were editing is kept in "
        "this tab: the editor offers to restore it."
    ) in kept
    assert "session ended" not in browser.exchange("GET", never.location).body
    browser.cookie = stale
    answer = _login_with(browser, save.location, TOKEN)
    assert (answer.status, answer.location) == (303, "/scenarios/hall%20lamp/edit")
    # the cookie outlives its session a day, so that a browser back then is told
    assert f"Max-Age={int(served.backend.session_s) + 86400};" in answer.cookies[0]


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example/",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
@pytest.mark.timeout(60)
def test_a_login_goes_to_no_other_site(served: Served, target: str) -> None:
    """`next` is a path of this site or nothing: an open redirect would send a
    browser on to another site from a link to the hub's login."""
    browser = served.browser()
    form = browser.exchange("GET", "/login?" + urlencode({"next": target}))
    assert 'name="next"' not in form.body
    browser.cookie = form.cookies[0].split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.body)
    assert csrf is not None
    answer = browser.exchange(
        "POST", "/login", urlencode({"csrf": csrf[1], "secret": TOKEN, "next": target})
    )
    assert (answer.status, answer.location) == (303, "/")


@pytest.mark.timeout(30)
def test_a_login_takes_as_many_checks_with_a_token_as_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login ran scrypt once per login file present: without a `raspy web-token`
    a wrong password took half the time, which told anyone on the LAN whether a
    token exists. Each login is now checked against the same number of hashes."""
    calls: list[object] = []
    real_verify = verify

    def counted(secret: str, expected: SecretHash) -> bool:
        calls.append(expected)
        return real_verify(secret, expected)

    monkeypatch.setattr(app_mod, "verify", counted)
    password = tmp_path / "password"
    write_private(password, hash_secret("the household's password").line() + "\n")
    counts: dict[tuple[bool, str], int] = {}
    for with_token in (False, True):
        data_dir = tmp_path / f"token-{with_token}"
        data_dir.mkdir()
        if with_token:
            allow_login(data_dir)
        backend = Backend(
            hostname=HOST,
            tell=_no_services,
            logins=LoginFiles(data_dir, str(password)),
            session_s=3600.0,
            clock=SystemClock(),
        )
        for secret in ("a wrong guess", "the household's password"):
            calls.clear()
            matched = backend.check_secret(secret)
            assert matched == (secret != "a wrong guess")  # noqa: S105  # a test secret
            counts[with_token, secret] = len(calls)
    assert len(set(counts.values())) == 1, counts
