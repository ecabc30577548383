"""pykka's ask and stop time out with pykka.Timeout, which is not Python's
TimeoutError: every `except (pykka.ActorDeadError, TimeoutError)` let a slow actor's
timeout through (the supervisor's stop of a part, a board's request to its device
service), where it was meant to be logged and gone past."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from raspy import child_set


class _Busy(pykka.ThreadingActor):
    """Busy until `release` is set: its stop waits behind the message."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self._release = release

    def on_receive(self, message: Any) -> Any:
        self._release.wait(10.0)
        return None


def test_pykka_s_timeout_is_not_python_s() -> None:
    """Why the fix: the assumption that was made, checked against the library."""
    assert not issubclass(pykka.Timeout, TimeoutError)


def test_a_part_that_does_not_stop_in_time_is_named_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(child_set, "STOP_TIMEOUT_S", 0.2)
    release = threading.Event()
    ref = _Busy.start(release)
    ref.tell("work")
    try:
        with capture_logs() as logs:
            child_set.stop_actor("slow", ref)
        assert [(e["event"], e["component"]) for e in logs] == [
            ("component_stop_timed_out", "slow")
        ]
    finally:
        release.set()
        ref.stop()
