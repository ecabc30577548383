"""A reload of [devices] whose old gpio service has not stopped (a handler still
busy: a slow GPIO read): the new one is held, not given up, however short the
backoff (each refused start counted as a crash, and a gpio service was given up
beside its old one, raspy.devices.gpio_pins then releasing what the old one kept).
The relay the old service holds stays on while it runs; once it has ended the new
service takes the relay over, on, and answers for it.
Real raspyd runtime, edge, Clone server and LMDB, gpiozero's MockFactory; the one
fake is a message that keeps the old actor's thread busy until the test lets go."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.busy_actor import hold_busy, quick_stops
from support.device_services import HOST
from support.hung_runtime import rounds_after
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.gpio import GpioServiceActor
from raspy.client.mdp import Client
from raspy.cores.supervision import PartState
from raspy.devices import gpio_pins

PART = "devices.gpio"


@pytest.mark.timeout(90)
def test_a_gpio_service_held_beside_its_old_one_takes_its_relay_once_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_stops(monkeypatch)
    hold = hold_busy(monkeypatch, GpioServiceActor)
    cfg = config_mod.load(
        "[supervisor]\nmax_restarts = 1\nrestart_initial_s = 0.1\n"
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n[[devices.gpio]]\n'
        'name = "heater"\noid = "switch"\npin = 21\nmax_on_s = 3600.0\n',
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname=HOST,
        network__port_base=free_port_base(),
    )
    rt = supervisor.start(cfg)
    pins = gpio_pins.shared(gpio_pins.PinFactoryKind.MOCK)
    service = f"{HOST}.gpio.devices"
    try:
        on = json.dumps({"v": 1, "action": "on", "device": "heater"})
        with Client(rt.mdp_endpoint, timeout_s=5, retries=1) as client:
            assert client.request(service, on)[0] == b"200"
        old = rt.ref_of(PART)
        assert old is not None
        hold.keep_busy(old)
        with capture_logs() as logs:
            slower = replace(
                cfg.devices, offline_after_s=cfg.devices.offline_after_s + 1
            )
            rt.reload(replace(cfg, devices=slower))
            assert old.is_alive()  # its stop timed out
            rounds_after(
                rt, 6, timeout_s=10
            )  # past max_restarts tries at restart_initial_s
            status = rt.status_of(PART)
            assert status is not None
            assert status.state is PartState.RESTARTING
            assert "has not stopped yet" in status.reason
            assert pins.level("GPIO21") is True  # the old service holds it on
            hold.release.set()
            wait_until(lambda: not old.is_alive(), what="the old service stopped")
            wait_until(
                lambda: rt.ref_of(PART) is not None,
                what="the new gpio service started",
                timeout_s=20,
            )
        assert not [e for e in logs if e["event"] == "component_failed"]
        assert not [e for e in logs if e["event"] == "gpio_output_released"]
        assert pins.level("GPIO21") is True  # taken over as it was
        off = json.dumps({"v": 1, "action": "off", "device": "heater"})
        with Client(rt.mdp_endpoint, timeout_s=5, retries=1) as client:
            assert client.request(service, off)[0] == b"200"
        assert pins.level("GPIO21") is False
    finally:
        hold.release.set()
        rt.stop()
