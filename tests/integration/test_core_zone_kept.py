"""The core's zone (`[core] timezone` empty: the machine's) is read once a raspyd:
a core and cron started again inside it (a new Clone server) keep it, as the web face
does, though the machine's zone has changed since (docs/scenarios.md, "Time, DST and
downtime")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.runtimes import Start, runtimes
from support.wait import wait_until

from raspy.actors import supervisor
from raspy.client.mdp import Client

HOST = "testhost"


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[Start]:
    with runtimes(tmp_path / "data", "[core]\ntimezone = ''\n", HOST) as start:
        yield start


def _scenario(rt: supervisor.Runtime, action: str, **fields: Any) -> Any:
    body = json.dumps({"v": 1, "action": action, **fields})
    endpoint = f"tcp://127.0.0.1:{rt.config.network.port_base}"
    with Client(endpoint, timeout_s=5, retries=1) as client:
        status, reply = client.request(f"{HOST}.core.scenario", body)
    assert status == b"200", reply
    return json.loads(reply)


def _zone(rt: supervisor.Runtime) -> Any:
    """The zone the core's `get` says its times are in."""
    return _scenario(rt, "get", name="wake")["timezone"]


def _core_ref(rt: supervisor.Runtime) -> Any:
    return rt.ref_of("core")


@pytest.mark.timeout(60)
def test_a_core_started_again_keeps_the_zone_raspyd_started_with(
    start_runtime: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machine's zone set to another (`timedatectl set-timezone`) while raspyd
    runs: a core started again with a new Clone server read it anew, so the
    scenarios and cron went on in New York's time while the web face showed
    Berlin's, and a restart of raspyd was never asked for."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    rt = start_runtime("")
    document = 'name: wake\ntriggers: [{at: "07:00"}]\nactions: [{log: up}]\n'
    _scenario(rt, "import", document=document)
    assert _zone(rt) == "Europe/Berlin"
    monkeypatch.setenv("TZ", "America/New_York")
    old_core, clone = _core_ref(rt), rt.ref_of("clone")
    assert clone is not None
    clone.stop(block=True, timeout=5)  # the core and cron follow a new one
    wait_until(
        lambda: _core_ref(rt) not in (None, old_core),
        what="a core started anew with the new Clone server",
        timeout_s=20.0,
    )
    assert _zone(rt) == "Europe/Berlin"
