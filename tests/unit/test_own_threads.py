"""The leak guard's view of threads (tests/support/own_threads.py): raspy's daemon
threads are told apart by their names, a daemon actor's thread by its class's (the
guard looked for `raspy-` only, and raspy-poller's device service, a daemon actor,
could outlive a test unseen)."""

from __future__ import annotations

import threading

import pykka
from support.own_threads import is_ours

from raspy.cli.board_service import BoardDeviceService


class _DaemonActor(pykka.ThreadingActor):
    use_daemon_thread = True

    def on_receive(self, message: object) -> threading.Thread:
        return threading.current_thread()


def _idle(name: str, *, daemon: bool = True) -> threading.Thread:
    """A thread as the guard finds one (never started: only its name and flag count)."""
    return threading.Thread(target=lambda: None, name=name, daemon=daemon)


def test_a_daemon_actors_thread_is_ours() -> None:
    ref = _DaemonActor.start()
    try:
        thread = ref.ask("your thread", timeout=5)
        assert isinstance(thread, threading.Thread)
        assert thread.daemon
        assert is_ours(thread)
    finally:
        ref.stop()


def test_the_board_device_service_is_seen_by_its_threads_name() -> None:
    assert BoardDeviceService.use_daemon_thread  # else the daemon flag tells it
    assert is_ours(_idle("BoardDeviceService-12"))


def test_raspys_named_threads_and_every_non_daemon_thread_are_ours() -> None:
    assert is_ours(_idle("raspy-edge-io"))
    assert is_ours(_idle("anything", daemon=False))


def test_other_daemon_threads_are_not() -> None:
    assert not is_ours(_idle("Thread-7 (run)"))
    assert not is_ours(_idle("ctx-term"))
    assert not is_ours(_idle("NotAnActor-3"))
