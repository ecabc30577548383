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
        f"{endpoint} in 0.5 s; it may still be carried out\n",
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


def _get(router: tuple[Router, str], reply: object, *args: str) -> tuple[int, str, str]:
    """`raspy device cellar.fake.Küche get ARGS`, answered with `reply`."""
    sock, endpoint = router
    process = start(endpoint, "cellar.fake.Küche", "get", *args)
    answer_presence(sock, SERVICE)
    answer_json(sock, SERVICE, b"200", reply)
    return finish(process)


def test_a_get_before_the_first_reading_says_so_and_json_is_utf8_text(
    router: tuple[Router, str],
) -> None:
    """A `get` prints `NAME = VALUE` (README, "raspy device"); before the device's
    first reading its reply's `reading` is null, and the whole reply was printed as
    JSON instead. It is `NAME = null (no reading yet)`, as a failed reading says
    why it has no value. `--json` escaped every non-ASCII letter ("°C" as
    "\\u00b0C"): it is UTF-8 text, as the other lines are."""
    none_yet = {"device": "kitchen", "fullname": "cellar.fake.kitchen",
                "reading": None, "errors": 0}  # fmt: skip
    assert _get(router, none_yet) == (
        0,
        "cellar.fake.Küche = null (no reading yet)\n",
        "",
    )
    reading = {"value": 21.5, "unit": "°C", "status": "ok", "wall_ts": 1.0,
               "detail": ""}  # fmt: skip
    read = {**none_yet, "reading": reading}
    assert _get(router, read) == (0, "cellar.fake.Küche = 21.5\n", "")
    assert _get(router, read, "--json") == (
        0,
        '{"device": "kitchen", "fullname": "cellar.fake.kitchen", "reading": '
        '{"value": 21.5, "unit": "°C", "status": "ok", "wall_ts": 1.0, "detail": ""}, '
        '"errors": 0}\n',
        "",
    )


def test_a_lone_surrogate_in_a_reply_is_printed_as_its_json_escape(
    router: tuple[Router, str],
) -> None:
    """A friendly name may hold a lone surrogate (sent over MDP as "\\ud800"),
    which no UTF-8 text holds: printing it raised, and `raspy device` ended with
    status 70. It is written as the JSON escape it came as, with or without
    `--json`, and the line stays JSON where it was."""
    sock, endpoint = router
    for args in ((), ("--json",)):
        process = start(endpoint, "cellar.fake.lamp", "config", *args)
        answer_presence(sock, SERVICE)
        config = {"friendly_name": "Küche \ud800"}
        answer_json(sock, SERVICE, b"200", {"device": "lamp", "config": config})
        expected = (
            '{"device": "lamp", "config": {"friendly_name": "Küche \\ud800"}}\n'
            if args
            else 'cellar.fake.lamp: friendly_name = "Küche \\ud800"\n'
        )
        assert finish(process) == (0, expected, ""), args


def test_c1_controls_in_a_reply_are_printed_as_their_json_escapes(
    router: tuple[Router, str],
) -> None:
    """Any client of the hub may set a device's friendly name, and the service
    keeps DEL and the C1 controls in it, which JSON leaves as they are: printed
    raw, U+009B is an 8-bit CSI that a terminal may act on (its colours, its
    title, the screen cleared) for whoever looks at the device later."""
    sock, endpoint = router
    for args in ((), ("--json",)):
        process = start(endpoint, "cellar.fake.lamp", "config", *args)
        answer_presence(sock, SERVICE)
        config = {"friendly_name": "a\x9b2Jb\x7fc\x85"}
        answer_json(sock, SERVICE, b"200", {"device": "lamp", "config": config})
        expected = (
            '{"device": "lamp", "config": {"friendly_name": "a\\u009b2Jb\\u007fc\\u0085"}}\n'
            if args
            else 'cellar.fake.lamp: friendly_name = "a\\u009b2Jb\\u007fc\\u0085"\n'
        )
        assert finish(process) == (0, expected, ""), args
