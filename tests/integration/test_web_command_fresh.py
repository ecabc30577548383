"""A device command from the web face asks the broker whether a worker serves it,
even when the web face's own view says one does: the broker's word that a board left
reaches the web face a message later, and a command sent in that moment waited in the
broker for the page's patience, was answered 504 and then dropped (seen under load in
tests/e2e/test_give_up_e2e.py)."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest
from support.net import free_port_base
from support.web_browser import Browser, allow_login

from raspy import config as config_mod
from raspy.actors import messages as msgs
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET

HOST = "testhost"
GONE = f"{HOST}.board.devices"  # no worker serves it: the board left


def _command(port: int, browser: Browser) -> tuple[int, object]:
    page = browser.exchange("GET", "/")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.body)
    assert token is not None, page.body[:200]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/device",
            body=json.dumps({"service": GONE, "device": "lamp", "action": "toggle"}),
            headers={
                "Cookie": browser.cookie,
                "Content-Type": "application/json",
                "X-CSRF-Token": token.group(1),
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.timeout(60)
def test_a_command_to_a_service_the_web_face_still_thinks_served_is_told_503(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    cfg = config_mod.load(
        "[http]\nenabled = true\n",
        "test.toml",
        data_dir=str(data_dir),
        hostname=HOST,
        network__port_base=free_port_base(5),
    )
    rt = supervisor.start(cfg)
    try:
        port = cfg.network.port_base + WEB_PORT_OFFSET
        browser = Browser(port)
        browser.log_in()
        web = rt.ref_of("web")
        assert web is not None
        # the web face's view says a worker serves it (the departure not yet come)
        web.ask(msgs.ServiceAvailabilityChanged(GONE.encode(), True))
        status, answer = _command(port, browser)
    finally:
        rt.stop()
    assert (status, answer) == (
        503,
        {"error": f"lamp: no worker serves {GONE} now: nothing was sent"},
    )
