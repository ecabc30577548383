"""A disabled scenario stays disabled through a backup, on real raspyd processes
(docs/scenarios.md, "The command line": `export`; "Storage"): `raspy scenario
export` writes `enabled: false` into a disabled one's text, so that an import of
the export, into the same hub (`--replace`) or a new card's, keeps it so; and
`raspy-kv backup` then `restore` carries the hub's flag in the scenario's conf
record. A household that disabled "heating at 6:00" for the holidays and moved
to a new card had it firing again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname, running_daemon
from support.wait import wait_until

from raspy.client.mdp import Client

pytestmark = pytest.mark.timeout(180)

CONFIG = '[core]\nenabled = true\ntimezone = "UTC"\n'
HEAT_SIX = """\
# heating at 6:00, off for the holidays
name: heat-six   # the bathroom
triggers:
  - at: "06:00"
  - kv: /home/probe
actions:
  - set: /scenario/heat-six/ran
    value: "{trigger.value}"
"""
# a text that says it is enabled, disabled since by `raspy scenario disable`
HEAT_SEVEN = HEAT_SIX.replace("heat-six", "heat-seven").replace(
    "# the bathroom\n", "# the bathroom\nenabled: true  # all winter\n"
)
CONTROL = HEAT_SIX.replace("heat-six", "control").replace(
    "# heating at 6:00, off for the holidays\n", ""
)
DISABLED = ("heat-seven", "heat-six")
# what the export says of them: `enabled: false`, the rest byte for byte
EXPORTED = "---\n".join(
    [
        CONTROL,
        HEAT_SEVEN.replace("enabled: true", "enabled: false"),
        HEAT_SIX.replace("# the bathroom\n", "# the bathroom\nenabled: false\n"),
    ]
)


def _tool(*args: str, absent: str = "") -> str:
    """`python -m ARGS` as a process; its stdout (it must exit 0, or with
    `absent`, exit 1 saying that alone on stderr: "")."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if absent and (done.returncode, done.stderr) == (1, absent):
        return ""
    assert done.returncode == 0, done.stderr
    return done.stdout


def _scenario(daemon: Daemon, *args: str) -> str:
    return _tool("raspy.cli.raspy", "scenario", *args, "--server", daemon.endpoint)


def _ask(daemon: Daemon, action: str, **fields: object) -> object:
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(
            f"{hostname()}.core.scenario",
            json.dumps({"v": 1, "action": action, **fields}),
        )
    assert status == b"200", body
    return json.loads(body)


def _service_up(daemon: Daemon) -> bool:
    with Client(daemon.endpoint, timeout_s=2, retries=1) as client:
        service = f"{hostname()}.core.scenario"
        return client.request("mmi.service", service) == [b"200"]


def _states(daemon: Daemon) -> list[tuple[str, bool, str]]:
    listing = _ask(daemon, "list")
    assert isinstance(listing, list)
    return [(e["name"], e["enabled"], e["state"]) for e in listing]


EXPECTED_STATES = [
    ("control", True, "idle"),
    ("heat-seven", False, "disabled"),
    ("heat-six", False, "disabled"),
]


def _hub_with_two_disabled(tmp_path: Path, daemon: Daemon) -> None:
    wait_until(lambda: _service_up(daemon), what="the scenario service")
    both = tmp_path / "heating.yaml"
    both.write_text(f"{CONTROL}---\n{HEAT_SIX}---\n{HEAT_SEVEN}", encoding="utf-8")
    _scenario(daemon, "import", str(both))
    for name in DISABLED:
        _scenario(daemon, "disable", name)
    assert _states(daemon) == EXPECTED_STATES


def _kv_get(daemon: Daemon, key: str) -> str:
    """raspy-kv get's output; "" for a key not there."""
    server = f"127.0.0.1:{daemon.port_base}"
    absent = f"raspy-kv get: {key}: no such key\n"
    return _tool("raspy.cli.kv", "get", key, "--server", server, absent=absent)


def test_an_export_of_a_disabled_scenario_imports_disabled_here_and_on_a_new_hub(
    tmp_path: Path,
) -> None:
    backup = tmp_path / "all.yaml"
    with running_daemon(tmp_path / "old" / "data", config_text=CONFIG) as old:
        _hub_with_two_disabled(tmp_path, old)
        _scenario(old, "export", "-o", str(backup))
        assert backup.read_text(encoding="utf-8") == EXPORTED
        # a restore of the backup into the same hub: the one whose text said
        # `enabled: true` was enabled again
        _scenario(old, "import", str(backup), "--replace")
        assert _states(old) == EXPECTED_STATES

    with running_daemon(tmp_path / "new" / "data", config_text=CONFIG) as new:
        wait_until(lambda: _service_up(new), what="the new hub's scenario service")
        _scenario(new, "import", str(backup))
        assert _states(new) == EXPECTED_STATES
        _tool(
            "raspy.cli.kv",
            "set",
            "/home/probe",
            "7",
            "--server",
            f"127.0.0.1:{new.port_base}",
        )
        wait_until(
            lambda: _kv_get(new, "/scenario/control/ran") == "7\n",
            what="the enabled scenario to run",
        )
        for name in DISABLED:  # routed the same change, and nothing ran
            assert _kv_get(new, f"/scenario/{name}/ran") == ""


def test_a_kv_backup_restored_keeps_a_disabled_scenario_disabled(
    tmp_path: Path,
) -> None:
    """The whole store: the flag is the `enabled` of `scenario.<name>.conf`, in
    the dump as in the store, and the restored hub loads it so."""
    data_dir, backups = tmp_path / "data", tmp_path / "backups"
    backups.mkdir()
    with running_daemon(data_dir, config_text=CONFIG) as old:
        _hub_with_two_disabled(tmp_path, old)
        # as the daily timer runs it, beside raspyd: a disable is stored before
        # its reply
        _tool(
            "raspy.cli.kv", "backup", "--data-dir", str(data_dir), "--to", str(backups)
        )
        assert old.terminate() == 0
    (dump,) = backups.iterdir()
    restored = tmp_path / "restored"
    _tool("raspy.cli.kv", "restore", "--data-dir", str(restored), str(dump))
    with running_daemon(restored, config_text=CONFIG) as new:
        wait_until(lambda: _service_up(new), what="the restored hub's scenario service")
        assert _states(new) == EXPECTED_STATES
        assert _scenario(new, "export") == EXPORTED
