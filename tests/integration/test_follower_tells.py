"""The web face and the MQTT bridge in a real runtime: one told message that fails
(a sender's bug: a service name that is not bytes) is counted and logged, and the
part goes on as the same actor, not stopped and restarted by the supervisor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.net import free_port_base
from support.runtimes import Start, login_page_status, runtimes
from support.wait import wait_until

from raspy.actors import mqtt as mqtt_bridge
from raspy.actors import supervisor
from raspy.actors import web as web_mod
from raspy.actors.messages import ServiceAvailabilityChanged
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.cores.supervision import PartState

# a bad service name: .decode() fails in the part's on_receive
_BAD: Any = "not-bytes"


@pytest.fixture
def start_runtime(tmp_path: Path) -> Iterator[Start]:
    prelude = "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.2\n"
    with runtimes(tmp_path / "data", prelude) as start:
        yield start


def _running_once(rt: supervisor.Runtime, name: str) -> bool:
    status = rt.status_of(name)
    return status is not None and (status.state, status.restarts) == (
        PartState.RUNNING,
        0,
    )


def _login_page_status(rt: supervisor.Runtime) -> int:
    return login_page_status(rt.config.network.port_base + WEB_PORT_OFFSET)


def test_a_failed_tell_does_not_stop_the_web_face(start_runtime: Start) -> None:
    rt = start_runtime("[http]\nenabled = true\n")
    web = rt.ref_of("web")
    assert web is not None
    web.tell(ServiceAvailabilityChanged(_BAD, True))
    wait_until(lambda: rt.stats.get("web.told_failed") == 1, what="counted")
    assert web.ask(ServiceAvailabilityChanged(b"echo", True), timeout=5) is None
    assert web.is_alive()
    assert rt.ref_of("web") is web
    assert _running_once(rt, "web")
    assert _login_page_status(rt) == 200


@pytest.mark.timeout(60)
def test_a_failed_tell_does_not_stop_the_mqtt_bridge(start_runtime: Start) -> None:
    """No MQTT broker listens: the bridge runs on, retrying, as raspyd does."""
    closed_port = free_port_base(span=1)
    rt = start_runtime(
        f"[core]\nenabled = false\n[mqtt]\nenabled = true\nport = {closed_port}\n"
    )
    bridge = rt.ref_of("mqtt")
    assert bridge is not None
    bridge.tell(ServiceAvailabilityChanged(_BAD, True))
    wait_until(lambda: rt.stats.get("mqtt.told_failed") == 1, what="counted")
    assert bridge.ask(ServiceAvailabilityChanged(b"echo", False), timeout=5) is None
    assert bridge.is_alive()
    assert rt.ref_of("mqtt") is bridge
    assert _running_once(rt, "mqtt")


def test_a_web_face_whose_http_thread_failed_stops_and_is_restarted(
    start_runtime: Start,
) -> None:
    """What the HTTP thread tells when uvicorn ends by itself still ends the part."""
    rt = start_runtime("[http]\nenabled = true\n")
    web = rt.ref_of("web")
    assert web is not None
    web.tell(web_mod._HttpFailed(RuntimeError("uvicorn ended")))
    wait_until(lambda: not web.is_alive(), what="the web face stopped")
    wait_until(lambda: _restarted_once(rt, "web"), what="the web face restarted")
    assert _login_page_status(rt) == 200


@pytest.mark.timeout(60)
def test_an_mqtt_bridge_whose_link_failed_stops_and_is_restarted(
    start_runtime: Start,
) -> None:
    closed_port = free_port_base(span=1)
    rt = start_runtime(
        f"[core]\nenabled = false\n[mqtt]\nenabled = true\nport = {closed_port}\n"
    )
    bridge = rt.ref_of("mqtt")
    assert bridge is not None
    bridge.tell(mqtt_bridge._IoFailed(RuntimeError("link ended")))
    wait_until(lambda: not bridge.is_alive(), what="the bridge stopped")
    wait_until(lambda: _restarted_once(rt, "mqtt"), what="the bridge restarted")


def _restarted_once(rt: supervisor.Runtime, name: str) -> bool:
    status = rt.status_of(name)
    return status is not None and (status.state, status.restarts) == (
        PartState.RUNNING,
        1,
    )
