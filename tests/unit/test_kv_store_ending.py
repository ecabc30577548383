"""A kill or a hangup ends a raspy-kv store command as a Ctrl-C does
(raspy.cli.kv_store.ended_as_ctrl_c), and a second one must not cut short the
cleanup the first one started (a temp file or a begun data.mdb removed): an ssh
hangup is often followed by logind's SIGTERM. Real signals sent to this process."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from raspy.cli import kv_store

_PAUSE = threading.Event()  # never set: a bounded pause while a signal comes


def _killed(signum: int) -> None:
    """Send `signum` to this process and wait for its handler to run (it raises)."""
    os.kill(os.getpid(), signum)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _PAUSE.wait(0.01)
    pytest.fail(f"signal {signum} was not handled")


def _command_killed(first: signal.Signals, cleaned: list[bool]) -> None:
    """A command under ended_as_ctrl_c killed by `first`; its cleanup killed again."""
    with kv_store.ended_as_ctrl_c():
        # installed (else the kill below would end the test's process)
        assert signal.getsignal(first) not in (signal.SIG_DFL, signal.SIG_IGN)
        try:
            _killed(first)
        finally:  # the command's cleanup, as a restore's or a dump's
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: the cleanup goes on
            os.kill(os.getpid(), signal.SIGHUP)
            cleaned.append(True)


@pytest.mark.parametrize("first", [signal.SIGTERM, signal.SIGHUP])
def test_a_second_kill_during_the_cleanup_is_ignored_then_the_handlers_come_back(
    first: signal.Signals,
) -> None:
    # as a command starts from a shell (a run under nohup would ignore SIGHUP)
    outer = {
        s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        cleaned: list[bool] = []
        with pytest.raises(KeyboardInterrupt):
            _command_killed(first, cleaned)
        assert cleaned == [True]
        after = {s: signal.getsignal(s) for s in outer}
        assert after == {signal.SIGTERM: signal.SIG_DFL, signal.SIGHUP: signal.SIG_DFL}
    finally:
        for signum, handler in outer.items():
            signal.signal(signum, handler)
