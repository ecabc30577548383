"""Every failure a user can cause on a CLI: one line on stderr naming what is wrong,
the status of the CLI contract (2 usage, 1 runtime, 130 Ctrl-C), no traceback, no
hang. Real processes; Ctrl-C is a real SIGINT while the command waits."""

from __future__ import annotations

import os
import resource
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq
from support.daemon import Daemon, hostname, running_daemon
from support.net import free_port_base
from support.wait import wait_until

from raspy import packing
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import SCHEMA_VERSION_KEY

_MODULES = {
    "raspyd": "raspy.cli.raspyd",
    "raspy": "raspy.cli.raspy",
    "raspy-kv": "raspy.cli.kv",
    "raspy-poller": "raspy.cli.poller",
}


def _command(tool: str, *args: str) -> list[str]:
    return [sys.executable, "-m", _MODULES[tool], *args]


def _assert_one_line(stderr: str, tool: str, *, containing: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"{tool}"), lines[0]
    assert containing in lines[0]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(tool, *args), capture_output=True, text=True, timeout=30, check=False
    )


UNREACHABLE = f"tcp://127.0.0.1:{free_port_base()}"
FREE_BASE = str(free_port_base())  # not the default 5514: a hub may run here
KV_UNREACHABLE = UNREACHABLE.removeprefix("tcp://")

# (tool, arguments, status, what the line says); {tmp} is the test's folder
TABLE = [
    # bad endpoint
    ("raspy", ["call", "x.echo", "--server", "127.0.0.1"], 2, "tcp://HOST:PORT"),
    ("raspy", ["status", "--server", "tcp://127.0.0.1:99999"], 2, "PORT 1..65535"),
    ("raspy-kv", ["ls", "--server", "nowhere"], 2, "HOST:PORT-BASE"),
    ("raspy-kv", ["get", "/a", "--server", "nowhere"], 2, "HOST:PORT-BASE"),
    ("raspy-kv", ["set", "/a", "1", "--server", "nowhere"], 2, "HOST:PORT-BASE"),
    ("raspy-kv", ["del", "/a", "--server", "nowhere"], 2, "HOST:PORT-BASE"),
    # a host name in bytes that are not UTF-8 (a shell passes them as they are):
    # before, `raspy call` hung in its context's term() and raspy-poller died
    ("raspy", ["call", "x.echo", "--server", "tcp://h\udcff:5514"], 2, "ASCII host"),
    ("raspy", ["status", "--server", "tcp://h\udcff:5514"], 2, "ASCII host"),
    ("raspy-kv", ["ls", "--server", "h\udcff:5514"], 2, "--server: expected"),
    (
        "raspy-poller",
        ["--connect", "tcp://h\udcff:5514", "--service", "fake"],
        2,
        "ASCII host",
    ),
    (
        "raspy-poller",
        ["--connect", "127.0.0.1", "--service", "fake"],
        2,
        "tcp://HOST:PORT-BASE",
    ),
    # looks like HOST:PORT but ZeroMQ refuses it: before, raspy-poller's line was
    # "internal error: ZMQError" with status 70
    ("raspy-poller", ["--connect", "tcp://-:5514", "--service", "fake"], 2, "'tcp://-"),
    ("raspy", ["status", "--server", "tcp://-:5514"], 2, "'tcp://-:5514'"),
    ("raspy", ["history", "/a", "--server", "tcp://-:5514"], 2, "'tcp://-:5514'"),
    ("raspy", ["scenario", "list", "--server", "tcp://-:5514"], 2, "'tcp://-:5514'"),
    (
        "raspyd",
        ["--data-dir", "{tmp}/d", "--bind", "192.0.2.1", "--allow-root"],
        2,
        "--bind 192.0.2.1: not one of this machine's addresses",
    ),
    # unreachable server
    (
        "raspy",
        [
            "call",
            "x.echo",
            "--server",
            UNREACHABLE,
            "--timeout",
            "0.2",
            "--retries",
            "2",
        ],
        1,
        "no reply",
    ),
    ("raspy", ["status", "--server", UNREACHABLE, "--timeout", "0.2"], 1, "no reply"),
    # a service name as it was given: before, '\xc3\xbcn\xc3\xaf' first, then 'ünï'
    (
        "raspy",
        ["call", "ünï", "--server", UNREACHABLE, "--timeout", "0.2", "--retries", "1"],
        1,
        "whether a worker offers 'ünï'",
    ),
    ("raspy-kv", ["ls", "--server", KV_UNREACHABLE, "--timeout", "0.2"], 1, "no snap"),
    ("raspy-kv", ["get", "/a", "--server", KV_UNREACHABLE, "--timeout", "0.2"], 1, ""),
    # arguments in bytes that are not UTF-8: said so, near the bytes (before, the
    # line was Python's "'utf-8' codec can't encode character '\udcff'")
    ("raspy", ["call", "x.echo", "a\udcffb"], 2, 'not UTF-8 text (near "a?b")'),
    # near the argument, not the JSON request built of it (`near "show\", \"na…`)
    ("raspy", ["scenario", "show", "a\udcff"], 2, 'not UTF-8 text (near "a?")'),
    # refused before it is sent: the JSON escape `\udcff` named no device (exit 2)
    (
        "raspy",
        ["device", "vm.fake.\udcff", "get", "--server", UNREACHABLE, "--timeout", "5"],
        2,
        'not UTF-8 text (near "vm.fake.?")',
    ),
    (
        "raspy",
        ["device", "vm.fake.a", "level", "\udcff", "--server", UNREACHABLE],
        2,
        'not UTF-8 text (near "?")',
    ),
    (
        "raspy",
        ["history", "vm.fake.\udcff", "--server", UNREACHABLE, "--timeout", "5"],
        2,
        'not UTF-8 text (near "vm.fake.?")',
    ),
    # raspy-kv's KEY and SUBTREE are the bytes the shell gave (README), so this one
    # goes to the hub, b"/a\xff" as its subtree
    (
        "raspy-kv",
        ["ls", "/a\udcff", "--server", KV_UNREACHABLE, "--timeout", "0.2"],
        1,
        "no snap",
    ),
    # bad input and bad files
    ("raspy", ["keys", "{tmp}/a-file", "hub"], 2, "a-file: not a directory"),
    (
        "raspy",
        ["web-token", "--data-dir", "{tmp}/a-file"],
        2,
        "a-file: not a directory",
    ),
    ("raspy", ["call"], 2, "SERVICE is required"),
    ("raspy", ["call", "x", "--timeout", "ten"], 2, 'got "ten"'),
    (
        "raspy",
        ["call", "x", "--server-key", "{tmp}/no.key", "--client-cert", "{tmp}/no.ks"],
        2,
        "no.key",
    ),
    ("raspyd", ["--config", "{tmp}/missing.toml"], 2, "cannot read config"),
    ("raspyd", ["--check-config", "{tmp}/missing.toml"], 2, "cannot read config"),
    (
        "raspyd",
        ["--data-dir", "/proc/no/such", "--allow-root", "--port-base", FREE_BASE],
        2,
        "data dir",
    ),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--config", "{tmp}/no.toml"],
        2,
        "cannot read config",
    ),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--data-dir", "{tmp}/a-file"],
        2,
        "a-file",
    ),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--data-dir", "/proc/no/such"],
        2,
        "data dir",
    ),
    ("raspy-kv", ["restore", "--data-dir", "{tmp}/d", "{tmp}/no.dump"], 2, "no.dump"),
    (
        "raspy-kv",
        ["restore", "--config", "{tmp}/no.toml", "--data-dir", "{tmp}/d", "{tmp}/x"],
        2,
        "cannot read config",
    ),
    ("raspy-kv", ["dump", "--data-dir", "{tmp}/nothing"], 2, "no store"),
    ("raspy-kv", ["check", "--data-dir", "/dev/null"], 2, "/dev/null is not a folder"),
]


def _id_args(args: list[str]) -> str:
    """The same test ids in every run (pytest-xdist's workers must agree on them):
    the free port chosen at import time is left out."""
    return "-".join(
        arg.replace(UNREACHABLE, "UNREACHABLE")
        .encode("ascii", "backslashreplace")
        .decode()
        for arg in args[:2]
    )


@pytest.mark.parametrize(
    ("tool", "args", "status", "says"),
    TABLE,
    ids=[f"{row[0]}-{_id_args(row[1])}-{n}" for n, row in enumerate(TABLE)],
)
def test_a_bad_input_gives_one_line_and_the_contract_status(
    tmp_path: Path, tool: str, args: list[str], status: int, says: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    result = _run(tool, *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert result.returncode == status, result.stderr
    _assert_one_line(result.stderr, tool, containing=says)


def test_raspyd_on_a_taken_port_says_so_and_exits_1(tmp_path: Path) -> None:
    base = free_port_base()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 2))
        taken.listen()
        result = _run(
            "raspyd", "--data-dir", str(tmp_path / "d"), "--port-base", str(base),
            "--allow-root",
        )  # fmt: skip
    assert result.returncode == 1
    _assert_one_line(
        result.stderr,
        "raspyd",
        containing=f"cannot listen on tcp://127.0.0.1:{base + 2}: Address already in use"
        " (--port-base N moves all of raspyd's ports)",
    )


def test_raspyd_on_a_data_dir_whose_name_is_not_utf8_gives_one_line(
    tmp_path: Path,
) -> None:
    """Before, LMDB's UnicodeEncodeError reached the user as a traceback (exit 1),
    then as an internal error (70), after it had made the directory. It is bad
    input: one line naming the data dir, exit 2, nothing made."""
    data_dir = os.fsdecode(os.fsencode(tmp_path) + b"/d\xff")
    result = _run(
        "raspyd", "--data-dir", data_dir, "--port-base", str(free_port_base()),
        "--allow-root", "--log-level", "error",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    _assert_one_line(result.stderr, "raspyd", containing="the name is not UTF-8 text")
    assert list(tmp_path.iterdir()) == []


def test_raspyd_on_a_newer_raspys_store_says_so_not_that_it_is_damaged(
    tmp_path: Path,
) -> None:
    """A downgrade past a schema change: raspyd's check of every record took the
    newer version stamp for damage (`meta record 'schema_version' is unreadable`,
    advising a restore or moving the data dir aside). It is one line saying a newer
    raspy wrote it, and the file is left as it was."""
    data_dir = tmp_path / "d"
    with Store.open(data_dir) as store:
        store.commit([Put(Table.META, SCHEMA_VERSION_KEY, packing.pack(7))])
    before = (data_dir / "data.mdb").read_bytes()
    result = _run(
        "raspyd", "--data-dir", str(data_dir), "--port-base", str(free_port_base()),
        "--allow-root", "--log-level", "error",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"raspyd: {data_dir}: store schema version 7 is newer than this raspy "
        "supports (2); upgrade raspy, or restore a dump of schema 2 or older (one "
        "taken before the upgrade) into a new data dir\n"
    )
    assert (data_dir / "data.mdb").read_bytes() == before


@pytest.mark.parametrize(
    ("service", "devices", "says"),
    [
        ("fake", '[[devices.fake]]\nname = "attic"\noid = "nope"\n', "devices.fake:"),
        ("onewire", '[[devices.onewire]]\nname = "attic"\n', "devices.onewire:"),
        (
            "onewire",
            "onewire_poll_interval_s = 0.0\n",
            "devices.onewire_poll_interval_s:",
        ),
    ],
    ids=["fake-device", "onewire-device", "onewire-interval"],
)
def test_a_bad_device_in_the_boards_config_names_the_file(
    tmp_path: Path, service: str, devices: str, says: str
) -> None:
    """Every other problem of raspy-poller's config named the file
    (`<file>: section.key: ...`); one in a device entry did not."""
    config = tmp_path / "board.toml"
    config.write_text(f"[devices]\n{devices}", encoding="utf-8")
    result = _run(
        "raspy-poller",
        *("--connect", UNREACHABLE, "--service", service, "--config", str(config)),
    )
    assert result.returncode == 2, result.stderr
    _assert_one_line(result.stderr, "raspy-poller", containing=says)
    assert result.stderr.startswith(f"raspy-poller: {config}: {says}"), result.stderr


@pytest.mark.parametrize("tool", ["raspy", "raspyd", "raspy-kv", "raspy-poller"])
def test_every_cli_has_version(tool: str) -> None:
    result = _run(tool, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"{tool} 0.")


@contextmanager
def _silent_router(endpoint: str) -> Iterator[zmq.Socket[bytes]]:
    """A server that takes requests and never answers."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    try:
        yield sock
    finally:
        sock.close(linger=0)
        context.term()


def _interrupt(process: subprocess.Popen[str], waiting: Callable[[], bool]) -> str:
    """SIGINT once the process waits; return its stderr; it must end at once."""

    def waiting_or_ended() -> bool:
        if process.poll() is not None:  # ended before it waited: say how
            _, early = process.communicate(timeout=5)
            raise AssertionError(f"exited {process.returncode} first: {early!r}")
        return waiting()

    try:
        wait_until(waiting_or_ended, what="the command to wait", timeout_s=60)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=5)
    finally:
        process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    return stderr


def _connected_to(port: int) -> bool:
    """Is some TCP connection to 127.0.0.1:`port` established (kernel's view)?"""
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    return any(
        fields[2] == wanted and fields[3] == "01"
        for fields in (line.split() for line in lines)
    )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One raspyd for the Ctrl-C tests: each leaves it running (a SIGSTOP is always
    followed by a SIGCONT), and what one queued concerns no other."""
    with running_daemon(tmp_path_factory.mktemp("hub") / "data") as daemon:
        yield daemon


@pytest.mark.timeout(120)  # a daemon to start, then up to 60 s for the command to wait
@pytest.mark.parametrize(
    "args",
    [["ls"], ["get", "/a"], ["set", "/a", "1"], ["del", "/a"]],
    ids=lambda args: args[0],
)
def test_ctrl_c_while_raspy_kv_waits_exits_130(hub: Daemon, args: list[str]) -> None:
    """The hub hangs (SIGSTOP): its ports still accept, nothing answers."""
    assert hub.process is not None
    base = hub.port_base
    hub.process.send_signal(signal.SIGSTOP)
    try:
        process = subprocess.Popen(
            _command(
                "raspy-kv",
                *args,
                "--server",
                f"127.0.0.1:{base}",
                "--timeout",
                "60",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr = _interrupt(
            process,
            lambda: (
                process.poll() is not None
                or any(_connected_to(base + n) for n in (1, 2, 3))
            ),
        )
    finally:
        hub.process.send_signal(signal.SIGCONT)
    assert process.returncode == 130
    _assert_one_line(stderr, "raspy-kv", containing="interrupted")


@pytest.mark.timeout(90)
def test_ctrl_c_while_raspy_call_waits_exits_130() -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    with _silent_router(endpoint) as broker:
        process = subprocess.Popen(
            _command(
                "raspy", "call", "x.echo", "hi", "--server", endpoint, "--timeout", "60"
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stderr = _interrupt(process, lambda: bool(broker.poll(10)))
    assert process.returncode == 130
    _assert_one_line(stderr, "raspy", containing="interrupted")


@pytest.mark.timeout(120)
def test_ctrl_c_while_raspy_call_titanic_waits_shows_the_uuid(hub: Daemon) -> None:
    assert hub.process is not None
    process = subprocess.Popen(
        _command(
            "raspy",
            "call",
            "--titanic",
            "nobody.here",
            "hi",
            "--server",
            hub.endpoint,
            "--wait",
            "60",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first: list[str] = []

    def stored() -> bool:
        assert process.stderr is not None
        first.append(process.stderr.readline())
        return "stored as Titanic request" in first[-1]

    stderr = _interrupt(process, stored)
    assert process.returncode == 130
    uuid = first[-1].strip().rsplit(" ", 1)[-1]
    assert len(uuid) == 32
    assert first[0] == (  # Titanic keeps it for the worker to come: only said
        "raspy call: no worker offers nobody.here now; Titanic keeps the request "
        "until one does\n"
    )
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [
        f"raspy call: interrupted; request {uuid} stays queued "
        f"(ask again: raspy call titanic.reply {uuid})"
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("raspy", ["call", "{echo}", "a", "b", "c"]),
        ("raspy", ["status"]),
        ("raspy", ["scenario", "list"]),
        ("raspy-kv", ["ls"]),
    ],
    ids=["call", "status", "scenario-list", "kv-ls"],
)
def test_a_reader_that_left_gives_no_traceback(
    hub: Daemon, tool: str, args: list[str]
) -> None:
    """`raspy call … | head -1`: the pipe is closed before the command writes."""
    server = hub.endpoint if tool == "raspy" else f"127.0.0.1:{hub.port_base}"
    echo = f"{hostname()}.echo"
    command = _command(
        tool, *(a.replace("{echo}", echo) for a in args), "--server", server
    )
    assert _reader_gone(command) == (1, "")


def _within(limit_bytes: int) -> Callable[[], None]:
    """A child's address space at most `limit_bytes`: reading a file whole that has
    no end (/dev/zero) fails at once (MemoryError) instead of filling the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return limit


@pytest.mark.parametrize(
    ("tool", "args", "status", "says"),
    [
        # before: read whole, an internal error (70) at the memory limit
        ("raspyd", ["--check-config", "/dev/zero"], 2, "/dev/zero: larger than"),
        (
            "raspy-poller",
            ["--connect", UNREACHABLE, "--service", "fake", "--config", "/dev/zero"],
            2,
            "/dev/zero: larger than",
        ),
        (
            "raspy-kv",
            ["restore", "--data-dir", "{tmp}/d", "/dev/zero"],
            1,
            "/dev/zero line 1: longer than",
        ),
        (
            "raspy-kv",
            ["restore", "--config", "/dev/zero", "--data-dir", "{tmp}/d", "{tmp}/x"],
            2,
            "/dev/zero: larger than",
        ),
    ],
    ids=["raspyd-check-config", "poller-config", "kv-restore", "kv-restore-config"],
)
def test_a_file_without_end_is_refused_not_read_whole(
    tmp_path: Path, tool: str, args: list[str], status: int, says: str
) -> None:
    result = subprocess.run(
        _command(tool, *(arg.replace("{tmp}", str(tmp_path)) for arg in args)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_within(1 << 30),
    )
    assert result.returncode == status, result.stderr
    _assert_one_line(result.stderr, tool, containing=says)
    assert not (tmp_path / "d").exists()  # nothing made


@pytest.mark.parametrize(
    "args",
    [
        ["raspyd", "--print-config"],
        ["raspyd", "--print-config", "--markdown"],
        ["raspyd", "--check-config", "{tmp}/ok.toml"],
        ["raspy", "web-token", "--data-dir", "{tmp}/d"],
    ],
    ids=["print-config", "markdown", "check-config", "web-token"],
)
def test_a_reader_that_left_before_the_first_line_gives_status_1(
    tmp_path: Path, args: list[str]
) -> None:
    """`raspyd --print-config | head`, the reader gone: before, raspyd's line was
    `internal error: BrokenPipeError` (70); `raspy web-token` stored the hash of a
    token nobody saw, so the token that worked stopped working."""
    (tmp_path / "ok.toml").write_text("log_level = 'info'\n", encoding="utf-8")
    command = _command(
        args[0], *(arg.replace("{tmp}", str(tmp_path)) for arg in args[1:])
    )
    assert _reader_gone(command) == (1, "")
    assert not (tmp_path / "d").exists()


def _reader_gone(command: list[str]) -> tuple[int, str]:
    """The status and stderr of `command` whose reader leaves before the first
    line (`… | head -1`, the pipe closed before it writes)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.close()
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, stderr


def test_a_web_password_that_is_not_utf8_is_refused_and_never_shown(
    tmp_path: Path,
) -> None:
    """Before, the line said `an argument is not UTF-8 text (near "??hunter2-secret")`:
    no argument was wrong, and part of the password went to the terminal or log."""
    result = subprocess.run(
        _command("raspy", "web-password", str(tmp_path / "hash")),
        input=b"\xff\xfehunter2-secret\n",
        capture_output=True,
        timeout=30,
        check=False,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert stderr == "raspy web-password: the password is not UTF-8 text\n"
    assert not (tmp_path / "hash").exists()


@pytest.mark.timeout(120)
def test_scenario_export_into_a_pipe_writes_into_it(
    hub: Daemon, tmp_path: Path
) -> None:
    """`-o /dev/stdout`, `-o` a named pipe: before, the temp file was renamed over
    it (as root, over a device node: /dev/full became a regular file)."""
    source = tmp_path / "pipe-trial.yaml"
    source.write_text(
        "name: pipe-trial\ntriggers:\n  - event: /event/pipe-trial\n"
        "actions:\n  - log: hello\n",
        encoding="utf-8",
    )
    imported = _run(
        "raspy", "scenario", "import", str(source), "--server", hub.endpoint
    )
    assert imported.returncode == 0, imported.stderr
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # the writer's open won't wait
    try:
        result = _run(
            "raspy", "scenario", "export", "pipe-trial", "-o", str(pipe),
            "--server", hub.endpoint,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert stat.S_ISFIFO(pipe.lstat().st_mode)
        assert os.read(reader, 65536) == source.read_bytes()
    finally:
        os.close(reader)


@pytest.mark.parametrize(
    ("output", "says"),
    [("{tmp}", "Is a directory"), ("{tmp}/no/such", "No such file or directory")],
    ids=["a-directory", "no-folder"],
)
def test_raspy_kv_dump_to_a_file_named_wrong_is_bad_input(
    tmp_path: Path, output: str, says: str
) -> None:
    """As `raspy scenario export -o` says it: status 2 (before, 1, as a store that
    could not be read); a write that fails on the way (a full disk) stays 1."""
    with Store.open(tmp_path / "d"):
        pass
    target = output.replace("{tmp}", str(tmp_path))
    result = _run("raspy-kv", "dump", "--data-dir", str(tmp_path / "d"), "-o", target)
    assert result.returncode == 2, result.stderr
    _assert_one_line(result.stderr, "raspy-kv", containing=f"{target}: {says}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_raspyd_names_its_file_on_every_line_of_a_config_it_cannot_start_with(
    tmp_path: Path,
) -> None:
    """At the start, as with --check-config: every problem that only the services see
    (two bad devices here) on its own line, each naming the file; only the first named
    it when they were joined into one line."""
    config = tmp_path / "raspyd.toml"
    config.write_text(
        "[devices]\nfake_enabled = true\n"
        'fake = [{name = "lamp", oid = "nosuch"}, {name = "fan", oid = "nosuch2"}]\n',
        encoding="utf-8",
    )
    result = _run("raspyd", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) >= 2, result.stderr
    assert all(line.startswith(f"raspyd: {config}: ") for line in lines), lines
