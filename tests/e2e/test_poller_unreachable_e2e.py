"""A board whose hub's port refuses its connections (a firewall, a sandbox, a wrong
port): raspy-poller logged `worker_connecting` and a Clone reconnect every 5 s, as
for a hub merely down, and never why. It names the hub and the reason, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.daemon import complete_text, running_poller
from support.net import free_port_base
from support.wait import wait_until

from raspy.cli.hub_reach import FIRST_LOOK_S


def _events(log: Path, name: str) -> list[dict[str, object]]:
    lines = complete_text(log.read_text(encoding="utf-8")).splitlines()
    return [
        event
        for line in lines
        if line.startswith("{") and (event := json.loads(line))["event"] == name
    ]


@pytest.mark.timeout(60)
def test_a_board_says_why_it_cannot_reach_its_hub(tmp_path: Path) -> None:
    port = free_port_base()  # nobody listens there
    log = tmp_path / "poller.log"
    args = ("--service", "fake", "--hostname", "shed")
    with running_poller(f"tcp://127.0.0.1:{port}", log, *args) as poller:
        said = wait_until(
            lambda: poller.poll() is not None or _events(log, "hub_unreachable"),
            what="hub_unreachable in the board's log",
            timeout_s=FIRST_LOOK_S + 20,
        )
        assert poller.poll() is None, log.read_text(encoding="utf-8")
    assert isinstance(said, list)
    (unreachable,) = said
    assert unreachable["hub"] == f"127.0.0.1:{port}"
    assert unreachable["reason"] == "Connection refused"
    assert unreachable["level"] == "warning"
