"""A device command from the web face asks the broker whether a worker serves it,
even when the web face's own view says one does: the broker's word that a board left
reaches the web face a message later, and a command sent in that moment waited in the
broker for the page's patience, was answered 504 and then dropped (seen under load in
tests/e2e/test_give_up_e2e.py)."""

from __future__ import annotations

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
        status, answer = browser.device_command(
            {"service": GONE, "device": "lamp", "action": "toggle"}
        )
    finally:
        rt.stop()
    assert (status, answer) == (
        503,
        {"error": f"lamp: no worker serves {GONE} now: nothing was sent"},
    )
