"""The hub bench_core.py and bench_core_start.py measure: its config (simulated
dimmers and temperature sensors, the core on), the one rule a dimmer as a scenario
document, raspyd started on them and always stopped, and its `<host>.core.scenario`
service waited for and asked."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from benchproc import start_raspyd, stop

from raspy.client.mdp import Client
from raspy.errors import ClientTimeout

HOST: Final = "bench"
THRESHOLD: Final = 50


def dimmer(index: int) -> str:
    return f"d{index:04d}"


def hub_config(dimmers: int, sensors: int, sensor_interval_s: float) -> str:
    lines = [f'hostname = "{HOST}"', 'log_level = "warning"', "", "[devices]"]
    lines.append("fake_enabled = true")
    for index in range(dimmers):
        lines += ["", "[[devices.fake]]", f'name = "{dimmer(index)}"']
        lines += ['oid = "dimmer"', "poll_interval_s = 600.0"]
    for index in range(sensors):
        lines += ["", "[[devices.fake]]", f'name = "s{index:04d}"']
        lines += ['oid = "sensor.temperature"', f"period_s = {600.0 + index}"]
        lines.append(f"poll_interval_s = {sensor_interval_s}")
    lines += ["", "[core]", "enabled = true", 'timezone = "UTC"']
    return "\n".join(lines) + "\n"


def scenario(index: int) -> str:
    name = dimmer(index)
    return (
        f"name: bench-{name}\n"
        f"description: bench rule for dimmer {name}\n"
        "triggers:\n"
        f'  - kv: "/device/{HOST}.fake.{name}/value"\n'
        f"    above: {THRESHOLD}\n"
        "actions:\n"
        f"  - set: /bench/scn/{name}\n"
        '    value: "{trigger.value}"\n'
    )


@contextmanager
def raspyd(scratch: Path, base: int, config: str) -> Iterator[subprocess.Popen[bytes]]:
    config_path = scratch / "bench.toml"
    config_path.write_text(config, encoding="utf-8")
    process = start_raspyd(
        scratch / "data", base, config=config_path, log_path=scratch / "raspyd.log"
    )
    try:
        yield process
    finally:
        stop(process, wait_s=20)


def ask(client: Client, action: str, **fields: object) -> object:
    status, body = client.request(
        f"{HOST}.core.scenario", json.dumps({"v": 1, "action": action, **fields})
    )
    if status != b"200":
        raise SystemExit(f"bench_core: {action}: {status.decode()} {body[:300]!r}")
    return json.loads(body)


def wait_for_service(client: Client, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if client.request("mmi.service", f"{HOST}.core.scenario") == [b"200"]:
                return
        except ClientTimeout:
            pass
        time.sleep(0.2)
    raise SystemExit("bench_core: no <host>.core.scenario service from raspyd")
