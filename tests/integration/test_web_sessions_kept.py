"""Web sessions in the data dir, over real HTTP to the real Starlette app on uvicorn
(WebServer, build_app, Backend): a login is on disk before its answer and a new web
face takes it, the file is written at a login, a logout and a new token only (never
per request), and a file that cannot be written does not stop a login."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.web_browser import Browser, allow_login

from raspy.actors.web.app import build_app
from raspy.actors.web.backend import Backend
from raspy.actors.web.server import WebServer, bind_socket
from raspy.clock import SystemClock
from raspy.web.login import hash_secret, session_key
from raspy.web.login_files import LoginFiles, token_path, write_private
from raspy.web.session_file import decode, sessions_path

HOST = "testhost"


def _no_services(message: object) -> None:
    raise AssertionError(f"unexpected request to the services: {message!r}")


@contextmanager
def _face(data_dir: Path) -> Iterator[tuple[Browser, Backend]]:
    """A web face on the data dir (its sessions file in it), as raspyd starts one;
    a Browser not yet logged in."""
    backend = Backend(
        hostname=HOST,
        tell=_no_services,
        logins=LoginFiles(data_dir, ""),
        session_s=3600.0,
        clock=SystemClock(),
        sessions_path=sessions_path(data_dir),
    )
    sock = bind_socket("127.0.0.1", 0)
    server = WebServer(lambda hub: build_app(backend, hub), sock)
    server.start()
    try:
        yield Browser(sock.getsockname()[1]), backend
    finally:
        server.stop()


def _logged_in(browser: Browser) -> bool:
    """GET /login: a browser with a live session is sent on to the devices."""
    return browser.exchange("GET", "/login").status == 303


def _csrf(backend: Backend, browser: Browser) -> str:
    session = backend.session_of(browser.cookie.split("=", 1)[1])
    assert session is not None
    return session.csrf


def _identity(path: Path) -> tuple[int, int]:
    """Changes with every write (a new file renamed over the old)."""
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def _stored_keys(data_dir: Path) -> list[bytes]:
    return [s.key for s in decode(sessions_path(data_dir).read_bytes())]


@pytest.mark.timeout(30)
def test_a_login_is_stored_before_its_answer_and_a_new_face_takes_it(
    tmp_path: Path,
) -> None:
    allow_login(tmp_path)
    with _face(tmp_path) as (browser, _):
        browser.log_in()
        # read at once, the face still running: nothing is written after the answer
        stored = _stored_keys(tmp_path)
    sid = browser.cookie.split("=", 1)[1]
    with _face(tmp_path) as (again, backend):
        again.cookie = browser.cookie
        assert (stored, _logged_in(again)) == ([session_key(sid)], True)
        session = backend.session_of(sid)
        assert session is not None
        assert again.exchange("POST", "/logout", f"csrf={session.csrf}").status == 303
        assert (_stored_keys(tmp_path), _logged_in(again)) == ([], False)
    with _face(tmp_path) as (third, _):
        third.cookie = browser.cookie
        assert _logged_in(third) is False


@pytest.mark.timeout(30)
def test_requests_never_write_the_file_only_logins_logouts_and_a_new_token(
    tmp_path: Path,
) -> None:
    allow_login(tmp_path)
    path = sessions_path(tmp_path)
    with _face(tmp_path) as (browser, backend):
        browser.log_in()
        other = Browser(browser.port)
        other.log_in()
        after_logins = _identity(path)
        for _ in range(3):
            assert _logged_in(browser)
            assert other.exchange("GET", "/static/app.css").status == 200
            assert other.exchange("POST", "/logout", "csrf=wrong").status == 403
        unchanged = _identity(path)
        csrf = _csrf(backend, other)
        assert other.exchange("POST", "/logout", f"csrf={csrf}").status == 303
        after_logout = _identity(path)
        write_private(token_path(tmp_path), hash_secret("a new token").line() + "\n")
        assert _logged_in(browser) is False  # the first request after it: one write
        after_token = _identity(path)
        assert _logged_in(browser) is False
        assert (unchanged, after_logout != unchanged) == (after_logins, True)
        assert (after_token != after_logout, _identity(path)) == (True, after_token)
        assert _stored_keys(tmp_path) == []


@pytest.mark.timeout(30)
def test_a_sessions_file_that_cannot_be_written_does_not_stop_a_login(
    tmp_path: Path,
) -> None:
    """A folder in the file's place: the rename fails. Said once per write, and the
    browser is logged in all the same (in memory, until a restart)."""
    allow_login(tmp_path)
    path = sessions_path(tmp_path)
    path.mkdir()
    with capture_logs() as logs, _face(tmp_path) as (browser, _):
        browser.log_in()
        logged_in = _logged_in(browser)
    said = [(e["event"], e.get("path")) for e in logs if "web_sessions" in e["event"]]
    assert (logged_in, said) == (
        True,
        [
            ("web_sessions_unreadable", str(path)),
            ("web_sessions_loaded", str(path)),
            ("web_sessions_not_saved", str(path)),
        ],
    )
    assert [n for n in os.listdir(tmp_path) if re.fullmatch(r"\..*\.tmp", n)] == []
