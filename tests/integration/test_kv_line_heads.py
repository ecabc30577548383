"""Every line a raspy-kv command says begins with `raspy-kv COMMAND:`, as its usage
errors do (argparse heads them with the sub-command's prog): a Ctrl-C, which the
dispatch catches for every command, is said so too. The other kinds of line are
asserted whole where each is tested (test_kv_cli, test_kv_backup, test_clone_client,
test_server_key_secret, test_kv_cli_refusals)."""

from __future__ import annotations

import _thread
import threading

import pytest
import zmq
from support.net import free_port_base

from raspy.cli import EXIT_INTERRUPTED, kv

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
