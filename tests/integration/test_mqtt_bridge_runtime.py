"""Issue 16: the MQTT bridge as a supervised part of an in-process runtime: a clean
stop says `offline` itself and leaves no thread or socket behind; an absent broker or
an unreadable password file never stops the rest of raspyd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.mosquitto import Mosquitto, running_mosquitto
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.cores.supervision import PartState

HOST = "testhost"


def _runtime(tmp_path: Path, mqtt: str) -> supervisor.Runtime:
    text = (
        "[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "lamp"\noid = "switch"\n'
        "[core]\nenabled = false\n"
        "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.2\n"
        f"[mqtt]\nenabled = true\n{mqtt}"
    )
    cfg = config_mod.load(
        text,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname=HOST,
        network__port_base=free_port_base(),
    )
    return supervisor.start(cfg)


def _state(rt: supervisor.Runtime, name: str) -> PartState | None:
    status = rt.status_of(name)
    return None if status is None else status.state


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as started:
        yield started


@pytest.mark.timeout(60)
def test_a_clean_stop_says_offline_and_leaves_nothing_running(
    tmp_path: Path, broker: Mosquitto
) -> None:
    watcher = broker.watcher("raspy/#")
    try:
        rt = _runtime(tmp_path, f"port = {broker.port}\n")
        try:
            watcher.wait_for(f"raspy/{HOST}/fake/lamp/value", b"false")
            watcher.wait_for(f"raspy/{HOST}/status", b"online")
            status = rt.status_of("mqtt")
            assert status is not None
            assert status.state is PartState.RUNNING
        finally:
            rt.stop()
        watcher.wait_for(f"raspy/{HOST}/status", b"offline")
    finally:
        watcher.close()


@pytest.mark.timeout(60)
def test_an_absent_broker_is_retried_and_raspyd_serves_on(tmp_path: Path) -> None:
    closed_port = free_port_base(span=1)
    with capture_logs() as logs:
        rt = _runtime(tmp_path, f"port = {closed_port}\n")
        try:
            wait_until(
                lambda: any(e["event"] == "mqtt_connect_failed" for e in logs),
                what="a failed connect, logged",
            )
            status = rt.status_of("mqtt")
            assert status is not None
            assert status.state is PartState.RUNNING
            wait_until(rt.healthy, what="the runtime healthy")
        finally:
            rt.stop()
    failed = next(e for e in logs if e["event"] == "mqtt_connect_failed")
    assert failed["port"] == closed_port
    assert failed["reason"].startswith("ConnectionRefusedError")


@pytest.mark.timeout(60)
def test_an_unreadable_password_file_fails_only_the_bridge(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-password"
    rt = _runtime(tmp_path, f'username = "raspy"\npassword_file = "{missing}"\n')
    try:
        wait_until(
            lambda: _state(rt, "mqtt") is not PartState.RUNNING,
            what="the bridge not running",
        )
        status = rt.status_of("mqtt")
        assert status is not None
        assert "mqtt.password_file: cannot read" in status.reason
        lamp = rt.status_of("devices.fake")
        assert lamp is not None
        assert lamp.state is PartState.RUNNING
    finally:
        rt.stop()
