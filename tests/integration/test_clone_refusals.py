"""The Clone server tells an in-process writer that asked (CloneSubscribe refusals)
of its writes that will never be published: refused at intake, or lost with a
failed commit. The scenario core shows its writes before they come back, and takes
back the ones that never will (test_core_own_writes)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pykka
import zmq
from support.clock import FakeClock
from support.clonesrv import FAST, clone_server
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.config import StoreConfig
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
CLONE_LIMIT = 4000  # [clone] max_value_bytes: a larger value is refused at intake
STORE_LIMIT = 1000  # the store's: a value between the two fails its commit


class Recorder(pykka.ThreadingActor):
    """Records every message told to it."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.received: list[Any] = []

    def on_receive(self, message: Any) -> None:
        with self.lock:
            self.received.append(message)


def _received(ref: pykka.ActorRef[Any]) -> list[Any]:
    return list(ref.proxy().received.get(timeout=5))


def test_a_refused_or_lost_in_process_write_is_told_to_the_subscribers_that_asked(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    config = StoreConfig(map_size_initial_mb=1, coalesce_interval_s=0.0)
    store = Store.open(tmp_path / "data", replace(config, max_value_bytes=STORE_LIMIT))
    told, plain = Recorder.start(), Recorder.start()
    try:
        with clone_server(
            zmq_context, store, clock, config=replace(FAST, max_value_bytes=CLONE_LIMIT)
        ) as running:
            running.ref.ask(msgs.CloneSubscribe(b"/x/", told, refusals=True))
            running.ref.ask(msgs.CloneSubscribe(b"/x/", plain))
            too_large = running.publisher.update(b"/x/big", b"b" * (CLONE_LIMIT + 1))
            lost = running.publisher.update(b"/x/mid", b"m" * (STORE_LIMIT + 100))
            running.publisher.set(b"/y/big", b"b" * (CLONE_LIMIT + 1))  # not under /x/
            # a failed commit loses its whole group: the next set in a turn after it
            wait_until(
                lambda: running.counter("clone.commit_failed") == 1, what="the failure"
            )
            kept = running.publisher.update(b"/x/ok", b"1")
            wait_until(lambda: len(_received(told)) == 3, what="two refusals, one set")
            assert _received(told) == [
                msgs.KeyRefused(b"/x/big", too_large, "body_too_large"),
                msgs.KeyRefused(b"/x/mid", lost, "commit_failed"),
                msgs.KeyChanged(b"/x/ok", 2, b"1", (), kept),
            ]
            # a subscriber that did not ask is told of what is published only
            wait_until(lambda: _received(plain), what="the set")
            assert _received(plain) == [msgs.KeyChanged(b"/x/ok", 2, b"1", (), kept)]
            assert running.counter("clone.commit_failed") == 1
            assert running.counter("clone.rejected.body_too_large") == 2
    finally:
        told.stop()
        plain.stop()
        store.close()
