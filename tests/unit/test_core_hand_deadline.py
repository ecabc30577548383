"""An import of several asks each running scenario it restates for its record of
runs (ServiceBatch._records_along): one deadline for all of them, not a wait of
_HAND_S for each in turn (an import restating ten busy scenarios waited 50 s)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest

from raspy.actors.core import service_batch
from raspy.actors.core.service_batch import ServiceBatch
from raspy.errors import StoreNotTaken

pytestmark = pytest.mark.timeout(20)
# long enough that a loaded machine's delays stay well inside the bound below: one
# deadline gives up at HAND_S, a wait each at 1.75 * HAND_S at least
HAND_S = 2.0


class _Actor:
    """A scenario actor that hands its record `after` seconds, or never (None)."""

    def __init__(self, after: float | None) -> None:
        self.after = after
        self.timers: list[threading.Timer] = []

    def tell(self, message: Any) -> None:
        if self.after is None:
            return
        timer = threading.Timer(self.after, message.store, args=([],))
        timer.daemon = True
        timer.start()
        self.timers.append(timer)


def _restate(name: str, actor: _Actor) -> Any:
    text = f"name: {name}\ntriggers: [{{startup: true}}]\nactions: []\n"
    return SimpleNamespace(
        kind="restate",
        old=SimpleNamespace(ref=actor),
        text=text,
        scenario=SimpleNamespace(name=name),
    )


def test_the_hands_of_an_import_share_one_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first hands just before the deadline, the second never: the import
    gives up at the deadline, not _HAND_S after the first hand."""
    monkeypatch.setattr(service_batch, "_HAND_S", HAND_S)
    late, never = _Actor(HAND_S * 0.75), _Actor(None)
    outcome: Future[None] = Future()
    batch = ServiceBatch.__new__(ServiceBatch)  # no core: the hands alone
    started = time.monotonic()
    try:
        with pytest.raises(StoreNotTaken, match="scenario b did not hand"):
            batch._records_along(
                [_restate("a", late), _restate("b", never)],
                outcome,
            )
        took = time.monotonic() - started
    finally:
        outcome.set_result(None)  # the hand that waits on it ends
    assert took < HAND_S * 1.5
