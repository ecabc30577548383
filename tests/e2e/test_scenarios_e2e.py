"""Scenarios in the real raspyd with simulated devices (issue 11, "Done means").

Scenarios are imported with the real `raspy scenario` CLI (a process) or over MDP;
effects are read from the Clone tree with raspy.client.clone.CloneClient. The
kill -9 during import is in test_scenarios_kill.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, hostname, running_daemon
from support.http_server import http_server
from support.wait import wait_until

import raspy
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.rules.document import validate_scenario
from raspy.rules.http_off import WHY

CONFIG = '[devices]\nfake_enabled = true\n\n[core]\nenabled = true\ntimezone = "UTC"\n'
RUN_TOML = Path(raspy.__file__).parent / "defaults" / "run.toml"
REPO_ROOT = Path(raspy.__file__).parent.parent

HALL_LAMP = """\
# e2e: the hall above 50 % turns the lamp on (comments are kept byte for byte)
name: e2e-hall-lamp
triggers:
  - kv: "/device/{host}.fake.hall/value"
    above: 50
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - set: /scenario/e2e-hall-lamp/seen
    value: "{trigger.value}"
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data_dir = tmp_path_factory.mktemp("scenarios") / "data"
    with running_daemon(data_dir, config_text=CONFIG) as running:
        wait_until(lambda: _service_up(running), what="the scenario service")
        # the simulated devices' first reads are spread over a second after their
        # start: an import naming a device not read yet warns that it has no
        # readings (a loaded machine's first test then failed on that warning)
        with CloneClient(running.endpoint, b"/device/") as devices:
            devices.wait_synced()
            for name in ("lamp", "hall"):
                key = f"/device/{hostname()}.fake.{name}/value".encode()
                wait_until(
                    lambda: devices.get(key) is not None,  # noqa: B023  # called at once
                    what=f"the {name}'s first reading",
                )
        yield running


@pytest.fixture
def tree(daemon: Daemon) -> Iterator[CloneClient]:
    with CloneClient(daemon.endpoint) as client:
        client.wait_synced()
        yield client


def _service_up(daemon: Daemon) -> bool:
    with Client(daemon.endpoint, timeout_s=2, retries=1) as client:
        return client.request("mmi.service", _service()) == [b"200"]


def _service() -> str:
    return f"{hostname()}.core.scenario"


def scenario_cli(daemon: Daemon, *args: str) -> tuple[int, str, str]:
    """`raspy scenario ARGS` as a process against this daemon."""
    command = [sys.executable, "-m", "raspy.cli.raspy", "scenario", *args]
    if args[0] != "validate":
        command += ["--server", daemon.endpoint, "--timeout", "10"]
    done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def ask(daemon: Daemon, action: str, **fields: Any) -> tuple[bytes, Any]:
    """One request to the scenario service: (status, decoded JSON body)."""
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(
            _service(), json.dumps({"v": 1, "action": action, **fields})
        )
    return status, json.loads(body)


def device(daemon: Daemon, **command: Any) -> None:
    with Client(daemon.endpoint, timeout_s=5, retries=2) as client:
        status, body = client.request(
            f"{hostname()}.fake.devices", json.dumps({"v": 1, **command})
        )
    assert status == b"200", body


def value(tree: CloneClient, key: str) -> Any:
    body = tree.get(key.encode())
    return None if body is None else json.loads(body)


def test_an_imported_scenario_turns_a_device_change_into_its_actions(
    daemon: Daemon, tree: CloneClient, tmp_path: Path
) -> None:
    """Import over the CLI, change a device over MDP, see the effects in the tree:
    the lamp commanded on, the scenario's own key, its state keys; export gives the
    document back byte for byte."""
    path = tmp_path / "hall-lamp.yaml"
    path.write_text(HALL_LAMP, encoding="utf-8")
    assert scenario_cli(daemon, "import", str(path)) == (
        0,
        f"imported e2e-hall-lamp from {path}\n",
        "",
    )
    lamp, hall = (
        f"/device/{hostname()}.fake.{name}/value" for name in ("lamp", "hall")
    )
    device(daemon, action="off", device="lamp")
    device(daemon, action="level", device="hall", value=20)
    wait_until(
        lambda: value(tree, lamp) is False and value(tree, hall) == 20,
        what="the lamp off and the hall at 20 %",
    )
    device(daemon, action="level", device="hall", value=80)
    wait_until(
        lambda: value(tree, "/scenario/e2e-hall-lamp/seen") == 80,
        what="the scenario's own key",
    )
    wait_until(lambda: value(tree, lamp) is True, what="the lamp switched on")
    wait_until(
        lambda: value(tree, "/scenario/e2e-hall-lamp/state") == "idle",
        what="the run to end",
    )
    wait_until(  # its own set: it may land a commit after the state
        lambda: value(tree, "/scenario/e2e-hall-lamp/runs") == 1, what="one run counted"
    )
    status, entry = ask(daemon, "get", name="e2e-hall-lamp")
    assert (status, entry["state"], entry["runs"], entry["document"]) == (
        b"200",
        "idle",
        1,
        HALL_LAMP,
    )
    exported = tmp_path / "exported.yaml"
    assert scenario_cli(daemon, "export", "e2e-hall-lamp", "-o", str(exported)) == (
        0,
        "",
        "",
    )
    assert exported.read_bytes() == HALL_LAMP.encode()


TYPOS = """\
name: e2e-typos
triggers:
  - kv: "/device/{host}.fake.hal/value"
    above: 50
conditions:
  - "kv('/device/{host}.fake.lamp/valeu') == false"
actions:
  - device: "{host}.fake.lmap"
    action: "on"
  - device: "{host}.fake.{trigger.value}"
    action: "on"
"""


def test_an_import_warns_of_device_keys_the_tree_has_nothing_of_and_imports(
    daemon: Daemon, tmp_path: Path
) -> None:
    """A typo in a device's name is valid text: the trigger never fired, the
    condition read null, the command went nowhere, and nothing said why. The hub
    compares each device key with its tree at the import: one warning each, at its
    line, with the closest name; the scenario is imported all the same (exit 0).
    A name made at run time (`{trigger.value}`) is not guessed at."""
    path = tmp_path / "typos.yaml"
    path.write_text("# two documents: the second one's lines count\n---\n" + TYPOS)
    host = hostname()
    status, out, err = scenario_cli(daemon, "import", str(path))
    assert (status, out) == (0, f"imported e2e-typos from {path}\n")
    assert err.splitlines() == [
        f"raspy scenario import: {path}:5:9: warning: kv: "
        f"'/device/{host}.fake.hal/value' (did you mean "
        f"'/device/{host}.fake.hall/value'?) matches no key in the hub's tree now "
        "(a typo, or a device that is not there yet?)",
        f"raspy scenario import: {path}:8:10: warning: kv() "
        f"'/device/{host}.fake.lamp/valeu' (did you mean "
        f"'/device/{host}.fake.lamp/value'?) matches no key in the hub's tree now "
        "(a typo, or a device that is not there yet?)",
        f"raspy scenario import: {path}:10:13: warning: device: '{host}.fake.lmap' "
        f"(did you mean '{host}.fake.lamp'?) has no readings in the hub's tree now "
        "(a typo, or a device that is not there yet?)",
    ]
    assert ask(daemon, "get", name="e2e-typos")[0] == b"200"
    assert ask(daemon, "delete", name="e2e-typos")[0] == b"200"


def test_a_malformed_document_is_refused_with_its_line_and_the_stored_one_stays(
    daemon: Daemon, tmp_path: Path
) -> None:
    """The CLI checks first and names file:line:col; the service refuses the same
    document with the same problems; `get` still answers the stored text."""
    good = (
        "name: e2e-refused\n# v1\ntriggers: [{startup: true}]\nactions: [{log: v1}]\n"
    )
    bad = good.replace("# v1", "mode: sometimes")
    assert ask(daemon, "import", document=good, source="v1.yaml", replace=False)[0] == (
        b"200"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    problems = validate_scenario(bad, str(path))
    assert [p.split(":")[1:3] for p in problems] == [["2", "7"]]
    assert scenario_cli(daemon, "import", "--replace", str(path)) == (
        1,
        "",
        "".join(
            f"raspy scenario import: {line}\n"
            for line in [*problems, "nothing imported"]
        ),
    )
    status, body = ask(daemon, "import", document=bad, source="bad.yaml", replace=True)
    assert (status, body["problems"]) == (b"400", validate_scenario(bad, "bad.yaml"))
    assert ask(daemon, "get", name="e2e-refused")[1]["document"] == good


def test_restart_keeps_enabled_and_disabled_scenarios(tmp_path: Path) -> None:
    """Enabled/disabled survives a restart (after SIGKILL: it was stored durably
    before the reply); the enabled one still acts, the disabled one does not."""
    data_dir = tmp_path / "data"
    on = HALL_LAMP.replace("e2e-hall-lamp", "e2e-on")
    off = HALL_LAMP.replace("e2e-hall-lamp", "e2e-off")
    with running_daemon(data_dir, config_text=CONFIG) as first:
        wait_until(lambda: _service_up(first), what="the scenario service")
        for document in (on, off):
            assert ask(first, "import", document=document, source="x.yaml")[0] == b"200"
        assert ask(first, "disable", name="e2e-off") == (
            b"200",
            {"name": "e2e-off", "state": "disabled"},
        )
        first.kill()
    with running_daemon(data_dir, config_text=CONFIG) as second:
        wait_until(lambda: _service_up(second), what="the scenario service again")
        status, listing = ask(second, "list")
        assert (status, [(e["name"], e["enabled"], e["state"]) for e in listing]) == (
            b"200",
            [("e2e-off", False, "disabled"), ("e2e-on", True, "idle")],
        )
        with CloneClient(second.endpoint) as tree:
            tree.wait_synced()
            wait_until(
                lambda: value(tree, "/scenario/e2e-off/state") == "disabled",
                what="the disabled state in the tree",
            )
            device(second, action="level", device="hall", value=20)
            device(second, action="level", device="hall", value=90)
            wait_until(
                lambda: value(tree, "/scenario/e2e-on/seen") == 90,
                what="the enabled scenario to act",
            )
            assert value(tree, "/scenario/e2e-off/seen") is None


def test_make_run_starts_with_the_three_examples(tmp_path: Path) -> None:
    """`make run`'s config preloads raspy/defaults/scenarios (raspyd started, as
    `make run` does, in the repository's root)."""
    with running_daemon(
        tmp_path / "data", extra_args=("--config", str(RUN_TOML))
    ) as hub:
        wait_until(lambda: _service_up(hub), what="the scenario service")
        status, listing = ask(hub, "list")
        assert (status, [(e["name"], e["enabled"]) for e in listing]) == (
            b"200",
            [("frost-lamp", True), ("hall-sunset", True), ("weekday-wakeup", True)],
        )
        code, out, err = scenario_cli(hub, "list")
        lines = out.splitlines()
        assert (code, lines[0].startswith("times in: "), err) == (0, True, "")
        assert lines[1].split() == ["NAME", "STATE", "LAST", "RUN", "RUNS"]


def test_the_cli_drives_a_scenario_through_run_stop_disable_enable_and_delete(
    daemon: Daemon, tree: CloneClient, tmp_path: Path
) -> None:
    """Each state verb of `raspy scenario` on the real service, seen in the tree."""
    path = tmp_path / "long.yaml"
    path.write_text(
        "name: e2e-long\nmode: single\ntriggers:\n  - event: /event/e2e-long\n"
        "actions:\n  - wait: 1h\n",
        encoding="utf-8",
    )
    state_key = "/scenario/e2e-long/state"
    assert scenario_cli(daemon, "import", str(path))[0] == 0
    assert scenario_cli(daemon, "run", "e2e-long") == (0, "e2e-long: running\n", "")
    wait_until(lambda: value(tree, state_key) == "running", what="a running run")
    assert scenario_cli(daemon, "stop", "e2e-long") == (0, "e2e-long: idle\n", "")
    wait_until(lambda: value(tree, state_key) == "idle", what="the run stopped")
    assert scenario_cli(daemon, "disable", "e2e-long") == (
        0,
        "e2e-long: disabled\n",
        "",
    )
    wait_until(lambda: value(tree, state_key) == "disabled", what="disabled")
    code, out, _ = scenario_cli(daemon, "show", "e2e-long")
    assert (code, out.splitlines()[3:5]) == (
        0,
        ["enabled:      no", "state:        disabled"],
    )
    assert out.splitlines()[0].endswith("(the hub's [core] timezone)")
    assert scenario_cli(daemon, "enable", "e2e-long") == (0, "e2e-long: idle\n", "")
    assert scenario_cli(daemon, "delete", "e2e-long")[:2] == (0, "e2e-long: deleted\n")
    status, refusal = ask(daemon, "get", name="e2e-long")
    assert scenario_cli(daemon, "show", "e2e-long") == (
        1,
        "",
        f"raspy scenario show: {refusal['error']}\n",
    )
    assert status == b"404"


def test_a_run_over_at_once_is_said_failed_with_its_reason_or_done(
    daemon: Daemon, tmp_path: Path
) -> None:
    """Cookbook recipe 13 run by hand: `trigger.id` is empty, so its device action
    gives no command. `raspy scenario run` printed `heat-setpoint: error` and
    exited 0, the reason only in `show`."""
    path = tmp_path / "setpoint.yaml"
    path.write_text(
        "name: e2e-setpoint\nmode: queued\ntriggers:\n"
        "  - event: /event/e2e-setpoint\n"
        '    id: "on"\n'
        'actions:\n  - device: "{host}.fake.lamp"\n    action: "{trigger.id}"\n',
        encoding="utf-8",
    )
    assert scenario_cli(daemon, "import", str(path))[0] == 0
    why = (
        f'device {hostname()}.fake.lamp: action "{{trigger.id}}" gave no command '
        "in this run (its trigger: manual): nothing sent"
    )
    assert scenario_cli(daemon, "run", "e2e-setpoint") == (
        1,
        "",
        f"raspy scenario run: e2e-setpoint: failed: {why}\n",
    )
    path.write_text(
        "name: e2e-setpoint\nactions:\n  - set: /scenario/e2e-setpoint/ok\n"
        "    value: true\n",
        encoding="utf-8",
    )
    assert scenario_cli(daemon, "import", "--replace", str(path))[0] == 0
    assert scenario_cli(daemon, "run", "e2e-setpoint") == (
        0,
        "e2e-setpoint: done\n",
        "",
    )
    assert ask(daemon, "delete", name="e2e-setpoint")[0] == b"200"


def test_an_http_action_reaches_the_server_and_a_network_client_may_not_use_it(
    daemon: Daemon, tree: CloneClient, tmp_path: Path
) -> None:
    """raspyd serves `<host>.http` by default: a scenario's request arrives (a
    server on 127.0.0.1 stands in for ntfy), and the same request from a network
    client is refused, nothing sent, also when it asks Titanic to pass it on."""
    with http_server() as server:
        document = tmp_path / "e2e-http.yaml"
        document.write_text(
            "name: e2e-http\n"
            "actions:\n"
            f'  - http: "{server.url}/ok"\n'
            '    body: "run by {trigger.kind} on {host}"\n'
            "    headers: {Title: From the hub}\n"
        )
        assert scenario_cli(daemon, "import", str(document))[0] == 0
        assert scenario_cli(daemon, "run", "e2e-http")[0] == 0
        got = server.take(timeout_s=10)
        assert (got.body, got.headers["title"]) == (
            f"run by manual on {hostname()}".encode(),
            "From the hub",
        )
        wait_until(
            lambda: value(tree, "/scenario/e2e-http/runs") == 1,
            what="the run's end",
        )
        assert value(tree, "/scenario/e2e-http/last_error") is None
        request = json.dumps(
            {"v": 1, "method": "POST", "url": f"{server.url}/ok", "timeout_s": 5}
        )
        with Client(daemon.endpoint, timeout_s=5, retries=1) as client:
            status, body = client.request(f"{hostname()}.http", request)
        assert (status, json.loads(body)["error"]) == (b"403", "forbidden")
        # nor through Titanic, whose dispatch is one of raspyd's own parts: it
        # refuses to take the request (400: not to be tried again)
        with Client(daemon.endpoint, timeout_s=5, retries=1) as client:
            refused = client.request("titanic.request", f"{hostname()}.http", request)
        assert refused == [b"400"]
        assert server.taken() == []
    assert ask(daemon, "delete", name="e2e-http")[0] == b"200"


def test_an_http_action_on_a_hub_without_the_http_service_warns_at_its_import(
    tmp_path: Path,
) -> None:
    """`[http_client] enabled = false`: raspyd tells its core, and the import of a
    scenario with an `http:` action says the action will fail at every run; the
    scenario is imported all the same (the config may change before it runs)."""
    config = CONFIG + "\n[http_client]\nenabled = false\n"
    with running_daemon(tmp_path / "data", config_text=config) as running:
        wait_until(lambda: _service_up(running), what="the scenario service")
        document = tmp_path / "e2e-tell.yaml"
        document.write_text(
            "name: e2e-tell\n"
            "triggers: [{event: /event/door}]\n"
            "actions:\n"
            '  - http: "https://ntfy.sh/my-house-7fq2k"\n'
        )
        assert scenario_cli(running, "import", str(document)) == (
            0,
            f"imported e2e-tell from {document}\n",
            f"raspy scenario import: {document}:4:11: warning: http: "
            f"https://ntfy.sh/… {WHY}\n",
        )
