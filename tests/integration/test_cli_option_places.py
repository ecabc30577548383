"""Where the hub options may go on a command line, the tools run as processes: before
and after a nested sub-command (`raspy scenario --server X import`, which took the
endpoint for the command's name), and a clear line for one given before the command
of `raspy` or `raspy-kv`, whose commands take it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import zmq
from support.cli_process import answer_json, answer_presence
from support.cli_process import finish as finish_bytes
from support.cli_process import finish_text as finish
from support.net import free_port_base
from support.zmqctx import recv

pytestmark = pytest.mark.timeout(60)

Router = zmq.Socket[bytes]
TABLE = (
    "times in: this machine's (the hub's reply names no zone: an older raspyd)\n"
    "NAME        STATE  LAST RUN  RUNS\nfrost-lamp  idle   -            0\n"
)
LISTING = [
    {
        "name": "frost-lamp",
        "state": "idle",
        "enabled": True,
        "last_run": None,
        "runs": 0,
        "description": "",
        "mode": "single",
        "last_trigger": None,
        "last_error": None,
    }
]


def start(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.raspy", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_the_hub_options_go_between_scenario_and_its_command(
    router: tuple[Router, str],
) -> None:
    """None is given after `list`: its own defaults must not replace them."""
    sock, endpoint = router
    process = start(
        "scenario", "--server", endpoint, "--host", "hub", "--timeout", "5", "list"
    )
    request = answer_json(sock, b"hub.core.scenario", b"200", LISTING)
    assert (request, finish(process)) == ({"v": 1, "action": "list"}, (0, TABLE, ""))


def test_an_option_given_before_and_after_the_command_takes_the_later(
    router: tuple[Router, str],
) -> None:
    """The earlier --server has nobody listening and the earlier --host names no
    hub: the request reaching this router for hub.core.scenario is the later's."""
    sock, endpoint = router
    nobody = f"tcp://127.0.0.1:{free_port_base(1)}"
    process = start(
        "scenario", "--server", nobody, "--host", "elsewhere", "--timeout", "5",
        "list", "--server", endpoint, "--host", "hub",
    )  # fmt: skip
    request = answer_json(sock, b"hub.core.scenario", b"200", LISTING)
    assert (request, finish(process)) == ({"v": 1, "action": "list"}, (0, TABLE, ""))


def test_validate_refuses_hub_options_given_before_it(tmp_path: Path) -> None:
    """It checks files here: a --host before it (after it argparse refuses one) is
    no hub to check them against."""
    path = tmp_path / "a.yaml"
    path.write_text("name: a\ntrigger: {manual: {}}\nactions: []\n")
    status = finish(start("scenario", "--host", "hub", "validate", str(path)))
    assert status == (
        2,
        "",
        "raspy scenario validate: --host: validate asks no hub, it checks the files "
        "here\n",
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            ["raspy", "--server", "tcp://127.0.0.1:20520", "status"],
            "raspy: --server goes after the command (raspy COMMAND --server …)",
            id="raspy-server",
        ),
        pytest.param(
            ["raspy", "--timeout", "2", "scenario", "list"],
            "raspy: --timeout goes after the command (raspy COMMAND --timeout …)",
            id="raspy-timeout",
        ),
        pytest.param(
            ["kv", "--server", "127.0.0.1:20520", "ls"],
            "raspy-kv: --server goes after the command (raspy-kv COMMAND --server …)",
            id="kv-server",
        ),
        pytest.param(
            ["kv", "--data-dir", "var/raspy", "check"],
            "raspy-kv: --data-dir goes after the command "
            "(raspy-kv COMMAND --data-dir …)",
            id="kv-data-dir",
        ),
    ],
)
def test_an_option_before_the_command_of_raspy_or_raspy_kv_is_said_so(
    argv: list[str], line: str
) -> None:
    """Not `argument COMMAND: invalid choice: 'tcp://…'`: its value was taken for the
    command. raspy's commands give --timeout different defaults, and raspy-kv's
    store and live commands take different options, so it stays after COMMAND."""
    tool, *rest = argv
    process = subprocess.Popen(
        [sys.executable, "-m", f"raspy.cli.{tool}", *rest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert finish(process) == (2, "", line + "\n")


@pytest.mark.parametrize(
    "argv",
    [
        (".echo", "--server", "{endpoint}", "hi", "there"),
        (".echo", "hi", "--server", "{endpoint}", "there"),
        (".echo", "--server", "{endpoint}", "hi", "--", "--there"),
        ("--server", "{endpoint}", "--", ".echo", "hi", "--there"),
    ],
)
def test_call_takes_body_frames_after_an_option(
    router: tuple[Router, str], argv: tuple[str, ...]
) -> None:
    """An option between SERVICE and BODY (or between frames) left BODY empty for
    argparse: `unrecognized arguments: hi`. After `--` a word is a frame as is."""
    sock, endpoint = router
    given = [word.format(endpoint=endpoint) for word in argv]
    process = start("call", "--host", "hub", "--timeout", "5", *given)
    answer_presence(sock, b"hub.echo")
    peer, *frames = recv(sock, timeout_ms=10_000)
    body = [b"hi", argv[-1].encode()]
    assert frames == [b"MDPC02", b"\x01", b"hub.echo", *body]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"hub.echo", *body])
    assert finish_bytes(process) == (0, b"\n".join(body) + b"\n", b"")
