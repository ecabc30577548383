"""Ctrl-C in a developer's script while a raspy.client call waits: the script ends at
once with Python's KeyboardInterrupt, and does not hang on exit (sockets with a
bounded LINGER, no thread that keeps the process alive), whether or not the object
was closed. Real processes and a real SIGINT; nothing answers at the address."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from support.net import free_port_base

SCRIPTS = {
    "client_request": (
        "from raspy.client import Client\n"
        "client = Client(ENDPOINT, timeout_s=30)\n"
        "print('waiting', flush=True)\n"
        "client.request('pi.weather', 'get')\n"
    ),
    "titanic_submit": (
        "from raspy.client.titanic import TitanicClient\n"
        "with TitanicClient(ENDPOINT, timeout_s=30) as titanic:\n"
        "    print('waiting', flush=True)\n"
        "    titanic.submit('pi.weather', 'get')\n"
    ),
    "worker_serve": (
        "from raspy.client import Worker\n"
        "worker = Worker(ENDPOINT, 'pi.weather')\n"
        "print('waiting', flush=True)\n"
        "worker.serve(lambda body: body)\n"
    ),
    "clone_wait_synced": (
        "from raspy.client import CloneClient\n"
        "tree = CloneClient(ENDPOINT, b'/device/')\n"
        "print('waiting', flush=True)\n"
        "tree.wait_synced(60)\n"
    ),
    "clone_changes": (
        "from raspy.client import CloneClient\n"
        "with CloneClient(ENDPOINT, b'/device/') as tree:\n"
        "    print('waiting', flush=True)\n"
        "    for change in tree.changes():\n"
        "        pass\n"
    ),
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_ctrl_c_ends_a_waiting_call_at_once(name: str) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    code = f"ENDPOINT = {endpoint!r}\n{SCRIPTS[name]}"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # structlog, unconfigured, prints the library's log lines on stdout too
        while (line := process.stdout.readline()) != "waiting\n":
            assert line, "the script ended before it waited"
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, stderr = process.communicate(timeout=10)
        took_s = time.monotonic() - interrupted
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode != 0
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert took_s < 5.0, f"{took_s:.1f}s from SIGINT to exit"  # not a hang
