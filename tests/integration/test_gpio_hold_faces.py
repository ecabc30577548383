"""A GPIO switch held by its min_off_s, as a scenario, the web face and MQTT see it,
in a real in-process runtime (gpio on mock pins, the core, the web face, the MQTT
bridge to a real Mosquitto): each takes the command as done (200) and shows what
the switch holds and for how long; it was a refusal (409 too_soon), and the `on`
a thermostat sent once was lost.

The compressor starts off, and an output that starts off counts as off since the
start: for the 600 s of its min_off_s every `on` is held.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.mosquitto import Mosquitto, running_mosquitto
from support.net import free_port_base
from support.wait import wait_until
from support.web_browser import Browser, allow_login

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.web import WEB_PORT_OFFSET
from raspy.cli.scenario_text import show_text
from raspy.client.mdp import Client

HOST = "testhost"
FULLNAME = f"{HOST}.gpio.compressor"
BAD_VALUE = "compressor: state: expected true or false, got 5"
# the time since the start is the real clock's: a moment, on a loaded machine more
HELD = r"off for [0-9.]+s of min_off_s {}s: on in ([0-9.]+)s"
SCENARIO = f"""\
name: cool-down
triggers:
  - event: /event/cool-down
actions:
  - device: "{FULLNAME}"
    action: "on"
"""


def _config(
    data_dir: Path, extra: str = "", min_off_s: float = 600.0
) -> config_mod.Config:
    text = (
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n'
        "[[devices.gpio]]\n"
        f'name = "compressor"\noid = "switch"\npin = 17\nmin_off_s = {min_off_s}\n'
        f'[core]\nenabled = true\ntimezone = "UTC"\n{extra}'
    )
    return config_mod.load(
        text,
        "test.toml",
        data_dir=str(data_dir),
        hostname=HOST,
        network__port_base=free_port_base(5),
    )


def _ask(rt: supervisor.Runtime, service: str, **document: Any) -> tuple[bytes, Any]:
    with Client(rt.mdp_endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(service, json.dumps({"v": 1, **document}))
    return status, json.loads(body)


def _compressor(rt: supervisor.Runtime, action: str) -> tuple[bytes, Any]:
    return _ask(rt, f"{HOST}.gpio.devices", action=action, device="compressor")


def _is_on(rt: supervisor.Runtime) -> bool:
    return bool(_compressor(rt, "get")[1]["reading"]["value"])


@pytest.mark.timeout(60)
def test_a_scenario_step_held_is_done_and_the_compressor_starts_by_itself(
    tmp_path: Path,
) -> None:
    """The freezer's case end to end: the scenario's `on` comes a moment after the
    compressor stopped; the run ends well (the trace says what is held), and the
    compressor starts when its min_off_s (3 s here) is up."""
    rt = supervisor.start(_config(tmp_path / "data", min_off_s=3.0))
    try:
        scenarios = f"{HOST}.core.scenario"
        wait_until(
            lambda: _ask(rt, scenarios, action="list")[0] == b"200",
            what="the scenario service",
        )
        assert _ask(rt, scenarios, action="import", document=SCENARIO)[0] == b"200"
        assert _compressor(rt, "on")[0] == b"200"  # held for the rest of 3 s
        wait_until(lambda: _is_on(rt), what="the compressor on", timeout_s=10)
        assert _compressor(rt, "off")[0] == b"200"  # stopped: off for 3 s now
        assert _ask(rt, scenarios, action="run", name="cool-down")[0] == b"200"

        def ended() -> dict[str, Any] | None:
            got = _ask(rt, scenarios, action="get", name="cool-down")
            entry: dict[str, Any] = got[1]
            return entry if entry["last_trace"] else None

        entry = wait_until(ended, what="the run ended")
        assert entry is not None
        wait_until(lambda: _is_on(rt), what="the compressor started by itself")
    finally:
        rt.stop()
    lines = show_text(entry).splitlines()
    assert next(line for line in lines if line.startswith("last error:")) == (
        "last error:   -"
    )
    held = [line for line in entry["last_trace"] if "held" in line]
    assert len(held) == 1, entry["last_trace"]
    said = re.fullmatch(
        rf"\+[0-9.]+s device {FULLNAME}: 200 held \({HELD.format(3)}\)", held[0]
    )
    assert said is not None, held
    assert 0 < float(said.group(1)) <= 3.0


def _device_command(
    browser: Browser, device: str = "compressor", value: Any = True
) -> tuple[int, Any]:
    """A switch pressed on the web face, as app.js sends it."""
    return browser.device_command(
        {
            "service": f"{HOST}.gpio.devices",
            "device": device,
            "action": "set",
            "value": value,
        }
    )


@pytest.mark.timeout(60)
def test_the_web_face_answers_a_held_switch_200_and_a_refusal_with_its_reason(
    tmp_path: Path,
) -> None:
    """A switch held by its min_off_s: 200 with the device's reply, whose
    `pending` app.js shows under the switch ("on in 10 min"). A device's refusal
    is the user's to read, with the device's own status (400 a bad value, 404 no
    such device) and its reason."""
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    cfg = _config(data_dir, "[http]\nenabled = true\n")
    rt = supervisor.start(cfg)
    try:
        port = cfg.network.port_base + WEB_PORT_OFFSET
        browser = Browser(port)
        browser.log_in()
        held = _device_command(browser)
        bad = _device_command(browser, value=5)
        unknown = _device_command(browser, device="nosuch")
    finally:
        rt.stop()
    status, answer = held
    pending = answer["reply"].pop("pending")
    reading = answer["reply"].pop("reading")
    assert (status, answer, reading["value"]) == (
        200,
        {"ok": True, "reply": {"v": 1, "action": "set", "device": "compressor"}},
        False,
    )
    _assert_pending(pending, 600)
    assert [bad, unknown] == [
        (400, {"error": BAD_VALUE, "code": "invalid_value"}),
        (404, {"error": "nosuch: no device 'nosuch' here", "code": "unknown_device"}),
    ]


def _assert_pending(pending: dict[str, Any], min_off_s: int) -> None:
    """`{"state": true, "in_s": …, "detail": "off for …s of min_off_s …"}`, the
    detail's time left the same as `in_s`."""
    said = re.fullmatch(HELD.format(min_off_s), pending.pop("detail"))
    assert said is not None, pending
    assert pending == {"state": True, "in_s": float(said.group(1))}
    assert 0 < pending["in_s"] <= min_off_s


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as started:
        yield started


@pytest.mark.timeout(60)
def test_mqtt_carries_what_is_held_on_the_result_topic(
    tmp_path: Path, broker: Mosquitto
) -> None:
    base = f"raspy/{HOST}/gpio/compressor"
    watcher = broker.watcher(f"{base}/#")
    mqtt = f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
    rt = supervisor.start(_config(tmp_path / "data", mqtt))
    try:
        watcher.wait_for(f"{base}/value", b"false")
        watcher.publish(f"{base}/set", b"ON")
        body = wait_until(
            lambda: watcher.get(f"{base}/result"), what="the result of the `set`"
        )
    finally:
        rt.stop()
        watcher.close()
    assert body is not None
    result = json.loads(body)
    pending = result["reply"].pop("pending")
    reading = result["reply"].pop("reading")
    assert (result, reading["value"]) == (
        {
            "v": 1,
            "action": "set",
            "status": 200,
            "reply": {"v": 1, "action": "set", "device": "compressor"},
        },
        False,
    )
    _assert_pending(pending, 600)
