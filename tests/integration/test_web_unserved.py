"""The web face's devices page lists the devices of a service no worker serves now (a
remote board gone) from the tree, with the status the tree holds (`offline` once the
hub's grace ends), rather than dropping them from the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zmq
from support.wait import wait_until
from support.web_hub import web_hub

from raspy.client.clone import CloneClient

BOARD = "board.fake.cellar"  # a remote board's device: no board.fake.devices worker


@pytest.mark.timeout(60)
def test_a_device_whose_service_is_gone_stays_on_the_page_with_its_status(
    tmp_path: Path,
) -> None:
    with web_hub(tmp_path) as (port_base, browser):
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        tree = CloneClient(f"tcp://127.0.0.1:{port_base}", context=context)
        try:
            reading = {
                "value": None,
                "unit": "%",
                "status": "offline",
                "timestamp": 1e9,
            }
            for field, value in reading.items():
                key = f"/device/{BOARD}/{field}".encode()
                tree.set(key, json.dumps(value).encode())

            offline = 'status-offline" data-status-key="/device/board.fake.cellar/'

            def page() -> str:
                # the four fields arrive one by one: wait for the status too
                body = browser.exchange("GET", "/").body
                wanted = ("cellar", "attic", offline)
                return body if all(part in body for part in wanted) else ""

            body = wait_until(page, what="the devices page with the cellar offline")
        finally:
            tree.close()
            context.term()
        item = body[body.index(offline) :].split("</li>")[0]
        assert ">offline</span>" in item
        assert "<h2>board.fake</h2>" in body
        assert 'role="switch"' not in item  # nothing to command
        # its own page too, at once (no request waiting for a worker that is gone)
        card = browser.exchange("GET", f"/device/{BOARD}")
    assert card.status == 200
    assert "board.fake.devices: no worker serves it now" in card.body
    assert ">offline</span>" in card.body
