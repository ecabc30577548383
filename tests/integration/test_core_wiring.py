"""The core in the daemon's runtime (issue 11): started after the device services,
left running by a devices reload, started again with a new Clone server."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from support.device_services import HOST
from support.mdp_spec import mmi_service
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.core import CoreActor
from raspy.client.mdp import Client


def _runtime(tmp_path: Path, text: str = "") -> supervisor.Runtime:
    cfg = config_mod.load(
        text,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname=HOST,
        network__port_base=free_port_base(),
    )
    return supervisor.start(cfg)


def _ref(runtime: supervisor.Runtime, name: str) -> pykka.ActorRef[Any] | None:
    return next((c.ref for c in runtime.children if c.name == name), None)


def _listed(runtime: supervisor.Runtime) -> list[bytes]:
    with Client(runtime.mdp_endpoint, timeout_s=5, retries=1) as client:
        return client.request(f"{HOST}.core.scenario", '{"v": 1, "action": "list"}')


def test_a_devices_reload_leaves_the_core_running(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        core, cron = _ref(runtime, "core"), _ref(runtime, "cron")
        assert core is not None
        assert cron is not None
        new = dataclasses.replace(
            runtime.config,
            devices=dataclasses.replace(runtime.config.devices, fake_enabled=True),
        )
        assert runtime.reload(new) == ["devices.fake_enabled"]
        assert (_ref(runtime, "core"), _ref(runtime, "cron")) == (core, cron)
        assert core.is_alive()
        assert _listed(runtime) == [b"200", b"[]"]
    finally:
        runtime.stop()


def test_a_new_clone_server_brings_a_new_core(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        core, clone = _ref(runtime, "core"), _ref(runtime, "clone")
        assert core is not None
        assert clone is not None
        clone.stop(block=True, timeout=10)
        wait_until(
            lambda: _ref(runtime, "core") not in (None, core),
            what="the core started again with the new Clone server",
            timeout_s=15,
        )
        assert not core.is_alive()
        assert _listed(runtime) == [b"200", b"[]"]
    finally:
        runtime.stop()


def test_core_disabled_in_the_config_starts_no_core(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "[core]\nenabled = false\n")
    try:
        assert (_ref(runtime, "core"), _ref(runtime, "cron")) == (None, None)
    finally:
        runtime.stop()


@pytest.mark.timeout(30)
def test_the_core_serves_once_the_start_has_returned(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    zmq_context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    """pykka runs a part's on_start on its own thread after start() returned, and
    the core attaches its worker there: the start returned before it had, and a
    request right after it found no worker ("is [core] enabled?" on the web face's
    editor, once in a loaded run)."""
    release = threading.Event()
    on_start = CoreActor.on_start

    def slow_start(self: CoreActor) -> None:
        # a loaded machine: the core's start takes a while (until the test has
        # asked, at most a second, which a start that waits for it waits out)
        release.wait(timeout=1.0)
        on_start(self)

    monkeypatch.setattr(CoreActor, "on_start", slow_start)
    runtime = _runtime(tmp_path)
    try:
        service = f"{HOST}.core.scenario".encode()
        status = mmi_service(zmq_context, runtime.mdp_endpoint, service)
        release.set()
        assert status == b"200"
    finally:
        release.set()
        runtime.stop()
