"""The real web server (WebServer, build_app) on an ephemeral port of 127.0.0.1,
with a token login (support.web_browser.TOKEN) and no services behind it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from raspy.actors.web.app import build_app
from raspy.actors.web.backend import Backend
from raspy.actors.web.server import (
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS,
    WebServer,
    bind_socket,
)
from raspy.clock import SystemClock
from raspy.web.login_files import LoginFiles
from support.web_browser import allow_login


def no_services(message: object) -> None:
    """These servers ask no service: a request reaching here is a test error."""
    raise AssertionError(f"unexpected request to the services: {message!r}")


@contextmanager
def web_served(
    data_dir: Path,
    *,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
    **backend: Any,
) -> Iterator[tuple[int, Backend]]:
    """(port, backend) of a running web server; `backend`: more Backend fields."""
    allow_login(data_dir)
    served = Backend(
        hostname="testhost",
        tell=no_services,
        logins=LoginFiles(data_dir, ""),
        session_s=3600.0,
        clock=SystemClock(),
        **backend,
    )
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = WebServer(
        lambda hub: build_app(served, hub),
        sock,
        header_timeout_s=header_timeout_s,
        max_connections=max_connections,
    )
    server.start()
    try:
        yield port, served
    finally:
        server.stop()
