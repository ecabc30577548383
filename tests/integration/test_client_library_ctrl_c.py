"""Ctrl-C in a developer's script while a raspy.client call waits: the script ends at
once with Python's KeyboardInterrupt, and does not hang on exit (sockets with a
bounded LINGER, no thread that keeps the process alive), whether or not the object
was closed. Real processes and a real SIGINT; nothing answers at the address."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.net import free_port_base
from support.wait import wait_until

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
        # ended long before the call's own timeout (30 s and more) or a hang: a
        # deadline, not a timed assertion (speed is the benchmarks' to measure)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait(timeout=10)
        _close_pipes(process)
    assert process.returncode != 0
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr


WORKER_CLOSED_BY_SIGNAL = (
    "import signal\n"
    "from raspy.client import Worker\n"
    "worker = Worker(ENDPOINT, 'pi.weather', heartbeat_while_busy=IO, linger_ms=0)\n"
    "signal.signal(signal.SIGTERM, lambda *_: worker.close())\n"
    "print('waiting', flush=True)\n"
    "CALL\n"
)
CALLS = {
    "serve": "worker.serve(lambda body: body)\nprint('serve returned')",
    "recv": (
        "try:\n"
        "    worker.recv()\n"
        "except ValueError as exc:\n"
        "    print(f'recv raised {exc}')"
    ),
}
ENDINGS = {"serve": "serve returned\n", "recv": "recv raised worker is closed\n"}


def _main_thread_sleeps(pid: int) -> bool:
    """The process's main thread waits in the kernel (state S): it is in the call."""
    stat = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "S"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("io", [True, False], ids=["io", "direct"])
def test_worker_closed_by_a_signal_handler_ends_its_wait(call: str, io: bool) -> None:
    """The way a service shuts down on SIGTERM: close() in the handler. serve()
    returns and recv() raises ValueError; they waited for ever (I/O thread) or
    raised ZeroMQ's ENOTSOCK (socket in the caller's thread)."""
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    script = WORKER_CLOSED_BY_SIGNAL.replace("CALL", CALLS[call])
    code = f"ENDPOINT = {endpoint!r}\nIO = {io}\n{script}"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        while (line := process.stdout.readline()) != "waiting\n":
            assert line, "the script ended before it waited"
        # a signal before the call would find the worker closed: not the case here
        wait_until(lambda: _main_thread_sleeps(process.pid), what=f"{call}() to wait")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        process.kill()  # its SIGTERM handler only closes the worker
        process.wait(timeout=10)
        _close_pipes(process)
    assert (process.returncode, stdout) == (0, ENDINGS[call]), stderr


def _close_pipes(process: subprocess.Popen[str]) -> None:
    """Its pipes closed whatever happened: after a communicate() that timed out they
    are still open, and their garbage collection warned in a later test of this
    worker (an unraisable ResourceWarning, which fails that test)."""
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
