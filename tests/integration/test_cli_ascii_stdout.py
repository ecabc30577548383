"""The tools on a stdout that cannot hold every letter (PYTHONIOENCODING=ascii, a
C locale without UTF-8): a reply naming `Küche` raised UnicodeEncodeError on its
print, which `raspy device` and `raspy-kv` took for bad input (status 2, "an
argument is not UTF-8 text"), though the command had been carried out. What the
stream cannot hold is written as its JSON escape (`\\u00fc`): the line is printed,
still JSON where it was, with the command's own status. Real processes, a ROUTER
playing the broker and a real Clone server."""

from __future__ import annotations

import os
import subprocess
import sys

import zmq
from support.cli_process import answer_json, answer_presence
from support.cli_process import finish_text as finish
from support.clock import FakeClock
from support.clonesrv import clone_server
from support.net import free_port_base
from support.wait import wait_until

from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.storage.store import Store

SERVICE = b"cellar.fake.devices"
ASCII = {**os.environ, "PYTHONIOENCODING": "ascii"}


def _device(
    router: tuple[zmq.Socket[bytes], str], reply: object, *args: str
) -> tuple[int, str, str]:
    """`raspy device cellar.fake.Küche get ARGS` on an ASCII stdout."""
    sock, endpoint = router
    command = [sys.executable, "-m", "raspy.cli.raspy", "device", "cellar.fake.Küche"]
    process = subprocess.Popen(
        [*command, "get", *args, "--server", endpoint, "--timeout", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ASCII,
    )
    answer_presence(sock, SERVICE)
    answer_json(sock, SERVICE, b"200", reply)
    return finish(process)


def test_raspy_device_prints_what_an_ascii_stdout_cannot_hold_escaped(
    router: tuple[zmq.Socket[bytes], str],
) -> None:
    reading = {"value": 21.5, "unit": "°C", "status": "ok", "wall_ts": 1.0,
               "detail": ""}  # fmt: skip
    read = {"device": "Küche", "reading": reading}
    assert _device(router, read) == (0, "cellar.fake.K\\u00fcche = 21.5\n", "")
    assert _device(router, read, "--json") == (
        0,
        '{"device": "K\\u00fcche", "reading": {"value": 21.5, "unit": "\\u00b0C", '
        '"status": "ok", "wall_ts": 1.0, "detail": ""}}\n',
        "",
    )


def test_raspy_kv_prints_what_an_ascii_stdout_cannot_hold_escaped(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store, clock: FakeClock
) -> None:
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    config = CloneConfig(hugz_interval_s=0.1)
    with clone_server(
        zmq_context, store, clock, config=config, endpoints=endpoints
    ) as srv:
        srv.publisher.set("/k/Küche".encode(), "21.5 °C 😀".encode())
        wait_until(lambda: srv.counter("clone.published") == 1, what="the key")
        command = [sys.executable, "-m", "raspy.cli.kv", "ls", "/k/"]
        done = subprocess.run(
            [*command, "--server", f"127.0.0.1:{base}"],
            capture_output=True,
            env=ASCII,
            timeout=20,
            check=False,
        )
    assert (done.returncode, done.stdout.decode(), done.stderr.decode()) == (
        0,
        "/k/K\\u00fcche 21.5 \\u00b0C \\ud83d\\ude00\n",
        "",
    )
