"""A Clone server whose I/O thread has ended, asked before it has heard of that.

The I/O thread fails, tells its actor (which then stops), and answers every command
still queued with an error. Those errors were RuntimeError, which no caller
catches: a scenario delete answered 500 after it was done and left its keys, the
statistics actor's turn ended in a traceback. They are ActorDeadError now, as for a
server already gone, which every caller handles.
"""

from __future__ import annotations

from typing import Any

import pykka
import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import ANY_PORT, FAST

from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.server import CloneServerActor, read_tree, subscribe_seeded
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

pytestmark = pytest.mark.timeout(30)


class _EndIo:
    """End the server's I/O thread alone, as its failure does before the actor
    hears of it."""


class _EndingServer(CloneServerActor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _EndIo):
            self._loop.runner.stop(timeout_s=5)
            return None
        return super().on_receive(message)


class _Listener(pykka.ThreadingActor):
    pass


def test_asks_after_the_io_thread_ended_are_those_of_a_server_gone(
    zmq_context: zmq.Context[zmq.Socket[bytes]], store: Store
) -> None:
    ref = _EndingServer.start(
        zmq_context,
        store,
        FAST,
        ANY_PORT,
        clock=FakeClock(),
        stats=Stats(),
        linger_ms=0,
    )
    listener = _Listener.start()
    try:
        outbox = ref.ask(msgs.GetPublishOutbox(), timeout=10)
        assert isinstance(outbox, Outbox)
        ClonePublisher(outbox).set(b"/scenario/gone/note", b"1")
        assert read_tree(ref, store, "/scenario/") == [("/scenario/gone/note", b"1")]

        ref.ask(_EndIo(), timeout=10)

        with pytest.raises(pykka.ActorDeadError):
            subscribe_seeded(ref, "/scenario/", listener)
        with pytest.raises(pykka.ActorDeadError):
            ref.ask(msgs.CloneUnsubscribe(listener), timeout=10)
        # a read without the server is the store's
        assert read_tree(ref, store, "/scenario/") == [("/scenario/gone/note", b"1")]
    finally:
        listener.stop()
        ref.stop(block=True, timeout=15)
