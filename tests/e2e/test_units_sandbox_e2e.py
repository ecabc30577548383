"""Every part of raspy a household runs, under its own unit's seccomp sandbox
(tests/support/unit_sandbox.py: SystemCallFilter= and RestrictAddressFamilies=,
loaded as systemd loads them): a call a unit's list lacks ends the process
(SIGSYS), a family it lacks fails the socket() (EAFNOSUPPORT; ZeroMQ then aborts).
Each process is told a notify socket and a watchdog, as Type=notify does.

raspyd.service, one start with every feature on: the web face (a login, the live
stream, a switch clicked, a history chart), history flushed to disk, the MQTT bridge
to a real Mosquitto over TLS, a scenario's `http:` action to a local server by name,
simulated devices, a GPIO mock relay, a fake 1-Wire tree and RTC, the clock's health
read; `systemctl reload` of a changed [devices] (ExecReload=, /bin/kill, under
the same sandbox; the device services start again and serve);
`systemctl start raspy-backup` beside it and after it (raspy-backup's own sandbox);
a clean stop. Under the units before AF_NETLINK and adjtimex were allowed, raspyd
died at its first bind (SIGABRT), and else at its first clock read (SIGSYS).

raspy-poller.service: two boards joining a hub (raspyd under its own sandbox) with
CURVE on: one's fake 1-Wire sensor read in the hub's tree, the other's simulated
lamp switched (its state kept in the board's data dir); a clean stop of each."""

from __future__ import annotations

import http.client
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname
from support.http_server import http_server
from support.mosquitto import (
    BASE,
    Mosquitto,
    make_tls_files,
    running_mosquitto,
    topic,
)
from support.rtc_sysfs import FakeRtcTree
from support.sysfs import FakeW1Tree
from support.unit_runs import (
    BACKUP,
    RASPYD,
    SandboxedDaemon,
    curve_keys,
    died,
    notify_socket,
    run,
    sandbox_tools,
    sandboxed,
    sandboxed_poller,
    until,
)
from support.wait import wait_until
from support.web_browser import Browser, allow_login

from raspy.client import Client, CloneClient
from raspy.errors import ClientTimeout
from raspy.protocol import clone
from raspy.transport.sockets import CurveKeys

SENSOR = "28-0316a2792aff"

pytestmark = [
    pytest.mark.skipif(
        not sandbox_tools(),
        reason="needs systemd-analyze and libseccomp (Debian: apt-get install systemd)",
    ),
    pytest.mark.timeout(150),
]


def _hub_config(tmp_path: Path, broker: Mosquitto) -> str:
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR, 4.5)
    rtc = FakeRtcTree(tmp_path / "class" / "rtc")
    rtc.add("rtc0", int(time.time()))
    assert broker.tls is not None
    return f"""
[devices]
rtc_enabled = true
rtc_sysfs_dir = "{rtc.root}"
fake_enabled = true
gpio_enabled = true
pin_factory = "mock"
onewire_enabled = true
onewire_base_dir = "{w1.base_dir}"
onewire_poll_interval_s = 0.5

[[devices.fake]]
name = "lamp"
oid = "switch"
poll_interval_s = 0.5

[[devices.fake]]
name = "attic"
oid = "sensor.temperature"
poll_interval_s = 0.5
log = true

[[devices.gpio]]
name = "relay"
oid = "switch"
pin = 17

[[devices.onewire]]
name = "freezer"
sensor_id = "{SENSOR}"

[core]
enabled = true
timezone = "UTC"

[history]
flush_interval_s = 1.0
tiers = ["1s:1h", "1m:1d"]

[http]
enabled = true

[mqtt]
enabled = true
host = "127.0.0.1"
port = {broker.port}
base_topic = "{BASE}"
tls = true
tls_ca_file = "{broker.tls.ca_cert}"
"""


def _value(tree: CloneClient, key: str) -> object:
    body = tree.get(key.encode())
    return None if body is None else json.loads(body)


def _first_event(port: int, cookie: str) -> bytes:
    """The live stream's first bytes (`/events`, Server-Sent Events)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/events", headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("content-type", "").startswith("text/event-stream")
        return response.readline()
    finally:
        connection.close()


def _toggled(browser: Browser, lamp: dict[str, str]) -> bool:
    """A click on the lamp: True once done, False while no worker serves it yet
    (503: nothing was sent, so a retry cannot toggle it twice)."""
    status, answer = browser.device_command({**lamp, "action": "toggle"})
    assert status in (200, 503), (status, answer)
    return status == 200


def _check_raspyd(tmp_path: Path, notify: str) -> None:
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    (backups := tmp_path / "backups").mkdir()
    with (
        running_mosquitto(
            tmp_path / "mqtt", tls=make_tls_files(tmp_path / "tls")
        ) as broker,
        http_server() as server,
    ):
        watcher = broker.watcher(f"{BASE}/#")
        daemon = SandboxedDaemon(
            data_dir,
            notify,
            config_text=_hub_config(tmp_path, broker),
            extra_args=("--log-level", "debug"),
        )
        try:
            daemon.start()
            # the web face: a login, the live stream, a switch clicked
            browser = Browser(daemon.port_base + 4)
            browser.log_in()
            assert _first_event(daemon.port_base + 4, browser.cookie)
            lamp = {"service": f"{hostname()}.fake.devices", "device": "lamp"}
            status, answer = browser.device_command({**lamp, "action": "toggle"})
            assert status == 200, answer
            chart = f"/device/{hostname()}.fake.attic/chart.svg?range=24h&width=800"
            assert browser.exchange("GET", chart).status == 200
            # the MQTT bridge: the click published, a command taken in
            watcher.wait_for(topic("lamp", "value"), b"true", timeout_s=20)
            watcher.publish(topic("relay", "toggle", service="gpio"), b"")
            watcher.wait_for(
                topic("relay", "value", service="gpio"), b"true", timeout_s=20
            )
            # a scenario's http: action, to a server by its name (a lookup)
            document = tmp_path / "tell.yaml"
            url = server.url.replace("127.0.0.1", "localhost")
            document.write_text(
                f'name: tell\nactions:\n  - http: "{url}/ok/tell"\n', encoding="utf-8"
            )
            scenario = [sys.executable, "-m", "raspy.cli.raspy", "scenario"]
            where = ["--server", daemon.endpoint, "--timeout", "10"]
            done = run([*scenario, "import", str(document), *where])
            assert done.returncode == 0, done.stderr
            done = run([*scenario, "run", "tell", *where])
            assert done.returncode == 0, done.stderr
            assert server.take(timeout_s=20).path == "/ok/tell", died(daemon.process)
            # the clock's health read (adjtimex), the 1-Wire sensor read, history
            # flushed to disk
            until(
                daemon,
                lambda: (
                    '"clock_synchronised"' in daemon.log_text()
                    or '"clock_not_synchronised"' in daemon.log_text()
                ),
                "the clock's health read",
            )
            assert '"clock_health_unknown"' not in daemon.log_text()
            with CloneClient(daemon.endpoint) as tree:
                tree.wait_synced()
                freezer = f"/device/{hostname()}.onewire.freezer/value"
                until(daemon, lambda: _value(tree, freezer) == 4.5, "the 1-Wire read")
            until(daemon, lambda: '"history_flushed"' in daemon.log_text(), "a flush")
            # systemctl reload (ExecReload= under the same sandbox) of a new
            # [devices]: the device services start again, and serve
            assert daemon.process is not None
            assert daemon.config_path is not None
            config = daemon.config_path.read_text(encoding="utf-8")
            daemon.config_path.write_text(
                config.replace("poll_interval_s = 0.5", "poll_interval_s = 0.4"),
                encoding="utf-8",
            )
            kill = sandboxed(RASPYD, ["/bin/kill", "-HUP", str(daemon.process.pid)])
            done = run(kill)
            assert done.returncode == 0, done.stderr
            until(daemon, lambda: '"config_reloaded"' in daemon.log_text(), "reload")
            reloaded = next(
                json.loads(line)
                for line in daemon.log_text().splitlines()
                if '"config_reloaded"' in line
            )
            assert "devices" in reloaded["applied"], reloaded
            until(daemon, lambda: _toggled(browser, lamp), "the lamp served again")
            watcher.wait_for(topic("lamp", "value"), b"false", timeout_s=20)
            # systemctl start raspy-backup, beside the running hub
            backup = [sys.executable, "-m", "raspy.cli.kv", "backup"]
            backup += ["--data-dir", str(data_dir), "--to", str(backups)]
            backup = sandboxed(BACKUP, [*backup, "--keep", "7", "--no-history"])
            done = run(backup)
            assert (done.returncode, done.stderr) == (0, "")
            until(daemon, lambda: True, "the backup beside raspyd")
            assert daemon.terminate(timeout_s=30) == 0, daemon.log_text()[-3000:]
            # and with no raspyd running: the data dir's lock held shared meanwhile
            done = run(backup)
            assert (done.returncode, done.stderr) == (0, "")
            assert len(list(backups.iterdir())) == 2
        finally:
            watcher.close()
            daemon.kill()


def _answers(hub: Daemon, keys: CurveKeys) -> bool:
    """The shed's service is known to the hub (MMI)."""
    with Client(hub.endpoint, timeout_s=2, retries=1, curve=keys) as client:
        return client.request("mmi.service", "shed.fake.devices") == [b"200"]


def _check_poller(tmp_path: Path, notify: str) -> None:
    """Two raspy-pollers (onewire, fake) join a hub with CURVE on."""
    security, options, keys = curve_keys(tmp_path)

    def ready(endpoint: str) -> bool:
        try:
            with Client(endpoint, timeout_s=0.3, retries=1, curve=keys) as client:
                return client.request(f"{hostname()}.echo", b"hi") == [b"hi"]
        except ClientTimeout:
            return False

    garage, shed = tmp_path / "garage", tmp_path / "shed"
    w1 = FakeW1Tree(garage / "sys")
    w1.add_celsius(SENSOR, 4.5)
    onewire = (
        f'[devices]\nonewire_base_dir = "{w1.base_dir}"\n'
        f'[[devices.onewire]]\nname = "freezer"\nsensor_id = "{SENSOR}"\n'
    )
    lamp = '[devices]\n[[devices.fake]]\nname = "lamp"\noid = "switch"\n'
    hub = SandboxedDaemon(tmp_path / "hub", "", config_text=security, ready=ready)
    try:
        hub.start()
        endpoints = clone.Endpoints.from_port_base("127.0.0.1", hub.port_base)
        with (
            sandboxed_poller(garage, hub, "onewire", onewire, options, notify) as one,
            sandboxed_poller(shed, hub, "fake", lamp, options, notify) as other,
            CloneClient(endpoints, b"/device/", curve=keys) as tree,
        ):
            boards = {garage: one, shed: other}

            def dead() -> bool:
                """False while both run; else fails, saying which and how."""
                for folder, board in boards.items():
                    log = (folder / "poller.log").read_text()[-3000:]
                    assert died(board) == "running", (folder.name, died(board), log)
                return False

            tree.wait_synced(timeout_s=10)
            freezer = "/device/garage.onewire.freezer/value"
            try:
                wait_until(
                    lambda: _value(tree, freezer) == 4.5 or dead(),
                    what="the board's 1-Wire reading in the hub's tree",
                    timeout_s=40,
                )
            except AssertionError as exc:  # a board cut off by its sandbox: say so
                log = (garage / "poller.log").read_text()[-3000:]
                raise AssertionError(f"{exc}; the board said: {log}") from None
            # the shed's simulated lamp switched: its state kept in its data dir
            wait_until(lambda: _answers(hub, keys) or dead(), what="the shed's lamp")
            with Client(hub.endpoint, timeout_s=10, retries=1, curve=keys) as client:
                ask = {"v": 1, "action": "toggle", "device": "lamp"}
                status, _ = client.request("shed.fake.devices", json.dumps(ask))
            assert status == b"200"
            dead()
            for folder, board in boards.items():
                board.send_signal(signal.SIGTERM)
                log = (folder / "poller.log").read_text()
                assert board.wait(timeout=30) == 0, log[-3000:]
                assert "device_state_not_stored" not in log
        assert hub.terminate(timeout_s=30) == 0, hub.log_text()[-3000:]
    finally:
        hub.kill()


@pytest.mark.parametrize(
    "check", [_check_raspyd, _check_poller], ids=["raspyd", "raspy-poller"]
)
def test_every_part_runs_under_its_units_sandbox(
    check: Callable[[Path, str], None], tmp_path: Path
) -> None:
    """Each step fails when the process died of its sandbox (SIGSYS, or ZeroMQ's
    abort on a refused family); it told systemd all along, watchdog pings too."""
    with notify_socket() as (told, name):
        check(tmp_path, name)
        wait_until(lambda: b"STOPPING=1" in told, what="STOPPING=1")
    assert {b"READY=1", b"WATCHDOG=1", b"STOPPING=1"} <= told, told
