"""raspyd's start-up imports (issue 15): the web face (starlette, uvicorn, raspy.web)
and the MQTT bridge (paho) are imported where they are started, so a hub with [http]
and [mqtt] off neither loads nor pays for them; the scenario parser (YAML) waits for
the first document (an eager import of it cost 1.7 MB of idle RSS)."""

from __future__ import annotations

import json
import subprocess
import sys

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


def _loaded_after(code: str) -> list[str]:
    listing = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({_OPTIONAL!r}))))"
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
