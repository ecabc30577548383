"""A reload of [devices] whose old gpio service has not stopped (a handler still
busy: a slow GPIO read) and whose new one is given up, refused until then: the
relay the old service holds stays on while it runs, and no output is left on for
ever once it has stopped, with no gpio service to come and no max_on_s.
Real raspyd runtime, edge, Clone server and LMDB, gpiozero's MockFactory; the one
fake is a message that keeps the old actor's thread busy until the test lets go."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.busy_actor import hold_busy
from support.device_services import HOST
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
def test_a_gpio_service_given_up_beside_its_old_one_leaves_its_relay_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    try:
        body = json.dumps({"v": 1, "action": "on", "device": "heater"})
        with Client(rt.mdp_endpoint, timeout_s=5, retries=1) as client:
            assert client.request(f"{HOST}.gpio.devices", body)[0] == b"200"
        old = rt.ref_of(PART)
        assert old is not None
        hold.keep_busy(old)
        with capture_logs() as logs:
            slower = replace(
                cfg.devices, offline_after_s=cfg.devices.offline_after_s + 1
            )
            rt.reload(replace(cfg, devices=slower))
            assert old.is_alive()  # its stop timed out
            wait_until(
                lambda: getattr(rt.status_of(PART), "state", None) is PartState.FAILED,
                what="the new gpio service given up",
                timeout_s=20,
            )
            assert pins.level("GPIO21") is True  # the old service holds it on
            hold.release.set()
            wait_until(lambda: not old.is_alive(), what="the old service stopped")
            wait_until(
                lambda: any(e["event"] == "gpio_output_released" for e in logs),
                what="the heater nobody will adopt released",
            )
        assert pins.level("GPIO21") is False
        released = [e for e in logs if e["event"] == "gpio_output_released"]
        assert [(e["pin"], e["reason"]) for e in released] == [
            ("GPIO21", "gpio service failed")
        ]
        pins.output("GPIO21", active_high=True, initial=False).close()  # released
    finally:
        hold.release.set()
        rt.stop()
