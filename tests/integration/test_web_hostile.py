"""The web face's pages with values no honest device sends, in a real runtime over
HTTP: the tree (any Clone client may write it) and a remote board's devices service
(an external worker of the hub) are not trusted, so a wild value shows as itself
and never costs the page (a 500 took the whole devices page down)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.wait import wait_until
from support.web_browser import Browser
from support.web_hub import web_hub

from raspy.client.clone import CloneClient
from raspy.client.mdp import Worker


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[int, Browser]]:
    with web_hub(tmp_path) as running:
        yield running


def _statuses(browser: Browser, paths: tuple[str, str], marker: str) -> list[int]:
    """The HTTP status of each page, once the first one shows `marker` ([] before)."""
    pages = [browser.exchange("GET", path) for path in paths]
    if pages[0].status == 200 and marker not in pages[0].body:
        return []  # what the test wrote is not here yet
    return [page.status for page in pages]


@pytest.mark.timeout(60)
def test_a_timestamp_beyond_the_calendar_in_the_tree_does_not_break_the_pages(
    hub: tuple[int, Browser],
) -> None:
    port_base, browser = hub
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    tree = CloneClient(f"tcp://127.0.0.1:{port_base}", context=context)
    try:
        reading = {"value": 1, "unit": "%", "status": "ok", "timestamp": 1e20}
        for field, value in reading.items():
            tree.set(
                f"/device/board.fake.cellar/{field}".encode(),
                json.dumps(value).encode(),
            )
        paths = ("/", "/device/board.fake.cellar")
        assert wait_until(
            lambda: _statuses(browser, paths, "cellar"),
            what="the devices page with the cellar",
        ) == [200, 200]
    finally:
        tree.close()
        context.term()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("level", [b"1e400", b"NaN", b"1" + b"0" * 400])
def test_a_remote_boards_dimmer_at_a_wild_level_does_not_break_the_pages(
    hub: tuple[int, Browser], level: bytes
) -> None:
    port_base, browser = hub
    device = {
        "name": "hall",
        "fullname": "board.evil.hall",
        "oid": "dimmer",
        "config": {"log": False},
        "reading": {"value": "LEVEL", "status": "ok", "wall_ts": 1e9},
    }
    listed = json.dumps({"devices": [device]}).encode().replace(b'"LEVEL"', level)

    def answer(body: list[bytes]) -> list[bytes]:
        return [b"200", listed]

    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    stop = threading.Event()

    def serve() -> None:
        with Worker(
            f"tcp://127.0.0.1:{port_base}",
            "board.evil.devices",
            linger_ms=0,
            context=context,
        ) as worker:
            worker.serve(answer, stop=stop)

    board = threading.Thread(target=serve, name="test-board")
    board.start()
    try:
        paths = ("/", "/device/board.evil.hall")
        assert wait_until(
            lambda: _statuses(browser, paths, "board.evil"),
            what="the devices page with the board",
        ) == [200, 200]
    finally:
        stop.set()
        board.join(10)
        context.term()
