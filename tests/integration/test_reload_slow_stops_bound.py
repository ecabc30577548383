"""A SIGHUP reload that stops several parts slow to stop (Titanic and a device
service, each busy in a handler): each stop is bounded (its prepare, then 3 s), so
the reload as a whole may take longer than its bound while the supervisor thread
works as it should. The bound was the reload's whole time: past it raspyd said
`config_reload_timed_out` and stopped feeding systemd's watchdog, which killed a
healthy raspyd. It counts from the last part stopped or started now. Real raspyd
runtime, edge, Clone server and LMDB; the one fake is a message that keeps the old
actors' threads busy until the test lets go; the bounds are shortened."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support.busy_actor import hold_busy
from support.device_services import HOST
from support.net import free_port_base

from raspy import child_set
from raspy import config as config_mod
from raspy.actors import runtime, supervisor, titanic_commits
from raspy.actors.devices import DeviceServiceActor
from raspy.actors.titanic import TitanicActor

STOP_S = 1.5  # each part's stop
PREPARE_S = 0.5  # Titanic's prepare, before its stop
BOUND_S = 2.8  # more than any one part's stop (2 s), less than the two (3.5 s)


@pytest.mark.timeout(90)
def test_a_reload_of_several_slow_stops_is_waited_for_past_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(child_set, "STOP_TIMEOUT_S", STOP_S)
    monkeypatch.setattr(titanic_commits, "PREPARE_STOP_S", PREPARE_S)
    monkeypatch.setattr(runtime, "RELOAD_STEP_TIMEOUT_S", BOUND_S)
    titanic_hold = hold_busy(monkeypatch, TitanicActor)
    device_hold = hold_busy(monkeypatch, DeviceServiceActor)
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
        for hold, name in ((titanic_hold, "titanic"), (device_hold, "devices.fake")):
            ref = rt.ref_of(name)
            assert ref is not None
            hold.keep_busy(ref)
        new = replace(
            cfg,
            titanic=replace(cfg.titanic, retention_s=60.0),
            devices=replace(
                cfg.devices, offline_after_s=cfg.devices.offline_after_s + 1
            ),
        )
        told: list[None] = []
        # TimeoutError at BOUND_S before: the two stops take 3.5 s at least
        changed = rt.reload(new, lambda: told.append(None), every_s=0.2)
        assert changed
        assert len(told) >= 10  # fed through the 3.5 s, every 0.2 s
    finally:
        titanic_hold.release.set()
        device_hold.release.set()
        rt.stop()
