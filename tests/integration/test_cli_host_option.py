"""`--host` on `raspy call` and `raspy device`, as the other sub-commands take it
(they had none: `unrecognized arguments: --host pi`): the same check, and a name that
begins with `.` is under it. Real processes against a raw ROUTER playing the broker."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import zmq
from support.cli_process import answer_presence, finish
from support.zmqctx import recv

Router = zmq.Socket[bytes]
pytestmark = pytest.mark.timeout(30)


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.raspy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_call_puts_a_dotted_service_under_the_host(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start("call", ".echo", "hi", "--host", "hub", "--server", endpoint)
    answer_presence(sock, b"hub.echo")
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames == [b"MDPC02", b"\x01", b"hub.echo", b"hi"]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"hub.echo", b"hi"])
    assert finish(process) == (0, b"hi\n", b"")


def test_call_leaves_a_full_service_name_as_it_is(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start("call", "pi.echo", "--host", "hub", "--server", endpoint)
    answer_presence(sock, b"pi.echo")
    peer, *frames = recv(sock, timeout_ms=10_000)
    assert frames[2] == b"pi.echo"
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"pi.echo", b""])
    assert finish(process)[0] == 0


def test_device_puts_a_dotted_name_under_this_machines_host_by_default(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    host = socket.gethostname().split(".")[0]
    service = f"{host}.fake.devices".encode()
    process = start("device", ".fake.lamp", "on", "--server", endpoint)
    answer_presence(sock, service, b"404")
    assert finish(process) == (
        1,
        b"",
        f"raspy device: {host}.fake.lamp: no worker serves {host}.fake.devices now "
        "(its board away, or no such service): nothing was sent\n".encode(),
    )


def test_device_puts_a_dotted_name_under_the_host(router: tuple[Router, str]) -> None:
    sock, endpoint = router
    process = start("device", ".fake.lamp", "on", "--host", "hub", "--server", endpoint)
    answer_presence(sock, b"hub.fake.devices", b"404")
    assert finish(process)[2].startswith(b"raspy device: hub.fake.lamp: no worker")


@pytest.mark.parametrize("command", [["call", ".echo"], ["device", ".fake.lamp", "on"]])
def test_an_empty_host_is_refused_as_elsewhere(command: list[str]) -> None:
    process = start(*command, "--host", "")
    assert finish(process) == (
        2,
        b"",
        f"raspy {command[0]}: argument --host: expected a host name, got an empty "
        "one\n".encode(),
    )
