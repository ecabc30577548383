"""The web face against a flood from the LAN, with no login: over real sockets to
the real WebServer (uvicorn, build_app) on an ephemeral port. Neither the log nor
the server's connections may be taken by one client."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from support.wait import wait_until
from support.web_browser import Browser
from support.web_served import web_served

from raspy import log as log_mod
from raspy.actors.web.server import MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS

INVALID = "Invalid HTTP request received."


def _send_bad_request(port: int) -> None:
    """A request with a raw byte in its path, answered 400 and logged by uvicorn."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while client.recv(65536):
            pass  # until the server closes it


@pytest.mark.timeout(60)
def test_a_flood_of_bad_requests_writes_the_budget_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn's records (through `logging`) escaped the per-event budget: every bad
    request anyone sent, with no login, wrote a line, thousands a second to the SD
    card. Now its lines are held to the budget and the rest counted in a summary."""
    log_mod.configure("info", "json", cache=False, events_per_s=5)
    sent = 200
    with web_served(tmp_path) as (port, _):
        for _ in range(sent):
            _send_bad_request(port)
    written, suppressed = 0, 0

    def all_counted() -> bool:
        nonlocal written, suppressed
        log_mod.flush_suppressed()
        for line in capsys.readouterr().err.splitlines():
            record = json.loads(line)
            if record["event"] == INVALID:
                written += 1
            elif str(record.get("suppressed_event")).startswith("uvicorn.error at "):
                suppressed += int(record["count"])
        return written + suppressed == sent

    wait_until(all_counted, what="every bad request written or counted")
    assert 0 < written < sent


def _half_open(port: int, source: str, count: int) -> list[socket.socket]:
    """`count` connections from `source` that begin a request and never end it."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            client = socket.create_connection(
                ("127.0.0.1", port), timeout=10, source_address=(source, 0)
            )
            held.append(client)
            client.sendall(b"GET / HTTP/1.1\r\n")
    except BaseException:
        for client in held:
            client.close()
        raise
    return held


def _closed_by_server(clients: list[socket.socket]) -> int:
    closed = 0
    for client in clients:
        client.setblocking(False)
        try:
            closed += client.recv(1024) == b""
        except BlockingIOError:
            pass  # still open, nothing to read
        except ConnectionResetError:
            closed += 1
    return closed


@pytest.mark.timeout(60)
def test_one_address_cannot_take_every_connection(tmp_path: Path) -> None:
    """The header deadline bounds how long a half-open connection lasts, not how
    many one client holds: more than MAX_CONNECTIONS of them from one address made
    the web face answer 503 to every other browser, with no login needed."""
    with web_served(tmp_path) as (port, _):
        held = _half_open(port, "127.0.0.2", MAX_CONNECTIONS + 10)
        try:
            extra = MAX_CONNECTIONS + 10 - MAX_CONNECTIONS_PER_ADDRESS
            wait_until(
                lambda: _closed_by_server(held) >= extra,
                what="the connections beyond the cap closed",
            )
            for source in ("127.0.0.3", "127.0.0.4"):
                assert Browser(port, source).exchange("GET", "/login").status == 200
            # the first ones, within the cap, are still open
            assert _closed_by_server(held[:MAX_CONNECTIONS_PER_ADDRESS]) == 0
            # and one of them closed makes room for one more from that address
            held[0].close()
            again = Browser(port, "127.0.0.2")

            def served_again() -> bool:
                try:
                    return again.exchange("GET", "/login").status == 200
                except ConnectionError:  # the close not yet seen by the server
                    return False

            wait_until(
                served_again, what="a new connection from the address once one closed"
            )
        finally:
            for client in held:
                client.close()
