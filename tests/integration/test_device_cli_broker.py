"""`raspy device` as a real process against a raw ROUTER playing the broker and
`<host>.<svc>.devices`: the broker is asked first whether a worker serves the
service, the command is sent only then, and a command sent without an answer is said
to be possibly still carried out (raspy.cli.hub_call)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Final

import zmq
from support.cli_process import answer_json, answer_presence
from support.cli_process import finish_text as finish
from support.zmqctx import recv

Router = zmq.Socket[bytes]
SERVICE: Final = b"cellar.fake.devices"


def start(endpoint: str, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "device", *args]
    options = ["--server", endpoint, "--timeout", "0.5"]
    return subprocess.Popen(
        command + options, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_a_command_is_sent_only_once_the_broker_says_a_worker_serves_it(
    router: tuple[Router, str],
) -> None:
    sock, endpoint = router
    process = start(endpoint, "cellar.fake.lamp", "on")
    answer_presence(sock, SERVICE, b"404")
    assert finish(process) == (
        1,
        "",
        "raspy device: cellar.fake.lamp: no worker serves cellar.fake.devices now "
        "(its board away, or no such service): nothing was sent\n",
    )


def test_a_command_sent_without_an_answer_may_still_be_carried_out(
    router: tuple[Router, str],
) -> None:
    """The device's board got it and did not answer in time: the lamp may yet go
    on, and the user is told so, not only that there was no reply."""
    sock, endpoint = router
    process = start(endpoint, "cellar.fake.lamp", "on")
    answer_presence(sock, SERVICE)
    _, *frames = recv(sock, timeout_ms=10_000)  # the command, never answered
    assert frames == [
        b"MDPC02",
        b"\x01",
        SERVICE,
        b'{"v": 1, "action": "on", "device": "lamp"}',
    ]
    assert finish(process) == (
        1,
        "",
        f"raspy device: cellar.fake.lamp: no reply from cellar.fake.devices at "
        f"{endpoint} within 0.5s; it may still be carried out\n",
    )


CONFIG: Final = {"friendly_name": "Desk", "log": True, "oid": "switch"}


def _config(router: tuple[Router, str], *args: str) -> tuple[int, str, str]:
    """`raspy device cellar.fake.lamp config ARGS`, answered with CONFIG, as the
    service answers a config read or change: the device's whole config."""
    sock, endpoint = router
    process = start(endpoint, "cellar.fake.lamp", "config", *args)
    answer_presence(sock, SERVICE)
    answer_json(sock, SERVICE, b"200", {"device": "lamp", "config": CONFIG})
    return finish(process)


def test_a_config_change_prints_the_fields_it_set_one_a_line(
    router: tuple[Router, str],
) -> None:
    """The whole reply, one line of JSON, said neither what changed nor in the
    README's `name = value` form; --json still gives it."""
    sent = '{"friendly_name": "Desk", "log": true}'
    assert _config(router, sent) == (
        0,
        'cellar.fake.lamp: friendly_name = "Desk"\ncellar.fake.lamp: log = true\n',
        "",
    )
    assert _config(router) == (  # a read: every field
        0,
        'cellar.fake.lamp: friendly_name = "Desk"\ncellar.fake.lamp: log = true\n'
        'cellar.fake.lamp: oid = "switch"\n',
        "",
    )
    assert _config(router, sent, "--json") == (
        0,
        json.dumps({"device": "lamp", "config": CONFIG}) + "\n",
        "",
    )
