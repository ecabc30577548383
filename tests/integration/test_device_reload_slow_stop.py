"""A reload of [devices] whose old device service has not stopped within its bound
(3 s; 1.5 s here, support.busy_actor.quick_stops) (a handler still busy: a slow GPIO
or 1-Wire read): no new service of that name may run beside it, both on the same
pins or sensors and publishing the same keys. Real raspyd runtime, edge, Clone server
and LMDB; the one fake is a message that keeps the old actor's thread busy until the
test lets go."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.busy_actor import hold_busy, quick_stops
from support.device_services import HOST
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.devices import DeviceServiceActor
from raspy.cores.supervision import PartState

PART = "devices.fake"


@pytest.mark.timeout(90)
def test_a_reload_starts_no_device_service_beside_one_that_has_not_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_stops(monkeypatch)
    hold = hold_busy(monkeypatch, DeviceServiceActor)
    cfg = config_mod.load(
        '[devices]\nfake_enabled = true\n[[devices.fake]]\nname = "rtc"\n'
        'oid = "clock.rtc"\npoll_interval_s = 0.5\n',
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname=HOST,
        network__port_base=free_port_base(),
    )
    rt = supervisor.start(cfg)
    try:
        old = rt.ref_of(PART)
        assert old is not None
        hold.keep_busy(old)
        with capture_logs() as logs:
            slower = replace(
                cfg.devices, offline_after_s=cfg.devices.offline_after_s + 1
            )
            rt.reload(replace(cfg, devices=slower))
            assert old.is_alive()  # its stop timed out
            assert rt.ref_of(PART) is None  # and no twin beside it
            waiting = rt.status_of(PART)  # what `raspy status` shows
            assert waiting is not None
            assert waiting.state is PartState.RESTARTING
            assert "previous DeviceServiceActor has not stopped yet" in waiting.reason
            assert any(
                e["event"] == "component_previous_not_stopped"
                and e["component"] == PART
                for e in logs
            ), "the refusal is said in the log"
            hold.release.set()
            wait_until(lambda: not old.is_alive(), what="the old service stopped")
            wait_until(
                lambda: getattr(rt.status_of(PART), "state", None) is PartState.RUNNING,
                what="a new device service running",
                timeout_s=20,
            )
        new = rt.ref_of(PART)
        assert new is not None
        assert new is not old
    finally:
        hold.release.set()
        rt.stop()
