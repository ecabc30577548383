"""SignalInbox: the handler takes no lock, the loop hears each signal once."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from raspy.cli.signals import SignalInbox


@pytest.mark.timeout(30)
def test_signals_are_taken_once_and_wake_a_waiting_loop() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    inbox = SignalInbox((signal.SIGUSR1,))
    try:
        assert inbox.wait(0.01) == []
        assert not inbox.is_set()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert inbox.is_set()
        assert inbox.wait(5.0) == [signal.SIGUSR1]
        assert not inbox.is_set()
        # from another thread while the loop waits: it wakes at once
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        assert inbox.wait(20.0) == [signal.SIGUSR1]
        timer.join()
    finally:
        inbox.close()
    assert signal.getsignal(signal.SIGUSR1) == before


@pytest.mark.timeout(60)
def test_a_burst_of_signals_never_stops_the_main_thread() -> None:
    """The handler ran inside an earlier handler's Event.set and waited for itself."""
    inbox = SignalInbox((signal.SIGUSR1,))
    pid = os.getpid()
    try:

        def burst() -> None:
            for _ in range(5000):
                os.kill(pid, signal.SIGUSR1)

        sender = threading.Thread(target=burst)
        sender.start()
        heard = 0
        while sender.is_alive() or inbox.is_set():
            heard += len(inbox.wait(0.05))
        sender.join()
        assert heard >= 1
    finally:
        inbox.close()


@pytest.mark.timeout(30)
def test_a_poke_from_another_thread_ends_a_long_wait_with_no_signal() -> None:
    """raspyd's main loop waits up to 2 s at a time; a part that fails pokes it, so
    raspyd stops at once rather than at its next look."""
    before = signal.getsignal(signal.SIGUSR1)
    inbox = SignalInbox((signal.SIGUSR1,))
    try:
        poker = threading.Timer(0.2, inbox.poke)
        poker.start()
        assert inbox.wait(600.0) == []  # the test's timeout is far shorter
        poker.join()
    finally:
        inbox.close()
        signal.signal(signal.SIGUSR1, before)
    inbox.poke()  # after close: nothing written anywhere


@pytest.mark.timeout(30)
def test_a_noted_signal_is_counted_and_never_taken_as_a_stop() -> None:
    """raspy-poller's SIGHUP: caught (its default action ends the process), told by
    noted() once, and neither is_set() nor wait() returns it."""
    before = signal.getsignal(signal.SIGUSR2)
    inbox = SignalInbox((signal.SIGUSR1,), noted=(signal.SIGUSR2,))
    try:
        assert not inbox.noted()
        os.kill(os.getpid(), signal.SIGUSR2)
        assert not inbox.is_set()
        assert inbox.wait(0.01) == []
        assert inbox.noted()
        assert not inbox.noted()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert inbox.wait(5.0) == [signal.SIGUSR1]
    finally:
        inbox.close()
    assert signal.getsignal(signal.SIGUSR2) == before
