"""A new Clone server restarts its followers; one whose stop has not ended within its
bound (3 s; 1.5 s in the MQTT bridge's test) (a handler still busy) runs on: no new
one may start beside it. Two MQTT bridges under one client id kick each other off
the broker; a second web face cannot have the port, and said only that. Real raspyd
runtime, edge, Clone server and LMDB; the MQTT broker a closed port (the link
retries meanwhile); the one fake is a message that keeps the old follower's thread
busy until the test lets go."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs
from support.busy_actor import hold_busy, quick_stops
from support.net import free_port_base
from support.runtimes import login_page_status
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.mqtt import MqttBridgeActor
from raspy.actors.web import WEB_PORT_OFFSET, WebActor
from raspy.cores.supervision import PartState


def _runtime(tmp_path: Path, extra: str) -> supervisor.Runtime:
    cfg = config_mod.load(
        "[core]\nenabled = false\n" + extra,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(5),
    )
    return supervisor.start(cfg)


def _new_leader_waits_for_the_old_follower(
    rt: supervisor.Runtime, name: str, kind: str, release: threading.Event
) -> pykka.ActorRef[Any]:
    """The Clone server stopped, as a crash would, while follower `name` is busy: no
    new one runs beside the old until it has ended; then one does. Returns it."""
    old, clone = rt.ref_of(name), rt.ref_of("clone")
    assert old is not None
    assert clone is not None
    with capture_logs() as logs:
        clone.stop()  # the supervisor starts a new one, and its followers anew
        wait_until(
            lambda: any(
                e["event"] == "component_stop_timed_out" and e["component"] == name
                for e in logs
            ),
            what=f"the old {name}'s stop timed out",
            timeout_s=20,
        )
        rt.call(lambda: None)  # the round that stopped it has ended
        assert old.is_alive()
        assert rt.ref_of(name) is None  # no twin beside it
        # what `raspy status` shows, published at the round's end
        wait_until(
            lambda: (
                f"previous {kind} has not stopped yet"
                in getattr(rt.status_of(name), "reason", "")
            ),
            what=f"the {name} waiting in the status",
        )
        waiting = rt.status_of(name)
        assert waiting is not None
        assert waiting.state is PartState.RESTARTING
        assert old.is_alive()
        assert rt.ref_of(name) is None
        assert any(
            e["event"] == "component_previous_not_stopped" and e["component"] == name
            for e in logs
        ), "the refusal is said in the log"
        release.set()
        wait_until(lambda: not old.is_alive(), what=f"the old {name} stopped")
        wait_until(
            lambda: getattr(rt.status_of(name), "state", None) is PartState.RUNNING,
            what=f"a new {name} running",
            timeout_s=20,
        )
    new = rt.ref_of(name)
    assert new is not None
    assert new is not old
    return new


@pytest.mark.timeout(90)
def test_a_new_clone_server_starts_no_bridge_beside_one_that_has_not_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_stops(monkeypatch)  # not the web face's test: its own stop takes up to 2 s
    hold = hold_busy(monkeypatch, MqttBridgeActor)
    rt = _runtime(
        tmp_path,
        "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.2\n"
        f"[mqtt]\nenabled = true\nport = {free_port_base(span=1)}\n",
    )
    try:
        old = rt.ref_of("mqtt")
        assert old is not None
        hold.keep_busy(old)
        _new_leader_waits_for_the_old_follower(
            rt, "mqtt", "MqttBridgeActor", hold.release
        )
    finally:
        hold.release.set()
        rt.stop()


@pytest.mark.timeout(90)
def test_a_new_clone_server_starts_no_web_face_beside_one_that_has_not_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port is still the old one's: a new web face would fail to listen, and
    be given up (raspyd ending) if the old one's handler outlasts its restarts."""
    hold = hold_busy(monkeypatch, WebActor)
    rt = _runtime(tmp_path, "[http]\nenabled = true\n")
    try:
        old = rt.ref_of("web")
        assert old is not None
        hold.keep_busy(old)
        _new_leader_waits_for_the_old_follower(rt, "web", "WebActor", hold.release)
        port = rt.config.network.port_base + WEB_PORT_OFFSET
        assert login_page_status(port) == 200  # served by the new one
    finally:
        hold.release.set()
        rt.stop()
