"""raspyd's start with no scenario loads no scenario engine (about a fifth of a
start's CPU: the suite starts raspyd some 300 times, a Pi at every restart); the
first import loads it, and the scenario is served as before.

raspyd runs as its own process with an import hook that logs each watched module
as it is first imported (a `late_import` line in its log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname
from support.wait import wait_until

from raspy.client.mdp import Client

# the engine, its model, the parser and YAML, the scenario actors, the sun's times;
# ctypes.util (the clock health's libc was found by `ldconfig -p`)
_WATCHED = (
    "raspy.rules.engine",
    "raspy.rules.model",
    "raspy.rules.document",
    "raspy.actors.scenario",
    "yaml",
    "astral",
    "ctypes.util",
)

_HOOKED = f"""\
import json, sys

class _Watch:
    def find_spec(self, name, path=None, target=None):
        if name in {_WATCHED!r}:
            line = json.dumps({{"event": "late_import", "module": name}})
            print(line, file=sys.stderr, flush=True)
        return None

sys.meta_path.insert(0, _Watch())
from raspy.cli import raspyd
sys.exit(raspyd.main(sys.argv[1:]))
"""

_DOCUMENT = """\
name: porch
triggers:
  - kv: /house/door
actions:
  - set: /house/porch
    value: true
"""


class _Hooked(Daemon):
    """raspyd, as `python -m raspy.cli.raspyd` with the import hook first."""

    def args(self) -> list[str]:
        given = super().args()
        assert given[1:3] == ["-m", "raspy.cli.raspyd"]
        return [sys.executable, "-c", _HOOKED, *given[3:]]


def _late_imports(daemon: Daemon) -> list[str]:
    found: list[str] = []
    for line in daemon.log_text().splitlines():
        if '"late_import"' in line:
            found.append(json.loads(line)["module"])
    return found


def _ask(client: Client, request: dict[str, object]) -> tuple[bytes, object]:
    status, body = client.request(
        f"{hostname()}.core.scenario", json.dumps(request).encode()
    )
    return status, json.loads(body)


@pytest.mark.timeout(120)
def test_a_start_with_no_scenario_loads_no_engine_until_the_first_import(
    tmp_path: Path,
) -> None:
    daemon = _Hooked(tmp_path / "data")
    daemon.start()
    try:
        service = f"{hostname()}.core.scenario".encode()
        with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
            wait_until(
                lambda: client.request("mmi.service", service) == [b"200"],
                what="the core's service",
                timeout_s=30,
            )
            listed = _ask(client, {"v": 1, "action": "list"})
            before = _late_imports(daemon)
            imported = _ask(
                client,
                {"v": 1, "action": "import", "document": _DOCUMENT, "source": "p.yaml"},
            )
            after = _ask(client, {"v": 1, "action": "list"})
        assert daemon.terminate(timeout_s=30) == 0
    finally:
        daemon.kill()
    assert listed == (b"200", [])
    assert before == []
    assert imported[0] == b"200", imported
    assert after[0] == b"200"
    assert isinstance(after[1], list)
    assert [entry["name"] for entry in after[1]] == ["porch"]
    assert "raspy.rules.engine" in _late_imports(daemon)
