"""The web face restarts within the supervisor's stop budget under open connections:
a live page's event stream and a client that never finishes sending its request.
The old face has ended and let go of its port when stop returns, so the new one
binds at its first try (no `start failed`, no retry), and keeps the logins made
before (their sessions are in the data dir)."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.net import free_port_base
from support.runtimes import login_page_status
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.child_set import Follower
from raspy.client.mdp import Client
from raspy.cores.supervision import PartState
from raspy.web.login import hash_secret
from raspy.web.login_files import token_path, write_private

TOKEN = "a-token-for-the-test"  # noqa: S105  # a test login, hashed below


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[supervisor.Runtime]:
    data_dir = tmp_path / "data"
    write_private(token_path(data_dir), hash_secret(TOKEN).line() + "\n")
    cfg = config_mod.load(
        "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.4\n"
        "[http]\nenabled = true\n",
        "test.toml",
        data_dir=str(data_dir),
        hostname="testhost",
        network__port_base=free_port_base(5),
    )
    rt = supervisor.start(cfg)
    yield rt
    rt.stop()


def _port(rt: supervisor.Runtime) -> int:
    return rt.config.network.port_base + WEB_PORT_OFFSET


def _session_cookie(port: int) -> str:
    """Log in with the token: the session cookie."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/login")
        form = connection.getresponse()
        login_cookie = (form.headers.get_all("set-cookie") or [""])[0].split(";")[0]
        match = re.search(r'name="csrf" value="([^"]+)"', form.read().decode())
        assert match is not None
        connection.request(
            "POST",
            "/login",
            body=f"csrf={match.group(1)}&secret={TOKEN}",
            headers={
                "Cookie": login_cookie,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 303
        cookies = answer.headers.get_all("set-cookie") or []
        session = next(c for c in cookies if c.startswith("raspy_session="))
        return session.split(";")[0]
    finally:
        connection.close()


def _open_event_stream(port: int, cookie: str) -> http.client.HTTPConnection:
    """A live page's stream, begun (status and headers read), left open."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/events", headers={"Cookie": cookie})
    response = connection.getresponse()
    assert (response.status, response.getheader("content-type")) == (
        200,
        "text/event-stream; charset=utf-8",
    )
    return connection


def _half_sent_request(port: int) -> socket.socket:
    """A request whose body never comes: its handler waits until it is cancelled."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1000\r\n\r\ncsrf="
    )
    return sock


def _web_ref(rt: supervisor.Runtime) -> tuple[Any, Any]:
    """The web face's actor and the Clone server it follows (in the supervisor
    thread, between two rounds)."""

    def read() -> tuple[Any, Any]:
        web = next(child for child in rt.children if child.name == "web")
        assert isinstance(web.start, Follower)
        return web.ref, web.start.leader

    found = rt.call(read, timeout_s=10.0)
    assert isinstance(found, tuple)
    return found


def _restarted_with_new_clone(rt: supervisor.Runtime, old_ref: Any) -> bool:
    ref, leader = _web_ref(rt)
    status = rt.status_of("web")
    return (
        ref is not None
        and ref is not old_ref
        and leader is rt.ref_of("clone")
        and status is not None
        and (status.state, status.restarts) == (PartState.RUNNING, 0)
    )


@pytest.mark.timeout(60)
def test_a_web_face_restarted_under_open_connections_binds_at_first_try(
    runtime: supervisor.Runtime,
) -> None:
    port = _port(runtime)
    cookie = _session_cookie(port)
    stream = _open_event_stream(port, cookie)
    half_sent = _half_sent_request(port)
    try:
        old_ref, clone = _web_ref(runtime)
        with capture_logs() as logs:
            clone.stop(block=True, timeout=5)  # the web face follows a new one
            wait_until(
                lambda: _restarted_with_new_clone(runtime, old_ref),
                what="the web face started anew with the new Clone server",
                timeout_s=20.0,
            )
        trouble = [
            entry
            for entry in logs
            if entry.get("component") == "web"
            and entry["event"]
            in {"component_stop_timed_out", "component_died", "web_server_stuck"}
        ]
        assert trouble == []
        assert login_page_status(port) == 200
        # the login made before is still good: its session was in the data dir
        _open_event_stream(port, cookie).close()
    finally:
        stream.close()
        half_sent.close()


@pytest.mark.timeout(60)
def test_a_web_face_started_anew_shows_readings_not_yet_stored(
    tmp_path: Path,
) -> None:
    """Device readings reach the store once a coalesce interval (60 s by default): a
    web face started in between (here: restarted by the supervisor) takes its first
    picture from the live tree, not from the store, or the lamp just switched on
    shows off."""
    data_dir = tmp_path / "data"
    write_private(token_path(data_dir), hash_secret(TOKEN).line() + "\n")
    cfg = config_mod.load(
        "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.4\n"
        "[http]\nenabled = true\n[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "lamp"\noid = "switch"\npoll_interval_s = 600.0\n',
        "test.toml",
        data_dir=str(data_dir),
        hostname="testhost",
        network__port_base=free_port_base(5),
    )
    rt = supervisor.start(cfg)
    try:
        with Client(rt.mdp_endpoint, timeout_s=5, retries=1) as client:
            reply = client.request(
                "testhost.fake.devices", '{"v": 1, "action": "on", "device": "lamp"}'
            )
        assert reply[0] == b"200", reply
        port = _port(rt)
        old_ref, _ = _web_ref(rt)
        old_ref.stop(block=True, timeout=10)
        wait_until(
            lambda: (
                _web_ref(rt)[0] not in (None, old_ref)
                and login_page_status(port) == 200
            ),
            what="the web face started again",
            timeout_s=20.0,
        )
        # a page's live stream: its first batch is every live key's current value
        first = _first_batch(port, _session_cookie(port))
        assert first.get("/device/testhost.fake.lamp/value") is True, first
    finally:
        rt.stop()


def _first_batch(port: int, cookie: str) -> dict[str, object]:
    """The first `kv` event's data of a new live stream."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/events", headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200
        event = ""
        for _ in range(1000):
            line = response.fp.readline().decode().rstrip("\r\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "kv":
                found = json.loads(line.removeprefix("data: "))
                assert isinstance(found, dict)
                return found
        raise AssertionError("no kv event in the stream")
    finally:
        connection.close()
