"""A GPIO switch held by its min_off_s, as a scenario, the web face and MQTT see it,
in a real in-process runtime (gpio on mock pins, the core, the web face, the MQTT
bridge to a real Mosquitto): each shows the device's reason, 409 `too_soon` and how
long is left, not a bare failure.

The compressor starts off, and an output that starts off counts as off since the
start: for the 600 s of its min_off_s every `on` is refused.
"""

from __future__ import annotations

import http.client
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
HELD = r"off for [0-9.]+s of min_off_s 600s: on in [0-9.]+s"
SCENARIO = f"""\
name: cool-down
triggers:
  - event: /event/cool-down
actions:
  - device: "{FULLNAME}"
    action: "on"
"""


def _config(data_dir: Path, extra: str = "") -> config_mod.Config:
    text = (
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n'
        "[[devices.gpio]]\n"
        'name = "compressor"\noid = "switch"\npin = 17\nmin_off_s = 600.0\n'
        f'[core]\nenabled = true\ntimezone = "UTC"\n{extra}'
    )
    return config_mod.load(
        text,
        "test.toml",
        data_dir=str(data_dir),
        hostname=HOST,
        network__port_base=free_port_base(5),
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[supervisor.Runtime]:
    rt = supervisor.start(_config(tmp_path / "data"))
    try:
        yield rt
    finally:
        rt.stop()


def _ask(rt: supervisor.Runtime, service: str, **document: Any) -> tuple[bytes, Any]:
    with Client(rt.mdp_endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(service, json.dumps({"v": 1, **document}))
    return status, json.loads(body)


@pytest.mark.timeout(60)
def test_a_scenario_run_fails_with_the_devices_reason_as_scenario_show_says_it(
    runtime: supervisor.Runtime,
) -> None:
    scenarios = f"{HOST}.core.scenario"
    wait_until(
        lambda: _ask(runtime, scenarios, action="list")[0] == b"200",
        what="the scenario service",
    )
    assert _ask(runtime, scenarios, action="import", document=SCENARIO)[0] == b"200"
    assert _ask(runtime, scenarios, action="run", name="cool-down")[0] == b"200"

    def failed() -> dict[str, Any] | None:
        entry: dict[str, Any] = _ask(
            runtime, scenarios, action="get", name="cool-down"
        )[1]
        return entry if entry["last_error"] else None

    entry = wait_until(failed, what="the run failed")
    assert entry is not None
    lines = show_text(entry).splitlines()
    error = next(line for line in lines if line.startswith("last error:"))
    assert re.fullmatch(
        rf"last error:   device {FULLNAME}: on answered 409 too_soon \({HELD}\)",
        error,
    ), error


def _device_command(
    port: int, browser: Browser, device: str = "compressor", value: Any = True
) -> tuple[int, Any]:
    """A switch pressed on the web face, as app.js sends it (its CSRF token from
    the page's meta tag): the HTTP status and the JSON answer."""
    page = browser.exchange("GET", "/")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.body)
    assert token is not None, page.body[:200]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/device",
            body=json.dumps(
                {
                    "service": f"{HOST}.gpio.devices",
                    "device": device,
                    "action": "set",
                    "value": value,
                }
            ),
            headers={
                "Cookie": browser.cookie,
                "Content-Type": "application/json",
                "X-CSRF-Token": token.group(1),
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.timeout(60)
def test_the_web_face_answers_a_refusal_with_the_devices_status_and_reason(
    tmp_path: Path,
) -> None:
    """A device's refusal is the user's to read: it was answered 502, as if the
    service had failed; now with the device's own status (409 too soon, 400 a bad
    value, 404 no such device) and its reason, which app.js shows by the switch."""
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    cfg = _config(data_dir, "[http]\nenabled = true\n")
    rt = supervisor.start(cfg)
    try:
        port = cfg.network.port_base + WEB_PORT_OFFSET
        browser = Browser(port)
        browser.log_in()
        held = _device_command(port, browser)
        bad = _device_command(port, browser, value=5)
        unknown = _device_command(port, browser, device="nosuch")
    finally:
        rt.stop()
    status, answer = held
    assert (status, answer["code"]) == (409, "too_soon"), held
    assert re.fullmatch(rf"compressor: {HELD}", answer["error"]), answer
    assert [bad, unknown] == [
        (400, {"error": BAD_VALUE, "code": "invalid_value"}),
        (404, {"error": "nosuch: no device 'nosuch' here", "code": "unknown_device"}),
    ]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as started:
        yield started


@pytest.mark.timeout(60)
def test_mqtt_carries_the_refusal_on_the_result_topic(
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
    detail = result["reply"].pop("detail")
    assert result == {
        "v": 1,
        "action": "set",
        "status": 409,
        "reply": {"v": 1, "action": "set", "error": "too_soon"},
    }
    assert re.fullmatch(HELD, detail), detail
