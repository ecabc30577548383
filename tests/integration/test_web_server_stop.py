"""WebServer.stop is bounded: even with its event loop stuck in a handler it returns
within the supervisor's stop budget (raspy.child_set.STOP_TIMEOUT_S), and the port is
free when it does, so a web face started in its place binds at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.wait import wait_until

from raspy.actors.web.server import STOP_BUDGET_S, WebServer, bind_socket
from raspy.child_set import STOP_TIMEOUT_S

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _stuck_app(entered: threading.Event, release: threading.Event) -> Any:
    """An ASGI app whose handler blocks the event loop until `release` (a page that
    hangs in a synchronous call)."""

    async def app(scope: dict[str, Any], _receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        entered.set()
        release.wait(30)  # blocks the loop: the point of the test
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    return app


def _http_thread_ended() -> bool:
    return not any(t.name == "raspy-web-http" for t in threading.enumerate())


@pytest.mark.timeout(60)
def test_a_stuck_web_server_stops_within_the_budget_and_frees_its_port() -> None:
    assert STOP_BUDGET_S < STOP_TIMEOUT_S
    entered, release = threading.Event(), threading.Event()
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = WebServer(lambda _hub: _stuck_app(entered, release), sock)
    server.start()
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    stopper = threading.Thread(target=server.stop, name="test-web-stop")
    with capture_logs() as logs:
        try:
            client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            wait_until(entered.is_set, what="the handler entered")
            stopper.start()
            stopper.join(STOP_TIMEOUT_S)
            assert not stopper.is_alive()  # stop_actor would not have given up
            bind_socket("127.0.0.1", port).close()  # a new web face binds at once
        finally:
            release.set()
            client.close()
            if stopper.ident is not None:
                stopper.join(10)
            wait_until(_http_thread_ended, what="the HTTP thread ended", timeout_s=10)
    # the loop, released, ends as in any stop: no failure
    assert [e for e in logs if e.get("component") == "web"] == [
        {
            "component": "web",
            "event": "web_server_stuck",
            "log_level": "error",
            "waited_s": STOP_BUDGET_S,
        }
    ]
