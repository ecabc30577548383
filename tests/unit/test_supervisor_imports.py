"""raspyd's start-up imports (issue 15): the web face (starlette, uvicorn, raspy.web)
and the MQTT bridge (paho) are imported where they are started, so a hub with [http]
and [mqtt] off neither loads nor pays for them; the scenario parser (YAML) waits for
the first document (an eager import of it cost 1.7 MB of idle RSS).

Nor does raspyd's start load what only some configs or scenarios use (the suite
starts raspyd some 300 times, a Pi at each `systemctl restart`): croniter (and
dateutil) waits for the first cron schedule, http.client and email for the first
URL a scenario calls, zmq.auth for [security], and each device kind's modules for
its service; the scenario engine (its model, runs, actors, parser) for the first
scenario (tests/e2e/test_raspyd_start_imports.py follows a running start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_OPTIONAL = (
    "starlette",
    "uvicorn",
    "paho",
    "raspy.actors.web",
    "raspy.actors.mqtt",
    "raspy.web",
    "raspy.rules.document",
    "yaml",
)


# modules and their packages' modules (not a prefix: gpio_pins is used by all)
_LATE = (
    "croniter",
    "dateutil",
    "http.client",
    "email",
    "raspy.http_fetch",
    "raspy.transport.curve",
    "zmq.auth",
    "raspy.devices.gpio",
    "raspy.devices.onewire",
    "raspy.devices.rtc",
    "raspy.devices.simulated",
    # the scenario engine waits for the first scenario read, stored or imported;
    # the triggers' model, the cron parser and the sun's times (astral) for the
    # first time trigger or cron job; ctypes.util (and its tempfile) is not used
    "raspy.rules.engine",
    "raspy.rules.run",
    "raspy.rules.model",
    "raspy.rules.sun",
    "raspy.rules.timing",
    "raspy.rules.timing_cron",
    "raspy.actors.scenario",
    "raspy.actors.scenario_messages",
    "astral",
    "ctypes.util",
)


def _loaded_after(code: str) -> list[str]:
    listing = (
        f"{code}\nimport json, sys\n"
        f"late = {_LATE!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        f"    if m.startswith({_OPTIONAL!r})\n"
        "    or m in late or m.startswith(tuple(p + '.' for p in late)))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", listing],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


@pytest.mark.timeout(90)
def test_the_supervisor_and_raspyd_import_neither_the_web_face_nor_the_bridge() -> None:
    assert _loaded_after("import raspy.actors.supervisor, raspy.cli.raspyd") == []


@pytest.mark.timeout(90)
def test_a_config_with_http_and_mqtt_off_is_checked_without_them() -> None:
    code = (
        "from raspy.actors import supervisor\n"
        "from raspy.config import Config\n"
        "supervisor.check_config(Config())"
    )
    assert _loaded_after(code) == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("config", "argv", "status"),
    [
        ("[http]\nenabled = false\n", ["--check-config", "{config}"], 0),
        ("[broker]\nheartbeat_liveness = 0\n", ["--check-config", "{config}"], 2),
        ("[broker]\nheartbeat_liveness = 0\n", ["--config", "{config}"], 2),
    ],
    ids=["check-ok", "check-refused", "start-refused"],
)
def test_a_config_check_and_a_refused_start_do_not_import_every_part(
    tmp_path: Path, config: str, argv: list[str], status: int
) -> None:
    """The supervisor imports every part of raspyd (most of its start's CPU, seconds
    on a Pi 3): `--check-config`, and a start its config refuses, need none."""
    path = tmp_path / "raspyd.toml"
    path.write_text(config, encoding="utf-8")
    given = [arg.format(config=path) for arg in argv]
    given += ["--data-dir", str(tmp_path / "data")]
    code = (
        "import json, sys\n"
        "from raspy.cli import raspyd\n"
        f"status = raspyd.main({given!r})\n"
        "loaded = 'raspy.actors.supervisor' in sys.modules\n"
        "print(json.dumps([status, loaded]), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stderr.splitlines()[-1]) == [status, False]
