"""raspyd and raspy-poller under systemd's contract: READY, WATCHDOG, STOPPING on a
real datagram socket from the real processes; the shipped unit files (raspyd, the daily
backup's service and timer, raspy-poller's) pass `systemd-analyze verify`."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon
from support.net import free_port_base
from support.unit_sandbox import allowed_syscalls

import raspy
from raspy import config
from raspy.storage.store import Store

DEFAULTS = Path(raspy.__file__).parent / "defaults"
UNIT = DEFAULTS / "raspyd.service"
BACKUP_UNIT = DEFAULTS / "raspy-backup.service"
BACKUP_TIMER = DEFAULTS / "raspy-backup.timer"
POLLER_UNIT = DEFAULTS / "raspy-poller.service"
POLLER_ENV = DEFAULTS / "raspy-poller.env"
POLLER_TOML = DEFAULTS / "raspy-poller.toml"
GPIO_DROP_IN = DEFAULTS / "raspyd-gpio.conf"


def _receive_until(server: socket.socket, wanted: bytes, seen: list[bytes]) -> None:
    """Collect datagrams until one holds the line `wanted` (bounded by the timeout)."""
    while not any(wanted in message.split(b"\n") for message in seen):
        seen.append(server.recv(4096))


@pytest.fixture(params=["path", "abstract"])
def notify_socket(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[socket.socket, str]]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.settimeout(20)
    if request.param == "path":
        name = str(tmp_path / "notify")
        server.bind(name)
    else:
        name = f"@raspy-test-{uuid.uuid4().hex}"
        server.bind(b"\0" + name[1:].encode())
    try:
        yield server, name
    finally:
        server.close()


def _notifies_ready_watchdog_and_stopping(
    command: list[str],
    log_path: Path,
    notify_socket: tuple[socket.socket, str],
    status: bytes,
) -> None:
    """`command` as a process under systemd's notify contract (watchdog every
    0.2 s): READY with its MAINPID and a STATUS starting with `status`, then
    WATCHDOG pings while it works, then STOPPING and exit 0 at SIGTERM."""
    server, name = notify_socket
    env = {**os.environ, "NOTIFY_SOCKET": name, "WATCHDOG_USEC": "400000"}
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=env
        )
    try:
        seen: list[bytes] = []
        _receive_until(server, b"READY=1", seen)
        ready = next(m for m in seen if b"READY=1" in m.split(b"\n"))
        assert f"MAINPID={proc.pid}".encode() in ready.split(b"\n")
        assert b"STATUS=" + status in ready
        for _ in range(2):  # it keeps pinging while it works
            start = len(seen)
            while b"WATCHDOG=1" not in seen[start:]:
                seen.append(server.recv(4096))
        proc.send_signal(signal.SIGTERM)
        _receive_until(server, b"STOPPING=1", seen)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_raspyd_sends_ready_watchdog_and_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    daemon = Daemon(tmp_path / "data")
    _notifies_ready_watchdog_and_stopping(
        daemon.args(), daemon.log_path, notify_socket, b"serving on tcp://127.0.0.1:"
    )


def test_raspyd_asks_for_more_start_time_while_it_checks_the_store(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    """The store's page walk and record check run before READY: raspyd pushes
    systemd's start timeout back as they go (a big store takes seconds on a Pi),
    at once and then at most every 10 s, so at least once before READY."""
    server, name = notify_socket
    Store.open(tmp_path / "data").close()  # a store there (a new one has no pages)
    daemon = Daemon(tmp_path / "data")
    env = {**os.environ, "NOTIFY_SOCKET": name}
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            daemon.args(), stdout=log_file, stderr=subprocess.STDOUT, env=env
        )
    try:
        seen: list[bytes] = []
        _receive_until(server, b"READY=1", seen)
        extend = b"EXTEND_TIMEOUT_USEC=70000000\nSTATUS=starting: checking the store"
        assert seen[0] == extend, seen
        # once the store is open, not "checking the store" until READY: the services
        # start and the scenarios compile meanwhile
        moved_on = seen.index(b"STATUS=starting: the services")
        assert all(b"checking the store" not in message for message in seen[moved_on:])
        assert b"READY=1" in seen[-1].split(b"\n")
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_raspy_poller_sends_ready_watchdog_and_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    """raspy-poller.service is Type=notify with a watchdog: READY once it serves
    (here without a hub: a board is not held back by a hub that is away), pings
    while it serves, STOPPING and exit 0 at SIGTERM."""
    command = [
        sys.executable, "-m", "raspy.cli.poller",
        "--connect", f"tcp://127.0.0.1:{free_port_base()}", "--service", "fake",
        "--hostname", "board", "--data-dir", str(tmp_path / "board"),
        "--config", str(POLLER_TOML),
    ]  # fmt: skip
    _notifies_ready_watchdog_and_stopping(
        command,
        tmp_path / "poller.log",
        notify_socket,
        b"serving board.fake.devices for tcp://127.0.0.1:",
    )


_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(
    _ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`verify` warns (exit 0) about unknown keys and bad values: no output at all is
    the bar. ExecStart must exist, so it points at this environment's raspyd, as
    `make install-service` points it at the installed one."""
    assert _ANALYZE is not None
    raspyd = Path(sys.executable).parent / "raspyd"
    unit = tmp_path / "raspyd.service"
    unit.write_text(UNIT.read_text().replace("/opt/raspy/bin/raspyd", str(raspyd)))
    _verified(unit)


@pytest.mark.skipif(
    _ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)
def test_the_unit_with_its_gpio_drop_in_passes_systemd_analyze_verify(
    tmp_path: Path,
) -> None:
    """The drop-in `make install-service` writes on a machine with a gpio group, read
    with the unit as systemd reads it (from raspyd.service.d/ beside it)."""
    assert _ANALYZE is not None
    raspyd = Path(sys.executable).parent / "raspyd"
    unit = tmp_path / "raspyd.service"
    unit.write_text(UNIT.read_text().replace("/opt/raspy/bin/raspyd", str(raspyd)))
    drop_in = tmp_path / "raspyd.service.d" / "gpio.conf"
    drop_in.parent.mkdir()
    drop_in.write_text(GPIO_DROP_IN.read_text() + "NoSuchKey=1\n")
    with pytest.raises(AssertionError, match="NoSuchKey"):
        _verified(unit)  # the drop-in is read: a bad key in it is named
    drop_in.write_text(GPIO_DROP_IN.read_text())
    _verified(unit)


def _verified(*units: Path) -> None:
    """`systemd-analyze verify` has nothing to say of `units`: no output at all."""
    assert _ANALYZE is not None
    result = subprocess.run(
        [_ANALYZE, "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.skipif(
    _ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)
def test_the_backup_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """As raspyd's unit: no output at all; the timer is checked with its service."""
    assert _ANALYZE is not None
    raspy_kv = Path(sys.executable).parent / "raspy-kv"
    service = tmp_path / BACKUP_UNIT.name
    service.write_text(
        BACKUP_UNIT.read_text().replace("/opt/raspy/bin/raspy-kv", str(raspy_kv))
    )
    timer = tmp_path / BACKUP_TIMER.name
    timer.write_text(BACKUP_TIMER.read_text())
    _verified(service, timer)


def _settings(unit: Path, section: str = "") -> dict[str, list[str]]:
    """key -> values of a unit file's settings; with `section`, only those from the
    comment line that starts with it to the next [section]."""
    lines = unit.read_text().splitlines()
    if section:
        start = next(i for i, line in enumerate(lines) if line.startswith(section))
        lines = lines[start:]
        lines = lines[: next(i for i, line in enumerate(lines) if line[:1] == "[")]
    found: dict[str, list[str]] = {}
    for line in lines:
        if line and line[0] not in "#;[" and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_backup_is_a_oneshot_with_raspyds_hardening_that_writes_only_backups() -> (
    None
):
    backup = _settings(BACKUP_UNIT)
    assert backup["Type"] == ["oneshot"]
    assert backup["User"] == ["raspy"]
    (command,) = backup["ExecStart"]
    assert command.startswith("/opt/raspy/bin/raspy-kv backup --data-dir %S/raspy ")
    # on the card: without the history (the bulk of a store; the write budget)
    assert command.endswith(" --to /var/backups/raspy --keep 7 --no-history")
    # every hardening line of raspyd's unit, the same or (network) narrower
    hardening = _settings(UNIT, "# Hardening:")
    narrower = {
        "RestrictAddressFamilies": ["AF_UNIX"],
        "SystemCallFilter": ["@system-service"],  # it reads no clock health
    }
    for key, values in hardening.items():
        assert backup[key] == narrower.get(key, values), key
    # the store read-only, but LMDB's lock file (a reader's slot: raspy-kv refuses
    # to read beside raspyd without it); the backup dir writable; nothing else
    assert "StateDirectory" not in backup
    assert backup["ReadOnlyPaths"] == ["-%S/raspy"]
    assert backup["ReadWritePaths"] == ["-%S/raspy/lock.mdb", "-/var/backups/raspy"]
    timer = _settings(BACKUP_TIMER)
    assert timer["OnCalendar"] == ["daily"]
    assert timer["Persistent"] == ["true"]
    assert "RandomizedDelaySec" in timer
    assert timer["WantedBy"] == ["timers.target"]


@pytest.mark.skipif(
    _ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)
def test_the_units_let_raspy_read_the_clocks_health() -> None:
    """README, "The clock": raspyd asks the kernel (adjtimex, read-only) every
    clock_health_interval_s. The unit's sandbox took that call away twice: its
    SystemCallFilter= allow-list lacked it (a call not listed ends the process with
    SIGSYS: raspyd was killed at its first look, seconds after each start, until
    start-limit-hit), and ProtectClock= blocks the clock calls altogether, reads
    too (systemd.exec(5)). Setting the clock stays impossible: no capabilities."""
    for unit in (UNIT, POLLER_UNIT):
        settings = _settings(unit, "# Hardening:")
        assert settings.get("ProtectClock", ["no"]) == ["no"], unit.name
        assert settings["CapabilityBoundingSet"] == [""], unit.name  # no CAP_SYS_TIME
        # the devices as closed as ProtectClock= left them (its DeviceAllow=)
        assert settings["DevicePolicy"] == ["closed"], unit.name
        allowed = allowed_syscalls(settings["SystemCallFilter"])
        assert "ioctl" in allowed  # the groups were expanded
        # glibc's adjtimex(): adjtimex, or clock_adjtime(64) on other architectures
        assert {"adjtimex", "clock_adjtime", "clock_adjtime64"} <= allowed, unit.name


# Loads an allow-list as systemd does for SystemCallFilter= (any other call: the
# process is killed), then reads the clock's health as raspyd's clock part does.
_UNDER_FILTER = """
import ctypes, sys
from raspy.clockhealth import _libc, read_kernel
_libc()  # loaded before the filter, as in raspyd long before its first read
seccomp = ctypes.CDLL("libseccomp.so.2")
seccomp.seccomp_init.restype = ctypes.c_void_p
filter = ctypes.c_void_p(seccomp.seccomp_init(ctypes.c_uint32(0x80000000)))
for name in sys.argv[1:]:
    number = seccomp.seccomp_syscall_resolve_name(name.encode())
    if number >= 0:
        seccomp.seccomp_rule_add(filter, ctypes.c_uint32(0x7FFF0000), number, 0)
assert seccomp.seccomp_load(filter) == 0
print(read_kernel().state, flush=True)
"""


def _libseccomp() -> bool:
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    _ANALYZE is None or not _libseccomp(),
    reason="needs systemd-analyze and libseccomp (Debian: apt-get install systemd)",
)
@pytest.mark.timeout(60)
def test_the_clocks_health_is_read_under_the_units_system_call_filter() -> None:
    """The same as above, by the kernel: the unit's allow-list loaded into a process
    that then reads the clock's health. Under the old list it died of SIGSYS."""
    allowed = allowed_syscalls(_settings(UNIT, "# Hardening:")["SystemCallFilter"])
    done = subprocess.run(
        [sys.executable, "-c", _UNDER_FILTER, *sorted(allowed)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    states = {"ok", "insert_leap", "delete_leap", "leap_in_progress", "leap_done"}
    assert done.stdout.strip() in {*states, "error"}  # error: not synchronised


# Refuses socket() for every address family but those given (their numbers), with
# EAFNOSUPPORT, as systemd does for RestrictAddressFamilies=; then tries raspyd's
# ports as its start does, on 127.0.0.1 (the default bind).
_UNDER_FAMILIES = """
import ctypes, sys
from raspy import config
from raspy.cli.bind_check import unbindable

class Compare(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

port_base, data_dir, *allowed = sys.argv[1:]
seccomp = ctypes.CDLL("libseccomp.so.2")
seccomp.seccomp_init.restype = ctypes.c_void_p
filter = ctypes.c_void_p(seccomp.seccomp_init(ctypes.c_uint32(0x7FFF0000)))
refuse = ctypes.c_uint32(0x00050000 | 97)  # SCMP_ACT_ERRNO(EAFNOSUPPORT)
number = seccomp.seccomp_syscall_resolve_name(b"socket")
for family in range(64):
    if str(family) not in allowed:
        compare = (Compare * 1)(Compare(0, 4, family, 0))  # arg 0 == family
        assert seccomp.seccomp_rule_add_array(filter, refuse, number, 1, compare) == 0
assert seccomp.seccomp_load(filter) == 0
cfg = config.load("", "test.toml", data_dir=data_dir, network__port_base=int(port_base))
checked = unbindable(cfg)
print(checked.problem, sorted(checked.addresses), flush=True)
"""


@pytest.mark.skipif(
    not _libseccomp(), reason="needs libseccomp (Debian: apt-get install systemd)"
)
@pytest.mark.timeout(60)
def test_raspyd_binds_its_ports_under_the_units_address_families(
    tmp_path: Path,
) -> None:
    """README, "The daemon": raspyd listens on 127.0.0.1 unless told otherwise.
    ZeroMQ looks a bound address up among the interfaces first (getifaddrs, a
    netlink socket); under the unit's RestrictAddressFamilies= without AF_NETLINK
    that socket is refused, and ZeroMQ aborts the process ("Address family not
    supported by protocol (src/ip_resolver.cpp:…)"): raspyd died at its first
    bind, at every start."""
    families = _settings(UNIT, "# Hardening:")["RestrictAddressFamilies"]
    numbers = [str(int(getattr(socket, name))) for name in families[0].split()]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _UNDER_FAMILIES,
            str(free_port_base()),
            str(tmp_path / "data"),
            *numbers,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "None ['127.0.0.1']"
    # the poller's unit is raspyd's sandbox (test above): its families the same
    assert _settings(POLLER_UNIT, "# Hardening:")["RestrictAddressFamilies"] == (
        families
    )


def test_raspyd_is_started_again_after_any_failing_exit_five_times_in_ten_minutes() -> (
    None
):
    """README, "Running it as a service": systemd starts raspyd again after any
    failing exit, status 2 included (a data dir still held, an address that comes
    late at boot), and gives up after five tries within 10 minutes."""
    unit = _settings(UNIT)
    assert unit["Restart"] == ["on-failure"]
    assert "RestartPreventExitStatus" not in unit
    assert unit["StartLimitBurst"] == ["5"]
    assert unit["StartLimitIntervalSec"] == ["600"]
    # and `systemctl reload raspyd` sends SIGHUP, to the daemon itself
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_the_unit_is_a_hardened_notify_service_with_a_watchdog() -> None:
    lines = set(UNIT.read_text().splitlines())
    assert {
        "Type=notify",
        "WatchdogSec=30s",
        "User=raspy",
        "StateDirectory=raspy",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
    } <= lines


@pytest.mark.skipif(
    _ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)
def test_the_poller_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """As raspyd's unit: no output at all, with this environment's raspy-poller and
    an environment file where `make install-poller` puts the shipped one."""
    assert _ANALYZE is not None
    poller = Path(sys.executable).parent / "raspy-poller"
    env = tmp_path / POLLER_ENV.name
    env.write_text(POLLER_ENV.read_text())
    unit = tmp_path / POLLER_UNIT.name
    unit.write_text(
        POLLER_UNIT.read_text()
        .replace("/opt/raspy/bin/raspy-poller", str(poller))
        .replace("/etc/raspy/raspy-poller.env", str(env))
    )
    _verified(unit)


def test_the_poller_unit_is_raspyds_hardened_notify_service_with_its_own_state() -> (
    None
):
    poller = _settings(POLLER_UNIT)
    assert poller["Type"] == ["notify"]
    assert poller["WatchdogSec"] == ["30s"]
    assert poller["User"] == ["raspy"]
    assert poller["StateDirectory"] == ["raspy-poller"]
    assert poller["Restart"] == ["on-failure"]
    # bad usage or config, or keys the hub refuses: restarting would not help
    assert poller["RestartPreventExitStatus"] == ["2"]
    (command,) = poller["ExecStart"]
    assert command.startswith(
        "/opt/raspy/bin/raspy-poller --connect ${RASPY_HUB} --service ${RASPY_SERVICE} "
    )
    assert " --data-dir %S/raspy-poller " in command
    assert _settings(POLLER_UNIT, "# Hardening:") == _settings(UNIT, "# Hardening:")
    # what the unit reads: the shipped environment file and config are valid
    env = _settings(POLLER_ENV)
    assert env["RASPY_HUB"] == ["tcp://hub.local:5514"]
    assert env["RASPY_SERVICE"] == ["onewire"]
    loaded = config.load(POLLER_TOML.read_text(encoding="utf-8"), str(POLLER_TOML))
    assert loaded.log_format == "json"


def test_each_unit_works_in_a_tmpfs_directory_of_its_own() -> None:
    """lgpio makes its notification pipe (.lgd-nfy*) in the working directory, which
    was `/`, read-only under ProtectSystem=strict: the Pi's pin factory failed. Each
    unit has its runtime directory (/run: a tmpfs, nothing on the card) as its
    working directory, the unit's user's alone (the pipe is mode 0664: another user
    reading it would take the GPIO edges), and names it after itself (a hub and a
    board on one machine do not remove each other's at a stop)."""
    for unit, name in ((UNIT, "raspy"), (POLLER_UNIT, "raspy-poller")):
        settings = _settings(unit)
        assert settings["RuntimeDirectory"] == [name], unit.name
        assert settings["RuntimeDirectoryMode"] == ["0700"], unit.name
        assert settings["WorkingDirectory"] == [f"%t/{name}"], unit.name
        # lgpio chdir()s the whole process to LG_WD when it is set: not wanted
        assert not any("LG_WD" in value for value in settings.get("Environment", []))


def test_the_gpio_drop_in_gives_the_group_and_every_gpiochip() -> None:
    drop_in = _settings(GPIO_DROP_IN)
    assert drop_in == {
        "SupplementaryGroups": ["gpio"],
        "DeviceAllow": ["char-gpiochip rw"],
    }
    assert GPIO_DROP_IN.read_text().splitlines().count("[Service]") == 1


def test_no_unit_asks_to_be_edited() -> None:
    """`make install-service` (and install-poller) write the units anew at every
    upgrade: a setting left commented out for the user to uncomment (as GPIO's were)
    is lost at the next one. A local change is a drop-in: `systemctl edit`."""
    for unit, name in ((UNIT, "raspyd"), (POLLER_UNIT, "raspy-poller")):
        text = unit.read_text()
        assert not re.findall(r"^[#;]\s*[A-Z][A-Za-z]+=", text, re.MULTILINE), name
        assert f"`sudo systemctl edit {name}`" in text, name
