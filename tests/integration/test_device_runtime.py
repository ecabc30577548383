"""Device services in the daemon's runtime: started from the config and restarted by
the supervisor when they fail (issue 7, docs/architecture.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs
from support.device_services import HOST
from support.device_services import tree_value as _value
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.poller import PollerFailed
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.devices import gpio_pins


def _started_runtime(tmp_path: Path, text: str) -> supervisor.Runtime:
    cfg = config_mod.load(
        text,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname=HOST,
        network__port_base=free_port_base(),
    )
    return supervisor.start(cfg)


def test_the_runtime_starts_the_configured_device_services(tmp_path: Path) -> None:
    """start_devices(): `fake` from the config, wired to the daemon's edge and tree."""
    runtime = _started_runtime(
        tmp_path,
        '[devices]\nfake_enabled = true\n[[devices.fake]]\nname = "rtc"\n'
        'oid = "clock.rtc"\npoll_interval_s = 0.5\n',
    )
    try:
        names = [child.name for child in runtime.children]
        assert names[-7:] == [
            "clone",
            "devices.fake",
            "devices.clock",
            "devices.offline",  # the marker of remote readings gone stale
            "core",
            "cron",
            "history",
        ]
        port_base = runtime.config.network.port_base
        with CloneClient(f"tcp://127.0.0.1:{port_base}", b"/device/") as tree:

            def rtc() -> Any:
                return _value(tree, "testhost.fake.rtc")

            seen = wait_until(rtc, what="the rtc in the tree")
            wait_until(lambda: rtc() != seen, what="the rtc to change")
    finally:
        runtime.stop()


def test_a_failed_device_service_is_restarted_by_the_supervisor(
    tmp_path: Path,
) -> None:
    """docs/architecture.md: an actor's failure is logged with its cause and the supervisor
    restarts it; the restarted service polls and publishes again."""
    runtime = _started_runtime(
        tmp_path,
        '[devices]\nfake_enabled = true\n[[devices.fake]]\nname = "rtc"\n'
        'oid = "clock.rtc"\npoll_interval_s = 0.2\n',
    )
    try:
        child = next(c for c in runtime.children if c.name == "devices.fake")
        first = child.ref
        assert first is not None
        with capture_logs() as logs:
            first.tell(PollerFailed("fake", OSError("reader thread lost")))
            wait_until(
                lambda: child.ref is not None and child.ref is not first,
                what="the device service restarted",
                timeout_s=10,
            )
        failed = [e for e in logs if e["event"] == "device_service_failed"]
        assert [(e["service"], e["log_level"]) for e in failed] == [
            ("testhost.fake.devices", "error")
        ]
        port_base = runtime.config.network.port_base
        with CloneClient(f"tcp://127.0.0.1:{port_base}", b"/device/") as tree:
            seen = wait_until(
                lambda: _value(tree, "testhost.fake.rtc"), what="the rtc in the tree"
            )
            wait_until(
                lambda: _value(tree, "testhost.fake.rtc") != seen,
                what="the restarted service to publish",
            )
    finally:
        runtime.stop()


def test_a_reload_that_turns_gpio_off_switches_its_outputs_off_and_releases_them(
    tmp_path: Path,
) -> None:
    """README: a reload leaves outputs as they are for the next gpio service, and an
    output dropped from the config is switched off and released. With gpio_enabled
    false there is no next service: the kept outputs must not stay on for ever."""
    runtime = _started_runtime(
        tmp_path,
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n[[devices.gpio]]\n'
        'name = "heater"\noid = "switch"\npin = 26\n',
    )
    pins = gpio_pins.shared(gpio_pins.PinFactoryKind.MOCK)
    try:
        body = json.dumps({"v": 1, "action": "on", "device": "heater"})
        with Client(runtime.mdp_endpoint, timeout_s=5, retries=1) as client:
            assert client.request("testhost.gpio.devices", body)[0] == b"200"
        assert pins.level("GPIO26") is True
        with capture_logs() as logs:
            cfg = runtime.config
            off = replace(cfg.devices, gpio_enabled=False)
            runtime.reload(replace(cfg, devices=off))
        assert pins.level("GPIO26") is False
        assert [e["pin"] for e in logs if e["event"] == "gpio_output_released"] == [
            "GPIO26"
        ]
        pins.output("GPIO26", active_high=True, initial=False).close()  # released
    finally:
        runtime.stop()


def test_a_gpio_service_given_up_switches_off_the_outputs_it_kept(
    tmp_path: Path,
) -> None:
    """A failed gpio service keeps its outputs for the restart; once the supervisor
    gives it up no restart comes and no max_on_s runs: a heater left on for ever.
    Its kept outputs go to their on_stop state then (off and released; `keep`: as
    they are, as at a clean stop)."""
    runtime = _started_runtime(
        tmp_path,
        "[supervisor]\nmax_restarts = 1\nrestart_initial_s = 0.1\n"
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n[[devices.gpio]]\n'
        'name = "heater"\noid = "switch"\npin = 19\nmax_on_s = 3600.0\n'
        '[[devices.gpio]]\nname = "pump"\noid = "switch"\npin = 20\n'
        'on_stop = "keep"\n',
    )
    pins = gpio_pins.shared(gpio_pins.PinFactoryKind.MOCK)
    try:
        with Client(runtime.mdp_endpoint, timeout_s=5, retries=1) as client:
            for device in ("heater", "pump"):
                body = json.dumps({"v": 1, "action": "on", "device": device})
                assert client.request("testhost.gpio.devices", body)[0] == b"200"
        assert (pins.level("GPIO19"), pins.level("GPIO20")) == (True, True)
        child = next(c for c in runtime.children if c.name == "devices.gpio")
        with capture_logs() as logs:
            failed: list[Any] = []
            for _ in range(2):  # a restart, then given up (max_restarts = 1)
                running: Any = wait_until(
                    lambda: child.ref not in (None, *failed) and child.ref,
                    what="the gpio service running",
                    timeout_s=10,
                )
                assert pins.level("GPIO19") is True  # kept across a restart
                failed.append(running)
                running.tell(PollerFailed("gpio", OSError("reader thread lost")))
            wait_until(
                lambda: any(e["event"] == "component_failed" for e in logs),
                what="the gpio service given up",
                timeout_s=10,
            )
            # then its kept outputs are switched off, each released and logged
            wait_until(
                lambda: any(e["event"] == "gpio_output_released" for e in logs),
                what="the kept output released",
            )
        assert (pins.level("GPIO19"), pins.level("GPIO20")) == (False, True)
        assert [e["pin"] for e in logs if e["event"] == "gpio_output_released"] == [
            "GPIO19"
        ]
        pins.output("GPIO19", active_high=True, initial=False).close()  # released
        assert pins.release_kept() == ["GPIO20"]  # the next test's pins are free
    finally:
        runtime.stop()


def test_a_stop_while_the_gpio_service_waits_for_its_restart_applies_on_stop(
    tmp_path: Path,
) -> None:
    """A failed gpio service keeps its outputs for its restart. If raspyd stops
    before that restart, the outputs take their on_stop state as at a clean stop;
    they were left on, ignoring on_stop = "off"."""
    runtime = _started_runtime(
        tmp_path,
        "[supervisor]\nrestart_initial_s = 60.0\n"
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n[[devices.gpio]]\n'
        'name = "heater"\noid = "switch"\npin = 19\n'
        '[[devices.gpio]]\nname = "pump"\noid = "switch"\npin = 20\n'
        'on_stop = "keep"\n',
    )
    pins = gpio_pins.shared(gpio_pins.PinFactoryKind.MOCK)
    stopped = False
    try:
        with Client(runtime.mdp_endpoint, timeout_s=5, retries=1) as client:
            for device in ("heater", "pump"):
                body = json.dumps({"v": 1, "action": "on", "device": device})
                assert client.request("testhost.gpio.devices", body)[0] == b"200"
        child = next(c for c in runtime.children if c.name == "devices.gpio")
        running = child.ref
        assert running is not None
        running.tell(PollerFailed("gpio", OSError("reader thread lost")))
        wait_until(lambda: not running.is_alive(), what="the gpio service failed")
        assert pins.level("GPIO19") is True  # kept for the restart, 60 s away
        runtime.stop()
        stopped = True
        assert (pins.level("GPIO19"), pins.level("GPIO20")) == (False, True)
        pins.output("GPIO19", active_high=True, initial=False).close()  # released
        assert pins.release_kept() == ["GPIO20"]  # the next test's pins are free
    finally:
        if not stopped:
            runtime.stop()
