"""Every line a raspy-kv command says begins with `raspy-kv COMMAND:`, as its usage
errors do (argparse heads them with the sub-command's prog): a Ctrl-C, which the
dispatch catches for every command, is said so too. The other kinds of line are
asserted whole where each is tested (test_kv_cli, test_kv_backup, test_clone_client,
test_server_key_secret, test_kv_cli_refusals)."""

from __future__ import annotations

import _thread
import io
import re
import threading
import time

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import clone_server
from support.net import free_port_base

from raspy.cli import EXIT_INTERRUPTED, kv
from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.mark.timeout(30)
def test_a_ctrl_c_during_a_command_is_said_under_its_name(
    zmq_context: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    base = free_port_base()
    snapshot = zmq_context.socket(zmq.ROUTER)
    publisher = zmq_context.socket(zmq.PUB)
    for offset, sock in ((1, snapshot), (2, publisher)):
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(f"tcp://127.0.0.1:{base + offset}")
    asked: list[list[bytes]] = []

    def interrupt_once_asked() -> None:
        """The command is under way once its ICANHAZ? comes (the client asks it
        after a HUGZ shows its subscription is in place): Ctrl-C it then."""
        for _ in range(200):
            publisher.send_multipart([b"HUGZ", bytes(8), b"", b"", b""])
            if snapshot.poll(100):
                asked.append(snapshot.recv_multipart()[1:])
                break
        _thread.interrupt_main()

    interrupter = threading.Thread(target=interrupt_once_asked)
    interrupter.start()
    try:
        status = kv.run(
            ["watch", "/w/", "--server", f"127.0.0.1:{base}", "--timeout", "25"]
        )
    finally:
        interrupter.join(timeout=25)
        snapshot.close()
        publisher.close()
    assert asked == [[b"ICANHAZ?", b"/w/"]]
    assert status == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "raspy-kv watch: interrupted\n"


class _Lines(io.StringIO):
    """stdout that says when its first whole line came."""

    def __init__(self) -> None:
        super().__init__()
        self.line = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in text:
            self.line.set()
        return written


@pytest.mark.timeout(30)
def test_a_ctrl_c_while_watch_streams_is_said_and_exits_130(
    zmq_context: Context,
    store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """watch's Ctrl-C, once changes stream, ended it silently with status 0: a
    script could not tell it from `--count` reached. It is said as for the others."""
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    config = CloneConfig(hugz_interval_s=0.1)
    out = _Lines()
    with clone_server(
        zmq_context, store, clock, config=config, endpoints=endpoints
    ) as srv:

        def interrupt_once_a_line_is_out() -> None:
            deadline = time.monotonic() + 20
            index = 0
            while not out.line.wait(0.1) and time.monotonic() < deadline:
                srv.publisher.set(b"/w/a", b"%d" % index)
                index += 1
            _thread.interrupt_main()

        capsys.readouterr()  # the server's start-up lines
        monkeypatch.setattr("sys.stdout", out)
        interrupter = threading.Thread(target=interrupt_once_a_line_is_out)
        interrupter.start()
        try:
            status = kv.run(["watch", "/w/", "--server", f"127.0.0.1:{base}"])
        finally:
            interrupter.join(timeout=25)
    assert re.match(r"[0-9]+ /w/a [0-9]+\n", out.getvalue())
    assert status == EXIT_INTERRUPTED
    said = [line for line in capsys.readouterr().err.splitlines() if line[:1] != "{"]
    assert said == ["raspy-kv watch: interrupted"]
