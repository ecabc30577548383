"""Mistakes a user makes on the command line that once did harm or showed an internal
error: an empty path (an unset shell variable), a name too long for a file, stdin
closed, an output FILE that is a pipe, a Ctrl-C while a tool still starts. Each is
one line and status 2 (bad input), or the output written where it was asked for.
Real processes, in a folder of their own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon, running_daemon
from support.net import free_port_base
from support.scenario_daemon import CONFIG as SCENARIO_CONFIG
from support.scenario_daemon import scenarios_up
from support.wait import wait_until

pytestmark = pytest.mark.timeout(90)

_MODULES = {
    "raspyd": "raspy.cli.raspyd",
    "raspy": "raspy.cli.raspy",
    "raspy-kv": "raspy.cli.kv",
    "raspy-poller": "raspy.cli.poller",
}
FREE_BASE = str(free_port_base())
UNREACHABLE = f"tcp://127.0.0.1:{FREE_BASE}"


def _run(
    tool: str, *args: str, cwd: Path, stdin_closed: bool = False, text_in: str = ""
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", _MODULES[tool], *args]
    if stdin_closed:  # as `<&-` in a shell: the tool starts without a file 0
        command = ["sh", "-c", 'exec "$@" <&-', "sh", *command]
    return subprocess.run(
        command,
        input=None if stdin_closed else text_in,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


def _one_line(result: subprocess.CompletedProcess[str], tool: str, says: str) -> None:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(tool), lines[0]
    assert says in lines[0], lines[0]


EMPTY = "expected a path, got an empty one"
# (tool, arguments, what the line says); {tmp} is the test's folder, also the cwd
TABLE = [
    # before: raspyd made a store in the current folder and set it to 0700
    ("raspyd", ["--data-dir", "", "--port-base", FREE_BASE, "--allow-root"], EMPTY),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--data-dir", ""],
        EMPTY,
    ),
    ("raspy-kv", ["restore", "--data-dir", "", "{tmp}/x.dump"], EMPTY),
    # before: raspyd and raspy-poller ran without a config, saying nothing of it
    (
        "raspyd",
        [
            "--config",
            "",
            "--data-dir",
            "{tmp}/d",
            "--port-base",
            FREE_BASE,
            "--allow-root",
        ],
        EMPTY,
    ),
    ("raspyd", ["--check-config", ""], EMPTY),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--config", ""],
        EMPTY,
    ),
    (
        "raspy-kv",
        ["restore", "--config", "", "--data-dir", "{tmp}/d", "{tmp}/x"],
        EMPTY,
    ),
    ("raspy-kv", ["dump", "--data-dir", ""], EMPTY),
    # before: status 70, "internal error: ValueError: PosixPath('.') has an empty name"
    ("raspy-kv", ["dump", "--data-dir", "{tmp}", "-o", ""], EMPTY),
    ("raspy", ["scenario", "export", "--server", UNREACHABLE, "-o", ""], EMPTY),
    ("raspy", ["history", "/a", "--server", UNREACHABLE, "--plot", ""], EMPTY),
    ("raspy", ["web-password", ""], EMPTY),
    # before: the token went to the current folder
    ("raspy", ["web-token", "--data-dir", ""], EMPTY),
    ("raspy", ["keys", "", "hub"], EMPTY),
    # before: status 70, "internal error: OSError: [Errno 36] File name too long"
    ("raspy", ["keys", "{tmp}/keys", "k" * 10_000], "is too long"),
]


@pytest.mark.parametrize(
    ("tool", "args", "says"),
    TABLE,
    ids=[f"{row[0]}-{n}" for n, row in enumerate(TABLE)],
)
def test_an_empty_path_or_a_name_too_long_is_one_line_and_status_2(
    tmp_path: Path, tool: str, args: list[str], says: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    mode = work.stat().st_mode
    result = _run(tool, *(a.replace("{tmp}", str(work)) for a in args), cwd=work)
    assert result.returncode == 2, result.stderr
    _one_line(result, tool, says)
    assert list(work.iterdir()) == []  # nothing made in the current folder
    assert work.stat().st_mode == mode


KV_AT = ["--server", f"127.0.0.1:{FREE_BASE}", "--timeout", "1"]
# (tool, arguments, the line's words from its start after "TOOL: "): a trial's
# mistakes, each said where it is and as it was typed, before any hub is asked
TYPED = [
    # before: set, and `ls` showed the key as 0x-hex
    (
        "raspy-kv",
        ["set", "/t9/a\nb", "1", *KV_AT],
        'set: key "/t9/a\\nb": a control character (U+000A) in it',
    ),
    # U+009B is a terminal's CSI: the line shows it escaped, never as it is
    (
        "raspy-kv",
        ["set", "/t9/\u009b", "1", *KV_AT],
        'set: key "/t9/\\u009b": a control character (U+009B)',
    ),
    # before: key '\xc3\xa4 b' is not /-rooted (the bytes, not what was typed)
    ("raspy-kv", ["ls", "ä b", *KV_AT], 'ls: subtree "ä b" is not /-rooted'),
    ("raspy-kv", ["watch", "ä b", *KV_AT], 'watch: subtree "ä b" is not /-rooted'),
    ("raspy-kv", ["get", "ä b", *KV_AT], 'get: key "ä b" is not /-rooted'),
    ("raspy-kv", ["del", "ä b", *KV_AT], 'del: key "ä b" is not /-rooted'),
    ("raspy-kv", ["set", "ä b", "1", *KV_AT], 'set: key "ä b" is not /-rooted'),
    # before: an empty one was this machine's name, or `.` ("cannot read : Is a
    # directory"), unsaid
    (
        "raspy",
        ["scenario", "show", "x", "--host", "", "--server", UNREACHABLE],
        "scenario show: argument --host: expected a host name, got an empty one",
    ),
    (
        "raspy",
        ["scenario", "--host", "", "list", "--server", UNREACHABLE],
        "scenario: argument --host: expected a host name, got an empty one",
    ),
    (
        "raspy",
        ["history", "/a", "--host", "", "--server", UNREACHABLE],
        "history: argument --host: expected a host name, got an empty one",
    ),
    (
        "raspy",
        ["scenario", "validate", ""],
        "scenario validate: argument FILE: expected a path, got an empty one",
    ),
    (
        "raspy",
        ["scenario", "import", "{tmp}/a.yaml", "", "--server", UNREACHABLE],
        "scenario import: argument FILE: expected a path, got an empty one",
    ),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--hostname", ""],
        "argument --hostname: expected a host name, got an empty one",
    ),
    # before: `<defaults>: hostname: …`, as if a config file said it
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--hostname", "a b"],
        "argument --hostname: expected 1-64 ASCII letters, digits, '_' or '-', "
        'starting with a letter or digit, got "a b"',
    ),
    # before: "cannot listen on tcp://nohost:…: No such device" (ZeroMQ's words)
    (
        "raspyd",
        [
            *("--data-dir", "{tmp}/d", "--port-base", FREE_BASE, "--allow-root"),
            *("--bind", "nohost"),
        ],
        "--bind nohost: not an IP address or interface of this machine",
    ),
    (
        "raspyd",
        [
            *("--data-dir", "{tmp}/d", "--port-base", FREE_BASE, "--allow-root"),
            *("--config", "{tmp}/bind.toml"),
        ],
        "{tmp}/bind.toml: network.bind nohost: not an IP address or interface of "
        "this machine",
    ),
    # ZeroMQ listens on no IPv6 address unless asked to, which raspyd does not
    (
        "raspyd",
        [
            *("--data-dir", "{tmp}/d", "--port-base", FREE_BASE, "--allow-root"),
            *("--bind", "::1"),
        ],
        "--bind ::1: an IPv6 address, which raspyd does not listen on",
    ),
    # before: `<defaults>: network.bind: …`, and an empty one was loopback, unsaid
    (
        "raspyd",
        [
            *("--data-dir", "{tmp}/d", "--port-base", FREE_BASE, "--allow-root"),
            *("--bind", "a b"),
        ],
        'argument --bind: expected an IP address, a host or interface name, or *, got "a b"',
    ),
    (
        "raspyd",
        [
            *("--data-dir", "{tmp}/d", "--port-base", FREE_BASE, "--allow-root"),
            *("--bind", ""),
        ],
        "argument --bind: expected an address, got an empty one",
    ),
    # before: "cannot create data dir …: File exists" ({tmp}/file is a file)
    (
        "raspyd",
        ["--data-dir", "{tmp}/file", "--port-base", FREE_BASE, "--allow-root"],
        "argument --data-dir: {tmp}/file is a file, not a folder",
    ),
    (
        "raspyd",
        ["--config", "{tmp}/file.toml", "--port-base", FREE_BASE, "--allow-root"],
        "{tmp}/file.toml: data_dir: {tmp}/file/d: {tmp}/file is a file, not a folder",
    ),
    (
        "raspy-poller",
        ["--connect", UNREACHABLE, "--service", "fake", "--data-dir", "{tmp}/file"],
        "argument --data-dir: {tmp}/file is a file, not a folder",
    ),
    (
        "raspy-kv",
        ["restore", "--data-dir", "{tmp}/file", "{tmp}/x.dump"],
        "restore: argument --data-dir: {tmp}/file is a file, not a folder",
    ),
]


@pytest.mark.parametrize(
    ("tool", "args", "says"),
    TYPED,
    ids=[f"{row[0]}-{row[1][0]}-{n}" for n, row in enumerate(TYPED)],
)
def test_a_mistake_is_one_line_as_typed_and_status_2(
    tmp_path: Path, tool: str, args: list[str], says: str
) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "file.toml").write_text(f'data_dir = "{tmp_path}/file/d"\n')
    (tmp_path / "bind.toml").write_text('[network]\nbind = "nohost"\n')
    result = _run(
        tool, *(a.replace("{tmp}", str(tmp_path)) for a in args), cwd=tmp_path
    )
    says = says.replace("{tmp}", str(tmp_path))
    assert result.returncode == 2, result.stderr
    _one_line(result, tool, says)
    # `raspy-kv: …`, or the sub-command's own head: `raspy scenario show: …`
    assert result.stderr.startswith((f"{tool}: {says}", f"{tool} {says}"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["web-password", "{tmp}/hash"], "web-password: stdin is closed"),
        (
            ["restore", "--data-dir", "{tmp}/d", "-"],
            "restore: stdin (FILE -) is closed",
        ),
    ],
    ids=["web-password", "kv-restore"],
)
def test_a_closed_stdin_is_one_line_and_status_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    """Before: status 70, "internal error: AttributeError: 'NoneType' object has no
    attribute 'isatty'" (and 'buffer'): Python leaves sys.stdin None then."""
    tool = "raspy-kv" if args[0] == "restore" else "raspy"
    result = _run(
        tool,
        *(a.replace("{tmp}", str(tmp_path)) for a in args),
        cwd=tmp_path,
        stdin_closed=True,
    )
    assert result.returncode == 2, result.stderr
    _one_line(result, tool, says)
    assert list(tmp_path.iterdir()) == []


def test_web_password_into_a_pipe_writes_into_it(tmp_path: Path) -> None:
    """Before, the hash file was renamed over FILE: a named pipe became a regular
    file, and as root `raspy web-password /dev/full` put a file in place of the
    device node. Like `-o` and `--plot`, a pipe or a device is written into."""
    pipe = tmp_path / "hash"
    os.mkfifo(pipe)
    got: list[bytes] = []

    def read() -> None:
        with open(pipe, "rb") as source:
            got.append(source.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = _run(
        "raspy", "web-password", str(pipe), cwd=tmp_path, text_in="a-secret\n"
    )
    if reader.is_alive():  # the pipe was never opened for writing: end the reader
        with open(pipe, "wb"):
            pass
    reader.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert len(got) == 1, got
    assert got[0].startswith(b"scrypt$"), got


def test_dev_stdout_is_written_into_when_stdout_is_a_file(tmp_path: Path) -> None:
    """`raspy scenario export -o /dev/stdout > file` (and `raspy-kv dump`, a
    chart, a web password): /dev/stdout leads to a regular file then, and was taken
    for one, so the output was renamed over /dev/stdout itself (as root, the link
    in /dev replaced by a file). Only asked here, nothing written to /dev."""
    out = tmp_path / "out"
    with out.open("w") as stdout:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from raspy.atomic_file import is_special; "
                "sys.stderr.write(repr(is_special('/dev/stdout')))",
            ],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "True"


def test_ctrl_c_while_a_tool_starts_is_one_line(tmp_path: Path) -> None:
    """A Ctrl-C in the first tenth of a second, while a tool's modules are still
    imported (before its main() catches it), printed Python's traceback of the
    import machinery. It is one line, and the process ends as killed by SIGINT."""
    code = (
        "import sys; sys.argv[0] = 'raspy-kv'; import raspy.cli; "
        "raise KeyboardInterrupt"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert result.stderr == "raspy-kv: interrupted\n"
    assert result.returncode in (-2, 130)


def test_a_program_importing_raspy_cli_keeps_its_own_ctrl_c_traceback(
    tmp_path: Path,
) -> None:
    """The quiet Ctrl-C is a tool's: a program of the user's (a script, a
    benchmark) that imports raspy.cli lost its traceback to "raspy: interrupted"."""
    code = "import raspy.cli.time_text; raise KeyboardInterrupt"
    script = tmp_path / "mine.py"
    script.write_text(code + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().endswith("KeyboardInterrupt")
    assert "raspy: interrupted" not in result.stderr


@pytest.fixture(scope="module")
def core_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One raspyd with the scenario core, for the commands that ask it."""
    folder = tmp_path_factory.mktemp("hub")
    with running_daemon(folder / "data", config_text=SCENARIO_CONFIG) as daemon:
        wait_until(lambda: scenarios_up(daemon), what="the scenario service")
        yield daemon


@pytest.mark.timeout(120)  # a daemon to start first
@pytest.mark.parametrize(
    "verb", ["show", "export", "run", "stop", "enable", "disable", "delete"]
)
def test_a_name_of_10000_characters_is_said_cut_short(
    core_hub: Daemon, tmp_path: Path, verb: str
) -> None:
    """run/stop/enable/disable/delete repeated the whole NAME at the head of their
    line (10 KB); show and export, whose line is the hub's refusal, cut it already."""
    name = "x" * 10_000
    result = _run(
        "raspy", "scenario", verb, name, "--server", core_hub.endpoint, cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    _one_line(result, "raspy", "no scenario named")
    assert len(result.stderr) < 300, result.stderr[:300]
