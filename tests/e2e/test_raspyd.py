"""The real raspyd process: the daemon contract of issue 3 (ports, refusals, signals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname, mmi_service, running_daemon
from support.wait import wait_until
from support.zmqctx import checked_context, dealer, recv

from raspy.client.clone import CloneClient, fetch_snapshot
from raspy.client.mdp import Client
from raspy.storage.dump import Header, dump_lines
from raspy.storage.tables import Table


def _raspyd(*args: str, timeout_s: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One raspyd on the defaults, started on a data dir it makes itself, for the
    tests that only ask it things: an echo, its data dir's mode, a second raspyd
    refused on that data dir (refused before it opens or binds anything). None of
    them writes, stops or signals it."""
    data_dir = tmp_path_factory.mktemp("shared") / "fresh" / "data"
    with running_daemon(data_dir) as daemon:
        yield daemon


def test_raspyd_answers_the_builtin_echo_service(shared: Daemon) -> None:
    """`<hostname>.echo` replies with the request body, to a 0.1 and a 0.2 client."""
    daemon = shared
    with checked_context() as ctx:
        client = dealer(ctx, daemon.endpoint)
        try:
            service = f"{hostname()}.echo".encode()
            client.send_multipart([b"", b"MDPC01", service, b"hello"])
            assert recv(client) == [b"", b"MDPC01", service, b"hello"]
            client.send_multipart([b"MDPC02", b"\x01", service, b"hi"])
            assert recv(client) == [b"MDPC02", b"\x03", service, b"hi"]
        finally:
            client.close()


def test_raspyd_creates_the_data_dir_with_mode_0700(shared: Daemon) -> None:
    """The shared raspyd made its data dir itself (its parent made by the test)."""
    assert shared.data_dir.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("ports", ["other-ports", "same-ports"])
def test_second_raspyd_on_the_same_data_dir_is_refused(
    shared: Daemon, ports: str
) -> None:
    """One line naming the cause and the holder, exit status 2; the same command
    run twice (same ports too) once said "Address already in use" with status 1."""
    daemon = shared
    assert daemon.process is not None
    same = daemon.port_base if ports == "same-ports" else None
    other = Daemon(daemon.data_dir, port_base=same)
    result = _raspyd(*other.args()[3:])
    assert result.returncode == 2
    assert result.stderr == (
        f"raspyd: data dir {daemon.data_dir} is in use by another process "
        f"(pid {daemon.process.pid})\n"
    )
    assert daemon.process.poll() is None  # the holder runs on


def test_a_restore_into_its_data_dir_is_told_to_stop_raspyd(
    shared: Daemon, tmp_path: Path
) -> None:
    """raspyd says what it is in its data dir's lock file: a restore refused there
    names it (and a restore beside another restore names that one instead)."""
    daemon = shared
    assert daemon.process is not None
    dump = tmp_path / "empty.dump"
    dump.write_bytes(b"".join(dump_lines(Header(1, "now", (Table.CRON,)), ())))
    result = subprocess.run(
        [
            *(sys.executable, "-m", "raspy.cli.kv", "restore"),
            *("--data-dir", str(daemon.data_dir), str(dump)),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        1,
        f"raspy-kv restore: data dir {daemon.data_dir} is in use by another process"
        f" (pid {daemon.process.pid}): raspyd; stop it before a restore\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--port-base", "notaport"],
        ["--port-base", "70000"],
        ["--log-format", "xml"],
        ["--no-such-flag"],
    ],
    ids=["port_not_a_number", "port_out_of_range", "bad_log_format", "unknown_flag"],
)
def test_bad_arguments_exit_2_with_a_message_and_start_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    result = _raspyd("--data-dir", str(tmp_path / "d"), "--allow-root", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("raspyd: ")
    assert not (tmp_path / "d").exists()


def test_bad_config_file_names_the_key_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "raspy.toml"
    config.write_text("[broker]\nheartbeat_interval_s = -5\n", encoding="utf-8")
    result = _raspyd(
        "--data-dir", str(tmp_path / "d"), "--allow-root", "--config", str(config)
    )
    assert result.returncode == 2
    assert f"{config}: broker.heartbeat_interval_s" in result.stderr


def test_a_frame_size_past_a_c_int64_is_refused_before_the_start(
    tmp_path: Path,
) -> None:
    """[broker] max_frame_bytes had no upper bound: 10**30 passed the check, the
    edge's ZMQ_MAXMSGSIZE (a C int64) failed at its start, and raspyd hung there."""
    daemon = Daemon(
        tmp_path / "d", config_text=f"[broker]\nmax_frame_bytes = {10**30}\n"
    )
    result = _raspyd(*daemon.args()[3:])
    assert result.returncode == 2
    assert result.stderr == (
        f"raspyd: {daemon.config_path}: broker.max_frame_bytes: expected "
        f"1024..1073741824, got {10**30}\n"
    )
    assert not (tmp_path / "d").exists()


def test_root_is_refused_without_allow_root(tmp_path: Path) -> None:
    """As root: exit 2 naming the cause. As a normal user the daemon starts."""
    daemon = Daemon(tmp_path / "d")
    args = [a for a in daemon.args()[3:] if a != "--allow-root"]
    if os.geteuid() == 0:
        result = _raspyd(*args)
        assert result.returncode == 2
        assert result.stderr == (
            "raspyd: refusing to run as root; run as a normal user or pass --allow-root\n"
        )
        return
    started = _WithoutAllowRoot(tmp_path / "d").start()  # waits for MMI answers
    started.kill()


class _WithoutAllowRoot(Daemon):
    def args(self) -> list[str]:
        return [a for a in super().args() if a != "--allow-root"]


def test_sigterm_disconnects_workers_and_exits_0(tmp_path: Path) -> None:
    """RFC 7/18: the broker tells its workers DISCONNECT on the way out."""
    with running_daemon(tmp_path / "data") as daemon, checked_context() as ctx:
        worker = dealer(ctx, daemon.endpoint)
        try:
            worker.send_multipart([b"MDPW02", b"\x01", b"job"])
            wait_until(
                lambda: mmi_service(daemon.endpoint, b"job") == b"200",
                what="the worker's READY to reach the broker",
            )
            assert daemon.terminate(timeout_s=10) == 0
            assert recv(worker) == [b"MDPW02", b"\x06"]
        finally:
            worker.close()


def test_raspyd_survives_sigkill_and_restarts_with_what_it_confirmed(
    tmp_path: Path,
) -> None:
    """docs/architecture.md: what a client was told is stored survives a power cut (here
    SIGKILL), and a sequence number is never reused after it."""
    daemon = Daemon(tmp_path / "data").start()
    try:
        with CloneClient(daemon.endpoint, b"/e2e/") as client:
            client.set(b"/e2e/kept", b"before", confirm_timeout_s=10)
            client.set(b"/e2e/gone", b"x", confirm_timeout_s=10)
            client.delete(b"/e2e/gone", confirm_timeout_s=10)
            seq_before = client.seq
        daemon.kill()
        restarted = Daemon(tmp_path / "data", port_base=daemon.port_base).start()
        try:
            snapshot = fetch_snapshot(restarted.endpoint, b"/e2e/", timeout_s=10)
            assert snapshot.items == {b"/e2e/kept": b"before"}
            assert snapshot.seq >= seq_before
            with CloneClient(restarted.endpoint, b"/e2e/") as client:
                client.set(b"/e2e/after", b"1", confirm_timeout_s=10)
                assert client.seq > seq_before
        finally:
            restarted.kill()
    finally:
        daemon.kill()


@pytest.mark.parametrize(
    "bad",
    [b"[titanic]\nmax_body_bytes = -1\n", b"# caf\xe9 in Latin-1\n[titanic]\n"],
    ids=["bad-value", "not-utf8"],
)
def test_sighup_keeps_the_old_config_when_the_new_one_is_bad(
    tmp_path: Path, bad: bytes
) -> None:
    """docs/style.md §4: a bad config on SIGHUP keeps the old one running, and the
    daemon still stops cleanly on SIGTERM (a file that is not UTF-8 once ended its
    main loop, leaving only SIGKILL)."""
    with running_daemon(tmp_path / "data", config_text="") as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        daemon.config_path.write_bytes(bad)
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: "config_reload_failed" in daemon.log_text(),
            what="the reload failure to be logged",
        )
        assert mmi_service(daemon.endpoint, f"{hostname()}.echo".encode()) == b"200"
        assert daemon.terminate(timeout_s=15) == 0
        assert "Traceback" not in daemon.log_text()


def test_sighup_starts_device_services_enabled_in_the_new_config(
    tmp_path: Path,
) -> None:
    """The supervisor reloads on SIGHUP and restarts only what changed."""
    with running_daemon(tmp_path / "data", config_text="") as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        service = f"{hostname()}.fake.devices".encode()
        assert mmi_service(daemon.endpoint, service) == b"404"
        daemon.config_path.write_text("[devices]\nfake_enabled = true\n")
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: mmi_service(daemon.endpoint, service) == b"200",
            what="the fake device service after SIGHUP",
            timeout_s=10,
        )
        # logged once the reload is over, which may be after the new service is up
        wait_until(
            lambda: "config_reloaded" in daemon.log_text(),
            what="the reload logged",
        )


def test_bad_device_config_exits_2_naming_file_device_and_field(tmp_path: Path) -> None:
    """Bad input in the config: one message naming where, exit 2, nothing created."""
    config = tmp_path / "raspy.toml"
    config.write_text(
        '[devices]\nfake_enabled = true\nfake = [{name = "x", oid = "nope"}]\n',
        encoding="utf-8",
    )
    result = _raspyd(
        "--data-dir", str(tmp_path / "d"), "--allow-root", "--config", str(config)
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"raspyd: {config}: devices.fake: device 'x': oid:")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "store",
    ["[store]\ncoalesce_interval_s = 0\n", ""],
    ids=["every_reading_stored", "readings_not_stored_yet"],
)
def test_a_device_removed_from_the_config_leaves_the_tree(
    tmp_path: Path, store: str
) -> None:
    """Its readings stayed with status "ok" for ever (and retained on MQTT), so a
    scenario read a fresh-looking value from a device that was gone. By default a
    reading reaches the store within a minute: the live tree is what counts."""
    devices = store + (
        "[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "hall"\noid = "sensor.temperature"\n'
    )
    cellar = '[[devices.fake]]\nname = "cellar"\noid = "sensor.temperature"\n'
    prefix = f"/device/{hostname()}.fake.".encode()
    with running_daemon(tmp_path / "data", config_text=devices + cellar) as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        with CloneClient(daemon.endpoint, prefix) as tree:
            tree.wait_synced(10)
            wait_until(
                lambda: (
                    tree.get(prefix + b"cellar/status") == b'"ok"'
                    and tree.get(prefix + b"hall/status") == b'"ok"'
                ),
                what="both readings",
            )
            daemon.config_path.write_text(devices)
            daemon.process.send_signal(signal.SIGHUP)
            wait_until(  # one batch of deletes, seen one key after another
                lambda: (
                    tree.get(prefix + b"cellar/status") is None
                    and tree.get(prefix + b"cellar/value") is None
                ),
                what="the cellar's keys deleted",
                timeout_s=10,
            )
            assert tree.get(prefix + b"hall/status") == b'"ok"'
        wait_until(  # logged after the deletes are published
            lambda: "device_readings_forgotten" in daemon.log_text(),
            what="the forgotten readings logged",
        )


def test_a_simulated_output_keeps_its_value_across_a_devices_reload(
    tmp_path: Path,
) -> None:
    """The hall dimmer went back to 0 whenever anything under [devices] changed
    (GPIO outputs keep theirs: initial = restore)."""
    devices = (
        "[store]\ncoalesce_interval_s = 0\n[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "hall"\noid = "dimmer"\npoll_interval_s = 0.2\n'
    )
    value = f"/device/{hostname()}.fake.hall/value".encode()
    stamp = f"/device/{hostname()}.fake.hall/timestamp".encode()
    with running_daemon(tmp_path / "data", config_text=devices) as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        with Client(daemon.endpoint, timeout_s=5, retries=1) as client:
            body = json.dumps({"v": 1, "action": "set", "device": "hall", "value": 40})
            service = f"{hostname()}.fake.devices"
            assert client.request(service, body)[0] == b"200"
        with CloneClient(daemon.endpoint, value.rsplit(b"/", 1)[0]) as tree:
            seen: list[bytes] = []
            tree.on_change(lambda change: seen.append(change.body))
            tree.wait_synced(10)
            wait_until(lambda: tree.get(value) == b"40", what="the hall at 40")
            seen.clear()  # from here on
            daemon.config_path.write_text(
                devices + '[[devices.fake]]\nname = "porch"\noid = "switch"\n'
            )
            daemon.process.send_signal(signal.SIGHUP)
            wait_until(
                lambda: (
                    "device_service_started" in daemon.log_text()
                    and daemon.log_text().count("device_service_started") >= 2
                ),
                what="the fake service started again",
                timeout_s=10,
            )
            before = tree.get(stamp)
            wait_until(  # a reading of the new service, polled every 0.2 s
                lambda: tree.get(stamp) != before, what="a new reading of the hall"
            )
            assert tree.get(value) == b"40"
            assert b"0" not in seen  # not even for a moment


@pytest.mark.timeout(60)
def test_a_burst_of_sighups_leaves_raspyd_reloading_and_stopping(
    tmp_path: Path,
) -> None:
    """The SIGHUP handler logged and set an Event; one signal landing inside another
    handler (or a log call) waited for itself for ever: no reload, no log, no stop."""
    with running_daemon(tmp_path / "data") as daemon:
        assert daemon.process is not None
        for _ in range(2000):
            daemon.process.send_signal(signal.SIGHUP)

        def reloads() -> int:
            return daemon.log_text().count('"config_reloaded"')

        wait_until(reloads, what="a reload after the burst", timeout_s=20)
        before = reloads()
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads() > before, what="one more reload", timeout_s=20)
        assert daemon.terminate(timeout_s=20) == 0


@pytest.mark.parametrize("how", ["sighup", "restart"])
def test_a_device_service_turned_off_takes_its_readings_out_of_the_tree(
    tmp_path: Path, how: str
) -> None:
    """Every device of a service turned off is gone: its readings stayed, marked
    offline, on every page and in Home Assistant for ever."""
    on = (
        "[store]\ncoalesce_interval_s = 0\n[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "hall"\noid = "sensor.temperature"\n'
    )
    off = "[store]\ncoalesce_interval_s = 0\n"
    prefix = f"/device/{hostname()}.fake.".encode()
    with running_daemon(tmp_path / "data", config_text=on) as daemon:
        assert daemon.config_path is not None
        assert daemon.process is not None
        with CloneClient(daemon.endpoint, prefix) as tree:
            tree.wait_synced(10)
            wait_until(
                lambda: tree.get(prefix + b"hall/status") == b'"ok"',
                what="the hall's reading",
            )
            if how == "sighup":
                daemon.config_path.write_text(off)
                daemon.process.send_signal(signal.SIGHUP)
                wait_until(
                    lambda: tree.items(prefix) == [],
                    what="the hall's keys deleted",
                    timeout_s=10,
                )
    if how == "restart":
        with (
            running_daemon(tmp_path / "data", config_text=off) as daemon,
            CloneClient(daemon.endpoint, prefix) as tree,
        ):
            tree.wait_synced(10)
            wait_until(
                lambda: tree.items(prefix) == [],
                what="the hall's keys deleted",
                timeout_s=10,
            )
