"""The web face's devices page lists the devices of a service no worker serves now (a
remote board gone) from the tree, with the status the tree holds (`offline` once the
hub's grace ends), rather than dropping them from the page."""

from __future__ import annotations

import json
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

HOST = "testhost"
BOARD = "board.fake.cellar"  # a remote board's device: no board.fake.devices worker
CONFIG = (
    "[devices]\nfake_enabled = true\n[[devices.fake]]\n"
    'name = "attic"\noid = "sensor.temperature"\npoll_interval_s = 0.2\n'
    "[http]\nenabled = true\n"
)


@pytest.mark.timeout(60)
def test_a_device_whose_service_is_gone_stays_on_the_page_with_its_status(
    tmp_path: Path,
) -> None:
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
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    tree = CloneClient(f"tcp://127.0.0.1:{cfg.network.port_base}", context=context)
    try:
        reading = {"value": None, "unit": "%", "status": "offline", "timestamp": 1e9}
        for field, value in reading.items():
            tree.set(f"/device/{BOARD}/{field}".encode(), json.dumps(value).encode())
        browser = Browser(cfg.network.port_base + WEB_PORT_OFFSET)
        browser.log_in()

        def page() -> str:
            body = browser.exchange("GET", "/").body
            return body if "cellar" in body and "attic" in body else ""

        body = wait_until(page, what="the devices page with both devices")
        item = body[
            body.index('status-offline" data-status-key="/device/board.fake.cellar/') :
        ]
        assert ">offline</span>" in item.split("</li>")[0]
        assert "<h2>board.fake</h2>" in body
        assert 'role="switch"' not in item.split("</li>")[0]  # nothing to command
        # its own page too, at once (no request waiting for a worker that is gone)
        card = browser.exchange("GET", f"/device/{BOARD}")
        assert card.status == 200
        assert "board.fake.devices: no worker serves it now" in card.body
        assert ">offline</span>" in card.body
    finally:
        tree.close()
        context.term()
        rt.stop()
