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
from support.net import free_port_base
from support.wait import wait_until
from support.web_browser import Browser, allow_login

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.client.clone import CloneClient
from raspy.client.mdp import Worker

HOST = "testhost"
CONFIG = (
    "[devices]\nfake_enabled = true\n[[devices.fake]]\n"
    'name = "attic"\noid = "sensor.temperature"\npoll_interval_s = 0.2\n'
    "[http]\nenabled = true\n"
)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[int, Browser]]:
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    cfg = config_mod.load(
        CONFIG,
        "test.toml",
        data_dir=str(data_dir),
        hostname=HOST,
        network__port_base=free_port_base(5),
    )
    rt = supervisor.start(cfg)
    try:
        browser = Browser(cfg.network.port_base + WEB_PORT_OFFSET)
        browser.log_in()
        yield cfg.network.port_base, browser
    finally:
        rt.stop()


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

        def answers() -> list[int]:
            pages = [
                browser.exchange("GET", p) for p in ("/", "/device/board.fake.cellar")
            ]
            if pages[0].status == 200 and "cellar" not in pages[0].body:
                return []  # the tree's update not here yet
            return [page.status for page in pages]

        assert wait_until(answers, what="the devices page with the cellar") == [
            200,
            200,
        ]
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

        def answers() -> list[int]:
            pages = [
                browser.exchange("GET", p) for p in ("/", "/device/board.evil.hall")
            ]
            if pages[0].status == 200 and "board.evil" not in pages[0].body:
                return []  # the board's worker not there yet
            return [page.status for page in pages]

        assert wait_until(answers, what="the devices page with the board") == [
            200,
            200,
        ]
    finally:
        stop.set()
        board.join(10)
        context.term()
