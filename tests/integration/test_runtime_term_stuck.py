"""Runtime.stop is bounded even when a socket on its context is never closed: it waits
its term budget, says `context_term_stuck` and returns False (raspyd then exits 1)
instead of hanging in term(). The stuck owner is a thread of the test holding a
socket open; released, it closes its socket and the waiting term() ends. The budget
is shortened here (its 10 s are what raspyd waits): the path is the same, and without
the bound stop() would still hang until the test's timeout."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.net import free_port_base
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import runtime as runtime_mod
from raspy.actors import supervisor


class _StuckOwner:
    """A thread that opens a socket on `context` and keeps it open until released."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self._context = context
        self._endpoint = endpoint
        self.opened = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._main, name="test-stuck-owner")

    def start(self) -> None:
        self._thread.start()
        assert self.opened.wait(10), "the stuck owner never opened its socket"

    def release(self) -> None:
        self._release.set()
        self._thread.join(10)

    def _main(self) -> None:
        sock = self._context.socket(zmq.DEALER)
        try:
            sock.connect(self._endpoint)
            self.opened.set()
            self._release.wait(60)
        finally:
            sock.close(linger=0)  # its own thread: the one right place


def _term_thread_ended() -> bool:
    return not any(t.name == "ctx-term" for t in threading.enumerate())


_TERM_BUDGET_S = 0.5


@pytest.mark.timeout(60)
def test_a_socket_never_closed_makes_stop_give_up_on_term_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_mod, "TERM_TIMEOUT_S", _TERM_BUDGET_S)
    cfg = config_mod.load(
        "[core]\nenabled = false\n",
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname="testhost",
        network__port_base=free_port_base(),
    )
    rt = supervisor.start(cfg)
    owner = _StuckOwner(rt.context, rt.mdp_endpoint)
    owner.start()
    try:
        with capture_logs() as logs:
            stopped_cleanly = rt.stop()
    finally:
        owner.release()
    wait_until(_term_thread_ended, what="term() ended once the socket closed")
    assert stopped_cleanly is False
    assert [
        e for e in logs if e["event"] in {"context_term_stuck", "daemon_stopped"}
    ] == [
        {
            "component": "supervisor",
            "event": "context_term_stuck",
            "log_level": "error",
            "waited_s": _TERM_BUDGET_S,
        }
    ]
    assert rt.context.closed
