"""The real raspyd under supervision: a failed edge or store ends it non-zero (so that
systemd restarts it); SIGHUP applies what it can and names the rest once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.daemon import Daemon, mmi_service, running_daemon
from support.wait import wait_until

import raspy
from raspy import config as config_mod
from raspy.cli.raspyd_serve import FAULT_ENV
from raspy.client.clone import fetch_snapshot
from raspy.storage.store import Store
from raspy.storage.tables import Table


@pytest.mark.parametrize("part", ["edge", "store"])
def test_a_failed_edge_or_store_ends_raspyd_with_status_1(
    tmp_path: Path, part: str
) -> None:
    daemon = Daemon(tmp_path / "data")
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            daemon.args(),
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**os.environ, FAULT_ENV: part},
        )
    try:
        status = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert status == 1
    lines = daemon.log_text().splitlines()
    assert lines[-1].startswith(f"raspyd: {part} failed")
    events = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    failed = [e for e in events if e["event"] == "component_failed"]
    assert [e["component"] for e in failed] == [part]
    assert "Traceback" not in daemon.log_text()


def _events(daemon: Daemon, name: str) -> list[dict[str, object]]:
    return [
        event
        for line in daemon.log_text().splitlines()
        if line.startswith("{") and (event := json.loads(line))["event"] == name
    ]


def test_sighup_names_a_change_that_needs_a_restart_once(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "data", config_text="") as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        daemon.config_path.write_text(
            "[broker]\nheartbeat_liveness = 5\n[titanic]\nretention_s = 60.0\n"
        )
        for reloads in (1, 2):
            daemon.process.send_signal(signal.SIGHUP)
            wait_until(
                lambda: len(_events(daemon, "config_reloaded")) == reloads,  # noqa: B023  # called at once
                what=f"reload {reloads}",
                timeout_s=10,
            )
        named = _events(daemon, "config_change_needs_restart")
        assert [e["keys"] for e in named] == [["broker.heartbeat_liveness"]]
        first, second = _events(daemon, "config_reloaded")
        assert first["applied"] == ["titanic"]
        assert second["keys"] == ["broker.heartbeat_liveness"]  # titanic now applied
        wait_until(
            lambda: mmi_service(daemon.endpoint, b"titanic.request") == b"200",
            what="titanic back after its restart",
        )


def _raspyd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


def test_check_config_names_every_problem_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "raspyd.toml"
    config.write_text("[titanic]\nmax_body_bytes = -1\nbogus = 1\n")
    result = _raspyd("--check-config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"raspyd: {config}: titanic.max_body_bytes: expected a value >= 0, got -1",
        f"raspyd: {config}: titanic.bogus: unknown setting",
    ]
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    "flags",
    [["--check-config"], ["--print-config", "--config"], ["--config"]],
    ids=["check-config", "print-config", "start"],
)
def test_a_bad_file_is_said_one_problem_a_line_however_raspyd_reads_it(
    tmp_path: Path, flags: list[str]
) -> None:
    """--print-config joined its problems on one line with `;`, where the start and
    --check-config say one a line."""
    config = tmp_path / "raspyd.toml"
    config.write_text("[titanic]\nmax_body_bytes = -1\nbogus = 1\n")
    result = _raspyd(*flags, str(config), "--data-dir", str(tmp_path / "var"))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"raspyd: {config}: titanic.max_body_bytes: expected a value >= 0, got -1",
        f"raspyd: {config}: titanic.bogus: unknown setting",
    ]
    assert not (tmp_path / "var").exists()


def test_a_bad_file_value_is_named_though_a_flag_replaces_it(tmp_path: Path) -> None:
    config = tmp_path / "raspyd.toml"
    config.write_text('[network]\nport_base = "x"\n')
    for flag in ("--check-config", "--config"):
        result = _raspyd(
            flag,
            str(config),
            "--port-base",
            "6000",
            "--data-dir",
            str(tmp_path / "var"),
        )
        assert (result.returncode, result.stderr) == (
            2,
            f'raspyd: {config}: network.port_base: expected an integer, got "x"\n',
        ), flag
    assert not (tmp_path / "var").exists()


def test_check_config_and_the_start_name_every_missing_file(tmp_path: Path) -> None:
    """Files and folders the daemon reads at start (docs/configuration.md): named by
    --check-config as by the start, before the data dir is made."""
    config = tmp_path / "raspyd.toml"
    scenarios, password, ca = (tmp_path / name for name in ("scenarios", "pw", "ca"))
    config.write_text(
        f'[core]\npreload_dir = "{scenarios}"\n'
        f'[mqtt]\nenabled = true\npassword_file = "{password}"\n'
        f'tls = true\ntls_ca_file = "{ca}"\n'
    )
    problems = [
        f"raspyd: {config}: core.preload_dir: {scenarios}: no such folder",
        f"raspyd: {config}: mqtt.password_file: {password}: no such file",
        f"raspyd: {config}: mqtt.tls_ca_file: {ca}: no such file",
    ]
    checked = _raspyd("--check-config", str(config))
    assert (checked.returncode, checked.stderr.splitlines()) == (2, problems)
    started = _raspyd("--config", str(config), "--data-dir", str(tmp_path / "var"))
    assert (started.returncode, started.stderr.splitlines()) == (2, problems)
    assert not (tmp_path / "var").exists()


def test_a_missing_relative_file_is_named_with_where_it_was_looked_for(
    tmp_path: Path,
) -> None:
    """`ca.pem: no such file` did not say that a relative path is taken from
    raspyd's working directory (systemd's, not the config's folder): the MQTT, TLS
    and CURVE files, and the web password's, say where they were looked for, as
    the secrets file does."""
    config = tmp_path / "raspyd.toml"
    config.write_text(
        '[security]\ncurve_secret_key_file = "keys/server.key_secret"\n'
        'authorized_keys_dir = "clients"\n'
        '[mqtt]\nenabled = true\npassword_file = "mqtt-password"\n'
        'tls = true\ntls_ca_file = "ca.pem"\ntls_cert_file = "client.pem"\n'
        'tls_key_file = "client.key"\n'
        '[http]\nenabled = true\npassword_hash_file = "web-password"\n'
    )
    why = "a relative path is from raspyd's working directory"
    named = [
        ("security.curve_secret_key_file", "keys/server.key_secret", "file"),
        ("security.authorized_keys_dir", "clients", "folder"),
        ("mqtt.password_file", "mqtt-password", "file"),
        ("mqtt.tls_ca_file", "ca.pem", "file"),
        ("mqtt.tls_cert_file", "client.pem", "file"),
        ("mqtt.tls_key_file", "client.key", "file"),
    ]
    checked = _raspyd("--check-config", "raspyd.toml", cwd=tmp_path)
    assert (checked.returncode, checked.stderr.splitlines()) == (
        2,
        [
            f"raspyd: raspyd.toml: {key}: {path}: no such {kind} (looked for "
            f"{tmp_path / path}: {why})"
            for key, path, kind in named
        ]
        + [
            "raspyd: raspyd.toml: http.password_hash_file: web-password: no such "
            f"file (looked for {tmp_path / 'web-password'}: {why}) (make it with "
            "raspy web-password FILE)"
        ],
    )


def test_sighup_keeps_the_running_config_when_a_named_folder_is_missing(
    tmp_path: Path,
) -> None:
    with running_daemon(tmp_path / "data", config_text="") as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        missing = tmp_path / "scenarios"
        daemon.config_path.write_text(
            f'[titanic]\nretention_s = 60.0\n[core]\npreload_dir = "{missing}"\n'
        )
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: _events(daemon, "config_reload_failed"),
            what="the reload refused",
            timeout_s=10,
        )
        (failed,) = _events(daemon, "config_reload_failed")
        assert failed["reason"] == f"core.preload_dir: {missing}: no such folder"
        assert _events(daemon, "config_reloaded") == []
        assert daemon.process.poll() is None


def test_a_config_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "raspyd.toml"
    config.write_bytes(b"[titanic]\n# caf\xe9\n")
    for flag in ("--check-config", "--config"):
        result = _raspyd(flag, str(config), "--data-dir", str(tmp_path / "var"))
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"raspyd: {config}: line 2: not UTF-8 text (byte 0xe9)\n"
        ), flag
    assert not (tmp_path / "var").exists()


def test_markdown_without_print_config_is_refused(tmp_path: Path) -> None:
    result = _raspyd("--markdown", "--data-dir", str(tmp_path / "var"))
    assert (result.returncode, result.stderr) == (
        2,
        "raspyd: --markdown goes with --print-config\n",
    )
    assert not (tmp_path / "var").exists()


def test_check_config_names_file_device_and_folder_problems_in_one_run(
    tmp_path: Path,
) -> None:
    """It named them a stage at a time: the file's values, then (once those were
    fixed) the device entries and the folders."""
    config = tmp_path / "raspyd.toml"
    config.write_text(
        "[mqtt]\nport = 70000\n[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "a"\noid = "sensor.bogus"\n'
        f'[core]\nenabled = true\npreload_dir = "{tmp_path}/none"\n'
    )
    result = _raspyd("--check-config", str(config))
    lines = result.stderr.splitlines()
    assert result.returncode == 2
    assert lines[0] == f"raspyd: {config}: mqtt.port: expected 1..65535, got 70000"
    assert (
        lines[1]
        == f"raspyd: {config}: core.preload_dir: {tmp_path}/none: no such folder"
    )
    assert lines[2].startswith(f"raspyd: {config}: devices.fake: device 'a': oid:")
    assert len(lines) == 3


def test_check_config_checks_the_part_of_a_wrong_on_off_key_in_the_same_run(
    tmp_path: Path,
) -> None:
    """A wrong `*_enabled`/`enabled` key took its default, off here, so the part's own
    settings went unchecked until the key was fixed: a stage at a time again. The
    daemon itself still refuses the file."""
    config = tmp_path / "raspyd.toml"
    config.write_text(
        '[devices]\nfake_enabled = "yes"\n'
        '[[devices.fake]]\nname = "a"\noid = "sensor.bogus"\n'
        f'[mqtt]\nenabled = 1\npassword_file = "{tmp_path}/none"\n'
        '[http]\nenabled = "on"\nbind = "0.0.0.0"\n'
    )
    data_dir = tmp_path / "var"
    checked = _raspyd("--check-config", str(config), "--data-dir", str(data_dir))
    lines = checked.stderr.splitlines()
    assert checked.returncode == 2
    assert lines[:4] == [
        f'raspyd: {config}: devices.fake_enabled: expected true or false, got "yes"',
        f"raspyd: {config}: mqtt.enabled: expected true or false, got 1",
        f'raspyd: {config}: http.enabled: expected true or false, got "on"',
        f"raspyd: {config}: mqtt.password_file: {tmp_path}/none: no such file",
    ]
    assert lines[4].startswith(f"raspyd: {config}: devices.fake: device 'a': oid:")
    assert lines[5] == (
        f"raspyd: {config}: http.bind: 0.0.0.0 is beyond loopback and no login is "
        f"configured: run `raspy web-token --data-dir {data_dir}` or set "
        "http.password_hash_file"
    )
    assert len(lines) == 6
    started = _raspyd("--config", str(config), "--data-dir", str(data_dir))
    assert (started.returncode, started.stderr.splitlines()) == (2, lines[:3])
    assert not data_dir.exists()


def test_check_config_accepts_the_shipped_example() -> None:
    example = Path(raspy.__file__).parent / "defaults" / "raspyd.toml"
    result = _raspyd("--check-config", str(example))
    assert (result.returncode, result.stdout) == (0, f"{example}: ok\n")


def test_print_config_prints_toml_that_loads_back(tmp_path: Path) -> None:
    result = _raspyd("--print-config", "--port-base", "6000")
    assert result.returncode == 0
    loaded = config_mod.load(result.stdout, "printed")
    assert loaded.network.port_base == 6000
    assert loaded == config_mod.load("", "defaults", network__port_base=6000)


_LOOP_BUG = """
import os, sys
from raspy.actors import runtime
from raspy.cli import raspyd

summary = runtime.Runtime.summary

def failing_summary(self):
    if os.path.exists(os.environ["RASPY_TEST_FAIL_FLAG"]):
        raise RuntimeError("a bug in the main loop")
    return summary(self)

runtime.Runtime.summary = failing_summary
sys.exit(raspyd.main(sys.argv[1:]))
"""


def test_a_bug_in_the_main_loop_still_stops_the_parts_and_writes_what_they_hold(
    tmp_path: Path,
) -> None:
    """An exception nobody foresaw in raspyd's main loop ended the process without
    stopping the parts: the coalesced readings of the last minute (and the history's
    last rows) never reached the card. Now the parts stop first, then the last
    resort's one line and status 70. The bug is put in by hand (no real one is
    known), in a process of its own."""
    daemon = Daemon(
        tmp_path / "data",
        config_text=(
            "[devices]\nfake_enabled = true\nfake = [\n"
            '  {name = "attic", oid = "sensor.temperature", poll_interval_s = 0.2},\n'
            "]\n"
        ),
    )
    flag = tmp_path / "fail"
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LOOP_BUG, *daemon.args()[3:]],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RASPY_TEST_FAIL_FLAG": str(flag)},
        )
    try:
        wait_until(
            lambda: '"daemon_started"' in daemon.log_text(),
            what="raspyd started",
            timeout_s=30,
        )
        wait_until(
            lambda: fetch_snapshot(daemon.endpoint, b"/device/").items,
            what="the simulated devices' first readings",
        )
        flag.touch()
        # before: no end at all (the parts' threads kept the process, with no main
        # loop left to answer a signal or ping systemd's watchdog)
        status = proc.wait(timeout=15)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert status == 70
    assert _events(daemon, "daemon_loop_failed")
    assert _events(daemon, "daemon_stopped")
    store = Store.open(daemon.data_dir, readonly=True)
    try:
        keys = [key for key, _ in store.scan(Table.KV)]
    finally:
        store.close()
    assert any(key.startswith(b"/device/") for key in keys), keys


# The Clone server dies once raspyd serves (the fault hook, taught `clone`), and
# every start after its first raises: it is given up after max_restarts.
_CLONE_GIVEN_UP = """
import sys
from raspy.actors import runtime, supervisor
from raspy.child_set import stop_actor
from raspy.cli import raspyd

first_start = supervisor.start_clone_server
starts = []

def start_clone_server(*args, **kwargs):
    starts.append(1)
    if len(starts) > 1:
        raise OSError("the Clone server's port is taken")
    return first_start(*args, **kwargs)

def inject_fault(self, part):
    stop_actor(part, self.ref_of(part))

supervisor.start_clone_server = start_clone_server
runtime.Runtime.inject_fault = inject_fault
sys.exit(raspyd.main(sys.argv[1:]))
"""


@pytest.mark.timeout(60)
def test_a_clone_server_given_up_ends_raspyd_with_status_1(tmp_path: Path) -> None:
    """The hub's tree is its heart: a Clone server given up left raspyd running,
    pinging systemd's watchdog, its followers shown `running`. It is critical: once
    it is `failed` raspyd stops and exits 1 (so that systemd restarts it whole)."""
    daemon = Daemon(
        tmp_path / "data",
        config_text=(
            "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.1\n"
            "max_restarts = 1\n"
        ),
    )
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CLONE_GIVEN_UP, *daemon.args()[3:]],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**os.environ, FAULT_ENV: "clone"},
        )
    try:
        status = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert status == 1
    lines = daemon.log_text().splitlines()
    assert lines[-1].startswith("raspyd: clone failed: start failed: ")
    assert [e["component"] for e in _events(daemon, "component_failed")] == ["clone"]
    (failed,) = _events(daemon, "daemon_failed")
    assert str(failed["reason"]).startswith("clone failed")
    assert _events(daemon, "daemon_stopped")


# The fault hook, taught to hang a part: its thread blocks in a handler (for 60 s at
# most; raspyd ends long before), as a deadlock or a read that never returns would.
# The bound is 1 s, set on the supervisor's policy: the config takes no less than 15.
_HANG = """
import dataclasses
import sys
from pykka.messages import ProxyCall
from raspy.actors import runtime
from raspy.cli import raspyd

def inject_fault(self, part):
    block = ProxyCall(attr_path=("actor_stopped", "wait"), args=(60,), kwargs={})
    self.ref_of(part).tell(block)

def policy(self):
    return dataclasses.replace(
        runtime.restart_policy(self.config.supervisor), hung_after_s=1.0
    )

runtime.Runtime.inject_fault = inject_fault
runtime.Runtime.policy = property(policy)
sys.exit(raspyd.main(sys.argv[1:]))
"""


@pytest.mark.timeout(60)
def test_a_hung_part_ends_raspyd_with_status_1_and_no_more_watchdog(
    tmp_path: Path,
) -> None:
    """A part blocked for ever in a handler was alive to every check: raspyd went on
    pinging systemd's watchdog, `raspy status` said `running`, and the hub did
    nothing. Now the part is `hung` past supervisor.hung_after_s (said once), and
    raspyd stops pinging, stops and exits 1, so that systemd restarts it whole, even
    for a part that is not critical (its thread keeps what it held)."""
    daemon = Daemon(tmp_path / "data")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.settimeout(20)
    server.bind(str(tmp_path / "notify"))
    env = {
        **os.environ,
        FAULT_ENV: "echo",
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "400000",
    }
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HANG, *daemon.args()[3:]],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env=env,
        )
    try:
        seen: list[bytes] = []
        while not any(b"STOPPING=1" in m.split(b"\n") for m in seen):
            seen.append(server.recv(4096))
        status = proc.wait(timeout=30)
        server.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                seen.append(server.recv(4096))
    finally:
        proc.kill()
        proc.wait(timeout=10)
        server.close()
    assert status == 1
    stopping = next(i for i, m in enumerate(seen) if b"STOPPING=1" in m.split(b"\n"))
    assert b"STATUS=echo hung: no answer to a ping for " in seen[stopping]
    # the watchdog was pinged while all was well, and never once the part was hung
    hung_shown = next(i for i, m in enumerate(seen) if _status_says_hung(m))
    assert any(b"WATCHDOG=1" in m.split(b"\n") for m in seen[:hung_shown])
    assert not any(b"WATCHDOG=1" in m.split(b"\n") for m in seen[hung_shown:])
    lines = daemon.log_text().splitlines()
    assert lines[-1].startswith("raspyd: echo hung: no answer to a ping for ")
    assert lines[-1].endswith(" s (supervisor.hung_after_s = 1)")
    (hung,) = _events(daemon, "component_hung")
    assert (hung["component"], hung["hung_after_s"]) == ("echo", 1.0)
    (failed,) = _events(daemon, "daemon_failed")
    assert str(failed["reason"]).startswith("echo hung")
    stuck = _events(daemon, "component_stop_timed_out")
    assert [e["component"] for e in stuck] == ["echo"]
    assert "Traceback" not in daemon.log_text()


def _status_says_hung(message: bytes) -> bool:
    """Does this sd_notify message's STATUS= name a hung part?"""
    return any(
        line.startswith(b"STATUS=") and b"hung" in line for line in message.split(b"\n")
    )
