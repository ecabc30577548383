"""A FirstRecord makes the deferred logging setup at a library's `logging` record:
it takes no lock of its own around that setup, which takes its own lock (a thread
inside the setup that logs a record must not wait for one that waits for it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from raspy.library_records import FirstRecord

_DEADLINE_S = 5.0


class _Kept(logging.Handler):
    """The setup's handler: keeps the messages it is given."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, its handlers and level put back after the test."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    try:
        yield logger
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)


def test_a_record_logged_inside_the_setup_does_not_wait_for_another_record(
    root: logging.Logger,
) -> None:
    """One thread is in the setup (its lock held) when another's record reaches the
    FirstRecord: that one waits for the setup. The setup then logs a record of its
    own: it waited for the handler's lock, held by the other around its emit, and
    neither ever went on."""
    setup_lock = threading.RLock()  # as raspy.library_log's configuring lock
    in_setup, emitting = threading.Event(), threading.Event()
    kept = _Kept()
    done: list[bool] = []

    def configure() -> None:
        if threading.current_thread().name == "emitter":
            emitting.set()  # its record is being emitted: the setup is made for it
        with setup_lock:
            if done:
                return
            done.append(True)
            in_setup.set()
            assert emitting.wait(_DEADLINE_S), "the other record never came"
            logging.getLogger("somelib").warning("logged by the setup")
            root.handlers[:] = [kept]  # the setup's own handler, as raspy.log's

    def emit() -> None:
        if in_setup.wait(_DEADLINE_S):
            logging.getLogger("somelib").warning("the first record")

    root.handlers[:] = [FirstRecord("warning", configure)]
    root.setLevel(logging.WARNING)
    setup = threading.Thread(target=configure, name="setup", daemon=True)
    emitter = threading.Thread(target=emit, name="emitter", daemon=True)
    setup.start()
    emitter.start()
    setup.join(_DEADLINE_S)
    emitter.join(_DEADLINE_S)
    assert not setup.is_alive(), "the setup waits for the handler's lock"
    assert not emitter.is_alive(), "the record waits for the setup"
    assert kept.messages == ["the first record"]  # through the setup's handler
