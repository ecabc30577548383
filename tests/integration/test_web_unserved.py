"""The web face's devices page lists the devices of a service no worker serves now (a
remote board gone) from the tree, with the status the tree holds (`offline` once the
hub's grace ends), rather than dropping them from the page."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import zmq
from support.wait import wait_until
from support.web_hub import web_hub

from raspy.client.clone import CloneClient
from raspy.client.worker import Worker

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


@pytest.mark.timeout(60)
def test_a_gone_boards_device_keeps_the_friendly_name_its_service_last_listed(
    tmp_path: Path,
) -> None:
    """A friendly name (set over MDP) comes only with the service's `list` reply,
    never in the tree: once the board was gone, its device was shown by its plain
    name. The name listed last is kept for it."""
    listed = {
        "devices": [
            {
                "name": "cellar",
                "fullname": BOARD,
                "oid": "1.3.6.1.4.1.99999.1.1",
                "config": {"friendly_name": "Cellar shelf"},
                "reading": {"value": 7.5, "unit": "°C", "status": "ok"},
            }
        ]
    }
    with web_hub(tmp_path) as (port_base, browser):
        endpoint = f"tcp://127.0.0.1:{port_base}"
        worker = Worker(endpoint, "board.fake.devices")
        stop = threading.Event()
        serving = threading.Thread(
            target=worker.serve,
            args=(lambda _body: [b"200", json.dumps(listed).encode()],),
            kwargs={"stop": stop},
        )
        serving.start()
        try:
            wait_until(
                lambda: "Cellar shelf" in browser.exchange("GET", "/").body,
                what="the board's device listed by its service",
            )
        finally:
            stop.set()
            serving.join(timeout=10)
            worker.close()  # a goodbye: the broker drops the service at once
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        tree = CloneClient(endpoint, context=context)
        try:
            tree.set(f"/device/{BOARD}/status".encode(), b'"offline"')
            offline = 'status-offline" data-status-key="/device/board.fake.cellar/'

            def gone() -> str:
                page = browser.exchange("GET", "/").body
                return page if offline in page else ""

            body = wait_until(gone, what="the devices page with the board gone")
        finally:
            tree.close()
            context.term()
        card = browser.exchange("GET", f"/device/{BOARD}")
    at = body.index(offline)
    item = body[body.rindex("<li", 0, at) : body.index("</li>", at)]
    assert "Cellar shelf" in item
    assert "board.fake.devices: no worker serves it now" in card.body
    assert "Cellar shelf" in card.body
